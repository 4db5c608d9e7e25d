"""Analysis of a CordsNet (Soo, Battista, Radmard, Wang, NeurIPS 2024): spectra of the recurrent kernels
and of the ReLU Jacobian at a fixed point, response latencies, and robustness to pixel noise.

Every function takes a model with the public CordsNet API of `ndnx.models.cordsnet` (`get_parameters`,
`simulate`, `spontaneous_state`, `depth`, `alpha`, `nonlinearity`) and works from its canonical
parameters; nothing here changes the model. Area j updates as (spec cordsnet.md §1.2)

    r_j' = (1 − α) r_j + α σ(u_j),   u_j = W_rec,j r_j + b_j + W_ff,j h_j,

with h_j built from relu'd states of areas j − 1 and j − 2 (§1.3). Areas form a feedforward chain, so
the Jacobian of the whole step is block lower-triangular: its eigenvalues are the union over areas of
those of (1 − α) I + α D_j W_rec,j, D_j = diag(σ'(u_j)) — each area's stability can be read alone.

- `recurrent_spectrum(model, area, k)`: Arnoldi Ritz values of W_rec,j (weight norm folded,
  W = g·v/‖v‖) on the area's (H_j, W_j, C_j) grid, and the linear stability criteria (§4).
- `fixed_point_jacobian_spectrum(model, area, images, k)`: the same for D_j·W_rec,j at the state the
  model reaches after its protocol (or at the spontaneous state), with the fixed-point residual
  ‖r − σ(u)‖/‖r‖ that says how close that state is to a fixed point (§4, §7 item 11).
- `response_latencies(model, images)`: the first stimulus step at which each area (and the logits)
  of the image run departs from a zero-input continuation of the same spontaneous state (§2.3, §8.3
  item 5: [1, 1, 2, 2, 3, 3, 4, 4] and step 4 for R8).
- `noise_robustness(model, images, labels, noise_levels, seed)`: activation MSE between noisy and
  noiseless runs per area and accuracy against the noise level (§4, the paper's noise figure).
- `area_activity(model, images)`: mean |r_j(t) − r_j(spontaneous)| per area over the stimulus phase.

Example:
    >>> import numpy as np, ndnx
    >>> from ndnx.analysis.cordsnet import recurrent_spectrum
    >>> net = ndnx.models.cordsnet_r2(num_classes=3, image_size=8, channels=1, blank_steps=2, seed=0)
    >>> spectrum = recurrent_spectrum(net, area=0, k=8)
    >>> spectrum.arnoldi.eigenvalues.shape
    (8,)
"""

import dataclasses

import numpy as np

from ndnx.analysis.eigen import ArnoldiResult, Stability, arnoldi_eigenvalues, conv_operator, \
    relu_jacobian_operator, stability

__all__ = ["fold_weight_norm", "recurrent_kernel", "recurrent_spectrum", "RecurrentSpectrum",
           "fixed_point_jacobian_spectrum", "FixedPointSpectrum", "response_latencies", "Latencies",
           "noise_robustness", "NoiseRobustness", "area_activity", "AreaActivity"]


# ---- parameters ---------------------------------------------------------------------------------------
def fold_weight_norm(g, v):
    """The effective kernel W = g·v/‖v‖, the norm per output unit over every other axis (spec §8.2).

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.cordsnet import fold_weight_norm
        >>> fold_weight_norm(np.array([10.0]), np.array([[3.0], [4.0]])).ravel().tolist()
        [6.0, 8.0]
    """
    v = np.asarray(v, dtype="float64")
    g = np.asarray(g, dtype="float64")
    if g.shape != v.shape[-1:]:
        raise ValueError(f"fold_weight_norm: g must have one value per output unit {v.shape[-1:]}, got {g.shape}")
    norm = np.sqrt(np.sum(v * v, axis=tuple(range(v.ndim - 1))))
    return v * (g / np.where(norm > 0.0, norm, 1.0))


def _kernel(parameters, name):
    if f"{name}/g" in parameters:
        return fold_weight_norm(parameters[f"{name}/g"], parameters[f"{name}/v"])
    if f"{name}/kernel" in parameters:  # a model built with weight_norm=False
        return np.asarray(parameters[f"{name}/kernel"], dtype="float64")
    raise ValueError(f"CordsNet analysis: the model's parameters have no {name}/g, {name}/v or {name}/kernel "
                     f"(got {sorted(parameters)[:6]}...)")


