"""Decoding population activity on a ring: Fourier moments, ring order, overlaps, circular errors.

NeuroFlame spec §5 "Decoding", §10.3 item 6 and §11 "Decoders". Neuron n of N sits at the angle
θ_n = 2πn/N (the ring of the cosine connectivity and of the ODR stimulus, spec §2 and §5), and a
profile of rates r_n (one value per neuron, on the last axis) is summarised by its first Fourier
moments

    m0 = mean_n r_n    (NaN entries left out),
    F1 = Σ_n r_n e^{+iθ_n},   m1 = 2|F1|/N,   φ = arg(F1) mod 2π.

This is the only sign convention in ndnx: a bump centred on θ = φ0 decodes to φ = φ0, and for
r_n = a + b·cos(θ_n − φ0) the moments are exactly (m0, m1, φ) = (a, b, φ0) for N ≥ 3 (the cosine's
e^{−iθ} half sums to 0 over the ring). NeuroFlame's `decode_bump_fft` used the opposite sign
(φ → −φ); ndnx does not offer it.

- `fourier_moments` (NumPy, any axis) and `fourier_moments_ops` / `first_fourier_mode_ops`
  (keras.ops, last axis, differentiable: what the task losses of `ndnx.losses.tasks` use);
- `ring_order`, `sort_by_ring`: neurons of a low-rank network ordered by their angle
  atan2(ξ_b, ξ_a) on the plane of two connectivity vectors, which reveals the ring (spec §2, §5);
- `overlaps`: rates·ξᵀ/N, the projection of the activity on connectivity or readout vectors;
- `circular_smooth`: a circular boxcar smoother (NeuroFlame's `circcvl`);
- `circular_error`: the decoded error on the circle, and `serial_bias`: the mean decoded error
  binned by the previous − current target (the serial-bias protocol, spec §5).

Example:
    >>> import numpy as np
    >>> from ndnx.analysis.decoding import fourier_moments
    >>> theta = 2 * np.pi * np.arange(100) / 100
    >>> m0, m1, phi = fourier_moments(2.0 + 0.5 * np.cos(theta - np.pi / 3))
    >>> round(float(m0), 6), round(float(m1), 6), round(float(np.degrees(phi)), 6)
    (2.0, 0.5, 60.0)
"""

import warnings

import numpy as np
from keras import ops

__all__ = ["ANGLE_UNITS", "fourier_moments", "first_fourier_mode_ops", "fourier_moments_ops", "ring_order",
           "sort_by_ring", "overlaps", "circular_smooth", "circular_error", "serial_bias"]

ANGLE_UNITS = ("radians", "degrees")
TWO_PI = 2.0 * np.pi


def _check_units(name, units):
    if units not in ANGLE_UNITS:
        raise ValueError(f"{name}: units must be one of {ANGLE_UNITS}, got {units!r}")
    return units


def _wrap(angles, period):
    """angles mod period in [0, period): np.mod(−1e-17, 2π) rounds to 2π itself."""
    wrapped = np.mod(angles, period)
    return np.where(wrapped >= period, 0.0, wrapped)


def _ring(n):
    theta = TWO_PI * np.arange(n) / n
    return np.cos(theta), np.sin(theta)


def fourier_moments(rates, axis=-1):
    """(m0, m1, φ) of rate profiles along `axis`, in NumPy (φ in radians, in [0, 2π)).

    m0 = nan-aware mean; F1 = Σ_n r_n e^{+i2πn/N} over the neurons that are not NaN (a NaN neuron
    adds nothing, N stays the length of the axis); m1 = 2|F1|/N; φ = arg(F1) mod 2π. A profile
    that is NaN everywhere gives m0 = NaN, m1 = 0, φ = 0.

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.decoding import fourier_moments
        >>> rates = np.zeros((2, 8)); rates[0, 2] = 4.0; rates[1, 6] = 4.0  # one neuron at 90°, one at 270°
        >>> m0, m1, phi = fourier_moments(rates)
        >>> m0.tolist(), m1.tolist(), np.degrees(phi).round(6).tolist()
        ([0.5, 0.5], [1.0, 1.0], [90.0, 270.0])
    """
    rates = np.moveaxis(np.asarray(rates, dtype="float64"), axis, -1)
    n = rates.shape[-1]
    if n < 1:
        raise ValueError(f"fourier_moments: the neuron axis {axis} of rates {rates.shape} is empty")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN profile: m0 = NaN is the answer
        m0 = np.nanmean(rates, axis=-1)
    finite = np.where(np.isnan(rates), 0.0, rates)
    cos, sin = _ring(n)
    f1 = finite @ cos + 1j * (finite @ sin)
    return m0, 2.0 * np.abs(f1) / n, _wrap(np.angle(f1), TWO_PI)


