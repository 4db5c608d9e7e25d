"""Dynamic blind source separation: sources, mixing contexts and their tf.data pipelines.

Naumann, Keijser & Sprekeler (2022), "Invariant neural subspaces maintained by feedback
modulation", eLife 11:e76096 (spec feedback_modulation_naumann22.md §1). Sources s_t ∈ R^n are
periodic tones sampled at fs = 8 kHz; a *context* is a mixing matrix A (sensors × sources) that
holds for a window of steps, and the network sees x_t = A s_t + ε_t, ε ~ N(0, σ²I), σ = 0.001.
The ideal readout is W* = pinv(A), stored flattened row-major.

- Sources (float32, shape (dur·fs, n_sources), t = arange(0, dur, 1/fs)): `sines` (100 and
  180 Hz), `chords` (100 + 125 Hz and 150 + 210 Hz, each scaled to max |value| 1), `ica_style`
  (sine 120 Hz, square 80 Hz, sawtooth 140 Hz: three sources). Signals are looped.
- Contexts: `mixing_matrices` draws n matrices of one of seven `MIX_TYPES` with the determinant
  threshold; more sensors than sources (non-square A) is supported by "random" and
  "random_norm", whose threshold then applies to the volume factor sqrt(det(AᵀA)).
- Pipelines: `training_windows` (TBPTT batches: batch k holds contexts [kB, (k+1)B), one source
  segment shared by the batch, a fresh noise draw) and `context_sequence` (contexts back to back,
  sources played from sample 0), seeded.

Example:
    >>> import numpy as np
    >>> from ndnx.data.unmixing import chords, mixing_matrices
    >>> s = chords()
    >>> s.shape, float(np.abs(s).max())
    ((16000, 2), 1.0)
    >>> A, W = mixing_matrices(3, seed=0)
    >>> A.shape, W.shape, bool(np.all(np.abs(np.linalg.det(A)) > 0.2))
    ((3, 2, 2), (3, 4), True)
    >>> np.allclose(A.sum(axis=2), 1.0)  # random_norm: each sensor a convex mix
    True
"""

import warnings

import numpy as np

__all__ = ["FS", "MIX_TYPES", "SOURCES", "sines", "chords", "ica_style", "sources", "mixing_matrices",
           "check_contexts", "source_window", "training_windows", "training_batches", "context_sequence"]

FS = 8000
MIX_TYPES = ("random_norm", "random", "scale", "scale_both", "interpolate", "interpolate_both", "constant")
_CONSTANT = np.array([[0.8, 0.2], [0.5, 0.5]])


def _time(dur, fs):
    return np.arange(0, dur, 1.0 / fs)


def sines(dur=2.0, fs=FS, freqs_rel=(1.0, 1.8), base_freq=100.0):
    """Pure sines sin(2π·base·f·t), one column per relative frequency (100 and 180 Hz by default).

    Example:
        >>> sines().shape
        (16000, 2)
    """
    t = _time(dur, fs)
    return np.stack([np.sin(2 * np.pi * base_freq * f * t) for f in freqs_rel], axis=1).astype("float32")


def chords(dur=2.0, fs=FS, freqs_rel=(1.0, 1.25, 1.5, 2.1), base_freq=100.0):
    """Two "chords", each the sum of two sines of consecutive `freqs_rel` pairs, scaled to max |value| 1.

    Example:
        >>> chords(freqs_rel=(1, 2)).shape
        (16000, 1)
    """
    if len(freqs_rel) % 2:
        raise ValueError(f"chords: freqs_rel must hold pairs of frequencies, got {len(freqs_rel)} values")
    t = _time(dur, fs)
    columns = []
    for f1, f2 in zip(freqs_rel[::2], freqs_rel[1::2]):
        chord = np.sin(2 * np.pi * base_freq * f1 * t) + np.sin(2 * np.pi * base_freq * f2 * t)
        columns.append(chord / np.abs(chord).max())
    return np.stack(columns, axis=1).astype("float32")


