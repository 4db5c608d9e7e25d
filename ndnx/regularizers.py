"""Weight penalties of the NDN lineage, each under two named conventions.

Conventions
-----------
`convention="ndn3"` (NDN3, regularization.py): penalties are **sums** over weight elements and over
the layer's filters (output units); `l2` is λ·½Σw² (tf.nn.l2_loss); the Laplacians are NDN3's
5-point Tikhonov operators. `convention="ndnt"` (NDNT, modules/regularization.py): every penalty is a
**mean** over weight elements and over filters, times λ, so λ does not depend on the layer's size;
`l2` is λ·mean w² (no ½) and d2x uses the 9-point kernel [[.25, .5, .25], [.5, −3, .5], [.25, .5, .25]]
with zero padding. Sums do not transfer between layer sizes, so a λ is only meaningful together with
its convention, and the convention is part of every config. For the column-wise penalties the NDNT
value is the NDN3 sum divided by (fan_in · units).

Weight layout
-------------
A regularizer sees ONE kernel of shape (fan_in, units) (a replicated layer calls it once per
replica, see ndnx.layers.replicas). Column n is the filter of output unit n, flattened from the
filter shape (H, W, C) in NHWC order: the row of entry (y, x, c) is (y·W + x)·C + c, the channel
fastest, as NDN3's (y, x, c) order. Lags, when present, are the channel axis C (NDN3's "dim-0" =
channels or lags). A kernel of rank > 2 is flattened over all but its last axis; a rank-4 kernel
(kh, kw, C, units) — a Keras/ndnx conv kernel — carries its own filter shape (kh, kw, C).

Binding
-------
Spatial penalties (d2x, d2t, d2xt, max_filt, max_space, center, local, glocal) need the filter
shape. Give it as `filter_shape=(H, W, C)` or let an ndnx layer bind it in `build` through
`bind_regularizer(regularizer, filter_shape, layer_name)`. A penalty that cannot act on a layer
(d2x on a flat input, d2t or max_filt with one channel, a free-boundary Laplacian with no axis of
length ≥ 3, ...) raises a ValueError instead of silently contributing 0 (NDN3 returned 0 for such
cases and for keys like `norm2_filt` on non-separable layers, spec §7).

Per-unit λ
----------
Every column-wise penalty (all but orth and norm2) accepts λ as a vector over the output units, as
NDN3's UnitRegularization (readout layers): the penalty is Σ_n λ_n p_n (ndn3) or
Σ_n λ_n p_n / (fan_in · units) (ndnt), where p_n is the penalty of column n alone.

Normalised layers
-----------------
A regularizer gives weight normalisation nothing special: a layer that normalises its weights must
apply the penalty to the normalised weights it actually uses, e.g. `self.add_loss(reg(w_normed))`
(NDN3 penalises the normalised weights); attaching the regularizer to the raw variable would
penalise the wrong tensor.
"""

import math

import numpy as np
import keras
from keras import ops

from ndnx.registry import register

__all__ = [
    "L1", "L2", "D2X", "D2T", "D2XT", "Max", "MaxFilt", "MaxSpace", "Center", "Local", "GLocal",
    "Orth", "Norm2", "Combined", "bind_regularizer", "from_reg_vals", "NDN3_KEYS", "CONVENTIONS",
    "BOUNDARIES",
]

CONVENTIONS = ("ndn3", "ndnt")
BOUNDARIES = ("zero", "free")

# NDNT's 9-point Laplacian (ConvReg d2x).
NINE_POINT = np.array([[0.25, 0.5, 0.25], [0.5, -3.0, 0.5], [0.25, 0.5, 0.25]])


def _check_convention(name, convention):
    if convention not in CONVENTIONS:
        raise ValueError(f"{name}: convention must be one of {CONVENTIONS}, got {convention!r}")
    return convention


