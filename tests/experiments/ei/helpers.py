"""Run an E/I experiment script in-process at a tiny size and read back what it recorded and logged."""

import os

import h5py

from ndnx.experiment import load_experiment

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def script(name):
    return os.path.join(ROOT, "experiments", "ei", f"{name}.py")


def run_tiny(name, root, **overrides):
    """(experiment, run config, {metric: value}, {record: array}) of the first run with `overrides`, seed 0."""
    exp = load_experiment(script(name))
    run = exp.runs({k: v for k, v in overrides.items()})[0]
    result = exp.run_job(run, [0], root=str(root), progress=False)
    job = next(v for v in result.values() if isinstance(v, dict) and "final" in v)
    metrics = {metric: float(values[0]) for (_, metric), values in job["final"].items()}
    path = os.path.join(str(root), "records", *exp.name.split("/"), run.name, "seed0.h5")
    with h5py.File(path) as f:
        records = {key: f[key][()] for key in f}
    return exp, run.config, metrics, records
