"""A block of synaptic weights W (postsynaptic rows × presynaptic columns), dense or sparse.

The drive a block gives its postsynaptic neurons is d_i = Σ_j W_ij x_j, for presynaptic rates
x (batch, n_pre) → d (batch, n_post). Two storage layouts give identical results:

- "dense": W itself, kept as the kernel Wᵀ (n_pre, n_post) so d = x · Wᵀ is one matmul. Best
  up to a few 10⁴ neurons (memory N², compute B·N² per step).
- "ell" (ELLPACK, fixed row width): for every postsynaptic neuron the indices of its k_max
  presynaptic partners (n_post, k_max) int32, padded with the index n_pre, which points at a
  zero appended to x; optional values (n_post, k_max) (absent for a binary matrix, whose drive is
  the plain sum of partner rates) and a scalar `scale`. Memory N·K, compute B·N·K per step, so a
  network of 10⁵ neurons with K = 1000 fits where its dense matrix (40 GB) does not.

Synapses are plain NumPy containers (built once, row-chunked, by `ndnx.connectivity`); a layer
stores `tensors()` as non-trainable weights and calls `synaptic_drive` on them inside its step.
"""

import numpy as np

__all__ = ["Synapses", "synaptic_drive", "narrow_columns", "tensor_specs", "LAYOUTS", "NARROW_LIMIT"]

LAYOUTS = ("dense", "ell")


