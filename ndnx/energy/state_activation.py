"""The state activations ρ of an energy graph and the ranges the samplers clamp states to.

NRF-LV (spec energy_sampling_nrflv.md §1.1) feeds ρ(s_j), not s_j, into the networks f_i and clamps
every state to ρ's range after each sampler step: [−1, 1] for hardtanh, [0, ∞) for relu on latent
layers, and [0, 1] otherwise (the image layer under relu, hardsig, swish, leaky_relu, identity).

hardtanh and hardsig pass gradient only strictly inside their range, as PyTorch's hardtanh does: a
unit saturated at exactly ±1 sends no gradient through the interaction paths (TF's clip_by_value
would pass it at the boundary).

    >>> import numpy as np
    >>> from ndnx.energy.state_activation import state_activation, clamp_range
    >>> np.asarray(state_activation("hardtanh")(np.array([-2.0, 0.5, 3.0], "float32"))).tolist()
    [-1.0, 0.5, 1.0]
    >>> clamp_range("relu", 0), clamp_range("relu", 1), clamp_range("hardtanh", 2)
    ((0.0, 1.0), (0.0, inf), (-1.0, 1.0))
"""

import math

import tensorflow as tf

__all__ = ["STATE_ACTIVATIONS", "state_activation", "clamp_range", "clamp_to_ranges", "leaky_clamp",
           "check_state_activation"]

STATE_ACTIVATIONS = ("hardtanh", "hardsig", "relu", "swish", "leaky_relu", "identity")


def _hard(lo, hi):
    def rho(x):
        x = tf.convert_to_tensor(x)
        inside = tf.logical_and(x > lo, x < hi)
        # the constant branch carries no gradient: saturated units are silent, as in PyTorch
        return tf.where(inside, x, tf.stop_gradient(tf.clip_by_value(x, lo, hi)))
    return rho


def check_state_activation(owner, name):
    if name not in STATE_ACTIVATIONS:
        raise ValueError(f"{owner}: state_activation must be one of {', '.join(STATE_ACTIVATIONS)}, got {name!r}")
    return name


def state_activation(name):
    """ρ as a function of a tensor."""
    check_state_activation("state_activation", name)
    return {"hardtanh": _hard(-1.0, 1.0), "hardsig": _hard(0.0, 1.0), "relu": tf.nn.relu,
            "swish": tf.nn.silu, "leaky_relu": lambda x: tf.nn.leaky_relu(x, 0.01),
            "identity": tf.identity}[name]


def clamp_range(name, layer_index):
    """(low, high) that a state of layer `layer_index` is clamped to after every sampler step."""
    check_state_activation("clamp_range", name)
    if name == "hardtanh":
        return (-1.0, 1.0)
    if name == "relu" and layer_index > 0:
        return (0.0, math.inf)
    return (0.0, 1.0)


def clamp_to_ranges(states, ranges):
    """Each state clipped to its (low, high); an infinite high bound clips from below only."""
    return [tf.clip_by_value(s, lo, hi) if math.isfinite(hi) else tf.maximum(s, lo) for s, (lo, hi) in zip(states, ranges)]


def leaky_clamp(name):
    """The initter's output nonlinearity: ρ's clamp plus a 0.01 leak (spec §1.5)."""
    check_state_activation("leaky_clamp", name)
    if name == "hardtanh":
        return lambda x: tf.clip_by_value(x, -1.0, 1.0) + 0.01 * x
    if name == "hardsig":
        return lambda x: tf.clip_by_value(x, 0.0, 1.0) + 0.01 * x
    return lambda x: tf.nn.leaky_relu(x, 0.01)
