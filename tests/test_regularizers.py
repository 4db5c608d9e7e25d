"""L1/L2 under the NDN3 (sums, ½ in l2) and NDNT (means) conventions (spec §8 test 4)."""

import numpy as np
import pytest

import ndnx
from ndnx.regularizers import L1, L2

W = np.array([1.0, 2.0, 2.0], "float32")


def test_l2_conventions():
    assert float(L2(1.0)(W)) == pytest.approx(4.5)
    assert float(L2(1.0, convention="ndnt")(W)) == pytest.approx(3.0)


def test_l1_conventions():
    assert float(L1(1.0)(W)) == pytest.approx(5.0)
    assert float(L1(1.0, convention="ndnt")(W)) == pytest.approx(5.0 / 3.0)


def test_unknown_convention():
    with pytest.raises(ValueError, match="convention must be one of"):
        L2(1.0, convention="keras")


def test_penalty_of_replicated_layer_is_sum_of_lone_penalties():
    x = np.ones((2, 4), "float32")
    seeds = [3, 4]
    for reg in (L2(0.7), L2(0.7, convention="ndnt"), L1(0.2, convention="ndnt")):
        stacked = ndnx.layers.Dense(3, replicas=2, seed=seeds, kernel_regularizer=reg)
        stacked(x)
        lone = []
        for s in seeds:
            layer = ndnx.layers.Dense(3, seed=s, kernel_regularizer=reg)
            layer(x)
            lone.append(float(layer.losses[0]))
        assert float(stacked.losses[0]) == pytest.approx(sum(lone), rel=1e-6)
