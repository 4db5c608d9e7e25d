"""NRF-LV oscillation figures (ndnx.plotting.energy_oscillations): the panels draw the analysis arrays."""

import numpy as np
import pytest
from matplotlib.image import imread

from ndnx.analysis.oscillations import cross_correlogram, power_spectrum, spectrogram, state_momentum_lag
from ndnx.plotting.energy_oscillations import plot_contrast_spectrograms, plot_state_and_momentum

RNG = np.random.default_rng(0)


def test_state_and_momentum_panels_draw_the_correlations_and_mark_the_lag(tmp_path):
    t = np.arange(600)
    # s trails p by 5 steps of a 40-step period; noise keeps the traces from being exact sinusoids
    p = np.sin(2 * np.pi * t / 40) + 0.1 * RNG.normal(size=t.size)
    s = np.sin(2 * np.pi * (t - 5) / 40) + 0.1 * RNG.normal(size=t.size)
    fig = plot_state_and_momentum(s, p, max_lag=60, start=1100, path=tmp_path / "sm.png")
    traces, auto, cross = fig.axes
    np.testing.assert_array_equal(traces.lines[0].get_xdata(), 1100 + t)
    np.testing.assert_array_equal(traces.lines[0].get_ydata(), s)
    np.testing.assert_array_equal(traces.lines[1].get_ydata(), -p)
    lags, c = cross_correlogram(s, s, max_lag=60, demean=True)
    np.testing.assert_array_equal(auto.lines[0].get_xdata(), np.arange(-60, 61))
    np.testing.assert_allclose(auto.lines[0].get_ydata(), c / c[60], rtol=1e-12)
    assert auto.lines[0].get_ydata()[60] == 1.0
    # the autocorrelation of a 40-step oscillation has its first trough at 20 steps
    assert lags[60:81][np.argmin(c[60:81])] == 20
    # the cross-correlation is state_momentum_lag's score: Σ_t (s(t+τ) − s̄)(p(t) − p̄), computed directly
    sd, pd = s - s.mean(), p - p.mean()
    direct = [np.sum(sd[max(k, 0):600 + min(k, 0)] * pd[max(-k, 0):600 - max(k, 0)]) for k in range(-60, 61)]
    np.testing.assert_allclose(cross.lines[0].get_ydata(), direct, rtol=1e-9, atol=1e-9)
    lag = int(state_momentum_lag(s, p, max_lag=60))
    assert lag == 5 and list(cross.lines[1].get_xdata()) == [5, 5]
    assert cross.get_title() == "state–momentum lag 5 steps"
    assert imread(str(tmp_path / "sm.png")).ndim == 3
    with pytest.raises(ValueError, match=r"expected one unit's state and momentum traces .*got shapes \(5,\) and \(4,\)"):
        plot_state_and_momentum(np.zeros(5), np.zeros(4))


def test_contrast_spectrograms_draw_the_spectrogram_and_psd_times_f(tmp_path):
    t = np.arange(700)
    contrasts = np.array([0.0, 1.2, 2.8])
    on = (t >= 200) & (t < 500)
    # the LFP oscillates at 1/6 cycle per step (40.5 Hz at 70/17 ms per step) with amplitude c while the stimulus is on
    lfp = np.stack([c * on * np.sin(2 * np.pi * t / 6) + 0.05 * RNG.normal(size=t.size) for c in contrasts], axis=1)
    fig = plot_contrast_spectrograms(lfp, contrasts, stimulus=(200, 500), path=tmp_path / "lfp.png")
    assert [ax.get_title() for ax in fig.axes] == ["contrast 0", "contrast 1.2", "contrast 2.8", "LFP during the stimulus"]
    powers = [spectrogram(lfp[:, k], nfft=256, overlap=128)[2] for k in range(3)]
    for k, ax in enumerate(fig.axes[:3]):
        freqs, times, power = spectrogram(lfp[:, k], nfft=256, overlap=128)
        np.testing.assert_array_equal(ax.images[0].get_array(), power)
        # one log colour scale over all contrasts
        assert (ax.images[0].norm.vmin, ax.images[0].norm.vmax) == (min(p.min() for p in powers),
                                                                      max(p.max() for p in powers))
        assert ax.images[0].get_extent()[2:] == [freqs[0], freqs[-1]]
        assert [line.get_xdata()[0] for line in ax.lines] == [200, 500]
    freqs, psd = power_spectrum(lfp[200:500])
    lines = fig.axes[3].lines
    assert fig.axes[3].get_yscale() == "log" and len(lines) == 3
    for k, line in enumerate(lines):
        np.testing.assert_array_equal(line.get_xdata(), freqs[1:])
        np.testing.assert_allclose(line.get_ydata(), psd[1:, k] * freqs[1:], rtol=1e-12)
    # the peak of PSD × f sits at the oscillation's 1000 / (6 · 70/17) = 40.5 Hz (Welch bin width 4.7 Hz)
    assert abs(freqs[1:][np.argmax(lines[2].get_ydata())] - 1000 / (6 * 70 / 17)) < 2.4
    assert imread(str(tmp_path / "lfp.png")).ndim == 3
    with pytest.raises(ValueError, match=r"expected lfp \(time ≥ 4, contrasts\) with one column per contrast \(2 given\)"):
        plot_contrast_spectrograms(lfp, [0.0, 1.0])
    with pytest.raises(ValueError, match="stimulus must be"):
        plot_contrast_spectrograms(lfp, contrasts, stimulus=(500, 200))
