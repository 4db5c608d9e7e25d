"""Connection-probability profiles P_ij of one weight block (post population A ← pre population B).

A profile says how likely (sparse, fixed in-degree) or how strong (all-to-all) the connection from
presynaptic neuron j to postsynaptic neuron i is. Neurons sit on a ring, θ_i = 2πi/N_post and
φ_j = 2πj/N_pre (i, j = 0 … N − 1), and, following NeuroFlame's PROBA_TYPE
(specs/ei_networks_neuroflame.md §2):

=============  ==========================  =====================================================
kind           PROBA_TYPE name             P_ij
=============  ==========================  =====================================================
uniform        'None', '', 'uniform'       1
cosine         contains 'cos'              1 + κ·cos(θ_i − φ_j − PHASE)   (PHASE in degrees)
weak_cosine    contains 'cos' and 'spec'   1 + (κ/√K_B)·cos(θ_i − φ_j)
low_rank       exactly 'lr'                1 + (κ/√K_B)·Σ_r u_ri v_rj
von_mises      contains 'von_mises'        exp(κ·cos(θ_i − φ_j)) / (2π·I0(κ))
gaussian       contains 'gaussian'         N(0, 1), drawn independently for every (i, j)
=============  ==========================  =====================================================

Low rank: with four vectors ξ0..ξ3 (the dual task's PHI0) the term is ξ0_i ξ1_j + ξ2_i ξ3_j
(u = (ξ0, ξ2), v = (ξ1, ξ3)); with any other number R of vectors it is the symmetric
Σ_r ξ_ri ξ_rj; a pair (u, v) of (R, N_post) and (R, N_pre) arrays gives the general form.
'dense' anywhere in the name changes the all-to-all normalisation (P/√N_B instead of P/N_B),
not the profile. NeuroFlame treats any other name as uniform; here an unknown name is an error
(a typo would silently remove the structure) unless `strict=False`.

A profile is evaluated a block of rows at a time, `profile(rows)` → (rows, N_pre), never as a
whole N_post × N_pre array; the deterministic kinds are also evaluated at single entries
(`profile.at(i, j)`), which is what lets a sparse block of 10⁵ neurons be drawn in O(N·K).

Example:
    >>> import numpy as np
    >>> from ndnx.connectivity import ProbabilityProfile
    >>> p = ProbabilityProfile.from_name("cosine", n_post=4, n_pre=4, kappa=0.5)
    >>> p.kind, np.round(p(slice(0, 2)), 3).tolist()
    ('cosine', [[1.5, 1.0, 0.5, 1.0], [1.0, 1.5, 1.0, 0.5]])
    >>> float(p.at(1, 1)), p.bound()
    (1.5, 1.5)
"""

import math

import numpy as np
from scipy import special

from ndnx.connectivity.row_streams import entropy_key, row_stream, rows_per_stream

__all__ = ["ProbabilityProfile", "profile_kind", "PROFILE_KINDS"]

PROFILE_KINDS = ("uniform", "cosine", "weak_cosine", "low_rank", "von_mises", "gaussian")
_UNIFORM_NAMES = ("none", "", "uniform")
#: The purpose entry of the random-stream key of the gaussian profile (connections use 0).
PROFILE_STREAM = 1


def profile_kind(name, strict=True):
    """The profile kind of a NeuroFlame PROBA_TYPE name (None means uniform).

    Example:
        >>> from ndnx.connectivity import profile_kind
        >>> [profile_kind(n) for n in ("None", "cosine", "cosine_spec", "lr", "von_mises_dense")]
        ['uniform', 'cosine', 'weak_cosine', 'low_rank', 'von_mises']
    """
    if name is None:
        return "uniform"
    if not isinstance(name, str):
        raise ValueError(f"profile_kind: a profile name must be a string or None, got {name!r}")
    if "cos" in name:
        return "weak_cosine" if "spec" in name else "cosine"
    if name == "lr":
        return "low_rank"
    if "von_mises" in name:
        return "von_mises"
    if "gaussian" in name:
        return "gaussian"
    if name.replace("dense", "").strip("_ ").lower() in _UNIFORM_NAMES or not strict:
        return "uniform"
    raise ValueError(f"profile_kind: unknown profile {name!r}; expected None, 'None', '', 'uniform', a name "
                     f"containing 'cos' (+ 'spec'), 'von_mises' or 'gaussian', or exactly 'lr' "
                     f"(optionally with 'dense'; strict=False makes unknown names uniform as in NeuroFlame)")