def first_fourier_mode_ops(rates, epsilon=0.0):
    """(m0, m1, cos φ, sin φ) of rate profiles on the last axis, in keras.ops (differentiable).

    (m1 cos φ, m1 sin φ) = (2/N)·(Re F1, Im F1). With `epsilon` > 0, m1 = sqrt(|2F1/N|² + ε²), which
    keeps the gradients of m1, cos φ and sin φ finite for a flat profile (F1 = 0); the losses use
    ε = 1e-7, far below any rate of interest.
    """
    rates = ops.convert_to_tensor(rates)
    n = rates.shape[-1]
    if n is None:
        raise ValueError("first_fourier_mode_ops: the number of neurons (last axis of rates) must be known")
    cos, sin = _ring(n)
    basis = ops.cast(np.stack([cos, sin], axis=1) * (2.0 / n), rates.dtype)  # (N, 2)
    mode = ops.matmul(rates, basis)
    re, im = mode[..., 0], mode[..., 1]
    m1 = ops.sqrt(re * re + im * im + epsilon * epsilon) if epsilon else ops.sqrt(re * re + im * im)
    safe = ops.where(m1 > 0, m1, ops.ones_like(m1))
    cos_phi = ops.where(m1 > 0, re / safe, ops.ones_like(m1))
    sin_phi = ops.where(m1 > 0, im / safe, ops.zeros_like(m1))
    return ops.mean(rates, axis=-1), m1, cos_phi, sin_phi


def fourier_moments_ops(rates):
    """(m0, m1, φ) of rate profiles on the last axis, in keras.ops; φ = atan2(Im F1, Re F1) mod 2π.

    The same convention as `fourier_moments` (without the NaN handling: a loss needs finite rates).

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.decoding import fourier_moments_ops
        >>> theta = 2 * np.pi * np.arange(64) / 64
        >>> m0, m1, phi = fourier_moments_ops((1.0 + np.cos(theta - 4.0)).astype("float32"))
        >>> round(float(m0), 5), round(float(m1), 5), round(float(phi), 5)
        (1.0, 1.0, 4.0)
    """
    m0, m1, cos_phi, sin_phi = first_fourier_mode_ops(rates)
    phi = ops.arctan2(sin_phi * m1, cos_phi * m1)
    phi = ops.where(phi < 0, phi + TWO_PI, phi)
    return m0, m1, ops.where(phi >= TWO_PI, ops.zeros_like(phi), phi)  # −1e-17 + 2π rounds to 2π


def ring_order(xi_a, xi_b):
    """Neuron indices sorted by their angle atan2(ξ_b, ξ_a) mod 2π on the plane of two vectors.

    In a low-rank network with a rank-2 term ξ_a ξ_aᵀ + ξ_b ξ_bᵀ (spec §2, the Hopfield-like branch)
    this angle is each neuron's preferred location; ordering the neurons by it lays the activity
    out on a ring that `fourier_moments` can decode. Ties keep the original order.

    Example:
        >>> from ndnx.analysis.decoding import ring_order
        >>> ring_order([1.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 1.0]).tolist()  # 0°, 180°, 270°, 90°
        [0, 3, 1, 2]
    """
    xi_a = np.asarray(xi_a, dtype="float64")
    xi_b = np.asarray(xi_b, dtype="float64")
    if xi_a.ndim != 1 or xi_a.shape != xi_b.shape:
        raise ValueError(f"ring_order: xi_a and xi_b must be vectors of one length, got shapes {xi_a.shape} "
                         f"and {xi_b.shape}")
    return np.argsort(_wrap(np.arctan2(xi_b, xi_a), TWO_PI), kind="stable")


def sort_by_ring(rates, xi_a, xi_b, axis=-1):
    """`rates` with the neuron axis reordered by `ring_order(xi_a, xi_b)`."""
    rates = np.asarray(rates)
    order = ring_order(xi_a, xi_b)
    if rates.shape[axis] != order.shape[0]:
        raise ValueError(f"sort_by_ring: rates {rates.shape} have {rates.shape[axis]} neurons on axis {axis}, "
                         f"the vectors {order.shape[0]}")
    return np.take(rates, order, axis=axis)


