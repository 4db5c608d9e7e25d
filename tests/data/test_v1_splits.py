"""experiment_splits: one region or pooled regions, output scaling, the noiseless split."""

import numpy as np
import pytest

from ndnx.data import antolik, synthetic_v1
from ndnx.data.v1_splits import experiment_splits


@pytest.fixture(scope="module")
def regions(tmp_path_factory):
    root = tmp_path_factory.mktemp("v1data")
    synthetic_v1.write_synthetic_region(root, neurons=5, train=30, val=8, repeats=2, seed=1, region=1)
    synthetic_v1.write_synthetic_region(root, neurons=3, train=20, val=6, repeats=2, seed=2, region=2)
    return str(root)


def test_one_region_matches_the_loader(regions):
    splits = experiment_splits(1, regions)
    region = antolik.load_region(1, regions)
    np.testing.assert_array_equal(splits["train"][0], region.x_train)
    np.testing.assert_array_equal(splits["validation"][1], region.y_val)
    truth = synthetic_v1.read_ground_truth(antolik.region_dir(1, regions))
    np.testing.assert_allclose(splits["noiseless"][1], truth["rates_val"], rtol=1e-6)
    assert splits["train"][0].dtype == np.float32
    assert set(splits) == {"train", "validation", "noiseless", "validation_trials"}
    # The single trials of the validation images, (images, repeats, neurons); their mean is the response.
    trials = splits["validation_trials"]
    assert trials.shape == (8, 2, 5)
    np.testing.assert_array_equal(trials, np.swapaxes(region.y_val_trials, 0, 1))
    np.testing.assert_allclose(trials.mean(axis=1), region.y_val, rtol=1e-5)


def test_pooled_regions_are_block_diagonal_with_nan_outside(regions):
    splits = experiment_splits([1, 2], regions)
    x, y = splits["train"]
    assert x.shape == (50, 31, 31, 1) and y.shape == (50, 8)
    recorded = ~np.isnan(y)
    assert recorded[:30, :5].all() and recorded[30:, 5:].all()
    assert not recorded[:30, 5:].any() and not recorded[30:, :5].any()
    r1, r2 = antolik.load_region(1, regions), antolik.load_region(2, regions)
    np.testing.assert_array_equal(y[30:, 5:], r2.y_train)
    np.testing.assert_array_equal(x[:30], r1.x_train)
    assert splits["validation"][1].shape == (14, 8) and splits["noiseless"][1].shape == (14, 8)
    trials = splits["validation_trials"]  # pooled as the responses: NaN where a neuron has no trial
    assert trials.shape == (14, 2, 8)
    np.testing.assert_array_equal(np.isnan(trials), np.isnan(splits["validation"][1])[:, None, :].repeat(2, 1))
    np.testing.assert_array_equal(trials[8:, :, 5:], np.swapaxes(r2.y_val_trials, 0, 1))


def test_output_std_normalisation(regions):
    y = experiment_splits(1, regions, output_normalization="std")["train"][1]
    raw = antolik.load_region(1, regions).y_train.astype("float64")
    std = raw.std(axis=0)
    np.testing.assert_allclose(y, raw / np.where(std > 0, std, 1.0), rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="output_normalization"):
        experiment_splits(1, "unused", output_normalization="zscore")
    with pytest.raises(ValueError, match="distinct regions"):
        experiment_splits([1, 1], "unused")