def _depth(model):
    return int(getattr(model, "depth", None) or model.get_config()["depth"])


def _area(name, model, area):
    depth = _depth(model)
    if isinstance(area, bool) or not isinstance(area, (int, np.integer)) or not 0 <= area < depth:
        raise ValueError(f"{name}: area must be an int in [0, {depth - 1}] for CordsNet-R{depth}, got {area!r}")
    return int(area)


def _slope(model):
    """σ'(u) for u ≤ 0: 0 for ReLU, a for PReLU(a), 1 for the identity (linear stage)."""
    nonlinearity = str(getattr(model, "nonlinearity", "relu")).lower()
    if nonlinearity in ("identity", "linear"):
        return 1.0
    if nonlinearity == "prelu":
        return float(np.asarray(model.prelu_slope))
    return 0.0


def recurrent_kernel(model, area):
    """The folded recurrent kernel W_rec of `area`, (3, 3, C_j, C_j) float64, and the area's (H_j, W_j, C_j).

    Example:
        >>> import ndnx
        >>> from ndnx.analysis.cordsnet import recurrent_kernel
        >>> net = ndnx.models.cordsnet_r2(num_classes=3, image_size=8, channels=1, blank_steps=2, seed=0)
        >>> kernel, shape = recurrent_kernel(net, 1)
        >>> kernel.shape, shape
        ((3, 3, 64, 64), (2, 2, 64))
    """
    area = _area("recurrent_kernel", model, area)
    parameters = model.get_parameters()
    return _kernel(parameters, f"area{area}/rec"), tuple(int(s) for s in parameters[f"area{area}/bias"].shape)


# ---- spectra ------------------------------------------------------------------------------------------
@dataclasses.dataclass
class RecurrentSpectrum:
    """Ritz values of an area's recurrent convolution (`arnoldi`, an ArnoldiResult) and their stability
    (`stability`, a Stability at the model's α). shape: the area's (H, W, C)."""

    arnoldi: ArnoldiResult
    stability: Stability
    shape: tuple


def recurrent_spectrum(model, area, k=100, seed=0):
    """Outer eigenvalues of area `area`'s recurrent 3×3 convolution, matrix-free (spec §4, §7 item 11).

    The operator is W_rec,j with 'same' zero padding on the area's (H_j, W_j, C_j) grid, in float64,
    weight norm folded. With k ≥ H·W·C Arnoldi returns the whole spectrum (exact, `invariant`).
    Linear-area stability: max Re λ < 1 (continuous time), max |1 − α + αλ| < 1 (Euler, the model's α).

    Args:
        model: a CordsNet. area: 0 … depth − 1. k: Arnoldi steps. seed: start vector seed.
    """
    kernel, shape = recurrent_kernel(model, _area("recurrent_spectrum", model, area))
    result = arnoldi_eigenvalues(conv_operator(kernel, shape[:2]), shape, k, seed=seed)
    return RecurrentSpectrum(arnoldi=result, stability=stability(result.eigenvalues, float(model.alpha)),
                             shape=shape)


def _conv(x, kernel, strides=1):
    import tensorflow as tf

    pad = kernel.shape[0] // 2
    return tf.nn.conv2d(tf.constant(x, tf.float64), tf.constant(kernel, tf.float64), strides,
                        [[0, 0], [pad, pad], [pad, pad], [0, 0]]).numpy()


def _stem(parameters, images):
    """inp = avgpool3/2(pad 1, count_include_pad)(conv7×7/2(pad 3)(image)) (spec §1.3, §8.1)."""
    import tensorflow as tf

    x = _conv(np.asarray(images, dtype="float64"), _kernel(parameters, "stem"), strides=2)
    x = tf.pad(tf.constant(x), [[0, 0], [1, 1], [1, 1], [0, 0]])
    return tf.nn.avg_pool2d(x, 3, 2, "VALID").numpy()


