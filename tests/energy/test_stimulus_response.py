"""ndnx.analysis.stimulus_response on synthetic recordings with planted answers (spec energy_sampling_nrflv.md §3.4)."""

import numpy as np
import pytest

from ndnx.analysis.stimulus_response import active_units, channel_lags, contrast_transients, fit_tuning, \
    matched_lfp, matched_units, mean_by_group, psd_peaks, site_traces, bar_sites, synchrony

ANGLES = np.arange(128) * 2 * np.pi / 128


def test_active_units_welch_t_and_higher_mean():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(300, 3))
    during = np.r_[np.zeros(100, bool), np.ones(100, bool), np.zeros(100, bool)]
    traces = base.copy()
    traces[during, 0] += 1.0   # up during: active
    traces[during, 1] -= 1.0   # down during: significant but not active
    traces[:, 2] = np.tile([0.0, 1.0], 150)   # the same values during and outside: t = 0, p = 1
    out = active_units(traces, np.flatnonzero(during), np.flatnonzero(~during))
    assert out["active"].tolist() == [True, False, False]
    a, b = traces[during, 0], traces[~during, 0]   # Welch's t from its formula
    t = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    np.testing.assert_allclose(out["t"][0], t, rtol=1e-12)
    assert out["p"][1] < 1e-6 and out["t"][2] == 0.0 and out["p"][2] == 1.0
    # Shapiro–Wilk per unit and group, as scipy computes it for that unit alone; a constant unit gives NaN
    traces[~during, 1] = 3.0
    normal = active_units(traces, np.flatnonzero(during), np.flatnonzero(~during), normality=True)
    for unit in range(3):
        w, p = __import__("scipy").stats.shapiro(traces[during, unit])
        assert normal["w_during"][unit] == pytest.approx(w, rel=1e-12) and normal["p_normal_during"][unit] == pytest.approx(p)
    assert normal["w_during"][0] > 0.97 and normal["p_normal_during"][2] < 1e-10   # Gaussian vs two-valued
    assert np.isnan(normal["w_outside"][1]) and np.isnan(normal["p_normal_outside"][1])


@pytest.mark.parametrize("harmonic, index", [(1, 37), (2, 11)])
def test_fit_tuning_recovers_planted_harmonic_preference_and_amplitude(harmonic, index):
    fit = fit_tuning(ANGLES, 2.0 + 0.5 * np.cos(harmonic * (ANGLES - ANGLES[index])))
    # a pure cosine normalised to unit norm over 128 points has amplitude 1/√64 = 0.125
    assert fit["harmonic"] == harmonic and fit["tuned"]
    np.testing.assert_allclose(fit["amplitude"], 0.125, rtol=1e-12)
    assert fit["preferred"] in ANGLES[[index, (index + 64) % 128]][:harmonic]
    flat = fit_tuning(ANGLES, np.cos(5 * ANGLES))   # orthogonal to both models: a = 0, untuned
    assert flat["amplitude"] < 1e-12 and not flat["tuned"]


def test_matched_units_within_ten_degrees_on_the_circle():
    preferred = np.deg2rad([0.0, 90.0, 355.0])
    matched = matched_units(preferred, np.deg2rad([5.0, 100.5, 180.0]))
    assert matched.tolist() == [[True, False, True], [False, False, False], [False, False, False]]


def test_matched_lfp_sums_matched_channels_only():
    traces = np.arange(2 * 3 * 2 * 2 * 4, dtype=float).reshape(2, 3, 2, 2, 4)
    matched = np.zeros((3, 4), bool)
    matched[1, [0, 2]] = True
    lfp = matched_lfp(traces, matched)
    np.testing.assert_array_equal(lfp[:, 0], 0.0)
    np.testing.assert_array_equal(lfp[:, 1], traces[:, 1][..., [0, 2]].sum(axis=(1, 2, 3)))


def test_psd_peaks_prominence_rule_and_power():
    t = np.arange(8000)
    # sines at bin centres: 'spectrum' scaling gives A²/2 at each; the 0.5-amplitude one (0.125) is below max/2
    peaks = psd_peaks(np.sin(2 * np.pi * 0.1 * t) + 0.5 * np.sin(2 * np.pi * 0.25 * t) + 0.01 * t, nperseg=1000)
    np.testing.assert_allclose(peaks["frequencies"], [0.1])
    np.testing.assert_allclose(peaks["powers"], [0.5], rtol=1e-6)
    two = psd_peaks(np.sin(2 * np.pi * 0.1 * t) + 0.8 * np.sin(2 * np.pi * 0.25 * t), nperseg=1000)
    np.testing.assert_allclose(two["frequencies"], [0.1, 0.25])
    np.testing.assert_allclose(two["powers"], [0.5, 0.32], rtol=1e-6)
    f, psd = two["spectrum"]
    np.testing.assert_allclose(two["weighted_sum"], np.sum(f * psd))


