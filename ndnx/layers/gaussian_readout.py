"""The Gaussian readout (Lurz et al. 2021; neuralpredictors' FullGaussian2d semantics)."""

import numpy as np
import keras
from keras import ops

from ndnx.layers.dense import Dense
from ndnx.layers.readout import FeatureVectorReadout
from ndnx.regularizers import bind_regularizer
from ndnx.registry import register

__all__ = ["GaussianReadout", "bilinear_sample"]

GAUSS_TYPES = ("full", "uncorrelated", "isotropic")


def _pixel_coordinate(u, size, align_corners):
    """Grid coordinate u ∈ [-1, 1] → pixel coordinate (torch grid_sample conventions)."""
    if align_corners:  # -1, 1 are the centres of the corner pixels
        return (u + 1.0) * 0.5 * (size - 1)
    return ((u + 1.0) * size - 1.0) * 0.5  # -1, 1 are the outer edges of the corner pixels


def bilinear_sample(maps, positions, align_corners=True):
    """Bilinear interpolation of feature maps at grid positions, zero outside the map.

    Args:
        maps: (B, H, W, C).
        positions: (B, K, 2), (x, y) ∈ [-1, 1]², x along columns (W), y along rows (H).
        align_corners: as torch.nn.functional.grid_sample (padding_mode="zeros").

    Returns: (B, K, C).
    """
    height, width, channels = int(maps.shape[1]), int(maps.shape[2]), int(maps.shape[3])
    flat = ops.reshape(maps, (-1, channels))  # (B·H·W, C)
    batch = ops.shape(positions)[0]
    offset = ops.reshape(ops.arange(batch, dtype="int32") * (height * width), (-1, 1))
    px = _pixel_coordinate(positions[..., 0], width, align_corners)
    py = _pixel_coordinate(positions[..., 1], height, align_corners)
    x0, y0 = ops.floor(px), ops.floor(py)
    wx1, wy1 = px - x0, py - y0
    wx0, wy0 = 1.0 - wx1, 1.0 - wy1
    x0 = ops.cast(x0, "int32")
    y0 = ops.cast(y0, "int32")
    out = None
    for dy, wy in ((0, wy0), (1, wy1)):
        for dx, wx in ((0, wx0), (1, wx1)):
            xi, yi = x0 + dx, y0 + dy
            inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
            index = ops.clip(yi, 0, height - 1) * width + ops.clip(xi, 0, width - 1) + offset
            weight = wx * wy * ops.cast(inside, wx.dtype)
            term = ops.take(flat, index, axis=0) * weight[..., None]  # (B, K, C)
            out = term if out is None else out + term
    return out


