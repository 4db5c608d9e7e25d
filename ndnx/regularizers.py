"""Weight penalties with the two conventions of the NDN lineage.

`convention="ndn3"` sums over weights (and halves the squared norm, as tf.nn.l2_loss does);
`convention="ndnt"` averages over weight elements, so λ does not depend on the layer's size. A λ is
only meaningful together with its convention, so the convention is part of every config.
"""

import keras
from keras import ops

from ndnx.registry import register

__all__ = ["L1", "L2"]

CONVENTIONS = ("ndn3", "ndnt")


def _check_convention(name, convention):
    if convention not in CONVENTIONS:
        raise ValueError(f"{name}: convention must be one of {CONVENTIONS}, got {convention!r}")
    return convention


@register("regularizer")
class L1(keras.regularizers.Regularizer):
    """λ Σ|w| (ndn3) or λ mean|w| (ndnt).

    Example:
        >>> import numpy as np, ndnx
        >>> float(ndnx.regularizers.L1(1.0)(np.array([1., 2., 2.], "float32")))
        5.0
    """

    def __init__(self, l1=0.0, convention="ndn3"):
        self.l1 = float(l1)
        self.convention = _check_convention("L1", convention)

    def __call__(self, w):
        a = ops.abs(w)
        return self.l1 * (ops.sum(a) if self.convention == "ndn3" else ops.mean(a))

    def get_config(self):
        return {"l1": self.l1, "convention": self.convention}


@register("regularizer")
class L2(keras.regularizers.Regularizer):
    """λ · ½ Σ w² (ndn3, tf.nn.l2_loss) or λ mean w² (ndnt).

    Note the ½: Keras' own `L2(0.1)` is 0.1 · Σ w², twice NDN3's `l2 = 0.1`.

    Example:
        >>> import numpy as np, ndnx
        >>> float(ndnx.regularizers.L2(1.0)(np.array([1., 2., 2.], "float32")))
        4.5
    """

    def __init__(self, l2=0.0, convention="ndn3"):
        self.l2 = float(l2)
        self.convention = _check_convention("L2", convention)

    def __call__(self, w):
        s = ops.square(w)
        return self.l2 * (0.5 * ops.sum(s) if self.convention == "ndn3" else ops.mean(s))

    def get_config(self):
        return {"l2": self.l2, "convention": self.convention}
