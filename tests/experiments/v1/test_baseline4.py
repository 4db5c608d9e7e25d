"""The main job's pieces: `ndnx data synth-v1` and experiments/v1/baseline4.py end to end."""

import os
import subprocess
import sys

import numpy as np

from ndnx.data import antolik

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))  # tests/experiments/v1 → root
BASELINE4 = os.path.join(ROOT, "experiments", "v1", "baseline4.py")


def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("NDNX_DATA", None)
    return subprocess.run([sys.executable, "-m", "ndnx.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def test_synth_v1_then_baseline4_on_it(tmp_path):
    data = tmp_path / "data"
    out = cli("data", "synth-v1", "--out", str(data), "--neurons", "20", "--train", "160", "--val", "50",
              "--repeats", "4", "--seed", "3")
    assert out.returncode == 0, out.stderr[-2000:]
    region = antolik.load_region(1, str(data))
    assert region.x_train.shape == (160, 31, 31, 1) and region.y_train.shape == (160, 20)
    assert region.y_val_trials.shape == (4, 50, 20)
    assert abs(float(region.x_train.mean())) < 1e-5 and abs(float(region.x_train.std()) - 1) < 1e-4

    td = tmp_path / "td"
    out = cli("run", BASELINE4, "--set", f"data_dir={data}", "--set", "epochs=3", "--set", "log_every=1",
              "--seeds", "3", "--root", str(td))
    assert out.returncode == 0, out.stderr[-3000:]
    table = [line.split() for line in out.stdout.splitlines() if line.startswith("run0")]
    corr = [row for row in table if row[1] == "correlation"][0]
    assert corr[2] == "3" and corr[3] == "2"  # 3 seeds, final step = epoch index 2
    p50, p90, p10 = map(float, corr[4:7])
    assert -1 <= p10 <= p50 <= p90 <= 1
    import keras

    model = keras.saving.load_model(str(td / "models" / "v1" / "baseline4" / "run0" / "seed2.keras"))
    assert model.output_shape == (None, 20)
    assert model.get_layer("hidden").units == 4  # int(0.2 · 20)
    np.testing.assert_allclose(model.loss.unit_norm, np.maximum(region.y_train.mean(0), 1e-6), rtol=1e-6)


def test_missing_data_directory_is_one_clear_line(tmp_path):
    td = tmp_path / "td"
    out = cli("run", BASELINE4, "--set", f"data_dir={tmp_path / 'nowhere'}", "--root", str(td))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ndnx: error: ")
    assert "nowhere" in lines[0] and "e1004927" in lines[0] and "synth-v1" in lines[0]
    assert not (td / "logs").exists() and not (td / "models").exists()
