"""The synaptic drives of a step split over the cores by postsynaptic rows.

The drive of block (A ← B) is d_i = scale · Σ_j W_ij x_j (`synaptic_drive`); its rows i are
independent, so the rows of every block are cut into `parts` contiguous ranges
(`split_rows`, once per call, outside the step loop) and `parallel_drives` computes range h of
all blocks in one XLA-compiled function per h. Called from an uncompiled TensorFlow loop, these
functions share no input they write, so TensorFlow's inter-op thread pool runs them on
different cores; the results are concatenated back along the rows. The sums are the same
column-loop sums as `synaptic_drive`'s, term by term and in the same order, so the drive is
bitwise the same as the unsplit one.

Why not inside one XLA function: XLA:CPU (TensorFlow 2.21) runs a step's independent column loops
one after the other on one thread (checked: the four blocks of an E/I step, or two halves of
each, used one thread, also with --xla_cpu_enable_concurrency_optimized_scheduler), and it splits
a fused loop over threads only when one iteration is large (a batch of ≥ 5 vectors), not for the
8000-element gather of a single vector.

Measured on the 2-core machine (N = 10⁴, K = 500, B = 1, uint16 columns; see
benchmarks/bench_ei.py): the two halves take 50/50 of the drive's CPU time on two threads, for
about 1.4 ms more CPU per step than one compiled loop (launches and hand-offs).
"""

__all__ = ["split_rows", "parallel_drives"]

_COMPILED = {}


def split_rows(tensors, parts):
    """`tensors` of one block (`Synapses.tensors()`, as tensors) as `parts` dicts over row ranges.

    The rows are cut at n_post·h/parts (h = 0 … parts); ELL columns and values are (k_max, n_post)
    and dense kernels (n_pre, n_post), so every range is a slice of the last axis.

    Example:
        >>> from ndnx.connectivity import Synapses
        >>> from ndnx.connectivity.parallel_drive import split_rows
        >>> s = Synapses.from_rows([[0], [1], [0, 1]], n_pre=2)
        >>> [t["columns"].numpy().tolist() for t in split_rows(s.tensors(), 2)]
        [[[0], [2]], [[1, 0], [2, 1]]]
    """
    import tensorflow as tf

    if not (isinstance(parts, int) and parts >= 1):
        raise ValueError(f"split_rows: parts must be an int ≥ 1, got {parts!r}")
    tensors = {k: tf.convert_to_tensor(v) for k, v in tensors.items()}
    n_post = int(next(iter(tensors.values())).shape[-1])
    edges = [n_post * h // parts for h in range(parts + 1)]
    return [{k: v[..., a:b] for k, v in tensors.items()} for a, b in zip(edges[:-1], edges[1:])]


def _drives(xs, tensors, scales):
    from ndnx.connectivity.synapses import synaptic_drive

    return [synaptic_drive(x, t, s) for x, t, s in zip(xs, tensors, scales)]


def parallel_drives(xs, parts, scales):
    """[scale_k · x_k · W_kᵀ] for blocks k, each W_k given as its `split_rows` parts.

    xs: presynaptic inputs (batch, n_pre_k); parts: one list of row-range tensors per block (all
    with the same number of ranges); scales: one scale per block (number or tensor). Range h of
    every block is one XLA-compiled call; returns the drives (batch, n_post_k).

    Example:
        >>> import numpy as np
        >>> from ndnx.connectivity import Synapses, synaptic_drive
        >>> from ndnx.connectivity.parallel_drive import parallel_drives, split_rows
        >>> s = Synapses.from_rows([[0], [1], [0, 1]], n_pre=2)
        >>> x = np.array([[1.0, 2.0]], "float32")
        >>> parallel_drives([x], [split_rows(s.tensors(), 2)], [0.5])[0].numpy().tolist()
        [[0.5, 1.0, 1.5]]
    """
    import tensorflow as tf

    n_ranges = {len(p) for p in parts}
    if len(n_ranges) != 1 or not (len(xs) == len(parts) == len(scales)):
        raise ValueError(f"parallel_drives: expected one input, one list of row ranges (all of one length) and "
                         f"one scale per block, got {len(xs)} inputs, ranges {sorted(n_ranges)}, {len(scales)} scales")
    if "fn" not in _COMPILED:
        _COMPILED["fn"] = tf.function(_drives, jit_compile=True, autograph=False)
    fn = _COMPILED["fn"]
    xs = [tf.convert_to_tensor(x) for x in xs]
    scales = [tf.cast(s, x.dtype) for s, x in zip(scales, xs)]
    pieces = [fn(xs, [p[h] for p in parts], scales) for h in range(n_ranges.pop())]
    return [tf.concat([piece[k] for piece in pieces], axis=-1) for k in range(len(xs))]
