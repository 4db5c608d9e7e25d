"""Oscillation figures of NRF-LV sampler trajectories (spec energy_sampling_nrflv.md §3.4 analysis table).

Every number drawn comes from `ndnx.analysis.oscillations`, so a figure shows exactly what the analysis
reports; frequencies in Hz use the step calibration `ms_per_step` (the thesis's 70/17 ≈ 4.12 ms).

- `plot_state_and_momentum(state, momentum)` (the thesis's `plot_state_and_mom_trace`): one unit's
  state s(t) and −p(t) (the momentum is drawn negated because it leads the state by about a quarter
  period, so −p and s look like the "E" and "I" populations of Aitchison & Lengyel 2016); the state's
  autocorrelation A(τ) = C_ss(τ)/C_ss(0) with C from `cross_correlogram(s, s, demean=True)` (unbiased);
  and the state–momentum cross-correlation X(τ) = Σ_t (s(t + τ) − s̄)(p(t) − p̄) with the lag of
  `state_momentum_lag` marked (X is the score that function maximises).
- `plot_contrast_spectrograms(lfp, contrasts)` (`plot_contrast_specgram_comparison_LFP` and
  `plot_contrast_power_spectra_LFP`): one spectrogram per contrast of the summed "LFP" (NFFT 256,
  overlap 128, both cut to the trace length; power on one log colour scale shared by the contrasts, stimulus
  on/off marked), and
  the Welch PSD × f per contrast during the stimulus on a log scale (the DC bin, where PSD × f = 0, left out).

Each returns a `matplotlib.figure.Figure` on an Agg canvas (`ndnx.plotting.figures`); given `path`, also a PNG.

Example:
    >>> import numpy as np
    >>> from ndnx.plotting.energy_oscillations import plot_state_and_momentum
    >>> t = np.arange(400)
    >>> fig = plot_state_and_momentum(np.sin(2 * np.pi * (t - 3) / 40), np.sin(2 * np.pi * t / 40), max_lag=30)
    >>> [ax.get_title() for ax in fig.axes], fig.axes[2].lines[1].get_xdata()[0]
    (['state and −momentum', 'state autocorrelation', 'state–momentum lag 3 steps'], 3)
"""

import numpy as np

from ndnx.analysis.oscillations import MS_PER_STEP, cross_correlogram, power_spectrum, spectrogram, \
    state_momentum_lag
from ndnx.plotting.figures import new_figure, save_figure

__all__ = ["plot_state_and_momentum", "plot_contrast_spectrograms"]


def _finish(fig, title, path):
    if title:
        fig.suptitle(title)
    if path:
        save_figure(fig, path)
    return fig


def plot_state_and_momentum(state, momentum, max_lag=100, ms_per_step=MS_PER_STEP, start=0, title=None, path=None):
    """Traces of s and −p of one unit, the autocorrelation of s and the s–p cross-correlation with its lag.

    state, momentum: one unit's traces (time,), e.g. during the stimulus; start: the step of their first
    sample (only shifts the trace panel's x axis). max_lag: correlation lags ±max_lag steps (cut to time − 1).
    """
    name = "plot_state_and_momentum"
    s, p = np.asarray(state, dtype="float64"), np.asarray(momentum, dtype="float64")
    if s.ndim != 1 or s.shape != p.shape or s.size < 2:
        raise ValueError(f"{name}: expected one unit's state and momentum traces (time,) of the same length ≥ 2, "
                         f"got shapes {s.shape} and {p.shape}")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(p))):
        raise ValueError(f"{name}: state and momentum must be finite, got non-finite values")
    max_lag = min(int(max_lag), s.size - 1)
    steps = start + np.arange(s.size)
    lags, auto = cross_correlogram(s, s, max_lag=max_lag, demean=True)
    auto = auto / auto[max_lag] if auto[max_lag] > 0 else auto   # a constant trace has no variance to divide by
    # X(τ) = Σ_t (p(t) − p̄)(s(t + τ) − s̄): exactly the score state_momentum_lag maximises
    _, cross = cross_correlogram(p, s, max_lag=max_lag, scale="none", demean=True)
    lag = int(state_momentum_lag(s, p, max_lag=max_lag))

    fig = new_figure(12.5, 3.0)
    axes = fig.subplots(1, 3, width_ratios=(2, 1, 1))
    axes[0].plot(steps, s, lw=0.8, label="state s")
    axes[0].plot(steps, -p, lw=0.8, label="−momentum −p")
    axes[0].set(xlabel="step", title="state and −momentum")
    axes[0].legend(fontsize="small", loc="upper right", framealpha=0.8)
    axes[1].plot(lags, auto, lw=0.9)
    axes[1].set(xlabel=f"lag (steps; 1 step = {ms_per_step:.3g} ms)", ylabel="A(τ)", title="state autocorrelation")
    axes[2].plot(lags, cross, lw=0.9)
    axes[2].axvline(lag, color="C3", ls="--", lw=0.8)
    axes[2].set(xlabel="lag τ (s trails p)", ylabel="Σ s(t+τ)·p(t)", title=f"state–momentum lag {lag} steps")
    return _finish(fig, title, path)


