"""Step 1b of CordsNet's pipeline: fold the compatibility CNN's batch norms into weights and biases.

Spec cordsnet.md §3 step 1b (Soo, Battista, Radmard, Wang, NeurIPS 2024). For a BatchNorm in
inference mode, BN(y) = γ(y − μ)/√(σ² + ε) + β with ε = 1e-5:

    s = γ / √(σ² + ε),   g' = g·s,   v' = v/‖v‖,   shift = β − μ·s

so BN(conv_{g,v}(x)) = conv_{g',v'}(x) + shift. Shifts are made spatial, (H, W, C) maps, because
the position-dependent operations after them (zero padding, the count_include_pad average pool)
treat border units differently:

- the stem's shift, broadcast over the stem output, goes through the 3×3/s2 average pool
  (count_include_pad: top/left border units get 6/9 of it, the corner 4/9), then through area 0's
  feedforward conv into `area0/ff_bias`, and through inp_skip then area 1's feedforward conv
  into `area1/ff_bias`;
- skip k's BN shift goes through area 3+2k's feedforward conv into `area{3+2k}/ff_bias`;
- BN1 (after the feedforward conv) adds its shift to `area{j}/ff_bias`; BN2 (after the recurrent
  conv) becomes `area{j}/bias`.

The folded CNN then computes x_j = ReLU(rec_j(ff_j(h_j) + ff_bias_j) + bias_j) with h_j formed from
bias-free stem and skip outputs (`folded_cnn_activations`).
"""

import numpy as np
from keras import ops

from ndnx.models.cordsnet_cnn import BN_EPSILON, area_sizes

__all__ = ["fold_batch_norm", "folded_cnn_activations", "conv_map", "average_pool_map", "effective_kernel"]


def _norm(v):
    return np.sqrt(np.sum(np.square(v), axis=tuple(range(v.ndim - 1)), keepdims=True))


def effective_kernel(g, v):
    """W = g·v/‖v‖ with the norm over every axis but the last (Keras layout)."""
    v = np.asarray(v, "float64")
    return np.asarray(g, "float64") * v / _norm(v)


def conv_map(x, kernel, stride=1, pad=1):
    """PyTorch-style conv of one map x (H, W, C_in) with kernel (k, k, C_in, C_out), symmetric zero padding."""
    k = kernel.shape[0]
    x = np.pad(np.asarray(x, "float64"), ((pad, pad), (pad, pad), (0, 0)))
    h = (x.shape[0] - k) // stride + 1
    w = (x.shape[1] - k) // stride + 1
    out = np.zeros((h, w, kernel.shape[-1]))
    for a in range(k):
        for b in range(k):
            out += x[a:a + stride * (h - 1) + 1:stride, b:b + stride * (w - 1) + 1:stride] @ kernel[a, b]
    return out


def average_pool_map(x, size=3, stride=2, pad=1):
    """PyTorch's AvgPool2d(size, stride, pad) with count_include_pad=True on one map (H, W, C)."""
    c = x.shape[-1]
    kernel = np.zeros((size, size, c, c))
    kernel[:, :, np.arange(c), np.arange(c)] = 1.0 / size ** 2
    return conv_map(x, kernel, stride, pad)


def _bn_scale(p, name):
    gamma, beta = p[f"{name}/bn/gamma"], p[f"{name}/bn/beta"]
    mean, var = p[f"{name}/bn/mean"], p[f"{name}/bn/var"]
    s = np.asarray(gamma, "float64") / np.sqrt(np.asarray(var, "float64") + BN_EPSILON)
    return s, np.asarray(beta, "float64") - np.asarray(mean, "float64") * s


def _depth(p):
    return sum(1 for key in p if key.startswith("area") and key.endswith("/ff/g"))


