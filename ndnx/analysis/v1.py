"""Analyses of fitted V1 models: DoG kernels, effective hidden kernels, matching to a ground truth.

The DoG units of an HSM are linear, so individual DoGs are identifiable only up to permutation and
mixing; what a fit can recover is the effective kernel of each hidden unit,

    K_h = Σⱼ W1[j, h] · DoGⱼ,

which is compared with the ground truth's after matching units one-to-one by kernel correlation
(Hungarian algorithm), as proposed in spec v1_system_identification.md §8 test 8.
"""

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["dog_kernels_of", "effective_hidden_kernels", "match_kernels"]


def _slice(weight, replica):
    weight = np.asarray(weight)
    return weight if replica is None else weight[replica]


def dog_kernels_of(layer, replica=None):
    """The (F, H, W) kernels of a `DifferenceOfGaussians` layer (replica `replica` if replicated)."""
    k = np.asarray(layer.kernels())  # (H·W, F) or (H·W, R, F)
    if layer.replicas is not None:
        if replica is None:
            raise ValueError(f"{layer.name}: replicated layer; pass replica=0..{layer.replicas - 1}")
        k = k[:, replica]
    return k.T.reshape(-1, layer.height, layer.width)


def effective_hidden_kernels(model, replica=None, dog="dog", hidden="hidden"):
    """K_h = Σⱼ W1[j, h]·DoGⱼ for every hidden unit h of an HSM: an (H_units, H, W) array."""
    dog_layer, hidden_layer = model.get_layer(dog), model.get_layer(hidden)
    kernels = dog_kernels_of(dog_layer, replica if dog_layer.replicas is not None else None)
    w1 = _slice(hidden_layer.kernel, replica if hidden_layer.replicas is not None else None)
    if w1.shape[0] != kernels.shape[0]:
        raise ValueError(f"{hidden}: expected {kernels.shape[0]} inputs from {dog}, its kernel has {w1.shape[0]}")
    return np.einsum("jh,jyx->hyx", w1, kernels)


def match_kernels(estimated, truth):
    """One-to-one matching of kernels maximising the summed Pearson correlation.

    estimated: (A, H, W); truth: (B, H, W). Returns (estimated index, truth index, correlation)
    arrays of length min(A, B), sorted by truth index. A flat kernel correlates 0 with everything.
    """
    a = np.asarray(estimated, dtype="float64").reshape(len(estimated), -1)
    b = np.asarray(truth, dtype="float64").reshape(len(truth), -1)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"match_kernels: kernel sizes differ: {np.shape(estimated)[1:]} vs {np.shape(truth)[1:]}")
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (a @ b.T) / (na * nb.T)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    rows, cols = linear_sum_assignment(-corr)
    order = np.argsort(cols)
    return rows[order], cols[order], corr[rows, cols][order]
