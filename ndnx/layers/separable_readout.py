"""NDN3's 'sep' layer / neuralpredictors' factorised readout: a "what × where" rank-1 readout."""

import keras
from keras import ops

from ndnx.layers.readout import Readout, _replica
from ndnx.regularizers import bind_regularizer
from ndnx.registry import register

__all__ = ["SeparableReadout"]

NORM_EPS = 1e-12  # tf.nn.l2_normalize's epsilon on Σw² (NDN3 'normalization' of kt, and of ks in "ndn3")
MASK_EPS = 1e-6   # neuralpredictors' mask normalisation: S / (‖S‖ + 1e-6)
MASK_NORMALIZATIONS = (False, True, "neuralpredictors", "ndn3")


def _mask_normalization(name, value):
    """normalize_mask as stored: False, True (neuralpredictors' form) or "ndn3"."""
    if isinstance(value, str):
        if value not in ("neuralpredictors", "ndn3"):
            raise ValueError(f"{name}: normalize_mask must be one of {MASK_NORMALIZATIONS}, got {value!r}")
        return True if value == "neuralpredictors" else value
    if value is None or isinstance(value, (bool, int)) and value in (0, 1):
        return bool(value)
    raise ValueError(f"{name}: normalize_mask must be one of {MASK_NORMALIZATIONS}, got {value!r}")


