"""The analytic oracles of ndnx.analysis.mean_field against the spec's numbers (ei_networks_neuroflame.md
§3.2, §10.3) and against brute-force NumPy integrations written here."""

import warnings

import numpy as np
import pytest
from scipy import integrate

from ndnx.analysis import mean_field as mf

JAB = [1.0, -1.5, 1.0, -1.0]          # [EE, EI, IE, II], post × pre
JAB_MATRIX = np.array([[1.0, -1.5], [1.0, -1.0]])
RING_KAPPA = [1.0, 0.25, 1.0, 0.25]   # config_ringEI


# ---- §3.2: STP steady state ----------------------------------------------------------------------------------
STP_TABLE = {  # r (Hz): u*, x*, u*x* (spec §3.2, U = 0.03, τ_f = 1 s, τ_r = 0.2 s)
    1: (0.05825, 0.98848, 0.05758),
    5: (0.15652, 0.86466, 0.13534),
    10: (0.25385, 0.66327, 0.16837),
    20: (0.39375, 0.38835, 0.15291),
    40: (0.55909, 0.18272, 0.10216),
}


def test_stp_steady_state_is_the_spec_table():
    rates = np.array(sorted(STP_TABLE), dtype=float)
    u, x = mf.stp_steady_state(rates, use=0.03, tau_fac=1.0, tau_rec=0.2)
    a = mf.stp_efficacy(rates, use=0.03, tau_fac=1.0, tau_rec=0.2)
    expected = np.array([STP_TABLE[r] for r in sorted(STP_TABLE)])
    np.testing.assert_allclose(np.round(u, 5), expected[:, 0], atol=0)
    np.testing.assert_allclose(np.round(x, 5), expected[:, 1], atol=0)
    np.testing.assert_allclose(np.round(a, 5), expected[:, 2], atol=0)


def test_stp_steady_state_is_where_the_markram_update_settles():
    # NeuroFlame's 'markram' Euler step (x first with the old u, then u), DT = 1 ms, 20 s at each rate.
    rates = np.array(sorted(STP_TABLE), dtype=float)
    use, tau_f, tau_r, dt = 0.03, 1.0, 0.2, 1e-3
    u, x = np.full(rates.shape, use), np.ones(rates.shape)
    for _ in range(20000):
        x = x + (1 - x) * dt / tau_r - dt * u * x * rates
        u = u + (use - u) * dt / tau_f + dt * use * (1 - u) * rates
    u_star, x_star = mf.stp_steady_state(rates, use, tau_f, tau_r)
    np.testing.assert_allclose(u_star, u, atol=1e-9)
    np.testing.assert_allclose(x_star, x, atol=1e-9)


def test_stp_efficacy_peaks_at_0_1699_near_11_7_hz():
    rate, peak = mf.stp_efficacy_peak(0.03, 1.0, 0.2)
    assert round(peak, 4) == 0.1699 and round(rate, 1) == 11.7
    grid = np.linspace(0.0, 100.0, 1_000_001)  # brute force, 1e-4 Hz steps
    u = 0.03 * (1 + grid) / (1 + 0.03 * grid)
    a = u / (1 + u * 0.2 * grid)
    assert rate == pytest.approx(grid[np.argmax(a)], abs=2e-4)
    assert peak == pytest.approx(a.max(), abs=1e-12)


def test_frozen_facilitation_keeps_u_at_U():
    u, x = mf.stp_steady_state([0.0, 7.0], use=0.2, tau_fac=0.0, tau_rec=0.5)
    np.testing.assert_allclose(u, [0.2, 0.2])
    np.testing.assert_allclose(x, [1.0, 1.0 / (1.0 + 0.2 * 0.5 * 7.0)])


# ---- §10.3 items 1 and 5: the all-to-all cosine ring -----------------------------------------------------------
def test_config_ring_ei_linear_fixed_point_is_2_82_and_3_32():
    fp = mf.linear_fixed_point(JAB, [1.58, 1.0], gain=1.0, m0=2.0, thresh=1.0, r_nmda=1.0)
    assert fp.valid
    assert np.round(fp.rates, 2).tolist() == [2.82, 3.32]


def test_a_linear_solution_below_threshold_is_reported_invalid():
    with pytest.warns(RuntimeWarning, match="not a fixed point"):
        fp = mf.linear_fixed_point(JAB, [0.2, 1.0], gain=1.0, m0=2.0, r_nmda=1.0)
    assert not fp.valid
    np.testing.assert_allclose(fp.rates, np.linalg.solve(np.eye(2) - np.array([[2, -1.5], [2, -1]]), [-0.6, 1.0]))


