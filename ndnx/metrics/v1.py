r"""Metrics of V1 system identification on repeated trials: NumPy references and streaming Keras metrics.

Responses of recorded neurons to repeated presentations of the same stimuli (the Antolík et al. 2016
validation set, Sensorium, Cadena et al. 2019) are scored against a model's predictions
(specs/ecosystem_and_peers.md §1.1, §1.4, §8 item 5; specs/v1_system_identification.md §10 Metrics):
single-trial correlation, correlation to average, noise / total / explainable variance, FEV, FEVE
(clipped or not), oracle correlation (jackknife, conservative, extrapolated) and the signal-to-noise
ratio, as NumPy reference functions and as streaming Keras metrics (`SingleTrialCorrelation`,
`CorrelationToAverage`, `FEVE`, `OracleCorrelation`) whose results equal the NumPy functions on the
whole data whatever the batching.
The per-neuron Pearson correlation on (rows, neurons) and the moment helpers shared with it live in
`ndnx.metrics.correlation`; everything is importable from `ndnx.metrics`.

Repeats layout
--------------
Responses to repeated presentations are given as

* an array (images, repeats, neurons); NaN marks a missing trial (ragged data padded with NaN), or
* a list over images of (repeats_i, neurons) arrays with unequal repeats_i (ragged);
  `stack_repeats` pads it to the array form with NaN.

The Antolík et al. (2016) file ``raw_validation_set.npy`` is (repeats, images, neurons); convert it
explicitly with `repeats_from_trials_first` — no function guesses the layout. Predictions are
(images, neurons), or (images, replicas, neurons) for ensembles of replicas, one value per image;
they must be finite. Everything is per neuron; the trials kept for a neuron are its finite entries.

Notation (one neuron): image i = 1…M has n_i finite trials y_ij; N = Σ_i n_i trials in all;
ȳ_i = (1/n_i) Σ_j y_ij is the trial average, ȳ = (1/N) Σ_ij y_ij the grand mean; p_i is the prediction.

Variance components
-------------------
* total variance      σ²_tot   = Σ_ij (y_ij − ȳ)² / (N − 1)            (all single trials, ddof = 1)
* noise variance      σ²_noise = Σ_i Σ_j (y_ij − ȳ_i)² / Σ_i (n_i − 1)
                               = Σ_i (n_i − 1)·s²_i / Σ_i (n_i − 1),     s²_i = per-image variance (ddof 1)

  i.e. the mean over images of the per-image variance across repeats, **weighted by the degrees of
  freedom n_i − 1** (the pooled within-image variance of a one-way ANOVA: unbiased, and the most
  precise weighting for equal noise; an image with one trial has weight 0). With equal repeats this is
  the plain mean over images. ``noise_weighting="images"`` gives instead the unweighted mean of s²_i
  over the images with n_i ≥ 2 (the same number for equal repeats).
* explainable variance σ²_exp   = σ²_tot − σ²_noise
* FEV  (fraction of explainable variance)   = σ²_exp / σ²_tot
* MSE  = (1/N) Σ_ij (y_ij − p_i)²   (every single trial against the prediction for its image)
* FEVE (fraction of explainable variance explained; Cadena et al. 2019, neuralpredictors ``fev``)

      FEVE = 1 − (MSE − σ²_noise) / (σ²_tot − σ²_noise)

  ``clip=False`` (default) is the unclipped neuralpredictors definition (negative for a prediction worse
  than the grand mean, above 1 when MSE < σ²_noise by chance); ``clip=True`` reports min(max(FEVE, 0), 1),
  the Sensorium / openretina reporting convention. Sensorium averages FEVE only over neurons with
  FEV > 0.15 (``fev_threshold`` of `mean_feve` and `FEVE`; default: all neurons).

Correlations
------------
* single-trial correlation: Pearson r over all trials of (p_i, y_ij), the prediction repeated for
  every trial of its image (Sensorium 2022, Willeke et al. 2022);
* correlation to average: Pearson r over images of (p_i, ȳ_i) (images with at least one trial).

Oracle correlations (`oracle_correlation`, `OracleCorrelation`), named as neuralpredictors
(``oracle_corr_jackknife``, ``oracle_corr_conservative``) and openretina (``oracle_corr_jackknife``)
name them:

* method="jackknife" (default; the peers' leave-one-out oracle): every trial against the mean of the
  other trials of its image, m_ij = (Σ_l y_il − y_ij)/(n_i − 1); Pearson r of (y_ij, m_ij) pooled over
  all trials of the images with n_i ≥ 2. It underestimates ρ_∞ (below).
* method="conservative" (neuralpredictors' ``oracle_corr_conservative``, which, its documentation says,
  overestimates): from the variance of the image means and the within-image variance, both with
  ddof 0 — v_mean = variance over images of ȳ_i, v_noise = mean over images of
  (1/n_i) Σ_j (y_ij − ȳ_i)² (images with at least one trial, as neuralpredictors averages every image it
  is given) —

      ρ_C = v_mean / √(v_mean (v_mean + v_noise)) = √(v_mean / (v_mean + v_noise)).

* method="extrapolated" (ndnx's own; called "jackknife" in ndnx before it took the peers' names): the
  leave-one-out oracle is attenuated because m_ij averages only k = n_i − 1 trials. Under
  y_ij = s_i + ε_ij (signal variance σ²_s, noise σ²_n, c = σ²_n/σ²_s) the correlation with a k-trial
  average is r(k) = ρ_∞ (1 + c/k)^(−1/2), where ρ_∞ = σ_s/√(σ²_s + σ²_n) = √FEV is the correlation of a
  single trial with the noise-free response — the best single-trial correlation any model can reach.
  ndnx removes the O(1/k) term by the generalized jackknife (Quenouille 1956; Gray & Schucany 1972;
  Efron & Tibshirani 1993, ch. 11) in the reference size: on the images with n_i ≥ 3, r₁ = the
  leave-one-out oracle (references of n_i − 1 trials), r₂ = the same pooled correlation with references
  of n_i − 2 trials (every trial j against the mean of the trials other than j and l, for each l ≠ j,
  each pair weighted 1/(n_i − 1) so that every trial weighs 1), h_k = mean over those trials of
  1/(n_i − k), and

      ρ_E = (h₂ r₁ − h₁ r₂) / (h₂ − h₁)    (= (n − 1)·r₁ − (n − 2)·r₂ for equal repeats n).

  Its remaining bias under the model above is ≈ −ρ_∞·3c²/(8(n − 1)(n − 2)); it is not clipped to
  [−1, 1].

For the record, the same model gives: jackknife ≈ ρ_∞ (1 + c/(n − 1))^(−1/2); conservative ≈
√((σ²_s + σ²_n/n)/(σ²_s + σ²_n)) for equal repeats n (above ρ_∞: the image means still hold σ²_n/n of
noise); single-trial correlation of the true signal s_i = ρ_∞; its correlation to the n-trial average
= σ_s/√(σ²_s + σ²_n/n).

Signal-to-noise ratio (`snr`, neuralpredictors' ``snr``): on Anscombe-transformed responses
z = 2√(y + 3/8) (the variance-stabilising transform of Poisson counts; ``anscombe=False`` skips it),
SNR = (variance over images of the image means z̄_i, ddof 0) / (mean over images of the within-image
variance of z, ddof 1) — the image means over the images with at least one trial, the within-image
variance over those with at least two. It describes the data, not a model: a NumPy function only.

Degenerate neurons — one policy
-------------------------------
**Every score (correlation, FEV, FEVE, oracle, SNR) that is undefined for a neuron is 0, and that 0 enters
the mean over neurons** — the 'zero-NaNs' convention NDN3 experiments used (spec §3.4). Undefined means:
a constant prediction or a constant response (standard deviation ≤ 1e-9·|mean|, i.e. constant up to
float64 rounding, which includes 0/0), no trial at all, zero total variance (FEV and FEVE), a noise
variance that cannot be estimated because no image has two trials (FEV, FEVE, oracles, SNR), and a
non-positive explainable variance σ²_exp ≤ 0 (FEVE, clipped or not). A *zero noise variance* that was
estimated is not degenerate: it means noise-free data (FEV = 1, FEVE = 1 − MSE/σ²_tot, oracles 1,
SNR +∞ when the image means differ). A negative FEV (σ²_noise > σ²_tot by sampling error) is reported as it is. Only the raw variance
components (`total_variance`, `noise_variance`, `explainable_variance`) return NaN where they cannot
be estimated, since 0 would be a false estimate there. A ``fev_threshold`` is a selection, not part
of this policy: neurons with FEV ≤ threshold are left out of the mean (an empty mean is 0).
Peers differ here, so scores of degenerate neurons are not comparable across libraries: neuralpredictors'
``fev`` can return −inf for a neuron without explainable variance and reports explainable variance 0
for a constant neuron, where openretina's explainable-variance ratio is 1.0 (its FEVE floors the
denominator at 1e-9); ndnx reports 0 for all of these (ecosystem spec §1.4). The streaming
`PearsonCorrelation` follows the same rule as `pearson_per_neuron` (exact 0 for a constant side).

Standardisation: Sensorium divides each neuron's responses by their standard deviation before scoring
(`standardize_responses`). Correlations, FEV and the oracles do not change; FEVE changes only when
the responses are scaled and the predictions are not.

Streaming metrics: y_true is (batch, repeats, neurons) with NaN padding for missing trials, one row
per image with *all* its repeats (an image's trials must not be split across batches); a 2-D y_true
(batch, neurons) is one trial per image. ``sample_weight`` (broadcastable to y_true from the left, e.g.
(batch,) or y_true's shape) marks trials with weight 0 as missing. All state is float64 and merged
per batch with the pairwise (Chan et al.) update of means and co-moments.

References: Willeke et al. 2022, "The Sensorium competition on predicting large-scale mouse primary
visual cortex activity", arXiv:2206.08666; Cadena et al. 2019, "Deep convolutional models improve
predictions of macaque V1 responses to natural images", PLoS Comput Biol 15(4): e1006897 (FEVE);
sinzlab/neuralpredictors ``measures/np_functions.py`` (corr, oracle_corr_jackknife,
oracle_corr_conservative, fev, snr); openretina ``eval/metrics.py`` (clipped FEVE) and
``eval/oracles.py`` (oracle_corr_jackknife); Efron & Tibshirani 1993, "An Introduction to the
Bootstrap" (jackknife).
"""

