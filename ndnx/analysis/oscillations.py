"""Oscillation analysis of sampler trajectories: spectra, the summed "LFP" and the state–momentum lag.

Spec energy_sampling_nrflv.md §3.4. The thesis maps one sampler step to 70/17 ≈ 4.12 ms (an arbitrary
calibration, `ms_per_step`), so a frequency in Hz is (cycles per step) · 1000 / ms_per_step. SGHMC's
noise-free oscillation of period 2π/arccos((2 − k − α)/(2√(1 − α))) steps (5.84 at k = 1, α = 0.1)
is then 41.6 Hz — the "gamma" the thesis analyses.

* `power_spectrum`: Welch PSD of each trace (linear detrend, density scaling) with frequencies in Hz;
  `peak_frequency` its argmax (the DC bin excluded);
* `lfp`: the sum over channels (last axis) of a trajectory (time, ..., channels);
* `spectrogram`: short-time spectra (NFFT 256 by default, as the thesis) with times in steps and
  frequencies in Hz;
* `onset_transient`: the thesis's contrast-dependent transient — a trace floored at its baseline mean,
  minus that mean, from `before` steps before to `after` steps after an onset;
* `state_momentum_lag`: the lag k in [−max_lag, max_lag] steps maximising Σ_t (s(t + k) − s̄)(p(t) − p̄)
  per trace, i.e. how many steps the state trails the momentum ("E" and "I" after Aitchison & Lengyel
  2016); each trace gets its own lag (the original's per-channel list was never reset).

Synchrony (the thesis's Gray-style analyses, Gray et al. 1989 Nature 338:334):

* `cross_correlogram` / `channel_correlograms`: cross-correlograms C(τ) = Σ_t x(t)·y(t + τ) of chosen
  traces or of channel pairs (all pairs by default) of a trajectory, per lag unbiased by default;
* `fit_correlogram`: Gray's damped cosine (a Gabor function) O + A·exp(−(τ − φ)²/(2σ²))·cos(2πν(τ − φ))
  fitted to one correlogram, giving the peak height O + A, the oscillation frequency ν (and in Hz), the
  phase shift φ (steps and ms), σ and the modulation amplitude ratio A/O; `fit_correlograms` fits every
  correlogram of an array (lags, ...) — e.g. all channel pairs, during and outside a stimulus.

Example:
    >>> import numpy as np
    >>> from ndnx.analysis.oscillations import peak_frequency, state_momentum_lag
    >>> t = np.arange(4096)
    >>> round(peak_frequency(np.sin(2 * np.pi * t / 5.84), nperseg=4096), 1)
    41.6
    >>> int(state_momentum_lag(np.sin(2 * np.pi * (t - 3) / 40), np.sin(2 * np.pi * t / 40)))
    3
    >>> from ndnx.analysis.oscillations import cross_correlogram, fit_correlogram
    >>> x = 1 + np.sin(2 * np.pi * t / 8)          # y trails x by 2 steps; C(τ) = 1 + ½·cos(2π(τ − 2)/8)
    >>> lags, c = cross_correlogram(x, 1 + np.sin(2 * np.pi * (t - 2) / 8), max_lag=20)
    >>> fit = fit_correlogram(lags, c, ms_per_step=1.0)
    >>> [round(v, 2) for v in (fit.frequency_hz, fit.phase_shift, fit.peak_height, fit.modulation_ratio)]
    [124.99, 2.0, 1.5, 0.5]
"""

import collections

import numpy as np
import scipy.fft
import scipy.optimize
import scipy.signal

__all__ = ["MS_PER_STEP", "power_spectrum", "peak_frequency", "spectrogram", "onset_transient", "lfp",
           "state_momentum_lag", "cross_correlogram", "channel_correlograms", "gabor_correlogram", "fit_correlogram",
           "fit_correlograms", "CorrelogramFit"]

MS_PER_STEP = 70.0 / 17.0


