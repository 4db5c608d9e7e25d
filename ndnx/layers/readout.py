"""The readout contract: a feature map in, one response per neuron out.

A readout maps a core's feature map (batch, H, W, C) to the responses of `units` neurons
(batch, units). With `replicas=R` it holds R independent readouts in stacked weights (see
`ndnx.layers.replicas`) and takes either the shared feature map (batch, H, W, C) or one map per
replica (batch, R, H, W, C); the output is then (batch, R, units). Replica r is the lone readout
seeded with `seeds[r]`.

Penalties: every readout has a method `regularizer()` returning its readout-specific penalty as
a scalar tensor (0 when it has none), in the manner of neuralpredictors' `readout.regularizer()`.
The penalty acts on the weights as the forward pass uses them (after positivity and
normalisation, spec rule "penalties of a normalised layer act on the normalised weights"), so it
is NOT attached to the variables as Keras weight regularizers: `call` adds `regularizer()` to the
layer's losses with `add_loss` (when the layer has a penalty), and `model.losses`/`model.fit`
include it. A replicated readout's penalty is the sum of its replicas' penalties (each replica
pays what it would pay alone).
"""

import numpy as np
import keras
from keras import ops

from ndnx.layers.replicas import ReplicatedLayer

__all__ = ["Readout", "FeatureVectorReadout"]


class Readout(ReplicatedLayer):
    """Base class of the ndnx readouts (not registered: it has no forward pass of its own).

    Subclasses implement `build_readout(height, width, channels)` (create the weights),
    `readout(inputs, training)` → pre-activation (batch, units) or (batch, R, units),
    `penalty_terms(replica_slice)` (optional) and extend `get_config`.

    Args:
        units: number of neurons.
        activation: Keras activation of the output (None = linear).
        use_bias: add a bias b_n.
        bias_initializer: Keras initializer of b.
        replicas: None, or the number of independent replicas.
        seed: int, or one int per replica.
    """

    def __init__(self, units, activation=None, use_bias=True, bias_initializer="zeros",
                 replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units < 1:
            raise ValueError(f"{self.name}: units must be a positive int, got {units!r}")
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    # --- shapes ----------------------------------------------------------------------------------
    def _check_feature_map(self, input_shape):
        """(H, W, C, per_replica) of a valid input shape; a one-line ValueError otherwise."""
        shape = tuple(None if d is None else int(d) for d in input_shape)
        per_replica, (height, width, channels) = self.split_replica_input(shape, {3: "H, W, C"}, "a feature map")
        if any(d is None or d < 1 for d in (height, width, channels)):
            want = "(batch, H, W, C)" + ("" if self.replicas is None else " or (batch, replicas, H, W, C)")
            raise ValueError(f"{self.name}: expected a feature map {want} with known H, W, C, got {shape}")
        return height, width, channels, per_replica

    def build(self, input_shape):
        height, width, channels, per_replica = self._check_feature_map(input_shape)
        self.height, self.width, self.channels = height, width, channels
        self._shared_input = self.replicas is not None and not per_replica
        self.build_readout(height, width, channels)
        if self.use_bias:
            self.bias = self.add_replica_weight("bias", (self.units,), self.bias_initializer)

    def build_readout(self, height, width, channels):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        self._check_feature_map(input_shape)
        return self.replicated_shape(input_shape[0], (self.units,))

    # --- penalties -------------------------------------------------------------------------------
    def has_penalty(self):
        """True when `regularizer()` can be non-zero (then `call` adds it to the losses)."""
        return False

    def penalty_terms(self, r):
        """The penalty of replica r (r = None for a lone layer) as a scalar tensor."""
        return ops.convert_to_tensor(0.0, dtype=self.variable_dtype)

    def regularizer(self):
        """The readout-specific penalty (a scalar tensor), summed over replicas.

        It acts on the weights as used in the forward pass (after positivity/normalisation) and
        is added to the layer's losses by `call` (not through Keras weight regularizers).
        """
        if not self.built:
            raise ValueError(f"{self.name}: regularizer() needs a built layer (call it on a feature map first)")
        if self.replicas is None:
            return self.penalty_terms(None)
        total = self.penalty_terms(0)
        for r in range(1, self.replicas):
            total = total + self.penalty_terms(r)
        return total

    # --- forward ---------------------------------------------------------------------------------
    def readout(self, inputs, training):
        raise NotImplementedError

    def call(self, inputs, training=False):
        inputs = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        y = self.readout(inputs, training)
        if self.use_bias:
            y = y + ops.cast(self.bias, self.compute_dtype)
        if self.has_penalty():
            self.add_loss(self.regularizer())
        return self.activation(y)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        })
        return config


class FeatureVectorReadout(Readout):
    """A readout that reads one feature vector per neuron and weights it by `features` (C, units).

    The Gaussian and point readouts: subclasses provide `features`, `positive`,
    `feature_regularizer` and the bound `_feature_penalty`; the penalty acts on the features as
    used (clipped at 0 when `positive`).
    """

    def effective_features(self):
        return ops.maximum(self.features, 0.0) if self.positive else self.features

    def has_penalty(self):
        return self.feature_regularizer is not None

    def penalty_terms(self, r):
        return self._feature_penalty(_replica(self.effective_features(), r))


def _replica(weight, r):
    """Replica r's slice of a stacked weight (the weight itself for a lone layer, r = None)."""
    return weight if r is None else weight[r]
