"""Poisson loss with NDN3 and NDNT normalisation (spec §5.1, §8 test 5)."""

import numpy as np
import pytest

from ndnx.losses import (GaussianLoss, PoissonLoss, apply_data_filter, poisson_log_likelihood_per_spike,
                         poisson_unit_norm)


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
    replicated = PoissonLoss(unit_norm=poisson_unit_norm(y), replica_axis=1)
    assert float(replicated(y, stacked)) == pytest.approx(float(loss(y, pred)) + float(loss(y, other)), rel=1e-5)
    ndnt = PoissonLoss(convention="ndnt")
    ndnt_replicated = PoissonLoss(convention="ndnt", replica_axis=1)
    assert float(ndnt_replicated(y, stacked)) == pytest.approx(float(ndnt(y, pred)) + float(ndnt(y, other)),
                                                               rel=1e-5)
    # per-replica targets: replica r against its own y_r
    targets = np.stack([y, y[::-1]], axis=1)
    assert float(replicated(targets, stacked)) == pytest.approx(
        float(loss(y, pred)) + float(loss(y[::-1], other)), rel=1e-5)


def test_sequences_carry_replicas_on_axis_2():
    y, pred = data(5, t=12)
    seq_y = y.reshape(3, 4, 4)  # (batch, time, neurons)
    a, b = pred.reshape(3, 4, 4), pred[::-1].reshape(3, 4, 4)
    stacked = np.stack([a, b], axis=2)  # (batch, time, R, neurons)
    for convention in ("ndn3", "ndnt"):
        alone = PoissonLoss(convention=convention)
        both = PoissonLoss(convention=convention, replica_axis=2)
        assert float(both(seq_y, stacked)) == pytest.approx(float(alone(seq_y, a)) + float(alone(seq_y, b)), rel=1e-5)
    g = GaussianLoss(replica_axis=2)
    assert float(g(seq_y, stacked)) == pytest.approx(((seq_y[:, :, None] - stacked) ** 2).sum() / 3, rel=1e-5)


def test_replica_axis_is_explicit():
    y, pred = data(6)
    stacked = np.stack([pred, pred], axis=1)
    with pytest.raises(ValueError, match=r"PoissonLoss: predictions \(7, 2, 4\) and targets \(7, 4\) differ in rank "
                                         "and replica_axis is None"):
        PoissonLoss()(y, stacked)
    with pytest.raises(ValueError, match="GaussianLoss: predictions"):
        GaussianLoss()(y, stacked)
    with pytest.raises(ValueError, match="replica_axis must be None or an int ≥ 1"):
        GaussianLoss(replica_axis=0)
    with pytest.raises(ValueError, match="replica_axis=1 must come before the last"):
        PoissonLoss(replica_axis=1)(y, pred)
    with pytest.raises(ValueError, match=r"carry the 2 replicas on axis 1"):
        PoissonLoss(replica_axis=1)(np.stack([y] * 3, axis=1), stacked)
    for loss in (PoissonLoss(replica_axis=2), GaussianLoss(replica_axis=1)):
        assert type(loss).from_config(loss.get_config()).replica_axis == loss.replica_axis


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


def test_data_filter_entries_contribute_nothing_and_rows_still_count():
    y, pred = data(3, t=6, n=3)
    mask = np.ones_like(y)
    mask[:3, 2] = 0  # neuron 2 not recorded in rows 0-2 (another region)
    filtered = np.asarray(apply_data_filter(y, mask), "float32")
    norm = poisson_unit_norm(filtered)
    np.testing.assert_allclose(norm[2], y[3:, 2].mean(), rtol=1e-6)
    term = (pred - y * np.log(pred + 1e-6)) / norm * mask
    expected = term.sum() / 6  # T = all rows, masked ones included
    assert float(PoissonLoss(unit_norm=norm)(filtered, pred)) == pytest.approx(expected, rel=1e-5)
    sq = ((y - pred) ** 2 * mask).sum() / 6
    assert float(GaussianLoss()(filtered, pred)) == pytest.approx(sq, rel=1e-5)


