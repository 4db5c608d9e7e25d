"""`ndnx tune`: keras-tuner searches trained by ndnx's loop, resume, chief/worker, errors.

Every test writes a tiny experiment (11×11 images, 8 neurons, responses of a known HSM) into its
tmp_path; nothing here needs the V1 data modules.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import keras_tuner
import pytest

from ndnx.cli import main
from ndnx.experiment import load_experiment
from ndnx.experiment.fits.v1 import supervised_evaluation
from ndnx.training.tuning import ExperimentHyperModel, load_tuner, run_search

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TINY = textwrap.dedent('''
    import os
    import time

    import numpy as np
    import keras
    import keras_tuner

    from ndnx.experiment import Experiment, NDN3Fit
    from ndnx.losses import PoissonLoss, poisson_unit_norm
    from ndnx.models.v1 import hsm


    def load(config):
        rng = np.random.default_rng(5)
        n = config["samples"]
        x = rng.normal(size=(n + 40, 11, 11, 1)).astype("float32")
        rates = np.asarray(hsm(8, input_shape=(11, 11, 1), seed=999)(x))
        return {"train": (x[:n], rng.poisson(rates[:n]).astype("float32")), "validation": (x[n:], rates[n:])}


    def build_model(config, lr, l2, seed, replicas):
        x, y = experiment.load_data(config)["train"]
        model = hsm(8, input_shape=(11, 11, 1), l2_output=l2, seed=seed, replicas=replicas)
        model.compile(keras.optimizers.Adam(lr),
                      PoissonLoss(poisson_unit_norm(y), replica_axis=None if replicas is None else 1),
                      jit_compile=config["jit_compile"])
        return model


    class Search(keras_tuner.HyperModel):
        def __init__(self, config):
            super().__init__()
            self.config = config

        def build(self, hp):
            lr = hp.Float("lr", 1e-3, 1e-1, sampling="log")
            l2 = hp.Choice("l2_output", [0.0, 0.1])
            seeds = self.config["seeds"]
            return build_model(self.config, lr, l2, 0, seeds if seeds > 1 else None)


    class Sleep(keras.callbacks.Callback):
        """Slows epochs down (NDNX_TUNE_TEST_SLEEP seconds) so a test can kill a search mid-trial."""

        def on_epoch_end(self, epoch, logs=None):
            time.sleep(float(os.environ.get("NDNX_TUNE_TEST_SLEEP", "0")))


    experiment = Experiment(
        "tests/tiny_search",
        defaults=dict(samples=64, epochs=3, batch_size=16, jit_compile=False),
        data=load,
        build=lambda config, seed, replicas: build_model(config, 1e-2, 0.1, seed, replicas),
        seeds=1,
        fit=NDN3Fit(),
        HYPERMODEL
        callbacks=lambda config: [Sleep()],
    )
''')


def write_experiment(directory, hypermodel=True):
    path = os.path.join(str(directory), "tiny_search.py" if hypermodel else "plain.py")
    text = TINY.replace("HYPERMODEL", "hypermodel=Search," if hypermodel else "")
    if not hypermodel:
        text = text.replace('"tests/tiny_search"', '"tests/plain"')
    with open(path, "w") as f:
        f.write(text)
    return path


def project(root, tuner="random"):
    return os.path.join(str(root), "tuning", "tests", "tiny_search", tuner)


def trials(root, tuner="random"):
    """{trial_id: trial.json} of a project."""
    out = {}
    for path in glob.glob(os.path.join(project(root, tuner), "trial_*", "trial.json")):
        with open(path) as f:
            state = json.load(f)
        out[state["trial_id"]] = state
    return out


def trial_text(root, trial_id, tuner="random"):
    with open(os.path.join(project(root, tuner), f"trial_{trial_id}", "trial.json")) as f:
        return f.read()


def env(**extra):
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    e.update(extra)
    return e


def tune_argv(script, root, *more):
    return [sys.executable, "-m", "ndnx.cli", "tune", script, "--root", str(root), *more]


@pytest.fixture(autouse=True)
def _restore_training_data_variable(monkeypatch):
    """`ndnx tune --root` exports NDNX_TRAINING_DATA; undo it after each test."""
    monkeypatch.delenv("NDNX_TRAINING_DATA", raising=False)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A finished 2-trial random search run through the CLI entry point, and its output."""
    base = tmp_path_factory.mktemp("tune")
    script = write_experiment(base)
    root = base / "training_data"
    saved = os.environ.get("NDNX_TRAINING_DATA")
    capture = base / "stdout.txt"
    stdout = sys.stdout
    try:
        with open(capture, "w") as f:
            sys.stdout = f
            code = main(["tune", script, "--tuner", "random", "--max-trials", "2", "--root", str(root)])
    finally:
        sys.stdout = stdout
        if saved is None:
            os.environ.pop("NDNX_TRAINING_DATA", None)
        else:
            os.environ["NDNX_TRAINING_DATA"] = saved
    return {"script": script, "root": root, "code": code, "stdout": capture.read_text()}


