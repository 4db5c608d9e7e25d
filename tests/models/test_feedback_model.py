"""FeedbackNetwork: the window loss, truncated BPTT with carried state, the activity penalty, training."""

import os

import numpy as np
import keras
import pytest
import tensorflow as tf

import ndnx
from ndnx.data import unmixing
from ndnx.models import FeedbackNetwork

RNG = np.random.default_rng(3)


def _huber(e):
    a = np.abs(e)
    return np.where(a < 1, 0.5 * e ** 2, a - 0.5)


def test_window_loss_is_the_summed_smooth_l1_plus_the_feedback_penalty():
    model = FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=8, seed=0), activity_penalty=1e-2)
    x = RNG.normal(size=(4, 25, 2)).astype("float32")
    s = 3 * RNG.normal(size=(4, 25, 2)).astype("float32")  # both branches of the Huber loss
    y, _, rec = model.run(x, record=("feedback",))
    loss = float(model.window_loss(s, y, rec["feedback"]))
    expected = _huber(y.numpy()[:, :, 0] - s).mean(axis=(0, 2)).sum() + 1e-2 * np.abs(rec["feedback"].numpy()).sum()
    assert loss == pytest.approx(expected, rel=1e-5)


def test_carried_state_continues_the_sequence_across_batches():
    model = FeedbackNetwork(ndnx.cells.SpatialNetCell(hidden_units=8, units=10, signals=2, tau=3.0, seed=1),
                            batch_size=3)
    model.compile(keras.optimizers.SGD(0.0), jit_compile=False)  # weights stay: only the state moves
    x = RNG.normal(size=(3, 40, 2)).astype("float32")
    model.fit(np.concatenate([x[:, :20], x[:, 20:]]), np.zeros((6, 20, 2), "float32"), batch_size=3, shuffle=False,
              epochs=1, verbose=0)
    _, final, _ = model.run(x)
    for carried, expected in zip(model.carried_state, final):
        np.testing.assert_allclose(carried.numpy(), expected.numpy(), atol=1e-5)
    model.reset_carried_state()
    assert all(np.all(v.numpy() == 0) for v in model.carried_state)
    with pytest.raises(ValueError, match="the carried state holds 3 contexts, got a batch of 2"):
        model.train_on_batch(x[:2, :20], np.zeros((2, 20, 2), "float32"))


def test_gradient_stops_at_the_window_edge():
    model = FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=8, seed=2), batch_size=2)
    x = RNG.normal(size=(2, 10, 2)).astype("float32")
    initial = [tf.Variable(v) for v in model.initial_state(2)]
    initial[2].assign(RNG.normal(size=(2, 1, 4)).astype("float32"))
    with tf.GradientTape() as tape:
        y, _, _ = model.run(x, [tf.stop_gradient(v) for v in initial])
        loss = tf.reduce_sum(y)
    assert all(g is None for g in tape.gradient(loss, initial))


def test_replicated_network_trains_each_seed_as_alone():
    cell = ndnx.cells.ModulationNetCell(hidden_units=6, replicas=2, seed=[4, 5])
    model = FeedbackNetwork(cell, batch_size=2)
    model.compile(keras.optimizers.Adam(1e-2, clipvalue=1.0), jit_compile=False)
    lone = FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=6, seed=5), batch_size=2)
    lone.compile(keras.optimizers.Adam(1e-2, clipvalue=1.0), jit_compile=False)
    x = RNG.normal(size=(3, 2, 15, 2)).astype("float32")
    for k in range(3):
        model.train_on_batch(x[k], x[k])
        lone.train_on_batch(x[k], x[k])
    for w, w_lone in zip(model.trainable_weights, lone.trainable_weights):
        np.testing.assert_allclose(w.numpy()[1], w_lone.numpy(), atol=1e-5)


def test_bad_input_gives_one_line():
    with pytest.raises(ValueError, match="cell must be an ndnx.cells.ModulatedCell"):
        FeedbackNetwork(ndnx.cells.LeakyRateCell(4))
    model = FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=4, seed=0))
    with pytest.raises(ValueError, match=r"expected mixtures of shape \(batch, time, 2\), got \(1, 5, 3\)"):
        model.run(np.zeros((1, 5, 3), "float32"))


