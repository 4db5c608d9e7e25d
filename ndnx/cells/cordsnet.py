"""One synchronous Euler step of CordsNet, the continuous-time recurrent convolutional network.

Soo, Battista, Radmard, Wang (NeurIPS 2024), spec cordsnet.md §1. Area j (j = 0..depth−1) holds a
state r_j (B, H_j, W_j, C_j) with C = [64, 64, 128, 128, 256, 256, 512, 512][j] and follows

    r_j' = (1 − α) r_j + α σ( rec_j(r_j) + b_j + ff_j(h_j) ),     α = dt/τ = 0.2,

with rec_j a 3×3/s1/p1 convolution, b_j a per-unit bias (H_j, W_j, C_j), ff_j a 3×3/p1 convolution
(stride 2 for j = 2, 4, 6) and the inputs formed from the OLD states (synchronous, Jacobi, §1.2):

    h_0 = inp,  h_1 = relu(r_0) + inp_skip(inp),
    h_j = relu(r_{j−1}) + relu(r_{j−2})                 (j ≥ 2 even),
    h_j = relu(r_{j−1}) + skip_{(j−3)/2}(relu(r_{j−2}))  (j ≥ 3 odd, 1×1/s2 skip),

inp the linear stem (7×7/s2/p3 conv, then a 3×3/s2/p1 average pool counting the padding). The step's
logits come from the NEW states: readout(GAP(relu(r_{d−1}') + relu(r_{d−2}'))). σ is ReLU, the
identity ("linear", training step 3) or a PReLU with one shared non-trainable slope a (step 4).

The image enters areas 0 and 1 only through ff_0(inp) and ff_1(inp_skip(inp)), constant during a
stimulus, so the step input is these two drives concatenated on channels (B, H_0, W_0, 128)
(`CordsNetCell.drive_input`): ff_1 is linear, ff_1(relu(r_0) + inp_skip(inp)) = ff_1(relu(r_0)) + drive_1.
Every convolution and the readout are weight-normalised (`ndnx.layers.WeightNormConv2D`); a call folds
g·v/‖v‖ once (`folded_weights`) and the step uses the plain kernels.
"""

import numpy as np
import keras
import tensorflow as tf
from keras import ops

from ndnx.layers.replicas import ReplicatedLayer
from ndnx.layers.weight_norm import WeightNormConv2D, WeightNormDense
from ndnx.registry import register

__all__ = ["CordsNetCell", "AREA_CHANNELS", "DEPTHS", "NONLINEARITIES", "cordsnet_geometry",
           "cordsnet_parameter_shapes", "cordsnet_parameter_count"]

AREA_CHANNELS = (64, 64, 128, 128, 256, 256, 512, 512)
DEPTHS = (2, 4, 6, 8)
NONLINEARITIES = ("relu", "linear", "prelu")


