"""Analytic oracles of excitatory/inhibitory rate networks: steady states, fixed points, linear modes.

NumPy/SciPy computations (the STP steady state is `ndnx.cells.stp.steady_state`, of the rule the
cell integrates). Populations are indexed A (postsynaptic) and B (presynaptic), E first; couplings
`jab` are a (n, n) post×pre matrix or its flat row-major list ([EE, EI, IE, II] for two
populations), as NeuroFlame's `Jab`. Rates are in Hz, times in seconds. Every oracle is that of the
spec specs/ei_networks_neuroflame.md (§3.2, §10.3) for a threshold-linear transfer Φ(h) = max(h − θ, 0):

- STP steady state (§3.2): u* = U(1 + τ_f r)/(1 + U τ_f r), x* = 1/(1 + u* τ_r r), efficacy A = u* x*
  (`stp_steady_state`, `stp_efficacy`, `stp_efficacy_peak`).
- All-to-all linear fixed point (§10.3 item 1): r* = (I − G·J̃)⁻¹(M0·Ja0 − θ), J̃ = Jab with the E
  columns × (1 + R_NMDA) (`nmda_couplings`, `linear_fixed_point`).
- Sparse balanced state (§10.3 item 2): large-K limit r = −(G·J)⁻¹·M0·Ja0 (`balanced_rates`) and the
  finite-K Gaussian mean-field (`balanced_mean_field`, `relu_gaussian_moments`).
- STP-induced multistability of the homogeneous network (§10.3 item 4): every self-consistent state and
  its stability (`stp_fixed_points`).
- Linear regime of the cosine ring (§10.3 item 5): the Fourier-mode coupling M_k = G·[J̃_AB·κ_AB/2]
  (k = 1) and the linearised (r, s, n) dynamics with its slowest time constant
  (`ring_mode_matrix`, `linear_rate_dynamics`).
"""

import dataclasses
import itertools
import warnings

import numpy as np
from scipy import optimize, special

from ndnx.cells import stp as stp_rules

__all__ = ["stp_steady_state", "stp_efficacy", "stp_efficacy_peak", "nmda_couplings", "linear_fixed_point",
           "LinearFixedPoint", "balanced_rates", "relu_gaussian_moments", "balanced_mean_field", "MeanFieldState",
           "stp_fixed_points", "StpFixedPoint", "ring_mode_matrix", "linear_rate_dynamics", "LinearDynamics"]


# ---- argument checks --------------------------------------------------------------------------------
def _couplings(name, jab, n=None):
    """`jab` as a float (n, n) post×pre matrix (a flat row-major list of n² entries is reshaped)."""
    jab = np.asarray(jab, dtype=float)
    if jab.ndim == 1:
        side = int(round(np.sqrt(jab.size)))
        if side * side != jab.size:
            raise ValueError(f"{name}: jab must be an (n, n) matrix or a flat list of n² entries, got {jab.size} entries")
        jab = jab.reshape(side, side)
    if jab.ndim != 2 or jab.shape[0] != jab.shape[1]:
        raise ValueError(f"{name}: jab must be a square (post, pre) matrix, got shape {jab.shape}")
    if n is not None and jab.shape[0] != n:
        raise ValueError(f"{name}: jab must be ({n}, {n}), got {jab.shape}")
    if not np.all(np.isfinite(jab)):
        raise ValueError(f"{name}: jab must be finite, got {jab.tolist()}")
    return jab


def _per_population(name, arg, value, n, positive=False, allow_inf=False):
    """A scalar or one value per population, as a float array of length n."""
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        array = np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError(f"{name}: {arg} must be a scalar or one value per population ({n}), got shape {array.shape}")
    if np.any(np.isnan(array)) or (not allow_inf and not np.all(np.isfinite(array))):
        raise ValueError(f"{name}: {arg} must be finite, got {array.tolist()}")
    if positive and np.any(array <= 0):
        raise ValueError(f"{name}: {arg} must be > 0, got {array.tolist()}")
    return array


def _excitatory(name, n_excitatory, n):
    if isinstance(n_excitatory, bool) or not isinstance(n_excitatory, (int, np.integer)) or not 0 <= n_excitatory <= n:
        raise ValueError(f"{name}: n_excitatory must be an int in [0, {n}] (the first populations are E), "
                         f"got {n_excitatory!r}")
    return int(n_excitatory)


