"""An E/I network trained on a task by backpropagation through the whole trial (spec ei_networks_neuroflame.md §6).

`EITaskModel` wraps an `EINetwork` whose cell has trainable weights (the low-rank E→E block of
`EIRateCell(stp_mode="dense", lr_train=True)`, the dense W_train, J_STP) and turns the trial's
recorded frames into what a task loss reads, frame by frame:

- readout="overlaps": z_t = r_E(t)·V/N_E, (batch, frames, rank), the overlaps of the E rates with
  the "left" vectors V of the low-rank block; with `linear_readout` a Linear(N_E → 1) of r_E(t) is
  appended as column `rank` (NeuroFlame's LR_READOUT). `ndnx.losses.DualLoss(read_idx=...)` picks
  the columns (DPA, Go/NoGo, dual);
- readout="rates": the E rates (batch, frames, N_E) themselves, for `ndnx.losses.AngularErrorLoss`
  (ODR; neurons in ring order).

Training is plain `model.fit` on `TaskTrials.to_dataset(targets, ...)`: the forward pass of a
training-mode call runs the network's window loop uncompiled, so the gradient flows back through
every Euler sub-step of the trial (no truncation; memory grows with T·B·N, as in NeuroFlame).
Keras' own train step is used, so callbacks, checkpoints and `tf.distribute` strategies work
unchanged; `ndnx.training.ei_tasks` has the optimiser (Adam lr 0.1, ×0.9 per epoch, clip 10)
and the stopping rules of §6.

Seeds as one model (`ndnx.layers.replicas`): with a replicated cell (`EIRateCell(replicas=R,
seed=[s_0, …])`) the model holds R training seeds on one shared connectivity: the trainable
weights (V, U or W_train, J_STP and the linear readout) carry the replica axis, the static blocks
are shared, and each replica draws its own initial state and noise. Outputs are (batch, frames, R,
width); train with `DualLoss(replica_axis=2)` / `AngularErrorLoss(replica_axis=2)` (the sum of the
replicas' losses) and `task_optimizer(..., replicas=R)` (the clip taken per replica). Replica r
is the lone model built with the cell's seed s_r and the model's seed seeds[r] (`seed` an int
gives derive_seed(seed, r), a list one per replica); `ndnx.training.extract_replica` returns it.
From a configuration, `build_ei_network(config, cell_options={"replicas": R, "seed": [...]})`
keeps the configuration's SEED for the connectivity and gives the cell the training seeds.
Measured (2 busy cores, N = 400, batch 16, 110 sub-steps, dense clamped E→E block): one forward
and gradient of R = 3 replicas took 1.43 s against 1.64 s for three lone models, R = 8 2.8 s
against 3.1 s (forward alone 1.2–1.8× faster): at this size the step is compute-bound and the
replicas save the per-op overhead, little else.

Reference: spec ei_networks_neuroflame.md §6 "Trainable parameters", "Losses", §11 "BPTT training".
"""

import keras
import numpy as np
import tensorflow as tf

from ndnx.layers.dense import Dense
from ndnx.layers.replicas import check_replicas, child_seeds, normalize_replica_seeds
from ndnx.models.ei_network import EINetwork
from ndnx.registry import register

__all__ = ["EITaskModel", "READOUTS"]

READOUTS = ("overlaps", "rates")


