"""LIFCell (spec §4): the f–I curve against the exact discrete first passage and its continuous limit, a
2-population network against a NumPy simulation, the noise and initial-voltage statistics, float32 state
under mixed precision, and bad input."""

import math

import keras
import numpy as np
import pytest

from ndnx.cells import LIFCell, lif_fi_curve, lif_network_scaling, lif_rate
from ndnx.connectivity import Synapses


def first_passage_steps(current, tau, dt, v_thresh, v_rest, v_leak):
    """Sub-steps from V = v_rest to the first V ≥ v_thresh under V ← V_L + (V − V_L)e^{−dt/τ} + (dt/τ)I
    (float64, stepped one by one); None if V never gets there."""
    decay, gain = math.exp(-dt / tau), dt / tau
    v_inf = v_leak + gain * current / (1 - decay)
    if v_inf <= v_thresh:
        return None
    v, n = v_rest, 0
    while v < v_thresh:
        v = v_leak + (v - v_leak) * decay + gain * current
        n += 1
    return n


@pytest.mark.parametrize("v_thresh,v_rest,v_leak,currents", [
    (1.0, 0.0, 0.0, [0.3, 0.99, 1.02, 1.3, 1.7, 2.5, 4.0, 9.0]),
    (-50.0, -70.0, -70.0, [10.0, 19.0, 21.0, 25.0, 33.0, 60.0, 150.0]),   # leak at rest: V∞ = −70 mV + I
])
def test_fi_curve_counts_the_exact_discrete_first_passages(v_thresh, v_rest, v_leak, currents):
    tau, dt, duration = 0.02, 1e-4, 0.5
    steps = int(round(duration / dt))
    rates = lif_fi_curve(currents, tau=tau, dt=dt, duration=duration, v_thresh=v_thresh, v_rest=v_rest,
                         v_leak=v_leak)
    expected = []
    for current in currents:
        n = first_passage_steps(current, tau, dt, v_thresh, v_rest, v_leak)
        expected.append(0 if n is None else steps // n)   # a reset to v_rest restarts the same passage
    np.testing.assert_array_equal(np.round(rates * duration).astype(int), expected)
    assert max(expected) > 10 and min(expected) == 0


def test_the_discrete_rate_tends_to_the_continuous_formula():
    tau, v_thresh, v_rest = 0.02, 1.0, 0.0
    currents = [1.05, 1.5, 3.0, 10.0]
    continuous = lif_rate(currents, tau=tau, v_thresh=v_thresh, v_rest=v_rest)
    # continuous: 1/(τ ln(I/(I − 1))) computed here
    np.testing.assert_allclose(continuous, [1 / (tau * math.log(i / (i - 1))) for i in currents], rtol=1e-12)
    errors = []
    for dt in (1e-4, 1e-5, 1e-6):
        discrete = np.array([1 / (first_passage_steps(i, tau, dt, v_thresh, v_rest, 0.0) * dt) for i in currents])
        errors.append(np.abs(discrete / continuous - 1))
        # the period n·DT overshoots the continuous one by < DT, and the discrete V∞ is I(1 + DT/2τ + …)
        assert np.all(errors[-1] <= continuous * dt + 2 * dt / tau * currents[-1])
    assert errors[-1].max() < 1e-3 and np.all(errors[-1] < errors[0])


@pytest.mark.slow  # family budget; fast check: the exact discrete first passages above
def test_the_cell_f_i_curve_approaches_the_continuous_formula_at_small_dt():
    tau, dt, duration = 0.02, 1e-5, 0.4
    currents = [1.2, 2.0, 5.0]
    rates = lif_fi_curve(currents, tau=tau, dt=dt, duration=duration, v_thresh=1.0, v_rest=0.0)
    continuous = lif_rate(currents, tau=tau, v_thresh=1.0, v_rest=0.0)
    # a whole number of spikes in `duration` (≤ 1/duration off) from periods within DT of 1/rate
    bound = 1 / duration + continuous ** 2 * dt + continuous * 2 * dt / tau * max(currents)
    assert np.all(np.abs(rates - continuous) <= bound)


# ---- a 2-population network against NumPy -------------------------------------------------------------------
SIZES = [40, 10]
K = [8, 4]


def _network_blocks(seed=3):
    """Fixed-in-degree binary blocks (K_B partners), scaled by lif_network_scaling; E←E and I←I in ELL."""
    rng = np.random.default_rng(seed)
    scaling = lif_network_scaling([1.0, -1.5, 1.0, -1.0], [2.0, 1.0], k=K, tau_syn=[0.004, 0.002], gain=0.2,
                                  m0=0.5, var_ff=[1.0, 0.5], v_thresh=-50.0, v_rest=-70.0)
    blocks = []
    for a in range(2):
        row = []
        for b in range(2):
            partners = [rng.choice(SIZES[b], size=K[b], replace=False) for _ in range(SIZES[a])]
            block = Synapses.from_rows(partners, n_pre=SIZES[b], scale=scaling.couplings[a, b])
            row.append(block if a == b else block.with_layout("dense"))
        blocks.append(row)
    return blocks, scaling


def numpy_lif(w, v0, currents, tau, tau_syn, dt, v_thresh, v_rest, v_leak, synaptic_dynamics=True):
    """Spike counts per window (batch, windows, N); `currents` (batch, windows, n_window, N) per sub-step."""
    batch, windows, n_window, n = currents.shape
    decay, gain = np.exp(-dt / tau), dt / tau
    decay_syn, gain_syn = np.exp(-dt / tau_syn), dt / tau_syn
    v, i_rec, spikes = v0.astype("float64"), np.zeros((batch, n)), np.zeros((batch, n))
    counts = np.zeros((batch, windows, n))
    for t in range(windows):
        for k in range(n_window):
            drive = spikes @ w.T
            i_rec = i_rec * decay_syn + gain_syn * drive if synaptic_dynamics else drive
            v = v_leak + (v - v_leak) * decay + gain * (currents[:, t, k] + i_rec)
            spikes = (v >= v_thresh).astype("float64")
            v = np.where(spikes > 0, v_rest, v)
            counts[:, t] += spikes
    return counts


@pytest.mark.parametrize("synaptic_dynamics,jit_compile", [(True, False), (False, False), (True, True)])
def test_network_rates_are_the_numpy_spike_counts_per_second(synaptic_dynamics, jit_compile):
    blocks, scaling = _network_blocks()
    n, n_window, dt, windows, batch = sum(SIZES), 25, 1e-4, 6, 3
    rng = np.random.default_rng(7)
    per_neuron = lambda values: np.repeat(values, SIZES)  # noqa: E731
    tau, tau_syn = [0.02, 0.01], [0.004, 0.002]
    # the drive and its noise, drawn here and given per sub-step; V0 drawn here in [V_REST, V_THRESH)
    currents = (per_neuron(scaling.ff_mean) + per_neuron(scaling.ff_std) * 20.0
                * rng.normal(size=(batch, windows, n_window, n))).astype("float32")
    v0 = rng.uniform(-70.0, -50.0, size=(batch, n)).astype("float32")
    cell = LIFCell(SIZES, blocks, tau=tau, tau_syn=tau_syn, dt=dt, n_window=n_window, v_thresh=-50.0,
                   v_rest=-70.0, v_leak=-70.0, synaptic_dynamics=synaptic_dynamics, jit_compile=jit_compile, seed=0)
    zeros = np.zeros((batch, n), "float32")
    rates = np.asarray(keras.layers.RNN(cell, return_sequences=True)(currents, initial_state=[v0, zeros, zeros]))
    w = np.block([[blocks[a][b].to_dense() for b in range(2)] for a in range(2)]).astype("float64")
    counts = numpy_lif(w, v0, currents.astype("float64"), per_neuron(tau), per_neuron(tau_syn), dt, -50.0, -70.0,
                       -70.0, synaptic_dynamics)
    np.testing.assert_allclose(rates, counts / (n_window * dt), rtol=1e-6)
    assert counts.sum() > 100 and (counts[..., :40].sum() > 0 and counts[..., 40:].sum() > 0)


def test_lif_network_scaling_is_the_spec_formula():
    s = lif_network_scaling([1.0, -1.5, 1.0, -1.0], [2.0, 1.0], k=[500, 125], tau_syn=[0.004, 0.002], gain=1.0,
                            m0=0.15, var_ff=[4.0, 1.0], v_thresh=-50.0, v_rest=-70.0)
    span, sqrt_ke = 20.0, math.sqrt(500)
    np.testing.assert_allclose(s.couplings, [[span * sqrt_ke / (500 * 0.004), -1.5 * span * sqrt_ke / (125 * 0.002)],
                                             [span * sqrt_ke / (500 * 0.004), -span * sqrt_ke / (125 * 0.002)]])
    np.testing.assert_allclose(s.ff_mean, [2.0 * span * sqrt_ke * 0.15, span * sqrt_ke * 0.15])
    np.testing.assert_allclose(s.ff_std, [2.0 * 0.15, 1.0 * 0.15])


def test_a_window_current_is_the_same_current_at_every_sub_step():
    blocks, _ = _network_blocks()
    rng = np.random.default_rng(1)
    x = rng.normal(30.0, 10.0, size=(2, 4, 50)).astype("float32")
    outputs = []
    for seq in (x, np.repeat(x[:, :, None], 10, axis=2)):
        cell = LIFCell(SIZES, blocks, dt=2e-4, n_window=10, v_leak=-70.0, seed=5)
        outputs.append(np.asarray(keras.layers.RNN(cell, return_sequences=True)(seq)))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert outputs[0].sum() > 0


# ---- draws: noise and the initial voltage ---------------------------------------------------------------
def test_in_cell_noise_has_the_stationary_variance_of_the_discrete_ou_process():
    # no spikes (threshold out of reach): V_{k+1} = V_k e + g(μ + σξ) → mean gμ/(1 − e), var g²σ²/(1 − e²)
    n, mu, sigma, tau, dt = 4000, 3.0, 40.0, 0.01, 1e-3
    cell = LIFCell([n], tau=tau, dt=dt, n_window=200, v_thresh=1e6, v_rest=-1e6, ff_mean=mu, ff_std=sigma, seed=4)
    zeros = np.zeros((1, n), "float32")
    _, v, _, _ = keras.layers.RNN(cell, return_state=True)(np.zeros((1, 1, n), "float32"),
                                                             initial_state=[zeros, zeros, zeros])
    v = np.asarray(v)[0]
    e, g = math.exp(-dt / tau), dt / tau
    mean, var = g * mu / (1 - e), g ** 2 * sigma ** 2 / (1 - e ** 2)
    assert abs(v.mean() - mean) < 5 * math.sqrt(var / n)
    assert abs(v.var() / var - 1) < 5 * math.sqrt(2 / n)


def test_initial_voltage_is_uniform_below_threshold_and_seeded():
    cell = LIFCell([3000], v_thresh=-50.0, v_rest=-70.0, seed=9)
    v = np.asarray(cell.get_initial_state(2)[0])
    assert v.shape == (2, 3000) and v.min() >= -70.0 and v.max() < -50.0
    assert abs(v.mean() + 60.0) < 5 * 20.0 / math.sqrt(12 * v.size)
    again = np.asarray(LIFCell([3000], v_thresh=-50.0, v_rest=-70.0, seed=9).get_initial_state(2)[0])
    np.testing.assert_array_equal(v, again)


# ---- mixed precision -----------------------------------------------------------------------------------------
def test_state_stays_float32_under_mixed_float16():
    blocks, scaling = _network_blocks()
    x = np.random.default_rng(2).normal(30.0, 5.0, size=(2, 3, 50)).astype("float32")
    kwargs = dict(dt=1e-4, n_window=20, v_leak=-70.0, ff_mean=list(scaling.ff_mean), ff_std=[2.0, 1.0], seed=6)
    reference = np.asarray(keras.layers.RNN(LIFCell(SIZES, blocks, **kwargs), return_sequences=True)(x))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        cell = LIFCell(SIZES, blocks, **kwargs)
        rnn = keras.layers.RNN(cell, return_sequences=True)
        mixed = np.asarray(rnn(x), dtype="float64")
        states = cell.get_initial_state(2)
        _, new_states = cell.call(x[:, 0], states)
    finally:
        keras.config.set_dtype_policy(previous)
    assert cell.compute_dtype == "float32" and rnn.compute_dtype == "float16"
    assert all(s.dtype == "float32" for s in list(states) + list(new_states))
    # rates are multiples of 1/(20·0.1 ms) = 500 Hz, exact in float16: the same simulation
    np.testing.assert_array_equal(mixed, reference)
    assert reference.sum() > 0


# ---- bad input ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda: LIFCell([4, 2], [[Synapses.from_dense(np.ones((2, 4))), None], [None, None]]), r"synapses\[0\]\[0\] must have shape"),
    (lambda: LIFCell([4, 2], [[None, None]]), "must be 2 rows of 2 blocks"),
    (lambda: LIFCell([4, 2], [[np.ones((4, 4)), None], [None, None]]), "must be a Synapses"),
    (lambda: LIFCell([4], v_thresh=-70.0, v_rest=-50.0), "v_rest < v_thresh"),
    (lambda: LIFCell([4, 2], tau=[0.02]), "tau must be a scalar or one value per population"),
    (lambda: LIFCell([4], ff_std=-1.0), "ff_std must be >= 0"),
    (lambda: LIFCell([4], n_window=0), "n_window must be a positive int"),
    (lambda: LIFCell([4], replicas=2, seed=0), "replicas must be None"),
    (lambda: LIFCell([4], dtype="mixed_float16"), "integrated in float32"),
    (lambda: LIFCell([4], seed=0)(np.zeros((1, 5), "float32"), LIFCell([4]).get_initial_state(1)),
     r"expected step inputs \(batch, 4\)"),
    (lambda: lif_network_scaling([1, 2, 3], [1.0], k=10, tau_syn=0.004), "jab must be"),
])
def test_bad_input_is_one_clear_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()
