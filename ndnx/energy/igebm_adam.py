"""IGEBMAdam: Adam whose gradients are clipped element-wise by their own second-moment estimate.

Spec energy_sampling_nrflv.md §2.4 (the clip of Du & Mordatch 2019, "IGEBM", which NRF-LV applies
before each Adam step): every gradient element is clamped to

    ± (3·√(v_t / (1 − β₂ᵗ)) + 0.1),

with v_t Adam's second moment *before* this step and t the step about to be taken (so the very first
step is clipped to ±0.1). NRF-LV uses β₁ = 0 (no first moment, the default here) and β₂ = 0.999.

Example:
    >>> import numpy as np, keras
    >>> from ndnx.energy.igebm_adam import IGEBMAdam
    >>> w = keras.Variable(np.zeros(2, "float32"))
    >>> opt = IGEBMAdam(learning_rate=0.1)
    >>> opt.apply([np.array([5.0, -0.05], "float32")], [w])
    >>> [round(float(x), 3) for x in w.numpy()]  # clipped to ±0.1 first, then the Adam step of size lr
    [-0.1, 0.1]
"""

import keras
from keras import ops

__all__ = ["IGEBMAdam"]


@keras.saving.register_keras_serializable(package="ndnx")
class IGEBMAdam(keras.optimizers.Adam):
    """Adam (β₁ = 0 by default) with the IGEBM element-wise clip (module docstring)."""

    def __init__(self, learning_rate=5e-4, beta_1=0.0, beta_2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        v = self._velocities[self._get_variable_index(variable)]
        local_step = ops.cast(self.iterations + 1, variable.dtype)
        corrected = v / (1.0 - ops.power(ops.cast(self.beta_2, variable.dtype), local_step))
        bound = 3.0 * ops.sqrt(corrected) + 0.1
        gradient = ops.clip(ops.cast(gradient, variable.dtype), -bound, bound)
        super().update_step(gradient, variable, learning_rate)