import numpy as np
import keras
from keras import ops

from ndnx.metrics.correlation import (_CONSTANT_TOL, _MOMENTS, _check_option, _corr, _merge_moments,
                                      _np_corr, _np_moments, _selected_mean)
from ndnx.registry import register

__all__ = [
    "stack_repeats", "repeats_from_trials_first", "trial_average", "standardize_responses",
    "total_variance", "noise_variance", "explainable_variance", "fev", "feve", "mean_feve",
    "single_trial_correlation", "correlation_to_average", "oracle_correlation", "snr",
    "SingleTrialCorrelation", "CorrelationToAverage", "FEVE", "OracleCorrelation", "ORACLE_METHODS",
]

_NOISE_WEIGHTINGS = ("dof", "images")
ORACLE_METHODS = ("jackknife", "conservative", "extrapolated")
# What the method names meant before ndnx took the peers' names (OracleCorrelation configs of version 1).
_LEGACY_ORACLE_METHODS = {"conservative": "jackknife", "jackknife": "extrapolated"}


# ---------------------------------------------------------------------------------------------
# Repeats: layout helpers
# ---------------------------------------------------------------------------------------------

def stack_repeats(repeats):
    """Repeats as one float64 array (images, max repeats, neurons), NaN where a trial is missing.

    repeats: an array (images, repeats, neurons) — returned as a float64 copy — or a list/tuple over
    images of (repeats_i, neurons) arrays (ragged), padded with NaN. For the Antolík
    (repeats, images, neurons) files use `repeats_from_trials_first`.
    """
    if isinstance(repeats, (list, tuple)):
        if len(repeats) == 0:
            raise ValueError("stack_repeats: expected at least one image, got an empty list")
        blocks = [np.asarray(r, dtype="float64") for r in repeats]
        bad = [i for i, b in enumerate(blocks) if b.ndim != 2]
        if bad:
            raise ValueError(f"stack_repeats: each image must be a (repeats, neurons) array; image {bad[0]} "
                             f"has shape {blocks[bad[0]].shape}")
        units = {b.shape[1] for b in blocks}
        if len(units) != 1:
            raise ValueError(f"stack_repeats: images disagree on the number of neurons: {sorted(units)}")
        out = np.full((len(blocks), max(b.shape[0] for b in blocks), units.pop()), np.nan)
        for i, b in enumerate(blocks):
            out[i, :b.shape[0]] = b
        return out
    out = np.array(repeats, dtype="float64")
    if out.ndim != 3:
        raise ValueError(f"stack_repeats: expected repeats of shape (images, repeats, neurons) or a list of "
                         f"(repeats_i, neurons) arrays, got shape {out.shape}")
    return out


