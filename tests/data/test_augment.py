"""Random-shift augmentation (ndnx.data.augment) against a pixel-by-pixel reference."""

import numpy as np
import pytest

from ndnx.data.augment import random_shift, shift_images

RNG = np.random.default_rng(3)


def reference_shift(image, dy, dx, mode, value):
    """out[i, j] = image[i − dy, j − dx], with the nearest border pixel ("edge") or `value` outside."""
    h, w, _ = image.shape
    out = np.empty_like(image)
    for i in range(h):
        for j in range(w):
            si, sj = i - dy, j - dx
            if mode == "edge":
                out[i, j] = image[min(max(si, 0), h - 1), min(max(sj, 0), w - 1)]
            else:
                out[i, j] = image[si, sj] if 0 <= si < h and 0 <= sj < w else value
    return out


@pytest.mark.parametrize("mode", ["edge", "constant"])
def test_shift_images_moves_each_image_by_its_offset(mode):
    images = RNG.normal(size=(4, 7, 6, 2)).astype("float32")
    offsets = np.array([[0, 0], [2, -1], [-3, 3], [1, 5]])
    got = shift_images(images, offsets, mode=mode, value=-0.5)
    for n, (dy, dx) in enumerate(offsets):
        np.testing.assert_array_equal(got[n], reference_shift(images[n], dy, dx, mode, -0.5))


def test_random_shift_draws_every_offset_up_to_max_shift_reproducibly():
    # a single bright pixel in the middle of a 9×9 image: where it lands is the offset drawn
    images = np.zeros((2000, 9, 9, 1), "float32")
    images[:, 4, 4, 0] = 1.0
    moved = random_shift(images, 2, seed=(0, 1), mode="constant")
    where = np.argmax(moved[..., 0].reshape(2000, 81), axis=1)
    rows, cols = where // 9 - 4, where % 9 - 4
    assert moved.sum() == 2000  # every pixel moved, none lost or duplicated
    counts = np.histogram2d(rows, cols, bins=5, range=((-2.5, 2.5), (-2.5, 2.5)))[0]
    assert counts.min() > 0 and abs(counts.mean() - 80) < 1e-9  # all 25 offsets; 2000/25 per offset on average
    # uniform: Pearson's χ² over the 25 offsets has 24 degrees of freedom (mean 24, sd √48 ≈ 6.9)
    assert ((counts - 80) ** 2 / 80).sum() < 24 + 4 * np.sqrt(48)
    np.testing.assert_array_equal(random_shift(images, 2, seed=(0, 1), mode="constant"), moved)
    assert random_shift(images, 0, seed=0) is images


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ValueError, match=r"random_shift: expected images \(N, H, W, C\), got shape \(3, 3\)"):
        random_shift(np.zeros((3, 3)), 1)
    with pytest.raises(ValueError, match="random_shift: max_shift must be an int >= 0, got -1"):
        random_shift(np.zeros((1, 3, 3, 1)), -1)
    with pytest.raises(ValueError, match=r"shift_images: expected integer offsets of shape \(1, 2\)"):
        shift_images(np.zeros((1, 3, 3, 1)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"shift_images: offsets must be smaller than the image \(3×3\), got 3"):
        shift_images(np.zeros((1, 3, 3, 1)), np.array([[3, 0]]))
    with pytest.raises(ValueError, match="shift_images: mode must be one of"):
        shift_images(np.zeros((1, 3, 3, 1)), np.array([[1, 0]]), mode="wrap")