@register("layer")
class GaussianReadout(FeatureVectorReadout):
    """Gaussian readout: each neuron reads the feature vector at a learned (sampled) position.

    Per neuron n a position μ_n ∈ [-1, 1]² (first coordinate x = column, second y = row, clamped
    to [-1, 1]) and a spread σ_n. In training the read position is sampled per image,
    p_n = clip(μ_n + σ_n ε, -1, 1), ε ~ N(0, I) drawn fresh on every call (σ_n a 2×2 matrix for
    gauss_type="full", a diagonal (2 values) for "uncorrelated", a scalar for "isotropic");
    at evaluation (training=False) p_n = μ_n. The feature vector f_n = F(p_n) ∈ R^C is read
    by bilinear interpolation of the feature map (zero outside, as torch's grid_sample with
    padding_mode="zeros"; align_corners=True puts ±1 on the centres of the corner pixels,
    x_pix = (x + 1)/2·(W − 1); False on their outer edges, x_pix = ((x + 1)·W − 1)/2), and
    y_n = act(Σ_c f_n[c] w[c, n] + b_n).

    Shift: `layer(feature_map, shift=s)` moves every neuron's read position by s (batch, 2), or
    by s (batch, R, 2) per replica, after the clamp: p_n = clip(μ_n + σ_n ε, -1, 1) + s, the
    eye-movement correction of neuralpredictors (a shifter network such as `MLPShifter` maps
    the pupil position to s) and of NDNT's readout with a shift input.

    Grid-mean predictor: with `source_grid` (units, d) — each neuron's position on the cortex
    (d = 2, or 3 with depth) — and `grid_mean_predictor={"hidden_layers": L, "hidden_features":
    H, "final_tanh": True}`, the positions are not free weights but a function of the cortical
    positions, μ_n = tanh(MLP(g_n)) (L hidden ELU layers of H units, then a linear map to 2),
    so neighbouring neurons get neighbouring receptive fields and a few MLP weights replace
    2·units free positions. Without `final_tanh` the output is clamped to [-1, 1].

    Lurz et al. 2021 (ICLR), "Generalization in data-driven models of primary visual cortex";
    neuralpredictors' FullGaussian2d (per-image sampling, shift, grid-mean predictor).

    Init (as neuralpredictors): μ ~ U(-init_mu_range, init_mu_range); σ: full ~ U(-init_sigma,
    init_sigma) per matrix entry, otherwise = init_sigma; features N(0, 0.1²); bias 0.
    `positive=True` clips the features at 0 in the forward pass (NonNeg constraint, |init|).
    `regularizer()` is feature_regularizer(features) (bound to filter shape (C,)), added to the
    losses by `call`.

    Args:
        units: number of neurons.
        init_mu_range, init_sigma: initial spreads of μ and σ.
        align_corners: grid convention (see above).
        learn_sigma: σ trainable (otherwise fixed at its initial value).
        gauss_type: "full", "uncorrelated" or "isotropic".
        activation, use_bias, bias_initializer: as Dense.
        positive: non-negative features.
        feature_regularizer: ndnx/Keras regularizer of the features (C, units).
        feature_initializer: initializer of the features (default N(0, 0.1²)).
        replicas: None or the number of independent replicas.
        seed: int, or one int per replica (weights and the training-time samples).
        grid_mean_predictor: None (free positions), or a dict with "hidden_layers" (default 1),
            "hidden_features" (default 30) and "final_tanh" (default True).
        source_grid: (units, d) cortical positions of the neurons; required with, and only with,
            `grid_mean_predictor`.

    Example:
        >>> import numpy as np, ndnx
        >>> layer = ndnx.layers.GaussianReadout(4, seed=0)
        >>> tuple(layer(np.ones((2, 6, 6, 3), "float32")).shape)
        (2, 4)
        >>> tuple(layer.positions().shape)
        (4, 2)
    """

    def __init__(self, units, init_mu_range=0.1, init_sigma=1.0, align_corners=True, learn_sigma=True,
                 gauss_type="full", activation=None, use_bias=True, positive=False,
                 feature_regularizer=None, feature_initializer=None, bias_initializer="zeros",
                 replicas=None, seed=None, grid_mean_predictor=None, source_grid=None, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, replicas=replicas, seed=seed, **kwargs)
        self.grid_mean_predictor, self.source_grid = _check_grid_predictor(
            self.name, self.units, grid_mean_predictor, source_grid)
        if gauss_type not in GAUSS_TYPES:
            raise ValueError(f"{self.name}: gauss_type must be one of {GAUSS_TYPES}, got {gauss_type!r}")
        init_mu_range, init_sigma = float(init_mu_range), float(init_sigma)
        if not 0.0 <= init_mu_range <= 1.0:
            raise ValueError(f"{self.name}: init_mu_range must be in [0, 1], got {init_mu_range}")
        if not init_sigma >= 0.0 or init_sigma == float("inf"):
            raise ValueError(f"{self.name}: init_sigma must be finite and ≥ 0, got {init_sigma}")
        self.init_mu_range = init_mu_range
        self.init_sigma = init_sigma
        self.align_corners = bool(align_corners)
        self.learn_sigma = bool(learn_sigma)
        self.gauss_type = gauss_type
        self.positive = bool(positive)
        self.feature_regularizer = keras.regularizers.get(feature_regularizer)
        self.feature_initializer = keras.initializers.get(
            feature_initializer or keras.initializers.RandomNormal(stddev=0.1))

    def build_readout(self, height, width, channels):
        self._feature_penalty = bind_regularizer(
            self.feature_regularizer, (channels,), f"{self.name} (feature_regularizer)")
        if self.grid_mean_predictor is None:
            self.mu = self.add_replica_weight(
                "mu", (self.units, 2), keras.initializers.RandomUniform(-self.init_mu_range, self.init_mu_range),
                constraint=_Clip())
        else:
            # The MLP is a stack of ndnx Dense layers over the units (as the batch axis), with
            # torch.nn.Linear's default initialisation U(±1/√fan_in), as neuralpredictors has it.
            self.grid_mlp = []
            shape = (self.units, len(self.source_grid[0]))
            sizes = [self.grid_mean_predictor["hidden_features"]] * self.grid_mean_predictor["hidden_layers"] + [2]
            for i, size in enumerate(sizes):
                init = keras.initializers.RandomUniform(-shape[-1] ** -0.5, shape[-1] ** -0.5)
                layer = Dense(size, activation="elu" if i < len(sizes) - 1 else None, kernel_initializer=init,
                              bias_initializer=init, replicas=self.replicas, seed=self.sublayer_seed(f"grid{i}"),
                              name=f"{self.name}_grid{i}")
                layer.build(shape)
                self.grid_mlp.append(layer)
                shape = layer.compute_output_shape(shape)
        if self.gauss_type == "full":
            sigma_shape = (self.units, 2, 2)
            sigma_init = keras.initializers.RandomUniform(-self.init_sigma, self.init_sigma)
        else:
            sigma_shape = (self.units, 2 if self.gauss_type == "uncorrelated" else 1)
            sigma_init = keras.initializers.Constant(self.init_sigma)
        self.sigma = self.add_replica_weight("sigma", sigma_shape, sigma_init, trainable=self.learn_sigma)
        constraint = keras.constraints.NonNeg() if self.positive else None
        self.features = self.add_replica_weight("features", (channels, self.units), self.feature_initializer,
                                                constraint=constraint)
        if self.positive:
            self.features.assign(ops.abs(self.features))
        self._samplers = self.add_replica_generators("sample")

    @property
    def grid_layers(self):
        """(kernel, bias) of each layer of the grid-mean predictor's MLP."""
        return [(layer.kernel, layer.bias) for layer in self.grid_mlp]

    def positions(self):
        """μ clamped to [-1, 1]: (units, 2) or (R, units, 2), columns (x, y)."""
        if self.grid_mean_predictor is None:
            return ops.clip(self.mu, -1.0, 1.0)
        h = ops.convert_to_tensor(self.source_grid, dtype=self.variable_dtype)  # (units, d)
        for layer in self.grid_mlp:
            h = layer(h)  # (units, 2), or (units, R, 2) with replicas
        if self.replicas is not None:
            h = ops.transpose(h, (1, 0, 2))
        if self.grid_mean_predictor["final_tanh"]:
            return ops.tanh(h)
        return ops.clip(h, -1.0, 1.0)

    def _sample(self, mu, sigma, batch, sampler):
        """μ + σ ε for one replica: mu (units, 2), sigma per gauss_type → (batch, units, 2)."""
        eps = keras.random.normal((batch, self.units, 2), dtype=mu.dtype, seed=sampler)
        if self.gauss_type == "full":
            noise = ops.einsum("nij,bnj->bni", sigma, eps)
        else:
            noise = sigma * eps
        return ops.clip(mu + noise, -1.0, 1.0)

    def _shift(self, shift, pos):
        """pos (b, units, 2) or (b, R, units, 2) moved by shift (b, 2) or (b, R, 2)."""
        shift = ops.cast(ops.convert_to_tensor(shift), pos.dtype)
        shape = tuple(shift.shape)
        per_replica = self.replicas is not None and len(shape) == 3
        if not (len(shape) == 2 or per_replica) or shape[-1] != 2 or (per_replica and shape[1] != self.replicas):
            expected = "(batch, 2)" + ("" if self.replicas is None else f" or (batch, {self.replicas}, 2)")
            raise ValueError(f"{self.name}: shift must have shape {expected}, got {shape}")
        if self.replicas is None:
            return pos + shift[:, None, :]
        if per_replica:
            return pos + shift[:, :, None, :]
        return pos + shift[:, None, None, :]

    def call(self, inputs, shift=None, training=False):
        self._shift_input = shift
        try:
            return super().call(inputs, training=training)
        finally:
            self._shift_input = None

    def compute_output_shape(self, inputs_shape, shift_shape=None):
        # Keras matches these names to call()'s arguments when a shift tensor is passed.
        return super().compute_output_shape(inputs_shape)

    def readout(self, inputs, training):
        dtype = self.compute_dtype
        batch = ops.shape(inputs)[0]
        r = self.replicas
        mu = ops.cast(self.positions(), dtype)
        sigma = ops.cast(self.sigma, dtype)
        if training:
            # replica k draws from its own generator, seeded as the lone layer with seed k: (b, [R,] units, 2)
            pos = self.replica_map(lambda k: self._sample(self.replica_part(mu, k), self.replica_part(sigma, k),
                                                          batch, self._samplers[k]))
        else:
            pos = ops.broadcast_to(mu[None], (batch,) + tuple(mu.shape))
        if getattr(self, "_shift_input", None) is not None:
            pos = self._shift(self._shift_input, pos)
        f = ops.cast(self.effective_features(), dtype)
        maps_shape = (-1, self.height, self.width, self.channels)
        if r is None:
            vals = bilinear_sample(inputs, pos, self.align_corners)  # (b, U, C)
            return ops.einsum("buc,cu->bu", vals, f)
        if self._shared_input:
            vals = bilinear_sample(inputs, ops.reshape(pos, (-1, r * self.units, 2)), self.align_corners)
        else:
            vals = bilinear_sample(ops.reshape(inputs, maps_shape), ops.reshape(pos, (-1, self.units, 2)),
                                   self.align_corners)
        vals = ops.reshape(vals, (-1, r, self.units, self.channels))
        return ops.einsum("bruc,rcu->bru", vals, f)

    def get_config(self):
        config = super().get_config()
        config.update({
            "init_mu_range": self.init_mu_range,
            "init_sigma": self.init_sigma,
            "align_corners": self.align_corners,
            "learn_sigma": self.learn_sigma,
            "gauss_type": self.gauss_type,
            "positive": self.positive,
            "feature_regularizer": keras.regularizers.serialize(self.feature_regularizer),
            "feature_initializer": keras.initializers.serialize(self.feature_initializer),
            "grid_mean_predictor": self.grid_mean_predictor,
            "source_grid": self.source_grid,
        })
        return config


