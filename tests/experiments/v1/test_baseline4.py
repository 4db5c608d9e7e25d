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
    [run] = os.listdir(td / "models" / "v1" / "baseline4")
    assert run.startswith("data_dir=data,epochs=3,log_every=1,seeds=3-")  # a path by its last part
    table = [line.split() for line in out.stdout.splitlines() if line.startswith(run)]
    corr = [row for row in table if row[1] == "correlation"][0]
    assert corr[2] == "3" and corr[3] == "2"  # 3 seeds, final step = epoch index 2
    import keras

    models = [keras.saving.load_model(str(td / "models" / "v1" / "baseline4" / run / f"seed{s}.keras"))
              for s in range(3)]
    model = models[2]
    assert model.output_shape == (None, 20)
    assert model.get_layer("hidden").units == 4  # int(0.2 · 20)
    np.testing.assert_allclose(model.loss.unit_norm, np.maximum(region.y_train.mean(0), 1e-6), rtol=1e-6)

    # The table against a brute-force oracle: the validation split rebuilt from the published files
    # (spec §1: row-major 31×31; inputs N(0, 1) with the training set's global mean and std, §2.2 /
    # baseline4's normalization="train"), each saved final model's predictions, scipy's Pearson r
    # per neuron (NaN → 0, spec §3.4) averaged over neurons, numpy's 50th / 90th / 10th percentiles
    # over the seeds. The table prints 4 decimals; the final logged step (epoch index 2) is the
    # step after the last epoch, whose weights are the ones saved.
    raw = {stem: np.load(antolik.region_dir(1, str(data)) + f"/{stem}.npy")
           for stem in ("training_inputs", "validation_inputs", "validation_set")}
    train_pixels = raw["training_inputs"]
    x_val = ((raw["validation_inputs"] - train_pixels.mean()) / train_pixels.std()).reshape(50, 31, 31, 1)
    y_val = raw["validation_set"]
    per_seed = [brute_force_correlation(m.predict(x_val.astype("float32"), verbose=0), y_val) for m in models]
    np.testing.assert_allclose([float(v) for v in corr[4:7]], np.percentile(per_seed, [50, 90, 10]), atol=1e-4)


def brute_force_correlation(pred, target):
    """Mean over neurons of scipy's Pearson r, an undefined r counted as 0 (NDN3 'zero-NaNs')."""
    import warnings

    from scipy.stats import pearsonr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on a constant input and returns NaN
        r = np.array([pearsonr(pred[:, n], target[:, n])[0] for n in range(target.shape[1])])
    return float(np.where(np.isfinite(r), r, 0.0).mean())


def test_missing_data_directory_is_one_clear_line(tmp_path, capsys, monkeypatch):
    from ndnx.cli import main

    monkeypatch.delenv("NDNX_DATA", raising=False)
    monkeypatch.delenv("NDNX_TRAINING_DATA", raising=False)  # --root exports it
    td = tmp_path / "td"
    assert main(["run", BASELINE4, "--set", f"data_dir={tmp_path / 'nowhere'}", "--root", str(td)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ndnx: error: ")
    assert "nowhere" in lines[0] and "e1004927" in lines[0] and "synth-v1" in lines[0]
    assert not (td / "logs").exists() and not (td / "models").exists()
