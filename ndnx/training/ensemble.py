"""Seeds trained as one model: counting replicas, evaluating them, taking one out.

A model built from ndnx layers with `replicas=R` holds R independent seeds (see
`ndnx.layers.replicas`); its outputs carry the replica axis second, (batch, R, ...).
"""

import numpy as np
import keras

from ndnx.metrics import pearson_per_neuron

__all__ = ["all_layers", "num_replicas", "extract_replica", "predict", "supervised_evaluation"]


def num_replicas(model):
    """R for a replicated model, None for a plain one (mixed replica counts are an error)."""
    counts = {layer.replicas for layer in all_layers(model) if getattr(layer, "replicas", None) is not None}
    if len(counts) > 1:
        raise ValueError(f"{model.name}: layers disagree on the number of replicas: {sorted(counts)}")
    return counts.pop() if counts else None


def all_layers(model):
    """Every layer of `model`, nested models and their layers included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def extract_replica(model, r):
    """A plain (replicas=None) copy of replica r of a replicated functional model.

    Each replicated layer is rebuilt with `replicas=None` and its r-th seed, and every weight gets
    its r-th slice, so the result predicts exactly what replica r predicts. A compiled ensemble
    gives a model compiled with the same loss and a fresh optimizer of the same configuration.
    """
    replicas = num_replicas(model)
    if replicas is None:
        raise ValueError(f"{model.name}: not a replicated model (no layer has replicas set)")
    if not 0 <= r < replicas:
        raise ValueError(f"{model.name}: replica index must be in [0, {replicas}), got {r}")
    config = model.get_config()
    for layer_config in config["layers"]:
        # Shapes recorded at build time carry the replica axis; let the graph rebuild them.
        layer_config.pop("build_config", None)
        inner = layer_config["config"]
        if inner.get("replicas") is not None:
            inner["replicas"] = None
            seed = inner.get("seed")
            inner["seed"] = seed[r] if isinstance(seed, (list, tuple)) else None
    single = model.__class__.from_config(config)
    for source, target in zip(model.layers, single.layers):
        weights = source.get_weights()
        if getattr(source, "replicas", None) is not None:
            weights = [w[r] for w in weights]
        target.set_weights(weights)
    if getattr(model, "compiled", False) and model.optimizer is not None:
        # Same loss and a fresh optimizer of the same configuration (its state is per ensemble).
        optimizer = model.optimizer.__class__.from_config(model.optimizer.get_config())
        single.compile(optimizer=optimizer, loss=model.loss, jit_compile=model.jit_compile)
        optimizer.build(single.trainable_variables)  # saved built: reloads without a warning
    return single


def predict(model, x, batch_size=256):
    """Predictions in inference mode, as NumPy, through one compiled function."""
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def supervised_evaluation(model, x, y, batch_size=256):
    """Per-replica data loss and mean Pearson correlation on (x, y).

    Returns {"loss": (R,), "correlation": (R,)} (R = 1 for a plain model). The loss is the
    model's compiled loss without penalties, evaluated on the whole split at once.
    """
    pred = predict(model, x, batch_size)
    if num_replicas(model) is None:
        pred = pred[:, None]
    y = np.asarray(y)
    # NaN marks unrecorded entries (pooled regions): left out of the correlation, as of the loss.
    recorded = ~np.isnan(y) if np.issubdtype(y.dtype, np.floating) else None
    mask = None if recorded is None or recorded.all() else recorded.reshape(y.shape[0], -1)
    losses = []
    for r in range(pred.shape[1]):
        losses.append(float(model.loss(y, pred[:, r])) if model.loss is not None else np.nan)
    target = y.reshape(y.shape[0], -1)
    if mask is not None:
        target = np.where(mask, target, 0.0)
    corr = pearson_per_neuron(pred.reshape(pred.shape[0], pred.shape[1], -1), target, mask).mean(axis=-1)
    return {"loss": np.asarray(losses), "correlation": np.asarray(corr)}