def test_ring_mode_1_eigenvalues_are_0_797_and_0_078():
    m1 = mf.ring_mode_matrix(JAB, RING_KAPPA, gain=1.0, r_nmda=1.0)
    np.testing.assert_allclose(m1, [[1.0, -0.1875], [1.0, -0.125]])
    assert np.round(np.sort(np.linalg.eigvals(m1).real)[::-1], 3).tolist() == [0.797, 0.078]
    assert np.all(mf.ring_mode_matrix(JAB, RING_KAPPA, mode=2) == 0)


def test_ring_slowest_mode_is_0_533_s():
    fast = mf.ring_mode_matrix(JAB, RING_KAPPA, gain=1.0)  # the NMDA part is added by the dynamics
    dyn = mf.linear_rate_dynamics(fast, tau=[0.04, 0.02], tau_syn=0.004, tau_nmda=0.1, r_nmda=1.0)
    assert round(dyn.slowest_time_constant, 3) == 0.533
    assert np.all(dyn.eigenvalues.real < 0)


def _simulate_ring(n_per_pop=100, dt=1e-3, duration=3.0):
    """config_ringEI as a network of neurons (NumPy): all-to-all cosine blocks (1 + κ cos)/N_B, NMDA,
    exponential-Euler r, s, n (spec §1.2); starts far from the fixed point with a cosine bump at 180°."""
    n_e = n_i = n_per_pop
    theta = 2 * np.pi * np.r_[np.arange(n_e) / n_e, np.arange(n_i) / n_i]
    pop = np.r_[np.zeros(n_e, int), np.ones(n_i, int)]
    kappa = np.array(RING_KAPPA).reshape(2, 2)
    w = JAB_MATRIX[pop][:, pop] * (1 + kappa[pop][:, pop] * np.cos(theta[:, None] - theta[None, :]))
    w /= np.array([n_e, n_i])[pop][None, :]
    w_exc = w.copy()
    w_exc[:, n_e:] = 0
    e_r = np.exp(-dt / np.array([0.04, 0.02])[pop])
    e_s, e_n = np.exp(-dt / 0.004), np.exp(-dt / 0.1)
    ff = 2.0 * np.array([1.58, 1.0])[pop]
    r = 1.0 + np.cos(theta - np.pi)
    s, n = np.zeros_like(r), np.zeros_like(r)
    frames = []
    every = int(round(0.1 / dt))
    for k in range(int(round(duration / dt))):
        s = s * e_s + (1 - e_s) * (w @ r)
        n = n * e_n + 1.0 * (1 - e_n) * (w_exc @ r)
        r = r * e_r + (1 - e_r) * np.maximum(ff + s + n - 1.0, 0.0)
        if (k + 1) % every == 0:
            f1 = np.sum(r[:n_e] * np.exp(1j * theta[:n_e]))
            frames.append(((k + 1) * dt, r[:n_e].mean(), r[n_e:].mean(), 2 * abs(f1) / n_e, np.angle(f1)))
    return np.array(frames)


def test_a_simulated_ring_settles_at_the_fixed_point_and_its_bump_decays_with_the_slowest_mode():
    frames = _simulate_ring()
    fp = mf.linear_fixed_point(JAB, [1.58, 1.0], gain=1.0, m0=2.0, r_nmda=1.0)
    np.testing.assert_allclose(frames[-1, 1:3], fp.rates, rtol=1e-6)
    t, m1 = frames[10:, 0], frames[10:, 3]   # after 1 s only the slowest mode-1 eigenvector is left
    measured = -1.0 / np.polyfit(t, np.log(m1), 1)[0]
    fast = mf.ring_mode_matrix(JAB, RING_KAPPA)
    theory = mf.linear_rate_dynamics(fast, [0.04, 0.02], 0.004, 0.1, r_nmda=1.0).slowest_time_constant
    # exponential Euler at DT = 1 ms, 0.25 ms apart from the slow mode's 0.53 s: O(DT/τ_syn)² ≈ 1e-4 relative
    assert measured == pytest.approx(theory, rel=1e-3)
    np.testing.assert_allclose(np.abs(frames[:, 4]), np.pi, atol=1e-9)   # the bump stays at 180°


