"""EnergyGraph: a declarative graph of state layers and edges, and its energy (NRF-LV).

Spec energy_sampling_nrflv.md §1.1–1.2 (Shakey's Neural Random Field with Latent Variables, the
deep_attractor_network thesis code, generalising the Bengio–Fischer / Scellier continuous Hopfield
energy). For states s = (s_0, …, s_L) (s_0 usually the image) the energy of one example is

    E(s) = Σ_i [ ½‖s_i‖² − b_i·s_i − ½⟨s_i, f_i(ρ(s_j), j ∈ N(i))⟩ ],

with a per-unit bias b_i (zero at the start), the state activation ρ, and a learned network f_i
(`LayerNetwork`) of the activated states of the layers on layer i's input edges (self edges
included). The per-unit energies ½s² − b·s − ½·s·f sum to E. `example_energies` gives E per example
(batch,); `total_energy` reduces it over the batch by the mean (default) or, as the original does, by
the sum. `state_gradients` is the autodiff ∂E/∂s_i of each example's energy, or with
`ff_dynamics=True` NRF-LV's "local" update s_i − b_i − ½f_i (it drops the paths through the other
layers' f_k and through f_i's own dependence on s_i, so it is not the gradient of E).

Layers are given as dicts {"name", "shape" ((H, W, C) or (D,)), "final_kernel" (7), "depth" (0)};
edges as dicts {"source", "target", "kind" ("conv", "convT", "cct", "dense"), "kernel", "padding"}
(padding None follows the CCTLayer rule of `cct_conv`). `ndnx.energy.presets` names the NRF-LV
architectures. Every weight is reachable by a stable name (`weights_by_name`), e.g.
"sl1_from_image/conv" (the conv of edge image→sl1), "sl1_out/conv", "sl3_fc_in/v", "bias/sl1".

Mixed precision: under a Keras policy "mixed_bfloat16" (or "mixed_float16" on a GPU), passed as
`dtype=`, the networks f_i compute in the half precision (their convolutions, Fourier correlations
and dense layers: oneDNN's bfloat16 kernels on CPUs that have them) while the weights, the states,
the energy and its gradient with respect to the states stay float32 (`state_dtype`): the samplers'
small increments are added in float32. f_i is then exact to about 0.5 % relative (L2) — bfloat16's
unit roundoff 2⁻⁸ times a few rounding stages — far below the sampler noise it is added to (at the
thesis settings the drift error per step is about 0.5 % of the noise's standard deviation).

States are NHWC. A dense edge flattens its source in that order (NRF-LV flattens NCHW): a (5, 5, 5)
layer read by dense edges only is the same layer either way up to a fixed permutation of its units.

Example:
    >>> import numpy as np, ndnx
    >>> graph = ndnx.energy.EnergyGraph(
    ...     layers=[{"name": "x", "shape": [2]}, {"name": "h", "shape": [3]}],
    ...     edges=[{"source": "h", "target": "x", "kind": "dense"}, {"source": "x", "target": "h", "kind": "dense"}],
    ...     seed=0)
    >>> states = [np.full((4, 2), 0.5, "float32"), np.zeros((4, 3), "float32")]
    >>> tuple(graph(states).shape), graph.units
    ((4,), 5)
"""

import contextlib
import math

import keras
import numpy as np
import tensorflow as tf

from ndnx.energy.cct_conv import CCTConv
from ndnx.energy.function_target import autodiff_energy_and_gradients
from ndnx.energy.layer_network import LayerNetwork
from ndnx.energy.state_activation import check_state_activation, clamp_range, clamp_to_ranges
from ndnx.energy.state_activation import state_activation as state_activation_fn
from ndnx.layers.replicas import ReplicatedLayer
from ndnx.registry import register

__all__ = ["EnergyGraph", "EDGE_KINDS", "REDUCTIONS"]

EDGE_KINDS = ("conv", "convT", "cct", "dense")
REDUCTIONS = ("mean", "sum")


