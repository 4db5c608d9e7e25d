"""ndnx.constraints: NDN3's pos_constraint and E/I sign masks."""

import numpy as np
import keras
import pytest

import ndnx
from ndnx.constraints import NonNegative, SignMask

RNG = np.random.default_rng(0)


def test_non_negative_matches_keras_nonneg():
    w = RNG.normal(size=(5, 4)).astype("float32")
    np.testing.assert_array_equal(NonNegative()(w), np.maximum(w, 0))
    np.testing.assert_array_equal(NonNegative()(w), keras.constraints.NonNeg()(w))


def test_sign_mask_last_units_are_inhibitory():
    w = RNG.normal(size=(6, 3)).astype("float32")
    out = np.asarray(SignMask(2)(w))
    np.testing.assert_array_equal(out[:4], np.maximum(w[:4], 0))
    np.testing.assert_array_equal(out[4:], np.minimum(w[4:], 0))
    np.testing.assert_array_equal(SignMask(0)(w), np.maximum(w, 0))
    np.testing.assert_array_equal(SignMask(6)(w), np.minimum(w, 0))


def test_sign_mask_on_replicated_and_conv_kernels():
    dense = RNG.normal(size=(3, 6, 2)).astype("float32")  # (R, fan_in, units)
    out = np.asarray(SignMask(2)(dense))
    for r in range(3):
        np.testing.assert_array_equal(out[r], SignMask(2)(dense[r]))
    conv = RNG.normal(size=(2, 3, 3, 4, 5)).astype("float32")  # (R, kh, kw, C, F): axis −2 = C
    out = np.asarray(SignMask(1)(conv))
    assert np.all(out[..., :3, :] >= 0) and np.all(out[..., 3:, :] <= 0)
    axis0 = np.asarray(SignMask(1, axis=0)(dense))
    assert np.all(axis0[:2] >= 0) and np.all(axis0[2] <= 0)


def test_sign_mask_on_a_flattened_nhwc_axis():
    w = RNG.normal(size=(4 * 3, 2)).astype("float32")  # 4 pixels × 3 channels, channel fastest
    out = np.asarray(SignMask(1, channels=3)(w)).reshape(4, 3, 2)
    assert np.all(out[:, :2] >= 0) and np.all(out[:, 2] <= 0)
    with pytest.raises(ValueError, match="not a multiple of channels=5"):
        SignMask(1, channels=5)(w)


def test_dense_with_sign_mask_after_training_obeys_the_signs():
    x = RNG.normal(size=(32, 5)).astype("float32")
    y = RNG.normal(size=(32, 3)).astype("float32")
    inputs = keras.Input((5,))
    layer = ndnx.layers.Dense(3, kernel_constraint=SignMask(2), seed=0)
    model = keras.Model(inputs, layer(inputs))
    model.compile(keras.optimizers.SGD(0.5), loss="mse")
    before = layer.kernel.numpy().copy()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    k = layer.kernel.numpy()
    assert np.abs(k - before).max() > 0
    assert np.all(k[:3] >= 0) and np.all(k[3:] <= 0)
    assert np.any(k[:3] > 0) and np.any(k[3:] < 0)


def test_errors_and_config():
    with pytest.raises(ValueError, match="SignMask: num_inh must be an int >= 0"):
        SignMask(-1)
    with pytest.raises(ValueError, match=r"SignMask: num_inh \(7\) exceeds the 6 presynaptic units"):
        SignMask(7)(np.zeros((6, 2), "float32"))
    with pytest.raises(ValueError, match="SignMask: axis -3 is out of range"):
        SignMask(1, axis=-3)(np.zeros((6, 2), "float32"))
    mask = SignMask(2, axis=-1, channels=4)
    restored = keras.constraints.deserialize(keras.constraints.serialize(mask))
    assert isinstance(restored, SignMask) and restored.get_config() == mask.get_config()
    assert ndnx.constraints.NonNegative is NonNegative


def test_box_clips_broadcasts_over_replicas_and_gives_lbfgs_bounds():
    from ndnx.constraints import Box
    from ndnx.training import box_bounds

    box = Box([[0.0], [None]], [[1.0], [2.0]])  # row 0 in [0, 1], row 1 ≤ 2
    w = np.array([[[-1.0, 0.5, 3.0], [-9.0, 1.0, 7.0]]] * 2, "float32")  # (R=2, 2, 3)
    np.testing.assert_array_equal(box(w), [[[0.0, 0.5, 1.0], [-9.0, 1.0, 2.0]]] * 2)
    assert Box.from_config(box.get_config()).get_config() == {"lower": [[0.0], [None]], "upper": [[1.0], [2.0]]}
    inputs = keras.Input((2,))
    layer = ndnx.layers.Dense(3, kernel_constraint=box, seed=0)
    keras.Model(inputs, layer(inputs))
    lower, upper = box_bounds(layer.kernel)
    np.testing.assert_array_equal(lower, [[0, 0, 0], [-np.inf] * 3])
    np.testing.assert_array_equal(upper, [[1, 1, 1], [2, 2, 2]])
    with pytest.raises(ValueError, match="a lower bound exceeds its upper bound"):
        Box(1.0, 0.0)
    with pytest.raises(ValueError, match="do not broadcast"):
        Box([0.0, 0.0], [1.0, 1.0, 1.0])
