"""EIRateCell: one Euler step against a NumPy transcription of spec ei_networks_neuroflame.md §1.2,
noise scales, batched parameters, dense vs ELL blocks, mixed precision and bad input."""

import math

import numpy as np
import keras
import pytest
import tensorflow as tf

import ndnx
from ndnx.cells import EIRateCell
from ndnx.connectivity import Synapses

SIZES = [6, 3]
N, NE = 9, 6
RNG = np.random.default_rng(42)
W = {(a, b): RNG.uniform(0, 1, (SIZES[a], SIZES[b])) for a in range(2) for b in range(2)}
SCALES = {(0, 0): 1.0, (0, 1): 0.7, (1, 0): 1.3, (1, 1): 1.0}
JAB = np.array([[1.0, -1.5], [1.0, -1.0]])
K = [4.0, 2.0]
DT = 1e-3


def rich_cell(euler="exponential", layout="dense", **overrides):
    blocks = {k: Synapses.from_dense(w, scale=SCALES[k]).with_layout(layout) for k, w in W.items()}
    kwargs = dict(jab=JAB, gain=0.8, in_degree=K, m0=1.5, ja0=(2.0, 1.0), dt=DT, t_window=0.005,
                  thresh=(1.0, 0.5), rate_dynamics=True, tau=(0.02, 0.01), tau_syn=(0.005, 0.003), euler=euler,
                  nmda=True, r_nmda=0.7, tau_nmda=(0.1, 0.05), stp_blocks=[(0, 0), (1, 0)], use=(0.1, 0.2),
                  tau_fac=(1.0, 0.5), tau_rec=(0.2, 0.3), w_stp=(1.0, 2.0), j_stp=3.0, adaptation=True,
                  a_adapt=0.5, tau_adapt=0.1, seed=1)
    kwargs.update(overrides)
    return EIRateCell(SIZES, blocks, **kwargs)


