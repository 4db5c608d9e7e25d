"""Loader for the mouse V1 recordings of Antolík et al. 2016 and multi-region pooling.

Antolík J, Hofer SB, Bednar JA, Mrsic-Flogel TD (2016). Model constrained by visual hierarchy improves
prediction of neural responses to natural scenes. PLoS Comput Biol 12(6): e1004927. The data are the
first supporting-information file (S1, a zip); unzipped, each region k ∈ {1, 2, 3} is a directory

    region{k}/training_inputs.npy      (T, 961)  31×31 images flattened row-major, index = row·31 + col
    region{k}/training_set.npy         (T, N)    responses, one presentation per image
    region{k}/validation_inputs.npy    (50, 961)
    region{k}/validation_set.npy       (50, N)   responses averaged over the repeats
    region{k}/raw_validation_set.npy   (R, 50, N) single-trial validation responses

with (N, T, R) = (103, 1800, 10), (55, 1260, 8), (102, 1800, 12). The pixel values are stored divided
by 10⁶ (0 … 0.000255), so the loader multiplies them by 10⁶ first. The responses are calcium-imaging
derived spike-rate estimates (≈ 0–10) and are returned unchanged.

Input normalisation (`normalization=`):

- "train" (default): x ← (x − m)/s with one global scalar mean m and standard deviation s over all
  training pixels, applied to the training and the validation inputs alike, so nothing about the
  validation images leaks into the pre-processing.
- "per_split": each split normalised by its own global mean and standard deviation. This is what the
  original msc-neuro code did (validation images normalised with validation statistics, a mild
  leakage); use it only to reproduce the thesis numbers exactly.
- "none": pixel values 0 … 255 (msc-neuro baseline 1).
"""

import dataclasses
import os

import numpy as np

IMAGE_SHAPE = (31, 31)
PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
# The published files store grey levels 0–255 divided by this factor (the original loader divided by 10⁶).
PIXEL_SCALE = 1e6

# Published sizes per region: (neurons, training images); 50 validation images everywhere.
REGION_SIZES = {1: (103, 1800), 2: (55, 1260), 3: (102, 1800)}
VALIDATION_IMAGES = 50
VALIDATION_REPEATS = {1: 10, 2: 8, 3: 12}

FILES = ("training_inputs", "training_set", "validation_inputs", "validation_set", "raw_validation_set")
NORMALIZATIONS = ("train", "per_split", "none")

DOWNLOAD_HINT = ("download the first supporting-information file (S1, a zip) of Antolík et al. 2016, "
                 "PLoS Comput Biol 12(6): e1004927, and unzip it so that region1/ … region3/ sit in the "
                 "data directory; or write a synthetic region offline with `ndnx data synth-v1 --out DIR`")


