"""3×3 stride-1 'same' convolution by Winograd's minimal filtering F(2×2, 3×3).

Lavin & Gray (2016), "Fast algorithms for convolutional neural networks". Each 2×2 output tile is

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A

for the 4×4 input tile d around it, so a 3×3 convolution costs 16 multiply-adds per 4 outputs and
channel pair instead of 36 (2.25× fewer). The kernel transform U = G g Gᵀ depends on the weights only:
a recurrent network that applies the same kernel at every time step transforms it once per call
(CordsNet, `ndnx.cells.CordsNetCell`); the channel sums become 16 batched matrix products
(tiles × C_in) @ (C_in × C_out). F(2×2, 3×3) keeps float32 results within ~1e-6 of direct convolution
(relative to the output's scale), since its transforms have entries 0, ±1 and ±1/2 only.
"""

import numpy as np
import tensorflow as tf

__all__ = ["winograd_kernel", "winograd_conv3x3"]

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]], np.float32)


def winograd_kernel(kernel):
    """U = G g Gᵀ of a (3, 3, C_in, C_out) kernel, as (16, C_in, C_out).

    Example:
        >>> import numpy as np
        >>> tuple(winograd_kernel(np.ones((3, 3, 2, 5), "float32")).shape)
        (16, 2, 5)
    """
    kernel = tf.convert_to_tensor(kernel)
    g = tf.constant(_G, dtype=kernel.dtype)
    u = tf.einsum("ai,ijcf,bj->abcf", g, kernel, g)
    return tf.reshape(u, (16, kernel.shape[2], kernel.shape[3]))


def _input_transform(d):
    """Bᵀ d along one tile axis: d is 4 tensors (the tile's rows or columns)."""
    return [d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]]


def winograd_conv3x3(x, u):
    """x ⋆ kernel with zero padding 1 and stride 1 (x (B, H, W, C_in), u = winograd_kernel(kernel)).

    Equals `tf.nn.conv2d(x, kernel, 1, "SAME")` (= PyTorch padding 1) to float32 rounding.

    Example:
        >>> import numpy as np, tensorflow as tf
        >>> x = np.random.default_rng(0).normal(size=(1, 5, 6, 3)).astype("float32")
        >>> k = np.random.default_rng(1).normal(size=(3, 3, 3, 4)).astype("float32")
        >>> direct = tf.nn.conv2d(x, k, 1, "SAME")
        >>> bool(np.allclose(winograd_conv3x3(x, winograd_kernel(k)), direct, atol=1e-5))
        True
    """
    x = tf.convert_to_tensor(x)
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    f = u.shape[-1]
    th, tw = -(-h // 2), -(-w // 2)
    xp = tf.pad(x, [[0, 0], [1, 2 * th + 1 - h], [1, 2 * tw + 1 - w], [0, 0]])
    # d[a][b][n, i, j, c] = xp[n, 2i + a, 2j + b, c]: the 4×4 tiles, overlapping by 2
    d = [[xp[:, a:a + 2 * th:2, b:b + 2 * tw:2, :] for b in range(4)] for a in range(4)]
    columns = [_input_transform([d[a][b] for a in range(4)]) for b in range(4)]  # Bᵀ over a, per b
    v = [_input_transform([columns[b][a] for b in range(4)]) for a in range(4)]  # then over b
    v = tf.reshape(tf.stack([v[a][b] for a in range(4) for b in range(4)]), (16, -1, c))
    m = tf.matmul(v, u)
    m = tf.reshape(m, (4, 4, -1, th, tw, f))
    s = [m[0] + m[1] + m[2], m[1] - m[2] - m[3]]  # Aᵀ over a
    y = [[t[0] + t[1] + t[2], t[1] - t[2] - t[3]] for t in s]  # then over b
    y = tf.stack([tf.stack(row, axis=3) for row in y], axis=2)  # (B, th, 2, tw, 2, F)
    y = tf.reshape(y, (-1, 2 * th, 2 * tw, f))
    return y[:, :h, :w, :]
