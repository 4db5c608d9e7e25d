"""SGHMC: stochastic-gradient Hamiltonian Monte Carlo with burn-in mass adaptation (NRF-LV's sampler).

Spec energy_sampling_nrflv.md §2.1 (Chen, Fox & Guestrin 2014, with the burn-in adaptation of
Springenberg et al. 2016 as in pysgmcmc). Per element, with ∇ = ∂E/∂s, step size η, friction α and
the chain state (τ, g, v̂, p), all starting at τ = g = v̂ = 1, p = 0, at step t (counted from 1):

    r = 1/(τ + 1),  m = 1/√v̂                                    (from the previous τ and v̂)
    if t ≤ burn_in:  τ ← τ + 1 − τ·g²/v̂;  g ← (1 − r)·g + r·∇;  v̂ ← (1 − r)·v̂ + r·∇²
    p ← p − η²·m·∇ − α·M⁻¹p + ξ,   ξ ~ N(0, σ²)
    s ← s + M⁻¹p   (then clamped to ρ's range)

so m adapts towards 1/RMS(∇) during burn-in and is frozen after it (with `mean_batch_minv` it is
averaged over the batch). For E = ½λs² and no noise this is the linear map
[s; p] → [[1 − k, 1 − α], [−k, 1 − α]]·[s; p], k = η²mλ: a damped oscillator with modulus √(1 − α) per
step and period 2π/arccos((2 − k − α)/(2√(1 − α))) — the thesis's "gamma" oscillation.

Noise, `noise="temperature"` (default): σ² = 2·α·η²·m·T, which makes the stationary density
∝ exp(−E/T) in the small-step limit. `noise="faithful"`: the original's formula with
η_s = η/√scale_grad, σ² = clip(2η_s²αm − 2η_s³m²·sigma − η_s⁴, min_sq_sigma, max_sq_sigma); with the
thesis clamp [9e-5, 1e-4] at η = α = 0.1 that samples at T_eff = 1e-4/(2αη²m) = 0.05/m — 0.05 at m = 1
and ≈ 0.011–0.018 with the m its burn-in adapts (the spec's "Effective temperature").

M⁻¹ (`inverse_mass`): None (identity), "circulant" (`circulant_inverse_mass`, normalised and positive
definite, width `mass_width` channels), "faithful" (the original's rows), or one (C, C) matrix or None
per layer; it acts on the last (channel) axis. `velocity_clip` rescales M⁻¹p to at most that L2 norm
over the whole tensor (the original's `mom_clip`). Step size, friction, max_sq_sigma, velocity_clip:
one value or one per layer.

Example (no noise, E = ½·100·s², η = α = 0.1, so k = 1: s = 0.5, 0, −0.45, −0.405):
    >>> import numpy as np
    >>> from ndnx.energy import SGHMC, FunctionTarget
    >>> target = FunctionTarget(lambda s: 50.0 * s[0][:, 0] ** 2)
    >>> sampler = SGHMC(step_size=0.1, friction=0.1, temperature=0.0)
    >>> states, chain = sampler.run(target, [np.array([[0.5]], "float32")], 3)
    >>> round(float(states[0][0, 0]), 4)
    -0.405
"""

import numpy as np
import tensorflow as tf

from ndnx.energy.inverse_mass import circulant_inverse_mass, faithful_inverse_mass
from ndnx.energy.sampler import Sampler, check_finite, per_layer
from ndnx.gaussian_noise import stateless_normal

__all__ = ["SGHMC", "NOISE_MODES"]

NOISE_MODES = ("temperature", "faithful")


