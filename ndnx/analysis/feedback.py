"""Analysis of feedback-modulated networks (Naumann et al. 2022): clarity, correlation, SNR, decoding, planes.

Spec feedback_modulation_naumann22.md §3 "Metrics" and §9. Signals are (time, channels) arrays
of a test run whose contexts follow each other every `context_length` steps.

- `signal_clarity`: per context, C[i, k] = corr(s_i, y_k); clarity = mean_k (largest |C[·, k]| −
  second largest), which for two sources is the original's mean_k | |C[1, k]| − |C[2, k]| |:
  1 when each output follows one source, 0 for an equal mixture (sign and permutation invariant);
  `unit_clarity` averages it over contexts per unit (population x or z).
- `source_correlation`: |corr(y_i, s_i)| per context and source (order-specific), by default
  over the last 500 steps of each context (the steady state).
- `snr_db`: 10 log10(mean s² / mean (s − y)²), over all steps or the steady state.
- `decoding_r2`: a linear decoder with intercept fitted on the first contexts, R² (uniform
  average over sources) on each later context.
- `plane_normal`, `plane_angle`: least-squares plane d₃ = c₀d₁ + c₁d₂ + c₂ through 3-D points, its unit
  normal ∝ (c₀, c₁, −1), and the angle between two normals folded to [0°, 90°];
  `principal_angles` between the spans of two activity sets (their leading principal axes).

Example:
    >>> import numpy as np
    >>> t = np.arange(2000)
    >>> s = np.stack([np.sin(t / 7.0), np.sin(t / 3.0)], axis=1)
    >>> signal_clarity(s, s[:, ::-1], 1000).round(2).tolist()  # swapped outputs: clear up to the sources' overlap
    [0.99, 0.99]
    >>> signal_clarity(s, np.repeat(s.sum(axis=1, keepdims=True), 2, axis=1), 1000).round(2).tolist()
    [0.0, 0.0]
"""

import numpy as np

__all__ = ["context_windows", "correlation_matrix", "signal_clarity", "unit_clarity", "source_correlation", "snr_db",
           "decoding_r2", "plane_normal", "plane_angle", "principal_angles", "activity_basis"]


def context_windows(length, context_length, last=None):
    """Index slices of each context (the last `last` steps of each, when given)."""
    context_length = int(context_length)
    if context_length < 2 or length % context_length:
        raise ValueError(f"context_windows: the run ({length} steps) must hold whole contexts of context_length "
                         f"≥ 2 steps, got {context_length}")
    start = 0 if last is None else context_length - int(last)
    if not 0 <= start < context_length:
        raise ValueError(f"context_windows: last must be in [1, {context_length}], got {last}")
    return [slice(c + start, c + context_length) for c in range(0, length, context_length)]


def _pair(s, y):
    s, y = np.asarray(s, dtype="float64"), np.asarray(y, dtype="float64")
    if s.ndim != 2 or y.ndim != 2 or s.shape[0] != y.shape[0]:
        raise ValueError(f"expected sources and outputs of shapes (time, sources) and (time, channels) of equal "
                         f"length, got {s.shape} and {y.shape}")
    return s, y


def correlation_matrix(s, y):
    """C[i, k] = Pearson corr(s_i, y_k) (NaN-free: a constant channel correlates 0)."""
    s, y = _pair(s, y)
    sc, yc = s - s.mean(axis=0), y - y.mean(axis=0)
    norm = np.sqrt((sc ** 2).sum(axis=0))[:, None] * np.sqrt((yc ** 2).sum(axis=0))[None, :]
    return np.divide(sc.T @ yc, norm, out=np.zeros((s.shape[1], y.shape[1])), where=norm > 0)


def _clarity_per_channel(C):
    a = np.sort(np.abs(C), axis=0)
    return a[-1] - a[-2] if a.shape[0] > 1 else a[-1]


def signal_clarity(s, y, context_length=1000):
    """Clarity of the outputs y about the sources s in each context, shape (contexts,)."""
    s, y = _pair(s, y)
    return np.array([_clarity_per_channel(correlation_matrix(s[w], y[w])).mean()
                     for w in context_windows(s.shape[0], context_length)])


