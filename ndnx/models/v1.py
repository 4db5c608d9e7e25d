"""V1 system-identification models (Antolík et al. 2016; msc-neuro's NDN3 re-implementation)."""

import keras

from ndnx.layers import Dense, DifferenceOfGaussians
from ndnx.regularizers import L2
from ndnx.seeding import derive_seed

__all__ = ["hsm", "ndn3_normal", "layer_seeds"]


def ndn3_normal():
    """NDN3's 'normal' initializer, N(0, 0.1²). (NDN3's bias 'trunc_normal' is the same draw.)"""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.1)


def layer_seeds(seed, replicas, layer):
    """Seeds for one layer of a model with seed `seed` (an int: replicas seed, seed+1, …).

    Replica r of an ensemble built with `seed=s` is the model built alone with `seed=s + r`.
    """
    if replicas is None:
        return derive_seed(seed, layer)
    return [derive_seed(seed + r, layer) for r in range(replicas)]


def hsm(num_neurons, input_shape=(31, 31, 1), num_dogs=9, hidden_fraction=0.2, hidden_units=None,
        dog_activation=None, hidden_activation="softplus", output_activation="softplus",
        bias_initializer="normal", l2_hidden=0.0, l2_output=0.0, regularizer_convention="ndn3",
        sigma_bounds=None, faithful_mu_y_offset=False, seed=0, replicas=None, name="hsm"):
    """The hierarchical structural model: DoG → softplus hidden → softplus outputs.

        z = DoG(S) (linear), h = softplus(z W1 + b1), r̂ = softplus(h W2 + b2)

    with `hidden_units = int(hidden_fraction · num_neurons)` (20 for region 1's 103 neurons), the
    NDN3 'normal' N(0, 0.1²) weight initialisation and NDN3 l2 penalties (λ · ½Σw², weights only).
    `bias_initializer="normal"` is N(0, 0.1²) — what msc-neuro's baselines 3–4 call
    'trunc_normal' — and "zeros" is baselines 1–2.

    `replicas=R` builds R independent seeds (seed, seed+1, …) in one model whose output is
    (batch, R, neurons); replica r equals `hsm(..., seed=seed + r)` weight for weight.

    Reference: Antolík et al. (2016), PLoS Comput Biol 12(6): e1004927.

    Example:
        >>> import ndnx
        >>> model = ndnx.models.v1.hsm(103, seed=0, replicas=10)
        >>> model.output_shape
        (None, 10, 103)
    """
    if hidden_units is None:
        hidden_units = int(hidden_fraction * num_neurons)
    if hidden_units < 1:
        raise ValueError(f"hsm: hidden_units must be ≥ 1, got {hidden_units} "
                         f"(hidden_fraction={hidden_fraction}, num_neurons={num_neurons})")
    bias_init = {"normal": ndn3_normal(), "trunc_normal": ndn3_normal()}.get(bias_initializer, bias_initializer)

    def l2(lam):
        return L2(lam, convention=regularizer_convention) if lam else None

    inputs = keras.Input(shape=tuple(input_shape), name="images")
    z = DifferenceOfGaussians(
        num_dogs, activation=dog_activation, sigma_bounds=sigma_bounds,
        faithful_mu_y_offset=faithful_mu_y_offset, bias_initializer=bias_init,
        replicas=replicas, seed=layer_seeds(seed, replicas, "dog"), name="dog")(inputs)
    h = Dense(hidden_units, activation=hidden_activation, kernel_initializer=ndn3_normal(),
              bias_initializer=bias_init, kernel_regularizer=l2(l2_hidden), replicas=replicas,
              seed=layer_seeds(seed, replicas, "hidden"), name="hidden")(z)
    out = Dense(num_neurons, activation=output_activation, kernel_initializer=ndn3_normal(),
                bias_initializer=bias_init, kernel_regularizer=l2(l2_output), replicas=replicas,
                seed=layer_seeds(seed, replicas, "output"), name="output")(h)
    return keras.Model(inputs, out, name=name)
