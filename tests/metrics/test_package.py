"""ndnx.metrics as a package: every name of the former single module is still there, and models
compiled with its metrics and saved before the split still load."""

import json
import zipfile

import keras
import numpy as np
import pytest

import ndnx
from ndnx.metrics import correlation, tasks, v1

# The public names of ndnx/metrics.py before it became a package.
FORMER = ["pearson_per_neuron", "mean_pearson", "NAN_MODES", "PearsonCorrelation", "stack_repeats",
          "repeats_from_trials_first", "trial_average", "standardize_responses", "total_variance",
          "noise_variance", "explainable_variance", "fev", "feve", "mean_feve", "single_trial_correlation",
          "correlation_to_average", "oracle_correlation", "SingleTrialCorrelation", "CorrelationToAverage",
          "FEVE", "OracleCorrelation"]


# Added since: neuralpredictors' SNR and the tuple of oracle methods; the task accuracy of E/I networks.
ADDED = ["snr", "ORACLE_METHODS", "dual_accuracy"]


def test_every_former_name_is_re_exported_from_its_module():
    assert sorted(ndnx.metrics.__all__) == sorted(FORMER + ADDED)
    assert sorted(correlation.__all__ + v1.__all__ + tasks.__all__) == sorted(FORMER + ADDED)
    for name in FORMER + ADDED:
        home = next(m for m in (correlation, v1, tasks) if name in m.__all__)
        assert getattr(ndnx.metrics, name) is getattr(home, name), name
    for name in ("PearsonCorrelation", "SingleTrialCorrelation", "CorrelationToAverage", "FEVE",
                 "OracleCorrelation"):
        assert keras.saving.get_registered_name(getattr(ndnx.metrics, name)) == f"ndnx>{name}"


def test_model_saved_when_metrics_was_one_module_loads(tmp_path):
    model = ndnx.models.v1.hsm(5, input_shape=(9, 9, 1), seed=0)
    model.compile("adam", "mse", jit_compile=False, metrics=[
        ndnx.metrics.PearsonCorrelation(units=5), ndnx.metrics.SingleTrialCorrelation(units=5),
        ndnx.metrics.CorrelationToAverage(units=5), ndnx.metrics.FEVE(units=5, clip=True, fev_threshold=0.1),
        ndnx.metrics.OracleCorrelation(units=5, method="jackknife")])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 9, 9, 1)).astype("float32")
    y = rng.poisson(1.0, size=(16, 5)).astype("float32")
    model.fit(x, y, epochs=1, verbose=0)
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    saved = tmp_path / "new.keras"
    model.save(saved)

    # A file written before the split names the module "ndnx.metrics" for every metric class.
    legacy = tmp_path / "legacy.keras"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(legacy, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                metrics = config["compile_config"]["metrics"]
                assert {m["module"] for m in metrics} == {"ndnx.metrics.correlation", "ndnx.metrics.v1"}
                for m in metrics:
                    m["module"] = "ndnx.metrics"
                data = json.dumps(config).encode()
            dst.writestr(item, data)

    loaded = keras.saving.load_model(legacy)
    got = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert got == pytest.approx(expected, abs=1e-6)  # the same keys: loss and the five metrics
