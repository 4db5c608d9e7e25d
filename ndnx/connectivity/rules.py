"""Connection rules: how a probability profile P becomes the connectivity C of one block.

For a block A ← B (n_post × n_pre = N_A × N_B) with presynaptic in-degree K_B and profile P_ij
(`ndnx.connectivity.profiles`), specs/ei_networks_neuroflame.md §2:

- **sparse** (NeuroFlame's default): C_ij ~ Bernoulli(clip(K_B/N_B · P_ij, 0, 1)), independently,
  a binary 0/1 block; the in-degree of neuron i is a sum of Bernoulli variables (binomial with
  mean K_B·⟨P⟩ for a uniform profile).
- **fixed in-degree** (not in NeuroFlame): every row has exactly K_B partners, drawn without
  replacement with probabilities ∝ clip(P_ij, 0, ∞): successive sampling (each partner is drawn
  from the remaining ones ∝ their weight), implemented by the Efraimidis–Spirakis keys
  log(U_ij)/w_ij (the K largest win). A uniform profile gives a uniformly random K-subset.
- **all-to-all**: C_ij = P_ij/N_B, or P_ij/√N_B (`sqrt_normalised`, NeuroFlame's 'dense' in the
  profile name); the profile then uses K_B = 1.

Blocks are built row-chunk by row-chunk (`chunk_bytes` bounds a chunk's working memory) straight
into the requested layout, and their random numbers come from row-group streams
(`ndnx.connectivity.row_streams`), so one seed gives one block whatever the layout and the chunk
size. The sparse rule never looks at all N_A·N_B entries: it draws candidate synapses at the
profile's maximum probability p̄ (geometric gaps between successes, i.e. independent
Bernoulli(p̄) trials) and keeps each with probability p_ij/p̄, which is Bernoulli(p_ij) exactly and
costs O(N_A·N_B·p̄) — a 10⁵-neuron network with K = 1000 is built in seconds. (The gaussian
profile, whose values are drawn, is evaluated row by row instead.)

Example:
    >>> from ndnx.connectivity import ProbabilityProfile, sparse_block, fixed_indegree_block
    >>> p = ProbabilityProfile("uniform", 1000, 2000)
    >>> c = sparse_block(p, in_degree=100, seed=(0, 0, 0))
    >>> c.layout, c.shape, bool(80 < c.in_degrees().mean() < 120)
    ('ell', (1000, 2000), True)
    >>> set(fixed_indegree_block(p, in_degree=100, seed=(0, 0, 0)).in_degrees().tolist())
    {100}
"""

import math

import numpy as np

from ndnx.connectivity.row_streams import entropy_key, row_chunks, row_stream, rows_per_stream
from ndnx.connectivity.synapses import LAYOUTS, Synapses

__all__ = ["sparse_block", "fixed_indegree_block", "all_to_all_block", "DEFAULT_CHUNK_BYTES"]

#: Default working memory of one row chunk.
DEFAULT_CHUNK_BYTES = 64 * 2 ** 20
#: The purpose entry of the random-stream key of connection draws (the gaussian profile uses 1).
CONNECTION_STREAM = 0


class _Rows:
    """Collects a block's rows chunk by chunk into the dense or the ELL layout."""

    def __init__(self, shape, layout, valued):
        if layout not in LAYOUTS:
            raise ValueError(f"connectivity: layout must be one of {LAYOUTS}, got {layout!r}")
        self.shape, self.layout, self.valued = shape, layout, valued
        self.dense = np.zeros(shape, dtype="float32") if layout == "dense" else None
        self.parts = []

    def add_sparse(self, start, counts, cols, values=None):
        """Rows start … start + len(counts): counts[r] partners each, their columns (sorted) in `cols`."""
        if self.layout == "dense":
            rows = start + np.repeat(np.arange(len(counts)), counts)
            self.dense[rows, cols] = 1.0 if values is None else values
        else:
            self.parts.append((start, counts.astype("int64"), cols.astype("int32"),
                               None if values is None else values.astype("float32")))

    def add_full(self, start, values):
        if self.layout == "dense":
            self.dense[start:start + values.shape[0]] = values
        else:
            n_pre = self.shape[1]
            self.add_sparse(start, np.full(values.shape[0], n_pre), np.tile(np.arange(n_pre), values.shape[0]),
                            values.ravel())

    def finish(self):
        n_post, n_pre = self.shape
        if self.layout == "dense":
            return Synapses(self.shape, "dense", dense=self.dense)
        k_max = max((int(c.max()) for _, c, _, _ in self.parts if c.size), default=0)
        indices = np.empty((n_post, k_max), dtype="int32")
        values = np.empty((n_post, k_max), dtype="float32") if self.valued else None
        filled = 0
        while self.parts:
            start, counts, cols, vals = self.parts.pop(0)
            stop = start + len(counts)
            real = np.arange(k_max) < counts[:, None]  # row-major order = the order of cols
            block = np.full((stop - start, k_max), n_pre, dtype="int32")
            block[real] = cols
            indices[start:stop] = block
            if values is not None:
                block = np.zeros((stop - start, k_max), dtype="float32")
                block[real] = vals
                values[start:stop] = block
            filled += stop - start
        if filled != n_post:
            raise AssertionError(f"connectivity: {filled} of {n_post} rows were built")
        return Synapses(self.shape, "ell", indices=indices, values=values)


