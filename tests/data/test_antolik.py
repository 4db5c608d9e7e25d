"""Antolík et al. 2016 loader (on a synthetic region in the published format) and multi-region pooling."""

import os
import shutil

import numpy as np
import pytest

from ndnx.data import antolik, synthetic_v1
from ndnx.data.antolik import load_region, merge_regions


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("antolik")
    synthetic_v1.write_synthetic_region(out, neurons=12, train=150, val=50, repeats=5, seed=1, region=1)
    synthetic_v1.write_synthetic_region(out, neurons=7, train=90, val=50, repeats=4, seed=2, region=2)
    return str(out)


@pytest.fixture
def copy(data_dir, tmp_path):
    """A writable copy of region 1, to be broken by a test."""
    shutil.copytree(os.path.join(data_dir, "region1"), tmp_path / "region1")
    return tmp_path


def test_published_sizes():
    assert antolik.REGION_SIZES == {1: (103, 1800), 2: (55, 1260), 3: (102, 1800)}
    assert antolik.VALIDATION_REPEATS == {1: 10, 2: 8, 3: 12}


def test_load_shapes_and_dtypes(data_dir):
    region = load_region(1, data_dir)
    assert region.x_train.shape == (150, 31, 31, 1) and region.y_train.shape == (150, 12)
    assert region.x_val.shape == (50, 31, 31, 1) and region.y_val.shape == (50, 12)
    assert region.y_val_trials.shape == (5, 50, 12)
    for array in (region.x_train, region.y_train, region.x_val, region.y_val, region.y_val_trials):
        assert array.dtype == np.float32
    assert region.num_neurons == 12 and region.name == "region1"
    assert region.source == os.path.join(data_dir, "region1")
    assert "neurons=12" in repr(region)
    assert load_region(2, data_dir, dtype="float64").x_train.dtype == np.float64


def test_responses_are_returned_unchanged(data_dir):
    region = load_region(1, data_dir, dtype="float64")
    path = os.path.join(data_dir, "region1")
    np.testing.assert_array_equal(region.y_train, np.load(os.path.join(path, "training_set.npy")))
    np.testing.assert_array_equal(region.y_val_trials, np.load(os.path.join(path, "raw_validation_set.npy")))
    np.testing.assert_allclose(region.y_val, region.y_val_trials.mean(axis=0), rtol=0, atol=1e-12)


def test_normalisation_none_gives_grey_levels(data_dir):
    raw = load_region(1, data_dir, normalization="none", dtype="float64")
    stored = np.load(os.path.join(data_dir, "region1", "training_inputs.npy"))
    assert raw.x_train.min() >= 0.0 and raw.x_train.max() <= 255.0 and raw.x_val.max() <= 255.0
    assert raw.x_train.max() > 200.0
    np.testing.assert_allclose(raw.x_train.reshape(150, 961), stored * 1e6, rtol=1e-12)
    # row-major flattening: pixel (row, col) is column row·31 + col
    assert raw.x_train[3, 4, 7, 0] == pytest.approx(stored[3, 4 * 31 + 7] * 1e6, rel=1e-12)


def test_normalisation_train_uses_training_statistics(data_dir):
    raw = load_region(1, data_dir, normalization="none", dtype="float64")
    region = load_region(1, data_dir, dtype="float64")  # "train" is the default
    assert region.normalization == "train"
    assert abs(region.x_train.mean()) < 1e-6 and abs(region.x_train.std() - 1.0) < 1e-6
    mean, std = raw.x_train.mean(), raw.x_train.std()
    assert (region.input_mean, region.input_std) == (pytest.approx(mean, rel=1e-12), pytest.approx(std, rel=1e-12))
    np.testing.assert_allclose(region.x_val, (raw.x_val - mean) / std, rtol=1e-10, atol=1e-12)
    assert abs(region.x_val.mean()) > 1e-3  # validation statistics were not used
    single = load_region(1, data_dir)
    assert abs(float(single.x_train.mean())) < 1e-5 and abs(float(single.x_train.std()) - 1.0) < 1e-5


def test_normalisation_per_split_is_the_original_leaky_mode(data_dir):
    raw = load_region(1, data_dir, normalization="none", dtype="float64")
    region = load_region(1, data_dir, normalization="per_split", dtype="float64")
    assert abs(region.x_val.mean()) < 1e-6 and abs(region.x_val.std() - 1.0) < 1e-6
    assert abs(region.x_train.mean()) < 1e-6 and abs(region.x_train.std() - 1.0) < 1e-6
    np.testing.assert_allclose(region.x_val, (raw.x_val - raw.x_val.mean()) / raw.x_val.std(), atol=1e-12)