class Synapses:
    """A weight block W of shape (n_post, n_pre) in the "dense" or "ell" layout.

    Build with `Synapses.from_dense(W)`, `Synapses.from_rows(rows, n_pre, values=None)` (one array
    of presynaptic indices per postsynaptic neuron) or `Synapses.from_sparse(rows, cols, values,
    shape)` (COO triplets, e.g. a measured connectome); `with_layout("dense"|"ell")` converts,
    `to_dense()` returns W. `scale` multiplies every weight (the block coupling J_AB).

    Example:
        >>> import numpy as np
        >>> from ndnx.connectivity import Synapses
        >>> s = Synapses.from_rows([[0, 2], [1]], n_pre=3, scale=0.5)
        >>> s.to_dense().tolist()
        [[0.5, 0.0, 0.5], [0.0, 0.5, 0.0]]
        >>> s.with_layout("dense").layout, s.nnz
        ('dense', 3)
    """

    def __init__(self, shape, layout, *, dense=None, indices=None, values=None, scale=1.0):
        n_post, n_pre = (int(n) for n in shape)
        if layout not in LAYOUTS:
            raise ValueError(f"Synapses: layout must be one of {LAYOUTS}, got {layout!r}")
        scale = float(scale)
        if not np.isfinite(scale):
            raise ValueError(f"Synapses: scale must be finite, got {scale}")
        self.shape = (n_post, n_pre)
        self.layout = layout
        self.scale = scale
        self.dense = None if dense is None else np.asarray(dense, dtype="float32")
        self.indices = None if indices is None else np.asarray(indices, dtype="int32")
        self.values = None if values is None else np.asarray(values, dtype="float32")
        if layout == "dense":
            if self.dense is None or self.dense.shape != self.shape:
                got = None if self.dense is None else self.dense.shape
                raise ValueError(f"Synapses: a dense block needs a matrix of shape {self.shape}, got {got}")
            if not np.all(np.isfinite(self.dense)):
                raise ValueError("Synapses: the weight matrix has non-finite entries")
        else:
            if self.indices is None or self.indices.ndim != 2 or self.indices.shape[0] != n_post:
                got = None if self.indices is None else self.indices.shape
                raise ValueError(f"Synapses: an ell block needs indices of shape ({n_post}, k_max), got {got}")
            if self.indices.size and (self.indices.min() < 0 or self.indices.max() > n_pre):
                raise ValueError(f"Synapses: presynaptic indices must lie in [0, {n_pre}] ({n_pre} = padding)")
            if self.values is not None:
                if self.values.shape != self.indices.shape:
                    raise ValueError(f"Synapses: values must have the shape of indices {self.indices.shape}, "
                                     f"got {self.values.shape}")
                if not np.all(np.isfinite(self.values)):
                    raise ValueError("Synapses: the weight values have non-finite entries")

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def from_dense(cls, matrix, scale=1.0):
        matrix = np.asarray(matrix, dtype="float32")
        if matrix.ndim != 2:
            raise ValueError(f"Synapses.from_dense: expected a 2-D (n_post, n_pre) matrix, got shape {matrix.shape}")
        return cls(matrix.shape, "dense", dense=matrix, scale=scale)

    @classmethod
    def from_rows(cls, rows, n_pre, values=None, scale=1.0):
        """One index array per postsynaptic neuron (and optionally one value array each)."""
        rows = [np.asarray(r, dtype="int64").ravel() for r in rows]
        k_max = max((len(r) for r in rows), default=0)
        indices = np.full((len(rows), k_max), n_pre, dtype="int32")
        vals = None if values is None else np.zeros((len(rows), k_max), dtype="float32")
        for i, r in enumerate(rows):
            if len(r) and (r.min() < 0 or r.max() >= n_pre):
                raise ValueError(f"Synapses.from_rows: row {i} has presynaptic indices outside [0, {n_pre})")
            indices[i, :len(r)] = r
            if vals is not None:
                v = np.asarray(values[i], dtype="float32").ravel()
                if v.shape != r.shape:
                    raise ValueError(f"Synapses.from_rows: row {i} has {len(r)} indices and {len(v)} values")
                vals[i, :len(r)] = v
        return cls((len(rows), n_pre), "ell", indices=indices, values=vals, scale=scale)

    @classmethod
    def from_sparse(cls, rows, cols, values, shape, scale=1.0):
        """COO triplets (post index, pre index, weight); duplicates are summed."""
        rows, cols = np.asarray(rows, dtype="int64").ravel(), np.asarray(cols, dtype="int64").ravel()
        values = np.asarray(values, dtype="float32").ravel()
        n_post, n_pre = (int(n) for n in shape)
        if not rows.shape == cols.shape == values.shape:
            raise ValueError(f"Synapses.from_sparse: rows, cols and values must have one length, got "
                             f"{rows.shape[0]}, {cols.shape[0]}, {values.shape[0]}")
        if rows.size and (rows.min() < 0 or rows.max() >= n_post or cols.min() < 0 or cols.max() >= n_pre):
            raise ValueError(f"Synapses.from_sparse: indices outside the shape {(n_post, n_pre)}")
        key = rows * n_pre + cols
        key, inverse = np.unique(key, return_inverse=True)
        summed = np.zeros(key.shape, dtype="float64")
        np.add.at(summed, inverse, values)
        rows, cols = key // n_pre, key % n_pre
        splits = np.searchsorted(rows, np.arange(n_post + 1))
        return cls.from_rows([cols[a:b] for a, b in zip(splits[:-1], splits[1:])], n_pre,
                             values=[summed[a:b] for a, b in zip(splits[:-1], splits[1:])], scale=scale)

    # ---- views --------------------------------------------------------------------------------
    @property
    def nnz(self):
        if self.layout == "dense":
            return int(np.count_nonzero(self.dense))
        if self.values is None:
            return int(np.count_nonzero(self.indices < self.shape[1]))
        return int(np.count_nonzero((self.indices < self.shape[1]) & (self.values != 0)))

    @property
    def k_max(self):
        return None if self.layout == "dense" else int(self.indices.shape[1])

    def to_dense(self):
        """W (n_post, n_pre) as float32, `scale` included."""
        if self.layout == "dense":
            return (self.dense * np.float32(self.scale)).astype("float32")
        n_post, n_pre = self.shape
        out = np.zeros((n_post, n_pre + 1), dtype="float64")
        vals = np.ones(self.indices.shape) if self.values is None else self.values
        np.add.at(out, (np.repeat(np.arange(n_post), self.indices.shape[1]), self.indices.ravel()), vals.ravel())
        return (out[:, :n_pre] * self.scale).astype("float32")

    def with_layout(self, layout):
        if layout == self.layout:
            return self
        if layout == "dense":
            return Synapses.from_dense(self.to_dense())
        if layout not in LAYOUTS:
            raise ValueError(f"Synapses: layout must be one of {LAYOUTS}, got {layout!r}")
        w = self.dense
        rows = [np.flatnonzero(row) for row in w]
        binary = all(np.all(row[r] == row[r][0]) for row, r in zip(w, rows) if len(r)) and \
            len({float(row[r][0]) for row, r in zip(w, rows) if len(r)}) <= 1
        if binary:
            first = next((float(row[r][0]) for row, r in zip(w, rows) if len(r)), 1.0)
            return Synapses.from_rows(rows, self.shape[1], scale=self.scale * first)
        return Synapses.from_rows(rows, self.shape[1], values=[row[r] for row, r in zip(w, rows)], scale=self.scale)

    def scaled(self, factor):
        return Synapses(self.shape, self.layout, dense=self.dense, indices=self.indices,
                        values=self.values, scale=self.scale * float(factor))

    def in_degrees(self):
        """The number of non-zero weights of every postsynaptic neuron (n_post,) int64."""
        if self.layout == "dense":
            return np.count_nonzero(self.dense, axis=1).astype("int64")
        real = self.indices < self.shape[1]
        if self.values is not None:
            real &= self.values != 0
        return real.sum(axis=1).astype("int64")

    def tensors(self):
        """What a layer stores (NumPy arrays) and hands to `synaptic_drive`; treat the dict as opaque.

        Dense: {"kernel": Wᵀ (n_pre, n_post) float32}. ELL: {"columns": (k_max, n_post) int32, the
        transposed indices (column c holds the c-th partner of every postsynaptic neuron), and for a
        valued block "values": (k_max, n_post) float32}. `scale` is not folded in (a layer keeps it
        as a constant or a parameter of its own).
        """
        if self.layout == "dense":
            return {"kernel": np.ascontiguousarray(self.dense.T)}
        out = {"columns": np.ascontiguousarray(self.indices.T)}
        if self.values is not None:
            out["values"] = np.ascontiguousarray(self.values.T)
        return out

    def __repr__(self):
        return f"Synapses(shape={self.shape}, layout={self.layout!r}, nnz={self.nnz}, scale={self.scale:g})"


