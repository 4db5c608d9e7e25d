"""EINetwork: the time grid of spec ei_networks_neuroflame.md §1.5 / §10.3 item 7, schedule vs dense
inputs, continuation and HDF5 streaming, and the analytic oracles of §10.3 items 1 and 4."""

import numpy as np
import pytest

import ndnx
from ndnx.cells import EIRateCell, stp
from ndnx.connectivity import Synapses
from ndnx.models import EINetwork

RNG = np.random.default_rng(7)
SIZES = [6, 3]
MASKS = {(a, b): RNG.random((SIZES[a], SIZES[b])) < 0.5 for a in range(2) for b in range(2)}


def small_cell(t_window=0.05, dt=0.01, **overrides):
    blocks = {k: Synapses.from_dense(m) for k, m in MASKS.items()}
    kwargs = dict(in_degree=3, m0=1.0, gain=1.0, ja0=(1.5, 1.0), dt=dt, t_window=t_window, rate_dynamics=True,
                  tau=(0.04, 0.02), tau_syn=(0.02, 0.01), stp_blocks=[(0, 0)], j_stp=2.0, init_std=0.0, seed=2)
    kwargs.update(overrides)
    return EIRateCell(SIZES, blocks, **kwargs)


def test_frames_and_onset_follow_the_documented_grid():
    net = EINetwork(small_cell(t_window=0.1), duration=2.0, t_steady=1.0)
    assert net.frames == 21  # 2 s at T_WINDOW 0.1 (spec §1.5)
    np.testing.assert_allclose(net.frame_times(), np.arange(21) * 0.1)
    quiet = net.simulate(batch_size=2)["rates"]
    pattern = np.zeros((2, 1, 6), "float32")
    pattern[:, 0, :3] = 1.0
    onset = np.array([[0.5], [0.5]], "float32")
    cued = net.simulate(onsets=onset, offsets=onset + 0.3, patterns=pattern)["rates"]
    assert quiet.shape == (2, 21, 9)
    # frames up to the one stamped T_ON = 0.5 s (index 5) are untouched, frame 6 shows the stimulus
    np.testing.assert_array_equal(cued[:, :6], quiet[:, :6])
    assert np.all(cued[:, 6, :3] - quiet[:, 6, :3] > 0.05)


def test_schedule_equals_the_equivalent_dense_stimulus():
    net = EINetwork(small_cell(), duration=0.6, t_steady=0.2, jit_loop=False)
    onsets = np.array([[0.1, 0.33], [0.0, 0.41]], "float32")
    offsets = np.array([[0.27, 0.5], [0.2, 0.6]], "float32")
    patterns = RNG.uniform(0, 1, (2, 2, 9)).astype("float32")
    scheduled = net.simulate(onsets=onsets, offsets=offsets, patterns=patterns)["rates"]
    steps = np.arange(60) * 0.01  # the input at τ = j·DT, j = 0 … DURATION/DT − 1
    on = (steps[None, :, None] >= onsets[:, None] - 1e-6) & (steps[None, :, None] < offsets[:, None] - 1e-6)
    dense = np.einsum("bts,bsn->btn", on.astype("float32"), patterns)
    np.testing.assert_allclose(net.simulate(stimulus=dense)["rates"], scheduled, rtol=1e-6, atol=1e-6)
    # window resolution: one row per frame, held over it (same schedule shapes: no new trace)
    aligned_on = np.array([[0.1, 0.4], [0.2, 0.5]], "float32")
    aligned_off = np.array([[0.35, 0.5], [0.3, 0.6]], "float32")
    windows = np.zeros((2, 12, 9), "float32")
    for b in range(2):
        for s_ in range(2):  # frames k with τ ∈ (on, off] use rows k − 1 = on/T_W … off/T_W − 1
            windows[b, int(round(aligned_on[b, s_] / 0.05)):int(round(aligned_off[b, s_] / 0.05))] += patterns[b, s_]
    np.testing.assert_allclose(net.simulate(stimulus=windows)["rates"],
                               net.simulate(onsets=aligned_on, offsets=aligned_off, patterns=patterns)["rates"],
                               rtol=1e-6, atol=1e-6)


