"""Oscillation analysis on SGHMC's own oscillation, and the Gabor stimulus sets (spec §2.1, §3.2, §3.4)."""

import numpy as np
import pytest

from ndnx.analysis.oscillations import MS_PER_STEP, lfp, peak_frequency, power_spectrum, state_momentum_lag
from ndnx.data.gabor import apply_gabor, gabor_patch, stimulus_set
from ndnx.energy import SGHMC, FunctionTarget


def test_sghmc_oscillation_is_41_6_hz_at_the_thesis_calibration_and_momentum_leads_the_state():
    # E = ½·100·s², η = α = 0.1, driven by noise (T = 1) so the damped oscillation keeps ringing
    target = FunctionTarget(lambda s: 50.0 * s[0][:, 0] ** 2)
    _, _, rec = SGHMC(0.1, 0.1, temperature=1.0, seed=2).run(
        target, [np.zeros((64, 1), "float64")], 4096, record={"s": ("state", 0, None), "p": ("momentum", 0, None)})
    s, p = rec["s"].numpy()[:, :, 0], rec["p"].numpy()[:, :, 0]
    period = 2 * np.pi / np.arccos((2 - 1.0 - 0.1) / (2 * np.sqrt(0.9)))
    assert round(period, 2) == 5.84 and round(1000 / MS_PER_STEP / period, 1) == 41.6
    freqs, psd = power_spectrum(s, nperseg=512)
    peak = freqs[1:][np.argmax(psd.mean(axis=1)[1:])]
    print("PSD peak of 64 SGHMC chains:", peak, "Hz; predicted", 1000 / MS_PER_STEP / period)
    assert abs(peak - 1000 / MS_PER_STEP / period) < 2 * freqs[1]
    # the exact stationary cross-covariance E[s(t + k)·p(t)] of the linear map z → A z + (ξ, ξ)
    import scipy.linalg

    a = np.array([[0.0, 0.9], [-1.0, 0.9]])
    sigma = scipy.linalg.solve_discrete_lyapunov(a, np.ones((2, 2)))
    cross = {k: (np.linalg.matrix_power(a, k) @ sigma)[0, 1] if k >= 0
             else (sigma @ np.linalg.matrix_power(a, -k).T)[0, 1] for k in range(-3, 4)}
    expected = max(cross, key=cross.get)
    lags = state_momentum_lag(s, p, max_lag=3)
    print("state–momentum lags of 64 chains:", np.bincount(lags + 3, minlength=7), "exact argmax", expected)
    assert expected == 1 and np.all(lags == expected)


def test_lag_and_peak_on_exact_signals():
    t = np.arange(2000)
    s = np.stack([np.sin(2 * np.pi * (t - d) / 50) for d in (0, 4, 9)], axis=1)
    p = np.repeat(np.sin(2 * np.pi * t / 50)[:, None], 3, axis=1)
    np.testing.assert_array_equal(state_momentum_lag(s, p, max_lag=20), [0, 4, 9])
    assert peak_frequency(np.sin(2 * np.pi * t / 50), ms_per_step=1.0, nperseg=2000) == pytest.approx(20.0)
    np.testing.assert_array_equal(lfp(np.ones((5, 2, 3))), np.full((5, 2), 3.0))
    with pytest.raises(ValueError, match="ms_per_step must be a finite number > 0, got nan"):
        power_spectrum(t, ms_per_step=float("nan"))