def _stp_parameters(name, use, tau_fac, tau_rec):
    use, tau_fac, tau_rec = float(use), float(tau_fac), float(tau_rec)
    if not 0.0 < use <= 1.0:
        raise ValueError(f"{name}: use (U) must be in (0, 1], got {use}")
    if not (np.isfinite(tau_fac) and tau_fac >= 0.0):
        raise ValueError(f"{name}: tau_fac must be finite and >= 0 (s), got {tau_fac}")
    if not (np.isfinite(tau_rec) and tau_rec > 0.0):
        raise ValueError(f"{name}: tau_rec must be finite and > 0 (s), got {tau_rec}")
    return use, tau_fac, tau_rec


# ---- short-term plasticity (§3.2) ---------------------------------------------------------------------
def stp_steady_state(rate, use=0.03, tau_fac=1.0, tau_rec=0.2):
    """Steady state (u*, x*) of the Markram/Tsodyks synapse driven at a constant rate (spec §3.2).

    The presynaptic dynamics du/dt = (U − u)/τ_f + U(1 − u)·r and dx/dt = (1 − x)/τ_r − u·x·r (also
    the fixed point of NeuroFlame's Euler 'markram' update, at any DT) have the steady state

        u* = U(1 + τ_f r)/(1 + U τ_f r),    x* = 1/(1 + u* τ_r r).

    τ_f = 0 freezes u at U. Vectorised over `rate` (Hz, ≥ 0).

    Example:
        >>> from ndnx.analysis.mean_field import stp_steady_state
        >>> u, x = stp_steady_state([1.0, 5.0], use=0.03, tau_fac=1.0, tau_rec=0.2)
        >>> [round(float(v), 5) for v in u], [round(float(v), 5) for v in x]
        ([0.05825, 0.15652], [0.98848, 0.86466])
    """
    use, tau_fac, tau_rec = _stp_parameters("stp_steady_state", use, tau_fac, tau_rec)
    rate = np.asarray(rate, dtype=float)
    if np.any(~np.isfinite(rate)) or np.any(rate < 0):
        raise ValueError(f"stp_steady_state: rate must be finite and >= 0 (Hz), got {rate.tolist()}")
    return stp_rules.steady_state(rate, use, tau_fac, tau_rec, rule="markram")


def stp_efficacy(rate, use=0.03, tau_fac=1.0, tau_rec=0.2):
    """Steady-state efficacy A(r) = u*·x* (spec §3.2); A(r)·r saturates at 1/τ_r as r → ∞.

    Example:
        >>> from ndnx.analysis.mean_field import stp_efficacy
        >>> [round(float(a), 5) for a in stp_efficacy([10.0, 20.0, 40.0])]
        [0.16837, 0.15291, 0.10216]
    """
    u, x = stp_steady_state(rate, use, tau_fac, tau_rec)
    return u * x


def stp_efficacy_peak(use=0.03, tau_fac=1.0, tau_rec=0.2):
    """(r_peak, A_peak): the rate (Hz) at which the steady-state efficacy u*x* is largest, and its value.

    A(r) = u*(r)/(1 + u*(r) τ_r r) rises with facilitation and falls with depression; its single
    maximum is found by a bounded scalar search over 0 ≤ r ≤ 10⁴ Hz (r = 0 when A only falls).
    Spec §3.2: 0.1699 near 11.7 Hz for U = 0.03, τ_f = 1 s, τ_r = 0.2 s.

    Example:
        >>> from ndnx.analysis.mean_field import stp_efficacy_peak
        >>> r, a = stp_efficacy_peak(0.03, 1.0, 0.2)
        >>> round(r, 1), round(a, 4)
        (11.7, 0.1699)
    """
    use, tau_fac, tau_rec = _stp_parameters("stp_efficacy_peak", use, tau_fac, tau_rec)
    # On a log-rate axis the maximum is well bracketed; A is unimodal in r.
    grid = np.concatenate([[0.0], np.geomspace(1e-3, 1e4, 701)])
    values = stp_efficacy(grid, use, tau_fac, tau_rec)
    best = int(np.argmax(values))
    if best == 0:
        return 0.0, float(values[0])
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    found = optimize.minimize_scalar(lambda r: -stp_efficacy(r, use, tau_fac, tau_rec), bounds=(lo, hi),
                                     method="bounded", options={"xatol": 1e-10})
    return float(found.x), float(-found.fun)


