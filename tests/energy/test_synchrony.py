"""Gray-style cross-correlogram synchrony fits (spec energy_sampling_nrflv.md §3.4) on exact signals."""

import numpy as np
import pytest

from ndnx.analysis.oscillations import (channel_correlograms, cross_correlogram, fit_correlogram,
                                        fit_correlograms, gabor_correlogram)


def test_correlograms_equal_numpy_correlate():
    rng = np.random.default_rng(0)
    traj = rng.normal(size=(300, 2, 4))
    pairs, lags, c = channel_correlograms(traj, max_lag=7, scale="none")
    assert len(pairs) == 10 and c.shape == (15, 2, 10)
    for n, (i, j) in enumerate(pairs):
        for b in range(2):
            # np.correlate(y, x, "full")[N − 1 + τ] = Σ_t x(t)·y(t + τ)
            full = np.correlate(traj[:, b, j], traj[:, b, i], "full")
            np.testing.assert_allclose(c[:, b, n], full[299 - 7:299 + 8], rtol=1e-10, atol=1e-10)
    _, unbiased = cross_correlogram(traj[:, 0, 0], traj[:, 0, 1], max_lag=7)
    np.testing.assert_allclose(unbiased, c[:, 0, 1] / (300 - np.abs(lags)), rtol=1e-12)
    with pytest.raises(ValueError, match=r"max_lag must be an int in \[0, 299\].*got 300"):
        cross_correlogram(traj[:, 0, 0], traj[:, 0, 1], max_lag=300)
    with pytest.raises(ValueError, match=r"same shape.*got \(300,\) and \(299,\)"):
        cross_correlogram(traj[:, 0, 0], traj[:-1, 0, 1])
    with pytest.raises(ValueError, match=r"pairs must index channels 0..3"):
        channel_correlograms(traj, pairs=[(0, 4)])


def test_fit_recovers_an_exact_damped_cosine():
    lags = np.arange(-50, 51)
    truth = dict(amplitude=0.8, frequency=1 / 9, phase_shift=-1.7, sigma=14.0, offset=2.0)
    fit = fit_correlogram(lags, gabor_correlogram(lags, **truth), ms_per_step=70 / 17)
    for name, value in truth.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-6, abs=1e-6), name
    assert fit.peak_height == pytest.approx(2.8, rel=1e-6) and fit.modulation_ratio == pytest.approx(0.4, rel=1e-6)
    assert fit.frequency_hz == pytest.approx(1000 / 9 * 17 / 70, rel=1e-6)
    assert fit.phase_shift_ms == pytest.approx(-1.7 * 70 / 17, rel=1e-6) and fit.residual < 1e-6


def test_fit_of_two_noisy_sinusoids_with_a_known_lag():
    # x = 1 + sin(2πft) + n_x, y = 1 + sin(2πf(t − d)) + n_y, n white with sd s: the unbiased correlogram is
    # 1 + ½cos(2πf(τ − d)) plus noise. The cross terms Σ sin·n are themselves a cosine at f in τ (per quadrature
    # sd s/√N), so they move the phase by sd 2s/√N rad and the amplitude by s/√N; the offset moves by the trace
    # means, sd √2·s/√N; only the n_x·n_y term (white over lags, sd s²/√N) blurs the frequency, at most its
    # Cramér–Rao bound √(24 ε²/(A² L (L² − 1)))/2π over L lags (Kay 1993). Tolerances: 4 sd (frequency: 5 bounds).
    n, f, d, s, max_lag = 20000, 1 / 12, 3, 1.0, 40
    rng = np.random.default_rng(7)
    t = np.arange(n)
    x = 1 + np.sin(2 * np.pi * f * t) + s * rng.standard_normal(n)
    y = 1 + np.sin(2 * np.pi * f * (t - d)) + s * rng.standard_normal(n)
    lags, c = cross_correlogram(x, y, max_lag)
    fit = fit_correlogram(lags, c)
    sd = s / np.sqrt(n)
    size = 2 * max_lag + 1
    crb_frequency = np.sqrt(24 * (s * sd) ** 2 / (0.25 * size * (size ** 2 - 1))) / (2 * np.pi)
    print(f"fitted frequency {fit.frequency:.6f} (true {f:.6f}, ±{5 * crb_frequency:.6f}), phase shift "
          f"{fit.phase_shift:.4f} (true {d}, ±{4 * 2 * sd / (2 * np.pi * f):.4f}), ratio {fit.modulation_ratio:.4f}")
    assert abs(fit.frequency - f) < 5 * crb_frequency
    assert abs(fit.phase_shift - d) < 4 * 2 * sd / (2 * np.pi * f)
    assert abs(fit.amplitude - 0.5) < 4 * sd and abs(fit.offset - 1.0) < 4 * np.sqrt(2) * sd
    assert abs(fit.modulation_ratio - 0.5) < 4 * np.sqrt(1.5) * sd
    assert fit.frequency_hz == pytest.approx(fit.frequency * 1000 * 17 / 70, rel=1e-12)
    with pytest.raises(ValueError, match="correlogram must be finite, 1-D"):
        fit_correlogram(lags, np.full(lags.shape, np.nan))


def test_fit_correlograms_fits_every_pair():
    lags = np.arange(-30, 31)
    truth = np.array([[1 / 8, 1 / 10], [1 / 12, 1 / 6]])
    c = np.stack([gabor_correlogram(lags, 1.0, f, 1.0, 12.0, 0.5) for f in truth.ravel()], axis=1).reshape(
        lags.size, 2, 2)
    fits = fit_correlograms(lags, c, ms_per_step=1.0)
    assert "curve" not in fits and fits["frequency"].shape == (2, 2)
    np.testing.assert_allclose(fits["frequency"], truth, rtol=1e-6)
    np.testing.assert_allclose(fits["modulation_ratio"], 2.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(lags, ...\) with 61 lags, got shape \(60, 2\)"):
        fit_correlograms(lags, np.zeros((60, 2)))
