"""A shifter network: eye position → shift of every neuron's readout position."""

import numpy as np

from ndnx.layers.dense import Dense
from ndnx.layers.replicas import ReplicatedLayer
from ndnx.registry import register

__all__ = ["MLPShifter"]


@register("layer")
class MLPShifter(ReplicatedLayer):
    """s = tanh(W_L … tanh(W_1 e + b_1) … + b_L): a small MLP from the pupil position to a shift.

    In recordings from awake animals the eyes move, so the receptive fields move on the screen;
    a shifter maps the tracked pupil position e (batch, 2) (or any eye-tracking features) to a
    shift s ∈ (−1, 1)² in the readout's grid coordinates, given to
    `GaussianReadout(..., shift=s)`. `num_layers` − 1 hidden tanh layers of `hidden_units`, then
    a tanh layer of 2; `num_layers=1` is a single tanh(W e + b). Initialised near zero shift
    (weights N(0, 0.1²), biases 0), so training starts from the unshifted readout.

    Sinz et al. 2018 (NeurIPS), "Stimulus domain transfer in recurrent models for large scale
    cortical population prediction on video"; neuralpredictors' MLPShifter.

    Args:
        hidden_units: width of the hidden tanh layers.
        num_layers: number of tanh layers including the output layer (≥ 1).
        replicas: None or the number of independent replicas (output (batch, R, 2)).
        seed: int, or one int per replica.

    Example:
        >>> import numpy as np, ndnx
        >>> shifter = ndnx.layers.MLPShifter(hidden_units=5, num_layers=2, seed=0)
        >>> tuple(shifter(np.zeros((3, 2), "float32")).shape)
        (3, 2)
    """

    def __init__(self, hidden_units=10, num_layers=1, replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        if not isinstance(hidden_units, (int, np.integer)) or hidden_units < 1:
            raise ValueError(f"{self.name}: hidden_units must be a positive int, got {hidden_units!r}")
        if not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
            raise ValueError(f"{self.name}: num_layers must be an int ≥ 1, got {num_layers!r}")
        self.hidden_units = int(hidden_units)
        self.num_layers = int(num_layers)
        self.mlp = []
        for i in range(self.num_layers):
            units = 2 if i == self.num_layers - 1 else self.hidden_units
            self.mlp.append(Dense(units, activation="tanh", replicas=self.replicas,
                                  seed=self.sublayer_seed(f"shifter{i}"), name=f"{self.name}_layer{i}"))

    def build(self, input_shape):
        shape = tuple(input_shape)
        _, features = self.split_replica_input(shape, {1: "features"}, what="eye positions of shape")
        if features[-1] is None:
            raise ValueError(f"{self.name}: expected eye positions with a known number of features, got {shape}")
        for layer in self.mlp:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs):
        out = inputs
        for layer in self.mlp:
            out = layer(out)
        return out

    def compute_output_shape(self, input_shape):
        return self.replicated_shape(input_shape[0], (2,))

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_units": self.hidden_units, "num_layers": self.num_layers})
        return config