def test_windows_are_means_of_their_samples_and_the_neuroflame_first_window():
    cell = lambda w: small_cell(t_window=w)  # noqa: E731
    fine = EINetwork(cell(0.01), duration=0.4, t_steady=0.1, jit_loop=False).simulate(batch_size=1)["rates"][0]  # every step
    exact = EINetwork(cell(0.05), duration=0.3, t_steady=0.2, jit_loop=False).simulate(batch_size=1)["rates"][0]
    compat = EINetwork(cell(0.05), duration=0.3, t_steady=0.2, first_window="neuroflame", jit_loop=False).simulate(batch_size=1)
    # fine frame j is the state at τ_fine = j·DT, i.e. τ = (j − 10)·DT on the coarse grid
    for k in range(1, 7):
        np.testing.assert_allclose(exact[k], fine[10 + 5 * (k - 1) + 1:10 + 5 * k + 1].mean(0), rtol=1e-5)
    np.testing.assert_allclose(exact[0], fine[6:11].mean(0), rtol=1e-5)
    np.testing.assert_allclose(compat["rates"][0, 0], fine[4:11].mean(0), rtol=1e-5)  # N_WINDOW + 2 samples
    np.testing.assert_allclose(compat["rates"][0, 1:], exact[1:], rtol=1e-6)


def test_continuation_and_hdf5_streaming(tmp_path):
    h5py = pytest.importorskip("h5py")
    make = lambda: small_cell(rate_noise=True, var_rate=0.1, var_ff=(0.05, 0.05), init_std=1.0)  # noqa: E731
    whole = EINetwork(make(), duration=1.0, t_steady=0.2, jit_loop=False).simulate(batch_size=2)
    recorder = EINetwork(make(), duration=1.0, t_steady=0.2, record_stp=True, jit_loop=False)
    path = recorder.record(str(tmp_path / "trial.h5"), batch_size=2, chunk_frames=4)
    with h5py.File(path, "r") as f:
        np.testing.assert_allclose(f["rates"][...], whole["rates"], rtol=1e-5, atol=1e-6)  # same seed, same noise
        assert f["u_0_0"].shape == (2, 21, 6) and f.attrs["t_window"] == 0.05
        np.testing.assert_allclose(f["frame_times"][...], np.arange(21) * 0.05)
    # IF_INIT = 0: a trial continued from the final state of a first one (its own steady period
    # included) is the end of one long trial, there being no stimulus
    net = EINetwork(small_cell(), duration=0.5, t_steady=0.2, jit_loop=False)
    _, state = net.simulate(batch_size=1, return_state=True)
    rest = net.simulate(initial_state=state)["rates"]
    long = EINetwork(small_cell(), duration=1.2, t_steady=0.2, jit_loop=False).simulate(batch_size=1)["rates"]
    np.testing.assert_allclose(rest[:, 1:], long[:, 15:], rtol=1e-5, atol=1e-6)  # τ_long = 0.7 s + k·T_WINDOW
    assert np.abs(long[:, 15:] - long[:, 4:14]).max() > 1e-3  # not a stationary state (the test would be void)


def cosine_blocks(n, kappa):
    theta = 2 * np.pi * np.arange(n) / n
    return {k: Synapses.from_dense((1 + kap * np.cos(theta[:, None] - theta[None, :])) / n)
            for k, kap in kappa.items()}


@pytest.mark.slow  # family budget; fast check of §10.3 item 1: tests/models/test_ei_build.py
def test_all_to_all_linear_fixed_point_of_config_ring_ei():
    # spec §10.3 item 1: N = 1000, frac .5/.5, κ = [1, .25, 1, .25], NMDA on, M0 2, Ja0 [1.58, 1], GAIN 1
    blocks = cosine_blocks(500, {(0, 0): 1.0, (0, 1): 0.25, (1, 0): 1.0, (1, 1): 0.25})
    cell = EIRateCell([500, 500], blocks, jab=(1.0, -1.5, 1.0, -1.0), gain=1.0, in_degree=1, m0=2.0,
                      ja0=(1.58, 1.0), dt=0.002, t_window=0.1, rate_dynamics=True, tau=(0.04, 0.02),
                      tau_syn=(0.004, 0.004), nmda=True, r_nmda=1.0, tau_nmda=(0.1, 0.1), seed=0)
    out = EINetwork(cell, duration=2.0, t_steady=1.0, record_recurrent=True).simulate(batch_size=1)
    last = out["rates"][0, -1]
    assert last[:500].mean() == pytest.approx(2.82, abs=1e-3)  # spec: mean E rate 2.82
    assert last[500:].mean() == pytest.approx(3.32, abs=1e-3)  # formula r_I = 3.32
    assert np.ptp(last[:500]) < 5e-3  # the ring mode (τ = 0.533 s) decayed: a uniform state
    # recurrent input of E at the fixed point: r_E + θ − M0·Ja0_E = 2.82 + 1 − 3.16
    assert out["recurrent"][0, -1].mean() == pytest.approx(0.66, abs=1e-3)


