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

__all__ = ["Synapses", "synaptic_drive", "LAYOUTS"]

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

    def tensors(self):
        """What a layer stores, as float32/int32 NumPy arrays: {"kernel": Wᵀ} or {"indices"[, "values"]}.

        `scale` is not folded in (a layer keeps it as a constant or a parameter of its own).
        """
        if self.layout == "dense":
            return {"kernel": np.ascontiguousarray(self.dense.T)}
        out = {"indices": self.indices}
        if self.values is not None:
            out["values"] = self.values
        return out

    def __repr__(self):
        return f"Synapses(shape={self.shape}, layout={self.layout!r}, nnz={self.nnz}, scale={self.scale:g})"


def synaptic_drive(x, tensors, scale=1.0):
    """d = scale · x · Wᵀ for x (batch, n_pre), with W given by `Synapses.tensors()` (as tensors).

    The layout is read from the keys: "kernel" (dense) or "indices" [+ "values"] (ell).
    """
    from keras import ops

    if "kernel" in tensors:
        d = ops.matmul(x, ops.cast(tensors["kernel"], x.dtype))
    else:
        padded = ops.concatenate([x, ops.zeros_like(x[..., :1])], axis=-1)
        gathered = ops.take(padded, tensors["indices"], axis=-1)  # (batch, n_post, k_max)
        if "values" in tensors:
            gathered = gathered * ops.cast(tensors["values"], x.dtype)
        d = ops.sum(gathered, axis=-1)
    if isinstance(scale, (int, float)) and scale == 1.0:
        return d
    return d * ops.cast(scale, x.dtype)
