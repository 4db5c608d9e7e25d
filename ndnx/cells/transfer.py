"""Rate transfer functions Φ(h; θ) of the E/I rate network (spec ei_networks_neuroflame.md §1.3).

h is the net input, θ the per-neuron threshold (population THRESH, possibly adapted):

- "relu" (threshold-linear):  Φ = max(h − θ, 0);
- "erf":                      Φ = erf((h − θ)/√2), whose range is (−1, 1): rates can be negative;
- "sqrt" (Brunel-type):       Φ = 0 for h < 0, h² for 0 ≤ h < 1, √(4h − 3) for h ≥ 1 (C¹ at 1,
                              value 1 and slope 2); θ is ignored;
- "gaussian_cdf":             Φ = θ·½(1 + erf(h/√2)), the Gaussian CDF with θ (THRESH) as its
                              **amplitude**, not a threshold. NeuroFlame reaches this branch with any
                              unlisted TF_TYPE ('sigmoid', 'erfc'); ndnx names it and refuses unknown names.

Example:
    >>> import numpy as np
    >>> from ndnx.cells.transfer import transfer_function
    >>> h = np.array([-1.0, 0.5, 1.0, 3.0], "float32")
    >>> np.round(np.asarray(transfer_function("sqrt")(h, 1.0)), 4).tolist()
    [0.0, 0.25, 1.0, 3.0]
    >>> np.round(np.asarray(transfer_function("relu")(h, 1.0)), 4).tolist()
    [0.0, 0.0, 0.0, 2.0]
"""

import math

import tensorflow as tf

__all__ = ["TRANSFER_FUNCTIONS", "transfer_function", "threshold_linear", "erf_rate", "brunel_sqrt",
           "gaussian_cdf_rate"]

_SQRT2 = math.sqrt(2.0)


def threshold_linear(h, theta):
    """max(h − θ, 0)."""
    return tf.nn.relu(h - theta)


def erf_rate(h, theta):
    """erf((h − θ)/√2), in (−1, 1)."""
    return tf.math.erf((h - theta) / _SQRT2)


def brunel_sqrt(h, theta=None):
    """0 below 0, h² on [0, 1), √(4h − 3) from 1 on; θ is ignored."""
    del theta
    # each branch is evaluated on a safe argument so the unused branch has a finite gradient
    upper = tf.sqrt(tf.maximum(4.0 * h - 3.0, 1.0))
    return tf.where(h < 0.0, tf.zeros_like(h), tf.where(h < 1.0, tf.square(h), upper))


def gaussian_cdf_rate(h, amplitude):
    """amplitude·½(1 + erf(h/√2)) (THRESH is the amplitude)."""
    return amplitude * 0.5 * (1.0 + tf.math.erf(h / _SQRT2))


TRANSFER_FUNCTIONS = {"relu": threshold_linear, "erf": erf_rate, "sqrt": brunel_sqrt,
                      "gaussian_cdf": gaussian_cdf_rate}


def transfer_function(name, owner="transfer"):
    """Φ(h, θ) by name; unknown names give one ValueError naming `owner`."""
    if name not in TRANSFER_FUNCTIONS:
        raise ValueError(f"{owner}: transfer must be one of {tuple(TRANSFER_FUNCTIONS)}, got {name!r}")
    return TRANSFER_FUNCTIONS[name]