def test_contrast_transients_of_planted_overshoots():
    steps, onset, offset = 400, 150, 300
    contrasts = np.array([0.0, 0.0, 1.0, 2.0])
    traces = np.zeros((steps, 4, 2))
    for k, c in enumerate(contrasts):
        traces[onset:offset, k] = 0.1 * c
        traces[onset:onset + 5, k] += c          # an overshoot of height c at the onset
    out = contrast_transients(traces, contrasts, onset, offset, slice(0, onset), before=10, after=20)
    assert sorted(out) == [0.0, 1.0, 2.0]
    for c, (on, off) in out.items():
        copies = 2 * (2 if c == 0 else 1)          # units summed: 2 channels × stimuli of this contrast
        np.testing.assert_allclose(on[10:15], copies * 1.1 * c)
        np.testing.assert_allclose(on[15:], copies * 0.1 * c)
        np.testing.assert_allclose(off[10:], 0.0)


def test_channel_lags_are_per_channel_not_cumulative():
    t = np.arange(1200)
    planted = np.array([2, 5, 9])
    momentum = np.stack([np.sin(2 * np.pi * t / 60 + c) for c in range(3)], axis=-1)[:, None, :].repeat(2, axis=1)
    state = np.stack([np.sin(2 * np.pi * (t - k) / 60 + c) for c, k in enumerate(planted)], axis=-1)[:, None, :]
    state = state.repeat(2, axis=1)
    per_channel, overall = channel_lags(state, momentum, max_lag=20)
    np.testing.assert_array_equal(per_channel, planted)   # the original's running list would give 2, 3.5, 5.33
    assert overall == pytest.approx(planted.mean())


def test_synchrony_recovers_planted_phase_and_frequency():
    t = np.arange(1200)
    stim = np.arange(600, 1200)
    before = np.arange(0, 600)
    period, shift = 8.0, 2
    x = np.zeros((1200, 1, 2))
    x[600:, 0, 0] = 1 + np.sin(2 * np.pi * t[600:] / period)
    x[600:, 0, 1] = 1 + np.sin(2 * np.pi * (t[600:] - shift) / period)   # channel 1 trails channel 0
    out = synchrony(x, None, stim, before, max_lag=20, ms_per_step=1.0, pairs=[(0, 1)])
    during = {k: float(np.ravel(v)[0]) for k, v in out["during"].items() if k != "correlogram"}
    # C(τ) = 1 + ½·cos(2π(τ − 2)/8): oscillation amplitude ½ at 1/8 cycle per step, phase shift 2 steps
    assert during["frequency"] == pytest.approx(1 / period, abs=1e-4)
    assert during["phase_shift"] == pytest.approx(shift, abs=5e-3)
    assert during["oscillation"] == pytest.approx(0.5, abs=5e-3)
    assert float(np.ravel(out["before"]["oscillation"])[0]) == pytest.approx(0.0, abs=1e-9)
    assert mean_by_group([1.0, 3.0, 5.0, np.nan], [1, 1, 2, 2]) == {1: 2.0, 2: 5.0}


def test_site_traces_and_bar_sites():
    traces = np.arange(2 * 3 * 5 * 5 * 2, dtype=float).reshape(2, 3, 5, 5, 2)
    picked = site_traces(traces, [0, 2, 4], [1, 3, 0])
    np.testing.assert_array_equal(picked[:, 1], traces[:, 1, 2, 3])
    assert picked.shape == (2, 3, 2)
    with pytest.raises(ValueError, match=r"sites must lie in the recorded 5 × 5 units, got rows 0..5"):
        site_traces(traces, [0, 2, 5], [1, 3, 0])
    # a bar at θ = 0 runs along the rows (x' = x = 0), at θ = π/2 along the columns
    rows, cols = bar_sites([0.0, np.pi / 2], [2, 3], (16, 16))
    assert rows.tolist() == [[18, 19], [16, 16]] and cols.tolist() == [[16, 16], [14, 13]]
