"""Replicas: R independent seeds of one layer, held in one set of stacked weights.

Seeds of an experiment are trained as one Keras model: every layer and cell takes `replicas=R`,
and replica r of the model *is* the model built alone with seed r, trained on the same batches.
On a 2-core CPU this turns tiny per-seed steps into one larger step and is what makes 10 seeds ×
1000 epochs fit in minutes. This module is the protocol every replicated object keeps.

The replica axis
    Weights carry it first: a weight of shape S is stored as (R,) + S. Tensors carry it second:
    per-step tensors are (batch, R, ...). The first layer of a model takes the shared input
    (batch, ...) and adds the axis; later layers take (batch, R, ...). A layer whose feature rank
    is fixed tells the two apart by rank (`ReplicatedLayer.split_replica_input`); a layer of any
    rank (LinScale, Dropout) is told by an argument (`per_replica_input`).

Sequences
    A sequence is what `keras.layers.RNN` sees: (batch, time, ...) without replicas and
    (batch, time, R, ...) with them — time stays second, the replica axis follows it. RNN hands
    a cell one step (batch, R, ...) of it (or of a shared sequence (batch, time, ...), one step
    (batch, ...)); a replicated cell's state and output are (batch, R, units), and the RNN's
    outputs are (batch, time, R, units) or, for the last step, (batch, R, units). A loss on
    sequences takes the replica axis at 2 (`PoissonLoss(replica_axis=2)`). `keras.layers.RNN`
    runs a replicated cell as it is but reports its symbolic shapes from the cell's integer
    `output_size`, without the replica axis; `ndnx.cells.RNN` reports them with it.

Seeds
    `seed` is an int, None, or one int per replica. Replica r's seed is `seeds[r]` for a list and
    `derive_seed(seed, r)` for an int (`normalize_replica_seeds`); the replicated object then
    equals, weight for weight, the lone object (replicas=None) built with seed=seeds[r]. A weight
    named w of a lone object with seed s is drawn from its initializer seeded with
    `derive_seed(s, w)` (`ReplicatedLayer.add_replica_weight`); a sublayer named n gets the seed
    `derive_seed(s, n)` (`ReplicatedLayer.sublayer_seed`). Model builders seed layer l of a model
    with seed s by `derive_seed(s, l)` and replica r by s + r (`layer_seeds`), so replica r of
    `builder(seed=s, replicas=R)` is `builder(seed=s + r)`.

Per-replica random draws
    Every random op inside a replicated object (dropout masks, noise, sampled positions) is
    drawn per replica, from replica r's own `keras.random.SeedGenerator` seeded as the lone
    object with seed r seeds it (`ReplicatedLayer.add_replica_generators`), on the slice the lone
    object would see (`ReplicatedLayer.replica_map`). Replica r therefore draws exactly what the
    lone object draws, call after call, in training too.

Losses and optimizers
    The loss of a replicated model is the sum of its replicas' losses, so each replica's gradient
    is the one it would get alone. ndnx losses are told where the replica axis is
    (`replica_axis=1`, or 2 for sequences) instead of guessing it from ranks. The seeds stay apart
    only if the optimizer updates every weight entry from that entry's own gradient history
    (SGD, Adam, RMSprop, ...): clipping by a norm, factored moments (Adafactor), trust ratios
    (LAMB) and orthogonalised updates (Muon) mix the seeds, and
    `ndnx.training.ensemble.check_replica_optimizer` refuses them.

Extraction
    A replicated object records which of its variables carry the replica axis
    (`ReplicatedLayer.replica_weights`; `replicated_variable_ids(model)` for a whole model).
    `ndnx.training.extract_replica(model, r)` rewrites every config entry that has `replicas`
    (layers, cells inside `keras.layers.RNN`, nested and subclassed models) to replicas=None and
    its r-th seed (`lone_config`), rebuilds, copies the recorded variables' r-th slices and every
    other variable as it is, and hands each replica's random-number state to the lone object. A
    subclassed model that takes `replicas` and `seed` keeps the layer rule (replica r is the model
    built with seed `normalize_replica_seeds(..., seed, R)[r]`; `child_seeds` seeds its layers)
    and is rebuilt from its input shape; a nested functional model is rebuilt from its own
    inputs, which therefore must be shared (without the replica axis).

Writing a replicated layer
    Subclass `ReplicatedLayer`, pass `replicas` and `seed` to its constructor, create weights with
    `self.add_replica_weight(name, shape, initializer, ...)` (a regularizer then sums each
    replica's own penalty), draw random numbers with generators from
    `self.add_replica_generators(...)` inside `self.replica_map(...)`, and chain `get_config`
    through `super()` (it adds `replicas` and `seed`).
"""

