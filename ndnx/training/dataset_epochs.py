"""Epochs over a `tf.data` pipeline, each epoch one compiled function.

For data that do not sit in memory as arrays, or that are generated (task trials, signals,
sampled images), or whose model has its own `train_step` fed by whatever the pipeline yields
(x alone for energy-based models). The loop over the pipeline's batches is one `tf.function`
(AutoGraph turns it into a dataset reduction), and each step calls the model's `train_step`,
XLA-compiled when asked, so there is no per-step dispatch from Python. A model that runs its
step as parts side by side (`ndnx.training.runs_step_parts`) is the exception: its steps are
long, and it trains faster called batch by batch, over a pipeline without tf.data's autotuning.

Resume. `dataset` is a `tf.data.Dataset`, iterated from its start every epoch, or a callable
`epoch -> tf.data.Dataset`. A resumed run sees the batches an uninterrupted run would have seen
when the batches of epoch e depend on e alone: a deterministic pipeline, or a callable that seeds
its shuffling and sampling with the epoch (e.g. `ds.shuffle(n, seed=hash((seed, epoch)))`). A
pipeline that reshuffles itself on every iteration starts its sequence of orders afresh after a
restart.
"""

import numpy as np
import tensorflow as tf

from ndnx.training.xla import runs_step_parts, step_jit_compile

__all__ = ["DatasetEpochs", "is_pipeline", "epoch_pipeline"]


def is_pipeline(data):
    """True for a `tf.data.Dataset` or a callable epoch → Dataset."""
    return isinstance(data, tf.data.Dataset) or (callable(data) and not hasattr(data, "shape"))


def epoch_pipeline(dataset, epoch, owner="DatasetEpochs"):
    """The Dataset of epoch `epoch`: `dataset` itself, or `dataset(epoch)` for a callable."""
    data = dataset(int(epoch)) if callable(dataset) and not isinstance(dataset, tf.data.Dataset) else dataset
    if not isinstance(data, tf.data.Dataset):
        raise ValueError(f"{owner}: the dataset function gave {type(data).__name__} for epoch {epoch}, "
                         "expected a tf.data.Dataset")
    return data


class DatasetEpochs:
    """Runs epochs of `model.train_step` over the batches of a `tf.data` pipeline.

    Args:
        model: a compiled Keras model (its optimizer is built here, before the first step).
        dataset: a `tf.data.Dataset` of batches, or a callable `epoch -> tf.data.Dataset`.
        jit_compile: XLA-compile each step (set explicitly; Keras' "auto" differs by device).
    """

    def __init__(self, model, dataset, jit_compile=False):
        if not is_pipeline(dataset):
            raise ValueError(f"DatasetEpochs: expected a tf.data.Dataset or a callable epoch -> Dataset, "
                             f"got {type(dataset).__name__}")
        self.model = model
        self.dataset = dataset
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)

        def one_step(batch):
            model.train_step(batch)
            return tf.constant(0)

        step = tf.function(one_step, jit_compile=step_jit_compile(model, jit_compile), reduce_retracing=True)

        def epoch(ds):
            steps = tf.constant(0)
            for batch in ds:
                step(batch)
                steps += 1
            return steps

        # a step run as parts side by side is called batch by batch (see runs_step_parts)
        self._per_batch = runs_step_parts(model, jit_compile)
        self._epoch = epoch if self._per_batch else tf.function(epoch, reduce_retracing=True)
        self.steps_per_epoch = None

    def pipeline(self, epoch):
        data = epoch_pipeline(self.dataset, epoch)
        if self._per_batch and data.options().autotune.enabled is None:
            # beside tf.data's autotuning the parts of a step ran one after the other in 3 of 10
            # epochs (FeedbackNetwork, 2 cores: 0.128 against 0.085 s per batch); never without it
            options = tf.data.Options()
            options.autotune.enabled = False
            data = data.with_options(options)
        return data

    def run_epoch(self, epoch):
        """Train one epoch; returns the model's metric results (mean training loss, ...)."""
        self.model.reset_metrics()
        steps = int(self._epoch(self.pipeline(epoch)))
        if self.steps_per_epoch is None:
            self.steps_per_epoch = steps
        return {k: float(np.mean(v)) for k, v in self.model.get_metrics_result().items()}