def _preactivation(parameters, area, states, inp):
    """u_j = W_rec r_j + b_j + W_ff h_j for a batch of states (tuple of (B, H, W, C)) and stem output inp."""
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    if area == 0:
        h = inp
    elif area == 1:
        h = relu(states[0]) + _conv(inp, _kernel(parameters, "inp_skip"))
    elif area % 2 == 0:
        h = relu(states[area - 1]) + relu(states[area - 2])
    else:
        skip = _kernel(parameters, f"skip{(area - 3) // 2}")
        h = relu(states[area - 1]) + _conv(relu(states[area - 2]), skip, strides=2)
    stride = 2 if area >= 2 and area % 2 == 0 else 1
    return (_conv(states[area], _kernel(parameters, f"area{area}/rec"))
            + np.asarray(parameters[f"area{area}/bias"], dtype="float64")
            + _conv(h, _kernel(parameters, f"area{area}/ff"), strides=stride))


@dataclasses.dataclass
class FixedPointSpectrum:
    """Ritz values of D·W_rec at each image's final state (one ArnoldiResult and Stability per image).

    residuals: (B,) ‖r − σ(u)‖/‖r‖ at the state (0 at a fixed point); active_fraction: (B,) the fraction
    of units with u > 0 (D = 1); preactivation: (B, H, W, C) u at the state.
    """

    arnoldi: list
    stability: list
    residuals: np.ndarray
    active_fraction: np.ndarray
    preactivation: np.ndarray


def fixed_point_jacobian_spectrum(model, area, images=None, k=100, seed=0, stimulus_steps=None):
    """Eigenvalues of D·W_rec, the ReLU Jacobian of area `area` at the state the protocol reaches (spec §4).

    With `images` the state is the one after the model's blank phase and `stimulus_steps` stimulus
    steps (default the model's); with images=None it is the spontaneous (blank-phase) state. At that
    state r, u = W_rec r + b + W_ff h is recomputed from the canonical parameters in float64 and
    D = diag(σ'(u)) (1 where u > 0; the PReLU slope or 0 elsewhere; 1 for the identity). Near a fixed
    point r* = σ(u*), the Euler map's Jacobian is (1 − α) I + α D W_rec, stable iff every
    |1 − α + αλ(D W_rec)| < 1; `residuals` says how near the state is to a fixed point.

    Args:
        model: a CordsNet. area: 0 … depth − 1. images: (B, H, W, C) or None. k, seed: Arnoldi steps, seed.
        stimulus_steps: override of the model's stimulus steps.
    """
    name = "fixed_point_jacobian_spectrum"
    area = _area(name, model, area)
    parameters = model.get_parameters()
    if images is None:
        states = tuple(np.asarray(s, dtype="float64") for s in model.spontaneous_state())
        inp = np.zeros(states[0].shape[:3] + (parameters["stem/v"].shape[-1],))
    else:
        images = np.asarray(images, dtype="float32")
        if images.ndim != 4:
            raise ValueError(f"{name}: images must be (B, H, W, C), got shape {images.shape}")
        out = model.simulate(images, stimulus_steps=stimulus_steps, return_states=True)
        states = tuple(np.asarray(s[:, -1], dtype="float64") for s in out["states"])
        inp = _stem(parameters, images)
    u = _preactivation(parameters, area, states, inp)
    slope = _slope(model)
    rate = np.where(u > 0.0, u, slope * u)
    r = states[area]
    axes = tuple(range(1, r.ndim))
    residuals = np.sqrt(np.sum((r - rate) ** 2, axis=axes)) / np.maximum(np.sqrt(np.sum(r * r, axis=axes)), 1e-300)
    kernel = _kernel(parameters, f"area{area}/rec")
    results, criteria = [], []
    for b in range(u.shape[0]):
        result = arnoldi_eigenvalues(relu_jacobian_operator(kernel, u[b], negative_slope=slope), u.shape[1:], k,
                                     seed=seed)
        results.append(result)
        criteria.append(stability(result.eigenvalues, float(model.alpha)))
    return FixedPointSpectrum(arnoldi=results, stability=criteria, residuals=residuals,
                              active_fraction=np.mean(u > 0.0, axis=axes), preactivation=u)


# ---- latencies ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class Latencies:
    """First stimulus step (1-based; −1 if none within `steps`) at which a run departs from the zero-input run.

    areas: (B, depth) ints; logits: (B,) ints; steps: the number of stimulus steps compared.
    """

    areas: np.ndarray
    logits: np.ndarray
    steps: int


def _first_departure(difference, tolerance):
    """difference (B, T, ...) → (B,) first t (1-based) with max |difference| > tolerance, or −1."""
    departed = np.abs(difference).reshape(difference.shape[0], difference.shape[1], -1).max(-1) > tolerance
    return np.where(departed.any(1), departed.argmax(1) + 1, -1)