def _check_lam(name, arg, value, per_unit):
    """λ as a float, or (per-unit penalties only) a list of floats, one per output unit."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {arg} must be a number or a list of numbers, got {value!r}") from None
    if arr.ndim > 1 or (arr.ndim == 1 and arr.size == 0):
        raise ValueError(f"{name}: {arg} must be a scalar or a non-empty vector over units, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name}: {arg} must be finite and ≥ 0, got {value!r}")
    if arr.ndim == 1:
        if not per_unit:
            raise ValueError(
                f"{name}: {arg} must be a scalar (a per-unit λ is not defined for this penalty), "
                f"got {arr.size} values")
        return [float(v) for v in arr]
    return float(arr)


def _check_filter_shape(name, filter_shape):
    if filter_shape is None:
        return None
    try:
        shape = tuple(int(s) for s in filter_shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: filter_shape must be (H, W, C), got {filter_shape!r}") from None
    if len(shape) != 3 or min(shape) < 1 or shape != tuple(filter_shape):
        raise ValueError(f"{name}: filter_shape must be (H, W, C) of positive ints, got {filter_shape!r}")
    return shape


def _as_kernel(name, w):
    """(kernel of shape (fan_in, units), the original static shape)."""
    w = ops.convert_to_tensor(w)
    shape = tuple(w.shape)
    if len(shape) < 2:
        raise ValueError(
            f"{name}: expected a kernel of shape (fan_in, units) (or a conv kernel (kh, kw, C, units)), "
            f"got a weight of shape {shape}")
    if any(s is None for s in shape):
        raise ValueError(f"{name}: the kernel's shape must be static, got {shape}")
    if len(shape) > 2:
        w = ops.reshape(w, (math.prod(shape[:-1]), shape[-1]))
    return w, shape


def _second_difference(g, axis, n, boundary):
    """NDN3's 1-D second difference [1, −2, 1] along `axis` of a (H, W, C, F) grid.

    "zero": Dirichlet — the −2 diagonal stays at the edges (missing neighbours are 0).
    "free": the first and last rows of the operator are zeroed (None when nothing is left).
    """
    def take(x, start, stop):
        index = [slice(None)] * 4
        index[axis] = slice(start, stop)
        return x[tuple(index)]

    def pad(x):
        pads = [(0, 0)] * 4
        pads[axis] = (1, 1)
        return ops.pad(x, pads)

    if boundary == "zero":
        p = pad(g)
        return take(p, 0, n) - 2.0 * g + take(p, 2, n + 2)
    if n < 3:
        return None
    return pad(take(g, 0, n - 2) - 2.0 * take(g, 1, n - 1) + take(g, 2, n))


def _nine_point(g, h, w):
    """NDNT's 9-point Laplacian with zero padding on a (H, W, C, F) grid."""
    p = ops.pad(g, [(1, 1), (1, 1), (0, 0), (0, 0)])
    out = None
    for a in range(3):
        for b in range(3):
            term = float(NINE_POINT[a, b]) * p[a:a + h, b:b + w]
            out = term if out is None else out + term
    return out


def _second_difference_matrix(n, boundary):
    d = -2.0 * np.eye(n) + np.eye(n, k=1) + np.eye(n, k=-1)
    if boundary == "free":
        d[0] = 0.0
        d[-1] = 0.0
    return d


def _pixel_coordinates(h, w):
    """(y, x) of every pixel in row-major order, centred on the filter's centre."""
    y, x = np.meshgrid(np.arange(h, dtype=float), np.arange(w, dtype=float), indexing="ij")
    return y.ravel() - (h - 1) / 2.0, x.ravel() - (w - 1) / 2.0


class NDNRegularizer(keras.regularizers.Regularizer):
    """Base of the ndnx penalties: λ (scalar or per unit), convention, optional filter shape.

    Subclasses set `key` (the NDN3/NDNT reg key), `spatial` (needs the filter shape) and
    `per_unit` (a vector λ is allowed) and implement `_per_unit(kernel, filter_shape)` → (units,)
    penalties p_n summed NDN3-style, or override `__call__`.
    """

    key = None
    spatial = False
    per_unit = True
    lam_arg = "lam"

    def __init__(self, lam=0.0, convention="ndn3", filter_shape=None):
        name = type(self).__name__
        self._lam = _check_lam(name, self.lam_arg, lam, self.per_unit)
        self.convention = _check_convention(name, convention)
        self.filter_shape = _check_filter_shape(name, filter_shape) if self.spatial else None
        if not self.spatial and filter_shape is not None:
            raise ValueError(f"{name}: takes no filter_shape (it does not depend on the filter's layout)")
        if self.filter_shape is not None:
            self._check_applies(self.filter_shape, name)

    # --- λ -------------------------------------------------------------------------------------
    @property
    def lam(self):
        """λ: a float, or a list of floats (one per output unit)."""
        return self._lam

    def _lam_tensor(self, units, dtype):
        if isinstance(self._lam, list) and len(self._lam) != units:
            raise ValueError(
                f"{type(self).__name__}: per-unit {self.lam_arg} has {len(self._lam)} entries but the "
                f"kernel has {units} units")
        return ops.convert_to_tensor(np.asarray(self._lam), dtype=dtype)

    def _reduce(self, per_unit, fan_in, units, dtype):
        total = ops.sum(self._lam_tensor(units, dtype) * per_unit)
        if self.convention == "ndnt":
            total = total / float(fan_in * units)
        return total

    # --- filter shape ----------------------------------------------------------------------------
    def _check_applies(self, filter_shape, layer_name):
        """Raise ValueError when the penalty is undefined or identically 0 for this filter shape."""

    def bind(self, filter_shape, layer_name):
        """This penalty configured for a layer whose filters have `filter_shape`.

        `filter_shape` is (H, W, C) for a spatial input, (features,) or None for a flat one. Returns
        self when nothing changes, a copy with the filter shape otherwise; raises ValueError (naming
        `layer_name`) when the penalty does not apply.
        """
        if not self.spatial:
            return self
        name = type(self).__name__
        shape = None if filter_shape is None else tuple(int(s) for s in filter_shape)
        if shape is None or len(shape) == 1:
            # A flat input: only an explicit filter shape (NDN3's input_dims) of the right size works.
            if self.filter_shape is not None and (shape is None or shape[0] == math.prod(self.filter_shape)):
                return self
            got = "a flat input" if shape is None else f"features of size {shape[0]}"
            if self.filter_shape is not None:
                raise ValueError(
                    f"{layer_name}: {name} has filter_shape={self.filter_shape} "
                    f"({math.prod(self.filter_shape)} entries), expected {shape[0]} entries from {got}")
            raise ValueError(f"{layer_name}: {name} needs a spatial input (batch, H, W, C); got {got}")
        if len(shape) != 3:
            raise ValueError(f"{layer_name}: {name} expected a filter shape (H, W, C), got {shape}")
        if self.filter_shape is not None:
            if self.filter_shape == shape:
                return self
            raise ValueError(
                f"{layer_name}: {name} has filter_shape={self.filter_shape}, expected the layer's "
                f"filter shape {shape}")
        self._check_applies(shape, layer_name)
        return type(self).from_config(dict(self.get_config(), filter_shape=list(shape)))

    def _filter_shape_for(self, shape):
        """The (H, W, C) of a kernel with static `shape` (bound, or read from a rank-4 kernel)."""
        name = type(self).__name__
        fan_in = math.prod(shape[:-1])
        if self.filter_shape is not None:
            if math.prod(self.filter_shape) != fan_in:
                raise ValueError(
                    f"{name}: filter_shape {self.filter_shape} has {math.prod(self.filter_shape)} "
                    f"entries, expected a kernel with as many rows, got a kernel of shape {shape}")
            return self.filter_shape
        if len(shape) == 4:
            filter_shape = tuple(int(s) for s in shape[:3])
            self._check_applies(filter_shape, name)
            return filter_shape
        raise ValueError(
            f"{name} ({self.key}) needs the filter shape; attach it to an ndnx layer or pass "
            f"filter_shape=(H, W, C) (got a kernel of shape {shape})")

    # --- evaluation ------------------------------------------------------------------------------
    def __call__(self, w):
        kernel, shape = _as_kernel(type(self).__name__, w)
        filter_shape = self._filter_shape_for(shape) if self.spatial else None
        fan_in, units = int(kernel.shape[0]), int(kernel.shape[1])
        return self._reduce(self._per_unit(kernel, filter_shape), fan_in, units, kernel.dtype)

    def _per_unit(self, kernel, filter_shape):
        raise NotImplementedError

    def get_config(self):
        config = {self.lam_arg: self._lam, "convention": self.convention}
        if self.spatial:
            config["filter_shape"] = None if self.filter_shape is None else list(self.filter_shape)
        return config