def tensor_specs(shape, layout, k_max=None, valued=False):
    """{name: (shape, dtype)} of what `Synapses.tensors()` holds for a block of this description.

    A layer that stores a block's tensors as variables declares them from this (e.g. when it is
    rebuilt from its config before the saved values are loaded), without knowing the layout's
    internals.
    """
    n_post, n_pre = (int(n) for n in shape)
    if layout == "dense":
        return {"kernel": ((n_pre, n_post), "float32")}
    if layout != "ell":
        raise ValueError(f"tensor_specs: layout must be one of {LAYOUTS}, got {layout!r}")
    specs = {"columns": ((int(k_max), n_post), "int32")}
    if valued:
        specs["values"] = ((int(k_max), n_post), "float32")
    return specs


#: Columns summed per iteration of the ELL loop: one for a single presynaptic vector, more for a
#: batch (measured, see `synaptic_drive`).
UNROLL_SINGLE, UNROLL_BATCH = 1, 16
#: In the compiled loop a batch of PAD_BATCH_ABOVE < B < PAD_BATCH presynaptic vectors is padded
#: with zero vectors to PAD_BATCH (measured, see `synaptic_drive`).
PAD_BATCH_ABOVE, PAD_BATCH = 4, 16
#: ELL columns fit uint16 when the padding index n_pre is below this (see `narrow_columns`).
NARROW_LIMIT = 2 ** 16


def narrow_columns(tensors, n_pre):
    """`tensors` of an ELL block with its columns as uint16 when n_pre < NARROW_LIMIT, else unchanged.

    The ELL drive streams the whole columns array once per step (40 MB at N = 10⁴, K = 500 as
    int32): as uint16 it is half that and stays in the 32 MB L3 cache, and at B = 1 the drive can
    pad x to NARROW_LIMIT entries so that XLA's index clamping is provably a no-op and is compiled
    away (see `synaptic_drive`, 35 % less CPU per step). Call it once per trial, outside the step
    loop (the cast is one pass over the columns); dense blocks and int32 columns of larger blocks
    come back as they are. `synaptic_drive` reads either.

    Example:
        >>> from ndnx.connectivity import Synapses, narrow_columns, synaptic_drive
        >>> s = Synapses.from_rows([[0, 2], [1]], n_pre=3)
        >>> t = narrow_columns(s.tensors(), 3)
        >>> t["columns"].dtype.name, synaptic_drive([[1.0, 2.0, 3.0]], t).numpy().tolist()
        ('uint16', [[4.0, 2.0]])
    """
    import tensorflow as tf

    if "columns" not in tensors or int(n_pre) >= NARROW_LIMIT:
        return tensors
    out = dict(tensors)
    out["columns"] = tf.cast(tensors["columns"], tf.uint16)
    return out


