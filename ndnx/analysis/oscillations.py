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

Example:
    >>> import numpy as np
    >>> from ndnx.analysis.oscillations import peak_frequency, state_momentum_lag
    >>> t = np.arange(4096)
    >>> round(peak_frequency(np.sin(2 * np.pi * t / 5.84), nperseg=4096), 1)
    41.6
    >>> int(state_momentum_lag(np.sin(2 * np.pi * (t - 3) / 40), np.sin(2 * np.pi * t / 40)))
    3
"""

import numpy as np
import scipy.signal

__all__ = ["MS_PER_STEP", "power_spectrum", "peak_frequency", "spectrogram", "onset_transient", "lfp",
           "state_momentum_lag"]

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