# ------------------------------------------------------------------------------------------------
# Element-wise penalties


@register("regularizer")
class L1(NDNRegularizer):
    """λ Σ|w| (ndn3) or λ mean|w| (ndnt); NDN3/NDNT key `l1`.

    Acts element-wise on a weight of any shape; a per-unit λ (vector over the last axis) weights
    column n by λ_n: Σ_n λ_n Σ_i |w_in| (ndn3), mean over i, n of λ_n |w_in| (ndnt).

    Example:
        >>> import numpy as np, ndnx
        >>> float(ndnx.regularizers.L1(1.0)(np.array([1., 2., 2.], "float32")))
        5.0
    """

    key = "l1"
    lam_arg = "l1"

    def __init__(self, l1=0.0, convention="ndn3"):
        super().__init__(l1, convention)

    @property
    def l1(self):
        return self._lam

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        a = ops.abs(w)
        if isinstance(self._lam, list):
            a = a * self._lam_tensor(int(w.shape[-1]) if w.shape else 0, w.dtype)
            return ops.sum(a) if self.convention == "ndn3" else ops.mean(a)
        return self._lam * (ops.sum(a) if self.convention == "ndn3" else ops.mean(a))


@register("regularizer")
class L2(NDNRegularizer):
    """λ · ½ Σ w² (ndn3, tf.nn.l2_loss) or λ mean w² (ndnt); key `l2`.

    Note the ½: Keras' own `L2(0.1)` is 0.1 · Σ w², twice NDN3's `l2 = 0.1`. Element-wise on a
    weight of any shape; a per-unit λ weights the last axis.

    Example:
        >>> import numpy as np, ndnx
        >>> float(ndnx.regularizers.L2(1.0)(np.array([1., 2., 2.], "float32")))
        4.5
    """

    key = "l2"
    lam_arg = "l2"

    def __init__(self, l2=0.0, convention="ndn3"):
        super().__init__(l2, convention)

    @property
    def l2(self):
        return self._lam

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        s = ops.square(w)
        if isinstance(self._lam, list):
            s = s * self._lam_tensor(int(w.shape[-1]) if w.shape else 0, w.dtype)
            return 0.5 * ops.sum(s) if self.convention == "ndn3" else ops.mean(s)
        return self._lam * (0.5 * ops.sum(s) if self.convention == "ndn3" else ops.mean(s))


# ------------------------------------------------------------------------------------------------
# Laplacian (Tikhonov) penalties


