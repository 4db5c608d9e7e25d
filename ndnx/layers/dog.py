"""Parametric difference-of-Gaussians filters (NDN3 'diff_of_gaussians', Antolík et al. 2016)."""

import numpy as np
import keras
from keras import ops

from ndnx.constraints import Box
from ndnx.layers.replicas import ReplicatedLayer
from ndnx.registry import register

__all__ = ["DifferenceOfGaussians", "DoGInitializer", "dog_sigma_upper_bound", "check_sigma_bounds",
           "clip_dog_parameters", "dog_kernel_grid"]

EPS = float(np.finfo(np.float32).eps)
PARAM_ROWS = ("alpha_center", "sigma_center", "mu_x", "mu_y", "alpha_surround", "sigma_surround")


def dog_sigma_upper_bound(height, width):
    """Default upper bound of a DoG variance: int(0.82·max(H, W)) (25 on 31×31 images)."""
    return float(int(0.82 * max(int(height), int(width))))


def check_sigma_bounds(layer_name, sigma_bounds):
    """`sigma_bounds` as a (lo, hi) float pair with 0 < lo ≤ hi, or None; a ValueError otherwise."""
    if sigma_bounds is None:
        return None
    bounds = tuple(float(s) for s in sigma_bounds)
    if len(bounds) != 2 or not 0 < bounds[0] <= bounds[1]:
        raise ValueError(f"{layer_name}: sigma_bounds must be (lo, hi) with 0 < lo <= hi, got {bounds}")
    return bounds


def clip_dog_parameters(params, sigma_bounds, mu_x_bounds, mu_y_bounds):
    """The six DoG parameter rows of `params` (…, 6, F) as the forward pass uses them.

    α ≥ ε (no upper clip), σ ∈ [σ_lo, σ_hi], μx ∈ [x_lo, x_hi], μy ∈ [y_lo, y_hi]; a dict of (…, F)
    tensors keyed by PARAM_ROWS. Clipping is `ops.clip` (tf.clip_by_value: minimum, then maximum),
    so a parameter outside its box acts as the bound with zero gradient, and a degenerate box
    (lo > hi) pins it at lo.
    """
    lo, hi = sigma_bounds
    return {
        "alpha_center": ops.maximum(params[..., 0, :], EPS),
        "sigma_center": ops.clip(params[..., 1, :], lo, hi),
        "mu_x": ops.clip(params[..., 2, :], mu_x_bounds[0], mu_x_bounds[1]),
        "mu_y": ops.clip(params[..., 3, :], mu_y_bounds[0], mu_y_bounds[1]),
        "alpha_surround": ops.maximum(params[..., 4, :], EPS),
        "sigma_surround": ops.clip(params[..., 5, :], lo, hi),
    }


def dog_kernel_grid(clipped, height, width, dtype):
    """DoG kernels on the grid rows 0..H−1 (y), columns 0..W−1 (x): shape (H, W, …, F).

    `clipped` is the dict of `clip_dog_parameters`; K = G(α1, σ1) − G(α2, σ1 + σ2) with
    G(x, y; a, s) = a · exp(−((x − μx)² + (y − μy)²) / (2s)) / (2π s).
    """
    c = clipped
    # A Gaussian is separable: exp(−(dx² + dy²)/2s) = exp(−dx²/2s) · exp(−dy²/2s). Computing
    # the two 1-D profiles and their outer product needs (H + W)·F exponentials instead of
    # H·W·F; on the HSM this halves the training step.
    cols = ops.cast(ops.arange(width), dtype)
    rows = ops.cast(ops.arange(height), dtype)
    expand = (slice(None),) + (None,) * len(c["mu_x"].shape)
    cols, rows = cols[expand], rows[expand]

    def gaussian(alpha, variance):
        gx = ops.exp(-ops.square(cols - c["mu_x"]) / (2.0 * variance))  # (W, …, F)
        gy = ops.exp(-ops.square(rows - c["mu_y"]) / (2.0 * variance))  # (H, …, F)
        scale = alpha / (2.0 * np.pi * variance)
        return scale * gy[:, None] * gx[None, :]  # (H, W, …, F)

    s1 = c["sigma_center"]
    return gaussian(c["alpha_center"], s1) - gaussian(c["alpha_surround"], s1 + c["sigma_surround"])


def dog_box(sigma_bounds, mu_x_bounds, mu_y_bounds, alpha_max=None):
    """The box of `clip_dog_parameters` as a `Box` constraint on the (…, 6, F) parameter rows.

    α ∈ [ε, alpha_max] (no upper bound when alpha_max is None), σ and μ as the forward clip.
    With it (the layers' `constrained=True`) the parameters are projected into the box after
    every optimizer step and become L-BFGS-B bounds, instead of being clipped only in the forward
    pass (where a parameter outside the box gets no gradient and may stay there).
    """
    lo, hi = sigma_bounds
    lower = [[EPS], [lo], [mu_x_bounds[0]], [mu_y_bounds[0]], [EPS], [lo]]
    upper = [[alpha_max], [hi], [mu_x_bounds[1]], [mu_y_bounds[1]], [alpha_max], [hi]]
    return Box(lower, upper)


