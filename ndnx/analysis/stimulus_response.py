"""Analysis of a clamped-stimulus recording: active units, orientation tuning, spectra, transients, synchrony.

Spec energy_sampling_nrflv.md §3.4 (the thesis's `AnalysisManager`), for recordings made by
`ndnx.energy.recording.record_protocol` (time on axis 0, then batch = one stimulus per row, ...,
channels last). `stimulus` and `outside` are step indices (slices or index arrays), e.g. the spec's
stimulus steps 1100–2100 and the blank before (100–1100) and after it.

* `active_units`: Welch's t-test (unequal variances) of each unit's activity during vs outside the
  stimulus; active = p < alpha and a higher mean during; optionally Shapiro–Wilk W and p of each group
  (`shapiro_wilk`, per unit);
* `fit_tuning`: a tuning curve r(θ) normalised to zero mean and unit norm, least-squares fits of
  a·cos(θ + φ) + c and a·cos(2θ + φ) + c (both linear in a·cosφ, a·sinφ, c, so solved exactly), the
  lower cost wins; the preferred angle is the data peak closest to a fitted peak; tuned if a > 0.04;
* `matched_units`: stimulus angle within 10° (2π-periodic) of each channel's preferred angle;
* `matched_lfp`: the "LFP" — per stimulus, the sum over channels of the matched units' traces;
* `psd_peaks`: linear detrend, Welch power spectrum (scaling "spectrum", cycles per step), peaks with
  prominence ≥ max/2, and Σ f·PSD;
* `contrast_transients`: per contrast, the summed traces floored at their baseline mean, minus it,
  around the onset and the offset (`ndnx.analysis.oscillations.onset_transient`);
* `channel_lags`: the state–momentum lag per channel (the mean over that channel's units) and overall
  — each channel on its own (the original's list of lags was never reset between channels);
* `synchrony`: Gray et al. (1989) fits (`fit_correlograms`) of the cross-correlograms between two sets
  of traces (each pair of channels), during and before the stimulus, the oscillation amplitude
  (max − min)/2 of each fitted curve, and its mean by a grouping (channel distance for overlapping
  receptive fields, the mobile site's distance for the double Gabor, the distance along a long bar);
  `site_traces` picks each stimulus's own unit (the double Gabor's mobile site), `bar_sites` the units
  along a bar of angle θ (x' = 0 of the Gabor: (row, col) = centre + d·(cos θ, −sin θ)).

Example:
    >>> import numpy as np
    >>> from ndnx.analysis.stimulus_response import fit_tuning, psd_peaks
    >>> angles = np.arange(128) * 2 * np.pi / 128
    >>> fit = fit_tuning(angles, 1 + 0.3 * np.cos(2 * (angles - angles[20])))
    >>> fit["harmonic"], round(float(fit["amplitude"]), 4), int(round(fit["preferred"] / (2 * np.pi / 128))) % 64
    (2, 0.125, 20)
    >>> t = np.arange(4000)
    >>> peaks = psd_peaks(np.sin(2 * np.pi * t * 0.2), nperseg=1000)
    >>> [round(float(v), 4) for v in (peaks["frequencies"][0], peaks["powers"][0])]
    [0.2, 0.5]
"""

import warnings

import numpy as np
import scipy.signal
import scipy.stats

from ndnx.analysis.oscillations import channel_correlograms, cross_correlogram, fit_correlograms, onset_transient, \
    state_momentum_lag

__all__ = ["active_units", "shapiro_wilk", "fit_tuning", "matched_units", "matched_lfp", "psd_peaks", "contrast_transients",
           "channel_lags", "synchrony", "mean_by_group", "circular_distance", "site_traces", "bar_sites"]


def _steps(trace, index, name):
    picked = np.asarray(trace, dtype="float64")[index]
    if picked.shape[0] < 2:
        raise ValueError(f"{name}: needs at least 2 steps, got {picked.shape[0]} (trace of {len(trace)} steps)")
    return picked


def active_units(traces, stimulus, outside, alpha=0.05, normality=False):
    """{"active", "t", "p"} per unit of `traces` (time, ...): Welch's t-test of during vs outside.

    normality: also Shapiro–Wilk's W and p of each unit's steps during and outside the stimulus (the
    t-test's assumption; the thesis recorded them too), as "w_during", "p_normal_during", "w_outside",
    "p_normal_outside" (NaN for a constant unit). One test per unit and group: slow for whole layers.
    """
    during, rest = _steps(traces, stimulus, "active_units"), _steps(traces, outside, "active_units")
    with warnings.catch_warnings():  # a unit constant in both groups is handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        t, p = scipy.stats.ttest_ind(during, rest, axis=0, equal_var=False)
    t, p = np.nan_to_num(t), np.nan_to_num(p, nan=1.0)  # a constant unit: no difference
    out = {"active": (p < alpha) & (during.mean(axis=0) > rest.mean(axis=0)), "t": t, "p": p}
    if normality:
        for name, index in (("during", stimulus), ("outside", outside)):
            out[f"w_{name}"], out[f"p_normal_{name}"] = shapiro_wilk(traces, index, f"steps {name} the stimulus")
    return out