class _Laplacian(NDNRegularizer):
    """Shared by D2X, D2T, D2XT: λ Σ_n ‖T w_n‖² with T a sum of second-difference operators."""

    spatial = True
    uses_space = False
    uses_time = False

    def __init__(self, lam=0.0, convention="ndn3", boundary="zero", filter_shape=None):
        name = type(self).__name__
        if boundary not in BOUNDARIES:
            raise ValueError(f"{name}: boundary must be one of {BOUNDARIES}, got {boundary!r}")
        if convention == "ndnt" and boundary != "zero":
            raise ValueError(
                f"{name}: the ndnt convention pads with zeros; boundary must be 'zero', got {boundary!r}")
        self.boundary = boundary
        super().__init__(lam, convention, filter_shape)

    def _check_applies(self, filter_shape, layer_name):
        name = type(self).__name__
        h, w, c = filter_shape
        if self.uses_space and max(h, w) < 2:
            raise ValueError(
                f"{layer_name}: {name} needs a spatial input (batch, H, W, C) with more than one pixel; "
                f"got filter shape {filter_shape}")
        if self.uses_time and not self.uses_space and c < 2:
            raise ValueError(
                f"{layer_name}: {name} needs more than one lag on the channel axis C of (H, W, C) "
                f"(NDN3's dim-0); got C = {c} (filter shape {filter_shape})")
        if self.boundary == "free":
            axes = ((h, w) if self.uses_space else ()) + ((c,) if self.uses_time else ())
            if max(axes) < 3:
                raise ValueError(
                    f"{layer_name}: {name} with boundary='free' is identically 0 unless an axis it "
                    f"differentiates has length ≥ 3; got filter shape {filter_shape}")

    def _apply(self, g, filter_shape):
        """T w on a (H, W, C, F) grid."""
        h, w, c = filter_shape
        terms = []
        if self.uses_space:
            if self.convention == "ndnt" and h > 1 and w > 1:
                terms.append(_nine_point(g, h, w))
            else:
                terms += [_second_difference(g, axis, n, self.boundary)
                          for axis, n in ((0, h), (1, w)) if n > 1]
        if self.uses_time:
            terms.append(_second_difference(g, 2, c, self.boundary))
        terms = [t for t in terms if t is not None]
        out = terms[0]
        for t in terms[1:]:
            out = out + t
        return out

    def _per_unit(self, kernel, filter_shape):
        g = ops.reshape(kernel, tuple(filter_shape) + (int(kernel.shape[1]),))
        return ops.sum(ops.square(self._apply(g, filter_shape)), axis=(0, 1, 2))

    def operator(self, filter_shape=None):
        """The matrix T (NumPy, fan_in × fan_in) with penalty_n = ‖T w_n‖² (NDN3's Tikhonov matrix).

        Built from Kronecker products in the NHWC flat order (for checking and inspection; the
        penalty itself is computed with slices and never forms T).
        """
        filter_shape = _check_filter_shape(type(self).__name__, filter_shape) or self.filter_shape
        if filter_shape is None:
            raise ValueError(f"{type(self).__name__}: operator() needs a filter shape")
        h, w, c = filter_shape
        i_h, i_w, i_c = np.eye(h), np.eye(w), np.eye(c)
        t = np.zeros((h * w * c,) * 2)
        if self.uses_space:
            if self.convention == "ndnt" and h > 1 and w > 1:
                for y in range(h):
                    for x in range(w):
                        for dy in (-1, 0, 1):
                            for dx in (-1, 0, 1):
                                if 0 <= y + dy < h and 0 <= x + dx < w:
                                    rows = (y * w + x) * c + np.arange(c)
                                    cols = ((y + dy) * w + x + dx) * c + np.arange(c)
                                    t[rows, cols] += NINE_POINT[dy + 1, dx + 1]
            else:
                if h > 1:
                    t += np.kron(np.kron(_second_difference_matrix(h, self.boundary), i_w), i_c)
                if w > 1:
                    t += np.kron(np.kron(i_h, _second_difference_matrix(w, self.boundary)), i_c)
        if self.uses_time:
            t += np.kron(np.kron(i_h, i_w), _second_difference_matrix(c, self.boundary))
        return t

    def get_config(self):
        return dict(super().get_config(), boundary=self.boundary)


