"""`train`: fit a (possibly replicated) model with per-seed logs, checkpoints and resume."""

import os
import tempfile

import keras
import tensorflow as tf

from ndnx.training.callbacks import EpochCheckpoint, LBFGSProgress, ProgressBar, ReplicaLogger
from ndnx.training.compiled_epochs import CompiledEpochs
from ndnx.training.early_stopping import ReplicaEarlyStopping
from ndnx.training.lbfgs import fit_lbfgs
from ndnx.training.distributed import DistributedEpochs, local_evaluation
from ndnx.training.strategy import is_chief, is_default_strategy
from ndnx.training.ensemble import check_replica_optimizer, extract_replica, num_replicas, supervised_evaluation

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
          label="", strategy=None, extra_splits=None, early_stop=None, lbfgs=None, drop_remainder=False):
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
        drop_remainder: False (default, the thesis's NDN3 fork): ceil(T / batch_size) steps, the
            last one partial; True (upstream NDN3): floor(T / batch_size) full steps.
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
        early_stop: None, a patience in epochs, or a dict of `ReplicaEarlyStopping` options
            with "split" (default "validation"; NDN3 early_stop_mode 1, "train" is mode 2),
            "patience", "monitor" (default "loss"), "mode" and "min_delta". Each replica stops
            being scored after `patience` epochs without improvement and gets its best weights
            back; training ends when every replica has stopped.
        lbfgs: None, or a dict of `fit_lbfgs` options ({} for NDN3's defaults): after the
            epochs (none with epochs=0, NDN3's learning_alg='lbfgs'), the model is fitted to
            the whole training split with full-batch L-BFGS and logged once more.

    Returns:
        dict with "initial_epoch", "epochs_done" (fewer than `epochs` after an early stop),
        "best_epoch" (per replica, with early_stop), "lbfgs" (the `fit_lbfgs` result, or None)
        and "final" = {(split, metric): per-replica array}.
    """
    check_replica_optimizer(model)  # a replicated model's seeds stay apart only under an elementwise optimizer
    distributed = strategy is not None and not is_default_strategy(strategy)
    if distributed and lbfgs is not None:
        raise ValueError("train: the L-BFGS fit runs on one device; train without a distribution strategy "
                         "or set lbfgs=None")
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
    stopper = None
    if early_stop:
        options = {"patience": early_stop} if isinstance(early_stop, (int, float)) else dict(early_stop)
        split = options.pop("split", "validation")
        candidates = {"train": train_data, "validation": validation_data, **(extra_splits or {})}
        if candidates.get(split) is None:
            raise ValueError(f"train: early_stop scores the split {split!r}, which was not given "
                             f"(splits: {sorted(k for k, v in candidates.items() if v is not None)})")
        options.setdefault("every", log_every)
        # Restored by hand below, before an L-BFGS polish, not by on_train_end after it.
        stopper = ReplicaEarlyStopping(model, candidates[split], evaluate, logger=logger,
                                       restore_best=False, **options)
        all_callbacks.append(stopper)
    polished = tf.Variable(False, trainable=False)
    checkpoint = None
    initial_epoch = 0
    if checkpoint_dir is not None:
        extra = {"polished": polished}
        if stopper is not None:
            extra["early_stop"] = stopper.checkpoint_state()
        checkpoint = EpochCheckpoint(checkpoint_dir, every=checkpoint_every, extra=extra)
        initial_epoch = checkpoint.restore(model)
        all_callbacks.append(checkpoint)
    all_callbacks.extend(callbacks)
    if progress:
        all_callbacks.append(ProgressBar(epochs, initial_epoch, label=label))

    if jit_compile == "auto":
        jit_compile = getattr(model, "jit_compile", True) is True
    if distributed:
        runner = DistributedEpochs(model, *train_data, batch_size=batch_size, strategy=strategy,
                                   shuffle_seed=shuffle_seed, jit_compile=jit_compile,
                                   drop_remainder=drop_remainder)
    else:
        runner = CompiledEpochs(model, *train_data, batch_size=batch_size, shuffle_seed=shuffle_seed,
                                jit_compile=jit_compile, drop_remainder=drop_remainder)
    callback_list = keras.callbacks.CallbackList(all_callbacks, model=model)
    model.stop_training = False
    callback_list.on_train_begin()
    done = initial_epoch
    # A run that early-stopped or was polished before it was restarted has nothing left to train.
    finished = bool(polished.numpy()) or (stopper is not None and bool(stopper.stopped.numpy()))
    for epoch in range(initial_epoch, initial_epoch if finished else epochs):
        callback_list.on_epoch_begin(epoch)
        logs = runner.run_epoch(epoch)
        callback_list.on_epoch_end(epoch, logs)
        done = epoch + 1
        if model.stop_training:
            break
    if checkpoint is not None and done > initial_epoch:
        checkpoint.save(done)
    final_log = False
    if stopper is not None and not bool(polished.numpy()):
        stopper.restore()
        final_log = True
    lbfgs_result = None
    if lbfgs is not None and not bool(polished.numpy()):
        options = dict(lbfgs)
        if progress and "callback" not in options:
            options["callback"] = LBFGSProgress(options.get("maxiter", 500) * options.get("rounds", 1), label)
        lbfgs_result = fit_lbfgs(model, *train_data, **options)
        polished.assign(True)
        if checkpoint is not None:
            checkpoint.save(done)
        final_log = True
    if logger is not None and final_log:
        logger.log(done)
    callback_list.on_train_end()
    return {"initial_epoch": initial_epoch, "epochs_done": done,
            "best_epoch": None if stopper is None else stopper.best_epoch.numpy().tolist(),
            "lbfgs": lbfgs_result, "final": dict(logger.last) if logger else {}}


def save_replicas(model, paths):
    """Save each replica of `model` as a plain model to `paths[r]` (a plain model to paths[0])."""
    replicas = num_replicas(model)
    if replicas is None:
        save_model_atomic(model, paths[0])
        return
    for r, path in enumerate(paths):
        save_model_atomic(extract_replica(model, r), path)
