"""LayerNetwork: the learned network f_i of one state layer of an energy graph (NRF-LV).

Spec energy_sampling_nrflv.md §1.2 ("ContainerFCandDenseCCTBlock"). f_i reads the activated states
ρ(s_j) of the layers j on its input edges and returns a tensor of layer i's shape:

* conv edges ("conv", "convT", "cct"), for each source: CCTConv(base_channels, kernel, padding) →
  nearest resize to layer i's H×W → activation; the results are concatenated on channels. Then, with
  depth 0, a 1×1 conv to base_channels and a final plain conv to C_i with `final_kernel` (no
  activation between or after them, as the spec describes the original); with depth L > 0, L dense
  blocks (1×1 conv to base_channels, CCTConv("cct", growth_rate, final_kernel), activation, each
  block's output concatenated to its input) and a 1×1 conv to C_i.
* dense edges: the flattened sources, concatenated → Dense(64) → act → L × [Dense(64) → act] →
  Dense(D_i), reshaped to layer i's shape.
* both kinds: the two outputs are summed.

Weight norm (optional) sits where the original puts it: on the base CCTConvs, the dense blocks'
CCTConvs and the hidden dense layers; never on the 1×1 convs or the final layers.
Sublayer names are stable ("<i>_from_<j>", "<i>_mix", "<i>_out", "<i>_fc_in", "<i>_fc_hidden<k>",
"<i>_fc_out", "<i>_middle<k>_squeeze", "<i>_middle<k>_conv") so weights trained elsewhere can be
loaded by name.

Example:
    >>> import numpy as np
    >>> from ndnx.energy.layer_network import LayerNetwork
    >>> f = LayerNetwork("b", (4, 4, 2), [("a", (8, 8, 3), "conv", 3, None)], [("c", (5,))], base_channels=4,
    ...                  seed=0)
    >>> tuple(f([np.zeros((2, 8, 8, 3), "float32")], [np.zeros((2, 5), "float32")]).shape)
    (2, 4, 4, 2)
"""

import math

import keras
import numpy as np
import tensorflow as tf

from ndnx.energy.cct_conv import HALF_DTYPES, CCTConv
from ndnx.fused_swish import swish
from ndnx.layers.weight_norm import WeightNormDense
from ndnx.seeding import derive_seed

__all__ = ["LayerNetwork", "inner_activation", "nearest_resize"]

FC_UNITS = 64


def inner_activation(name, dtype="float32"):
    """The activation inside f_i: "swish" (x·σ(x)), "leaky_relu" (PyTorch's slope 0.01) or a Keras name.

    In half precision (`dtype` bfloat16 or float16) swish's gradient is one XLA-fused kernel computed in
    float32 (`ndnx.fused_swish`): TF's bfloat16 elementwise kernels make the thesis sampler's step 6–12 %
    slower otherwise (interleaved runs, batch 8 / 32); in float32 the two are even.
    """
    if name == "swish":
        return swish if tf.as_dtype(dtype) in HALF_DTYPES else tf.nn.silu
    if name == "leaky_relu":
        return lambda x: tf.nn.leaky_relu(x, 0.01)
    return keras.activations.get(name)