def ica_style(dur=2.0, fs=FS, freqs_rel=(1.4, 0.8, 1.2), base_freq=100.0):
    """The classic ICA demo, three columns: sine (120 Hz), square wave sign(sin) (80 Hz), sawtooth (140 Hz).

    The columns take `freqs_rel` from the last to the first (sine 1.2, square 0.8, sawtooth 1.4 ×
    base, the frequencies the spec names for the original's columns). The sawtooth rises linearly
    from −1 to 1 over each period (scipy.signal.sawtooth).

    Example:
        >>> s = ica_style()
        >>> s.shape, sorted(set(np.unique(s[:, 1]).tolist()) - {0.0})
        ((16000, 3), [-1.0, 1.0])
    """
    if len(freqs_rel) != 3:
        raise ValueError(f"ica_style: expected 3 relative frequencies (sine, square, sawtooth), got {len(freqs_rel)}")
    from scipy.signal import sawtooth

    t = _time(dur, fs)
    f_saw, f_sq, f_sin = (2 * np.pi * base_freq * f for f in freqs_rel)
    return np.stack([np.sin(f_sin * t), np.sign(np.sin(f_sq * t)), sawtooth(f_saw * t)], axis=1).astype("float32")


SOURCES = {"sines": sines, "chords": chords, "ica_style": ica_style}


def sources(name, **kwargs):
    """The source set `name` ("sines", "chords" or "ica_style") with generator arguments `kwargs`.

    Example:
        >>> sources("sines", dur=0.5).shape
        (4000, 2)
    """
    if name not in SOURCES:
        raise ValueError(f"sources: expected one of {sorted(SOURCES)}, got {name!r}")
    return SOURCES[name](**kwargs)


def _volume(A):
    """|det A| for square A, sqrt(det(AᵀA)) (the product of singular values) for more sensors than sources."""
    if A.shape[-1] == A.shape[-2]:
        return np.abs(np.linalg.det(A))
    return np.sqrt(np.abs(np.linalg.det(np.swapaxes(A, -1, -2) @ A)))


def mixing_matrices(n_mixing=10, mat_size=(2, 2), det_threshold=0.2, mix_type="random_norm", seed=None,
                    compatible_mix_type=False):
    """n_mixing contexts A (n_mixing, sensors, sources) and their targets pinv(A) flattened row-major.

    mix_type (spec §1): "random_norm" — entries U(0, 1), each row normalised to sum 1, redrawn
    while |det A| ≤ det_threshold (for more sensors than sources: sqrt(det(AᵀA))); "random" — the
    same without normalisation and without the determinant check; "scale" — diag(α, 1), α ~ U(0.3, 3);
    "scale_both" — diag(α, β), β ~ U(1, 2); "interpolate" — [[α, 1−α], [1−β, β]], α ~ U(0.2, 1),
    β = 1; "interpolate_both" — β ~ U(0.2, 1); "constant" — [[0.8, 0.2], [0.5, 0.5]]. The fixed
    types are 2×2 (a warning otherwise, as the original). The original sends any unknown name
    to "random"; `compatible_mix_type=True` does that, otherwise an unknown name is an error.

    Returns float32 arrays (A, W*) of shapes (n_mixing, m, n) and (n_mixing, n·m).

    Example:
        >>> A, W = mixing_matrices(2, mix_type="scale", seed=1)
        >>> A[:, 1, 1].tolist(), A[:, 0, 1].tolist()
        ([1.0, 1.0], [0.0, 0.0])
        >>> A, W = mixing_matrices(4, mat_size=(3, 2), seed=0)  # three sensors, two sources
        >>> A.shape, W.shape
        ((4, 3, 2), (4, 6))
    """
    if mix_type not in MIX_TYPES:
        if not compatible_mix_type:
            raise ValueError(f"mixing_matrices: mix_type must be one of {MIX_TYPES}, got {mix_type!r}")
        mix_type = "random"
    m, n = (int(d) for d in mat_size)
    if m < 1 or n < 1:
        raise ValueError(f"mixing_matrices: mat_size must be two positive ints (sensors, sources), got {mat_size!r}")
    if mix_type not in ("random", "random_norm") and (m, n) != (2, 2):
        warnings.warn(f"mixing_matrices: mix_type {mix_type!r} builds 2×2 matrices; mat_size {mat_size} is ignored",
                      stacklevel=2)
        m, n = 2, 2
    if mix_type == "random_norm" and m < n:
        raise ValueError(f"mixing_matrices: 'random_norm' needs at least as many sensors as sources, got "
                         f"mat_size {mat_size}")
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n_mixing:
        if mix_type == "random_norm":
            A = rng.uniform(0, 1, (m, n))
            A = A / A.sum(axis=1, keepdims=True)
            if _volume(A) <= det_threshold:
                continue
        elif mix_type == "random":
            A = rng.uniform(0, 1, (m, n))
        elif mix_type in ("scale", "scale_both"):
            alpha = rng.uniform(0.3, 3)
            A = np.diag([alpha, rng.uniform(1, 2) if mix_type == "scale_both" else 1.0])
        elif mix_type in ("interpolate", "interpolate_both"):
            alpha = rng.uniform(0.2, 1)
            beta = rng.uniform(0.2, 1) if mix_type == "interpolate_both" else 1.0
            A = np.array([[alpha, 1 - alpha], [1 - beta, beta]])
        else:
            A = _CONSTANT.copy()
        out.append(A)
    A = np.asarray(out, dtype="float64").reshape(n_mixing, m, n)
    W = np.linalg.pinv(A).reshape(n_mixing, -1)
    return A.astype("float32"), W.astype("float32")


