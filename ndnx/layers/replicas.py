"""Independent replicas of one layer, held in one set of stacked weights.

Seeds of a V1 experiment are trained as one Keras model: every weight gets a leading axis of
length `replicas`, replica r is initialised exactly as a lone layer seeded with `seeds[r]` would
be, and the replicas never mix, so one optimizer step on the summed loss advances every seed by
the step it would have taken alone (Adam is element-wise). On a 2-core CPU this turns tiny
per-seed steps into one larger step and is what makes 10 seeds × 1000 epochs fit in minutes.

Tensors inside a replicated model carry the replica axis second: (batch, replicas, ...). The first
layer of a model takes the shared input (batch, ...) and adds the axis.
"""

import numpy as np
import keras

from ndnx.seeding import derive_seed

__all__ = ["normalize_replica_seeds", "seeded_initializer", "add_replica_weight"]


def normalize_replica_seeds(layer_name, seed, replicas):
    """Per-replica integer seeds from the layer's `seed` argument.

    `seed` is an int, None, or a list of ints (one per replica). An int with `replicas=R` gives
    replica r the seed `derive_seed(seed, r)`; a list is taken as given, so a model builder can
    hand replica r exactly the seed a lone model with seed r would use.
    """
    if replicas is None:
        if isinstance(seed, (list, tuple)):
            raise ValueError(
                f"{layer_name}: seed must be an int or None when replicas is None, got a list "
                f"of {len(seed)}"
            )
        return None if seed is None else [int(seed)]
    if not isinstance(replicas, (int, np.integer)) or replicas < 1:
        raise ValueError(f"{layer_name}: replicas must be a positive int or None, got {replicas!r}")
    if isinstance(seed, (list, tuple)):
        if len(seed) != replicas:
            raise ValueError(
                f"{layer_name}: expected one seed per replica ({replicas}), got {len(seed)} seeds"
            )
        return [int(s) for s in seed]
    if seed is None:
        return None
    return [derive_seed(seed, r) for r in range(replicas)]


def seeded_initializer(initializer, seed):
    """A copy of a Keras initializer with its seed set (initializers without a seed unchanged)."""
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()
    if "seed" in config and seed is not None:
        config = dict(config, seed=int(seed))
        return initializer.__class__.from_config(config)
    return initializer


def add_replica_weight(layer, name, shape, initializer, seeds, replicas, **kwargs):
    """`layer.add_weight` with a leading replica axis when `replicas` is set.

    Replica r's slice is `initializer` seeded with `derive_seed(seeds[r], name)`, the value a lone
    layer (replicas=None, seed=seeds[r]) gives the same weight.
    """
    shape = tuple(int(s) for s in shape)

    def per_replica_seed(r):
        return None if seeds is None else derive_seed(seeds[r], name)

    if replicas is None:
        init = seeded_initializer(initializer, per_replica_seed(0))
        return layer.add_weight(name=name, shape=shape, initializer=init, **kwargs)

    def stacked(shape_, dtype=None):
        parts = [
            keras.ops.convert_to_tensor(seeded_initializer(initializer, per_replica_seed(r))(shape, dtype=dtype))
            for r in range(replicas)
        ]
        return keras.ops.stack(parts, axis=0)

    regularizer = kwargs.pop("regularizer", None)
    if regularizer is not None:
        regularizer = _per_replica_penalty(keras.regularizers.get(regularizer), replicas)
    return layer.add_weight(name=name, shape=(replicas,) + shape, initializer=stacked,
                            regularizer=regularizer, **kwargs)


def _per_replica_penalty(regularizer, replicas):
    # A penalty defined as a mean (NDNT convention) must not average over replicas: each replica
    # pays its own penalty, as it would alone, and the ensemble's loss is their sum.
    def penalty(weight):
        return sum(regularizer(weight[r]) for r in range(replicas))

    return penalty
