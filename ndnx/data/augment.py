"""Data augmentation of image batches (NHWC NumPy arrays), seeded.

`random_shift` moves every image by its own integer offset (dy, dx), each drawn uniformly from
−max_shift … max_shift, filling the uncovered border (`mode`: "edge" repeats the border pixels, the
background of a digit or the edge of a photograph; "constant" writes `value`). Random translation is
the augmentation of small-image classification (MNIST, CIFAR; Simard, Steinkraus & Platt 2003); the
same seed gives the same shifts, so an epoch's batches are a function of (seed, epoch) and training
resumes exactly.

Example:
    >>> import numpy as np
    >>> from ndnx.data.augment import random_shift
    >>> image = np.zeros((1, 5, 5, 1), "float32")
    >>> image[0, 2, 2, 0] = 1.0
    >>> moved = random_shift(image, 2, seed=0)
    >>> float(moved.sum()), moved.shape
    (1.0, (1, 5, 5, 1))
"""

import numpy as np

__all__ = ["random_shift", "shift_images"]

MODES = ("edge", "constant")


def _check_images(name, images):
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"{name}: expected images (N, H, W, C), got shape {images.shape}")
    return images


def shift_images(images, offsets, mode="edge", value=0.0):
    """Image n moved down by offsets[n, 0] and right by offsets[n, 1] pixels (negative: up, left).

    Args:
        images: (N, H, W, C) array.
        offsets: (N, 2) integers, |offset| < H and < W.
        mode: "edge" (repeat border pixels) or "constant" (`value`) for the uncovered border.
    """
    name = "shift_images"
    images = _check_images(name, images)
    offsets = np.asarray(offsets)
    n, h, w, _ = images.shape
    if offsets.shape != (n, 2) or not np.issubdtype(offsets.dtype, np.integer):
        raise ValueError(f"{name}: expected integer offsets of shape ({n}, 2), got {offsets.dtype} {offsets.shape}")
    if mode not in MODES:
        raise ValueError(f"{name}: mode must be one of {MODES}, got {mode!r}")
    m = int(np.abs(offsets).max()) if n else 0
    if m >= min(h, w):
        raise ValueError(f"{name}: offsets must be smaller than the image ({h}×{w}), got {m}")
    pad = ((0, 0), (m, m), (m, m), (0, 0))
    padded = np.pad(images, pad, mode="edge") if mode == "edge" else np.pad(images, pad, constant_values=value)
    # moving the content by +d means reading the padded image from m − d on
    rows = (m - offsets[:, 0])[:, None] + np.arange(h)[None, :]
    cols = (m - offsets[:, 1])[:, None] + np.arange(w)[None, :]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def random_shift(images, max_shift, seed=None, mode="edge", value=0.0):
    """Every image shifted by its own uniform integer (dy, dx) ∈ [−max_shift, max_shift]².

    Args:
        images: (N, H, W, C) array.
        max_shift: the largest shift in pixels (0 returns the images unchanged).
        seed: anything `np.random.default_rng` takes (an int, a tuple such as (seed, epoch)).
        mode, value: the fill of the uncovered border (`shift_images`).
    """
    images = _check_images("random_shift", images)
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"random_shift: max_shift must be an int >= 0, got {max_shift!r}")
    if max_shift == 0:
        return images
    offsets = np.random.default_rng(seed).integers(-max_shift, max_shift + 1, size=(len(images), 2))
    return shift_images(images, offsets, mode=mode, value=value)
