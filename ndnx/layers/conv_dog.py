"""Convolutional difference-of-Gaussians filters (the thesis fork's 'conv_diff_of_gaussians')."""

import warnings

import numpy as np
import keras
from keras import ops

from ndnx.layers.conv import (_padding, _pair, bias_and_activation, check_image_input, conv_config,
                              conv_output_shape, replica_conv2d)
from ndnx.layers.dog import (PARAM_ROWS, DoGInitializer, check_sigma_bounds, clip_dog_parameters, dog_box,
                             dog_kernel_grid, dog_sigma_upper_bound)
from ndnx.layers.replicas import ReplicatedLayer
from ndnx.registry import register

__all__ = ["ConvDifferenceOfGaussians"]


@register("layer")
class ConvDifferenceOfGaussians(ReplicatedLayer):
    """Parametric DoG filters on a kh×kw grid, convolved over the image.

    The six parameters per filter are those of `DifferenceOfGaussians` (α1, σ1, μx, μy, α2, σ2;
    σ a variance, surround variance σ1 + σ2, clipped in the forward pass), but the kernel lives on
    the filter grid, columns x = 0..kw−1 and rows y = 0..kh−1:

        K_f(x, y) = G(x, y; α1, σ1) − G(x, y; α2, σ1 + σ2),
        G(x, y; a, s) = a · exp(−((x − μx)² + (y − μy)²) / (2s)) / (2π s)
        z[n, i, j, f] = Σ_{u, v, c} x[n, s·i + d·u − p, s·j + d·v − p, c] · K_f(v, u) + b_f

    i.e. the kernel [kh, kw, C_in, F] is the same for every input channel, applied with conv2d
    (SAME padding by default, stride = NDN3's shift_spacing, optional dilation). Because the
    kernel is shared by the channels, the layer sums the channels first and convolves one plane.

    Parameter boxes (ndnx defaults differ from the fork; the original is behind an argument):
      - μ: the fork clips μ to (2, kw − 2) × (2, kh − 2), which is degenerate for small filters
        (kw = 3 gives (2, 1)). ndnx's default is the whole grid, μx ∈ [0, kw − 1],
        μy ∈ [0, kh − 1]. `mu_bounds="ndn3"` gives the fork's box; when it is degenerate the layer
        warns and keeps the original's clip (tf.clip_by_value = minimum then maximum), which pins
        every centre at 2 with zero gradient — one reason the thesis saw 3-px conv-DoGs fail.
        An explicit `mu_bounds=(lo, hi)` applies to both axes and must have lo ≤ hi.
      - σ: default (1, max(1, int(0.82·max(kh, kw)))) from the filter size, as the fork; explicit
        `sigma_bounds=(lo, hi)`; `(1, 1)` pins every σ to 1 (the fork's final state for the
        non-conv DoG), with zero gradient.
    Initialisation is `DoGInitializer` over the box (α ~ U(ε, alpha_max), σ and μ uniform;
    `faithful_mu_y_offset=True` adds the original's +2 to μy).

    Reference: Antolík J. et al. (2016), PLoS Comput Biol 12(6): e1004927 (DoG model); the
    convolutional layer is from the MSc thesis fork of NDN3 (spec §3.2).

    Args:
        filters: number of DoG filters F.
        kernel_size, strides, dilation_rate: int or (rows, cols).
        padding: "same" (NDN3) or "valid".
        activation, use_bias, bias_initializer: as in `Conv2D`.
        sigma_bounds, mu_bounds, faithful_mu_y_offset: see above.
        constrained: keep the stored parameters inside their box (as `DifferenceOfGaussians`).
        alpha_max: upper end of the α initialisation range (not a clip).
        replicas: None or the number of replicas; seed: int, or one int per replica.

    Input: (batch, H, W, C), or with replicas also (batch, R, H, W, C).
    Output: (batch, H', W', F) or (batch, R, H', W', F).

    Example:
        >>> import numpy as np, ndnx
        >>> layer = ndnx.layers.ConvDifferenceOfGaussians(4, 7, strides=2, seed=0)
        >>> tuple(layer(np.zeros((2, 31, 31, 1), "float32")).shape)
        (2, 16, 16, 4)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="same", dilation_rate=1,
                 activation=None, use_bias=True, sigma_bounds=None, mu_bounds=None,
                 faithful_mu_y_offset=False, alpha_max=10.0, constrained=False, bias_initializer="zeros",
                 replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        self.constrained = bool(constrained)
        if not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"{self.name}: filters must be a positive int, got {filters!r}")
        sigma_bounds = check_sigma_bounds(self.name, sigma_bounds)
        if mu_bounds is not None and not (isinstance(mu_bounds, str) and mu_bounds == "ndn3"):
            try:
                box = tuple(float(m) for m in mu_bounds)
                ok = len(box) == 2 and box[0] <= box[1]
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(
                    f"{self.name}: mu_bounds must be None, 'ndn3' or (lo, hi) with lo <= hi, got {mu_bounds!r}")
            mu_bounds = box
        self.filters = int(filters)
        self.kernel_size = _pair(self.name, "kernel_size", kernel_size)
        self.strides = _pair(self.name, "strides", strides)
        self.padding = _padding(self.name, padding)
        self.dilation_rate = _pair(self.name, "dilation_rate", dilation_rate)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.sigma_bounds = sigma_bounds
        self.mu_bounds = mu_bounds
        self.faithful_mu_y_offset = bool(faithful_mu_y_offset)
        self.alpha_max = float(alpha_max)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        kh, kw = self.kernel_size
        if mu_bounds is None:
            self._mu_x, self._mu_y = (0.0, kw - 1.0), (0.0, kh - 1.0)
        elif mu_bounds == "ndn3":
            self._mu_x, self._mu_y = (2.0, kw - 2.0), (2.0, kh - 2.0)
            if self._mu_x[0] > self._mu_x[1] or self._mu_y[0] > self._mu_y[1]:
                warnings.warn(
                    f"{self.name}: mu_bounds='ndn3' on a {kh}×{kw} filter is the empty box "
                    f"x ∈ [2, {kw - 2}], y ∈ [2, {kh - 2}]; as in NDN3 every centre is clipped to 2 "
                    f"(tf.clip_by_value) and gets no gradient", stacklevel=2)
        else:
            self._mu_x = self._mu_y = mu_bounds
        self._sigma = sigma_bounds or (1.0, max(1.0, dog_sigma_upper_bound(kh, kw)))

    def build(self, input_shape):
        per_replica, _ = check_image_input(self, input_shape)
        self._shared_input = not per_replica
        kh, kw = self.kernel_size
        if self.padding == "valid":
            for n, k, d, axis in ((input_shape[-3], kh, self.dilation_rate[0], "height"),
                                  (input_shape[-2], kw, self.dilation_rate[1], "width")):
                if n is not None and int(n) < (k - 1) * d + 1:
                    raise ValueError(
                        f"{self.name}: input {axis} {n} is smaller than the dilated kernel "
                        f"({(k - 1) * d + 1}) with padding='valid'")
        # DoGInitializer draws μx ~ U(m, W − m): m = lo, W = lo + hi gives U(lo, hi).
        lo = min(self._mu_x[0], self._mu_x[1], self._mu_y[0], self._mu_y[1])
        x_hi, y_hi = max(self._mu_x[1], lo), max(self._mu_y[1], lo)
        init = DoGInitializer(lo + y_hi, lo + x_hi, self._sigma, self.alpha_max, lo,
                              self.faithful_mu_y_offset)
        box = dog_box(self._sigma, self._mu_x, self._mu_y, self.alpha_max) if self.constrained else None
        self.dog = self.add_replica_weight("dog", (len(PARAM_ROWS), self.filters), init, constraint=box)
        if self.constrained:
            self.dog.assign(box(self.dog))
        if self.use_bias:
            self.bias = self.add_replica_weight("bias", (self.filters,), self.bias_initializer)

    def clipped_parameters(self):
        """The parameters as the forward pass uses them: a dict of (…, F) tensors."""
        return clip_dog_parameters(self.dog, self._sigma, self._mu_x, self._mu_y)

    def kernels(self):
        """The kernels on the filter grid: (kh, kw, F) or (kh, kw, replicas, F)."""
        kh, kw = self.kernel_size
        return dog_kernel_grid(self.clipped_parameters(), kh, kw, self.dog.dtype)

    def call(self, inputs):
        inputs = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        plane = ops.sum(inputs, axis=-1, keepdims=True)  # one kernel for every channel
        k = ops.cast(self.kernels(), self.compute_dtype)
        if self.replicas is None:
            k = k[:, :, None, :]  # (kh, kw, 1, F)
        else:
            k = ops.transpose(k, (2, 0, 1, 3))[:, :, :, None, :]  # (R, kh, kw, 1, F)
        y = replica_conv2d(plane, k, self.strides, self.padding, self.dilation_rate,
                           self.replicas, self._shared_input)
        return bias_and_activation(self, y)

    def compute_output_shape(self, input_shape):
        return conv_output_shape(self, input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            **conv_config(self),
            "sigma_bounds": None if self.sigma_bounds is None else list(self.sigma_bounds),
            "mu_bounds": self.mu_bounds if self.mu_bounds in (None, "ndn3") else list(self.mu_bounds),
            "faithful_mu_y_offset": self.faithful_mu_y_offset,
            "constrained": self.constrained,
            "alpha_max": self.alpha_max,
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        })
        return config
