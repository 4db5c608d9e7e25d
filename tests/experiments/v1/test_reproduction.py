"""Reproduction on a synthetic region of real size (spec v1_system_identification.md §8 test 8).

A ground-truth HSM drives Poisson responses to natural-image patches (ndnx data synth-v1, region-1
size: 103 neurons, 1800 training images, 50 × 10 validation trials). Slow: run by `make test-all`.
"""

import os
import subprocess
import sys

import numpy as np
import keras
import pytest

from ndnx.analysis.summary import summarize
from ndnx.analysis.v1 import effective_hidden_kernels, match_kernels
from ndnx.data import antolik, synthetic_v1
from ndnx.metrics import feve, repeats_from_trials_first
from ndnx.training import supervised_evaluation

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))  # tests/experiments/v1 → root
# Spec §8 test 8 fits baseline 4 for 5000 epochs; baseline 1 needs only to be shown worse.
EPOCHS = {"baseline1": 1000, "baseline4": 5000}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("reproduction")
    synthetic_v1.ensure_default_region(str(root / "data"))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("NDNX_DATA", None)
    for name in ("baseline1", "baseline4"):
        out = subprocess.run([sys.executable, "-m", "ndnx.cli", "run", os.path.join(ROOT, "experiments", "v1", f"{name}.py"),
                              "--set", f"epochs={EPOCHS[name]}", "--root", str(root), "--no-summary"],
                             env=env, capture_output=True, text=True, timeout=3600)
        assert out.returncode == 0, out.stderr[-3000:]
    return root


def _row(root, name, split):
    rows = summarize(str(root), f"v1/{name}", split=split)
    return [r for r in rows if r["tag"] == "correlation"][0]


def test_baseline4_predicts_the_noiseless_rates(runs):
    row = _row(runs, "baseline4", "noiseless")
    assert row["seeds"] == 10 and row["p50"] >= 0.9


def test_baseline1_markedly_worse_and_less_stable(runs):
    bl1, bl4 = _row(runs, "baseline1", "validation"), _row(runs, "baseline4", "validation")
    assert bl4["p50"] - bl1["p50"] > 0.1
    assert (bl1["p90"] - bl1["p10"]) > 3 * (bl4["p90"] - bl4["p10"])


def test_effective_hidden_kernels_and_feve_close_to_the_truth(runs):
    directory = antolik.region_dir(1, str(runs / "data"))
    truth = synthetic_v1.read_ground_truth(directory)
    region = antolik.load_region(1, str(runs / "data"))
    kernels = np.einsum("jh,jyx->hyx", truth["W1"], synthetic_v1.dog_kernels(truth["dog_params"]))
    repeats = repeats_from_trials_first(region.y_val_trials)
    truth_feve = feve(truth["rates_val"], repeats).mean()
    medians, feves, val_losses = [], [], []
    for seed in range(10):
        model = keras.saving.load_model(str(runs / "models" / "v1" / "baseline4" / "run0" / f"seed{seed}.keras"))
        medians.append(np.median(match_kernels(effective_hidden_kernels(model), kernels)[2]))
        feves.append(feve(model.predict(region.x_val, verbose=0), repeats).mean())
        val_losses.append(supervised_evaluation(model, region.x_val, region.y_val)["loss"][0])
    # The fitted model is the seed with the lowest validation loss (no look at the truth): the
    # median over its 20 hidden units of the matched kernel correlation was 0.910 at 5000 epochs
    # (0.909 for the seed picked at 35,000). Over all seeds the medians were 0.76–0.91 (median
    # 0.88): some seeds settle where 3–5 units are mixtures of the truth's.
    chosen = int(np.argmin(val_losses))
    assert medians[chosen] > 0.9
    assert np.median(medians) > 0.8
    assert truth_feve == pytest.approx(1.0, abs=0.02)
    assert np.median(feves) > 0.85
