"""The hand-written window gradient (ndnx.models.feedback_gradient) equals autodiff of the step loop."""

import numpy as np
import keras
import pytest
import tensorflow as tf

import ndnx
from ndnx.models import FeedbackNetwork

RNG = np.random.default_rng(11)
CELLS = {
    "modulation_multiplicative": lambda: ndnx.cells.ModulationNetCell(hidden_units=8, tau=2.0, seed=0),
    "modulation_additive_learned_baseline": lambda: ndnx.cells.ModulationNetCell(
        hidden_units=8, sensors=3, mode="additive", tau=1.5, learn_baseline=True, seed=1),
    "modulation_direct": lambda: ndnx.cells.ModulationNetCell(hidden_units=8, mode="direct", seed=2),
    "spatial_learned_pathway": lambda: ndnx.cells.SpatialNetCell(
        hidden_units=8, units=10, signals=2, tau=3.0, learn_baseline=True, learn_readout=True, seed=3),
    "spatial_replicated_input_y": lambda: ndnx.cells.SpatialNetCell(
        hidden_units=8, units=10, signals=2, tau=3.0, input_to_net="y", replicas=2, seed=[4, 5]),
    "dale_excitation": lambda: ndnx.cells.DaleRateNetCell(hidden_units=8, units=12, lower_units=6, tau=2.0,
                                                          mod_target="excitation", seed=6),
}


def _gradients(model, x, s, initial, gradient):
    model.gradient = gradient

    @tf.function(jit_compile=False)
    def loss_and_gradients():
        with tf.GradientTape() as tape:
            tape.watch(initial)
            y, final, records = model.run_for_training(x, initial, record=("feedback",))
            # the final state enters the loss too, so its incoming gradient is exercised
            loss = model.window_loss(s, y, records["feedback"]) + sum(tf.reduce_sum(tf.sin(f)) for f in final)
        return y, tape.gradient(loss, model.trainable_weights + initial)

    return loss_and_gradients()


@pytest.mark.parametrize("name", sorted(CELLS))
def test_fast_gradient_equals_autodiff(name):
    cell = CELLS[name]()
    model = FeedbackNetwork(cell, batch_size=3, activity_penalty=1e-2)
    assert model.uses_fast_gradient
    # 40 steps: the reverse loop gathers the weight gradients in two chunks of 20
    x = RNG.normal(size=(3, 40, cell.sensors)).astype("float32")
    s = 2 * RNG.normal(size=(3, 40, cell.sources)).astype("float32")  # both branches of the Huber loss
    # a carried (non-zero) initial state, as every TBPTT batch after the first starts from
    initial = [tf.constant(RNG.normal(size=v.shape).astype("float32")) for v in model.initial_state(3)]
    y_auto, auto = _gradients(model, x, s, initial, "autodiff")
    y_fast, fast = _gradients(model, x, s, initial, "fast")
    np.testing.assert_allclose(y_fast.numpy(), y_auto.numpy(), rtol=0, atol=1e-6)
    names = [w.path for w in model.trainable_weights] + [f"initial state {k}" for k in range(len(initial))]
    for label, a, b in zip(names, auto, fast):
        a, b = np.asarray(a), np.asarray(b)
        scale = np.abs(a).max()
        if label.startswith("initial state") and scale == 0:  # M_0 that no output reads (direct mode)
            continue
        assert scale > 0, label
        assert np.abs(a - b).max() <= 1e-5 * scale, (label, np.abs(a - b).max() / scale)


def test_the_reverse_loop_chunks_divide_the_window():
    from ndnx.models.feedback_gradient import _chunk_length
    windows = [1000, 100, 75, 40, 20, 13, 7, 1, 997]
    assert [_chunk_length(w) for w in windows] == [25, 25, 25, 20, 20, 13, 7, 1, 997]
    assert all(w % _chunk_length(w) == 0 for w in windows)


def test_training_takes_the_fast_gradient_and_matches_autodiff():
    """Three TBPTT batches with the carried state: the same weights and state with either gradient."""
    x = RNG.normal(size=(3, 2, 20, 2)).astype("float32")
    trained = []
    for gradient in ("fast", "autodiff"):
        model = FeedbackNetwork(ndnx.cells.SpatialNetCell(hidden_units=8, units=10, signals=2, tau=3.0, seed=7),
                                batch_size=2, activity_penalty=1e-3, gradient=gradient)
        model.compile(keras.optimizers.SGD(1e-3), jit_compile=False)
        for k in range(3):
            model.train_on_batch(x[k], x[k])
        trained.append([w.numpy() for w in model.weights + model.carried_state])
    for fast, auto in zip(*trained):
        np.testing.assert_allclose(fast, auto, rtol=1e-5, atol=1e-6)


def test_cells_outside_the_step_order_fall_back_to_autodiff():
    model = FeedbackNetwork(ndnx.cells.DirectDemixCell(hidden_units=4, seed=0))
    assert not model.uses_fast_gradient
    with pytest.raises(ValueError, match="gradient='fast' needs a cell with ModulatedCell's step order, got "
                                         "DirectDemixCell"):
        FeedbackNetwork(ndnx.cells.DirectDemixCell(hidden_units=4, seed=0), gradient="fast")
    with pytest.raises(ValueError, match=r"gradient must be one of \('auto', 'fast', 'autodiff'\), got 'numeric'"):
        FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=4, seed=0), gradient="numeric")


def test_an_unknown_window_length_falls_back_to_autodiff():
    model = FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=4, seed=0), batch_size=2)
    x = RNG.normal(size=(2, 7, 2)).astype("float32")
    y_known = model.run_for_training(x)[0]

    def traced(gradient):
        model.gradient = gradient
        return tf.function(lambda x: model.run_for_training(x)[0],
                           input_signature=[tf.TensorSpec((2, None, 2), tf.float32)])

    np.testing.assert_allclose(traced("auto")(x).numpy(), y_known.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="the window length must be static"):
        traced("fast")(x)
