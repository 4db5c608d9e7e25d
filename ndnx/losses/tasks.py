"""Losses of the behavioural tasks of the E/I rate networks (NeuroFlame spec §6 "Losses").

Both losses see a whole trial: predictions over the recorded frames (batch, T, ...) of the network
(spec §1.5: frame k is the window mean ending k·T_WINDOW after the steady period), and targets that
carry, frame by frame, what the network should do and where — the task windows reach the loss as
part of `y_true`, so a batch of trials with random delays (windows that differ from trial to
trial) trains with a plain `model.fit`. `ndnx.data.tasks` builds these targets from a trial
schedule (`dual_targets`, `odr_targets`).

`DualLoss` (dual task, DPA, Go/NoGo) — predictions: the readout (batch, T, K), e.g. the overlaps
rates·V/N_E of a low-rank network; `read_idx[c]` is the readout column of channel c (C channels).
Targets (batch, T, 2C): y_true[..., c] is channel c's label ℓ ∈ {0, 1} (NaN: the frame is left out
of channel c), y_true[..., C + c] its window mask w ∈ {0, 1}. With z the readout of the channel,

    inside the window (w = 1):   h = relu(thresh − sign(2ℓ − 1)·z)            (hinge, thresh = 2)
                                 or, negative="neutral", h = g·|z| where ℓ = 0 (g = 0.1)
    outside (w = 0):             o = SmoothL1(z, 0) = ½z²/β if |z| < β else |z| − ½β   (β = 1)
    loss of a trial = Σ_c [ mean of h over its window frames + mean of o over its other frames ]

(a mean over no frames is 0). NeuroFlame's `SignBCELoss` with alpha = 0 is this hinge, and its
class_bal = 0 is the neutral negative class; it averaged each term over the whole batch, ndnx over
each trial's own frames (they differ under random delays) and then over the batch.

`AngularErrorLoss` (ODR) — predictions: the E rates (batch, T, N_E), neurons in ring order
(θ_n = 2πn/N_E; sort a low-rank network first, `ndnx.analysis.decoding.sort_by_ring`). Targets
(batch, T, 2): y_true[..., 0] the target location φ* in radians (NaN: the frame is left out),
y_true[..., 1] the memory-window mask w. From the first Fourier mode of each frame (m0, m1, φ as in
`ndnx.analysis.decoding`),

    loss of a trial = ½[mean_in (sin φ − sin φ*)² + mean_in (cos φ − cos φ*)²]
                      + mean_out m1² + mean_in relu(1 − m1/m0)

with "in" the frames where w = 1 and "out" those where w = 0: the bump must sit at the target
through the memory window, exist there (m1 ≥ m0), and be gone outside it.

Replicas (`ndnx.layers.replicas`): with `replica_axis` (2 for the (batch, frames, R, ...) readout of
a replicated `ndnx.models.EITaskModel`, 1 for (batch, R, frames, ...)) the loss of a trial is the sum
over replicas of each replica's loss, against shared targets (batch, frames, ...) or per-replica
targets that carry the replica axis too, so each replica's gradient is the one it would get alone.
"""

import numpy as np
import keras
from keras import ops

from ndnx.analysis.decoding import first_fourier_mode_ops
from ndnx.losses.spikes import check_replica_axis
from ndnx.registry import register

__all__ = ["DualLoss", "AngularErrorLoss", "NEGATIVE_CLASSES"]

NEGATIVE_CLASSES = ("hinge", "neutral")


