"""Losses for spike-count and rate data of recorded neurons, with data filters for pooled recordings.

Replicas: a loss is told where the predictions of a replicated model carry the replica axis,
`replica_axis=1` for (batch, R, neurons) and 2 for sequences (batch, time, R, neurons) (see
`ndnx.layers.replicas`); the targets are shared (without that axis) or per replica (with it), and
the loss is the sum of the replicas' losses, so each replica's gradient is the one it gets
alone. `replica_axis=None` (default) means no replica axis: predictions and targets must then
have the same rank.

Data filters (NDN3 `data_filters`): a target entry that was not recorded — a neuron of another
region in a pooled data set — is NaN. Such entries contribute nothing to a loss (prediction and
target are both taken as 0 there, as NDN3 multiplied both by the filter) while the row still
counts in T; `apply_data_filter(y, mask)` turns a 0/1 mask into this form.
"""

import numpy as np
import keras
from keras import ops

from ndnx.registry import register

__all__ = ["PoissonLoss", "GaussianLoss", "poisson_unit_norm", "apply_data_filter",
           "poisson_log_likelihood_per_spike"]


def apply_data_filter(responses, mask, name="apply_data_filter"):
    """Responses with NaN where `mask` is 0 (the ndnx form of an NDN3 data filter)."""
    responses = np.asarray(responses, dtype="float64")
    mask = np.asarray(mask)
    if mask.shape != responses.shape:
        raise ValueError(f"{name}: the data filter has shape {mask.shape}, the responses {responses.shape}; "
                         "expected the same shape")
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError(f"{name}: the data filter must hold only 0 and 1")
    return np.where(mask == 1, responses, np.nan)


def _filtered(y_true, y_pred):
    """(y, ŷ) with unrecorded (NaN) targets zeroed in both."""
    recorded = ops.logical_not(ops.isnan(y_true))
    y_true = ops.where(recorded, y_true, ops.zeros_like(y_true))
    y_pred = y_pred * ops.cast(recorded, y_pred.dtype)
    return y_true, y_pred


def check_replica_axis(name, replica_axis):
    """`replica_axis` as None or an int ≥ 1 (axis 0 is the batch); a ValueError otherwise."""
    if replica_axis is None:
        return None
    if isinstance(replica_axis, bool) or not isinstance(replica_axis, (int, np.integer)) or replica_axis < 1:
        raise ValueError(f"{name}: replica_axis must be None or an int ≥ 1 (axis 0 is the batch), got {replica_axis!r}")
    return int(replica_axis)


