r"""Per-unit Pearson correlation between predictions and targets: NumPy reference and streaming metric.

Family-neutral: any model whose outputs are compared, unit by unit, with recorded or target
activity over rows (time bins, images, trials) — V1 neurons, rate-network units, decoded sources.
Per unit, over the rows a data filter keeps,

    r = Σ dx·dy / (√Σdx² · √Σdy²),     dx, dy the deviations from the means over the kept rows

(the thesis fork's correlation summary, specs/v1_system_identification.md §3.4): `pearson_per_neuron`,
`mean_pearson` (with NDN3's 'zero-NaNs' / 'filter-NaNs' / 'filter-low-std-gold' modes, `NAN_MODES`)
and the streaming `PearsonCorrelation`. Predictions may carry a replica axis, (rows, replicas, units),
against targets (rows, units).

Degenerate units: a correlation that is undefined — a side constant over the kept rows (standard
deviation ≤ 1e-9·|mean|, i.e. constant up to float64 rounding, which includes 0/0), no kept row, a
non-finite value — is 0, and that 0 enters the mean over units (the 'zero-NaNs' convention of NDN3
experiments, spec §3.4). The streaming metric follows the same rule, exactly.

Streaming: per unit the float64 weighted count, means and central co-moments (Σw·dx², Σw·dy², Σw·dx·dy)
of each batch are computed in two passes and merged with the pairwise update of Chan et al. (1979), so
the result equals the NumPy function on the concatenated data whatever the batching. The moment
helpers (`_np_moments`, `_np_corr`, `_merge_moments`, `_corr`) are shared with the repeated-trial
metrics of `ndnx.metrics.v1`.
"""

import numpy as np
import keras
from keras import ops

from ndnx.registry import register

__all__ = ["pearson_per_neuron", "mean_pearson", "NAN_MODES", "PearsonCorrelation"]

# A standard deviation at or below _CONSTANT_TOL·|mean| counts as zero (constant up to rounding).
_CONSTANT_TOL = 1e-9



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


def pearson_per_neuron(pred, target, mask=None, undefined=0.0):
    """Per-neuron Pearson r over rows (axis 0), masked; non-finite or constant → `undefined` (0).

    pred: (T, N) or (T, R, N); target: (T, N); mask: optional 0/1 of target's shape.
    Returns (N,) or (R, N). A side that is constant over the kept rows (std ≤ 1e-9·|mean|) gives
    `undefined` (0 by the policy above; NaN to tell such neurons apart).
    """
    pred, target, mask = _broadcast_target(pred, target, mask)
    w = np.ones_like(target) if mask is None else np.broadcast_to(mask, target.shape).astype("float64")
    count = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (w * pred).sum(axis=0) / count
        my = (w * target).sum(axis=0) / count
        dx = (pred - mx) * w
        dy = (target - my) * w
        sxx, syy = (dx**2).sum(axis=0), (dy**2).sum(axis=0)
        r = (dx * dy).sum(axis=0) / (np.sqrt(sxx) * np.sqrt(syy))
        constant = (sxx <= count * _CONSTANT_TOL**2 * mx**2) | (syy <= count * _CONSTANT_TOL**2 * my**2)
    return np.where(np.isfinite(r) & ~constant, r, undefined)


NAN_MODES = ("zero-NaNs", "filter-NaNs", "filter-low-std-gold")


def mean_pearson(pred, target, mask=None, nan_mode="zero-NaNs"):
    """Mean over neurons of `pearson_per_neuron`: a scalar, or one value per replica.

    nan_mode (the thesis fork's `NDN.log_correlation` modes, spec §3.4):
        "zero-NaNs" (default): an undefined correlation counts as 0 in the mean;
        "filter-NaNs": neurons whose correlation is undefined are left out of the mean;
        "filter-low-std-gold": neurons whose target has a standard deviation < 1e-5 over the kept
            rows are left out; other undefined correlations count as 0.
    An empty mean is 0.

    Example:
        >>> import numpy as np, ndnx
        >>> y = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])  # neuron 1 never varies
        >>> p = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 3.0]])
        >>> [round(float(ndnx.metrics.mean_pearson(p, y, nan_mode=m)), 6) for m in ndnx.metrics.NAN_MODES]
        [0.5, 1.0, 1.0]
    """
    _check_option("mean_pearson", "nan_mode", nan_mode, NAN_MODES)
    r = pearson_per_neuron(pred, target, mask, undefined=np.nan)
    if nan_mode == "zero-NaNs":
        keep = np.ones(r.shape, bool)
    elif nan_mode == "filter-NaNs":
        keep = np.isfinite(r)
    else:
        target = np.asarray(target, dtype="float64")
        w = np.ones_like(target) if mask is None else np.broadcast_to(np.asarray(mask, "float64"), target.shape)
        count, _, _, ss, _, _ = _np_moments(target, target, w, (0,))
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.sqrt(ss / count)
        keep = np.broadcast_to(np.isfinite(std) & (std >= 1e-5), r.shape)
    return _selected_mean(np.where(np.isfinite(r), r, 0.0), keep)


