"""build_ei_network / ei_network_parameters: NeuroFlame configurations as networks (spec
ei_networks_neuroflame.md §1.1 scales, §7 reference configurations, §10.3 items 1 and 8)."""

import math

import numpy as np
import pytest

from ndnx.models import build_ei_network, ei_network_parameters
from ndnx.models.ei_config import grid, load_config, reference_names

#: Small sizes for the big reference configurations (K ≤ N_B for the sparse ones).
SMALL = {"config_2pop": dict(N_NEURON=400, K=50), "config_EI": dict(N_NEURON=400, K=50),
         "config_bal_ring": dict(N_NEURON=400, K=50), "config_sparse": dict(N_NEURON=400, K=50),
         "config_train": dict(N_NEURON=400, K=50, LR_TRAIN=0), "train_dual": dict(N_NEURON=400, K=50, LR_TRAIN=0),
         "train_odr_EI": dict(N_NEURON=400, K=50), "train_vanilla": dict(N_NEURON=400, TRAIN_EI=0),
         "config_ringEI": dict(N_NEURON=400), "config_SB": dict(N_NEURON=400)}


def test_every_reference_configuration_is_covered():
    assert sorted(SMALL) == sorted(reference_names())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_reference_configuration_builds_with_the_documented_scales(name):
    c = load_config(name, **SMALL[name])
    net = build_ei_network(c)
    cell = net.cell
    # §1.1 by hand: N_a = int(N·frac_a); K_B = K (K·frac_B with FRAC_K), 1 for all2all
    sizes = [int(c.N_NEURON * f) for f in c.frac]
    k = [1.0] * 2 if "all2all" in c.CON_TYPE else [c.K * f if c.FRAC_K else c.K for f in c.frac]
    assert cell.sizes == sizes and cell.in_degree == pytest.approx(k)
    res = cell.resolve(None, 1)
    plastic = {(b // 2, b % 2) for b, on in enumerate(c.IS_STP) if on} if c.IF_STP else set()
    for (a, b), scale in res["static"].items():  # J_AB = GAIN·Jab_AB/√K_B
        assert float(np.asarray(scale).ravel()[0]) == pytest.approx(c.GAIN * c.Jab[2 * a + b] / math.sqrt(k[b]),
                                                                     rel=1e-6)
    assert set(res["static"]) == {(0, 0), (0, 1), (1, 0), (1, 1)} - plastic
    for (a, b) in plastic:  # mid-2024: J_STP·GAIN·W_STP/√K_B on the structured block
        w = 1.0 if c.W_STP is None else c.W_STP[2 * a + b]
        assert float(np.asarray(res["stp"][(a, b)][0]).ravel()[0]) == pytest.approx(
            c.GAIN * c.J_STP * w / math.sqrt(k[b]), rel=1e-6)
    drive = np.asarray(res["drive"])[0]  # √K_E·M0·Ja0_A
    assert drive[0] == pytest.approx(math.sqrt(k[0]) * c.M0 * c.Ja0[0], rel=1e-6)
    assert drive[-1] == pytest.approx(math.sqrt(k[0]) * c.M0 * c.Ja0[1], rel=1e-6)
    assert (cell.dt, cell.t_window, net.duration, net.t_steady) == pytest.approx(
        (c.DT, c.T_WINDOW, c.DURATION + (8.0 if c.RANDOM_DELAY else 0.0), c.T_STEADY))


def test_sparse_block_holds_the_bernoulli_in_degree():
    net = build_ei_network("config_2pop", N_NEURON=2000, K=100, layout="dense")
    net.build()
    kernel = np.asarray(net.cell._synapse_weights[(0, 0)]["kernel"])  # C_EE stored pre × post
    assert set(np.unique(kernel)) <= {0.0, 1.0}
    # Bernoulli(K/N_B) over N_B = 1000: in-degree mean K = 100, sd √(K(1 − K/N_B)) = 9.49 per neuron
    assert abs(kernel.sum(axis=0).mean() - 100.0) < 4 * 9.49 / math.sqrt(1000)


def test_precision_is_the_cells_policy_and_stp_stays_float32():
    net = build_ei_network("config_EI", N_NEURON=400, K=50, DURATION=0.1, T_STEADY=0.1,
                           network_options={"jit_loop": False})
    assert net.cell.compute_dtype == "float16"  # FLOAT_PRECISION 16 → mixed_float16
    out = net.simulate(batch_size=1, return_state=True)[1]
    assert out["u_0_0"].dtype == np.float32 and out["x_0_0"].dtype == np.float32


def test_sigmoid_names_reach_the_gaussian_cdf_branch():
    cell = build_ei_network(N_NEURON=100, K=20, TF_TYPE="sigmoid").cell
    assert cell.transfer == "gaussian_cdf"
    # Φ = THRESH·½(1 + erf(h/√2)): THRESH 1 at h = 0 gives 0.5 (spec §1.3)
    assert float(np.asarray(cell._phi(np.zeros(1, "float32"), 1.0))[0]) == pytest.approx(0.5)


@pytest.mark.parametrize("key", ["IF_HEBB", "TRAIN_EI"])
def test_unimplemented_features_are_refused(key):
    with pytest.raises(ValueError, match=f"build_ei_network: {key}=1 .*does not implement yet"):
        build_ei_network(N_NEURON=100, K=20, **{key: 1})


def test_train_dual_builds_the_trainable_low_rank_block():
    """§6 / §7 train_dual: LR_TRAIN 1 → J_ij = GAIN·J_STP·(1 + V_i·U_j)/N_E on E→E, U = V at start."""
    c = load_config("train_dual", N_NEURON=200, K=20, LR_NORM=0)
    cell = build_ei_network(c).cell
    cell.build(None)
    assert (cell.stp_mode, cell.lr_train, cell.rank, cell.lr_separate, cell.clamp) == ("dense", True, 2, True, True)
    v, u = (w.numpy().astype("float64") for w in (cell.lr_v, cell.lr_u))
    assert v.shape == (160, 2) and abs(v.std() - c.LR_INI) < 0.15  # N(0, LR_INI²), 320 draws
    np.testing.assert_array_equal(u, v)  # LR_UeqV
    scale, coupling = cell.resolve(None, 1)["stp"][(0, 0)][:2]
    assert float(np.asarray(scale).ravel()[0]) == pytest.approx(0.75 * 1.0 / 160)  # GAIN·J_STP/N_E
    expected = np.maximum(1.0 + v @ u.T, 0.0)  # CLAMP 1: E→E ≥ 0 (post × pre)
    np.testing.assert_allclose(np.asarray(coupling["kernel"]), expected.T, rtol=1e-5, atol=1e-5)
    symmetric = build_ei_network("train_dual", N_NEURON=200, K=20, LR_MN=0).cell
    assert symmetric.lr_separate is False


def test_low_rank_training_keys_are_checked():
    with pytest.raises(ValueError, match="LR_TRAIN=1 trains U, V of the plastic E→E block; it needs IF_STP=1"):
        build_ei_network("train_dual", N_NEURON=200, K=20, IF_STP=0)
    with pytest.raises(ValueError, match="LR_READOUT=1 .* needs LR_TRAIN=1, got LR_TRAIN=0"):
        build_ei_network(N_NEURON=100, K=20, LR_READOUT=1)


def test_low_rank_outside_the_dual_task_is_refused():
    with pytest.raises(ValueError, match="'lr' on blocks \\[\\(0, 0\\)\\] with TASK='odr'"):
        build_ei_network("config_EI", N_NEURON=400, K=50, TASK="odr")


def test_users_block_replaces_the_generated_one():
    w = np.arange(20 * 5, dtype="float32").reshape(20, 5) / 100.0
    net = build_ei_network(N_NEURON=25, K=4, blocks={(0, 1): w}, layout="dense")
    net.build()
    kernel = np.asarray(net.cell._synapse_weights[(0, 1)]["kernel"])
    np.testing.assert_array_equal(kernel, w.T)  # stored pre × post, values as given


def test_config_ring_fixed_point_matches_the_spec():
    """§10.3 item 1: config_ringEI (IF_STP 0, RATE_NOISE 0) → mean E rate 2.82, I 3.32."""
    net = build_ei_network("config_ringEI", RATE_NOISE=0, DURATION=1.0, T_STEADY=2.0)
    rates = net.simulate(batch_size=1)["rates"][0, -5:]
    r_e, r_i = rates[:, :500].mean(), rates[:, 500:].mean()
    print(f"config_ringEI: r_E = {r_e:.4f}, r_I = {r_i:.4f} (spec 2.82, 3.32)")
    assert r_e == pytest.approx(2.82, abs=0.01)
    assert r_i == pytest.approx(3.32, abs=0.01)


@pytest.mark.slow  # family budget; a (B, 1) grid = separate runs fast: tests/experiments/ei/test_ring_attractor.py
def test_batched_j_stp_grid_equals_separate_runs():
    """§10.3 item 8: a (B, 1) J_STP run equals B scalar runs (same seed, no noise)."""
    c = load_config("config_ringEI", N_NEURON=40, IF_STP=1, RATE_NOISE=0, DURATION=0.2, T_STEADY=0.1)
    g = grid(c, J_STP=[5.0, 12.0])
    options = dict(cell_options={"init_std": 0.0}, network_options={"jit_loop": False})
    batched = build_ei_network(c, **options).simulate(parameters=ei_network_parameters(g))["rates"]
    assert batched.shape[0] == 2
    for b in range(2):
        alone = build_ei_network(g.config(b), **options).simulate(batch_size=1)["rates"][0]
        np.testing.assert_allclose(batched[b], alone, rtol=1e-5, atol=1e-6)
    assert np.abs(batched[0] - batched[1]).max() > 0.1  # the two J_STP values do differ


def test_parameters_of_a_grid_keep_the_plastic_blocks_entries():
    c = load_config("train_odr_EI", N_NEURON=400, K=50)
    p = ei_network_parameters(grid(c, {"W_STP[0]": [1.0, 2.0]}))
    np.testing.assert_array_equal(p["w_stp"], [[1.0], [2.0]])  # E→E is the only plastic block (IS_STP default)
    p = ei_network_parameters(grid(c, {"USE[0]": [0.1, 0.2]}))
    np.testing.assert_allclose(p["use"], [[0.1], [0.2]])


def test_structural_grid_axes_are_refused():
    with pytest.raises(ValueError, match="varies K, which is not a batched parameter"):
        ei_network_parameters(grid(load_config(), K=[100.0, 200.0]))
