"""A scalar affine rescale of the whole input (the thesis fork's 'lin_scale')."""

import keras
from keras import ops

from ndnx.layers.replicas import ReplicatedLayer
from ndnx.registry import register

__all__ = ["LinScale"]


@register("layer")
class LinScale(ReplicatedLayer):
    """y = activation(w · x + b) elementwise, with one scalar w (init 1) and one scalar b (init 0).

    The output has the input's shape; the layer learns a global gain and offset of the stimulus
    (the thesis used it as an optional first layer, experiment 1.4.1, spec §3.3). At
    initialisation it is the identity (with a linear activation).

    Replicas: with `replicas=R`, w and b have shape (R,); a shared input (batch, ...) gives
    (batch, R, ...), replica r scaled by w[r] and shifted by b[r]. A replicated network passes its
    per-replica tensors (batch, R, ...) — set `per_replica_input=True` for that (the shape alone
    cannot tell a replica axis from a data axis of the same length).

    Reference: the MSc thesis fork of NDN3 (LinScale layer), used with the Antolík et al. (2016)
    V1 data.

    Args:
        activation: Keras activation (default linear).
        replicas: None or the number of replicas.
        seed: int, or one int per replica (the initial values do not depend on it; kept so every
            ndnx layer takes the same replica arguments).
        per_replica_input: with replicas, the input already carries the replica axis at 1.

    Example:
        >>> import numpy as np, ndnx
        >>> tuple(ndnx.layers.LinScale(replicas=3)(np.ones((2, 31, 31, 1), "float32")).shape)
        (2, 3, 31, 31, 1)
    """

    def __init__(self, activation=None, replicas=None, seed=None, per_replica_input=False, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        self.activation = keras.activations.get(activation)
        self.per_replica_input = bool(per_replica_input)
        if self.per_replica_input and self.replicas is None:
            raise ValueError(f"{self.name}: per_replica_input=True needs replicas")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(f"{self.name}: expected input of shape (batch, ...), got {input_shape}")
        if self.per_replica_input and (len(input_shape) < 3 or input_shape[1] != self.replicas):
            raise ValueError(
                f"{self.name}: expected input of shape (batch, {self.replicas}, ...) with "
                f"per_replica_input=True, got {input_shape}")
        self._rank = len(input_shape)
        self.scale = self.add_replica_weight("scale", (), "ones")
        self.offset = self.add_replica_weight("offset", (), "zeros")

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        w = ops.cast(self.scale, self.compute_dtype)
        b = ops.cast(self.offset, self.compute_dtype)
        if self.replicas is not None:
            if not self.per_replica_input:
                x = x[:, None]
            shape = (1, self.replicas) + (1,) * (len(x.shape) - 2)
            w, b = ops.reshape(w, shape), ops.reshape(b, shape)
        return self.activation(w * x + b)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.replicas is None or self.per_replica_input:
            return input_shape
        return (input_shape[0], self.replicas) + input_shape[1:]

    def get_config(self):
        config = super().get_config()
        config.update({
            "activation": keras.activations.serialize(self.activation),
            "per_replica_input": self.per_replica_input,
        })
        return config
