"""Weight-normed layers: the effective kernel, and PyTorch-semantics geometry (spec cordsnet.md §8.3 test 8)."""

import keras
import numpy as np
import pytest

import ndnx
from tests.cordsnet_reference import avg_pool_include_pad, conv

RNG = np.random.default_rng(5)


def _ramp(shape):
    """A ramp image: every pixel a different value, so any shift of the sampling grid shows."""
    n, h, w, c = shape
    i, j, k = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return np.broadcast_to((i * w + j + 0.37 * k) / (h * w), shape).astype("float32").copy()


def _effective(g, v):
    return v * g / np.sqrt((v.astype(np.float64) ** 2).sum(axis=tuple(range(v.ndim - 1))))


@pytest.mark.parametrize("kernel,stride,pad", [(7, 2, 3), (3, 2, 1), (1, 2, 0), (3, 1, 1)])
def test_conv_geometry_matches_pytorch_semantics(kernel, stride, pad):
    x = _ramp((2, 13, 11, 2))
    layer = ndnx.layers.WeightNormConv2D(3, kernel, strides=stride, padding=pad, seed=0)
    y = np.asarray(layer(x))
    g = RNG.uniform(0.5, 2.0, size=3).astype("float32")
    layer.g.assign(g)
    w = _effective(g, layer.v.numpy())
    expected = conv(x, w, stride, pad)
    y = np.asarray(layer(x))
    assert y.shape == expected.shape == (2, (13 + 2 * pad - kernel) // stride + 1, (11 + 2 * pad - kernel) // stride + 1, 3)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_weight_norm_starts_at_v_and_folds_g_v_over_the_norm():
    layer = ndnx.layers.WeightNormConv2D(4, 3, padding="same", seed=1)
    layer.build((None, 5, 5, 2))
    v = layer.v.numpy()
    # PyTorch's weight_norm wraps a layer with g = ‖v‖, so the effective kernel is v itself.
    np.testing.assert_allclose(layer.g.numpy(), np.sqrt((v.astype(np.float64) ** 2).sum(axis=(0, 1, 2))), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(layer.folded_kernel()), v, rtol=1e-6, atol=1e-7)
    layer.g.assign([1.0, 2.0, 3.0, 4.0])
    folded = np.asarray(layer.folded_kernel())
    np.testing.assert_allclose(np.sqrt((folded.astype(np.float64) ** 2).sum(axis=(0, 1, 2))), [1, 2, 3, 4], rtol=1e-6)

    dense = ndnx.layers.WeightNormDense(3, seed=2)
    x = RNG.normal(size=(4, 5)).astype("float32")
    dense(x)
    dense.g.assign([0.5, 1.0, 1.5])
    w = _effective(np.array([0.5, 1.0, 1.5]), dense.v.numpy())
    np.testing.assert_allclose(np.asarray(dense(x)), x @ w + dense.bias.numpy(), rtol=1e-5, atol=1e-6)


def test_stem_pool_counts_the_padding():
    # A centre-tap stem on a constant image gives ones at 112×112; the 3×3/s2/p1 pool with
    # count_include_pad then gives 4/9 at the corner, 6/9 on the top row and left column, 1 inside
    # (spec §3 step 1b; stride 2 on an even size never reaches the bottom or right padding).
    cell = ndnx.cells.CordsNetCell(2, 224, 1, 2, seed=0)
    cell.build()
    k = cell.folded_weights()
    stem = np.zeros((7, 7, 1, 64), "float32")
    stem[3, 3, 0, :] = 1.0
    k["stem"] = stem
    pooled = np.asarray(cell.stem_output(np.ones((1, 224, 224, 1), "float32"), k))[0, :, :, 0]
    assert pooled.shape == (56, 56)
    assert pooled[0, 0] == pytest.approx(4 / 9)
    np.testing.assert_allclose(pooled[0, 1:], 6 / 9, rtol=1e-6)
    np.testing.assert_allclose(pooled[1:, 0], 6 / 9, rtol=1e-6)
    np.testing.assert_allclose(pooled[1:, 1:], 1.0, rtol=1e-6)


def test_stem_and_pool_match_pytorch_semantics_on_a_ramp():
    cell = ndnx.cells.CordsNetCell(2, (13, 11), 2, 2, seed=3)
    x = _ramp((1, 13, 11, 2))
    k = cell.folded_weights()
    w = _effective(cell.stem.g.numpy(), cell.stem.v.numpy())
    expected = avg_pool_include_pad(conv(x, w, 2, 3))
    got = np.asarray(cell.stem_output(x, k))
    assert got.shape == expected.shape == (1, 4, 3, 64)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        ndnx.layers.WeightNormConv2D(3, 3, strides=2, padding="same", name="c")
    with pytest.raises(ValueError, match="c: filters must be a positive int"):
        ndnx.layers.WeightNormConv2D(0, 3, name="c")
    with pytest.raises(ValueError, match="replicas must be None"):
        ndnx.layers.WeightNormDense(3, replicas=2)


@pytest.mark.parametrize("shape", [(2, 7, 7, 3), (1, 6, 9, 4), (1, 1, 2, 2)])
def test_winograd_convolution_is_the_pytorch_padding_1_convolution(shape):
    from ndnx.layers.winograd import winograd_conv3x3, winograd_kernel

    x = RNG.normal(size=shape).astype("float32")
    k = RNG.normal(size=(3, 3, shape[-1], 5)).astype("float32")
    expected = conv(x, k, 1, 1)
    got = np.asarray(winograd_conv3x3(x, winograd_kernel(k)))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-6 * np.abs(expected).max())


