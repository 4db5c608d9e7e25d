"""experiments/ei/ring_attractor.py at N = 40: the J_STP × J_E0 grid run as one batch equals separate
scalar runs (spec ei_networks_neuroflame.md §10.3 item 8), and its recorded moments are the first
Fourier moment of the rates (§5, computed here by a plain sum)."""

import numpy as np
import pytest

from ndnx.models import build_ei_network
from ndnx.models.ei_config import load_config
from tests.experiments.ei.helpers import run_tiny


@pytest.mark.slow  # family budget; (B, 1) parameters = separate runs fast: tests/cells/test_stp.py
def test_grid_as_one_batch_equals_separate_runs(tmp_path):
    _, config, metrics, rec = run_tiny("ring_attractor", tmp_path, N_NEURON=40, RATE_NOISE=0, T_STEADY=0.1,
                                       DURATION=0.4, n_j_stp=2, n_je0=2, init_std=0.0, record_rates=True,
                                       cue_off=0.2)
    rates = rec["rates"]                                             # (4, frames, 20)
    assert rec["j_stp"].tolist() == [5.0, 5.0, 15.0, 15.0] and rec["je0"].tolist() == [0.5, 2.0, 0.5, 2.0]
    n = rates.shape[-1]
    pattern = 2.0 * np.maximum(1 + np.cos(2 * np.pi * np.arange(n) / n - np.pi), 0) / 2   # the 180° cue, I0 = 2, σ = 1
    for b in (0, 3):  # the grid's corners: both parameters differ from the other row's
        j_stp, je0 = rec["j_stp"][b], rec["je0"][b]
        net = build_ei_network(load_config("config_ringEI", N_NEURON=40, IF_STP=1, RATE_NOISE=0, VAR_RATE=0.001,
                                           T_STEADY=0.1, DURATION=0.4, J_STP=float(j_stp), Ja0=[float(je0), 1.0],
                                           SEED=0), cell_options={"init_std": 0.0},
                               network_options={"jit_loop": False})
        alone = net.simulate(onsets=[[0.0]], offsets=[[0.2]], patterns=pattern[None, None].astype("float32"))
        np.testing.assert_allclose(rates[b], alone["rates"][0, :, :n], rtol=1e-4, atol=1e-5)
    f1 = (rates * np.exp(2j * np.pi * np.arange(n) / n)).sum(-1)
    np.testing.assert_allclose(rec["m1"], 2 * np.abs(f1) / n, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rec["m0"], rates.mean(-1), rtol=1e-5)
    ratio = (2 * np.abs(f1[:, -1]) / n) / rates[:, -1].mean(-1)
    np.testing.assert_allclose(rec["m1_over_m0_end"].ravel(), ratio, rtol=1e-4)
    assert metrics["bump_fraction"] == pytest.approx(np.mean(ratio > 0.5))
