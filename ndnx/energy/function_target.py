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

import tensorflow as tf

from ndnx.energy.state_activation import clamp_to_ranges

__all__ = ["FunctionTarget", "autodiff_energy_and_gradients"]


def autodiff_energy_and_gradients(energy_fn, states, free=None):
    """(energy_fn(states) per example, [∂ Σ_batch E / ∂s_i for free layers, None for the others])."""
    free = [True] * len(states) if free is None else list(free)
    watched = [s for s, k in zip(states, free) if k]
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(watched)
        e = energy_fn(states)
        total = tf.reduce_sum(e)
    grads = iter(tape.gradient(total, watched))
    return e, [next(grads) if k else None for k in free]


class FunctionTarget:
    """E(states) → (batch,) with autodiff gradients; `ranges`: (low, high) per layer (default unbounded)."""

    def __init__(self, energy_fn, ranges=None):
        self.energy_fn, self.ranges = energy_fn, ranges

    def energy_and_gradients(self, states, free=None):
        return autodiff_energy_and_gradients(self.energy_fn, [tf.convert_to_tensor(s) for s in states], free)

    def clamp(self, states):
        return list(states) if self.ranges is None else clamp_to_ranges(states, self.ranges)
