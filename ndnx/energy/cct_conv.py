"""CCTConv: NRF-LV's "CCTLayer" — a convolution, a transposed convolution, or both concatenated.

Spec energy_sampling_nrflv.md §1.2. For an input x (batch, H, W, C_in) and `filters` F:

    mode "conv":  y = x ⋆ W + b                                   (F channels)
    mode "convT": y = x ⋆ᵀ W + b  (stride-1 transposed convolution, F channels)
    mode "cct":   y = [x ⋆ W₁ + b₁ ; x ⋆ᵀ W₂ + b₂]                  (F/2 channels each, concatenated)

PyTorch geometry with the original's padding rule: an explicit padding of 0 is kept; kernels 1, 3, 7
and 11 otherwise get the size-preserving padding 0, 1, 3, 5; any other kernel uses the padding given
(its half-width when none is given). A stride-1 transposed convolution with padding p is the
convolution of x padded by k − 1 − p with the kernel flipped in space; its kernel is stored as
PyTorch stores it, (kh, kw, F, C_in) in Keras order, so weight norm (dim 0 in PyTorch) normalises it
per *input* channel, while an ordinary convolution's kernel is normalised per output channel.

`fft=True` computes a size-preserving stride-1 convolution in the Fourier domain: the same result to
float32 rounding (in half precision, by the DFT way below, to about 0.5 % relative in L2 norm, against
0.3 % for the direct half-precision convolution). For an H-row map and a kernel of half-width p the
transform needs only N ≥ H + p points (wrap-around then lands outside the kept rows). Two ways, chosen
by the batch size, which is static inside a sampler's loop, and the dtype:

* DFTs as matrix products at exactly N = H + p (`dft_correlate`), from `DFT_MIN_BATCH` (2) examples
  on, for an unknown batch and in half precision: along H by one product per example on the NHWC map,
  along W per example and frequency, the channel mixing per frequency as one real product of [Re | Im]
  blocks, and back the same way — two real transposes, no padding, no slicing;
* for a single float32 or float64 example, 2-D real FFTs at N rounded up to a 7-smooth size
  (`fft_size`: 35 for a 7×7 kernel on 32×32 maps, 40 for 11×11), channels mixed per frequency between
  transposes to and from (frequency, batch, channel) order.

On this 2-core CPU (interleaved runs in one process, thesis sampler, float32) the DFTs make the step
26–29 % faster at batch 8 (27 vs 36 ms quiet, 46 vs 59 ms with a matrix-product load beside it), 20 %
at batch 4, 9–13 % at batch 32, 21 % at batch 128; equal at batch 2, 29 % slower at batch 1.

Inside `constant_weights()` (a sampler's loop, where the kernels do not change) the kernels' spectra
are computed once on entry instead of at every call. CPU-ms for one forward correlation, 32×32×32 →
32 channels, batch 32 (8), FFT way: 7×7 direct 43 (11.6), FFT with the spectrum cached 24 (6); 11×11
direct 105 (27), FFT at the full H + k − 1 = 42 points with the kernel transformed per call 39 (19),
N = 40 cached 26 (7).

`stride` > 1 is the exact fusion of a size-preserving convolution followed by NRF-LV's nearest
subsampling by an integer factor (PyTorch's nearest picks source pixel ⌊i·H/H'⌋ = s·i): only the
kept pixels are computed.

Example:
    >>> import numpy as np
    >>> from ndnx.energy.cct_conv import CCTConv
    >>> conv = CCTConv(4, 7, mode="cct", seed=0)
    >>> tuple(conv(np.zeros((2, 8, 8, 3), "float32")).shape)
    (2, 8, 8, 4)
"""

import contextlib
import functools
import threading

import keras
import numpy as np
import tensorflow as tf

from ndnx.layers.weight_norm import weight_norm_kernel
from ndnx.seeding import derive_seed

__all__ = ["CCTConv", "cct_padding", "dft_correlate", "fft_conv_same", "fft_size", "kernel_dft_spectrum",
           "kernel_spectrum", "same_conv", "bias_add", "CCT_MODES", "DFT_MIN_BATCH", "HALF_DTYPES"]

