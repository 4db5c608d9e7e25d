"""Poisson loss with NDN3 and NDNT normalisation (spec §5.1, §8 test 5)."""

import numpy as np
import pytest

from ndnx.losses import PoissonLoss, poisson_unit_norm


def data(seed=0, t=7, n=4):
    rng = np.random.default_rng(seed)
    y = rng.poisson(2.0, size=(t, n)).astype("float32")
    pred = rng.uniform(0.1, 4.0, size=(t, n)).astype("float32")
    return y, pred


def test_ndn3_formula():
    y, pred = data()
    norm = poisson_unit_norm(y)
    expected = -np.sum((y * np.log(pred + 1e-6) - pred) / norm) / y.shape[0]
    got = float(PoissonLoss(unit_norm=norm)(y, pred))
    assert got == pytest.approx(expected, rel=1e-5)


def test_ndnt_mean():
    y, pred = data(1)
    expected = np.mean(pred - y * np.log(pred + 1e-8))
    assert float(PoissonLoss(convention="ndnt")(y, pred)) == pytest.approx(expected, rel=1e-5)


def test_replica_axis_sums_replicas():
    y, pred = data(2)
    other = pred[::-1].copy()
    stacked = np.stack([pred, other], axis=1)
    loss = PoissonLoss(unit_norm=poisson_unit_norm(y))
    assert float(loss(y, stacked)) == pytest.approx(float(loss(y, pred)) + float(loss(y, other)), rel=1e-5)
    ndnt = PoissonLoss(convention="ndnt")
    assert float(ndnt(y, stacked)) == pytest.approx(float(ndnt(y, pred)) + float(ndnt(y, other)), rel=1e-5)


def test_unit_norm_is_training_mean_with_floor():
    y = np.array([[0.0, 1.0], [0.0, 3.0]])
    np.testing.assert_allclose(poisson_unit_norm(y), [1e-6, 2.0])


def test_errors():
    with pytest.raises(ValueError, match="convention must be"):
        PoissonLoss(convention="mean")
    with pytest.raises(ValueError, match="positive and finite"):
        PoissonLoss(unit_norm=[1.0, 0.0])
    with pytest.raises(ValueError, match="expected responses"):
        poisson_unit_norm(np.ones(3))
    y, pred = data()
    with pytest.raises(ValueError, match="unit_norm has 3 neurons, predictions have 4"):
        PoissonLoss(unit_norm=[1.0, 1.0, 1.0])(y, pred)
