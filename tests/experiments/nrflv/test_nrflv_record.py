"""experiments/nrflv/record.py and analyse.py at a tiny size: a freshly trained model recorded under Gabor sets
(spec energy_sampling_nrflv.md §3.2–§3.4)."""

import os

import h5py
import numpy as np
import pytest

from ndnx.data.gabor import stimulus_set
from ndnx.experiment import load_experiment
from tests.experiments.nrflv.helpers import ROOT, script
TINY = dict(train_size=8, test_size=4, channels=2, positive_steps=2, negative_steps=2, batch_size=4, images=4,
            lead_in=5, blank=60, stimulus=60, after=10, record_burn_in=3, chunk_steps=25,
            stimuli="just_angle,contrast_and_angle", buffer_capacity=16, train_epochs=0,  # untrained: the wiring
            quantities="state,momentum,unit_energy")


def _run(root, **overrides):
    exp = load_experiment(os.path.join(ROOT, "experiments", "nrflv", "record.py"))
    run = exp.runs(dict(TINY, **overrides))[0]
    result = exp.run_job(run, [0], root=str(root), progress=False)
    job = next(v for v in result.values() if isinstance(v, dict) and "final" in v)
    metrics = {metric: float(values[0]) for (_, metric), values in job["final"].items()}
    return exp, run, metrics, os.path.join(str(root), "records", "nrflv", "record", run.name)


def _analyse():
    return script("analyse")


def _planted(path, name, oscillating, **attrs):
    """A recording (400 steps, 4 images, 21 × 21 units, 1 channel): zero but for 1 + sin(2πt/8) at the
    centre and at the units `oscillating` [(image, row, col)] while the stimulus is on (steps 150–350)."""
    state = np.zeros((400, 4, 21, 21, 1))
    wave = 1 + np.sin(2 * np.pi * np.arange(200) / 8)
    state[150:350, :, 10, 10, 0] = wave[:, None]
    for b, r, c in oscillating:
        state[150:350, b, r, c, 0] = wave
    with h5py.File(path, "w") as f:
        f["state_1"] = state
        f.attrs.update(dict(set=name, phase_steps=[0, 150, 200, 50], stimulus_start=150, stimulus_end=350,
                            contrast=np.ones(4), patch_origin=[6, 6], **attrs))


def test_site_and_bar_synchrony_of_planted_recordings(tmp_path):
    analyse = _analyse()
    # double Gabor: images (distance, mobile angle) = (3, same), (3, +90°), (10, same), (10, +90°), mobile site
    # to the right of the centre (16, 16) — patch units (10, 13) and (10, 20); only image 0's oscillates with it
    path = str(tmp_path / "double.h5")
    _planted(path, "fewlocs_and_fewerangles", [(0, 10, 13)], angle=np.zeros(4),
             mobile_angle=np.array([0, np.pi / 2, 0, np.pi / 2]), distance=np.array([3, 3, 10, 10]),
             mobile_row=np.full(4, 16), mobile_col=np.array([19, 19, 26, 26]))
    out = analyse.summarise(path, max_lag=20)
    assert out["arrays"]["site_distances"].tolist() == [3, 10]
    # C(τ) = 1 + ½cos(2πτ/8) between two in-phase waves: oscillation ½; a silent partner gives C = 0
    np.testing.assert_allclose(out["arrays"]["site_synchrony"][..., 0], [[0.5, 0.0], [0.0, 0.0]], atol=5e-3)
    np.testing.assert_allclose(out["arrays"]["site_synchrony"][..., 1], 0.0, atol=1e-9)
    # long bar at θ = 0: along the rows; the units 1 and 2 below the centre oscillate in image 0 only
    path = str(tmp_path / "bar.h5")
    _planted(path, "long_just_fewangles", [(0, 11, 10), (0, 12, 10)], angle=np.zeros(4))
    out = analyse.summarise(path, max_lag=20)
    assert out["arrays"]["bar_distances"].tolist() == list(range(1, 11))
    # averaged over the 4 images: C = ¼ of the in-phase correlogram at distances 1 and 2, 0 beyond
    np.testing.assert_allclose(out["arrays"]["bar_synchrony"][:, 0], [0.125, 0.125] + [0.0] * 8, atol=5e-3)