def _finite_number(name, argument, value, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: {argument} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{name}: {argument} must be finite{' and > 0' if positive else ''}, got {value}")
    return value


def _masked_mean(values, weights):
    """Σ_t weights·values / Σ_t weights over the frame axis (1), 0 where no frame has weight."""
    total = ops.sum(weights, axis=1)
    return ops.sum(values * weights, axis=1) / ops.maximum(total, ops.ones_like(total))


def _fold_replicas(name, replica_axis, y_true, y_pred):
    """(y_true, y_pred, R) with the replicas folded into the batch (row b·R + r), R None without them."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    if replica_axis is None:
        return y_true, y_pred, None
    pred, true = tuple(y_pred.shape), tuple(y_true.shape)
    if len(pred) != 4 or replica_axis > 2:
        raise ValueError(f"{name}: with replica_axis={replica_axis} the predictions must be of rank 4 with the "
                         f"replica axis at 1 or 2 (batch, frames, R, ...), got shape {pred}")
    replicas = pred[replica_axis]

    def fold(y):
        y = ops.moveaxis(y, replica_axis, 1)
        return ops.reshape(y, (-1,) + tuple(y.shape[2:]))

    if len(true) == 3:  # shared targets
        return ops.repeat(y_true, replicas, axis=0), fold(y_pred), replicas
    if len(true) != 4 or true[replica_axis] not in (None, replicas):
        raise ValueError(f"{name}: targets {true} must be shared (the predictions {pred} without axis "
                         f"{replica_axis}) or carry the {replicas} replicas on axis {replica_axis}")
    return fold(y_true), fold(y_pred), replicas


def _sum_replicas(loss, replicas):
    """Per-trial loss: the sum over replicas of the folded rows' losses."""
    return loss if replicas is None else ops.sum(ops.reshape(loss, (-1, replicas)), axis=1)


def _check_shapes(name, y_true, y_pred, expected_true, what):
    pred, true = tuple(y_pred.shape), tuple(y_true.shape)
    if len(pred) != 3:
        raise ValueError(f"{name}: predictions must be {what} (batch, frames, ...) of rank 3, got shape {pred}")
    if len(true) != 3 or true[-1] != expected_true or (None not in (true[1], pred[1]) and true[1] != pred[1]):
        raise ValueError(f"{name}: targets must have shape (batch, {pred[1]}, {expected_true}), got {true}")


@register("loss")
class DualLoss(keras.losses.Loss):
    """Readout loss of the dual task, DPA and Go/NoGo: hinge inside the task windows, SmoothL1 to 0 outside.

    For each channel c (readout column `read_idx[c]`, label ℓ and window mask w from `y_true`, layout
    in the module docstring):

        inside (w = 1):  relu(thresh − sign(2ℓ − 1)·z)   (negative="neutral": g·|z| where ℓ = 0)
        outside (w = 0): SmoothL1(z, 0) with threshold β
        trial loss = Σ_c [mean over window frames + mean over outside frames]

    Spec: specs/ei_networks_neuroflame.md §6 "Losses" (NeuroFlame `DualLoss`, `SignBCELoss` with
    alpha = 0, class_bal = 0 for the neutral negative class). Windows as NeuroFlame names them —
    rwd (test → end, the DPA label), cue/gng (distractor → cue, the Go/NoGo label), stim (sample →
    test, the sample) — come from `ndnx.data.tasks.dual_targets`.

    Args:
        read_idx: readout column of each channel (ints ≥ 0, C of them); y_true has 2C columns.
        thresh: hinge margin (2, as NeuroFlame trained).
        negative: "hinge" (both classes hinged) or "neutral" (label 0 costs neutral_gain·|z|).
        neutral_gain: g of the neutral negative class (0.1).
        beta: SmoothL1 threshold β (1, PyTorch's default).
        replica_axis: None, or the replica axis of the predictions (2 for a replicated
            `EITaskModel`): the sum over replicas of each replica's loss (module docstring).

    Example:
        >>> import numpy as np, ndnx
        >>> readout = np.array([[[0.0], [3.0], [1.0]]], "float32")          # one trial, 3 frames, K = 1
        >>> y_true = np.array([[[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]]], "float32")  # label 1; frames 1, 2 in the window
        >>> float(ndnx.losses.DualLoss()(y_true, readout))  # hinge mean (0 + 1)/2; SmoothL1(0) = 0
        0.5
    """

    def __init__(self, read_idx=(0,), thresh=2.0, negative="hinge", neutral_gain=0.1, beta=1.0, replica_axis=None,
                 name="dual_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.replica_axis = check_replica_axis("DualLoss", replica_axis)
        if isinstance(read_idx, (int, np.integer)) and not isinstance(read_idx, bool):
            read_idx = (read_idx,)
        if not isinstance(read_idx, (list, tuple)) or not read_idx or any(
                isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0 for i in read_idx):
            raise ValueError(f"DualLoss: read_idx must be a non-empty list of readout columns (ints ≥ 0), "
                             f"got {read_idx!r}")
        if negative not in NEGATIVE_CLASSES:
            raise ValueError(f"DualLoss: negative must be one of {NEGATIVE_CLASSES}, got {negative!r}")
        self.read_idx = [int(i) for i in read_idx]
        self.thresh = _finite_number("DualLoss", "thresh", thresh)
        self.negative = negative
        self.neutral_gain = _finite_number("DualLoss", "neutral_gain", neutral_gain)
        self.beta = _finite_number("DualLoss", "beta", beta, positive=True)

    def call(self, y_true, y_pred):
        y_true, y_pred, replicas = _fold_replicas("DualLoss", self.replica_axis, y_true, y_pred)
        channels = len(self.read_idx)
        _check_shapes("DualLoss", y_true, y_pred, 2 * channels, "a readout")
        columns = y_pred.shape[-1]
        if columns is not None and max(self.read_idx) >= columns:
            raise ValueError(f"DualLoss: read_idx {self.read_idx} needs readout columns up to {max(self.read_idx)}, "
                             f"the predictions have {columns}")
        z = ops.stack([y_pred[..., i] for i in self.read_idx], axis=-1)  # (B, T, C)
        label = y_true[..., :channels]
        window = y_true[..., channels:]
        counted = ops.cast(ops.logical_not(ops.isnan(label)), z.dtype)
        label = ops.where(counted > 0, label, ops.zeros_like(label))
        hinge = ops.relu(self.thresh - ops.sign(2.0 * label - 1.0) * z)
        if self.negative == "neutral":
            hinge = ops.where(label > 0.5, hinge, self.neutral_gain * ops.abs(z))
        magnitude = ops.abs(z)
        smooth_l1 = ops.where(magnitude < self.beta, 0.5 * z * z / self.beta, magnitude - 0.5 * self.beta)
        inside = counted * window
        outside = counted * (1.0 - window)
        loss = ops.sum(_masked_mean(hinge, inside) + _masked_mean(smooth_l1, outside), axis=-1)
        return _sum_replicas(loss, replicas)

    def get_config(self):
        config = super().get_config()
        config.update({"read_idx": list(self.read_idx), "thresh": self.thresh, "negative": self.negative,
                       "neutral_gain": self.neutral_gain, "beta": self.beta, "replica_axis": self.replica_axis})
        return config


@register("loss")
class AngularErrorLoss(keras.losses.Loss):
    """Angular error of the decoded bump (ODR): the bump's phase at the target inside the memory window.

        trial loss = ½[mean_in (sin φ − sin φ*)² + mean_in (cos φ − cos φ*)²]
                     + mean_out m1² + mean_in relu(1 − m1/m0)

    with (m0, m1, φ) the first Fourier moments of each frame's E-rate profile (θ_n = 2πn/N_E,
    F1 = Σ r_n e^{+iθ_n}, m1 = 2|F1|/N_E, φ = arg F1; `ndnx.analysis.decoding`), the target φ* in
    radians and the memory window from `y_true` (layout in the module docstring). Spec:
    specs/ei_networks_neuroflame.md §6 "Losses" (the ODR notebook's `AngularErrorLoss`).

    Numerics: m1 = sqrt(|2F1/N|² + ε²) and m1/max(m0, ε), ε = `epsilon` (1e-7), so a flat profile has
    finite gradients; sin φ and cos φ are Im F1/m1 and Re F1/m1 (with that m1). A silent frame
    (every rate 0) has cos φ = sin φ = 0: it costs ½ in the phase term and nothing in the bump term.
    The phase gradient grows like 1/m1, so a profile with almost no bump (m1 ≪ 1) gets large
    phase gradients; a larger ε tempers them.

    `replica_axis` (None, or 2 for the (batch, frames, R, N_E) rates of a replicated
    `EITaskModel`): the sum over replicas of each replica's loss (module docstring).

    Example:
        >>> import numpy as np, ndnx
        >>> theta = 2 * np.pi * np.arange(16) / 16
        >>> rates = np.stack([1.0 + np.cos(theta - 1.0), np.ones(16)])[None].astype("float32")  # bump, then flat
        >>> y_true = np.array([[[1.0, 1.0], [1.0, 0.0]]], "float32")  # target 1 rad; memory window = frame 0
        >>> round(float(ndnx.losses.AngularErrorLoss()(y_true, rates)), 6)  # bump on target, flat outside
        0.0
    """

    def __init__(self, epsilon=1e-7, replica_axis=None, name="angular_error", **kwargs):
        super().__init__(name=name, **kwargs)
        self.replica_axis = check_replica_axis("AngularErrorLoss", replica_axis)
        self.epsilon = _finite_number("AngularErrorLoss", "epsilon", epsilon, positive=True)

    def call(self, y_true, y_pred):
        y_true, y_pred, replicas = _fold_replicas("AngularErrorLoss", self.replica_axis, y_true, y_pred)
        _check_shapes("AngularErrorLoss", y_true, y_pred, 2, "E rates")
        m0, m1, cos_phi, sin_phi = first_fourier_mode_ops(y_pred, epsilon=self.epsilon)
        target, window = y_true[..., 0], y_true[..., 1]
        counted = ops.cast(ops.logical_not(ops.isnan(target)), m1.dtype)
        target = ops.where(counted > 0, target, ops.zeros_like(target))
        inside = counted * window
        outside = counted * (1.0 - window)
        phase = 0.5 * (ops.square(sin_phi - ops.sin(target)) + ops.square(cos_phi - ops.cos(target)))
        bump = ops.relu(1.0 - m1 / ops.maximum(m0, self.epsilon))
        loss = _masked_mean(phase + bump, inside) + _masked_mean(ops.square(m1), outside)
        return _sum_replicas(loss, replicas)

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon, "replica_axis": self.replica_axis})
        return config
