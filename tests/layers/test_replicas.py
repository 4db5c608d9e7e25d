"""The replica protocol: constructor checks, seeds, recorded replicated weights, config transforms."""

import numpy as np
import keras
import pytest

import ndnx
import ndnx.training
from ndnx.layers import Dense, GaussianReadout, MLPShifter
from ndnx.layers.replicas import (ReplicatedLayer, child_seeds, layer_seeds, lone_config, normalize_replica_seeds,
                                  num_replicas, replicated_variable_ids)
from ndnx.seeding import derive_seed


def test_constructor_arguments_are_checked_in_one_line():
    for replicas, shown in ((0, "0"), (True, "True"), ("2", "'2'"), (2.0, "2.0")):
        with pytest.raises(ValueError, match=f"^h: replicas must be a positive int or None, got {shown}$"):
            Dense(3, replicas=replicas, name="h")
    with pytest.raises(ValueError, match=r"^h: seed must be an int or None, got 'a'$"):
        Dense(3, seed="a", name="h")
    with pytest.raises(ValueError, match=r"^h: seed must be an int or None when replicas is None, got a list of 2$"):
        Dense(3, seed=[1, 2], name="h")
    with pytest.raises(ValueError, match=r"^h: expected one seed per replica \(3\), got 2 seeds$"):
        Dense(3, replicas=3, seed=[1, 2], name="h")
    with pytest.raises(ValueError, match=r"^h: seed must be a list of ints, got \[1, 2.5\]$"):
        Dense(3, replicas=2, seed=[1, 2.5], name="h")


def test_seeds_of_the_replicas():
    assert normalize_replica_seeds("x", 7, 3) == [derive_seed(7, r) for r in range(3)]
    assert normalize_replica_seeds("x", [4, 5], 2) == [4, 5]
    assert normalize_replica_seeds("x", np.int64(7), None) == [7]
    assert normalize_replica_seeds("x", None, 3) is None
    assert layer_seeds(3, 2, "hidden") == [derive_seed(3, "hidden"), derive_seed(4, "hidden")]
    assert child_seeds([4, 5], 2, "grid0") == [derive_seed(4, "grid0"), derive_seed(5, "grid0")]
    assert child_seeds([4], None, "grid0") == derive_seed(4, "grid0")
    # the builders' re-exports
    assert ndnx.models.ffnetwork.layer_seeds is layer_seeds and ndnx.models.v1.layer_seeds is layer_seeds
    assert ndnx.training.num_replicas is num_replicas is ndnx.training.ensemble.num_replicas
    assert ndnx.training.all_layers is ndnx.layers.replicas.all_layers


def test_replicated_weights_are_recorded_and_are_the_lone_weights():
    layer = GaussianReadout(4, grid_mean_predictor={"hidden_features": 3}, source_grid=np.zeros((4, 2)).tolist(),
                            replicas=2, seed=[3, 8])
    layer(np.ones((2, 5, 5, 3), "float32"))
    own = {w.path for w in layer.replica_weights}
    assert own == {w.path for w in (layer.sigma, layer.features, layer.bias)}
    # the grid MLP's Dense layers record theirs
    ids = replicated_variable_ids(layer)
    assert all(id(w) in ids for w in layer.weights) and len(ids) == len(layer.weights)
    lone = GaussianReadout(4, grid_mean_predictor={"hidden_features": 3}, source_grid=np.zeros((4, 2)).tolist(),
                           seed=8)
    lone(np.ones((2, 5, 5, 3), "float32"))
    for w, w_lone in zip(layer.weights, lone.weights):
        np.testing.assert_array_equal(w.numpy()[1], w_lone.numpy())
    plain = Dense(3, seed=0)
    plain(np.ones((2, 4), "float32"))
    assert plain.replica_weights == [] and replicated_variable_ids(plain) == set()


def test_lone_config_rewrites_every_replicated_entry():
    shifter = MLPShifter(hidden_units=3, num_layers=2, replicas=3, seed=11)
    shifter(np.zeros((2, 2), "float32"))
    config = keras.saving.serialize_keras_object(shifter)
    single = lone_config(config, 2)
    assert single["config"]["replicas"] is None and single["config"]["seed"] == derive_seed(11, 2)
    assert "build_config" not in single
    assert config["config"]["replicas"] == 3  # the original is untouched
    rebuilt = keras.saving.deserialize_keras_object(single)
    x = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    lone = MLPShifter(hidden_units=3, num_layers=2, seed=derive_seed(11, 2))
    np.testing.assert_allclose(rebuilt(x), lone(x), atol=0)
    np.testing.assert_allclose(np.asarray(shifter(x))[:, 2], lone(x), atol=1e-6)
    with pytest.raises(ValueError, match=r"replica index must be in \[0, 3\), got 3"):
        lone_config(config, 3)


def test_replica_map_and_input_split():
    class Noisy(ReplicatedLayer):
        """x + ε, ε ~ N(0, 1) drawn per replica."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.generators = self.add_replica_generators("noise")

        def call(self, x):
            return self.replica_map(lambda r, xr: xr + keras.random.normal(keras.ops.shape(xr),
                                                                         seed=self.generators[r]), x)

    x = np.zeros((3, 2, 4), "float32")
    both = np.asarray(Noisy(replicas=2, seed=5)(x))
    seeds = normalize_replica_seeds("n", 5, 2)
    for r in range(2):
        np.testing.assert_array_equal(both[:, r], Noisy(seed=seeds[r])(x[:, r]))
    layer = Noisy(replicas=2, seed=5, name="noisy")
    assert layer.split_replica_input((None, 2, 4), {1: "features"}) == (True, (4,))
    assert layer.split_replica_input((None, 4), {1: "features"}) == (False, (4,))
    with pytest.raises(ValueError, match=r"^noisy: expected input of shape \(batch, features\) or "
                                         r"\(batch, replicas, features\), got \(None, 2, 4, 1\)$"):
        layer.split_replica_input((None, 2, 4, 1), {1: "features"})
    with pytest.raises(ValueError, match="noisy: replica generators 'noise' already exist"):
        layer.add_replica_generators("noise")