@register("regularizer")
class D2X(_Laplacian):
    """Spatial Laplacian smoothness, key `d2x`: λ Σ_n ‖T w_n‖².

    ndn3 (NDN3 `create_tikhonov_matrix`): T = D_H ⊗ I_W ⊗ I_C + I_H ⊗ D_W ⊗ I_C, with D the 1-D second
    difference [1, −2, 1] — the 5-point Laplacian (−4 at the pixel, +1 at its four neighbours),
    applied per channel. `boundary="zero"` (default; Dirichlet, the thesis' NDN3 fork): nothing is
    dropped at the edges, so a unit impulse costs 20 inside, 20 at (1, 1), 19 at an edge midpoint,
    18 in a corner, and an all-ones 31×31 filter 132. `boundary="free"` (upstream NDN3 2022): the
    edge rows of D are zeroed, so constant filters cost 0 and the impulse costs 20 / 18 / 7 / 2.
    An axis of length 1 is not a spatial dimension and is skipped (1-D filters get a 1-D Laplacian).

    ndnt (NDNT ConvReg d2x): T = conv with the 9-point kernel [[.25,.5,.25],[.5,−3,.5],[.25,.5,.25]],
    zero padding, per channel; λ · mean over filter entries and filters (interior impulse:
    10.25/961 on a 31×31 filter). A 1-D filter uses [1, −2, 1] with zero padding.

    Args:
        lam: λ, a float or a list (one per output unit).
        convention: "ndn3" or "ndnt".
        boundary: "zero" or "free" (ndn3 only).
        filter_shape: (H, W, C), or None to be bound by the layer.

    Example:
        >>> import numpy as np, ndnx
        >>> w = np.zeros((31 * 31, 1), "float32"); w[15 * 31 + 15] = 1.0
        >>> float(ndnx.regularizers.D2X(1.0, filter_shape=(31, 31, 1))(w))
        20.0
        >>> w = np.ones((31 * 31, 1), "float32")
        >>> float(ndnx.regularizers.D2X(1.0, boundary="free", filter_shape=(31, 31, 1))(w))
        0.0
    """

    key = "d2x"
    uses_space = True


@register("regularizer")
class D2T(_Laplacian):
    """Temporal smoothness along the lags, key `d2t`: λ Σ_n ‖(I_H ⊗ I_W ⊗ D_C) w_n‖².

    The lags are the channel axis C of the filter shape (H, W, C) (NDN3's dim-0); D_C is the 1-D
    second difference [1, −2, 1] with the `boundary` of D2X (NDNT ConvReg d2t: zero padding, mean).
    A filter with one lag raises (NDN3 fails on it; it has no temporal axis), and so does a flat
    input: feed lags as (batch, 1, 1, lags) or give `filter_shape=(1, 1, lags)`.

    Example:
        >>> import numpy as np, ndnx
        >>> w = np.array([[0.], [1.], [0.], [0.]], "float32")   # 4 lags at one pixel
        >>> float(ndnx.regularizers.D2T(1.0, filter_shape=(1, 1, 4))(w))
        6.0
    """

    key = "d2t"
    uses_time = True


@register("regularizer")
class D2XT(_Laplacian):
    """Spatio-temporal smoothness, key `d2xt`: λ Σ_n ‖(T_x + T_t) w_n‖².

    The sum of the two Kronecker terms of D2X and D2T (one operator, then squared — not the sum
    of the two penalties). With one lag, D_C = [−2] under the zero boundary, so
    d2xt = ‖(Lap − 2I) w‖², not d2x (NDN3 behaviour); with `boundary="free"` it equals d2x.
    ndnt: the 9-point spatial kernel plus [1, −2, 1] along the lags, zero padding, mean (ndnx's
    choice for NDNT's d2xt: the same sum of operators).

    Example:
        >>> import numpy as np, ndnx
        >>> w = np.zeros((9, 1), "float32"); w[4] = 1.0        # impulse in a 3×3 filter, 1 lag
        >>> float(ndnx.regularizers.D2XT(1.0, filter_shape=(3, 3, 1))(w))  # (−6)² + 4·1²
        40.0
    """

    key = "d2xt"
    uses_space = True
    uses_time = True


# ------------------------------------------------------------------------------------------------
# Sparsity couplings (NDN3 "max" family, NDNT Tikhanov max/max_filt/max_space)


class _Max(NDNRegularizer):
    """λ Σ_n (w_n²)ᵀ M (w_n²) with a 0/1 coupling M; computed in closed form."""

    def matrix(self, fan_in=None):
        """M (NumPy, fan_in × fan_in) with penalty_n = (w_n²)ᵀ M (w_n²)."""
        raise NotImplementedError


@register("regularizer")
class Max(_Max):
    """Discourages more than one non-zero weight per unit, key `max` (NDN3 regularization.py,
    NDNT Tikhanov max).

    ndn3: λ Σ_n Σ_{i≠j} w_in² w_jn² = λ Σ_n [(Σ_i w_in²)² − Σ_i w_in⁴]; ndnt: divided by
    fan_in · units. Its coupling matrix is 1 − I.

    Example:
        >>> import numpy as np, ndnx
        >>> float(ndnx.regularizers.Max(1.0)(np.array([[1.], [1.], [0.]], "float32")))
        2.0
    """

    key = "max"

    def _per_unit(self, kernel, filter_shape):
        a = ops.square(kernel)
        return ops.square(ops.sum(a, axis=0)) - ops.sum(ops.square(a), axis=0)

    def matrix(self, fan_in=None):
        if fan_in is None:
            raise ValueError("Max: matrix() needs fan_in")
        return np.ones((fan_in, fan_in)) - np.eye(fan_in)


class _SpatialMax(_Max):
    spatial = True

    def matrix(self, fan_in=None):
        if self.filter_shape is None:
            raise ValueError(f"{type(self).__name__}: matrix() needs a bound filter shape")
        return self._matrix(*self.filter_shape)


