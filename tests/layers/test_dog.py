"""DifferenceOfGaussians: NDN3 semantics and the spec's golden numbers (§8 tests 1–2)."""

import numpy as np
import keras
import pytest
import tensorflow as tf

import ndnx
from ndnx.layers import DifferenceOfGaussians, dog_sigma_upper_bound


def dog_with(params, bias=0.0, **kwargs):
    """A one-filter layer on 31×31 images with parameters (α1, σ1, μx, μy, α2, σ2)."""
    layer = DifferenceOfGaussians(1, **kwargs)
    layer.build((None, 31, 31, 1))
    layer.dog.assign(np.asarray(params, layer.dog.dtype).reshape(6, 1))
    layer.bias.assign([bias])
    return layer


def test_impulse_response_golden():
    layer = dog_with([1.0, 2.0, 15.0, 15.0, 0.5, 3.0])
    image = np.zeros((1, 31, 31, 1), "float32")
    image[0, 15, 15, 0] = 1.0
    expected = 1.0 / (2 * np.pi * 2.0) - 0.5 / (2 * np.pi * 5.0)
    assert expected == pytest.approx(0.06366197723675814, abs=1e-15)
    assert float(layer(image)[0, 0]) == pytest.approx(0.0636620, abs=1e-7)


def test_all_ones_and_axis_convention():
    # float64: a float32 sum of 961 kernel values is only good to ~2e-6.
    layer = dog_with([2.0, 2.0, 15.0, 10.0, 1.0, 4.0], dtype="float64")
    ones = np.ones((1, 31, 31, 1))
    assert float(layer(ones)[0, 0]) == pytest.approx(1.0000079, abs=1e-7)
    single = dog_with([2.0, 2.0, 15.0, 10.0, 1.0, 4.0])
    assert float(single(ones.astype("float32"))[0, 0]) == pytest.approx(1.0000079, abs=1e-5)
    kernel = np.asarray(layer.kernels())[:, 0].reshape(31, 31)
    assert np.unravel_index(np.argmax(kernel), kernel.shape) == (10, 15)  # (row μy, column μx)


def test_kernel_sums_over_channels():
    layer = DifferenceOfGaussians(3, seed=1)
    x = np.random.default_rng(0).normal(size=(2, 31, 31, 3)).astype("float32")
    single = DifferenceOfGaussians(3, seed=1)
    np.testing.assert_allclose(layer(x), single(x.sum(axis=-1, keepdims=True)), rtol=1e-5, atol=1e-6)


def test_clipped_sigma_behaves_as_bound_with_zero_gradient():
    image = np.random.default_rng(0).normal(size=(4, 31, 31, 1)).astype("float32")
    low = dog_with([1.0, 0.3, 15.0, 15.0, 0.5, 3.0])
    at_bound = dog_with([1.0, 1.0, 15.0, 15.0, 0.5, 3.0])
    np.testing.assert_array_equal(low(image), at_bound(image))
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(low(image))
    grad = tape.gradient(out, low.dog).numpy()
    assert grad[1, 0] == 0.0
    assert grad[0, 0] != 0.0 and grad[5, 0] != 0.0


def test_clipped_mu_behaves_as_bound():
    image = np.random.default_rng(1).normal(size=(4, 31, 31, 1)).astype("float32")
    far = dog_with([1.0, 2.0, 40.0, 15.0, 0.5, 3.0])
    bound = dog_with([1.0, 2.0, 29.0, 15.0, 0.5, 3.0])
    np.testing.assert_array_equal(far(image), bound(image))
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(far(image))
    assert tape.gradient(out, far.dog).numpy()[2, 0] == 0.0


def test_sigma_upper_bound_from_input_size_and_pinned_option():
    assert dog_sigma_upper_bound(31, 31) == 25.0
    image = np.random.default_rng(2).normal(size=(3, 31, 31, 1)).astype("float32")
    wide = dog_with([1.0, 20.0, 15.0, 15.0, 0.5, 3.0])
    assert float(wide.clipped_parameters()["sigma_center"][0]) == 20.0
    # The thesis fork's final state: every σ pinned to 1, the surround variance always 2.
    pinned = dog_with([1.0, 20.0, 15.0, 15.0, 0.5, 3.0], sigma_bounds=(1, 1))
    reference = dog_with([1.0, 1.0, 15.0, 15.0, 0.5, 1.0])
    np.testing.assert_array_equal(pinned(image), reference(image))


def test_random_init_covers_box_and_faithful_offset():
    layer = DifferenceOfGaussians(4000, seed=3)
    layer.build((None, 31, 31, 1))
    p = layer.dog.numpy()
    assert p[1].min() >= 1.0 and p[1].max() <= 25.0
    assert p[2].min() >= 2.0 and p[2].max() <= 29.0
    assert p[3].min() >= 2.0 and p[3].max() <= 29.0
    faithful = DifferenceOfGaussians(4000, seed=3, faithful_mu_y_offset=True)
    faithful.build((None, 31, 31, 1))
    mu_y = faithful.dog.numpy()[3]
    assert mu_y.min() >= 4.0 and mu_y.max() <= 31.0
    # U(4, 31): a fraction 2/27 ≈ 7.4 % beyond the clip at 29, where the centre never moves.
    assert np.mean(mu_y > 29.0) == pytest.approx(2 / 27, abs=0.015)