def repeats_from_trials_first(arr):
    """(repeats, images, neurons) — the layout of Antolík et al. 2016 ``raw_validation_set.npy`` — to
    (images, repeats, neurons). The only place ndnx accepts trials-first data."""
    arr = np.asarray(arr, dtype="float64")
    if arr.ndim != 3:
        raise ValueError(f"repeats_from_trials_first: expected (repeats, images, neurons), got shape {arr.shape}")
    return np.ascontiguousarray(np.swapaxes(arr, 0, 1))


def _parts(repeats):
    """Padded responses with missing trials set to 0, the 0/1 trial mask and trials per image."""
    y = stack_repeats(repeats)
    valid = np.isfinite(y)
    w = valid.astype("float64")
    return np.where(valid, y, 0.0), w, w.sum(axis=1)


def trial_average(repeats):
    """Mean over the available repeats of each image: (images, neurons); NaN where an image has no trial."""
    y0, _, n = _parts(repeats)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, y0.sum(axis=1) / n, np.nan)


def standardize_responses(repeats, std=None):
    """Divide each neuron's responses by its standard deviation, as Sensorium does before scoring.

    std: per-neuron std to use (e.g. the training set's); default: the std (ddof = 1) of all single
    trials in `repeats`. A zero or undefined std leaves that neuron unscaled.
    Returns (standardised repeats as a padded array, std used).
    """
    y = stack_repeats(repeats)
    std = np.sqrt(total_variance(y)) if std is None else np.asarray(std, dtype="float64")
    scale = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return y / scale, std


# ---------------------------------------------------------------------------------------------
# Variance components, FEV, FEVE
# ---------------------------------------------------------------------------------------------

def _components(y0, w, n, noise_weighting):
    """Per neuron: grand mean, total variance, noise variance (NaN where not estimable)."""
    count = n.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = y0.sum(axis=(0, 1)) / count
        total = (w * (y0 - mean) ** 2).sum(axis=(0, 1)) / (count - 1)
        ybar = np.where(n > 0, y0.sum(axis=1) / np.maximum(n, 1), 0.0)
        ss = (w * (y0 - ybar[:, None, :]) ** 2).sum(axis=1)           # (images, neurons)
        if noise_weighting == "dof":
            noise = ss.sum(axis=0) / np.maximum(n - 1, 0).sum(axis=0)
        else:
            has2 = n >= 2
            noise = np.where(has2, ss / np.maximum(n - 1, 1), 0.0).sum(axis=0) / has2.sum(axis=0)
    total = np.where(count >= 2, total, np.nan)
    return mean, total, np.where(np.isfinite(noise), noise, np.nan)


def total_variance(repeats):
    """Variance (ddof = 1) of all single-trial responses, per neuron; NaN with fewer than two trials."""
    y0, w, n = _parts(repeats)
    return _components(y0, w, n, "dof")[1]


def noise_variance(repeats, noise_weighting="dof"):
    """Mean over images of the across-repeat variance (ddof = 1), per neuron.

    noise_weighting: "dof" — weights n_i − 1 (pooled within-image variance; default), or "images" —
    unweighted mean over the images with at least two trials. NaN where no image has two trials.
    """
    _check_option("noise_variance", "noise_weighting", noise_weighting, _NOISE_WEIGHTINGS)
    y0, w, n = _parts(repeats)
    return _components(y0, w, n, noise_weighting)[2]


def explainable_variance(repeats, noise_weighting="dof"):
    """Total minus noise variance, per neuron (may be negative by sampling error; NaN if not estimable)."""
    _check_option("explainable_variance", "noise_weighting", noise_weighting, _NOISE_WEIGHTINGS)
    y0, w, n = _parts(repeats)
    _, total, noise = _components(y0, w, n, noise_weighting)
    return total - noise


def _fev_from(mean, total, noise):
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(total) & np.isfinite(noise) & (total > _CONSTANT_TOL**2 * mean**2)
        return np.where(ok, (total - noise) / np.where(ok, total, 1.0), 0.0)


