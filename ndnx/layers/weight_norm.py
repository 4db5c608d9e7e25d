"""Weight-normalised convolution and dense layers with PyTorch-compatible geometry (CordsNet).

Weight normalisation (Salimans & Kingma 2016) writes every kernel as a direction v and a gain g per
output unit,

    W[..., f] = g[f] · v[..., f] / ‖v[..., f]‖,

the norm taken over all axes but the last (axes (0, 1, 2) of a (kh, kw, C, F) conv kernel, axis 0 of a
(in, out) dense kernel). This is PyTorch's `nn.utils.parametrizations.weight_norm(dim=0)` in Keras layout,
which CordsNet (Soo, Battista, Radmard, Wang, NeurIPS 2024; spec cordsnet.md §1.3, §8.1–8.2) puts on every
convolution and on its readout. At construction g = ‖v‖, so W = v, as PyTorch does when it wraps a layer.

Geometry follows PyTorch (spec §8.1): an int `padding` p pads p zeros on every side and then convolves
'valid' (TF's 'same' pads asymmetrically at stride 2); 'same' is accepted only for stride 1 and odd
kernels, where both frameworks agree.
"""

import numpy as np
import keras
import tensorflow as tf
from keras import ops

from ndnx.layers.replicas import ReplicatedLayer
from ndnx.registry import register

__all__ = ["WeightNormConv2D", "WeightNormDense", "pytorch_default_initializer", "weight_norm_kernel"]


def pytorch_default_initializer():
    """U(−1/√fan_in, 1/√fan_in): PyTorch's default for Conv2d and Linear weights (kaiming_uniform, a=√5)."""
    return keras.initializers.VarianceScaling(scale=1.0 / 3.0, mode="fan_in", distribution="uniform")


def weight_norm_kernel(g, v):
    """g · v / ‖v‖ with the norm over every axis of v but the last (the output units)."""
    axes = tuple(range(len(v.shape) - 1))
    return v * (g / ops.sqrt(ops.sum(ops.square(v), axis=axes)))


def _check_lone(layer, replicas):
    if replicas is not None:
        raise ValueError(f"{layer}: replicas must be None (weight-normed layers are not replicated), got {replicas!r}")


def _int_pair(layer_name, arg, value, minimum):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        pair = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{layer_name}: {arg} must be an int or a pair of ints, got {value!r}") from None
    if len(pair) != 2 or min(pair) < minimum:
        raise ValueError(f"{layer_name}: {arg} must be an int ≥ {minimum} or a pair of them, got {value!r}")
    return pair


@register("layer")
class WeightNormConv2D(ReplicatedLayer):
    """y = x ⋆ W with W = g · v / ‖v‖ (no bias), PyTorch geometry (module docstring).

        y[n, i, j, f] = Σ_{u, v, c} x_pad[n, s·i + u, s·j + v, c] · W[u, v, c, f],

    x_pad being x with `padding` zeros on every side (or TF 'same' at stride 1). Spec cordsnet.md §1.3,
    §8.1: CordsNet's 7×7/s2/p3 stem, 3×3/s1/p1 recurrent and 3×3/s{1,2}/p1 feedforward convolutions and
    1×1/s2/p0 skips.

    Args:
        filters: output channels F.
        kernel_size, strides: int or (rows, cols).
        padding: int or (rows, cols) of symmetric zero padding, or "same" (stride 1, odd kernel only).
        weight_norm: keep g (F,) and v (kh, kw, C, F); False keeps one plain `kernel` (kh, kw, C, F).
        trainable_gain: train g (default). False freezes it, e.g. for a conv followed by batch norm,
            which divides any per-channel scale out so g gets no gradient (the BN's γ carries it).
        kernel_initializer: of v (or the kernel); default PyTorch's U(±1/√fan_in) (`DiracInitializer`
            for an identity start).
        replicas: must be None. seed: int or None.

    Example:
        >>> import numpy as np, ndnx
        >>> conv = ndnx.layers.WeightNormConv2D(4, 7, strides=2, padding=3, seed=0)
        >>> tuple(conv(np.zeros((1, 224, 224, 3), "float32")).shape)
        (1, 112, 112, 4)
    """

    def __init__(self, filters, kernel_size, strides=1, padding=0, weight_norm=True, kernel_initializer=None,
                 trainable_gain=True, replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        _check_lone(self.name, replicas)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"{self.name}: filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = _int_pair(self.name, "kernel_size", kernel_size, 1)
        self.strides = _int_pair(self.name, "strides", strides, 1)
        if isinstance(padding, str):
            if padding.lower() != "same":
                raise ValueError(f"{self.name}: padding must be an int ≥ 0, a pair of them or 'same', got {padding!r}")
            if self.strides != (1, 1) or self.kernel_size[0] % 2 == 0 or self.kernel_size[1] % 2 == 0:
                raise ValueError(f"{self.name}: padding='same' needs stride 1 and an odd kernel (TF pads asymmetrically "
                                 f"otherwise), got strides {self.strides} and kernel_size {self.kernel_size}")
            self.padding = "same"
        else:
            self.padding = _int_pair(self.name, "padding", padding, 0)
        self.weight_norm = bool(weight_norm)
        self.trainable_gain = bool(trainable_gain)
        self.kernel_initializer = keras.initializers.get(kernel_initializer or pytorch_default_initializer())

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or len(input_shape) != 4:
            raise ValueError(f"{self.name}: expected inputs (batch, H, W, C) with known C, got {tuple(input_shape)}")
        shape = self.kernel_size + (int(channels), self.filters)
        if self.weight_norm:
            self.v = self.add_replica_weight("v", shape, self.kernel_initializer)
            self.g = self.add_weight(name="g", shape=(self.filters,), initializer="ones", trainable=self.trainable_gain)
            self.g.assign(ops.sqrt(ops.sum(ops.square(self.v), axis=(0, 1, 2))))
        else:
            self.kernel = self.add_replica_weight("kernel", shape, self.kernel_initializer)

    def folded_kernel(self):
        """The effective kernel W (kh, kw, C, F): g · v / ‖v‖, or the plain kernel."""
        if self.weight_norm:
            return weight_norm_kernel(self.g, self.v)
        return tf.convert_to_tensor(self.kernel)

    def convolve(self, x, kernel):
        """x ⋆ kernel with this layer's strides and padding (kernel e.g. from `folded_kernel`)."""
        if self.padding == "same":
            return tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
        ph, pw = self.padding
        if ph or pw:
            x = tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]])
        return tf.nn.conv2d(x, kernel, strides=list(self.strides), padding="VALID")

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        return self.convolve(x, ops.cast(self.folded_kernel(), self.compute_dtype))

    def output_size(self, height, width):
        """(H', W') of an input (H, W): ⌊(n + 2p − k)/s⌋ + 1 (n for 'same')."""
        if self.padding == "same":
            return int(height), int(width)
        return tuple((int(n) + 2 * p - k) // s + 1
                     for n, p, k, s in zip((height, width), self.padding, self.kernel_size, self.strides))

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        if h is None or w is None:
            return (input_shape[0], None, None, self.filters)
        return (input_shape[0],) + self.output_size(h, w) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding if self.padding == "same" else list(self.padding),
            "weight_norm": self.weight_norm,
            "trainable_gain": self.trainable_gain,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })
        return config


