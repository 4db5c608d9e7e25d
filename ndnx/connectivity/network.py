"""The connectivity of a whole multi-population network: every block C_AB, E first.

`build_network` returns {(A, B): Synapses} for every postsynaptic population A and presynaptic
population B (population 0 = E, populations stored contiguously as NeuroFlame does,
specs/ei_networks_neuroflame.md §1.1 and §2). Blocks are **unscaled**: binary 0/1 for the sparse
and fixed in-degree rules, P/N_B or P/√N_B for all-to-all; the network model multiplies block
(A, B) by J_AB = GAIN·Jab[A][B]/√K_B. Per-block lists (profiles, kappa, phase) are flat and
row-major post × pre — [EE, EI, IE, II] for two populations — as NeuroFlame's PROBA_TYPE and KAPPA.

Layout: "auto" stores every block dense when the network has at most `DENSE_MAX_NEURONS` = 2000
neurons (or is all-to-all) and in the ELL layout otherwise; "dense"/"ell" force one. The spec
suggests dense up to N ≈ 2·10⁴ with GPUs in mind; on a CPU the ELL drive of a sparse block
(`ndnx.connectivity.synaptic_drive`) ties with the dense matmul up to N ≈ 1000 and wins from
N ≈ 2000 (K = N/10, batches 1 to 64; about 1.8× at N = 4000, 3–5× at N = 10⁴, where the dense matrix
also takes 400 MB). Small networks stay dense: it costs nothing there, and training (§6)
back-propagates through a matmul instead of a scatter.

A user's own block (a measured connectome, a hand-made matrix) replaces a generated one:
`blocks={(0, 0): W}` with W a `Synapses`, a dense (N_A, N_B) array, COO triplets
(rows, cols, values) or anything with `.tocoo()` (a SciPy sparse matrix); it is used as given
(no scaling, no binarisation) and stored in the network's layout like the generated blocks. Every
returned block has `scale` 1.

Example:
    >>> from ndnx.connectivity import build_network
    >>> net = build_network([800, 200], in_degree=50, profiles=["cosine", "None", "None", "None"],
    ...                     kappa=[0.5, 0, 0, 0], seed=1)
    >>> sorted(net), net[(0, 1)].shape, net[(0, 0)].layout
    ([(0, 0), (0, 1), (1, 0), (1, 1)], (800, 200), 'dense')
    >>> sorted(set(net[(1, 1)].to_dense().ravel().tolist()))   # binary, unscaled
    [0.0, 1.0]
"""

import math

import numpy as np

from ndnx.connectivity.profiles import ProbabilityProfile, profile_kind
from ndnx.connectivity.row_streams import entropy_key
from ndnx.connectivity.rules import DEFAULT_CHUNK_BYTES, all_to_all_block, fixed_indegree_block, sparse_block
from ndnx.connectivity.synapses import LAYOUTS, Synapses

__all__ = ["build_network", "con_type_rule", "DENSE_MAX_NEURONS", "CON_TYPES"]

#: layout="auto" stores dense blocks up to this many neurons in the whole network.
DENSE_MAX_NEURONS = 2000
CON_TYPES = ("sparse", "fixed_k", "all2all")


def con_type_rule(con_type):
    """'sparse', 'fixed_k' or 'all2all' for a CON_TYPE string (any name containing 'all2all' is all-to-all).

    Example:
        >>> from ndnx.connectivity import con_type_rule
        >>> con_type_rule("sparse"), con_type_rule("all2all_ring")
        ('sparse', 'all2all')"""
    if isinstance(con_type, str):
        if "all2all" in con_type:
            return "all2all"
        if con_type in ("sparse", "fixed_k"):
            return con_type
    raise ValueError(f"build_network: con_type must be 'sparse', 'fixed_k' or contain 'all2all', got {con_type!r}")


