"""Prediction-quality metrics: NumPy reference functions and streaming Keras metrics.

Correlation follows the thesis fork's 'zero-NaNs' mode (spec §3.4): per neuron, over the rows the
mask keeps, r = Σ dx·dy / (√Σdx² · √Σdy²); a neuron whose r is not finite (constant prediction
or constant response) scores 0 rather than NaN, and the reported number is the mean over neurons.
"""

import numpy as np
import keras
from keras import ops

from ndnx.registry import register

__all__ = ["pearson_per_neuron", "mean_pearson", "PearsonCorrelation"]


def _broadcast_target(pred, target, mask):
    pred = np.asarray(pred, dtype="float64")
    target = np.asarray(target, dtype="float64")
    if pred.ndim == target.ndim + 1:
        # (batch, replicas, neurons) against (batch, neurons)
        target = target[:, None, :]
        if mask is not None:
            mask = np.asarray(mask, dtype="float64")[:, None, :]
    if pred.shape[0] != target.shape[0] or pred.shape[-1] != target.shape[-1]:
        raise ValueError(
            f"pearson_per_neuron: predictions {pred.shape} and targets {target.shape} do not match"
        )
    return pred, target, mask


def pearson_per_neuron(pred, target, mask=None):
    """Per-neuron Pearson r over rows (axis 0), masked, non-finite → 0.

    pred: (T, N) or (T, R, N); target: (T, N); mask: optional 0/1 of target's shape.
    Returns (N,) or (R, N).
    """
    pred, target, mask = _broadcast_target(pred, target, mask)
    w = np.ones_like(target) if mask is None else np.broadcast_to(mask, target.shape).astype("float64")
    count = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (w * pred).sum(axis=0) / count
        my = (w * target).sum(axis=0) / count
        dx = (pred - mx) * w
        dy = (target - my) * w
        r = (dx * dy).sum(axis=0) / (np.sqrt((dx**2).sum(axis=0)) * np.sqrt((dy**2).sum(axis=0)))
    return np.where(np.isfinite(r), r, 0.0)


def mean_pearson(pred, target, mask=None):
    """Mean over neurons of `pearson_per_neuron`: a scalar, or one value per replica."""
    return pearson_per_neuron(pred, target, mask).mean(axis=-1)


@register("metric")
class PearsonCorrelation(keras.metrics.Metric):
    """Streaming per-neuron Pearson correlation, reported as its mean over neurons (and replicas).

    Accumulates Σw, Σwx, Σwy, Σwx², Σwy², Σwxy per neuron over all batches, so the result equals
    `mean_pearson` on the concatenated data, whatever the batching. `sample_weight` of the targets'
    shape is the data filter (0 = not recorded).

    Args:
        units: number of neurons.
        replicas: None, or the size of the predictions' replica axis.

    Example:
        >>> import numpy as np, ndnx
        >>> m = ndnx.metrics.PearsonCorrelation(units=2)
        >>> m.update_state(np.array([[0., 1.], [1., 0.], [2., 2.]]), np.array([[0., 1.], [1., 0.], [2., 2.]]))
        >>> round(float(m.result()), 6)
        1.0
    """

    def __init__(self, units, replicas=None, name="correlation", dtype="float64", **kwargs):
        # float64 sums: the one-pass variance Σx² − (Σx)²/n cancels badly in float32.
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.units = int(units)
        self.replicas = None if replicas is None else int(replicas)
        shape = (self.units,) if self.replicas is None else (self.replicas, self.units)
        self._sums = [self.add_variable(shape=shape, initializer="zeros", dtype=self.dtype, name=n)
                      for n in ("w", "x", "y", "xx", "yy", "xy")]

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(y_pred, self.dtype)
        y_true = ops.cast(y_true, self.dtype)
        if y_pred.shape[-1] != self.units:
            raise ValueError(
                f"{self.name}: expected predictions with {self.units} neurons, got shape {tuple(y_pred.shape)}"
            )
        w = ops.ones_like(y_true) if sample_weight is None else ops.cast(sample_weight, self.dtype)
        if self.replicas is not None:
            y_true = ops.expand_dims(y_true, 1)
            w = ops.expand_dims(w, 1)
        x, y = y_pred, y_true
        terms = (w, w * x, w * y, w * x * x, w * y * y, w * x * y)
        for var, term in zip(self._sums, terms):
            var.assign_add(ops.sum(ops.broadcast_to(term, ops.shape(x)), axis=0))

    def per_neuron(self):
        n, sx, sy, sxx, syy, sxy = self._sums
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        r = cov / (ops.sqrt(vx) * ops.sqrt(vy))
        return ops.where(ops.isfinite(r), r, ops.zeros_like(r))

    def result(self):
        return ops.mean(self.per_neuron())

    def reset_state(self):
        for var in self._sums:
            var.assign(ops.zeros_like(var))

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "replicas": self.replicas})
        return config