def test_gabor_patch_formula_and_sets():
    theta, sigma, lam, gamma, psi = np.pi / 3, 0.7, 3.0, 0.5, 1.0
    patch = gabor_patch(theta, contrast=2.0)
    cy, cx = patch.shape[0] // 2, patch.shape[1] // 2
    y, x = 1 - cy, 2 - cx  # one pixel checked against the formula
    xr, yr = x * np.cos(theta) + y * np.sin(theta), -x * np.sin(theta) + y * np.cos(theta)
    want = 2.0 * np.exp(-0.5 * (xr ** 2 / sigma ** 2 + yr ** 2 * gamma ** 2 / sigma ** 2)) * np.cos(
        2 * np.pi * xr / lam + psi) + 1
    assert patch[1, 2] == pytest.approx(want, rel=1e-12)
    base = np.full((32, 32, 3), 0.5)
    image = apply_gabor(base, 0.0, contrast=0.0)
    np.testing.assert_array_equal(image, base)  # contrast 0 leaves the base image
    image = apply_gabor(base, 0.0, contrast=1.0)
    assert image[16, 16, 0] == pytest.approx(0.5 * (1 + np.cos(1.0)))
    assert np.array_equal(image[:10], base[:10])  # only the 3σ box changes
    for name in ("contrast_and_angle", "just_angle", "just_angle_few_angles", "long_just_fewangles"):
        images, params = stimulus_set(name, base)
        assert images.shape == (128, 32, 32, 3) and len(params["angle"]) == 128
    _, params = stimulus_set("just_angle_few_angles", base)
    np.testing.assert_allclose(np.unique(params["angle"]), np.arange(8) * np.pi / 4)
    long_images, _ = stimulus_set("long_just_fewangles", base)
    assert (long_images[0] != 0.5).any(axis=2).sum() > (stimulus_set("just_angle_few_angles", base)[0][0] != 0.5).any(
        axis=2).sum()
    with pytest.raises(ValueError, match="unknown set 'orientation'"):
        stimulus_set("orientation", base)


def test_spectrogram_ridge_and_onset_transient():
    from ndnx.analysis.oscillations import onset_transient, spectrogram

    t = np.arange(3000)
    trace = np.where(t < 1500, np.sin(2 * np.pi * t / 10), np.sin(2 * np.pi * t / 5))
    freqs, times, power = spectrogram(trace, ms_per_step=1.0)
    ridge = freqs[np.argmax(power, axis=0)]
    assert np.all(ridge[times < 1300] == pytest.approx(100.0, abs=freqs[1])) and ridge[-1] == pytest.approx(200.0, abs=freqs[1])
    step = np.concatenate([np.full(100, 1.0), np.full(50, 3.0), np.full(50, 0.5)])
    out = onset_transient(step, onset=100, baseline=slice(0, 100), before=10, after=60)
    np.testing.assert_array_equal(out, np.concatenate([np.zeros(10), np.full(50, 2.0), np.zeros(10)]))


def test_double_gabor_set_layout_and_mask():
    base = np.full((32, 32, 3), 0.5)
    images, params = stimulus_set("fewlocs_and_fewerangles", base)
    assert images.shape == (128, 32, 32, 3)
    # 4 static angles × (same, +90°) × distances 3, 5, 7, 10 × (right, left, down, up)
    np.testing.assert_allclose(np.unique(params["angle"]), np.arange(4) * np.pi / 4)
    assert sorted(set(params["distance"])) == [3, 5, 7, 10]
    np.testing.assert_allclose(np.abs(params["mobile_angle"] - params["angle"]).reshape(4, 2, 16)[:, 1], np.pi / 2)
    k = 3 + 16 + 32   # angle π/4, mobile +90°, distance 3 up: sites 3 apart, the patches overlap
    assert (params["mobile_row"][k], params["mobile_col"][k]) == (13, 16)
    far = int(np.flatnonzero((params["distance"] == 10) & (params["mobile_col"] == 26))[0])   # right, 10 away
    centre_value = np.cos(1.0)   # g − 1 at a patch's centre: contrast 1 · cos ψ, ψ = 1
    # at each site alone: base × (1 + 2(g − 1)) with g − 1 = cos ψ at a patch's centre
    np.testing.assert_allclose(images[far, 16, 26], 0.5 * (1 + 2 * centre_value), rtol=1e-6)
    np.testing.assert_allclose(images[far, 16, 16], 0.5 * (1 + 2 * centre_value), rtol=1e-6)
    np.testing.assert_allclose(images[far, 0, 0], 0.5)