def _as_low_rank(vectors, n_post, n_pre):
    """(u, v) with u (R, n_post), v (R, n_pre) from the three accepted forms."""
    if vectors is None:
        raise ValueError("ProbabilityProfile: the 'lr' profile needs low-rank vectors (for the dual task "
                         "ndnx.connectivity.dual_task_vectors), got None")
    if isinstance(vectors, (tuple, list)) and len(vectors) == 2 and np.ndim(vectors[0]) == 2:
        u, v = (np.asarray(a, dtype="float64") for a in vectors)
    else:
        xi = np.asarray(vectors, dtype="float64")
        if xi.ndim != 2:
            raise ValueError(f"ProbabilityProfile: low-rank vectors must be an (R, N) array or a pair (u, v), "
                             f"got shape {xi.shape}")
        u, v = (xi[0::2], xi[1::2]) if xi.shape[0] == 4 else (xi, xi)
    if u.ndim != 2 or v.ndim != 2 or u.shape[0] != v.shape[0] or u.shape[1] != n_post or v.shape[1] != n_pre:
        raise ValueError(f"ProbabilityProfile: low-rank vectors must give u (R, {n_post}) over postsynaptic and "
                         f"v (R, {n_pre}) over presynaptic neurons, got u {u.shape} and v {v.shape}")
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v))):
        raise ValueError("ProbabilityProfile: low-rank vectors have non-finite entries")
    return u, v


