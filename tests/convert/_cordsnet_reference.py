"""A minimal NumPy (float64) reference of the original CordsNet equations, in PyTorch's layout and semantics.

Written from specs/cordsnet.md §1–§2 for the converter round trip (§8.3 test 7): NCHW tensors, PyTorch
cross-correlation with explicit symmetric zero padding, 3×3/s2/p1 average pool with count_include_pad,
weight norm W = g·v/‖v‖ (norm over every axis but the first), synchronous (Jacobi) Euler updates, the
readout from the new states of the last two areas. Keys are the original's state-dict keys.
"""

import numpy as np
from threadpoolctl import threadpool_limits  # a dependency of scikit-learn, which ndnx requires

CHANNELS = (64, 64, 128, 128, 256, 256, 512, 512)
WN = ".parametrizations.weight.original"


def conv2d(x, w, stride, padding):
    """PyTorch Conv2d (no bias): x (B, C, H, W), w (O, C, kh, kw); out[b, o, i, j] =
    Σ_{c,u,v} w[o, c, u, v] · x_padded[b, c, stride·i + u, stride·j + v]."""
    _, _, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho, wo = (x.shape[2] - kh) // stride + 1, (x.shape[3] - kw) // stride + 1
    patches = np.stack([x[:, :, u:u + stride * (ho - 1) + 1:stride, v:v + stride * (wo - 1) + 1:stride]
                        for u in range(kh) for v in range(kw)], axis=2)  # (B, C, kh·kw, Ho, Wo)
    b = x.shape[0]
    columns = patches.reshape(b, -1, ho * wo).transpose(1, 0, 2).reshape(-1, b * ho * wo)  # rows (c, u, v)
    out = np.dot(w.reshape(w.shape[0], -1), columns)  # one GEMM over the whole batch
    return out.reshape(w.shape[0], b, ho, wo).transpose(1, 0, 2, 3)


def avg_pool_3x3_s2_p1(x):
    """PyTorch AvgPool2d(3, 2, 1) with count_include_pad=True: every window divides by 9."""
    x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ho, wo = (x.shape[2] - 3) // 2 + 1, (x.shape[3] - 3) // 2 + 1
    out = np.zeros(x.shape[:2] + (ho, wo))
    for u in range(3):
        for v in range(3):
            out += x[:, :, u:u + 2 * (ho - 1) + 1:2, v:v + 2 * (wo - 1) + 1:2]
    return out / 9.0


def relu(x):
    return np.maximum(x, 0.0)


def weight(sd, module):
    g, v = np.asarray(sd[module + WN + "0"], np.float64), np.asarray(sd[module + WN + "1"], np.float64)
    norm = np.sqrt(np.sum(v ** 2, axis=tuple(range(1, v.ndim)), keepdims=True))
    return g * v / norm


def run(sd, images, blank_steps, stimulus_steps, alpha=0.2):
    """Logits (B, stimulus_steps, n) of the original forward for NCHW images, and the final states."""
    # the GEMMs here are thin (a few columns); threaded BLAS on a shared 2-core machine is 5-10x slower
    with threadpool_limits(1):
        return _run(sd, images, blank_steps, stimulus_steps, alpha)


def _run(sd, images, blank_steps, stimulus_steps, alpha):
    depth = sum(1 for k in sd if k.startswith("conv_bias."))
    w = {m: weight(sd, m) for m in {k.split(WN)[0] for k in sd if WN in k}}
    fc_w, fc_b = w["out_fc"], np.asarray(sd["out_fc.bias"], np.float64)
    bias = [np.asarray(sd[f"conv_bias.{j}"], np.float64) for j in range(depth)]
    images = np.asarray(images, np.float64)
    r = [np.zeros((images.shape[0],) + b.shape) for b in bias]

    def step(r, inp):
        h = []
        for j in range(depth):
            if j == 0:
                h.append(inp)
            elif j == 1:
                h.append(relu(r[0]) + conv2d(inp, w["inp_skip"], 1, 1))
            elif j % 2 == 0:
                h.append(relu(r[j - 1]) + relu(r[j - 2]))
            else:
                h.append(relu(r[j - 1]) + conv2d(relu(r[j - 2]), w[f"skip_area.{(j - 3) // 2}"], 2, 0))
        new = []
        for j in range(depth):
            stride = 2 if j >= 2 and j % 2 == 0 else 1
            drive = conv2d(r[j], w[f"area_conv.{j}"], 1, 1) + bias[j] + conv2d(h[j], w[f"area_area.{j}"], stride, 1)
            new.append((1 - alpha) * r[j] + alpha * relu(drive))
        pooled = (relu(new[-1]) + relu(new[-2])).mean(axis=(2, 3))
        return new, pooled @ fc_w.T + fc_b

    stem = lambda x: avg_pool_3x3_s2_p1(conv2d(x, w["inp_conv"], 2, 3))  # noqa: E731
    blank = stem(images * 0)
    for _ in range(blank_steps):
        r, _ = step(r, blank)
    inp, logits = stem(images), []
    for _ in range(stimulus_steps):
        r, out = step(r, inp)
        logits.append(out)
    return np.stack(logits, axis=1), r