def _per_block(value, n_pop, name, default, kind=float):
    """A flat post × pre list of n_pop² entries from a scalar or a list."""
    if value is None:
        value = default
    if isinstance(value, (str, int, float, np.integer, np.floating)) or value is None:
        return [value] * n_pop ** 2
    values = list(np.asarray(value, dtype=object).ravel()) if not isinstance(value, (list, tuple)) else list(value)
    if len(values) != n_pop ** 2:
        raise ValueError(f"build_network: {name} must be one value or a flat post×pre list of {n_pop ** 2} "
                         f"(n_pop² for {n_pop} populations), got {len(values)}")
    return values


def _finite(value, name):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"build_network: {name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"build_network: {name} must be finite, got {value}")
    return value


def _user_block(block, key, shape, layout):
    """A user's block as Synapses of the given shape and layout."""
    name = f"build_network: blocks[{key}]"
    if isinstance(block, Synapses):
        syn = block
    elif hasattr(block, "tocoo"):
        coo = block.tocoo()
        if tuple(coo.shape) != shape:
            raise ValueError(f"{name} must have shape {shape} (post × pre), got {tuple(coo.shape)}")
        syn = Synapses.from_sparse(coo.row, coo.col, coo.data, shape)
    elif isinstance(block, tuple) and len(block) == 3:
        rows, cols, values = (np.asarray(a) for a in block)
        if not np.all(np.isfinite(values.astype("float64"))):
            raise ValueError(f"{name} has non-finite values")
        syn = Synapses.from_sparse(rows, cols, values, shape)
    else:
        matrix = np.asarray(block)
        if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.number):
            raise ValueError(f"{name} must be a Synapses, a 2-D array, COO triplets (rows, cols, values) or a "
                             f"SciPy sparse matrix, got {type(block).__name__} of shape {matrix.shape}")
        if matrix.shape != shape:
            raise ValueError(f"{name} must have shape {shape} (post × pre), got {matrix.shape}")
        if not np.all(np.isfinite(matrix)):
            raise ValueError(f"{name} has non-finite entries")
        syn = Synapses.from_dense(matrix)
    if syn.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (post × pre), got {syn.shape}")
    syn = syn.with_layout(layout)
    if syn.scale != 1.0:  # every returned block has scale 1: the model multiplies by J_AB alone
        if syn.layout == "dense":
            return Synapses.from_dense(syn.to_dense())
        values = (syn.indices < shape[1]).astype("float32") if syn.values is None else syn.values
        syn = Synapses(shape, "ell", indices=syn.indices, values=values * np.float32(syn.scale))
    return syn


