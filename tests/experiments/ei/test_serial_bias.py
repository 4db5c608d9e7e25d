"""experiments/ei/serial_bias.py at N = 100, 4 runs of 3 trials: the serial-bias curve equals a plain NumPy
binning of the recorded errors, and without noise the delay memory beats chance (mean |error| 90°)."""

import numpy as np

from tests.experiments.ei.helpers import run_tiny


def test_serial_bias_curve_and_memory(tmp_path):
    _, config, metrics, rec = run_tiny("serial_bias", tmp_path, N_NEURON=100, n_batch=4, n_trials=3,
                                       run_duration=10.8, RATE_NOISE=0, n_bins=4)
    decoded, phase, previous = rec["decoded"], rec["phase"], rec["previous_phase"]
    assert decoded.shape == (4, 3) and np.isnan(previous[:, 0]).all()
    np.testing.assert_array_equal(previous[:, 1:], phase[:, :-1])
    wrap = lambda a: (a + 180.0) % 360.0 - 180.0
    error = wrap(np.degrees(decoded - phase))[:, 1:].ravel()
    relative = wrap(np.degrees(previous - phase))[:, 1:].ravel()
    expected = [error[(relative >= lo) & (relative < lo + 90.0)] for lo in (-180.0, -90.0, 0.0, 90.0)]
    assert rec["counts"].tolist() == [len(e) for e in expected]
    np.testing.assert_allclose(rec["bias"], [e.mean() if len(e) else np.nan for e in expected], atol=1e-4)
    assert metrics["mean_abs_error_deg"] < 30.0     # chance (a random decoded phase) is 90°