def power_spectrum(traces, ms_per_step=MS_PER_STEP, nperseg=256, axis=0):
    """(frequencies in Hz, PSD) of `traces` along `axis` (time), Welch with linear detrending."""
    if not np.isfinite(ms_per_step) or ms_per_step <= 0:
        raise ValueError(f"power_spectrum: ms_per_step must be a finite number > 0, got {ms_per_step!r}")
    traces = np.asarray(traces, dtype="float64")
    return scipy.signal.welch(traces, fs=1000.0 / ms_per_step, nperseg=min(nperseg, traces.shape[axis]),
                              detrend="linear", axis=axis)


def peak_frequency(trace, ms_per_step=MS_PER_STEP, nperseg=256):
    """The frequency (Hz) of the largest PSD bin of one trace, DC excluded."""
    freqs, psd = power_spectrum(np.ravel(trace), ms_per_step, nperseg)
    return float(freqs[1:][np.argmax(psd[1:])])


def spectrogram(trace, ms_per_step=MS_PER_STEP, nfft=256, overlap=128):
    """(frequencies in Hz, window centres in steps, power (frequencies, windows)) of one trace."""
    if not np.isfinite(ms_per_step) or ms_per_step <= 0:
        raise ValueError(f"spectrogram: ms_per_step must be a finite number > 0, got {ms_per_step!r}")
    freqs, times, power = scipy.signal.spectrogram(np.ravel(trace).astype("float64"), fs=1000.0 / ms_per_step,
                                                   nperseg=nfft, noverlap=overlap, detrend="linear")
    return freqs, times * 1000.0 / ms_per_step, power


def onset_transient(trace, onset, baseline, before=100, after=150):
    """max(trace, mean(baseline)) − mean(baseline) on steps onset − before … onset + after − 1.

    baseline: a slice of steps (e.g. slice(100, 1100), the blank before the stimulus).
    """
    trace = np.asarray(trace, dtype="float64")
    level = trace[baseline].mean(axis=0)
    return np.maximum(trace[onset - before:onset + after], level) - level


def lfp(trajectory):
    """The summed "LFP": the trajectory summed over its last (channel) axis."""
    return np.asarray(trajectory).sum(axis=-1)


def state_momentum_lag(state, momentum, max_lag=100):
    """Lag in steps (per trace, time on axis 0) maximising the state–momentum cross-correlation."""
    s = np.asarray(state, dtype="float64")
    p = np.asarray(momentum, dtype="float64")
    if s.shape != p.shape:
        raise ValueError(f"state_momentum_lag: state and momentum must have the same shape, got {s.shape} and {p.shape}")
    s, p = s - s.mean(axis=0), p - p.mean(axis=0)
    n = s.shape[0]
    lags = np.arange(-max_lag, max_lag + 1)
    scores = np.stack([np.sum(s[max(k, 0):n + min(k, 0)] * p[max(-k, 0):n - max(k, 0)], axis=0) for k in lags])
    return lags[np.argmax(scores, axis=0)]


def cross_correlogram(x, y, max_lag=50, scale="unbiased", demean=False):
    """(lags, C) with C[k] = Σ_t x(t)·y(t + lags[k]) over the overlap, time on axis 0.

    x and y have the same shape (time, ...); every trailing index is its own pair of traces. A peak at a
    positive lag means y trails x. scale: "unbiased" divides each lag by its overlap N − |τ| (a stationary
    pair's correlogram then has no triangular taper), "biased" by N, "none" keeps the sums (np.correlate's
    "full" values). demean subtracts each trace's mean first; without it C keeps the offset x̄·ȳ that the
    modulation amplitude ratio of `fit_correlogram` divides by, as Gray et al. (1989) did with spike counts.
    """
    x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    if x.shape != y.shape or x.ndim == 0:
        raise ValueError(f"cross_correlogram: x and y must be arrays of the same shape (time, ...), "
                         f"got {x.shape} and {y.shape}")
    n = x.shape[0]
    if not 0 <= int(max_lag) < n:
        raise ValueError(f"cross_correlogram: max_lag must be an int in [0, {n - 1}] (time steps − 1), got {max_lag!r}")
    if scale not in ("unbiased", "biased", "none"):
        raise ValueError(f"cross_correlogram: scale must be 'unbiased', 'biased' or 'none', got {scale!r}")
    if demean:
        x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    max_lag = int(max_lag)
    # FFT correlation: O(N log N) per pair instead of O(N · lags); zero padding to ≥ 2N − 1 avoids wrap-around
    size = scipy.fft.next_fast_len(2 * n - 1)
    full = scipy.fft.irfft(np.conj(scipy.fft.rfft(x, size, axis=0)) * scipy.fft.rfft(y, size, axis=0), size, axis=0)
    lags = np.arange(-max_lag, max_lag + 1)
    c = full[lags % size]
    if scale != "none":
        overlap = (n - np.abs(lags)) if scale == "unbiased" else np.full(lags.shape, n)
        c = c / overlap.reshape((-1,) + (1,) * (c.ndim - 1))
    return lags, c


