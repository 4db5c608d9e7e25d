"""Conv2D (NDN3 'conv'): Keras equivalence, NHWC filter layout for penalties, replicas."""

import numpy as np
import keras
import pytest
import tensorflow as tf

import ndnx
from ndnx.layers import Conv2D, Dense
from ndnx.regularizers import D2X, MaxFilt

RNG = np.random.default_rng(0)
IMAGES = RNG.normal(size=(3, 13, 12, 2)).astype("float32")


@pytest.mark.parametrize("strides,dilation,padding", [
    (1, 1, "same"), (2, 1, "same"), (1, 2, "same"), (2, 1, "valid"), (1, 2, "valid"), (3, 1, "same"),
])
def test_equals_keras_conv2d(strides, dilation, padding):
    ours = Conv2D(4, 5, strides=strides, dilation_rate=dilation, padding=padding, activation="relu",
                  bias_initializer="random_normal", seed=1)
    y = ours(IMAGES)
    ref = keras.layers.Conv2D(4, 5, strides=strides, dilation_rate=dilation, padding=padding, activation="relu")
    ref.build(IMAGES.shape)
    ref.set_weights([ours.kernel.numpy(), ours.bias.numpy()])
    expected = ref(IMAGES)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert tuple(ours.compute_output_shape((None,) + IMAGES.shape[1:])) == (None,) + tuple(expected.shape[1:])


def test_ndn3_defaults():
    layer = Conv2D(64, 7, seed=0)
    y = layer(np.zeros((1, 31, 31, 3), "float32"))
    assert y.shape == (1, 31, 31, 64)  # SAME padding
    assert layer.kernel.shape == (7, 7, 3, 64)
    assert np.std(layer.kernel.numpy()) == pytest.approx(0.1, rel=0.05)  # N(0, 0.1²)
    np.testing.assert_array_equal(layer.bias.numpy(), 0.0)
    assert Conv2D(2, 3, strides=2)(np.zeros((1, 31, 31, 1), "float32")).shape == (1, 16, 16, 2)  # ⌈31/2⌉


def test_kernel_penalty_equals_dense_penalty_on_the_same_filters():
    # A VALID conv on a kh×kw patch is a Dense layer on that patch: same outputs, same d2x / max_filt.
    patch = RNG.normal(size=(5, 5, 4, 2)).astype("float32")
    for reg in (D2X(0.7), D2X(0.7, boundary="free"), MaxFilt(0.3)):
        conv = Conv2D(3, (5, 4), padding="valid", kernel_regularizer=reg, seed=2)
        y_conv = conv(patch)
        dense = Dense(3, kernel_regularizer=reg)
        dense.build((None, 5, 4, 2))
        dense.kernel.assign(conv.kernel.numpy().reshape(5 * 4 * 2, 3))
        dense.bias.assign(conv.bias.numpy())
        np.testing.assert_allclose(y_conv[:, 0, 0, :], dense(patch), rtol=1e-5, atol=1e-6)
        assert float(sum(conv.losses)) == pytest.approx(float(sum(dense.losses)), rel=1e-6)
        assert float(sum(conv.losses)) > 0


def test_replicated_penalty_is_the_sum_over_replicas():
    seeds = [4, 5]
    stacked = Conv2D(3, 3, kernel_regularizer=D2X(0.5), replicas=2, seed=seeds)
    stacked(IMAGES)
    lone = []
    for s in seeds:
        layer = Conv2D(3, 3, kernel_regularizer=D2X(0.5), seed=s)
        layer(IMAGES)
        lone.append(float(sum(layer.losses)))
    assert float(sum(stacked.losses)) == pytest.approx(sum(lone), rel=1e-5)


