"""Optimiser and stopping rules of E/I task training (NeuroFlame, spec ei_networks_neuroflame.md §6).

- `task_optimizer`: Adam at lr 0.1, the rate multiplied by γ = 0.9 after every epoch
  (PyTorch's ExponentialLR stepped per epoch = Keras' ExponentialDecay with decay_steps = the
  steps of one epoch, staircase), and an optional clip of the gradient's global norm at 10.
  For a replicated model (`replicas=R`, seeds trained as one model, `ndnx.layers.replicas`) a
  global-norm clip would couple the seeds (one norm over every seed's gradient); the clip is then
  taken replica by replica (`ReplicaClippedAdam`: g_r ← g_r·c/max(‖g_r‖, c), ‖g_r‖ the norm of
  replica r's slices of every gradient), so each seed is clipped as it would be alone.
- `TaskStopping`: stop when the training loss (and the validation loss, when there is one) is
  below a threshold, when a loss is NaN or infinite, or when the monitored loss improved by less
  than `min_delta` = 1e-2 over the last `patience` = 5 epochs.

Example:
    >>> from ndnx.training.ei_tasks import task_optimizer
    >>> opt = task_optimizer(steps_per_epoch=4)
    >>> [round(float(opt.learning_rate_schedule(step)), 4) for step in (0, 3, 4, 8)]  # ×0.9 per epoch of 4 steps
    [0.1, 0.1, 0.09, 0.081]
"""

import math

import keras
from keras import ops

__all__ = ["task_optimizer", "TaskStopping", "ReplicaClippedAdam"]


@keras.saving.register_keras_serializable(package="ndnx")
class ReplicaClippedAdam(keras.optimizers.Adam):
    """Adam with the gradient's global norm clipped at `replica_clipnorm` replica by replica.

        g_r ← g_r · c / max(‖g_r‖, c),   ‖g_r‖² = Σ_w ‖w's gradient[r]‖²

    Every trainable variable must carry the replica axis first (as every trainable weight of a
    replicated `ndnx.models.EITaskModel` does). Replica r is then updated exactly as a lone model
    under `Adam(global_clipnorm=c)` would be, and `ndnx.training.ensemble.check_replica_optimizer`
    accepts it (`keeps_replicas_apart`). With replicas=None it is Adam(global_clipnorm=c).

    Args:
        replicas: R, or None.
        replica_clipnorm: c > 0.
        **kwargs: Adam's arguments (no clipnorm / global_clipnorm: they would mix the replicas).

    Example:
        >>> import numpy as np, keras
        >>> from ndnx.training.ei_tasks import ReplicaClippedAdam
        >>> opt = ReplicaClippedAdam(replicas=2, replica_clipnorm=1.0)
        >>> grad = np.array([[3.0, 4.0], [0.3, 0.4]], "float32")  # 2 replicas of a weight of 2 entries
        >>> np.asarray(opt._clip_gradients([grad])[0], "float64").round(3).tolist()  # norms 5 → 1, 0.5 kept
        [[0.6, 0.8], [0.3, 0.4]]
    """

    keeps_replicas_apart = True

    def __init__(self, replicas=None, replica_clipnorm=10.0, **kwargs):
        super().__init__(**kwargs)
        if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1):
            raise ValueError(f"ReplicaClippedAdam: replicas must be a positive int or None, got {replicas!r}")
        if isinstance(replica_clipnorm, bool) or not (isinstance(replica_clipnorm, (int, float))
                                                      and math.isfinite(replica_clipnorm) and replica_clipnorm > 0):
            raise ValueError(f"ReplicaClippedAdam: replica_clipnorm must be a finite number > 0, "
                             f"got {replica_clipnorm!r}")
        if self.clipnorm is not None or self.global_clipnorm is not None:
            raise ValueError("ReplicaClippedAdam: clipnorm and global_clipnorm mix the replicas; give "
                             "replica_clipnorm only")
        self.replicas, self.replica_clipnorm = replicas, float(replica_clipnorm)

    def _clip_gradients(self, grads):
        grads = [None if g is None else ops.convert_to_tensor(g) for g in super()._clip_gradients(grads)]
        present = [g for g in grads if g is not None]  # clipvalue (entry by entry) done above
        if not present:
            return grads
        rows = 1 if self.replicas is None else self.replicas
        for g in present:
            if self.replicas is not None and (len(g.shape) == 0 or g.shape[0] != rows):
                raise ValueError(f"ReplicaClippedAdam: every gradient must carry the {rows} replicas first, got a "
                                 f"gradient of shape {tuple(g.shape)}")
        squares = sum(ops.sum(ops.reshape(ops.square(g), (rows, -1)), axis=1) for g in present)
        norm = ops.sqrt(squares)  # (R,)
        c = self.replica_clipnorm
        scale = c * ops.minimum(1.0 / norm, 1.0 / c) + (norm - norm)  # as keras' clip_by_global_norm
        out = []
        for g in grads:
            if g is None:
                out.append(g)
            elif self.replicas is None:
                out.append(g * ops.cast(scale[0], g.dtype))
            else:
                out.append(g * ops.cast(ops.reshape(scale, (rows,) + (1,) * (len(g.shape) - 1)), g.dtype))
        return out

    def get_config(self):
        config = super().get_config()
        config.update({"replicas": self.replicas, "replica_clipnorm": self.replica_clipnorm})
        return config