def nearest_resize(x, height, width):
    """PyTorch's nearest interpolation: output pixel i takes input pixel ⌊i·H/H'⌋."""
    h, w = x.shape[1], x.shape[2]
    if (h, w) == (height, width):
        return x
    rows = np.floor(np.arange(height) * h / height).astype("int32")
    cols = np.floor(np.arange(width) * w / width).astype("int32")
    if height % h == 0 and width % w == 0:  # integer upsampling: repeat is cheaper than a gather
        return tf.repeat(tf.repeat(x, height // h, axis=1), width // w, axis=2)
    return tf.gather(tf.gather(x, rows, axis=1), cols, axis=2)


class LayerNetwork(keras.layers.Layer):
    """f_i (module docstring). conv_edges: [(source, source_shape, kind, kernel, padding)];
    dense_edges: [(source, source_shape)]."""

    def __init__(self, target, target_shape, conv_edges, dense_edges, base_channels=32, growth_rate=8,
                 final_kernel=7, depth=0, activation="leaky_relu", weight_norm=False, fft_min_kernel=None, seed=None,
                 **kwargs):
        super().__init__(name=kwargs.pop("name", f"{target}_network"), **kwargs)
        self.target, self.target_shape = target, tuple(target_shape)
        self.act = inner_activation(activation, self.compute_dtype)
        seed_of = (lambda n: None if seed is None else derive_seed(seed, n))
        fft = (lambda k: fft_min_kernel is not None and k >= fft_min_kernel)
        self.conv_edges, self.dense_edges = list(conv_edges), list(dense_edges)
        self.base, self.mix, self.out, self.middle = [], None, None, []
        if self.conv_edges:
            h, w, c = self.target_shape
            for source, shape, kind, kernel, padding in self.conv_edges:
                stride = 1
                probe = CCTConv(base_channels, kernel, padding, kind)
                same = probe.output_size(shape[0], shape[1]) == (shape[0], shape[1])
                if same and shape[0] > h and shape[0] % h == 0 and shape[1] % w == 0 and shape[0] // h == shape[1] // w:
                    stride = shape[0] // h  # conv + nearest subsampling, fused exactly
                self.base.append(CCTConv(base_channels, kernel, padding, kind, stride=stride, weight_norm=weight_norm,
                                         fft=fft(kernel),
                                         seed=seed_of(f"{target}_from_{source}"), name=f"{target}_from_{source}",
                                         dtype=self.dtype_policy))
            if depth == 0:
                self.mix = CCTConv(base_channels, 1, 0, seed=seed_of(f"{target}_mix"), name=f"{target}_mix", dtype=self.dtype_policy)
                self.out = CCTConv(c, final_kernel, None, fft=fft(final_kernel), seed=seed_of(f"{target}_out"),
                                   name=f"{target}_out", dtype=self.dtype_policy)
            else:
                for k in range(depth):
                    squeeze = CCTConv(base_channels, 1, 0, seed=seed_of(f"{target}_middle{k}_squeeze"),
                                      name=f"{target}_middle{k}_squeeze", dtype=self.dtype_policy)
                    conv = CCTConv(growth_rate, final_kernel, None, "cct", weight_norm=weight_norm,
                                   seed=seed_of(f"{target}_middle{k}_conv"), name=f"{target}_middle{k}_conv", dtype=self.dtype_policy)
                    self.middle.append((squeeze, conv))
                self.out = CCTConv(c, 1, 0, seed=seed_of(f"{target}_out"), name=f"{target}_out", dtype=self.dtype_policy)
        self.fc = []
        if self.dense_edges:
            units = int(math.prod(self.target_shape))
            self.fc.append(WeightNormDense(FC_UNITS, weight_norm=weight_norm, seed=seed_of(f"{target}_fc_in"),
                                           name=f"{target}_fc_in", dtype=self.dtype_policy))
            for k in range(depth):
                self.fc.append(WeightNormDense(FC_UNITS, weight_norm=weight_norm, seed=seed_of(f"{target}_fc_hidden{k}"),
                                               name=f"{target}_fc_hidden{k}", dtype=self.dtype_policy))
            self.fc.append(WeightNormDense(units, weight_norm=False, seed=seed_of(f"{target}_fc_out"),
                                           name=f"{target}_fc_out", dtype=self.dtype_policy))

    def build(self, *args):
        # every sublayer is built from the graph's static shapes, so the weights exist before a first call
        if self.conv_edges:
            h, w, _ = self.target_shape
            for conv, (_, shape, *_rest) in zip(self.base, self.conv_edges):
                conv.build((None,) + tuple(shape))
            channels = len(self.base) * self.base[0].filters
            if self.mix is not None:
                self.mix.build((None, h, w, channels))
                self.out.build((None, h, w, self.mix.filters))
            else:
                for squeeze, conv in self.middle:
                    squeeze.build((None, h, w, channels))
                    conv.build((None, h, w, squeeze.filters))
                    channels += conv.filters
                self.out.build((None, h, w, channels))
        if self.dense_edges:
            features = sum(int(math.prod(shape)) for _, shape in self.dense_edges)
            for layer in self.fc:
                layer.build((None, features))
                features = layer.units
        self.built = True

    def call(self, conv_inputs, dense_inputs):
        total = None
        if self.conv_edges:
            h, w = self.target_shape[0], self.target_shape[1]
            x = tf.concat([self.act(nearest_resize(conv(s), h, w)) for conv, s in zip(self.base, conv_inputs)], -1)
            if self.mix is not None:
                total = self.out(self.mix(x))
            else:
                for squeeze, conv in self.middle:
                    x = tf.concat([x, self.act(conv(squeeze(x)))], axis=-1)
                total = self.out(x)
        if self.dense_edges:
            batch = tf.shape(dense_inputs[0])[0]
            x = tf.concat([tf.reshape(s, (batch, -1)) for s in dense_inputs], axis=-1)
            for layer in self.fc[:-1]:
                x = self.act(layer(x))
            fc = tf.reshape(self.fc[-1](x), (batch,) + self.target_shape)
            total = fc if total is None else total + fc
        return total