def test_recording_protocol_files_and_their_analysis(tmp_path):
    exp, run, metrics, folder = _run(tmp_path)
    base = None
    for name in ("just_angle", "contrast_and_angle"):
        with h5py.File(os.path.join(folder, "seed0", f"{name}.h5")) as f:
            # 5 + 60 + 60 + 10 steps, 4 images, SL1's centre 3 × 3 patch of 2 channels
            assert f["state_1"].shape == f["momentum_1"].shape == f["unit_energy_1"].shape == (135, 4, 3, 3, 2)
            assert list(f.attrs["phase_steps"]) == [5, 60, 60, 10]
            assert (f.attrs["stimulus_start"], f.attrs["stimulus_end"]) == (65, 125)
            _, params = stimulus_set(name, np.zeros((28, 28, 1)))
            np.testing.assert_array_equal(f.attrs["angle"], params["angle"][[0, 42, 85, 127]])
            np.testing.assert_array_equal(f.attrs["contrast"], params["contrast"][[0, 42, 85, 127]])
            assert np.all((f["state_1"][()] >= 0) & (f["state_1"][()] <= 1))   # hardsig's range
    analyse = _analyse()
    summary = analyse.summarise(os.path.join(folder, "seed0", "just_angle.h5"))
    assert metrics["just_angle/active_fraction"] == summary["scalars"]["active_fraction"]
    with h5py.File(os.path.join(folder, "seed0.h5")) as f:
        np.testing.assert_array_equal(f["just_angle/active"][()], summary["arrays"]["active"])
        # every other set takes the preferences fitted on just_angle (as the thesis did)
        np.testing.assert_array_equal(f["contrast_and_angle/preferred"][()], f["just_angle/preferred"][()])
        np.testing.assert_array_equal(f["just_angle/preferred"][()], summary["arrays"]["preferred"])
        # images 0, 42, 85, 127 of the contrast-major set: contrasts 0, 0.8, 2.0, 2.8, each × steps −60 … +10
        # (the thesis's −100 … +150 cut to the 60-step blank and the 10-step tail)
        assert f["contrast_and_angle/transient_onset"].shape == (4, 70)
        np.testing.assert_allclose(f["contrast_and_angle/transient_contrasts"][()], [0.0, 0.8, 2.0, 2.8], atol=1e-12)
    assert os.path.exists(os.path.join(str(tmp_path), "models", "nrflv", "record", run.name, "seed0.keras"))
    out_dir, written = analyse.write(os.path.join(folder, "seed0", "just_angle.h5"))
    # the momentum was recorded: the state–momentum figure; the LFP spectrograms only when some unit is matched
    spectrograms = ["contrast_spectrograms.png"] if "lfp_by_contrast" in written["arrays"] else []
    assert sorted(os.listdir(out_dir)) == sorted(["arrays.npz", "overview.png", "response_maps.png", "response_movie.gif",
                                                  "state_momentum.png", "summary.json"] + spectrograms)


def test_bad_recording_settings_get_one_line():
    exp = load_experiment(os.path.join(ROOT, "experiments", "nrflv", "record.py"))
    with pytest.raises(ValueError, match="stimuli.*comma-separated stimulus sets"):
        exp.check_config(dict(exp.defaults, stimuli="zebra"))


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_uninterrupted_recordings(tmp_path, monkeypatch):
    import shutil
    import time

    from ndnx.energy import SGHMC

    started = time.process_time()
    _, run, _, whole = _run(tmp_path / "whole")
    folder = os.path.join(str(tmp_path / "part"), "records", "nrflv", "record", run.name, "seed0")
    os.makedirs(folder)
    shutil.copy(os.path.join(whole, "seed0", "trained.keras"), folder)   # the same model, however training went
    run_steps, calls = SGHMC.run, []

    def killed_in_the_second_set(self, *args, **kwargs):
        calls.append(1)
        # 8 chunks per set (5 | 25, 25, 10 | 25, 25, 10 | 10 steps): the second set dies after 55 steps
        if len(calls) == 12:
            raise KeyboardInterrupt
        return run_steps(self, *args, **kwargs)

    monkeypatch.setattr(SGHMC, "run", killed_in_the_second_set)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "part")
    assert not os.path.exists(os.path.join(os.path.dirname(folder), "seed0.h5"))   # not finished
    with h5py.File(os.path.join(folder, "contrast_and_angle.h5")) as f:
        assert f["state_1"].shape[0] == 55
    monkeypatch.setattr(SGHMC, "run", run_steps)
    _, _, metrics, part = _run(tmp_path / "part")
    for name in ("just_angle", "contrast_and_angle"):
        with h5py.File(os.path.join(whole, "seed0", f"{name}.h5")) as a, \
                h5py.File(os.path.join(part, "seed0", f"{name}.h5")) as b:
            for key in ("state_1", "momentum_1"):
                np.testing.assert_array_equal(a[key][()], b[key][()])
    print(f"killed and resumed run: recordings identical; {time.process_time() - started:.1f} CPU-s")


