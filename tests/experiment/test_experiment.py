"""Experiment / run / repetition: overrides, grids, layout, run records and experiments.txt."""

import os
import subprocess
import sys
import threading

import pytest
import yaml

from ndnx.experiment import Epochs, Experiment, Layout, load_experiment, parse_overrides, seed_label

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny_experiment.py")
DEFAULTS = {"lr": 1e-3, "region": 1, "name": "a", "flag": True, "sizes": [1, 2], "epochs": 3, "batch_size": 4}


def make(grid=None):
    return Experiment("g/e", dict(DEFAULTS), data=lambda c: None, build=lambda c, s, r: None, fit=Epochs(),
                      grid=grid, seeds=3)


def test_parse_overrides_types_and_errors():
    got = parse_overrides("g/e", ["lr=5e-4", "region=2", "name=b", "flag=false", "sizes=[3]"], DEFAULTS)
    assert got == {"lr": 5e-4, "region": 2, "name": "b", "flag": False, "sizes": [3]}
    assert parse_overrides("g/e", ["lr=1"], DEFAULTS) == {"lr": 1.0}
    with pytest.raises(ValueError, match=r"unknown --set key 'lrate'; known keys: batch_size, epochs"):
        parse_overrides("g/e", ["lrate=1"], DEFAULTS)
    with pytest.raises(ValueError, match=r"--set region expects a int \(default 1\), got 'two'"):
        parse_overrides("g/e", ["region=two"], DEFAULTS)
    with pytest.raises(ValueError, match="expects key=value"):
        parse_overrides("g/e", ["region"], DEFAULTS)


def test_grid_and_list_overrides_make_runs():
    exp = make(grid={"lr": [1e-3, 1e-4]})
    runs = exp.runs()
    assert [r.name.rsplit("-", 1)[0] for r in runs] == ["lr=0.001", "lr=0.0001"] and runs[1].config["lr"] == 1e-4
    runs = exp.runs(parse_overrides("g/e", ["region=[1, 2, 3]"], exp.defaults))
    assert len(runs) == 6 and {r.varied["region"] for r in runs} == {1, 2, 3}
    runs = exp.runs({"lr": 0.5})  # a fixed value replaces the axis
    assert len(runs) == 1 and runs[0].config["lr"] == 0.5
    assert runs[0].config["seeds"] == 3 and runs[0].config["ensemble"] is True


def test_joint_grid_axis():
    exp = make(grid={("lr", "epochs"): [(1e-3, 10), (1e-4, 40)], "region": [1, 2]})
    runs = exp.runs()
    assert [(r.config["lr"], r.config["epochs"], r.config["region"]) for r in runs] == [
        (1e-3, 10, 1), (1e-3, 10, 2), (1e-4, 40, 1), (1e-4, 40, 2)]
    assert runs[3].varied == {"lr": 1e-4, "epochs": 40, "region": 2}
    # fixing one key of a joint axis keeps the axis over the other key
    runs = exp.runs({"epochs": 5, "region": 1})
    assert [(r.config["lr"], r.config["epochs"]) for r in runs] == [(1e-3, 5), (1e-4, 5)]
    with pytest.raises(ValueError, match=r"joint grid axis \('lr', 'epochs'\) expects values that are tuples of 2"):
        make(grid={("lr", "epochs"): [1e-3]})
    with pytest.raises(ValueError, match=r"grid keys \['momentum'\] have no default"):
        make(grid={("lr", "momentum"): [(1, 2)]})


def test_seed_groups_and_labels():
    exp = make()
    assert exp.seed_groups(4) == [[0, 1, 2, 3]]
    assert exp.seed_groups(4, seeds_per_job=3) == [[0, 1, 2], [3]]
    assert exp.seed_groups(3, config={"ensemble": False}) == [[0], [1], [2]]
    assert [seed_label(g) for g in ([3], [0, 1, 2], [0, 2])] == ["seed3", "seed0-2", "seed0+2"]


def test_layout_paths(tmp_path):
    layout = Layout(str(tmp_path), "v1/baseline4")
    assert layout.logs("run0") == os.path.join(str(tmp_path), "logs", "v1", "baseline4", "run0")
    assert layout.model("run0", 3).endswith(os.path.join("models", "v1", "baseline4", "run0", "seed3.keras"))
    assert layout.job_log("run1", [0, 1], "err").endswith(os.path.join("job_logs", "v1", "baseline4", "run1", "seed0-1.err"))
    assert layout.tuning() == os.path.join(str(tmp_path), "tuning", "v1", "baseline4")