def channel_correlograms(trajectory, pairs=None, max_lag=50, scale="unbiased", demean=False):
    """(pairs, lags, C) for channel pairs of a trajectory (time, ..., channels); C is (lags, ..., pairs).

    pairs: a sequence of (i, j) channel indices (C[..., n] correlates channel i with channel j, positive
    lags meaning j trails i); default every pair i ≤ j, as the original's all-channel synchrony experiment.
    """
    trajectory = np.asarray(trajectory, dtype="float64")
    if trajectory.ndim < 2:
        raise ValueError(f"channel_correlograms: trajectory must be (time, ..., channels), got shape {trajectory.shape}")
    channels = trajectory.shape[-1]
    pairs = (np.array([(i, j) for i in range(channels) for j in range(i, channels)]) if pairs is None
             else np.asarray(pairs, dtype=int).reshape(-1, 2))
    if pairs.size and (pairs.min() < -channels or pairs.max() >= channels):
        raise ValueError(f"channel_correlograms: pairs must index channels 0..{channels - 1}, got {pairs.tolist()}")
    lags, c = cross_correlogram(trajectory[..., pairs[:, 0]], trajectory[..., pairs[:, 1]], max_lag, scale, demean)
    return pairs, lags, c


CorrelogramFit = collections.namedtuple("CorrelogramFit", [
    "amplitude", "frequency", "phase_shift", "sigma", "offset", "peak_height", "modulation_ratio",
    "frequency_hz", "phase_shift_ms", "residual", "curve"])
CorrelogramFit.__doc__ = """Gray's damped-cosine fit of one cross-correlogram (`fit_correlogram`).

amplitude A, frequency ν (cycles per step), phase_shift φ (steps; the lag of the central peak), sigma
(steps; inf for an undamped cosine), offset O; peak_height = O + A (the fit at its central peak);
modulation_ratio = A / O (Gray et al. 1989's relative modulation amplitude; nan when O = 0);
frequency_hz and phase_shift_ms at `ms_per_step`; residual = RMS of data − fit; curve = the fit at the lags.
"""


def gabor_correlogram(lags, amplitude, frequency, phase_shift, sigma, offset):
    """Gray's model O + A·exp(−(τ − φ)²/(2σ²))·cos(2πν(τ − φ)) at lags τ (σ = inf: no damping)."""
    shifted = np.asarray(lags, dtype="float64") - phase_shift
    return offset + amplitude * np.exp(-0.5 * shifted ** 2 / sigma ** 2) * np.cos(2 * np.pi * frequency * shifted)