def test_visualise_channels_state_run(tmp_path):
    import time

    started = time.process_time()
    exp = load_experiment(os.path.join(ROOT, "experiments", "nrflv", "visualise.py"))
    run = exp.runs(dict(train_size=8, test_size=4, channels=2, positive_steps=2, negative_steps=2, batch_size=4,
                        buffer_capacity=16, train_epochs=0, mode="channels_state", steps=4, every=2, batch=3))[0]
    exp.run_job(run, [0], root=str(tmp_path), progress=False)
    folder = os.path.join(str(tmp_path), "records", "nrflv", "visualise", run.name)
    with h5py.File(os.path.join(folder, "seed0.h5")) as f:
        assert sorted(f) == ["channel0", "channel1"] and f["channel1"].shape == (2, 3, 28, 28, 1)
        assert np.all((f["channel0"][()] >= 0) & (f["channel0"][()] <= 1))   # hardsig's range
    assert os.path.exists(os.path.join(folder, "seed0", "channels_state.png"))
    from PIL import Image

    with Image.open(os.path.join(folder, "seed0", "channels_state.gif")) as gif:  # a frame per snapshot
        # rows of 3 samples for the 2 channels, 28 px each with 1 px gaps, enlarged 4×
        assert gif.n_frames == 2 and gif.size == (4 * (3 * 29 - 1), 4 * (2 * 29 - 1))
    print(f"visualise run: {time.process_time() - started:.1f} CPU-s")


def test_contrast_peak_score_of_a_planted_recording(tmp_path):
    analyse = _analyse()
    path = str(tmp_path / "contrast.h5")
    _planted(path, "contrast_and_angle", [], angle=np.zeros(4))
    contrast = np.array([0.0, 1.0, 2.0, 2.0])
    with h5py.File(path, "a") as f:
        state = f["state_1"][()]
        state[:, :, 10, 10, 0] *= contrast          # centre oscillation c·(1 + sin 2πt/8) while the stimulus is on
        f["state_1"][...] = state
        f.attrs["contrast"] = contrast
    out = analyse.summarise(path, max_lag=20, tuning={"preferred": np.zeros(1), "tuned": np.ones(1, bool)})
    assert out["arrays"]["contrasts"].tolist() == [0.0, 1.0, 2.0]
    score = out["arrays"]["contrast_peak_score"]
    # one peak at 1/8 cycle per step with power c²/2 ('spectrum' scaling): f·P = c²/16; nothing outside;
    # contrast 0's centre unit is silent, so not active: no unit to average
    assert np.isnan(score[0]).all()
    np.testing.assert_allclose(score[1:, 0], [1 / 16, 4 / 16], rtol=1e-2)
    np.testing.assert_allclose(score[1:, 1], 0.0)
    # response map at the centre: mean over images of c·(mean of 1 + sin over 25 periods) − 0 = mean(c) = 1.25
    maps = out["arrays"]["response_maps"]
    assert maps.shape == (21, 21, 1) and maps[10, 10, 0] == pytest.approx(1.25, abs=1e-12)
    assert np.count_nonzero(maps) == 1
    # the response movie: bins of 50 steps; at the centre the bin's mean over images of the planted trace
    movie = out["arrays"]["response_movie"]
    trace = np.zeros(400)
    trace[150:350] = 1 + np.sin(2 * np.pi * np.arange(200) / 8)
    assert movie.shape == (8, 21, 21, 1) and out["arrays"]["response_movie_steps"].tolist() == list(range(0, 400, 50))
    np.testing.assert_allclose(movie[:, 10, 10, 0], trace.reshape(8, 50).mean(axis=1) * contrast.mean(), atol=1e-12)
    assert np.count_nonzero(movie) == np.count_nonzero(movie[:, 10, 10, 0])
    # Shapiro–Wilk of the centre units: the silent contrast-0 image is constant (NaN); the others, during
    # the stimulus, as scipy computes them for that trace alone
    import scipy.stats

    w = out["arrays"]["centre_shapiro_w_during"]
    assert w.shape == (4, 1) and np.isnan(w[0, 0])
    assert w[3, 0] == pytest.approx(scipy.stats.shapiro(2 * trace[150:350])[0], rel=1e-12)
    # the LFP per contrast over the whole recording: the centre unit summed over that contrast's images
    lfp = out["arrays"]["lfp_by_contrast"]
    wave = 1 + np.sin(2 * np.pi * np.arange(200) / 8)
    assert lfp.shape == (400, 3)
    np.testing.assert_allclose(lfp[150:350], np.outer(wave, [0.0, 1.0, 4.0]), atol=1e-12)
    np.testing.assert_allclose(lfp[:150], 0.0)
    # write() fits the tuning on the recording itself (one angle here: nothing matched), so draw the figures
    # from these arrays; the planted recording has no momentum: no state–momentum figure
    analyse._oscillation_figures(analyse._load(path), out["arrays"], 150, 350, str(tmp_path))
    assert (tmp_path / "contrast_spectrograms.png").exists() and not (tmp_path / "state_momentum.png").exists()
