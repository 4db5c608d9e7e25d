"""Analyse an NRF-LV recording (experiments/nrflv/record.py) and write its tables and figures (spec §3.4).

Reads one recording file (datasets "state_<l>" and optionally "momentum_<l>" of the centre patch,
(time, images, rows, cols, channels); attributes "contrast", "angle", "phase_steps", "stimulus_start",
"stimulus_end") and computes with `ndnx.analysis.stimulus_response`:

* active units: Welch t-test of every recorded unit, during the stimulus vs the blank before and after;
  Shapiro–Wilk W and p of each centre unit during and outside the stimulus (the t-test's normality
  assumption; the fraction with p ≥ 0.05 in the summary); the response maps (mean during − mean
  outside, averaged over the images; the thesis's retinotopy maps) and the response movie (the same
  maps with the mean over each bin of 50 steps in place of "during", over the whole recording; the
  thesis's map GIFs);
* orientation tuning of each channel's centre unit: mean activity during the stimulus per angle (at the
  set's highest contrast, averaged over repeats), cos θ vs cos 2θ fits, preferred angle, tuned if a > 0.04
  — the thesis's threshold for the 128 angles of just_angle (a pure cosine over n angles normalised to
  unit norm has a = √(2/n): 0.125 at 128, 0.71 at 4); like the thesis, record.py takes the preferences
  of the just_angle recording for every other set when just_angle is among the sets;
* matched units (stimulus within 10° of the channel's preference, tuned channels only) and the LFP
  (their centre-patch traces summed), its peak frequency during the stimulus; Welch PSD peaks
  (prominence ≥ max/2) of the active matched centre units, Σ f·PSD during vs outside, and per contrast the
  mean Σ(peak frequency × peak power) during and outside (the thesis's figure showed "during" twice) and
  the LFP's PSD during the stimulus;
* contrast-dependent onset and offset transients of the summed centre units (sets with several contrasts),
  from 100 steps before to 150 after the onset and the offset (less when the protocol is shorter);
* the state–momentum lag per channel (when the momentum was recorded);
* synchrony (Gray fits, during vs before the stimulus, correlograms averaged over the images of a group):
  overlapping receptive fields — the centre unit's channel pairs, amplitude by channel distance 1–5;
  the double Gabor — the static (centre) vs the mobile site, all channel pairs, by distance and by same
  vs orthogonal angle; the long bar — the centre vs the units along the bar (same channel) by distance.
  The last two need the sites inside the recorded patch.

Frequencies in Hz use the thesis's 1 step ≙ 70/17 ms. `summarise(path)` returns {"scalars", "arrays"};
run as a script it writes <recording>_analysis/summary.json, arrays.npz and figures there: overview.png,
response_maps.png, response_movie.gif, state_momentum.png (state vs −momentum of one centre unit, its autocorrelation and the
state–momentum lag; when the momentum was recorded) and contrast_spectrograms.png (the matched LFP's
spectrogram and PSD × f per contrast; when some unit is matched).

    python experiments/nrflv/analyse.py training_data/records/nrflv/record/<run>/seed0/just_angle.h5
    python experiments/nrflv/analyse.py .../seed0/contrast_and_angle.h5 --tuning-from .../seed0/just_angle.h5
"""

import json
import os
import sys

import numpy as np

from ndnx.analysis.oscillations import MS_PER_STEP, peak_frequency, power_spectrum
from ndnx.analysis.stimulus_response import active_units, bar_sites, channel_lags, contrast_transients, fit_tuning, \
    matched_lfp, matched_units, mean_by_group, psd_peaks, shapiro_wilk, site_traces, synchrony


