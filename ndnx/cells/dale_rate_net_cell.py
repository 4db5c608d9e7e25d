"""DaleRateNet of Naumann et al. 2022: rectified populations with feedforward inhibition under gain feedback."""

import keras
from keras import ops

from ndnx.cells.modulated_cell import ModulatedCell, positive_int
from ndnx.cells.replica_matvec import replica_matvec
from ndnx.cells.spatial_net_cell import modulation_kernel
from ndnx.registry import register

__all__ = ["DaleRateNetCell", "MOD_TARGETS"]

MOD_TARGETS = ("output", "excitation", "inhibition")


@register("cell")
class DaleRateNetCell(ModulatedCell):
    """x → z_L (rectified, unmodulated) → z_H (rectified, gain p from feedback) → y, with feedforward inhibition.

        z_L = ReLU(wx x_t),   exc = |w0| z_L,   inh = w_inh z_L,   w_inh = w_zi w_ix,
        output:      z_H = p_{t−1} ⊙ ReLU(exc − inh)
        excitation:  z_H = ReLU(p_{t−1} ⊙ exc − inh)
        inhibition:  z_H = ReLU(exc − p_{t−1} ⊙ inh)
        y_t = Wro z_H,   m_t = m_{t−1} + (O_t − m_{t−1}) / τ,   p_t = 1 − σ(Wm m_t),

    with wx (lower × sensors) and Wro (sources × units) ~ N(0, 0.5²), signed; w0 (units × lower)
    = |N(1, 0.5²)| · scale_exc / units (Dale: excitatory); interneurons n_inh = round(inh_frac ·
    lower) with w_ix = |N(1, 0.5²)| / n_inh and w_zi = |N(1, 1)| · scale_inh / units; scale 20 for
    both, halved on the side the gain does not target (excitation: inhibition 10; inhibition:
    excitation 10), which compensates the mean gain ½. Wm is `modulation_kernel(units, signals,
    kernel_width)`. State (h, c, m, p): m starts at 0, p at 0.5 + p_init_std · N(0, 1) (the original:
    0.01 in training, 0.1 in testing). All fixed matrices are non-trainable weights unless
    `learn_baseline` (w0), `learn_wx`, `learn_readout`. The step records z_L ("z_lower"), z_H ("z")
    and p ("gain").

    Reference: Naumann L. B., Keijser J., Sprekeler H. (2022). Invariant neural subspaces maintained
    by feedback modulation. eLife 11:e76096, Figs 6–7 (spec feedback_modulation_naumann22.md §2).

    Args:
        units: Nz (40; the original's example 100); lower_units: NzL (40).
        signals: Nm (4); kernel_width: of Wm (1; example 0.2).
        inh_frac: interneurons per lower-level neuron (1; example 0.5).
        mod_target: "output" (0), "excitation" (1) or "inhibition" (2); ints accepted.
        scale: 20.
        p_init_std: spread of the initial gain (0.01).
        learn_baseline, learn_wx, learn_readout: train w0, wx, Wro.
        sources, sensors, hidden_units, input_to_net, tau, torch_init, replicas, seed: see
            `ndnx.cells.ModulatedCell`.

    Example:
        >>> import numpy as np, keras, ndnx
        >>> cell = ndnx.cells.DaleRateNetCell(units=20, lower_units=10, hidden_units=16, seed=0)
        >>> tuple(keras.layers.RNN(cell, return_sequences=True)(np.ones((3, 5, 2), "float32")).shape)
        (3, 5, 2)
    """

    def __init__(self, sources=2, sensors=None, hidden_units=100, units=40, lower_units=40, signals=4, kernel_width=1.0,
                 inh_frac=1.0, mod_target="output", scale=20.0, tau=1.0, p_init_std=0.01, learn_baseline=False,
                 learn_wx=False, learn_readout=False, input_to_net="xy", torch_init=True, replicas=None, seed=None,
                 **kwargs):
        owner = kwargs.get("name", "DaleRateNetCell")
        if isinstance(mod_target, int) and not isinstance(mod_target, bool) and 0 <= mod_target < 3:
            mod_target = MOD_TARGETS[mod_target]
        if mod_target not in MOD_TARGETS:
            raise ValueError(f"{owner}: mod_target must be one of {MOD_TARGETS} (or 0, 1, 2), got {mod_target!r}")
        units, signals = positive_int(owner, "units", units), positive_int(owner, "signals", signals)
        super().__init__(signals, (signals, units), sources=sources, sensors=sensors, hidden_units=hidden_units,
                         input_to_net=input_to_net, tau=tau, torch_init=torch_init, replicas=replicas, seed=seed,
                         **kwargs)
        self.units, self.signals = units, signals
        self.lower_units = positive_int(self.name, "lower_units", lower_units)
        self.inh_frac = float(inh_frac)
        self.inhibitory_units = int(round(self.inh_frac * self.lower_units))
        if self.inhibitory_units < 1:
            raise ValueError(f"{self.name}: inh_frac · lower_units must round to ≥ 1 interneuron, got "
                             f"{self.inh_frac} · {self.lower_units}")
        self.kernel_width = float(kernel_width)
        modulation_kernel(1, 1, self.kernel_width)
        self.mod_target = mod_target
        self.scale = float(scale)
        self.p_init_std = float(p_init_std)
        self.learn_baseline, self.learn_wx, self.learn_readout = bool(learn_baseline), bool(learn_wx), bool(learn_readout)
        self._p_generators = self.add_replica_generators("p_init")

    def build_pathway(self, sensors):
        normal = keras.initializers.RandomNormal
        self.wx = self.add_replica_weight("wx", (self.lower_units, sensors), normal(0.0, 0.5), trainable=self.learn_wx)
        # w0, w_ix and w_zi are stored as drawn, N(1, σ²); their magnitudes and scales apply in the step
        self.w0 = self.add_replica_weight("w0", (self.units, self.lower_units), normal(1.0, 0.5),
                                          trainable=self.learn_baseline)
        self.w_ix = self.add_replica_weight("w_ix", (self.inhibitory_units, self.lower_units), normal(1.0, 0.5),
                                            trainable=False)
        self.w_zi = self.add_replica_weight("w_zi", (self.units, self.inhibitory_units), normal(1.0, 1.0),
                                            trainable=False)
        self.wro = self.add_replica_weight("wro", (self.sources, self.units), normal(0.0, 0.5),
                                           trainable=self.learn_readout)
        kernel = modulation_kernel(self.units, self.signals, self.kernel_width)
        self.wm = self.add_replica_weight("wm", kernel.shape, keras.initializers.Constant(kernel), trainable=False)

    @property
    def scales(self):
        """(scale_exc, scale_inh) for the modulation target."""
        return {"output": (self.scale, self.scale), "excitation": (self.scale, self.scale / 2),
                "inhibition": (self.scale / 2, self.scale)}[self.mod_target]

    def pathway_weights(self):
        scale_exc, scale_inh = self.scales
        wx, w0, w_ix, w_zi, wro, wm = (self.replica_weight(w) for w in
                                      (self.wx, self.w0, self.w_ix, self.w_zi, self.wro, self.wm))
        w_exc = ops.abs(w0) * (scale_exc / self.units)
        w_inh = ops.einsum("rki,ril->rkl", ops.abs(w_zi) * (scale_inh / self.units),
                           ops.abs(w_ix) / self.inhibitory_units)
        return wx, w_exc, w_inh, wro, wm

    def feedforward(self, x, modulation, weights):
        wx, w_exc, w_inh, wro, _ = weights
        p = modulation[1]
        z_lower = ops.relu(replica_matvec(wx, x))
        exc = replica_matvec(w_exc, z_lower)
        inh = replica_matvec(w_inh, z_lower)
        if self.mod_target == "output":
            z = p * ops.relu(exc - inh)
        elif self.mod_target == "excitation":
            z = ops.relu(p * exc - inh)
        else:
            z = ops.relu(exc - p * inh)
        return replica_matvec(wro, z), {"z_lower": z_lower, "z": z}

    def update(self, modulation, feedback, weights):
        m = modulation[0]
        m = m + (feedback - m) / self.tau
        p = 1.0 - ops.sigmoid(replica_matvec(weights[4], m))
        return [m, p]

    def step(self, x, states, freeze=None, weights=None):
        y, states, record = super().step(x, states, freeze, weights)
        return y, states, dict(record, gain=states[3])

    def initial_modulation(self, batch_size):
        m = ops.zeros(self.replicated_shape(batch_size, (self.signals,)), dtype=self.compute_dtype)

        def draw(r):
            return keras.random.normal((batch_size, self.units), 0.5, self.p_init_std, dtype=self.compute_dtype,
                                       seed=self._p_generators[r])

        return [m, self.replica_map(draw, per_replica=False)]

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "lower_units": self.lower_units, "signals": self.signals,
                       "kernel_width": self.kernel_width, "inh_frac": self.inh_frac, "mod_target": self.mod_target,
                       "scale": self.scale, "p_init_std": self.p_init_std, "learn_baseline": self.learn_baseline,
                       "learn_wx": self.learn_wx, "learn_readout": self.learn_readout})
        return config