def test_dirac_initializer_is_the_identity_convolution_plus_its_seeded_noise():
    init = ndnx.layers.DiracInitializer(gain=1.0)
    x = RNG.normal(size=(2, 6, 5, 3)).astype("float32")
    layer = ndnx.layers.WeightNormConv2D(3, 3, padding="same", kernel_initializer=init, seed=0)
    np.testing.assert_allclose(np.asarray(layer(x)), x, rtol=1e-6, atol=1e-6)  # a "same" conv with δ passes x
    # more outputs than inputs: the extra channels get no identity tap; a dense kernel gets gain·I
    k = np.asarray(ndnx.layers.DiracInitializer(gain=2.0)((3, 3, 2, 4)))
    expected = np.zeros((3, 3, 2, 4))
    expected[1, 1, [0, 1], [0, 1]] = 2.0
    np.testing.assert_array_equal(k, expected)
    np.testing.assert_array_equal(np.asarray(ndnx.layers.DiracInitializer(gain=3.0)((4, 3))), 3.0 * np.eye(4, 3))
    # the noise is the noise initializer's draw with the Dirac's seed (a seeded layer seeds it)
    noise = keras.initializers.RandomNormal(0.0, 0.1, seed=7)
    noisy = ndnx.layers.DiracInitializer(noise=keras.initializers.RandomNormal(0.0, 0.1), seed=7)((3, 3, 2, 2))
    dirac = np.zeros((3, 3, 2, 2))
    dirac[1, 1, [0, 1], [0, 1]] = 1.0
    np.testing.assert_allclose(np.asarray(noisy) - dirac, np.asarray(noise((3, 3, 2, 2))), atol=1e-7)
    with pytest.raises(ValueError, match=r"DiracInitializer: expected a kernel of rank ≥ 2 .*got shape \(4,\)"):
        init((4,))


def test_trainable_gain_false_freezes_g_and_survives_get_config():
    conv = ndnx.layers.WeightNormConv2D(2, 3, padding=1, trainable_gain=False, seed=0)
    conv.build((None, 5, 5, 2))
    assert [w.name for w in conv.trainable_weights] == ["v"] and [w.name for w in conv.non_trainable_weights] == ["g"]
    clone = ndnx.layers.WeightNormConv2D.from_config(conv.get_config())
    clone.build((None, 5, 5, 2))
    assert not clone.g.trainable and clone.get_config()["trainable_gain"] is False
    dense = ndnx.layers.WeightNormDense(3, trainable_gain=False, seed=0)
    dense.build((None, 4))
    assert sorted(w.name for w in dense.trainable_weights) == ["bias", "v"]
    assert ndnx.layers.WeightNormDense.from_config(dense.get_config()).trainable_gain is False