def shapiro_wilk(traces, index, what="steps"):
    """(W, p) of Shapiro–Wilk's normality test per unit of `traces` (time, ...) over the steps `index`; NaN
    for a unit constant over them. One test per unit: slow for whole layers."""
    steps = _steps(traces, index, "shapiro_wilk")
    if steps.shape[0] < 3:
        raise ValueError(f"shapiro_wilk: needs at least 3 {what}, got {steps.shape[0]}")
    flat = steps.reshape(steps.shape[0], -1)
    w, p = np.full(flat.shape[1], np.nan), np.full(flat.shape[1], np.nan)
    for unit in np.flatnonzero(np.ptp(flat, axis=0) > 0):
        w[unit], p[unit] = scipy.stats.shapiro(flat[:, unit])
    return w.reshape(steps.shape[1:]), p.reshape(steps.shape[1:])


def circular_distance(a, b, period=2 * np.pi):
    """|a − b| on a circle of `period`, in [0, period/2]."""
    d = np.mod(np.asarray(a, dtype="float64") - np.asarray(b, dtype="float64"), period)
    return np.minimum(d, period - d)


def fit_tuning(angles, responses, threshold=0.04):
    """Orientation tuning of one curve: {"harmonic" 1|2, "amplitude" a ≥ 0, "phase" φ, "offset" c, "cost",
    "preferred" (a data angle), "tuned"} of the normalised curve (module docstring)."""
    angles = np.asarray(angles, dtype="float64").ravel()
    r = np.asarray(responses, dtype="float64").ravel()
    if r.shape != angles.shape or r.size < 4:
        raise ValueError(f"fit_tuning: responses must be one value per angle (≥ 4), got {r.size} for {angles.size} angles")
    r = r - r.mean()
    norm = np.linalg.norm(r)
    r = r / norm if norm > 0 else r
    best = None
    for k in (1, 2):
        # a·cos(kθ + φ) + c = A·cos kθ − B·sin kθ + c with A = a·cos φ, B = a·sin φ
        design = np.stack([np.cos(k * angles), -np.sin(k * angles), np.ones_like(angles)], axis=1)
        (a_cos, a_sin, c), *_ = np.linalg.lstsq(design, r, rcond=None)
        cost = 0.5 * float(np.sum((design @ [a_cos, a_sin, c] - r) ** 2))
        if best is None or cost < best["cost"] - 1e-12:
            best = {"harmonic": k, "amplitude": float(np.hypot(a_cos, a_sin)), "phase": float(np.arctan2(a_sin, a_cos)),
                    "offset": float(c), "cost": cost}
    k = best["harmonic"]
    fitted_peaks = np.mod(-best["phase"] / k + 2 * np.pi * np.arange(k) / k, 2 * np.pi)
    maxima = np.flatnonzero((r >= np.roll(r, 1)) & (r >= np.roll(r, -1)))
    maxima = maxima if maxima.size else np.array([int(np.argmax(r))])
    distance = circular_distance(angles[maxima][:, None], fitted_peaks[None]).min(axis=1)
    best["preferred"] = float(angles[maxima[np.lexsort((-r[maxima], distance))[0]]])
    best["tuned"] = best["amplitude"] > threshold
    return best


def matched_units(preferred, stimulus_angles, tolerance=np.deg2rad(10.0)):
    """(stimuli, channels) booleans: the stimulus angle within `tolerance` (2π-periodic) of the preference."""
    return circular_distance(np.asarray(stimulus_angles)[:, None], np.asarray(preferred)[None]) <= tolerance


def matched_lfp(traces, matched):
    """(time, stimuli) "LFP": traces (time, stimuli, ..., channels) summed over units of matched channels."""
    traces = np.asarray(traces, dtype="float64")
    matched = np.asarray(matched, dtype=bool)
    if matched.shape != (traces.shape[1], traces.shape[-1]):
        raise ValueError(f"matched_lfp: matched must be (stimuli, channels) = {(traces.shape[1], traces.shape[-1])}, "
                         f"got {matched.shape}")
    weights = matched.reshape((1, matched.shape[0]) + (1,) * (traces.ndim - 3) + (matched.shape[1],))
    return (traces * weights).reshape(traces.shape[0], traces.shape[1], -1).sum(axis=-1)


def psd_peaks(trace, nperseg=1000):
    """{"frequencies" (cycles per step), "powers", "weighted_sum" Σ f·PSD, "spectrum": (f, PSD)} of one trace."""
    trace = scipy.signal.detrend(np.asarray(trace, dtype="float64").ravel())
    freqs, psd = scipy.signal.welch(trace, fs=1.0, nperseg=min(int(nperseg), trace.size), scaling="spectrum",
                                    detrend=False)
    peaks, _ = scipy.signal.find_peaks(psd, prominence=psd.max() / 2 if psd.max() > 0 else np.inf)
    return {"frequencies": freqs[peaks], "powers": psd[peaks], "weighted_sum": float(np.sum(freqs * psd)),
            "spectrum": (freqs, psd)}