def synaptic_drive(x, tensors, scale=1.0):
    """d = scale · x · Wᵀ for x (..., n_pre), with W given by `Synapses.tensors()` (as tensors).

    The layout is read from the keys ("kernel": a matmul; "columns" [+ "values"]: ELL). The ELL
    drive is a loop over the k_max partner columns, d += x[columns[c]] (· values[c]), with x
    padded by one zero (the padding index n_pre): inside `tf.function(jit_compile=True)` each
    iteration is one fused, vectorised gather-add over the postsynaptic neurons, so nothing of
    size n_post·k_max is ever materialised. x's last axis must be the block's n_pre.

    Measured (benchmarks/connectivity_drive.py; a 2-core AMD EPYC shared with other jobs, so
    CPU time per call, ±30 % from run to run) for one drive of all four blocks of N = 10⁴
    (8000 E + 2000 I), K = 500 from each population — 10⁷ binary synapses, k_max ≈ 580 per block:

    =============================================  =============  ==============
    method                                         B = 1 (ms)     B = 10 (ms)
    =============================================  =============  ==============
    column loop (this function, XLA)               8.5–12         29–49
    same, uint16 columns (`narrow_columns`, cast   5.0–6.7        28–32
    once per call) and at B = 1 x padded to 2¹⁶
    so the gather needs no clamping (default in
    `ndnx.cells.EIRateCell`)
    same, uint16 cast inside the loop (clamp-free  8.3–8.5        —
    but 40 MB of int32 columns still read)
    same, int16 columns / one merged E+I block     same ±4 %      same ±4 %
    same, 1–20 columns per iteration               best 1 (B=1)   best 16 (B>1)
    same, rows sorted by degree in bands (JDS)     same (−12 %    same
                                                   padding, no
                                                   gain)
    same, batch of 5–15 padded to 16 vectors       —              −13 % (B = 10),
                                                                  −40 % (B = 8);
                                                                  B = 4 and 20:
                                                                  no gain (kept)
    same, the rows split in two halves, run        no gain on     no gain on
    concurrently (in one XLA function, or two      the shared     the shared
    XLA functions under TF's inter-op pool)        machine        machine
    same, two halves in one XLA function, re-      one thread     —
    measured (also with the concurrency-           does it all
    optimised scheduler flag)                      (no overlap)
    same, two XLA halves under TF's inter-op       50/50 on two   —
    pool (`ndnx.connectivity.parallel_drive`)      threads, +1.4
                                                   ms CPU/step
    U columns per iteration into a (U, n_post)     U = 64: 7.6    —
    accumulator (XLA splits the fused loop over    wall, 13.7 CPU
    2 threads)
    one gather (U, n_post) + reduce over U         U = 64: 7.4    —
                                                   wall, 14 CPU
    one gather (B, n_post, k_max) + sum (XLA)      48–76          540–610
    transposed (n_pre, B) row gather + sum (XLA)   55–64          540
    dense matmul (XLA)                             34–49          161
    tf.sparse.sparse_dense_matmul (no XLA)         47             102
    CSR tf.linalg.sparse (no XLA)                  195            258
    tf.sparse.segment_sum (no XLA)                 133            230
    scipy.sparse CSR (NumPy, for scale)            11.6–12.6      72–80
    =============================================  =============  ==============

    Where the time goes at B = 1: XLA clamps every gather index into [0, n_pre] (about half the
    instructions of the int32 loop: sign mask, compare, cmov per synapse), and the int32 columns
    (4 bytes per synapse, 40 MB per step at 10⁷ synapses) do not fit the 32 MB L3 cache. uint16
    columns with x padded to 2¹⁶ remove both (the loop is 2.6 instructions per synapse: a 16-bit
    index load, a scalar load, a vector add per 8): 0.5–0.65 ns per synapse.

    A gathered row of 16 floats is one 64-byte cache line, hence the padding. The two-core split
    runs concurrently only as two XLA functions under TF's inter-op pool (one XLA function runs
    independent loops on one thread); it is `ndnx.models.EINetwork(parallel_drive=True)`, opt-in:
    its uncompiled step loop costs CPU (8.8–10.4 against 5.9–7.1 ms per step at B = 1), so it pays
    only with a free second core: 5.0–5.3 against 5.8–7.0 ms wall at load ~1, a tie at load 4.5.

    About 0.9 ns per synapse at B = 1 (0.5–0.65 ns with uint16 columns) and 0.4 ns per synapse and
    batch element at B = 10 (0.3 with uint16); at N = 10⁵, K = 1000 (10⁸ synapses, rates no longer
    in the L1/L2 caches; n_pre = 80000 is too wide for uint16) 230–290 ms at B = 1 and 680 ms at
    B = 10. Against a dense block the ELL drive wins from N ≈ 2000 (K = N/10) at every
    batch size up to 64 and ties below.

    Example:
        >>> import numpy as np, tensorflow as tf
        >>> from ndnx.connectivity import Synapses, synaptic_drive
        >>> s = Synapses.from_rows([[0, 2], [1]], n_pre=3)
        >>> x = np.array([[1.0, 2.0, 3.0]], "float32")
        >>> synaptic_drive(x, s.tensors(), 0.5).numpy().tolist()
        [[2.0, 1.0]]
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    if "kernel" in tensors:
        kernel = tf.cast(tensors["kernel"], x.dtype)
        d = tf.tensordot(x, kernel, axes=[[x.shape.rank - 1], [0]]) if x.shape.rank != 2 else tf.matmul(x, kernel)
    else:
        d = _ell_drive(x, tensors)
    if isinstance(scale, (int, float)) and scale == 1.0:
        return d
    return d * tf.cast(scale, x.dtype)


def _ell_drive(x, tensors):
    import tensorflow as tf

    columns = tf.convert_to_tensor(tensors["columns"])
    narrow = columns.dtype == tf.uint16
    values = tensors.get("values")
    values = None if values is None else tf.cast(values, x.dtype)
    k_max, n_post = columns.shape
    n_pre = x.shape[-1]
    flat = tf.reshape(x, [-1, n_pre])
    single = flat.shape[0] == 1
    # operand row n_pre is the zero the padding index points at
    if single:
        # with uint16 columns an operand of NARROW_LIMIT entries makes every index in range, so the
        # compiled gather drops its clamping (2.6 instead of 5 instructions per synapse)
        width = NARROW_LIMIT if narrow and not tf.executing_eagerly() else n_pre + 1
        operand = tf.concat([flat[0], tf.zeros([width - n_pre], x.dtype)], 0)
        acc = tf.zeros([n_post], x.dtype)
    else:
        batch = tf.shape(flat)[0]
        operand = tf.concat([tf.transpose(flat), tf.zeros([1, batch], x.dtype)], 0)
        if not tf.executing_eagerly():
            # rows of PAD_BATCH floats: one cache line per gathered row (measured, see synaptic_drive);
            # the width is a compile-time constant under XLA, as the batch is
            extra = tf.where((batch > PAD_BATCH_ABOVE) & (batch < PAD_BATCH), PAD_BATCH - batch, 0)
            operand = tf.pad(operand, [[0, 0], [0, extra]])
        acc = tf.zeros([n_post, tf.shape(operand)[1]], x.dtype)

    def add_column(acc, c):
        gathered = tf.gather(operand, tf.cast(columns[c], tf.int32))
        if values is not None:
            gathered *= values[c] if single else values[c][:, None]
        return acc + gathered

    if tf.executing_eagerly():  # one op beats a Python loop of k_max small ones
        gathered = tf.gather(operand, tf.cast(columns, tf.int32))  # (k_max, n_post[, M])
        if values is not None:
            gathered *= values if single else values[..., None]
        acc = tf.reduce_sum(gathered, axis=0) + acc
    else:
        unroll = UNROLL_SINGLE if single else UNROLL_BATCH
        n_iter = k_max // unroll

        def body(i, acc):
            for u in range(unroll):
                acc = add_column(acc, i * unroll + u)
            return i + 1, acc

        if n_iter:
            acc = tf.while_loop(lambda i, acc: i < n_iter, body, (tf.constant(0), acc),
                                maximum_iterations=n_iter)[1]
        for c in range(n_iter * unroll, k_max):
            acc = add_column(acc, c)
    out = tf.reshape(acc, [1, n_post]) if single else tf.transpose(acc[:, :batch])
    return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [n_post]], 0))