def _load(path):
    import h5py

    with h5py.File(path, "r") as f:
        states = sorted(k for k in f if k.startswith("state_"))
        if not states:
            raise ValueError(f"analyse: {path} has no recorded state (datasets {sorted(f)}); record quantities=state")
        key = states[0]
        out = {"state": f[key][()].astype("float64"), "layer": key.split("_", 1)[1]}
        momentum = f"momentum_{out['layer']}"
        out["momentum"] = f[momentum][()].astype("float64") if momentum in f else None
        for name in ("contrast", "angle", "phase_steps", "stimulus_start", "stimulus_end"):
            out[name] = np.asarray(f.attrs[name])
        for name in ("set", "distance", "mobile_angle", "mobile_row", "mobile_col", "patch_origin"):
            if name in f.attrs:
                out[name] = np.asarray(f.attrs[name])
    return out


def summarise(path, max_lag=50, tuning=None, movie_bin=50):
    """{"scalars": {name: float}, "arrays": {name: array}} of one recording file (module docstring).

    movie_bin: steps per frame of the response movie.

    tuning: {"preferred", "tuned"} per channel from another recording (the thesis takes them from the
    just_angle set for every set); default: fitted on this recording's own angles.
    """
    rec = _load(path)
    state = rec["state"]                                  # (time, images, rows, cols, channels)
    if state.ndim != 5:
        raise ValueError(f"analyse: state must be (time, images, rows, cols, channels), got shape {state.shape}")
    steps, start, end = state.shape[0], int(rec["stimulus_start"]), int(rec["stimulus_end"])
    lead_in = int(rec["phase_steps"][0])
    if end > steps:
        raise ValueError(f"analyse: {path} holds {steps} steps, the stimulus ends at {end}: record it to the end first")
    during, outside = np.arange(start, end), np.r_[lead_in:start, end:steps]
    before = np.arange(max(lead_in, start - (end - start)), start)
    centre = state[:, :, state.shape[2] // 2, state.shape[3] // 2, :]   # (time, images, channels)
    scalars, arrays = {}, {}

    # the thesis's maps: mean activity during − outside the stimulus per unit, averaged over the images
    baseline = state[outside].mean(axis=0)
    arrays["response_maps"] = (state[during].mean(axis=0) - baseline).mean(axis=0)
    # and its GIFs: the same maps in time bins over the whole recording
    arrays["response_movie_steps"] = np.arange(0, steps, movie_bin)
    arrays["response_movie"] = np.stack([(state[b:b + movie_bin].mean(axis=0) - baseline).mean(axis=0)
                                         for b in arrays["response_movie_steps"]])
    active = active_units(state, during, outside)["active"]
    scalars["active_fraction"] = float(active.mean())
    # the t-test's normality assumption, checked (Shapiro–Wilk) where the thesis looked: the centre units
    for group, index in (("during", during), ("outside", outside)):
        w, p = shapiro_wilk(centre, index, f"steps {group} the stimulus")
        arrays[f"centre_shapiro_w_{group}"], arrays[f"centre_shapiro_p_{group}"] = w, p
        tested = np.isfinite(p)
        scalars[f"centre_normal_fraction_{group}"] = float((p[tested] >= 0.05).mean()) if tested.any() else float("nan")
    arrays["active"] = active

    contrast, angle = rec["contrast"], rec["angle"]
    strongest = np.isclose(contrast, contrast.max())
    angles = np.unique(angle[strongest])
    response = centre[during].mean(axis=0)                # (images, channels)
    channels = centre.shape[-1]
    preferred, tuned = np.full(channels, np.nan), np.zeros(channels, bool)
    if tuning is not None:
        preferred, tuned = np.asarray(tuning["preferred"], dtype="float64"), np.asarray(tuning["tuned"], dtype=bool)
        if preferred.shape != (channels,) or tuned.shape != (channels,):
            raise ValueError(f"analyse: tuning must give one preferred angle and flag per channel ({channels}), got "
                             f"shapes {preferred.shape} and {tuned.shape}")
        arrays.update(preferred=preferred, tuned=tuned)
    elif angles.size >= 4:
        curves = np.stack([response[strongest & (angle == a)].mean(axis=0) for a in angles])   # (angles, channels)
        fits = [fit_tuning(angles, curves[:, c]) for c in range(channels)]
        preferred = np.array([f["preferred"] for f in fits])
        tuned = np.array([f["tuned"] for f in fits])
        arrays.update(tuning_angles=angles, tuning_curves=curves, preferred=preferred, tuned=tuned,
                      harmonic=np.array([f["harmonic"] for f in fits]), amplitude=np.array([f["amplitude"] for f in fits]))
        scalars["tuned_fraction"] = float(tuned.mean())
    matched = matched_units(np.where(tuned, preferred, np.nan), angle) & tuned[None]
    arrays["matched"] = matched

    lfp = matched_lfp(state, matched)                     # (time, images)
    arrays["lfp"] = lfp.sum(axis=1)
    scalars["lfp_peak_hz"] = (peak_frequency(arrays["lfp"][during], MS_PER_STEP) if matched.any() else float("nan"))
    scalars["all_units_peak_hz"] = peak_frequency(state[during].reshape(len(during), -1).sum(axis=1), MS_PER_STEP)

    centre_active = active[:, state.shape[2] // 2, state.shape[3] // 2, :] & matched
    units = list(zip(*np.nonzero(centre_active)))
    peaks = [(psd_peaks(centre[during, b, c]), psd_peaks(centre[outside, b, c])) for b, c in units]
    scalars["psd_weighted_sum_during"] = float(np.mean([p[0]["weighted_sum"] for p in peaks])) if peaks else float("nan")
    scalars["psd_weighted_sum_outside"] = float(np.mean([p[1]["weighted_sum"] for p in peaks])) if peaks else float("nan")
    # the thesis's contrast-frequency plot: mean Σ(peak frequency × peak power) per contrast, during and
    # outside the stimulus (its figure showed the "during" column twice)
    contrasts = np.unique(contrast)
    score = np.array([[np.sum(p[k]["frequencies"] * p[k]["powers"]) for k in (0, 1)] for p in peaks]).reshape(-1, 2)
    image_contrast = np.array([contrast[b] for b, _ in units])
    arrays["contrasts"] = contrasts
    arrays["contrast_peak_score"] = np.array([score[image_contrast == c].mean(axis=0) if np.any(image_contrast == c)
                                              else [np.nan, np.nan] for c in contrasts]).reshape(-1, 2)
    if matched.any():   # the LFP's Welch PSD during the stimulus, per contrast (the thesis plots PSD × f)
        arrays["lfp_by_contrast"] = np.stack([lfp[:, contrast == c].sum(axis=1) for c in contrasts], axis=1)
        arrays["lfp_psd_frequencies"], psd = power_spectrum(arrays["lfp_by_contrast"][during])
        arrays["lfp_psd_by_contrast"] = psd.T

    # the thesis's window (−100 … +150 steps), shortened to what a short protocol holds
    window_before, window_after = min(100, start - lead_in), min(150, steps - end, end - start)
    if np.unique(contrast).size > 1 and window_after > 0:
        transients = contrast_transients(centre, contrast, start, end, slice(lead_in, start), window_before,
                                         window_after)
        arrays["transient_contrasts"] = np.array(sorted(transients))
        arrays["transient_onset"] = np.stack([transients[c][0] for c in sorted(transients)])
        arrays["transient_offset"] = np.stack([transients[c][1] for c in sorted(transients)])

    if rec["momentum"] is not None:
        per_channel, overall = channel_lags(state[during], rec["momentum"][during], max_lag=min(100, len(during) - 1))
        arrays["lag_per_channel"] = per_channel
        scalars["state_momentum_lag_steps"] = overall

    if channels > 1 and len(before) > 2 * max_lag:
        sync = synchrony(centre, None, during, before, max_lag=max_lag, mean_over_stimuli=True)
        distance = np.abs(sync["pairs"][:, 0] - sync["pairs"][:, 1])
        for period in ("during", "before"):
            by_distance = mean_by_group(sync[period]["oscillation"], distance)
            arrays[f"synchrony_{period}"] = np.array([by_distance.get(d, np.nan) for d in range(1, 6)])
            scalars[f"synchrony_{period}"] = float(np.nanmean(arrays[f"synchrony_{period}"]))
    origin = rec.get("patch_origin", np.zeros(2, int))
    if "mobile_row" in rec and len(before) > 2 * max_lag:
        _site_synchrony(state, centre, rec, origin, during, before, max_lag, scalars, arrays)
    if str(rec.get("set", "")) == "long_just_fewangles" and len(before) > 2 * max_lag:
        _bar_synchrony(state, centre, rec, origin, during, before, max_lag, scalars, arrays)
    return {"scalars": scalars, "arrays": arrays}


def _site_synchrony(state, centre, rec, origin, during, before, max_lag, scalars, arrays):
    """Double Gabor: static (centre) vs mobile site, per (distance, same/orthogonal) group of images."""
    rows, cols = rec["mobile_row"] - origin[0], rec["mobile_col"] - origin[1]
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= state.shape[2] or cols.max() >= state.shape[3]:
        return  # the mobile sites were not recorded (a small patch)
    mobile = site_traces(state, rows, cols)
    orthogonal = ~np.isclose(rec["mobile_angle"], rec["angle"])
    distances = np.unique(rec["distance"])
    table = np.full((2, len(distances), 2), np.nan)           # (same, orthogonal) × distance × (during, before)
    for o in (0, 1):
        for k, d in enumerate(distances):
            group = np.flatnonzero((rec["distance"] == d) & (orthogonal == bool(o)))
            if group.size:
                sync = synchrony(centre[:, group], mobile[:, group], during, before, max_lag, mean_over_stimuli=True)
                table[o, k] = [np.mean(sync["during"]["oscillation"]), np.mean(sync["before"]["oscillation"])]
    arrays["site_distances"], arrays["site_synchrony"] = distances, table
    scalars["site_synchrony_during"] = float(np.nanmean(table[..., 0]))


def _bar_synchrony(state, centre, rec, origin, during, before, max_lag, scalars, arrays):
    """Long bar: the centre vs the units 1, 2, ... steps along the bar, same channel, by distance."""
    middle = (state.shape[2] // 2, state.shape[3] // 2)
    distances = np.arange(1, min(state.shape[2], state.shape[3]) // 2 + 1)
    rows, cols = bar_sites(rec["angle"], distances, middle)
    inside = np.all((rows >= 0) & (cols >= 0) & (rows < state.shape[2]) & (cols < state.shape[3]), axis=0)
    distances, rows, cols = distances[inside], rows[:, inside], cols[:, inside]
    pairs = [(c, c) for c in range(state.shape[-1])]
    table = np.array([[np.mean(synchrony(centre, site_traces(state, rows[:, k], cols[:, k]), during, before,
                                         max_lag, pairs=pairs, mean_over_stimuli=True)[p]["oscillation"])
                       for p in ("during", "before")] for k in range(len(distances))]).reshape(-1, 2)
    arrays["bar_distances"], arrays["bar_synchrony"] = distances, table
    if len(distances):
        scalars["bar_synchrony_during"] = float(table[:, 0].mean())


def write(path, out_dir=None, tuning_from=None):
    """summarise(path) into out_dir (default <recording>_analysis/): summary.json, arrays.npz, figures.

    tuning_from: a just_angle recording whose fitted preferences are used (see `summarise`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = out_dir or os.path.splitext(path)[0] + "_analysis"
    os.makedirs(out_dir, exist_ok=True)
    tuning = None if tuning_from is None else summarise(tuning_from)["arrays"]
    summary = summarise(path, tuning=tuning)
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary["scalars"], f, indent=1, sort_keys=True)
    np.savez(os.path.join(out_dir, "arrays.npz"), **summary["arrays"])
    rec = _load(path)
    start, end = int(rec["stimulus_start"]), int(rec["stimulus_end"])
    arrays = summary["arrays"]
    fig, axes = plt.subplots(1, 5, figsize=(20, 3.2))
    total = rec["state"].reshape(rec["state"].shape[0], -1).sum(axis=1)
    axes[0].plot(total)
    axes[0].axvspan(start, end, color="0.9")
    axes[0].set(xlabel="step", ylabel="summed state", title="recorded units")
    freqs, psd = power_spectrum(total[start:end])
    axes[1].semilogy(freqs, psd * freqs)
    axes[1].set(xlabel="Hz (1 step = 70/17 ms)", ylabel="PSD × f", title="during the stimulus")
    if "tuning_curves" in summary["arrays"]:
        axes[2].plot(summary["arrays"]["tuning_angles"], summary["arrays"]["tuning_curves"])
        axes[2].set(xlabel="angle (rad)", ylabel="mean activity", title="centre-unit tuning")
    axes[3].plot(arrays["contrasts"], arrays["contrast_peak_score"], marker="o")
    axes[3].legend(["during", "outside"])
    axes[3].set(xlabel="contrast", ylabel="Σ peak f × power", title="active matched centre units")
    if "lfp_psd_by_contrast" in arrays:
        f = arrays["lfp_psd_frequencies"]
        axes[4].semilogy(f, (arrays["lfp_psd_by_contrast"] * f).T)
        axes[4].legend([f"{c:.1f}" for c in arrays["contrasts"]], title="contrast", fontsize=6)
    axes[4].set(xlabel="Hz", ylabel="LFP PSD × f", title="matched LFP, during")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "overview.png"), dpi=100)
    plt.close(fig)
    from ndnx.plotting.energy import plot_channel_maps, write_channel_movie

    plot_channel_maps(arrays["response_maps"], title="mean during − outside the stimulus",
                      path=os.path.join(out_dir, "response_maps.png"))
    write_channel_movie(arrays["response_movie"], os.path.join(out_dir, "response_movie.gif"))
    _oscillation_figures(rec, arrays, start, end, out_dir)
    return out_dir, summary


def _oscillation_figures(rec, arrays, start, end, out_dir):
    """state_momentum.png (one unit, during the stimulus) and contrast_spectrograms.png (the matched LFP)."""
    from ndnx.plotting.energy_oscillations import plot_contrast_spectrograms, plot_state_and_momentum

    if rec["momentum"] is not None:
        # the thesis drew the centre unit of the batch's last image; here of its most stimulus-driven channel
        middle = rec["state"].shape[2] // 2, rec["state"].shape[3] // 2
        channel = int(np.argmax(np.abs(arrays["response_maps"][middle])))
        unit = (slice(start, end), -1) + middle + (channel,)
        plot_state_and_momentum(rec["state"][unit], rec["momentum"][unit], max_lag=min(100, end - start - 1),
                                start=start, title=f"centre unit, channel {channel}, last image",
                                path=os.path.join(out_dir, "state_momentum.png"))
    if "lfp_by_contrast" in arrays:
        plot_contrast_spectrograms(arrays["lfp_by_contrast"], arrays["contrasts"], stimulus=(start, end),
                                   title="matched LFP", path=os.path.join(out_dir, "contrast_spectrograms.png"))


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description="Analyse an NRF-LV recording (experiments/nrflv/record.py).")
    parser.add_argument("recording", help="a recording file, e.g. .../seed0/just_angle.h5")
    parser.add_argument("out_dir", nargs="?", default=None, help="default: <recording>_analysis/")
    parser.add_argument("--tuning-from", default=None, help="a just_angle recording giving the preferences")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    out_dir, summary = write(args.recording, args.out_dir, args.tuning_from)
    for key, value in sorted(summary["scalars"].items()):
        print(f"{key}: {value:.4g}")
    print(f"written to {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
