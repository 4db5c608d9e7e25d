"""Natural-image patches from the photographs bundled with scikit-image."""

import numpy as np
import pytest

from ndnx.data import images


def test_patches_shape_dtype_range():
    patches = images.natural_image_patches(40, size=31, seed=0)
    assert patches.shape == (40, 31, 31) and patches.dtype == np.float64
    assert patches.min() >= 0.0 and patches.max() <= 1.0
    assert images.natural_image_patches(0).shape == (0, 31, 31)
    assert images.natural_image_patches(3, size=16, seed=1).shape == (3, 16, 16)


def test_patches_are_deterministic_per_seed():
    a = images.natural_image_patches(10, seed=5)
    np.testing.assert_array_equal(a, images.natural_image_patches(10, seed=5))
    assert not np.allclose(a, images.natural_image_patches(10, seed=6))


def test_patches_look_like_natural_scenes():
    patches = images.natural_image_patches(300, seed=0)
    x = patches - patches.mean(axis=(1, 2), keepdims=True)
    power = np.mean(x * x)
    # Natural scenes are smooth at the scale of a pixel and decorrelate over a few pixels; white noise
    # would give ≈ 0 at both lags.
    lag1 = np.mean(x[:, :, 1:] * x[:, :, :-1]) / power
    lag8 = np.mean(x[:, :, 8:] * x[:, :, :-8]) / power
    assert 0.6 < lag1 < 0.99
    assert lag8 < lag1 - 0.2
    # Contrast varies from patch to patch, and most patches are not flat.
    contrast = patches.std(axis=(1, 2))
    assert np.mean(contrast > 0.02) > 0.8
    assert contrast.max() > 2 * np.median(contrast)


def test_bundled_photographs_load_offline():
    photos = images.bundled_photographs()
    assert len(photos) >= 5
    for name, photo in photos.items():
        assert name in images.PHOTOGRAPHS
        assert photo.ndim == 2 and min(photo.shape) >= 100
        assert photo.min() >= 0.0 and photo.max() <= 1.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="expected n ≥ 0 and size ≥ 1"):
        images.natural_image_patches(-1)