@register("regularizer")
class MaxFilt(_SpatialMax):
    """Couples different channels (dim-0 entries) at the same pixel, key `max_filt` (NDN3, NDNT).

    ndn3: λ Σ_n Σ_pixel Σ_{c≠c'} w²_{p,c,n} w²_{p,c',n}; ndnt: divided by fan_in · units. Its
    matrix is block-diagonal, kron(I_pixels, 1 − I_C). With one channel it is identically 0, so a
    1-channel filter raises.

    Example:
        >>> import numpy as np, ndnx
        >>> ndnx.regularizers.MaxFilt(1.0, filter_shape=(1, 2, 2)).matrix().astype(int).tolist()
        [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
    """

    key = "max_filt"

    def _check_applies(self, filter_shape, layer_name):
        if filter_shape[2] < 2:
            raise ValueError(
                f"{layer_name}: MaxFilt couples different channels at one pixel and is identically 0 "
                f"with one channel; expected C ≥ 2 in the filter shape (H, W, C), got {filter_shape}")

    def _per_unit(self, kernel, filter_shape):
        h, w, c = filter_shape
        a = ops.reshape(ops.square(kernel), (h * w, c, int(kernel.shape[1])))
        return ops.sum(ops.square(ops.sum(a, axis=1)) - ops.sum(ops.square(a), axis=1), axis=0)

    @staticmethod
    def _matrix(h, w, c):
        return np.kron(np.eye(h * w), np.ones((c, c)) - np.eye(c))


@register("regularizer")
class MaxSpace(_SpatialMax):
    """Couples different pixels of the same channel (dim-0 entry), key `max_space` (NDN3, NDNT).

    ndn3: λ Σ_n Σ_c Σ_{p≠q} w²_{p,c,n} w²_{q,c,n}; ndnt: divided by fan_in · units. Matrix
    kron(1 − I_pixels, I_C). A one-pixel filter raises.

    Example:
        >>> import numpy as np, ndnx
        >>> w = np.array([[1.], [2.], [1.], [0.]], "float32")  # 2 pixels × 2 channels
        >>> float(ndnx.regularizers.MaxSpace(1.0, filter_shape=(1, 2, 2))(w))  # 2·1·1 + 2·4·0
        2.0
    """

    key = "max_space"

    def _check_applies(self, filter_shape, layer_name):
        if filter_shape[0] * filter_shape[1] < 2:
            raise ValueError(
                f"{layer_name}: MaxSpace couples different pixels and needs a spatial input (batch, H, W, C) "
                f"with more than one pixel; got filter shape {filter_shape}")

    def _per_unit(self, kernel, filter_shape):
        h, w, c = filter_shape
        a = ops.reshape(ops.square(kernel), (h * w, c, int(kernel.shape[1])))
        return ops.sum(ops.square(ops.sum(a, axis=0)) - ops.sum(ops.square(a), axis=0), axis=0)

    @staticmethod
    def _matrix(h, w, c):
        return np.kron(np.ones((h * w, h * w)) - np.eye(h * w), np.eye(c))


# ------------------------------------------------------------------------------------------------
# Position-dependent penalties


class _Spatial(NDNRegularizer):
    spatial = True

    def _check_applies(self, filter_shape, layer_name):
        if filter_shape[0] * filter_shape[1] < 2:
            raise ValueError(
                f"{layer_name}: {type(self).__name__} depends on pixel positions and needs a spatial "
                f"input (batch, H, W, C) with more than one pixel; got filter shape {filter_shape}")

    def matrix(self):
        """The NumPy coupling matrix M (fan_in × fan_in) of the bound filter shape."""
        if self.filter_shape is None:
            raise ValueError(f"{type(self).__name__}: matrix() needs a bound filter shape")
        return self._matrix(*self.filter_shape)


@register("regularizer")
class Center(_Spatial):
    """Pulls weight towards the filter centre, key `center` (NDN3; NDNT DiagonalReg):
    λ Σ_n Σ_i 0.01 · d(i)² · w_in².

    d(i) is the distance of entry i's pixel (y, x) from the centre ((H − 1)/2, (W − 1)/2), the
    same for every channel; ndnt: divided by fan_in · units. penalty_n = w_nᵀ M w_n with
    M = diag(0.01 d²).

    Example:
        >>> import numpy as np, ndnx
        >>> w = np.zeros((25, 1), "float32"); w[0] = 1.0          # corner of a 5×5 filter
        >>> round(float(ndnx.regularizers.Center(1.0, filter_shape=(5, 5, 1))(w)), 6)  # 0.01·(2²+2²)
        0.08
    """

    key = "center"

    def _weights(self, h, w, c):
        y, x = _pixel_coordinates(h, w)
        return np.repeat(0.01 * (y ** 2 + x ** 2), c)

    def _per_unit(self, kernel, filter_shape):
        d2 = ops.convert_to_tensor(self._weights(*filter_shape)[:, None], dtype=kernel.dtype)
        return ops.sum(d2 * ops.square(kernel), axis=0)

    def _matrix(self, h, w, c):
        return np.diag(self._weights(h, w, c))


