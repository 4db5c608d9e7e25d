"""NDN3's 'conv' layer: a 2-D convolution (NHWC, SAME padding), optionally replicated over seeds."""

import numpy as np
import keras
import tensorflow as tf
from keras import ops

from ndnx.layers.replicas import ReplicatedLayer
from ndnx.regularizers import bind_regularizer
from ndnx.registry import register

__all__ = ["Conv2D", "replica_conv2d", "conv_output_length", "conv_output_shape", "conv_config",
           "bias_and_activation"]

PADDINGS = ("same", "valid")

# Per-replica inputs (batch, R, H, W, C) with per-replica kernels (R, kh, kw, C, F) are convolved
# replica by replica. A grouped conv (replicas folded into channels, feature_group_count = R) is
# correct but, on a 2-core CPU, slower without XLA and ruinous with it: forward + backward of
# R = 10, batch 16, 31×31×16 → 16 maps of 3×3: loop 29 ms, grouped 49 ms; under jit_compile
# (how ndnx trains) loop 45 ms, grouped 4.1 s (XLA lowers grouped convs on the host naively).


def _pair(layer_name, arg, value):
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    try:
        pair = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{layer_name}: {arg} must be an int or a pair of ints, got {value!r}") from None
    if len(pair) != 2 or min(pair) < 1 or pair != tuple(value):
        raise ValueError(f"{layer_name}: {arg} must be a positive int or a pair of positive ints, got {value!r}")
    return pair


def _padding(layer_name, padding):
    if not isinstance(padding, str) or padding.lower() not in PADDINGS:
        raise ValueError(f"{layer_name}: padding must be one of {PADDINGS}, got {padding!r}")
    return padding.lower()