class SGHMC(Sampler):
    """See the module docstring.

    Args:
        step_size: η (per layer or one value). friction: α ("momentum_param" / mdecay).
        temperature: T of `noise="temperature"`. noise: "temperature" or "faithful".
        burn_in: steps of mass adaptation (per chain; frozen afterwards).
        scale_grad, sigma, min_sq_sigma, max_sq_sigma: the faithful noise formula (sigma is pysgmcmc's
            gradient-noise estimate, which *reduces* the injected noise); min/max also clamp the
            temperature-mode variance when given.
        inverse_mass: None, "circulant", "faithful" or a per-layer list of (C, C) matrices / None.
        mass_width: width in channels of the circulant inverse mass.
        mean_batch_minv: average m over the batch.
        velocity_clip: maximum L2 norm of the velocity M⁻¹p per layer (None: no clip).
        jit_compile, seed: see `Sampler`.
    """

    name = "SGHMC"

    def __init__(self, step_size=0.1, friction=0.1, temperature=1.0, noise="temperature", burn_in=0, scale_grad=1.0,
                 sigma=0.0, min_sq_sigma=None, max_sq_sigma=None, inverse_mass=None, mass_width=1.0,
                 mean_batch_minv=False, velocity_clip=None, jit_compile=False, seed=0):
        super().__init__(jit_compile=jit_compile, seed=seed)
        self.step_size = check_finite(self.name, "step_size", step_size, 0.0, strict=True)
        self.friction = check_finite(self.name, "friction", friction, 0.0)
        self.temperature = check_finite(self.name, "temperature", temperature, 0.0)
        if noise not in NOISE_MODES:
            raise ValueError(f"{self.name}: noise must be 'temperature' or 'faithful', got {noise!r}")
        self.noise = noise
        self.burn_in = int(check_finite(self.name, "burn_in", burn_in, 0.0))
        self.scale_grad = check_finite(self.name, "scale_grad", scale_grad, 0.0, strict=True)
        self.sigma = check_finite(self.name, "sigma", sigma)
        if noise == "faithful":  # the original's defaults
            min_sq_sigma = 1e-16 if min_sq_sigma is None else min_sq_sigma
            max_sq_sigma = 100.0 if max_sq_sigma is None else max_sq_sigma
        self.min_sq_sigma = None if min_sq_sigma is None else check_finite(self.name, "min_sq_sigma", min_sq_sigma, 0.0)
        self.max_sq_sigma = None if max_sq_sigma is None else check_finite(self.name, "max_sq_sigma", max_sq_sigma, 0.0)
        if isinstance(inverse_mass, str) and inverse_mass not in ("circulant", "faithful"):
            raise ValueError(f"{self.name}: inverse_mass must be None, 'circulant', 'faithful' or one matrix per "
                             f"layer, got {inverse_mass!r}")
        self.inverse_mass, self.mass_width = inverse_mass, check_finite(self.name, "mass_width", mass_width, 0.0, True)
        self.mean_batch_minv = bool(mean_batch_minv)
        self.velocity_clip = velocity_clip

    # --- per-layer settings ---------------------------------------------------------------------------
    def _settings(self, states):
        n = len(states)
        eta = per_layer(self.name, "step_size", self.step_size, n)
        alpha = per_layer(self.name, "friction", self.friction, n)
        top = per_layer(self.name, "max_sq_sigma", self.max_sq_sigma, n)
        clip = per_layer(self.name, "velocity_clip", self.velocity_clip, n)
        if self.inverse_mass is None or isinstance(self.inverse_mass, str):
            build = {None: lambda c: None, "circulant": lambda c: circulant_inverse_mass(c, self.mass_width),
                     "faithful": faithful_inverse_mass}[self.inverse_mass]
            masses = [build(int(s.shape[-1])) for s in states]
        else:
            masses = per_layer(self.name, "inverse_mass", self.inverse_mass, n)
        masses = [None if m is None or np.array_equal(m, np.eye(len(m))) else tf.constant(m, states[0].dtype)
                  for m in masses]
        return eta, alpha, top, clip, masses

    def init_chain(self, states, free=None, seed=None):
        """(τ, g, v̂) = 1 and p = 0 per layer, step 0, the random key."""
        ones = [tf.ones_like(s) for s in states]
        return {"momentum": [tf.zeros_like(s) for s in states], "tau": list(ones), "g": list(ones), "v": list(ones),
                "step": tf.constant(0, tf.int32), "key": self._key(seed)}

    def momentum_of(self, chain):
        return chain["momentum"]

    def inverse_masses(self, states):
        """The (C, C) inverse mass of each layer (None: identity)."""
        return self._settings(states)[-1]

    @staticmethod
    def _apply(mass, p):
        return p if mass is None else tf.tensordot(p, mass, axes=[[p.shape.rank - 1], [0]])

    def noise_variance(self, m, eta, alpha, top):
        """σ² of the injected noise for inverse mass m (module docstring)."""
        if self.noise == "temperature":
            var = 2.0 * alpha * eta ** 2 * m * self.temperature
        else:
            eta_s = eta / np.sqrt(self.scale_grad)
            var = 2.0 * eta_s ** 2 * alpha * m - 2.0 * eta_s ** 3 * tf.square(m) * self.sigma - eta_s ** 4
        if self.min_sq_sigma is not None:
            var = tf.maximum(var, self.min_sq_sigma)
        if top is not None:
            var = tf.minimum(var, top)
        return var

    @staticmethod
    def _adapt(tau, g, v, grad):
        """One burn-in update of (τ, g, v̂) (module docstring)."""
        r = 1.0 / (tau + 1.0)
        return tau + 1.0 - tau * tf.square(g) / v, (1.0 - r) * g + r * grad, (1.0 - r) * v + r * tf.square(grad)

    def step(self, target, states, chain, free):
        eta, alpha, top, clip, masses = self._settings(states)
        t = chain["step"] + 1
        keys = tf.random.experimental.stateless_split(chain["key"], num=len(states) + 1)
        energy, grads = target.energy_and_gradients(states, free)
        new = {k: list(chain[k]) for k in ("momentum", "tau", "g", "v")}
        out = list(states)
        adapt = t <= self.burn_in
        for l, (s, grad) in enumerate(zip(states, grads)):
            if not free[l]:
                continue
            tau, g, v, p = chain["tau"][l], chain["g"][l], chain["v"][l], chain["momentum"][l]
            m = tf.math.rsqrt(v)
            if self.burn_in > 0:
                # a branch, not a select: after burn-in (most of a sampler run's steps) the adaptation's
                # elementwise passes over every state are skipped (5–10 % of a batch-32 thesis step)
                new["tau"][l], new["g"][l], new["v"][l] = tf.cond(
                    adapt, lambda: self._adapt(tau, g, v, grad), lambda: (tau, g, v))
            if self.mean_batch_minv:
                m = tf.broadcast_to(tf.reduce_mean(m, axis=0, keepdims=True), tf.shape(m))
            var = self.noise_variance(m, eta[l], alpha[l], top[l])
            xi = stateless_normal(tf.shape(s), keys[l + 1], s.dtype) * tf.sqrt(var)
            p = p - eta[l] ** 2 * m * grad - alpha[l] * self._apply(masses[l], p) + xi
            velocity = self._apply(masses[l], p)
            if clip[l] is not None:
                velocity = velocity * tf.minimum(1.0, clip[l] / (tf.norm(velocity) + 1e-12))
            new["momentum"][l] = p
            out[l] = s + velocity
        new.update(step=t, key=keys[0])
        return out, new, energy, grads
