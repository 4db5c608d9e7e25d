"""SpatialNet of Naumann et al. 2022: a population whose gains a few spatially spread feedback signals set."""

import numpy as np
import keras

from ndnx.cells.modulated_cell import ModulatedCell, positive_int
from ndnx.cells.replica_matvec import replica_matvec
from ndnx.registry import register

__all__ = ["SpatialNetCell", "modulation_kernel"]


def modulation_kernel(units, signals, width):
    """The fixed spread Wm (units × signals) of `signals` feedback signals over `units` neurons.

    width 0: box — signal i drives neurons k with ⌊k·signals/units⌋ = i (blocks of units/signals);
    width ≥ 10: flat, all ones (global modulation); otherwise von Mises on a ring, neuron k at
    θ_k = 2πk/units, signal i centred at 2πi/signals: exp(cos(θ_k − 2πi/signals)/width), each
    column divided by its maximum (peak 1).

    Example:
        >>> modulation_kernel(4, 2, 0).tolist()
        [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
        >>> k = modulation_kernel(100, 4, 0.2)
        >>> float(k.max()), int((k[:, 0] > 0.5).sum()), int((k[:, 0] > 0.1).sum())
        (1.0, 17, 31)
    """
    units, signals, width = int(units), int(signals), float(width)
    if width < 0:
        raise ValueError(f"modulation_kernel: width must be ≥ 0 (0 box, ≥ 10 flat), got {width}")
    if width == 0:
        return (np.arange(units)[:, None] * signals // units == np.arange(signals)[None, :]).astype("float64")
    if width >= 10:
        return np.ones((units, signals))
    theta = 2 * np.pi * np.arange(units)[:, None] / units
    centres = 2 * np.pi * np.arange(signals)[None, :] / signals
    kernel = np.exp(np.cos(theta - centres) / width)
    return kernel / kernel.max(axis=0, keepdims=True)


@register("cell")
class SpatialNetCell(ModulatedCell):
    """A population z of `units` neurons between x and y, each with a gain set by spread feedback.

        z_t = M_{t−1} ⊙ (W0 x_t),   y_t = Wro z_t,   M_t = M_{t−1} + (Wm O_t − M_{t−1}) / τ,

    with W0 (units × sensors) and Wro (sources × units) ~ N(0, 0.5²), fixed unless
    `learn_baseline` / `learn_readout`, the fixed kernel Wm (units × signals) of
    `modulation_kernel` (box, flat or von Mises of `kernel_width`) and O_t the modulator's
    `signals` outputs. M starts at 0 and is signed (not a positive gain). The step order is
    `ModulatedCell`'s. The step records z ("z").

    Reference: Naumann L. B., Keijser J., Sprekeler H. (2022). Invariant neural subspaces maintained
    by feedback modulation. eLife 11:e76096, Figs 3–5 (spec feedback_modulation_naumann22.md §2).

    Args:
        units: Nz (the paper's demos: 100).
        signals: Nm, the number of feedback signals (demos: 4).
        kernel_width: 0 box, ≥ 10 flat, else the von Mises width (demos: 0.2).
        w0_std, wro_std: standard deviations of W0 and Wro (0.5).
        learn_baseline, learn_readout: train W0, Wro.
        sources, sensors, hidden_units, input_to_net, tau, torch_init, replicas, seed: see
            `ndnx.cells.ModulatedCell` (demos: τ = 100).

    Example:
        >>> import numpy as np, keras, ndnx
        >>> cell = ndnx.cells.SpatialNetCell(units=100, signals=4, kernel_width=0.2, tau=100.0, seed=0)
        >>> y = keras.layers.RNN(cell, return_sequences=True)(np.ones((3, 5, 2), "float32"))
        >>> tuple(y.shape), [tuple(w.shape) for w in cell.non_trainable_weights]
        ((3, 5, 2), [(100, 2), (2, 100), (100, 4)])
    """

    def __init__(self, sources=2, sensors=None, hidden_units=100, units=100, signals=4, kernel_width=0.2, tau=100.0,
                 w0_std=0.5, wro_std=0.5, learn_baseline=False, learn_readout=False, input_to_net="xy",
                 torch_init=True, replicas=None, seed=None, **kwargs):
        owner = kwargs.get("name", "SpatialNetCell")
        units, signals = positive_int(owner, "units", units), positive_int(owner, "signals", signals)
        super().__init__(signals, (units,), sources=sources, sensors=sensors, hidden_units=hidden_units,
                         input_to_net=input_to_net, tau=tau, torch_init=torch_init, replicas=replicas, seed=seed,
                         **kwargs)
        self.units, self.signals = units, signals
        self.kernel_width = float(kernel_width)
        modulation_kernel(1, 1, self.kernel_width)  # checks the width
        self.w0_std, self.wro_std = float(w0_std), float(wro_std)
        self.learn_baseline, self.learn_readout = bool(learn_baseline), bool(learn_readout)

    def build_pathway(self, sensors):
        self.w0 = self.add_replica_weight("w0", (self.units, sensors), keras.initializers.RandomNormal(0.0, self.w0_std),
                                          trainable=self.learn_baseline)
        self.wro = self.add_replica_weight("wro", (self.sources, self.units),
                                           keras.initializers.RandomNormal(0.0, self.wro_std),
                                           trainable=self.learn_readout)
        kernel = modulation_kernel(self.units, self.signals, self.kernel_width)
        self.wm = self.add_replica_weight("wm", kernel.shape, keras.initializers.Constant(kernel), trainable=False)

    def pathway_weights(self):
        return tuple(self.replica_weight(w) for w in (self.w0, self.wro, self.wm))

    def feedforward(self, x, modulation, weights):
        w0, wro, _ = weights
        z = modulation[0] * replica_matvec(w0, x)
        return replica_matvec(wro, z), {"z": z}

    def update(self, modulation, feedback, weights):
        M, wm = modulation[0], weights[2]
        return [M + (replica_matvec(wm, feedback) - M) / self.tau]

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "signals": self.signals, "kernel_width": self.kernel_width,
                       "w0_std": self.w0_std, "wro_std": self.wro_std, "learn_baseline": self.learn_baseline,
                       "learn_readout": self.learn_readout})
        return config