# ---- the all-to-all linear fixed point (§10.3 item 1) ----------------------------------------------------
def nmda_couplings(jab, r_nmda=0.0, n_excitatory=1):
    """J̃: `jab` with its excitatory columns × (1 + R_NMDA).

    NeuroFlame's NMDA current n ← n·e + R_NMDA(1 − e)·Σ_{j∈E} W_ij r_j reaches R_NMDA times the fast E
    drive at steady state, on every postsynaptic population (spec §1.2 item 3).

    Example:
        >>> from ndnx.analysis.mean_field import nmda_couplings
        >>> nmda_couplings([1, -1.5, 1, -1], r_nmda=1.0).tolist()
        [[2.0, -1.5], [2.0, -1.0]]
    """
    jab = _couplings("nmda_couplings", jab)
    n_excitatory = _excitatory("nmda_couplings", n_excitatory, jab.shape[0])
    r_nmda = float(r_nmda)
    if not np.isfinite(r_nmda):
        raise ValueError(f"nmda_couplings: r_nmda must be finite, got {r_nmda}")
    out = jab.copy()
    out[:, :n_excitatory] *= 1.0 + r_nmda
    return out


@dataclasses.dataclass(frozen=True)
class LinearFixedPoint:
    """`rates` (Hz, one per population) of the linear solution; `valid` is False when a rate is ≤ 0,
    i.e. the threshold-linear network is not in the regime where every population is above threshold."""

    rates: np.ndarray
    valid: bool


def linear_fixed_point(jab, ja0, gain=1.0, m0=1.0, thresh=1.0, r_nmda=0.0, n_excitatory=1):
    """Population rates of an all-to-all threshold-linear network at its fixed point (spec §10.3 item 1).

    With all-to-all blocks C_ij = P_ij/N_B (K forced to 1, so J_AB = G·Jab_AB and the drive is
    M0·Ja0_A), a homogeneous state r_B gives neuron i the recurrent input G·Σ_B J̃_AB·⟨P⟩·r_B. The
    cosine profile P = 1 + κ cos(θ_i − φ_j) averages to exactly 1 over the N_B evenly spaced angles,
    and N_B (hence the fractions) cancels against 1/N_B, so neither κ nor the population sizes enter:

        r* = (I − G·J̃)⁻¹ (M0·Ja0 − θ),   J̃ = `nmda_couplings(jab, r_nmda)`.

    It is the fixed point of Φ = relu only if every r* > 0; otherwise `valid` is False and a
    RuntimeWarning says so (the true state then has silent populations).

    Example (config_ringEI: GAIN 1, M0 2, Ja0 [1.58, 1], NMDA on):
        >>> from ndnx.analysis.mean_field import linear_fixed_point
        >>> fp = linear_fixed_point([1, -1.5, 1, -1], [1.58, 1.0], gain=1.0, m0=2.0, r_nmda=1.0)
        >>> [round(float(r), 2) for r in fp.rates], fp.valid
        ([2.82, 3.32], True)
    """
    jt = nmda_couplings(jab, r_nmda, n_excitatory)
    n = jt.shape[0]
    ja0 = _per_population("linear_fixed_point", "ja0", ja0, n)
    thresh = _per_population("linear_fixed_point", "thresh", thresh, n)
    system = np.eye(n) - float(gain) * jt
    if abs(np.linalg.det(system)) < 1e-12:
        raise ValueError("linear_fixed_point: I − gain·J̃ is singular, the linear network has no unique fixed point")
    rates = np.linalg.solve(system, float(m0) * ja0 - thresh)
    valid = bool(np.all(rates > 0))
    if not valid:
        warnings.warn(f"linear_fixed_point: the linear solution {np.round(rates, 4).tolist()} has rates <= 0; "
                      "it is not a fixed point of the threshold-linear network", RuntimeWarning, stacklevel=2)
    return LinearFixedPoint(rates=rates, valid=valid)


# ---- the sparse balanced state (§10.3 item 2) -------------------------------------------------------------
def balanced_rates(jab, ja0, gain=1.0, m0=1.0):
    """Large-K balanced rates r = −(G·J)⁻¹·M0·Ja0 (spec §10.3 item 2).

    With weights G·J_AB/√K and drive √K·M0·Ja0_A, the O(√K) input cancels as K → ∞ only if
    M0·Ja0 + G·J·r = 0. Balance needs every rate > 0 (checked: ValueError otherwise).

    Example:
        >>> from ndnx.analysis.mean_field import balanced_rates
        >>> balanced_rates([1, -1.5, 1, -1], [2.0, 1.0]).tolist()
        [1.0, 2.0]
    """
    jab = _couplings("balanced_rates", jab)
    n = jab.shape[0]
    ja0 = _per_population("balanced_rates", "ja0", ja0, n)
    if abs(np.linalg.det(jab)) < 1e-12:
        raise ValueError("balanced_rates: jab is singular, the balance condition has no unique solution")
    rates = -np.linalg.solve(float(gain) * jab, float(m0) * ja0)
    if not np.all(rates > 0):
        raise ValueError(f"balanced_rates: the balance condition gives rates {rates.tolist()}; "
                         "a balanced state needs every rate > 0")
    return rates


