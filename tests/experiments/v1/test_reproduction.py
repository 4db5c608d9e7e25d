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
from ndnx.metrics import feve, mean_pearson, repeats_from_trials_first
from ndnx.experiment.fits.v1 import supervised_evaluation

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


def _truth(root):
    """The ground truth of the synthetic region, its validation region and trials (images, repeats, N)."""
    directory = antolik.region_dir(1, str(root / "data"))
    region = antolik.load_region(1, str(root / "data"))
    return synthetic_v1.read_ground_truth(directory), region, repeats_from_trials_first(region.y_val_trials)


def test_baseline4_predicts_the_noiseless_rates(runs):
    # Spec §8 test 8 (and §10): baseline 4, 5k epochs, 10 seeds — median validation r against the
    # noiseless rates ≥ 0.9.
    row = _row(runs, "baseline4", "noiseless")
    assert row["seeds"] == 10 and row["p50"] >= 0.9


def test_baseline4_against_the_noisy_averages_is_close_to_the_generator(runs):
    # Spec §8 test 8: "r against noisy trial-averaged responses close to the generator's own r". The
    # generator's own r is computed here from the ground truth. For a prediction p, rates λ and
    # averages y = λ + ε with noise ε independent of p, corr(p, y) = corr(p, λ) · corr(λ, y); so the
    # spec's pass criterion corr(p, λ) ≥ 0.9 means r against the averages ≥ 0.9 × the generator's r.
    truth, region, _ = _truth(runs)
    generator = mean_pearson(truth["rates_val"], region.y_val)
    row = _row(runs, "baseline4", "validation")
    assert row["seeds"] == 10
    assert row["p50"] >= 0.9 * generator, (row, generator)


def test_baseline1_markedly_worse_and_less_stable(runs):
    # Spec §8 test 9 / §6: on region 1 at 5k epochs the thesis has baseline 1 at 0.395 / 0.449 / 0.299
    # against baseline 4 at 0.511 / 0.527 / 0.495 (50th / 90th / 10th): a median 0.116 lower and a
    # 10–90 spread 0.150 / 0.032 = 4.7 times as wide. Baseline 1 runs 1000 epochs here, and the thesis
    # has it improving with training (0.395 at 5k, 0.42 at 35k), so the same margins must hold.
    bl1, bl4 = _row(runs, "baseline1", "validation"), _row(runs, "baseline4", "validation")
    assert bl4["p50"] - bl1["p50"] >= 0.511 - 0.395
    assert (bl1["p90"] - bl1["p10"]) >= (0.449 - 0.299) / (0.527 - 0.495) * (bl4["p90"] - bl4["p10"])


def test_effective_hidden_kernels_and_feve_close_to_the_truth(runs):
    truth, region, repeats = _truth(runs)
    kernels = np.einsum("jh,jyx->hyx", truth["W1"], synthetic_v1.dog_kernels(truth["dog_params"]))
    medians, feves, val_losses = [], [], []
    for seed in range(10):
        [run] = (runs / "models" / "v1" / "baseline4").iterdir()  # the one run (its name: epochs=...-<hash>)
        model = keras.saving.load_model(str(run / f"seed{seed}.keras"))
        medians.append(np.median(match_kernels(effective_hidden_kernels(model), kernels)[2]))
        feves.append(feve(model.predict(region.x_val, verbose=0), repeats).mean())
        val_losses.append(supervised_evaluation(model, region.x_val, region.y_val)["loss"][0])
    # Spec §8 test 8: the effective hidden kernels Σⱼ W1[j,h]·DoGⱼ, Hungarian-matched to the truth's
    # on kernel correlation, "expect > 0.9" — for the fitted model, here the seed with the lowest
    # validation loss (chosen without a look at the truth). The spec gives no number for the other
    # seeds, so none is asserted for them.
    chosen = int(np.argmin(val_losses))
    assert medians[chosen] > 0.9
    # The ground truth's own FEVE is 1 in expectation (Poisson: its MSE against single trials is the
    # noise variance), up to the sampling error of the mean over neurons (4 standard errors).
    per_neuron = feve(truth["rates_val"], repeats)
    assert abs(per_neuron.mean() - 1.0) <= 4 * per_neuron.std(ddof=1) / np.sqrt(per_neuron.size)
    # The spec's criterion r ≥ 0.9 against the noiseless rates in terms of explained variance: FEVE
    # ≈ 1 − E(p − λ)² / Var λ, which is at most corr(p, λ)², reached by a calibrated prediction. The
    # Poisson fit predicts rates, not only their shape, so the median seed must reach 0.9² = 0.81.
    assert np.median(feves) >= 0.9 ** 2