def fev(repeats, noise_weighting="dof"):
    """Fraction of explainable variance per neuron: FEV = (σ²_tot − σ²_noise)/σ²_tot.

    0 for a neuron with zero total variance or no estimable noise variance (degenerate policy);
    negative values (noise estimate above the total) are reported as they are.
    """
    _check_option("fev", "noise_weighting", noise_weighting, _NOISE_WEIGHTINGS)
    y0, w, n = _parts(repeats)
    return _fev_from(*_components(y0, w, n, noise_weighting))


def _check_pred(owner, pred, y):
    pred = np.asarray(pred, dtype="float64")
    if pred.ndim not in (2, 3) or pred.shape[0] != y.shape[0] or pred.shape[-1] != y.shape[-1]:
        raise ValueError(f"{owner}: predictions must be (images, neurons) or (images, replicas, neurons) "
                         f"matching repeats of shape {y.shape} (images, repeats, neurons); got {pred.shape}")
    if not np.all(np.isfinite(pred)):
        raise ValueError(f"{owner}: predictions must be finite")
    return pred


def _trial_view(pred, y0, w):
    """Prediction repeated per trial, aligned with y0/w; trailing axes ([replicas,] neurons)."""
    if pred.ndim == 2:
        return np.broadcast_to(pred[:, None, :], y0.shape), y0, w
    shape = (y0.shape[0], y0.shape[1], pred.shape[1], y0.shape[2])
    return (np.broadcast_to(pred[:, None], shape), np.broadcast_to(y0[:, :, None], shape),
            np.broadcast_to(w[:, :, None], shape))


def _feve_from(mean, total, noise, mse, clip):
    explainable = total - noise
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (np.isfinite(total) & np.isfinite(noise) & (total > _CONSTANT_TOL**2 * mean**2)
              & (explainable > 0))
        value = 1.0 - (mse - noise) / np.where(ok, explainable, 1.0)
    if clip:
        value = np.clip(value, 0.0, 1.0)
    return np.where(ok & np.isfinite(value), value, 0.0)


def feve(pred, repeats, clip=False, noise_weighting="dof"):
    """Fraction of explainable variance explained per neuron (Cadena et al. 2019).

    FEVE = 1 − (MSE − σ²_noise)/(σ²_tot − σ²_noise), MSE over all single trials against the
    prediction of their image. clip=False: unclipped (neuralpredictors); clip=True: clipped to [0, 1]
    (Sensorium / openretina reporting). 0 where the explainable variance is not positive or not
    estimable (degenerate policy). pred: (images, neurons) or (images, replicas, neurons);
    returns (neurons,) or (replicas, neurons).
    """
    _check_option("feve", "noise_weighting", noise_weighting, _NOISE_WEIGHTINGS)
    y0, w, n = _parts(repeats)
    pred = _check_pred("feve", pred, y0)
    mean, total, noise = _components(y0, w, n, noise_weighting)
    p, y, m = _trial_view(pred, y0, w)
    mse = (m * (y - p) ** 2).sum(axis=(0, 1)) / np.maximum(n.sum(axis=0), 1)
    return _feve_from(mean, total, noise, mse, clip)


def mean_feve(pred, repeats, clip=False, fev_threshold=None, noise_weighting="dof"):
    """Mean of `feve` over the neurons with FEV > fev_threshold (all neurons when None; Sensorium
    uses 0.15). A scalar, or one value per replica; 0 when no neuron is selected."""
    values = feve(pred, repeats, clip=clip, noise_weighting=noise_weighting)
    if fev_threshold is None:
        return values.mean(axis=-1)
    return _selected_mean(values, fev(repeats, noise_weighting) > fev_threshold)


# ---------------------------------------------------------------------------------------------
# Correlations on repeats
# ---------------------------------------------------------------------------------------------

def single_trial_correlation(pred, repeats):
    """Per-neuron Pearson r of the prediction (repeated for every trial) with all single trials pooled.

    pred: (images, neurons) or (images, replicas, neurons); returns (neurons,) or (replicas, neurons).
    Constant prediction or response → 0.
    """
    y0, w, _ = _parts(repeats)
    pred = _check_pred("single_trial_correlation", pred, y0)
    p, y, m = _trial_view(pred, y0, w)
    return _np_corr(*_np_moments(p, y, m, (0, 1)))


def correlation_to_average(pred, repeats):
    """Per-neuron Pearson r of the prediction with the trial-averaged response, over the images with
    at least one trial. Shapes as `single_trial_correlation`."""
    y0, w, n = _parts(repeats)
    pred = _check_pred("correlation_to_average", pred, y0)
    avg = np.where(n > 0, y0.sum(axis=1) / np.maximum(n, 1), 0.0)[:, None]   # (images, 1, neurons)
    keep = (n > 0).astype("float64")[:, None]
    p, y, m = _trial_view(pred, avg, keep)
    return _np_corr(*_np_moments(p, y, m, (0, 1)))


def _oracle_terms(y0, w, n):
    """Per trial: LOO mean m_ij, and v_ij/((n_i−1)(n_i−2)) with v_ij the variance (ddof 1) of the
    trials other than j — the extra spread of the (n_i − 2)-trial references around m_ij."""
    s = y0.sum(axis=1, keepdims=True)
    nk = n[:, None]
    m = (s - y0) / np.maximum(nk - 1, 1)
    ybar = s / np.maximum(nk, 1)
    ss = (w * (y0 - ybar) ** 2).sum(axis=1, keepdims=True)
    ss_minus = np.maximum(ss - nk / np.maximum(nk - 1, 1) * (y0 - ybar) ** 2, 0.0)
    extra = ss_minus / np.maximum((nk - 1) * (nk - 2) ** 2, 1)
    return m, extra


