"""Fixed-position readout (NDN3 'conv_readout' / 'conv_xy'): each neuron reads one given pixel."""

import numpy as np
import keras
from keras import ops

from ndnx.layers.readout import FeatureVectorReadout
from ndnx.regularizers import bind_regularizer
from ndnx.registry import register

__all__ = ["PointReadout"]


@register("layer")
class PointReadout(FeatureVectorReadout):
    """y_n = act(Σ_c F[row_n, col_n, c] · w[c, n] + b_n) at fixed integer positions (row_n, col_n).

    The positions are data, not weights: an array (units, 2) of (row, col) pixel indices, shared
    by all replicas, checked against the feature map's size in `build`. Only the channel weights w
    (C, units) and the bias are trained. NDN3's 'conv_readout' / 'conv_xy' layers (a conv core read
    out at each neuron's receptive-field centre, xy_out).

    Args:
        units: number of neurons.
        positions: (units, 2) integer (row, col) per neuron.
        activation, use_bias, bias_initializer: as Dense.
        positive: non-negative channel weights (clipped at 0 in the forward pass, NonNeg
            constraint, |init|).
        feature_regularizer: ndnx/Keras regularizer of w (C, units), bound to filter shape (C,);
            `regularizer()` returns it and `call` adds it to the losses.
        feature_initializer: initializer of w (default N(0, 0.1²)).
        replicas: None or the number of independent replicas.
        seed: int, or one int per replica.

    Example:
        >>> import numpy as np, ndnx
        >>> layer = ndnx.layers.PointReadout(2, positions=[[0, 1], [3, 2]], seed=0)
        >>> tuple(layer(np.ones((2, 6, 6, 3), "float32")).shape)
        (2, 2)
    """

    def __init__(self, units, positions, activation=None, use_bias=True, positive=False,
                 feature_regularizer=None, feature_initializer=None, bias_initializer="zeros",
                 replicas=None, seed=None, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, replicas=replicas, seed=seed, **kwargs)
        arr = np.asarray(positions)
        if arr.shape != (self.units, 2) or not np.issubdtype(arr.dtype, np.number) \
                or not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{self.name}: positions must be integer (row, col) pairs of shape "
                             f"({self.units}, 2), got shape {arr.shape}")
        self.positions = [[int(r), int(c)] for r, c in arr]
        self.positive = bool(positive)
        self.feature_regularizer = keras.regularizers.get(feature_regularizer)
        self.feature_initializer = keras.initializers.get(
            feature_initializer or keras.initializers.RandomNormal(stddev=0.1))

    def build_readout(self, height, width, channels):
        rows = np.array([p[0] for p in self.positions])
        cols = np.array([p[1] for p in self.positions])
        bad = np.flatnonzero((rows < 0) | (rows >= height) | (cols < 0) | (cols >= width))
        if bad.size:
            n = int(bad[0])
            raise ValueError(f"{self.name}: position of neuron {n} (row {rows[n]}, col {cols[n]}) is outside "
                             f"the {height}×{width} feature map")
        self._flat_index = (rows * width + cols).astype("int32")
        self._feature_penalty = bind_regularizer(
            self.feature_regularizer, (channels,), f"{self.name} (feature_regularizer)")
        constraint = keras.constraints.NonNeg() if self.positive else None
        self.features = self.add_replica_weight("features", (channels, self.units), self.feature_initializer,
                                                constraint=constraint)
        if self.positive:
            self.features.assign(ops.abs(self.features))

    def readout(self, inputs, training):
        s, c = self.height * self.width, self.channels
        f = ops.cast(self.effective_features(), self.compute_dtype)
        index = ops.convert_to_tensor(self._flat_index)
        if self.replicas is None or self._shared_input:
            vals = ops.take(ops.reshape(inputs, (-1, s, c)), index, axis=1)  # (b, U, C)
            if self.replicas is None:
                return ops.einsum("buc,cu->bu", vals, f)
            return ops.einsum("buc,rcu->bru", vals, f)
        vals = ops.take(ops.reshape(inputs, (-1, self.replicas, s, c)), index, axis=2)  # (b, R, U, C)
        return ops.einsum("bruc,rcu->bru", vals, f)

    def get_config(self):
        config = super().get_config()
        config.update({
            "positions": [list(p) for p in self.positions],
            "positive": self.positive,
            "feature_regularizer": keras.regularizers.serialize(self.feature_regularizer),
            "feature_initializer": keras.initializers.serialize(self.feature_initializer),
        })
        return config
