"""Keras callbacks of ndnx training: per-seed TensorBoard logs, resumable checkpoints, progress.

They are plain `keras.callbacks.Callback`s, so they work under `model.fit` as well as under the
loops `ndnx.training` owns (compiled epochs, multi-worker), which call the same hooks.
"""

import dataclasses
import json
import os
import sys
import time

import numpy as np
import keras
import tensorflow as tf

from ndnx.files import atomic_open

__all__ = ["ReplicaLogger", "EpochCheckpoint", "CheckpointError", "ProgressBar", "LBFGSProgress", "write_scalars",
           "RunHParams", "write_hparams", "ImageLogger"]


def write_scalars(log_dirs, split, values, step, prefix=""):
    """Write {metric: per-replica values} as TensorBoard scalars `<log_dirs[r]>/<split>/<prefix><metric>`."""
    for r, log_dir in enumerate(log_dirs):
        writer = tf.summary.create_file_writer(os.path.join(str(log_dir), split))
        with writer.as_default():
            for name, per_replica in values.items():
                tf.summary.scalar(prefix + name, float(np.asarray(per_replica, "float64").reshape(-1)[r]),
                                  step=int(step))
        writer.close()


@dataclasses.dataclass(frozen=True)
class RunHParams:
    """What TensorBoard's HParams dashboard shows of a run: its hyper-parameters (`values`, e.g. the
    run's whole configuration) and the name of the run (`group`), under which its seeds are one
    session group (their metrics aggregated)."""

    values: dict
    group: str


