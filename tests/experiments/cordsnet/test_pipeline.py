"""experiments/cordsnet/pipeline.py and direct.py at a tiny size (scikit-learn's 8×8 digits, 3 + 4 steps).

The chain runs through `Experiment.run_job` (what `ndnx run` calls); each hand-off is checked against
an independent computation: the folded CNN inside the step-2 model is `fold_batch_norm` of the saved
CNN and gives the CNN's logits; every CordsNet step starts from exactly the canonical parameters the
previous step saved; step 4 ends at the slope max(0, 0.95 − 0.19·e) of its last epoch. A run
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
TINY = {"source": "sklearn", "train_size": 48, "cnn.train_size": 48, "inverse.train_size": 48, "test_size": 24, "blank_steps": 3, "stimulus_steps": 4,
        "ramp_steps": 2, "spontaneous_steps": 2, "checkpoint_every": 0, "batch_size": 16,
        "cnn.epochs": 1, "cnn.batch_size": 16, "inverse.epochs": 1, "inverse.batch_size": 16, "prelu.epochs": 2}


def script(name):
    return os.path.join(ROOT, "experiments", "cordsnet", f"{name}.py")


def step_model(root, run, step):
    (path,) = glob.glob(os.path.join(str(root), "models", "cordsnet", "pipeline", run.name, "steps", step, "*.keras"))
    return path, keras.saving.load_model(path)


def interrupted_then_resumed(exp, run, root, monkeypatch, step):
    """Run the chain killed after the first epoch of `step`, then again; (result, {finished file: mtime})."""
    own = exp.callbacks
    monkeypatch.setattr(exp, "callbacks", lambda config: [*own(config), InterruptAt(
        when=lambda model: type(model).__name__ == "CordsNetInverse" if step == "inverse"
        else getattr(model, "nonlinearity", None) == step)])
    monkeypatch.setenv("NDNX_TEST_INTERRUPT_AT", "1")
    with pytest.raises(KeyboardInterrupt):
        exp.run_job(run, [0], root=str(root), progress=False)
    monkeypatch.delenv("NDNX_TEST_INTERRUPT_AT")
    steps = os.path.join(str(root), "models", "cordsnet", "pipeline", run.name, "steps")
    finished = sorted(glob.glob(os.path.join(steps, "*", "*.keras")))
    assert not glob.glob(os.path.join(steps, step, "*.keras"))
    stamps = {p: os.stat(p).st_mtime_ns for p in finished}
    result = exp.run_job(run, [0], root=str(root), progress=False)
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps  # finished steps were not run again
    return next(v for v in result.values() if isinstance(v, dict) and "final" in v), finished


def check_fold(exp, run, root):
    """Step 1b inside the saved step-2 model is fold_batch_norm(saved CNN) and gives the CNN's logits."""
    _, cnn = step_model(root, run, "cnn")
    _, inverse = step_model(root, run, "inverse")
    x, y = exp.load_data(run.config)["validation"]
    folded = fold_batch_norm(cnn.get_parameters(), 8)
    for name, variable in inverse.frozen.items():
        np.testing.assert_array_equal(variable.numpy(), folded[name], err_msg=name)
    logits, _ = folded_cnn_activations(folded, x, 2)
    cnn_logits = np.asarray(cnn(x, training=False))
    np.testing.assert_allclose(np.asarray(logits), cnn_logits, atol=1e-5 * np.abs(cnn_logits).max())
    return inverse


@pytest.mark.slow  # 60-180 s on a shared 2-core machine (graph tracing of three CordsNet models)
def test_chain_hands_each_step_the_previous_weights_and_resumes_after_a_kill(tmp_path, monkeypatch):
    """Killed in step 2, resumed; CordsNet steps untrained (0 epochs) so each must equal the one before."""
    import time

    exp = load_experiment(script("pipeline"))
    run = exp.runs({**TINY, "inverse.epochs": 1, "linear.epochs": 0, "prelu.epochs": 0, "relu.epochs": 0})[0]
    start = time.time()
    _, finished = interrupted_then_resumed(exp, run, tmp_path, monkeypatch, "inverse")
    print(f"tiny CordsNet pipeline (untrained CordsNet steps) with a kill and a resume: {time.time() - start:.0f} s")
    assert [os.path.basename(os.path.dirname(p)) for p in finished] == ["cnn"]
    inverse = check_fold(exp, run, tmp_path)
    expected = inverse.get_parameters()
    for step, nonlinearity, protocol in (("linear", "linear", "stimulus_only"), ("prelu", "prelu", "three_phase"),
                                         ("relu", "relu", "three_phase")):
        _, net = step_model(tmp_path, run, step)
        assert (net.nonlinearity, net.protocol) == (nonlinearity, protocol)
        got = net.get_parameters()
        assert sorted(got) == sorted(expected)
        for name, value in expected.items():
            np.testing.assert_array_equal(got[name], value, err_msg=f"{step}: {name}")


