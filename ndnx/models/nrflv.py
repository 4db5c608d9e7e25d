"""NRFLV: contrastive-divergence training of an energy graph with SGHMC chains (Sharkey's NRF-LV thesis model).

Spec energy_sampling_nrflv.md §2.2–2.4. One `train_step` per batch of images x:

1. positive phase: the image layer clamped to x (bit-identical, no gradient computed for it), the
   latents started from the amortised initter (`Initter`), `positive_steps` sampler steps;
2. the initter takes one step on Σ_layers MSE(initter(x), positive states) (targets detached) with its
   own optimizer (SGD, Nesterov momentum 0.85, as the original);
3. negative phase: every layer free, chains from the on-device `ReplayBuffer` (⌊reuse·B⌋ replayed,
   the rest fresh uniform noise in ρ's range), `negative_steps` steps; the final chains are pushed;
4. the weights take one step on

       loss = (E⁺ − E⁻) + λ·(E⁺² + E⁻²),

   E± the per-example energies averaged over the batch (the graph's reduction "sum" gives the
   original's batch-summed form), states detached; the default optimizer is `IGEBMAdam` (β₁ = 0,
   β₂ = 0.999, IGEBM clip).

Because all of this lives in `train_step`, `model.fit` brings callbacks, checkpoints and resume
(`ndnx.training.train`), TensorBoard and tf.distribute with it. `call(x)` returns the energy of each
example at the initter's states (the image clamped): what the positive phase starts from.

The sampler is configured by `sampler_config` (keyword arguments of `ndnx.energy.SGHMC`). The thesis
run: `sampler_config=dict(step_size=0.1, friction=0.1, noise="faithful", min_sq_sigma=9e-5,
max_sq_sigma=1e-4, burn_in=100, inverse_mass="faithful")`, 500 + 500 steps, λ = 1, lr 5e-4
(IGEBMAdam) and 5e-4 (initter). The default samples at T = 1 (`noise="temperature"`).

Example:
    >>> import numpy as np, ndnx
    >>> graph = dict(layers=[{"name": "x", "shape": [2]}, {"name": "h", "shape": [4]}],
    ...              edges=[{"source": "h", "target": "x", "kind": "dense"},
    ...                     {"source": "x", "target": "h", "kind": "dense"}], state_activation="hardsig")
    >>> model = ndnx.models.NRFLV(graph, positive_steps=5, negative_steps=5, buffer_capacity=64, seed=0)
    >>> model.compile()
    >>> history = model.fit(np.random.default_rng(0).uniform(size=(32, 2)).astype("float32"), batch_size=16,
    ...                     epochs=1, verbose=0)
    >>> sorted(history.history)
    ['initter_loss', 'loss', 'negative_energy', 'positive_energy']
"""

import keras
import numpy as np
import tensorflow as tf

from ndnx.energy.energy_graph import EnergyGraph
from ndnx.energy.igebm_adam import IGEBMAdam
from ndnx.energy.initter import Initter
from ndnx.energy.replay_buffer import ReplayBuffer
from ndnx.energy.sghmc import SGHMC
from ndnx.registry import register
from ndnx.seeding import derive_seed

__all__ = ["NRFLV"]