def task_optimizer(steps_per_epoch, learning_rate=0.1, decay=0.9, clip_norm=10.0, replicas=None):
    """Adam(lr·decay^epoch) with the epoch counted in steps; clip_norm None for no clipping.

    With `replicas=R` (a replicated model) the clip is per replica (`ReplicaClippedAdam`), so the
    seeds stay independent; without clip_norm it is plain Adam either way.
    """
    if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ValueError(f"task_optimizer: steps_per_epoch must be an int ≥ 1, got {steps_per_epoch!r}")
    for arg, value in (("learning_rate", learning_rate), ("decay", decay)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"task_optimizer: {arg} must be a finite number > 0, got {value!r}")
    if clip_norm is not None and not (isinstance(clip_norm, (int, float)) and clip_norm > 0):
        raise ValueError(f"task_optimizer: clip_norm must be > 0 or None, got {clip_norm!r}")
    if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1):
        raise ValueError(f"task_optimizer: replicas must be a positive int or None, got {replicas!r}")
    schedule = keras.optimizers.schedules.ExponentialDecay(float(learning_rate), decay_steps=steps_per_epoch,
                                                           decay_rate=float(decay), staircase=True)
    if replicas is not None and clip_norm is not None:
        optimizer = ReplicaClippedAdam(replicas=replicas, replica_clipnorm=clip_norm, learning_rate=schedule)
    else:
        optimizer = keras.optimizers.Adam(learning_rate=schedule, global_clipnorm=clip_norm)
    optimizer.learning_rate_schedule = schedule
    return optimizer


class TaskStopping(keras.callbacks.Callback):
    """Ends training on a reached loss, a non-finite loss, or a stalled one (module docstring).

    Args:
        loss_threshold: stop once "loss" (and "val_loss" when logged) are both below it; None: off.
        min_delta, patience: stop when the monitored loss of epoch e is not below that of epoch
            e − patience by min_delta.
        monitor: the loss that must improve ("val_loss" falls back to "loss" without validation).

    After training, `reason` says why it stopped ("threshold", "nan", "stalled" or None) and
    `stopped_epoch` when.
    """

    def __init__(self, loss_threshold=None, min_delta=1e-2, patience=5, monitor="val_loss"):
        super().__init__()
        if loss_threshold is not None and not (isinstance(loss_threshold, (int, float))
                                               and math.isfinite(loss_threshold)):
            raise ValueError(f"TaskStopping: loss_threshold must be a finite number or None, got {loss_threshold!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"TaskStopping: patience must be an int ≥ 1, got {patience!r}")
        if not (isinstance(min_delta, (int, float)) and min_delta >= 0):
            raise ValueError(f"TaskStopping: min_delta must be a number ≥ 0, got {min_delta!r}")
        self.loss_threshold, self.min_delta, self.patience, self.monitor = loss_threshold, min_delta, patience, monitor
        self.history, self.reason, self.stopped_epoch = [], None, None

    def on_train_begin(self, logs=None):
        self.history, self.reason, self.stopped_epoch = [], None, None

    def _stop(self, epoch, reason):
        self.reason, self.stopped_epoch = reason, epoch
        self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        losses = [float(logs[k]) for k in ("loss", "val_loss") if k in logs]
        if any(not math.isfinite(v) for v in losses):
            return self._stop(epoch, "nan")
        if self.loss_threshold is not None and losses and all(v < self.loss_threshold for v in losses):
            return self._stop(epoch, "threshold")
        value = logs.get(self.monitor, logs.get("loss"))
        if value is None:
            return None
        self.history.append(float(value))
        if len(self.history) > self.patience and self.history[-1 - self.patience] - self.history[-1] < self.min_delta:
            return self._stop(epoch, "stalled")
        return None