def test_summed_loss_falls_within_a_few_hundred_batches():  # ~6 s with the hand-written window gradient
    """CI smoke test of TBPTT training (spec §8 D, short): ModulationNet τ = 1 on chords, 100-step windows."""
    contexts, _ = unmixing.mixing_matrices(32 * 200, seed=0)
    data = unmixing.training_windows(unmixing.chords(), contexts, window=100, batch_size=32, seed=0)
    model = FeedbackNetwork(ndnx.cells.ModulationNetCell(tau=1.0, seed=0), batch_size=32)
    model.compile(FeedbackNetwork.optimizer_of_the_paper(), jit_compile=True)
    losses = []
    for x, s in data:
        losses.append(float(model.train_on_batch(x, s, return_dict=True)["window_loss"]))
    first, last = np.mean(losses[:20]), np.mean(losses[-20:])
    print(f"summed window loss: first 20 batches {first:.2f}, last 20 {last:.2f} (200 batches of 32 × 100 steps)")
    assert last < 0.7 * first


def _split_model(parts, jit_compile=False):
    model = FeedbackNetwork(ndnx.cells.SpatialNetCell(hidden_units=8, units=10, signals=2, tau=3.0, seed=1),
                            batch_size=6, activity_penalty=1e-2, batch_parts=parts)
    model.compile(keras.optimizers.SGD(0.05), jit_compile=jit_compile)
    return model


def test_a_batch_trained_in_parts_steps_as_the_whole_batch():
    # the whole-batch step (one part) is the reference; 4 parts of 6 contexts are uneven (2, 1, 1, 2),
    # so each part's batch mean must be weighted by its share
    x = RNG.normal(size=(3, 6, 30, 2)).astype("float32")
    s = RNG.normal(size=(3, 6, 30, 2)).astype("float32")
    models = [_split_model(1), _split_model(2), _split_model(4)]
    assert [m.step_parts() for m in models] == [1, 2, 4]
    logs = [[m.train_on_batch(x[k], s[k], return_dict=True) for k in range(3)] for m in models]
    whole = models[0]
    for model, log in zip(models[1:], logs[1:]):
        assert log[-1]["window_loss"] == pytest.approx(logs[0][-1]["window_loss"], rel=1e-6)
        for w, w_whole in zip(model.trainable_weights, whole.trainable_weights):
            np.testing.assert_allclose(w.numpy(), w_whole.numpy(), rtol=1e-6, atol=1e-6 * np.abs(w_whole.numpy()).max())
        for v, v_whole in zip(model.carried_state, whole.carried_state):
            np.testing.assert_allclose(v.numpy(), v_whole.numpy(), atol=1e-6)


def test_parts_are_compiled_by_the_model_and_the_step_around_them_is_not():
    from ndnx.training import step_jit_compile

    model = _split_model(2, jit_compile=True)
    x = RNG.normal(size=(6, 10, 2)).astype("float32")
    model.train_on_batch(x, x)
    assert model.jit_compile is True  # restored after the train function was made
    assert model._part_function is not None and model._part_function._jit_compile is True
    assert step_jit_compile(model, True) is False
    assert step_jit_compile(_split_model(1), True) is True


def test_batch_parts_auto_takes_one_part_per_core_of_at_least_4_contexts(monkeypatch):
    cores = {"n": 4}
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores["n"])), raising=False)

    def parts(batch_size, **kwargs):
        return FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=4, seed=0), batch_size=batch_size,
                               **kwargs).step_parts()

    assert [parts(32), parts(24), parts(12), parts(7), parts(None)] == [4, 4, 3, 1, 1]
    cores["n"] = 2
    assert [parts(32), parts(16), parts(8), parts(15), parts(6)] == [2, 2, 2, 1, 1]
    assert [parts(4, batch_parts=3), parts(4, batch_parts=9), parts(None, batch_parts=2)] == [3, 4, 1]
    for bad in (0, -1, "two", True, 1.5):
        with pytest.raises(ValueError, match=r"batch_parts must be 'auto' or a positive int, got"):
            FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=4, seed=0), batch_size=4, batch_parts=bad)


def test_recompiling_makes_the_parts_afresh_the_new_way():
    model = _split_model(2, jit_compile=True)
    x = RNG.normal(size=(6, 10, 2)).astype("float32")
    model.train_on_batch(x, x)
    assert model._part_function._jit_compile is True
    model.compile(keras.optimizers.SGD(0.05), jit_compile=False)
    model.train_on_batch(x, x)
    assert model._part_function._jit_compile is False
