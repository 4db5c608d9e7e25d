"""Short-term synaptic plasticity (STP): pure one-step update rules of a presynaptic u/x model.

Each presynaptic neuron j carries a utilisation u_j (release probability, facilitation) and a
fraction x_j of available resources (depression). With rate r_j (Hz) and step DT (s), one step of
rule

- "markram" (NeuroFlame HEAD, the default):
      x ← x + (1 − x)·DT/τ_rec − DT·u·x·r        (x first, with the old u)
      u ← u + (U − u)·DT/τ_fac + DT·U·(1 − u)·r
  and the synapse transmits u·x·r (new u and x);
- "markram_exp": the same with the relaxation toward (U, 1) integrated exactly,
      x ← 1 + (x − 1)·e^{−DT/τ_rec} − DT·u·x·r,   u ← U + (u − U)·e^{−DT/τ_fac} + DT·U·(1 − u)·r;
- "mongillo" (mid-2024 NeuroFlame, Mongillo, Barak & Tsodyks 2008): u relaxes to 0,
      u⁺ = u + U·(1 − u),   x ← x + DT·[(1 − x)/τ_rec − u⁺·x·r],   u ← u + DT·[−u/τ_fac + U·(1 − u)·r],
  and the synapse transmits u⁺·x·r (new u and x). Its steady state u⁺*·x* equals u*·x* of "markram".

τ_fac = 0 switches facilitation off in every rule: u stays at its resting value (U for the
Markram rules, 0 for "mongillo", whose u⁺ is then U). The resting state is u = `resting_u(rule, U)`,
x = 1. Unknown rule names are refused (NeuroFlame silently falls back to "markram").

The steady state at constant rate r (spec ei_networks_neuroflame.md §3.2) is
u* = U(1 + τ_fac·r)/(1 + U·τ_fac·r), x* = 1/(1 + u*·τ_rec·r), efficacy A(r) = u*·x* (peak 0.1699
near 11.7 Hz for U = 0.03, τ_fac = 1 s, τ_rec = 0.2 s); the Euler rules have exactly this fixed
point, "markram_exp" deviates by up to about 0.3 % in x at DT = 1 ms.

Precision: u and x are always integrated in float32. Increments of order DT/τ ≈ 1e-3 fall below
float16 resolution near 1 (fp16 gives u = 0.122 and bf16 u = 0.063 instead of 0.157 at 5 Hz, spec
§0 item 6), so the rate is cast to float32 and the result is float32 under any dtype policy.

Parameters (U, τ_fac, τ_rec) are Python floats or tensors broadcasting against the (batch, n)
state, e.g. (batch, 1) for one value per simulation ("parallel simulations", spec §1.6).

Reference: spec ei_networks_neuroflame.md §3; Markram, Wang & Tsodyks (1998) PNAS 95:5323;
Mongillo, Barak & Tsodyks (2008) Science 319:1543.

Example:
    >>> import numpy as np
    >>> from ndnx.cells import stp
    >>> u, x = np.full((1, 1), 0.03, "float32"), np.ones((1, 1), "float32")
    >>> u, x, out = stp.stp_step("markram", u, x, np.full((1, 1), 5.0), 0.001, 0.03, 1.0, 0.2)
    >>> round(float(u[0, 0]), 5), round(float(x[0, 0]), 5)
    (0.03015, 0.99985)
    >>> [round(float(v), 5) for v in stp.steady_state(5.0, 0.03, 1.0, 0.2)]
    [0.15652, 0.86466]
"""

import numpy as np
import tensorflow as tf

__all__ = ["STP_RULES", "check_rule", "resting_u", "stp_step", "efficacy", "steady_state"]

STP_RULES = ("markram", "markram_exp", "mongillo")


def check_rule(rule, owner="stp"):
    """`rule` if it is one of `STP_RULES`, else one ValueError naming `owner`."""
    if rule not in STP_RULES:
        raise ValueError(f"{owner}: stp_rule must be one of {STP_RULES}, got {rule!r}")
    return rule


