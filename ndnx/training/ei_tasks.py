"""Optimiser and stopping rules of E/I task training (NeuroFlame, spec ei_networks_neuroflame.md §6).

- `task_optimizer`: Adam at lr 0.1, the rate multiplied by γ = 0.9 after every epoch
  (PyTorch's ExponentialLR stepped per epoch = Keras' ExponentialDecay with decay_steps = the
  steps of one epoch, staircase), and an optional clip of the gradient's global norm at 10.
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

__all__ = ["task_optimizer", "TaskStopping"]


def task_optimizer(steps_per_epoch, learning_rate=0.1, decay=0.9, clip_norm=10.0):
    """Adam(lr·decay^epoch) with the epoch counted in steps; clip_norm None for no clipping."""
    if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ValueError(f"task_optimizer: steps_per_epoch must be an int ≥ 1, got {steps_per_epoch!r}")
    for arg, value in (("learning_rate", learning_rate), ("decay", decay)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"task_optimizer: {arg} must be a finite number > 0, got {value!r}")
    if clip_norm is not None and not (isinstance(clip_norm, (int, float)) and clip_norm > 0):
        raise ValueError(f"task_optimizer: clip_norm must be > 0 or None, got {clip_norm!r}")
    schedule = keras.optimizers.schedules.ExponentialDecay(float(learning_rate), decay_steps=steps_per_epoch,
                                                           decay_rate=float(decay), staircase=True)
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
