"""The V1 recipe: NDN3's fitting options on top of `Epochs`, scored by the validation correlation.

The experiments of the V1 thesis (msc-neuro on NDN3) train supervised models over in-memory
(stimulus, response) arrays, evaluate each seed's loss and mean Pearson correlation over neurons,
and pick and compare models by the validation correlation. NDN3 offered more ways to fit than
fixed epochs of Adam; `NDN3Fit` reads them from the configuration under NDN3's names
(spec v1_system_identification.md §5.1):

    early_stop       patience in epochs (0: fixed epochs); each seed keeps its own best weights
    early_stop_on    "validation" (NDN3 early_stop_mode 1) or "train" (mode 2)
    lbfgs_maxiter    > 0: full-batch L-BFGS after the epochs; with epochs=0 the only fit
                     (NDN3 learning_alg='lbfgs')
    lbfgs_rounds     restart L-BFGS from where it stopped, as the original HSM fit ran
    drop_last_batch  upstream NDN3's floor(T / batch_size) steps (default False keeps the last
                     partial batch, as the thesis's fork did)

What it logs (`METRICS`): per split the loss and the mean and median over neurons of the per-neuron
correlation; on the validation split of data with repeated trials (a "validation_trials" entry)
also FEVE and the oracle correlation; the first-layer filters as images at every checkpoint
(`filter_images`).

Example (experiments/v1/baseline4.py):

    experiment = Experiment("v1/baseline4", defaults=..., data=load, build=build, fit=NDN3Fit())
"""

import numpy as np

from ndnx.experiment.config import boolean, integer, one_of
from ndnx.experiment.fits.epochs import Epochs
from ndnx.experiment.fits.fit import Objective

__all__ = ["NDN3Fit", "supervised_evaluation", "METRICS", "with_repeats", "filter_images"]

#: What the V1 recipe's metrics are (written to run_info.json; `ndnx summarize` prints them).
#: Papers report the mean or the median over neurons of the per-neuron correlation; they differ.
METRICS = {
    "loss": "the compiled loss without penalties, on the whole split",
    "correlation": "mean over neurons of per-neuron Pearson r",
    "correlation_median": "median over neurons of per-neuron Pearson r",
    "feve": "mean over neurons of the fraction of explainable variance explained, against the single "
            "trials (Cadena et al. 2019, unclipped)",
    "oracle_correlation": "mean over neurons of the leave-one-out oracle of the repeated trials (one trial "
                          "against the mean of the others; ndnx.metrics.oracle_correlation): the ceiling of a "
                          "single-trial correlation, not of `correlation` (which is against the trial "
                          "average); the same for every seed",
}

#: At most this many filters of a layer are shown as images.
MAX_IMAGES = 16


def supervised_evaluation(model, x, y, batch_size=256):
    """Per-replica data loss and the mean and median over neurons of the per-neuron Pearson r on (x, y).

    Returns {"loss": (R,), "correlation": (R,), "correlation_median": (R,)} (R = 1 for a plain
    model; `METRICS` says what each is). The loss is the model's compiled loss without penalties,
    evaluated on the whole split at once; NaN targets (unrecorded entries of pooled regions) are
    left out of all three.
    """
    from ndnx.metrics import pearson_per_neuron
    from ndnx.training.evaluation import replica_losses, replica_predictions

    pred = replica_predictions(model, x, batch_size)
    y = np.asarray(y)
    recorded = ~np.isnan(y) if np.issubdtype(y.dtype, np.floating) else None
    mask = None if recorded is None or recorded.all() else recorded.reshape(y.shape[0], -1)
    target = y.reshape(y.shape[0], -1)
    if mask is not None:
        target = np.where(mask, target, 0.0)
    per_neuron = pearson_per_neuron(pred.reshape(pred.shape[0], pred.shape[1], -1), target, mask)  # (R, N)
    losses = replica_losses(model, y, pred) if model.loss is not None else np.full(pred.shape[1], np.nan)
    return {"loss": losses, "correlation": per_neuron.mean(axis=-1),
            "correlation_median": np.median(per_neuron, axis=-1)}


supervised_evaluation.descriptions = METRICS


def with_repeats(evaluate, validation, trials, batch_size=256):
    """`evaluate`, and on the validation split also the metrics of its repeated trials.

    `validation` is the (x, y) split the experiment's data name "validation" (y the trial-averaged
    responses) and `trials` its single trials, (images, repeats, neurons) with NaN for a missing
    trial (`ndnx.metrics.stack_repeats`; the Antolík et al. 2016 files hold (repeats, images,
    neurons): `ndnx.metrics.repeats_from_trials_first`). The split is recognised by its y (the same
    array object), so other splits on the same images (the noiseless rates) are left alone.
    Adds, per replica: "feve" (`ndnx.metrics.mean_feve`, unclipped, every neuron) and
    "oracle_correlation" (mean over neurons of `ndnx.metrics.oracle_correlation(trials)`, the
    same for every replica: the ceiling to read the correlation against); `METRICS` says what
    each is. Predictions that are not finite (a diverged fit) give NaN.
    """
    from ndnx.metrics import mean_feve, oracle_correlation
    from ndnx.training.evaluation import replica_predictions

    target = validation[1]
    trials = np.asarray(trials, dtype="float64")
    images, neurons = np.shape(target)[0], int(np.prod(np.shape(target)[1:]))
    if trials.ndim != 3 or trials.shape[0] != images or trials.shape[2] != neurons:
        raise ValueError(f"with_repeats: the validation trials must be (images={images}, repeats, "
                         f"neurons={neurons}), got shape {trials.shape}")
    oracle = float(np.mean(oracle_correlation(trials)))

    def evaluated(model, *split):
        values = dict(evaluate(model, *split))
        if len(split) >= 2 and split[1] is target:
            pred = replica_predictions(model, split[0], batch_size)
            pred = pred.reshape(pred.shape[0], pred.shape[1], -1).astype("float64")
            finite = bool(np.isfinite(pred).all())
            values["feve"] = mean_feve(pred, trials) if finite else np.full(pred.shape[1], np.nan)
            values["oracle_correlation"] = np.full(pred.shape[1], oracle)
        return values

    evaluated.__name__ = f"{getattr(evaluate, '__name__', 'evaluation')}_with_repeats"
    evaluated.descriptions = {**(getattr(evaluate, "descriptions", None) or {}),
                              "feve": METRICS["feve"], "oracle_correlation": METRICS["oracle_correlation"]}
    return evaluated


