"""NDN3's feed-forward network description, built from ndnx layers.

msc-neuro and NDN3 describe a model by parallel per-layer lists (`NDNutils.ffnetwork_params`):

    ffnetwork(input_shape=(31, 31, 1), layer_types=["diff_of_gaussians", "normal", "normal"],
              layer_sizes=[9, 20, 103], act_funcs=["lin", "softplus", "softplus"],
              reg_list={"l2": [None, 0.0, 0.1]})

is the thesis's baseline 4. `ffnetwork` reads the same lists, so a configuration from an NDN3
script carries over key for key, and builds a Keras model from registered ndnx layers. Layer
types:

| NDN3 type                | ndnx layer                         | size means                    |
|--------------------------|------------------------------------|-------------------------------|
| normal                   | `Dense` (flattens NHWC)            | units                         |
| diff_of_gaussians        | `DifferenceOfGaussians`            | number of DoGs                |
| conv                     | `Conv2D` (SAME, stride = shift)    | filters                       |
| conv_diff_of_gaussians   | `ConvDifferenceOfGaussians`        | filters                       |
| sep                      | `SeparableReadout`                 | units                         |
| lin_scale                | `LinScale`                         | ignored (output = input)      |
| gaussian_readout         | `GaussianReadout` (NDNT's readout) | units                         |

`reg_list` is NDN3's {penalty: [λ per layer]} (None = no penalty on that layer), in the named
`convention` ("ndn3" sums or "ndnt" means, see `ndnx.regularizers`). A separable layer is NDN3's
SepLayer: its weight is the two factors stacked, [kt; ks] of shape (C + H·W, units), and the
penalties act as NDN3's SepRegularization applies them: spatial penalties (d2x, center, local,
glocal, max_space) on the spatial mask ks, max_filt on the channel factor kt (NDN3's 'max'
coupling of the C channel weights, Σ_{c≠c'} kt²_c kt²_c'; a one-channel input raises), norm2 on
the stacked weight, λ(Σ kt² + Σ ks² − units)², and l1 / l2 (sums over the stack, so one term per
factor) and orth on each factor. `normalization` of a 'sep' layer is NDN3's: 0 L2-normalises kt,
1 the mask ks, 2 both (tf.nn.l2_normalize, w / sqrt(max(Σw², 1e-12)); the mask in
`SeparableReadout(normalize_mask="ndn3")` form), −1 neither; the penalties act on the normalised
factors. DoG layers take no penalty (NDN3 forces it off; ndnx raises instead of ignoring it).
`dropout` gives per-layer dropout **rates** on the layer's output (NDN3's reg_list 'dropout' is a
keep probability: rate = 1 − keep_prob; ndnx refuses that key so it cannot be misread); it is
`ndnx.layers.Dropout`, whose replica r drops what the model built alone with seed + r drops.

Initialisation follows NDN3: weights 'normal' N(0, 0.1²); biases 'zeros' or 'normal' /
'trunc_normal' N(0, 0.1²) (NDN3 does not truncate bias draws). Layer l of a model with seed s is
seeded with `derive_seed(s, name_l)`, so replica r of `replicas=R` equals the model built alone
with seed s + r.

Reference: NDN3 (Butts lab), ffnetwork.py and NDNutils.ffnetwork_params.
"""

import keras

from ndnx import activations
from ndnx.layers import (Conv2D, ConvDifferenceOfGaussians, Dense, DifferenceOfGaussians, Dropout, GaussianReadout,
                         LinScale, SeparableReadout)
from ndnx.layers.replicas import layer_seeds
from ndnx.regularizers import from_reg_vals

__all__ = ["ffnetwork", "LAYER_TYPES", "layer_seeds", "ndn3_normal", "bias_initializer"]

LAYER_TYPES = ("normal", "diff_of_gaussians", "conv", "conv_diff_of_gaussians", "sep", "lin_scale",
               "gaussian_readout")
_SPATIAL_KEYS = ("d2x", "center", "local", "glocal", "max_space")
_CHANNEL_KEYS = ("max_filt",)
_SHARED_KEYS = ("l1", "l2", "orth")
_STACKED_KEYS = ("norm2",)


def ndn3_normal():
    """NDN3's 'normal' initializer, N(0, 0.1²). (NDN3's bias 'trunc_normal' is the same draw.)"""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.1)


def bias_initializer(name):
    """A Keras bias initializer from an NDN3 name ('zeros', 'normal', 'trunc_normal') or a Keras one."""
    if name in ("normal", "trunc_normal"):
        return ndn3_normal()
    return keras.initializers.get(name)