CCT_MODES = ("conv", "convT", "cct")
HALF_DTYPES = (tf.bfloat16, tf.float16)


def cct_padding(kernel, padding):
    """The padding NRF-LV's CCTLayer uses for `kernel` when asked for `padding` (None: not given)."""
    if padding == 0:
        return 0
    if kernel in (1, 3, 7, 11):
        return (kernel - 1) // 2
    return (kernel - 1) // 2 if padding is None else int(padding)


def _adjoint(kernel):
    # the kernel whose size-preserving correlation is the adjoint of `kernel`'s: flipped in space, in ↔ out
    return tf.transpose(tf.reverse(kernel, axis=(0, 1)), (0, 1, 3, 2))


# Below this many input channels the input gradient stays TF's Conv2DBackpropInput (its output is thin,
# where the forward op is the slower one: 3 → 32 channels, 7×7, 32×32, batch 32: 15 vs 21 CPU-ms).
FORWARD_GRADIENT_MIN_CHANNELS = 8


@tf.custom_gradient
def same_conv(x, kernel):
    """tf.nn.conv2d(x, kernel, 1, "SAME") for an odd kernel, with its input gradient as a forward convolution.

    The input gradient of a stride-1 size-preserving correlation is the same correlation of dy with the
    flipped, transposed kernel. On the CPU, oneDNN's forward convolution computes it much faster than
    TF's Conv2DBackpropInput (batch 32, 32×32 maps, CPU-ms: 7×7 32→32 channels 46 vs 65, 32→3 11 vs 46;
    8×8 maps 3.6 vs 9.1), and the sampler's every step is one such backward pass.
    """

    def grad(dy):
        if kernel.shape[2] >= FORWARD_GRADIENT_MIN_CHANNELS:
            dx = tf.nn.conv2d(dy, _adjoint(kernel), strides=1, padding="SAME")
        else:
            dx = tf.compat.v1.nn.conv2d_backprop_input(tf.shape(x), kernel, dy, [1, 1, 1, 1], "SAME")
        return dx, tf.compat.v1.nn.conv2d_backprop_filter(x, tf.shape(kernel), dy, [1, 1, 1, 1], "SAME")

    return tf.nn.conv2d(x, kernel, strides=1, padding="SAME"), grad


def bias_add(y, bias):
    """tf.nn.bias_add(y, bias) for maps in any precision; for half-precision maps the bias gradient is summed in
    float32 (TF's half-precision BiasAddGrad accumulates in the half precision: 2–8 % off over the 256
    positions of a batch of four 8×8 maps, where summing in float32 leaves the maps' own rounding, < 1 %)."""
    if y.dtype not in HALF_DTYPES:
        return tf.nn.bias_add(y, tf.cast(bias, y.dtype))

    @tf.custom_gradient
    def add(y, bias):
        def grad(dy):
            return dy, tf.cast(tf.reduce_sum(tf.cast(dy, tf.float32), axis=tuple(range(dy.shape.rank - 1))), bias.dtype)

        return tf.nn.bias_add(y, tf.cast(bias, y.dtype)), grad

    return add(y, bias)


def fft_size(n, half_width):
    """The smallest 7-smooth integer ≥ n + half_width: enough FFT points for a size-preserving correlation of
    an n-point signal with a kernel of that half-width (the wrap-around falls outside the kept points)."""
    size = int(n) + int(half_width)
    while True:
        rest = size
        for prime in (2, 3, 5, 7):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return size
        size += 1