def _image_hw(owner, image_size):
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (int(image_size), int(image_size))
    try:
        h, w = (int(s) for s in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: image_size must be an int or (height, width), got {image_size!r}") from None
    if min(h, w) < 4:
        raise ValueError(f"{owner}: image_size must be at least 4 pixels, got {image_size!r}")
    return h, w


def _down(n, kernel, stride, pad):
    return (n + 2 * pad - kernel) // stride + 1


def cordsnet_geometry(depth, image_size, owner="cordsnet_geometry"):
    """((stem H, W), [(H_j, W_j, C_j) for every area]) of an input image_size (spec §1.3, §8.1).

    Stem 7×7/s2/p3, pool 3×3/s2/p1 (areas 0, 1), then a 3×3/s2/p1 halving before areas 2, 4, 6.

    Example:
        >>> cordsnet_geometry(8, 28)[1][::2]  # 28-px MNIST: stem 14, pool 7
        [(7, 7, 64), (4, 4, 128), (2, 2, 256), (1, 1, 512)]
    """
    if depth not in DEPTHS:
        raise ValueError(f"{owner}: depth must be one of {DEPTHS}, got {depth!r}")
    h, w = _image_hw(owner, image_size)
    stem = (_down(h, 7, 2, 3), _down(w, 7, 2, 3))
    size = (_down(stem[0], 3, 2, 1), _down(stem[1], 3, 2, 1))
    areas = []
    for j in range(depth):
        if j >= 2 and j % 2 == 0:
            size = (_down(size[0], 3, 2, 1), _down(size[1], 3, 2, 1))
        areas.append(size + (AREA_CHANNELS[j],))
    return stem, areas


def cordsnet_parameter_shapes(depth=8, num_classes=1000, image_size=224, channels=3, weight_norm=True):
    """The canonical parameter names and shapes (Keras layout) of a CordsNet, in a fixed order.

    Weight-normed kernels appear as `<name>/g` (out,) and `<name>/v`; with weight_norm=False as
    `<name>/kernel`. Spec §1.5 counts: R8, 1000 classes, RGB 224 → 12,475,280 values.

    Example:
        >>> shapes = cordsnet_parameter_shapes(2, 10, 28, 1)
        >>> shapes["area0/bias"], shapes["readout/v"]
        ((7, 7, 64), (64, 10))
    """
    _, areas = cordsnet_geometry(depth, image_size, "cordsnet_parameter_shapes")
    shapes = {}

    def kernel(name, shape):
        if weight_norm:
            shapes[f"{name}/g"] = (shape[-1],)
            shapes[f"{name}/v"] = tuple(shape)
        else:
            shapes[f"{name}/kernel"] = tuple(shape)

    kernel("stem", (7, 7, int(channels), 64))
    kernel("inp_skip", (3, 3, 64, 64))
    for j, (h, w, c) in enumerate(areas):
        c_in = 64 if j == 0 else AREA_CHANNELS[j - 1]
        kernel(f"area{j}/ff", (3, 3, c_in, c))
        kernel(f"area{j}/rec", (3, 3, c, c))
        shapes[f"area{j}/bias"] = (h, w, c)
    for k in range(depth // 2 - 1):
        c = AREA_CHANNELS[2 * k + 1]
        kernel(f"skip{k}", (1, 1, c, 2 * c))
    kernel("readout", (AREA_CHANNELS[depth - 1], int(num_classes)))
    shapes["readout/bias"] = (int(num_classes),)
    return shapes


def cordsnet_parameter_count(depth=8, num_classes=1000, image_size=224, channels=3, weight_norm=True):
    """Number of parameter values, from the shapes alone (no model is built).

    Example:
        >>> cordsnet_parameter_count(8), cordsnet_parameter_count(8, weight_norm=False)
        (12475280, 12469416)
    """
    shapes = cordsnet_parameter_shapes(depth, num_classes, image_size, channels, weight_norm)
    return int(sum(np.prod(s) for s in shapes.values()))


@register("cell")
class CordsNetCell(ReplicatedLayer):
    """One synchronous Euler step of all CordsNet areas (module docstring; spec §1.2–1.3, §8.1).

    Step input: the constant drives ff_0(inp) and ff_1(inp_skip(inp)) concatenated on channels,
    (B, H_0, W_0, 128) (`drive_input(images)`), or the image itself (B, H, W, channels), whose drives
    the step then computes (exact, but the stem runs every step); states: a tuple of (B, H_j, W_j, C_j), zero at the
    start (`get_initial_state`); output: the step's logits (B, num_classes) from the new states.
    Runs inside `keras.layers.RNN`; `ndnx.models.CordsNet` runs it with a compiled loop, folding
    the weight norm once per call (`folded_weights` and `step`).

    Args:
        depth: number of areas, 2, 4, 6 or 8 (R2..R8).
        image_size: input height and width (int or pair); the bias maps' sizes follow from it.
        channels: input image channels.
        num_classes: readout units.
        alpha: Euler step dt/τ in (0, 1].
        nonlinearity: σ inside the areas, "relu", "linear" (identity) or "prelu" (shared slope).
        prelu_slope: initial value of the non-trainable shared slope a (used by "prelu").
        weight_norm: weight-normalise every convolution and the readout (g, v) or keep plain kernels.
        replicas: must be None. seed: int or None (initial weights).

    Example:
        >>> import numpy as np, keras, ndnx
        >>> cell = ndnx.cells.CordsNetCell(depth=2, image_size=12, channels=1, num_classes=3, seed=0)
        >>> drives = cell.drive_input(np.ones((2, 12, 12, 1), "float32"))
        >>> tuple(drives.shape)
        (2, 3, 3, 128)
        >>> rnn = keras.layers.RNN(cell, return_sequences=True)
        >>> tuple(rnn(np.repeat(np.asarray(drives)[:, None], 4, axis=1)).shape)
        (2, 4, 3)
    """

    def __init__(self, depth, image_size, channels, num_classes, alpha=0.2, nonlinearity="relu", prelu_slope=0.0,
                 weight_norm=True, replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        if replicas is not None:
            raise ValueError(f"{self.name}: replicas must be None (CordsNet is not replicated), got {replicas!r}")
        if depth not in DEPTHS:
            raise ValueError(f"{self.name}: depth must be one of {DEPTHS}, got {depth!r}")
        for arg, value in (("channels", channels), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{self.name}: {arg} must be a positive int, got {value!r}")
        alpha = float(alpha)
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"{self.name}: alpha must be in (0, 1], got {alpha}")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"{self.name}: nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        prelu_slope = float(prelu_slope)
        if not np.isfinite(prelu_slope):
            raise ValueError(f"{self.name}: prelu_slope must be finite, got {prelu_slope}")
        self.depth = int(depth)
        self.image_size = _image_hw(self.name, image_size)
        self.channels = int(channels)
        self.num_classes = int(num_classes)
        self.alpha = alpha
        self.nonlinearity = nonlinearity
        self.initial_prelu_slope = prelu_slope
        self.weight_norm = bool(weight_norm)
        self.stem_size, self.area_shapes = cordsnet_geometry(self.depth, self.image_size, self.name)
        self.state_size = [tuple(s) for s in self.area_shapes]
        self.output_size = self.num_classes

        def conv(name, filters, kernel, stride, padding):
            return WeightNormConv2D(filters, kernel, strides=stride, padding=padding, weight_norm=self.weight_norm,
                                    seed=self.sublayer_seed(name), name=name)

        self.stem = conv("stem", 64, 7, 2, 3)
        self.inp_skip = conv("inp_skip", 64, 3, 1, "same")
        self.ff = [conv(f"area{j}_ff", AREA_CHANNELS[j], 3, 2 if j in (2, 4, 6) else 1,
                        1 if j in (2, 4, 6) else "same") for j in range(self.depth)]
        self.rec = [conv(f"area{j}_rec", AREA_CHANNELS[j], 3, 1, "same") for j in range(self.depth)]
        self.skips = [conv(f"skip{k}", 2 * AREA_CHANNELS[2 * k + 1], 1, 2, 0) for k in range(self.depth // 2 - 1)]
        self.readout = WeightNormDense(self.num_classes, weight_norm=self.weight_norm,
                                       seed=self.sublayer_seed("readout"), name="readout")

    # --- weights -------------------------------------------------------------------------------------
    def build(self, input_shape=None):
        h0, w0, _ = self.area_shapes[0]
        image = self.image_size + (self.channels,)
        if input_shape is not None and tuple(input_shape[1:]) not in ((h0, w0, 128), image):
            raise ValueError(f"{self.name}: expected step inputs (batch, {h0}, {w0}, 128) (the two drives of "
                             f"image_size {self.image_size}) or images (batch, {image[0]}, {image[1]}, {image[2]}), "
                             f"got {tuple(input_shape)}")
        self.stem.build((None, self.image_size[0], self.image_size[1], self.channels))
        self.inp_skip.build((None, h0, w0, 64))
        for j, (h, w, c) in enumerate(self.area_shapes):
            c_in = 64 if j == 0 else AREA_CHANNELS[j - 1]
            hin, win = (h0, w0) if j < 2 else self.area_shapes[j - 1][:2]
            self.ff[j].build((None, hin, win, c_in))
            self.rec[j].build((None, h, w, c))
        for k, skip in enumerate(self.skips):
            h, w, c = self.area_shapes[2 * k + 1]
            skip.build((None, h, w, c))
        self.readout.build((None, AREA_CHANNELS[self.depth - 1]))
        self.built = True
        self.biases = [self.add_weight(name=f"area{j}_bias", shape=tuple(s), initializer="zeros")
                       for j, s in enumerate(self.area_shapes)]
        self.prelu_slope = self.add_weight(name="prelu_slope", shape=(), trainable=False,
                                           initializer=keras.initializers.Constant(self.initial_prelu_slope))

    def canonical_variables(self):
        """{canonical name: variable} in the order of `cordsnet_parameter_shapes` (spec §8.2 names)."""
        if not self.built:
            self.build()
        out = {}

        def add(name, layer):
            if self.weight_norm:
                out[f"{name}/g"], out[f"{name}/v"] = layer.g, layer.v
            else:
                out[f"{name}/kernel"] = layer.kernel

        add("stem", self.stem)
        add("inp_skip", self.inp_skip)
        for j in range(self.depth):
            add(f"area{j}/ff", self.ff[j])
            add(f"area{j}/rec", self.rec[j])
            out[f"area{j}/bias"] = self.biases[j]
        for k, skip in enumerate(self.skips):
            add(f"skip{k}", skip)
        add("readout", self.readout)
        out["readout/bias"] = self.readout.bias
        return out

    def folded_weights(self):
        """The effective weights as tensors: a dict the `step`, `drives` and `logits` functions take."""
        if not self.built:
            self.build()
        return {
            "stem": self.stem.folded_kernel(),
            "inp_skip": self.inp_skip.folded_kernel(),
            "ff": [layer.folded_kernel() for layer in self.ff],
            "rec": [layer.folded_kernel() for layer in self.rec],
            "bias": [tf.convert_to_tensor(b) for b in self.biases],
            "skip": [layer.folded_kernel() for layer in self.skips],
            "readout": self.readout.folded_kernel(),
            "readout_bias": tf.convert_to_tensor(self.readout.bias),
            "slope": tf.convert_to_tensor(self.prelu_slope),
        }

    # --- the equations -------------------------------------------------------------------------------
    def stem_output(self, images, k):
        """inp = avgpool3/s2/p1 (count_include_pad) of the 7×7/s2/p3 stem conv (B, H_0, W_0, 64)."""
        x = self.stem.convolve(images, k["stem"])
        x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        return tf.nn.avg_pool2d(x, 3, 2, "VALID")

    def drives(self, images, k):
        """(ff_0(inp), ff_1(inp_skip(inp))): the constant drives of areas 0 and 1 during a stimulus."""
        inp = self.stem_output(images, k)
        return (self.ff[0].convolve(inp, k["ff"][0]),
                self.ff[1].convolve(self.inp_skip.convolve(inp, k["inp_skip"]), k["ff"][1]))

    def drive_input(self, images):
        """The step input of `call`: both drives on channels, (B, H_0, W_0, 128)."""
        images = ops.convert_to_tensor(images, dtype=self.compute_dtype)
        self._check_images(images.shape)
        return ops.concatenate(self.drives(images, self.folded_weights()), axis=-1)

    def _check_images(self, shape):
        expected = self.image_size + (self.channels,)
        if len(shape) != 4 or tuple(shape[1:]) != expected:
            raise ValueError(f"{self.name}: expected images (batch, {expected[0]}, {expected[1]}, {expected[2]}), "
                             f"got {tuple(shape)}")

    def sigma(self, z, slope):
        if self.nonlinearity == "relu":
            return tf.nn.relu(z)
        if self.nonlinearity == "linear":
            return z
        return tf.nn.relu(z) + slope * tf.minimum(z, 0.0)

    def step(self, k, drive0, drive1, states):
        """The new states, all computed from the old tuple `states` (synchronous update)."""
        rect = [tf.nn.relu(r) for r in states]
        a = self.alpha
        new = []
        for j, r in enumerate(states):
            if j == 0:
                ff = drive0
            elif j == 1:
                ff = drive1 + self.ff[1].convolve(rect[0], k["ff"][1])
            elif j % 2 == 0:
                ff = self.ff[j].convolve(rect[j - 1] + rect[j - 2], k["ff"][j])
            else:
                skip = (j - 3) // 2
                ff = self.ff[j].convolve(rect[j - 1] + self.skips[skip].convolve(rect[j - 2], k["skip"][skip]),
                                         k["ff"][j])
            z = self.rec[j].convolve(r, k["rec"][j]) + k["bias"][j] + ff
            new.append((1.0 - a) * r + a * self.sigma(z, k["slope"]))
        return tuple(new)

    def logits(self, k, states):
        """readout(GAP(relu(r_{d−1}) + relu(r_{d−2})))."""
        pooled = tf.reduce_mean(tf.nn.relu(states[-1]) + tf.nn.relu(states[-2]), axis=(1, 2))
        return tf.matmul(pooled, k["readout"]) + k["readout_bias"]

    def call(self, inputs, states, training=None):
        k = self.folded_weights()
        x = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        if tuple(x.shape[1:]) == self.image_size + (self.channels,):
            drive0, drive1 = self.drives(x, k)
        else:
            drive0, drive1 = x[..., :64], x[..., 64:]
        new = self.step(k, drive0, drive1, tuple(states))
        return self.logits(k, new), list(new)

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size,) + tuple(s), dtype=self.compute_dtype) for s in self.area_shapes]

    def get_config(self):
        config = super().get_config()
        config.update({
            "depth": self.depth,
            "image_size": list(self.image_size),
            "channels": self.channels,
            "num_classes": self.num_classes,
            "alpha": self.alpha,
            "nonlinearity": self.nonlinearity,
            "prelu_slope": self.initial_prelu_slope,
            "weight_norm": self.weight_norm,
        })
        return config