def overlaps(rates, vectors):
    """Overlaps rates·ξᵀ/N of rates (..., N) with K vectors (K, N) (or one vector (N,)) → (..., K) (or (...)).

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.decoding import overlaps
        >>> overlaps(np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0]]))
        array([[ 2.5, -0.5]])
    """
    rates = np.asarray(rates, dtype="float64")
    vectors = np.asarray(vectors, dtype="float64")
    if vectors.ndim not in (1, 2) or vectors.shape[-1] != rates.shape[-1]:
        raise ValueError(f"overlaps: vectors must be (K, N) or (N,) with N = {rates.shape[-1]} neurons (the last "
                         f"axis of rates), got shape {vectors.shape}")
    return rates @ vectors.T / rates.shape[-1]


def circular_smooth(values, width, axis=-1):
    """Circular boxcar mean over `width` neighbouring neurons along `axis` (NeuroFlame's `circcvl`).

    out_n = (1/w) Σ_{k=−⌊(w−1)/2⌋}^{⌊w/2⌋} values_{(n+k) mod N}: centred for odd w; an even w reaches one
    neuron further ahead than behind. width = 1 returns the values; width = N the mean everywhere.

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.decoding import circular_smooth
        >>> circular_smooth(np.array([3.0, 0.0, 0.0, 0.0, 0.0, 0.0]), 3)
        array([1., 1., 0., 0., 0., 1.])
    """
    values = np.asarray(values, dtype="float64")
    n = values.shape[axis]
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or not 1 <= width <= n:
        raise ValueError(f"circular_smooth: width must be an int in [1, {n}] (neurons on axis {axis}), got {width!r}")
    moved = np.moveaxis(values, axis, -1)
    out = np.zeros_like(moved)
    for k in range(-((width - 1) // 2), width // 2 + 1):
        out += np.roll(moved, -k, axis=-1)
    return np.moveaxis(out / width, -1, axis)


def circular_error(decoded, target, units="radians"):
    """The signed error decoded − target wrapped onto the circle: in [−π, π) (or [−180, 180) degrees).

    Example:
        >>> from ndnx.analysis.decoding import circular_error
        >>> circular_error([350.0, 10.0, 180.0], [10.0, 350.0, 0.0], units="degrees").tolist()
        [-20.0, 20.0, -180.0]
    """
    half = np.pi if _check_units("circular_error", units) == "radians" else 180.0
    difference = np.asarray(decoded, dtype="float64") - np.asarray(target, dtype="float64")
    return _wrap(difference + half, 2 * half) - half


def serial_bias(decoded, current, previous, n_bins=8, units="radians"):
    """Serial bias: the mean decoded error binned by the previous − current target location.

    error = circular_error(decoded, current), relative = circular_error(previous, current), both in
    `units`; the circle [−π, π) (or [−180, 180)) is cut into `n_bins` equal bins of the relative
    location, and each bin holds the mean error of its trials. NaN entries (e.g. the first trial,
    which has no previous one) are left out. An attractive bias (errors towards the previous
    target) is positive where relative > 0.

    Returns (bin centres, mean error per bin (NaN for an empty bin), trials per bin).

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.decoding import serial_bias
        >>> centres, bias, counts = serial_bias([12.0, -12.0, 1.0], [10.0, -10.0, 0.0], [90.0, -90.0, np.nan],
        ...                                     n_bins=4, units="degrees")
        >>> centres.tolist(), bias.tolist(), counts.tolist()
        ([-135.0, -45.0, 45.0, 135.0], [nan, -2.0, 2.0, nan], [0, 1, 1, 0])
    """
    half = np.pi if _check_units("serial_bias", units) == "radians" else 180.0
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"serial_bias: n_bins must be a positive int, got {n_bins!r}")
    decoded, current, previous = np.broadcast_arrays(*(np.asarray(a, dtype="float64")
                                                       for a in (decoded, current, previous)))
    error = circular_error(decoded, current, units).ravel()
    relative = circular_error(previous, current, units).ravel()
    keep = np.isfinite(error) & np.isfinite(relative)
    edges = np.linspace(-half, half, n_bins + 1)
    index = np.clip(np.searchsorted(edges, relative[keep], side="right") - 1, 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    sums = np.bincount(index, weights=error[keep], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return (edges[:-1] + edges[1:]) / 2, mean, counts