@register("initializer")
class DoGInitializer(keras.initializers.Initializer):
    """NDN3's 'random' DoG initialisation over the whole parameter box.

    Rows of the (6, F) parameter matrix: α ~ U(ε, α_max), σ ~ U(σ_lo, σ_hi), μx ~ U(m, W − m),
    μy ~ U(m, H − m), for the centre and the surround alike. `faithful_mu_y_offset=True` adds the
    original's +2 to μy (drawn from U(m + 2, H)), which leaves about 7 % of the centres of a 31×31
    layer beyond the clip, where they never move. `middle_half=True` draws every parameter from
    the middle half of its range instead, lo + (hi − lo)/4 + U·(hi − lo)/2 (the original HSM's
    initialisation, Antolík et al. 2016).
    """

    def __init__(self, height, width, sigma_bounds, alpha_max=10.0, mu_margin=2.0,
                 faithful_mu_y_offset=False, seed=None, middle_half=False):
        self.middle_half = bool(middle_half)
        self.height = int(height)
        self.width = int(width)
        self.sigma_bounds = tuple(float(s) for s in sigma_bounds)
        self.alpha_max = float(alpha_max)
        self.mu_margin = float(mu_margin)
        self.faithful_mu_y_offset = bool(faithful_mu_y_offset)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        if len(shape) != 2 or shape[0] != len(PARAM_ROWS):
            raise ValueError(f"DoGInitializer: expected shape (6, filters), got {tuple(shape)}")
        filters = shape[1]
        rng = np.random.default_rng(self.seed)
        lo_s, hi_s = self.sigma_bounds
        m = self.mu_margin
        y_shift = 2.0 if self.faithful_mu_y_offset else 0.0

        def uniform(lo, hi):
            if self.middle_half:
                lo, hi = lo + (hi - lo) / 4, hi - (hi - lo) / 4
            return rng.uniform(lo, hi, filters)

        rows = [
            uniform(EPS, self.alpha_max),
            uniform(lo_s, hi_s),
            uniform(m, self.width - m),
            uniform(m, self.height - m) + y_shift,
            uniform(EPS, self.alpha_max),
            uniform(lo_s, hi_s),
        ]
        return ops.convert_to_tensor(np.stack(rows).astype(dtype or "float32"))

    def get_config(self):
        return {
            "height": self.height, "width": self.width, "sigma_bounds": list(self.sigma_bounds),
            "alpha_max": self.alpha_max, "mu_margin": self.mu_margin,
            "faithful_mu_y_offset": self.faithful_mu_y_offset, "seed": self.seed,
            "middle_half": self.middle_half,
        }


