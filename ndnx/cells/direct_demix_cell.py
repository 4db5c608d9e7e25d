"""The control without a modulated pathway: an LSTM that reads the mixture and outputs the sources."""

from ndnx.cells.modulated_cell import ModulatedCell
from ndnx.registry import register

__all__ = ["DirectDemixCell"]


@register("cell")
class DirectDemixCell(ModulatedCell):
    """y_t = W_out h_t + b_out, (h_t, c_t) = LSTM(x_t, (h, c)_{t−1}): demixing by the RNN alone.

    The original's DirectDemixNet, a control that is not in the paper: no feedforward pathway and
    no modulation state, the modulator's output *is* the estimate of the sources (no delay). State
    (h, c); `freeze` has nothing to hold.

    Reference: Naumann L. B., Keijser J., Sprekeler H. (2022). eLife 11:e76096
    (spec feedback_modulation_naumann22.md §2, "DirectDemixNet").

    Args:
        sources, sensors, hidden_units, torch_init, replicas, seed: see `ndnx.cells.ModulatedCell`.

    Example:
        >>> import numpy as np, keras, ndnx
        >>> cell = ndnx.cells.DirectDemixCell(hidden_units=16, seed=0)
        >>> tuple(keras.layers.RNN(cell, return_sequences=True)(np.ones((3, 5, 2), "float32")).shape)
        (3, 5, 2)
    """

    standard_step = False  # its own step (the LSTM's output is y): trained by autodiff

    def __init__(self, sources=2, sensors=None, hidden_units=100, torch_init=True, replicas=None, seed=None,
                 **kwargs):
        kwargs.pop("input_to_net", None)
        kwargs.pop("tau", None)
        super().__init__(sources, (), sources=sources, sensors=sensors, hidden_units=hidden_units, input_to_net="x",
                         tau=1.0, torch_init=torch_init, replicas=replicas, seed=seed, **kwargs)

    def step(self, x, states, freeze=None, weights=None):
        modulator_weights, _ = weights or self.step_weights()
        h, c = states
        y, h, c = self.modulator.step(x, h, c, modulator_weights)
        return y, [h, c], {"feedback": y}

    def get_config(self):
        config = super().get_config()
        for key in ("input_to_net", "tau"):
            config.pop(key)
        return config
