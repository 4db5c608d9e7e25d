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

Example (experiments/v1/baseline4.py):

    experiment = Experiment("v1/baseline4", defaults=..., data=load, build=build, fit=NDN3Fit())
"""

import numpy as np

from ndnx.experiment.fits.epochs import Epochs
from ndnx.experiment.fits.fit import Objective

__all__ = ["NDN3Fit", "supervised_evaluation", "METRICS"]

#: What the V1 recipe's metrics are (written to run_info.json; `ndnx summarize` prints them).
#: Papers report the mean or the median over neurons of the per-neuron correlation; they differ.
METRICS = {
    "loss": "the compiled loss without penalties, on the whole split",
    "correlation": "mean over neurons of per-neuron Pearson r",
    "correlation_median": "median over neurons of per-neuron Pearson r",
}


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


class NDN3Fit(Epochs):
    """`Epochs` of a supervised V1 model with NDN3's early stopping, L-BFGS and last-batch options."""

    keys = {**Epochs.keys, "early_stop": 0, "early_stop_on": "validation", "lbfgs_maxiter": 0,
            "lbfgs_rounds": 1, "drop_last_batch": False}
    required = ("epochs", "batch_size")
    objective = Objective("validation", "correlation", "max")
    descriptions = METRICS

    def evaluation(self):
        return supervised_evaluation

    def train_options(self, config):
        return {
            "early_stop": {"patience": int(config["early_stop"]), "split": config["early_stop_on"]}
            if int(config["early_stop"]) > 0 else None,
            "lbfgs": {"maxiter": int(config["lbfgs_maxiter"]), "rounds": int(config["lbfgs_rounds"])}
            if int(config["lbfgs_maxiter"]) > 0 else None,
            "drop_remainder": bool(config["drop_last_batch"]),
        }