def resting_u(rule, use):
    """The resting utilisation: U for the Markram rules, 0 for "mongillo" (whose u⁺ is then U)."""
    check_rule(rule)
    return 0.0 * use if rule == "mongillo" else use


def _f32(value):
    return tf.cast(value, tf.float32)


def _facilitating(tau_fac):
    """(mask of τ_fac > 0, 1/τ_fac with 0 where τ_fac = 0) for floats or tensors."""
    tau_fac = _f32(tau_fac)
    on = tau_fac > 0.0
    return on, tf.where(on, 1.0 / tf.where(on, tau_fac, 1.0), 0.0)


def efficacy(rule, u, use):
    """The factor that multiplies x·r: u for the Markram rules, u⁺ = u + U·(1 − u) for "mongillo"."""
    check_rule(rule)
    u = _f32(u)
    return u + _f32(use) * (1.0 - u) if rule == "mongillo" else u


def stp_step(rule, u, x, rate, dt, use, tau_fac, tau_rec):
    """One step of `rule`: (u, x, transmitted rate), all float32.

    Args:
        rule: one of `STP_RULES`.
        u, x: the state, (batch, n).
        rate: presynaptic rates r (Hz), (batch, n), any float dtype.
        dt: step (s).
        use, tau_fac, tau_rec: U, τ_fac (0 = no facilitation), τ_rec (s); floats or tensors
            broadcasting against the state.
    Returns:
        (u, x, efficacy·x·r) after the step.
    """
    check_rule(rule)
    u, x, r = _f32(u), _f32(x), _f32(rate)
    dt, use, tau_rec = float(dt), _f32(use), _f32(tau_rec)
    fac_on, inv_fac = _facilitating(tau_fac)
    if rule == "markram":
        x_new = x + (1.0 - x) * (dt / tau_rec) - dt * u * x * r
        u_new = u + (use - u) * (dt * inv_fac) + dt * use * (1.0 - u) * r
        u_new = tf.where(fac_on, u_new, use + 0.0 * u)
    elif rule == "markram_exp":
        # 1 + (x − 1)e = x + (1 − x)(1 − e), with 1 − e = −expm1(−DT/τ) exact in float32
        x_new = x + (1.0 - x) * -tf.math.expm1(-dt / tau_rec) - dt * u * x * r
        u_new = u + (use - u) * -tf.math.expm1(-dt * inv_fac) + dt * use * (1.0 - u) * r
        u_new = tf.where(fac_on, u_new, use + 0.0 * u)
    else:  # mongillo
        u_plus = u + use * (1.0 - u)
        x_new = x + dt * ((1.0 - x) / tau_rec - u_plus * x * r)
        u_new = u + dt * (-u * inv_fac + use * (1.0 - u) * r)
        u_new = tf.where(fac_on, u_new, 0.0 * u)
    return u_new, x_new, efficacy(rule, u_new, use) * x_new * r


def steady_state(rate, use, tau_fac, tau_rec, rule="markram"):
    """(u*, x*) at constant `rate` (NumPy, float64), the fixed point of `rule` in continuous time.

    For "mongillo" u* is the pre-spike utilisation; its efficacy u⁺* = u* + U(1 − u*) equals the
    Markram u*. (`markram_exp` has the Markram fixed point up to O(DT/τ).)
    """
    check_rule(rule)
    r, use, tau_fac, tau_rec = (np.asarray(v, dtype="float64") for v in (rate, use, tau_fac, tau_rec))
    u_eff = use * (1.0 + tau_fac * r) / (1.0 + use * tau_fac * r)
    x = 1.0 / (1.0 + u_eff * tau_rec * r)
    if rule == "mongillo":
        return (u_eff - use) / (1.0 - use), x
    return u_eff, x
