"""`ndnx run` and `ndnx summarize` end to end on the tiny experiment."""

import csv
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny_experiment.py")


def cli(*args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "ndnx.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.mark.slow  # minutes on a 2-core machine: `make test-all`
def test_run_grid_with_parallel_jobs_then_summarize(tmp_path):
    root = tmp_path / "td"
    out = cli("run", TINY, "--jobs", "2", "--set", "lr=[0.01, 0.001]", "--set", "epochs=3",
              "--root", str(root))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "2 run(s) × 2 seed(s) → 2 job(s)" in out.stdout
    assert f"{sys.executable} -m tensorboard.main --logdir {root}/logs/tests/tiny" in out.stdout
    from ndnx.experiment import load_experiment

    runs = [r.name for r in load_experiment(TINY).runs({"lr": [0.01, 0.001], "epochs": 3})]
    assert [r.rsplit("-", 1)[0] for r in runs] == ["epochs=3", "epochs=3,lr=0.001"]  # lr=0.01 is the default
    for run in runs:
        assert (root / "job_logs" / "tests" / "tiny" / run / "seed0-1.err").exists()
        for seed in (0, 1):
            assert (root / "models" / "tests" / "tiny" / run / f"seed{seed}.keras").exists()
            assert list((root / "logs" / "tests" / "tiny" / run / f"seed{seed}" / "validation").iterdir())
    lines = sorted((root / "experiments.txt").read_text().splitlines())
    assert lines == sorted([f"tests/tiny/{runs[0]}  # lr=0.01", f"tests/tiny/{runs[1]}  # lr=0.001"])

    csv_path, png_path = tmp_path / "s.csv", tmp_path / "s.png"
    out = cli("summarize", "tests/tiny", "--root", str(root), "--csv", str(csv_path), "--plot", str(png_path))
    assert out.returncode == 0, out.stderr[-3000:]
    rows = list(csv.DictReader(open(csv_path)))
    corr = [r for r in rows if r["tag"] == "correlation"]
    # Runs are named by their varied values; the folder column says where their files are.
    assert {(r["run"], r["folder"]) for r in corr} == {("lr=0.01", runs[0]), ("lr=0.001", runs[1])}
    assert all(r["seeds"] == "2" and r["step"] == "2" for r in corr)
    # Against a brute-force oracle: each saved final model (its weights are those of the last logged
    # step, epoch index 2) on the experiment's validation split, scipy's Pearson r per neuron, the
    # mean over neurons, numpy's 50th / 90th / 10th percentiles over the two seeds.
    import importlib.util

    import keras
    import numpy as np
    from scipy.stats import pearsonr

    spec = importlib.util.spec_from_file_location("tiny_for_oracle", TINY)
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    x_val, y_val = tiny.load(tiny.experiment.defaults)["validation"]
    for r in corr:
        per_seed = []
        for seed in (0, 1):
            model = keras.saving.load_model(str(root / "models" / "tests" / "tiny" / r["folder"] / f"seed{seed}.keras"))
            pred = model.predict(x_val, verbose=0)
            per_seed.append(np.mean([pearsonr(pred[:, n], y_val[:, n])[0] for n in range(y_val.shape[1])]))
        np.testing.assert_allclose([float(r[q]) for q in ("p50", "p90", "p10")],
                                   np.percentile(per_seed, [50, 90, 10]), atol=1e-4, err_msg=r["run"])
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_job_per_seed_and_slurm_dry_run(tmp_path, capsys, monkeypatch):
    from ndnx.cli import main

    monkeypatch.delenv("NDNX_TRAINING_DATA", raising=False)  # --root exports it
    root = tmp_path / "td"
    assert main(["run", TINY, "--seeds-per-job", "1", "--runner", "slurm", "--dry-run", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "#SBATCH --array=0-1" in out
    assert "--only-seeds 0 " in out and "--only-seeds 1 " in out
    assert not root.exists()  # a dry run writes nothing


def test_scheduler_options_reach_the_job_script(tmp_path, capsys, monkeypatch):
    from ndnx.cli import main

    monkeypatch.delenv("NDNX_TRAINING_DATA", raising=False)
    common = ["run", TINY, "--set", "lr=[0.01, 0.02]", "--root", str(tmp_path), "--dry-run"]
    assert main([*common, "--runner", "slurm", "--time", "02:00:00", "--mem", "8G", "--partition", "gpu",
                 "--cpus", "4", "--directive=--gres=gpu:1", "--directive=--account=lab", "--job-name", "bl4"]) == 0
    script = capsys.readouterr().out
    for line in ("#SBATCH --job-name=bl4", "#SBATCH --array=0-1", "#SBATCH --partition=gpu", "#SBATCH --time=02:00:00",
                 "#SBATCH --mem=8G", "#SBATCH --cpus-per-task=4", "#SBATCH --gres=gpu:1", "#SBATCH --account=lab"):
        assert line in script.splitlines(), line
    assert main([*common, "--runner", "sge", "--time", "02:00:00", "--mem", "8G", "--queue", "cpu.q", "--cpus", "4",
                 "--pe", "smp", "--directive=-l gpu=1", "--wait"]) == 0
    script = capsys.readouterr().out
    for line in ("#$ -t 1-2", "#$ -q cpu.q", "#$ -pe smp 4", "#$ -l mem_free=8G", "#$ -l h_rt=02:00:00", "#$ -l gpu=1"):
        assert line in script.splitlines(), line
    # a run folder named lr=0.01,... would be a list of paths to SGE's -o: its logs go one level up
    assert f"#$ -o {tmp_path}/job_logs/tests/tiny/ndnx.o$JOB_ID.$TASK_ID" in script.splitlines()
    assert script.count(" --wait ") == 2  # every job waits for a busy seed rather than fail
    assert not os.listdir(tmp_path)  # a dry run writes nothing
    for extra, message in [
            (["--time", "1:00"], "--time is an option of --runner slurm or sge, not of the local runner"),
            (["--runner", "sge", "--cpus", "4"], "--cpus on SGE needs --pe NAME, the parallel environment its slots "
                                                 "come from (e.g. smp)"),
            (["--runner", "slurm", "--pe", "smp"], "--pe is an SGE option; SLURM takes --cpus alone (--cpus-per-task)"),
            (["--runner", "slurm", "--cpus", "0"], "--cpus expects a positive number, got 0")]:
        assert main([*common, *extra]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [f"ndnx: error: {message}"]


def test_tensorboard_command_works_without_tensorboard_on_path(tmp_path, capsys, monkeypatch):
    from ndnx.cli import main

    (tmp_path / "logs" / "v1" / "baseline4").mkdir(parents=True)
    assert main(["tensorboard", "v1/baseline4", "--root", str(tmp_path), "--port", "6007", "--print"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == f"{sys.executable} -m tensorboard.main --logdir {tmp_path}/logs/v1/baseline4 --port 6007"
    assert main(["tensorboard", "v1/other", "--root", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"ndnx: error: no logs at {tmp_path}/logs/v1/other; `ndnx run` an experiment first (or give --root)"]
    # The printed command runs with a PATH that has no `tensorboard` on it.
    out = subprocess.run([sys.executable, "-m", "tensorboard.main", "--version_tb"], capture_output=True, text=True,
                         env=dict(os.environ, PATH="/nonexistent", TF_CPP_MIN_LOG_LEVEL="3"), timeout=120)
    assert out.returncode == 0 and out.stdout.strip().startswith("2."), out.stderr[-2000:]


def _options(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {where}", a) for where, a in _options(sub))
        elif not isinstance(action, argparse._HelpAction):
            yield "", action


def test_every_option_has_a_help_string():
    from ndnx.cli import _parser

    missing = [f"{where}{'/'.join(a.option_strings) or a.dest}" for where, a in _options(_parser())
               if not a.help]
    assert missing == []
