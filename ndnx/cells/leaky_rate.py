"""A leaky continuous-time rate network, one Euler step per call."""

import numpy as np
import keras
from keras import ops

from ndnx.layers.replicas import ReplicatedLayer
from ndnx.registry import register

__all__ = ["LeakyRateCell"]


@register("cell")
class LeakyRateCell(ReplicatedLayer):
    """One Euler step of a leaky rate network, run over time by `keras.layers.RNN`.

    The continuous-time rate network τ dh/dt = −h + φ(x W_in + h W_rec + b), integrated with the
    Euler rule at step dt, is

        h_t = (1 − α) h_{t−1} + α · φ(x_t W_in + h_{t−1} W_rec + b),   α = dt / τ,

    with input x_t (features), rates h_t (units; the state and the output) and h_0 = 0 unless an
    initial state is given. α = 1 is a discrete-time (Elman) network h_t = φ(x_t W_in + h_{t−1} W_rec + b).

    Reference: Song H. F., Yang G. R., Wang X.-J. (2016). Training excitatory-inhibitory recurrent
    neural networks for cognitive tasks: a simple and flexible framework. PLoS Comput Biol 12(2):
    e1004792 (the continuous-time RNN and its Euler discretisation, α = Δt/τ).

    Replicas (`ndnx.layers.replicas`): with `replicas=R` the weights are stacked (R, ...), the
    state and output are (batch, R, units), and a step's input is shared (batch, features) or per
    replica (batch, R, features); `keras.layers.RNN` then takes sequences (batch, time, features)
    or (batch, time, R, features) and returns (batch, [time,] R, units). Replica r is the lone cell
    built with seed r. Keras 3's RNN reports its symbolic output shape from the cell's integer
    `output_size`, without the replica axis; `ndnx.cells.RNN` reports it with the axis, for
    functional models whose later layers depend on it.

    Args:
        units: number of rate units.
        tau: time constant τ (in the units of dt), > 0.
        dt: Euler step, in (0, τ].
        activation: φ (default "relu", the rectified-linear rates of Song et al.).
        use_bias: add b.
        kernel_initializer, recurrent_initializer, bias_initializer: of W_in (features, units),
            W_rec (units, units) and b (Keras defaults of a recurrent cell: Glorot uniform,
            orthogonal, zeros).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Keras/ndnx regularizers
            (with replicas, each replica pays its own penalty; the sum is added).
        kernel_constraint, recurrent_constraint, bias_constraint: Keras constraints.
        replicas: None or the number of independent replicas.
        seed: int, or one int per replica.

    Example:
        >>> import numpy as np, keras, ndnx
        >>> cell = ndnx.cells.LeakyRateCell(8, tau=100.0, dt=10.0, replicas=3, seed=0)
        >>> rnn = keras.layers.RNN(cell, return_sequences=True)
        >>> tuple(rnn(np.ones((2, 5, 4), "float32")).shape)  # (batch, time, replicas, units)
        (2, 5, 3, 8)
    """

    def __init__(self, units, tau=100.0, dt=10.0, activation="relu", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{self.name}: units must be a positive int, got {units!r}")
        tau, dt = float(tau), float(dt)
        if not 0.0 < tau < float("inf"):
            raise ValueError(f"{self.name}: tau must be finite and > 0, got {tau}")
        if not 0.0 < dt <= tau:
            raise ValueError(f"{self.name}: dt must be in (0, tau] = (0, {tau}] (alpha = dt/tau ≤ 1), got {dt}")
        self.units = int(units)
        self.tau = tau
        self.dt = dt
        self.alpha = dt / tau
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        per_replica, (features,) = self.split_replica_input(input_shape, {1: "features"}, what="step inputs of shape")
        if features is None:
            raise ValueError(f"{self.name}: expected a known number of input features, got {tuple(input_shape)}")
        self._shared_input = self.replicas is not None and not per_replica
        self.kernel = self.add_replica_weight(
            "kernel", (features, self.units), self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_replica_weight(
            "recurrent_kernel", (self.units, self.units), self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_replica_weight(
                "bias", (self.units,), self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def call(self, inputs, states, training=None):
        h = states[0] if isinstance(states, (list, tuple)) else states
        x = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        w_in = ops.cast(self.kernel, self.compute_dtype)
        w_rec = ops.cast(self.recurrent_kernel, self.compute_dtype)
        if self.replicas is None:
            z = ops.matmul(x, w_in) + ops.matmul(h, w_rec)
        else:
            drive = "bi,riu->bru" if self._shared_input else "bri,riu->bru"
            z = ops.einsum(drive, x, w_in) + ops.einsum("bru,ruv->brv", h, w_rec)
        if self.use_bias:
            z = z + ops.cast(self.bias, self.compute_dtype)
        h_new = (1.0 - self.alpha) * h + self.alpha * self.activation(z)
        return h_new, [h_new] if isinstance(states, (list, tuple)) else h_new

    def get_initial_state(self, batch_size=None):
        return [ops.zeros(self.replicated_shape(batch_size, (self.units,)), dtype=self.compute_dtype)]

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "tau": self.tau,
            "dt": self.dt,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
        })
        return config
