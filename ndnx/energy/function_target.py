"""FunctionTarget: any energy written as a function of a list of states, as a sampler target.

A sampler needs `energy_and_gradients(states, free)` (energy per example, gradient of each example's
energy per free layer) and `clamp(states)`; `EnergyGraph` provides both, and this wraps a plain
function E(states) → (batch,) so toy energies (a Gaussian, a double well) run through the same samplers.

    >>> import numpy as np
    >>> from ndnx.energy.function_target import FunctionTarget
    >>> target = FunctionTarget(lambda s: 0.5 * np.float32(4.0) * (s[0][:, 0] ** 2))
    >>> e, (g,) = target.energy_and_gradients([np.array([[0.5]], "float32")])
    >>> float(e[0]), float(g[0, 0])
    (0.5, 2.0)
"""

import math

import tensorflow as tf

__all__ = ["FunctionTarget"]


class FunctionTarget:
    """E(states) → (batch,) with autodiff gradients; `ranges`: (low, high) per layer (default unbounded)."""

    def __init__(self, energy_fn, ranges=None):
        self.energy_fn, self.ranges = energy_fn, ranges

    def energy_and_gradients(self, states, free=None):
        states = [tf.convert_to_tensor(s) for s in states]
        free = [True] * len(states) if free is None else list(free)
        watched = [s for s, k in zip(states, free) if k]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(watched)
            e = self.energy_fn(states)
            total = tf.reduce_sum(e)
        grads = iter(tape.gradient(total, watched))
        return e, [next(grads) if k else None for k in free]

    def clamp(self, states):
        if self.ranges is None:
            return list(states)
        return [tf.clip_by_value(s, lo, hi) if math.isfinite(hi) else tf.maximum(s, lo)
                for s, (lo, hi) in zip(states, self.ranges)]