def response_latencies(model, images, tolerance=0.0, steps=None):
    """Per-area response latencies in stimulus steps (spec §2.3, §8.3 item 5).

    Both runs start from the model's spontaneous state (`spontaneous_state()`): one with the images,
    one that keeps a zero image (the dataset-mean grey: the stem has no bias, so zero input means zero
    drive); both are calls of the same shape, so equal inputs give bitwise equal states. An area's latency is the first step t (state after t
    steps) at which any of its units differs from the zero-input run by more than `tolerance`; likewise
    for the logits. Comparing with the zero-input continuation, not with the spontaneous state itself,
    removes any drift left after a finite blank phase. With the synchronous update and positive weights
    (so ReLU masks nothing) R8 gives [1, 1, 2, 2, 3, 3, 4, 4] and logits at step 4 (8 ms at dt = 2 ms).

    Args:
        model: a CordsNet. images: (B, H, W, C). tolerance: ≥ 0 (0 finds any change).
        steps: stimulus steps simulated (default depth/2 + 2, enough for the last area and the logits;
            the model's stimulus_steps reuses the trace of `area_activity` and `noise_robustness`).

    Returns:
        Latencies.

    Example:
        >>> import numpy as np, ndnx
        >>> from ndnx.analysis.cordsnet import response_latencies
        >>> net = ndnx.models.cordsnet_r2(num_classes=3, image_size=8, channels=1, blank_steps=2, jit_loop=False,
        ...                               seed=0)
        >>> latencies = response_latencies(net, np.ones((1, 8, 8, 1)))
        >>> latencies.areas.tolist(), latencies.logits.tolist()
        ([[1, 1]], [1])
    """
    name = "response_latencies"
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(f"{name}: images must be (B, H, W, C), got shape {images.shape}")
    if not (np.isfinite(tolerance) and tolerance >= 0.0):
        raise ValueError(f"{name}: tolerance must be a finite number >= 0, got {tolerance!r}")
    depth = _depth(model)
    steps = depth // 2 + 2 if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"{name}: steps must be a positive int, got {steps!r}")
    start = model.spontaneous_state()
    image = model.simulate(images, stimulus_steps=int(steps), initial_state=start, return_states=True)
    blank = model.simulate(np.zeros_like(images), stimulus_steps=int(steps), initial_state=start, return_states=True)
    areas = np.stack([_first_departure(a - b, tolerance) for a, b in zip(image["states"], blank["states"])], axis=1)
    logits = _first_departure(image["logits"] - blank["logits"], tolerance)
    return Latencies(areas=areas, logits=logits, steps=int(steps))


# ---- noise robustness ---------------------------------------------------------------------------------
@dataclasses.dataclass
class NoiseRobustness:
    """Activation MSE and accuracy against pixel-noise level.

    noise_levels: (L,). mse: (L, depth) mean over images, stimulus steps and units of
    (r_noisy − r_clean)²; final_mse: (L, depth) the same at the last step only. accuracy: (L,) top-1
    of the final-step logits. clean_accuracy: top-1 of the noiseless run.
    """

    noise_levels: np.ndarray
    mse: np.ndarray
    final_mse: np.ndarray
    accuracy: np.ndarray
    clean_accuracy: float


