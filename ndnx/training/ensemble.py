"""Seeds trained as one model: counting replicas, taking one out.

A model built from ndnx layers with `replicas=R` holds R independent seeds (see
`ndnx.layers.replicas`); its outputs carry the replica axis second, (batch, R, ...).
"""

import keras

__all__ = ["all_layers", "num_replicas", "extract_replica"]


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