def _per_replica(array, axis, replicated):
    """Move the replica axis of a weight to the front (a plain layer's weight gets one of size 1)."""
    array = np.asarray(array, dtype="float64")
    return np.moveaxis(array, axis, 0) if replicated else array[None]


def filter_images(model):
    """The first-layer filters of a V1 model, k ≤ `MAX_IMAGES` images per replica, for TensorBoard.

    The first layer with weights: a `DifferenceOfGaussians` (its DoG kernels), a
    `ConvDifferenceOfGaussians` (its kernels), a `Conv2D` (its kernels on the first input channel)
    or a `Dense` layer on single-channel images (each unit's weights as an image). Returns
    {"<layer>/filters": (R, k, height, width)}, or {} when the first layer is none of these.
    `NDN3Fit` logs them at every checkpoint (`ndnx.training.train(images=...)`).
    """
    from ndnx.layers import Conv2D, ConvDifferenceOfGaussians, Dense, DifferenceOfGaussians

    for layer in model.layers:
        if not layer.weights:
            continue
        replicated = getattr(layer, "replicas", None) is not None
        if isinstance(layer, DifferenceOfGaussians):
            k = np.asarray(layer.kernels(), dtype="float64")  # (H·W, [R,] F)
            k = k.reshape((layer.height, layer.width) + k.shape[1:])
            stack = np.moveaxis(_per_replica(k, 2, replicated), -1, 1)  # (R, F, H, W)
        elif isinstance(layer, ConvDifferenceOfGaussians):
            k = np.asarray(layer.kernels(), dtype="float64")  # (kh, kw, [R,] F)
            stack = np.moveaxis(_per_replica(k, 2, replicated), -1, 1)
        elif isinstance(layer, Conv2D):
            k = _per_replica(layer.kernel, 0, replicated)  # (R, kh, kw, channels, F)
            stack = np.moveaxis(k[..., 0, :], -1, 1)
        elif isinstance(layer, Dense):
            shape = tuple(model.inputs[0].shape[1:])
            k = _per_replica(layer.kernel, 0, replicated)  # (R, inputs, units)
            if len(shape) != 3 or shape[-1] != 1 or None in shape or k.shape[1] != shape[0] * shape[1]:
                return {}
            stack = np.moveaxis(k.reshape(k.shape[0], shape[0], shape[1], k.shape[-1]), -1, 1)
        else:
            return {}
        return {f"{layer.name}/filters": stack[:, :MAX_IMAGES]}
    return {}


class NDN3Fit(Epochs):
    """`Epochs` of a supervised V1 model with NDN3's early stopping, L-BFGS and last-batch options."""

    keys = {**Epochs.keys, "early_stop": 0, "early_stop_on": "validation", "lbfgs_maxiter": 0,
            "lbfgs_rounds": 1, "drop_last_batch": False}
    checks = {**Epochs.checks, "batch_size": integer(1), "early_stop": integer(0),
              "early_stop_on": one_of("validation", "train"), "lbfgs_maxiter": integer(0),
              "lbfgs_rounds": integer(1), "drop_last_batch": boolean}
    required = ("epochs", "batch_size")
    objective = Objective("validation", "correlation", "max")
    descriptions = METRICS

    def evaluation(self):
        return supervised_evaluation

    images = staticmethod(filter_images)

    def fit(self, model, job):
        """As `Epochs.fit`; data with a "validation_trials" entry (the single trials of the validation
        split, as `ndnx.data.v1_splits.experiment_splits` gives them) add the metrics of repeated
        trials to the validation split's evaluation (`with_repeats`)."""
        splits = dict(job.data)
        trials = splits.pop("validation_trials", None)
        evaluate = job.evaluate or self.evaluation()
        if trials is not None and splits.get("validation") is not None:
            evaluate = with_repeats(evaluate, splits["validation"], trials)
        return self.train(model, job, splits, evaluate)

    def train_options(self, config):
        return {
            "early_stop": {"patience": int(config["early_stop"]), "split": config["early_stop_on"]}
            if int(config["early_stop"]) > 0 else None,
            "lbfgs": {"maxiter": int(config["lbfgs_maxiter"]), "rounds": int(config["lbfgs_rounds"])}
            if int(config["lbfgs_maxiter"]) > 0 else None,
            "drop_remainder": bool(config["drop_last_batch"]),
        }
