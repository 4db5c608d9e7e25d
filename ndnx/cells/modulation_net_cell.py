"""ModulationNet of Naumann et al. 2022: readout weights set synapse by synapse by feedback."""

import keras
from keras import ops

from ndnx.cells.modulated_cell import ModulatedCell
from ndnx.registry import register

__all__ = ["ModulationNetCell", "MODES"]

MODES = ("multiplicative", "additive", "direct")


@register("cell")
class ModulationNetCell(ModulatedCell):
    """The modulated readout: y_t = W_{t−1} x_t, each weight of W set by a feedback signal.

    W (sources × sensors, stored flattened row-major, W[i, j] = M[i·sensors + j]) follows the
    modulator's outputs O_t (one per weight) with timescale τ (Euler, dt = 1):

        multiplicative:  W_t = W_{t−1} + (W0 ⊙ O_t − W_{t−1}) / τ,   W0 ~ N(1, w0_std²),
        additive:        W_t = W_{t−1} + (W0 + O_t − W_{t−1}) / τ,   W0 ~ N(0, w0_std²),
        direct:          W_t = O_t  (the original's UnmixingModel: the RNN outputs the readout),

    W_0 = 0, so y = 0 at the first step. The step order is `ModulatedCell`'s (feedforward with
    W_{t−1}, then the modulator reads [x_t, y_t], then the update). τ = 1 is instantaneous feedback,
    τ = 100 slow feedback. W0 is a fixed (non-trainable) weight saved with the model;
    `learn_baseline=True` trains it. The ideal W is pinv(A) of the context A.

    Reference: Naumann L. B., Keijser J., Sprekeler H. (2022). Invariant neural subspaces maintained
    by feedback modulation. eLife 11:e76096, Figs 1–2 (spec feedback_modulation_naumann22.md §2).

    Args:
        mode: "multiplicative" (default), "additive" or "direct".
        w0_std: standard deviation of W0 (the original's `w0_var`, which is used as a std).
        learn_baseline: train W0.
        sources, sensors, hidden_units, input_to_net, tau, torch_init, replicas, seed: see
            `ndnx.cells.ModulatedCell`.

    Example:
        >>> import numpy as np, keras, ndnx
        >>> cell = ndnx.cells.ModulationNetCell(tau=1.0, seed=0)
        >>> y = keras.layers.RNN(cell, return_sequences=True)(np.ones((3, 5, 2), "float32"))
        >>> tuple(y.shape), float(np.abs(y[:, 0]).max())  # W starts at 0: no output at the first step
        ((3, 5, 2), 0.0)
        >>> sum(int(np.prod(w.shape)) for w in cell.trainable_weights)  # the original's 42,804
        42804
    """

    def __init__(self, sources=2, sensors=None, hidden_units=100, mode="multiplicative", tau=1.0, w0_std=0.001,
                 learn_baseline=False, input_to_net="xy", torch_init=True, replicas=None, seed=None, **kwargs):
        if mode not in MODES:
            raise ValueError(f"{kwargs.get('name', 'ModulationNetCell')}: mode must be one of {MODES}, got {mode!r}")
        n_weights = int(sources) * int(sources if sensors is None else sensors)
        super().__init__(n_weights, (n_weights,), sources=sources, sensors=sensors, hidden_units=hidden_units,
                         input_to_net=input_to_net, tau=tau, torch_init=torch_init, replicas=replicas, seed=seed,
                         **kwargs)
        self.mode = mode
        self.w0_std = float(w0_std)
        self.learn_baseline = bool(learn_baseline)

    def build_pathway(self, sensors):
        mean = 1.0 if self.mode == "multiplicative" else 0.0
        self.w0 = self.add_replica_weight("w0", (self.sources * sensors,),
                                          keras.initializers.RandomNormal(mean, self.w0_std),
                                          trainable=self.learn_baseline)

    def pathway_weights(self):
        return (self.replica_weight(self.w0),)

    def feedforward(self, x, modulation, weights):
        W = ops.reshape(modulation[0], (-1, x.shape[1], self.sources, self.sensors))
        # a 2 × 2 product per context: a broadcast sum XLA fuses, not a batched dot call per step
        return ops.sum(W * x[:, :, None, :], axis=-1), {}

    def update(self, modulation, feedback, weights):
        (W,), (w0,) = modulation, weights
        if self.mode == "direct":
            return [feedback]
        target = w0[None] * feedback if self.mode == "multiplicative" else w0[None] + feedback
        return [W + (target - W) / self.tau]

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "w0_std": self.w0_std, "learn_baseline": self.learn_baseline})
        return config
