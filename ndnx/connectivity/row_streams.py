"""Random streams of row groups, and row chunks of bounded memory, for building weight blocks.

A weight block (n_post × n_pre) is built a few rows at a time so that no N² array ever exists.
Its random numbers must not depend on how the rows are chunked, so they are drawn per *row
group*: rows [g·G, (g+1)·G) take every random number they need, in a fixed order, from their own
generator

    numpy.random.default_rng([*key, g])          key = (seed, purpose, post population, pre population)

(a NumPy `SeedSequence` over the entropy list, PCG64). The group size G is a property of the block
alone — about `STREAM_ENTRIES` random draws per group (`rows_per_stream`) — so the same seed gives
the same block whatever `chunk_bytes` is: a chunk is always a whole number of groups, and
`chunk_bytes` only decides how many groups are processed together.

Reference: specs/ei_networks_neuroflame.md §2 and §11 ("Row-chunked construction (no O(N²) peak)").

Example:
    >>> from ndnx.connectivity.row_streams import rows_per_stream, row_chunks
    >>> rows_per_stream(n_pre=1000)            # 65536 draws per group, a full row each
    65
    >>> rows_per_stream(n_pre=1000, density=0.1)   # about 100 candidates per row
    655
    >>> list(row_chunks(200, group_rows=65, bytes_per_row=100, chunk_bytes=14000))
    [(0, 130), (130, 200)]
"""

import numpy as np

__all__ = ["STREAM_ENTRIES", "rows_per_stream", "row_stream", "row_chunks", "entropy_key"]

#: About this many random draws come from one row group's generator.
STREAM_ENTRIES = 2 ** 16


def rows_per_stream(n_pre, density=1.0):
    """Rows per random stream for a block whose rows need about n_pre·density draws each.

    Example:
        >>> from ndnx.connectivity.row_streams import rows_per_stream
        >>> rows_per_stream(10 ** 5), rows_per_stream(10 ** 5, density=0.01)
        (1, 65)"""
    per_row = max(1.0, float(n_pre) * float(density))
    return max(1, int(STREAM_ENTRIES // per_row))


def entropy_key(*parts):
    """A tuple of non-negative ints (the seed and the names of a block), checked.

    Example:
        >>> from ndnx.connectivity.row_streams import entropy_key
        >>> entropy_key(7, 0, 1)
        (7, 0, 1)"""
    key = []
    for p in parts:
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, np.integer)) or p < 0:
            raise ValueError(f"row_streams: seeds and stream keys must be non-negative ints, got {p!r}")
        key.append(int(p))
    return tuple(key)


def row_stream(key, group):
    """The generator of row group `group` of the block named by `key`.

    Example:
        >>> from ndnx.connectivity.row_streams import row_stream
        >>> bool(row_stream((7, 0, 0, 1), 3).random() == row_stream((7, 0, 0, 1), 3).random())
        True"""
    return np.random.default_rng(list(key) + [int(group)])


def row_chunks(n_post, group_rows, bytes_per_row, chunk_bytes):
    """(start, stop) row ranges of whole groups, each needing at most `chunk_bytes` (at least one group).

    Example:
        >>> from ndnx.connectivity.row_streams import row_chunks
        >>> list(row_chunks(5, group_rows=2, bytes_per_row=10, chunk_bytes=1))
        [(0, 2), (2, 4), (4, 5)]"""
    chunk_bytes = int(chunk_bytes)
    if chunk_bytes < 1:
        raise ValueError(f"row_chunks: chunk_bytes must be a positive int, got {chunk_bytes}")
    groups = max(1, int(chunk_bytes // max(1.0, float(bytes_per_row) * group_rows)))
    step = groups * group_rows
    for start in range(0, n_post, step):
        yield start, min(n_post, start + step)