class _Locality(_Spatial):
    """λ Σ_n Σ_{i,j} w_in² w_jn² · dist²(i, j) / ((W/2)² + (H/2)²), in closed form.

    With a_p = w_p² and centred coordinates, Σ_{p,q} a_p a_q (y_p − y_q)² = 2(Σa · Σa y² − (Σa y)²).
    """

    pool_channels = False

    def _per_unit(self, kernel, filter_shape):
        h, w, c = filter_shape
        units = int(kernel.shape[1])
        a = ops.reshape(ops.square(kernel), (h * w, c, units))
        if self.pool_channels:
            a = ops.sum(a, axis=1, keepdims=True)
        y, x = _pixel_coordinates(h, w)
        total = 0.0
        s0 = ops.sum(a, axis=0)
        for coordinate in (y, x):
            k = ops.convert_to_tensor(coordinate[:, None, None], dtype=kernel.dtype)
            s1 = ops.sum(a * k, axis=0)
            s2 = ops.sum(a * ops.square(k), axis=0)
            total = total + 2.0 * (s0 * s2 - ops.square(s1))
        norm = (w / 2.0) ** 2 + (h / 2.0) ** 2
        return ops.sum(total, axis=0) / norm

    def _matrix(self, h, w, c):
        y, x = _pixel_coordinates(h, w)
        d2 = (y[:, None] - y[None]) ** 2 + (x[:, None] - x[None]) ** 2
        d2 = d2 / ((w / 2.0) ** 2 + (h / 2.0) ** 2)
        return np.kron(d2, np.ones((c, c)) if self.pool_channels else np.eye(c))


@register("regularizer")
class Local(_Locality):
    """Locality within each channel, key `local`: λ Σ_n Σ_c Σ_{p,q} w²_{pc} w²_{qc} dist²(p,q) / N.

    N = (W/2)² + (H/2)²; pairs of entries of the same channel (dim-0 entry) are coupled by the
    squared distance of their pixels, so weight spread over distant pixels costs more. ndnt:
    divided by fan_in · units. penalty_n = (w_n²)ᵀ M (w_n²), M = kron(dist²/N, I_C).

    Example:
        >>> import numpy as np, ndnx
        >>> w = np.array([[1.], [0.], [1.]], "float32")       # a 1×3 filter, ends set
        >>> round(float(ndnx.regularizers.Local(1.0, filter_shape=(1, 3, 1))(w)), 6)  # 2·2² / (1.5² + .5²)
        3.2
    """

    key = "local"


@register("regularizer")
class GLocal(_Locality):
    """Locality pooled over channels, key `glocal`: λ Σ_n Σ_{p,q} s_p s_q dist²(p,q) / N.

    s_p = Σ_c w²_{pc} (the filter's energy at pixel p, all channels), N = (W/2)² + (H/2)²: every
    pair of entries is coupled by the distance of their pixels, whatever their channels. ndnt:
    divided by fan_in · units. M = kron(dist²/N, 1_C 1_Cᵀ).

    Example:
        >>> import numpy as np, ndnx
        >>> w = np.array([[1.], [0.], [0.], [0.], [0.], [1.]], "float32")  # 1×3 px × 2 ch
        >>> round(float(ndnx.regularizers.GLocal(1.0, filter_shape=(1, 3, 2))(w)), 6)
        3.2
    """

    key = "glocal"
    pool_channels = True


# ------------------------------------------------------------------------------------------------
# Whole-matrix penalties


@register("regularizer")
class Orth(NDNRegularizer):
    """Orthonormal filters, key `orth`: λ ‖WᵀW − I‖²_F (ndn3) or λ mean((WᵀW − I)²) (ndnt, over the
    units × units entries). λ is a scalar.

    Example:
        >>> import numpy as np, ndnx
        >>> float(ndnx.regularizers.Orth(1.0)(np.array([[1., 1.], [0., 1.]], "float32")))  # [[0,1],[1,1]]
        3.0
    """

    key = "orth"
    per_unit = False

    def __call__(self, w):
        kernel, _ = _as_kernel("Orth", w)
        units = int(kernel.shape[1])
        gram = ops.matmul(ops.transpose(kernel), kernel)
        s = ops.square(gram - ops.eye(units, dtype=kernel.dtype))
        return self._lam * (ops.sum(s) if self.convention == "ndn3" else ops.mean(s))


@register("regularizer")
class Norm2(NDNRegularizer):
    """Unit-norm filters on average, key `norm2`. λ is a scalar.

    ndn3: λ (Σ_{i,n} w_in² − units)²; ndnt: λ mean_n (‖w_n‖² − 1)² (ndnx's reading of a mean over
    filters: each filter's squared norm is pulled to 1).

    Example:
        >>> import numpy as np, ndnx
        >>> float(ndnx.regularizers.Norm2(1.0)(np.array([[1., 2.], [1., 0.]], "float32")))  # (6 − 2)²
        16.0
    """

    key = "norm2"
    per_unit = False

    def __call__(self, w):
        kernel, _ = _as_kernel("Norm2", w)
        units = int(kernel.shape[1])
        norms = ops.sum(ops.square(kernel), axis=0)
        if self.convention == "ndn3":
            return self._lam * ops.square(ops.sum(norms) - float(units))
        return self._lam * ops.mean(ops.square(norms - 1.0))


