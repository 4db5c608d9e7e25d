"""Every kind of fit through the same pipeline: run, resume, summarize, tune (DESIGN.md, the fit table).

Each example experiment (tests/fixtures/*_experiment.py) computes in NumPy what its training
must give; the tests hold ndnx's runs to that to 1e-5, also across an interruption.
"""

import json
import os

import numpy as np
import pytest

from ndnx.analysis.summary import summarize
from ndnx.experiment import load_experiment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def fixture(name):
    return os.path.join(FIXTURES, f"{name}_experiment.py")


def module_of(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"fixture_{name}", fixture(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def interrupted_then_resumed(exp, run, root, monkeypatch, at):
    """Fit `run`, interrupted after epoch `at` (after a checkpoint or not), then again to the end."""
    monkeypatch.setenv("NDNX_TEST_INTERRUPT_AT", str(at))
    with pytest.raises(KeyboardInterrupt):
        exp.run_job(run, [0], root=str(root), progress=False)
    monkeypatch.delenv("NDNX_TEST_INTERRUPT_AT")
    return exp.run_job(run, [0], root=str(root), progress=False)["seed0"]


@pytest.mark.parametrize("source", ["dataset", "array"])
def test_own_train_step_on_x_only_data_equals_numpy_across_an_interruption(source, tmp_path, monkeypatch):
    # Contrastive divergence with persistent chains: a pipeline function of the epoch, or an x-only array.
    exp = load_experiment(fixture("energy"))
    [run] = exp.runs({"source": source})
    expected = module_of("energy").reference(run.config)
    # log_every=2: checkpoints after epochs 2 and 4; interrupted after 3, the run resumes from 2.
    outcome = interrupted_then_resumed(exp, run, tmp_path, monkeypatch, at=3)
    assert outcome["initial_epoch"] == 2 and outcome["epochs_done"] == 6
    np.testing.assert_allclose(outcome["model"].mu.numpy(), expected, atol=1e-5)
    # The experiment's evaluation (not a loss) is what it logged and what a tuner would see.
    x_val = exp.load_data(run.config)["validation"]
    error = np.linalg.norm(expected - x_val.mean(axis=0))
    np.testing.assert_allclose(outcome["final"][("validation", "mu_error")], [error], atol=1e-5)
    [row] = [r for r in summarize(str(tmp_path), "tests/energy") if r["tag"] == "mu_error"]
    assert row["step"] == 5 and row["p50"] == pytest.approx(error, abs=1e-5)


def test_truncated_bptt_carries_the_state_across_batches_epochs_and_a_restart(tmp_path, monkeypatch):
    exp = load_experiment(fixture("tbptt"))
    [run] = exp.runs()
    w, u = module_of("tbptt").reference(run.config)
    # Interrupted after epoch 2 of 3 (checkpoint every epoch): the state carried out of epoch 2
    # must come back with the weights, and the validation evaluations in between must not touch it.
    outcome = interrupted_then_resumed(exp, run, tmp_path, monkeypatch, at=2)
    assert outcome["initial_epoch"] == 2
    rnn = outcome["model"].get_layer("rnn")
    np.testing.assert_allclose([float(rnn.cell.kernel.numpy().ravel()[0]), float(rnn.cell.recurrent_kernel.numpy().ravel()[0])],
                               [w, u], atol=1e-5)
    # What was logged last: the validation run from the initial state, as the NumPy evaluation.
    [row] = [r for r in summarize(str(tmp_path), "tests/tbptt") if r["tag"] == "loss"]
    assert row["step"] == 2 and row["p50"] == pytest.approx(module_of("tbptt").validation_loss(w, u), abs=1e-5)


def test_chain_resumes_in_its_second_step_and_reads_the_first_by_path(tmp_path, monkeypatch, capsys):
    from ndnx.cli import main

    monkeypatch.delenv("NDNX_TRAINING_DATA", raising=False)  # --root exports it
    root = tmp_path / "td"
    script = fixture("chain")
    monkeypatch.setenv("NDNX_TEST_INTERRUPT_AT", "7")
    assert main(["run", script, "--root", str(root)]) == 130
    assert "interrupted" in capsys.readouterr().err
    monkeypatch.delenv("NDNX_TEST_INTERRUPT_AT")
    run = load_experiment(script).runs()[0]
    models = root / "models" / "tests" / "chain" / run.name
    first = models / "steps" / "slope" / "seed0.keras"
    assert first.exists() and not (models / "steps" / "offset" / "seed0.keras").exists()
    stamp = first.stat().st_mtime_ns
    assert main(["run", script, "--root", str(root)]) == 0
    assert first.stat().st_mtime_ns == stamp  # the finished step was not run again
    import keras

    config = load_experiment(script).runs()[0].config
    w, b, val_loss = module_of("chain").reference(config)
    final = keras.saving.load_model(str(models / "seed0.keras"))
    np.testing.assert_allclose([float(v.ravel()[0]) for v in final.get_layer("dense").get_weights()], [w, b],
                               atol=1e-5)
    rows = {r["tag"]: r for r in summarize(str(root), "tests/chain")}
    assert rows["offset/loss"]["step"] == 11 and rows["offset/loss"]["p50"] == pytest.approx(val_loss, abs=1e-5)
    assert {"slope/loss", "offset/loss"} <= set(rows)
    assert (root / "experiments.txt").read_text() == f"tests/chain/{run.name}\n"


def test_chain_search_space_tuning_scores_each_trial_as_a_whole_run(tmp_path, capsys):
    from ndnx.training.tuning import run_search

    root = tmp_path / "td"
    script = fixture("chain")
    assert run_search(load_experiment(script), {}, tuner="random", max_trials=2, root=str(root)) == 0
    out = capsys.readouterr()
    base = load_experiment(script).runs()[0].config
    module = module_of("chain")
    trials = []
    for path in (root / "tuning" / "tests" / "chain" / "random").glob("trial_*/trial.json"):
        state = json.loads(path.read_text())
        lr = state["hyperparameters"]["values"]["offset_lr"]
        expected = module.reference({**base, "offset.lr": lr})[2]
        assert state["status"] == "COMPLETED"
        assert state["score"] == pytest.approx(expected, abs=1e-5)
        trials.append(lr)
        assert (path.parent / "model.keras").exists()
    assert sorted(trials) == [0.05, 0.2]
    assert "best trials by val_offset/loss (min)" in out.out


def test_tuning_scores_trials_by_each_kinds_own_objective(tmp_path):
    from ndnx.training.tuning import run_search

    # Own train_step (energy, objective: validation mu_error), truncated BPTT (validation loss) and a
    # simulation (its logged rate_error: the distance of the mean rate to the target, here 0).
    def simulated_rate_error(config):
        exp = load_experiment(fixture("simulation"))
        drive = exp.load_data({})["drive"].astype("float64")
        means = [euler_rates(exp.build(config, seed, None).get_layer("rnn").cell.get_weights(), drive,
                             config["dt"] / config["tau"])[:, -1].mean() for seed in range(config["seeds"])]
        return float(np.mean(np.abs(means)))  # the objective: the mean over the seeds of each one's error

    for name, lr_of, expected in [
        ("simulation", lambda values: values["coupling"], lambda config: simulated_rate_error(config)),
        ("energy", lambda values: values["lr"],
         lambda config: np.linalg.norm(module_of("energy").reference(config) - module_of("energy").load(config)[
             "validation"].mean(axis=0))),
        ("tbptt", lambda values: values["lr"],
         lambda config: module_of("tbptt").validation_loss(*module_of("tbptt").reference(config))),
    ]:
        exp = load_experiment(fixture(name))
        assert run_search(exp, {}, max_trials=2, root=str(tmp_path)) == 0
        base = exp.runs()[0].config
        states = [json.loads(p.read_text())
                  for p in (tmp_path / "tuning" / "tests" / name / "random").glob("trial_*/trial.json")]
        assert len(states) == 2 and all(s["status"] == "COMPLETED" for s in states)
        for state in states:
            key = "coupling" if name == "simulation" else "lr"
            config = {**base, key: lr_of(state["hyperparameters"]["values"])}
            assert state["score"] == pytest.approx(expected(config), abs=1e-5), name


def euler_rates(cell_weights, drive, alpha):
    """A linear leaky rate network integrated in NumPy (float64) from h = 0: (batch, time, units)."""
    w_in, w_rec = (np.asarray(w, "float64") for w in cell_weights)
    h = np.zeros((drive.shape[0], w_rec.shape[0]))
    out = []
    for t in range(drive.shape[1]):
        h = (1 - alpha) * h + alpha * (drive[:, t] @ w_in + h @ w_rec)
        out.append(h)
    return np.stack(out, axis=1)


def test_simulation_sweep_records_each_seed_and_is_not_run_twice(tmp_path, monkeypatch):
    import h5py
    import keras

    root = tmp_path / "td"
    script = fixture("simulation")
    exp = load_experiment(script)
    for run in exp.runs():  # two runs (couplings), two seeds each: what each job of `ndnx run` does
        exp.run_job(run, [0, 1], root=str(root), progress=False)
    drive = exp.load_data({})["drive"].astype("float64")
    records = root / "records" / "tests" / "simulation"
    finals = {}
    for run in exp.runs():
        alpha = run.config["dt"] / run.config["tau"]
        for seed in (0, 1):
            model = keras.saving.load_model(str(root / "models" / "tests" / "simulation" / run.name / f"seed{seed}.keras"))
            weights = model.get_layer("rnn").cell.get_weights()
            with h5py.File(records / run.name / f"seed{seed}.h5") as f:
                rates = f["rates"][()]
                assert f.attrs["seed"] == seed and f"coupling: {run.config['coupling']}" in f.attrs["config"]
            np.testing.assert_allclose(rates, euler_rates(weights, drive, alpha), atol=1e-5)
            # The end is the fixed point h* = x W_in (I − W_rec)⁻¹ of the continuous-time network.
            w_in, w_rec = (np.asarray(w, "float64") for w in weights)
            fixed = drive[:, -1] @ w_in @ np.linalg.inv(np.eye(len(w_rec)) - w_rec)
            np.testing.assert_allclose(rates[:, -1], fixed, atol=1e-4)
            finals.setdefault(run.name, []).append(rates[:, -1].mean())
    rows = {(r["folder"], r["tag"]): r for r in summarize(str(root), "tests/simulation", split="simulation")}
    for name, values in finals.items():
        assert rows[(name, "mean_rate")]["p50"] == pytest.approx(np.percentile(values, 50), abs=1e-5)
        assert rows[(name, "mean_rate")]["p90"] == pytest.approx(np.percentile(values, 90), abs=1e-5)
    names = [r.name for r in exp.runs()]
    assert sorted((root / "experiments.txt").read_text().split("\n")[:-1]) == sorted([
        f"tests/simulation/{names[0]}  # coupling=0.3", f"tests/simulation/{names[1]}  # coupling=0.6"])

    # Seed 1 simulated alone is replica 1 of the ensemble.
    run = exp.runs()[1]
    exp.run_job(run, [1], root=str(tmp_path / "alone"), progress=False)
    with h5py.File(tmp_path / "alone" / "records" / "tests" / "simulation" / run.name / "seed1.h5") as f, \
            h5py.File(records / run.name / "seed1.h5") as g:
        np.testing.assert_allclose(f["rates"][()], g["rates"][()], atol=1e-6)

    # Finished repetitions are not simulated again; an interrupted one leaves no file behind.
    stamp = (records / names[0] / "seed0.h5").stat().st_mtime_ns
    assert exp.run_job(exp.runs()[0], [0, 1], root=str(root), progress=False)["seed0-1"]["skipped"]
    assert (records / names[0] / "seed0.h5").stat().st_mtime_ns == stamp
    monkeypatch.setenv("NDNX_TEST_INTERRUPT_SIMULATION", "1")
    with pytest.raises(KeyboardInterrupt):
        exp.run_job(exp.runs()[0], [0, 1], root=str(tmp_path / "killed"), progress=False)
    killed = tmp_path / "killed" / "records" / "tests" / "simulation" / names[0]
    assert sorted(os.listdir(killed)) == []
