"""Channel×channel inverse masses for SGHMC: a normalised positive-definite circulant, and the original's rows.

Spec energy_sampling_nrflv.md §2.1 ("Non-diagonal inverse mass") and §7 item 4. The matrix acts on the
channel axis at every pixel and example (a 1×1 convolution of the momentum).

* `circulant_inverse_mass(C, width)` (the default): the symmetric circulant whose eigenvalues are
  λ_k = max(exp(−½(2π·d_k·width/C)²), λ_min), d_k = min(k, C − k) the circular frequency, λ_min = 0.01.
  Every λ_k lies in [0.01, 1] and λ_0 = 1 is the row sum, so the matrix is positive definite with a
  condition number ≤ 100 and normalised (rows sum to 1, it never amplifies a step), mixing
  neighbouring channels over about `width` channels.
* `faithful_inverse_mass(C)`: NRF-LV's rows, Gaussian pdf values N(d; 0, sd²) of the circular channel
  distance d with sd 0.55 (32 channels: 0.7254 on the diagonal, 0.1389 at ±1, 0.00098 at ±2), 0.3 (16)
  or 0.1 (8; ≈3.99·I, a 4× step). Other channel counts ≥ 6 raise, as the original does (KeyError there).
* Both are the identity for fewer than 6 channels.

    >>> import numpy as np
    >>> from ndnx.energy.inverse_mass import faithful_inverse_mass, circulant_inverse_mass
    >>> np.round(faithful_inverse_mass(32)[0, [0, 1, 2, 31]], 5).tolist()
    [0.72535, 0.1389, 0.00098, 0.1389]
    >>> m = circulant_inverse_mass(32, width=1.0)
    >>> bool(np.allclose(m.sum(1), 1.0)), bool(np.linalg.eigvalsh(m).min() > 0)
    (True, True)
"""

import numpy as np

__all__ = ["circulant_inverse_mass", "faithful_inverse_mass", "FAITHFUL_SD", "MIN_CHANNELS"]

FAITHFUL_SD = {32: 0.55, 16: 0.3, 8: 0.1}
MIN_CHANNELS = 6
MIN_EIGENVALUE = 0.01


def _circular_distance(channels):
    idx = np.arange(channels)
    d = np.abs(idx[:, None] - idx[None, :])
    return np.minimum(d, channels - d)


def circulant_inverse_mass(channels, width=1.0):
    """The normalised, positive-definite circulant (module docstring), float64 (C, C)."""
    channels = int(channels)
    if not np.isfinite(width) or width <= 0:
        raise ValueError(f"circulant_inverse_mass: width must be a finite number > 0, got {width!r}")
    if channels < MIN_CHANNELS:
        return np.eye(channels)
    k = np.arange(channels)
    freq = np.minimum(k, channels - k)
    eigenvalues = np.maximum(np.exp(-0.5 * (2 * np.pi * freq * width / channels) ** 2), MIN_EIGENVALUE)
    row = np.real(np.fft.ifft(eigenvalues))
    return row[_circular_distance(channels) % channels]


def faithful_inverse_mass(channels):
    """NRF-LV's Gaussian-pdf rows (module docstring), float64 (C, C)."""
    channels = int(channels)
    if channels < MIN_CHANNELS:
        return np.eye(channels)
    if channels not in FAITHFUL_SD:
        raise ValueError(f"faithful_inverse_mass: the original defines rows for 8, 16 or 32 channels (or fewer "
                         f"than 6), got {channels}")
    sd = FAITHFUL_SD[channels]
    d = _circular_distance(channels)
    return np.exp(-0.5 * (d / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
