"""Gabor stimulus sets of the NRF-LV recording experiments (spec energy_sampling_nrflv.md §3.2).

A Gabor patch at angle θ (x' = x·cosθ + y·sinθ, y' = −x·sinθ + y·cosθ, σ_y = σ/γ)

    g(x, y) = contrast · exp(−½(x'²/σ² + y'²/σ_y²)) · cos(2π·x'/λ + ψ) + 1

is *multiplied* into a base image (the mean CIFAR-10 training image in the thesis; any image here)
inside its bounding box of 3 standard deviations around pixel (16, 16) + loc. Defaults σ = 0.7,
λ = 3, γ = 0.5, ψ = 1. Every set has 128 images (one batch):

* `contrast_and_angle`: 8 contrasts (0, 0.4, …, 2.8) × 16 angles (step π/8), contrast-major;
* `just_angle`: contrast 2.4, 128 angles over [0, 2π);
* `just_angle_few_angles`: 8 angles (step π/4) × 16 repeats, contrast 2.4;
* `long_just_fewangles`: the same with γ = 0.01 (a long bar, clipped to the image);
* `fewlocs_and_fewerangles` (the thesis's "double" set): a static Gabor at the centre (4 angles, step
  π/4) and a mobile one at distance 3, 5, 7 or 10 along an axis (right, left, down, up), at the same
  angle or +90°, as the mask 1 + 2(g₁ − 1) + 2(g₂ − 1) (contrast 1 each, so each patch's modulation is
  doubled); angle-major, then the mobile angle, distance and direction. Its parameters also give
  "mobile_angle", "distance", "mobile_row" and "mobile_col" (the mobile site) per image.

Values are not clipped (the original saved PNGs in [0, 1], which saturates high contrasts; clip if
you want that).

Example:
    >>> import numpy as np
    >>> from ndnx.data.gabor import gabor_patch, stimulus_set
    >>> patch = gabor_patch(0.0, contrast=1.0)
    >>> patch.shape, round(float(patch[patch.shape[0] // 2, patch.shape[1] // 2]), 4)  # 1 + cos(ψ) at the centre
    ((11, 7), 1.5403)
    >>> images, params = stimulus_set("contrast_and_angle", np.full((32, 32, 3), 0.5))
    >>> images.shape, [round(float(c), 1) for c in params["contrast"][[0, 16, 127]]]
    ((128, 32, 32, 3), [0.0, 0.4, 2.8])
"""

import numpy as np

__all__ = ["gabor_patch", "gabor_field", "apply_gabor", "stimulus_set", "STIMULUS_SETS"]

STIMULUS_SETS = ("contrast_and_angle", "just_angle", "just_angle_few_angles", "long_just_fewangles",
                 "fewlocs_and_fewerangles")
DOUBLE_DISTANCES = (3, 5, 7, 10)
DOUBLE_DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))


def gabor_patch(theta, contrast=1.0, sigma=0.7, wavelength=3.0, gamma=0.5, psi=1.0, n_std=3.0):
    """g on its bounding box (module docstring), a (2r + 1, 2c + 1) array centred on the patch."""
    sigma_y = sigma / gamma
    half_x = max(int(np.ceil(max(abs(n_std * sigma * np.cos(theta)), abs(n_std * sigma_y * np.sin(theta))))), 1)
    half_y = max(int(np.ceil(max(abs(n_std * sigma * np.sin(theta)), abs(n_std * sigma_y * np.cos(theta))))), 1)
    y, x = np.mgrid[-half_y:half_y + 1, -half_x:half_x + 1].astype("float64")
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    envelope = np.exp(-0.5 * (xr ** 2 / sigma ** 2 + yr ** 2 / sigma_y ** 2))
    return contrast * envelope * np.cos(2 * np.pi * xr / wavelength + psi) + 1.0


def gabor_field(shape, theta, centre=(16, 16), **kwargs):
    """g − 1 on an (H, W) grid: the patch's modulation around `centre` (row, col), 0 outside its box."""
    field = np.zeros(tuple(shape[:2]))
    patch = gabor_patch(theta, **kwargs) - 1.0
    ph, pw = patch.shape
    r0, c0 = centre[0] - ph // 2, centre[1] - pw // 2
    rows = slice(max(r0, 0), min(r0 + ph, field.shape[0]))
    cols = slice(max(c0, 0), min(c0 + pw, field.shape[1]))
    if rows.start < rows.stop and cols.start < cols.stop:
        field[rows, cols] = patch[rows.start - r0:rows.stop - r0, cols.start - c0:cols.stop - c0]
    return field


def apply_gabor(image, theta, centre=(16, 16), **kwargs):
    """`image` (H, W[, C]) with a Gabor patch multiplied in around `centre` (row, col), clipped to the image."""
    image = np.array(image, dtype="float64", copy=True)
    mask = 1.0 + gabor_field(image.shape, theta, centre, **kwargs)
    return image * (mask[..., None] if image.ndim == 3 else mask)


def _double_set(base, centre):
    rows = []
    for angle in np.arange(4) * np.pi / 4:
        for mobile_angle in (angle, angle + np.pi / 2):
            for distance in DOUBLE_DISTANCES:
                for dr, dc in DOUBLE_DIRECTIONS:
                    rows.append((angle, mobile_angle, distance, centre[0] + dr * distance, centre[1] + dc * distance))
    angle, mobile_angle, distance, mobile_row, mobile_col = (np.array(v) for v in zip(*rows))
    base = np.asarray(base, dtype="float64")
    images = []
    for a, m, r, c in zip(angle, mobile_angle, mobile_row, mobile_col):
        mask = 1.0 + 2.0 * gabor_field(base.shape, a, centre) + 2.0 * gabor_field(base.shape, m, (r, c))
        images.append(base * (mask[..., None] if base.ndim == 3 else mask))
    params = {"contrast": np.ones(len(rows)), "angle": angle, "mobile_angle": mobile_angle, "distance": distance,
              "mobile_row": mobile_row, "mobile_col": mobile_col}
    return np.stack(images).astype("float32"), params


def stimulus_set(name, base, centre=(16, 16)):
    """(images (128, H, W[, C]) float32, {"contrast", "angle"[, ...]} per image) of a named set."""
    if name not in STIMULUS_SETS:
        raise ValueError(f"stimulus_set: unknown set {name!r}; expected one of {', '.join(STIMULUS_SETS)}")
    if name == "fewlocs_and_fewerangles":
        return _double_set(base, centre)
    if name == "contrast_and_angle":
        contrast = np.repeat(np.arange(8) * 0.4, 16)
        angle = np.tile(np.arange(16) * np.pi / 8, 8)
    elif name == "just_angle":
        contrast, angle = np.full(128, 2.4), np.arange(128) * 2 * np.pi / 128
    else:
        contrast, angle = np.full(128, 2.4), np.repeat(np.arange(8) * np.pi / 4, 16)
    gamma = 0.01 if name == "long_just_fewangles" else 0.5
    images = np.stack([apply_gabor(base, a, centre, contrast=c, gamma=gamma) for c, a in zip(contrast, angle)])
    return images.astype("float32"), {"contrast": contrast, "angle": angle}