def relu_gaussian_moments(mu, sigma):
    """(E[relu(μ + σz)], E[relu(μ + σz)²]) for z ~ N(0, 1), in closed form; σ = 0 gives (relu μ, relu μ²).

    With d = μ/σ: m = μΦ(d) + σφ(d) and q = (μ² + σ²)Φ(d) + μσφ(d) (Φ, φ: standard normal cdf, pdf).

    Example:
        >>> from ndnx.analysis.mean_field import relu_gaussian_moments
        >>> m, q = relu_gaussian_moments(0.0, 1.0)
        >>> round(float(m), 6), round(float(q), 6)   # 1/√(2π), 1/2
        (0.398942, 0.5)
    """
    mu, sigma = np.broadcast_arrays(np.asarray(mu, dtype=float), np.asarray(sigma, dtype=float))
    if np.any(sigma < 0):
        raise ValueError(f"relu_gaussian_moments: sigma must be >= 0, got {sigma.tolist()}")
    safe = np.where(sigma > 0, sigma, 1.0)
    d = mu / safe
    cdf, pdf = special.ndtr(d), np.exp(-0.5 * d * d) / np.sqrt(2.0 * np.pi)
    m = np.where(sigma > 0, mu * cdf + sigma * pdf, np.maximum(mu, 0.0))
    q = np.where(sigma > 0, (mu * mu + sigma * sigma) * cdf + mu * sigma * pdf, np.maximum(mu, 0.0) ** 2)
    return m, q


@dataclasses.dataclass(frozen=True)
class MeanFieldState:
    """A solution of the finite-K Gaussian mean-field: population `rates` m_A (Hz), second moments q_A,
    input means `mu` and standard deviations `sigma`, and the largest absolute `residual` of the
    self-consistency equations."""

    rates: np.ndarray
    second_moments: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    residual: float


def _mean_field_inputs(jab, ja0, k, sizes, gain, m0, thresh, m, q):
    """μ_A and σ_A of the finite-K mean-field for rates m and second moments q."""
    sqrt_k = np.sqrt(k)
    mu = sqrt_k[0] * m0 * ja0 + gain * (jab * sqrt_k[None, :]) @ m - thresh
    dilution = 1.0 - k / sizes
    var = (gain ** 2) * (jab ** 2 * dilution[None, :]) @ q
    return mu, np.sqrt(np.maximum(var, 0.0))


