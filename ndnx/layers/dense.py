"""NDN3's 'normal' layer: an affine map and an activation, optionally replicated over seeds."""

import numpy as np
import keras
from keras import ops

from ndnx.layers.replicas import ReplicatedLayer
from ndnx.regularizers import bind_regularizer
from ndnx.registry import register

__all__ = ["Dense"]


NORMALIZATIONS = (None, "l2", "max_norm")


@register("layer")
class Dense(ReplicatedLayer):
    """y = activation(x W + b), with an optional axis of independent replicas.

    With `replicas=R` the kernel is (R, in, out) and replica r maps its own slice of a
    (batch, R, in) input, or the shared (batch, in) input, to (batch, R, out): R independent
    dense layers in one einsum, each initialised as a lone `Dense(seed=seeds[r])`.

    Spatial input: (batch, H, W, C) (or, replicated, (batch, R, H, W, C) or the shared
    (batch, H, W, C)) is flattened NHWC, as NDN3 flattens its inputs: the kernel row of input
    entry (y, x, c) is (y·W + x)·C + c, the channel (or lag) fastest. The layer then binds its
    kernel regularizer to the filter shape (H, W, C) (`ndnx.regularizers.bind_regularizer`), so
    spatial penalties (d2x, max_filt, center, ...) know the layout; on a flat input they raise.

    Args:
        units: output size.
        activation: Keras activation (NDN3 default 'lin' = None).
        use_bias: add b.
        kernel_initializer, bias_initializer: Keras initializers (NDN3 'normal' = N(0, 0.1²)).
        kernel_regularizer, bias_regularizer: Keras/ndnx regularizers (on the whole replicated
            weight a sum over replicas, so each replica's gradient is its own). The config keeps
            the regularizer as given; `build` binds spatial ndnx penalties to the input's
            filter shape.
        kernel_constraint, bias_constraint: Keras constraints.
        normalize: None, "l2" or "max_norm" — NDN3's normalize_weights 0 / 1 / −1: the forward
            pass uses every unit's weight vector (kernel column) w divided by ‖w‖₂ ("l2",
            NDN3's tf.nn.l2_normalize, ε = 1e-12 on ‖w‖²) or by max(1, ‖w‖₂) ("max_norm"). The
            kernel penalty then acts on the weights as used (the normalised ones).
        replicas: None or the number of replicas.
        seed: int, or one int per replica.

    Example:
        >>> import numpy as np, ndnx
        >>> tuple(ndnx.layers.Dense(3, replicas=4, seed=0)(np.ones((2, 5), "float32")).shape)
        (2, 4, 3)
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer=None, bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, normalize=None, replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"{self.name}: normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.normalize = normalize
        if not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{self.name}: units must be a positive int, got {units!r}")
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(stddev=0.1))
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        per_replica, feature_shape = self.split_replica_input(input_shape, {1: "features", 3: "H, W, C"})
        if any(d is None for d in feature_shape):
            raise ValueError(f"{self.name}: expected known feature dimensions, got input shape {input_shape}")
        self._shared_input = self.replicas is not None and not per_replica
        self._spatial = len(feature_shape) == 3
        in_dim = int(np.prod(feature_shape))
        self._in_dim = in_dim
        # Spatial penalties learn the filter layout here; on a flat input they raise.
        filter_shape = tuple(int(d) for d in feature_shape)
        self._kernel_penalty = bind_regularizer(self.kernel_regularizer, filter_shape, self.name)
        self._bias_penalty = bind_regularizer(
            self.bias_regularizer, (self.units,), f"{self.name} (bias_regularizer)")
        # Without normalisation the penalty is an ordinary weight regularizer; with it, `call`
        # adds the penalty of the normalised kernel (the weights the forward pass uses).
        self.kernel = self.add_replica_weight(
            "kernel", (in_dim, self.units), self.kernel_initializer,
            regularizer=None if self.normalize else self._kernel_penalty, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_replica_weight(
                "bias", (self.units,), self.bias_initializer,
                regularizer=self._bias_penalty, constraint=self.bias_constraint)

    def effective_kernel(self):
        """The kernel as the forward pass uses it: (in, units) or (R, in, units)."""
        kernel = self.kernel
        if self.normalize is None:
            return kernel
        norm = ops.sqrt(ops.maximum(ops.sum(ops.square(kernel), axis=-2, keepdims=True), 1e-12))
        if self.normalize == "max_norm":
            norm = ops.maximum(norm, 1.0)
        return kernel / norm

    def call(self, inputs):
        if self._spatial:  # NHWC flattening: row (y·W + x)·C + c
            shape = (-1, self.replicas, self._in_dim) if self.replicas is not None and not self._shared_input \
                else (-1, self._in_dim)
            inputs = ops.reshape(inputs, shape)
        kernel = self.effective_kernel()
        if self.normalize is not None and self._kernel_penalty is not None:
            if self.replicas is None:
                self.add_loss(self._kernel_penalty(kernel))
            else:
                self.add_loss(sum(self._kernel_penalty(kernel[r]) for r in range(self.replicas)))
        kernel = ops.cast(kernel, self.compute_dtype)
        if self.replicas is None:
            y = ops.matmul(inputs, kernel)
        elif self._shared_input:
            y = ops.einsum("bi,rio->bro", inputs, kernel)
        else:
            y = ops.einsum("bri,rio->bro", inputs, kernel)
        if self.use_bias:
            y = y + ops.cast(self.bias, self.compute_dtype)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return self.replicated_shape(input_shape[0], (self.units,))

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "normalize": self.normalize,
        })
        return config
