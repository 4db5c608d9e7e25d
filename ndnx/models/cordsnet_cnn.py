"""CordsNet's step-1 compatibility CNN and its training schedule (spec cordsnet.md §3 step 1).

Soo, Battista, Radmard, Wang, "Recurrent neural network dynamical systems for biological vision",
NeurIPS 2024. Step 1 of CordsNet's five-step pipeline trains a feedforward CNN wired exactly as the
recurrent network, with every area a block of two convolutions and **no nonlinearity between them**:

    inp = AvgPool(BN(Conv7×7(image)))                                   (no ReLU)
    x_j = ReLU( BN2( Conv_rec,j( BN1( Conv_ff,j(h_j) ) ) ) )
    h_0 = inp,  h_1 = x_0 + inp_skip(inp),
    h_j = x_{j−1} + x_{j−2}                 (j ≥ 2 even)
    h_j = x_{j−1} + BN(skip_{(j−3)/2}(x_{j−2}))   (j ≥ 3 odd, 1×1 stride-2 conv)
    logits = FC( GAP(x_{d−1} + x_{d−2}) )

Each block is linear up to its last ReLU, so a linear recurrent area can reproduce it (steps 1b and 2,
`ndnx.models.cordsnet_pipeline`). Every convolution and the readout are weight-normed
(W = g·v/‖v‖, norm per output channel over all other axes), as in CordsNet. Geometry is PyTorch's:
ZeroPadding2D(3) + 'valid' 7×7/s2 stem; ZeroPadding2D(1) + AveragePooling2D(3, 2, 'valid')
(count_include_pad); ZeroPadding2D(1) + 'valid' for 3×3/s2; 'same' for 3×3/s1; 'valid' 1×1/s2 skips.
BatchNorm uses eps 1e-5 and PyTorch's running-average momentum 0.1 (Keras momentum 0.9). The g of a
conv followed by BatchNorm is not trained: training-mode BN divides any per-channel scale out, so its
gradient is zero up to ε (the BN's γ carries the scale; folding multiplies it into g).

Training recipe (`compatibility_optimizer`): SGD, momentum 0.9, weight decay 1e-4, three stages at lr
0.1 / 0.01 / 0.001, each starting with a linear warm-up from lr/3 over 100 iterations
(`StagedWarmup`), cross-entropy summed over the batch and divided by its size (the mean).
"""

import keras
import numpy as np
from keras import ops

from ndnx.layers.dirac import DiracInitializer
from ndnx.layers.weight_norm import WeightNormConv2D, WeightNormDense
from ndnx.registry import register
from ndnx.seeding import derive_seed

__all__ = ["CordsNetCNN", "StagedWarmup", "compatibility_optimizer", "area_channels", "area_sizes",
           "AREA_CHANNELS", "BN_EPSILON"]

#: channels of areas 0 … 7 (spec §1.3).
AREA_CHANNELS = (64, 64, 128, 128, 256, 256, 512, 512)
#: BatchNorm epsilon of the original (PyTorch's default).
BN_EPSILON = 1e-5
DEPTHS = (2, 4, 6, 8)


def area_channels(depth):
    return AREA_CHANNELS[:depth]


