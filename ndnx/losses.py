"""Losses for spike-count and rate data."""

import numpy as np
import keras
from keras import ops

from ndnx.registry import register

__all__ = ["PoissonLoss", "poisson_unit_norm"]


def poisson_unit_norm(responses, floor=1e-6):
    """NDN3's per-neuron normaliser r̄ₙ: the mean response of each neuron over the training rows.

    NDN3 took the mean over every row passed to `train`, validation rows included; ndnx takes the
    training rows it is given. Silent neurons get `floor` instead of 0.
    """
    responses = np.asarray(responses, dtype="float64")
    if responses.ndim != 2:
        raise ValueError(f"poisson_unit_norm: expected responses (time, neurons), got shape {responses.shape}")
    if not np.all(np.isfinite(responses)):
        raise ValueError("poisson_unit_norm: responses contain non-finite values")
    return np.maximum(responses.mean(axis=0), floor)


@register("loss")
class PoissonLoss(keras.losses.Loss):
    """Poisson negative log-likelihood of rates ŷ given counts y (up to the log y! constant).

    convention="ndn3" (Antolík/msc-neuro, NDN3 `_define_loss`):
        C = Σₙ Σ_t [ŷ − y log(ŷ + ε)] / (T · r̄ₙ)   — summed over neurons, mean over rows,
        with r̄ₙ from `poisson_unit_norm` (no normaliser: r̄ₙ = 1);
    convention="ndnt": the same term averaged over neurons and rows (ε = 1e-8).

    Predictions with a replica axis, (batch, replicas, neurons) against targets (batch, neurons),
    give the sum over replicas: each replica's gradient is the one it would get alone.

    Example:
        >>> import numpy as np, ndnx
        >>> loss = ndnx.losses.PoissonLoss()
        >>> round(float(loss(np.ones((2, 3)), np.ones((2, 3)))), 5)  # 3 neurons × (1 − log(1 + 1e-6))
        3.0
    """

    def __init__(self, unit_norm=None, convention="ndn3", epsilon=None, name="poisson", **kwargs):
        super().__init__(name=name, **kwargs)
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
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
        if len(y_pred.shape) == len(y_true.shape) + 1:
            y_true = ops.expand_dims(y_true, 1)
        nll = y_pred - y_true * ops.log(y_pred + self.epsilon)
        if self.unit_norm is not None:
            n = y_pred.shape[-1]
            if n is not None and n != self.unit_norm.shape[0]:
                raise ValueError(
                    f"PoissonLoss: unit_norm has {self.unit_norm.shape[0]} neurons, predictions have {n}"
                )
            nll = nll / ops.cast(self.unit_norm, y_pred.dtype)
        axes = tuple(range(1, len(nll.shape)))
        if self.convention == "ndn3":
            return ops.sum(nll, axis=axes)
        # Mean over neurons, but still a sum over replicas.
        per = ops.mean(nll, axis=-1)
        return ops.sum(per, axis=tuple(range(1, len(per.shape)))) if len(per.shape) > 1 else per

    def get_config(self):
        config = super().get_config()
        config.update({
            "unit_norm": None if self.unit_norm is None else self.unit_norm.tolist(),
            "convention": self.convention,
            "epsilon": self.epsilon,
        })
        return config
