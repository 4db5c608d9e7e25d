"""Synthetic V1 region: published file format, ground-truth HSM, Poisson noise, atomic writes."""

import os
import time

import numpy as np
import pytest

from ndnx.data import antolik, synthetic_v1
from ndnx.data.synthetic_v1 import dog_kernels, ground_truth_hsm_rates

SMALL = dict(neurons=20, train=200, val=50, repeats=6, seed=3)


@pytest.fixture(scope="module")
def small_region(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    return synthetic_v1.write_synthetic_region(out, **SMALL)


def load(path, name):
    return np.load(os.path.join(path, name + ".npy"))


# -- DoG kernels: spec §8 tests 1 and 2 -------------------------------------------------------------

def test_dog_impulse_response_golden():
    kernel = dog_kernels([1.0, 2.0, 15.0, 15.0, 0.5, 3.0], 31, 31)
    assert kernel.shape == (1, 31, 31)
    image = np.zeros((31, 31))
    image[15, 15] = 1.0
    assert np.sum(kernel[0] * image) == pytest.approx(0.0636620, abs=1e-7)
    assert np.sum(kernel[0] * image) == pytest.approx(1 / (4 * np.pi) - 0.5 / (10 * np.pi), abs=1e-15)


def test_dog_all_ones_and_axis_convention():
    kernel = dog_kernels([2.0, 2.0, 15.0, 10.0, 1.0, 4.0], 31, 31)[0]
    assert kernel.sum() == pytest.approx(1.0000079, abs=1e-6)
    assert np.unravel_index(np.argmax(kernel), kernel.shape) == (10, 15)  # μy is the row, μx the column


def test_dog_parameter_forms_and_clipping():
    params = np.array([[1.0, 2.0, 12.0, 17.0, 0.4, 3.0], [3.0, 5.0, 15.0, 15.0, 1.0, 9.0]])
    named = dict(zip(synthetic_v1.DOG_FIELDS, params.T))
    np.testing.assert_array_equal(dog_kernels(params, 31, 31), dog_kernels(named, 31, 31))
    np.testing.assert_array_equal(dog_kernels(params, 31, 31), dog_kernels({"dog_params": params}, 31, 31))
    # NDN3 forward clipping: σ1 = 0.3 acts as 1, μx = 40 as 29.
    np.testing.assert_array_equal(dog_kernels([1.0, 0.3, 40.0, 15.0, 0.5, 3.0], clip=True),
                                  dog_kernels([1.0, 1.0, 29.0, 15.0, 0.5, 3.0]))
    with pytest.raises(ValueError, match=r"expected DoG parameters of shape \(filters, 6\)"):
        dog_kernels(np.zeros((2, 8)))


# -- written files --------------------------------------------------------------------------------

def test_written_files_match_published_format(small_region):
    assert os.path.basename(small_region) == "region1"
    assert sorted(os.listdir(small_region)) == sorted(
        [stem + ".npy" for stem in antolik.FILES] + ["ground_truth.npz", "README.txt"])
    expected = {"training_inputs": (200, 961), "training_set": (200, 20), "validation_inputs": (50, 961),
                "validation_set": (50, 20), "raw_validation_set": (6, 50, 20)}
    for stem, shape in expected.items():
        array = load(small_region, stem)
        assert array.shape == shape and array.dtype == np.float64, stem
    for stem in ("training_inputs", "validation_inputs"):
        x = load(small_region, stem)
        assert x.min() >= 0.0 and x.max() <= 0.000255
        assert x.max() > 0.0002  # the full grey range is used
        np.testing.assert_allclose(x * 1e6, np.rint(x * 1e6), atol=1e-9)  # 256 grey levels ×1e-6
    y, trials = load(small_region, "training_set"), load(small_region, "raw_validation_set")
    for counts in (y, trials):
        assert counts.min() >= 0 and np.all(counts == np.rint(counts))
    np.testing.assert_allclose(load(small_region, "validation_set"), trials.mean(axis=0), rtol=0, atol=1e-12)
    with open(os.path.join(small_region, "README.txt"), encoding="utf-8") as f:
        assert f.read().startswith("SYNTHETIC DATA - not a recording.")
    assert [n for n in os.listdir(os.path.dirname(small_region)) if n != "region1"] == []


def test_ground_truth_parameters(small_region):
    gt = synthetic_v1.read_ground_truth(small_region)
    assert gt["W1"].shape == (9, 4) and gt["b1"].shape == (4,)  # H = int(0.2·20)
    assert gt["W2"].shape == (4, 20) and gt["b2"].shape == (20,)
    assert gt["dog_params"].shape == (9, 6)
    for i, name in enumerate(synthetic_v1.DOG_FIELDS):
        np.testing.assert_array_equal(gt[name], gt["dog_params"][:, i])
    assert np.all((gt["mu_x"] >= 31 / 3) & (gt["mu_x"] <= 62 / 3))
    assert np.all((gt["mu_y"] >= 31 / 3) & (gt["mu_y"] <= 62 / 3))
    assert np.all((gt["sigma1"] >= 1.5) & (gt["sigma1"] <= 6.0))
    assert np.all(gt["sigma2"] >= gt["sigma1"])
    assert np.all((gt["alpha1"] >= 1.0) & (gt["alpha1"] <= 4.0))
    assert np.all((gt["alpha2"] > 0) & (gt["alpha2"] < gt["alpha1"]))
    # every hidden unit mixes ON and OFF DoGs
    assert np.all((gt["W1"] > 0).sum(axis=0) >= 1) and np.all((gt["W1"] < 0).sum(axis=0) >= 1)
    assert gt["rates_train"].shape == (200, 20) and gt["rates_val"].shape == (50, 20)
    assert int(gt["seed"]) == 3


def test_rates_recomputed_from_loaded_images(small_region):
    gt = synthetic_v1.read_ground_truth(small_region)
    region = antolik.load_region(1, os.path.dirname(small_region), normalization="train", dtype="float64")
    assert region.input_mean == pytest.approx(float(gt["train_mean"]), rel=1e-12)
    assert region.input_std == pytest.approx(float(gt["train_std"]), rel=1e-12)
    np.testing.assert_allclose(ground_truth_hsm_rates(region.x_train, gt), gt["rates_train"], rtol=1e-9)
    np.testing.assert_allclose(ground_truth_hsm_rates(region.x_val, gt), gt["rates_val"], rtol=1e-9)
    flat = region.x_val.reshape(50, 961)
    np.testing.assert_allclose(ground_truth_hsm_rates(flat, dict(gt)), gt["rates_val"], rtol=1e-12)


def test_neurons_are_stimulus_driven(small_region):
    rates = synthetic_v1.read_ground_truth(small_region)["rates_train"]
    mean = rates.mean(axis=0)
    assert np.all((mean > 0.2 - 1e-6) & (mean < 2.0 + 1e-6))
    assert np.all(rates.std(axis=0) > 0.25 * mean)
    assert rates.min() >= 0.0


def test_poisson_noise_matches_rates(small_region):
    gt = synthetic_v1.read_ground_truth(small_region)
    y, rates = load(small_region, "training_set"), gt["rates_train"]
    # Poisson: var(Σy) = Σrate, so the grand mean is within 4 standard errors of the mean rate.
    assert abs(y.mean() - rates.mean()) < 4 * np.sqrt(rates.sum()) / rates.size
    trials, val_rates = load(small_region, "raw_validation_set"), gt["rates_val"]
    assert abs(trials.mean() - val_rates.mean()) < 4 * np.sqrt(6 * val_rates.sum()) / trials.size
    # the trial average tracks the noiseless rates
    r = [np.corrcoef(val_rates[:, n], trials.mean(axis=0)[:, n])[0, 1] for n in range(20)]
    assert np.median(r) > 0.8


def test_generation_is_deterministic(small_region, tmp_path):
    again = synthetic_v1.write_synthetic_region(tmp_path / "a", **SMALL)
    for stem in antolik.FILES:
        np.testing.assert_array_equal(load(again, stem), load(small_region, stem))
    other = synthetic_v1.write_synthetic_region(tmp_path / "b", **{**SMALL, "seed": 4})
    assert not np.array_equal(load(other, "training_set"), load(small_region, "training_set"))


# -- atomic writes and the default cache ----------------------------------------------------------

def test_failed_write_leaves_no_partial_region(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(synthetic_v1, "_write_readme", fail)  # after every .npy and the .npz are written
    with pytest.raises(RuntimeError, match="interrupted"):
        synthetic_v1.write_synthetic_region(tmp_path, neurons=5, train=20, val=5, repeats=2)
    assert os.listdir(tmp_path) == []


def test_failed_overwrite_keeps_the_old_region(tmp_path, monkeypatch):
    path = synthetic_v1.write_synthetic_region(tmp_path, neurons=5, train=20, val=5, repeats=2, seed=0)
    before = load(path, "training_set")
    monkeypatch.setattr(synthetic_v1, "_write_readme", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        synthetic_v1.write_synthetic_region(tmp_path, neurons=5, train=20, val=5, repeats=2, seed=1)
    assert os.listdir(tmp_path) == ["region1"]
    np.testing.assert_array_equal(load(path, "training_set"), before)
    monkeypatch.undo()
    synthetic_v1.write_synthetic_region(tmp_path, neurons=6, train=20, val=5, repeats=2, seed=1)
    assert load(path, "training_set").shape == (20, 6) and os.listdir(tmp_path) == ["region1"]


def test_leftovers_of_killed_writers_are_removed_by_the_next_one(tmp_path):
    # A SIGKILL mid-generation leaves the hidden staging directory (and, mid-replacement, the parked
    # old region); older ndnx versions left .region1.partial-*. The next writer of region1 holds the
    # region's lock, so they are all dead writers' and go; region2's are not its to touch.
    leftovers = [".tmp-region1.0123456789ab.partial", ".tmp-region1.old.0123456789ab.partial",
                 ".region1.partial-x1y2z3"]
    for name in leftovers + [".tmp-region2.0123456789ab.partial"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "training_set.npy").write_bytes(b"half")
    synthetic_v1.write_synthetic_region(tmp_path, neurons=5, train=20, val=5, repeats=2)  # (the cache's writer too)
    assert sorted(os.listdir(tmp_path)) == [".tmp-region2.0123456789ab.partial", "region1"]


def test_one_writer_at_a_time_and_the_others_keep_its_region(tmp_path):
    import threading

    from ndnx.files import FileLock

    lock = FileLock(tmp_path / ".region1.lock").acquire()  # another process writing region1
    written = []
    waiter = threading.Thread(target=lambda: written.append(synthetic_v1.write_synthetic_region(
        tmp_path, neurons=5, train=20, val=5, repeats=2, overwrite=False)))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive() and not (tmp_path / "region1").exists()  # it waits, it does not write alongside
    # the holder finishes its region and lets go; the waiter finds it complete and keeps it
    synthetic_v1._write_region(str(tmp_path), "region1", str(tmp_path / "region1"), 5, 20, 5, 2, 7, 1, True)
    stamp = (tmp_path / "region1" / "training_set.npy").stat().st_mtime_ns
    lock.release()
    waiter.join(60)
    assert written == [str(tmp_path / "region1")]
    assert (tmp_path / "region1" / "training_set.npy").stat().st_mtime_ns == stamp
    assert sorted(os.listdir(tmp_path)) == ["region1"]


def test_region_is_as_readable_as_the_umask_allows(tmp_path):
    # staged in a temporary directory, which must not keep tempfile.mkdtemp's 0o700 once published
    import stat

    old = os.umask(0o022)
    try:
        path = synthetic_v1.write_synthetic_region(tmp_path, neurons=5, train=20, val=5, repeats=2)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755
    assert {stat.S_IMODE(os.stat(os.path.join(path, n)).st_mode) for n in os.listdir(path)} == {0o644}


def test_without_overwrite_a_complete_region_is_kept(tmp_path):
    # what a second process racing ensure_default_region sees: the first complete region wins
    path = synthetic_v1.write_synthetic_region(tmp_path, neurons=5, train=20, val=5, repeats=2, seed=0)
    before = load(path, "training_set")
    again = synthetic_v1.write_synthetic_region(tmp_path, neurons=5, train=20, val=5, repeats=2, seed=1,
                                                overwrite=False)
    assert again == path and os.listdir(tmp_path) == ["region1"]
    np.testing.assert_array_equal(load(path, "training_set"), before)


def test_ensure_default_region_at_published_size(tmp_path):
    start = time.perf_counter()
    path, generated = synthetic_v1.ensure_default_region(tmp_path)
    elapsed = time.perf_counter() - start
    assert generated and path == os.path.join(str(tmp_path), "region1")
    assert elapsed < 10.0
    region = antolik.load_region(1, tmp_path)
    assert region.x_train.shape == (1800, 31, 31, 1) and region.y_train.shape == (1800, 103)
    assert region.x_val.shape == (50, 31, 31, 1) and region.y_val_trials.shape == (10, 50, 103)
    gt = synthetic_v1.read_ground_truth(path)
    assert gt["W1"].shape == (9, 20) and int(gt["seed"]) == 0
    rates = gt["rates_train"]
    assert np.all(rates.std(axis=0) > 0.25 * rates.mean(axis=0))
    assert np.percentile(rates, 99.9) < 10.0
    assert synthetic_v1.ensure_default_region(tmp_path) == (path, False)


def test_ensure_default_region_regenerates_incomplete(tmp_path, monkeypatch):
    monkeypatch.setitem(synthetic_v1.REGION_SIZES, 2, (7, 30))
    path, generated = synthetic_v1.ensure_default_region(tmp_path, region=2)
    assert generated and load(path, "training_set").shape == (30, 7)
    assert load(path, "raw_validation_set").shape == (8, 50, 7)  # region 2's published repeats
    os.remove(os.path.join(path, "validation_set.npy"))
    assert synthetic_v1.ensure_default_region(tmp_path, region=2) == (path, True)
    assert synthetic_v1.is_complete(path)


def test_bad_sizes(tmp_path):
    with pytest.raises(ValueError, match="expected positive sizes"):
        synthetic_v1.write_synthetic_region(tmp_path, neurons=0)
