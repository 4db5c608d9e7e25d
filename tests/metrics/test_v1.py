"""V1 repeat-trial metrics (ndnx.metrics.v1) — single-trial correlation, correlation to average, FEV,
FEVE, oracle correlation, SNR (ecosystem spec §1.1, §1.4, §8 item 5) — against scipy, explicit loops,
neuralpredictors' formulas written out per image, and closed forms on synthetic repeats; streaming
metrics against NumPy."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import pearsonr

from ndnx import metrics as M
from ndnx.metrics import pearson_per_neuron


def gaussian_repeats(seed, images, repeats, units, signal_sd=1.0, noise_sd=1.0):
    """y_ij = s_i + ε_ij with s_i ~ N(0, σs²), ε_ij ~ N(0, σn²); returns (signal (I, N), trials (I, R, N))."""
    rng = np.random.default_rng(seed)
    s = rng.normal(0.0, signal_sd, size=(images, units))
    return s, s[:, None, :] + rng.normal(0.0, noise_sd, size=(images, repeats, units))


def ragged_sample(seed=0, images=23, units=4, replicas=None):
    """Poisson-ish ragged repeats (2–6 trials, a few images with 1 or 0) and a noisy prediction."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(2.0, 1.0, size=(images, units))
    counts = rng.integers(2, 7, size=images)
    counts[3], counts[11] = 1, 0
    trials = [rng.poisson(rate[i], size=(c, units)).astype("float64") for i, c in enumerate(counts)]
    shape = (images, units) if replicas is None else (images, replicas, units)
    noise = rng.normal(0.0, 0.7, size=shape)
    pred = (rate if replicas is None else rate[:, None, :]) + noise
    return trials, pred


def pooled_pairs(trials, pred, k):
    """Explicit (prediction, trial) pairs of neuron k, by loops: the single-trial reference."""
    xs, ys = [], []
    for i, t in enumerate(trials):
        for value in t[:, k]:
            xs.append(pred[i, k])
            ys.append(value)
    return np.array(xs), np.array(ys)


def weighted_r(x, y, w):
    c = np.cov(np.vstack([x, y]), aweights=w, bias=True)
    return c[0, 1] / np.sqrt(c[0, 0] * c[1, 1])


# --- layout -------------------------------------------------------------------------------------

def test_stack_repeats_pads_ragged_lists_with_nan():
    trials = [np.ones((2, 3)), 2 * np.ones((4, 3)), np.zeros((0, 3))]
    y = M.stack_repeats(trials)
    assert y.shape == (3, 4, 3)
    assert np.all(np.isnan(y[0, 2:])) and np.all(y[1] == 2) and np.all(np.isnan(y[2]))
    np.testing.assert_array_equal(M.trial_average(trials)[:2], [[1, 1, 1], [2, 2, 2]])
    assert np.all(np.isnan(M.trial_average(trials)[2]))


def test_trials_first_layout_only_through_the_helper():
    rng = np.random.default_rng(0)
    antolik = rng.normal(size=(10, 50, 7))          # (repeats, images, neurons) as in raw_validation_set.npy
    y = M.repeats_from_trials_first(antolik)
    assert y.shape == (50, 10, 7)
    np.testing.assert_array_equal(y[3, 2], antolik[2, 3])
    with pytest.raises(ValueError, match="repeats_from_trials_first"):
        M.repeats_from_trials_first(antolik[0])