def unit_clarity(s, x, context_length=1000):
    """Clarity of every single unit of a population x (time, units), averaged over contexts, shape (units,)."""
    s, x = _pair(s, x)
    return np.mean([_clarity_per_channel(correlation_matrix(s[w], x[w]))
                    for w in context_windows(s.shape[0], context_length)], axis=0)


def source_correlation(s, y, context_length=1000, steady=500):
    """|corr(y_i, s_i)| per context and source, over the last `steady` steps (None: whole contexts)."""
    s, y = _pair(s, y)
    return np.array([np.abs(np.diag(correlation_matrix(s[w], y[w][:, :s.shape[1]])))
                     for w in context_windows(s.shape[0], context_length, steady)])


def snr_db(s, y, context_length=None, steady=None):
    """10 log10(mean s² / mean (s − y)²) over all steps, or over the last `steady` steps of each context.

    Example:
        >>> s = np.ones((4, 2))
        >>> round(snr_db(s, 0.9 * s), 6)
        20.0
    """
    s, y = _pair(s, y)
    if steady is not None:
        index = np.concatenate([np.arange(s.shape[0])[w] for w in context_windows(s.shape[0], context_length, steady)])
        s, y = s[index], y[index]
    return float(10 * np.log10(np.mean(s ** 2) / np.mean((s - y) ** 2)))


def decoding_r2(x, s, n_train_contexts, context_length=1000):
    """R² of a linear decoder (with intercept) of s from x, fitted on the first `n_train_contexts`
    contexts, on each later one (uniform average over sources), shape (later contexts,)."""
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    s, x = _pair(s, x)
    windows = context_windows(s.shape[0], context_length)
    if not 1 <= n_train_contexts < len(windows):
        raise ValueError(f"decoding_r2: n_train_contexts must be in [1, {len(windows) - 1}] (the run has "
                         f"{len(windows)} contexts), got {n_train_contexts}")
    split = n_train_contexts * int(context_length)
    decoder = LinearRegression().fit(x[:split], s[:split])
    return np.array([r2_score(s[w], decoder.predict(x[w])) for w in windows[n_train_contexts:]])


def plane_normal(points):
    """Unit normal of the least-squares plane d₃ = c₀d₁ + c₁d₂ + c₂ through points (n, 3), sign with n₃ < 0.

    Example:
        >>> xy = np.random.default_rng(0).normal(size=(50, 2))
        >>> plane_normal(np.c_[xy, 2 * xy[:, 0] - xy[:, 1] + 3]).round(4).tolist()
        [0.8165, -0.4082, -0.4082]
    """
    p = np.asarray(points, dtype="float64")
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"plane_normal: expected points of shape (n, 3), got {p.shape}")
    design = np.c_[p[:, :2], np.ones(len(p))]
    (c0, c1, _), *_ = np.linalg.lstsq(design, p[:, 2], rcond=None)
    normal = np.array([c0, c1, -1.0])
    return normal / np.linalg.norm(normal)


def plane_angle(n1, n2):
    """The angle between two planes given by their normals, in degrees in [0, 90].

    Example:
        >>> plane_angle([0, 0, 1], [0, 1, 1])
        45.0
    """
    n1 = np.asarray(n1, dtype="float64") / np.linalg.norm(n1)
    n2 = np.asarray(n2, dtype="float64") / np.linalg.norm(n2)
    angle = np.degrees(np.arccos(np.clip(np.dot(n1, n2), -1.0, 1.0)))
    return float(round(min(angle, 180.0 - angle), 10))


def activity_basis(x, dims=2):
    """An orthonormal basis (units, dims) of the leading principal axes of activity x (time, units)."""
    x = np.asarray(x, dtype="float64")
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    return vt[:dims].T


def principal_angles(x1, x2, dims=2):
    """Principal angles (degrees, ascending) between the `dims`-D activity subspaces of x1 and x2 (time, units).

    Example:
        >>> t = np.linspace(0, 6, 200)
        >>> a = np.c_[np.sin(t), np.cos(t), 0 * t]
        >>> b = np.c_[np.sin(t), 0 * t, np.cos(t)]
        >>> principal_angles(a, b).round(3).tolist()
        [0.0, 90.0]
    """
    from scipy.linalg import subspace_angles

    return np.sort(np.degrees(subspace_angles(activity_basis(x1, dims), activity_basis(x2, dims))))