def contrast_transients(traces, contrasts, onset, offset, baseline, before=100, after=150):
    """{contrast: (onset transient, offset transient)} of traces (time, stimuli, ...) summed per contrast."""
    traces = np.asarray(traces, dtype="float64")
    contrasts = np.asarray(contrasts)
    out = {}
    for value in np.unique(contrasts):
        summed = traces[:, contrasts == value].reshape(traces.shape[0], -1).sum(axis=1)
        out[float(value)] = (onset_transient(summed, onset, baseline, before, after),
                             onset_transient(summed, offset, baseline, before, after))
    return out


def channel_lags(state, momentum, max_lag=100):
    """(per-channel mean lag over its units, overall mean) for traces (time, ..., channels)."""
    lags = np.asarray(state_momentum_lag(state, momentum, max_lag), dtype="float64")
    per_channel = lags.reshape(-1, lags.shape[-1]).mean(axis=0)
    return per_channel, float(lags.mean())


def synchrony(first, second, stimulus, before, max_lag=50, ms_per_step=None, pairs=None, mean_over_stimuli=False):
    """Gray fits of correlograms between `first` and `second` (time, stimuli, channels), during and before.

    pairs: (i, j) channel pairs correlating first[..., i] with second[..., j] (default every (i, j));
    `second=None` correlates `first` with itself (channel pairs i ≤ j). Returns {"pairs", "lags",
    "during", "before"}, each period a dict of `fit_correlograms` fields plus "oscillation" ((max − min)/2
    of the fitted curve over the lags) and "correlogram" (lags, stimuli, pairs). `mean_over_stimuli`
    averages the correlograms over the stimuli before fitting (one fit per pair instead of per stimulus
    and pair).
    """
    from ndnx.analysis.oscillations import MS_PER_STEP, gabor_correlogram

    first = np.asarray(first, dtype="float64")
    out = {}
    for period, index in (("during", stimulus), ("before", before)):
        a = first[index]
        if second is None:
            pairs_used, lags, c = channel_correlograms(a, pairs, max_lag)
        else:
            b = np.asarray(second, dtype="float64")[index]
            channels = (a.shape[-1], b.shape[-1])
            pairs_used = (np.array([(i, j) for i in range(channels[0]) for j in range(channels[1])]) if pairs is None
                          else np.asarray(pairs, dtype=int).reshape(-1, 2))
            lags, c = cross_correlogram(a[..., pairs_used[:, 0]], b[..., pairs_used[:, 1]], max_lag)
        if mean_over_stimuli:
            c = c.mean(axis=1)
        fits = fit_correlograms(lags, c, MS_PER_STEP if ms_per_step is None else ms_per_step)
        curves = gabor_correlogram(lags.reshape((-1,) + (1,) * (c.ndim - 1)), fits["amplitude"], fits["frequency"],
                                   fits["phase_shift"], fits["sigma"], fits["offset"])
        out[period] = dict(fits, oscillation=(curves.max(axis=0) - curves.min(axis=0)) / 2, correlogram=c)
        out["pairs"], out["lags"] = pairs_used, lags
    return out


def mean_by_group(values, groups):
    """{group: mean of values in it} (values and groups of the same shape; NaN values are skipped)."""
    values, groups = np.asarray(values, dtype="float64"), np.asarray(groups)
    values, groups = np.broadcast_arrays(values, groups)
    return {g.item(): float(np.nanmean(values[groups == g])) for g in np.unique(groups)}


def site_traces(traces, rows, cols):
    """(time, stimuli, channels): stimulus b's unit at (rows[b], cols[b]) of traces (time, stimuli, H, W, channels)."""
    traces = np.asarray(traces)
    rows, cols = np.asarray(rows, dtype=int), np.asarray(cols, dtype=int)
    if traces.ndim != 5 or rows.shape != (traces.shape[1],) or cols.shape != rows.shape:
        raise ValueError(f"site_traces: traces (time, stimuli, H, W, channels) and one row and column per stimulus "
                         f"expected, got shapes {traces.shape}, {rows.shape}, {cols.shape}")
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= traces.shape[2] or cols.max() >= traces.shape[3]:
        raise ValueError(f"site_traces: sites must lie in the recorded {traces.shape[2]} × {traces.shape[3]} units, "
                         f"got rows {rows.min()}..{rows.max()}, columns {cols.min()}..{cols.max()}")
    return traces[:, np.arange(traces.shape[1]), rows, cols, :]


def bar_sites(angles, distances, centre):
    """(rows, cols), each (stimuli, distances): the units d steps along the long axis of a bar at each angle."""
    angles = np.asarray(angles, dtype="float64")[:, None]
    distances = np.asarray(distances, dtype="float64")[None]
    return (np.rint(centre[0] + distances * np.cos(angles)).astype(int),
            np.rint(centre[1] - distances * np.sin(angles)).astype(int))
