"""A run is its configuration; one process per repetition; nothing half-written stays behind.

Issue 14 items 1, 2 and 4: runs are named by their resolved configuration (never reused or
overwritten for another one), a repetition is fitted by one process at a time (fcntl locks), and
leftovers of killed writers are removed when the next job of theirs starts.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import yaml

from ndnx.experiment import Experiment, Epochs, Layout, load_experiment
from ndnx.experiment.config import config_hash, expand_grid, run_name

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINEAR = os.path.join(ROOT, "tests", "fixtures", "linear_experiment.py")


@pytest.fixture
def ndnx_main(monkeypatch):
    """`ndnx ...` in this process (the CLI exports --root as NDNX_TRAINING_DATA: undone afterwards)."""
    from ndnx.cli import main

    monkeypatch.delenv("NDNX_TRAINING_DATA", raising=False)
    return main


def run_dirs(root, experiment="tests/linear"):
    base = os.path.join(str(root), "logs", experiment)
    return sorted(os.listdir(base)) if os.path.isdir(base) else []


def error_lines(capsys):
    return capsys.readouterr().err.strip().splitlines()


# --- 1. a run is its configuration ------------------------------------------------------------------

def test_names_come_from_the_configuration():
    defaults = {"lr": 1e-3, "region": 1, "epochs": 3, "penalty": "", "regions": [], "seeds": 2, "data": ""}
    [run] = expand_grid(defaults, {}, {})
    assert run.name == f"defaults-{config_hash(defaults)}" and len(run.hash) == 8
    runs = expand_grid(defaults, {"lr": [1e-3, 1e-2]}, {"epochs": 20})
    # the experiment's own axis is always shown, other keys when they differ from the defaults
    assert [r.name.rsplit("-", 1)[0] for r in runs] == ["lr=0.001,epochs=20", "lr=0.01,epochs=20"]
    # the same configuration has the same name however it is asked for ...
    assert expand_grid(defaults, {"lr": [1e-3, 1e-2]}, {"epochs": 20, "lr": 0.01})[0].name == runs[1].name
    assert expand_grid(defaults, {}, {"lr": [0.01], "epochs": 20})[0].hash == runs[1].hash
    assert expand_grid(defaults, {}, {"epochs": 20.0})[0].name == expand_grid(defaults, {}, {"epochs": 20})[0].name
    # ... a grid listing one configuration twice runs it once
    assert len(expand_grid(defaults, {}, {"lr": [0.1, 0.1, 0.2]})) == 2
    # every key enters the hash, seeds included (a folder holds that many repetitions)
    assert len({config_hash({**defaults, k: v}) for k, v in
                [("seeds", 3), ("epochs", 4), ("penalty", "l1"), ("regions", [1, 2]), ("lr", 1e-3)]}) == 5
    # filesystem- and shell-safe; long names are cut, the hash keeps them apart
    name = run_name({**defaults, "penalty": "l1 x*y#", "regions": [1, 2], "data": "/data/v1/Data/"}, defaults)
    assert name.startswith("data=Data,penalty=l1_x_y_,regions=1+2-") and "/" not in name
    wide = {f"key{i}": 0 for i in range(30)}
    long_a = run_name({**wide, **{f"key{i}": 1 for i in range(30)}}, wide)
    long_b = run_name({**wide, **{f"key{i}": 1 for i in range(29)}}, wide)
    assert len(long_a) <= 110 and ",etc-" in long_a and long_a != long_b


def test_another_configuration_never_reuses_a_run_folder(tmp_path, ndnx_main, capsys):
    # The issue's case: `--set epochs=...` then the same with `--set lr=...` — before, the second
    # trained nothing, reported the first's numbers and rewrote run0/config.yaml.
    root = str(tmp_path)
    assert ndnx_main(["run", LINEAR, "--set", "epochs=3", "--root", root, "--no-summary"]) == 0
    [first] = run_dirs(root)
    config_text = (tmp_path / "logs" / "tests" / "linear" / first / "config.yaml").read_text()
    assert ndnx_main(["run", LINEAR, "--set", "epochs=3", "--set", "lr=0.1", "--root", root, "--no-summary"]) == 0
    second = [d for d in run_dirs(root) if d != first]
    assert first.startswith("epochs=3-") and [d.rsplit("-", 1)[0] for d in second] == ["epochs=3,lr=0.1"]
    assert (tmp_path / "logs" / "tests" / "linear" / first / "config.yaml").read_text() == config_text
    assert yaml.safe_load((tmp_path / "logs" / "tests" / "linear" / second[0] / "config.yaml").read_text())["lr"] == 0.1
    assert (tmp_path / "experiments.txt").read_text().splitlines() == [f"tests/linear/{first}",
                                                                     f"tests/linear/{second[0]}"]
    for run in (first, second[0]):
        assert (tmp_path / "models" / "tests" / "linear" / run / "seed0.keras").is_file()
    capsys.readouterr()

    # A folder that holds another configuration (edited by hand, say) is refused in one line.
    path = tmp_path / "logs" / "tests" / "linear" / first / "config.yaml"
    path.write_text(config_text.replace("lr: 0.05", "lr: 0.07"))
    stamp = (tmp_path / "models" / "tests" / "linear" / first / "seed0.keras").stat().st_mtime_ns
    assert ndnx_main(["run", LINEAR, "--set", "epochs=3", "--root", root]) == 2
    [line] = error_lines(capsys)
    assert line.startswith(f"ndnx: error: tests/linear: the run folder {tmp_path}/logs/tests/linear/{first} holds "
                           "another configuration (lr: 0.07 there, 0.05 asked)")
    assert path.read_text() != config_text  # untouched
    assert (tmp_path / "models" / "tests" / "linear" / first / "seed0.keras").stat().st_mtime_ns == stamp


def test_a_job_names_its_run_by_name_or_hash(tmp_path, ndnx_main, capsys):
    exp = load_experiment(LINEAR)
    run = exp.runs({"lr": 0.1})[0]
    args = ["job", LINEAR, "--set", "lr=0.1", "--only-seeds", "0", "--root", str(tmp_path), "--no-progress"]
    assert ndnx_main([*args, "--run", run.hash]) == 0
    assert run_dirs(tmp_path) == [run.name]
    assert ndnx_main([*args, "--run", "run0"]) == 2
    assert error_lines(capsys) == [f"ndnx: error: tests/linear: no run named 'run0'; runs are {run.name}"]


# --- 2. one process per repetition ----------------------------------------------------------------------

HOLD = textwrap.dedent("""
    import fcntl, os, socket, sys, time
    os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()} {socket.gethostname()}\\n".encode())
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
""")


def hold_lock(path, seconds=60):
    """A process (not this one) holding the lock file `path`, as a job fitting that seed does."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_is_refused_or_waits(tmp_path, ndnx_main, capsys):
    exp = load_experiment(LINEAR)
    run = exp.runs()[0]
    layout = Layout(str(tmp_path), exp.name)
    holder = hold_lock(layout.seed_lock(run.name, 0))
    try:
        assert ndnx_main(["run", LINEAR, "--root", str(tmp_path)]) == 2
        assert error_lines(capsys) == [
            f"ndnx: error: tests/linear/{run.name} seed0 is being fitted by pid {holder.pid} on "
            f"{os.uname().nodename} (lock {layout.seed_lock(run.name, 0)}); run the command again when it has "
            "finished, or add --wait to wait for it"]
        assert sorted(os.listdir(layout.logs(run.name))) == [".seed0.lock"]  # nothing else was written
        # `ndnx job` (what runners start) takes the lock itself
        assert ndnx_main(["job", LINEAR, "--run", run.name, "--only-seeds", "0", "--root", str(tmp_path)]) == 2
        assert "is being fitted by pid" in error_lines(capsys)[0]
        # --wait: goes on once the holder is gone
        threading.Timer(1.0, holder.kill).start()
        started = time.monotonic()
        assert ndnx_main(["run", LINEAR, "--root", str(tmp_path), "--wait", "--no-summary"]) == 0
        assert time.monotonic() - started >= 0.9
        assert "waiting for pid" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert (tmp_path / "models" / "tests" / "linear" / run.name / "seed0.keras").is_file()
    # the lock goes with the process that held it: nothing stays behind
    assert sorted(os.listdir(layout.logs(run.name))) == ["config.yaml", "run_info.json", "seed0"]