def balanced_mean_field(jab, ja0, k, sizes=None, gain=1.0, m0=1.0, thresh=1.0, initial_rates=None, tol=1e-12):
    """The finite-K Gaussian mean-field of a sparse threshold-linear E/I network (spec §10.3 item 2).

    Neuron i of population A receives K_B random inputs of weight G·J_AB/√K_B from population B
    (Bernoulli(K_B/N_B) connectivity) and the drive √K_E·M0·Ja0_A. Over neurons its input is Gaussian
    with mean μ_A and, the connectivity being quenched, variance σ_A²:

        μ_A = √K_E·M0·Ja0_A + G·Σ_B √K_B·J_AB·m_B − θ_A,    σ_A² = Σ_B G²·J_AB²·(1 − K_B/N_B)·q_B,
        m_A = E[relu(μ_A + σ_A z)],    q_A = E[relu(μ_A + σ_A z)²]     (closed form, `relu_gaussian_moments`).

    With one K this is the spec's μ_A = √K(M0·Ja0_A + G·Σ_B J_AB m_B) − θ. The 2n equations are solved
    for (m, q) by `scipy.optimize.root` (Powell hybrid) from the large-K balanced rates, whose √K
    gain makes plain fixed-point iteration unstable. Raises ValueError when the solver fails.

    Args:
        jab: (n, n) post×pre couplings (or flat row-major); ja0: drive per population.
        k: in-degree K_B per presynaptic population (scalar or per population); K_E = k[0].
        sizes: population sizes N_B (None: infinite, 1 − K/N = 1).
        gain, m0, thresh: G, M0, θ (scalar or per population).
        initial_rates: start of the solver (default: `balanced_rates`).

    Example (N = 5000, K = 400, frac 0.8/0.2 — spec: r_E = 1.370 Hz):
        >>> from ndnx.analysis.mean_field import balanced_mean_field
        >>> state = balanced_mean_field([1, -1.5, 1, -1], [2.0, 1.0], k=400, sizes=[4000, 1000])
        >>> round(float(state.rates[0]), 3), state.residual < 1e-9
        (1.37, True)
    """
    name = "balanced_mean_field"
    jab = _couplings(name, jab)
    n = jab.shape[0]
    ja0 = _per_population(name, "ja0", ja0, n)
    k = _per_population(name, "k", k, n, positive=True)
    sizes = np.full(n, np.inf) if sizes is None else _per_population(name, "sizes", sizes, n, positive=True,
                                                                    allow_inf=True)
    if np.any(k > sizes):
        raise ValueError(f"{name}: the in-degree k must not exceed the population sizes, got k={k.tolist()}, "
                         f"sizes={sizes.tolist()}")
    thresh = _per_population(name, "thresh", thresh, n)
    gain, m0 = float(gain), float(m0)
    start = balanced_rates(jab, ja0, gain, m0) if initial_rates is None else \
        _per_population(name, "initial_rates", initial_rates, n)

    def residual(z):
        m, q = z[:n], z[n:]
        mu, sigma = _mean_field_inputs(jab, ja0, k, sizes, gain, m0, thresh, m, np.maximum(q, 0.0))
        mm, qq = relu_gaussian_moments(mu, sigma)
        return np.concatenate([mm - m, qq - q])

    mu, sigma = _mean_field_inputs(jab, ja0, k, sizes, gain, m0, thresh, start, start ** 2)
    z0 = np.concatenate([start, start ** 2 + sigma ** 2])
    found = optimize.root(residual, z0, method="hybr", tol=tol)
    worst = float(np.max(np.abs(residual(found.x))))
    if not found.success or worst > 1e-8:
        raise ValueError(f"{name}: the mean-field equations did not converge from {start.tolist()} "
                         f"(residual {worst:.3g}: {found.message})")
    m, q = found.x[:n], found.x[n:]
    mu, sigma = _mean_field_inputs(jab, ja0, k, sizes, gain, m0, thresh, m, q)
    return MeanFieldState(rates=m, second_moments=q, mu=mu, sigma=sigma, residual=worst)


# ---- STP-induced multistability (§10.3 item 4) -------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class StpFixedPoint:
    """A self-consistent state: population `rates` (Hz), the STP variables `u`, `x` of the plastic
    presynaptic population, `stable` (None without time constants or for K = ∞) and the
    `eigenvalues` (1/s) of the linearised rate + STP dynamics."""

    rates: np.ndarray
    u: float
    x: float
    stable: object
    eigenvalues: object