def conv_output_length(length, kernel, stride, dilation, padding):
    """Output length of a conv along one axis: ⌈n/s⌉ (SAME) or ⌈(n − (k−1)·d)/s⌉ (VALID)."""
    if length is None:
        return None
    if padding == "same":
        return -(-int(length) // stride)
    return max(0, -(-(int(length) - (kernel - 1) * dilation) // stride))


def conv_output_shape(layer, input_shape):
    """Output shape of a (replicated) conv layer with filters, kernel_size, strides, dilation_rate, padding."""
    h, w = input_shape[-3], input_shape[-2]
    out = (conv_output_length(h, layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0], layer.padding),
           conv_output_length(w, layer.kernel_size[1], layer.strides[1], layer.dilation_rate[1], layer.padding),
           layer.filters)
    return layer.replicated_shape(input_shape[0], out)


def conv_config(layer):
    """The config entries every conv layer has: filters, geometry, activation, use_bias."""
    return {
        "filters": layer.filters,
        "kernel_size": list(layer.kernel_size),
        "strides": list(layer.strides),
        "padding": layer.padding,
        "dilation_rate": list(layer.dilation_rate),
        "activation": keras.activations.serialize(layer.activation),
        "use_bias": layer.use_bias,
    }


def bias_and_activation(layer, y):
    """activation(y + b) for conv output (batch, H', W', F) or (batch, R, H', W', F)."""
    if layer.use_bias:
        bias = ops.cast(layer.bias, layer.compute_dtype)
        y = y + (bias if layer.replicas is None else bias[:, None, None, :])
    return layer.activation(y)


def replica_conv2d(inputs, kernel, strides, padding, dilation_rate, replicas=None, shared_input=True):
    """2-D convolution with an optional leading replica axis on the kernel.

    kernel: (kh, kw, C, F) or, with `replicas=R`, (R, kh, kw, C, F). inputs: (batch, H, W, C), or
    (batch, R, H, W, C) when `shared_input` is False. Returns (batch, H', W', F) or
    (batch, R, H', W', F); replica r is exactly the lone convolution with kernel[r].
    """
    def conv(x, k):
        # tf.nn.conv2d, not keras.ops.conv: Keras refuses strides > 1 together with dilation > 1,
        # which NDN3 (shift_spacing with dilation) allows.
        return tf.nn.conv2d(x, k, strides=list(strides), padding=padding.upper(),
                            dilations=list(dilation_rate), data_format="NHWC")

    if replicas is None:
        return conv(inputs, kernel)
    kh, kw, c, f = (int(s) for s in kernel.shape[1:])
    if shared_input:
        # One convolution with R·F filters: the replicas share the image.
        k = ops.reshape(ops.transpose(kernel, (1, 2, 3, 0, 4)), (kh, kw, c, replicas * f))
        y = conv(inputs, k)
        y = ops.reshape(y, (-1, y.shape[1], y.shape[2], replicas, f))
        return ops.transpose(y, (0, 3, 1, 2, 4))
    return ops.stack([conv(inputs[:, r], kernel[r]) for r in range(replicas)], axis=1)


def check_image_input(layer, input_shape):
    """(per_replica, (H, W, C)) of an image input, or a ValueError naming the layer."""
    input_shape = tuple(input_shape)
    per_replica, image = layer.split_replica_input(input_shape, {3: "H, W, C"})
    if image[-1] is None:
        raise ValueError(f"{layer.name}: expected a known number of channels, got input shape {input_shape}")
    return per_replica, image


@register("layer")
class Conv2D(ReplicatedLayer):
    """y = activation(x ⋆ W + b): NDN3's 'conv' layer, with an optional axis of replicas.

        z[n, i, j, f] = Σ_{u, v, c} x[n, s·i + d·u − p_h, s·j + d·v − p_w, c] · W[u, v, c, f] + b[f]

    (a cross-correlation, as tf.nn.conv2d; s the stride = NDN3's shift_spacing, d the dilation,
    p the SAME padding offset). Inputs and outputs are NHWC; a following ndnx `Dense` flattens the
    (H', W', F) output in NHWC order, as NDN3 passes F·⌈NX/s⌉·⌈NY/s⌉ flattened values downstream.
    NDN3 defaults: SAME padding, weights N(0, 0.1²) ('normal'), biases zero, linear activation.

    The kernel is stored as (kh, kw, C, F) (replicated: (R, kh, kw, C, F)) and kernel penalties are
    bound to the filter shape (kh, kw, C), so d2x, max_filt, center, ... see each filter's spatial
    layout exactly as on a Dense layer whose input is a kh×kw×C patch (row (u·kw + v)·C + c).

    With `replicas=R` replica r is the lone layer seeded with seeds[r]. A shared input
    (batch, H, W, C) is convolved once with all R·F filters; a per-replica input
    (batch, R, H, W, C) is convolved replica by replica (a grouped convolution is much slower on
    the CPU, above all under XLA; figures in the module source).

    Reference: NDN3 ConvLayer (Butts lab, github.com/NeuroTheoryUMD/NDN3), spec §5.1.

    Args:
        filters: number of output channels F.
        kernel_size, strides, dilation_rate: int or (rows, cols).
        padding: "same" (NDN3) or "valid".
        activation: Keras activation.
        use_bias: add b.
        kernel_initializer: default N(0, 0.1²) (NDN3 'normal'); bias_initializer: default zeros.
        kernel_regularizer, bias_regularizer: Keras/ndnx regularizers (a sum over replicas).
        kernel_constraint: Keras constraint (e.g. `ndnx.constraints.SignMask`, axis −2 = C).
        replicas: None or the number of replicas.
        seed: int, or one int per replica.

    Input: (batch, H, W, C), or with replicas also (batch, R, H, W, C).
    Output: (batch, H', W', F) or (batch, R, H', W', F).

    Example:
        >>> import numpy as np, ndnx
        >>> layer = ndnx.layers.Conv2D(9, 7, strides=2, seed=0)
        >>> tuple(layer(np.zeros((2, 31, 31, 1), "float32")).shape)
        (2, 16, 16, 9)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="same", dilation_rate=1,
                 activation=None, use_bias=True, kernel_initializer=None, bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        if not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"{self.name}: filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(self.name, "kernel_size", kernel_size)
        self.strides = _pair(self.name, "strides", strides)
        self.padding = _padding(self.name, padding)
        self.dilation_rate = _pair(self.name, "dilation_rate", dilation_rate)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(stddev=0.1))
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)

    def build(self, input_shape):
        per_replica, (height, width, channels) = check_image_input(self, input_shape)
        self._shared_input = not per_replica
        channels = int(channels)
        kh, kw = self.kernel_size
        if self.padding == "valid":
            for n, k, d, axis in ((height, kh, self.dilation_rate[0], "height"),
                                  (width, kw, self.dilation_rate[1], "width")):
                if n is not None and int(n) < (k - 1) * d + 1:
                    raise ValueError(
                        f"{self.name}: input {axis} {n} is smaller than the dilated kernel "
                        f"({(k - 1) * d + 1}) with padding='valid'")
        filter_shape = (kh, kw, channels)
        self._kernel_penalty = bind_regularizer(self.kernel_regularizer, filter_shape, self.name)
        self._bias_penalty = bind_regularizer(
            self.bias_regularizer, (self.filters,), f"{self.name} (bias_regularizer)")
        self.kernel = self.add_replica_weight(
            "kernel", filter_shape + (self.filters,), self.kernel_initializer,
            regularizer=self._kernel_penalty, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_replica_weight("bias", (self.filters,), self.bias_initializer,
                                                regularizer=self._bias_penalty)

    def call(self, inputs):
        inputs = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        kernel = ops.cast(self.kernel, self.compute_dtype)
        y = replica_conv2d(inputs, kernel, self.strides, self.padding, self.dilation_rate,
                           self.replicas, self._shared_input)
        return bias_and_activation(self, y)

    def compute_output_shape(self, input_shape):
        return conv_output_shape(self, input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            **conv_config(self),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
        })
        return config