def test_layout_errors():
    with pytest.raises(ValueError, match=r"\(images, repeats, neurons\)"):
        M.fev(np.ones((5, 3)))
    with pytest.raises(ValueError, match="disagree on the number of neurons"):
        M.stack_repeats([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="image 1"):
        M.stack_repeats([np.ones((2, 3)), np.ones(3)])
    _, y = gaussian_repeats(0, 6, 3, 2)
    with pytest.raises(ValueError, match="feve: predictions"):
        M.feve(np.ones((5, 2)), y)
    with pytest.raises(ValueError, match="must be finite"):
        M.single_trial_correlation(np.full((6, 2), np.nan), y)
    with pytest.raises(ValueError, match="noise_weighting"):
        M.fev(y, noise_weighting="trials")
    with pytest.raises(ValueError, match="method"):
        M.oracle_correlation(y, method="bootstrap")


# --- against scipy and explicit loops --------------------------------------------------------

def test_single_trial_correlation_matches_scipy_on_pooled_trials():
    trials, pred = ragged_sample(1)
    r = M.single_trial_correlation(pred, trials)
    for k in range(pred.shape[1]):
        assert r[k] == pytest.approx(pearsonr(*pooled_pairs(trials, pred, k))[0], rel=1e-10)


def test_correlation_to_average_matches_scipy_on_trial_means():
    trials, pred = ragged_sample(2)
    keep = [i for i, t in enumerate(trials) if len(t)]
    avg = np.array([trials[i].mean(axis=0) for i in keep])
    r = M.correlation_to_average(pred, trials)
    for k in range(pred.shape[1]):
        assert r[k] == pytest.approx(pearsonr(pred[keep, k], avg[:, k])[0], rel=1e-10)


def test_replica_axis_on_repeats():
    trials, pred = ragged_sample(3, replicas=2)
    for fn in (M.single_trial_correlation, M.correlation_to_average, M.feve):
        both = fn(pred, trials)
        assert both.shape == (2, 4)
        for rep in range(2):
            np.testing.assert_allclose(both[rep], fn(pred[:, rep], trials), rtol=1e-12)


def test_variance_components_match_explicit_formulas():
    trials, _ = ragged_sample(4)
    everything = np.concatenate(trials)
    total = everything.var(axis=0, ddof=1)
    multi = [t for t in trials if len(t) >= 2]
    dof = np.array([len(t) - 1 for t in multi], dtype="float64")
    per_image = np.array([t.var(axis=0, ddof=1) for t in multi])
    noise_dof = (dof[:, None] * per_image).sum(axis=0) / dof.sum()
    noise_images = per_image.mean(axis=0)
    np.testing.assert_allclose(M.total_variance(trials), total, rtol=1e-12)
    np.testing.assert_allclose(M.noise_variance(trials), noise_dof, rtol=1e-12)
    np.testing.assert_allclose(M.noise_variance(trials, "images"), noise_images, rtol=1e-12)
    assert not np.allclose(noise_dof, noise_images)   # ragged: the weighting matters
    np.testing.assert_allclose(M.explainable_variance(trials), total - noise_dof, rtol=1e-12)
    np.testing.assert_allclose(M.fev(trials), (total - noise_dof) / total, rtol=1e-12)
    np.testing.assert_allclose(M.fev(trials, "images"), (total - noise_images) / total, rtol=1e-12)


def test_feve_matches_explicit_formula():
    trials, pred = ragged_sample(5)
    total, noise = M.total_variance(trials), M.noise_variance(trials)
    mse = np.mean(np.concatenate([(t - pred[i]) ** 2 for i, t in enumerate(trials)]), axis=0)
    expected = 1 - (mse - noise) / (total - noise)
    assert np.all(total - noise > 0)
    np.testing.assert_allclose(M.feve(pred, trials), expected, rtol=1e-12)
    np.testing.assert_allclose(M.feve(pred, trials, clip=True), np.clip(expected, 0, 1), rtol=1e-12)


def test_jackknife_oracle_matches_scipy_on_leave_one_out_pairs():
    # neuralpredictors' and openretina's oracle_corr_jackknife: each trial against the mean of the others
    trials, _ = ragged_sample(6)
    r = M.oracle_correlation(trials, method="jackknife")
    np.testing.assert_array_equal(M.oracle_correlation(trials), r)           # the default
    for k in range(trials[0].shape[1]):
        held, others = [], []
        for t in trials:
            for j in range(len(t)) if len(t) >= 2 else ():
                held.append(t[j, k])
                others.append(np.delete(t[:, k], j).mean())
        assert r[k] == pytest.approx(pearsonr(held, others)[0], rel=1e-10)


def test_extrapolated_oracle_matches_explicit_leave_two_out_pairs():
    trials, _ = ragged_sample(7, images=40)
    rho = M.oracle_correlation(trials, method="extrapolated")
    for k in range(trials[0].shape[1]):
        x1, y1, x2, y2, w2, h1, h2 = [], [], [], [], [], [], []
        for t in (t for t in trials if len(t) >= 3):
            n = len(t)
            for j in range(n):
                rest = np.delete(t[:, k], j)
                x1.append(t[j, k])
                y1.append(rest.mean())
                h1.append(1 / (n - 1))
                h2.append(1 / (n - 2))
                for l in range(n - 1):
                    x2.append(t[j, k])
                    y2.append(np.delete(rest, l).mean())
                    w2.append(1 / (n - 1))
        r1 = pearsonr(x1, y1)[0]
        r2 = weighted_r(np.array(x2), np.array(y2), np.array(w2))
        a, b = np.mean(h1), np.mean(h2)
        assert rho[k] == pytest.approx((b * r1 - a * r2) / (b - a), rel=1e-9)


def test_ragged_list_equals_array_when_repeats_are_equal():
    s, y = gaussian_repeats(8, 30, 5, 3)
    pred = s + 0.3
    as_list = [y[i] for i in range(len(y))]
    for fn in (M.total_variance, M.noise_variance, M.fev, M.oracle_correlation):
        np.testing.assert_array_equal(fn(as_list), fn(y))
    np.testing.assert_array_equal(M.oracle_correlation(as_list, "conservative"), M.oracle_correlation(y, "conservative"))
    np.testing.assert_array_equal(M.snr(as_list, anscombe=False), M.snr(y, anscombe=False))
    np.testing.assert_array_equal(M.oracle_correlation(as_list, "extrapolated"), M.oracle_correlation(y, "extrapolated"))
    for fn in (M.feve, M.single_trial_correlation, M.correlation_to_average):
        np.testing.assert_array_equal(fn(pred, as_list), fn(pred, y))
    # with equal repeats both noise weightings are the plain mean over images
    np.testing.assert_allclose(M.noise_variance(y, "images"), M.noise_variance(y), rtol=1e-12)
    np.testing.assert_allclose(M.noise_variance(y), y.var(axis=1, ddof=1).mean(axis=0), rtol=1e-12)


def test_nan_padding_is_the_same_as_a_ragged_list():
    trials, pred = ragged_sample(9)
    padded = M.stack_repeats(trials)
    np.testing.assert_array_equal(M.feve(pred, padded), M.feve(pred, trials))
    for method in M.ORACLE_METHODS:
        np.testing.assert_array_equal(M.oracle_correlation(padded, method), M.oracle_correlation(trials, method))
    np.testing.assert_array_equal(M.snr(padded), M.snr(trials))


# --- synthetic repeats with known signal and noise ---------------------------------------------

def fev_standard_error(images, repeats, signal_var, noise_var):
    """Delta-method SE of the FEV estimate (Gaussian model), ignoring the positive covariance of the
    noise and total estimates (which only makes the SE larger, i.e. the test more lenient)."""
    total = signal_var + noise_var
    n_all = images * repeats
    var_noise = 2 * noise_var**2 / (images * (repeats - 1))
    var_total = (2 * (images - 1) * (repeats * signal_var + noise_var) ** 2
                 + 2 * images * (repeats - 1) * noise_var**2) / n_all**2
    return (noise_var / total) * np.sqrt(var_noise / noise_var**2 + var_total / total**2)


@pytest.mark.parametrize("signal_sd,noise_sd,repeats", [(1.0, 1.0, 10), (0.5, 1.0, 4), (2.0, 0.5, 6)])
def test_fev_recovers_signal_fraction(signal_sd, noise_sd, repeats):
    images = 4000
    _, y = gaussian_repeats(10, images, repeats, 4, signal_sd, noise_sd)
    truth = signal_sd**2 / (signal_sd**2 + noise_sd**2)
    se = fev_standard_error(images, repeats, signal_sd**2, noise_sd**2)
    np.testing.assert_allclose(M.fev(y), truth, atol=4 * se)
    np.testing.assert_allclose(M.noise_variance(y), noise_sd**2, rtol=4 * np.sqrt(2 / (images * (repeats - 1))))


def test_feve_closed_forms_on_synthetic_repeats():
    images, repeats, sig, noi = 4000, 8, 1.0, 1.5
    s, y = gaussian_repeats(11, images, repeats, 3, sig, noi)
    # true signal: MSE and noise variance both estimate σn², FEVE ≈ 1
    se = noi**2 * np.sqrt(2 / (images * repeats) + 2 / (images * (repeats - 1))) / sig**2
    np.testing.assert_allclose(M.feve(s, y), 1.0, atol=4 * se)
    # constant prediction c: MSE = (N − 1)/N·σ²_tot + (ȳ − c)², exactly
    total, noise, n_all = M.total_variance(y), M.noise_variance(y), images * repeats
    grand = y.mean(axis=(0, 1))
    for c in (0.0, 0.7):
        mse = (n_all - 1) / n_all * total + (grand - c) ** 2
        np.testing.assert_allclose(M.feve(np.full_like(s, c), y), 1 - (mse - noise) / (total - noise),
                                   rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(M.feve(np.zeros_like(s), y), 0.0, atol=0.05)   # ≈ 1 − σs²/σs²
    # prediction s + δ, δ ~ N(0, σd²): FEVE ≈ 1 − σd²/σs²
    delta = np.random.default_rng(12).normal(0, 0.5, size=s.shape)
    np.testing.assert_allclose(M.feve(s + delta, y), 1 - 0.25 / sig**2, atol=0.05)


def test_bad_prediction_unclipped_negative_clipped_zero():
    s, y = gaussian_repeats(13, 3000, 6, 3)
    bad = -s                                   # MSE ≈ 4σs² + σn²: FEVE ≈ 1 − 4σs²/σs² = −3
    unclipped = M.feve(bad, y)
    np.testing.assert_allclose(unclipped, -3.0, atol=0.3)
    np.testing.assert_array_equal(M.feve(bad, y, clip=True), 0.0)
    assert np.all(M.feve(s, y, clip=True) <= 1.0) and np.any(M.feve(s, y) > 1.0)   # chance MSE < noise


def jackknife_closed_form(rho, c, h1, h2):
    """E ρ_J under y = s + ε: r(h) = ρ_∞/√(1 + c·h) with h the mean of 1/(reference size)."""
    r1, r2 = rho / np.sqrt(1 + c * h1), rho / np.sqrt(1 + c * h2)
    return (h2 * r1 - h1 * r2) / (h2 - h1)


@pytest.mark.parametrize("signal_sd,repeats", [(1.0, 10), (0.6, 6), (2.0, 4)])
def test_oracles_and_the_noiseless_truth_follow_the_closed_forms(signal_sd, repeats):
    images, noise_sd = 8000, 1.0
    s, y = gaussian_repeats(14, images, repeats, 3, signal_sd, noise_sd)
    c = noise_sd**2 / signal_sd**2
    rho = signal_sd / np.sqrt(signal_sd**2 + noise_sd**2)          # = √FEV: best single-trial correlation
    tol = 5 * (1 - rho**2) / np.sqrt(images)                         # ~5 SE of a correlation over the images
    np.testing.assert_allclose(M.single_trial_correlation(s, y), rho, atol=tol)
    np.testing.assert_allclose(M.correlation_to_average(s, y),
                               signal_sd / np.sqrt(signal_sd**2 + noise_sd**2 / repeats), atol=tol)
    # leave-one-out (jackknife): the reference averages n − 1 trials, so it is attenuated below ρ_∞
    jackknife = M.oracle_correlation(y, "jackknife")
    np.testing.assert_allclose(jackknife, rho / np.sqrt(1 + c / (repeats - 1)), atol=tol)
    expected = jackknife_closed_form(rho, c, 1 / (repeats - 1), 1 / (repeats - 2))
    np.testing.assert_allclose(M.oracle_correlation(y, "extrapolated"), expected, atol=tol)
    # the extrapolation removes the attenuation up to ≈ ρ·3c²/(8(n − 1)(n − 2))
    assert abs(expected - rho) <= rho * 3 * c**2 / (8 * (repeats - 1) * (repeats - 2)) * 1.2
    assert np.all(M.oracle_correlation(y, "extrapolated") > jackknife)
    # conservative (neuralpredictors): the image means keep σn²/n of noise, so it lies above ρ_∞
    conservative = np.sqrt((signal_sd**2 + noise_sd**2 / repeats) / (signal_sd**2 + noise_sd**2))
    np.testing.assert_allclose(M.oracle_correlation(y, "conservative"), conservative, atol=tol)
    assert np.all(M.oracle_correlation(y, "conservative") > rho) and np.all(jackknife < rho)
    # SNR on the responses as they are: (σs² + σn²/n)/σn²
    np.testing.assert_allclose(M.snr(y, anscombe=False), (signal_sd**2 + noise_sd**2 / repeats) / noise_sd**2,
                               rtol=6 * np.sqrt(2 / images))


def test_extrapolated_oracle_closed_form_on_ragged_repeats():
    rng = np.random.default_rng(15)
    images, rho, c = 8000, np.sqrt(0.5), 1.0
    counts = rng.integers(5, 13, size=images)
    s = rng.normal(size=(images, 3))
    trials = [s[i] + rng.normal(size=(n, 3)) for i, n in enumerate(counts)]
    per_trial = np.repeat(counts, counts)
    expected = jackknife_closed_form(rho, c, np.mean(1 / (per_trial - 1)), np.mean(1 / (per_trial - 2)))
    tol = 5 * (1 - rho**2) / np.sqrt(images)
    np.testing.assert_allclose(M.oracle_correlation(trials, "extrapolated"), expected, atol=tol)
    # close to ρ_∞ up to the remaining bias of the extrapolation (≈ 0.005 here)
    np.testing.assert_allclose(M.oracle_correlation(trials, "extrapolated"), rho, atol=abs(expected - rho) + tol)


def _neuralpredictors_conservative(per_image):
    """oracle_corr_conservative as neuralpredictors defines it, image by image: var_mean/√(var_mean·(var_mean +
    var_noise)), var_noise the mean of the per-image variances, var_mean the variance of the image means (ddof 0)."""
    var_noise = np.mean([t.var(axis=0) for t in per_image], axis=0)
    var_mean = np.var([t.mean(axis=0) for t in per_image], axis=0)
    return var_mean / np.sqrt(var_mean * (var_mean + var_noise))


def _neuralpredictors_snr(per_image):
    """snr as neuralpredictors defines it: Anscombe transform, then (1/M) Σ_i (μ_i − μ̄)² / mean_i σ²_i (ddof 1)."""
    z = [2 * np.sqrt(t + 3 / 8) for t in per_image]
    mu = np.array([a.mean(axis=0) for a in z])
    return (np.sum((mu - mu.mean(axis=0)) ** 2, axis=0) / len(mu)) / np.mean([a.var(axis=0, ddof=1) for a in z],
                                                                             axis=0)


def test_conservative_oracle_is_neuralpredictors_formula():
    trials, _ = ragged_sample(24)                       # ragged; image 3 has one trial, image 11 none
    present = [t for t in trials if len(t)]
    expected = _neuralpredictors_conservative(present)
    assert np.all((expected > 0) & (expected < 1))
    np.testing.assert_allclose(M.oracle_correlation(trials, "conservative"), expected, rtol=1e-12)
    np.testing.assert_allclose(M.oracle_correlation(present, "conservative"), expected, rtol=1e-12)
    # it is not the leave-one-out oracle ndnx called "conservative" before taking the peers' names
    assert np.all(np.abs(M.oracle_correlation(trials, "conservative") - M.oracle_correlation(trials)) > 1e-3)


def test_snr_is_neuralpredictors_formula():
    trials, _ = ragged_sample(25)
    multi = [t for t in trials if len(t) >= 2]          # neuralpredictors' ddof-1 variances need two trials
    np.testing.assert_allclose(M.snr(multi), _neuralpredictors_snr(multi), rtol=1e-12)
    np.testing.assert_allclose(M.snr([2 * np.sqrt(t + 3 / 8) for t in multi], anscombe=False),
                               _neuralpredictors_snr(multi), rtol=1e-12)
    # ragged: the image means over images with a trial, the within-image variance over those with two
    a = [2 * np.sqrt(t + 3 / 8) for t in trials if len(t)]
    mu = np.array([t.mean(axis=0) for t in a])
    noise = np.mean([t.var(axis=0, ddof=1) for t in a if len(t) >= 2], axis=0)
    np.testing.assert_allclose(M.snr(trials), mu.var(axis=0) / noise, rtol=1e-12)
    with pytest.raises(ValueError, match="snr: the Anscombe transform .* needs responses ≥ −3/8"):
        M.snr([t - 1.0 for t in multi])


# --- degenerate policy: undefined scores are 0 and count in the mean ----------------------------

def degenerate_data():
    """Neurons: 0 ordinary, 1 constant response, 2 noise only (σ²_exp < 0), 3 noise-free repeats."""
    s, y = gaussian_repeats(16, 40, 4, 4)
    y[:, :, 1] = 2.5
    rng = np.random.default_rng(17)
    y[:, :, 2] = 3.0 + rng.normal(size=(40, 4)) - rng.normal(size=(40, 4)).mean(axis=1, keepdims=True)
    y[:, :, 2] -= y[:, :, 2].mean(axis=1, keepdims=True) - 3.0       # identical image means: no signal
    y[:, :, 3] = s[:, None, 3]
    return s, y


def test_degenerate_neurons_follow_the_zero_policy():
    s, y = degenerate_data()
    assert M.explainable_variance(y)[2] < 0 and M.noise_variance(y)[3] == pytest.approx(0, abs=1e-20)
    fev = M.fev(y)
    assert fev[1] == 0.0 and fev[2] < 0 and fev[3] == 1.0          # negative FEV is an estimate, kept
    for clip in (False, True):
        value = M.feve(s, y, clip=clip)
        assert value[1] == 0.0 and value[2] == 0.0 and value[3] == pytest.approx(1.0)
        assert M.mean_feve(s, y, clip=clip) == pytest.approx(value.mean())   # the zeros count
    for fn in (M.single_trial_correlation, M.correlation_to_average):
        r = fn(s, y)
        assert r[1] == 0.0 and np.all(np.isfinite(r))
        assert fn(np.full_like(s, 0.1), y).tolist() == [0.0] * 4          # constant prediction
    for method in M.ORACLE_METHODS:
        r = M.oracle_correlation(y, method)
        assert r[1] == 0.0 and r[3] == pytest.approx(1.0) and np.all(np.isfinite(r))
    # identical image means (up to rounding): no signal
    assert M.oracle_correlation(y, "conservative")[2] == pytest.approx(0.0, abs=1e-12)
    ratio = M.snr(y, anscombe=False)
    assert ratio[1] == 0.0 and ratio[2] == pytest.approx(0.0, abs=1e-12) and ratio[3] == np.inf
    assert 0 < ratio[0] < np.inf


def test_no_noise_estimate_without_repeats():
    s, y = gaussian_repeats(18, 30, 1, 3)
    assert np.all(np.isnan(M.noise_variance(y))) and np.all(np.isnan(M.explainable_variance(y)))
    assert M.fev(y).tolist() == [0.0] * 3 and M.feve(s, y).tolist() == [0.0] * 3
    for method in M.ORACLE_METHODS:
        assert M.oracle_correlation(y, method).tolist() == [0.0] * 3
    assert M.snr(y, anscombe=False).tolist() == [0.0] * 3
    _, two = gaussian_repeats(18, 30, 2, 3)     # the extrapolation needs images with three trials
    assert M.oracle_correlation(two, "extrapolated").tolist() == [0.0] * 3
    assert np.all(M.oracle_correlation(two) != 0) and np.all(M.oracle_correlation(two, "conservative") != 0)


def test_fev_threshold_selects_neurons_for_the_mean():
    s, y = degenerate_data()
    values, fev = M.feve(s, y), M.fev(y)
    keep = fev > 0.15
    assert M.mean_feve(s, y, fev_threshold=0.15) == pytest.approx(values[keep].mean())
    assert M.mean_feve(s, y, fev_threshold=1.5) == 0.0                 # nobody qualifies


def test_standardisation_leaves_scale_free_scores_unchanged():
    trials, pred = ragged_sample(19)
    z, std = M.standardize_responses(trials)
    np.testing.assert_allclose(M.total_variance(z), 1.0, rtol=1e-12)
    np.testing.assert_allclose(M.fev(z), M.fev(trials), rtol=1e-12)
    for method in M.ORACLE_METHODS:
        np.testing.assert_allclose(M.oracle_correlation(z, method), M.oracle_correlation(trials, method), rtol=1e-10)
    np.testing.assert_allclose(M.single_trial_correlation(pred, z), M.single_trial_correlation(pred, trials),
                               rtol=1e-10)
    np.testing.assert_allclose(M.feve(pred / std, z), M.feve(pred, trials), rtol=1e-10)


# --- streaming metrics ---------------------------------------------------------------------------

def streaming_sample(seed=20, replicas=None):
    trials, pred = ragged_sample(seed, images=61, units=4, replicas=replicas)
    y = M.stack_repeats(trials)
    y[5, :, 2] = np.nan                  # an image missing for one neuron only
    y[:, :, 3] = np.where(np.isnan(y[:, :, 3]), np.nan, 1.5)    # a constant neuron
    return y, pred


def feed(metric, y, pred, batch, weight=None):
    metric.reset_state()
    for a in range(0, len(y), batch):
        w = None if weight is None else weight[a:a + batch]
        metric.update_state(y[a:a + batch], pred[a:a + batch], sample_weight=w)
    return np.asarray(metric.per_neuron()), float(metric.result())


STREAMING = [
    (lambda r: M.SingleTrialCorrelation(4, replicas=r), lambda p, y: M.single_trial_correlation(p, y)),
    (lambda r: M.CorrelationToAverage(4, replicas=r), lambda p, y: M.correlation_to_average(p, y)),
    (lambda r: M.FEVE(4, replicas=r), lambda p, y: M.feve(p, y)),
    (lambda r: M.FEVE(4, replicas=r, clip=True, noise_weighting="images"),
     lambda p, y: M.feve(p, y, clip=True, noise_weighting="images")),
    (lambda r: M.OracleCorrelation(4, replicas=r), lambda p, y: M.oracle_correlation(y)),
    (lambda r: M.OracleCorrelation(4, method="conservative", replicas=r),
     lambda p, y: M.oracle_correlation(y, "conservative")),
    (lambda r: M.OracleCorrelation(4, method="extrapolated", replicas=r),
     lambda p, y: M.oracle_correlation(y, "extrapolated")),
]


@pytest.mark.parametrize("replicas", [None, 2])
@pytest.mark.parametrize("i", range(len(STREAMING)))
def test_streaming_equals_numpy_whatever_the_batching(i, replicas):
    make, reference = STREAMING[i]
    y, pred = streaming_sample(replicas=replicas)
    expected = reference(pred, y)
    metric = make(replicas)
    for batch in (1, 7, 16, 61):
        per_neuron, result = feed(metric, y, pred, batch)
        np.testing.assert_allclose(per_neuron, expected, rtol=1e-9, atol=1e-12, err_msg=f"batch {batch}")
        assert result == pytest.approx(expected.mean(), rel=1e-9, abs=1e-12)


def test_streaming_feve_threshold_and_fev():
    s, y = degenerate_data()
    metric = M.FEVE(4, fev_threshold=0.15)
    for batch in (3, 40):
        feed(metric, y, s, batch)
        np.testing.assert_allclose(np.asarray(metric.fev()), M.fev(y), rtol=1e-9)
        assert float(metric.result()) == pytest.approx(M.mean_feve(s, y, fev_threshold=0.15), rel=1e-9)
        np.testing.assert_allclose(np.asarray(metric.per_neuron()), M.feve(s, y), rtol=1e-9, atol=1e-12)


def test_sample_weight_marks_missing_trials_like_nan():
    y, pred = streaming_sample(21)
    rng = np.random.default_rng(0)
    weight = (rng.uniform(size=y.shape) > 0.25).astype("float64")
    masked = np.where(weight > 0, y, np.nan)
    for make, reference in STREAMING:
        per_neuron, _ = feed(make(None), y, pred, 9, weight=weight)
        np.testing.assert_allclose(per_neuron, reference(pred, masked), rtol=1e-9, atol=1e-12)
    per_image = (rng.uniform(size=len(y)) > 0.3).astype("float64")            # (batch,) weights
    per_neuron, _ = feed(M.FEVE(4), y, pred, 9, weight=per_image)
    np.testing.assert_allclose(per_neuron, M.feve(pred[per_image > 0], y[per_image > 0]), rtol=1e-9, atol=1e-12)


def test_two_dimensional_targets_are_one_trial_per_image():
    rng = np.random.default_rng(7)
    y = rng.poisson(2.0, size=(50, 5)).astype("float64")
    pred = y + rng.normal(0, 1.5, size=(50, 5))
    stc, cta, fe = M.SingleTrialCorrelation(5), M.CorrelationToAverage(5), M.FEVE(5)
    for m in (stc, cta, fe):
        m.update_state(y, pred)
    np.testing.assert_allclose(np.asarray(stc.per_neuron()), pearson_per_neuron(pred, y), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(cta.per_neuron()), pearson_per_neuron(pred, y), rtol=1e-10)
    assert float(fe.result()) == 0.0                   # no noise estimate: degenerate → 0


def test_streaming_inside_tf_function_with_unknown_batch():
    y, pred = streaming_sample(22)
    metric = M.FEVE(4, clip=True)
    step = tf.function(metric.update_state, input_signature=[
        tf.TensorSpec((None, None, 4), tf.float64), tf.TensorSpec((None, 4), tf.float64)])
    for a in range(0, len(y), 10):
        step(y[a:a + 10], pred[a:a + 10])
    np.testing.assert_allclose(np.asarray(metric.per_neuron()), M.feve(pred, y, clip=True), rtol=1e-9)


def test_streaming_metric_config_and_errors():
    metric = M.FEVE(3, replicas=2, clip=True, fev_threshold=0.15, noise_weighting="images")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert type(clone) is M.FEVE and clone.get_config() == metric.get_config()
    assert clone.get_config()["fev_threshold"] == 0.15 and clone.clip and clone.replicas == 2
    for method in M.ORACLE_METHODS:
        oracle = M.OracleCorrelation(3, method=method)
        assert keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(oracle)).get_config()["method"] == method
    with pytest.raises(ValueError, match="noise_weighting"):
        M.FEVE(3, noise_weighting="trials")
    with pytest.raises(ValueError, match="method"):
        M.OracleCorrelation(3, method="bootstrap")
    with pytest.raises(ValueError, match=r"expected y_true of shape \(batch, repeats, 3\)"):
        M.FEVE(3).update_state(np.ones((4, 2, 5)), np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"expected predictions of shape \(batch, 2, 3\)"):
        M.SingleTrialCorrelation(3, replicas=2).update_state(np.ones((4, 2, 3)), np.ones((4, 3)))


def test_repeat_metrics_in_model_evaluate():
    # compiled metrics receive the (batch, repeats, neurons) targets untouched; as weighted_metrics,
    # Keras' (batch,) sample weights drop whole images
    rng = np.random.default_rng(23)
    s = rng.normal(size=(90, 4))
    y = s[:, None, :] + rng.normal(size=(90, 5, 4))
    y[::7, 3:] = np.nan
    y = y.astype("float32").astype("float64")          # Keras hands the metrics float32 data
    x = (s + 0.3 * rng.normal(size=s.shape)).astype("float32")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(loss=lambda t, p: keras.ops.mean(p) * 0.0,
                  metrics=[M.FEVE(4, clip=True), M.SingleTrialCorrelation(4), M.CorrelationToAverage(4),
                           M.OracleCorrelation(4, method="jackknife")])
    got = model.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    p = x.astype("float64")
    assert got["feve"] == pytest.approx(M.mean_feve(p, y, clip=True), rel=1e-9)
    assert got["single_trial_correlation"] == pytest.approx(M.single_trial_correlation(p, y).mean(), rel=1e-9)
    assert got["correlation_to_average"] == pytest.approx(M.correlation_to_average(p, y).mean(), rel=1e-9)
    assert got["oracle_correlation"] == pytest.approx(M.oracle_correlation(y, "jackknife").mean(), rel=1e-9)
    keep = rng.uniform(size=90) > 0.4
    model.compile(loss=lambda t, p: keras.ops.mean(p) * 0.0, weighted_metrics=[M.FEVE(4, clip=True)])
    got = model.evaluate(x, y, sample_weight=keep.astype("float32"), batch_size=16, return_dict=True, verbose=0)
    assert got["feve"] == pytest.approx(M.mean_feve(p[keep], y[keep], clip=True), rel=1e-9)


# --- configs saved before ndnx took the peers' names --------------------------------------------

def test_oracle_configs_without_a_version_keep_the_method_they_were_saved_with():
    # Before version 2, ndnx called the leave-one-out oracle "conservative" and the extrapolation "jackknife".
    base = {"name": "oracle_correlation", "dtype": "float64", "units": 4, "replicas": None}
    for old, new in (("conservative", "jackknife"), ("jackknife", "extrapolated")):
        assert M.OracleCorrelation.from_config(dict(base, method=old)).method == new
    for method in M.ORACLE_METHODS:
        assert M.OracleCorrelation.from_config(dict(base, method=method, version=2)).method == method
    assert M.OracleCorrelation(4).get_config()["version"] == 2
    with pytest.raises(ValueError, match="a config without a version names the method as ndnx did"):
        M.OracleCorrelation.from_config(dict(base, method="extrapolated"))
    with pytest.raises(ValueError, match="unknown config version 3"):
        M.OracleCorrelation.from_config(dict(base, method="jackknife", version=3))


@keras.saving.register_keras_serializable(package="ndnx_tests")
def zero_loss(y_true, y_pred):
    return keras.ops.mean(y_pred) * 0.0


def test_model_saved_with_the_former_oracle_names_logs_the_same_numbers(tmp_path):
    import json
    import zipfile

    rng = np.random.default_rng(26)
    s = rng.normal(size=(40, 4))
    y = (s[:, None, :] + rng.normal(size=(40, 5, 4))).astype("float32").astype("float64")
    x = s.astype("float32")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(loss=zero_loss,
                  metrics=[M.OracleCorrelation(4, method="jackknife", name="loo"),
                           M.OracleCorrelation(4, method="extrapolated", name="ext")])
    expected = model.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    assert expected["loo"] == pytest.approx(M.oracle_correlation(y, "jackknife").mean(), rel=1e-9)
    assert expected["ext"] == pytest.approx(M.oracle_correlation(y, "extrapolated").mean(), rel=1e-9)
    saved, legacy = tmp_path / "new.keras", tmp_path / "legacy.keras"
    model.save(saved)
    former = {"jackknife": "conservative", "extrapolated": "jackknife"}
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(legacy, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for metric in config["compile_config"]["metrics"]:
                    assert metric["config"].pop("version") == 2
                    metric["config"]["method"] = former[metric["config"]["method"]]
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    loaded = keras.saving.load_model(legacy)
    got = loaded.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    assert got["loo"] == pytest.approx(expected["loo"], rel=1e-12)
    assert got["ext"] == pytest.approx(expected["ext"], rel=1e-12)