# ------------------------------------------------------------------------------------------------
# Several penalties on one weight; binding; NDN reg keys


@register("regularizer")
class Combined(keras.regularizers.Regularizer):
    """The sum of several regularizers on one weight (NDN3's reg_list for one layer).

    Binding binds every part. Usually built by `from_reg_vals`.

    Example:
        >>> import numpy as np, ndnx
        >>> reg = ndnx.regularizers.Combined([ndnx.regularizers.L1(1.0), ndnx.regularizers.L2(1.0)])
        >>> float(reg(np.array([[1.], [2.], [2.]], "float32")))
        9.5
    """

    def __init__(self, regularizers):
        parts = []
        for r in regularizers:
            if isinstance(r, dict):
                r = keras.saving.deserialize_keras_object(r)
            r = keras.regularizers.get(r)
            if r is None:
                raise ValueError(f"Combined: expected regularizers, got {regularizers!r}")
            parts.append(r)
        if not parts:
            raise ValueError("Combined: expected at least one regularizer, got none")
        self.regularizers = parts

    def bind(self, filter_shape, layer_name):
        bound = [bind_regularizer(r, filter_shape, layer_name) for r in self.regularizers]
        if all(b is r for b, r in zip(bound, self.regularizers)):
            return self
        return Combined(bound)

    def __call__(self, w):
        total = self.regularizers[0](w)
        for r in self.regularizers[1:]:
            total = total + r(w)
        return total

    def get_config(self):
        return {"regularizers": [keras.saving.serialize_keras_object(r) for r in self.regularizers]}


def bind_regularizer(regularizer, filter_shape, layer_name):
    """`regularizer` configured for a layer whose filters have `filter_shape`.

    `filter_shape` is (H, W, C) for a spatial input (NHWC flattening, channel fastest) and
    (features,) or None for a flat one. Keras' own regularizers, callables and ndnx penalties that
    do not depend on the filter layout are returned unchanged; spatial ndnx penalties get the
    filter shape or raise a ValueError naming `layer_name` when they cannot apply.
    """
    if regularizer is None or not hasattr(regularizer, "bind"):
        return regularizer
    return regularizer.bind(filter_shape, layer_name)


NDN3_KEYS = {cls.key: cls for cls in (L1, L2, D2X, D2T, D2XT, Max, MaxFilt, MaxSpace, Center, Local,
                                      GLocal, Orth, Norm2)}

_NOT_PENALTIES = {
    "norm2_filt": "NDN3 defines it only for separable ('sep'/'convsep') layers and silently returns 0 "
                  "on every other layer; ndnx has no separable-layer penalty of that name here",
    "norm2_space": "NDN3 defines it only for separable ('sep'/'convsep') layers and silently returns 0 "
                   "on every other layer; ndnx has no separable-layer penalty of that name here",
    "dropout": "it is not a penalty: NDN3's value is the keep probability of dropout on the layer's "
               "output; give the layer a dropout rate = 1 − keep_prob instead",
    "max_level": "the max penalty across blocks is not implemented in ndnx",
}


def from_reg_vals(reg_vals, convention="ndn3", boundary="zero", filter_shape=None, layer_name="from_reg_vals"):
    """The regularizer of one layer from NDN-style keys, e.g. {"d2x": 0.1, "l1": 0.01}.

    Keys are NDN3_KEYS; None values are skipped (NDN3 reg_list entries for other layers). Returns
    None (no keys), the single penalty, or a `Combined` sum. `boundary` goes to the Laplacians.
    Keys NDN3 accepted but ignored on non-separable layers (norm2_filt, norm2_space), `dropout`
    and unknown keys raise a ValueError instead of contributing a silent 0.

    Example:
        >>> import ndnx
        >>> reg = ndnx.regularizers.from_reg_vals({"d2x": 0.1, "l2": None})
        >>> type(reg).__name__, reg.lam
        ('D2X', 0.1)
    """
    parts = []
    for key, value in dict(reg_vals).items():
        if value is None:
            continue
        if key in _NOT_PENALTIES:
            raise ValueError(f"{layer_name}: reg key {key!r} is not supported: {_NOT_PENALTIES[key]}")
        if key not in NDN3_KEYS:
            raise ValueError(f"{layer_name}: unknown reg key {key!r}; expected one of {sorted(NDN3_KEYS)}")
        cls = NDN3_KEYS[key]
        kwargs = {"convention": convention}
        if issubclass(cls, _Laplacian):
            kwargs["boundary"] = boundary
        reg = cls(value, **kwargs)
        if filter_shape is not None:
            reg = bind_regularizer(reg, filter_shape, layer_name)
        parts.append(reg)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Combined(parts)