import numpy as np
import keras
from keras import ops

from ndnx.seeding import derive_seed

__all__ = ["ReplicatedLayer", "normalize_replica_seeds", "check_replicas", "seeded_initializer", "layer_seeds",
           "child_seeds", "all_layers", "num_replicas", "replicated_variable_ids", "lone_config"]


def check_replicas(layer_name, replicas):
    """`replicas` as an int ≥ 1, or None; a one-line ValueError otherwise."""
    if replicas is None:
        return None
    if isinstance(replicas, bool) or not isinstance(replicas, (int, np.integer)) or replicas < 1:
        raise ValueError(f"{layer_name}: replicas must be a positive int or None, got {replicas!r}")
    return int(replicas)


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def normalize_replica_seeds(layer_name, seed, replicas):
    """Per-replica integer seeds from the layer's `seed` argument (None when `seed` is None).

    `seed` is an int, None, or a list of ints (one per replica). An int with `replicas=R` gives
    replica r the seed `derive_seed(seed, r)`; a list is taken as given, so a model builder can
    hand replica r exactly the seed a lone model with seed r would use. A lone object (replicas
    None) gets `[seed]`.
    """
    replicas = check_replicas(layer_name, replicas)
    if isinstance(seed, (list, tuple)):
        if replicas is None:
            raise ValueError(f"{layer_name}: seed must be an int or None when replicas is None, got a list "
                             f"of {len(seed)}")
        if len(seed) != replicas:
            raise ValueError(f"{layer_name}: expected one seed per replica ({replicas}), got {len(seed)} seeds")
        if not all(_is_int(s) for s in seed):
            raise ValueError(f"{layer_name}: seed must be a list of ints, got {list(seed)!r}")
        return [int(s) for s in seed]
    if seed is None:
        return None
    if not _is_int(seed):
        expected = "an int or None" if replicas is None else "an int, None or one int per replica"
        raise ValueError(f"{layer_name}: seed must be {expected}, got {seed!r}")
    if replicas is None:
        return [int(seed)]
    return [derive_seed(int(seed), r) for r in range(replicas)]


def seeded_initializer(initializer, seed):
    """A copy of a Keras initializer with its seed set (initializers without a seed unchanged)."""
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()
    if "seed" in config and seed is not None:
        config = dict(config, seed=int(seed))
        return initializer.__class__.from_config(config)
    return initializer


def layer_seeds(seed, replicas, layer):
    """The `seed` argument of layer `layer` in a model built with seed `seed` (an int).

    Alone the layer gets `derive_seed(seed, layer)`; with replicas, replica r gets the seed it
    has in the model built alone with seed + r, so replica r of an ensemble built with `seed=s`
    is the model built alone with `seed=s + r`.
    """
    if replicas is None:
        return derive_seed(seed, layer)
    return [derive_seed(seed + r, layer) for r in range(replicas)]


def child_seeds(seeds, replicas, name):
    """The `seed` argument of a sublayer `name` of an object with per-replica `seeds`.

    Replica r of the sublayer gets `derive_seed(seeds[r], name)`, the seed the sublayer of the
    lone object with seed seeds[r] gets; None stays None.
    """
    if seeds is None:
        return None
    derived = [derive_seed(s, name) for s in seeds]
    return derived[0] if replicas is None else derived


