"""Seeds trained as one model: counting replicas, checking the optimizer, taking one out.

A model built from ndnx layers with `replicas=R` holds R independent seeds (the protocol is in
`ndnx.layers.replicas`); its outputs carry the replica axis second, (batch, R, ...).
"""

import keras

from ndnx.layers.replicas import all_layers, lone_config, num_replicas, replicated_variable_ids

__all__ = ["all_layers", "num_replicas", "check_replica_optimizer", "extract_replica",
           "ELEMENTWISE_OPTIMIZERS"]


# Optimizers whose update of every weight entry depends on that entry's gradient history alone.
ELEMENTWISE_OPTIMIZERS = (keras.optimizers.SGD, keras.optimizers.Adam, keras.optimizers.AdamW,
                          keras.optimizers.Adamax, keras.optimizers.Nadam, keras.optimizers.RMSprop,
                          keras.optimizers.Adagrad, keras.optimizers.Adadelta, keras.optimizers.Ftrl,
                          keras.optimizers.Lion, keras.optimizers.ScheduleFreeAdamW)
_MIXING = {
    "Lamb": "scales each weight's step by a trust ratio of norms over the whole weight",
    "Adafactor": "factors the second moments into row and column means over the whole weight",
    "Muon": "orthogonalises each weight's update as a matrix",
}


def _mixing_reason(optimizer):
    """Why `optimizer` mixes the entries of a weight (None when it is elementwise)."""
    name = type(optimizer).__name__
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        reason = _mixing_reason(optimizer.inner_optimizer)
        return None if reason is None else f"its inner optimizer: {reason}"
    if isinstance(optimizer, keras.optimizers.MultiOptimizer):
        reasons = [r for r in map(_mixing_reason, optimizer.optimizers) if r is not None]
        return reasons[0] if reasons else None
    for option in ("clipnorm", "global_clipnorm"):
        if getattr(optimizer, option, None) is not None:
            return (f"{name} has {option}={getattr(optimizer, option)}, a norm over every seed's entries "
                    "(clipvalue clips entry by entry and is fine)")
    if type(optimizer) in ELEMENTWISE_OPTIMIZERS or getattr(optimizer, "elementwise", False) is True:
        return None
    if getattr(optimizer, "keeps_replicas_apart", False) is True:  # e.g. clips replica by replica
        return None
    if name in _MIXING:
        return f"{name} {_MIXING[name]}"
    return (f"{name} is not known to be elementwise (a class whose update of every entry depends on that "
            "entry alone may declare `elementwise = True`)")


def check_replica_optimizer(model):
    """Refuse a replicated model whose optimizer mixes the entries of a weight.

    The seeds of a replicated model are independent only if every weight entry is updated from
    its own gradient history: SGD (with momentum/Nesterov), Adam, AdamW, Adamax, Nadam, RMSprop,
    Adagrad, Adadelta, Ftrl, Lion, ScheduleFreeAdamW, `clipvalue`, and optimizer classes that
    declare `elementwise = True` (or `keeps_replicas_apart = True`: they mix entries only within
    a replica, as `ndnx.training.ei_tasks.ReplicaClippedAdam` does). LAMB, Adafactor, Muon, `clipnorm` / `global_clipnorm` (and a
    LossScaleOptimizer or MultiOptimizer around any of them) let one seed's gradient change
    another seed's step, and raise a ValueError. A plain model, or one not compiled yet, passes.
    (A LossScaleOptimizer skips a step for every seed when any gradient is not finite.)
    """
    if num_replicas(model) is None or getattr(model, "optimizer", None) is None:
        return
    reason = _mixing_reason(model.optimizer)
    if reason is not None:
        raise ValueError(f"{model.name}: a replicated model needs an elementwise optimizer, or its seeds are not "
                         f"independent; {reason}")


def lone_loss(loss):
    """`loss` (or a structure of losses) with replica_axis=None where it has that option."""
    if isinstance(loss, dict):
        return {k: lone_loss(v) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return type(loss)(lone_loss(v) for v in loss)
    if isinstance(loss, keras.losses.Loss) and "replica_axis" in loss.get_config():
        return loss.__class__.from_config(dict(loss.get_config(), replica_axis=None))
    return loss


def extract_replica(model, r):
    """Replica r of a replicated model as an ordinary (replicas=None) model.

    Works through functional, Sequential and subclassed models (whose `get_config` carries
    `replicas` and `seed`), nested models, sublayers and the cells of `keras.layers.RNN`: every
    config entry with `replicas` becomes replicas=None with its r-th seed
    (`ndnx.layers.replicas.lone_config`), the model is rebuilt (a subclassed one from the
    original's input shape), each variable the replicated layers recorded as replicated gives its
    r-th slice and every other variable is copied as it is, and each replica's random-number
    state goes to the lone layer. The result predicts exactly what replica r predicts. A compiled
    ensemble gives a model compiled with the same loss (replica_axis=None) and a fresh optimizer
    of the same configuration.
    """
    replicas = num_replicas(model)
    if replicas is None:
        raise ValueError(f"{model.name}: not a replicated model (no layer has replicas set)")
    if not 0 <= r < replicas:
        raise ValueError(f"{model.name}: replica index must be in [0, {replicas}), got {r}")
    single = model.__class__.from_config(lone_config(model.get_config(), r))
    if not single.built:
        build_config = model.get_build_config()
        if not build_config:
            raise ValueError(f"{model.name}: an unbuilt model cannot be extracted; call it on data first")
        single.build_from_config(build_config)
    replicated = replicated_variable_ids(model)
    if len(model.weights) != len(single.weights):
        raise ValueError(f"{model.name}: replica {r} rebuilt with {len(single.weights)} weights, the ensemble "
                         f"has {len(model.weights)}")
    for source, target in zip(model.weights, single.weights):
        value = source.numpy()
        if id(source) in replicated:
            value = value[r]
        if value.shape != tuple(target.shape):
            raise ValueError(f"{model.name}: weight {source.path} of replica {r} has shape {value.shape}, the "
                             f"rebuilt model's {target.path} {tuple(target.shape)}")
        target.assign(value)
    for source, target in zip([model, *all_layers(model)], [single, *all_layers(single)]):
        for name, generators in getattr(source, "_replica_generators", {}).items():
            target._replica_generators[name][0].state.assign(generators[r].state.value)
    if getattr(model, "compiled", False) and model.optimizer is not None:
        # Same loss and a fresh optimizer of the same configuration (its state is per ensemble).
        # (an optimizer configured per replica, e.g. ReplicaClippedAdam, becomes its lone form)
        optimizer = model.optimizer.__class__.from_config(lone_config(model.optimizer.get_config(), r))
        single.compile(optimizer=optimizer, loss=lone_loss(model.loss), jit_compile=model.jit_compile)
        optimizer.build(single.trainable_variables)  # saved built: reloads without a warning
    return single