def _check_layers(owner, layers):
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(f"{owner}: layers must be a non-empty list of {{'name', 'shape'}} dicts, got {layers!r}")
    out = []
    for k, layer in enumerate(layers):
        if not isinstance(layer, dict) or "name" not in layer or "shape" not in layer:
            raise ValueError(f"{owner}: layer {k} must be a dict with 'name' and 'shape', got {layer!r}")
        unknown = set(layer) - {"name", "shape", "final_kernel", "depth"}
        if unknown:
            raise ValueError(f"{owner}: layer {layer['name']!r} has unknown keys {sorted(unknown)}; "
                             f"expected name, shape, final_kernel, depth")
        shape = tuple(layer["shape"])
        if len(shape) not in (1, 3) or not all(isinstance(d, (int, np.integer)) and d > 0 for d in shape):
            raise ValueError(f"{owner}: layer {layer['name']!r} needs a shape (H, W, C) or (D,) of positive ints, "
                             f"got {layer['shape']!r}")
        out.append({"name": str(layer["name"]), "shape": [int(d) for d in shape],
                    "final_kernel": int(layer.get("final_kernel", 7)), "depth": int(layer.get("depth", 0))})
    names = [layer["name"] for layer in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{owner}: layer names must be unique, got {names}")
    return out


def _check_edges(owner, edges, layers):
    shapes = {layer["name"]: layer["shape"] for layer in layers}
    out = []
    for k, edge in enumerate(edges):
        if not isinstance(edge, dict) or "source" not in edge or "target" not in edge:
            raise ValueError(f"{owner}: edge {k} must be a dict with 'source', 'target' and 'kind', got {edge!r}")
        for end in ("source", "target"):
            if edge[end] not in shapes:
                raise ValueError(f"{owner}: edge {k} names an unknown state layer {edge[end]!r} as its {end}; "
                                 f"expected one of {', '.join(shapes)}")
        kind = edge.get("kind", "conv")
        if kind not in EDGE_KINDS:
            raise ValueError(f"{owner}: edge {edge['source']}→{edge['target']} has kind {kind!r}; expected one of "
                             f"{', '.join(EDGE_KINDS)}")
        if kind != "dense" and (len(shapes[edge["source"]]) != 3 or len(shapes[edge["target"]]) != 3):
            raise ValueError(f"{owner}: edge {edge['source']}→{edge['target']} of kind {kind!r} needs spatial "
                             f"(H, W, C) layers at both ends, got {shapes[edge['source']]} → {shapes[edge['target']]}")
        kernel = edge.get("kernel", 7 if kind != "dense" else None)
        if kind != "dense" and (not isinstance(kernel, (int, np.integer)) or kernel < 1):
            raise ValueError(f"{owner}: edge {edge['source']}→{edge['target']} needs a positive int kernel, got {kernel!r}")
        out.append({"source": edge["source"], "target": edge["target"], "kind": kind,
                    "kernel": None if kernel is None else int(kernel), "padding": edge.get("padding")})
    return out


@register("layer")
class EnergyGraph(ReplicatedLayer):
    """The NRF-LV energy of a declarative graph (module docstring).

    Args:
        layers: list of {"name", "shape", "final_kernel", "depth"} dicts, layer 0 first (the image).
        edges: list of {"source", "target", "kind", "kernel", "padding"} dicts.
        base_channels, growth_rate: channels of the base CCTConvs and of each dense block (32, 8).
        state_activation: ρ, one of hardtanh, hardsig, relu, swish, leaky_relu, identity.
        activation: inside f_i (swish, leaky_relu, or a Keras name).
        weight_norm: on the base and dense-block CCTConvs and the hidden dense layers.
        reduction: "mean" (per-example mean, default) or "sum" (the original's batch sum) in `total_energy`.
        ff_dynamics: `state_gradients` returns the local update s − b − ½f instead of ∂E/∂s.
        fft_min_kernel: size-preserving stride-1 convolutions with at least this kernel run in the Fourier
            domain (`cct_conv.fft_conv_same`: DFTs as matrix products, FFTs for a single example; same result
            to float32 rounding; None: never). On a CPU 7 pays when the kernels' spectra are computed once
            per sampler loop (`constant_weights`, which the samplers enter): forward and input gradient of
            the thesis architecture's two 7×7 32→32 edges take 28 instead of 45 ms per batch-32 step (FFTs);
            GPUs' direct convolutions may not need it.
        dtype: a Keras dtype policy; "mixed_bfloat16" / "mixed_float16" compute the networks f_i in half
            precision with float32 weights, states and energy (module docstring).
        replicas: must be None. seed: int or None.

    call(states) takes the list of states, or all of them flattened and concatenated (batch, units),
    and returns the energy of each example (batch,).
    """

    def __init__(self, layers, edges, base_channels=32, growth_rate=8, state_activation="hardtanh",
                 activation="leaky_relu", weight_norm=False, reduction="mean", ff_dynamics=False, fft_min_kernel=None,
                 replicas=None, seed=None, **kwargs):
        kwargs.setdefault("name", "energy_graph")
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        if replicas is not None:
            raise ValueError(f"{self.name}: replicas must be None (an energy graph is one model), got {replicas!r}")
        self.layer_specs = _check_layers(self.name, layers)
        self.edge_specs = _check_edges(self.name, edges, self.layer_specs)
        self.base_channels, self.growth_rate = int(base_channels), int(growth_rate)
        self.state_activation = check_state_activation(self.name, state_activation)
        self.activation = activation
        self.weight_norm = bool(weight_norm)
        if reduction not in REDUCTIONS:
            raise ValueError(f"{self.name}: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction, self.ff_dynamics = reduction, bool(ff_dynamics)
        if fft_min_kernel is not None and (not isinstance(fft_min_kernel, int) or fft_min_kernel < 1):
            raise ValueError(f"{self.name}: fft_min_kernel must be None or a positive int, got {fft_min_kernel!r}")
        self.fft_min_kernel = fft_min_kernel
        self.names = [layer["name"] for layer in self.layer_specs]
        self.shapes = [tuple(layer["shape"]) for layer in self.layer_specs]
        self.sizes = [int(math.prod(s)) for s in self.shapes]
        self.units = sum(self.sizes)
        self.rho = state_activation_fn(self.state_activation)
        self.ranges = [clamp_range(self.state_activation, i) for i in range(len(self.names))]
        index = {n: i for i, n in enumerate(self.names)}
        self.networks, self.inputs_of = [], []
        for i, layer in enumerate(self.layer_specs):
            mine = [e for e in self.edge_specs if e["target"] == layer["name"]]
            conv = [e for e in mine if e["kind"] != "dense"]
            dense = [e for e in mine if e["kind"] == "dense"]
            self.inputs_of.append(([index[e["source"]] for e in conv], [index[e["source"]] for e in dense]))
            if not mine:
                self.networks.append(None)
                continue
            self.networks.append(LayerNetwork(
                layer["name"], layer["shape"],
                [(e["source"], self.shapes[index[e["source"]]], e["kind"], e["kernel"], e["padding"]) for e in conv],
                [(e["source"], self.shapes[index[e["source"]]]) for e in dense],
                base_channels=self.base_channels, growth_rate=self.growth_rate, final_kernel=layer["final_kernel"],
                depth=layer["depth"], activation=activation, weight_norm=self.weight_norm,
                fft_min_kernel=fft_min_kernel,
                seed=self.sublayer_seed(layer["name"]), dtype=self.dtype_policy))

    # --- building --------------------------------------------------------------------------------
    def build(self, input_shape=None):
        if self.built:  # the weights depend on the graph only, never on the input shape
            return
        self.biases = [self.add_weight(name=f"bias_{n}", shape=s, initializer="zeros")
                       for n, s in zip(self.names, self.shapes)]
        for network in self.networks:
            if network is not None:
                network.build()
        self.built = True

    def weights_by_name(self):
        """{stable name: variable}: "bias/<layer>" and "<sublayer>/<weight>" (e.g. "sl1_from_image/conv")."""
        if not self.built:
            self.build()
        out = {f"bias/{n}": b for n, b in zip(self.names, self.biases)}
        for network in self.networks:
            if network is None:
                continue
            for layer in network._flatten_layers(include_self=False, recursive=True):
                for w in layer._trainable_variables + layer._non_trainable_variables:
                    out[f"{layer.name}/{w.name}"] = w
        return out

    def edge_kernel(self, source, target):
        """The learned (k, k, C_source, base_channels) convolution of the conv edge source → target, in plain
        convolution form with weight norm folded (`CCTConv.effective_kernel`), as a NumPy array."""
        if not self.built:
            self.build()
        names = {l.name: l for n in self.networks if n is not None for l in n._flatten_layers(include_self=False)}
        layer = names.get(f"{target}_from_{source}")
        if layer is None:
            conv = sorted(k.split("_from_")[::-1] for k in names if "_from_" in k)
            raise ValueError(f"{self.name}: edge_kernel expects a conv edge (source, target), one of "
                             f"{', '.join(f'{a}→{b}' for a, b in conv)}; got {source}→{target}")
        return layer.effective_kernel().numpy()

    # --- states ----------------------------------------------------------------------------------
    @property
    def state_dtype(self):
        """The states', energy's and state gradients' dtype: the policy's variable dtype (float32 under a mixed
        policy, whose half-precision compute dtype only the networks f_i use)."""
        return self.variable_dtype

    @property
    def input_dtype(self):
        # Keras casts a layer's inputs to this dtype in __call__: the states, never rounded to half precision
        return self.state_dtype

    def check_states(self, states):
        """The states as a list of tensors, checked against the layer shapes (one clear error line)."""
        if not isinstance(states, (list, tuple)):
            states = self.unpack(states)
        if len(states) != len(self.names):
            raise ValueError(f"{self.name}: expected {len(self.names)} states ({', '.join(self.names)}), "
                             f"got {len(states)}")
        out = []
        for name, shape, s in zip(self.names, self.shapes, states):
            s = tf.cast(tf.convert_to_tensor(s), self.state_dtype)
            if tuple(s.shape[1:]) != shape:
                raise ValueError(f"{self.name}: state {name!r} must have shape (batch, {', '.join(map(str, shape))}), "
                                 f"got {tuple(s.shape)}")
            out.append(s)
        return out

    def unpack(self, packed):
        """Split (batch, units) into the list of states."""
        packed = tf.cast(tf.convert_to_tensor(packed), self.state_dtype)
        if packed.shape.rank != 2 or packed.shape[-1] != self.units:
            raise ValueError(f"{self.name}: expected a list of {len(self.names)} states or one packed tensor "
                             f"(batch, {self.units}), got shape {tuple(packed.shape)}")
        parts = tf.split(packed, self.sizes, axis=-1)
        return [tf.reshape(p, (-1,) + s) for p, s in zip(parts, self.shapes)]

    def pack(self, states):
        """The states flattened and concatenated, (batch, units)."""
        return tf.concat([tf.reshape(s, (tf.shape(s)[0], -1)) for s in states], axis=-1)

    def clamp(self, states):
        """Each state clamped to ρ's range (what the samplers do after every step)."""
        return clamp_to_ranges(states, self.ranges)

    @contextlib.contextmanager
    def constant_weights(self):
        """Within this scope the weights are taken as constant (the samplers enter it around their loop):
        the convolutions' weight-derived tensors (weight-normalised kernels, FFT kernel spectra) are computed
        once on entry, in the graph being traced, instead of at every energy evaluation."""
        if not self.built:
            self.build()
        with contextlib.ExitStack() as stack:
            for network in self.networks:
                if network is not None:
                    for layer in network._flatten_layers(include_self=False):
                        if isinstance(layer, CCTConv):
                            stack.enter_context(layer.constant_weights())
            yield

    # --- energy ----------------------------------------------------------------------------------
    def interactions(self, states):
        """[f_i(ρ(s_j), j ∈ N(i))] per layer (zeros for a layer without inputs), in the states' dtype."""
        if not self.built:
            self.build()
        activated = [tf.cast(self.rho(s), self.compute_dtype) for s in states]
        out = []
        for s, network, (conv, dense) in zip(states, self.networks, self.inputs_of):
            if network is None:
                out.append(tf.zeros_like(s))
            else:
                out.append(tf.cast(network([activated[j] for j in conv], [activated[j] for j in dense]), s.dtype))
        return out

    def unit_energies(self, states, interactions=None):
        """Per-unit energies ½s² − b·s − ½·s·f, one tensor of each layer's shape."""
        states = self.check_states(states)
        f = self.interactions(states) if interactions is None else interactions
        return [0.5 * tf.square(s) - b * s - 0.5 * s * fi for s, b, fi in zip(states, self.biases, f)]

    def example_energies(self, states):
        """E of each example, (batch,)."""
        return tf.add_n([tf.reduce_sum(tf.reshape(u, (tf.shape(u)[0], -1)), axis=-1)
                         for u in self.unit_energies(states)])

    def total_energy(self, states):
        """The batch mean (reduction "mean") or sum ("sum") of the example energies."""
        e = self.example_energies(states)
        return tf.reduce_mean(e) if self.reduction == "mean" else tf.reduce_sum(e)

    def energy_and_gradients(self, states, free=None):
        """(E per example, [∂E/∂s_i or None for a layer not in `free`]); with ff_dynamics the local update.

        Each example's gradient is that of its own energy (the gradient of the batch sum), whatever the
        reduction. `free` is a list of booleans (default: every layer); clamped layers get None and no
        gradient is computed for them.
        """
        states = self.check_states(states)
        free = [True] * len(states) if free is None else list(free)
        if self.ff_dynamics:
            f = self.interactions(states)
            energies = self.unit_energies(states, f)
            e = tf.add_n([tf.reduce_sum(tf.reshape(u, (tf.shape(u)[0], -1)), -1) for u in energies])
            return e, [s - b - 0.5 * fi if k else None for s, b, fi, k in zip(states, self.biases, f, free)]
        return autodiff_energy_and_gradients(self.example_energies, states, free)

    def state_gradients(self, states, free=None):
        """[∂E/∂s_i] (or the ff_dynamics local update); None for the layers not in `free`."""
        return self.energy_and_gradients(states, free)[1]

    def call(self, inputs):
        return self.example_energies(inputs)

    def compute_output_shape(self, input_shape):
        first = input_shape[0] if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)) \
            else input_shape
        return (first[0],)

    def get_config(self):
        config = super().get_config()
        config.update({"layers": [dict(l) for l in self.layer_specs], "edges": [dict(e) for e in self.edge_specs],
                       "base_channels": self.base_channels, "growth_rate": self.growth_rate,
                       "state_activation": self.state_activation, "activation": self.activation,
                       "weight_norm": self.weight_norm, "reduction": self.reduction, "ff_dynamics": self.ff_dynamics,
                       "fft_min_kernel": self.fft_min_kernel})
        return config