def check_contexts(contexts, n_sources, det_threshold=None, name="contexts"):
    """`contexts` as a float32 array (n, sensors, n_sources); one clear error line otherwise.

    With `det_threshold` every square context must have |det A| > det_threshold (non-square:
    sqrt(det(AᵀA))).

    Example:
        >>> check_contexts(np.eye(2)[None], 2, det_threshold=0.2).shape
        (1, 2, 2)
    """
    A = np.asarray(contexts, dtype="float32")
    if A.ndim == 2:
        A = A[None]
    if A.ndim != 3 or A.shape[2] != n_sources:
        raise ValueError(f"{name}: expected mixing matrices of shape (contexts, sensors, {n_sources}) for "
                         f"{n_sources} sources, got shape {np.shape(contexts)}")
    if A.shape[1] < n_sources:
        raise ValueError(f"{name}: expected at least as many sensors as sources ({n_sources}), got {A.shape[1]}")
    if det_threshold is not None:
        volume = _volume(A.astype("float64"))
        bad = np.flatnonzero(volume <= det_threshold)
        if bad.size:
            raise ValueError(f"{name}: every mixing matrix must have |det A| > {det_threshold}; context {bad[0]} "
                             f"has {volume[bad[0]]:.4g}")
    return A


def _check_signals(signals, signal_dim):
    s = np.asarray(signals, dtype="float32")
    if s.ndim != 2:
        raise ValueError(f"unmixing: expected sources of shape (samples, n_sources), got {s.shape}")
    signal_dim = s.shape[1] if signal_dim is None else int(signal_dim)
    if not 1 <= signal_dim <= s.shape[1]:
        raise ValueError(f"unmixing: signal_dim must be in [1, {s.shape[1]}] (the source columns), got {signal_dim}")
    return s, signal_dim


def source_window(signals, length, rng, signal_dim=None):
    """One training segment (length, signal_dim): an independent random start per source, looped.

    When the signal is not longer than `length` it is rolled by one random shift instead (the
    original's rule); with more source columns than `signal_dim` a random sorted subset is taken.

    Example:
        >>> source_window(sines(), 1000, np.random.default_rng(0)).shape
        (1000, 2)
    """
    s, signal_dim = _check_signals(signals, signal_dim)
    total = s.shape[0]
    columns = np.arange(s.shape[1])
    if signal_dim < s.shape[1]:
        columns = np.sort(rng.choice(s.shape[1], signal_dim, replace=False))
    if total > length:
        starts = rng.integers(0, total - length, size=signal_dim)
        return np.stack([s[start:start + length, c] for start, c in zip(starts, columns)], axis=1)
    rolled = np.roll(s[:, columns], int(rng.integers(0, total)), axis=0)
    return np.resize(rolled, (length, signal_dim)) if length != total else rolled


def _batch(s_all, A, k, window, batch_size, noise, seed, signal_dim):
    rng = np.random.default_rng([int(s) for s in np.atleast_1d(seed)] + [int(k)])
    s = source_window(s_all, window, rng, signal_dim)
    Ak = A[k * batch_size:(k + 1) * batch_size]
    x = np.einsum("bij,tj->bti", Ak, s) + noise * rng.standard_normal((batch_size, window, Ak.shape[1]))
    return x.astype("float32"), np.broadcast_to(s, (batch_size, window, signal_dim)).astype("float32")