def test_random_search_through_the_cli(searched):
    assert searched["code"] == 0
    done = trials(searched["root"])
    assert sorted(done) == ["0", "1"]
    assert all(t["status"] == "COMPLETED" for t in done.values())
    scores = {k: t["score"] for k, t in done.items()}
    assert all(np.isfinite(s) and -1 <= s <= 1 for s in scores.values())
    # every trial sampled its own hyper-parameters, and recorded val_loss next to the objective
    assert done["0"]["hyperparameters"]["values"] != done["1"]["hyperparameters"]["values"]
    assert "val_loss" in done["0"]["metrics"]["metrics"]
    # the table's first row and the "best:" line name the trial with the highest score
    best_id = max(scores, key=scores.get)
    lines = searched["stdout"].splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("trial "))
    assert lines[header].split()[:2] == ["trial", "val_correlation"]
    assert lines[header + 1].split()[0] == best_id
    best_line = next(line for line in lines if line.startswith("best: trial"))
    assert best_line.split()[2] == best_id
    assert float(best_line.split()[3].split("=")[1]) == pytest.approx(scores[best_id], abs=1e-5)
    # who ran each trial
    for trial_id in done:
        with open(os.path.join(project(searched["root"]), f"trial_{trial_id}", "ndnx_trial.json")) as f:
            assert json.load(f)["tuner_id"] == "tuner0"


def test_best_model_reloads_with_its_recorded_score(searched):
    exp = load_experiment(searched["script"])
    tuner = load_tuner(exp, {}, "random", root=str(searched["root"]))
    best_trial = tuner.oracle.get_best_trials(1)[0]
    model = tuner.get_best_models(1)[0]
    x, y = exp.load_data(exp.defaults)["validation"]
    assert supervised_evaluation(model, x, y)["correlation"].mean() == pytest.approx(best_trial.score, abs=1e-5)


def test_rerun_with_more_trials_runs_only_the_new_ones(searched, tmp_path, capsys):
    root = tmp_path / "training_data"
    shutil.copytree(searched["root"], root)
    before = {k: trial_text(root, k) for k in ("0", "1")}
    argv = ["tune", searched["script"], "--tuner", "random", "--root", str(root)]
    assert main(argv + ["--max-trials", "3"]) == 0
    out = capsys.readouterr().out
    done = trials(root)
    assert sorted(done) == ["0", "1", "2"] and all(t["status"] == "COMPLETED" for t in done.values())
    assert {k: trial_text(root, k) for k in ("0", "1")} == before  # untouched: not run again
    assert "trial 2 completed" in out and "trial 0 completed" not in out and "trial 1 completed" not in out
    # the same command once more: nothing left to do
    assert main(argv + ["--max-trials", "3"]) == 0
    assert "completed in" not in capsys.readouterr().out
    assert len(trials(root)) == 3