def stp_fixed_points(jab, ja0, k, j_stp, stp_blocks=((0, 0),), use=0.03, tau_fac=1.0, tau_rec=0.2, gain=1.0,
                     m0=1.0, thresh=1.0, tau=None, r_max=200.0, grid=20001):
    """Every self-consistent state of a homogeneous threshold-linear network with STP blocks (§10.3 item 4).

    Blocks are all-to-all with C = K/N (no quenched variance), weights G·J_AB/√K_B, drive √K_E·M0·Ja0_A;
    the plastic blocks (A ← p), all from one presynaptic population p, carry J_STP·u·x in place of Jab_AB
    (mid-2024 semantics). With s = √K_E and c_B = √(K_B/K_E), the states solve

        r_A = relu(μ_A),   μ_A = s·(M0·Ja0_A + G·Σ_B c_B·J_AB^eff·r_B) − θ_A,   J_Ap^eff = J_STP·A(r_p),

    with A the STP steady-state efficacy (`stp_efficacy`); k = ∞ gives the balance limit
    M0·Ja0_A + G·Σ_B J_AB^eff·r_B = 0 for the active populations. Every active set is tried: for each
    r_p on a grid over (0, r_max] the other active rates follow from a linear solve, sign changes of
    p's residual are refined by `scipy.optimize.brentq`, and silent populations must have μ ≤ 0 — so
    every state is found, except pairs closer than the grid step r_max/(grid − 1).

    Stability (when `tau` is given and K is finite) is that of the rate dynamics τ_A dr_A/dt = −r_A +
    relu(μ_A) with u, x following du/dt = (U − u)/τ_f + U(1 − u)r_p, dx/dt = (1 − x)/τ_r − u·x·r_p: all
    eigenvalues of the Jacobian in the left half-plane.

    Returns:
        A list of `StpFixedPoint`, by increasing r_p.

    Example (spec: (0.585, 1.462) stable, (5.064, 5.728) unstable, (22.569, 22.399) stable at K = 400):
        >>> from ndnx.analysis.mean_field import stp_fixed_points
        >>> states = stp_fixed_points([1, -1.5, 1, -1], [2.0, 1.0], k=400, j_stp=10.0, tau=[0.04, 0.02])
        >>> [(round(float(s.rates[0]), 3), round(float(s.rates[1]), 3), s.stable) for s in states]
        [(0.585, 1.462, True), (5.064, 5.728, False), (22.569, 22.399, True)]
    """
    name = "stp_fixed_points"
    jab = _couplings(name, jab)
    n = jab.shape[0]
    ja0 = _per_population(name, "ja0", ja0, n)
    thresh = _per_population(name, "thresh", thresh, n)
    k = _per_population(name, "k", k, n, positive=True, allow_inf=True)
    infinite = bool(np.all(np.isinf(k)))
    if np.any(np.isinf(k)) and not infinite:
        raise ValueError(f"{name}: k must be finite for every population or infinite for all, got {k.tolist()}")
    use, tau_fac, tau_rec = _stp_parameters(name, use, tau_fac, tau_rec)
    blocks = [tuple(int(i) for i in b) for b in stp_blocks]
    if not blocks or any(len(b) != 2 or not (0 <= b[0] < n and 0 <= b[1] < n) for b in blocks):
        raise ValueError(f"{name}: stp_blocks must be a non-empty list of (post, pre) population pairs in "
                         f"[0, {n}), got {list(stp_blocks)!r}")
    pre = {b[1] for b in blocks}
    if len(pre) != 1:
        raise ValueError(f"{name}: every STP block must have the same presynaptic population, got {sorted(pre)}")
    p = pre.pop()
    j_stp = np.asarray(j_stp, dtype=float)
    if j_stp.shape not in ((), (len(blocks),)) or not np.all(np.isfinite(j_stp)):
        raise ValueError(f"{name}: j_stp must be a finite scalar or one value per STP block ({len(blocks)}), "
                         f"got {j_stp.tolist()}")
    j_stp = np.broadcast_to(j_stp, (len(blocks),))
    if tau is not None:
        tau = _per_population(name, "tau", tau, n, positive=True)
        if tau_fac == 0.0:
            raise ValueError(f"{name}: stability needs tau_fac > 0 (u is frozen at U for tau_fac = 0); "
                             "pass tau=None for the states alone")
    r_max, grid = float(r_max), int(grid)
    if not (r_max > 0 and grid >= 3):
        raise ValueError(f"{name}: r_max must be > 0 and grid >= 3, got r_max={r_max}, grid={grid}")
    gain, m0 = float(gain), float(m0)

    c = np.ones(n) if infinite else np.sqrt(k / k[0])
    inv_s = 0.0 if infinite else 1.0 / np.sqrt(k[0])
    static = jab.copy()
    stp_column = np.zeros(n)  # J_STP of the plastic block into each postsynaptic population
    for (a, _), j in zip(blocks, j_stp):
        static[a, p] = 0.0
        stp_column[a] = j
    drive = m0 * ja0
    coupling = gain * static * c[None, :]          # μ_A/s = drive_A + coupling·r + G c_p J_STP A(r_p) r_p
    stp_gain = gain * c[p] * stp_column

    def reduced_input(r, rp):
        return drive + coupling @ r + stp_gain * stp_efficacy(rp, use, tau_fac, tau_rec) * rp

    states = []
    for active in itertools.product([False, True], repeat=n):
        active = np.array(active)
        others = np.flatnonzero(active & (np.arange(n) != p))
        # the active equations divided by s: (I/s − coupling_oo) r_o = drive_o + coupling_op r_p + STP − θ_o/s
        system = inv_s * np.eye(others.size) - coupling[np.ix_(others, others)]
        if others.size and abs(np.linalg.det(system)) < 1e-12:
            continue

        def solve_others(rp):
            rp = np.atleast_1d(np.asarray(rp, dtype=float))
            rhs = (drive[others, None] + coupling[others, p][:, None] * rp[None, :]
                   + stp_gain[others, None] * stp_efficacy(rp, use, tau_fac, tau_rec)[None, :] * rp[None, :]
                   - inv_s * thresh[others, None])
            rates = np.zeros((n, rp.size))
            rates[p] = rp
            if others.size:
                rates[others] = np.linalg.solve(system, rhs)
            return rates

        if not active[p]:
            candidates = [0.0]
        else:
            def residual(rp):
                rates = solve_others(rp)
                inputs = drive[p] + coupling[p] @ rates + stp_gain[p] * stp_efficacy(rates[p], use, tau_fac,
                                                                                      tau_rec) * rates[p]
                return inputs - inv_s * (thresh[p] + rates[p])

            rp_grid = np.linspace(0.0, r_max, grid)[1:]
            values = residual(rp_grid)
            change = np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0)
            candidates = [optimize.brentq(lambda r: float(residual(r)[0]), rp_grid[i], rp_grid[i + 1],
                                          xtol=1e-13, rtol=1e-14) for i in change]
            candidates += [float(rp_grid[i]) for i in np.flatnonzero(values == 0)]
        for rp in candidates:
            rates = solve_others(rp)[:, 0]
            if np.any(rates[active] <= 0):
                continue
            silent_input = reduced_input(rates, rates[p])[~active] - inv_s * thresh[~active]
            if np.any(silent_input > 0):
                continue
            u, x = (float(v) for v in stp_steady_state(rates[p], use, tau_fac, tau_rec))
            stable, eigenvalues = None, None
            if tau is not None and not infinite:
                jacobian = _stp_jacobian(coupling, stp_gain, p, np.sqrt(k[0]), active, rates[p], u, x, tau,
                                         use, tau_fac, tau_rec)
                eigenvalues = np.linalg.eigvals(jacobian)
                stable = bool(np.all(eigenvalues.real < 0))
            states.append(StpFixedPoint(rates=rates, u=u, x=x, stable=stable, eigenvalues=eigenvalues))
    return sorted(states, key=lambda state: state.rates[p])