@pytest.mark.slow
def test_whole_chain_trains_and_anneals_the_slope(tmp_path, monkeypatch):
    """Every step trained, killed in the linear step and resumed; step 4 ends at a = max(0, 0.95 − 0.19·1)."""
    import time

    exp = load_experiment(script("pipeline"))
    run = exp.runs(TINY)[0]
    start = time.time()
    _, finished = interrupted_then_resumed(exp, run, tmp_path, monkeypatch, "linear")
    print(f"tiny CordsNet pipeline with a kill and a resume: {time.time() - start:.0f} s")
    assert [os.path.basename(os.path.dirname(p)) for p in finished] == ["cnn", "inverse"]
    check_fold(exp, run, tmp_path)
    _, prelu = step_model(tmp_path, run, "prelu")
    assert float(prelu.prelu_slope.numpy()) == pytest.approx(0.76)
    _, inverse = step_model(tmp_path, run, "inverse")
    net = exp.fit.steps[2].build(run.config, 0, None, inverse)  # what step 3 starts from
    for name, value in inverse.get_parameters().items():
        np.testing.assert_array_equal(net.get_parameters()[name], value, err_msg=name)


def test_epoch_pipeline_draws_fresh_shifted_digits_every_epoch():
    """shift/epoch_size: epoch e is `epoch_size` digits drawn by (data_seed, e), each moved by ≤ shift pixels."""
    from ndnx.data.augment import shift_images

    import importlib.util

    spec = importlib.util.spec_from_file_location("cordsnet_pipeline_under_test", script("pipeline"))
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    exp = pipeline.experiment
    config = exp.runs({"source": "sklearn", "shift": 1, "epoch_size": 40, "batch_size": 16})[0].config
    data = exp.load_data(config)
    x, y = pipeline.training_arrays(config)
    epochs = [[(bx, by) for bx, by in data["train"](e).as_numpy_iterator()] for e in (0, 1, 0)]
    assert [len(b[0]) for b in epochs[0]] == [16, 16, 8]
    xs = [np.concatenate([b[0] for b in ep]) for ep in epochs]
    ys = [np.concatenate([b[1] for b in ep]) for ep in epochs]
    np.testing.assert_array_equal(xs[0], xs[2])  # the same epoch again (a resumed run): the same batches
    assert not np.array_equal(ys[0], ys[1])  # another epoch: other digits
    for images, labels, e in ((xs[0], ys[0], 0), (xs[1], ys[1], 1)):
        rng = np.random.default_rng((config["data_seed"], e))
        order = rng.permutation(len(y))[:40]
        np.testing.assert_array_equal(labels, y[order])
        offsets = rng.integers(-1, 2, size=(40, 2))
        np.testing.assert_array_equal(images, shift_images(x[order], offsets))


def test_cosine_learning_rate_decays_to_zero_over_the_steps_batches():
    """lr_decay="cosine": lr·½(1 + cos(π·k/K)) with K = epochs × ⌈epoch_size / batch_size⌉ batches."""
    import importlib.util
    import math

    spec = importlib.util.spec_from_file_location("cordsnet_pipeline_lr", script("pipeline"))
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    config = pipeline.experiment.runs({"source": "sklearn", "lr": 1e-3, "lr_decay": "cosine", "epochs": 3,
                                       "epoch_size": 100, "batch_size": 32})[0].config
    schedule = pipeline.learning_rate(config)
    batches = 3 * 4
    for k in (0, 3, 6, 12):
        assert float(schedule(k)) == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * k / batches)), abs=1e-9)
    assert pipeline.learning_rate({**config, "lr_decay": "none"}) == 1e-3


def test_direct_control_sees_as_many_digits_as_the_pipelines_cordsnet_steps():
    """The README compares the two at the same budget: epochs × epoch_size summed over linear, PReLU, ReLU."""
    pipeline, direct = load_experiment(script("pipeline")), load_experiment(script("direct"))
    config = pipeline.runs({})[0].config
    def key(step, name):  # a step's own value, or the run-wide one when the step's is None
        return config[f"{step}.{name}"] if config.get(f"{step}.{name}") is not None else config[name]

    budget = sum(key(step, "epochs") * key(step, "epoch_size") for step in ("linear", "prelu", "relu"))
    control = direct.runs({})[0].config
    assert budget == control["epochs"] * control["epoch_size"] == 22400
    assert (control["shift"], control["lr_decay"]) == (config["relu.shift"], config["relu.lr_decay"])
