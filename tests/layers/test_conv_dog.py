"""ConvDifferenceOfGaussians (the fork's 'conv_diff_of_gaussians', spec §3.2)."""

import warnings

import numpy as np
import pytest
import tensorflow as tf

import ndnx
from ndnx.layers import ConvDifferenceOfGaussians, DifferenceOfGaussians

RNG = np.random.default_rng(0)


def conv_dog_with(params, kernel_size, bias=0.0, **kwargs):
    layer = ConvDifferenceOfGaussians(len(params), kernel_size, **kwargs)
    layer.build((None, 31, 31, 1))
    layer.dog.assign(np.asarray(params, "float32").T)
    layer.bias.assign(np.full(len(params), bias, "float32"))
    return layer


PARAMS = [[1.0, 2.0, 15.0, 15.0, 0.5, 3.0], [2.0, 4.0, 10.0, 20.0, 1.0, 6.0], [0.7, 9.0, 25.0, 6.0, 0.3, 1.5]]


def test_full_size_valid_kernel_equals_the_dog_layer():
    images = RNG.normal(size=(4, 31, 31, 2)).astype("float32")
    conv = conv_dog_with(PARAMS, 31, bias=0.3, padding="valid")
    dog = DifferenceOfGaussians(3)
    dog.build((None, 31, 31, 2))
    dog.dog.assign(np.asarray(PARAMS, "float32").T)
    dog.bias.assign(np.full(3, 0.3, "float32"))
    y = conv(images)
    assert y.shape == (4, 1, 1, 3)
    np.testing.assert_allclose(y[:, 0, 0], dog(images), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(conv.kernels()).reshape(961, 3), dog.kernels(), rtol=1e-6, atol=1e-8)


def test_kernel_broadcast_over_channels_and_strided_conv():
    x = RNG.normal(size=(2, 15, 15, 3)).astype("float32")
    layer = ConvDifferenceOfGaussians(4, 5, strides=2, dilation_rate=1, seed=1, bias_initializer="random_normal")
    y = layer(x)
    k = np.broadcast_to(np.asarray(layer.kernels())[:, :, None, :], (5, 5, 3, 4))
    expected = tf.nn.conv2d(x, k, strides=2, padding="SAME") + layer.bias.numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert y.shape == (2, 8, 8, 4)
    dilated = ConvDifferenceOfGaussians(4, 3, dilation_rate=2, padding="valid", seed=1)
    assert dilated(x).shape == (2, 11, 11, 4)


def test_kernel_peak_at_mu_y_mu_x():
    layer = conv_dog_with([[2.0, 1.5, 6.0, 2.0, 1.0, 3.0]], 9)
    kernel = np.asarray(layer.kernels())[:, :, 0]
    assert kernel.shape == (9, 9)
    assert np.unravel_index(np.argmax(kernel), kernel.shape) == (2, 6)  # (row μy, column μx)
    impulse = np.zeros((1, 31, 31, 1), "float32")
    impulse[0, 15, 15, 0] = 1.0
    out = np.asarray(layer(impulse))[0, :, :, 0]
    # cross-correlation: an impulse at (15, 15) reads the kernel mirrored around the output pixel
    assert np.unravel_index(np.argmax(out), out.shape) == (15 + 4 - 2, 15 + 4 - 6)


def test_sigma_pinned_to_one_has_zero_gradient():
    x = RNG.normal(size=(2, 31, 31, 1)).astype("float32")
    pinned = conv_dog_with([[1.0, 5.0, 3.0, 4.0, 0.5, 2.0]], 7, sigma_bounds=(1, 1))
    reference = conv_dog_with([[1.0, 1.0, 3.0, 4.0, 0.5, 1.0]], 7)
    np.testing.assert_array_equal(pinned(x), reference(x))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(pinned(x)))
    grad = tape.gradient(loss, pinned.dog).numpy()[:, 0]
    assert grad[1] == 0.0 and grad[5] == 0.0
    assert grad[0] != 0.0 and grad[2] != 0.0 and grad[3] != 0.0


