"""Low-rank vectors and odor vectors of the dual task (specs/ei_networks_neuroflame.md §2, §5).

In NeuroFlame's dual task (TASK contains 'dual') the E→E block gets the low-rank profile
P_ij = 1 + κ·(ξ0_i ξ1_j + ξ2_i ξ3_j)/√K_E ('lr', `ndnx.connectivity.profiles`), with four
vectors of length N_E drawn, one entry per neuron, from the multivariate normal MVN(LR_MEAN, LR_COV):

- "Hopfield-like" branch, LR_COV[0][0] == LR_COV[0][1]: only two independent vectors are drawn —
  ξ_a and ξ_b from the bivariate normal of components 0 and 2 (LR_MEAN[[0, 2]] and the (0, 2)
  block of LR_COV) — and the four are (ξ_a, ξ_a, ξ_b, ξ_b): a symmetric rank-2 term, a ring
  embedded in the balanced network (a neuron's angle on it is atan2(ξ_b, ξ_a)).
- "Francesca-like" branch otherwise: the four vectors are one 4-variate draw per neuron, by
  default correlated 0.9 within (0, 1) and within (2, 3) (`DEFAULT_LR_COV`).

The odor vectors (inputs when the low-rank weights are trained) are 10 vectors N(0, 1) of length
N_E with odors[2] = odors[1].

Example:
    >>> import numpy as np
    >>> from ndnx.connectivity import dual_task_vectors, odor_vectors
    >>> hopfield = [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]
    >>> xi = dual_task_vectors(1000, lr_cov=hopfield, seed=1)
    >>> xi.shape, bool(np.all(xi[0] == xi[1])), bool(np.all(xi[2] == xi[3]))
    ((4, 1000), True, True)
    >>> odors = odor_vectors(1000, seed=1)
    >>> odors.shape, bool(np.all(odors[2] == odors[1]))
    ((10, 1000), True)
"""

import numpy as np

from ndnx.connectivity.row_streams import entropy_key

__all__ = ["DEFAULT_LR_MEAN", "DEFAULT_LR_COV", "dual_task_vectors", "low_rank_vectors", "odor_vectors"]

DEFAULT_LR_MEAN = (0.0, 0.0, 0.0, 0.0)
#: Covariance 0.9 within the pairs (0, 1) and (2, 3), unit variances (NeuroFlame's default).
DEFAULT_LR_COV = ((1.0, 0.9, 0.0, 0.0), (0.9, 1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.9), (0.0, 0.0, 0.9, 1.0))
#: Stream tags, so the vectors and the odors of one seed are independent.
_VECTORS, _ODORS = 2, 3


def _checked_n(n, name):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name}: n must be a positive int (the number of E neurons), got {n!r}")
    return int(n)


def _checked_gaussian(mean, cov, name):
    mean = np.asarray(mean, dtype="float64")
    cov = np.asarray(cov, dtype="float64")
    if mean.ndim != 1 or cov.shape != (mean.size, mean.size):
        raise ValueError(f"{name}: lr_mean must be a vector (R,) and lr_cov a matrix (R, R), got shapes "
                         f"{mean.shape} and {cov.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise ValueError(f"{name}: lr_mean and lr_cov must be finite")
    if not np.allclose(cov, cov.T):
        raise ValueError(f"{name}: lr_cov must be symmetric, got {cov.tolist()}")
    smallest = float(np.linalg.eigvalsh(cov).min()) if cov.size else 0.0
    if smallest < -1e-10 * max(1.0, float(np.abs(cov).max())):
        raise ValueError(f"{name}: lr_cov must be positive semi-definite, its smallest eigenvalue is {smallest:g}")
    return mean, cov


def low_rank_vectors(n, lr_mean, lr_cov, seed=0):
    """R vectors of length n, one draw of MVN(lr_mean, lr_cov) per neuron: an array (R, n).

    Example:
        >>> from ndnx.connectivity import low_rank_vectors
        >>> low_rank_vectors(5, [0, 0], [[1, 0], [0, 1]], seed=0).shape
        (2, 5)
    """
    n = _checked_n(n, "low_rank_vectors")
    mean, cov = _checked_gaussian(lr_mean, lr_cov, "low_rank_vectors")
    rng = np.random.default_rng(list(entropy_key(seed)) + [_VECTORS])
    return rng.multivariate_normal(mean, cov, size=n, method="eigh").T


def dual_task_vectors(n, lr_mean=DEFAULT_LR_MEAN, lr_cov=DEFAULT_LR_COV, seed=0):
    """The four low-rank vectors (ξ0, ξ1, ξ2, ξ3) of the dual task, an array (4, n) (module docstring).

    Example:
        >>> from ndnx.connectivity import dual_task_vectors
        >>> dual_task_vectors(8, seed=0).shape
        (4, 8)"""
    n = _checked_n(n, "dual_task_vectors")
    mean, cov = _checked_gaussian(lr_mean, lr_cov, "dual_task_vectors")
    if mean.size != 4:
        raise ValueError(f"dual_task_vectors: lr_mean must have 4 entries and lr_cov be 4×4, got {mean.size}")
    if cov[0, 0] == cov[0, 1]:  # Hopfield-like: (ξ_a, ξ_a, ξ_b, ξ_b)
        pair = low_rank_vectors(n, mean[[0, 2]], cov[np.ix_([0, 2], [0, 2])], seed)
        return pair[[0, 0, 1, 1]]
    return low_rank_vectors(n, mean, cov, seed)


def odor_vectors(n, seed=0, count=10):
    """`count` vectors N(0, 1) of length n with odors[2] = odors[1]: an array (count, n).

    Example:
        >>> from ndnx.connectivity import odor_vectors
        >>> odor_vectors(8, seed=0).shape
        (10, 8)"""
    n = _checked_n(n, "odor_vectors")
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 3:
        raise ValueError(f"odor_vectors: count must be an int ≥ 3 (odors[2] copies odors[1]), got {count!r}")
    odors = np.random.default_rng(list(entropy_key(seed)) + [_ODORS]).standard_normal((int(count), n))
    odors[2] = odors[1]
    return odors