@register("layer")
class EITaskModel(keras.Model):
    """An `EINetwork` with a task readout, trainable end to end by BPTT (module docstring).

        overlaps:  z_t = r_E(t)·V/N_E  (batch, frames, rank) [+ Linear(N_E → 1) of r_E(t)]
        rates:     r_E(t)              (batch, frames, N_E)

    Args:
        network: an `ndnx.models.EINetwork` (or its serialised config) returning the rates only.
        readout: "overlaps" (needs a cell with lr_train) or "rates".
        linear_readout: append a trainable Linear(N_E → 1) column (overlaps only).
        replicas: None (the cell's) or the cell's R; the outputs are then (batch, frames, R, width).
        seed: int ≥ 0 (or one per replica), the seed of the linear readout's kernel.

    Example:
        >>> import numpy as np, ndnx
        >>> from ndnx.connectivity import Synapses
        >>> rng = np.random.default_rng(0)
        >>> blocks = {(a, b): Synapses.from_dense(rng.random((n, m)) < 0.5)
        ...           for a, n in enumerate([8, 2]) for b, m in enumerate([8, 2]) if (a, b) != (0, 0)}
        >>> cell = ndnx.cells.EIRateCell([8, 2], blocks, in_degree=4, dt=0.02, t_window=0.1, stp_blocks=[(0, 0)],
        ...                              stp_mode="dense", lr_train=True, rank=2, seed=0)
        >>> model = ndnx.models.EITaskModel(ndnx.models.EINetwork(cell, duration=0.3, t_steady=0.1, jit_loop=False))
        >>> z = model({"onsets": np.zeros((3, 1), "float32"), "offsets": np.full((3, 1), 0.2, "float32"),
        ...            "patterns": np.ones((3, 1, 8), "float32")})
        >>> tuple(z.shape)  # 3 trials, 0.3 s at T_WINDOW 0.1: 4 frames, rank 2
        (3, 4, 2)
        >>> cell = ndnx.cells.EIRateCell([8, 2], blocks, in_degree=4, dt=0.02, t_window=0.1, stp_blocks=[(0, 0)],
        ...                              stp_mode="dense", lr_train=True, rank=2, replicas=2, seed=[0, 1])
        >>> seeds = ndnx.models.EITaskModel(ndnx.models.EINetwork(cell, duration=0.3, t_steady=0.1, jit_loop=False))
        >>> tuple(seeds({"stimulus": np.zeros((3, 3, 8), "float32")}).shape)  # 2 training seeds as one model
        (3, 4, 2, 2)
    """

    def __init__(self, network, readout="overlaps", linear_readout=False, replicas=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(network, dict):
            network = keras.saving.deserialize_keras_object(network)
        if not isinstance(network, EINetwork):
            raise ValueError(f"{self.name}: network must be an ndnx.models.EINetwork, got {type(network).__name__}")
        if network._dict_output:
            raise ValueError(f"{self.name}: network must return the rates only (record_stp and record_recurrent "
                             f"off), got records {network._records}")
        if readout not in READOUTS:
            raise ValueError(f"{self.name}: readout must be one of {READOUTS}, got {readout!r}")
        if readout == "overlaps" and not network.cell.lr_train:
            raise ValueError(f"{self.name}: readout='overlaps' reads the low-rank vectors V; the cell needs "
                             f"lr_train=True, got lr_train=False")
        if linear_readout and readout != "overlaps":
            raise ValueError(f"{self.name}: linear_readout adds a column to the overlaps; got readout={readout!r}")
        cell_replicas = network.cell.replicas
        if replicas is None:
            replicas = cell_replicas
        if check_replicas(self.name, replicas) != cell_replicas:
            raise ValueError(f"{self.name}: replicas must be the cell's ({cell_replicas}), got {replicas!r}")
        seeds = seed if isinstance(seed, (list, tuple)) else [seed]
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
            raise ValueError(f"{self.name}: seed must be an int ≥ 0{' or one per replica' if replicas else ''}, "
                             f"got {seed!r}")
        self.replicas = replicas
        self.replica_seeds = normalize_replica_seeds(self.name, list(seed) if isinstance(seed, tuple) else seed,
                                                     replicas)
        self.seed = list(seed) if isinstance(seed, (list, tuple)) else int(seed)
        self.network = network
        self.readout = readout
        self.linear_readout = bool(linear_readout)
        self.n_e = network.cell.sizes[0]
        self.linear = None
        if self.linear_readout:
            self.linear = Dense(1, kernel_initializer="glorot_uniform", replicas=replicas,
                                seed=child_seeds(self.replica_seeds, replicas, "linear_readout"), name="linear_readout")

    @property
    def frames(self):
        return self.network.frames

    @property
    def width(self):
        """Readout columns: rank (+1 with the linear readout), or N_E."""
        if self.readout == "rates":
            return self.n_e
        return self.network.cell.rank + int(self.linear_readout)

    def build(self, input_shape=None):
        self.network.build(None)
        if self.linear is not None and not self.linear.built:
            self.linear.build((None, self.n_e) if self.replicas is None else (None, self.replicas, self.n_e))
        self.built = True

    def build_from_config(self, config):
        self.build(None)

    def compute_output_shape(self, input_shape=None):
        batch = None
        if input_shape is not None and not isinstance(input_shape, dict):
            batch = input_shape[0]
        return (batch, self.frames) + (() if self.replicas is None else (self.replicas,)) + (self.width,)

    def readout_of(self, rates):
        """The readout (batch, frames, width) of recorded rates (batch, frames, N); replicated
        (batch, frames, R, width) of (batch, frames, R, N), replica r read with its own V and readout."""
        rates_e = tf.cast(rates, tf.float32)[..., :self.n_e]
        if self.readout == "rates":
            return rates_e
        v, _ = self.network.cell.low_rank_factors()
        if self.replicas is None:
            z = tf.einsum("bfn,nk->bfk", rates_e, v) / float(self.n_e)
        else:
            z = tf.einsum("bfrn,rnk->bfrk", rates_e, v) / float(self.n_e)
        if self.linear is not None:
            lead = (-1,) if self.replicas is None else (-1, self.replicas)
            column = self.linear(tf.reshape(rates_e, lead + (self.n_e,)))
            z = tf.concat([z, tf.reshape(column, tf.concat([tf.shape(z)[:-1], [1]], 0))], axis=-1)
        return z

    def call(self, inputs=None, parameters=None, initial_state=None, training=None):
        if not self.built:
            self.build(None)
        rates = self.network(inputs, parameters=parameters, initial_state=initial_state, training=training)
        return self.readout_of(rates)

    def get_config(self):
        config = super().get_config()
        config.update({"network": keras.saving.serialize_keras_object(self.network), "readout": self.readout,
                       "linear_readout": self.linear_readout, "replicas": self.replicas,
                       "seed": list(self.seed) if isinstance(self.seed, list) else self.seed})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
