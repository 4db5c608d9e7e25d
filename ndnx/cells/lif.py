"""A network of leaky integrate-and-fire neurons, one recorded window per step (spec §4).

Spec: specs/ei_networks_neuroflame.md §4 (NeuroFlame's `lif_network.py`) and §11 ("LIF network").
Per Euler sub-step of length DT, for neuron i of population A (populations stored E first):

    I_rec,i ← I_rec,i·e^{−DT/τ_syn,A} + (DT/τ_syn,A)·Σ_j W_ij s_j      (synaptic dynamics; else I_rec,i = Σ_j W_ij s_j)
    V_i ← V_L + (V_i − V_L)·e^{−DT/τ_A} + (DT/τ_A)·(I_ff,i + I_rec,i)
    s_i = [V_i ≥ V_THRESH];  where s_i = 1: V_i ← V_REST

with s the spikes (0/1) of the previous sub-step, I_ff,i = ff_mean_A + input_i + ff_std_A·ξ_i (ξ ~ N(0, 1)
fresh per sub-step and neuron) and V_L = 0 (`v_leak`, the spec's equation) unless set. One call of the
cell runs N_WINDOW sub-steps in a compiled loop (`keras.ops.fori_loop`) and returns the rates in Hz,
spike count / (N_WINDOW·DT), so `keras.layers.RNN` records one frame per window.

The weight blocks are `ndnx.connectivity.Synapses` (dense or ELL layout); `lif_network_scaling` gives
the couplings and drive of NeuroFlame's `lif_network.py`.
"""

import numpy as np
import keras
from keras import ops

from ndnx.connectivity.synapses import LAYOUTS, Synapses, synaptic_drive, tensor_specs
from ndnx.layers.replicas import ReplicatedLayer
from ndnx.registry import register

__all__ = ["LIFCell", "lif_network_scaling", "LIFScaling", "lif_rate", "lif_fi_curve"]