def test_data_dir_from_environment_and_data_level(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("NDNX_DATA", data_dir)
    assert load_region(2).source == os.path.join(data_dir, "region2")
    # the unzipped supplement has a Data/ level
    shutil.copytree(os.path.join(data_dir, "region2"), tmp_path / "Data" / "region2")
    assert load_region(2, str(tmp_path)).source == os.path.join(str(tmp_path), "Data", "region2")


def one_line(excinfo):
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_missing_data_dir(monkeypatch):
    monkeypatch.delenv("NDNX_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="pass data_dir or set NDNX_DATA") as excinfo:
        load_region(1)
    assert "ndnx data synth-v1 --out DIR" in one_line(excinfo)


def test_missing_region_directory(tmp_path):
    with pytest.raises(FileNotFoundError) as excinfo:
        load_region(3, str(tmp_path))
    message = one_line(excinfo)
    assert str(tmp_path / "region3") in message
    assert "S1, a zip" in message and "e1004927" in message and "Antolík et al. 2016" in message
    assert "ndnx data synth-v1 --out DIR" in message


def test_missing_file(copy):
    os.remove(copy / "region1" / "validation_set.npy")
    with pytest.raises(FileNotFoundError, match="missing .*validation_set.npy; download") as excinfo:
        load_region(1, str(copy))
    assert "ndnx data synth-v1" in one_line(excinfo)


def test_raw_validation_set_is_optional(copy):
    os.remove(copy / "region1" / "raw_validation_set.npy")
    assert load_region(1, str(copy)).y_val_trials is None


def test_wrong_number_of_columns(copy):
    np.save(copy / "region1" / "training_inputs.npy", np.zeros((150, 900)))
    with pytest.raises(ValueError, match=r"expected 961 columns \(31×31 images\), got 900") as excinfo:
        load_region(1, str(copy))
    one_line(excinfo)


def test_rows_must_match(copy):
    np.save(copy / "region1" / "training_set.npy", np.ones((149, 12)))
    with pytest.raises(ValueError, match="training_inputs.npy has 150 images but training_set.npy has 149 rows"):
        load_region(1, str(copy))


def test_neuron_counts_must_match(copy):
    np.save(copy / "region1" / "validation_set.npy", np.ones((50, 11)))
    with pytest.raises(ValueError, match="training_set.npy has 12 neurons but validation_set.npy has 11"):
        load_region(1, str(copy))


def test_raw_validation_shape(copy):
    np.save(copy / "region1" / "raw_validation_set.npy", np.ones((50, 5, 12)))
    with pytest.raises(ValueError, match=r"raw_validation_set.npy: expected shape \(repeats, 50, 12\), "
                                         r"got \(50, 5, 12\)"):
        load_region(1, str(copy))


def test_non_finite_values(copy):
    path = copy / "region1" / "training_set.npy"
    y = np.load(path)
    y[[0, 5, 9], 2] = [np.nan, np.inf, -np.inf]
    np.save(path, y)
    with pytest.raises(ValueError, match=r"training_set.npy: expected finite values, got 3 non-finite") as excinfo:
        load_region(1, str(copy))
    one_line(excinfo)


def test_inputs_not_in_published_scale(copy):
    path = copy / "region1" / "validation_inputs.npy"
    np.save(path, np.load(path) * 1e6)
    with pytest.raises(ValueError, match=r"expected pixel values 0 … 0.000255 .* got a maximum of 2"):
        load_region(1, str(copy))


def test_bad_arguments(data_dir):
    with pytest.raises(ValueError, match="expected normalization in"):
        load_region(1, data_dir, normalization="zscore")
    with pytest.raises(ValueError, match="expected a region number"):
        load_region("1", data_dir)


# -- multi-region pooling (spec §8 test 10) -------------------------------------------------------

def test_merge_golden_example():
    first = ([1, 2], np.array([[1.0, 2.0], [3.0, 4.0]]))
    second = ([2, 3, 4], np.array([[5.0], [6.0], [7.0]]))
    x, y, mask = merge_regions([first, second])
    np.testing.assert_array_equal(x, [1, 2, 2, 3, 4])
    assert y.shape == mask.shape == (5, 3)
    expected_mask = np.zeros((5, 3))
    expected_mask[0:2, 0:2] = 1
    expected_mask[2:5, 2] = 1
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_array_equal(y, [[1, 2, 0], [3, 4, 0], [0, 0, 5], [0, 0, 6], [0, 0, 7]])


def test_merge_regions_objects(data_dir):
    r1, r2 = load_region(1, data_dir), load_region(2, data_dir)
    x, y, mask = merge_regions([r1, r2])
    assert x.shape == (240, 31, 31, 1) and y.shape == mask.shape == (240, 19)
    np.testing.assert_array_equal(x[150:], r2.x_train)
    np.testing.assert_array_equal(y[:150, :12], r1.y_train)
    np.testing.assert_array_equal(y[150:, 12:], r2.y_train)
    assert mask.sum() == 150 * 12 + 90 * 7 and y[mask == 0].sum() == 0
    xv, yv, mv = merge_regions([r1, r2], split="val")
    assert xv.shape == (100, 31, 31, 1) and yv.shape == mv.shape == (100, 19)
    np.testing.assert_array_equal(yv[50:, 12:], r2.y_val)


def test_merge_errors():
    with pytest.raises(ValueError, match="at least one region"):
        merge_regions([])
    with pytest.raises(ValueError, match=r"region 1: expected responses of shape \(3, neurons\)"):
        merge_regions([([1], [[1.0]]), ([1, 2, 3], np.ones((2, 1)))])


def test_a_truncated_npy_names_its_file(tmp_path):
    region = tmp_path / "region1"
    region.mkdir()
    np.save(region / "training_inputs.npy", np.zeros((20, 961)))
    data = (region / "training_inputs.npy").read_bytes()
    (region / "training_inputs.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as info:
        load_region(1, str(tmp_path))
    assert str(info.value).startswith(f"{region / 'training_inputs.npy'}: cannot be read as a NumPy .npy array "
                                      "(Failed to read all data")
    assert "truncated or damaged" in str(info.value) and "\n" not in str(info.value)
