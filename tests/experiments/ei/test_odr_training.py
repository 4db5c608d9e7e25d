"""experiments/ei/odr_training.py at N = 100: the trials and windows by hand, and the logged memory error equals a
NumPy population-vector decoding of the saved model's rates (epochs=0: the untrained network, no BPTT)."""

import glob
import os

import keras
import numpy as np
import pytest

from ndnx.experiment import load_experiment
from tests.experiments.ei.helpers import script

TINY = dict(N_NEURON=100, K=25, trials=40, validation_fraction=0.2, epochs=0, init_std=0.0)


@pytest.mark.slow  # family budget; the script loads fast in test_scripts.py
def test_targets_windows_and_logged_memory_error(tmp_path):
    exp = load_experiment(script("odr_training"))
    run = exp.runs(TINY)[0]
    x, y = exp.data(run.config)["validation"]
    # 8 trials: one per target 0, 45, …, 315° (train_odr_EI's 8 targets, spec §6)
    assert sorted(np.degrees(y[:, 0, 0].astype("float64")).round(3).tolist()) == \
        [0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0]
    # cue [1, 2) s left out (NaN), memory [2, 3) s in the window, at T_WINDOW 0.1: frames 10-19 and 20-29
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(y[0, :, 0])), np.arange(10, 20))
    np.testing.assert_array_equal(np.flatnonzero(y[0, :, 1]), np.arange(20, 30))

    result = exp.run_job(run, [0], root=str(tmp_path), progress=False)
    job = next(v for v in result.values() if isinstance(v, dict) and "final" in v)
    (path,) = glob.glob(os.path.join(str(tmp_path), "models", "ei", "odr_training", run.name, "seed0.keras"))
    rates = keras.saving.load_model(path).predict(x, verbose=0)   # (8, frames, N_E = 75)
    theta = 2 * np.pi * np.arange(75) / 75
    phase = np.angle(rates[:, 29] @ np.exp(1j * theta))          # population vector at the last memory frame
    error = np.degrees(np.abs(np.angle(np.exp(1j * (phase - y[:, 0, 0])))))
    assert job["final"][("validation", "memory_error_deg")][0] == pytest.approx(error.mean(), rel=1e-4, abs=1e-3)
