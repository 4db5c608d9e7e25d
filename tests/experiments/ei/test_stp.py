"""experiments/ei/stp.py at a tiny size: u, x, u·x at clamped rates against spec §3.2's table and the
steady-state formula written here; U and τ_f batched (spec ei_networks_neuroflame.md §3.2, §10.3 item 3)."""

import numpy as np

from tests.experiments.ei.helpers import run_tiny

# Spec §3.2 (U = 0.03, τ_f = 1 s, τ_r = 0.2 s): rate → (u*, x*, u*x*).
TABLE = {1.0: (0.05825, 0.98848, 0.05758), 5.0: (0.15652, 0.86466, 0.13534), 10.0: (0.25385, 0.66327, 0.16837),
         20.0: (0.39375, 0.38835, 0.15291), 40.0: (0.55909, 0.18272, 0.10216)}


def test_stp_steady_state_and_batched_sweep(tmp_path):
    _, config, metrics, rec = run_tiny("stp", tmp_path, rates=sorted(TABLE), uses=[0.03, 0.1], tau_facs=[0.5, 1.0],
                                       DURATION=8.0, DT=0.005)  # the Euler fixed point does not depend on DT
    u, x = rec["u"][:, -1], rec["x"][:, -1]
    rate, use, tau_fac = rec["rate"], rec["use"], rec["tau_fac"]
    assert len(rate) == 20 and sorted(set(use)) == [0.03, 0.1] and sorted(set(tau_fac)) == [0.5, 1.0]
    for b in np.flatnonzero(np.isclose(use, 0.03) & np.isclose(tau_fac, 1.0)):
        np.testing.assert_allclose([u[b], x[b], u[b] * x[b]], TABLE[rate[b]], atol=1e-4)
    u_star = use * (1 + tau_fac * rate) / (1 + use * tau_fac * rate)   # every row: its own U and τ_f
    x_star = 1 / (1 + u_star * config["TAU_REC"] * rate)
    np.testing.assert_allclose(u, u_star, atol=1e-4)
    np.testing.assert_allclose(x, x_star, atol=1e-4)
    assert metrics["max_error_efficacy"] < 1e-4
    assert metrics["efficacy_peak_rate"] == 10.0   # A(r) peaks at 11.7 Hz (§3.2): 10 Hz among 1, 5, 10, 20, 40
