"""Weight constraints of NDN3: non-negative weights and excitatory/inhibitory sign masks.

Keras applies a constraint to the variable after every optimizer step (a projection). NDN3
instead applied its constraints in the forward pass (spec §5.1): `pos_constraint` used relu(w) as
the effective weight, and `ei_layers` / `num_inh` multiplied the last `num_inh` outputs of a layer
by −1 and pos-constrained the following layer. Both parametrisations reach the same set of
functions (every effective weight has the prescribed sign); they differ in the dynamics only at the
boundary: in NDN3 a weight whose variable went negative is dead (relu has zero gradient there and
the variable stays negative), while after a projection it sits at 0 and can grow again.
"""

import numpy as np
import keras
from keras import ops

from ndnx.registry import register

__all__ = ["Box", "NonNegative", "SignMask"]


@register("constraint")
class NonNegative(keras.constraints.Constraint):
    """w ← max(w, 0): NDN3's `pos_constraint`, as a projection after each step.

    Keras has `keras.constraints.NonNeg` with the same values; ndnx registers its own so that NDN3
    configurations translate name for name (`pos_constraints` → `NonNegative`) and so that the
    difference to NDN3's forward-pass relu (module docstring) is documented in one place.

    Example:
        >>> import numpy as np, ndnx
        >>> np.asarray(ndnx.constraints.NonNegative()(np.array([-1.0, 2.0], "float32"))).tolist()
        [0.0, 2.0]
    """

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        return ops.maximum(w, ops.zeros_like(w))

    def get_config(self):
        return {}


@register("constraint")
class SignMask(keras.constraints.Constraint):
    """Dale's law for the weights leaving E and I units: NDN3's `ei_layers` / `num_inh`.

    In NDN3 a layer with `num_inh = k` emits its **last k** units with a sign flip (−1) and the
    following layer's weights are pos-constrained, so the following layer's effective weights from
    the first n − k presynaptic units are ≥ 0 (excitatory) and from the last k are ≤ 0
    (inhibitory). ndnx expresses this on the following layer's kernel directly:

        w[..., i, :] ← max(w, 0)   for excitatory presynaptic units i < n − k
        w[..., i, :] ← min(w, 0)   for inhibitory presynaptic units i ≥ n − k

    `axis` is the presynaptic axis of the kernel: −2, the fan-in axis of a Dense kernel
    (fan_in, units) and the input-channel axis of a conv kernel (kh, kw, C, F); a negative axis
    is unaffected by a leading replica axis (R, ...). NDN3 applies the signs in the forward pass
    (module docstring); this constraint is the projection form.

    When the presynaptic axis is a flattened NHWC input (a Dense after a conv layer whose last k
    channels are inhibitory), pass `channels=C`: unit i is then inhibitory when i mod C ≥ C − k
    (the channel is the fastest index).

    Args:
        num_inh: k ≥ 0, the number of inhibitory presynaptic units (or channels).
        axis: the presynaptic axis (default −2).
        channels: None, or the channel count of a flattened NHWC presynaptic axis.

    Example:
        >>> import numpy as np, ndnx
        >>> w = np.array([[1.0, -1.0], [1.0, -1.0], [1.0, -1.0]], "float32")
        >>> np.asarray(ndnx.constraints.SignMask(1)(w)).tolist()
        [[1.0, 0.0], [1.0, 0.0], [0.0, -1.0]]
    """

    def __init__(self, num_inh, axis=-2, channels=None):
        if not isinstance(num_inh, (int, np.integer)) or num_inh < 0:
            raise ValueError(f"SignMask: num_inh must be an int >= 0, got {num_inh!r}")
        if not isinstance(axis, (int, np.integer)):
            raise ValueError(f"SignMask: axis must be an int, got {axis!r}")
        if channels is not None and (not isinstance(channels, (int, np.integer)) or channels < 1):
            raise ValueError(f"SignMask: channels must be None or a positive int, got {channels!r}")
        if channels is not None and num_inh > channels:
            raise ValueError(f"SignMask: num_inh ({num_inh}) exceeds channels ({channels})")
        self.num_inh = int(num_inh)
        self.axis = int(axis)
        self.channels = None if channels is None else int(channels)

    def inhibitory(self, n):
        """Boolean vector over the n presynaptic units: True where the unit is inhibitory."""
        idx = np.arange(n)
        if self.channels is None:
            if self.num_inh > n:
                raise ValueError(f"SignMask: num_inh ({self.num_inh}) exceeds the {n} presynaptic units")
            return idx >= n - self.num_inh
        if n % self.channels:
            raise ValueError(
                f"SignMask: the presynaptic axis has {n} entries, not a multiple of channels={self.channels}")
        return idx % self.channels >= self.channels - self.num_inh

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        shape = tuple(w.shape)
        rank = len(shape)
        if not -rank <= self.axis < rank:
            raise ValueError(f"SignMask: axis {self.axis} is out of range for a weight of shape {shape}")
        axis = self.axis % rank
        mask_shape = [1] * rank
        mask_shape[axis] = shape[axis]
        inh = ops.convert_to_tensor(self.inhibitory(shape[axis]).reshape(mask_shape))
        zero = ops.zeros_like(w)
        return ops.where(inh, ops.minimum(w, zero), ops.maximum(w, zero))

    def get_config(self):
        return {"num_inh": self.num_inh, "axis": self.axis, "channels": self.channels}


def _bound_array(value, fill):
    """Bounds as a float array, None (an open side) replaced by ±inf."""
    arr = np.array(value, dtype=object)
    return np.where(np.equal(arr, None), fill, arr).astype("float64")


def _bound_config(arr):
    """The bounds back as (nested) floats, ±inf as None."""
    return np.where(np.isfinite(arr), arr, None).tolist()


@register("constraint")
class Box(keras.constraints.Constraint):
    """w ← clip(w, lower, upper) elementwise: a box of bounds, one per weight or broadcast.

    `lower` and `upper` are scalars or nested lists broadcast against the weight's trailing axes
    (NumPy rules, so a leading replica axis is covered); None is an open side. As a constraint it
    is the projection after each optimizer step; `ndnx.training.fit_lbfgs` turns it into
    L-BFGS-B bounds. The DoG layers' `constrained=True` is a Box on their parameter rows, and the
    original HSM fit (Antolík et al. 2016) kept every parameter in such a box.

    Example:
        >>> import numpy as np, ndnx
        >>> box = ndnx.constraints.Box([[0.0], [None]], [[1.0], [2.0]])
        >>> np.asarray(box(np.array([[-1.0, 0.5], [-5.0, 9.0]], "float32"))).tolist()
        [[0.0, 0.5], [-5.0, 2.0]]
    """

    def __init__(self, lower=None, upper=None):
        self._lower = _bound_array(lower, -np.inf)
        self._upper = _bound_array(upper, np.inf)
        try:
            np.broadcast_shapes(self._lower.shape, self._upper.shape)
        except ValueError:
            raise ValueError(f"Box: lower {self._lower.shape} and upper {self._upper.shape} bounds do not "
                             "broadcast against each other") from None
        if np.any(self._lower > self._upper):
            raise ValueError("Box: a lower bound exceeds its upper bound")

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        return ops.minimum(ops.maximum(w, ops.cast(self._lower, w.dtype)), ops.cast(self._upper, w.dtype))

    def get_config(self):
        return {"lower": _bound_config(self._lower), "upper": _bound_config(self._upper)}
