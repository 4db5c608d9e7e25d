"""ULA: the unadjusted Langevin algorithm, descending E at temperature T.

    s ← s − η·∇E(s) + √(2ηT)·ξ,   ξ ~ N(0, I)   (then clamped to ρ's range)

Spec energy_sampling_nrflv.md §7 item 1 (the original's "langevin" option crashes and its "sgd" climbs
the energy). Stationary density ∝ exp(−E/T) up to an O(η) discretisation bias; `MALA` removes it.

Example (no noise: plain gradient descent on E = ½·s², s ← 0.9·s):
    >>> import numpy as np
    >>> from ndnx.energy import ULA, FunctionTarget
    >>> target = FunctionTarget(lambda s: 0.5 * s[0][:, 0] ** 2)
    >>> states, _ = ULA(step_size=0.1, temperature=0.0).run(target, [np.array([[1.0]], "float32")], 2)
    >>> round(float(states[0][0, 0]), 4)
    0.81
"""

import numpy as np
import tensorflow as tf

from ndnx.energy.sampler import Sampler, check_finite, per_layer
from ndnx.gaussian_noise import stateless_normal

__all__ = ["ULA"]


class ULA(Sampler):
    """Args: step_size η (one or per layer), temperature T, jit_compile, seed."""

    name = "ULA"

    def __init__(self, step_size=0.01, temperature=1.0, jit_compile=False, seed=0):
        super().__init__(jit_compile=jit_compile, seed=seed)
        self.step_size = check_finite(self.name, "step_size", step_size, 0.0, strict=True)
        self.temperature = check_finite(self.name, "temperature", temperature, 0.0)

    def init_chain(self, states, free=None, seed=None):
        return {"step": tf.constant(0, tf.int32), "key": self._key(seed)}

    def proposal(self, states, grads, keys, free):
        eta = per_layer(self.name, "step_size", self.step_size, len(states))
        out = []
        for l, (s, g) in enumerate(zip(states, grads)):
            if not free[l]:
                out.append(s)
                continue
            noise = stateless_normal(tf.shape(s), keys[l], s.dtype)
            out.append(s - eta[l] * g + np.sqrt(2.0 * eta[l] * self.temperature) * noise)
        return out

    def step(self, target, states, chain, free):
        keys = tf.random.experimental.stateless_split(chain["key"], num=len(states) + 1)
        energy, grads = target.energy_and_gradients(states, free)
        out = self.proposal(states, grads, keys[1:], free)
        return out, {"step": chain["step"] + 1, "key": keys[0]}, energy, grads