class ProbabilityProfile:
    """P_ij of one block (n_post × n_pre), evaluated a block of rows at a time.

    Args:
        kind: one of PROFILE_KINDS (`from_name` maps NeuroFlame's PROBA_TYPE names).
        n_post, n_pre: block shape.
        kappa: κ, the structure strength (KAPPA of the block).
        phase: PHASE in degrees (strong cosine only).
        in_degree: K_B of the presynaptic population (weak cosine and low rank divide κ by √K_B;
            all-to-all blocks use K_B = 1 as NeuroFlame does).
        vectors: low-rank vectors (kind "low_rank"): an (R, N) array (R = 4: pairs
            ξ0⊗ξ1 + ξ2⊗ξ3; otherwise Σ_r ξ_r⊗ξ_r) or a pair (u (R, n_post), v (R, n_pre)).
        seed: the gaussian profile's seed: an int or a tuple of non-negative ints; its rows come
            from row-group streams (`ndnx.connectivity.row_streams`), so any row slicing gives the
            same values.

    Example:
        >>> import numpy as np
        >>> from ndnx.connectivity import ProbabilityProfile
        >>> p = ProbabilityProfile("weak_cosine", 2, 4, kappa=2.0, in_degree=100.0)
        >>> np.round(p((0, 1)), 3).tolist()
        [[1.2, 1.0, 0.8, 1.0]]
    """

    def __init__(self, kind, n_post, n_pre, *, kappa=0.0, phase=0.0, in_degree=1.0, vectors=None, seed=0):
        if kind not in PROFILE_KINDS:
            raise ValueError(f"ProbabilityProfile: kind must be one of {PROFILE_KINDS}, got {kind!r}")
        for arg, value in (("n_post", n_post), ("n_pre", n_pre)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"ProbabilityProfile: {arg} must be a positive int, got {value!r}")
        kappa, phase, in_degree = float(kappa), float(phase), float(in_degree)
        if not (math.isfinite(kappa) and math.isfinite(phase)):
            raise ValueError(f"ProbabilityProfile: kappa and phase must be finite, got {kappa} and {phase}")
        if not (math.isfinite(in_degree) and in_degree > 0):
            raise ValueError(f"ProbabilityProfile: in_degree must be finite and > 0, got {in_degree}")
        self.kind = kind
        self.shape = (int(n_post), int(n_pre))
        self.kappa, self.phase, self.in_degree = kappa, phase, in_degree
        self.seed_key = entropy_key(*(seed if isinstance(seed, tuple) else (seed,)))
        self.u = self.v = None
        if kind == "low_rank":
            self.u, self.v = _as_low_rank(vectors, *self.shape)

    @classmethod
    def from_name(cls, name, n_post, n_pre, *, strict=True, **kwargs):
        """The profile of a NeuroFlame PROBA_TYPE name (see `profile_kind`)."""
        return cls(profile_kind(name, strict=strict), n_post, n_pre, **kwargs)

    @property
    def random(self):
        """True for the gaussian profile, whose values are drawn, not computed."""
        return self.kind == "gaussian"

    @property
    def stream_rows(self):
        """Rows per random stream of the gaussian profile (a full row of draws each)."""
        return rows_per_stream(self.shape[1])

    def _angle_difference(self, post, pre):
        n_post, n_pre = self.shape
        return 2.0 * np.pi * (np.asarray(post, dtype="float64") / n_post - np.asarray(pre, dtype="float64") / n_pre)

    def at(self, post, pre):
        """P at entries (post[k], pre[k]) (NumPy broadcasting); not for the gaussian profile."""
        kind, kappa = self.kind, self.kappa
        if kind == "gaussian":
            raise ValueError("ProbabilityProfile.at: the gaussian profile has no closed form; evaluate rows instead")
        if kind == "uniform":
            return np.ones(np.broadcast_shapes(np.shape(post), np.shape(pre)))
        if kind == "low_rank":
            post, pre = np.broadcast_arrays(np.asarray(post, dtype="int64"), np.asarray(pre, dtype="int64"))
            overlap = np.einsum("r...,r...->...", self.u[:, post], self.v[:, pre])
            return 1.0 + kappa / math.sqrt(self.in_degree) * overlap
        delta = self._angle_difference(post, pre)
        if kind == "cosine":
            return 1.0 + kappa * np.cos(delta - np.deg2rad(self.phase))
        if kind == "weak_cosine":
            return 1.0 + kappa / math.sqrt(self.in_degree) * np.cos(delta)
        # von Mises: exp(κ cos Δ)/(2π I0(κ)) = exp(κ cos Δ − |κ|)/(2π i0e(κ)), no overflow for large κ
        return np.exp(kappa * np.cos(delta) - abs(kappa)) / (2.0 * np.pi * special.i0e(kappa))

    def __call__(self, rows):
        """P for the rows `rows` (a slice or (start, stop)): an array (rows, n_pre), float64."""
        start, stop = (rows.start or 0, rows.stop) if isinstance(rows, slice) else rows
        start, stop = int(start), int(self.shape[0] if stop is None else stop)
        if not 0 <= start <= stop <= self.shape[0]:
            raise ValueError(f"ProbabilityProfile: rows [{start}, {stop}) outside [0, {self.shape[0]})")
        if self.kind == "gaussian":
            return self._gaussian_rows(start, stop)
        if self.kind == "low_rank":
            return 1.0 + self.kappa / math.sqrt(self.in_degree) * (self.u[:, start:stop].T @ self.v)
        return self.at(np.arange(start, stop)[:, None], np.arange(self.shape[1])[None, :])

    def _gaussian_rows(self, start, stop):
        group = self.stream_rows
        out = np.empty((stop - start, self.shape[1]))
        if stop == start:
            return out
        for g in range(start // group, (stop - 1) // group + 1):
            g0 = g * group
            rows = row_stream(self.seed_key + (PROFILE_STREAM,), g).standard_normal(
                (min(group, self.shape[0] - g0), self.shape[1]))
            lo, hi = max(start, g0), min(stop, g0 + rows.shape[0])
            out[lo - start:hi - start] = rows[lo - g0:hi - g0]
        return out

    def bound(self):
        """An upper bound of P over the block (its maximum for the ring kinds); None for gaussian."""
        kappa = abs(self.kappa)
        if self.kind == "uniform":
            return 1.0
        if self.kind == "cosine":
            return 1.0 + kappa
        if self.kind == "weak_cosine":
            return 1.0 + kappa / math.sqrt(self.in_degree)
        if self.kind == "von_mises":
            return float(1.0 / (2.0 * np.pi * special.i0e(kappa)))
        if self.kind == "low_rank":
            spread = float(np.sum(np.abs(self.u).max(axis=1) * np.abs(self.v).max(axis=1)))
            return 1.0 + kappa / math.sqrt(self.in_degree) * spread
        return None

    def __repr__(self):
        return (f"ProbabilityProfile({self.kind!r}, shape={self.shape}, kappa={self.kappa:g}, "
                f"phase={self.phase:g}, in_degree={self.in_degree:g})")
