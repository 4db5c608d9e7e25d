"""STP step rules against the steady-state table of spec ei_networks_neuroflame.md §3.2 and NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from ndnx.cells import stp

U, TAU_FAC, TAU_REC, DT = 0.03, 1.0, 0.2, 1e-3
RATES = np.array([1.0, 5.0, 10.0, 20.0, 40.0], "float32")
# spec §3.2: u*, x*, u*x* at U = 0.03, τ_fac = 1 s, τ_rec = 0.2 s
TABLE = np.array([[0.05825, 0.98848, 0.05758],
                  [0.15652, 0.86466, 0.13534],
                  [0.25385, 0.66327, 0.16837],
                  [0.39375, 0.38835, 0.15291],
                  [0.55909, 0.18272, 0.10216]])


def simulate(rule, rates, steps, use=U, tau_fac=TAU_FAC, tau_rec=TAU_REC, dt=DT, u_dtype=tf.float32):
    """(u, x, transmitted) after `steps` steps at constant rates (batch, 1), compiled."""
    rates = tf.constant(np.reshape(rates, (-1, 1)))

    @tf.function(jit_compile=True)
    def run():
        u0 = tf.cast(stp.resting_u(rule, tf.ones_like(rates, tf.float32) * use), u_dtype)
        x0 = tf.ones_like(rates, u_dtype)
        # the first step takes the state in u_dtype and hands it back in float32
        u0, x0, _ = stp.stp_step(rule, u0, x0, rates, dt, use, tau_fac, tau_rec)

        def body(i, u, x, out):
            return (i + 1, *stp.stp_step(rule, u, x, rates, dt, use, tau_fac, tau_rec))

        return tf.while_loop(lambda i, *_: i < steps, body, (1, u0, x0, tf.zeros_like(x0, tf.float32)))[1:]

    return [np.asarray(v) for v in run()]


def test_markram_steady_state_table_to_1e4_in_float32():
    u, x, out = simulate("markram", RATES, 30_000)
    assert u.dtype == np.float32 and x.dtype == np.float32
    np.testing.assert_allclose(u[:, 0], TABLE[:, 0], atol=1e-4)
    np.testing.assert_allclose(x[:, 0], TABLE[:, 1], atol=1e-4)
    np.testing.assert_allclose((u * x)[:, 0], TABLE[:, 2], atol=1e-4)
    np.testing.assert_allclose(out[:, 0], TABLE[:, 2] * RATES, rtol=1e-3)


def test_analytic_steady_state_matches_table_and_efficacy_peak():
    u, x = stp.steady_state(RATES, U, TAU_FAC, TAU_REC)
    np.testing.assert_allclose(np.stack([u, x, u * x], 1), TABLE, atol=6e-6)
    r = np.linspace(0.1, 40, 40_000)
    a = np.prod(stp.steady_state(r, U, TAU_FAC, TAU_REC), axis=0)
    assert a.max() == pytest.approx(0.1699, abs=5e-5)  # spec §3.2: peak 0.1699 near 11.7 Hz
    assert r[a.argmax()] == pytest.approx(11.7, abs=0.05)


def test_markram_one_step_equals_numpy():
    rng = np.random.default_rng(0)
    u, x, r = rng.uniform(0.03, 0.5, (3, 4)), rng.uniform(0.2, 1, (3, 4)), rng.uniform(0, 30, (3, 4))
    x_ref = x + (1 - x) * DT / TAU_REC - DT * u * x * r
    u_ref = u + (U - u) * DT / TAU_FAC + DT * U * (1 - u) * r
    got = stp.stp_step("markram", u, x, r, DT, U, TAU_FAC, TAU_REC)
    np.testing.assert_allclose(got[0], u_ref, rtol=1e-6)
    np.testing.assert_allclose(got[1], x_ref, rtol=1e-6)
    np.testing.assert_allclose(got[2], u_ref * x_ref * r, rtol=1e-5)


def test_mongillo_one_step_and_steady_efficacy_equals_markram():
    rng = np.random.default_rng(1)
    u, x, r = rng.uniform(0, 0.5, (2, 3)), rng.uniform(0.2, 1, (2, 3)), rng.uniform(0, 30, (2, 3))
    up = u + U * (1 - u)
    x_ref = x + DT * ((1 - x) / TAU_REC - up * x * r)
    u_ref = u + DT * (-u / TAU_FAC + U * (1 - u) * r)
    got = stp.stp_step("mongillo", u, x, r, DT, U, TAU_FAC, TAU_REC)
    np.testing.assert_allclose(got[0], u_ref, rtol=1e-6)
    np.testing.assert_allclose(got[2], (u_ref + U * (1 - u_ref)) * x_ref * r, rtol=1e-5)
    u, x, out = simulate("mongillo", RATES, 30_000)
    np.testing.assert_allclose(out[:, 0] / RATES, TABLE[:, 2], atol=1e-4)  # u⁺*x* = u*x* (spec §3.1)


def test_markram_exp_within_0p3_percent_in_x_and_its_exact_fixed_point():
    u, x, _ = simulate("markram_exp", RATES, 30_000)
    dev = np.abs(x[:, 0] / TABLE[:, 1] - 1)
    assert dev.max() < 3e-3 and dev.max() > 1e-4  # spec §3.2: up to about 0.3 % in x
    # the discrete fixed point, solved by hand: (1 − x)(1 − e_rec) = DT·u·x·r, u likewise
    e_rec, e_fac = np.exp(-DT / TAU_REC), np.exp(-DT / TAU_FAC)
    r = RATES.astype("float64")
    u_ref = U * (1 - e_fac + DT * r) / (1 - e_fac + DT * U * r)
    x_ref = (1 - e_rec) / (1 - e_rec + DT * u_ref * r)
    np.testing.assert_allclose(u[:, 0], u_ref, atol=2e-5)
    np.testing.assert_allclose(x[:, 0], x_ref, atol=2e-5)


@pytest.mark.parametrize("rule", stp.STP_RULES)
def test_tau_fac_zero_switches_facilitation_off(rule):
    u, x, out = simulate(rule, RATES, 5_000, tau_fac=0.0)
    u_eff = stp.efficacy(rule, u, U)
    np.testing.assert_allclose(np.asarray(u_eff)[:, 0], U, rtol=1e-6)
    x_star = 1 / (1 + U * TAU_REC * RATES)  # pure depression
    np.testing.assert_allclose(x[:, 0], x_star, rtol=4e-3 if rule == "markram_exp" else 1e-4)


def test_batched_parameters_equal_separate_runs():
    uses, taus = np.array([[0.01], [0.05], [0.1]], "float32"), np.array([[0.25], [0.5], [1.0]], "float32")
    rates = np.full(3, 8.0, "float32")
    batched = simulate("markram", rates, 500, use=tf.constant(uses), tau_fac=tf.constant(taus))
    for b in range(3):
        alone = simulate("markram", rates[b:b + 1], 500, use=float(uses[b, 0]), tau_fac=float(taus[b, 0]))
        for got, ref in zip(batched, alone):
            np.testing.assert_allclose(got[b], ref[0], rtol=1e-6)


def test_half_precision_state_is_integrated_in_float32():
    # u and x handed over as float16 come back float32 and converge to the float32 value
    u, x, _ = simulate("markram", np.array([5.0], "float16"), 30_000, u_dtype=tf.float16)
    assert u.dtype == np.float32
    assert float(u[0, 0]) == pytest.approx(0.15652, abs=1e-4)
    # the failure it prevents (spec §0 item 6): the same rule stepped in float16 stalls near 0.122
    u16, x16, r, dt, one = np.float16(U), np.float16(1), np.float16(5), np.float16(DT), np.float16(1)
    for _ in range(30_000):
        x16 = x16 + (one - x16) * (dt / np.float16(TAU_REC)) - dt * u16 * x16 * r
        u16 = u16 + (np.float16(U) - u16) * (dt / np.float16(TAU_FAC)) + dt * np.float16(U) * (one - u16) * r
    assert float(u16) == pytest.approx(0.122, abs=0.01)


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match=r"stp_rule must be one of .* got 'hansel'"):
        stp.stp_step("hansel", 0.1, 1.0, 1.0, DT, U, TAU_FAC, TAU_REC)
