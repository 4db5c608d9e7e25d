"""LeakyRateCell: the Euler-discretised rate equation, replicas, keras.layers.RNN (stateful, return_state)."""

import numpy as np
import keras
import pytest

import ndnx
from ndnx.cells import RNN, LeakyRateCell

RNG = np.random.default_rng(0)
SEQ = RNG.normal(size=(3, 7, 4)).astype("float32")            # (batch, time, features)
SEQ_R = RNG.normal(size=(3, 7, 2, 4)).astype("float32")       # (batch, time, R, features)


def euler(x, w_in, w_rec, b, alpha, phi, h0=None):
    """h_t = (1 − α) h_{t−1} + α φ(x_t W_in + h_{t−1} W_rec + b), NumPy, (batch, time, units)."""
    h = np.zeros((x.shape[0], w_rec.shape[0])) if h0 is None else h0.astype("float64")
    out = []
    for t in range(x.shape[1]):
        h = (1 - alpha) * h + alpha * phi(x[:, t] @ w_in + h @ w_rec + b)
        out.append(h)
    return np.stack(out, axis=1)


def relu(z):
    return np.maximum(z, 0.0)


def test_the_rnn_integrates_the_rate_equation():
    cell = LeakyRateCell(5, tau=40.0, dt=10.0, bias_initializer="random_normal", seed=3)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    h0 = RNG.uniform(0, 1, size=(3, 5)).astype("float32")
    y = np.asarray(rnn(SEQ, initial_state=[h0]))
    expected = euler(SEQ.astype("float64"), cell.kernel.numpy(), cell.recurrent_kernel.numpy(), cell.bias.numpy(),
                     0.25, relu, h0)
    assert cell.alpha == 0.25
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_alpha_one_is_keras_simple_rnn():
    cell = LeakyRateCell(5, tau=10.0, dt=10.0, seed=1)
    ours = keras.layers.RNN(cell, return_sequences=True)
    y = np.asarray(ours(SEQ))
    theirs = keras.layers.SimpleRNN(5, activation="relu", return_sequences=True)
    theirs.build(SEQ.shape)
    theirs.set_weights(cell.get_weights())  # kernel, recurrent kernel, bias
    np.testing.assert_allclose(y, np.asarray(theirs(SEQ)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seq", [SEQ, SEQ_R], ids=["shared", "per_replica"])
def test_replica_r_is_the_lone_cell_with_seed_r(seq):
    cell = LeakyRateCell(5, tau=20.0, dt=5.0, activation="tanh", replicas=2, seed=9)
    y = np.asarray(RNN(cell, return_sequences=True)(seq))
    assert y.shape == (3, 7, 2, 5)
    for r in range(2):
        lone = LeakyRateCell(5, tau=20.0, dt=5.0, activation="tanh", seed=cell.replica_seeds[r])
        lone_y = np.asarray(keras.layers.RNN(lone, return_sequences=True)(seq if seq.ndim == 3 else seq[:, :, r]))
        for w, w_lone in zip(cell.weights, lone.weights):
            np.testing.assert_array_equal(w.numpy()[r], w_lone.numpy())
        np.testing.assert_allclose(y[:, :, r], lone_y, atol=1e-6)
    assert np.abs(y[:, :, 0] - y[:, :, 1]).max() > 1e-3


@pytest.mark.parametrize("replicas", [None, 2])
def test_stateful_rnn_carries_the_state_and_returns_it(replicas):
    def make(**kw):
        return keras.layers.RNN(LeakyRateCell(5, replicas=replicas, seed=[4, 5] if replicas else 4), **kw)

    whole = np.asarray(make(return_sequences=True)(SEQ))
    stateful = make(stateful=True, return_sequences=True, return_state=True)
    first, state = stateful(SEQ[:, :4])
    second, final = stateful(SEQ[:, 4:])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-6)
    np.testing.assert_array_equal(final, second[:, -1])
    assert tuple(final.shape) == ((3, 5) if replicas is None else (3, 2, 5))
    np.testing.assert_array_equal(stateful.states[0].numpy(), final)
    stateful.reset_state()
    np.testing.assert_array_equal(stateful.states[0].numpy(), 0.0)
    again, _ = stateful(SEQ[:, :4])
    np.testing.assert_allclose(again, first, atol=1e-6)


def test_keras_rnn_runs_a_replicated_cell_and_reloads(tmp_path):
    inputs = keras.Input((7, 4))
    outputs = keras.layers.RNN(LeakyRateCell(5, replicas=2, seed=[1, 2]), return_state=True)(inputs)
    model = keras.Model(inputs, list(outputs))
    last, state = model.predict(SEQ, verbose=0)
    assert last.shape == state.shape == (3, 2, 5)
    # keras.layers.RNN's symbolic shape has no replica axis (its cell's output_size is an int); ndnx.cells.RNN's has
    assert model.outputs[0].shape == (None, 5)
    replicated = RNN(LeakyRateCell(5, replicas=2, seed=[1, 2]), return_state=True)(inputs)
    assert [tuple(t.shape) for t in replicated] == [(None, 2, 5), (None, 2, 5)]
    model.save(tmp_path / "rnn.keras")
    reloaded = keras.saving.load_model(tmp_path / "rnn.keras")
    np.testing.assert_array_equal(reloaded.predict(SEQ, verbose=0)[1], state)


def test_penalties_of_a_replicated_cell_are_the_sum_of_its_replicas():
    def penalty(replicas, seed):
        rnn = keras.layers.RNN(LeakyRateCell(4, kernel_regularizer=ndnx.regularizers.L2(0.3),
                                             recurrent_regularizer=ndnx.regularizers.L1(0.1),
                                             replicas=replicas, seed=seed))
        rnn(SEQ)
        return float(sum(np.asarray(t) for t in rnn.losses))

    cell = LeakyRateCell(4, replicas=2, seed=6)
    both = penalty(2, 6)
    alone = penalty(None, cell.replica_seeds[0]) + penalty(None, cell.replica_seeds[1])
    assert both == pytest.approx(alone, rel=1e-5) and both > 0


def test_arguments_and_shapes_are_checked():
    with pytest.raises(ValueError, match="rates: units must be a positive int, got 0"):
        LeakyRateCell(0, name="rates")
    with pytest.raises(ValueError, match=r"rates: dt must be in \(0, tau\] = \(0, 10.0\] \(alpha = dt/tau ≤ 1\), got 20.0"):
        LeakyRateCell(3, tau=10.0, dt=20.0, name="rates")
    with pytest.raises(ValueError, match="rates: tau must be finite and > 0"):
        LeakyRateCell(3, tau=0.0, name="rates")
    with pytest.raises(ValueError, match="rates: replicas must be a positive int or None, got 0"):
        LeakyRateCell(3, replicas=0, name="rates")
    with pytest.raises(ValueError, match=r"rates: expected step inputs of shape \(batch, features\), got \(3, 2, 4\)"):
        keras.layers.RNN(LeakyRateCell(3, name="rates"))(SEQ_R)
    with pytest.raises(ValueError, match="rates: expected 3 replicas on axis 1, got 2"):
        keras.layers.RNN(LeakyRateCell(3, replicas=3, name="rates"))(SEQ_R)