def noise_robustness(model, images, labels, noise_levels, seed=0, batch_size=8, stimulus_steps=None):
    """Activation MSE between noisy and noiseless runs per area, and accuracy, per noise level.

    Protocol (the paper's noise-robustness figure; spec §4): one Gaussian pattern ε ~ N(0, 1) per pixel
    of every image is drawn once from `numpy.random.default_rng(seed)` (shape of `images`), and level σ
    shows images + σ·ε — the same pattern scaled, so levels differ only in amplitude. Images are in the
    model's input units (normalised pixels), so σ is in units of the dataset's pixel std. Every run
    starts from the spontaneous state and runs the model's stimulus phase (or `stimulus_steps`); the MSE
    averages (r_noisy − r_clean)² over images, stimulus steps and units of each area; accuracy is the
    top-1 of the final-step logits against integer `labels`. σ = 0 gives MSE 0 and the clean accuracy.

    Args:
        model: a CordsNet. images: (N, H, W, C). labels: (N,) ints. noise_levels: (L,) σ ≥ 0.
        seed: the noise seed. batch_size: images per simulation (states of a batch are held in memory).
        stimulus_steps: override of the model's stimulus steps.
    """
    name = "noise_robustness"
    images = np.asarray(images, dtype="float32")
    labels = np.asarray(labels)
    levels = np.asarray(noise_levels, dtype="float64").ravel()
    if images.ndim != 4:
        raise ValueError(f"{name}: images must be (N, H, W, C), got shape {images.shape}")
    if labels.shape != images.shape[:1] or labels.dtype.kind not in "iu":
        raise ValueError(f"{name}: labels must be {images.shape[0]} integer class indices, got "
                         f"{labels.dtype} shape {labels.shape}")
    if levels.size == 0 or not np.all(np.isfinite(levels)) or np.any(levels < 0):
        raise ValueError(f"{name}: noise_levels must be finite numbers >= 0, got {noise_levels!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{name}: batch_size must be a positive int, got {batch_size!r}")
    noise = np.random.default_rng(seed).standard_normal(images.shape).astype("float32")
    depth = _depth(model)
    spontaneous = model.spontaneous_state()
    squared = np.zeros((levels.size, depth))
    final = np.zeros((levels.size, depth))
    correct = np.zeros(levels.size)
    clean_correct = 0
    units = None
    for start in range(0, images.shape[0], batch_size):
        batch = slice(start, start + batch_size)
        clean = model.simulate(images[batch], stimulus_steps=stimulus_steps, initial_state=spontaneous,
                               return_states=True)
        clean_correct += np.sum(np.argmax(clean["logits"][:, -1], -1) == labels[batch])
        if units is None:
            units = [s[0, 0].size for s in clean["states"]]
            steps = clean["logits"].shape[1]
        for i, level in enumerate(levels):
            noisy = model.simulate(images[batch] + np.float32(level) * noise[batch], stimulus_steps=stimulus_steps,
                                   initial_state=spontaneous, return_states=True)
            for j in range(depth):
                difference = noisy["states"][j].astype("float64") - clean["states"][j]
                squared[i, j] += np.sum(difference ** 2)
                final[i, j] += np.sum(difference[:, -1] ** 2)
            correct[i] += np.sum(np.argmax(noisy["logits"][:, -1], -1) == labels[batch])
    count = images.shape[0]
    units = np.asarray(units, dtype="float64")
    return NoiseRobustness(noise_levels=levels, mse=squared / (count * steps * units),
                           final_mse=final / (count * units), accuracy=correct / count,
                           clean_accuracy=float(clean_correct / count))


# ---- activity -----------------------------------------------------------------------------------------
@dataclasses.dataclass
class AreaActivity:
    """Mean |r_j(t) − r_j(spontaneous)| per area: deviation (B, T, depth), steps (T,) 1-based stimulus steps,
    logits (B, T, n_classes)."""

    deviation: np.ndarray
    steps: np.ndarray
    logits: np.ndarray


def area_activity(model, images, stimulus_steps=None):
    """How far each area moves from its spontaneous state over the stimulus phase (spec §2.3).

    Starting from `spontaneous_state()`, the deviation of area j after step t is the mean over its units
    of |r_j(t) − r_j(spontaneous)|; it stays 0 until the input reaches the area (the latency).

    Example:
        >>> import numpy as np, ndnx
        >>> from ndnx.analysis.cordsnet import area_activity
        >>> net = ndnx.models.cordsnet_r2(num_classes=3, image_size=8, channels=1, blank_steps=2, jit_loop=False,
        ...                               seed=0)
        >>> area_activity(net, np.ones((1, 8, 8, 1)), stimulus_steps=3).deviation.shape
        (1, 3, 2)
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(f"area_activity: images must be (B, H, W, C), got shape {images.shape}")
    spontaneous = model.spontaneous_state()
    out = model.simulate(images, stimulus_steps=stimulus_steps, initial_state=spontaneous, return_states=True)
    deviation = np.stack([np.abs(s - base[:, None]).mean(axis=(2, 3, 4))
                          for s, base in zip(out["states"], spontaneous)], axis=-1)
    return AreaActivity(deviation=deviation, steps=np.arange(1, deviation.shape[1] + 1), logits=out["logits"])
