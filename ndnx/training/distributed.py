"""Epochs under a `tf.distribute` strategy, batch for batch equal to single-device training.

`DistributedEpochs` has the interface of `CompiledEpochs` (`steps_per_epoch`, `run_epoch(epoch)`)
and is what `ndnx.training.train(..., strategy=s)` uses for any strategy but the default one. It
owns the loop because Keras 3.15's `model.fit` fails under `MultiWorkerMirroredStrategy`
(keras-team/keras#20585; specs/ecosystem_and_peers.md §4): the data go through
`strategy.distribute_datasets_from_function`, and a `tf.function` calls
`strategy.run(model.train_step, ...)` once per step, so models that override `train_step` train
the same way.

Same batches as one device. Epoch e visits the rows in the order `epoch_permutation(T,
shuffle_seed, e)`, in global batches of `batch_size` rows and a last partial batch with the
remainder — exactly the batches of `CompiledEpochs`. Each global batch is cut into one shard per
device (devices are tf.distribute replicas; unrelated to the seed replicas of ndnx layers): input
pipeline p (one per worker) builds the shards of its own devices of every global batch, so no row
is read twice and none is dropped.

Same loss as one device. Under a strategy with N devices, Keras 3's `train_step` computes on each
device the mean loss over that device's rows, multiplies it by 1/N (`scale_loss_for_distribution`
in `Loss.__call__` for "sum_over_batch_size" losses, and in `_aggregate_additional_loss` for the
regularisation penalties), and the optimizer all-reduces the gradients with SUM. With n rows on
every device that is (1/N) Σ_d mean_d = the mean over the B = N·n rows of the global batch, plus the
penalty once: the single-device step. When B is not a multiple of N the per-device means would be
averaged with equal weights although they cover different numbers of rows. DistributedEpochs then
gives every device m = ⌈B/N⌉ rows, padding with copies of a real row that get sample weight 0,
while every real row gets sample weight m·N/B: device d's loss becomes Σ_(rows of d) ℓ / B, and
the sum over devices is again the global-batch mean (this includes a global batch smaller than N,
where some devices hold only padding). The weights are uniform over the real rows of a step, so
weighted mean metrics stay exact. Keras' loss tracker, however, weights every step by its padded
row count N·m instead of B; when padding is in use the full batches and the last partial batch are
therefore read out separately and combined with weights (rows in full batches, rows in the last
batch), which gives the single-device epoch mean of "loss" and of every mean-type metric (for a
metric that is not a mean over rows — AUC, a streaming correlation — that combination is an
approximation). Padding needs a `train_step` that honours sample weights; an overridden
`train_step` is refused when padding would be needed (choose a batch size and row count that are
multiples of the number of devices, or `drop_remainder` the data yourself).

Rows of a padded batch also enter layers that mix rows (batch normalisation) — as, under any
strategy, such layers see only their device's rows.

XLA: a distributed step is not XLA-compiled. Keras' `train_step` sums the gradients over devices
inside `optimizer.apply_gradients` (a `merge_call`), which cannot sit inside a nested compiled
function, and the input iterator cannot be compiled into an outer one. `jit_compile=True` therefore
runs the step without XLA and says so once with a warning (Keras' own "auto" turns XLA off under
any strategy too).
"""

import warnings

import numpy as np
import keras
import tensorflow as tf

from ndnx.training.compiled_epochs import epoch_permutation
from ndnx.training.dataset_epochs import epoch_pipeline, is_pipeline

__all__ = ["DistributedEpochs", "DistributedDatasetEpochs", "local_evaluation", "shard_plan"]