def _check_common(profile, in_degree, layout, name):
    if not hasattr(profile, "shape") or not callable(profile):
        raise ValueError(f"{name}: profile must be a ProbabilityProfile, got {type(profile).__name__}")
    in_degree = float(in_degree)
    if not (math.isfinite(in_degree) and in_degree >= 0):
        raise ValueError(f"{name}: in_degree must be finite and ≥ 0, got {in_degree}")
    if layout not in LAYOUTS:
        raise ValueError(f"{name}: layout must be one of {LAYOUTS}, got {layout!r}")
    return in_degree


def _bernoulli_positions(rng, total, p):
    """Sorted positions of the successes of `total` independent Bernoulli(p) trials (geometric gaps)."""
    if p >= 1.0:
        return np.arange(total, dtype="int64")
    out, last = [], -1
    while True:
        expected = (total - 1 - last) * p
        pos = last + np.cumsum(rng.geometric(p, size=int(expected + 8.0 * math.sqrt(expected) + 16)))
        if pos[-1] >= total:
            out.append(pos[:np.searchsorted(pos, total)])
            return np.concatenate(out)
        out.append(pos)
        last = int(pos[-1])


def sparse_block(profile, in_degree, seed, layout="ell", chunk_bytes=DEFAULT_CHUNK_BYTES):
    """C_ij ~ Bernoulli(clip(K_B/N_B · P_ij, 0, 1)): a binary block (see the module docstring).

    Args:
        profile: the block's `ProbabilityProfile` (it gives the shape (n_post, n_pre)).
        in_degree: K_B, the mean in-degree from the presynaptic population for P ≡ 1.
        seed: a non-negative int or a tuple of them (`build_network` uses (seed, post, pre)).
        layout: "ell" or "dense".
        chunk_bytes: working memory of one row chunk (at least one row group is processed).

    Example:
        >>> from ndnx.connectivity import ProbabilityProfile, sparse_block
        >>> c = sparse_block(ProbabilityProfile("cosine", 100, 100, kappa=1.0), 10, seed=0, layout="dense")
        >>> float(c.to_dense()[0, 50])   # P = 1 + cos(π) = 0 half way round the ring
        0.0
    """
    in_degree = _check_common(profile, in_degree, layout, "sparse_block")
    n_post, n_pre = profile.shape
    key = entropy_key(*(seed if isinstance(seed, tuple) else (seed,))) + (CONNECTION_STREAM,)
    scale = in_degree / n_pre
    rows = _Rows(profile.shape, layout, valued=False)
    if profile.random:
        group = rows_per_stream(n_pre)
        for start, stop in row_chunks(n_post, group, 24 * n_pre, chunk_bytes):
            p = np.clip(scale * profile((start, stop)), 0.0, 1.0)
            draws = np.concatenate([row_stream(key, g).random((min(group, n_post - g * group), n_pre))
                                    for g in range(start // group, (stop - 1) // group + 1)])
            local, cols = np.nonzero(draws < p)
            rows.add_sparse(start, np.bincount(local, minlength=stop - start), cols)
        return rows.finish()
    p_max = min(1.0, scale * profile.bound())
    if p_max <= 0.0:
        return _Rows(profile.shape, layout, valued=False).finish()
    group = rows_per_stream(n_pre, p_max)
    for start, stop in row_chunks(n_post, group, 48 * n_pre * p_max + 16, chunk_bytes):
        local_rows, cols = [], []
        for g in range(start // group, (stop - 1) // group + 1):
            g0, g1 = g * group, min(n_post, (g + 1) * group)
            rng = row_stream(key, g)
            r, c = np.divmod(_bernoulli_positions(rng, (g1 - g0) * n_pre, p_max), n_pre)
            r += g0
            if profile.kind != "uniform":  # thin the candidates to Bernoulli(p_ij)
                keep = rng.random(r.size) * p_max < np.clip(scale * profile.at(r, c), 0.0, 1.0)
                r, c = r[keep], c[keep]
            local_rows.append(r - start)
            cols.append(c)
        local = np.concatenate(local_rows)
        rows.add_sparse(start, np.bincount(local, minlength=stop - start), np.concatenate(cols))
    return rows.finish()


def _uniform_subsets(rng, n_rows, n_pre, k):
    """n_rows uniformly random k-subsets of range(n_pre), each sorted."""
    if 4 * k > n_pre:
        keys = rng.random((n_rows, n_pre))
        return np.sort(np.argpartition(keys, k - 1, axis=1)[:, :k], axis=1)
    # Redrawing repeated entries never prefers a label over another, so the subsets are uniform.
    draws = rng.integers(0, n_pre, size=(n_rows, k))
    while True:
        draws.sort(axis=1)
        repeated = np.zeros(draws.shape, dtype=bool)
        repeated[:, 1:] = draws[:, 1:] == draws[:, :-1]
        n = int(repeated.sum())
        if n == 0:
            return draws
        draws[repeated] = rng.integers(0, n_pre, size=n)


def fixed_indegree_block(profile, in_degree, seed, layout="ell", chunk_bytes=DEFAULT_CHUNK_BYTES):
    """Exactly K_B partners per row, drawn without replacement ∝ clip(P_ij, 0, ∞) (binary block).

    The partners of a row are drawn by successive sampling: the first ∝ w_ij = clip(P_ij, 0, ∞),
    the next ∝ w among the rest, and so on (Efraimidis–Spirakis keys, O(N_pre) per row; a uniform
    profile draws a uniform K-subset in O(K)). A row with fewer than K_B positive weights is an error.

    Example:
        >>> from ndnx.connectivity import ProbabilityProfile, fixed_indegree_block
        >>> c = fixed_indegree_block(ProbabilityProfile("uniform", 3, 10), 4, seed=0)
        >>> c.in_degrees().tolist(), c.k_max
        ([4, 4, 4], 4)
    """
    in_degree = _check_common(profile, in_degree, layout, "fixed_indegree_block")
    n_post, n_pre = profile.shape
    k = int(round(in_degree))
    if k != in_degree or not 0 <= k <= n_pre:
        raise ValueError(f"fixed_indegree_block: in_degree must be an integer in [0, n_pre = {n_pre}], got {in_degree:g}")
    key = entropy_key(*(seed if isinstance(seed, tuple) else (seed,))) + (CONNECTION_STREAM,)
    rows = _Rows(profile.shape, layout, valued=False)
    if k == 0:
        return rows.finish()
    uniform = profile.kind == "uniform"
    full_row = not uniform or 4 * k > n_pre
    group = rows_per_stream(n_pre) if full_row else rows_per_stream(n_pre, k / n_pre)
    bytes_per_row = 24 * n_pre if full_row else 24 * k
    for start, stop in row_chunks(n_post, group, bytes_per_row, chunk_bytes):
        chosen = []
        for g in range(start // group, (stop - 1) // group + 1):
            g0, g1 = g * group, min(n_post, (g + 1) * group)
            rng = row_stream(key, g)
            if uniform:
                chosen.append(_uniform_subsets(rng, g1 - g0, n_pre, k))
                continue
            w = np.clip(profile((g0, g1)), 0.0, None)
            short = np.flatnonzero((w > 0).sum(axis=1) < k)
            if short.size:
                raise ValueError(f"fixed_indegree_block: row {g0 + short[0]} has {(w[short[0]] > 0).sum()} "
                                 f"presynaptic neurons with P > 0, fewer than in_degree = {k}")
            with np.errstate(divide="ignore"):
                keys = np.log(rng.random(w.shape)) / w  # −inf where w = 0
            chosen.append(np.sort(np.argpartition(-keys, k - 1, axis=1)[:, :k], axis=1))
        cols = np.concatenate(chosen)
        rows.add_sparse(start, np.full(stop - start, k), cols.ravel())
    return rows.finish()


def all_to_all_block(profile, sqrt_normalised=False, layout="dense", chunk_bytes=DEFAULT_CHUNK_BYTES):
    """C_ij = P_ij/N_B, or P_ij/√N_B with `sqrt_normalised` (NeuroFlame's 'dense' in the profile name).

    The profile should be built with in_degree=1 (NeuroFlame forces K = 1 for all-to-all networks).

    Example:
        >>> from ndnx.connectivity import ProbabilityProfile, all_to_all_block
        >>> all_to_all_block(ProbabilityProfile("uniform", 2, 4)).to_dense().tolist()
        [[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]]
    """
    _check_common(profile, 1.0, layout, "all_to_all_block")
    n_post, n_pre = profile.shape
    norm = math.sqrt(n_pre) if sqrt_normalised else float(n_pre)
    group = profile.stream_rows if profile.random else 1
    rows = _Rows(profile.shape, layout, valued=True)
    for start, stop in row_chunks(n_post, group, 16 * n_pre, chunk_bytes):
        rows.add_full(start, (profile((start, stop)) / norm).astype("float32"))
    return rows.finish()
