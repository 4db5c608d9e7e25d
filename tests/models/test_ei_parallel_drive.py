"""EINetwork's parallel drive (two XLA-compiled row halves) reproduces the compiled loop."""

import numpy as np
import pytest

import ndnx
from ndnx.connectivity import Synapses, build_network

SIZES = [160, 40]


def make_net(parallel_drive, synapses=None, **cell_options):
    synapses = synapses or build_network(SIZES, 20, con_type="sparse", seed=0, layout="ell")
    options = dict(jab=(1.0, -1.5, 1.0, -1.0), gain=1.0, in_degree=20, m0=0.15, ja0=(2.0, 1.0), dt=1e-3,
                   t_window=0.01, rate_dynamics=True, tau=(0.04, 0.02), tau_syn=(0.004, 0.002), seed=0)
    options.update(cell_options)
    cell = ndnx.cells.EIRateCell(SIZES, synapses, **options)
    return ndnx.models.EINetwork(cell, duration=0.03, t_steady=0.01, parallel_drive=parallel_drive,
                                 record_stp=bool(options.get("stp_blocks")))


@pytest.mark.slow  # family budget; the split drives against NumPy: tests/connectivity/test_parallel_drive.py
def test_parallel_drive_gives_the_compiled_loop_rates():
    # noise (drawn by XLA in both paths), a plastic block (its coupling split too) and a stimulus
    options = dict(stp_blocks=[(0, 0)], rate_noise=True, var_rate=0.1, var_ff=(0.1, 0.1))
    stimulus = dict(onsets=np.array([[0.01]], "float32"), offsets=np.array([[0.02]], "float32"),
                    patterns=np.random.default_rng(0).random((1, 1, SIZES[0])).astype("float32"))
    serial = make_net(False, **options)
    parallel = make_net(True, **options)
    assert serial._drive_parts(True) == 1 and parallel._drive_parts(True) == 2
    a, state_a = serial.simulate(**stimulus, return_state=True)
    b, state_b = parallel.simulate(**stimulus, return_state=True)
    for name in a:  # float32 rounding of XLA's and TensorFlow's elementwise kernels, nothing more
        scale = np.abs(a[name]).max()
        assert scale > 0
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(state_b["r"], state_a["r"], rtol=0, atol=1e-6 * np.abs(state_a["r"]).max())


def test_parallel_drive_only_in_compiled_calls_and_refusals():
    net = make_net(True)
    assert net._drive_parts(False) == 1  # an uncompiled (training) loop keeps its gradient path
    assert net.get_config()["parallel_drive"] is True
    dense = {(a, b): Synapses.from_dense(np.full((SIZES[a], SIZES[b]), 0.1)) for a in (0, 1) for b in (0, 1)}
    with pytest.raises(ValueError, match="parallel_drive=True needs every block of the cell in the 'ell' layout"):
        make_net(True, synapses=dense)
    with pytest.raises(ValueError, match="parallel_drive must be True or False, got 'auto'"):
        make_net("auto")
