"""Whole training epochs as one compiled function over data held in memory.

A V1 model has a few thousand parameters, so a step costs less than the machinery around it.
Running every full batch of an epoch inside one `tf.while_loop` (XLA-compiled when asked), with
the batches gathered from tensors already in memory, removes the per-step dispatch of
`model.fit`. The loop calls the model's own `train_step`, so any model that overrides it (CD,
truncated BPTT, ...) trains the same way.

The order of the samples in epoch e is a function of (shuffle_seed, e) alone, so a run resumed
from a checkpoint sees exactly the batches an uninterrupted run would have seen.
"""

import numpy as np
import tensorflow as tf

from ndnx.training.ensemble import check_replica_optimizer
from ndnx.training.xla import runs_step_parts, step_jit_compile

__all__ = ["CompiledEpochs", "epoch_permutation"]


def epoch_permutation(num_samples, shuffle_seed, epoch):
    """The sample order of one epoch (NumPy, reproducible across processes)."""
    rng = np.random.default_rng([int(shuffle_seed) & 0x7FFFFFFF, int(epoch)])
    return rng.permutation(num_samples).astype("int32")


class CompiledEpochs:
    """Runs epochs of `model.train_step` over in-memory (x, y), or x alone, with a compiled loop.

    All batches have `batch_size` rows except the last, which keeps the remainder (NDN3 fork
    semantics: ceil(T / batch_size) steps, no sample dropped). `drop_remainder=True` takes
    floor(T / batch_size) steps and leaves the last T mod batch_size rows of each epoch's order out
    (upstream NDN3; with shuffling, other rows each epoch). `shuffle=False` keeps the data order.

    Args:
        model: a compiled Keras model (its optimizer is built here, before the first step); a
            replicated one needs an elementwise optimizer (`check_replica_optimizer`).
        x, y: arrays or nested structures of arrays with a common first axis; y=None passes the
            batches of x alone to `train_step` (x-only data: a model with its own `train_step`).
        batch_size: rows per step.
        shuffle_seed: seed of the per-epoch permutations.
        jit_compile: XLA-compile the epoch (set explicitly; Keras' "auto" differs by device).
    """

    def __init__(self, model, x, y, batch_size, shuffle=True, shuffle_seed=0, jit_compile=True,
                 drop_remainder=False):
        check_replica_optimizer(model)
        data = x if y is None else (x, y)
        leaves = tf.nest.flatten(data)
        sizes = {int(np.shape(a)[0]) for a in leaves}
        if len(sizes) != 1:
            raise ValueError(f"CompiledEpochs: inputs and targets must have the same number of rows, got {sorted(sizes)}")
        self.num_samples = sizes.pop()
        if not 1 <= int(batch_size):
            raise ValueError(f"CompiledEpochs: batch_size must be ≥ 1, got {batch_size}")
        self.batch_size = min(int(batch_size), self.num_samples)
        self.model = model
        self.shuffle = bool(shuffle)
        self.shuffle_seed = int(shuffle_seed)
        self.data = tf.nest.map_structure(tf.convert_to_tensor, data)
        self.full_batches = self.num_samples // self.batch_size
        self.remainder = 0 if drop_remainder else self.num_samples - self.full_batches * self.batch_size
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        bs, nfull = self.batch_size, self.full_batches

        def gather(data, idx):
            return tf.nest.map_structure(lambda a: tf.gather(a, idx), data)

        def full_batches(data, perm):
            def body(i):
                model.train_step(gather(data, tf.slice(perm, [i * bs], [bs])))
                return (i + 1,)

            tf.while_loop(lambda i: i < nfull, body, (tf.constant(0),))
            return tf.constant(0)

        def last_batch(data, idx):
            model.train_step(gather(data, idx))
            return tf.constant(0)

        per_batch = runs_step_parts(model, jit_compile)
        jit_compile = step_jit_compile(model, jit_compile)
        self._last = tf.function(last_batch, jit_compile=jit_compile, reduce_retracing=True)
        if per_batch:  # a step run as parts side by side is called batch by batch (see runs_step_parts)
            def batch_by_batch(data, perm):
                for i in range(nfull):
                    self._last(data, perm[i * bs:(i + 1) * bs])

            self._full = batch_by_batch
        else:
            self._full = tf.function(full_batches, jit_compile=jit_compile, reduce_retracing=True)

    @property
    def steps_per_epoch(self):
        return self.full_batches + (1 if self.remainder else 0)

    def run_epoch(self, epoch):
        """Train one epoch; returns the model's metric results (mean training loss, ...)."""
        if self.shuffle:
            perm = epoch_permutation(self.num_samples, self.shuffle_seed, epoch)
        else:
            perm = np.arange(self.num_samples, dtype="int32")
        self.model.reset_metrics()
        perm_t = tf.constant(perm)
        if self.full_batches:
            self._full(self.data, perm_t)
        if self.remainder:
            self._last(self.data, perm_t[self.full_batches * self.batch_size:])
        return {k: float(np.mean(v)) for k, v in self.model.get_metrics_result().items()}