def test_the_lock_of_a_killed_holder_is_free(tmp_path, ndnx_main):
    exp = load_experiment(LINEAR)
    run = exp.runs()[0]
    layout = Layout(str(tmp_path), exp.name)
    holder = hold_lock(layout.seed_lock(run.name, 0))
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert os.path.exists(layout.seed_lock(run.name, 0))  # left by the SIGKILL, but not held
    assert ndnx_main(["run", LINEAR, "--root", str(tmp_path), "--no-summary"]) == 0
    assert not os.path.exists(layout.seed_lock(run.name, 0))


@pytest.mark.slow  # two ndnx processes: `make test-all`
def test_two_identical_commands_train_the_run_once(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    tiny = os.path.join(ROOT, "tests", "fixtures", "tiny_experiment.py")
    command = [sys.executable, "-m", "ndnx.cli", "run", tiny, "--set", "epochs=8", "--root", str(tmp_path),
               "--no-summary"]
    first = subprocess.Popen(command, env={**env, "NDNX_TEST_SLEEP": "0.5"}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    lock = next(iter(tmp_path.glob("logs/tests/tiny/*/.seed0.lock")), None)
    deadline = time.monotonic() + 120
    while lock is None and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
        lock = next(iter(tmp_path.glob("logs/tests/tiny/*/.seed0.lock")), None)
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    assert second.returncode == 2
    [line] = second.stderr.strip().splitlines()
    assert f"is being fitted by pid {first.pid} " in line and str(lock) in line
    assert len((tmp_path / "experiments.txt").read_text().splitlines()) == 1


# --- 4. nothing half-written --------------------------------------------------------------------------

def test_leftovers_of_killed_writers_are_removed_when_the_next_job_starts(tmp_path, ndnx_main):
    exp = load_experiment(LINEAR)
    run = exp.runs({"seeds": 2, "epochs": 3})[0]
    root = tmp_path
    models = root / "models" / "tests" / "linear" / run.name
    logs = root / "logs" / "tests" / "linear" / run.name
    checkpoints = models / "checkpoints" / "seed0"
    # What SIGKILLs mid-write leave: a model save, a checkpoint save, the run's records.
    leftovers = [models / ".tmp-seed0.keras.0123456789ab.partial" / "seed0.partial.keras",
                 checkpoints / "ckpt-3_temp" / "part-00000-of-00001.index",
                 checkpoints / "checkpoint.tmp8f2d", checkpoints / "ckpt-9.index",
                 logs / ".tmp-config.yaml.0123456789ab.partial"]
    others = [models / ".tmp-seed5.keras.0123456789ab.partial" / "seed5.partial.keras",  # another job's
              models / "notes.txt"]
    for path in leftovers + others:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert ndnx_main(["run", LINEAR, "--set", "seeds=2", "--set", "epochs=3", "--seeds-per-job", "2",
                      "--root", str(root), "--no-summary"]) == 0
    assert not [p for p in leftovers if p.exists()] and all(p.exists() for p in others)
    assert not [p for p in (checkpoints.parent.parent.parent).rglob(".tmp-*") if "seed5" not in str(p)]
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint", "ckpt-3.data-00000-of-00001",
                                                           "ckpt-3.index"]


def test_a_kill_during_the_final_save_leaves_no_file_that_looks_finished(tmp_path, ndnx_main):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               NDNX_TEST_HANG_SAVE=str(tmp_path / "saving"))
    proc = subprocess.Popen([sys.executable, "-m", "ndnx.cli", "run", LINEAR, "--root", str(tmp_path / "td"),
                             "--no-summary"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "saving").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (tmp_path / "saving").exists(), proc.stderr.read()[-3000:] if proc.poll() is not None else "timeout"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run = load_experiment(LINEAR).runs()[0]
    models = tmp_path / "td" / "models" / "tests" / "linear" / run.name
    visible = [p.name for p in models.iterdir() if not p.name.startswith(".")]
    assert visible == ["checkpoints"]  # the half-written model is inside a hidden .tmp-*.partial
    [tmp] = [p for p in models.iterdir() if p.name.startswith(".tmp-")]
    assert tmp.name.startswith(".tmp-seed0.keras.") and tmp.name.endswith(".partial")
    assert not (tmp_path / "td" / "experiments.txt").exists()
    # The next run of the experiment removes it, resumes, and finishes.
    assert ndnx_main(["run", LINEAR, "--root", str(tmp_path / "td"), "--no-summary"]) == 0
    assert sorted(p.name for p in models.iterdir()) == ["checkpoints", "seed0.keras"]


def test_a_damaged_checkpoint_is_named_and_restart_starts_over(tmp_path, ndnx_main, capsys):
    root = str(tmp_path)
    assert ndnx_main(["run", LINEAR, "--root", root, "--no-summary"]) == 0
    run = load_experiment(LINEAR).runs()[0]
    checkpoints = tmp_path / "models" / "tests" / "linear" / run.name / "checkpoints" / "seed0"
    [data] = checkpoints.glob("ckpt-2.data-*")
    data.write_bytes(data.read_bytes()[:20])  # truncated (a full disk, a copy cut short)
    capsys.readouterr()
    assert ndnx_main(["run", LINEAR, "--root", root, "--no-summary"]) == 2
    [line] = error_lines(capsys)
    assert line.startswith(f"ndnx: error: the checkpoint {checkpoints}/ckpt-2 (.index, .data-*) cannot be read, it "
                           "is damaged or truncated (")
    assert line.endswith(f"run the same command with --restart to start tests/linear/{run.name} over (its "
                         "checkpoints, models and logs of these seeds are removed)")
    assert ndnx_main(["run", LINEAR, "--root", root, "--no-summary", "--restart"]) == 0
    assert (tmp_path / "experiments.txt").read_text().splitlines() == [f"tests/linear/{run.name}"]
    assert len(list((tmp_path / "logs" / "tests" / "linear" / run.name / "seed0" / "train").iterdir())) == 1
    assert ndnx_main(["run", LINEAR, "--root", root, "--no-summary"]) == 0  # resumes (finished) as usual


def test_a_configuration_that_cannot_be_built_leaves_nothing(tmp_path, ndnx_main, capsys):
    # units=2 passes the checks (an integer) but the build refuses it: nothing of the run is written.
    assert ndnx_main(["run", LINEAR, "--set", "units=2", "--root", str(tmp_path)]) == 2
    assert error_lines(capsys) == ["ndnx: error: linear: the model has one output, got units=2"]
    assert not (tmp_path / "logs").exists() and not (tmp_path / "models").exists()


def test_checks_are_declared_by_the_experiment_and_its_fit():
    from ndnx.experiment.config import one_of, positive

    def make(**checks):
        return Experiment("g/e", {"lr": 0.1, "noise": "poisson", "epochs": 2}, data=None, build=None, fit=Epochs(),
                          checks=checks)

    exp = make(lr=positive, noise=one_of("poisson", "gaussian"))
    exp.check_config(exp.runs({"lr": 0.5, "noise": "gaussian"})[0].config)
    for override, message in [({"lr": -1.0}, "g/e: lr=-1.0 is not valid: expected a finite number > 0"),
                              ({"lr": float("nan")}, "g/e: lr=nan is not valid: expected a finite number > 0"),
                              ({"noise": "cauchy"}, "g/e: noise='cauchy' is not valid: expected one of 'poisson', "
                                                    "'gaussian'"),
                              ({"epochs": -5}, "g/e: epochs=-5 is not valid: expected an integer >= 0"),
                              ({"epochs": 2.5}, "g/e: epochs=2.5 is not valid: expected an integer >= 0"),
                              ({"seeds": 0}, "g/e: seeds=0 is not valid: expected an integer >= 1"),
                              ({"log_every": 0}, "g/e: log_every=0 is not valid: expected an integer >= 1")]:
        with pytest.raises(ValueError) as info:
            exp.check_config(exp.runs(override)[0].config)
        assert str(info.value) == message
    with pytest.raises(ValueError, match=r"checks for keys \['momentum'\] that have no default"):
        make(momentum=positive)
    with pytest.raises(ValueError, match="g/e: lr=0.1 is not valid: expected a finite number > 1"):
        from ndnx.experiment.config import number

        make(lr=number(1, low_open=True))  # the defaults themselves are checked
    derived = exp.derive("g/f", defaults={"lr": 0.2})
    with pytest.raises(ValueError, match="g/f: lr=-2.0 is not valid"):
        derived.check_config(derived.runs({"lr": -2.0})[0].config)