class ReplicatedLayer(keras.layers.Layer):
    """Base class of every ndnx layer and cell that takes `replicas` and `seed`.

    It owns the two constructor arguments and their checks, the per-replica seeds
    (`replica_seeds`), replicated weights (`add_replica_weight`, remembered in
    `replica_weights`), per-replica random generators (`add_replica_generators`), the split of
    shared and per-replica inputs (`split_replica_input`, `replica_map`) and the `replicas` and
    `seed` entries of `get_config`. See the module docstring for the protocol.

    Args:
        replicas: None (a lone layer) or the number R of independent replicas.
        seed: int, None, or one int per replica.
    """

    def __init__(self, replicas=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.replicas = check_replicas(self.name, replicas)
        if isinstance(seed, (list, tuple)):
            seed = list(seed)
        elif _is_int(seed):
            seed = int(seed)
        self.replica_seeds = normalize_replica_seeds(self.name, seed, self.replicas)
        self.seed = seed
        self._replica_weight_ids = set()
        self._replica_generators = {}

    # --- weights ---------------------------------------------------------------------------------
    def add_replica_weight(self, name, shape, initializer, **kwargs):
        """`add_weight` with a leading replica axis when the layer is replicated.

        Replica r's slice is `initializer` seeded with `derive_seed(replica_seeds[r], name)`, the
        value the lone layer (replicas=None, seed=replica_seeds[r]) gives the same weight. A
        `regularizer` is applied to every replica's slice and summed (each replica pays its own
        penalty, as it would alone). The variable is remembered as replicated.
        """
        shape = tuple(int(s) for s in shape)
        seeds = self.replica_seeds

        def replica_initializer(r):
            return seeded_initializer(initializer, None if seeds is None else derive_seed(seeds[r], name))

        if self.replicas is None:
            return self.add_weight(name=name, shape=shape, initializer=replica_initializer(0), **kwargs)

        def stacked(shape_, dtype=None):
            parts = [ops.convert_to_tensor(replica_initializer(r)(shape, dtype=dtype)) for r in range(self.replicas)]
            return ops.stack(parts, axis=0)

        regularizer = kwargs.pop("regularizer", None)
        if regularizer is not None:
            regularizer = _per_replica_penalty(keras.regularizers.get(regularizer), self.replicas)
        variable = self.add_weight(name=name, shape=(self.replicas,) + shape, initializer=stacked,
                                   regularizer=regularizer, **kwargs)
        self._replica_weight_ids.add(id(variable))
        return variable

    @property
    def replica_weights(self):
        """This layer's own weights that carry the replica axis (first) — [] for a lone layer."""
        return [w for w in self.weights if id(w) in self._replica_weight_ids]

    def sublayer_seed(self, name):
        """The `seed` argument of a sublayer `name`: replica r's is `derive_seed(replica_seeds[r], name)`."""
        return child_seeds(self.replica_seeds, self.replicas, name)

    # --- random draws ----------------------------------------------------------------------------
    def add_replica_generators(self, name=None):
        """One `keras.random.SeedGenerator` per replica (one for a lone layer).

        Replica r's generator is seeded with `replica_seeds[r]` (name None) or with
        `derive_seed(replica_seeds[r], name)`, as the lone layer with seed replica_seeds[r] seeds
        its own; unseeded layers get unseeded generators.
        """
        key = "" if name is None else str(name)
        if key in self._replica_generators:
            raise ValueError(f"{self.name}: replica generators {key!r} already exist")
        seeds = self.replica_seeds if self.replica_seeds is not None else [None] * (self.replicas or 1)
        generators = [keras.random.SeedGenerator(
            None if s is None else (s if name is None else derive_seed(s, name))) for s in seeds]
        self._replica_generators[key] = generators
        return generators

    def replica_map(self, fn, *tensors, per_replica=True):
        """fn(r, *parts) for every replica r, stacked on axis 1; fn(0, *tensors) for a lone layer.

        With `per_replica=True` the parts are the replica slices t[:, r] of (batch, R, ...)
        tensors, otherwise the shared tensors themselves. Random draws inside `fn` use
        generator r, so replica r draws on the slice the lone layer sees.
        """
        if self.replicas is None:
            return fn(0, *tensors)
        outputs = [fn(r, *((t[:, r] if per_replica else t) for t in tensors)) for r in range(self.replicas)]
        return ops.stack(outputs, axis=1)

    def replica_part(self, tensor, r):
        """Replica r's slice of a stacked weight or tensor (leading replica axis); the tensor itself
        for a lone layer."""
        return tensor if self.replicas is None else tensor[r]

    # --- inputs ----------------------------------------------------------------------------------
    def split_replica_input(self, input_shape, features, what="input of shape"):
        """(per_replica, feature_shape) of a shared (batch, ...) or per-replica (batch, R, ...) input.

        `features` maps the accepted feature ranks to how they are written, e.g.
        {1: "features", 3: "H, W, C"}; the rank of `input_shape` decides between the shared
        input (batch, *features) and, with replicas, the per-replica input (batch, R, *features).
        A wrong rank or replica count raises one ValueError naming the layer.
        """
        shape = tuple(None if d is None else int(d) for d in input_shape)
        rank = len(shape)
        per_replica = self.replicas is not None and rank - 2 in features
        if rank - 1 not in features and not per_replica:
            shapes = [f"(batch, {f})" for f in features.values()]
            if self.replicas is not None:
                shapes += [f"(batch, replicas, {f})" for f in features.values()]
            want = shapes[0] if len(shapes) == 1 else ", ".join(shapes[:-1]) + " or " + shapes[-1]
            raise ValueError(f"{self.name}: expected {what} {want}, got {shape}")
        if per_replica and shape[1] != self.replicas:
            raise ValueError(f"{self.name}: expected {self.replicas} replicas on axis 1, got {shape[1]} "
                             f"(input {shape})")
        return per_replica, shape[2:] if per_replica else shape[1:]

    def replicated_shape(self, batch, shape):
        """(batch, *shape), with the replica axis after the batch when replicated."""
        return (batch,) + (() if self.replicas is None else (self.replicas,)) + tuple(shape)

    def get_config(self):
        config = super().get_config()
        # a plain list: Keras tracks list attributes in its own list type
        config.update({"replicas": self.replicas, "seed": list(self.seed) if isinstance(self.seed, list) else self.seed})
        return config


def _per_replica_penalty(regularizer, replicas):
    # A penalty defined as a mean (NDNT convention) must not average over replicas: each replica
    # pays its own penalty, as it would alone, and the ensemble's loss is their sum.
    def penalty(weight):
        return sum(regularizer(weight[r]) for r in range(replicas))

    return penalty


# --- whole models ----------------------------------------------------------------------------------
def all_layers(model):
    """Every layer inside `model` (itself excluded), depth first and each once: nested models,
    layers of a subclassed model, sublayers of layers and the cells of `keras.layers.RNN`."""
    # Keras 3 keeps every tracked sublayer in `_layers`; `_flatten_layers` walks them.
    return model._flatten_layers(include_self=False, recursive=True)


def num_replicas(model):
    """R for a replicated model (or layer), None for a plain one; mixed replica counts are an error."""
    counts = {layer.replicas for layer in [model, *all_layers(model)]
              if getattr(layer, "replicas", None) is not None}
    if len(counts) > 1:
        raise ValueError(f"{model.name}: layers disagree on the number of replicas: {sorted(counts)}")
    return counts.pop() if counts else None


def replicated_variable_ids(model):
    """ids of every variable of `model` that carries the replica axis (first), as recorded by the
    replicated layers and cells inside it."""
    ids = set()
    for layer in [model, *all_layers(model)]:
        ids.update(getattr(layer, "_replica_weight_ids", ()))
    return ids


def lone_config(config, r):
    """A config (any nesting of dicts and lists) with replica r made lone.

    Every dict with a `replicas` entry gets replicas=None and the seed of its replica r
    (`normalize_replica_seeds`); every `build_config` is dropped (recorded shapes may carry the
    replica axis), so the rebuilt object takes its shapes from its inputs.
    """
    if isinstance(config, list):
        return [lone_config(c, r) for c in config]
    if not isinstance(config, dict):
        return config
    out = {k: lone_config(v, r) for k, v in config.items() if k != "build_config"}
    replicas = config.get("replicas")
    if replicas is not None:
        name = config.get("name", "replicated object")
        if not 0 <= r < check_replicas(name, replicas):
            raise ValueError(f"{name}: replica index must be in [0, {replicas}), got {r}")
        out["replicas"] = None
        if "seed" in config:
            seeds = normalize_replica_seeds(name, config["seed"], replicas)
            out["seed"] = None if seeds is None else seeds[r]
    return out
