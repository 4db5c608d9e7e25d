"""Scoring a (possibly replicated) model on one split of data, one number per replica.

An evaluation is a function `evaluate(model, *split) -> {metric: array of shape (R,)}` (R = 1 for
a plain model). `split` is how the data of that split were given: `(x, y)` or `(x, y, w)` for
supervised arrays, `(x,)` for x-only data, `(dataset,)` for a `tf.data.Dataset`. `split_arguments`
turns a split into those arguments; `loss_evaluation` is the default of `ndnx.training.train`.
"""

import numpy as np
import keras
import tensorflow as tf

from ndnx.layers.replicas import num_replicas

__all__ = ["split_arguments", "is_supervised", "loss_evaluation", "replica_predictions", "replica_losses"]


def split_arguments(data):
    """The arguments of one split for an evaluation: a tuple is (x, y[, w]); anything else is x alone."""
    if isinstance(data, tuple):
        if not 1 <= len(data) <= 3:
            raise ValueError(f"expected a split as (x, y) or (x, y, sample_weight), got a tuple of {len(data)}")
        return data
    return (data,)


def is_supervised(data):
    """True for in-memory (x, y[, w]) arrays (not x-only data, not a pipeline)."""
    return isinstance(data, tuple) and len(data) >= 2 and data[1] is not None and not isinstance(
        data[0], tf.data.Dataset)


def fixed_batch_size(model):
    """The batch size a model was built for (a stateful RNN's), or None when any batch size goes."""
    sizes = {int(t.shape[0]) for t in getattr(model, "inputs", None) or () if t.shape and t.shape[0] is not None}
    return sizes.pop() if len(sizes) == 1 else None


def replica_predictions(model, x, batch_size=256):
    """The model's predictions in inference mode as NumPy, with a replica axis of 1 for a plain model.

    A model built for a fixed batch size (a stateful RNN) is fed batches of that size, in order.
    """
    pred = np.asarray(model.predict(x, batch_size=fixed_batch_size(model) or batch_size, verbose=0))
    return pred[:, None] if num_replicas(model) is None else pred


def replica_losses(model, y, pred):
    """Each replica's compiled loss (no penalties): `pred` from `replica_predictions` (a replica axis
    even for a plain model). Returns an array of shape (R,)."""
    loss = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss

    def value(p):
        # A loss function (not a Loss object) gives per-sample values: their mean, as compile() reduces.
        return float(np.mean(np.asarray(loss(y, p))))

    if num_replicas(model) is None:
        return np.asarray([value(pred[:, 0])])
    axis = getattr(loss, "replica_axis", None)
    if axis is not None:  # a loss that takes the replica axis explicitly: keep an axis of one
        return np.asarray([value(np.take(pred, [r], axis=axis)) for r in range(pred.shape[axis])])
    return np.asarray([value(pred[:, r]) for r in range(pred.shape[1])])


def loss_evaluation(model, *split, batch_size=256):
    """{"loss": (R,)}: each replica's loss on one split, penalties left out.

    Supervised arrays (x, y[, w]) with a compiled loss: every replica's predictions scored by the
    compiled loss on the whole split at once. Anything else (x-only data, a tf.data pipeline, a
    model without a compiled loss): the model's own `test_step` through `model.evaluate`; each
    value must then be a scalar for a plain model and one value per replica for a replicated one.
    """
    replicas = num_replicas(model)
    data = split[0] if len(split) == 1 else tuple(split)
    if is_supervised(data) and model.loss is not None:
        return {"loss": replica_losses(model, data[1], replica_predictions(model, data[0], batch_size))}
    if isinstance(data, tuple):
        results = model.evaluate(*data, verbose=0, return_dict=True)
    else:
        results = model.evaluate(data, verbose=0, return_dict=True)
    out = {}
    for name, value in results.items():
        value = np.asarray(value, dtype="float64").reshape(-1)
        want = 1 if replicas is None else replicas
        if value.size != want:
            raise ValueError(
                f"loss_evaluation: {model.name} holds {want} replica(s) but its test_step gives {value.size} "
                f"value(s) of {name!r}; give an evaluate= that scores each replica")
        out[name] = value
    return out