def _hparam_value(value):
    """A value the HParams plugin takes (bool, int, float, str); anything else as its JSON text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return json.dumps(value, default=str, sort_keys=True)


def write_hparams(log_dirs, hparams):
    """Write `hparams` (a `RunHParams`) as a TensorBoard HParams session in every directory of `log_dirs`.

    Each seed's directory (`<run>/seed<k>/`, holding its `<split>/` logs) is one session, so the
    dashboard finds the metrics as "<split>/<metric>" (e.g. validation/correlation — the objective
    of the V1 recipe) and groups the seeds of a run by its name. No experiment summary is written:
    TensorBoard then takes the hyper-parameters, their types and ranges from every session and the
    metrics from every logged scalar, so runs of separate commands (other keys varied) compare in
    one table.
    """
    from tensorboard.plugins.hparams import api as hp

    values = {str(k): _hparam_value(v) for k, v in hparams.values.items()}
    for log_dir in log_dirs:
        writer = tf.summary.create_file_writer(str(log_dir))
        with writer.as_default():
            hp.hparams(values, trial_id=str(hparams.group))
        writer.close()


class ReplicaLogger(keras.callbacks.Callback):
    """Evaluates every replica on every split and writes one TensorBoard run per seed.

    At epoch 0, every `every` epochs and at the last epoch it calls
    `evaluate(model, *split) -> {metric: (R,) array}` for each split (`split` as
    `ndnx.training.evaluation.split_arguments` gives it: (x, y), (x,) or (dataset,)) and writes
    `<log_dirs[r]>/<split>/<prefix><metric>` scalars at step = epoch. Unlike NDN3, the train
    metrics use the whole training split, not the last mini-batch. The means over replicas go into
    the epoch logs as `<split>_<metric>` (e.g. `validation_correlation`) for the progress bar.

    Args:
        log_dirs: one directory per replica (e.g. .../run0/seed3), or None to evaluate without
            writing (the results are kept in `last`).
        splits: {"train": (x, y), "validation": (x, y)}.
        evaluate: the per-replica evaluation function.
        every: epochs between evaluations; None evaluates at the last epoch only.
        epochs: the total, so the last epoch is always logged.
        prefix: put before every tag (e.g. "linear/" for one step of a chain).
        replicas: the number of values each metric must have (default: one per log directory).
    """

    def __init__(self, log_dirs, splits, evaluate, every=10, epochs=None, prefix="", replicas=None):
        super().__init__()
        self.log_dirs = None if log_dirs is None else [str(d) for d in log_dirs]
        self.replicas = replicas if replicas is not None else len(self.log_dirs or [None])
        self.splits = splits
        self.evaluate = evaluate
        self.every = None if every is None else max(1, int(every))
        self.epochs = epochs
        self.prefix = prefix
        self._writers = {}
        self.last = {}

    def _writer(self, r, split):
        key = (r, split)
        if key not in self._writers:
            self._writers[key] = tf.summary.create_file_writer(os.path.join(self.log_dirs[r], split))
        return self._writers[key]

    def due(self, epoch):
        last = self.epochs is not None and epoch == self.epochs - 1
        if self.every is None:
            return last
        return epoch == 0 or (epoch + 1) % self.every == 0 or last

    def on_epoch_end(self, epoch, logs=None):
        if self.due(epoch):
            self.log(epoch, logs)

    def log(self, step, logs=None):
        """Evaluate every split now and write the values at `step`."""
        from ndnx.training.evaluation import split_arguments

        logs = logs if logs is not None else {}
        # What each metric is (an evaluation's `descriptions`), shown by TensorBoard beside its chart.
        described = dict(getattr(self.evaluate, "descriptions", None) or {})
        for split, data in self.splits.items():
            values = self.evaluate(self.model, *split_arguments(data))
            for name, per_replica in values.items():
                per_replica = np.asarray(per_replica, dtype="float64").reshape(-1)
                if per_replica.shape[0] != self.replicas:
                    raise ValueError(
                        f"ReplicaLogger: {name} has {per_replica.shape[0]} values, expected one per "
                        f"replica ({self.replicas})"
                    )
                for r, value in enumerate(per_replica if self.log_dirs is not None else ()):
                    with self._writer(r, split).as_default():
                        tf.summary.scalar(self.prefix + name, value, step=step, description=described.get(name))
                self.last[(split, name)] = per_replica
                logs[f"{split}_{name}"] = float(np.mean(per_replica))
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, logs=None):
        for w in self._writers.values():
            w.close()
        self._writers.clear()


class CheckpointError(ValueError):
    """A resume checkpoint that cannot be restored (damaged, truncated, or of another model)."""


class ImageLogger(keras.callbacks.Callback):
    """Images of every replica — e.g. its first-layer filters — in TensorBoard's Images dashboard.

    `images(model) -> {name: array}` gives, for each name, k images per replica: an array
    (R, k, height, width) or (R, k, height, width, channels) (R = 1 for a plain model). They are
    written into each seed's directory (`log_dirs[r]`, beside its `<split>/` logs) as
    `<prefix><name>`, at epoch 0, every `every` epochs (give the checkpoint interval: the images
    show what a resumed run starts from) and at the last epoch. Each image is scaled by its own
    largest absolute value onto [0, 1] with 0 at mid-grey, so a filter keeps its sign.
    """

    def __init__(self, log_dirs, images, every=10, epochs=None, prefix="", replicas=None):
        super().__init__()
        self.log_dirs = [str(d) for d in log_dirs]
        self.images = images
        self.every = max(1, int(every))
        self.epochs = epochs
        self.prefix = prefix
        self.replicas = replicas if replicas is not None else len(self.log_dirs)
        self._writers = {}

    def due(self, epoch):
        return epoch == 0 or (epoch + 1) % self.every == 0 or (self.epochs is not None and epoch == self.epochs - 1)

    def on_epoch_end(self, epoch, logs=None):
        if self.due(epoch):
            self.log(epoch)

    def log(self, step):
        """Write the images of the model as it is now at `step`."""
        made = self.images(self.model) or {}
        stacks = {}
        for name, array in made.items():
            array = np.asarray(array, dtype="float64")
            if array.ndim == 4:
                array = array[..., None]
            if array.ndim != 5 or array.shape[0] != self.replicas or array.shape[-1] not in (1, 3, 4):
                raise ValueError(
                    f"ImageLogger: images()[{name!r}] must be (replicas={self.replicas}, images, height, width"
                    f"[, 1|3|4 channels]), got shape {np.shape(made[name])}")
            peak = np.abs(array).max(axis=(2, 3, 4), keepdims=True)
            stacks[name] = np.clip(0.5 + array / (2 * np.where(peak > 0, peak, 1.0)), 0.0, 1.0)
        if not stacks:
            return
        for r, log_dir in enumerate(self.log_dirs):
            if r not in self._writers:
                self._writers[r] = tf.summary.create_file_writer(log_dir)
            with self._writers[r].as_default():
                for name, stack in stacks.items():
                    tf.summary.image(self.prefix + name, stack[r].astype("float32"), step=int(step),
                                     max_outputs=stack.shape[1])
            self._writers[r].flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves model, optimizer and epoch every `every` epochs so a killed run can resume.

    Uses `tf.train.Checkpoint`: the data files are written first and the `checkpoint` index file
    is replaced atomically last, so a kill mid-write leaves the previous checkpoint in force.
    `restore()` returns the number of epochs already done (0 when there is no checkpoint); a
    checkpoint that cannot be read (truncated files) or does not fit the model raises
    `CheckpointError` naming its files. `extra` names more trackable state saved and restored with
    the model (early stopping's best weights, whether the L-BFGS polish ran). `restore_from` is
    the directory restored from when it holds a checkpoint (a multi-worker worker writes its own
    directory but resumes from the chief's, so every process resumes at the same epoch).
    """

    def __init__(self, directory, every=10, max_to_keep=1, extra=None, restore_from=None):
        super().__init__()
        self.extra = dict(extra or {})
        self.restore_from = None if restore_from is None else str(restore_from)
        self.directory = str(directory)
        self.every = max(1, int(every))
        self.max_to_keep = max_to_keep
        self._manager = None
        self._epoch = None

    def _setup(self, model):
        if self._manager is None:
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
            ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=self._epoch, **self.extra)
            self._manager = tf.train.CheckpointManager(ckpt, self.directory, max_to_keep=self.max_to_keep)
        return self._manager

    def restore(self, model):
        manager = self._setup(model)
        latest = tf.train.latest_checkpoint(self.restore_from) if self.restore_from else None
        latest = latest or manager.latest_checkpoint
        if latest is None:
            return 0
        try:
            manager.checkpoint.restore(latest).assert_existing_objects_matched()
        except AssertionError as exc:
            raise CheckpointError(f"the checkpoint {latest} (.index, .data-*) does not fit the model "
                                  f"({' '.join(str(exc).split())[:160]})") from None
        except (tf.errors.OpError, IndexError, ValueError, OSError) as exc:
            reason = " ".join(str(getattr(exc, "message", None) or exc).split())[:160] or type(exc).__name__
            raise CheckpointError(f"the checkpoint {latest} (.index, .data-*) cannot be read, it is damaged or "
                                  f"truncated ({reason})") from None
        return int(self._epoch.numpy())

    def save(self, epochs_done):
        self._epoch.assign(int(epochs_done))
        self._manager.save(checkpoint_number=int(epochs_done))

    def on_train_begin(self, logs=None):
        self._setup(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.save(epoch + 1)


class ProgressBar(keras.callbacks.Callback):
    """One line of progress per run: epochs done, rate, time left, the training loss per seed, and
    the latest evaluation with the epoch it was measured at, e.g.

        v1/baseline4/run0/seed0-9 ████████████········ 450/1000 epochs 151.2/s eta 4s loss/seed=0.5123 | validation_correlation=0.8312 validation_loss=0.6102 @ epoch 450

    - The training loss of a replicated model is the sum over its R seeds (`ndnx.layers.replicas`):
      the bar divides it by R and says "loss/seed" (a plain model: "loss").
    - Evaluations (the `<split>_<metric>` entries `ReplicaLogger` puts into the epoch logs: means
      over the seeds) happen every `log_every` epochs; the bar keeps showing the last one, with the
      number of epochs it was measured after.
    - On a terminal one line is rewritten in place (at most 5 times a second); otherwise (the log
      file of a runner's job) a line is written every 10 s and at the end.

    Not `keras.utils.Progbar`: it writes to stdout only, treats every POSIX process as a live
    terminal (a job's log file would get backspaces, carriage returns and colour codes instead of
    one line every few seconds) and shows numbers only — no run label, no "@ epoch".

    Args:
        epochs: the total; initial_epoch: where a resumed run starts.
        label: what the line starts with (the job: experiment/run/seeds).
        replicas: the seeds the model holds (None or 1: a plain model).
        keys: the epoch-log entries shown (default the training loss and every validation metric).
    """

    def __init__(self, epochs, initial_epoch=0, label="", stream=None, width=28, keys=None, replicas=None):
        super().__init__()
        self.epochs = int(epochs)
        self.initial_epoch = int(initial_epoch)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.keys = keys
        self.replicas = int(replicas) if replicas else 1
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._loss = None
        self._measured = {}  # key -> (value, epochs done when it was measured)
        self._last_print = 0.0

    def on_train_begin(self, logs=None):
        self._start = None

    def metrics_text(self):
        """The metrics part of the line."""
        parts = []
        if self._loss is not None:
            name = "loss/seed" if self.replicas > 1 else "loss"
            parts.append(f"{name}={self._loss / self.replicas:.4f}")
        by_epoch = {}
        for key, (value, epoch) in self._measured.items():
            by_epoch.setdefault(epoch, []).append(f"{key}={value:.4f}")
        for epoch in sorted(by_epoch, reverse=True):
            parts.append(" ".join(by_epoch[epoch]) + f" @ epoch {epoch}")
        return " | ".join(parts)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._start is None:
            # The first epoch pays for tracing and XLA compilation; rates count from its end.
            self._start = time.time()
            self._first = epoch + 1
        done = epoch + 1
        # Default: the training loss and whatever the evaluation of the validation split gave.
        keys = self.keys or [k for k in logs if k == "loss" or k.startswith("validation_")]
        for k in keys:
            if k not in logs:
                continue
            if k == "loss":
                self._loss = float(logs[k])
            else:
                self._measured[k] = (float(logs[k]), done)
        now = time.time()
        final = done >= self.epochs
        if not final and now - self._last_print < (0.2 if self._tty else 10.0):
            return
        self._last_print = now
        frac = done / self.epochs
        rate = (done - self._first) / max(now - self._start, 1e-9)
        eta = f"{(self.epochs - done) / rate:.0f}s" if rate > 0 else "?"
        bar = "█" * int(self.width * frac) + "·" * (self.width - int(self.width * frac))
        line = f"{self.label} {bar} {done}/{self.epochs} epochs {rate:.1f}/s eta {eta} {self.metrics_text()}"
        if self._tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class LBFGSProgress:
    """A progress line for `fit_lbfgs` (its `callback`): iterations, rate and the objective (per
    seed for a replicated model, whose objective is the sum over its `replicas` seeds)."""

    def __init__(self, maxiter, label="", stream=None, every_seconds=10.0, replicas=None):
        self.maxiter = int(maxiter)
        self.label = label
        self.stream = stream or sys.stderr
        self.every_seconds = every_seconds
        self.replicas = int(replicas) if replicas else 1
        self._start = time.time()
        self._last = 0.0

    def __call__(self, iteration, loss):
        now = time.time()
        if now - self._last < self.every_seconds and iteration < self.maxiter:
            return
        self._last = now
        rate = iteration / max(now - self._start, 1e-9)
        name = "objective/seed" if self.replicas > 1 else "objective"
        self.stream.write(f"{self.label} L-BFGS {iteration}/{self.maxiter} iterations {rate:.1f}/s "
                          f"{name}={loss / self.replicas:.6g}\n")
        self.stream.flush()


def write_json_atomic(path, obj):
    """Write `obj` as JSON through `ndnx.files.atomic_open`, so readers never see half a file."""
    with atomic_open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