@register("layer")
class NRFLV(keras.Model):
    """Contrastive-divergence training of an energy graph (module docstring).

    Args:
        graph: an `EnergyGraph` config dict (or the layer itself); layer 0 is the data layer.
        positive_steps, negative_steps: sampler steps per phase (500 and 500 in the thesis). The negative
            length in force is the variable `num_negative_steps` (checkpointed), which
            `ndnx.energy.AdaptiveNegativeSteps` lengthens during training.
        randomize_negative_steps: draw each negative phase's length from Poisson(num_negative_steps), at least 1.
        negative_initter: fresh negative chains start from the initter on random images (per image and channel a
            mean ~U(0, 0.7), plus N(0, 0.3²) pixel noise, clamped to ρ's range; the original's `neg_ff_init`)
            instead of uniform noise in every layer.
        sampler_config: keyword arguments of `SGHMC` (default: η = α = 0.1, T = 1, no burn-in).
        initter_channels: num_ch_initter (32). initter_weight_norm: weight norm in the initter.
        buffer_capacity, buffer_reuse: replay buffer size (10,000) and replayed fraction (0.95).
        persist_momentum: keep each chain's momentum in the buffer with it.
        l2_energy: λ of the energy penalty (1.0).
        initter_learning_rate: of the default initter optimizer (SGD, Nesterov 0.85).
        replicas: must be None. seed: int or None (seeds the graph, initter, buffer, fresh chains, sampler).
        dtype: a Keras dtype policy for the graph and the initter (default: the graph's own, else float32);
            "mixed_bfloat16" computes the networks f_i in bfloat16 with float32 states and weights
            (`EnergyGraph`), "mixed_float16" adds loss scaling to both optimizers.
    """

    def __init__(self, graph, positive_steps=500, negative_steps=500, sampler_config=None, initter_channels=32,
                 initter_weight_norm=False, buffer_capacity=10_000, buffer_reuse=0.95, persist_momentum=False,
                 l2_energy=1.0, initter_learning_rate=5e-4, randomize_negative_steps=False, negative_initter=False,
                 replicas=None, seed=None, **kwargs):
        if isinstance(graph, EnergyGraph):
            graph = graph.get_config()
        if kwargs.get("dtype") is None and isinstance(graph, dict) and graph.get("dtype") is not None:
            kwargs["dtype"] = graph["dtype"]  # a graph given with a (mixed) policy brings it to the model
        super().__init__(**kwargs)
        if replicas is not None:
            raise ValueError(f"NRFLV: replicas must be None (one energy model per fit), got {replicas!r}")
        graph = {k: v for k, v in dict(graph).items() if k not in ("name", "trainable", "dtype", "replicas")}
        self.graph_config = dict(graph)
        if seed is not None and graph.get("seed") is None:
            graph["seed"] = derive_seed(seed, "graph")
        self.graph = EnergyGraph(**graph, name="energy_graph", dtype=self.dtype_policy)
        for name, value in (("positive_steps", positive_steps), ("negative_steps", negative_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"NRFLV: {name} must be an int ≥ 0, got {value!r}")
        if not np.isfinite(l2_energy) or l2_energy < 0:
            raise ValueError(f"NRFLV: l2_energy must be a finite number ≥ 0, got {l2_energy!r}")
        self.positive_steps, self.negative_steps = positive_steps, negative_steps
        self.randomize_negative_steps = bool(randomize_negative_steps)
        self.negative_initter = bool(negative_initter)
        self.sampler_config = dict(sampler_config or {})
        self.sampler_config.setdefault("seed", 0 if seed is None else derive_seed(seed, "sampler"))
        self.sampler = SGHMC(**self.sampler_config)
        self.initter_channels, self.initter_weight_norm = int(initter_channels), bool(initter_weight_norm)
        self.initter = Initter(self.graph.shapes[0], self.graph.shapes[1:], channels=self.initter_channels,
                               state_activation=self.graph.state_activation, activation=self.graph.activation,
                               weight_norm=self.initter_weight_norm,
                               seed=None if seed is None else derive_seed(seed, "initter"), name="initter",
                               dtype=self.dtype_policy)
        self.buffer_capacity, self.buffer_reuse = int(buffer_capacity), float(buffer_reuse)
        self.persist_momentum = bool(persist_momentum)
        self.buffer = ReplayBuffer(self.graph.shapes, self.buffer_capacity, self.buffer_reuse,
                                   with_momentum=self.persist_momentum,
                                   seed=None if seed is None else derive_seed(seed, "buffer"), name="replay_buffer")
        self.l2_energy, self.initter_learning_rate, self.seed = float(l2_energy), float(initter_learning_rate), seed
        self.fresh_generator = keras.random.SeedGenerator(None if seed is None else derive_seed(seed, "fresh"))
        self.initter_optimizer = None
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "positive_energy", "negative_energy", "initter_loss")}

    @property
    def input_dtype(self):
        # Keras casts a model's inputs to this dtype in __call__: images stay in the states' dtype (float32 under
        # a mixed policy), as the graph receives them
        return self.graph.state_dtype

    # --- building ---------------------------------------------------------------------------------------
    def build(self, input_shape=None):
        self.num_negative_steps = self.add_weight(name="num_negative_steps", shape=(), dtype="int32", trainable=False,
                                                  initializer=keras.initializers.Constant(self.negative_steps),
                                                  aggregation="only_first_replica")
        self.graph.build()
        self.initter.build()
        self.buffer.build()
        self.built = True

    def compile(self, optimizer=None, initter_optimizer=None, **kwargs):
        """Weights: `IGEBMAdam(5e-4)` by default; initter: SGD(initter_learning_rate, Nesterov 0.85)."""
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer if optimizer is not None else IGEBMAdam(5e-4), **kwargs)
        self.initter_optimizer = initter_optimizer if initter_optimizer is not None else keras.optimizers.SGD(
            self.initter_learning_rate, momentum=0.85, nesterov=True)
        if self.dtype_policy.name == "mixed_float16" and not isinstance(self.initter_optimizer,
                                                                       keras.optimizers.LossScaleOptimizer):
            # as Keras' compile does for the weights' optimizer: float16 gradients need loss scaling
            self.initter_optimizer = keras.optimizers.LossScaleOptimizer(self.initter_optimizer)
        if not self.built:
            self.build()
        self.optimizer.build(self.graph.trainable_variables)  # before a first distributed step (Keras 3)
        self.initter_optimizer.build(self.initter.trainable_variables)

    def compile_from_config(self, config):
        """Recompile a loaded model with its saved weight optimizer (Keras restores its state afterwards)."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    @property
    def metrics(self):
        return list(self.trackers.values())

    # --- pieces of the step -----------------------------------------------------------------------------
    def initial_latents(self, images):
        """The initter's latent states, clamped to ρ's range."""
        latents = self.initter(images)
        return self.graph.clamp([tf.convert_to_tensor(images)] + latents)[1:]

    def fresh_states(self, batch):
        """Uniform noise in ρ's range for every layer ([0, 1] where the range is unbounded), or with
        `negative_initter` random images and the initter's latents for them."""
        if self.negative_initter:
            shape = self.graph.shapes[0]
            means = keras.random.uniform((batch,) + (1,) * (len(shape) - 1) + shape[-1:], 0.0, 0.7,
                                         seed=self.fresh_generator)
            noise = keras.random.normal((batch,) + shape, stddev=0.3, seed=self.fresh_generator)
            images = self.graph.clamp([means + noise] + [tf.zeros((batch,) + s) for s in self.graph.shapes[1:]])[0]
            return [images] + self.initial_latents(images)
        out = []
        for shape, (lo, hi) in zip(self.graph.shapes, self.graph.ranges):
            hi = hi if np.isfinite(hi) else lo + 1.0
            out.append(keras.random.uniform((batch,) + shape, lo, hi, seed=self.fresh_generator))
        return out

    def new_chain(self, states):
        """A fresh sampler chain state with its own random stream (drawn from the model's seed generator)."""
        chain = self.sampler.init_chain(states)
        chain["key"] = tf.cast(keras.random.randint((2,), 0, 2**30, seed=self.fresh_generator), tf.int64)
        return chain

    def positive_phase(self, images):
        """The positive-phase states: image clamped, latents from the initter, `positive_steps` steps."""
        images = tf.cast(tf.convert_to_tensor(images), self.graph.state_dtype)
        start = [images] + [tf.stop_gradient(s) for s in self.initial_latents(images)]
        free = (False,) + (True,) * (len(start) - 1)
        states, _ = self.sampler.run(self.graph, start, self.positive_steps, free=free, chain=self.new_chain(start))
        return [images] + [tf.stop_gradient(s) for s in states[1:]]

    def negative_phase(self, batch, push=True):
        """Chains from the buffer (and fresh ones), `negative_steps` free steps; the result is pushed."""
        fresh = self.fresh_states(batch)
        if self.persist_momentum:
            start, momenta = self.buffer.sample(fresh)
            chain = self.new_chain(start)
            chain["momentum"] = momenta
        else:
            start = self.buffer.sample(fresh)
            chain = self.new_chain(start)
        steps = tf.convert_to_tensor(self.num_negative_steps.value)
        if self.randomize_negative_steps:
            drawn = keras.random.randint((), 0, 2**30, seed=self.fresh_generator)
            steps = tf.maximum(1, tf.cast(tf.random.stateless_poisson((), [drawn, 1], tf.cast(steps, tf.float32)),
                                          tf.int32))
        states, chain = self.sampler.run(self.graph, start, steps, chain=chain)
        states = [tf.stop_gradient(s) for s in states]
        if push:
            self.buffer.push(states, chain["momentum"] if self.persist_momentum else None)
        return states

    def contrastive_loss(self, positive, negative):
        """(loss, E⁺, E⁻) with E± the graph's batch reduction of the example energies."""
        e_pos, e_neg = self.graph.total_energy(positive), self.graph.total_energy(negative)
        return (e_pos - e_neg) + self.l2_energy * (tf.square(e_pos) + tf.square(e_neg)), e_pos, e_neg

    def initter_step(self, images, positive):
        if len(positive) == 1:  # no latent layers: nothing to amortise
            return tf.constant(0.0)
        with tf.GradientTape() as tape:
            predicted = self.initter(images, training=True)
            loss = tf.add_n([tf.reduce_mean(tf.square(p - tf.stop_gradient(t))) for p, t in zip(predicted, positive[1:])])
            scaled = self.initter_optimizer.scale_loss(loss)  # the loss scale under mixed_float16, else the loss
        grads = tape.gradient(scaled, self.initter.trainable_variables)
        self.initter_optimizer.apply(grads, self.initter.trainable_variables)
        return loss

    def weight_step(self, positive, negative):
        with tf.GradientTape() as tape:
            loss, e_pos, e_neg = self.contrastive_loss(positive, negative)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.graph.trainable_variables)
        self.optimizer.apply(grads, self.graph.trainable_variables)
        return loss, e_pos, e_neg

    def _record(self, **values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        positive = self.positive_phase(images)
        initter_loss = self.initter_step(images, positive)
        negative = self.negative_phase(tf.shape(images)[0])
        loss, e_pos, e_neg = self.weight_step(positive, negative)
        return self._record(loss=loss, positive_energy=e_pos, negative_energy=e_neg, initter_loss=initter_loss)

    def test_step(self, data):
        """Both phases without any update (the buffer is read, not written): the loss and energies."""
        images = data[0] if isinstance(data, (tuple, list)) else data
        positive = self.positive_phase(images)
        predicted = self.initter(images)
        initter_loss = (tf.add_n([tf.reduce_mean(tf.square(p - t)) for p, t in zip(predicted, positive[1:])])
                        if predicted else tf.constant(0.0))
        negative = self.negative_phase(tf.shape(images)[0], push=False)
        loss, e_pos, e_neg = self.contrastive_loss(positive, negative)
        return self._record(loss=loss, positive_energy=e_pos, negative_energy=e_neg, initter_loss=initter_loss)

    def call(self, images):
        images = tf.cast(tf.convert_to_tensor(images), self.graph.state_dtype)
        return self.graph([images] + self.initial_latents(images))

    def latest_chains(self, k=16):
        """The states (one array per layer) of the k chains last pushed to the replay buffer."""
        count, head = int(self.buffer.count.numpy()), int(self.buffer.head.numpy())
        k = min(int(k), max(count, 1))
        rows = (head - k + np.arange(k)) % self.buffer_capacity
        return [slot.numpy()[rows] for slot in self.buffer.slots[:len(self.graph.shapes)]]

    def sample_images(self, k=16):
        """{"negative_samples": (1, k, H, W, C)}: the image layer of the latest negative chains ({} when the
        data layer is not an (H, W, C) image). For TensorBoard's image dashboard:
        `ndnx.training.train(..., images=lambda m: m.sample_images())`."""
        if len(self.graph.shapes[0]) != 3 or self.graph.shapes[0][-1] not in (1, 3, 4):
            return {}
        return {"negative_samples": self.latest_chains(k)[0][None]}

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self):
        config = super().get_config()
        config.update({"graph": self.graph_config, "positive_steps": self.positive_steps,
                       "negative_steps": self.negative_steps, "sampler_config": self.sampler_config,
                       "initter_channels": self.initter_channels, "initter_weight_norm": self.initter_weight_norm,
                       "buffer_capacity": self.buffer_capacity, "buffer_reuse": self.buffer_reuse,
                       "persist_momentum": self.persist_momentum, "l2_energy": self.l2_energy,
                       "initter_learning_rate": self.initter_learning_rate,
                       "randomize_negative_steps": self.randomize_negative_steps,
                       "negative_initter": self.negative_initter, "replicas": None, "seed": self.seed})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