def _checked_batches(name, signals, contexts, batch_size, signal_dim):
    s_all, signal_dim = _check_signals(signals, signal_dim)
    A = check_contexts(contexts, signal_dim)
    if A.shape[0] % batch_size:
        raise ValueError(f"{name}: the number of contexts must be a multiple of batch_size {batch_size} "
                         f"(one batch = one optimiser step), got {A.shape[0]}")
    return s_all, A, signal_dim


def training_batches(signals, contexts, window=1000, batch_size=32, noise=0.001, seed=0, signal_dim=None):
    """The TBPTT batches as NumPy arrays: x (batches, B, window, sensors), s (batches, B, window, sources).

    Batch k mixes one source segment (shared by its B members, as in the original) with the
    contexts [kB, (k+1)B) and adds N(0, noise²) sensor noise. Everything is drawn from
    `numpy.random.default_rng([seed, k])` (`seed` an int or a list of ints), so batch k does not
    depend on the others.

    Example:
        >>> A, _ = mixing_matrices(8, seed=0)
        >>> x, s = training_batches(chords(), A, window=50, batch_size=4, seed=0)
        >>> x.shape, s.shape, bool(np.all(s[0, 0] == s[0, 3]))
        ((2, 4, 50, 2), (2, 4, 50, 2), True)
    """
    s_all, A, signal_dim = _checked_batches("training_batches", signals, contexts, batch_size, signal_dim)
    batches = [_batch(s_all, A, k, window, batch_size, noise, seed, signal_dim) for k in range(A.shape[0] // batch_size)]
    xs, ss = zip(*batches)
    return np.stack(xs), np.stack(ss)


def training_windows(signals, contexts, window=1000, batch_size=32, noise=0.001, seed=0, signal_dim=None):
    """`training_batches` as a `tf.data.Dataset` of (x, s) batches in order (no shuffling: TBPTT).

    Batch k is generated when it is read (a NumPy call per batch, seeded by (seed, k)), so
    thousands of batches need no memory up front.

    Example:
        >>> A, _ = mixing_matrices(8, seed=0)
        >>> data = training_windows(chords(), A, window=50, batch_size=4, seed=0)
        >>> [tuple(t.shape) for t in next(iter(data))]
        [(4, 50, 2), (4, 50, 2)]
    """
    import tensorflow as tf

    s_all, A, signal_dim = _checked_batches("training_windows", signals, contexts, batch_size, signal_dim)

    def batch(k):
        return _batch(s_all, A, int(k), window, batch_size, noise, seed, signal_dim)

    def load(k):
        x, s = tf.numpy_function(batch, [k], [tf.float32, tf.float32], stateful=False)
        x.set_shape((batch_size, window, A.shape[1]))
        s.set_shape((batch_size, window, signal_dim))
        return x, s

    return tf.data.Dataset.range(A.shape[0] // batch_size).map(load)


def context_sequence(signals, contexts, context_length=1000, noise=0.001, seed=0, signal_dim=None):
    """The test protocol's input: contexts back to back, sources played from sample 0 (looped).

    Returns float32 arrays x (T, sensors), s (T, sources) and the per-step target W* (T, sources·sensors),
    T = contexts · context_length.

    Example:
        >>> A, _ = mixing_matrices(3, seed=0)
        >>> x, s, w = context_sequence(sines(), A, context_length=100, noise=0.0)
        >>> x.shape, s.shape, w.shape, bool(np.allclose(x[150], A[1] @ s[150]))
        ((300, 2), (300, 2), (300, 4), True)
    """
    s_all, signal_dim = _check_signals(signals, signal_dim)
    A = check_contexts(contexts, signal_dim)
    T = A.shape[0] * int(context_length)
    s = s_all[np.arange(T) % s_all.shape[0], :signal_dim]
    A_t = np.repeat(A.astype("float64"), context_length, axis=0)
    x = np.einsum("tij,tj->ti", A_t, s)
    if noise:
        x = x + noise * np.random.default_rng(seed).standard_normal(x.shape)
    w = np.repeat(np.linalg.pinv(A.astype("float64")).reshape(A.shape[0], -1), context_length, axis=0)
    return x.astype("float32"), s.astype("float32"), w.astype("float32")
