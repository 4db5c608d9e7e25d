"""`train`: fit a (possibly replicated) model with per-seed logs, checkpoints and resume.

The data may be supervised arrays, x alone, or a tf.data pipeline; the model may have its own
`train_step` and may carry state from batch to batch (truncated BPTT).
"""

import os
import shutil

import keras
import tensorflow as tf

from ndnx.files import atomic_path
from ndnx.training.callbacks import (EpochCheckpoint, ImageLogger, LBFGSProgress, ProgressBar, ReplicaLogger,
                                    write_hparams)
from ndnx.training.carried_state import carried_state_variables, preserved_carried_state, reset_carried_state
from ndnx.training.compiled_epochs import CompiledEpochs
from ndnx.training.dataset_epochs import DatasetEpochs, is_pipeline
from ndnx.training.distributed import DistributedDatasetEpochs, DistributedEpochs, local_evaluation
from ndnx.training.early_stopping import ReplicaEarlyStopping
from ndnx.training.ensemble import check_replica_optimizer, extract_replica, num_replicas
from ndnx.training.evaluation import is_supervised, loss_evaluation, split_arguments
from ndnx.training.lbfgs import fit_lbfgs
from ndnx.training.strategy import is_chief, is_default_strategy

__all__ = ["train", "save_model_atomic"]


def save_model_atomic(model, path):
    """`model.save(path)` through `ndnx.files.atomic_path`: readers never see half a model.

    Keras requires a path ending in ".keras", so the model is written into a hidden temporary
    directory beside `path` (which no `*.keras` listing of the directory sees) and moved into place
    only when complete; the file's permissions follow the umask.
    """
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)


def _epoch_runner(model, train_data, *, batch_size, shuffle, shuffle_seed, jit_compile, drop_remainder,
                  distributed, strategy):
    """The epoch loop for the kind of training data given (arrays, x alone, a tf.data pipeline)."""
    if is_pipeline(train_data):
        if distributed:
            return DistributedDatasetEpochs(model, train_data, strategy, jit_compile=jit_compile)
        return DatasetEpochs(model, train_data, jit_compile=jit_compile)
    args = split_arguments(train_data)
    if len(args) == 3:
        raise ValueError("train: sample weights in the training split are not supported; weight the loss "
                         "instead (e.g. NaN targets are left out by ndnx losses)")
    x, y = args[0], (args[1] if len(args) > 1 else None)
    if batch_size is None:
        raise ValueError("train: batch_size is required for in-memory training data (a tf.data pipeline "
                         "brings its own batches)")
    if distributed:
        return DistributedEpochs(model, x, y, batch_size=batch_size, strategy=strategy, shuffle=shuffle,
                                 shuffle_seed=shuffle_seed, jit_compile=jit_compile, drop_remainder=drop_remainder)
    return CompiledEpochs(model, x, y, batch_size=batch_size, shuffle=shuffle, shuffle_seed=shuffle_seed,
                          jit_compile=jit_compile, drop_remainder=drop_remainder)