def _stp_jacobian(coupling, stp_gain, p, s, active, rp, u, x, tau, use, tau_fac, tau_rec):
    """Jacobian of (r_1..r_n, u, x) for τ_A dr_A/dt = −r_A + relu(μ_A), μ_A = s(… + stp_gain_A·u·x·r_p) − θ_A."""
    n = coupling.shape[0]
    dmu = np.zeros((n, n + 2))
    dmu[:, :n] = s * coupling
    dmu[:, p] += s * stp_gain * u * x
    dmu[:, n] = s * stp_gain * x * rp
    dmu[:, n + 1] = s * stp_gain * u * rp
    jac = np.zeros((n + 2, n + 2))
    jac[:n] = (active.astype(float)[:, None] * dmu) / tau[:, None]  # relu' = 1 above threshold, 0 below
    jac[np.arange(n), np.arange(n)] -= 1.0 / tau
    jac[n, p] = use * (1.0 - u)                      # du/dt = (U − u)/τ_f + U(1 − u) r_p
    jac[n, n] = -1.0 / tau_fac - use * rp
    jac[n + 1, p] = -u * x                           # dx/dt = (1 − x)/τ_r − u x r_p
    jac[n + 1, n] = -x * rp
    jac[n + 1, n + 1] = -1.0 / tau_rec - u * rp
    return jac


# ---- the linear regime of the cosine ring (§10.3 item 5) ---------------------------------------------------
def ring_mode_matrix(jab, kappa=None, gain=1.0, r_nmda=0.0, n_excitatory=1, mode=1):
    """The coupling of Fourier mode `mode` of an all-to-all cosine ring: M_k = G·[J̃_AB·c_k(κ_AB)].

    With blocks C_ij = (1 + κ_AB cos(θ_i − φ_j))/N_B, a rate profile r_B(φ) = m0_B + m1_B cos(φ − ψ)
    gives the input G·Σ_B J̃_AB(m0_B + (κ_AB/2)·m1_B cos(θ − ψ)): mode 0 couples through c_0 = 1, mode 1
    through c_1 = κ/2, higher modes not at all (c_k = 0). J̃ = `nmda_couplings(jab, r_nmda)`. In the
    linear regime mode k is stable (with instantaneous synapses) when every eigenvalue of M_k has real
    part < 1; spec §10.3 item 5: eigenvalues 0.797 and 0.078 for config_ringEI with NMDA.

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.mean_field import ring_mode_matrix
        >>> m1 = ring_mode_matrix([1, -1.5, 1, -1], kappa=[1, 0.25, 1, 0.25], r_nmda=1.0)
        >>> np.round(np.sort(np.linalg.eigvals(m1).real)[::-1], 3).tolist()
        [0.797, 0.078]
    """
    jt = nmda_couplings(jab, r_nmda, n_excitatory)
    n = jt.shape[0]
    if isinstance(mode, bool) or not isinstance(mode, (int, np.integer)) or mode < 0:
        raise ValueError(f"ring_mode_matrix: mode must be an int >= 0, got {mode!r}")
    if mode == 0:
        factor = np.ones((n, n))
    else:
        factor = np.zeros((n, n)) if kappa is None else _couplings("ring_mode_matrix", kappa, n) / 2.0
        if mode > 1:
            factor = np.zeros((n, n))
    return float(gain) * jt * factor