def test_stp_bistability_of_the_homogeneous_network():
    # spec §10.3 item 4: C = K/N all-to-all, E→E carried by STP (J_STP 10, U .03, τf 1, τr .2), K = 400
    K, sizes = 400.0, [8, 2]
    blocks = {(a, b): Synapses.from_dense(np.full((sizes[a], sizes[b]), K / sizes[b])) for a in range(2)
              for b in range(2)}
    cell = EIRateCell(sizes, blocks, jab=(1.0, -1.5, 1.0, -1.0), gain=1.0, in_degree=K, m0=1.0, ja0=(2.0, 1.0),
                      dt=0.001, t_window=0.1, rate_dynamics=True, tau=(0.04, 0.02), synaptic_dynamics=False,
                      nmda=False, stp_blocks=[(0, 0)], use=0.03, tau_fac=1.0, tau_rec=0.2, j_stp=10.0,
                      init_std=0.0, seed=0)
    net = EINetwork(cell, duration=10.0, t_steady=0.0, record_stp=True)

    def start(r_e, r_i, u, x):
        return {"r": np.array([[r_e] * 8 + [r_i] * 2], "float32"), "s": np.zeros((1, 10), "float32"),
                "u_0_0": np.full((1, 8), u, "float32"), "x_0_0": np.full((1, 8), x, "float32")}

    low = net.simulate(initial_state=start(0.0, 0.0, 0.03, 1.0))
    assert low["rates"][0, -1, :8].mean() == pytest.approx(0.585, abs=1e-3)
    assert low["rates"][0, -1, 8:].mean() == pytest.approx(1.462, abs=1e-3)
    u_star, x_star = stp.steady_state(0.585, 0.03, 1.0, 0.2)
    assert low["u_0_0"][0, -1].mean() == pytest.approx(u_star, abs=1e-4)
    assert low["x_0_0"][0, -1].mean() == pytest.approx(x_star, abs=1e-4)
    high = net.simulate(initial_state=start(22.0, 22.4, *stp.steady_state(22.0, 0.03, 1.0, 0.2)))
    assert high["rates"][0, -1, :8].mean() == pytest.approx(22.569, abs=2e-3)
    assert high["rates"][0, -1, 8:].mean() == pytest.approx(22.399, abs=2e-3)
    # the pitfall: the same rates with unfacilitated synapses (u = U) fall back to the low state
    fallen = net.simulate(initial_state=start(22.0, 22.4, 0.03, 1.0))
    assert fallen["rates"][0, -1, :8].mean() == pytest.approx(0.585, abs=1e-3)


def test_bad_input_gives_one_clear_line():
    net = EINetwork(small_cell(), duration=0.2, t_steady=0.1)
    cases = [
        (lambda: EINetwork(small_cell(), duration=0.23), r"duration must be a whole number of dt = 0.05 steps"),
        (lambda: EINetwork(small_cell(), t_steady=0.05, first_window="neuroflame"), r"needs t_steady ≥ t_window"),
        (lambda: net.simulate(stimulus=np.zeros((1, 7, 6))), r"a dense stimulus must be \(batch, 20 steps or 4"),
        (lambda: net.simulate(onsets=np.zeros((2, 1)), offsets=np.ones((2, 1)), patterns=np.ones((2, 1, 4))),
         r"patterns \(batch, S, 6 or 9\)"),
        (lambda: net.simulate(onsets=np.full((1, 1), np.nan), offsets=np.ones((1, 1)), patterns=np.ones((1, 1, 6))),
         r"onsets must be finite"),
        (lambda: net.simulate(batch_size=4, parameters={"j_stp": np.ones((3, 1))}),
         r"parameters\['j_stp'\] has 3 rows but the batch has 4"),
        (lambda: net.simulate(batch_size=2, parameters={"m0": np.array([[1.0], [np.nan]])}),
         r"parameters\['m0'\] must be finite"),
        (lambda: net.simulate(initial_state={"r": np.zeros((1, 9))}), r"the state lacks"),
    ]
    for make, match in cases:
        with pytest.raises(ValueError, match=match) as info:
            make()
        assert "\n" not in str(info.value)
    assert isinstance(ndnx.models.EINetwork, type)
