"""Every V1 experiment script: its grid (the thesis table's runs) and a model for each kind of run.

The data are replaced by a small synthetic stand-in (15×15 images, 12 neurons); each distinct
model configuration of a grid is built with two replicas and takes one finite training step.
"""

import glob
import math
import os

import numpy as np
import pytest

import ndnx.data.v1_splits
from ndnx.experiment import load_experiment
from ndnx.models.v1 import from_config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))  # tests/experiments/v1 → root
SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "experiments", "v1", "*.py")))

# Runs per experiment: the thesis table's grids (spec v1_system_identification.md §2.2).
RUNS = {"baseline1": 1, "baseline2": 1, "baseline3": 1, "baseline4": 1, "hsm_search": 1, "inputs_outputs": 4,
        "noise": 2, "bias_init": 2, "learning_rate": 5, "batch_size": 9, "dropout": 15, "penalties": 44,
        "l2_grid": 16, "dog_softplus": 2, "lin_scale": 4, "lnln": 20, "ln": 8, "conv_readout": 180,
        "conv_dog": 54, "what_where": 6, "pooled": 36, "multeval": 15, "conv_gaussian": 3, "original_hsm": 1}

# Keys that change the data, the recipe or the pipeline, not the model's structure.
NOT_STRUCTURAL = {"lr", "epochs", "batch_size", "log_every", "seeds", "normalization", "output_normalization",
                  "noise", "region", "regions", "bias_init", "data_dir", "shuffle_seed", "ensemble"}


def fake_splits(regions=1, *args, **kwargs):
    rng = np.random.default_rng(0)
    n_regions = 1 if isinstance(regions, int) else len(regions)
    x = rng.normal(size=(40 * n_regions, 15, 15, 1)).astype("float32")
    y = rng.poisson(1.0, size=(40 * n_regions, 12)).astype("float32")
    if n_regions > 1:  # pooled: region k records neurons of its block only
        for k in range(n_regions):
            cols = np.array_split(np.arange(12), n_regions)
            y[40 * k:40 * (k + 1)][:, np.setdiff1d(np.arange(12), cols[k])] = np.nan
    return {"train": (x[:32 * n_regions], y[:32 * n_regions]), "validation": (x[-8:], y[-8:])}


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(ndnx.data.v1_splits, "experiment_splits", fake_splits)


def test_every_script_is_listed():
    assert {os.path.basename(p)[:-3] for p in SCRIPTS} == set(RUNS)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: os.path.basename(p)[:-3])
def test_grid_and_models(path, fake_data):
    name = os.path.basename(path)[:-3]
    exp = load_experiment(path)
    assert exp.name == f"v1/{name}"
    runs = exp.runs()
    assert len(runs) == RUNS[name]
    structures = {}
    for run in runs:
        key = tuple(sorted((k, str(v)) for k, v in run.config.items() if k not in NOT_STRUCTURAL))
        structures.setdefault(key, run)
    sample = list(structures.values())
    if len(sample) > 4:  # large grids: the first, the last and two between
        sample = [sample[0], sample[len(sample) // 3], sample[2 * len(sample) // 3], sample[-1]]
    for run in sample:
        model = exp.build(run.config, seed=0, replicas=2)
        x, y = exp.load_data(run.config)["train"]
        assert model.output_shape == (None, 2, y.shape[1])
        model.jit_compile = False  # one step: XLA compilation would cost more than it saves
        logs = model.train_on_batch(x[:16], y[:16], return_dict=True)
        assert math.isfinite(logs["loss"]), (name, run.varied)


def test_batch_size_grid_keeps_the_number_of_updates():
    exp = load_experiment(os.path.join(ROOT, "experiments", "v1", "batch_size.py"))
    updates = [r.config["epochs"] * math.ceil(1800 / r.config["batch_size"]) for r in exp.runs()]
    assert updates[2] == 200 * 113  # batch 16, the reference
    assert all(abs(u - updates[2]) / updates[2] < 0.01 for u in updates)


def test_hsm_parameter_count_of_region_1():
    # spec §2.2: DoG 9×6 used + 9 biases, hidden 9×20+20, output 20×103+103 ≈ 2.4k
    model = from_config({"model": "hsm"}, num_neurons=103, input_shape=(31, 31, 1))
    assert model.count_params() == 9 * 6 + 9 + 9 * 20 + 20 + 20 * 103 + 103 == 2426