def build_network(sizes, in_degree, con_type="sparse", profiles=None, kappa=None, phase=0.0,
                  low_rank_vectors=None, seed=0, layout="auto", chunk_bytes=DEFAULT_CHUNK_BYTES,
                  blocks=None, strict=True):
    """Every block C_AB of a network with populations of `sizes` (E first): {(A, B): Synapses}.

    Args:
        sizes: neurons per population, e.g. [8000, 2000] (N_a = int(N_NEURON·frac[a])).
        in_degree: K (the same for every presynaptic population) or one K_B per population
            (FRAC_K: K·frac[B]). Ignored by all-to-all networks, which use K = 1.
        con_type: 'sparse' (Bernoulli, NeuroFlame's default), 'fixed_k' (exactly K_B partners per
            row) or any name containing 'all2all' (`ndnx.connectivity.rules`).
        profiles: PROBA_TYPE: one name for every block or a flat post×pre list (None: uniform);
            'dense' in an all-to-all block's name normalises it by √N_B instead of N_B.
        kappa: KAPPA, one value or a flat post×pre list (default 0).
        phase: PHASE in degrees (strong cosine), one value or a flat post×pre list.
        low_rank_vectors: the vectors of the 'lr' blocks: an (R, N) array or a pair (u, v) for
            every 'lr' block, or a dict {(A, B): vectors} (`dual_task_vectors` for the dual task).
        seed: a non-negative int; block (A, B) uses the streams of (seed, A, B).
        layout: "auto", "dense" or "ell" (module docstring).
        chunk_bytes: working memory of one row chunk while building.
        blocks: user blocks {(A, B): W} used instead of generated ones (module docstring).
        strict: unknown profile names are errors (False: uniform, as in NeuroFlame).

    Example:
        >>> from ndnx.connectivity import build_network
        >>> net = build_network([40, 10], in_degree=[8, 4], con_type="fixed_k", seed=0)
        >>> [int(block.in_degrees().min()) for block in net.values()]   # K_B per row, post × pre
        [8, 4, 8, 4]
    """
    if isinstance(sizes, (int, np.integer)) or not len(sizes):
        raise ValueError(f"build_network: sizes must be a list of population sizes (E first), got {sizes!r}")
    sizes = list(sizes)
    for a, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"build_network: sizes[{a}] must be a positive int, got {n!r}")
    n_pop = len(sizes)
    rule = con_type_rule(con_type)
    if layout not in ("auto",) + LAYOUTS:
        raise ValueError(f"build_network: layout must be 'auto', 'dense' or 'ell', got {layout!r}")
    seed = entropy_key(seed)[0]
    if rule == "all2all":
        degrees = [1.0] * n_pop
    elif isinstance(in_degree, (int, float, np.integer, np.floating)):
        degrees = [_finite(in_degree, "in_degree")] * n_pop
    else:
        degrees = [_finite(k, f"in_degree[{b}]") for b, k in enumerate(in_degree)]
        if len(degrees) != n_pop:
            raise ValueError(f"build_network: in_degree must be one K or one per population ({n_pop}), got {len(degrees)}")
    for b, k in enumerate(degrees):
        if k <= 0:
            raise ValueError(f"build_network: in_degree[{b}] must be > 0, got {k:g}")
    names = _per_block(profiles, n_pop, "profiles", None)
    kappas = [_finite(k, "kappa") for k in _per_block(kappa, n_pop, "kappa", 0.0)]
    phases = [_finite(p, "phase") for p in _per_block(phase, n_pop, "phase", 0.0)]
    kinds = [profile_kind(name, strict=strict) for name in names]
    blocks = {} if blocks is None else dict(blocks)
    keys = [(a, b) for a in range(n_pop) for b in range(n_pop)]
    for key in blocks:
        if key not in keys:
            raise ValueError(f"build_network: blocks has the key {key!r}; expected (post, pre) pairs among {keys}")
    if layout == "auto":
        layout = "dense" if rule == "all2all" or sum(sizes) <= DENSE_MAX_NEURONS else "ell"

    network = {}
    for index, (a, b) in enumerate(keys):
        shape = (int(sizes[a]), int(sizes[b]))
        if (a, b) in blocks:
            network[(a, b)] = _user_block(blocks[(a, b)], (a, b), shape, layout)
            continue
        vectors = None
        if kinds[index] == "low_rank":
            vectors = low_rank_vectors.get((a, b)) if isinstance(low_rank_vectors, dict) else low_rank_vectors
            if vectors is None:
                raise ValueError(f"build_network: block {(a, b)} has the 'lr' profile but low_rank_vectors gives "
                                 f"no vectors for it (ndnx.connectivity.dual_task_vectors for the dual task)")
        profile = ProbabilityProfile(kinds[index], *shape, kappa=kappas[index], phase=phases[index],
                                     in_degree=degrees[b], vectors=vectors, seed=(seed, a, b))
        if rule == "sparse":
            block = sparse_block(profile, degrees[b], (seed, a, b), layout=layout, chunk_bytes=chunk_bytes)
        elif rule == "fixed_k":
            block = fixed_indegree_block(profile, degrees[b], (seed, a, b), layout=layout, chunk_bytes=chunk_bytes)
        else:
            block = all_to_all_block(profile, sqrt_normalised="dense" in (names[index] or ""), layout=layout,
                                     chunk_bytes=chunk_bytes)
        network[(a, b)] = block
    return network