# ---- §10.3 item 2: the sparse balanced state -------------------------------------------------------------------
def test_large_k_balanced_rates_are_1_and_2():
    np.testing.assert_allclose(mf.balanced_rates(JAB, [2.0, 1.0], gain=1.0, m0=1.0), [1.0, 2.0])


SPEC_MEAN_FIELD = [(2500, 100, 1.79, 2), (5000, 400, 1.370, 3), (10000, 1000, 1.226, 3)]


@pytest.mark.parametrize("n,k,expected,digits", SPEC_MEAN_FIELD)
def test_finite_k_mean_field_rates_are_the_spec_numbers(n, k, expected, digits):
    state = mf.balanced_mean_field(JAB, [2.0, 1.0], k=k, sizes=[0.8 * n, 0.2 * n], gain=1.0, m0=1.0, thresh=1.0)
    assert round(float(state.rates[0]), digits) == expected
    assert state.residual < 1e-9


def _quadrature_moments(mu, sigma):
    """E[relu(μ + σz)] and E[relu(μ + σz)²] by Simpson's rule over z above the kink z0 = −μ/σ."""
    z0 = np.clip(-mu / np.maximum(sigma, 1e-300), -14.0, 14.0)
    z = z0[:, None] + np.linspace(0.0, 16.0, 2001)[None, :]
    x = mu[:, None] + sigma[:, None] * z
    density = np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi)
    return integrate.simpson(x * density, x=z, axis=1), integrate.simpson(x ** 2 * density, x=z, axis=1)


def _mean_field_update(m, q, n, k):
    """The spec's μ_A, σ_A and the Gaussian moments by quadrature (no closed form)."""
    sizes = np.array([0.8 * n, 0.2 * n])
    mu = np.sqrt(k) * (np.array([2.0, 1.0]) + JAB_MATRIX @ m) - 1.0
    sigma = np.sqrt((JAB_MATRIX ** 2 * (1 - k / sizes)) @ q)
    return _quadrature_moments(mu, sigma)


@pytest.mark.parametrize("n,k", [(2500, 100), (10000, 1000)])
def test_mean_field_solution_is_self_consistent_and_where_its_dynamics_settle(n, k):
    state = mf.balanced_mean_field(JAB, [2.0, 1.0], k=k, sizes=[0.8 * n, 0.2 * n])
    m, q = _mean_field_update(state.rates, state.second_moments, n, k)
    np.testing.assert_allclose(m, state.rates, rtol=1e-8)
    np.testing.assert_allclose(q, state.second_moments, rtol=1e-8)
    # τ_A dm_A/dt = −m_A + E[relu], τ_A dq_A/dt = −q_A + E[relu²] (τ = 40/20 ms) from silence, 2 s
    tau = np.array([0.04, 0.02, 0.04, 0.02])

    def rhs(t, y):
        mm, qq = _mean_field_update(y[:2], np.maximum(y[2:], 0.0), n, k)
        return (np.concatenate([mm, qq]) - y) / tau

    run = integrate.solve_ivp(rhs, (0.0, 2.0), np.zeros(4), method="LSODA", rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run.y[:2, -1], state.rates, rtol=1e-6)


def test_mean_field_tends_to_the_balanced_rates_as_one_over_sqrt_k():
    # in an infinite network m = (1, 2) + c/√K + O(1/K): 100 times more inputs, 10 times closer
    dev_6, dev_8 = (mf.balanced_mean_field(JAB, [2.0, 1.0], k=k).rates - [1.0, 2.0] for k in (1e6, 1e8))
    np.testing.assert_allclose(dev_6 / dev_8, 10.0, rtol=1e-2)


def test_relu_gaussian_moments_match_quadrature():
    mu, sigma = np.array([-2.0, -0.3, 0.0, 0.7, 3.0]), np.array([0.5, 1.0, 2.0, 0.1, 1.5])
    m, q = mf.relu_gaussian_moments(mu, sigma)
    qm, qq = _quadrature_moments(mu, sigma)
    np.testing.assert_allclose(m, qm, rtol=1e-7)   # Simpson with step 8e-3: relative error ~1e-8
    np.testing.assert_allclose(q, qq, rtol=1e-7)
    np.testing.assert_allclose(mf.relu_gaussian_moments([-1.0, 2.0], 0.0), [[0.0, 2.0], [0.0, 4.0]])


# ---- §10.3 item 4: STP-induced multistability ----------------------------------------------------------------
def _stp_network(k=400.0):
    return mf.stp_fixed_points(JAB, [2.0, 1.0], k=k, j_stp=10.0, use=0.03, tau_fac=1.0, tau_rec=0.2, gain=1.0,
                               m0=1.0, thresh=1.0, tau=None if np.isinf(k) else [0.04, 0.02])


