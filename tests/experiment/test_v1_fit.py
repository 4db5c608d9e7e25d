"""The V1 recipe's evaluation: what its correlation is, both summaries over neurons, and the
metrics of repeated trials."""

import os

import numpy as np
import keras
import pytest

from ndnx.experiment.fits.v1 import METRICS, supervised_evaluation
from ndnx.losses import PoissonLoss, poisson_unit_norm
from ndnx.models.v1 import hsm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny_experiment.py")


def data(t=60, n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, 15, 15, 1)).astype("float32")
    rates = np.asarray(hsm(n, input_shape=(15, 15, 1), seed=77)(x))
    return x, rng.poisson(rates).astype("float32"), rates


def ensemble(y, replicas=3):
    model = hsm(y.shape[1], input_shape=(15, 15, 1), seed=0, replicas=replicas)
    model.compile(keras.optimizers.Adam(1e-3), PoissonLoss(poisson_unit_norm(y), replica_axis=1))
    return model


def test_correlation_is_the_mean_over_neurons_and_the_median_is_logged_too():
    x, y, _ = data()
    model = ensemble(y)
    got = supervised_evaluation(model, x, y)
    pred = np.asarray(model.predict(x, verbose=0), dtype="float64")  # (images, seeds, neurons)
    r = np.array([[np.corrcoef(pred[:, s, k], y[:, k])[0, 1] for k in range(y.shape[1])]
                  for s in range(pred.shape[1])])
    np.testing.assert_allclose(got["correlation"], r.mean(axis=1), atol=1e-6)
    np.testing.assert_allclose(got["correlation_median"], np.median(r, axis=1), atol=1e-6)
    assert np.all(np.abs(got["correlation"] - got["correlation_median"]) > 1e-4)  # they differ
    assert METRICS["correlation"] == "mean over neurons of per-neuron Pearson r"
    assert METRICS["correlation_median"] == "median over neurons of per-neuron Pearson r"


def test_the_run_record_says_what_each_metric_is(tmp_path):
    import json

    from ndnx.experiment import load_experiment

    exp = load_experiment(TINY)
    (run,) = exp.runs()
    exp.write_run_info(exp.layout(str(tmp_path)), run)
    info = json.loads((tmp_path / "logs" / "tests" / "tiny" / run.name / "run_info.json").read_text())
    assert info["metrics"]["correlation"] == "mean over neurons of per-neuron Pearson r"
    assert info["metrics"]["correlation_median"] == "median over neurons of per-neuron Pearson r"
    # An experiment with its own evaluation says what its metrics are, or nothing.
    custom = exp.derive("tests/custom", evaluate=lambda model, x, y: {})
    custom.write_run_info(custom.layout(str(tmp_path)), run)
    info = json.loads((tmp_path / "logs" / "tests" / "custom" / run.name / "run_info.json").read_text())
    assert info["metrics"] == {}
