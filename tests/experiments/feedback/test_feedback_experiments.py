"""experiments/feedback/: every script loads with its grid; the proof of concept runs at a tiny size and
its logged clarity equals the clarity of the saved model on the held-out contexts."""

import glob
import os

import keras
import numpy as np
import pytest

from ndnx.analysis import feedback as fa
from ndnx.data import unmixing
from ndnx.experiment import load_experiment
from ndnx.models.feedback_protocol import run_contexts

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "experiments", "feedback", "*.py")))
TINY = dict(window=40, batches=2, epochs=1, hidden=8, n_test=3, log_every=1)


@pytest.mark.parametrize("path", SCRIPTS, ids=os.path.basename)
def test_scripts_load_with_their_grids(path):
    exp = load_experiment(path)
    runs = exp.runs({})
    assert exp.name == f"feedback/{os.path.basename(path)[:-3]}" and len(runs) >= 1
    grid = {"tau_study": 5, "feedback_signals_study": 5, "kernel_width_study": 6, "mod_target_study": 3}
    assert len(runs) == grid.get(exp.name.split("/")[1], 1)


def test_proof_of_concept_trains_and_logs_the_clarity_of_the_saved_model(tmp_path):
    exp = load_experiment(os.path.join(ROOT, "experiments", "feedback", "proof_of_concept.py"))
    run = exp.runs(TINY)[0]
    result = exp.run_job(run, [0], root=str(tmp_path), progress=False)
    job = next(v for v in result.values() if isinstance(v, dict) and "final" in v)
    (path,) = glob.glob(os.path.join(str(tmp_path), "models", "feedback", "proof_of_concept", run.name, "seed0.keras"))
    model = keras.saving.load_model(path)
    contexts, _ = unmixing.mixing_matrices(3, seed=[0, 3])
    r = run_contexts(model, unmixing.chords(), contexts, context_length=40, noise=0.001, seed=0)
    clarity = fa.signal_clarity(r["s"], r["y"], 40).mean()
    assert job["final"][("validation", "clarity")][0] == pytest.approx(clarity, rel=1e-4)
    assert np.isfinite(job["final"][("validation", "snr_db")][0])


def test_seeds_of_a_run_train_as_one_replicated_model(tmp_path):
    exp = load_experiment(os.path.join(ROOT, "experiments", "feedback", "tau_study.py"))
    run = exp.runs(dict(TINY, cell="spatial", units=10, signals=2, tau=[3.0]))[0]
    result = exp.run_job(run, [0, 1], root=str(tmp_path), progress=False)
    job = next(v for v in result.values() if isinstance(v, dict) and "final" in v)
    clarity = job["final"][("validation", "clarity")]
    assert clarity.shape == (2,) and clarity[0] != clarity[1]
    contexts, _ = unmixing.mixing_matrices(3, seed=[0, 3])
    for seed in (0, 1):  # each saved seed is the lone model of that seed, scored as logged
        (path,) = glob.glob(os.path.join(str(tmp_path), "models", "feedback", "tau_study", run.name,
                                         f"seed{seed}.keras"))
        r = run_contexts(keras.saving.load_model(path), unmixing.chords(), contexts, context_length=40, seed=0)
        assert clarity[seed] == pytest.approx(fa.signal_clarity(r["s"], r["y"], 40).mean(), rel=1e-4)
