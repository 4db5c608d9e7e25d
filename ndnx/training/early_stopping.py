"""Early stopping for an ensemble of seeds: each replica keeps its own best weights.

NDN3's `early_stop_mode` 1 stopped when the cost on the test rows had not improved for a
window of epochs and restored the best checkpoint; mode 2 did the same on the training cost
(spec v1_system_identification.md §5.1). `ReplicaEarlyStopping` is that rule for R seeds trained
as one replicated model: every replica is scored on its own, its best weights are kept apart
from the others', training ends when no replica has improved for `patience` epochs, and at the
end each replica gets its own best weights back. A replica that stopped improving earlier keeps
training with the rest, but its returned weights are those of its best evaluation, so the
result equals R separate early-stopped runs (up to the extra epochs not taken).

The state (best scores, best epochs, best weights, whether training stopped) is made of
`tf.Variable`s that `EpochCheckpoint` saves with the model, so a killed run resumes it exactly.
"""

import numpy as np
import keras
import tensorflow as tf

from ndnx.layers.replicas import num_replicas, replicated_variable_ids
from ndnx.training.evaluation import split_arguments

__all__ = ["ReplicaEarlyStopping"]


class ReplicaEarlyStopping(keras.callbacks.Callback):
    """Stops training when no replica improved for `patience` epochs; restores each one's best.

    The score is evaluated every `every` epochs (and at epoch 0) on one split.

    Args:
        model: the (plain or replicated) model; its weights are shadowed at build time.
        data: the split scored (NDN3 mode 1: the test rows; mode 2: the training rows): (x, y),
            x alone or a tf.data pipeline, as `evaluate` takes it.
        evaluate: (model, *split) → {metric: per-replica array}, e.g.
            `ndnx.training.loss_evaluation` or the V1 recipe's `supervised_evaluation`.
        monitor: the metric of `evaluate` to watch (default "loss").
        mode: "min" (a loss) or "max" (a correlation).
        patience: epochs without improvement after which a replica counts as stopped.
        every: epochs between evaluations.
        min_delta: an improvement must exceed this.
        restore_best: give every replica its best weights back when training ends.
        logger: an optional `ReplicaLogger` on the same split whose evaluations are reused.

    Example:
        >>> stopper = ndnx.training.ReplicaEarlyStopping(  # doctest: +SKIP
        ...     model, (x_val, y_val), ndnx.training.loss_evaluation, patience=100)
        >>> ndnx.training.train(model, (x, y), epochs=5000, batch_size=16,  # doctest: +SKIP
        ...                     callbacks=[stopper])

        `ndnx.training.train(..., early_stop={"patience": 100})` builds it with the logger.
    """

    def __init__(self, model, data, evaluate, monitor="loss", mode="min", patience=100, every=10,
                 min_delta=0.0, restore_best=True, logger=None):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"ReplicaEarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if int(patience) < 1:
            raise ValueError(f"ReplicaEarlyStopping: patience must be ≥ 1 epoch, got {patience!r}")
        self.data = data
        self.evaluate = evaluate
        self.monitor = monitor
        self.mode = mode
        self.patience = int(patience)
        self.every = max(1, int(every))
        self.min_delta = float(min_delta)
        self.restore_best = bool(restore_best)
        self.logger = logger
        replicas = num_replicas(model)
        self.replicas = 1 if replicas is None else replicas
        self._replicated = replicas is not None
        self._tracked = []  # (model weight, its shadow)
        replicated = replicated_variable_ids(model)
        for w in model.weights:
            if self._replicated and id(w) not in replicated:
                raise ValueError(
                    f"ReplicaEarlyStopping: weight {w.path} is shared by all replicas (it has no replica axis), so "
                    "no replica's best weights can be restored on their own")
            self._tracked.append((w, tf.Variable(w.numpy(), trainable=False, name=f"best_{w.name}")))
        worst = np.inf if mode == "min" else -np.inf
        self.best = tf.Variable(np.full(self.replicas, worst), trainable=False, dtype=tf.float64)
        self.best_epoch = tf.Variable(np.full(self.replicas, -1), trainable=False, dtype=tf.int64)
        self.last_epoch = tf.Variable(-1, trainable=False, dtype=tf.int64)
        self.stopped = tf.Variable(False, trainable=False)

    def checkpoint_state(self):
        """The trackable state `EpochCheckpoint` saves beside the model."""
        return tf.train.Checkpoint(best=self.best, best_epoch=self.best_epoch, last_epoch=self.last_epoch,
                                   stopped=self.stopped, weights=[s for _, s in self._tracked])

    def due(self, epoch):
        return epoch == 0 or (epoch + 1) % self.every == 0

    def _scores(self, epoch):
        logger = self.logger
        if logger is not None and logger.due(epoch):
            for (split, name), values in logger.last.items():
                if name == self.monitor and logger.splits.get(split) is self.data:
                    return np.asarray(values, "float64")
        values = self.evaluate(self.model, *split_arguments(self.data))
        if self.monitor not in values:
            raise ValueError(f"ReplicaEarlyStopping: the evaluation gives {sorted(values)}, not {self.monitor!r}")
        return np.asarray(values[self.monitor], "float64").reshape(-1)

    def on_epoch_end(self, epoch, logs=None):
        if not self.due(epoch):
            return
        scores = self._scores(epoch)
        best = self.best.numpy()
        if self.mode == "min":
            improved = scores < best - self.min_delta
        else:
            improved = scores > best + self.min_delta
        improved &= np.isfinite(scores)
        if improved.any():
            for weight, shadow in self._tracked:
                if self._replicated:
                    index = np.flatnonzero(improved)[:, None]
                    current = tf.gather(tf.convert_to_tensor(weight), index[:, 0])
                    shadow.assign(tf.tensor_scatter_nd_update(shadow, index, current))
                else:
                    shadow.assign(weight)
            self.best.assign(np.where(improved, scores, best))
            self.best_epoch.assign(np.where(improved, epoch, self.best_epoch.numpy()))
        self.last_epoch.assign(epoch)
        if logs is not None:
            logs["replicas_improving"] = float(np.sum(epoch - self.best_epoch.numpy() < self.patience))
        if np.all(epoch - self.best_epoch.numpy() >= self.patience):
            self.stopped.assign(True)
            self.model.stop_training = True

    def restore(self):
        """Give every replica the weights of its best evaluation (no-op before the first one)."""
        scored = np.flatnonzero(self.best_epoch.numpy() >= 0)
        if not scored.size:
            return
        for weight, shadow in self._tracked:
            if self._replicated:
                weight.assign(tf.tensor_scatter_nd_update(tf.convert_to_tensor(weight), scored[:, None],
                                                          tf.gather(shadow, scored)))
            else:
                weight.assign(shadow)

    def on_train_end(self, logs=None):
        if self.restore_best:
            self.restore()