def test_data_filter_shape_error():
    with pytest.raises(ValueError, match=r"data filter has shape \(2, 3\), the responses \(2, 2\)"):
        apply_data_filter(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        apply_data_filter(np.ones((2, 2)), np.full((2, 2), 0.5))


def test_gaussian_conventions_and_replicas():
    y, pred = data(4)
    assert float(GaussianLoss()(y, pred)) == pytest.approx(((y - pred) ** 2).sum() / y.shape[0], rel=1e-5)
    assert float(GaussianLoss("ndnt")(y, pred)) == pytest.approx(((y - pred) ** 2).mean(), rel=1e-5)
    stacked = np.stack([pred, pred + 1], axis=1)
    g = GaussianLoss()
    assert float(GaussianLoss(replica_axis=1)(y, stacked)) == pytest.approx(float(g(y, pred)) + float(g(y, pred + 1)),
                                                                            rel=1e-5)


def test_null_adjusted_log_likelihood_per_spike():
    rng = np.random.default_rng(0)
    rates = rng.uniform(0.5, 3.0, size=(4000, 2))
    y = rng.poisson(rates).astype("float64")
    mean_rate = y.mean(axis=0)
    # The constant-rate model scores exactly 0 (up to ε) after null adjustment.
    null = poisson_log_likelihood_per_spike(np.tile(mean_rate, (4000, 1)), y, epsilon=0.0)
    np.testing.assert_allclose(null, 0.0, atol=1e-12)
    ll = poisson_log_likelihood_per_spike(rates, y)
    raw = poisson_log_likelihood_per_spike(rates, y, null_adjusted=False)
    np.testing.assert_allclose(raw, (y * np.log(rates + 1e-6) - rates).sum(0) / y.sum(0))
    np.testing.assert_allclose(ll, raw - (np.log(mean_rate) - 1), rtol=1e-12)
    assert np.all(ll > 0.05)  # the true rates beat the mean rate



def test_log_likelihood_per_spike_of_a_silent_neuron_divides_by_one():
    # NDN3 eval_models divides by max(Σ_t y, 1): a neuron without spikes scores −Σ_t ŷ, not NaN.
    rng = np.random.default_rng(1)
    rates = rng.uniform(0.5, 3.0, size=(50, 3))
    y = rng.poisson(rates).astype("float64")
    y[:, 1] = 0.0
    raw = poisson_log_likelihood_per_spike(rates, y, null_adjusted=False)
    by_hand = [(y[:, n] * np.log(rates[:, n] + 1e-6) - rates[:, n]).sum() / max(y[:, n].sum(), 1.0) for n in range(3)]
    np.testing.assert_allclose(raw, by_hand, rtol=1e-12)
    assert raw[1] == pytest.approx(-rates[:, 1].sum(), rel=1e-12)
    # Null adjustment subtracts the constant-rate model's LL per spike, (S log r̄ − S)/max(S, 1): log r̄ − 1
    # with spikes, 0 for a silent neuron (its best constant rate is 0), where log r̄ − 1 would give +∞.
    ll = poisson_log_likelihood_per_spike(rates, y)
    np.testing.assert_allclose(ll[[0, 2]], raw[[0, 2]] - (np.log(y[:, [0, 2]].mean(axis=0)) - 1), rtol=1e-12)
    assert ll[1] == pytest.approx(-rates[:, 1].sum(), rel=1e-12)
    # replicas: the same per replica
    stacked = np.stack([rates, 2 * rates], axis=1)
    np.testing.assert_allclose(poisson_log_likelihood_per_spike(stacked, y)[1],
                               poisson_log_likelihood_per_spike(2 * rates, y), rtol=1e-12)
    # a neuron with no recorded row at all (data filter) has no likelihood: NaN
    y[:, 2] = np.nan
    assert np.isnan(poisson_log_likelihood_per_spike(rates, y)[2])