def _per_layer(name, values, n, default):
    if values is None:
        return [default] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(f"ffnetwork: {name} has {len(values)} entries for {n} layers; expected one per layer")
    return values


def _layer_regs(reg_list, n):
    """reg_list {key: [λ per layer]} → one {key: λ} dict per layer."""
    out = [{} for _ in range(n)]
    for key, values in (reg_list or {}).items():
        if key == "dropout":
            raise ValueError("ffnetwork: reg_list key 'dropout' is NDN3's keep probability; pass "
                             "dropout=[rate per layer] (rate = 1 − keep_prob) instead")
        values = list(values) if isinstance(values, (list, tuple)) else [values] * n
        if len(values) != n:
            raise ValueError(f"ffnetwork: reg_list[{key!r}] has {len(values)} entries for {n} layers")
        for i, v in enumerate(values):
            if v is not None:
                out[i][key] = v
    return out


def _split_separable(regs, name):
    """NDN3 SepRegularization keys → (mask, features, stacked) key dicts of a SeparableReadout."""
    mask = {k: v for k, v in regs.items() if k in _SPATIAL_KEYS or k in _SHARED_KEYS}
    features = {k: v for k, v in regs.items() if k in _CHANNEL_KEYS or k in _SHARED_KEYS}
    stacked = {k: v for k, v in regs.items() if k in _STACKED_KEYS}
    unknown = set(regs) - set(mask) - set(features) - set(stacked)
    if unknown:
        raise ValueError(f"{name}: reg keys {sorted(unknown)} do not apply to a separable layer "
                         f"(spatial: {_SPATIAL_KEYS}, channel: {_CHANNEL_KEYS}, each factor: {_SHARED_KEYS}, "
                         f"stacked factors: {_STACKED_KEYS})")
    return mask, features, stacked


# NDN3 normalize_weights of a 'normal' layer → Dense(normalize=...)
DENSE_NORMALIZATION = {0: None, 1: "l2", -1: "max_norm"}
# NDN3 normalize_weights of a 'sep' layer → SeparableReadout(normalize_features=, normalize_mask=)
SEP_NORMALIZATION = {0: (True, False), 1: (False, "ndn3"), 2: (True, "ndn3"), -1: (False, False)}