def test_default_boxes_from_the_filter_size():
    layer = ConvDifferenceOfGaussians(2000, 9, seed=2)
    layer.build((None, 31, 31, 1))
    p = layer.dog.numpy()
    assert layer._sigma == (1.0, 7.0)  # int(0.82·9)
    for row in (1, 5):  # σ drawn uniformly over the whole box [1, 7]: 2000 draws reach both ends
        assert 1.0 <= p[row].min() < 1.1 and 6.9 < p[row].max() <= 7.0
        assert abs(p[row].mean() - 4.0) < 0.2
    for row in (2, 3):
        assert p[row].min() >= 0.0 and p[row].max() <= 8.0 and p[row].max() > 7.5
    ndn3 = ConvDifferenceOfGaussians(2000, 9, mu_bounds="ndn3", seed=2)
    ndn3.build((None, 31, 31, 1))
    assert ndn3.dog.numpy()[2].min() >= 2.0 and ndn3.dog.numpy()[2].max() <= 7.0


def test_three_pixel_filter_default_box_is_valid():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer = ConvDifferenceOfGaussians(50, 3, seed=3)
        layer.build((None, 9, 9, 1))
    mu = layer.clipped_parameters()
    assert np.asarray(mu["mu_x"]).min() >= 0.0 and np.asarray(mu["mu_x"]).max() <= 2.0
    assert np.asarray(mu["mu_x"]).std() > 0.3  # centres spread over the grid


def test_three_pixel_filter_ndn3_box_warns_and_pins_centres():
    with pytest.warns(UserWarning, match=r"empty box x ∈ \[2, 1\]"):
        layer = ConvDifferenceOfGaussians(4, 3, mu_bounds="ndn3", seed=3, name="cdog")
    x = RNG.normal(size=(2, 9, 9, 1)).astype("float32")
    layer(x)
    c = layer.clipped_parameters()
    np.testing.assert_array_equal(c["mu_x"], 2.0)
    np.testing.assert_array_equal(c["mu_y"], 2.0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(x)))
    grad = tape.gradient(loss, layer.dog).numpy()
    assert np.all(grad[2:4] == 0.0) and np.abs(grad[0]).max() > 0


def test_explicit_mu_bounds():
    layer = conv_dog_with([[1.0, 2.0, -5.0, 40.0, 0.5, 1.0]], 7, mu_bounds=(1, 4))
    c = layer.clipped_parameters()
    assert float(c["mu_x"][0]) == 1.0 and float(c["mu_y"][0]) == 4.0
    with pytest.raises(ValueError, match="mu_bounds must be None, 'ndn3' or"):
        ConvDifferenceOfGaussians(2, 7, mu_bounds=(4, 1))
    with pytest.raises(ValueError, match="mu_bounds must be None, 'ndn3' or"):
        ConvDifferenceOfGaussians(2, 7, mu_bounds="thesis")


@pytest.mark.parametrize("per_replica", [False, True])
def test_replicas_equal_lone_layers(per_replica):
    seeds = [21, 22, 23]
    kwargs = dict(strides=2, activation="softplus", bias_initializer="random_normal")
    x = RNG.normal(size=(3, 3, 15, 15, 2)).astype("float32")
    stacked = ConvDifferenceOfGaussians(4, 5, replicas=3, seed=seeds, **kwargs)
    y = stacked(x if per_replica else x[:, 0])
    assert y.shape == (3, 3, 8, 8, 4)
    for r, s in enumerate(seeds):
        lone = ConvDifferenceOfGaussians(4, 5, seed=s, **kwargs)(x[:, r] if per_replica else x[:, 0])
        np.testing.assert_allclose(y[:, r], lone, rtol=1e-6, atol=1e-6)


def test_errors_and_config():
    with pytest.raises(ValueError, match=r"cdog: expected input of shape \(batch, H, W, C\)"):
        ConvDifferenceOfGaussians(2, 3, name="cdog")(np.ones((2, 81), "float32"))
    with pytest.raises(ValueError, match="filters must be a positive int"):
        ConvDifferenceOfGaussians(0, 3)
    with pytest.raises(ValueError, match="sigma_bounds must be"):
        ConvDifferenceOfGaussians(2, 3, sigma_bounds=(2, 1))
    layer = ConvDifferenceOfGaussians(2, (5, 7), mu_bounds=(1, 3), sigma_bounds=(1, 1), replicas=2, seed=1)
    config = layer.get_config()
    assert ConvDifferenceOfGaussians.from_config(config).get_config() == config
    assert ndnx.layers.ConvDifferenceOfGaussians is ConvDifferenceOfGaussians
