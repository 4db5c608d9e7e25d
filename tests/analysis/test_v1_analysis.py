"""Effective hidden kernels and Hungarian matching."""

import numpy as np
import pytest

import ndnx
from ndnx.analysis.v1 import dog_kernels_of, effective_hidden_kernels, match_kernels
from ndnx.data.synthetic_v1 import dog_kernels


def test_dog_kernels_match_the_numpy_generator():
    layer = ndnx.layers.DifferenceOfGaussians(2, dtype="float64")
    layer.build((None, 31, 31, 1))
    params = np.array([[2.0, 2.0, 15.0, 10.0, 1.0, 4.0], [1.0, 3.0, 7.0, 20.0, 0.5, 2.0]])
    layer.dog.assign(params.T)
    np.testing.assert_allclose(dog_kernels_of(layer), dog_kernels(params), atol=1e-12)


def test_effective_kernels_of_replica_equal_lone_model():
    ensemble = ndnx.models.v1.hsm(15, seed=0, replicas=3)
    alone = ndnx.models.v1.hsm(15, seed=2)
    np.testing.assert_allclose(effective_hidden_kernels(ensemble, replica=2), effective_hidden_kernels(alone),
                               rtol=1e-5, atol=1e-7)
    k = effective_hidden_kernels(alone)
    w1 = alone.get_layer("hidden").kernel.numpy()
    np.testing.assert_allclose(k[1], np.tensordot(w1[:, 1], dog_kernels_of(alone.get_layer("dog")), 1), atol=1e-6)
    with pytest.raises(ValueError, match="replicated layer"):
        effective_hidden_kernels(ensemble)


def test_match_kernels_recovers_a_permutation_up_to_noise():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(6, 31, 31))
    perm = rng.permutation(6)
    estimated = 3.0 * truth[perm] + 0.1 * rng.normal(size=truth.shape)
    rows, cols, corr = match_kernels(estimated, truth)
    np.testing.assert_array_equal(cols, np.arange(6))
    np.testing.assert_array_equal(perm[rows], cols)
    assert corr.min() > 0.99
    flat = match_kernels(np.zeros((2, 31, 31)), truth)[2]
    np.testing.assert_array_equal(flat, 0.0)