def _check_grid_predictor(name, units, predictor, grid):
    """(predictor options with defaults, grid as nested lists), or (None, None)."""
    if predictor is None and grid is None:
        return None, None
    if predictor is None or grid is None:
        raise ValueError(f"{name}: grid_mean_predictor and source_grid go together; got only "
                         f"{'grid_mean_predictor' if grid is None else 'source_grid'}")
    unknown = set(predictor) - {"hidden_layers", "hidden_features", "final_tanh"}
    if unknown:
        raise ValueError(f"{name}: unknown grid_mean_predictor keys {sorted(unknown)}; expected hidden_layers, "
                         "hidden_features, final_tanh")
    options = {"hidden_layers": int(predictor.get("hidden_layers", 1)),
               "hidden_features": int(predictor.get("hidden_features", 30)),
               "final_tanh": bool(predictor.get("final_tanh", True))}
    if options["hidden_layers"] < 0 or options["hidden_features"] < 1:
        raise ValueError(f"{name}: grid_mean_predictor needs hidden_layers ≥ 0 and hidden_features ≥ 1, got {predictor}")
    arr = np.asarray(grid, dtype="float64")
    if arr.ndim != 2 or arr.shape[0] != units or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: source_grid must be finite cortical positions of shape ({units}, d), "
                         f"got shape {arr.shape}")
    return options, arr.tolist()


class _Clip(keras.constraints.Constraint):
    """Keeps μ in [-1, 1] after each update (neuralpredictors clamps μ in place)."""

    def __call__(self, w):
        return ops.clip(w, -1.0, 1.0)
