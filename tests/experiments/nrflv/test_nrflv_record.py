"""experiments/nrflv/record.py and analyse.py at a tiny size: a freshly trained model recorded under Gabor sets
(spec energy_sampling_nrflv.md §3.2–§3.4)."""

import os

import h5py
import numpy as np
import pytest

from ndnx.data.gabor import stimulus_set
from ndnx.experiment import load_experiment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TINY = dict(train_size=8, test_size=4, channels=2, positive_steps=2, negative_steps=2, batch_size=4, images=4,
            lead_in=5, blank=60, stimulus=60, after=10, record_burn_in=3, chunk_steps=25,
            stimuli="just_angle,contrast_and_angle", buffer_capacity=16)


def _run(root, **overrides):
    exp = load_experiment(os.path.join(ROOT, "experiments", "nrflv", "record.py"))
    run = exp.runs(dict(TINY, **overrides))[0]
    result = exp.run_job(run, [0], root=str(root), progress=False)
    job = next(v for v in result.values() if isinstance(v, dict) and "final" in v)
    metrics = {metric: float(values[0]) for (_, metric), values in job["final"].items()}
    return exp, run, metrics, os.path.join(str(root), "records", "nrflv", "record", run.name)


def test_recording_protocol_files_and_their_analysis(tmp_path):
    exp, run, metrics, folder = _run(tmp_path)
    base = None
    for name in ("just_angle", "contrast_and_angle"):
        with h5py.File(os.path.join(folder, "seed0", f"{name}.h5")) as f:
            # 5 + 60 + 60 + 10 steps, 4 images, SL1's centre 3 × 3 patch of 2 channels
            assert f["state_1"].shape == (135, 4, 3, 3, 2) and f["momentum_1"].shape == (135, 4, 3, 3, 2)
            assert list(f.attrs["phase_steps"]) == [5, 60, 60, 10]
            assert (f.attrs["stimulus_start"], f.attrs["stimulus_end"]) == (65, 125)
            _, params = stimulus_set(name, np.zeros((28, 28, 1)))
            np.testing.assert_array_equal(f.attrs["angle"], params["angle"][[0, 42, 85, 127]])
            np.testing.assert_array_equal(f.attrs["contrast"], params["contrast"][[0, 42, 85, 127]])
            assert np.all((f["state_1"][()] >= 0) & (f["state_1"][()] <= 1))   # hardsig's range
    import sys
    sys.path.insert(0, os.path.join(ROOT, "experiments", "nrflv"))
    try:
        import analyse
    finally:
        sys.path.pop(0)
    summary = analyse.summarise(os.path.join(folder, "seed0", "just_angle.h5"))
    assert metrics["just_angle/active_fraction"] == summary["scalars"]["active_fraction"]
    with h5py.File(os.path.join(folder, "seed0.h5")) as f:
        np.testing.assert_array_equal(f["just_angle/active"][()], summary["arrays"]["active"])
        # images 0, 42, 85, 127 of the contrast-major set: contrasts 0, 0.8, 2.0, 2.8, each × steps −60 … +10
        # (the thesis's −100 … +150 cut to the 60-step blank and the 10-step tail)
        assert f["contrast_and_angle/transient_onset"].shape == (4, 70)
        np.testing.assert_allclose(f["contrast_and_angle/transient_contrasts"][()], [0.0, 0.8, 2.0, 2.8], atol=1e-12)
    assert os.path.exists(os.path.join(str(tmp_path), "models", "nrflv", "record", run.name, "seed0.keras"))
    out_dir, _ = analyse.write(os.path.join(folder, "seed0", "just_angle.h5"))
    assert sorted(os.listdir(out_dir)) == ["arrays.npz", "overview.png", "summary.json"]


def test_bad_recording_settings_get_one_line():
    exp = load_experiment(os.path.join(ROOT, "experiments", "nrflv", "record.py"))
    with pytest.raises(ValueError, match="stimuli.*comma-separated stimulus sets"):
        exp.check_config(dict(exp.defaults, stimuli="zebra"))