@dataclasses.dataclass(frozen=True)
class LinearDynamics:
    """The linearised (r, s[, n]) dynamics: the Jacobian `matrix` (1/s; state order r_A, s_A, n_A, each
    population in order), its `eigenvalues` and the slowest decay time −1/max Re λ (s; inf or negative
    when the mode does not decay)."""

    matrix: np.ndarray
    eigenvalues: np.ndarray
    slowest_time_constant: float


def linear_rate_dynamics(coupling, tau, tau_syn, tau_nmda=None, r_nmda=0.0, n_excitatory=1, slopes=1.0):
    """Linearised rate dynamics with fast synapses and NMDA currents (spec §1.2, §10.3 item 5).

    For a perturbation carried by a coupling M (the fast part, without NMDA: G·J_AB·c_k(κ_AB), e.g.
    `ring_mode_matrix(jab, kappa, gain)` without r_nmda) the continuous-time NeuroFlame dynamics
    (RATE_DYN = SYN_DYN = IF_NMDA = 1) are, per population A with transfer slope Φ'_A (1 above threshold
    for relu, 0 below):

        τ_A dr_A/dt = −r_A + Φ'_A·(s_A + n_A),
        τ_syn,A ds_A/dt = −s_A + Σ_B M_AB r_B,
        τ_NMDA,A dn_A/dt = −n_A + R_NMDA·Σ_{B∈E} M_AB r_B,

    (τ_syn and τ_NMDA indexed by the postsynaptic population, as NeuroFlame does). Without `tau_nmda`
    the n variables are left out. Spec: config_ringEI, mode 1, τ = 40/20 ms, τ_syn = 4 ms, τ_NMDA = 0.1 s
    → slowest time constant 0.533 s.

    Example:
        >>> from ndnx.analysis.mean_field import ring_mode_matrix, linear_rate_dynamics
        >>> m1 = ring_mode_matrix([1, -1.5, 1, -1], kappa=[1, 0.25, 1, 0.25])
        >>> dyn = linear_rate_dynamics(m1, tau=[0.04, 0.02], tau_syn=0.004, tau_nmda=0.1, r_nmda=1.0)
        >>> dyn.matrix.shape, round(dyn.slowest_time_constant, 3)
        ((6, 6), 0.533)
    """
    name = "linear_rate_dynamics"
    coupling = _couplings(name, coupling)
    n = coupling.shape[0]
    n_excitatory = _excitatory(name, n_excitatory, n)
    tau = _per_population(name, "tau", tau, n, positive=True)
    tau_syn = _per_population(name, "tau_syn", tau_syn, n, positive=True)
    slopes = _per_population(name, "slopes", slopes, n)
    blocks = 2 if tau_nmda is None else 3
    a = np.zeros((blocks * n, blocks * n))
    r, s = np.arange(n), n + np.arange(n)
    a[r, r] = -1.0 / tau
    a[r, s] = slopes / tau
    a[s, s] = -1.0 / tau_syn
    a[n:2 * n, :n] = coupling / tau_syn[:, None]
    if tau_nmda is not None:
        tau_nmda = _per_population(name, "tau_nmda", tau_nmda, n, positive=True)
        nm = 2 * n + np.arange(n)
        a[r, nm] = slopes / tau
        a[nm, nm] = -1.0 / tau_nmda
        a[2 * n:, :n_excitatory] = float(r_nmda) * coupling[:, :n_excitatory] / tau_nmda[:, None]
    eigenvalues = np.linalg.eigvals(a)
    slowest = float(np.max(eigenvalues.real))
    return LinearDynamics(matrix=a, eigenvalues=eigenvalues,
                          slowest_time_constant=float("inf") if slowest == 0 else -1.0 / slowest)