def test_stp_network_has_the_spec_three_states_at_k_400():
    states = _stp_network()
    assert [tuple(np.round(s.rates, 3)) for s in states] == [(0.585, 1.462), (5.064, 5.728), (22.569, 22.399)]
    assert [s.stable for s in states] == [True, False, True]


def test_stp_network_states_in_the_large_k_limit():
    states = _stp_network(np.inf)
    assert [round(float(s.rates[0]), 3) for s in states] == [0.468, 5.454, 21.744]
    assert all(s.stable is None for s in states)


def _stp_rhs(r_e, r_i, u, x, k=400.0):
    """Rate + STP dynamics of §10.3 item 4 (τ = 40/20 ms) in NumPy: d/dt of (r_E, r_I, u, x)."""
    sk = np.sqrt(k)
    mu_e = sk * (2.0 + 10.0 * u * x * r_e - 1.5 * r_i) - 1.0
    mu_i = sk * (1.0 + r_e - r_i) - 1.0
    return ((-r_e + np.maximum(mu_e, 0)) / 0.04, (-r_i + np.maximum(mu_i, 0)) / 0.02,
            (0.03 - u) / 1.0 + 0.03 * (1 - u) * r_e, (1 - x) / 0.2 - u * x * r_e)


def _integrate_stp(r_e, r_i, u, x, duration=40.0):
    """Each start integrated alone by scipy's LSODA to `duration` s; final (r_E, r_I)."""
    ends = []
    for start in zip(r_e, r_i, u, x):
        run = integrate.solve_ivp(lambda t, y: _stp_rhs(*y), (0.0, duration), start, method="LSODA",
                                  rtol=1e-10, atol=1e-12)
        ends.append(run.y[:2, -1])
    return np.array(ends).T


def test_stp_states_are_self_consistent_and_the_dynamics_go_where_the_stability_says():
    low, middle, high = _stp_network()
    for s in (low, middle, high):
        rates = np.array([s.rates[0], s.rates[1], s.u, s.x])
        np.testing.assert_allclose(_stp_rhs(*rates)[:2], 0.0, atol=1e-8)
    u_high, x_high = mf.stp_steady_state(22.0)
    u_mid, x_mid = middle.u, middle.x
    r_e, _ = _integrate_stp(
        r_e=[0.0, 22.0, 22.0, middle.rates[0] * 1.01, middle.rates[0] * 0.99],
        r_i=[0.0, 22.0, 22.0, middle.rates[1], middle.rates[1]],
        u=[0.03, u_high, 0.03, u_mid, u_mid], x=[1.0, x_high, 1.0, x_mid, x_mid])
    # from 0 → the low state; from 22 Hz with u, x at steady state → the high state; with u = U it
    # falls back (facilitation needs τ_f to build up); the middle state is a saddle
    np.testing.assert_allclose(r_e, [low.rates[0], high.rates[0], low.rates[0], high.rates[0], low.rates[0]],
                               rtol=1e-3)
    assert round(float(r_e[0]), 2) == 0.58 and round(float(r_e[1]), 2) == 22.57


# ---- bad input -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,match", [
    (lambda: mf.stp_steady_state(-1.0), "rate must be finite and >= 0"),
    (lambda: mf.stp_efficacy(1.0, use=1.5), "use .U. must be in"),
    (lambda: mf.linear_fixed_point([1, 2, 3], [1, 1]), "flat list of n² entries"),
    (lambda: mf.linear_fixed_point(JAB, [1, 1, 1]), "ja0 must be a scalar or one value per population"),
    (lambda: mf.balanced_rates(JAB, [-2.0, 1.0]), "needs every rate > 0"),
    (lambda: mf.balanced_mean_field(JAB, [2.0, 1.0], k=100, sizes=[80, 20]), "must not exceed"),
    (lambda: mf.stp_fixed_points(JAB, [2.0, 1.0], 400, 10.0, stp_blocks=[(0, 0), (1, 1)]), "same presynaptic"),
    (lambda: mf.linear_rate_dynamics(np.eye(2), tau=[0.04, -1.0], tau_syn=0.004), "tau must be > 0"),
    (lambda: mf.ring_mode_matrix(JAB, RING_KAPPA, mode=-1), "mode must be an int"),
])
def test_bad_input_is_one_clear_value_error(call, match):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=match):
            call()
