"""`train`: fit a (possibly replicated) model with per-seed logs, checkpoints and resume."""

import os
import tempfile

import keras
import tensorflow as tf

from ndnx.training.callbacks import EpochCheckpoint, ProgressBar, ReplicaLogger
from ndnx.training.compiled_epochs import CompiledEpochs
from ndnx.training.distributed import DistributedEpochs, local_evaluation
from ndnx.training.strategy import is_chief, is_default_strategy
from ndnx.training.ensemble import extract_replica, num_replicas, supervised_evaluation

__all__ = ["train", "save_model_atomic"]


def save_model_atomic(model, path):
    """`model.save(path)` through a temporary file in the same directory and os.replace."""
    path = str(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".keras", dir=os.path.dirname(path) or ".")
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def train(model, train_data, validation_data=None, *, epochs, batch_size, seeds=None,
          log_dir=None, checkpoint_dir=None, log_every=10, checkpoint_every=None,
          shuffle_seed=0, evaluate=None, callbacks=(), jit_compile="auto", progress=True,
          label="", strategy=None, extra_splits=None):
    """Train `model` on in-memory data for `epochs` epochs, resuming from `checkpoint_dir`.

    Every replica of a replicated model is one seed: `seeds[r]` names replica r, its logs go to
    `<log_dir>/seed<seeds[r]>/{train,validation}/`. When `checkpoint_dir` holds a checkpoint of
    this run, training continues from it and ends after the same total number of epochs; the
    batches of every epoch depend only on (shuffle_seed, epoch), so the resumed run equals the
    uninterrupted one.

    Args:
        model: a compiled Keras model (plain or replicated; any `train_step`).
        train_data, validation_data: (x, y) tuples of arrays.
        epochs, batch_size: as in `model.fit`.
        seeds: labels of the replicas (default 0..R−1).
        log_dir: TensorBoard root of this run (None: no logs).
        checkpoint_dir: where resume checkpoints live (None: no checkpoints).
        log_every, checkpoint_every: epochs between evaluations / checkpoints.
        evaluate: (model, x, y) → {metric: per-replica array}; default: loss and correlation.
        callbacks: more Keras callbacks.
        jit_compile: XLA for the compiled epoch loop: a bool, or "auto" — as the model was
            compiled (`model.compile(jit_compile=...)`; see `ndnx.models.v1.xla_helps`).
        progress: show a progress bar.
        extra_splits: more {name: (x, y)} splits to evaluate and log like validation (e.g. the
            noiseless rates of a synthetic region).
        strategy: a `tf.distribute` strategy the model and optimizer were built under (see
            `ndnx.training.strategy`); None or the default strategy trains on one device with
            the compiled epoch loop. Under a multi-worker strategy only the chief writes logs
            and checkpoints.

    Returns:
        dict with "epochs_done", "initial_epoch" and "final" = {(split, metric): per-replica array}.
    """
    distributed = strategy is not None and not is_default_strategy(strategy)
    if distributed and not is_chief(strategy):
        # Workers train in lockstep with the chief; only the chief writes (TF multi-worker rule).
        log_dir = None
        checkpoint_dir = None if checkpoint_dir is None else os.path.join(
            str(checkpoint_dir), f"worker_tmp_{strategy.cluster_resolver.task_id}")
        progress = False
    replicas = num_replicas(model)
    n = 1 if replicas is None else replicas
    seeds = list(range(n)) if seeds is None else list(seeds)
    if len(seeds) != n:
        raise ValueError(f"train: the model holds {n} replica(s) but {len(seeds)} seed labels were given")
    evaluate = evaluate or supervised_evaluation
    if distributed and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # The chief evaluates alone; collective ops inside predict would wait for the workers.
        evaluate = local_evaluation(evaluate)
    checkpoint_every = checkpoint_every or log_every

    all_callbacks = []
    logger = None
    if log_dir is not None:
        splits = {"train": train_data}
        if validation_data is not None:
            splits["validation"] = validation_data
        splits.update(extra_splits or {})
        logger = ReplicaLogger([os.path.join(str(log_dir), f"seed{s}") for s in seeds], splits,
                               evaluate, every=log_every, epochs=epochs)
        all_callbacks.append(logger)
    checkpoint = None
    initial_epoch = 0
    if checkpoint_dir is not None:
        checkpoint = EpochCheckpoint(checkpoint_dir, every=checkpoint_every)
        initial_epoch = checkpoint.restore(model)
        all_callbacks.append(checkpoint)
    all_callbacks.extend(callbacks)
    if progress:
        all_callbacks.append(ProgressBar(epochs, initial_epoch, label=label))

    if jit_compile == "auto":
        jit_compile = getattr(model, "jit_compile", True) is True
    if distributed:
        runner = DistributedEpochs(model, *train_data, batch_size=batch_size, strategy=strategy,
                                   shuffle_seed=shuffle_seed, jit_compile=jit_compile)
    else:
        runner = CompiledEpochs(model, *train_data, batch_size=batch_size,
                                shuffle_seed=shuffle_seed, jit_compile=jit_compile)
    callback_list = keras.callbacks.CallbackList(all_callbacks, model=model)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        logs = runner.run_epoch(epoch)
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    if checkpoint is not None and initial_epoch < epochs:
        checkpoint.save(epoch + 1)
    callback_list.on_train_end()
    return {"initial_epoch": initial_epoch, "epochs_done": epochs,
            "final": dict(logger.last) if logger else {}}


def save_replicas(model, paths):
    """Save each replica of `model` as a plain model to `paths[r]` (a plain model to paths[0])."""
    replicas = num_replicas(model)
    if replicas is None:
        save_model_atomic(model, paths[0])
        return
    for r, path in enumerate(paths):
        save_model_atomic(extract_replica(model, r), path)