def fit_correlogram(lags, correlogram, ms_per_step=MS_PER_STEP, starts=5):
    """Fit Gray et al. (1989)'s damped cosine (a Gabor function) to one cross-correlogram.

    C(τ) ≈ O + A·exp(−(τ − φ)²/(2σ²))·cos(2πν(τ − φ)), A ≥ 0, 0 ≤ ν ≤ ½ cycle per step. The envelope is
    fitted as a decay rate d = 1/(2σ²) ≥ 0, so an undamped correlogram (two stationary oscillators) gives
    d = 0 and σ = inf instead of an ill-conditioned huge σ. Least squares from `starts` starting
    frequencies (the correlogram's spectral peak and its neighbours, as the original's multi-start fit),
    each starting with φ at the largest value within half a period of zero lag; the lowest cost wins.
    Returns a `CorrelogramFit`.
    """
    if not np.isfinite(ms_per_step) or ms_per_step <= 0:
        raise ValueError(f"fit_correlogram: ms_per_step must be a finite number > 0, got {ms_per_step!r}")
    lags = np.asarray(lags, dtype="float64")
    c = np.asarray(correlogram, dtype="float64")
    if c.shape != lags.shape or c.ndim != 1 or c.size < 6 or not np.all(np.isfinite(c)):
        raise ValueError(f"fit_correlogram: correlogram must be finite, 1-D, ≥ 6 lags and match lags, got shapes "
                         f"{c.shape} and {lags.shape}")
    span = lags.max() - lags.min()
    offset0 = float(np.median(c))
    spectrum = np.abs(np.fft.rfft(c - c.mean(), 8 * c.size))
    peak = float(np.fft.rfftfreq(8 * c.size)[np.argmax(spectrum)])
    candidates = np.clip(peak + (np.arange(starts) - starts // 2) / (2 * span), 1e-3, 0.5)

    def model(tau, a, nu, phi, decay, o):
        shifted = tau - phi
        return o + a * np.exp(-decay * shifted ** 2) * np.cos(2 * np.pi * nu * shifted)

    best = None
    for nu in candidates:
        near = np.abs(lags) <= max(0.5 / nu, 1.0)
        phi0 = float(lags[near][np.argmax(c[near])])
        p0 = [max(float(c.max()) - offset0, 1e-12), nu, phi0, 1.0 / span ** 2, offset0]
        bounds = ([0.0, 0.0, lags.min(), 0.0, -np.inf], [np.inf, 0.5, lags.max(), np.inf, np.inf])
        try:
            params, _ = scipy.optimize.curve_fit(model, lags, c, p0=p0, bounds=bounds, maxfev=20000)
        except RuntimeError:  # no convergence from this start; the others may converge
            continue
        cost = float(np.mean((model(lags, *params) - c) ** 2))
        if best is None or cost < best[0]:
            best = (cost, params)
    if best is None:
        raise ValueError("fit_correlogram: the least-squares fit converged from none of the starting frequencies")
    cost, (a, nu, phi, decay, o) = best
    sigma = np.inf if decay == 0 else float(np.sqrt(0.5 / decay))
    return CorrelogramFit(
        amplitude=float(a), frequency=float(nu), phase_shift=float(phi), sigma=sigma, offset=float(o),
        peak_height=float(o + a), modulation_ratio=float(a / o) if o != 0 else float("nan"),
        frequency_hz=float(nu * 1000.0 / ms_per_step), phase_shift_ms=float(phi * ms_per_step),
        residual=float(np.sqrt(cost)), curve=model(lags, a, nu, phi, decay, o))


def fit_correlograms(lags, correlograms, ms_per_step=MS_PER_STEP, starts=5):
    """`fit_correlogram` of every correlogram in (lags, ...): {field: array of shape (...)} (no "curve")."""
    c = np.asarray(correlograms, dtype="float64")
    if c.ndim < 1 or c.shape[0] != np.size(lags):
        raise ValueError(f"fit_correlograms: correlograms must be (lags, ...) with {np.size(lags)} lags, got shape "
                         f"{c.shape}")
    fields = [f for f in CorrelogramFit._fields if f != "curve"]
    flat = c.reshape(c.shape[0], -1)
    fits = [fit_correlogram(lags, flat[:, n], ms_per_step, starts) for n in range(flat.shape[1])]
    return {f: np.array([getattr(fit, f) for fit in fits]).reshape(c.shape[1:]) for f in fields}