def _image_means(y0, n):
    """Per image and neuron: the trial mean ȳ_i (0 without trials) and whether the image has a trial."""
    has = (n >= 1).astype("float64")
    return np.where(n > 0, y0.sum(axis=1) / np.maximum(n, 1), 0.0), has


def _conservative_from(count, mean, var_mean, var_noise, multi):
    """√(v_mean/(v_mean + v_noise)); 0 without a noise estimate or for a constant response."""
    total = var_mean + var_noise
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (multi > 0) & (count > 0) & (total > _CONSTANT_TOL**2 * mean**2)
        value = np.sqrt(np.maximum(var_mean, 0.0) / np.where(ok, total, 1.0))
    return np.where(ok & np.isfinite(value), value, 0.0)


def oracle_correlation(repeats, method="jackknife"):
    """Oracle correlation per neuron: how well the other trials of an image predict a held-out trial.

    Methods (module docstring; names as neuralpredictors and openretina use them):

    * "jackknife" (default): Pearson r of every trial y_ij with the mean of the other trials of its
      image, pooled over all trials of the images with ≥ 2 trials — the peers' leave-one-out
      ``oracle_corr_jackknife``; below ρ_∞.
    * "conservative": neuralpredictors' ``oracle_corr_conservative``, √(v_mean/(v_mean + v_noise))
      from the variance (ddof 0) of the image means and the mean within-image variance (ddof 0);
      above ρ_∞.
    * "extrapolated": ρ_E = (h₂ r₁ − h₁ r₂)/(h₂ − h₁) on the images with ≥ 3 trials ((n − 1) r₁ −
      (n − 2) r₂ for equal repeats), the generalized-jackknife extrapolation of the leave-one-out
      oracle to infinitely many averaged repeats, an estimate of ρ_∞ = √FEV (ndnx's; named
      "jackknife" in ndnx before it took the peers' names).

    0 where undefined (degenerate policy). Returns (neurons,).
    """
    _check_option("oracle_correlation", "method", method, ORACLE_METHODS)
    y0, w, n = _parts(repeats)
    if method == "conservative":
        ybar, has = _image_means(y0, n)
        within = (w * (y0 - ybar[:, None, :]) ** 2).sum(axis=1) / np.maximum(n, 1)      # ddof 0
        count, mean, _, m2, _, _ = _np_moments(ybar, ybar, has, (0,))
        with np.errstate(invalid="ignore", divide="ignore"):
            var_mean, var_noise = m2 / count, within.sum(axis=0) / count
        return _conservative_from(count, mean, var_mean, var_noise, (n >= 2).sum(axis=0))
    m, extra = _oracle_terms(y0, w, n)
    if method == "jackknife":
        return _np_corr(*_np_moments(y0, m, w * (n >= 2)[:, None], (0, 1)))
    keep = w * (n >= 3)[:, None]
    count, my, mm, cyy, cmm, cym = _np_moments(y0, m, keep, (0, 1))
    r1 = _np_corr(count, my, mm, cyy, cmm, cym)
    r2 = _np_corr(count, my, mm, cyy, cmm + (keep * extra).sum(axis=(0, 1)), cym)
    nk = n[:, None]
    h1 = (keep / np.maximum(nk - 1, 1)).sum(axis=(0, 1))
    h2 = (keep / np.maximum(nk - 2, 1)).sum(axis=(0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (h2 * r1 - h1 * r2) / (h2 - h1)
    return np.where(np.isfinite(rho), rho, 0.0)


def snr(repeats, anscombe=True):
    """Signal-to-noise ratio per neuron (neuralpredictors' ``snr``).

    SNR = (variance over images of the image means, ddof 0) / (mean over images of the within-image
    variance, ddof 1), on Anscombe-transformed responses 2√(y + 3/8) (`anscombe=True`, as
    neuralpredictors computes it; `False` uses the responses as they are). The image means run over
    the images with at least one trial, the within-image variances over those with at least two.
    0 where undefined (constant response, no image with two trials); +∞ for noise-free repeats
    with a signal. Returns (neurons,).
    """
    y = stack_repeats(repeats)
    if anscombe:
        finite = np.isfinite(y)
        if np.any(y[finite] < -3.0 / 8.0):
            raise ValueError("snr: the Anscombe transform 2√(y + 3/8) needs responses ≥ −3/8, got a minimum of "
                             f"{y[finite].min()!r}; pass anscombe=False for responses that are not counts")
        y = np.where(finite, 2.0 * np.sqrt(np.where(finite, y, 0.0) + 3.0 / 8.0), np.nan)
    y0, w, n = _parts(y)
    ybar, has = _image_means(y0, n)
    count, mean, _, m2, _, _ = _np_moments(ybar, ybar, has, (0,))
    multi = n >= 2
    within = np.where(multi, (w * (y0 - ybar[:, None, :]) ** 2).sum(axis=1) / np.maximum(n - 1, 1), 0.0)
    images = multi.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        signal, noise = m2 / count, within.sum(axis=0) / images
        ok = (images > 0) & (count > 0) & (signal + noise > _CONSTANT_TOL**2 * mean**2)
        value = signal / np.where(ok, noise, 1.0)
    return np.where(ok & ~np.isnan(value), value, 0.0)


# ---------------------------------------------------------------------------------------------
# Streaming metrics on repeats
# ---------------------------------------------------------------------------------------------

class _RepeatsMetric(keras.metrics.Metric):
    """Shared input handling: y_true (batch, repeats, neurons) with NaN padding (or (batch, neurons)),
    y_pred (batch, neurons) or (batch, replicas, neurons)."""

    def __init__(self, units, replicas=None, name=None, dtype="float64", **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.units = int(units)
        if self.units < 1:
            raise ValueError(f"{self.name}: units must be a positive integer, got {units!r}")
        self.replicas = None if replicas is None else int(replicas)
        if self.replicas is not None and self.replicas < 1:
            raise ValueError(f"{self.name}: replicas must be None or a positive integer, got {replicas!r}")
        self._stat_shape = (self.units,) if self.replicas is None else (self.replicas, self.units)

    def _vars(self, prefix, names, shape):
        return [self.add_variable(shape=shape, initializer="zeros", dtype=self.dtype, name=f"{prefix}_{k}")
                for k in names]

    def _prepare(self, y_true, y_pred, sample_weight):
        y = ops.cast(y_true, self.dtype)
        p = ops.cast(y_pred, self.dtype)
        if len(y.shape) not in (2, 3) or y.shape[-1] != self.units:
            raise ValueError(f"{self.name}: expected y_true of shape (batch, repeats, {self.units}) or "
                             f"(batch, {self.units}), got {tuple(y.shape)}")
        want = 2 if self.replicas is None else 3
        if len(p.shape) != want or p.shape[-1] != self.units or (
                self.replicas is not None and p.shape[1] not in (None, self.replicas)):
            expected = (f"(batch, {self.units})" if self.replicas is None
                        else f"(batch, {self.replicas}, {self.units})")
            raise ValueError(f"{self.name}: expected predictions of shape {expected}, got {tuple(p.shape)}")
        valid = ops.isfinite(y)
        if sample_weight is not None:
            sw = ops.cast(sample_weight, self.dtype)
            while len(sw.shape) < len(y.shape):
                sw = ops.expand_dims(sw, -1)
            valid = ops.logical_and(valid, ops.not_equal(ops.broadcast_to(sw, ops.shape(y)), 0.0))
        if len(y.shape) == 2:
            y, valid = ops.expand_dims(y, 1), ops.expand_dims(valid, 1)
        w = ops.cast(valid, self.dtype)
        y0 = ops.where(valid, y, ops.zeros_like(y))
        return y0, w, ops.sum(w, axis=1), p

    def _trial_view(self, p, y0, w):
        """Prediction per trial, broadcast with y0 and w to (batch, repeats, [replicas,] neurons)."""
        if self.replicas is None:
            p = ops.expand_dims(p, 1)
        else:
            p, y0, w = ops.expand_dims(p, 1), ops.expand_dims(y0, 2), ops.expand_dims(w, 2)
        shape = ops.shape(p + y0)
        return ops.broadcast_to(p, shape), ops.broadcast_to(y0, shape), ops.broadcast_to(w, shape)

    def result(self):
        return ops.mean(self.per_neuron())

    def reset_state(self):
        for var in self.variables:
            var.assign(ops.zeros_like(var))

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "replicas": self.replicas})
        return config


@register("metric")
class SingleTrialCorrelation(_RepeatsMetric):
    """Streaming single-trial correlation (Sensorium 2022), mean over neurons (and replicas).

    Per neuron, Pearson r over all trials of (p_i, y_ij): the prediction for image i is repeated for
    each of its trials. Equals `single_trial_correlation` on the whole data whatever the batching.
    y_true: (batch, repeats, units) with NaN for missing trials, or (batch, units) (one trial per image);
    y_pred: (batch, units), or (batch, replicas, units) with `replicas` set. Constant → 0.

    Args:
        units: number of neurons.
        replicas: None, or the size of the predictions' replica axis.
    """

    def __init__(self, units, replicas=None, name="single_trial_correlation", dtype="float64", **kwargs):
        super().__init__(units, replicas, name=name, dtype=dtype, **kwargs)
        self._moments = self._vars("m", _MOMENTS, self._stat_shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y0, w, _, p = self._prepare(y_true, y_pred, sample_weight)
        p, y0, w = self._trial_view(p, y0, w)
        _merge_moments(self._moments, p, y0, w, (0, 1))

    def per_neuron(self):
        """Per-neuron correlations, (units,) or (replicas, units)."""
        return _corr(*self._moments)


@register("metric")
class CorrelationToAverage(_RepeatsMetric):
    """Streaming correlation to average (Sensorium 2022), mean over neurons (and replicas).

    Per neuron, Pearson r over images of (p_i, ȳ_i), ȳ_i the mean of the available trials of image i
    (images without a trial are skipped). Equals `correlation_to_average` whatever the batching.
    Inputs as `SingleTrialCorrelation`; a 2-D y_true makes it the plain Pearson correlation.
    """

    def __init__(self, units, replicas=None, name="correlation_to_average", dtype="float64", **kwargs):
        super().__init__(units, replicas, name=name, dtype=dtype, **kwargs)
        self._moments = self._vars("m", _MOMENTS, self._stat_shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y0, _, n, p = self._prepare(y_true, y_pred, sample_weight)
        avg = ops.expand_dims(ops.sum(y0, axis=1) / ops.maximum(n, 1.0), 1)
        keep = ops.expand_dims(ops.cast(n > 0, self.dtype), 1)
        p, avg, keep = self._trial_view(p, avg, keep)
        _merge_moments(self._moments, p, avg, keep, (0, 1))

    def per_neuron(self):
        """Per-neuron correlations, (units,) or (replicas, units)."""
        return _corr(*self._moments)


@register("metric")
class FEVE(_RepeatsMetric):
    """Streaming fraction of explainable variance explained, mean over (selected) neurons and replicas.

    FEVE = 1 − (MSE − σ²_noise)/(σ²_tot − σ²_noise) per neuron (Cadena et al. 2019), from running
    float64 state: count, mean and M2 of all trials (σ²_tot), within-image sums of squares and degrees
    of freedom (σ²_noise), and Σ(y_ij − p_i)² (MSE). Equals `feve` / `mean_feve` on the whole data
    whatever the batching, provided each row holds all repeats of its image.

    Args:
        units: number of neurons.
        replicas: None, or the size of the predictions' replica axis.
        clip: False — unclipped (neuralpredictors); True — clipped to [0, 1] (Sensorium / openretina).
        fev_threshold: None (mean over all neurons) or a number: the mean runs over neurons with
            FEV > fev_threshold (Sensorium: 0.15); 0 if none qualifies.
        noise_weighting: "dof" (pooled within-image variance, weights n_i − 1) or "images".
    Degenerate neurons (no positive explainable variance, no noise estimate) score 0. A 2-D y_true has
    one trial per image, so no noise estimate: every neuron scores 0.
    """

    def __init__(self, units, replicas=None, clip=False, fev_threshold=None, noise_weighting="dof",
                 name="feve", dtype="float64", **kwargs):
        super().__init__(units, replicas, name=name, dtype=dtype, **kwargs)
        _check_option(self.name, "noise_weighting", noise_weighting, _NOISE_WEIGHTINGS)
        self.clip = bool(clip)
        self.fev_threshold = None if fev_threshold is None else float(fev_threshold)
        self.noise_weighting = noise_weighting
        shape = (self.units,)
        self._total = self._vars("total", ("count", "mean", "m2"), shape)
        self._noise = self._vars("noise", ("ss", "dof", "var_sum", "images"), shape)
        self._sse = self.add_variable(shape=self._stat_shape, initializer="zeros", dtype=self.dtype,
                                      name="sse")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y0, w, n, p = self._prepare(y_true, y_pred, sample_weight)
        count, mean, m2 = self._total
        nb = ops.sum(n, axis=0)
        safe_b = ops.maximum(nb, 1.0)
        mean_b = ops.sum(y0, axis=(0, 1)) / safe_b
        m2_b = ops.sum(w * ops.square(y0 - mean_b), axis=(0, 1))
        new = count + nb
        safe = ops.maximum(new, 1.0)
        delta = mean_b - mean
        updates = (new, mean + delta * nb / safe, m2 + m2_b + delta * delta * count * nb / safe)
        for var, value in zip(self._total, updates):
            var.assign(value)

        ybar = ops.sum(y0, axis=1) / ops.maximum(n, 1.0)
        ss = ops.sum(w * ops.square(y0 - ops.expand_dims(ybar, 1)), axis=1)       # (batch, units)
        has2 = n >= 2
        ss_sum, dof, var_sum, images = self._noise
        ss_sum.assign_add(ops.sum(ss, axis=0))
        dof.assign_add(ops.sum(ops.maximum(n - 1.0, 0.0), axis=0))
        var_sum.assign_add(ops.sum(ops.where(has2, ss / ops.maximum(n - 1.0, 1.0), 0.0), axis=0))
        images.assign_add(ops.sum(ops.cast(has2, self.dtype), axis=0))

        p, y, m = self._trial_view(p, y0, w)
        self._sse.assign_add(ops.sum(m * ops.square(y - p), axis=(0, 1)))

    def _components(self):
        count, mean, m2 = self._total
        ss_sum, dof, var_sum, images = self._noise
        nan = ops.full_like(count, float("nan"))
        total = ops.where(count >= 2, m2 / ops.maximum(count - 1.0, 1.0), nan)
        if self.noise_weighting == "dof":
            noise = ops.where(dof > 0, ss_sum / ops.maximum(dof, 1.0), nan)
        else:
            noise = ops.where(images > 0, var_sum / ops.maximum(images, 1.0), nan)
        ok = ops.logical_and(ops.isfinite(total), ops.isfinite(noise))
        ok = ops.logical_and(ok, total > _CONSTANT_TOL**2 * mean * mean)
        return count, total, noise, ok

    def fev(self):
        """Per-neuron FEV of the data seen so far (0 where degenerate), (units,)."""
        _, total, noise, ok = self._components()
        value = (total - noise) / ops.where(ok, total, ops.ones_like(total))
        return ops.where(ok, value, ops.zeros_like(value))

    def per_neuron(self):
        """Per-neuron FEVE, (units,) or (replicas, units); 0 where degenerate."""
        count, total, noise, ok = self._components()
        explainable = total - noise
        ok = ops.logical_and(ok, explainable > 0)
        mse = self._sse / ops.maximum(count, 1.0)
        value = 1.0 - (mse - noise) / ops.where(ok, explainable, ops.ones_like(explainable))
        if self.clip:
            value = ops.clip(value, 0.0, 1.0)
        ok = ops.logical_and(ok, ops.isfinite(value))
        return ops.where(ok, value, ops.zeros_like(value))

    def result(self):
        values = self.per_neuron()
        if self.fev_threshold is None:
            return ops.mean(values)
        keep = ops.broadcast_to(ops.cast(self.fev() > self.fev_threshold, self.dtype), ops.shape(values))
        per_replica = ops.sum(keep * values, axis=-1) / ops.maximum(ops.sum(keep, axis=-1), 1.0)
        return ops.mean(per_replica)

    def get_config(self):
        config = super().get_config()
        config.update({"clip": self.clip, "fev_threshold": self.fev_threshold,
                       "noise_weighting": self.noise_weighting})
        return config


@register("metric")
class OracleCorrelation(_RepeatsMetric):
    """Streaming oracle correlation of the recorded data (the predictions are ignored), mean over neurons.

    Logs the data's ceiling of a single-trial correlation next to a model's correlation. Methods as `oracle_correlation` (names as
    neuralpredictors and openretina use them): "jackknife" (default) every trial against the mean of
    the other trials of its image, pooled (the peers' leave-one-out oracle); "conservative"
    neuralpredictors' √(v_mean/(v_mean + v_noise)); "extrapolated" ndnx's generalized-jackknife
    extrapolation to infinitely many repeats, ρ_E = (h₂ r₁ − h₁ r₂)/(h₂ − h₁) (module docstring).
    Equals `oracle_correlation` whatever the batching, provided each row holds all repeats of its
    image. y_pred is accepted (and shape-checked) only to fit `model.compile`.

    Configs: `get_config` writes "version": 2. A config without a version was saved before ndnx took
    the peers' names, when "conservative" meant the leave-one-out oracle and "jackknife" the
    extrapolation; `from_config` reads it with the method it was saved with ("conservative" →
    "jackknife", "jackknife" → "extrapolated"), so a model saved then logs the same numbers after
    loading. In code, method="conservative" is now neuralpredictors' conservative oracle.

    Args:
        units: number of neurons.
        method: "jackknife", "conservative" or "extrapolated".
        replicas: None, or the size of the predictions' replica axis (result has no replica axis).
    """

    CONFIG_VERSION = 2

    def __init__(self, units, method="jackknife", replicas=None, name="oracle_correlation",
                 dtype="float64", **kwargs):
        super().__init__(units, replicas, name=name, dtype=dtype, **kwargs)
        _check_option(self.name, "method", method, ORACLE_METHODS)
        self.method = method
        shape = (self.units,)
        if method == "conservative":
            # moments of the image means (x = y = ȳ_i), Σ within-image variance (ddof 0), images with ≥ 2 trials
            self._means = self._vars("c", _MOMENTS, shape)
            self._within = self._vars("c", ("within", "multi"), shape)
        else:
            self._pairs = self._vars("j", _MOMENTS, shape)
            if method == "extrapolated":
                self._extra = self._vars("e", ("extra", "h1", "h2"), shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y0, w, n, _ = self._prepare(y_true, y_pred, sample_weight)
        if self.method == "conservative":
            ybar = ops.sum(y0, axis=1) / ops.maximum(n, 1.0)
            has = ops.cast(n >= 1.0, self.dtype)
            _merge_moments(self._means, ybar, ybar, has, (0,))
            within = ops.sum(w * ops.square(y0 - ops.expand_dims(ybar, 1)), axis=1) / ops.maximum(n, 1.0)
            total, multi = self._within
            total.assign_add(ops.sum(within, axis=0))
            multi.assign_add(ops.sum(ops.cast(n >= 2.0, self.dtype), axis=0))
            return
        nk = ops.expand_dims(n, 1)
        s = ops.sum(y0, axis=1, keepdims=True)
        m = (s - y0) / ops.maximum(nk - 1.0, 1.0)
        if self.method == "jackknife":
            _merge_moments(self._pairs, y0, m, w * ops.cast(nk >= 2, self.dtype), (0, 1))
            return
        keep = w * ops.cast(nk >= 3, self.dtype)
        _merge_moments(self._pairs, y0, m, keep, (0, 1))
        ybar = s / ops.maximum(nk, 1.0)
        ss = ops.sum(w * ops.square(y0 - ybar), axis=1, keepdims=True)
        ss_minus = ops.maximum(ss - nk / ops.maximum(nk - 1.0, 1.0) * ops.square(y0 - ybar), 0.0)
        extra, h1, h2 = self._extra
        extra.assign_add(ops.sum(keep * ss_minus / ops.maximum((nk - 1.0) * ops.square(nk - 2.0), 1.0),
                                 axis=(0, 1)))
        h1.assign_add(ops.sum(keep / ops.maximum(nk - 1.0, 1.0), axis=(0, 1)))
        h2.assign_add(ops.sum(keep / ops.maximum(nk - 2.0, 1.0), axis=(0, 1)))

    def per_neuron(self):
        """Per-neuron oracle correlation, (units,)."""
        if self.method == "conservative":
            count, mean, _, m2, _, _ = self._means
            total, multi = self._within
            safe = ops.maximum(count, 1.0)
            var_mean, var_noise = m2 / safe, total / safe
            var_sum = var_mean + var_noise
            ok = ops.logical_and(multi > 0, count > 0)
            ok = ops.logical_and(ok, var_sum > _CONSTANT_TOL**2 * mean * mean)
            value = ops.sqrt(ops.maximum(var_mean, 0.0) / ops.where(ok, var_sum, ops.ones_like(var_sum)))
            ok = ops.logical_and(ok, ops.isfinite(value))
            return ops.where(ok, value, ops.zeros_like(value))
        if self.method == "jackknife":
            return _corr(*self._pairs)
        count, my, mm, cyy, cmm, cym = self._pairs
        extra, h1, h2 = self._extra
        r1 = _corr(count, my, mm, cyy, cmm, cym)
        r2 = _corr(count, my, mm, cyy, cmm + extra, cym)
        rho = (h2 * r1 - h1 * r2) / (h2 - h1)
        return ops.where(ops.isfinite(rho), rho, ops.zeros_like(rho))

    def get_config(self):
        config = super().get_config()
        config.update({"method": self.method, "version": self.CONFIG_VERSION})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        version = config.pop("version", 1)
        if version == 1:
            old = config.get("method", "conservative")
            if old not in _LEGACY_ORACLE_METHODS:
                raise ValueError(f"OracleCorrelation: a config without a version names the method as ndnx did "
                                 f"before version 2, one of {sorted(_LEGACY_ORACLE_METHODS)}; got {old!r}")
            config["method"] = _LEGACY_ORACLE_METHODS[old]
        elif version != cls.CONFIG_VERSION:
            raise ValueError(f"OracleCorrelation: unknown config version {version!r}; expected 1 or "
                             f"{cls.CONFIG_VERSION}")
        return cls(**config)