def plot_contrast_spectrograms(lfp, contrasts, stimulus=None, ms_per_step=MS_PER_STEP, nfft=256, overlap=128,
                               title=None, path=None):
    """Spectrogram of the LFP per contrast, then its PSD × f during the stimulus per contrast (log scale).

    lfp: (time, contrasts), the summed LFP of each contrast's images (e.g. `arrays["lfp_by_contrast"]` of
    experiments/nrflv/analyse.py); contrasts: their values (legend, titles). stimulus: (start, end) steps —
    marked on the spectrograms; the PSD uses lfp[start:end] (the whole trace when None).
    """
    name = "plot_contrast_spectrograms"
    lfp = np.asarray(lfp, dtype="float64")
    contrasts = np.ravel(contrasts)
    if lfp.ndim != 2 or lfp.shape[0] < 4 or lfp.shape[1] != contrasts.size or contrasts.size == 0:
        raise ValueError(f"{name}: expected lfp (time ≥ 4, contrasts) with one column per contrast "
                         f"({contrasts.size} given), got shape {lfp.shape}")
    start, end = (0, lfp.shape[0]) if stimulus is None else (int(stimulus[0]), int(stimulus[1]))
    if not 0 <= start < end - 1 < lfp.shape[0]:
        raise ValueError(f"{name}: stimulus must be (start, end) with 0 ≤ start < end − 1 < {lfp.shape[0]} (steps), "
                         f"got {stimulus!r}")
    nfft = min(int(nfft), lfp.shape[0])
    overlap = min(int(overlap), nfft // 2)
    from matplotlib.colors import LogNorm

    count = contrasts.size
    fig = new_figure(2.6 * count + 3.4, 2.8)
    axes = fig.subplots(1, count + 1)
    spectra = [spectrogram(lfp[:, k], ms_per_step=ms_per_step, nfft=nfft, overlap=overlap) for k in range(count)]
    # one colour scale for all contrasts, so that the panels compare power across contrasts
    positive = np.concatenate([power[power > 0] for _, _, power in spectra])
    norm = LogNorm(positive.min(), positive.max()) if positive.size else None
    for k, ax in enumerate(axes[:count]):
        freqs, times, power = spectra[k]
        half_step = (times[1] - times[0]) / 2 if times.size > 1 else nfft / 2
        ax.imshow(power, origin="lower", aspect="auto", norm=norm, interpolation="nearest",
                  extent=(times[0] - half_step, times[-1] + half_step, freqs[0], freqs[-1]))
        if stimulus is not None:
            for edge in (start, end):
                ax.axvline(edge, color="w", ls="--", lw=0.8)
        ax.set(xlabel="step", ylabel="Hz" if k == 0 else None, title=f"contrast {contrasts[k]:g}")
    freqs, psd = power_spectrum(lfp[start:end], ms_per_step=ms_per_step)
    for k in range(count):
        axes[-1].semilogy(freqs[1:], psd[1:, k] * freqs[1:], label=f"{contrasts[k]:g}")
    axes[-1].set(xlabel=f"Hz (1 step = {ms_per_step:.3g} ms)", ylabel="PSD × f", title="LFP during the stimulus")
    axes[-1].legend(title="contrast", fontsize="x-small", frameon=False)
    return _finish(fig, title, path)