def shard_plan(indices, num_devices):
    """Cut one global batch (row indices) into `num_devices` equal shards with padding weights.

    Returns (idx, w), both (num_devices, m) with m = ⌈B/num_devices⌉: shard d holds rows
    indices[d·m:(d+1)·m]; padding slots repeat indices[0] with weight 0; real rows have weight
    m·num_devices/B (1 when B is a multiple of num_devices).
    """
    indices = np.asarray(indices, dtype="int32")
    b = indices.shape[0]
    m = -(-b // num_devices)
    flat = np.full(m * num_devices, indices[0], dtype="int32")
    flat[:b] = indices
    w = np.zeros(m * num_devices, dtype="float32")
    w[:b] = m * num_devices / b
    return flat.reshape(num_devices, m), w.reshape(num_devices, m)


def local_evaluation(evaluate):
    """`evaluate(model, x, y)` made safe for one process of a multi-worker strategy.

    Under `MultiWorkerMirroredStrategy`, `model.predict` / `model.evaluate` run collective ops that
    every worker must join; the chief evaluating alone (logs are the chief's job) either aborts
    with "Collective instance … expected type …" or hangs. The returned function evaluates a copy
    of the model that lives outside the strategy (built once with `keras.models.clone_model`,
    compiled with the same loss, refreshed with the current weights on every call — reading
    mirrored weights needs no collective op), so it can run in one process alone. For a model not
    built under a strategy it calls `evaluate` directly. Wrapping twice is harmless.
    """
    if getattr(evaluate, "_ndnx_local", False):
        return evaluate
    copies = {}

    def wrapped(model, x, y):
        if not _under_strategy(model):
            return evaluate(model, x, y)
        key = id(model)
        if key not in copies:
            copy = keras.models.clone_model(model)
            copy.compile(loss=model.loss, jit_compile=False)
            copies[key] = copy
        copy = copies[key]
        copy.set_weights(model.get_weights())
        return evaluate(copy, x, y)

    wrapped._ndnx_local = True
    wrapped.__name__ = f"local_{getattr(evaluate, '__name__', 'evaluation')}"
    wrapped.descriptions = getattr(evaluate, "descriptions", {})
    return wrapped


def _under_strategy(model):
    strategy = getattr(model, "_distribute_strategy", None)
    return strategy is not None and type(strategy).__name__ != "_DefaultDistributionStrategy"


def _check_built_in_scope(owner, model, strategy):
    if getattr(model, "optimizer", None) is None:
        raise ValueError(f"{owner}: {model.name} is not compiled")
    if model.distribute_strategy is not strategy:
        raise ValueError(
            f"{owner}: {model.name} was not built inside this strategy's scope; build and "
            "compile it in `with strategy.scope():` (ndnx.training.strategy.build_in_scope)")
    opt_strategy = getattr(model.optimizer, "_distribution_strategy", strategy)
    if opt_strategy is not strategy:
        raise ValueError(
            f"{owner}: the optimizer of {model.name} was created outside this strategy's "
            "scope; call model.compile(...) inside `with strategy.scope():`")


def _warn_no_xla(owner):
    warnings.warn(f"{owner}: jit_compile=True has no effect under a tf.distribute strategy "
                  "(the cross-device gradient sum inside train_step cannot be XLA-compiled); "
                  "running the distributed step without XLA", stacklevel=3)


def _replica_step(model):
    def replica_step(batch):
        model.train_step(batch)
        return tf.constant(0)

    return replica_step


def _overrides_train_step(model):
    return type(model).train_step is not keras.Model.train_step


class DistributedEpochs:
    """Runs epochs of `model.train_step` over in-memory (x, y) under a `tf.distribute` strategy.

    Args:
        model: a compiled Keras model built inside `strategy.scope()` (see
            `ndnx.training.strategy.build_in_scope`); its optimizer is built here if it is not yet.
        x, y: arrays or nested structures of arrays with a common first axis (every worker of a
            multi-worker strategy passes the same data); y=None trains on x alone.
        batch_size: rows per global step (summed over all devices), as on one device.
        strategy: the strategy the model was built under.
        shuffle_seed: seed of the per-epoch permutations (`epoch_permutation`).
        jit_compile: accepted for the interface of `CompiledEpochs`; True only warns (no XLA
            under a strategy, see the module docstring).
        shuffle: False keeps the data order.
        drop_remainder: as `CompiledEpochs`.
    """

    def __init__(self, model, x, y, batch_size, strategy, shuffle_seed=0, jit_compile=False, shuffle=True,
                 drop_remainder=False):
        self._supervised = y is not None
        leaves = tf.nest.flatten((x, y) if self._supervised else x)
        sizes = {int(np.shape(a)[0]) for a in leaves}
        if len(sizes) != 1:
            raise ValueError(f"DistributedEpochs: inputs and targets must have the same number of rows, got {sorted(sizes)}")
        self.num_samples = sizes.pop()
        if self.num_samples < 1:
            raise ValueError("DistributedEpochs: no training rows")
        if not 1 <= int(batch_size):
            raise ValueError(f"DistributedEpochs: batch_size must be ≥ 1, got {batch_size}")
        _check_built_in_scope("DistributedEpochs", model, strategy)
        self.model = model
        self.strategy = strategy
        self.num_devices = int(strategy.num_replicas_in_sync)
        self.batch_size = min(int(batch_size), self.num_samples)
        self.shuffle = bool(shuffle)
        self.shuffle_seed = int(shuffle_seed)
        self.jit_compile = bool(jit_compile)
        self.full_batches = self.num_samples // self.batch_size
        self.remainder = 0 if drop_remainder else self.num_samples - self.full_batches * self.batch_size
        n = self.num_devices
        self._pad_full = self.full_batches > 0 and self.batch_size % n != 0
        self._pad_last = self.remainder > 0 and self.remainder % n != 0
        self._padded = self._pad_full or self._pad_last
        if self._padded and not self._supervised:
            raise ValueError(
                f"DistributedEpochs: batches of {self.batch_size} rows (last: {self.remainder}) do not split "
                f"evenly over {n} devices, and x-only data carry no sample weights for the padding that "
                f"keeps the single-device loss — use a batch size and a number of rows that are multiples of {n}")
        if self._padded and _overrides_train_step(model):
            raise ValueError(
                f"DistributedEpochs: {type(model).__name__} overrides train_step, and batches of "
                f"{self.batch_size} rows (last: {self.remainder}) do not split evenly over {n} devices; "
                "the even split that keeps the single-device loss needs sample weights, which a custom "
                f"train_step may ignore — use a batch size and a number of rows that are multiples of {n}")
        # Loss-tracker weights differ from row counts only when padding is in use; the last batch
        # is then read out on its own (see the module docstring).
        self._split_readout = self._padded and self.remainder > 0 and self.full_batches > 0
        self.data = tf.nest.map_structure(lambda a: tf.convert_to_tensor(np.asarray(a)),
                                          (x, y) if self._supervised else x)
        if not model.optimizer.built:
            with strategy.scope():
                model.optimizer.build(model.trainable_variables)

        if self.jit_compile:
            _warn_no_xla("DistributedEpochs")
        replica_step = _replica_step(model)

        def run_steps(iterator, num_steps):
            for _ in tf.range(num_steps):
                strategy.run(replica_step, args=(next(iterator),))
            return tf.constant(0)

        self._run_steps = tf.function(run_steps)

    @property
    def steps_per_epoch(self):
        return self.full_batches + (1 if self.remainder else 0)

    # --- input pipelines -------------------------------------------------------------------

    def _plan(self, perm, first, num_steps, rows):
        """(idx, w) of shape (num_steps, devices, m) for `num_steps` batches of `rows` from `first`."""
        plans = [shard_plan(perm[first + s * rows:first + (s + 1) * rows], self.num_devices)
                 for s in range(num_steps)]
        return np.stack([p[0] for p in plans]), np.stack([p[1] for p in plans])

    def _distributed_dataset(self, idx, w, weighted):
        data = self.data
        num_devices = self.num_devices
        supervised = self._supervised

        def dataset_fn(input_context):
            pipelines = input_context.num_input_pipelines
            if num_devices % pipelines:
                raise ValueError(f"DistributedEpochs: {num_devices} devices do not divide over {pipelines} input pipelines")
            per = num_devices // pipelines
            p = input_context.input_pipeline_id
            # Element order: step 0 device p·per, …, step 0 device p·per+per−1, step 1 …; the
            # strategy hands consecutive elements to this pipeline's local devices.
            mine_idx = idx[:, p * per:(p + 1) * per].reshape(-1, idx.shape[-1])
            mine_w = w[:, p * per:(p + 1) * per].reshape(-1, w.shape[-1])
            ds = tf.data.Dataset.from_tensor_slices((mine_idx, mine_w))

            def gather(i, weight):
                batch = tf.nest.map_structure(lambda a: tf.gather(a, i), data)
                if not supervised:
                    return batch
                xb, yb = batch
                return (xb, yb, weight) if weighted else (xb, yb)

            return ds.map(gather).prefetch(2 * per)

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def _run(self, idx, w, weighted):
        iterator = iter(self._distributed_dataset(idx, w, weighted))
        self._run_steps(iterator, tf.constant(idx.shape[0], dtype=tf.int32))

    def _metrics(self):
        # Read in cross-replica context: sync-on-read metric variables are summed over devices
        # (and workers — every worker must read, which every worker's run_epoch does).
        return {k: float(np.mean(v)) for k, v in self.model.get_metrics_result().items()}

    # --- epochs ------------------------------------------------------------------------------

    def run_epoch(self, epoch):
        """Train one epoch; returns the mean metric values over its rows ({"loss": …, ...})."""
        if self.shuffle:
            perm = epoch_permutation(self.num_samples, self.shuffle_seed, epoch)
        else:
            perm = np.arange(self.num_samples, dtype="int32")
        bs, nfull, rem = self.batch_size, self.full_batches, self.remainder
        self.model.reset_metrics()
        results = None
        if nfull:
            idx, w = self._plan(perm, 0, nfull, bs)
            self._run(idx, w, self._pad_full)
            if self._split_readout:
                results = self._metrics()
                self.model.reset_metrics()
        if rem:
            idx, w = self._plan(perm, nfull * bs, 1, rem)
            self._run(idx, w, self._pad_last)
        last = self._metrics()
        if results is None:
            return last
        full_rows = nfull * bs
        return {k: (full_rows * results[k] + rem * last[k]) / self.num_samples if k in results else last[k]
                for k in last}


class DistributedDatasetEpochs:
    """Runs epochs of `model.train_step` over a `tf.data` pipeline of global batches under a strategy.

    The interface of `DatasetEpochs` (`run_epoch(epoch)`, `steps_per_epoch` after the first
    epoch), for a single-machine strategy (`MirroredStrategy` over local devices). Each batch the
    pipeline yields is a global batch, as on one device; `strategy.experimental_distribute_dataset`
    cuts it into N equal contiguous shards, device d taking rows [d·B/N, (d+1)·B/N), and
    `strategy.run` calls `model.train_step` on each shard; the loss scaling of `DistributedEpochs`
    (1/N per device, gradients summed) then gives the single-device update. A batch whose rows do
    not split evenly over the devices stops the epoch with one error line, since unequal shards
    would weigh their means wrongly. A multi-worker strategy is refused: its workers would each
    read their own share of the pipeline's batches instead of cutting the same global batches.

    Args:
        model: a compiled Keras model built inside `strategy.scope()`.
        dataset: a `tf.data.Dataset` of batches, or a callable `epoch -> tf.data.Dataset`.
        strategy: the strategy the model was built under.
        jit_compile: True only warns (no XLA under a strategy, see the module docstring).
    """

    def __init__(self, model, dataset, strategy, jit_compile=False):
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise ValueError("DistributedDatasetEpochs: a tf.data pipeline is distributed over the devices of one "
                             "machine (MirroredStrategy); under a multi-worker strategy give the training split as "
                             "in-memory arrays")
        _check_built_in_scope("DistributedDatasetEpochs", model, strategy)
        if not is_pipeline(dataset):
            raise ValueError(f"DistributedDatasetEpochs: expected a tf.data.Dataset or a callable epoch -> Dataset, "
                             f"got {type(dataset).__name__}")
        self.dataset = dataset
        self.model = model
        self.strategy = strategy
        self.num_devices = int(strategy.num_replicas_in_sync)
        if not model.optimizer.built:
            with strategy.scope():
                model.optimizer.build(model.trainable_variables)
        if jit_compile:
            _warn_no_xla("DistributedDatasetEpochs")
        replica_step = _replica_step(model)

        def epoch(distributed):
            steps = tf.constant(0)
            for batch in distributed:
                strategy.run(replica_step, args=(batch,))
                steps += 1
            return steps

        self._epoch = tf.function(epoch)
        self.steps_per_epoch = None

    def _even(self, data):
        devices = self.num_devices

        def check(*batch):
            rows = tf.shape(tf.nest.flatten(batch)[0])[0]
            tf.debugging.assert_equal(
                rows % devices, 0,
                message=f"DistributedDatasetEpochs: every batch must split evenly over the {devices} devices "
                        f"(rows a multiple of {devices}); a batch has a different number of rows")
            return batch if len(batch) > 1 else batch[0]

        return data.map(check)

    def run_epoch(self, epoch):
        """Train one epoch; returns the model's metric results, read across the devices."""
        self.model.reset_metrics()
        data = self._even(epoch_pipeline(self.dataset, epoch, "DistributedDatasetEpochs"))
        steps = int(self._epoch(self.strategy.experimental_distribute_dataset(data)))
        if self.steps_per_epoch is None:
            self.steps_per_epoch = steps
        return {k: float(np.mean(v)) for k, v in self.model.get_metrics_result().items()}
