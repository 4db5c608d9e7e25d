"""The data of a V1 experiment: one region or pooled regions, real or synthetic, as named splits.

    from ndnx.data.v1_splits import experiment_splits
    splits = experiment_splits(regions=[1, 2], data_dir=None)
    x, y = splits["train"]          # y is NaN where a neuron was not recorded (pooled regions)

Every V1 experiment script reads its data through `experiment_splits`, so they all agree on the
normalisations, the pooling and the synthetic fallback:

- Without a data directory (argument, or $NDNX_DATA) a synthetic region in the published format
  is generated once under `<training_data>/data/` and used instead, and the function says so in
  one line on stderr.
- On a synthetic region the validation images are also scored against the ground truth's
  noiseless rates, as the split "noiseless".
- Several regions are pooled as msc-neuro's `merge_data_and_get_mask` does (thesis exp. 3.1.1):
  inputs concatenated in time, outputs block-diagonal. Entries outside a region's block are NaN
  (the ndnx data filter: not recorded, not silence), which the losses and the correlation leave out.
"""

import os
import sys

import numpy as np

from ndnx.data import antolik, synthetic_v1

__all__ = ["experiment_splits", "OUTPUT_NORMALIZATIONS"]

OUTPUT_NORMALIZATIONS = ("none", "std")


def _regions(regions):
    if isinstance(regions, (int, np.integer)):
        return [int(regions)]
    regions = [int(r) for r in regions]
    if not regions or len(set(regions)) != len(regions):
        raise ValueError(f"expected one region or a list of distinct regions, got {regions!r}")
    return regions


def experiment_splits(regions=1, data_dir=None, normalization="train", output_normalization="none",
                      training_root=None):
    """{"train": (x, y), "validation": (x, y)[, "noiseless": (x, rates)][, "validation_trials": trials]}
    for a V1 experiment.

    Args:
        regions: a region number (1, 2, 3) or a list of them to pool.
        data_dir: directory holding region1/ … in the Antolík et al. 2016 format; default
            $NDNX_DATA, else a synthetic region cached under `<training_root>/data/`.
        normalization: input normalisation of `antolik.load_region` ("train", "per_split", "none").
        output_normalization: "none", or "std" — each neuron's responses divided by its training
            standard deviation (thesis exp. 1.2.1; the noiseless rates are scaled alike).
        training_root: the training_data root for the synthetic cache (default: $NDNX_TRAINING_DATA
            or ./training_data).

    Returns float32 arrays; responses (T, neurons) with NaN for neurons of another pooled region.
    "validation_trials" (when every region has its raw_validation_set.npy) holds the single trials
    of the validation images, (images, repeats, neurons), scaled as the responses, NaN where a
    neuron has no trial (another pooled region; a region with fewer repeats): not a split, but what
    the V1 recipe (`ndnx.experiment.NDN3Fit`) scores FEVE and the oracle correlation with.
    """
    regions = _regions(regions)
    if output_normalization not in OUTPUT_NORMALIZATIONS:
        raise ValueError(f"expected output_normalization in {OUTPUT_NORMALIZATIONS}, got {output_normalization!r}")
    data_dir = data_dir or os.environ.get("NDNX_DATA")
    if not data_dir:
        root = training_root or os.environ.get("NDNX_TRAINING_DATA", "training_data")
        data_dir = os.path.join(root, "data")
        states = []
        for region in regions:
            _, generated = synthetic_v1.ensure_default_region(data_dir, region=region)
            states.append(f"region{region} {'generated' if generated else 'cached'}")
        print(f"no Antolík et al. 2016 data given (NDNX_DATA or --set data_dir=...); using the synthetic "
              f"{', '.join(states)} in {data_dir}", file=sys.stderr)

    loaded = [antolik.load_region(r, data_dir, normalization=normalization) for r in regions]
    truths = []
    for region, data in zip(regions, loaded):
        directory = antolik.region_dir(region, data_dir)
        has_truth = os.path.exists(os.path.join(directory, synthetic_v1.GROUND_TRUTH))
        truths.append(synthetic_v1.read_ground_truth(directory)["rates_val"].astype("float32") if has_truth else None)

    scales = []
    for data in loaded:
        if output_normalization == "std":
            std = data.y_train.astype("float64").std(axis=0)
            scales.append(np.where(std > 0, std, 1.0))
        else:
            scales.append(np.ones(data.y_train.shape[1]))

    def pooled(pairs):
        if len(pairs) == 1:
            return pairs[0]
        x, y, mask = antolik.merge_regions(pairs)
        return x, np.where(mask == 1, y, np.nan)

    def scaled(y, scale):
        return (y / scale).astype("float32")

    splits = {
        "train": pooled([(d.x_train, scaled(d.y_train, s)) for d, s in zip(loaded, scales)]),
        "validation": pooled([(d.x_val, scaled(d.y_val, s)) for d, s in zip(loaded, scales)]),
    }
    if all(t is not None for t in truths):
        splits["noiseless"] = pooled([(d.x_val, scaled(t, s)) for d, t, s in zip(loaded, truths, scales)])
    out = {k: (np.asarray(x, dtype="float32"), np.asarray(y, dtype="float32")) for k, (x, y) in splits.items()}
    if all(d.y_val_trials is not None for d in loaded):
        out["validation_trials"] = _pooled_trials(
            # raw_validation_set.npy is (repeats, images, neurons); trials go (images, repeats, neurons)
            [np.swapaxes(np.asarray(d.y_val_trials, "float64"), 0, 1) / s for d, s in zip(loaded, scales)])
    return out


def _pooled_trials(blocks):
    """Trials (images_k, repeats_k, neurons_k) of the regions, pooled as the responses are: images
    concatenated, neurons side by side, NaN where a neuron has no trial."""
    if len(blocks) == 1:
        return np.asarray(blocks[0], dtype="float32")
    images = sum(b.shape[0] for b in blocks)
    repeats = max(b.shape[1] for b in blocks)
    neurons = sum(b.shape[2] for b in blocks)
    out = np.full((images, repeats, neurons), np.nan, dtype="float32")
    i = n = 0
    for b in blocks:
        out[i:i + b.shape[0], :b.shape[1], n:n + b.shape[2]] = b
        i, n = i + b.shape[0], n + b.shape[2]
    return out