@register("layer")
class WeightNormDense(ReplicatedLayer):
    """y = x W + b with W = g · v / ‖v‖ (norm over the inputs, axis 0): CordsNet's readout (spec §1.3).

    Args:
        units: outputs.
        use_bias: add b (units,).
        weight_norm: keep g (units,) and v (in, units); False keeps a plain `kernel` (in, units).
        trainable_gain: train g (default); False freezes it.
        kernel_initializer, bias_initializer: default PyTorch's U(±1/√fan_in) for both.
        replicas: must be None. seed: int or None.

    Example:
        >>> import numpy as np, ndnx
        >>> dense = ndnx.layers.WeightNormDense(3, seed=0)
        >>> tuple(dense(np.ones((2, 5), "float32")).shape)
        (2, 3)
    """

    def __init__(self, units, use_bias=True, weight_norm=True, kernel_initializer=None, bias_initializer=None,
                 trainable_gain=True, replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        _check_lone(self.name, replicas)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{self.name}: units must be a positive int, got {units!r}")
        self.units = int(units)
        self.use_bias = bool(use_bias)
        self.weight_norm = bool(weight_norm)
        self.trainable_gain = bool(trainable_gain)
        self.kernel_initializer = keras.initializers.get(kernel_initializer or pytorch_default_initializer())
        self.bias_initializer = keras.initializers.get(bias_initializer) if bias_initializer is not None else None

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"{self.name}: expected a known number of input features, got {tuple(input_shape)}")
        features = int(features)
        shape = (features, self.units)
        if self.weight_norm:
            self.v = self.add_replica_weight("v", shape, self.kernel_initializer)
            self.g = self.add_weight(name="g", shape=(self.units,), initializer="ones", trainable=self.trainable_gain)
            self.g.assign(ops.sqrt(ops.sum(ops.square(self.v), axis=0)))
        else:
            self.kernel = self.add_replica_weight("kernel", shape, self.kernel_initializer)
        if self.use_bias:
            bound = 1.0 / np.sqrt(features)
            initializer = self.bias_initializer or keras.initializers.RandomUniform(-bound, bound)
            self.bias = self.add_replica_weight("bias", (self.units,), initializer)

    def folded_kernel(self):
        """The effective kernel W (in, units)."""
        if self.weight_norm:
            return weight_norm_kernel(self.g, self.v)
        return tf.convert_to_tensor(self.kernel)

    def apply_kernel(self, x, kernel):
        """x · kernel (+ b)."""
        y = ops.matmul(x, kernel)
        return y + self.bias if self.use_bias else y

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        return self.apply_kernel(x, ops.cast(self.folded_kernel(), self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "use_bias": self.use_bias,
            "weight_norm": self.weight_norm,
            "trainable_gain": self.trainable_gain,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": (None if self.bias_initializer is None
                                 else keras.initializers.serialize(self.bias_initializer)),
        })
        return config
