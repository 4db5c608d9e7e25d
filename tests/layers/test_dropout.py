"""Dropout: alone it is keras.layers.Dropout draw for draw; replica r draws the lone seed r's masks."""

import numpy as np
import keras
import pytest

from ndnx.layers import Dense, Dropout

RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 3, 10)).astype("float32")  # (batch, R, units)


def test_alone_it_draws_what_keras_dropout_draws():
    ours, theirs = Dropout(0.3, seed=17), keras.layers.Dropout(0.3, seed=17)
    for _ in range(3):  # call after call: the same generator states
        np.testing.assert_array_equal(ours(X[:, 0], training=True), theirs(X[:, 0], training=True))
    np.testing.assert_array_equal(ours(X[:, 0]), X[:, 0])  # inference: identity


def test_replica_r_drops_what_the_lone_layer_with_seed_r_drops():
    layer = Dropout(0.5, replicas=3, seed=2)
    lone = [Dropout(0.5, seed=s) for s in layer.replica_seeds]
    for _ in range(2):
        y = np.asarray(layer(X, training=True))
        for r in range(3):
            np.testing.assert_array_equal(y[:, r], lone[r](X[:, r], training=True))
    kept = y != 0
    np.testing.assert_allclose(y[kept], 2.0 * X[kept], rtol=1e-6)  # scaled by 1 / (1 − rate)
    assert not np.array_equal(kept[:, 0], kept[:, 1])  # the replicas' masks differ


def test_a_shared_input_gets_one_mask_per_replica():
    layer = Dropout(0.5, replicas=2, seed=[5, 6], per_replica_input=False)
    x = X[:, 0]
    y = np.asarray(layer(x, training=True))
    assert y.shape == (6, 2, 10) and tuple(layer.compute_output_shape(x.shape)) == (6, 2, 10)
    for r, seed in enumerate([5, 6]):
        np.testing.assert_array_equal(y[:, r], Dropout(0.5, seed=seed)(x, training=True))
    np.testing.assert_array_equal(layer(x), np.stack([x, x], axis=1))


def test_noise_shape_is_one_replicas():
    layer = Dropout(0.5, noise_shape=(None, 1), replicas=3, seed=1)
    y = np.asarray(layer(X, training=True))
    for r in range(3):
        np.testing.assert_array_equal(y[:, r], Dropout(0.5, noise_shape=(None, 1), seed=layer.replica_seeds[r])(
            X[:, r], training=True))
        rows_dropped = np.all(y[:, r] == 0, axis=1)
        rows_kept = np.all(np.isclose(y[:, r], 2 * X[:, r]), axis=1)
        assert np.all(rows_dropped | rows_kept)  # one draw per row, shared along the units


def test_in_a_model_and_config():
    inputs = keras.Input((4,))
    outputs = Dropout(0.25, replicas=2, seed=[1, 2])(Dense(5, replicas=2, seed=[1, 2])(inputs))
    model = keras.Model(inputs, outputs)
    assert model.output_shape == (None, 2, 5)
    layer = model.layers[-1]
    clone = Dropout.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert layer.get_config()["seed"] == [1, 2] and layer.get_config()["rate"] == 0.25


def test_errors():
    with pytest.raises(ValueError, match=r"drop: rate must be a number in \[0, 1\), got 1.0"):
        Dropout(1.0, name="drop")
    with pytest.raises(ValueError, match=r"drop: expected input of shape \(batch, 3, \.\.\.\), got \(6, 2, 10\)"):
        Dropout(0.5, replicas=3, name="drop")(X[:, :2])
    with pytest.raises(ValueError, match="drop: noise_shape .* must have the rank 2 of one replica's input"):
        Dropout(0.5, noise_shape=(None, 1, 1), replicas=3, name="drop")(X)
    with pytest.raises(ValueError, match="drop: seed must be an int, None or one int per replica, got 1.5"):
        Dropout(0.5, replicas=3, seed=1.5, name="drop")