def test_experiments_txt_gets_one_line_per_finished_run_even_under_races(tmp_path):
    exp = make(grid={"lr": [1e-3, 1e-4]})
    layout = Layout(str(tmp_path), exp.name)
    run = exp.runs()[1]
    assert exp.mark_finished(layout, run) is False  # no models yet
    os.makedirs(layout.models(run.name))
    for s in range(3):
        open(layout.model(run.name, s), "w").close()
    threads = [threading.Thread(target=exp.mark_finished, args=(layout, run)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert open(layout.experiments_txt).read() == f"g/e/{run.name}  # lr=0.0001\n"


def test_run_records_config_versions_and_commit(tmp_path):
    exp = load_experiment(TINY)
    layout = Layout(str(tmp_path), exp.name)
    run = exp.runs({"lr": 0.02})[0]
    exp.write_run_info(layout, run)
    config = yaml.safe_load(open(os.path.join(layout.logs(run.name), "config.yaml")))
    assert config["lr"] == 0.02 and config["epochs"] == 4
    info = yaml.safe_load(open(os.path.join(layout.logs(run.name), "run_info.json")))
    assert info["experiment"] == "tests/tiny" and info["versions"]["tensorflow"].startswith("2.21")
    assert info["git_commit"] is None or len(info["git_commit"]) >= 40
    assert info["run"] == run.name and info["config_hash"] == run.hash and run.name.endswith("-" + run.hash)
    assert sorted(os.listdir(layout.logs(run.name))) == ["config.yaml", "run_info.json"]  # no temporary, no lock


def test_load_experiment_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="experiment script not found"):
        load_experiment(str(tmp_path / "nope.py"))
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    with pytest.raises(ValueError, match="expected a module-level `experiment"):
        load_experiment(str(bad))
    with pytest.raises(ValueError, match="name must be 'group/experiment'"):
        Experiment("nogroup", dict(DEFAULTS), data=None, build=None, fit=Epochs())
    with pytest.raises(ValueError, match=r"grid keys \['zz'\] have no default"):
        make(grid={"zz": [1]})


def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "ndnx.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def test_cli_bad_input_gives_one_line(tmp_path, capsys, monkeypatch):
    from ndnx.cli import main

    monkeypatch.delenv("NDNX_TRAINING_DATA", raising=False)  # --root exports it
    assert main(["run", TINY, "--set", "nonsense=1", "--root", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "ndnx: error: tests/tiny: unknown --set key 'nonsense'; known keys: batch_size, drop_last_batch, early_stop, early_stop_on, ensemble, epochs, "
        "l2_output, lbfgs_maxiter, lbfgs_rounds, log_every, lr, samples, seeds, shuffle_seed"]
    assert main(["run", str(tmp_path / "missing.py")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"ndnx: error: experiment script not found: {tmp_path / 'missing.py'}"]
    assert not os.path.exists(tmp_path / "logs")


def test_early_stop_and_lbfgs_keys_reach_training(tmp_path):
    import keras
    import numpy as np

    from ndnx.experiment.fits.v1 import supervised_evaluation

    exp = load_experiment(TINY)
    # NDN3 learning_alg='lbfgs': no epochs, a full-batch fit of 30 iterations
    run = exp.runs({"epochs": 0, "lbfgs_maxiter": 30})[0]
    outcome = exp.run_job(run, [0, 1], root=str(tmp_path / "lbfgs"), progress=False)["seed0-1"]
    assert outcome["epochs_done"] == 0 and 1 < outcome["lbfgs"]["iterations"] <= 30
    assert outcome["lbfgs"]["loss"] < outcome["lbfgs"]["initial_loss"]
    # early stopping on the validation split with a patience of 4 epochs, logged every 2
    run = exp.runs({"epochs": 400, "lr": 0.05, "early_stop": 4})[0]
    outcome = exp.run_job(run, [0, 1], root=str(tmp_path / "stop"), progress=False)["seed0-1"]
    assert outcome["epochs_done"] < 400
    assert max(outcome["best_epoch"]) + 4 <= outcome["epochs_done"] <= max(outcome["best_epoch"]) + 7
    layout = Layout(str(tmp_path / "stop"), exp.name)
    x, y = exp.load_data(run.config)["validation"]
    for seed in (0, 1):
        saved = keras.saving.load_model(layout.model(run.name, seed))
        loss = supervised_evaluation(saved, x, y)["loss"][0]
        assert loss == pytest.approx(outcome["final"][("validation", "loss")][seed], rel=1e-5)