@dataclasses.dataclass(repr=False)
class Region:
    """One recorded region: images (T, 31, 31, 1) and responses (T, N) per split.

    `y_val_trials` holds the single-trial validation responses (repeats, 50, N), or None when the
    region has no raw_validation_set.npy. `input_mean` / `input_std` are the global pixel statistics of
    the training inputs on the 0–255 scale (the ones "train" normalisation uses).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    y_val_trials: np.ndarray | None
    name: str
    source: str
    normalization: str = "train"
    input_mean: float = 0.0
    input_std: float = 1.0

    @property
    def num_neurons(self):
        return int(self.y_train.shape[1])

    def __repr__(self):
        trials = None if self.y_val_trials is None else self.y_val_trials.shape
        return (f"Region({self.name!r}, neurons={self.num_neurons}, x_train={self.x_train.shape}, "
                f"x_val={self.x_val.shape}, y_val_trials={trials}, normalization={self.normalization!r}, "
                f"source={self.source!r})")


def region_dir(region, data_dir=None):
    """Directory of `region` (1, 2, 3, …) under `data_dir`, else under $NDNX_DATA.

    A `Data/` level (as in the unzipped supplement) is looked through. Raises FileNotFoundError when no
    data directory is given or the region directory does not exist.
    """
    if isinstance(region, bool) or not isinstance(region, (int, np.integer)) or region < 1:
        raise ValueError(f"expected a region number 1, 2 or 3, got {region!r}")
    data_dir = data_dir or os.environ.get("NDNX_DATA")
    if not data_dir:
        raise FileNotFoundError(f"no data directory: pass data_dir or set NDNX_DATA; {DOWNLOAD_HINT}")
    name = f"region{int(region)}"
    path = os.path.join(data_dir, name)
    if not os.path.isdir(path) and os.path.isdir(os.path.join(data_dir, "Data", name)):
        path = os.path.join(data_dir, "Data", name)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no directory {path}; {DOWNLOAD_HINT}")
    return path


def _read(directory, stem, required=True):
    path = os.path.join(directory, stem + ".npy")
    if not os.path.isfile(path):
        if not required:
            return None
        raise FileNotFoundError(f"missing {path}; {DOWNLOAD_HINT}")
    try:
        array = np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
    except (ValueError, EOFError, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"{path}: cannot be read as a NumPy .npy array ({reason}); the file is truncated or "
                         f"damaged: replace it (a synthetic region: remove its directory and it is written "
                         f"anew)") from None
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise ValueError(f"{path}: expected finite values, got {bad} non-finite (NaN or Inf) of {array.size}")
    return array


def _as_images(array, stem):
    if array.ndim != 2 or array.shape[1] != PIXELS:
        got = array.shape[1] if array.ndim == 2 else f"an array of shape {array.shape}"
        raise ValueError(f"{stem}.npy: expected {PIXELS} columns (31×31 images), got {got}")
    peak = float(np.max(np.abs(array), initial=0.0))
    if peak > 1e-3:
        raise ValueError(f"{stem}.npy: expected pixel values 0 … 0.000255 (grey levels ×1e-6 as published), "
                         f"got a maximum of {peak:g}")
    images = array * PIXEL_SCALE
    # Grey levels stored as k/10⁶ come back as k ± 1e-13; snap them so 0–255 data stay exactly 0–255.
    levels = np.rint(images)
    if np.all(np.abs(images - levels) < 1e-9):
        images = levels
    return images.reshape((-1,) + IMAGE_SHAPE + (1,))


def _as_responses(array, stem):
    if array.ndim == 1:  # one neuron saved without its column axis
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{stem}.npy: expected a 2-D array (images, neurons), got shape {array.shape}")
    return array


def load_region(region, data_dir=None, normalization="train", dtype="float32"):
    """Load region{k} of Antolík et al. 2016 (or a synthetic region in the same format) as a `Region`.

    data_dir: the directory holding region1/ … (default: $NDNX_DATA).
    normalization: "train" (default), "per_split" (the original msc-neuro behaviour, which normalises
    the validation images by their own statistics: leakage) or "none" (grey levels 0–255); see the
    module docstring.
    dtype: dtype of every returned array (statistics are computed in float64 first).

    Raises FileNotFoundError (missing directory or file, with download instructions) and ValueError
    (wrong shapes, non-finite values, unknown normalisation), each with a one-line message.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"expected normalization in {NORMALIZATIONS}, got {normalization!r}")
    path = region_dir(region, data_dir)
    arrays = {stem: _read(path, stem, required=stem != "raw_validation_set") for stem in FILES}

    x_train = _as_images(arrays["training_inputs"], "training_inputs")
    x_val = _as_images(arrays["validation_inputs"], "validation_inputs")
    y_train = _as_responses(arrays["training_set"], "training_set")
    y_val = _as_responses(arrays["validation_set"], "validation_set")
    for split, x, y in (("training", x_train, y_train), ("validation", x_val, y_val)):
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{split}_inputs.npy has {x.shape[0]} images but {split}_set.npy has "
                             f"{y.shape[0]} rows of responses; expected the same number")
    if y_train.shape[1] != y_val.shape[1]:
        raise ValueError(f"training_set.npy has {y_train.shape[1]} neurons but validation_set.npy has "
                         f"{y_val.shape[1]}; expected the same number")
    trials = arrays["raw_validation_set"]
    if trials is not None and (trials.ndim != 3 or trials.shape[1:] != y_val.shape):
        raise ValueError(f"raw_validation_set.npy: expected shape (repeats, {y_val.shape[0]}, "
                         f"{y_val.shape[1]}), got {trials.shape}")

    mean, std = float(x_train.mean()), float(x_train.std())
    if normalization != "none":
        val_mean, val_std = (mean, std) if normalization == "train" else (float(x_val.mean()), float(x_val.std()))
        if std == 0.0 or val_std == 0.0:
            raise ValueError(f"{path}: expected images with varying pixels, got a constant split "
                             f"(std 0), which cannot be normalised")
        x_train = (x_train - mean) / std
        x_val = (x_val - val_mean) / val_std

    def cast(a):
        return None if a is None else np.ascontiguousarray(a, dtype=dtype)

    return Region(x_train=cast(x_train), y_train=cast(y_train), x_val=cast(x_val), y_val=cast(y_val),
                  y_val_trials=cast(trials), name=f"region{int(region)}", source=path,
                  normalization=normalization, input_mean=mean, input_std=std)


def merge_regions(regions, split="train"):
    """Pool several regions into one data set (msc-neuro `merge_data_and_get_mask`).

    `regions` holds `Region` objects (their `split`, "train" or "val", is used) or plain
    (inputs, responses) pairs. Region k contributes T_k rows and N_k neurons:

        x    = concatenate(x_1, …, x_K) along time                      (ΣT_k, …)
        y    = block-diagonal: rows of region k, columns of its neurons  (ΣT_k, ΣN_k), zero elsewhere
        mask = 1 on those blocks, 0 elsewhere (the data filter: zeros are "not recorded", not silence)

    Returns (x, y, mask); mask has y's dtype.
    """
    if split not in ("train", "val"):
        raise ValueError(f"expected split 'train' or 'val', got {split!r}")
    pairs = []
    for item in regions:
        if isinstance(item, Region):
            pairs.append((item.x_train, item.y_train) if split == "train" else (item.x_val, item.y_val))
        else:
            inputs, responses = item
            pairs.append((np.asarray(inputs), np.asarray(responses)))
    if not pairs:
        raise ValueError("expected at least one region to merge, got none")
    blocks = []
    for i, (inputs, responses) in enumerate(pairs):
        if responses.ndim == 1:
            responses = responses[:, None]
        if responses.ndim != 2 or responses.shape[0] != inputs.shape[0]:
            raise ValueError(f"region {i}: expected responses of shape ({inputs.shape[0]}, neurons) to match "
                             f"{inputs.shape[0]} input rows, got {responses.shape}")
        blocks.append(responses)
    x = np.concatenate([inputs for inputs, _ in pairs], axis=0)
    rows = sum(b.shape[0] for b in blocks)
    cols = sum(b.shape[1] for b in blocks)
    dtype = np.result_type(*blocks, np.float32)
    y = np.zeros((rows, cols), dtype=dtype)
    mask = np.zeros((rows, cols), dtype=dtype)
    r = c = 0
    for b in blocks:
        y[r:r + b.shape[0], c:c + b.shape[1]] = b
        mask[r:r + b.shape[0], c:c + b.shape[1]] = 1
        r, c = r + b.shape[0], c + b.shape[1]
    return x, y, mask