def _conv_size(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def area_sizes(image_size, depth):
    """[(H_j, W_j)] of areas 0 … depth−1 for a square image of `image_size` pixels (PyTorch geometry)."""
    s = _conv_size(_conv_size(int(image_size), 7, 2, 3), 3, 2, 1)
    sizes = []
    for j in range(depth):
        if j >= 2 and j % 2 == 0:
            s = _conv_size(s, 3, 2, 1)
        sizes.append((s, s))
    return sizes


def check_architecture(owner, depth, num_classes, image_size, channels):
    if isinstance(depth, bool) or depth not in DEPTHS:
        raise ValueError(f"{owner}: depth must be one of {DEPTHS}, got {depth!r}")
    for name, value, low in (("num_classes", num_classes, 1), ("image_size", image_size, 5),
                             ("channels", channels, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{owner}: {name} must be an integer >= {low}, got {value!r}")


def _he_normal(scale=1.0):
    """N(0, scale²·2/fan_in): He initialisation (a ReLU network's), untruncated."""
    return keras.initializers.VarianceScaling(2.0 * scale ** 2, mode="fan_in", distribution="untruncated_normal")


def _bn(name):
    # synchronized: under a tf.distribute strategy the batch statistics are those of the global batch,
    # so training on N devices gives the one-device model (no effect without a strategy)
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, synchronized=True, name=name)


@register("layer")
class CordsNetCNN(keras.Model):
    """CordsNet's compatibility CNN (spec cordsnet.md §3 step 1; Soo et al., NeurIPS 2024).

        x_j = ReLU(BN2(rec_j(BN1(ff_j(h_j))))),  inp = AvgPool(BN(Conv7×7(image))),
        logits = FC(GAP(x_{d−1} + x_{d−2}))

    with h_j wired as CordsNet's areas (module docstring). Input (B, image_size, image_size, channels),
    output logits (B, num_classes).

    Args:
        depth: 2, 4, 6 or 8 areas (CordsNet-R2 … R8).
        num_classes: readout units.
        image_size: input height = width in pixels (the areas' sizes follow from it).
        channels: input channels (1 for MNIST, 3 for RGB).
        rec_init: "identity" (default): each recurrent conv starts as the identity (a Dirac centre
            tap, `ndnx.layers.DiracInitializer`) plus N(0, 0.01·2/fan_in) noise, so the block starts as its feedforward conv and W2
            stays well conditioned — step 2 then has a 3×3-representable W_rec ≈ I − W2⁻¹ to find
            (the original started from ResNet-18 weights, spec §3); "random": N(0, 2/fan_in) like
            every other conv.
        replicas: must be None (the model is not replicated).
        seed: seed of the initial weights (an int or None).

    Example:
        >>> import numpy as np
        >>> from ndnx.models.cordsnet_cnn import CordsNetCNN
        >>> cnn = CordsNetCNN(depth=2, num_classes=10, image_size=28, channels=1, seed=0)
        >>> tuple(cnn(np.zeros((2, 28, 28, 1), "float32")).shape)
        (2, 10)
        >>> cnn.get_parameters()["stem/v"].shape, cnn.get_parameters()["area1/rec/bn/var"].shape
        ((7, 7, 1, 64), (64,))
    """

    def __init__(self, depth=2, num_classes=10, image_size=28, channels=1, rec_init="identity", replicas=None,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        if replicas is not None:
            raise ValueError(f"CordsNetCNN: replicas must be None (one seed per model), got {replicas!r}")
        self.replicas = None
        check_architecture("CordsNetCNN", depth, num_classes, image_size, channels)
        if rec_init not in ("identity", "random"):
            raise ValueError(f"CordsNetCNN: rec_init must be 'identity' or 'random', got {rec_init!r}")
        self.rec_init = rec_init
        self.depth, self.num_classes = int(depth), int(num_classes)
        self.image_size, self.channels, self.seed = int(image_size), int(channels), seed

        def conv(name, filters, kernel, strides=1, padding=0, trainable_gain=False, initializer=None):
            # every conv but inp_skip feeds a BatchNorm, which divides g out (module docstring)
            return WeightNormConv2D(filters, kernel, strides=strides, padding=padding,
                                    kernel_initializer=initializer or _he_normal(), trainable_gain=trainable_gain,
                                    seed=None if seed is None else derive_seed(int(seed), name), name=name)

        c = area_channels(self.depth)
        self.stem = conv("stem", 64, 7, strides=2, padding=3)
        self.stem_bn = _bn("stem_bn")
        self.pool_pad = keras.layers.ZeroPadding2D(1)
        self.pool = keras.layers.AveragePooling2D(3, 2, "valid")
        self.inp_skip = conv("inp_skip", 64, 3, padding="same", trainable_gain=True)
        # a small random part keeps the identity start from being exactly the feedforward conv
        rec_initializer = DiracInitializer(noise=_he_normal(0.1)) if rec_init == "identity" else None
        self.ff, self.ff_bn, self.rec, self.rec_bn = [], [], [], []
        for j in range(self.depth):
            stride = 2 if j >= 2 and j % 2 == 0 else 1
            self.ff.append(conv(f"area{j}_ff", c[j], 3, strides=stride, padding=1 if stride == 2 else "same"))
            self.ff_bn.append(_bn(f"area{j}_ff_bn"))
            self.rec.append(conv(f"area{j}_rec", c[j], 3, padding="same", initializer=rec_initializer))
            self.rec_bn.append(_bn(f"area{j}_rec_bn"))
        self.skip, self.skip_bn = [], []
        for k in range(self.depth // 2 - 1):
            self.skip.append(conv(f"skip{k}", 2 * c[2 * k + 1], 1, strides=2))
            self.skip_bn.append(_bn(f"skip{k}_bn"))
        self.readout = WeightNormDense(self.num_classes, kernel_initializer=_he_normal(), bias_initializer="zeros",
                                       seed=None if seed is None else derive_seed(int(seed), "readout"),
                                       name="readout")
        self.build((None, self.image_size, self.image_size, self.channels))

    def build(self, input_shape):
        if self.built:
            return
        self.call(keras.KerasTensor(tuple(input_shape)))
        self.built = True

    def stem_output(self, images, training=False):
        """inp = AvgPool(BN(Conv7×7(images))) (B, H_0, W_0, 64)."""
        return self.pool(self.pool_pad(self.stem_bn(self.stem(images), training=training)))

    def call(self, images, training=False):
        inp = self.stem_output(images, training=training)
        x = []
        for j in range(self.depth):
            if j == 0:
                h = inp
            elif j == 1:
                h = x[0] + self.inp_skip(inp)
            elif j % 2 == 0:
                h = x[j - 1] + x[j - 2]
            else:
                k = (j - 3) // 2
                h = x[j - 1] + self.skip_bn[k](self.skip[k](x[j - 2]), training=training)
            y = self.ff_bn[j](self.ff[j](h), training=training)
            x.append(ops.relu(self.rec_bn[j](self.rec[j](y), training=training)))
        return self.readout(ops.mean(x[-1] + x[-2], axis=(1, 2)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    # --- canonical parameters -------------------------------------------------------------------------

    def _named_layers(self):
        """(canonical name, weight-norm layer, its BatchNorm or None)."""
        out = [("stem", self.stem, self.stem_bn), ("inp_skip", self.inp_skip, None)]
        for j in range(self.depth):
            out += [(f"area{j}/ff", self.ff[j], self.ff_bn[j]), (f"area{j}/rec", self.rec[j], self.rec_bn[j])]
        out += [(f"skip{k}", self.skip[k], self.skip_bn[k]) for k in range(len(self.skip))]
        return out + [("readout", self.readout, None)]

    @staticmethod
    def _bn_variables(bn):
        return {"gamma": bn.gamma, "beta": bn.beta, "mean": bn.moving_mean, "var": bn.moving_variance}

    def _variables(self):
        out = {}
        for name, layer, bn in self._named_layers():
            out[f"{name}/g"], out[f"{name}/v"] = layer.g, layer.v
            if bn is not None:
                out.update({f"{name}/bn/{k}": v for k, v in self._bn_variables(bn).items()})
        out["readout/bias"] = self.readout.bias
        return out

    def get_parameters(self):
        """The canonical step-1 parameter dict: g/v pairs and `<name>/bn/{gamma,beta,mean,var}` (NumPy)."""
        return {name: np.asarray(v.numpy()) for name, v in self._variables().items()}

    def set_parameters(self, parameters):
        """Assign a canonical step-1 dict (every name, with its shape)."""
        variables = self._variables()
        missing, unknown = sorted(set(variables) - set(parameters)), sorted(set(parameters) - set(variables))
        if missing or unknown:
            raise ValueError(f"CordsNetCNN.set_parameters: expected the {len(variables)} canonical names; "
                             f"missing {missing[:4]}, unknown {unknown[:4]}")
        for name, variable in variables.items():
            value = np.asarray(parameters[name], "float32")
            if value.shape != tuple(variable.shape):
                raise ValueError(f"CordsNetCNN.set_parameters: {name} must have shape {tuple(variable.shape)}, "
                                 f"got {value.shape}")
            variable.assign(value)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, "num_classes": self.num_classes,
                "image_size": self.image_size, "channels": self.channels, "rec_init": self.rec_init,
                "replicas": None, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="ndnx")
class StagedWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Stages of constant learning rate, each opened by a linear warm-up (CordsNet step 1, spec §3).

        lr(t) = rates[k] · (f + (1 − f) · min(τ, warmup_steps) / warmup_steps),
        k = min(t // stage_steps, K − 1),  τ = t − k·stage_steps

    with f = `warmup_start` (1/3: PyTorch's LinearLR(start_factor=1/3, total_iters=100) restarted
    per stage and stepped per batch).

    Args:
        rates: the learning rate of each stage (default 0.1, 0.01, 0.001).
        stage_steps: optimiser steps per stage (epochs × batches per epoch).
        warmup_steps: warm-up length in steps (100).
        warmup_start: the warm-up's first factor (1/3).

    Example:
        >>> from ndnx.models.cordsnet_cnn import StagedWarmup
        >>> s = StagedWarmup(stage_steps=200, warmup_steps=100)
        >>> [round(float(s(t)), 5) for t in (0, 50, 100, 200, 500)]
        [0.03333, 0.06667, 0.1, 0.00333, 0.001]
    """

    def __init__(self, rates=(0.1, 0.01, 0.001), stage_steps=1000, warmup_steps=100, warmup_start=1.0 / 3.0):
        rates = [float(r) for r in rates]
        if not rates or any(not r > 0 for r in rates):
            raise ValueError(f"StagedWarmup: rates must be positive numbers, got {rates!r}")
        if int(stage_steps) < 1 or int(warmup_steps) < 1 or not 0 < float(warmup_start) <= 1:
            raise ValueError(f"StagedWarmup: stage_steps and warmup_steps must be >= 1 and 0 < warmup_start <= 1, "
                             f"got {stage_steps!r}, {warmup_steps!r}, {warmup_start!r}")
        self.rates, self.stage_steps = rates, int(stage_steps)
        self.warmup_steps, self.warmup_start = int(warmup_steps), float(warmup_start)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        stage = ops.minimum(ops.floor(step / self.stage_steps), len(self.rates) - 1)
        into = step - stage * self.stage_steps
        factor = self.warmup_start + (1.0 - self.warmup_start) * ops.minimum(into, self.warmup_steps) / self.warmup_steps
        rate = ops.take(ops.convert_to_tensor(self.rates, "float32"), ops.cast(stage, "int32"))
        return rate * factor

    def get_config(self):
        return {"rates": self.rates, "stage_steps": self.stage_steps, "warmup_steps": self.warmup_steps,
                "warmup_start": self.warmup_start}


def compatibility_optimizer(stage_steps, rates=(0.1, 0.01, 0.001), warmup_steps=100, momentum=0.9,
                            weight_decay=1e-4):
    """SGD (momentum 0.9, weight decay 1e-4) on `StagedWarmup` — CordsNet's step-1 recipe.

    Keras' `weight_decay` is decoupled (w ← w − lr·wd·w each step), PyTorch's SGD adds wd·w to the
    gradient before the momentum; the two agree without momentum and differ slightly with it.
    """
    schedule = StagedWarmup(rates, stage_steps, warmup_steps)
    return keras.optimizers.SGD(schedule, momentum=momentum, weight_decay=weight_decay)