def random_state(cell, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    state = {"t": np.zeros((batch, 1)), "r": rng.uniform(0, 5, (batch, N)), "s": rng.normal(0, 1, (batch, N)),
             "n": rng.normal(0, 1, (batch, N)), "theta": rng.uniform(0.5, 2, (batch, NE))}
    for a, b in cell.stp_blocks:
        state[f"u_{a}_{b}"] = rng.uniform(0.05, 0.5, (batch, SIZES[b]))
        state[f"x_{a}_{b}"] = rng.uniform(0.3, 1, (batch, SIZES[b]))
    return {k: v.astype("float32") for k, v in state.items() if k in cell.state_names}


@pytest.mark.parametrize("euler", ["exponential", "linear"])
def test_one_step_equals_the_documented_update(euler):
    cell = rich_cell(euler)
    state = random_state(cell)
    stim = RNG.uniform(0, 1, (2, NE)).astype("float32")
    res = cell.resolve(None, 2)
    new = {k: np.asarray(v, "float64") for k, v in cell.step({k: tf.constant(v) for k, v in state.items()}, res,
                                                              tf.constant(np.pad(stim, ((0, 0), (0, 3))))).items()}
    # NumPy transcription of §1.2
    st = {k: v.astype("float64") for k, v in state.items()}
    gain, m0 = 0.8, 1.5
    pop = np.repeat([0, 1], SIZES)
    e = lambda tau: np.exp(-DT / np.asarray(tau)[pop])  # noqa: E731
    g = (lambda tau: 1 - e(tau)) if euler == "exponential" else (lambda tau: DT / np.asarray(tau)[pop])  # noqa: E731
    ff = math.sqrt(K[0]) * m0 * (np.array([2.0, 1.0])[pop] + np.pad(stim, ((0, 0), (0, 3))))
    r = st["r"]
    pre = [r[:, :NE], r[:, NE:]]
    hid_e, hid_i = np.zeros((2, N)), np.zeros((2, N))
    rows = [slice(0, NE), slice(NE, N)]
    for b, a in [(1, 0), (1, 1)]:  # static blocks (from I)
        hid_i[:, rows[a]] += gain * JAB[a, b] / math.sqrt(K[b]) * SCALES[(a, b)] * pre[b] @ W[(a, b)].T
    for k, (a, b), use, tf_, tr, w in [(0, (0, 0), 0.1, 1.0, 0.2, 1.0), (1, (1, 0), 0.2, 0.5, 0.3, 2.0)]:
        u, x = st[f"u_{a}_{b}"], st[f"x_{a}_{b}"]
        x_new = x + (1 - x) * DT / tr - DT * u * x * pre[b]
        u_new = u + (use - u) * DT / tf_ + DT * use * (1 - u) * pre[b]
        np.testing.assert_allclose(new[f"u_{a}_{b}"], u_new, rtol=1e-5)
        np.testing.assert_allclose(new[f"x_{a}_{b}"], x_new, rtol=1e-5)
        hid_e[:, rows[a]] += 3.0 * w * gain / math.sqrt(K[b]) * SCALES[(a, b)] * (u_new * x_new * pre[b]) @ W[(a, b)].T
    hid = hid_e + hid_i
    s = st["s"] * e([0.005, 0.003]) + g([0.005, 0.003]) * hid
    n = st["n"] * e([0.1, 0.05]) + 0.7 * g([0.1, 0.05]) * hid_e
    theta = np.concatenate([st["theta"], np.full((2, 3), 0.5)], axis=1)
    phi = np.maximum(ff + s + n - theta, 0)
    r_new = r * e([0.02, 0.01]) + g([0.02, 0.01]) * phi
    e_a = math.exp(-DT / 0.1)
    g_a = 1 - e_a if euler == "exponential" else DT / 0.1
    theta_new = 1.0 + (st["theta"] - 1.0) * e_a + 0.5 * r_new[:, :NE] * g_a  # the THRESH baseline is kept
    for name, ref in [("s", s), ("n", n), ("r", r_new), ("theta", theta_new)]:
        np.testing.assert_allclose(new[name], ref, rtol=2e-5, atol=2e-6, err_msg=name)
    np.testing.assert_array_equal(new["t"], st["t"] + 1)


def test_decaying_adaptation_baseline_and_instantaneous_rates():
    cell = rich_cell(keep_thresh_baseline=False, rate_dynamics=False, synaptic_dynamics=False, nmda=False,
                     stp_blocks=[], transfer="erf")
    state = random_state(cell)
    new = cell.step({k: tf.constant(v) for k, v in state.items()}, cell.resolve(None, 2))
    pop = np.repeat([0, 1], SIZES)
    r = state["r"].astype("float64")
    hid = np.zeros((2, N))
    for (a, b), w in W.items():
        hid[:, pop == a] += 0.8 * JAB[a, b] / math.sqrt(K[b]) * SCALES[(a, b)] * r[:, pop == b] @ w.T
    h = 2 * 1.5 * np.array([2.0, 1.0])[pop] + hid  # s = hid, no NMDA
    theta = np.concatenate([state["theta"], np.full((2, 3), 0.5)], axis=1)
    from scipy.special import erf
    np.testing.assert_allclose(new["r"], erf((h - theta) / math.sqrt(2)), rtol=1e-5, atol=1e-6)
    e_a = math.exp(-DT / 0.1)
    np.testing.assert_allclose(new["theta"], state["theta"] * e_a + 0.5 * np.asarray(new["r"])[:, :NE] * (1 - e_a),
                               rtol=1e-5)


def test_dense_trainable_plastic_block_with_clamp_and_opto():
    cell = rich_cell(stp_blocks=[(0, 0)], use=0.1, tau_fac=1.0, tau_rec=0.2, w_stp=1.5, stp_mode="dense",
                     clamp=True, opto=[1, 4], lr_ini=2.0, nmda=False, adaptation=False, rate_dynamics=False,
                     synaptic_dynamics=False)
    state = random_state(cell)
    res = cell.resolve(None, 2)
    new = cell.step({k: tf.constant(v) for k, v in state.items()}, res)
    w_train = cell.w_train.numpy().astype("float64")  # stored pre × post
    assert w_train.std() > 1.0  # N(0, lr_ini²) with lr_ini 2
    matrix = np.maximum(1 + w_train, 0)
    matrix[[1, 4], :] = 0  # silenced presynaptic neurons
    u, x, r = state["u_0_0"], state["x_0_0"], state["r"][:, :NE].astype("float64")
    x_new = x + (1 - x) * DT / 0.2 - DT * u * x * r
    u_new = u + (0.1 - u) * DT / 1.0 + DT * 0.1 * (1 - u) * r
    drive_ee = 0.8 * 3.0 * 1.5 / NE * (u_new * x_new * r) @ matrix
    drive_ei = 0.8 * JAB[0, 1] / math.sqrt(K[1]) * SCALES[(0, 1)] * state["r"][:, NE:] @ W[(0, 1)].T
    h = 2 * 1.5 * 2.0 + drive_ee + drive_ei
    np.testing.assert_allclose(np.asarray(new["r"])[:, :NE], np.maximum(h - 1.0, 0), rtol=2e-5, atol=1e-5)
    # the static E→E block is replaced, and the trainable weights are j_stp and w_train
    assert sorted(w.name for w in cell.trainable_weights) == ["j_stp", "w_train"]


def test_feedforward_filters_one_step():
    cell = EIRateCell(SIZES, {}, jab=JAB, in_degree=K, m0=1.5, ja0=(2.0, 1.0), dt=DT, t_window=DT, thresh=0.0,
                      nmda=False, ff_lowpass=True, tau_ff=0.05, ff_adaptation=True, a_ff_adapt=0.3,
                      tau_ff_adapt=0.2, ff_stp=True, ff_use=0.3, tau_ff_fac=0.2, tau_ff_rec=1.0,
                      bump_switch=(0, 1), seed=0)
    rng = np.random.default_rng(3)
    state = {"t": np.zeros((2, 1)), "r": np.zeros((2, N)), "s": np.zeros((2, N)), "ff": rng.uniform(0, 5, (2, N)),
             "theta_ff": rng.uniform(0, 1, (2, N)), "u_ff": rng.uniform(0.3, 0.6, (2, N)),
             "x_ff": rng.uniform(0.3, 1, (2, N)), "switched": np.zeros((2, 1))}
    stim = np.zeros((2, N), "float32")
    active = np.array([[0.0], [1.0]], "float32")  # the second simulation's first stimulus starts now
    new = cell.step({k: tf.constant(v, tf.float32) for k, v in state.items()}, cell.resolve(None, 2),
                    tf.constant(stim), tf.constant(active))
    pop = np.repeat([0, 1], SIZES)
    drive = np.where(pop == 1, 1.5 * 1.0, 2 * 1.5 * 2.0)[None].repeat(2, 0)  # I silenced to M0·Ja0 …
    drive[1, pop == 1] = 2 * 1.5 * 1.0  # … until the first stimulus
    e = math.exp(-DT / 0.05)
    ff = state["ff"] * e + (1 - e) * drive
    e_a = math.exp(-DT / 0.2)
    theta_new = state["theta_ff"] * e_a + 0.3 * np.maximum(ff, 0) * (1 - e_a)
    ff = np.maximum(ff - state["theta_ff"], 0)
    rate = np.abs(ff) / 2.0
    u, x = state["u_ff"], state["x_ff"]
    x_new = x + (1 - x) * DT / 1.0 - DT * u * x * rate
    u_new = u + (0.3 - u) * DT / 0.2 + DT * 0.3 * (1 - u) * rate
    ff = ff + 2.0 * np.sign(ff) * u_new * x_new * rate
    np.testing.assert_allclose(new["theta_ff"], theta_new, rtol=1e-5)
    np.testing.assert_allclose(new["r"], np.maximum(ff, 0), rtol=1e-5)  # s = 0, θ = 0
    np.testing.assert_array_equal(new["switched"], active)


@pytest.mark.parametrize("mode,dt_scaling", [("drive", False), ("neuroflame", False), ("drive", True)])
def test_input_and_rate_noise_scales(mode, dt_scaling):
    sizes, key = [3000, 1000], tf.constant([1, 2], tf.int64)
    ja0 = 200.0  # far above threshold even with the /√DT noise
    common = dict(in_degree=4, m0=1.5, ja0=(ja0, ja0), noise_dt_scaling=dt_scaling, dt=DT, t_window=DT, nmda=False,
                  thresh=0.0, seed=0)
    state = {"t": tf.zeros((1, 1)), "r": tf.zeros((1, 4000)), "s": tf.zeros((1, 4000))}
    # rate noise alone, with rates that barely relax (τ = 10⁴ s): r' ≈ r + noise
    cell = EIRateCell(sizes, {}, rate_dynamics=True, tau=1e4, rate_noise=True, var_rate=0.36, **common)
    r = np.asarray(cell.step(state, cell.resolve(None, 1), key=key)["r"])
    r = r - (1 - math.exp(-DT / 1e4)) * 2 * 1.5 * ja0  # the relaxation toward Φ = ff
    std_rate = 0.6 / 2 * (math.sqrt(DT) if dt_scaling else 1)  # √VAR_RATE/√K_E
    assert float(np.std(r)) == pytest.approx(std_rate, rel=0.05)
    # input noise alone, instantaneous threshold-linear rates far above threshold: r = ff
    cell = EIRateCell(sizes, {}, var_ff=(0.25, 1.0), input_noise=mode, **common)
    ff = np.asarray(cell.step(state, cell.resolve(None, 1), key=key)["r"])
    want = 2 * 1.5 * np.sqrt([0.25, 1.0]) * (1.5 if mode == "neuroflame" else 1) / (math.sqrt(DT) if dt_scaling else 1)
    assert np.std(ff[0, :3000]) == pytest.approx(want[0], rel=0.04)
    assert np.std(ff[0, 3000:]) == pytest.approx(want[1], rel=0.06)
    assert np.mean(ff[0, :3000]) == pytest.approx(2 * 1.5 * ja0, abs=4 * want[0] / math.sqrt(3000))


def _window_runner(cell, n_windows):
    """Compiled: n_windows windows of the cell from a given state; (state, window means (B, n, N))."""
    @tf.function(jit_compile=True, autograph=False)
    def run(state, parameters):
        res = cell.resolve(parameters, None)
        key = tf.constant([0, 0], tf.int64)

        def body(k, values, means):
            st, m = cell.run_steps(dict(zip(state, values)), cell.n_window, res, key)
            return k + 1, list(st.values()), means.write(k, m["r"])

        _, values, means = tf.while_loop(lambda k, *_: k < n_windows, body,
                                         (0, list(state.values()), tf.TensorArray(tf.float32, n_windows)))
        return tf.transpose(means.stack(), (1, 0, 2))

    return run


@pytest.mark.slow  # family budget; fast check of §10.3 item 8: tests/cells/test_stp.py, tests/models/test_ei_build.py
def test_batched_parameters_equal_separate_runs():
    cell = rich_cell(t_window=0.01, init_std=0.0)
    values = {"j_stp": np.array([[1.0], [3.0], [5.0]]), "use": np.array([[0.05, 0.1], [0.1, 0.2], [0.2, 0.3]]),
              "ja0": np.array([[2.0, 1.0], [2.5, 1.2], [3.0, 0.8]]),
              "jab": np.array([[1.0, -1.5, 1.0, -1.0], [2.0, -1.5, 1.0, -1.0], [0.5, -1.5, 1.0, -1.0]])}
    run = _window_runner(cell, 20)
    start = cell.initial_state(3)
    batched = run(start, {k: v.astype("float32") for k, v in values.items()})
    for b in range(3):
        one = {k: v[b:b + 1] for k, v in start.items()}
        alone = run(one, {k: v[b:b + 1].astype("float32") for k, v in values.items()})
        np.testing.assert_allclose(batched[b], alone[0], rtol=1e-5, atol=1e-6)
    assert np.abs(np.asarray(batched[0]) - np.asarray(batched[2])).max() > 0.1  # the values matter


@pytest.mark.slow  # family budget; fast check: tests/connectivity/test_synapses.py (dense and ELL drives vs NumPy)
def test_dense_and_ell_blocks_give_the_same_trajectories():
    masks = {k: RNG.random(w.shape) < 0.4 for k, w in W.items()}
    cells = []
    for layout in ("dense", "ell"):
        blocks = {k: Synapses.from_dense(m, scale=SCALES[k]).with_layout(layout) for k, m in masks.items()}
        cells.append(EIRateCell(SIZES, blocks, jab=JAB, gain=0.8, in_degree=K, m0=1.5, dt=DT, t_window=0.01,
                                rate_dynamics=True, tau=(0.02, 0.01), stp_blocks=[(0, 0)], j_stp=3.0, seed=5))
    assert "columns" in cells[1].resolve(None, 1)["stp"][(0, 0)][1]
    start = cells[0].initial_state(2)
    traj = [np.asarray(_window_runner(c, 30)(start, {})) for c in cells]
    np.testing.assert_allclose(traj[0], traj[1], rtol=1e-5, atol=1e-5)
    assert np.ptp(traj[0]) > 1.0


@pytest.fixture
def policy():
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16"])
def test_stp_state_stays_float32_under_mixed_precision(policy, name):
    policy(name)
    ones = Synapses.from_dense(np.ones((4, 4)))
    # E fires at exactly relu(√K·M0·Ja0 − θ) = relu(2·3 − 1) = 5 Hz; J_STP = 0 keeps it there
    cell = EIRateCell([4, 1], {(0, 0): ones}, in_degree=4, m0=1.0, ja0=(3.0, 0.0), dt=1e-3, t_window=1.0,
                      nmda=False, stp_blocks=[(0, 0)], j_stp=0.0, seed=0)
    assert cell.compute_dtype != "float32"
    net = ndnx.models.EINetwork(cell, duration=20.0, t_steady=1.0, record_stp=True)
    out, state = net.simulate(batch_size=1, return_state=True)
    assert state["u_0_0"].dtype == np.float32 and out["u_0_0"].dtype == np.float32
    np.testing.assert_allclose(out["rates"][0, -1, :4], 5.0)
    np.testing.assert_allclose(state["u_0_0"], 0.15652, atol=1e-4)  # spec §0 item 6, not 0.122 / 0.063
    np.testing.assert_allclose(state["x_0_0"], 0.86466, atol=1e-4)


def _one_line_error(make, match):
    with pytest.raises(ValueError, match=match) as info:
        make()
    assert "\n" not in str(info.value)


def test_bad_input_gives_one_clear_line():
    _one_line_error(lambda: rich_cell(m0=float("nan")), r"ei_rate_cell.*: m0 must be finite, got nan")
    _one_line_error(lambda: rich_cell(tau=(0.02, -1.0)), r"tau must be finite and > 0, got -1.0")
    _one_line_error(lambda: rich_cell(stp_rule="hansel"), r"stp_rule must be one of .* got 'hansel'")
    _one_line_error(lambda: rich_cell(transfer="sigmoid"), r"transfer must be one of .* got 'sigmoid'")
    _one_line_error(lambda: rich_cell(replicas=0), r"replicas must be a positive int or None, got 0")
    bad = {(0, 0): Synapses.from_dense(np.ones((6, 5)))}
    _one_line_error(lambda: EIRateCell(SIZES, bad), r"synapses\[\(0, 0\)\] must have shape \(6, 6\) \(post × pre\), "
                                                    r"got \(6, 5\)")
    _one_line_error(lambda: EIRateCell(SIZES, {}, stp_blocks=[(0, 0)]), r"plastic block \(0, 0\) needs")
    cell = rich_cell()
    _one_line_error(lambda: cell.resolve({"j_stp": np.array([[1.0], [np.inf]])}, 2),
                    r"parameters\['j_stp'\] must be finite")
    _one_line_error(lambda: cell.resolve({"j_stp": np.ones((3, 1))}, 4),
                    r"parameters\['j_stp'\] has 3 rows but the batch has 4 simulations")
    _one_line_error(lambda: cell.resolve({"ja0": np.ones((4, 3))}, 4), r"parameters\['ja0'\] must be \(batch, 2\)")
    _one_line_error(lambda: cell.resolve({"jee": 1.0}, 4), r"unknown parameters \['jee'\]")
    _one_line_error(lambda: cell.resolve({"tau": np.zeros((4, 2))}, 4), r"parameters\['tau'\] must be > 0")
