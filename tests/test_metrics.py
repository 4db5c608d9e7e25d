"""Per-neuron Pearson correlation: NumPy reference and streaming metric (spec §3.4, §8 test 6)."""

import numpy as np
import pytest
from scipy.stats import pearsonr

from ndnx.metrics import PearsonCorrelation, mean_pearson, pearson_per_neuron


def sample(seed=0, t=40, n=5):
    rng = np.random.default_rng(seed)
    y = rng.poisson(2.0, size=(t, n)).astype("float64")
    pred = y + rng.normal(0, 1.5, size=(t, n))
    return y, pred


def test_matches_scipy_per_neuron():
    y, pred = sample()
    expected = [pearsonr(pred[:, i], y[:, i])[0] for i in range(y.shape[1])]
    np.testing.assert_allclose(pearson_per_neuron(pred, y), expected, rtol=1e-10)


def test_mask_uses_only_unmasked_rows():
    y, pred = sample(1)
    mask = np.ones_like(y)
    mask[:15, 2] = 0
    r = pearson_per_neuron(pred, y, mask)
    assert r[2] == pytest.approx(pearsonr(pred[15:, 2], y[15:, 2])[0], rel=1e-10)
    assert r[0] == pytest.approx(pearsonr(pred[:, 0], y[:, 0])[0], rel=1e-10)


def test_constant_prediction_scores_zero_not_nan():
    y, pred = sample(2)
    pred[:, 1] = 3.0
    r = pearson_per_neuron(pred, y)
    assert r[1] == 0.0 and np.all(np.isfinite(r))


def test_replica_axis():
    y, pred = sample(3)
    stacked = np.stack([pred, -pred], axis=1)
    r = mean_pearson(stacked, y)
    assert r.shape == (2,)
    assert r[0] == pytest.approx(-r[1]) and r[0] == pytest.approx(mean_pearson(pred, y))


def test_streaming_equals_reference_whatever_the_batching():
    y, pred = sample(4, t=103)
    y[:, 4] = 1.0  # a silent-constant neuron scores 0
    mask = (np.random.default_rng(0).uniform(size=y.shape) > 0.2).astype("float64")
    metric = PearsonCorrelation(units=5)
    for start in range(0, 103, 16):
        metric.update_state(y[start:start + 16], pred[start:start + 16], sample_weight=mask[start:start + 16])
    assert float(metric.result()) == pytest.approx(mean_pearson(pred, y, mask), abs=1e-9)
    np.testing.assert_allclose(np.asarray(metric.per_neuron()), pearson_per_neuron(pred, y, mask), atol=1e-9)
    metric.reset_state()
    metric.update_state(y, pred)
    assert float(metric.result()) == pytest.approx(mean_pearson(pred, y), abs=1e-9)


def test_streaming_replicas():
    y, pred = sample(5)
    stacked = np.stack([pred, pred[::-1]], axis=1)
    metric = PearsonCorrelation(units=5, replicas=2)
    metric.update_state(y, stacked)
    assert float(metric.result()) == pytest.approx(mean_pearson(stacked, y).mean(), abs=1e-9)


def test_shape_errors():
    y, pred = sample()
    with pytest.raises(ValueError, match="do not match"):
        pearson_per_neuron(pred[:, :3], y)
    with pytest.raises(ValueError, match="expected predictions with 7 neurons"):
        PearsonCorrelation(units=7).update_state(y, pred)
