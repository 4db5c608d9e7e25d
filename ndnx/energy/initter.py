"""Initter: NRF-LV's amortised initialiser, mapping an image to starting latent states.

Spec energy_sampling_nrflv.md §1.5. For a spatial image (H, W, C₀) with L latent layers:

* encoder: L + 2 dense blocks on the image, each a 1×1 conv to `channels`, a CCTConv("cct",
  `channels`, kernel 7) and the activation, each block's output concatenated to its input
  (3 + 5·32 = 163 channels for the thesis model);
* one head per spatial latent (h, w, c): CCTConv(max(32, 2c), 7) — conv-only with padding 0 when the
  latent is spatially smaller than the image, "cct" with padding 3 otherwise — → activation → nearest
  resize to (h, w) → CCTConv("cct", max(32, c), 7) → activation → 1×1 conv to c → the leaky clamp of ρ
  (hardtanh(x) + 0.01x for hardtanh);
* a flat latent (d,), or every latent of a flat image (d₀,): the flattened encoder (or image) →
  Dense(64) → act → Dense(64) → act → Dense(d) → leaky clamp.

It is trained after each positive phase on Σ_layers MSE(initter(image), final positive states).

Size. For the thesis model (latents SL1 32×32×32, SL2 8×8×32, SL3 5×5×5) this construction, read
literally from §1.5, has 1,793,253 parameters (weight-norm gains excluded; 1,793,992 with them): encoder
261,920, heads 612,672 (SL1), 612,672 (SL2), 305,989 (SL3) — 87 % of it in the first 7×7 block of each
head, which reads all 163 encoder channels. The spec's §1.4 quotes "initter ≈ 0.90M"; that is almost
exactly half of this count, and no reading of §1.5 gives it (heads reading only the last block's 32
channels: 0.77M; first head blocks of max(32, C) channels: 1.18M; cct counted as one half: 1.29M), so the
0.90M is taken to be a slip in the spec's rough count and the architecture follows the description.

Example:
    >>> import numpy as np
    >>> from ndnx.energy.initter import Initter
    >>> init = Initter((8, 8, 1), [(8, 8, 4), (2, 2, 3), (5,)], channels=4, seed=0)
    >>> [tuple(t.shape) for t in init(np.zeros((2, 8, 8, 1), "float32"))]
    [(2, 8, 8, 4), (2, 2, 2, 3), (2, 5)]
"""

import math

import keras
import tensorflow as tf

from ndnx.energy.cct_conv import CCTConv
from ndnx.energy.layer_network import FC_UNITS, inner_activation, nearest_resize
from ndnx.energy.state_activation import leaky_clamp
from ndnx.layers.weight_norm import WeightNormDense
from ndnx.seeding import derive_seed

__all__ = ["Initter"]


class Initter(keras.layers.Layer):
    """Args: image_shape, latent_shapes, channels (num_ch_initter, 32), kernel (7), state_activation,
    activation, weight_norm, seed. call(images) → list of latent states."""

    def __init__(self, image_shape, latent_shapes, channels=32, kernel=7, state_activation="hardtanh",
                 activation="leaky_relu", weight_norm=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.latent_shapes = [tuple(s) for s in latent_shapes]
        self.act, self.out_act = inner_activation(activation, self.compute_dtype), leaky_clamp(state_activation)
        seed_of = (lambda n: None if seed is None else derive_seed(seed, n))
        self.spatial = len(self.image_shape) == 3
        self.blocks, self.heads = [], []
        if self.spatial:
            for b in range(len(self.latent_shapes) + 2):
                self.blocks.append((CCTConv(channels, 1, 0, seed=seed_of(f"enc{b}_squeeze"), dtype=self.dtype_policy,
                                            name=f"enc{b}_squeeze"),
                                    CCTConv(channels, kernel, None, "cct", weight_norm=weight_norm,
                                            seed=seed_of(f"enc{b}_conv"), dtype=self.dtype_policy, name=f"enc{b}_conv")))
        for l, shape in enumerate(self.latent_shapes):
            if self.spatial and len(shape) == 3:
                h, w, c = shape
                smaller = h < self.image_shape[0] or w < self.image_shape[1]
                wide = max(32, 2 * c)
                first = (CCTConv(wide, kernel, 0, "conv", weight_norm=weight_norm, seed=seed_of(f"head{l}_a"),
                                 dtype=self.dtype_policy, name=f"head{l}_a") if smaller else
                         CCTConv(wide, kernel, None, "cct", weight_norm=weight_norm, seed=seed_of(f"head{l}_a"),
                                 dtype=self.dtype_policy, name=f"head{l}_a"))
                second = CCTConv(max(32, c) + max(32, c) % 2, kernel, None, "cct", weight_norm=weight_norm,
                                 seed=seed_of(f"head{l}_b"), dtype=self.dtype_policy, name=f"head{l}_b")
                last = CCTConv(c, 1, 0, seed=seed_of(f"head{l}_out"), dtype=self.dtype_policy, name=f"head{l}_out")
                self.heads.append(("conv", (first, second, last)))
            else:
                units = int(math.prod(shape))
                dense = [(FC_UNITS, weight_norm), (FC_UNITS, weight_norm), (units, False)]
                self.heads.append(("dense", tuple(
                    WeightNormDense(n, weight_norm=norm, seed=seed_of(f"head{l}_fc{k}"), dtype=self.dtype_policy,
                                    name=f"head{l}_fc{k}") for k, (n, norm) in enumerate(dense))))

    def build(self, input_shape=None):
        if self.spatial:
            h, w, channels = self.image_shape
            for squeeze, conv in self.blocks:
                squeeze.build((None, h, w, channels))
                conv.build((None, h, w, squeeze.filters))
                channels += conv.filters
            features = h * w * channels
        else:
            features = int(math.prod(self.image_shape))
        for (kind, layers), shape in zip(self.heads, self.latent_shapes):
            if kind == "conv":
                first, second, last = layers
                first.build((None, h, w, channels))
                second.build((None, shape[0], shape[1], first.filters))
                last.build((None, shape[0], shape[1], second.filters))
            else:
                n = features
                for layer in layers:
                    layer.build((None, n))
                    n = layer.units
        self.built = True

    def call(self, images):
        x = tf.cast(tf.convert_to_tensor(images), self.compute_dtype)
        for squeeze, conv in self.blocks:
            x = tf.concat([x, self.act(conv(squeeze(x)))], axis=-1)
        out = []
        for (kind, layers), shape in zip(self.heads, self.latent_shapes):
            if kind == "conv":
                first, second, last = layers
                y = nearest_resize(self.act(first(x)), shape[0], shape[1])
                y = last(self.act(second(y)))
            else:
                y = tf.reshape(x, (tf.shape(x)[0], -1))
                y = layers[2](self.act(layers[1](self.act(layers[0](y)))))
                y = tf.reshape(y, (-1,) + shape)
            out.append(self.out_act(tf.cast(y, self.variable_dtype)))
        return out