@register("layer")
class DifferenceOfGaussians(ReplicatedLayer):
    """Concentric difference-of-Gaussians filters applied to whole images.

    For filter k with parameters (α1, σ1, μx, μy, α2, σ2), clipped to their box,

        G(x, y; a, s) = a · exp(−((x − μx)² + (y − μy)²) / (2s)) / (2π s)
        K_k = G(·; α1, σ1) − G(·; α2, σ1 + σ2)
        z_k = Σ_{y, x, c} S[y, x, c] · K_k(x, y) + b_k

    σ is a variance (no square), the surround variance is σ1 + σ2, x is the column and y the row
    index, and one kernel is shared by (summed over) the input channels. Clipping happens in the
    forward pass: α ≥ ε (no upper clip), σ ∈ [σ_lo, σ_hi], μx ∈ [m, W − m], μy ∈ [m, H − m],
    so a parameter outside its box acts as if at the bound and gets zero gradient (NDN3 semantics).

    Differences from NDN3 by default, each with the original behaviour behind an argument:
    σ_hi is computed from the input size (int(0.82·max(H, W))), not from the fork's [8, 1, 1]
    filter dims that pinned every σ to 1 (`sigma_bounds=(1, 1)` reproduces that); the μy
    initialisation has no +2 offset (`faithful_mu_y_offset=True`); only the six used parameter
    rows are stored.

    Reference: Antolík J., Hofer S. B., Bednar J. A., Mrsic-Flogel T. D. (2016). Model
    constrained by visual hierarchy improves prediction of neural responses to natural scenes.
    PLoS Comput Biol 12(6): e1004927.

    Args:
        filters: number of DoG units F.
        activation: applied to z (the HSM uses a linear DoG stage).
        use_bias: add b_k.
        sigma_bounds: (σ_lo, σ_hi); default (1, int(0.82·max(H, W))).
        alpha_max: upper end of the α initialisation range (not a clip).
        mu_margin: m, the distance of the centre box from the image border.
        faithful_mu_y_offset: draw μy with the original's +2 offset.
        constrained: also keep the stored parameters inside the box (a projection after each
            step, `dog_box`), so none is stranded outside with zero gradient and L-BFGS sees
            bounds; α is then also bounded above by alpha_max (the original HSM's gain bound).
        middle_half_init: draw the parameters from the middle half of their box (the original
            HSM) instead of the whole box.
        bias_initializer: Keras initializer of b.
        replicas: None, or the number of independent replicas (see `ndnx.layers.replicas`);
            the output is then (batch, replicas, F).
        seed: int, or one int per replica; weights are a function of it alone.

    Input: images (batch, H, W, C). Output: (batch, F) or (batch, replicas, F).

    Example:
        >>> import numpy as np, ndnx
        >>> layer = ndnx.layers.DifferenceOfGaussians(9, seed=0)
        >>> tuple(layer(np.zeros((2, 31, 31, 1), "float32")).shape)
        (2, 9)
    """

    def __init__(self, filters, activation=None, use_bias=True, sigma_bounds=None, alpha_max=10.0,
                 mu_margin=2.0, faithful_mu_y_offset=False, constrained=False, middle_half_init=False,
                 bias_initializer="zeros", replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        self.constrained = bool(constrained)
        self.middle_half_init = bool(middle_half_init)
        if not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"{self.name}: filters must be a positive int, got {filters!r}")
        sigma_bounds = check_sigma_bounds(self.name, sigma_bounds)
        self.filters = int(filters)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.sigma_bounds = sigma_bounds
        self.alpha_max = float(alpha_max)
        self.mu_margin = float(mu_margin)
        self.faithful_mu_y_offset = bool(faithful_mu_y_offset)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        # Replicated: the shared images (batch, H, W, C), or one image per replica (batch, R, H, W, C)
        # when a replicated layer (LinScale) comes first.
        self._per_replica, _ = self.split_replica_input(input_shape, {3: "height, width, channels"},
                                                        what="images of shape")
        height, width = int(input_shape[-3]), int(input_shape[-2])
        if 2 * self.mu_margin >= min(height, width):
            raise ValueError(
                f"{self.name}: images of {height}×{width} leave no room for centres with "
                f"mu_margin={self.mu_margin}"
            )
        self.height, self.width = height, width
        lo, hi = self.sigma_bounds or (1.0, dog_sigma_upper_bound(height, width))
        self._bounds = (lo, hi)
        init = DoGInitializer(height, width, (lo, hi), self.alpha_max, self.mu_margin,
                              self.faithful_mu_y_offset, middle_half=self.middle_half_init)
        box = dog_box((lo, hi), (self.mu_margin, width - self.mu_margin),
                      (self.mu_margin, height - self.mu_margin), self.alpha_max) if self.constrained else None
        self.dog = self.add_replica_weight("dog", (len(PARAM_ROWS), self.filters), init, constraint=box)
        if self.constrained:
            self.dog.assign(box(self.dog))  # the faithful μy offset can start outside the box
        if self.use_bias:
            self.bias = self.add_replica_weight("bias", (self.filters,), self.bias_initializer)

    def clipped_parameters(self):
        """The parameters as the forward pass uses them: a dict of (…, F) tensors."""
        m = self.mu_margin
        return clip_dog_parameters(self.dog, self._bounds, (m, self.width - m), (m, self.height - m))

    def kernels(self):
        """Kernels K of shape (H·W, F) or (H·W, replicas, F), flattened row-major (row·W + col)."""
        k = dog_kernel_grid(self.clipped_parameters(), self.height, self.width, self.dog.dtype)
        return ops.reshape(k, (self.height * self.width,) + tuple(k.shape[2:]))

    def call(self, inputs):
        inputs = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        k = ops.cast(self.kernels(), self.compute_dtype)
        if self._per_replica:
            pixels = ops.reshape(ops.sum(inputs, axis=-1), (-1, self.replicas, self.height * self.width))
            z = ops.einsum("brp,prf->brf", pixels, k)
            if self.use_bias:
                z = z + ops.cast(self.bias, self.compute_dtype)
            return self.activation(z)
        pixels = ops.reshape(ops.sum(inputs, axis=-1), (-1, self.height * self.width))
        if self.replicas is None:
            z = ops.matmul(pixels, k)
        else:
            # One GEMM for all replicas: they share the image, only the kernels differ.
            z = ops.matmul(pixels, ops.reshape(k, (self.height * self.width, -1)))
            z = ops.reshape(z, (-1, self.replicas, self.filters))
        if self.use_bias:
            z = z + ops.cast(self.bias, self.compute_dtype)
        return self.activation(z)

    def compute_output_shape(self, input_shape):
        return self.replicated_shape(input_shape[0], (self.filters,))

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "sigma_bounds": None if self.sigma_bounds is None else list(self.sigma_bounds),
            "alpha_max": self.alpha_max,
            "mu_margin": self.mu_margin,
            "faithful_mu_y_offset": self.faithful_mu_y_offset,
            "constrained": self.constrained,
            "middle_half_init": self.middle_half_init,
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        })
        return config
