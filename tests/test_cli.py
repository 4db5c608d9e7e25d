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
    assert f"tensorboard --logdir {root}/logs/tests/tiny" in out.stdout
    for run in ("run0", "run1"):
        assert (root / "job_logs" / "tests" / "tiny" / run / "seed0-1.err").exists()
        for seed in (0, 1):
            assert (root / "models" / "tests" / "tiny" / run / f"seed{seed}.keras").exists()
            assert list((root / "logs" / "tests" / "tiny" / run / f"seed{seed}" / "validation").iterdir())
    lines = sorted((root / "experiments.txt").read_text().splitlines())
    assert lines == ["tests/tiny/run0  # lr=0.01", "tests/tiny/run1  # lr=0.001"]

    csv_path, png_path = tmp_path / "s.csv", tmp_path / "s.png"
    out = cli("summarize", "tests/tiny", "--root", str(root), "--csv", str(csv_path), "--plot", str(png_path))
    assert out.returncode == 0, out.stderr[-3000:]
    rows = list(csv.DictReader(open(csv_path)))
    corr = [r for r in rows if r["tag"] == "correlation"]
    # Runs are named by their varied values; the folder column says where their files are.
    assert {(r["run"], r["folder"]) for r in corr} == {("lr=0.01", "run0"), ("lr=0.001", "run1")}
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


def test_one_job_per_seed_and_slurm_dry_run(tmp_path):
    root = tmp_path / "td"
    out = cli("run", TINY, "--seeds-per-job", "1", "--runner", "slurm", "--dry-run", "--root", str(root))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "#SBATCH --array=0-1" in out.stdout
    assert "--only-seeds 0 " in out.stdout and "--only-seeds 1 " in out.stdout
    assert not root.exists()  # a dry run writes nothing
