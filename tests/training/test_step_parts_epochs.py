"""Trainers and a model that runs its step as parts side by side (`ndnx.training.runs_step_parts`):
`DatasetEpochs` and `CompiledEpochs` call such a step batch by batch from Python, and train exactly
as Keras' `train_on_batch` over the same batches in the same order."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import ndnx
from ndnx.models import FeedbackNetwork
from ndnx.training import CompiledEpochs, runs_step_parts
from ndnx.training.dataset_epochs import DatasetEpochs

BATCHES, BATCH, STEPS = 3, 6, 20


def _model(parts):
    model = FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=8, tau=2.0, seed=3), batch_size=BATCH,
                            batch_parts=parts)
    model.compile(keras.optimizers.SGD(0.05), jit_compile=False)
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCHES * BATCH, STEPS, 2)).astype("float32")
    s = rng.normal(size=(BATCHES * BATCH, STEPS, 2)).astype("float32")
    return x, s


def _reference():
    """Keras' train_on_batch over the batches in order, one epoch (carried state from batch to batch)."""
    model = _model(2)
    x, s = _data()
    for k in range(BATCHES):
        model.train_on_batch(x[k * BATCH:(k + 1) * BATCH], s[k * BATCH:(k + 1) * BATCH])
    return model


def _assert_same(model, reference):
    for w, w_ref in zip(model.trainable_weights, reference.trainable_weights):
        np.testing.assert_allclose(w.numpy(), w_ref.numpy(), rtol=1e-6, atol=1e-7)
    for v, v_ref in zip(model.carried_state, reference.carried_state):
        np.testing.assert_allclose(v.numpy(), v_ref.numpy(), rtol=1e-6, atol=1e-7)


def test_a_model_of_several_parts_runs_step_parts_and_one_of_one_part_does_not():
    assert runs_step_parts(_model(2), True) and runs_step_parts(_model(2), False)
    assert not runs_step_parts(_model(1), True)
    assert not runs_step_parts(keras.Sequential([keras.layers.Dense(1)]), True)


def test_dataset_epochs_train_a_model_of_parts_batch_by_batch_as_train_on_batch():
    x, s = _data()
    model = _model(2)
    epochs = DatasetEpochs(model, lambda epoch: tf.data.Dataset.from_tensor_slices((x, s)).batch(BATCH),
                           jit_compile=False)
    assert not isinstance(epochs._epoch, tf.types.experimental.PolymorphicFunction)  # a Python loop
    assert epochs.pipeline(0).options().autotune.enabled is False
    epochs.run_epoch(0)
    assert epochs.steps_per_epoch == BATCHES
    _assert_same(model, _reference())


def test_dataset_epochs_keep_a_pipelines_own_autotune_setting():
    x, s = _data()
    options = tf.data.Options()
    options.autotune.enabled = True
    epochs = DatasetEpochs(_model(2), tf.data.Dataset.from_tensor_slices((x, s)).batch(BATCH).with_options(options))
    assert epochs.pipeline(0).options().autotune.enabled is True
    # a one-part model keeps tf.data's default
    assert DatasetEpochs(_model(1), tf.data.Dataset.from_tensor_slices((x, s)).batch(BATCH)).pipeline(
        0).options().autotune.enabled is None


def test_compiled_epochs_train_a_model_of_parts_batch_by_batch_as_train_on_batch():
    x, s = _data()
    model = _model(2)
    epochs = CompiledEpochs(model, x, s, batch_size=BATCH, shuffle=False, jit_compile=False)
    epochs.run_epoch(0)
    _assert_same(model, _reference())


@pytest.mark.parametrize("trainer", ["dataset", "compiled"])
def test_a_one_part_model_still_trains_in_one_function_per_epoch(trainer):
    x, s = _data()
    model = _model(1)
    if trainer == "dataset":
        epochs = DatasetEpochs(model, tf.data.Dataset.from_tensor_slices((x, s)).batch(BATCH))
        assert isinstance(epochs._epoch, tf.types.experimental.PolymorphicFunction)
    else:
        epochs = CompiledEpochs(model, x, s, batch_size=BATCH, shuffle=False, jit_compile=False)
        assert isinstance(epochs._full, tf.types.experimental.PolymorphicFunction)
    epochs.run_epoch(0)
    # one part steps as two parts do (tests/models/test_feedback_model.py), so the reference holds
    _assert_same(model, _reference())
