"""AdaptiveNegativeSteps: NRF-LV's schedule that lengthens the negative phase while samples lag behind.

Spec energy_sampling_nrflv.md §2.2: at the end of every epoch after the `start_epoch`-th, if the mean
negative-phase energy is above the mean positive-phase energy (the chains have not yet reached the
data's energy), the negative length is multiplied by `factor` (1.25) and the schedule then waits
`cooldown` (5) epochs. The original compares 200-batch histories; here the epoch means that
`NRFLV.fit` logs are compared. It writes the model's `num_negative_steps` variable, so the longer
phases take effect without retracing and are checkpointed with the model.

Example:
    >>> from ndnx.energy import AdaptiveNegativeSteps
    >>> AdaptiveNegativeSteps().factor
    1.25
"""

import math

import keras

__all__ = ["AdaptiveNegativeSteps"]


class AdaptiveNegativeSteps(keras.callbacks.Callback):
    """Args: factor (1.25), cooldown epochs (5), start_epoch (5)."""

    def __init__(self, factor=1.25, cooldown=5, start_epoch=5):
        super().__init__()
        if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor >= 1):
            raise ValueError(f"AdaptiveNegativeSteps: factor must be a finite number ≥ 1, got {factor!r}")
        self.factor, self.cooldown, self.start_epoch = float(factor), int(cooldown), int(start_epoch)
        self.wait = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.wait > 0:
            self.wait -= 1
            return
        if epoch + 1 <= self.start_epoch or "negative_energy" not in logs:
            return
        if float(logs["negative_energy"]) > float(logs["positive_energy"]):
            steps = self.model.num_negative_steps
            steps.assign(int(math.ceil(int(steps.numpy()) * self.factor)))
            self.wait = self.cooldown