def _align(name, replica_axis, y_true, y_pred):
    """(y, ŷ) with the targets given the predictions' replica axis when they are shared."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    pred, true = tuple(y_pred.shape), tuple(y_true.shape)
    if replica_axis is None:
        if len(pred) != len(true):
            raise ValueError(f"{name}: predictions {pred} and targets {true} differ in rank and replica_axis is None; "
                             "a replicated model's loss needs replica_axis (1 for (batch, R, neurons))")
        return y_true, y_pred
    if replica_axis >= len(pred) - 1:
        raise ValueError(f"{name}: replica_axis={replica_axis} must come before the last (neuron) axis of the "
                         f"predictions {pred}")
    if len(pred) == len(true) + 1:
        return ops.expand_dims(y_true, replica_axis), y_pred  # shared targets
    if len(pred) != len(true) or true[replica_axis] not in (None, 1, pred[replica_axis]):
        raise ValueError(f"{name}: targets {true} must be shared (the predictions {pred} without axis "
                         f"{replica_axis}) or carry the {pred[replica_axis]} replicas on axis {replica_axis}")
    return y_true, y_pred


def _reduce(convention, terms):
    """Per-row loss: "ndn3" sums over every non-batch axis; "ndnt" takes the mean over neurons (the
    last axis) and sums over the rest (replicas, time), so replicas always add up."""
    if convention == "ndn3":
        return ops.sum(terms, axis=tuple(range(1, len(terms.shape))))
    per = ops.mean(terms, axis=-1)
    return ops.sum(per, axis=tuple(range(1, len(per.shape)))) if len(per.shape) > 1 else per


def poisson_unit_norm(responses, floor=1e-6):
    """NDN3's per-neuron normaliser r̄ₙ: the mean response of each neuron over the training rows.

    NDN3 took the mean over every row passed to `train`, validation rows included; ndnx takes the
    training rows it is given. Silent neurons get `floor` instead of 0.
    """
    responses = np.asarray(responses, dtype="float64")
    if responses.ndim != 2:
        raise ValueError(f"poisson_unit_norm: expected responses (time, neurons), got shape {responses.shape}")
    if np.any(np.isinf(responses)):
        raise ValueError("poisson_unit_norm: responses contain infinite values")
    # NaN marks unrecorded entries (data filters): the mean is over recorded rows only, where
    # NDN3 averaged the zeros of other regions' rows in as well.
    with np.errstate(invalid="ignore"):
        recorded = np.sum(~np.isnan(responses), axis=0)
        means = np.where(recorded > 0, np.nansum(responses, axis=0) / np.maximum(recorded, 1), 0.0)
    return np.maximum(means, floor)


@register("loss")
class PoissonLoss(keras.losses.Loss):
    """Poisson negative log-likelihood of rates ŷ given counts y (up to the log y! constant).

    convention="ndn3" (Antolík/msc-neuro, NDN3 `_define_loss`):
        C = Σₙ Σ_t [ŷ − y log(ŷ + ε)] / (T · r̄ₙ)   — summed over neurons, mean over rows,
        with r̄ₙ from `poisson_unit_norm` (no normaliser: r̄ₙ = 1);
    convention="ndnt": the same term averaged over neurons and rows (ε = 1e-8).

    `replica_axis` (None, or 1 for (batch, R, neurons), 2 for sequences (batch, time, R, neurons)):
    predictions carrying replicas on that axis, against shared targets (without it) or per-replica
    targets, give the sum over replicas: each replica's gradient is the one it would get alone.
    NaN targets are unrecorded entries (data filters) and contribute 0.

    Example:
        >>> import numpy as np, ndnx
        >>> loss = ndnx.losses.PoissonLoss()
        >>> round(float(loss(np.ones((2, 3)), np.ones((2, 3)))), 5)  # 3 neurons × (1 − log(1 + 1e-6))
        3.0
        >>> replicated = ndnx.losses.PoissonLoss(replica_axis=1)  # 4 replicas, shared targets
        >>> round(float(replicated(np.ones((2, 3)), np.ones((2, 4, 3)))), 4)
        12.0
    """

    def __init__(self, unit_norm=None, convention="ndn3", epsilon=None, replica_axis=None, name="poisson",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.replica_axis = check_replica_axis("PoissonLoss", replica_axis)
        if convention not in ("ndn3", "ndnt"):
            raise ValueError(f"PoissonLoss: convention must be 'ndn3' or 'ndnt', got {convention!r}")
        self.convention = convention
        self.epsilon = float(epsilon if epsilon is not None else (1e-6 if convention == "ndn3" else 1e-8))
        if unit_norm is not None:
            unit_norm = np.asarray(unit_norm, dtype="float32").reshape(-1)
            if not np.all(np.isfinite(unit_norm)) or np.any(unit_norm <= 0):
                raise ValueError("PoissonLoss: unit_norm must be positive and finite for every neuron")
        self.unit_norm = unit_norm

    def call(self, y_true, y_pred):
        y_true, y_pred = _filtered(*_align("PoissonLoss", self.replica_axis, y_true, y_pred))
        nll = y_pred - y_true * ops.log(y_pred + self.epsilon)
        if self.unit_norm is not None:
            n = y_pred.shape[-1]
            if n is not None and n != self.unit_norm.shape[0]:
                raise ValueError(
                    f"PoissonLoss: unit_norm has {self.unit_norm.shape[0]} neurons, predictions have {n}"
                )
            nll = nll / ops.cast(self.unit_norm, y_pred.dtype)
        return _reduce(self.convention, nll)

    def get_config(self):
        config = super().get_config()
        config.update({
            "unit_norm": None if self.unit_norm is None else self.unit_norm.tolist(),
            "convention": self.convention,
            "epsilon": self.epsilon,
            "replica_axis": self.replica_axis,
        })
        return config


@register("loss")
class GaussianLoss(keras.losses.Loss):
    """Squared error, the Gaussian noise model of NDN3 and NDNT.

    convention="ndn3": C = Σₙ Σ_t (y − ŷ)² / T — summed over neurons, mean over rows;
    convention="ndnt": the mean over neurons and rows (NDNT 'mse').
    `replica_axis` as in `PoissonLoss`: the replicas' losses are summed. NaN targets contribute 0.

    Example:
        >>> import numpy as np, ndnx
        >>> float(ndnx.losses.GaussianLoss()(np.zeros((2, 3)), np.ones((2, 3))))
        3.0
    """

    def __init__(self, convention="ndn3", replica_axis=None, name="gaussian", **kwargs):
        super().__init__(name=name, **kwargs)
        self.replica_axis = check_replica_axis("GaussianLoss", replica_axis)
        if convention not in ("ndn3", "ndnt"):
            raise ValueError(f"GaussianLoss: convention must be 'ndn3' or 'ndnt', got {convention!r}")
        self.convention = convention

    def call(self, y_true, y_pred):
        y_true, y_pred = _filtered(*_align("GaussianLoss", self.replica_axis, y_true, y_pred))
        return _reduce(self.convention, ops.square(y_true - y_pred))

    def get_config(self):
        config = super().get_config()
        config.update({"convention": self.convention, "replica_axis": self.replica_axis})
        return config


def poisson_log_likelihood_per_spike(pred, responses, null_adjusted=True, epsilon=1e-6):
    """Per-neuron Poisson log-likelihood per spike (NDN3 `eval_models`), NumPy.

        LLₙ = Σ_t (y log(ŷ + ε) − ŷ) / max(Σ_t y, 1)

    (NDN3 divides by max(spikes, 1), so a neuron without spikes scores −Σ_t ŷ). With
    `null_adjusted`, minus the same for the constant-rate model ŷ = r̄ₙ, (Sₙ log r̄ₙ − Sₙ)/max(Sₙ, 1)
    with Sₙ = Σ_t y: log r̄ₙ − 1 for a neuron with spikes, positive when the model beats the
    neuron's mean rate (bits would divide by log 2); 0 for a silent neuron, whose best constant
    rate is 0 (NDN3's log r̄ − 1 is −∞ there and its null-adjusted score +∞). NaN targets (data
    filters) are skipped; a neuron with no recorded row gets NaN.
    pred: (T, N) or (T, R, N); responses: (T, N). Returns (N,) or (R, N).
    """
    pred = np.asarray(pred, dtype="float64")
    y = np.asarray(responses, dtype="float64")
    if pred.ndim == y.ndim + 1:
        y = y[:, None, :]
    if pred.shape[0] != y.shape[0] or pred.shape[-1] != y.shape[-1]:
        raise ValueError(f"poisson_log_likelihood_per_spike: predictions {pred.shape} and responses "
                         f"{np.asarray(responses).shape} do not match")
    recorded = ~np.isnan(y)
    y0 = np.where(recorded, y, 0.0)
    p0 = np.where(recorded, pred, 0.0)
    spikes = y0.sum(axis=0)
    rows = recorded.sum(axis=0)
    per_spike = np.maximum(spikes, 1.0)
    with np.errstate(divide="ignore"):   # 0·log 0 = 0 (unrecorded or silent entries with ε = 0)
        spike_term = np.where(y0 != 0, y0 * np.log(np.where(y0 != 0, p0 + epsilon, 1.0)), 0.0)
    ll = (spike_term - p0).sum(axis=0) / per_spike
    if null_adjusted:
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = spikes / np.maximum(rows, 1)
            null = np.where(spikes > 0, (spikes * np.log(np.where(spikes > 0, rate, 1.0)) - spikes) / per_spike, 0.0)
        ll = ll - null
    return np.where(rows > 0, ll, np.nan)