def ffnetwork(input_shape, layer_types, layer_sizes, act_funcs=None, reg_list=None, conv_filter_widths=None,
              shift_spacing=None, dropout=None, normalization=None, biases_initializers=None,
              layer_names=None, convention="ndn3", boundary="zero", sigma_bounds=None, seed=0, replicas=None,
              layer_options=None, name="ffnetwork"):
    """A Keras model from NDN3's per-layer lists (see the module docstring).

    Args:
        input_shape: (H, W, C) of the stimulus.
        layer_types, layer_sizes, act_funcs: NDN3's lists (act_funcs default 'lin' … 'softplus').
        reg_list: {penalty: [λ per layer]}.
        conv_filter_widths, shift_spacing: per layer, for conv layers (stride default 1).
        dropout: per-layer dropout rates (0 or None: none).
        normalization: per layer, NDN3's normalize_weights. On 'sep' layers 0 (NDN3's default)
            L2-normalises the channel weights kt of each unit, 1 its spatial mask ks, 2 both, −1
            neither (NDN3 has no max-norm there); on 'normal' layers 0 none, 1 unit L2 norm per
            unit, −1 max-norm ≤ 1 (`Dense(normalize=)`).
        biases_initializers: per layer, 'zeros' (default), 'normal' or 'trunc_normal'.
        layer_names: per-layer names (default layer0, …, output); they also derive the seeds.
        convention, boundary: of the penalties (`ndnx.regularizers`).
        sigma_bounds: σ bounds of the DoG layers (None: from the input / filter size).
        layer_options: per layer, a dict of further keyword arguments for the ndnx layer.
        seed, replicas: see the module docstring.
    """
    n = len(layer_types)
    if n == 0:
        raise ValueError("ffnetwork: expected at least one layer")
    unknown = [t for t in layer_types if t not in LAYER_TYPES]
    if unknown:
        raise ValueError(f"ffnetwork: unknown layer types {unknown}; expected from {LAYER_TYPES}")
    sizes = _per_layer("layer_sizes", layer_sizes, n, None)
    acts = _per_layer("act_funcs", act_funcs, n, "softplus")
    widths = _per_layer("conv_filter_widths", conv_filter_widths, n, None)
    shifts = _per_layer("shift_spacing", shift_spacing, n, 1)
    rates = _per_layer("dropout", dropout, n, 0.0)
    norms = _per_layer("normalization", normalization, n, 0)
    biases = _per_layer("biases_initializers", biases_initializers, n, "zeros")
    options = _per_layer("layer_options", layer_options, n, None)
    names = _per_layer("layer_names", layer_names,
                       n, None) if layer_names is not None else [f"layer{i}" for i in range(n - 1)] + ["output"]
    regs = _layer_regs(reg_list, n)

    inputs = keras.Input(shape=tuple(input_shape), name="stimulus")
    x = inputs
    for i, kind in enumerate(layer_types):
        lname = names[i]
        common = dict(activation=activations.get(acts[i]), replicas=replicas,
                      seed=layer_seeds(seed, replicas, lname), name=lname, **(options[i] or {}))
        size = sizes[i]
        if kind != "lin_scale" and (size is None or int(size) < 1):
            raise ValueError(f"ffnetwork: layer {i} ({kind}) needs a positive size, got {size!r}")
        reg = from_reg_vals(regs[i], convention=convention, boundary=boundary, layer_name=lname)
        if kind in ("diff_of_gaussians", "conv_diff_of_gaussians", "lin_scale") and regs[i]:
            raise ValueError(f"{lname}: a {kind} layer takes no penalty (NDN3 forces it off), got {regs[i]}")
        bias_init = bias_initializer(biases[i])
        if kind == "normal":
            if norms[i] not in DENSE_NORMALIZATION:
                raise ValueError(f"ffnetwork: normalization[{i}] of the 'normal' layer {lname} must be one of "
                                 f"{sorted(DENSE_NORMALIZATION)} (NDN3 normalize_weights), got {norms[i]!r}")
            layer = Dense(int(size), kernel_initializer=ndn3_normal(), bias_initializer=bias_init,
                          kernel_regularizer=reg, normalize=DENSE_NORMALIZATION[norms[i]], **common)
        elif kind == "diff_of_gaussians":
            layer = DifferenceOfGaussians(int(size), sigma_bounds=sigma_bounds, bias_initializer=bias_init, **common)
        elif kind in ("conv", "conv_diff_of_gaussians"):
            if widths[i] is None:
                raise ValueError(f"ffnetwork: conv layer {i} needs conv_filter_widths[{i}]")
            conv = dict(kernel_size=int(widths[i]), strides=int(shifts[i] or 1), padding="same",
                        bias_initializer=bias_init)
            if kind == "conv":
                layer = Conv2D(int(size), kernel_initializer=ndn3_normal(), kernel_regularizer=reg, **conv, **common)
            else:
                layer = ConvDifferenceOfGaussians(int(size), sigma_bounds=sigma_bounds, **conv, **common)
        elif kind == "sep":
            if norms[i] not in SEP_NORMALIZATION:
                raise ValueError(f"ffnetwork: normalization[{i}] of the 'sep' layer {lname} must be one of "
                                 f"{sorted(SEP_NORMALIZATION)} (NDN3 normalize_weights), got {norms[i]!r}")
            normalize_features, normalize_mask = SEP_NORMALIZATION[norms[i]]
            mask_regs, feature_regs, stacked_regs = _split_separable(regs[i], lname)
            channels = int(x.shape[-1])
            layer = SeparableReadout(
                int(size), normalize_features=normalize_features, normalize_mask=normalize_mask,
                bias_initializer=bias_init,
                mask_regularizer=from_reg_vals(mask_regs, convention=convention, boundary=boundary, layer_name=lname),
                # the channel factor is one pixel of C channels, so max_filt couples its entries
                feature_regularizer=from_reg_vals(feature_regs, convention=convention, boundary=boundary,
                                                  filter_shape=(1, 1, channels), layer_name=lname),
                stacked_regularizer=from_reg_vals(stacked_regs, convention=convention, layer_name=lname),
                **common)
        elif kind == "gaussian_readout":
            layer = GaussianReadout(int(size), bias_initializer=bias_init, feature_regularizer=reg, **common)
        else:  # lin_scale
            layer = LinScale(**common)
        x = layer(x)
        if rates[i]:
            rate = float(rates[i])
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"ffnetwork: dropout[{i}] must be a rate in [0, 1), got {rate}")
            # One mask per replica, replica r's drawn as in the model built alone with seed + r.
            x = Dropout(rate, replicas=replicas, seed=layer_seeds(seed, replicas, f"{lname}_dropout"),
                        name=f"{lname}_dropout")(x)
    return keras.Model(inputs, x, name=name)
