"""NDN3's activation names as Keras activations.

NDN3 names its nonlinearities 'lin', 'relu', 'leaky_relu' (slope 0.1), 'softplus', 'exp',
'sigmoid', 'tanh', 'quad' (x²), 'elu' and 'requ' (rectified quadratic, relu(x)²). `get` maps a
name of either NDN3 or Keras to a Keras activation; the three that Keras lacks are registered
functions, so models using them save and load by name.

    >>> import ndnx
    >>> float(ndnx.activations.get("requ")(-2.0)), float(ndnx.activations.get("quad")(-2.0))
    (0.0, 4.0)
"""

import keras
from keras import ops

__all__ = ["get", "NDN3_NAMES", "leaky_relu_01", "quad", "requ"]


@keras.saving.register_keras_serializable(package="ndnx")
def leaky_relu_01(x):
    """NDN3's leaky_relu: x for x > 0, 0.1·x otherwise (Keras' default slope is 0.2)."""
    return ops.leaky_relu(x, negative_slope=0.1)


@keras.saving.register_keras_serializable(package="ndnx")
def quad(x):
    """x²."""
    return ops.square(x)


@keras.saving.register_keras_serializable(package="ndnx")
def requ(x):
    """relu(x)²."""
    return ops.square(ops.relu(x))


NDN3_NAMES = {"lin": None, "relu": "relu", "leaky_relu": leaky_relu_01, "softplus": "softplus",
              "exp": "exponential", "sigmoid": "sigmoid", "tanh": "tanh", "quad": quad, "elu": "elu",
              "requ": requ}


def get(name):
    """The Keras activation of an NDN3 name ('lin', 'requ', ...), a Keras name, a callable or None."""
    if name is None or callable(name):
        return keras.activations.get(name)
    if not isinstance(name, str):
        raise ValueError(f"activation: expected an NDN3 or Keras name, got {name!r}")
    if name in NDN3_NAMES:
        return keras.activations.get(NDN3_NAMES[name])
    try:
        return keras.activations.get(name)
    except ValueError:
        raise ValueError(f"activation: unknown name {name!r}; NDN3 names: {', '.join(NDN3_NAMES)}") from None
