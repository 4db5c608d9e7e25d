"""Dense ('normal'): spatial (NHWC) inputs are flattened as NDN3 flattens, with and without replicas,
and spatial regularizers are bound to the input's filter shape."""

import numpy as np
import keras
import pytest

import ndnx
from ndnx.layers import Dense
from ndnx.regularizers import D2X, L2

RNG = np.random.default_rng(0)
IMAGES = RNG.normal(size=(3, 5, 4, 2)).astype("float32")


def test_spatial_input_equals_flattening_first():
    spatial = Dense(3, activation="softplus", seed=7)
    flat = Dense(3, activation="softplus", seed=7)
    y = spatial(IMAGES)
    assert spatial.kernel.shape == (40, 3)
    np.testing.assert_array_equal(y, flat(IMAGES.reshape(3, -1)))
    # kernel row of input entry (y, x, c) is (y·W + x)·C + c
    x = np.zeros((1, 5, 4, 2), "float32")
    x[0, 2, 3, 1] = 1.0
    no_bias = Dense(3, use_bias=False, seed=7)
    np.testing.assert_allclose(no_bias(x), no_bias.kernel.numpy()[[(2 * 4 + 3) * 2 + 1]], rtol=1e-6)
    assert tuple(spatial.compute_output_shape((None, 5, 4, 2))) == (None, 3)


def test_replicated_spatial_inputs():
    seeds = [1, 2]
    shared = Dense(3, replicas=2, seed=seeds)
    y = shared(IMAGES)
    assert y.shape == (3, 2, 3)
    for r, s in enumerate(seeds):
        np.testing.assert_allclose(y[:, r], Dense(3, seed=s)(IMAGES), rtol=1e-6, atol=1e-6)
    per_replica = np.stack([IMAGES, -IMAGES], axis=1)  # (batch, R, H, W, C)
    stacked = Dense(3, replicas=2, seed=seeds)
    y = stacked(per_replica)
    np.testing.assert_allclose(y[:, 0], Dense(3, seed=1)(IMAGES), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(y[:, 1], Dense(3, seed=2)(-IMAGES), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(y, Dense(3, replicas=2, seed=seeds)(per_replica.reshape(3, 2, -1)),
                               rtol=1e-6, atol=1e-6)
    assert tuple(stacked.compute_output_shape((None, 2, 5, 4, 2))) == (None, 2, 3)


def test_input_shape_errors():
    with pytest.raises(ValueError, match=r"hidden: expected input of shape \(batch, features\) or "
                                         r"\(batch, H, W, C\), got \(2, 3, 4\)"):
        Dense(3, name="hidden")(np.ones((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match="hidden: expected 2 replicas on axis 1, got 3"):
        Dense(3, replicas=2, name="hidden")(np.ones((2, 3, 5, 4, 2), "float32"))
    with pytest.raises(ValueError, match="expected input of shape"):
        Dense(3, replicas=2)(np.ones((2, 2, 3, 5, 4, 2), "float32"))


def test_spatial_regularizer_in_a_saved_model(tmp_path):
    inputs = keras.Input((5, 4, 2))
    dense = Dense(3, kernel_regularizer=ndnx.regularizers.Combined([D2X(0.3), L2(0.1)]), seed=0)
    model = keras.Model(inputs, dense(inputs))
    model.compile("adam", loss="mse", jit_compile=True)
    model.fit(IMAGES, np.ones((3, 3), "float32"), epochs=1, verbose=0)
    path = str(tmp_path / "spatial.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(IMAGES, verbose=0), model.predict(IMAGES, verbose=0))
    assert float(sum(reloaded.losses)) == pytest.approx(float(sum(model.losses)), rel=1e-6)
    kernel = model.layers[-1].kernel.numpy()
    expected = float(D2X(0.3, filter_shape=(5, 4, 2))(kernel)) + 0.05 * float(np.sum(kernel ** 2))
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("normalize", ["l2", "max_norm"])
def test_weight_normalisation_and_the_penalty_of_the_normalised_kernel(normalize):
    x = RNG.normal(size=(6, 4)).astype("float32")
    layer = Dense(3, normalize=normalize, kernel_regularizer=L2(0.5), use_bias=False, seed=0)
    layer(x)
    w = np.array([[3.0, 0.1, 0.0], [4.0, 0.2, 0.0], [0.0, 0.2, 0.0], [0.0, 0.0, 0.0]], "float32")
    layer.kernel.assign(w)
    norms = np.linalg.norm(w, axis=0)  # 5, 0.3, 0
    if normalize == "l2":
        expected = w / np.maximum(norms, 1e-6)  # unit columns; the zero column stays 0
    else:
        expected = w / np.maximum(norms, 1.0)  # only the column longer than 1 shrinks
    np.testing.assert_allclose(layer.effective_kernel(), expected, rtol=1e-6)
    np.testing.assert_allclose(layer(x), x @ expected, rtol=1e-5, atol=1e-6)
    # NDN3 l2 = λ·½Σw² of the weights as used: 0.5·½·(1 + 1) for "l2", 0.5·½·(1 + 0.09) for "max_norm"
    assert float(sum(layer.losses)) == pytest.approx(0.25 * (2.0 if normalize == "l2" else 1.09), rel=1e-5)
    assert Dense.from_config(layer.get_config()).normalize == normalize


def test_normalised_replicas_equal_lone_layers_and_bad_normalize():
    x = RNG.normal(size=(6, 4)).astype("float32")
    both = Dense(3, normalize="l2", kernel_regularizer=L2(0.1), replicas=2, seed=[4, 5])
    y = both(x)
    penalties = []
    for r, s in enumerate((4, 5)):
        alone = Dense(3, normalize="l2", kernel_regularizer=L2(0.1), seed=s)
        np.testing.assert_allclose(y[:, r], alone(x), rtol=1e-5, atol=1e-6)
        penalties.append(float(sum(alone.losses)))
    assert float(sum(both.losses)) == pytest.approx(sum(penalties), rel=1e-5)
    with pytest.raises(ValueError, match=r"normalize must be one of \(None, 'l2', 'max_norm'\), got 'unit'"):
        Dense(3, normalize="unit")