def _positive_int(name, arg, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
    return int(value)


def _per_population(name, arg, value, n, positive=False, nonnegative=False):
    array = np.asarray(value, dtype="float64")
    if array.ndim == 0:
        array = np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError(f"{name}: {arg} must be a scalar or one value per population ({n}), got {np.shape(value)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: {arg} must be finite, got {array.tolist()}")
    if positive and np.any(array <= 0):
        raise ValueError(f"{name}: {arg} must be > 0, got {array.tolist()}")
    if nonnegative and np.any(array < 0):
        raise ValueError(f"{name}: {arg} must be >= 0, got {array.tolist()}")
    return [float(v) for v in array]


def _block_spec(block):
    """The part of a block that rebuilds its variables: layout, ELL width, whether it has values, scale."""
    if block.layout == "dense":
        return {"layout": "dense", "scale": block.scale}
    return {"layout": "ell", "k_max": block.k_max, "values": block.values is not None, "scale": block.scale}


@register("cell")
class LIFCell(ReplicatedLayer):
    """Leaky integrate-and-fire neurons coupled by synaptic weight blocks; one step = one recorded window.

    Spec: specs/ei_networks_neuroflame.md §4 (the module docstring gives the equations). Each call runs
    `n_window` Euler sub-steps of length `dt` (s) and returns the rates of the window in Hz
    (spike count / (n_window·dt)), shape (batch, N); the state is [V, I_rec, s] (membrane potential,
    recurrent current, last sub-step's spikes), each (batch, N), always float32 — the cell computes in
    float32 also under a 'mixed_float16' policy, since V integrates increments of order DT/τ. The
    initial V is drawn uniformly in [v_rest, v_thresh) per neuron and batch element (seeded), so no
    neuron spikes at t = 0; I_rec and s start at 0.

    Inputs per step: a current (batch, N) added to I_ff for the whole window, or one per sub-step
    (batch, n_window, N) (e.g. NeuroFlame's sequential ff input, or noise drawn outside). Neurons are
    ordered by population (E first); `synapses[a][b]` is the block from population b onto a, a
    `Synapses` of shape (N_a, N_b) (its `scale` is the coupling J_ab) or None. Blocks are stored as
    non-trainable weights; `get_config` records their layouts, so `keras.saving.load_model` rebuilds
    the variables and loads their values.

    Args:
        sizes: population sizes N_a, E first.
        synapses: n × n (post × pre) nested list of `Synapses` or None; None: uncoupled neurons.
        tau, tau_syn: membrane and synaptic time constants (s) per population (τ_syn of the
            postsynaptic population, whose current it is).
        dt: Euler step DT (s); n_window: sub-steps per call (N_WINDOW).
        v_thresh, v_rest, v_leak: threshold, reset and leak potentials (v_rest < v_thresh).
        ff_mean, ff_std: constant drive and the std of its white noise per sub-step, per population.
        synaptic_dynamics: low-pass the recurrent current (True) or take I_rec = W s (False).
        jit_compile: compile the window's loop with XLA (the loop is a `tf.function` either way).
        seed: int or None, for the initial V and the noise. replicas: must be None (run seeds as
            batch elements: each draws its own V and noise).

    Example:
        >>> import numpy as np, keras, ndnx
        >>> cell = ndnx.cells.LIFCell([3], tau=0.02, dt=1e-3, n_window=100, v_thresh=1.0, v_rest=0.0, seed=0)
        >>> currents = np.array([[[0.5, 1.2, 2.0]]], "float32")   # one window of 0.1 s
        >>> start = [np.zeros((1, 3), "float32")] * 3               # from V = v_rest
        >>> keras.layers.RNN(cell)(currents, initial_state=start).numpy().tolist()
        [[0.0, 20.0, 70.0]]
    """

    def __init__(self, sizes, synapses=None, tau=0.02, tau_syn=0.004, dt=1e-4, n_window=100, v_thresh=-50.0,
                 v_rest=-70.0, v_leak=0.0, ff_mean=0.0, ff_std=0.0, synaptic_dynamics=True, jit_compile=False,
                 replicas=None, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        name = self.name
        if self.replicas is not None:
            raise ValueError(f"{name}: replicas must be None (the weights are given, not drawn; run seeds as "
                             f"batch elements), got {replicas!r}")
        if self.compute_dtype not in ("float32", "float64"):
            raise ValueError(f"{name}: the membrane potential is integrated in float32 or float64, got the dtype "
                             f"policy {self.dtype_policy.name!r} (leave dtype unset under mixed precision)")
        if isinstance(sizes, (int, np.integer)) or not len(sizes):
            raise ValueError(f"{name}: sizes must be a non-empty list of population sizes, got {sizes!r}")
        self.sizes = [_positive_int(name, "sizes", s) for s in sizes]
        n_pop, n = len(self.sizes), sum(self.sizes)
        self.tau = _per_population(name, "tau", tau, n_pop, positive=True)
        self.tau_syn = _per_population(name, "tau_syn", tau_syn, n_pop, positive=True)
        self.ff_mean = _per_population(name, "ff_mean", ff_mean, n_pop)
        self.ff_std = _per_population(name, "ff_std", ff_std, n_pop, nonnegative=True)
        self.dt = float(dt)
        if not 0.0 < self.dt < float("inf"):
            raise ValueError(f"{name}: dt must be finite and > 0 (s), got {dt}")
        self.n_window = _positive_int(name, "n_window", n_window)
        self.v_thresh, self.v_rest, self.v_leak = float(v_thresh), float(v_rest), float(v_leak)
        if not (np.isfinite([self.v_thresh, self.v_rest, self.v_leak]).all() and self.v_rest < self.v_thresh):
            raise ValueError(f"{name}: expected finite potentials with v_rest < v_thresh, got v_rest={v_rest}, "
                             f"v_thresh={v_thresh}, v_leak={v_leak}")
        self.synaptic_dynamics = bool(synaptic_dynamics)
        if not isinstance(jit_compile, bool):
            raise ValueError(f"{name}: jit_compile must be True or False, got {jit_compile!r}")
        self.jit_compile = jit_compile
        self._noisy = any(s > 0 for s in self.ff_std)
        # Hz per spike, computed in float64 so that whole counts give exact float32 rates where they can
        self._rate_per_spike = 1.0 / (self.n_window * self.dt)
        self._window = None
        self._blocks, self._block_data = self._read_synapses(synapses)
        self.units = n
        self.state_size = [n, n, n]
        self.output_size = n
        self._generators = {key: self.add_replica_generators(key)[0] for key in ("initial_voltage", "noise")}

    def _read_synapses(self, synapses):
        """{(a, b): spec} and {(a, b): Synapses} from a nested list of Synapses, config dicts or None."""
        name, n_pop = self.name, len(self.sizes)
        if synapses is None:
            return {}, {}
        if len(synapses) != n_pop or any(row is None or len(row) != n_pop for row in synapses):
            raise ValueError(f"{name}: synapses must be {n_pop} rows of {n_pop} blocks (post × pre), got "
                             f"{[None if row is None else len(row) for row in synapses]}")
        specs, data = {}, {}
        for a, row in enumerate(synapses):
            for b, block in enumerate(row):
                if block is None:
                    continue
                expected = (self.sizes[a], self.sizes[b])
                if isinstance(block, Synapses):
                    if block.shape != expected:
                        raise ValueError(f"{name}: synapses[{a}][{b}] must have shape (N_{a}, N_{b}) = {expected}, "
                                         f"got {block.shape}")
                    specs[(a, b)], data[(a, b)] = _block_spec(block), block
                elif isinstance(block, dict) and block.get("layout") in LAYOUTS:
                    spec = {"layout": block["layout"], "scale": float(block.get("scale", 1.0))}
                    if spec["layout"] == "ell":
                        spec.update(k_max=_positive_int(name, f"synapses[{a}][{b}]['k_max']", block.get("k_max")),
                                    values=bool(block.get("values", False)))
                    specs[(a, b)] = spec
                else:
                    raise ValueError(f"{name}: synapses[{a}][{b}] must be a Synapses, a block config "
                                     f"{{'layout': one of {LAYOUTS}, ...}} or None, got {block!r}")
        return specs, data

    # ---- weights and constants ----------------------------------------------------------------------------
    def build(self, input_shape):
        shape = tuple(None if d is None else int(d) for d in input_shape)
        n = self.units
        if shape[1:] not in ((n,), (self.n_window, n)):
            raise ValueError(f"{self.name}: expected step inputs (batch, {n}) or (batch, n_window={self.n_window}, "
                             f"{n}), got {shape}")
        self._per_substep_input = len(shape) == 3
        self._tensors = {}
        for (a, b), spec in sorted(self._blocks.items()):
            block = self._block_data.get((a, b))
            stored = block.tensors() if block is not None else None
            n_post, n_pre = self.sizes[a], self.sizes[b]
            wanted = {key: (wshape, dtype, n_pre if dtype == "int32" else 0)  # n_pre: the padding index
                      for key, (wshape, dtype) in tensor_specs((n_post, n_pre), spec["layout"], spec.get("k_max"),
                                                               spec.get("values", False)).items()}
            tensors = {}
            for key, (wshape, dtype, fill) in wanted.items():
                value = None if stored is None else stored[key]
                if value is not None and value.shape != wshape:
                    raise ValueError(f"{self.name}: synapses[{a}][{b}] {key} must have shape {wshape}, got {value.shape}")
                tensors[key] = self.add_weight(
                    name=f"{key}_{a}_{b}", shape=wshape, dtype=dtype, trainable=False,
                    initializer=(lambda s, dtype=None, v=value, f=fill, t=dtype:
                                 np.full(s, f, dtype=t) if v is None else np.asarray(v, dtype=t)))
            self._tensors[(a, b)] = tensors
        self._block_data = {}  # the variables hold the values now

    def _population_vector(self, values):
        return np.repeat(np.asarray(values, dtype="float64"), self.sizes)

    # ---- dynamics ----------------------------------------------------------------------------------------------
    def get_initial_state(self, batch_size=None):
        v = keras.random.uniform((batch_size, self.units), minval=self.v_rest, maxval=self.v_thresh,
                                 dtype=self.compute_dtype, seed=self._generators["initial_voltage"])
        # v_rest + (v_thresh − v_rest)·u can round up to v_thresh itself; keep every neuron below it
        below = np.nextafter(np.asarray(self.v_thresh, self.compute_dtype), np.asarray(-np.inf, self.compute_dtype))
        v = ops.minimum(v, ops.cast(below, self.compute_dtype))
        zeros = ops.zeros((batch_size, self.units), dtype=self.compute_dtype)
        return [v, zeros, zeros]

    def _recurrent_drive(self, spikes):
        """Σ_j W_ij s_j for every neuron i, block by block."""
        if not self._tensors:
            return ops.zeros_like(spikes)
        edges = np.cumsum([0] + self.sizes)
        parts = []
        for a in range(len(self.sizes)):
            total = ops.zeros_like(spikes[:, edges[a]:edges[a + 1]])
            for b in range(len(self.sizes)):
                if (a, b) in self._tensors:
                    total = total + synaptic_drive(spikes[:, edges[b]:edges[b + 1]], self._tensors[(a, b)],
                                                   self._blocks[(a, b)]["scale"])
            parts.append(total)
        return ops.concatenate(parts, axis=-1)

    def call(self, inputs, states, training=None):
        v, i_rec, spikes = (ops.cast(s, self.compute_dtype) for s in states)
        # one seed per window from the generator, folded with the sub-step index inside the loop
        seed = self._generators["noise"].next() if self._noisy else np.zeros(2, "int64")
        if self._window is None:
            import tensorflow as tf

            # compiled once per cell: an eager loop of N_WINDOW sub-steps would cost milliseconds each
            self._window = tf.function(self._run_window, jit_compile=self.jit_compile, reduce_retracing=True)
        v, i_rec, spikes, count = self._window(ops.cast(inputs, self.compute_dtype), v, i_rec, spikes,
                                               ops.cast(seed, "int64"))
        return count * self._rate_per_spike, [v, i_rec, spikes]

    def _run_window(self, x, v, i_rec, spikes, seed):
        import tensorflow as tf

        from ndnx.gaussian_noise import stateless_normal

        dtype = self.compute_dtype
        decay = ops.convert_to_tensor(np.exp(-self.dt / self._population_vector(self.tau)), dtype)
        gain = ops.convert_to_tensor(self.dt / self._population_vector(self.tau), dtype)
        decay_syn = ops.convert_to_tensor(np.exp(-self.dt / self._population_vector(self.tau_syn)), dtype)
        gain_syn = ops.convert_to_tensor(self.dt / self._population_vector(self.tau_syn), dtype)
        ff_mean = ops.convert_to_tensor(self._population_vector(self.ff_mean), dtype)
        ff_std = ops.convert_to_tensor(self._population_vector(self.ff_std), dtype)

        def substep(k, carry):
            v, i_rec, spikes, count = carry
            drive = self._recurrent_drive(spikes)
            i_rec = i_rec * decay_syn + gain_syn * drive if self.synaptic_dynamics else drive
            current = ff_mean + (ops.take(x, k, axis=1) if self._per_substep_input else x)
            if self._noisy:
                step_seed = tf.random.experimental.stateless_fold_in(seed, k)
                current = current + ff_std * stateless_normal(tf.shape(v), step_seed, dtype)
            v = self.v_leak + (v - self.v_leak) * decay + gain * (current + i_rec)
            fired = ops.cast(v >= self.v_thresh, dtype)
            v = v + fired * (self.v_rest - v)
            return v, i_rec, fired, count + fired

        return ops.fori_loop(0, self.n_window, substep, (v, i_rec, spikes, ops.zeros_like(v)))

    def get_config(self):
        config = super().get_config()
        n_pop = len(self.sizes)
        synapses = None if not self._blocks else [[self._blocks.get((a, b)) for b in range(n_pop)]
                                                  for a in range(n_pop)]
        config.update({
            "sizes": list(self.sizes),
            "synapses": synapses,
            "tau": list(self.tau),
            "tau_syn": list(self.tau_syn),
            "dt": self.dt,
            "n_window": self.n_window,
            "v_thresh": self.v_thresh,
            "v_rest": self.v_rest,
            "v_leak": self.v_leak,
            "ff_mean": list(self.ff_mean),
            "ff_std": list(self.ff_std),
            "synaptic_dynamics": self.synaptic_dynamics,
            "jit_compile": self.jit_compile,
        })
        return config


class LIFScaling(tuple):
    """(couplings, ff_mean, ff_std) of `lif_network_scaling`."""

    __slots__ = ()

    def __new__(cls, couplings, ff_mean, ff_std):
        return super().__new__(cls, (couplings, ff_mean, ff_std))

    couplings = property(lambda self: self[0], doc="(n, n) J_AB, post × pre")
    ff_mean = property(lambda self: self[1], doc="(n,) constant drive per population")
    ff_std = property(lambda self: self[2], doc="(n,) noise std per population and sub-step")


def lif_network_scaling(jab, ja0, k, tau_syn, gain=1.0, m0=1.0, var_ff=0.0, v_thresh=-50.0, v_rest=-70.0):
    """Couplings and drive of NeuroFlame's `lif_network.py` (spec §4), for `LIFCell`.

        J_AB = GAIN·Jab_AB·(V_THRESH − V_REST)·√K_E / (K_B·τ_syn,B),
        ff_mean_A = Ja0_A·(V_THRESH − V_REST)·√K_E·M0,
        ff_std_A = (√VAR_FF_A/√K_E)·√K_E·M0 = √VAR_FF_A·M0,

    with K_E = K of population 0 and τ_syn,B that of the presynaptic population. A block of binary
    connectivity C_AB then is `Synapses(...).scaled(couplings[A, B])`.

    Args:
        jab: (n, n) post × pre (or flat row-major [EE, EI, IE, II]); ja0, var_ff: per population.
        k: in-degree K_B per presynaptic population (scalar or per population); tau_syn: τ_syn,B (s).

    Example:
        >>> from ndnx.cells.lif import lif_network_scaling
        >>> s = lif_network_scaling([1, -1.5, 1, -1], [2.0, 1.0], k=100, tau_syn=[0.004, 0.002], m0=0.15)
        >>> s.couplings.round(3).tolist(), s.ff_mean.round(3).tolist()
        ([[500.0, -1500.0], [500.0, -1000.0]], [60.0, 30.0])
    """
    name = "lif_network_scaling"
    jab = np.asarray(jab, dtype="float64")
    if jab.ndim == 1 and round(np.sqrt(jab.size)) ** 2 == jab.size:
        jab = jab.reshape(int(round(np.sqrt(jab.size))), -1)
    if jab.ndim != 2 or jab.shape[0] != jab.shape[1] or not np.all(np.isfinite(jab)):
        raise ValueError(f"{name}: jab must be a finite (n, n) post × pre matrix or its flat row-major list, "
                         f"got shape {jab.shape}")
    n = jab.shape[0]
    ja0 = np.array(_per_population(name, "ja0", ja0, n))
    k = np.array(_per_population(name, "k", k, n, positive=True))
    tau_syn = np.array(_per_population(name, "tau_syn", tau_syn, n, positive=True))
    var_ff = np.array(_per_population(name, "var_ff", var_ff, n, nonnegative=True))
    if not float(v_rest) < float(v_thresh):
        raise ValueError(f"{name}: expected v_rest < v_thresh, got v_rest={v_rest}, v_thresh={v_thresh}")
    span, sqrt_ke = float(v_thresh) - float(v_rest), np.sqrt(k[0])
    couplings = float(gain) * jab * span * sqrt_ke / (k * tau_syn)[None, :]
    return LIFScaling(couplings, ja0 * span * sqrt_ke * float(m0), np.sqrt(var_ff) * float(m0))


def lif_rate(current, tau=0.02, v_thresh=-50.0, v_rest=-70.0, v_leak=0.0):
    """Firing rate (Hz) of a LIF neuron under a constant current, continuous time (the DT → 0 limit).

    τ dV/dt = −(V − V_L) + I relaxes to V∞ = V_L + I; from V_REST it reaches V_THRESH after
    τ·ln((V∞ − V_REST)/(V∞ − V_THRESH)), so the rate is the inverse of that time, and 0 when
    V∞ ≤ V_THRESH. Vectorised over `current`.

    Example:
        >>> from ndnx.cells.lif import lif_rate
        >>> [round(float(r), 3) for r in lif_rate([0.5, 2.0], tau=0.02, v_thresh=1.0, v_rest=0.0)]
        [0.0, 72.135]
    """
    if not float(v_rest) < float(v_thresh) or not float(tau) > 0:
        raise ValueError(f"lif_rate: expected tau > 0 and v_rest < v_thresh, got tau={tau}, v_rest={v_rest}, "
                         f"v_thresh={v_thresh}")
    v_inf = float(v_leak) + np.asarray(current, dtype="float64")
    above = v_inf > v_thresh
    safe = np.where(above, v_inf, v_thresh + 1.0)
    return np.where(above, 1.0 / (float(tau) * np.log((safe - v_rest) / (safe - v_thresh))), 0.0)


def lif_fi_curve(currents, tau=0.02, dt=1e-4, duration=1.0, v_thresh=-50.0, v_rest=-70.0, v_leak=0.0):
    """The f–I curve of uncoupled `LIFCell` neurons: spikes per second over `duration`, from V = v_rest.

    One neuron per current, simulated by the cell (DT = `dt`, round(duration/dt) sub-steps, no noise);
    compare with `lif_rate` (its DT → 0 limit).

    Example:
        >>> from ndnx.cells.lif import lif_fi_curve
        >>> lif_fi_curve([0.5, 2.0], tau=0.02, dt=1e-4, duration=1.0, v_thresh=1.0, v_rest=0.0).tolist()
        [0.0, 71.0]
    """
    currents = np.asarray(currents, dtype="float32").ravel()
    if currents.size == 0 or not np.all(np.isfinite(currents)):
        raise ValueError(f"lif_fi_curve: currents must be a non-empty list of finite values, got {currents.tolist()}")
    steps = int(round(float(duration) / float(dt)))
    if steps < 1:
        raise ValueError(f"lif_fi_curve: duration must be at least one step dt={dt}, got {duration}")
    cell = LIFCell([currents.size], tau=tau, dt=dt, n_window=steps, v_thresh=v_thresh, v_rest=v_rest,
                   v_leak=v_leak, seed=0)
    start = [np.full((1, currents.size), v_rest, "float32"), np.zeros((1, currents.size), "float32"),
             np.zeros((1, currents.size), "float32")]
    counts = keras.layers.RNN(cell)(currents[None, None, :], initial_state=start)
    return np.asarray(counts, dtype="float64")[0] * (steps * float(dt)) / float(duration)