@register("layer")
class SeparableReadout(Readout):
    """Separable readout y_n = act(Σ_{s,c} x[s, c] · kt[c, n] · ks[s, n] + b_n).

    The implied dense weight is rank one per neuron, W[c, s, n] = kt[c, n] · ks[s, n]: a feature
    vector kt (what, "features", shape (C, units)) times a spatial mask ks (where, "mask", shape
    (H·W, units)), s = y·W + x the NHWC flat pixel index. Flattened as NDN3 flattens, the row of
    input entry (y, x, c) is s·C + c (channel fastest), so the layer equals
    `ndnx.layers.Dense(units)` with kernel `kernel()`. NDN3 layer 'sep' (SepLayer); the
    factorised readout of Klindt et al. 2017 (NeurIPS, "Neural system identification for large
    populations separating what and where"), neuralpredictors' FullFactorized2d /
    SpatialXFeatureLinear.

    The forward pass never builds W: it contracts space first (one GEMM (batch·C, H·W) × (H·W, units),
    leaving a small (batch, C, units) tensor), then channels.

    Weights as used (in this order):
      - `positive=True`: features and mask clipped at 0 (max(w, 0) in the forward pass) and kept
        non-negative by a NonNeg constraint after each update; initialised as |init|.
      - `normalize_features=True`: kt columns L2-normalised, kt_n / max(‖kt_n‖₂, 1e-6) (NDN3's
        'sep' normalization; tf.nn.l2_normalize with ε = 1e-12 on ‖·‖²).
      - `normalize_mask`: each mask column ks_n L2-normalised, in one of two forms that differ for
        small masks: True (or "neuralpredictors") Ŝ_n = S_n / (‖S_n‖₂ + 1e-6), as neuralpredictors'
        factorised readout; "ndn3" Ŝ_n = S_n / sqrt(max(‖S_n‖₂², 1e-12)), NDN3's tf.nn.l2_normalize
        (SepLayer normalization 1 and 2; what `ndnx.models.ffnetwork` builds). A config saved with
        True keeps the neuralpredictors form.

    Penalty (`regularizer()`, added to the losses by `call`, acting on the weights as used):
    λ Σ_n ‖Ŝ_n‖₁ · ‖F_n‖₁ (`mask_feature_l1 = λ`, neuralpredictors' L1 with reduction "sum"),
    plus `feature_regularizer(F)` with F bound to filter shape (C,), `mask_regularizer(Ŝ)`
    bound to filter shape (H, W, 1) (so ndnx.regularizers.D2X smooths the mask), and
    `stacked_regularizer([F; Ŝ])` on the two factors stacked as NDN3's SepLayer stores them, one
    (C + H·W, units) weight with kt in the first C rows (NDN3's SepRegularization: there
    `Norm2(λ)` is λ(Σ kt² + Σ ks² − units)²; a flat weight, so spatial penalties raise).

    Args:
        units: number of neurons.
        activation: Keras activation (None = linear).
        use_bias: add b_n.
        positive: non-negative features and mask.
        normalize_features: L2-normalise each feature column kt_n.
        normalize_mask: False, True / "neuralpredictors", or "ndn3": L2-normalise each spatial
            mask ks_n (see above).
        mask_feature_l1: λ of the product penalty.
        feature_regularizer, mask_regularizer: ndnx/Keras regularizers of F (C, units) and the
            mask (H·W, units).
        stacked_regularizer: ndnx/Keras regularizer of the stacked factors (C + H·W, units).
        kernel_initializer: initializer of both factors (default N(0, 0.1²), NDN3 'normal').
        bias_initializer: initializer of b.
        replicas: None or the number of independent replicas.
        seed: int, or one int per replica.

    Input (batch, H, W, C) (replicated: also (batch, R, H, W, C)); output (batch, units) or
    (batch, R, units).

    Example:
        >>> import numpy as np, ndnx
        >>> layer = ndnx.layers.SeparableReadout(5, normalize_features=True, seed=0)
        >>> tuple(layer(np.ones((2, 6, 6, 3), "float32")).shape)
        (2, 5)
    """

    def __init__(self, units, activation=None, use_bias=True, positive=False, normalize_features=False,
                 normalize_mask=False, mask_feature_l1=0.0, feature_regularizer=None,
                 mask_regularizer=None, stacked_regularizer=None, kernel_initializer=None,
                 bias_initializer="zeros", replicas=None, seed=None, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, replicas=replicas, seed=seed, **kwargs)
        self.positive = bool(positive)
        self.normalize_features = bool(normalize_features)
        self.normalize_mask = _mask_normalization(self.name, normalize_mask)
        lam = float(mask_feature_l1)
        if not lam >= 0.0 or lam == float("inf"):
            raise ValueError(f"{self.name}: mask_feature_l1 must be finite and ≥ 0, got {mask_feature_l1!r}")
        self.mask_feature_l1 = lam
        self.feature_regularizer = keras.regularizers.get(feature_regularizer)
        self.mask_regularizer = keras.regularizers.get(mask_regularizer)
        self.stacked_regularizer = keras.regularizers.get(stacked_regularizer)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(stddev=0.1))

    def build_readout(self, height, width, channels):
        self._feature_penalty = bind_regularizer(
            self.feature_regularizer, (channels,), f"{self.name} (feature_regularizer)")
        self._mask_penalty = bind_regularizer(
            self.mask_regularizer, (height, width, 1), f"{self.name} (mask_regularizer)")
        self._stacked_penalty = bind_regularizer(
            self.stacked_regularizer, (channels + height * width,), f"{self.name} (stacked_regularizer)")
        constraint = keras.constraints.NonNeg() if self.positive else None
        self.features = self.add_replica_weight("features", (channels, self.units), self.kernel_initializer,
                                                constraint=constraint)
        self.mask = self.add_replica_weight("mask", (height * width, self.units), self.kernel_initializer,
                                            constraint=constraint)
        if self.positive:
            self.features.assign(ops.abs(self.features))
            self.mask.assign(ops.abs(self.mask))

    # --- weights as used -------------------------------------------------------------------------
    def effective_features(self):
        """kt as the forward pass uses it: (C, units) or (R, C, units)."""
        f = self.features
        if self.positive:
            f = ops.maximum(f, 0.0)
        if self.normalize_features:
            f = f * ops.rsqrt(ops.maximum(ops.sum(ops.square(f), axis=-2, keepdims=True), NORM_EPS))
        return f

    def effective_mask(self):
        """ks as the forward pass uses it: (H·W, units) or (R, H·W, units)."""
        m = self.mask
        if self.positive:
            m = ops.maximum(m, 0.0)
        if self.normalize_mask == "ndn3":
            m = m * ops.rsqrt(ops.maximum(ops.sum(ops.square(m), axis=-2, keepdims=True), NORM_EPS))
        elif self.normalize_mask:
            m = m / (ops.sqrt(ops.sum(ops.square(m), axis=-2, keepdims=True)) + MASK_EPS)
        return m

    def kernel(self):
        """The implied dense kernel W, row s·C + c: (H·W·C, units) or (R, H·W·C, units)."""
        f, m = self.effective_features(), self.effective_mask()
        w = m[..., :, None, :] * f[..., None, :, :]  # (…, S, C, units)
        return ops.reshape(w, tuple(w.shape[:-3]) + (self.height * self.width * self.channels, self.units))

    # --- penalties -------------------------------------------------------------------------------
    def has_penalty(self):
        return (self.mask_feature_l1 > 0 or self.feature_regularizer is not None
                or self.mask_regularizer is not None or self.stacked_regularizer is not None)

    def penalty_terms(self, r):
        f = _replica(self.effective_features(), r)
        m = _replica(self.effective_mask(), r)
        total = ops.convert_to_tensor(0.0, dtype=f.dtype)
        if self.mask_feature_l1 > 0:
            total = total + self.mask_feature_l1 * ops.sum(
                ops.sum(ops.abs(m), axis=0) * ops.sum(ops.abs(f), axis=0))
        if self._feature_penalty is not None:
            total = total + self._feature_penalty(f)
        if self._mask_penalty is not None:
            total = total + self._mask_penalty(m)
        if self._stacked_penalty is not None:
            total = total + self._stacked_penalty(ops.concatenate([f, m], axis=0))
        return total

    # --- forward ---------------------------------------------------------------------------------
    def readout(self, inputs, training):
        s, c, n = self.height * self.width, self.channels, self.units
        f = ops.cast(self.effective_features(), self.compute_dtype)
        m = ops.cast(self.effective_mask(), self.compute_dtype)
        if self.replicas is None:
            x = ops.transpose(ops.reshape(inputs, (-1, s, c)), (0, 2, 1))  # (b, C, S)
            z = ops.reshape(ops.matmul(ops.reshape(x, (-1, s)), m), (-1, c, n))  # (b, C, N)
            return ops.sum(z * f, axis=1)
        r = self.replicas
        if self._shared_input:
            x = ops.transpose(ops.reshape(inputs, (-1, s, c)), (0, 2, 1))  # (b, C, S)
            mr = ops.reshape(ops.transpose(m, (1, 0, 2)), (s, r * n))  # (S, R·N)
            z = ops.reshape(ops.matmul(ops.reshape(x, (-1, s)), mr), (-1, c, r, n))
            return ops.sum(z * ops.transpose(f, (1, 0, 2)), axis=1)  # (b, R, N)
        x = ops.reshape(inputs, (-1, r, s, c))
        z = ops.einsum("brsc,rsn->brcn", x, m)
        return ops.sum(z * f, axis=2)

    def get_config(self):
        config = super().get_config()
        config.update({
            "positive": self.positive,
            "normalize_features": self.normalize_features,
            "normalize_mask": self.normalize_mask,
            "mask_feature_l1": self.mask_feature_l1,
            "feature_regularizer": keras.regularizers.serialize(self.feature_regularizer),
            "mask_regularizer": keras.regularizers.serialize(self.mask_regularizer),
            "stacked_regularizer": keras.regularizers.serialize(self.stacked_regularizer),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })
        return config