def _fft_shape(height, width, k):
    return [fft_size(height, (k - 1) // 2), fft_size(width, (k - 1) // 2)]


def kernel_spectrum(kernel, height, width):
    """The (P, Q, C_in, F) spectrum with which `fft_conv_same` correlates (height, width) maps with `kernel`
    (k, k, C_in, F): the kernel flipped in space, zero-padded to the FFT size, real-transformed."""
    k = kernel.shape[0]
    size = _fft_shape(height, width, k)
    kt = tf.pad(tf.transpose(tf.reverse(kernel, axis=(0, 1)), (2, 3, 0, 1)),
                [[0, 0], [0, 0], [0, size[0] - k], [0, size[1] - k]])
    return tf.transpose(tf.signal.rfft2d(kt), (2, 3, 0, 1))


def _fft_correlate(x, spectrum, k):
    h, w, p = x.shape[1], x.shape[2], (k - 1) // 2
    size = _fft_shape(h, w, k)
    xt = tf.pad(tf.transpose(x, (0, 3, 1, 2)), [[0, 0], [0, 0], [0, size[0] - h], [0, size[1] - w]])
    xf = tf.transpose(tf.signal.rfft2d(xt), (2, 3, 0, 1))  # (P, Q, batch, C)
    y = tf.signal.irfft2d(tf.transpose(tf.matmul(xf, spectrum), (2, 3, 0, 1)), fft_length=size)
    return tf.transpose(y[:, :, p:p + h, p:p + w], (0, 2, 3, 1))


# From this many examples on, correlations in the Fourier domain take DFTs as matrix products instead of
# FFTs (module docstring; the crossover measured on the thesis sampler at batch 2).
DFT_MIN_BATCH = 2


def _ways(dtype):
    """The ways open to maps of `dtype`: in half precision only the DFTs (TF's FFTs take float32 or float64;
    matrix products are where half precision pays)."""
    return ("dft",) if dtype in HALF_DTYPES else tuple(_WAYS)


def _way(batch, dtype=tf.float32):
    """"fft" for a known batch below `DFT_MIN_BATCH` examples in float32 or float64, else "dft"."""
    return "fft" if dtype not in HALF_DTYPES and batch is not None and batch < DFT_MIN_BATCH else "dft"


@functools.lru_cache(maxsize=None)
def _dft_matrices(height, width, k):
    """The real matrices of `dft_correlate` for (height, width) maps and a k×k kernel, N = H + p points.

    Forward, along H (half spectrum, U = N_H // 2 + 1 frequencies u): rows (u, re/im) of
    [cos, −sin](2π u h / N_H). Along W (all N_W frequencies v) on [Re; Im] rows (re/im, w): rows
    (v, re/im) of the complex product with e^{−2πi v w / N_W}. Back along W: rows (re/im, j) from
    columns (v, re/im) with e^{+2πi v j / N_W}, only the W kept columns j. Back along H: rows i (the H
    kept rows) from columns (u, re/im), each frequency counted twice but 0 and N/2, over N_H·N_W.
    Also the complex phases e^{−2πi u (p − a) / N} of a kernel tap a for `kernel_dft_spectrum`.
    """
    p = (k - 1) // 2
    nh, nw = height + p, width + p
    u, v = np.arange(nh // 2 + 1), np.arange(nw)
    phi_h, phi_w = 2 * np.pi * np.outer(u, np.arange(height)) / nh, 2 * np.pi * np.outer(v, np.arange(width)) / nw
    ch, sh, cw, sw = np.cos(phi_h), np.sin(phi_h), np.cos(phi_w), np.sin(phi_w)
    along_h = np.empty((2 * len(u), height))
    along_h[0::2], along_h[1::2] = ch, -sh
    along_w = np.empty((2 * len(v), 2 * width))
    along_w[0::2, :width], along_w[0::2, width:], along_w[1::2, :width], along_w[1::2, width:] = cw, sw, -sw, cw
    back_w = np.empty((2 * width, 2 * len(v)))
    back_w[:width, 0::2], back_w[:width, 1::2], back_w[width:, 0::2], back_w[width:, 1::2] = cw.T, -sw.T, sw.T, cw.T
    twice = np.where((u == 0) | (2 * u == nh), 1.0, 2.0) / (nh * nw)
    back_h = np.empty((height, 2 * len(u)))
    back_h[:, 0::2], back_h[:, 1::2] = (twice * ch.T), -(twice * sh.T)
    taps = p - np.arange(k)
    phase_h = np.exp(-2j * np.pi * np.outer(u, taps) / nh)
    phase_w = np.exp(-2j * np.pi * np.outer(v, taps) / nw)
    return along_h, along_w, back_w, back_h, phase_h, phase_w


def kernel_dft_spectrum(kernel, height, width):
    """The (U·V, 2 C_in, 2 F) real blocks [[Re, Im], [−Im, Re]] of `kernel`'s spectrum with which
    `dft_correlate` mixes the channels of (height, width) maps ([Re | Im] rows times them give
    [Re | Im] of the complex product)."""
    k, c_in, filters = kernel.shape[0], kernel.shape[2], kernel.shape[3]
    *_, phase_h, phase_w = _dft_matrices(height, width, k)
    complex_dtype = tf.complex128 if kernel.dtype == tf.float64 else tf.complex64  # half kernels: in float32
    spectrum = tf.reshape(tf.einsum("ua,vb,abcf->uvcf", tf.constant(phase_h, complex_dtype),
                                    tf.constant(phase_w, complex_dtype), tf.cast(kernel, complex_dtype)),
                          (-1, c_in, filters))
    re, im = tf.math.real(spectrum), tf.math.imag(spectrum)
    return tf.cast(tf.concat([tf.concat([re, im], -1), tf.concat([-im, re], -1)], 1), kernel.dtype)


def dft_correlate(x, blocks, k):
    """The size-preserving correlation of x (batch, H, W, C) with the kernel whose `kernel_dft_spectrum`
    is `blocks`: DFTs as matrix products, N = H + p points, NHWC in and out."""
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    filters = blocks.shape[-1] // 2
    along_h, along_w, back_w, back_h = (tf.constant(m, x.dtype) for m in _dft_matrices(h, w, k)[:4])
    u, v = along_h.shape[0] // 2, along_w.shape[0] // 2
    b = tf.shape(x)[0]
    z = tf.matmul(along_h, tf.reshape(x, (b, h, w * c)))                   # (B, (u, re/im), (w, c))
    z = tf.matmul(along_w, tf.reshape(z, (b * u, 2 * w, c)))               # (B·U, (v, re/im), c)
    z = tf.transpose(tf.reshape(z, (b, u * v, 2 * c)), (1, 0, 2))          # (U·V, B, [Re | Im])
    y = tf.matmul(z, blocks)                                               # (U·V, B, [Re | Im] of F)
    y = tf.reshape(tf.transpose(y, (1, 0, 2)), (b * u, 2 * v, filters))
    y = tf.matmul(back_w, y)                                               # (B·U, (re/im, j), F)
    y = tf.matmul(back_h, tf.reshape(y, (b, 2 * u, w * filters)))          # (B, i, (j, F))
    return tf.reshape(y, (b, h, w, filters))


# way → (the kernel's spectrum, the correlation that uses it)
_WAYS = {"fft": (kernel_spectrum, _fft_correlate), "dft": (kernel_dft_spectrum, dft_correlate)}


def _spectra(kernel, height, width, way):
    """(forward, adjoint) spectra of `kernel` for the way "fft" or "dft"."""
    spectrum = _WAYS[way][0]
    return spectrum(kernel, height, width), spectrum(_adjoint(kernel), height, width)


def fft_conv_same(x, kernel, spectra=None):
    """tf.nn.conv2d(x, kernel, 1, "SAME") for an odd kernel, in the Fourier domain (no wrap-around): by
    FFTs or, from `DFT_MIN_BATCH` examples on, by DFTs as matrix products (module docstring).

    `spectra`: {"fft": (forward, adjoint), "dft": (forward, adjoint)} spectra computed beforehand
    (`kernel_spectrum` / `kernel_dft_spectrum` of the kernel and of its adjoint, for kernels that stay
    constant over many calls); None computes them here.
    """
    k, h, w = kernel.shape[0], x.shape[1], x.shape[2]
    way = _way(x.shape[0], x.dtype)
    spectrum, correlate = _WAYS[way]

    @tf.custom_gradient
    def conv(x, kernel):
        forward, adjoint = spectra[way] if spectra is not None else (spectrum(kernel, h, w), None)

        def grad(dy):
            # The input gradient of a size-preserving correlation is the size-preserving correlation of dy
            # with the kernel flipped in space and transposed: one more correlation the same way, instead
            # of autodiff through the transforms (masks, tiles, strided-slice gradients: a third of this
            # edge's time in the sampler). The kernel gradient is only needed in training steps, where the
            # direct op is cheap enough.
            dx = correlate(dy, adjoint if adjoint is not None else spectrum(_adjoint(kernel), h, w), k)
            dk = tf.compat.v1.nn.conv2d_backprop_filter(x, tf.shape(kernel), dy, [1, 1, 1, 1], "SAME")
            return dx, dk

        return correlate(x, forward, k), grad

    return conv(x, kernel)


class CCTConv(keras.layers.Layer):
    """See the module docstring. Args: filters, kernel_size (int), padding (int or None), mode
    ("conv", "convT", "cct"), stride (fused nearest subsampling), weight_norm, fft, seed."""

    def __init__(self, filters, kernel_size, padding=None, mode="conv", stride=1, weight_norm=False, fft=False,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in CCT_MODES:
            raise ValueError(f"{self.name}: mode must be one of {', '.join(CCT_MODES)}, got {mode!r}")
        if mode == "cct" and filters % 2:
            raise ValueError(f"{self.name}: mode 'cct' splits the filters in two halves, so they must be even, "
                             f"got {filters}")
        self.filters, self.kernel_size, self.mode = int(filters), int(kernel_size), mode
        self.padding = cct_padding(self.kernel_size, padding)
        self.stride, self.weight_norm, self.fft, self.seed = int(stride), bool(weight_norm), bool(fft), seed
        # inside constant_weights(), per thread (a strategy traces its replicas in threads of their own):
        # .halves [(kernel, padding, bias, {"fft" | "dft": (forward, adjoint)} spectra or None)] and .graph,
        # the graph they live in
        self._constant = threading.local()

    def _init(self, name, fan_in):
        # PyTorch's default U(±1/√fan_in) for kernels and biases alike
        bound = 1.0 / np.sqrt(fan_in)
        return keras.initializers.RandomUniform(-bound, bound, seed=None if self.seed is None
                                                else derive_seed(self.seed, name))

    def _kernel(self, name, shape):
        init = keras.initializers.VarianceScaling(scale=1.0 / 3.0, mode="fan_in", distribution="uniform",
                                                  seed=None if self.seed is None else derive_seed(self.seed, name))
        if not self.weight_norm:
            return (self.add_weight(name=name, shape=shape, initializer=init), None)
        v = self.add_weight(name=name + "_v", shape=shape, initializer=init)
        g = self.add_weight(name=name + "_g", shape=(shape[-1],), initializer="ones")
        g.assign(tf.sqrt(tf.reduce_sum(tf.square(v), axis=(0, 1, 2))))
        return (v, g)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: expected inputs (batch, H, W, C) with known C, got {tuple(input_shape)}")
        c_in, k = int(input_shape[-1]), self.kernel_size
        self._input_hw = tuple(input_shape[1:3])
        half = self.filters // 2 if self.mode == "cct" else self.filters
        fan_in = c_in * k * k
        self.conv_kernel = self.conv_bias = self.convt_kernel = self.convt_bias = None
        if self.mode in ("conv", "cct"):
            self.conv_kernel = self._kernel("conv", (k, k, c_in, half))
            self.conv_bias = self.add_weight(name="conv_bias", shape=(half,), initializer=self._init("conv_bias", fan_in))
        if self.mode in ("convT", "cct"):
            # PyTorch's ConvTranspose2d fan_in is computed from weight.size(1) = out channels
            self.convt_kernel = self._kernel("convT", (k, k, half, c_in))
            self.convt_bias = self.add_weight(name="convT_bias", shape=(half,),
                                              initializer=self._init("convT_bias", half * k * k))

    @staticmethod
    def _folded(pair):
        v, g = pair
        return tf.convert_to_tensor(v) if g is None else weight_norm_kernel(g, v)

    def _uses_fft(self, pad):
        return self.fft and self.stride == 1 and 2 * pad + 1 == self.kernel_size

    def _halves(self):
        """[(kernel in plain-convolution form, padding, bias)] of the convolution and transposed halves: the kernels
        in the compute dtype (weight norm folded in the variables' dtype first), the biases as stored."""
        halves = []
        if self.conv_kernel is not None:
            halves.append((self._folded(self.conv_kernel), self.padding, self.conv_bias))
        if self.convt_kernel is not None:
            kernel = tf.reverse(tf.transpose(self._folded(self.convt_kernel), (0, 1, 3, 2)), axis=(0, 1))
            halves.append((kernel, self.kernel_size - 1 - self.padding, self.convt_bias))
        return [(tf.cast(kernel, self.compute_dtype), pad, tf.convert_to_tensor(bias)) for kernel, pad, bias in halves]

    @contextlib.contextmanager
    def constant_weights(self):
        """Within this scope the weights are taken as constant (a sampler's loop): the plain-form kernels
        (weight norm folded) and the Fourier halves' kernel spectra are computed once on entry, in the graph
        being traced, and every call inside reuses them. Gradients still reach the weights."""
        if not self.built:
            raise ValueError(f"{self.name}: constant_weights() needs a built layer (call it or build it first)")
        h, w = self._input_hw
        known = h is not None and w is not None
        outer = getattr(self._constant, "halves", None), getattr(self._constant, "graph", None)
        self._constant.graph = None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()
        # every open way's spectra: the batch, which picks the way, is seen only at the calls (in a compiled
        # function the unused way's spectra are pruned)
        self._constant.halves = tuple(
            (kernel, pad, bias, {way: _spectra(kernel, h, w, way) for way in _ways(kernel.dtype)}
             if known and self._uses_fft(pad) else None)
            for kernel, pad, bias in self._halves())
        try:
            yield
        finally:
            self._constant.halves, self._constant.graph = outer

    def _constant_halves(self):
        """The halves computed on entering constant_weights(), if this call can use them: same thread, and
        the graph being built is theirs or nested in it (a loop body), or they are eager tensors."""
        halves, graph = getattr(self._constant, "halves", None), getattr(self._constant, "graph", None)
        if halves is None or graph is None:
            return halves
        current = None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()
        while current is not None and current is not graph:
            current = getattr(current, "outer_graph", None)
        return halves if current is not None else None

    def _conv(self, x, kernel, pad, spectra=None):
        if self.stride == 1 and 2 * pad + 1 == self.kernel_size:  # TF's SAME is this padding: no padded copy
            return fft_conv_same(x, kernel, spectra) if self.fft else same_conv(x, kernel)
        if pad:
            x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        return tf.nn.conv2d(x, kernel, strides=self.stride, padding="VALID")

    def call(self, x):
        x = tf.cast(x, self.compute_dtype)
        halves = self._constant_halves()
        if halves is None or (any(half[3] is not None for half in halves) and tuple(x.shape[1:3]) != self._input_hw):
            halves = [(kernel, pad, bias, None) for kernel, pad, bias in self._halves()]
        outputs = [bias_add(self._conv(x, kernel, pad, spectra), bias) for kernel, pad, bias, spectra in halves]
        return outputs[0] if len(outputs) == 1 else tf.concat(outputs, axis=-1)

    def effective_kernel(self):
        """The (k, k, C_in, filters) kernel of the plain convolution this layer applies: weight norm folded,
        the transposed half flipped into convolution form (for looking at learned filters)."""
        return tf.concat([kernel for kernel, _, _ in self._halves()], axis=-1)

    def output_size(self, height, width):
        """(H', W') for an input (H, W) (the transposed half has the same size when the padding preserves it)."""
        return tuple((n + 2 * self.padding - self.kernel_size) // self.stride + 1 for n in (height, width))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.output_size(input_shape[1], input_shape[2]) + (self.filters,)