@register("metric")
class PearsonCorrelation(keras.metrics.Metric):
    """Streaming per-neuron Pearson correlation, reported as its mean over neurons (and replicas).

    Per neuron it keeps the float64 weighted count, means and central co-moments (Σw·dx², Σw·dy²,
    Σw·dx·dy), each batch computed in two passes and merged with the pairwise update of Chan et al.
    (1979), so the result equals `mean_pearson` on the concatenated data, whatever the batching, and
    follows the same degenerate policy: a side that is constant over the kept rows (std ≤ 1e-9·|mean|,
    i.e. constant up to float64 rounding) or a non-finite r gives exactly 0. `sample_weight` is the
    data filter (0 = not recorded): the targets' shape, or fewer axes broadcast from the left (e.g.
    (batch,) as `model.fit` passes it).

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
        # float64 state: correlations of long recordings must not depend on the batching.
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.units = int(units)
        self.replicas = None if replicas is None else int(replicas)
        shape = (self.units,) if self.replicas is None else (self.replicas, self.units)
        self._moments = [self.add_variable(shape=shape, initializer="zeros", dtype=self.dtype, name=n)
                         for n in _MOMENTS]

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(y_pred, self.dtype)
        y_true = ops.cast(y_true, self.dtype)
        if y_pred.shape[-1] != self.units:
            raise ValueError(
                f"{self.name}: expected predictions with {self.units} neurons, got shape {tuple(y_pred.shape)}"
            )
        if sample_weight is None:
            w = ops.ones_like(y_true)
        else:
            w = ops.cast(sample_weight, self.dtype)
            while len(w.shape) < len(y_true.shape):
                w = ops.expand_dims(w, -1)
            w = ops.broadcast_to(w, ops.shape(y_true))
        if self.replicas is not None:
            y_true = ops.expand_dims(y_true, 1)
            w = ops.expand_dims(w, 1)
        shape = ops.shape(y_pred + y_true)
        x, y, w = (ops.broadcast_to(t, shape) for t in (y_pred, y_true, w))
        _merge_moments(self._moments, x, y, w, (0,))

    def per_neuron(self):
        """Per-neuron correlations, (units,) or (replicas, units); 0 where undefined."""
        return _corr(*self._moments)

    def result(self):
        return ops.mean(self.per_neuron())

    def reset_state(self):
        for var in self._moments:
            var.assign(ops.zeros_like(var))

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "replicas": self.replicas})
        return config


# ---------------------------------------------------------------------------------------------
# Shared helpers: options, selected means, weighted co-moments (NumPy and streaming)
# ---------------------------------------------------------------------------------------------

def _check_option(owner, name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{owner}: {name} must be one of {allowed}, got {value!r}")


def _selected_mean(values, keep):
    keep = np.broadcast_to(keep, values.shape)
    count = keep.sum(axis=-1)
    return np.where(count > 0, np.where(keep, values, 0.0).sum(axis=-1) / np.maximum(count, 1), 0.0)


def _np_moments(x, y, w, axis):
    """Weighted count, means and central co-moments over `axis` (weights need not be 0/1)."""
    n = w.sum(axis=axis)
    safe = np.maximum(n, np.finfo("float64").tiny)
    mx = (w * x).sum(axis=axis) / safe
    my = (w * y).sum(axis=axis) / safe
    shape = [1 if a in axis else s for a, s in enumerate(w.shape)]
    dx, dy = x - mx.reshape(shape), y - my.reshape(shape)
    return n, mx, my, (w * dx * dx).sum(axis=axis), (w * dy * dy).sum(axis=axis), (w * dx * dy).sum(axis=axis)


def _np_corr(n, mx, my, cxx, cyy, cxy):
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cxy / np.sqrt(cxx * cyy)
        constant = (cxx <= n * _CONSTANT_TOL**2 * mx**2) | (cyy <= n * _CONSTANT_TOL**2 * my**2)
    return np.where(np.isfinite(r) & ~constant & (n > 0), r, 0.0)


_MOMENTS = ("n", "mx", "my", "cxx", "cyy", "cxy")


def _merge_moments(variables, x, y, w, axis):
    """Merge one batch's weighted co-moments over `axis` into the running ones (Chan et al. 1979)."""
    n, mx, my, cxx, cyy, cxy = variables
    nb = ops.sum(w, axis=axis)
    nb_k = ops.maximum(ops.sum(w, axis=axis, keepdims=True), 1.0)
    mxb_k = ops.sum(w * x, axis=axis, keepdims=True) / nb_k
    myb_k = ops.sum(w * y, axis=axis, keepdims=True) / nb_k
    dx, dy = x - mxb_k, y - myb_k
    cxxb, cyyb, cxyb = (ops.sum(w * a * b, axis=axis) for a, b in ((dx, dx), (dy, dy), (dx, dy)))
    safe_b = ops.maximum(nb, 1.0)
    mxb = ops.sum(w * x, axis=axis) / safe_b
    myb = ops.sum(w * y, axis=axis) / safe_b
    n_new = n + nb
    safe = ops.maximum(n_new, 1.0)
    ddx, ddy = mxb - mx, myb - my
    f = n * nb / safe
    updates = (n_new, mx + ddx * nb / safe, my + ddy * nb / safe,
               cxx + cxxb + ddx * ddx * f, cyy + cyyb + ddy * ddy * f, cxy + cxyb + ddx * ddy * f)
    for var, value in zip(variables, updates):
        var.assign(value)


def _corr(n, mx, my, cxx, cyy, cxy):
    r = cxy / ops.sqrt(cxx * cyy)
    tol = _CONSTANT_TOL**2
    ok = ops.logical_and(ops.isfinite(r), n > 0)
    ok = ops.logical_and(ok, cxx > n * tol * mx * mx)
    ok = ops.logical_and(ok, cyy > n * tol * my * my)
    return ops.where(ok, r, ops.zeros_like(r))
