"""MALA: the Metropolis-adjusted Langevin algorithm (exact stationary density ∝ exp(−E/T)).

A ULA proposal s' = s − η∇E(s) + √(2ηT)ξ is accepted per chain (example) with probability

    min(1, exp(−(E(s') − E(s))/T − ‖s − s' + η∇E(s')‖²/(4ηT) + ‖s' − s + η∇E(s)‖²/(4ηT))),

the norms over every free layer. A proposal outside ρ's range is rejected (the target density is zero
there), so the clamp never biases MALA. The chain state caches E and ∇E of the current states.
Spec energy_sampling_nrflv.md §7 item 1.

Example:
    >>> import numpy as np, tensorflow as tf
    >>> from ndnx.energy import MALA, FunctionTarget
    >>> target = FunctionTarget(lambda s: 0.5 * tf.reduce_sum(s[0] ** 2, axis=1))
    >>> states, chain = MALA(step_size=0.5, seed=1).run(target, [np.zeros((2000, 1), "float32")], 200)
    >>> round(float(np.var(states[0])), 1), 0.5 < float(chain["accepted"]) / (200 * 2000) < 1
    (1.0, True)
"""

import math

import numpy as np
import tensorflow as tf

from ndnx.energy.langevin import ULA
from ndnx.energy.sampler import per_layer

__all__ = ["MALA"]


def _flat_sum(x):
    return tf.reduce_sum(tf.reshape(x, (tf.shape(x)[0], -1)), axis=-1)


class MALA(ULA):
    """Args: step_size η (one or per layer), temperature T (> 0), jit_compile, seed."""

    name = "MALA"

    def __init__(self, step_size=0.01, temperature=1.0, jit_compile=False, seed=0):
        super().__init__(step_size=step_size, temperature=temperature, jit_compile=jit_compile, seed=seed)
        if self.temperature <= 0:
            raise ValueError(f"{self.name}: temperature must be a finite number > 0, got {temperature!r}")
        self._target = None

    def init_chain(self, states, free=None, seed=None):
        chain = super().init_chain(states, free, seed)
        chain["accepted"] = tf.constant(0.0, states[0].dtype)
        return chain

    def step(self, target, states, chain, free):
        eta = per_layer(self.name, "step_size", self.step_size, len(states))
        keys = tf.random.experimental.stateless_split(chain["key"], num=len(states) + 2)
        energy, grads = target.energy_and_gradients(states, free)
        proposed = self.proposal(states, grads, keys[2:], free)
        new_energy, new_grads = target.energy_and_gradients(proposed, free)
        log_ratio = -(new_energy - energy) / self.temperature
        inside = tf.ones_like(energy, dtype=tf.bool)
        ranges = getattr(target, "ranges", None)
        for l, (s, p, g, g_new) in enumerate(zip(states, proposed, grads, new_grads)):
            if not free[l]:
                continue
            forward = _flat_sum(tf.square(p - s + eta[l] * g))
            backward = _flat_sum(tf.square(s - p + eta[l] * g_new))
            log_ratio += (forward - backward) / (4.0 * eta[l] * self.temperature)
            if ranges is not None:
                lo, hi = ranges[l]
                ok = p >= lo if not math.isfinite(hi) else tf.logical_and(p >= lo, p <= hi)
                inside = tf.logical_and(inside, tf.reduce_all(tf.reshape(ok, (tf.shape(p)[0], -1)), axis=-1))
        u = tf.random.stateless_uniform(tf.shape(energy), seed=keys[1], dtype=energy.dtype)
        accept = tf.logical_and(inside, tf.math.log(u) < log_ratio)

        def choose(a, b):
            mask = tf.reshape(accept, [-1] + [1] * (a.shape.rank - 1))
            return tf.where(mask, a, b)

        out = [choose(p, s) if k else s for p, s, k in zip(proposed, states, free)]
        new_chain = {"step": chain["step"] + 1, "key": keys[0],
                     "accepted": chain["accepted"] + tf.reduce_sum(tf.cast(accept, energy.dtype))}
        return out, new_chain, energy, grads
