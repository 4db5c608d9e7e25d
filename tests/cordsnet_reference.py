"""A brute-force NumPy reference of CordsNet (spec cordsnet.md §1–2, PyTorch semantics), for the tests.

Written from the spec's equations with explicit loops over kernel taps, independent of ndnx: convs are
cross-correlations with symmetric zero padding, the pool is a 3×3/s2/p1 average that counts the padding,
every new state comes from the old tuple. Parameters are the canonical dict with plain kernels
(`<name>/kernel`) or g/v pairs (folded here).
"""

import numpy as np

CHANNELS = (64, 64, 128, 128, 256, 256, 512, 512)


def conv(x, w, stride=1, pad=0):
    """PyTorch Conv2d (no bias) in NHWC: x (B, H, W, C), w (kh, kw, C, F), float64."""
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    kh, kw, _, f = w.shape
    ho = (x.shape[1] - kh) // stride + 1
    wo = (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], ho, wo, f))
    for u in range(kh):
        for v in range(kw):
            patch = x[:, u:u + stride * (ho - 1) + 1:stride, v:v + stride * (wo - 1) + 1:stride, :]
            out += patch @ np.asarray(w[u, v], np.float64)
    return out


def avg_pool_include_pad(x):
    """PyTorch AvgPool2d(3, 2, padding=1) with count_include_pad=True: always divides by 9."""
    x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ho = (x.shape[1] - 3) // 2 + 1
    wo = (x.shape[2] - 3) // 2 + 1
    out = np.zeros((x.shape[0], ho, wo, x.shape[3]))
    for u in range(3):
        for v in range(3):
            out += x[:, u:u + 2 * (ho - 1) + 1:2, v:v + 2 * (wo - 1) + 1:2, :]
    return out / 9.0


def kernels(params):
    """{name: effective kernel} from `<name>/kernel` or `<name>/g`, `<name>/v` (norm over all but the last axis)."""
    out = {}
    for key, value in params.items():
        name, _, leaf = key.rpartition("/")
        if leaf == "kernel":
            out[name] = np.asarray(value, np.float64)
        elif leaf == "v":
            v = np.asarray(value, np.float64)
            norm = np.sqrt((v ** 2).sum(axis=tuple(range(v.ndim - 1))))
            out[name] = v * np.asarray(params[f"{name}/g"], np.float64) / norm
    return out


def relu(x):
    return np.maximum(x, 0.0)


def sigma(z, nonlinearity, slope=0.0):
    if nonlinearity == "relu":
        return relu(z)
    if nonlinearity == "linear":
        return z
    return relu(z) + slope * np.minimum(z, 0.0)


def stem(params, images):
    k = kernels(params)
    return avg_pool_include_pad(conv(images, k["stem"], 2, 3))


def step(params, images, states, depth, alpha=0.2, nonlinearity="relu", slope=0.0):
    """One synchronous step; returns (new states, logits from the new states)."""
    k = kernels(params)
    inp = stem(params, images)
    rect = [relu(r) for r in states]
    new = []
    for j in range(depth):
        if j == 0:
            h = inp
        elif j == 1:
            h = rect[0] + conv(inp, k["inp_skip"], 1, 1)
        elif j % 2 == 0:
            h = rect[j - 1] + rect[j - 2]
        else:
            h = rect[j - 1] + conv(rect[j - 2], k[f"skip{(j - 3) // 2}"], 2, 0)
        stride = 2 if j in (2, 4, 6) else 1
        z = conv(states[j], k[f"area{j}/rec"], 1, 1) + params[f"area{j}/bias"] + conv(h, k[f"area{j}/ff"], stride, 1)
        new.append((1 - alpha) * states[j] + alpha * sigma(z, nonlinearity, slope))
    return new, logits(params, new)


def logits(params, states):
    k = kernels(params)
    pooled = (relu(states[-1]) + relu(states[-2])).mean(axis=(1, 2))
    return pooled @ k["readout"] + params["readout/bias"]


def run(params, images, states, steps, depth, **kwargs):
    """`steps` steps; (final states, list of per-step states, per-step logits (T, B, n))."""
    trajectory, out = [], []
    for _ in range(steps):
        states, lg = step(params, images, states, depth, **kwargs)
        trajectory.append(states)
        out.append(lg)
    return states, trajectory, np.array(out)


def zero_states(area_shapes, batch):
    return [np.zeros((batch,) + tuple(s)) for s in area_shapes]


def cross_entropy(labels, lg):
    """Σ_batch CE / batch, integer or soft labels."""
    lg = lg - lg.max(axis=1, keepdims=True)
    logp = lg - np.log(np.exp(lg).sum(axis=1, keepdims=True))
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return float(-(labels * logp).sum() / len(lg))
    return float(-logp[np.arange(len(lg)), labels].sum() / len(lg))
