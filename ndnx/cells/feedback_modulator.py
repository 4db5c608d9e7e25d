"""The feedback modulator of Naumann et al. 2022: an LSTM step followed by a linear readout."""

import numpy as np
import keras
from keras import ops

from ndnx.layers.replicas import ReplicatedLayer
from ndnx.registry import register

__all__ = ["FeedbackModulator", "replica_axis_in", "replica_axis_out"]


def replica_axis_in(tensor, replicated):
    """(batch, ...) of a lone cell as (batch, 1, ...): the feedback cells compute with a replica axis always."""
    return tensor if replicated else ops.expand_dims(tensor, 1)


def replica_axis_out(tensor, replicated):
    return tensor if replicated else ops.squeeze(tensor, 1)


@register("cell")
class FeedbackModulator(ReplicatedLayer):
    """One step of the modulator RNN: an LSTM of `hidden_units` and a linear readout of `outputs` signals.

    With PyTorch's LSTM gates (order i, f, g, o, as Keras' LSTMCell):

        i, f, g, o = σ, σ, tanh, σ of (u_t K + b + h_{t−1} R + b_R),
        c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t),   O_t = h_t W_out + b_out.

    State (h, c), both zero at the start; output O_t. The two biases b (input) and b_R
    (recurrent) are PyTorch's b_ih and b_hh, kept apart so a converted model has the same
    parameters and the same initial distribution. `torch_init=True` (default) draws every
    weight from U(−1/√H, 1/√H), PyTorch's LSTM and Linear default; otherwise Keras' LSTM
    defaults (Glorot kernels, orthogonal recurrent kernel, forget bias 1, other biases 0)
    and a Glorot readout. H = 100, 4 inputs and 4 outputs give the 42,804 trainable parameters
    of the original's ModulationNet.

    Reference: Naumann L. B., Keijser J., Sprekeler H. (2022). Invariant neural subspaces maintained
    by feedback modulation. eLife 11:e76096 (spec feedback_modulation_naumann22.md §2).

    Args:
        outputs: number of feedback signals O (Nout).
        hidden_units: LSTM size H.
        torch_init: PyTorch's uniform initialisation (see above).
        replicas, seed: as every ndnx layer (`ndnx.layers.replicas`).

    Example:
        >>> import numpy as np, keras, ndnx
        >>> cell = ndnx.cells.FeedbackModulator(4, hidden_units=100, seed=0)
        >>> out = keras.layers.RNN(cell)(np.zeros((2, 3, 4), "float32"))
        >>> tuple(out.shape), sum(int(np.prod(w.shape)) for w in cell.trainable_weights)
        ((2, 4), 42804)
    """

    def __init__(self, outputs, hidden_units=100, torch_init=True, replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        for arg, value in (("outputs", outputs), ("hidden_units", hidden_units)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{self.name}: {arg} must be a positive int, got {value!r}")
        self.outputs = int(outputs)
        self.hidden_units = int(hidden_units)
        self.torch_init = bool(torch_init)
        self.state_size = [self.hidden_units, self.hidden_units]
        self.output_size = self.outputs

    def build(self, input_shape):
        _, (features,) = self.split_replica_input(input_shape, {1: "features"}, what="step inputs of shape")
        if features is None:
            raise ValueError(f"{self.name}: expected a known number of input features, got {tuple(input_shape)}")
        H = self.hidden_units
        if self.torch_init:
            bound = 1.0 / np.sqrt(H)
            kernel = recurrent = bias = recurrent_bias = readout = keras.initializers.RandomUniform(-bound, bound)
        else:
            kernel, recurrent, readout = "glorot_uniform", "orthogonal", "glorot_uniform"
            bias = keras.initializers.Constant(np.concatenate([np.zeros(H), np.ones(H), np.zeros(2 * H)]))
            recurrent_bias = "zeros"
        self.kernel = self.add_replica_weight("kernel", (features, 4 * H), kernel)
        self.recurrent_kernel = self.add_replica_weight("recurrent_kernel", (H, 4 * H), recurrent)
        self.bias = self.add_replica_weight("bias", (4 * H,), bias)
        self.recurrent_bias = self.add_replica_weight("recurrent_bias", (4 * H,), recurrent_bias)
        self.out_kernel = self.add_replica_weight("out_kernel", (H, self.outputs), readout)
        self.out_bias = self.add_replica_weight("out_bias", (self.outputs,), readout if self.torch_init else "zeros")

    def _weights_with_axis(self):
        replicated = self.replicas is not None
        axis = (lambda w: w) if replicated else (lambda w: ops.expand_dims(w, 0))
        # [K; R] stacked: one matmul of [u, h] per step instead of two (fewer ops in the loop and its gradient)
        stacked = ops.concatenate([axis(self.kernel), axis(self.recurrent_kernel)], axis=1)
        return [ops.cast(w, self.compute_dtype) for w in
                (stacked, axis(self.bias + self.recurrent_bias), axis(self.out_kernel), axis(self.out_bias))]

    def step(self, u, h, c, weights=None):
        """(O_t, h_t, c_t) from u_t (batch, R, features) and (h, c) (batch, R, H): the replica axis always."""
        stacked, bias, out_kernel, out_bias = weights or self._weights_with_axis()
        if stacked.shape[0] == 1:  # a lone cell: plain matmuls, no batched dot over a unit replica axis
            z = ops.matmul(ops.concatenate([u[:, 0], h[:, 0]], axis=-1), stacked[0]) + bias
            i, f, g, o = ops.split(z[:, None], 4, axis=-1)
        else:
            z = ops.einsum("bri,rij->brj", ops.concatenate([u, h], axis=-1), stacked) + bias[None]
            i, f, g, o = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        if stacked.shape[0] == 1:
            return (ops.matmul(h[:, 0], out_kernel[0]) + out_bias)[:, None], h, c
        return ops.einsum("brh,rho->bro", h, out_kernel) + out_bias[None], h, c

    def call(self, inputs, states, training=None):
        replicated = self.replicas is not None
        u = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        if replicated and len(u.shape) == 2:
            u = ops.repeat(ops.expand_dims(u, 1), self.replicas, axis=1)
        u = replica_axis_in(u, replicated)
        h, c = (replica_axis_in(s, replicated) for s in states)
        out, h, c = self.step(u, h, c)
        return replica_axis_out(out, replicated), [replica_axis_out(h, replicated), replica_axis_out(c, replicated)]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros(self.replicated_shape(batch_size, (self.hidden_units,)), dtype=self.compute_dtype)
                for _ in range(2)]

    def get_config(self):
        config = super().get_config()
        config.update({"outputs": self.outputs, "hidden_units": self.hidden_units, "torch_init": self.torch_init})
        return config