def test_replicas_equal_lone_layers():
    x = np.random.default_rng(4).normal(size=(5, 31, 31, 1)).astype("float32")
    seeds = [11, 12, 13]
    stacked = DifferenceOfGaussians(9, replicas=3, seed=seeds, bias_initializer="random_normal")(x)
    assert stacked.shape == (5, 3, 9)
    for r, s in enumerate(seeds):
        lone = DifferenceOfGaussians(9, seed=s, bias_initializer="random_normal")(x)
        np.testing.assert_allclose(stacked[:, r], lone, rtol=1e-5, atol=1e-6)


def test_same_seed_same_weights_different_seed_different():
    a = DifferenceOfGaussians(9, seed=5)
    b = DifferenceOfGaussians(9, seed=5)
    c = DifferenceOfGaussians(9, seed=6)
    for layer in (a, b, c):
        layer.build((None, 31, 31, 1))
    np.testing.assert_array_equal(a.dog.numpy(), b.dog.numpy())
    assert np.abs(a.dog.numpy() - c.dog.numpy()).max() > 0.1


@pytest.mark.parametrize("shape", [(None, 961), (None, 31, 31)])
def test_wrong_input_rank_is_a_clear_error(shape):
    layer = DifferenceOfGaussians(9, name="dog")
    with pytest.raises(ValueError, match=r"dog: expected images of shape \(batch, height, width, channels\)"):
        layer.build(shape)


def test_bad_arguments():
    with pytest.raises(ValueError, match="filters must be a positive int"):
        DifferenceOfGaussians(0)
    with pytest.raises(ValueError, match="sigma_bounds must be"):
        DifferenceOfGaussians(3, sigma_bounds=(5, 1))
    with pytest.raises(ValueError, match="one seed per replica"):
        DifferenceOfGaussians(3, replicas=2, seed=[1, 2, 3])
    with pytest.raises(ValueError, match="leave no room"):
        DifferenceOfGaussians(3).build((None, 4, 4, 1))


def test_ndnx_exports():
    assert ndnx.layers.DifferenceOfGaussians is DifferenceOfGaussians


def test_per_replica_images_equal_lone_layers():
    import ndnx
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 2, 15, 15, 2)).astype("float32")  # one image per replica
    layer = ndnx.layers.DifferenceOfGaussians(4, replicas=2, seed=[7, 8], activation="softplus",
                                              bias_initializer="random_normal")
    y = np.asarray(layer(x))
    assert y.shape == (3, 2, 4)
    for r, s in enumerate((7, 8)):
        lone = ndnx.layers.DifferenceOfGaussians(4, seed=s, activation="softplus", bias_initializer="random_normal")
        np.testing.assert_allclose(y[:, r], np.asarray(lone(x[:, r])), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="expected 2 replicas on axis 1, got 3"):
        ndnx.layers.DifferenceOfGaussians(4, replicas=2)(np.zeros((1, 3, 15, 15, 1), "float32"))


def test_constrained_parameters_stay_in_their_box():
    from ndnx.training import box_bounds

    x = np.random.default_rng(0).normal(size=(8, 31, 31, 1)).astype("float32")
    # the faithful μy offset draws some centres beyond the box: constrained starts them on it
    free = DifferenceOfGaussians(9, faithful_mu_y_offset=True, seed=3)
    boxed = DifferenceOfGaussians(9, faithful_mu_y_offset=True, constrained=True, seed=3)
    np.testing.assert_allclose(free(x), boxed(x), rtol=1e-5, atol=1e-6)  # the forward pass clips anyway
    hi = dog_sigma_upper_bound(31, 31)
    lower, upper = box_bounds(boxed.dog)
    np.testing.assert_allclose(lower[:, 0], [np.finfo("float32").eps, 1, 2, 2, np.finfo("float32").eps, 1], rtol=1e-6)
    np.testing.assert_allclose(upper[:, 0], [10, hi, 29, 29, 10, hi])  # α ≤ alpha_max = 10
    assert np.any(free.dog.numpy()[3] > 29) and np.all(boxed.dog.numpy()[3] <= 29)
    # a huge gradient step: projected back into the box
    optimizer = keras.optimizers.SGD(1e4)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(boxed(x) ** 2)
    optimizer.apply_gradients(zip(tape.gradient(loss, boxed.trainable_variables), boxed.trainable_variables))
    p = boxed.dog.numpy()
    assert np.all((p >= lower - 1e-6) & (p <= upper + 1e-6))
    assert DifferenceOfGaussians.from_config(boxed.get_config()).constrained