def fold_batch_norm(cnn_parameters, image_size):
    """The folded canonical CordsNet dict (plus `area{j}/ff_bias`) of a compatibility CNN's parameters.

    Args:
        cnn_parameters: `CordsNetCNN.get_parameters()` (g/v pairs and `<name>/bn/{gamma,beta,mean,var}`).
        image_size: the input's height = width in pixels (sets the bias maps' sizes).

    Returns:
        {name: float32 array}: `stem`, `inp_skip`, `area{j}/ff`, `area{j}/rec`, `skip{k}`, `readout`
        g/v pairs (v normalised), `readout/bias`, `area{j}/ff_bias` and `area{j}/bias` (H_j, W_j, C_j).

    Example:
        >>> import numpy as np
        >>> from ndnx.models.cordsnet_cnn import CordsNetCNN
        >>> from ndnx.models.cordsnet_folding import fold_batch_norm
        >>> folded = fold_batch_norm(CordsNetCNN(2, 10, 16, 1, seed=0).get_parameters(), 16)
        >>> folded["area0/ff_bias"].shape, folded["area1/bias"].shape, "stem/bn/gamma" in folded
        ((4, 4, 64), (4, 4, 64), False)
    """
    p = dict(cnn_parameters)
    depth = _depth(p)
    if depth not in (2, 4, 6, 8) or "stem/bn/gamma" not in p:
        raise ValueError(f"fold_batch_norm: cnn_parameters must be a CordsNetCNN.get_parameters() dict, got keys "
                         f"{sorted(p)[:4]}…")
    sizes = area_sizes(image_size, depth)
    stem_size = (int(image_size) + 6 - 7) // 2 + 1
    out = {}

    def fold(name):
        s, shift = _bn_scale(p, name)
        v = np.asarray(p[f"{name}/v"], "float64")
        out[f"{name}/g"] = np.asarray(p[f"{name}/g"], "float64") * s
        out[f"{name}/v"] = v / _norm(v)
        return shift

    def copy(name):
        out[f"{name}/g"], out[f"{name}/v"] = np.asarray(p[f"{name}/g"]), np.asarray(p[f"{name}/v"])

    def kernel(name):
        return effective_kernel(out[f"{name}/g"], out[f"{name}/v"])

    stem_shift = fold("stem")
    pooled = average_pool_map(np.broadcast_to(stem_shift, (stem_size, stem_size, 64)))
    copy("inp_skip")
    skip_shifts = [fold(f"skip{k}") for k in range(depth // 2 - 1)]
    for j in range(depth):
        h, w = sizes[j]
        stride = 2 if j >= 2 and j % 2 == 0 else 1
        ff_shift = fold(f"area{j}/ff")
        if j == 0:
            extra = pooled
        elif j == 1:
            extra = conv_map(pooled, kernel("inp_skip"))
        elif j % 2 == 1:
            extra = np.broadcast_to(skip_shifts[(j - 3) // 2], (h, w, skip_shifts[(j - 3) // 2].shape[0]))
        else:
            extra = None
        ff_bias = np.broadcast_to(ff_shift, (h, w, ff_shift.shape[0])).copy()
        if extra is not None:
            ff_bias += conv_map(extra, kernel(f"area{j}/ff"), stride, 1)
        out[f"area{j}/ff_bias"] = ff_bias
        rec_shift = fold(f"area{j}/rec")
        out[f"area{j}/bias"] = np.broadcast_to(rec_shift, (h, w, rec_shift.shape[0])).copy()
    copy("readout")
    out["readout/bias"] = np.asarray(p["readout/bias"])
    return {k: np.ascontiguousarray(v, dtype="float32") for k, v in out.items()}


def _conv(x, kernel, stride):
    if stride == 2:
        x = ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))) if kernel.shape[0] == 3 else x
        return ops.conv(x, kernel, strides=2, padding="valid")
    return ops.conv(x, kernel, strides=1, padding="same")


def _kernel(parameters, name):
    g, v = parameters[f"{name}/g"], parameters[f"{name}/v"]
    axes = tuple(range(len(v.shape) - 1))
    return g * v / ops.sqrt(ops.sum(ops.square(v), axis=axes, keepdims=True))


def folded_cnn_activations(parameters, images, depth):
    """The folded CNN on `images` (Keras ops, differentiable): (logits, [(h_j, z_j)] per area).

    h_j is area j's bias-free input (stem and skip outputs without their BN shifts) and
    z_j = rec_j(ff_j(h_j) + ff_bias_j) + bias_j its pre-ReLU output; x_j = ReLU(z_j).
    `parameters` maps the canonical names of `fold_batch_norm` to tensors or arrays.
    """
    stem = ops.conv(ops.pad(images, ((0, 0), (3, 3), (3, 3), (0, 0))), _kernel(parameters, "stem"), strides=2,
                    padding="valid")
    inp = ops.average_pool(ops.pad(stem, ((0, 0), (1, 1), (1, 1), (0, 0))), 3, 2, padding="valid")
    x, areas = [], []
    for j in range(depth):
        if j == 0:
            h = inp
        elif j == 1:
            h = x[0] + _conv(inp, _kernel(parameters, "inp_skip"), 1)
        elif j % 2 == 0:
            h = x[j - 1] + x[j - 2]
        else:
            h = x[j - 1] + _conv(x[j - 2], _kernel(parameters, f"skip{(j - 3) // 2}"), 2)
        stride = 2 if j >= 2 and j % 2 == 0 else 1
        y = _conv(h, _kernel(parameters, f"area{j}/ff"), stride) + parameters[f"area{j}/ff_bias"]
        z = _conv(y, _kernel(parameters, f"area{j}/rec"), 1) + parameters[f"area{j}/bias"]
        areas.append((h, z))
        x.append(ops.relu(z))
    features = ops.mean(x[-1] + x[-2], axis=(1, 2))
    logits = ops.matmul(features, _kernel(parameters, "readout")) + parameters["readout/bias"]
    return logits, areas
