"""Per-neuron Pearson correlation (ndnx.metrics.correlation; v1 spec §3.4, §8 test 6): NumPy reference
against scipy.stats.pearsonr, the streaming metric against the reference whatever the batching."""

import numpy as np
import pytest
import tensorflow as tf
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


def test_streaming_constant_prediction_scores_exactly_zero():
    # the same degenerate policy as pearson_per_neuron: constant up to rounding → exactly 0, any batching
    y, _ = sample(6, t=1000)
    pred = np.full_like(y, 0.1)
    pred[:, 1], pred[:, 2] = 1 / 3, 1e4 + 1 / 3
    metric = PearsonCorrelation(units=5)
    for start in range(0, 1000, 64):
        metric.update_state(y[start:start + 64], pred[start:start + 64])
    assert np.asarray(metric.per_neuron()).tolist() == [0.0] * 5 and float(metric.result()) == 0.0


def test_streaming_row_weights_broadcast_from_the_left():
    y, pred = sample(8, t=60)
    rows = (np.random.default_rng(1).uniform(size=60) > 0.3).astype("float64")   # (batch,) as model.fit
    metric = PearsonCorrelation(units=5)
    for start in range(0, 60, 13):
        metric.update_state(y[start:start + 13], pred[start:start + 13], sample_weight=rows[start:start + 13])
    np.testing.assert_allclose(np.asarray(metric.per_neuron()), pearson_per_neuron(pred[rows > 0], y[rows > 0]),
                               rtol=1e-10)


def test_shape_errors():
    y, pred = sample()
    with pytest.raises(ValueError, match="do not match"):
        pearson_per_neuron(pred[:, :3], y)
    with pytest.raises(ValueError, match="expected predictions with 7 neurons"):
        PearsonCorrelation(units=7).update_state(y, pred)


def test_pearson_constant_up_to_rounding_scores_exactly_zero():
    y, _ = sample(6, t=1000)
    pred = np.full_like(y, 0.1)
    pred[:, 1] = 1 / 3
    assert pearson_per_neuron(pred, y).tolist() == [0.0] * y.shape[1]


def test_mean_pearson_nan_modes_against_scipy():
    from scipy.stats import pearsonr

    rng = np.random.default_rng(4)
    y = rng.normal(size=(30, 4))
    y[:, 1] = 2.0                                      # constant target: r undefined
    y[:, 2] = 5.0 + 1e-7 * rng.normal(size=30)         # varies, but below the 1e-5 std floor
    p = y + rng.normal(size=(30, 4))
    p[:, 3] = 1.0                                      # constant prediction: r undefined
    r0, r2 = pearsonr(p[:, 0], y[:, 0])[0], pearsonr(p[:, 2], y[:, 2])[0]
    assert mean_pearson(p, y) == pytest.approx((r0 + r2) / 4, abs=1e-12)
    assert mean_pearson(p, y, nan_mode="filter-NaNs") == pytest.approx((r0 + r2) / 2, abs=1e-12)
    # neurons 1 and 2 have a low-std target; neuron 3's undefined r still counts as 0
    assert mean_pearson(p, y, nan_mode="filter-low-std-gold") == pytest.approx(r0 / 2, abs=1e-12)
    # per replica, with a mask that leaves rows out
    mask = np.ones_like(y)
    mask[:5] = 0
    both = mean_pearson(np.stack([p, p], 1), y, mask, nan_mode="filter-NaNs")
    expected = (pearsonr(p[5:, 0], y[5:, 0])[0] + pearsonr(p[5:, 2], y[5:, 2])[0]) / 2
    np.testing.assert_allclose(both, [expected, expected], atol=1e-12)
    with pytest.raises(ValueError, match="nan_mode must be one of"):
        mean_pearson(p, y, nan_mode="drop")