@pytest.mark.parametrize("channels", [2, 9])
@pytest.mark.parametrize("strides,dilation", [(1, 1), (2, 2)])
def test_replicas_equal_lone_layers(channels, strides, dilation):
    seeds = [11, 12, 13]
    kwargs = dict(strides=strides, dilation_rate=dilation, bias_initializer="random_normal", activation="softplus")
    x = RNG.normal(size=(2, 3, 13, 12, channels)).astype("float32")
    shared = Conv2D(4, 3, replicas=3, seed=seeds, **kwargs)(x[:, 0])
    per_replica = Conv2D(4, 3, replicas=3, seed=seeds, **kwargs)(x)
    for r, s in enumerate(seeds):
        np.testing.assert_allclose(shared[:, r], Conv2D(4, 3, seed=s, **kwargs)(x[:, 0]), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(per_replica[:, r], Conv2D(4, 3, seed=s, **kwargs)(x[:, r]), rtol=1e-6, atol=1e-6)


def test_replicated_gradients_do_not_mix():
    layer = Conv2D(2, 3, replicas=2, seed=0)
    x = RNG.normal(size=(2, 2, 7, 7, 1)).astype("float32")
    layer(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x)[:, 0])
    grad = tape.gradient(loss, layer.kernel).numpy()
    assert np.abs(grad[0]).max() > 0 and np.abs(grad[1]).max() == 0


def test_conv_then_dense_in_a_saved_model(tmp_path):
    inputs = keras.Input((9, 9, 1))
    h = Conv2D(3, 3, strides=2, activation="relu", kernel_constraint=ndnx.constraints.SignMask(0), seed=0)(inputs)
    model = keras.Model(inputs, Dense(2, seed=1)(h))
    x = RNG.normal(size=(4, 9, 9, 1)).astype("float32")
    model.compile("adam", loss="mse")
    model.fit(x, np.ones((4, 2), "float32"), epochs=1, verbose=0)
    assert np.all(model.layers[1].kernel.numpy() >= 0)
    path = str(tmp_path / "conv.keras")
    model.save(path)
    np.testing.assert_array_equal(keras.saving.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))


def test_input_errors():
    with pytest.raises(ValueError, match=r"c1: expected input of shape \(batch, H, W, C\), got \(2, 9, 9\)"):
        Conv2D(3, 3, name="c1")(np.ones((2, 9, 9), "float32"))
    with pytest.raises(ValueError, match="c1: expected 2 replicas on axis 1, got 3"):
        Conv2D(3, 3, replicas=2, name="c1")(np.ones((2, 3, 9, 9, 1), "float32"))
    with pytest.raises(ValueError, match="c1: input height 4 is smaller than the dilated kernel"):
        Conv2D(3, 3, dilation_rate=2, padding="valid", name="c1")(np.ones((2, 4, 9, 1), "float32"))


def test_argument_errors():
    with pytest.raises(ValueError, match="filters must be a positive int"):
        Conv2D(0, 3)
    with pytest.raises(ValueError, match="kernel_size must be"):
        Conv2D(2, (3, 0))
    with pytest.raises(ValueError, match="padding must be one of"):
        Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="one seed per replica"):
        Conv2D(2, 3, replicas=2, seed=[1])


def test_config_round_trip_and_export():
    layer = Conv2D(2, (3, 5), strides=(1, 2), kernel_regularizer=D2X(0.1), replicas=2, seed=3)
    config = layer.get_config()
    assert Conv2D.from_config(config).get_config() == config
    assert ndnx.layers.Conv2D is Conv2D


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_stride_with_dilation_is_the_subsampled_dilated_conv(padding):
    # Keras' Conv2D refuses strides > 1 with dilation > 1; NDN3 (tf.nn.conv2d) allows it. On 13×13
    # inputs with an effective kernel of 5 the SAME padding of stride 1 and 2 coincide.
    x = RNG.normal(size=(2, 13, 13, 2)).astype("float32")
    strided = Conv2D(3, 3, strides=2, dilation_rate=2, padding=padding, seed=6)
    dense = Conv2D(3, 3, strides=1, dilation_rate=2, padding=padding, seed=6)
    np.testing.assert_allclose(strided(x), dense(x)[:, ::2, ::2], rtol=1e-5, atol=1e-6)