def train(model, train_data, validation_data=None, *, epochs, batch_size=None, seeds=None,
          log_dir=None, checkpoint_dir=None, log_every=10, checkpoint_every=None,
          shuffle_seed=0, shuffle=True, carry_state=False, reset_state="run", evaluate=None, callbacks=(),
          jit_compile="auto", progress=True, label="", strategy=None, extra_splits=None, early_stop=None,
          lbfgs=None, drop_remainder=False, tag_prefix="", hparams=None, images=None):
    """Train `model` for `epochs` epochs, resuming from `checkpoint_dir`.

    Every replica of a replicated model is one seed: `seeds[r]` names replica r, its logs go to
    `<log_dir>/seed<seeds[r]>/<split>/`. When `checkpoint_dir` holds a checkpoint of this run,
    training continues from it and ends after the same total number of epochs; the batches of
    every epoch depend only on (shuffle_seed, epoch), so the resumed run equals the uninterrupted
    one.

    Args:
        model: a compiled Keras model (plain or replicated; any `train_step`).
        train_data: what one epoch goes through:
            - `(x, y)` arrays (supervised; whole epochs as one compiled loop);
            - x alone, an array (or a list / dict of arrays; not a tuple, which means (x, y)):
              batches of x are passed to the model's own `train_step`;
            - a `tf.data.Dataset` of batches, or a callable `epoch -> Dataset` (see
              `ndnx.training.dataset_epochs` for what makes such a run resume exactly).
        validation_data, extra_splits: splits evaluated and logged, given like `train_data`
            (a pipeline as a Dataset) — `extra_splits` maps more names to splits (e.g. the
            noiseless rates of a synthetic region).
        epochs: as in `model.fit`.
        batch_size: rows per step of in-memory data (unused for a pipeline).
        drop_remainder: False (default, the thesis's NDN3 fork): ceil(T / batch_size) steps, the
            last one partial; True (upstream NDN3): floor(T / batch_size) full steps.
        shuffle: False keeps the rows of in-memory data in order (truncated BPTT needs it).
        carry_state: truncated backpropagation through time: the model's carried state
            (stateful RNNs, `carried_state` variables; `ndnx.training.carried_state`) passes from
            each batch to the next and across epochs, is saved with the resume checkpoints and is
            left untouched by evaluations (which start from the initial state and carry it through
            the split's batches in order). Needs `shuffle=False`.
        reset_state: with `carry_state`, "run" (the state starts from its initial value once, at
            the start of the run) or "epoch" (at the start of every epoch).
        seeds: labels of the replicas (default 0..R−1).
        log_dir: TensorBoard root of this run (None: no logs; the splits are then evaluated once,
            at the end, for the returned "final").
        checkpoint_dir: where resume checkpoints live (None: no checkpoints).
        log_every, checkpoint_every: epochs between evaluations / checkpoints.
        evaluate: (model, *split) → {metric: per-replica array}; default
            `ndnx.training.loss_evaluation` (each replica's loss).
        callbacks: more Keras callbacks.
        jit_compile: XLA for the compiled epoch loop: a bool, or "auto" — as the model was
            compiled (`model.compile(jit_compile=...)`; see `ndnx.training.xla_helps`).
        progress: show a progress bar.
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
            the whole training split (supervised arrays) with full-batch L-BFGS and logged once
            more.
        tag_prefix: put before every logged tag (a chain step's "<step>/").
        hparams: a `ndnx.training.callbacks.RunHParams` (the run's configuration and name), written
            once into every seed's log directory as a TensorBoard HParams session, so grids compare
            in TensorBoard's HParams dashboard (needs `log_dir`).
        images: None, or model → {name: (R, k, height, width[, channels]) array}: k images per
            replica (e.g. the first-layer filters) written into every seed's log directory at epoch
            0, at every checkpoint (`checkpoint_every`) and at the end (`ImageLogger`; needs `log_dir`).

    Returns:
        dict with "initial_epoch", "epochs_done" (fewer than `epochs` after an early stop),
        "best_epoch" (per replica, with early_stop), "lbfgs" (the `fit_lbfgs` result, or None)
        and "final" = {(split, metric): per-replica array} of the last evaluation.
    """
    if isinstance(epochs, bool) or int(epochs) < 0:
        raise ValueError(f"train: epochs must be a number ≥ 0, got {epochs!r}")
    check_replica_optimizer(model)  # a replicated model's seeds stay apart only under an elementwise optimizer
    distributed = strategy is not None and not is_default_strategy(strategy)
    if distributed and lbfgs is not None:
        raise ValueError("train: the L-BFGS fit runs on one device; train without a distribution strategy "
                         "or set lbfgs=None")
    if lbfgs is not None and not is_supervised(train_data):
        raise ValueError("train: the L-BFGS fit needs the training split as in-memory (x, y) arrays")
    if carry_state and shuffle:
        raise ValueError("train: carry_state passes the state from each batch to the next, so the batches "
                         "must follow each other: set shuffle=False")
    if reset_state not in ("run", "epoch"):
        raise ValueError(f"train: reset_state must be 'run' or 'epoch', got {reset_state!r}")
    worker = distributed and not is_chief(strategy)
    restore_from = None
    if worker:
        # Workers train in lockstep with the chief; only the chief writes (TF multi-worker rule)
        # and evaluates. A worker saves into its own worker_tmp_<id> but resumes from the chief's
        # checkpoint when it sees it (a shared file system), so all resume at the same epoch.
        log_dir = None
        if checkpoint_dir is not None:
            restore_from = str(checkpoint_dir)
            checkpoint_dir = os.path.join(restore_from, f"worker_tmp_{strategy.cluster_resolver.task_id}")
        progress = False
    replicas = num_replicas(model)
    n = 1 if replicas is None else replicas
    seeds = list(range(n)) if seeds is None else list(seeds)
    if len(seeds) != n:
        raise ValueError(f"train: the model holds {n} replica(s) but {len(seeds)} seed labels were given")
    evaluate = evaluate or loss_evaluation
    if distributed and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # The chief evaluates alone; collective ops inside predict would wait for the workers.
        evaluate = local_evaluation(evaluate)
    if carry_state:
        evaluate = _keeping_carried_state(evaluate)
    checkpoint_every = checkpoint_every or log_every

    splits = {"train": train_data}
    if validation_data is not None:
        splits["validation"] = validation_data
    splits.update(extra_splits or {})
    for name, data in splits.items():
        if name != "train" and callable(data) and not isinstance(data, tf.data.Dataset) and is_pipeline(data):
            raise ValueError(f"train: the {name!r} split is a function; give evaluation splits as arrays or a "
                             "tf.data.Dataset")
    if is_pipeline(train_data) and not isinstance(train_data, tf.data.Dataset):
        splits["train"] = train_data(0)  # evaluated on epoch 0's batches

    all_callbacks = []
    if hparams is not None and log_dir is not None:
        write_hparams([os.path.join(str(log_dir), f"seed{s}") for s in seeds], hparams)
    logger = ReplicaLogger(None if log_dir is None else [os.path.join(str(log_dir), f"seed{s}") for s in seeds],
                           splits, evaluate, every=log_every if log_dir is not None else None,
                           epochs=None if worker else epochs, prefix=tag_prefix, replicas=n)
    all_callbacks.append(logger)
    pictures = None
    if images is not None and log_dir is not None:
        pictures = ImageLogger([os.path.join(str(log_dir), f"seed{s}") for s in seeds], images,
                               every=checkpoint_every, epochs=epochs, prefix=tag_prefix, replicas=n)
        all_callbacks.append(pictures)
    stopper = None
    if early_stop:
        options = {"patience": early_stop} if isinstance(early_stop, (int, float)) else dict(early_stop)
        split = options.pop("split", "validation")
        if splits.get(split) is None:
            raise ValueError(f"train: early_stop scores the split {split!r}, which was not given "
                             f"(splits: {sorted(splits)})")
        options.setdefault("every", log_every)
        if log_dir is None:
            logger.every = int(options["every"])  # the stopper reuses the logger's evaluations
        # Restored by hand below, before an L-BFGS polish, not by on_train_end after it.
        stopper = ReplicaEarlyStopping(model, splits[split], evaluate, logger=logger,
                                       restore_best=False, **options)
        all_callbacks.append(stopper)
    polished = tf.Variable(False, trainable=False)
    checkpoint = None
    initial_epoch = 0
    carried = carried_state_variables(model) if carry_state else []
    if checkpoint_dir is not None:
        extra = {"polished": polished}
        if stopper is not None:
            extra["early_stop"] = stopper.checkpoint_state()
        if carried:
            extra["carried_state"] = carried
        checkpoint = EpochCheckpoint(checkpoint_dir, every=checkpoint_every, extra=extra, restore_from=restore_from)
        initial_epoch = checkpoint.restore(model)
        all_callbacks.append(checkpoint)
    all_callbacks.extend(callbacks)
    if progress:
        all_callbacks.append(ProgressBar(epochs, initial_epoch, label=label, replicas=n))

    if jit_compile == "auto":
        jit_compile = getattr(model, "jit_compile", True) is True
    runner = _epoch_runner(model, train_data, batch_size=batch_size, shuffle=shuffle, shuffle_seed=shuffle_seed,
                           jit_compile=jit_compile, drop_remainder=drop_remainder, distributed=distributed,
                           strategy=strategy)
    if carry_state and initial_epoch == 0:
        reset_carried_state(model)
    callback_list = keras.callbacks.CallbackList(all_callbacks, model=model)
    model.stop_training = False
    callback_list.on_train_begin()
    done = initial_epoch
    # A run that early-stopped or was polished before it was restarted has nothing left to train.
    finished = bool(polished.numpy()) or (stopper is not None and bool(stopper.stopped.numpy()))
    for epoch in range(initial_epoch, initial_epoch if finished else epochs):
        if carry_state and reset_state == "epoch":
            reset_carried_state(model)
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
            options["callback"] = LBFGSProgress(options.get("maxiter", 500) * options.get("rounds", 1), label,
                                                replicas=n)
        lbfgs_result = fit_lbfgs(model, *train_data, **options)
        polished.assign(True)
        if checkpoint is not None:
            checkpoint.save(done)
        final_log = True
    if final_log or (not logger.last and not worker):
        # The weights changed after the last evaluation (best weights back, L-BFGS), or nothing
        # was evaluated yet (a run without logs, or epochs=0: the scores of the model as built).
        logger.log(done)
        if pictures is not None and final_log:
            pictures.log(done)
    callback_list.on_train_end()
    if restore_from is not None and tf.train.latest_checkpoint(restore_from) is not None:
        # The chief's checkpoint is what a restart resumes from: the worker's copy inside the
        # chief's directory is a temporary, removed when the training ends.
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return {"initial_epoch": initial_epoch, "epochs_done": done,
            "best_epoch": None if stopper is None else stopper.best_epoch.numpy().tolist(),
            "lbfgs": lbfgs_result, "final": dict(logger.last)}


def _keeping_carried_state(evaluate):
    """`evaluate` run from the initial state (carried through the split's batches in order), with the
    training's carried state put back afterwards."""

    def wrapped(model, *split):
        with preserved_carried_state(model):
            reset_carried_state(model)
            return evaluate(model, *split)

    wrapped.__name__ = getattr(evaluate, "__name__", "evaluation")
    wrapped.descriptions = getattr(evaluate, "descriptions", {})
    return wrapped


def save_replicas(model, paths):
    """Save each replica of `model` as a plain model to `paths[r]` (a plain model to paths[0])."""
    replicas = num_replicas(model)
    if replicas is None:
        save_model_atomic(model, paths[0])
        return
    for r, path in enumerate(paths):
        save_model_atomic(extract_replica(model, r), path)