def test_resume_survives_lost_tuner_file_and_unqueued_running_trial(searched, tmp_path, capsys):
    """A kill between keras-tuner's writes: trial_1 says RUNNING, oracle.json never heard of it,
    and this process's tuner file is gone. keras-tuner alone would restart from trial 0."""
    root = tmp_path / "training_data"
    shutil.copytree(searched["root"], root)
    proj = project(root)
    os.remove(os.path.join(proj, "tuner0.json"))
    with open(os.path.join(proj, "trial_1", "trial.json")) as f:
        trial1 = json.load(f)
    hp1 = trial1["hyperparameters"]["values"]
    trial1.update(status="RUNNING", score=None, best_step=0)
    trial1["metrics"]["metrics"] = {}
    with open(os.path.join(proj, "trial_1", "trial.json"), "w") as f:
        json.dump(trial1, f)
    with open(os.path.join(proj, "oracle.json")) as f:
        oracle = json.load(f)
    oracle.update(ongoing_trials={}, start_order=["0"], end_order=["0"])
    oracle["run_times"].pop("1", None)
    with open(os.path.join(proj, "oracle.json"), "w") as f:
        json.dump(oracle, f)
    before = trial_text(root, "0")
    assert main(["tune", searched["script"], "--max-trials", "2", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    done = trials(root)
    assert sorted(done) == ["0", "1"] and all(t["status"] == "COMPLETED" for t in done.values())
    assert trial_text(root, "0") == before
    assert done["1"]["hyperparameters"]["values"] == hp1  # the same trial, run again
    assert "trial 1 completed" in out and "trial 0 completed" not in out


@pytest.mark.slow  # minutes on a 2-core machine: `make test-all`
def test_killed_search_resumes_without_repeating_finished_trials(tmp_path):
    script = write_experiment(tmp_path)
    root = tmp_path / "training_data"
    argv = tune_argv(script, root, "--max-trials", "3")
    slow = env(NDNX_TUNE_TEST_SLEEP="0.6")
    proc = subprocess.Popen(argv, env=slow, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    oracle_file = os.path.join(project(root), "oracle.json")
    deadline = time.time() + 180
    try:
        # wait until the 2nd trial (id "1") is running according to the oracle
        while True:
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "the search never reached its 2nd trial"
            try:
                with open(oracle_file) as f:
                    if "1" in json.load(f)["ongoing_trials"].values():
                        break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        first_out = proc.communicate()[0]
    state = trials(root)
    assert state["0"]["status"] == "COMPLETED" and state["1"]["status"] == "RUNNING", first_out
    hp1 = state["1"]["hyperparameters"]["values"]
    before = trial_text(root, "0")

    # the same command again (no longer slowed down)
    out = subprocess.run(argv, env=env(), capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    done = trials(root)
    assert sorted(done) == ["0", "1", "2"]
    assert all(t["status"] == "COMPLETED" for t in done.values())
    assert trial_text(root, "0") == before
    assert done["1"]["hyperparameters"]["values"] == hp1
    ran = [line.split()[2] for line in out.stdout.splitlines() if line.startswith("[tuner0] trial ")]
    assert ran == ["1", "2"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # minutes on a 2-core machine: `make test-all`
def test_distributed_search_with_a_chief_and_two_workers(tmp_path):
    script = write_experiment(tmp_path)
    root = tmp_path / "training_data"
    address = f"127.0.0.1:{_free_port()}"
    common = tune_argv(script, root, "--max-trials", "4", "--oracle-address", address)
    procs = {"chief": subprocess.Popen(common + ["--role", "chief"], env=env(), text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)}
    # Trials slowed a little, so that neither worker can finish the whole search before the other
    # has connected (a worker that first calls after the chief has left waits for it for an hour).
    for worker in ("w1", "w2"):
        procs[worker] = subprocess.Popen(common + ["--role", "worker", "--worker-id", worker],
                                         env=env(NDNX_TUNE_TEST_SLEEP="0.3"),
                                         text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    outputs = {}
    deadline = time.time() + 240
    try:
        for name, proc in procs.items():
            outputs[name] = proc.communicate(timeout=max(deadline - time.time(), 1))
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for name, proc in procs.items():
        assert proc.returncode == 0, (name, outputs[name][1][-3000:])
    done = trials(root)
    assert sorted(done) == ["0", "1", "2", "3"]
    assert all(t["status"] == "COMPLETED" for t in done.values())
    runners = {}
    for trial_id in done:
        with open(os.path.join(project(root), f"trial_{trial_id}", "ndnx_trial.json")) as f:
            runners[trial_id] = json.load(f)["tuner_id"]
    assert set(runners.values()) == {"w1", "w2"}
    for worker in ("w1", "w2"):
        ran = {tid for tid, who in runners.items() if who == worker}
        assert f"[{worker}] ran {len(ran)} trial(s)" in outputs[worker][0]
    chief_out = outputs["chief"][0]
    assert "4 completed trial(s) of 4" in chief_out and "best: trial" in chief_out


def test_fit_trains_the_epochs_the_tuner_asks_for(tmp_path):
    exp = load_experiment(write_experiment(tmp_path))
    config = {**exp.defaults, "seeds": 2}
    hypermodel = ExperimentHyperModel(exp, config)
    hp = keras_tuner.HyperParameters()
    steps = int(np.ceil(config["samples"] / config["batch_size"]))

    model = hypermodel.build(hp)  # seeds=2: a replicated model
    result = hypermodel.fit(hp, model)
    assert int(model.optimizer.iterations.numpy()) == config["epochs"] * steps
    x, y = exp.load_data(config)["validation"]
    per_seed = supervised_evaluation(model, x, y)
    assert per_seed["correlation"].shape == (2,)
    assert result["val_correlation"] == pytest.approx(per_seed["correlation"].mean(), abs=1e-6)
    assert result["val_loss"] == pytest.approx(per_seed["loss"].mean(), rel=1e-5)
    assert result["epochs"] == config["epochs"] and np.isfinite(result["loss"])

    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, epochs=5, initial_epoch=3)  # Hyperband: epochs 3..5 of a continued trial
    assert int(model.optimizer.iterations.numpy()) == 2 * steps


@pytest.mark.slow  # minutes on a 2-core machine: `make test-all`
def test_hyperband_continues_the_best_trial(tmp_path, capsys):
    script = write_experiment(tmp_path)
    root = tmp_path / "training_data"
    assert main(["tune", script, "--tuner", "hyperband", "--max-trials", "4", "--root", str(root)]) == 0
    done = trials(root, "hyperband")
    assert len(done) == 4 and all(t["status"] == "COMPLETED" for t in done.values())
    # max_epochs = the config's 3 epochs: three 1-epoch trials, then the best one trained to 3
    values = [done[k]["hyperparameters"]["values"] for k in sorted(done)]
    assert [v["tuner/epochs"] for v in values] == [1, 1, 1, 3]
    first_round = {k: done[k]["score"] for k in sorted(done)[:3]}
    assert values[3]["tuner/trial_id"] == max(first_round, key=first_round.get)
    assert values[3]["tuner/initial_epoch"] == 1
    trained = [done[k]["metrics"]["metrics"]["epochs"]["observations"][0]["value"][0] for k in sorted(done)]
    assert trained == [1, 1, 1, 3]
    # the continued trial started from the earlier trial's weights *and* Adam state: its checkpoint
    # holds the optimizer after 1 + 2 epochs of steps
    tuner = load_tuner(load_experiment(script), {}, "hyperband", root=str(root))
    model = tuner.load_model(tuner.oracle.get_trial(sorted(done)[3]))
    assert int(model.optimizer.iterations.numpy()) == 3 * 4  # 64 samples / batch 16 = 4 steps per epoch


@pytest.mark.slow  # minutes on a 2-core machine: `make test-all`
def test_bayesian_search_runs(tmp_path, capsys):
    script = write_experiment(tmp_path)
    root = tmp_path / "training_data"
    assert main(["tune", script, "--tuner", "bayesian", "--max-trials", "2", "--root", str(root)]) == 0
    done = trials(root, "bayesian")
    assert len(done) == 2 and all(t["status"] == "COMPLETED" for t in done.values())


def test_a_diverged_trial_is_recorded_as_failed(tmp_path, capsys):
    exp = load_experiment(write_experiment(tmp_path))
    exp.evaluate = lambda model, x, y: {"loss": np.array([np.nan]), "correlation": np.array([np.nan])}
    assert run_search(exp, {"epochs": 1}, max_trials=1, root=str(tmp_path)) == 1  # nothing completed
    [state] = trials(tmp_path).values()
    assert state["status"] == "FAILED" and "val_correlation is nan" in state["message"]
    assert "no completed trial" in capsys.readouterr().out


def test_experiment_without_hypermodel_is_a_one_line_error(tmp_path, capsys):
    script = write_experiment(tmp_path, hypermodel=False)
    assert main(["tune", script, "--max-trials", "2", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == ("ndnx: error: tests/plain defines no hypermodel or search space; add hypermodel=... or "
                   "search_space=... to its Experiment\n")
    assert not os.path.exists(os.path.join(tmp_path, "tuning"))


@pytest.mark.parametrize("args, message", [
    (["--max-trials", "0"], "--max-trials expects a positive number"),
    (["--role", "worker", "--oracle-address", "localhost"], "--oracle-address expects IP:PORT"),
    (["--role", "worker", "--worker-id", "chief-2"], "--worker-id must not contain 'chief'"),
    (["--set", "epochs=[1, 2]"], "a search runs one configuration"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, args, message):
    script = write_experiment(tmp_path)
    assert main(["tune", script, "--root", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ndnx: error: ") and message in err and err.count("\n") == 1


def test_run_search_validates_before_touching_the_environment(tmp_path, monkeypatch):
    exp = load_experiment(write_experiment(tmp_path, hypermodel=False))
    with pytest.raises(ValueError, match="defines no hypermodel"):
        run_search(exp, {}, max_trials=1, root=str(tmp_path))
    exp = load_experiment(write_experiment(tmp_path))
    with pytest.raises(ValueError, match="max-trials"):
        run_search(exp, {}, max_trials=0, root=str(tmp_path))
    with pytest.raises(ValueError, match="unknown tuner"):
        run_search(exp, {}, tuner="grid", root=str(tmp_path))


def test_a_single_search_ignores_stray_distributed_settings(tmp_path, monkeypatch, capsys):
    """Role "single" clears KERASTUNER_* for the search and restores them afterwards."""
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner-x")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(_free_port()))
    exp = load_experiment(write_experiment(tmp_path))
    assert run_search(exp, {"epochs": 1}, max_trials=1, root=str(tmp_path)) == 0
    assert len(trials(tmp_path)) == 1
    assert os.environ["KERASTUNER_TUNER_ID"] == "tuner-x"


# -- experiments/v1/hsm_search.py, with stand-ins for the V1 data modules ----------------------

class _Region:
    def __init__(self, seed=3, neurons=10, train=60, val=20):
        from ndnx.models.v1 import hsm

        rng = np.random.default_rng(seed)
        x = rng.normal(size=(train + val, 31, 31, 1)).astype("float32")
        rates = np.asarray(hsm(neurons, seed=11)(x))
        self.x_train, self.y_train = x[:train], rng.poisson(rates[:train]).astype("float32")
        self.x_val, self.y_val = x[train:], rates[train:]


@pytest.fixture
def fake_v1_data(monkeypatch):
    import ndnx.data.v1_splits

    region = _Region()
    splits = {"train": (region.x_train, region.y_train), "validation": (region.x_val, region.y_val)}
    monkeypatch.setattr(ndnx.data.v1_splits, "experiment_splits", lambda *args, **kwargs: splits)


def test_hsm_search_experiment(tmp_path, fake_v1_data, capsys):
    exp = load_experiment(os.path.join(ROOT, "experiments", "v1", "hsm_search.py"))
    assert exp.name == "v1/hsm_search" and exp.defaults["epochs"] == 200
    config = {**exp.defaults, "data_dir": "unused", "seeds": 2}

    hypermodel = ExperimentHyperModel(exp, config)
    hp = keras_tuner.HyperParameters()
    hp.values.update({"lr": 3e-3, "hidden_fraction": 0.5, "l2_output_on": True, "l2_output": 0.25})
    model = hypermodel.build(hp)
    assert model.output_shape == (None, 2, 10)  # two seeds, ten neurons
    assert model.get_layer("hidden").units == 5
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(3e-3)
    # The sampled l2_output = 0.25 in NDN3's convention (spec §5.1: λ·½Σw², tf.nn.l2_loss) on the output
    # weights of both seeds, and no other penalty; with l2_output_on = False there is none at all.
    model(np.zeros((1, 31, 31, 1), "float32"))
    kernel = model.get_layer("output").kernel.numpy().astype("float64")
    assert kernel.shape == (2, 5, 10)
    penalty = float(sum(np.asarray(t) for t in model.get_layer("output").losses))
    assert penalty == pytest.approx(0.5 * 0.25 * np.sum(kernel ** 2), rel=1e-5)
    assert float(sum(np.asarray(t) for t in model.losses)) == pytest.approx(penalty, rel=1e-6)
    hp.values.update({"l2_output_on": False})
    unpenalised = ExperimentHyperModel(exp, config).build(hp)
    unpenalised(np.zeros((1, 31, 31, 1), "float32"))
    assert unpenalised.losses == []

    assert run_search(exp, {"data_dir": "unused", "epochs": 2, "seeds": 2}, max_trials=1,
                      root=str(tmp_path)) == 0
    [state] = [json.load(open(p)) for p in glob.glob(str(tmp_path / "tuning/v1/hsm_search/random/trial_*/trial.json"))]
    assert state["status"] == "COMPLETED"
    values = state["hyperparameters"]["values"]
    assert 1e-4 <= values["lr"] <= 1e-2 and 0.1 <= values["hidden_fraction"] <= 0.5
    assert set(values) <= {"lr", "hidden_fraction", "l2_output_on", "l2_output"}
    assert ("l2_output" in values) == values["l2_output_on"]
