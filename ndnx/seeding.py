"""One call that seeds every random number generator ndnx touches.

The same seed gives the same numbers on the CPU: Python's `random`, NumPy's global generator,
TensorFlow's global seed and Keras' global `SeedGenerator` are all set from it. Weight
initialisation in ndnx models does not depend on that global state at all: every initializer gets
its own integer seed from `derive_seed`, so a model built with seed k is the same model whether it
is built alone or as replica k of an ensemble.
"""

import hashlib
import random

import numpy as np

__all__ = ["set_seed", "derive_seed"]


def set_seed(seed):
    """Seed Python, NumPy, TensorFlow and Keras; returns the seed as an int.

    Example:
        >>> import ndnx
        >>> ndnx.set_seed(0)
        0
    """
    import keras
    import tensorflow as tf

    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    tf.random.set_seed(seed)
    keras.utils.set_random_seed(seed)
    return seed


def derive_seed(*parts):
    """A stable 31-bit integer seed from any mix of ints and strings.

    `derive_seed(seed, "hidden", "kernel")` names one weight of one model; Python's `hash` is
    salted per process, so a digest is used instead.
    """
    text = "/".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little") & 0x7FFFFFFF
