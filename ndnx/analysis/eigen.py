"""Eigenvalues of linear operators given as functions: dense probing, matrix-free Arnoldi, power iteration,
convolution and ReLU-Jacobian operators, and the stability criteria of a leaky rate network.

An *operator* here is a linear map A on arrays of one fixed shape (for example a 3×3 convolution on
(H, W, C)), given as a callable that maps a batch (B, *shape) to (B, *shape) — NumPy arrays or tensors.
The unknown is the flattened (row-major) array, so A acts on vectors of length n = prod(shape).

- `dense_matrix(operator, shape)`: the n × n matrix M with M[:, i] = A(e_i), probing unit vectors in
  batches; the ground truth for small cases (spec cordsnet.md §4, `compute_eigenvalues.py`).
- `arnoldi_eigenvalues(operator, shape, k)`: k steps of Arnoldi, A Q_k = Q_k H_k + h_{k+1,k} q_{k+1} e_kᵀ,
  with modified Gram–Schmidt and one re-orthogonalisation pass; the Ritz values (eigenvalues of the
  small Hessenberg H_k, by a dense eigensolver) approximate the outer spectrum. When h_{j+1,j} falls
  below `tolerance`·‖H‖ the Krylov space is invariant and the Ritz values are exact eigenvalues: the
  iteration stops there and says so (the original divides by zero; spec §7 item 11).
- `power_iteration(operator, shape, steps, trials, seed)`: v ← A v/‖A v‖ in parallel trials; each
  trial's vector is sign-aligned to the first before averaging, since trials that converge to ±v
  cancel in a plain average (spec §7 item 11).
- `stability(eigenvalues, alpha)`: τ dr/dt = −r + W r is stable iff max Re λ(W) < 1; its Euler map
  r' = (1 − α) r + α W r iff max |1 − α + αλ| < 1 (spec §4).
- `conv_operator(kernel, spatial_shape, strides=1)`: a convolution with symmetric zero padding
  ((k − 1)/2 per side, PyTorch's; 'same' for 3×3/s1) as an operator.
- `relu_jacobian_operator(kernel, preactivation, alpha=None)`: the Jacobian of r ↦ relu(W r + c) at a
  point, D·W with D = diag(relu'(W r + c)), or that of the Euler map, (1 − α) I + α D W (spec §4, §7
  item 11; the linearisation around a fixed point of CordsNet, Soo, Battista, Radmard, Wang, NeurIPS 2024).

Example:
    >>> import numpy as np
    >>> from ndnx.analysis.eigen import arnoldi_eigenvalues, matrix_operator, stability
    >>> result = arnoldi_eigenvalues(matrix_operator(np.diag([0.5, -2.0, 1.5])), (3,), k=10)
    >>> result.invariant, np.round(result.eigenvalues.real, 6).tolist()
    (True, [-2.0, 1.5, 0.5])
    >>> stability([0.5, 0.9 + 0.2j], alpha=0.2).euler_stable
    True
"""

import dataclasses

import numpy as np

__all__ = ["matrix_operator", "dense_matrix", "arnoldi_eigenvalues", "ArnoldiResult", "power_iteration",
           "PowerIterationResult", "stability", "Stability", "conv_operator", "relu_jacobian_operator"]


# ---- argument checks --------------------------------------------------------------------------------
def _shape(name, shape):
    try:
        shape = tuple(int(s) for s in np.atleast_1d(shape))
    except (TypeError, ValueError):
        raise ValueError(f"{name}: shape must be a tuple of positive ints, got {shape!r}") from None
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"{name}: shape must be a tuple of positive ints, got {shape!r}")
    return shape


def _positive_int(name, argument, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: {argument} must be a positive int, got {value!r}")
    return int(value)


def _apply(name, operator, batch, square=True):
    """operator(batch) as a NumPy array; of the batch's shape when `square`, else of the same batch size."""
    out = np.asarray(operator(batch))
    if (square and out.shape != batch.shape) or out.shape[:1] != batch.shape[:1]:
        raise ValueError(f"{name}: the operator must map a batch {batch.shape} to "
                         f"{'the same shape' if square else 'a batch of the same size'}, got {out.shape}")
    return out


def _kernel(name, kernel, square):
    kernel = np.asarray(kernel)
    if kernel.ndim != 4 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ValueError(f"{name}: kernel must be (kh, kw, C_in, C_out) with odd kh, kw, got shape {kernel.shape}")
    if square and kernel.shape[2] != kernel.shape[3]:
        raise ValueError(f"{name}: kernel must map C channels to C (C_in == C_out) for an operator on one space, "
                         f"got shape {kernel.shape}")
    if not np.all(np.isfinite(kernel)):
        raise ValueError(f"{name}: kernel must be finite")
    return kernel


# ---- operators ----------------------------------------------------------------------------------------
def matrix_operator(matrix):
    """A dense (n, n) matrix as an operator on vectors of shape (n,): batch (B, n) ↦ batch @ Mᵀ.

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.eigen import dense_matrix, matrix_operator
        >>> m = np.arange(4.0).reshape(2, 2)
        >>> bool(np.array_equal(dense_matrix(matrix_operator(m), (2,)), m))
        True
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix_operator: matrix must be square (n, n), got shape {matrix.shape}")
    return lambda batch: np.asarray(batch) @ matrix.T


def conv_operator(kernel, spatial_shape, strides=1, dtype="float64"):
    """A convolution (cross-correlation, no bias) with symmetric zero padding as an operator.

    x (B, H, W, C_in) ↦ conv(pad(x, (kh − 1)/2, (kw − 1)/2), kernel, strides) — PyTorch's `padding=k//2`,
    which for 3×3/s1 is Keras' 'same'. `dtype` "float64" (default) gives reference accuracy, "float32"
    what a float32 model computes. The operator is square (usable by `arnoldi_eigenvalues`) when
    C_in == C_out and strides == 1; `dense_matrix` needs only the input side.

    Args:
        kernel: (kh, kw, C_in, C_out), Keras layout, odd kh and kw.
        spatial_shape: (H, W) of the input.
        strides: 1 or 2 (an int).
        dtype: "float64" or "float32".

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.eigen import conv_operator
        >>> identity = np.zeros((3, 3, 2, 2)); identity[1, 1] = np.eye(2)
        >>> x = np.random.default_rng(0).normal(size=(1, 4, 4, 2))
        >>> bool(np.allclose(conv_operator(identity, (4, 4))(x), x))
        True
    """
    import tensorflow as tf

    name = "conv_operator"
    kernel = _kernel(name, kernel, square=False)
    try:
        height, width = (int(s) for s in spatial_shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: spatial_shape must be (H, W), got {spatial_shape!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"{name}: spatial_shape must be positive (H, W), got {spatial_shape!r}")
    if strides not in (1, 2) or isinstance(strides, bool):
        raise ValueError(f"{name}: strides must be 1 or 2, got {strides!r}")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"{name}: dtype must be 'float64' or 'float32', got {dtype!r}")
    padding = [[0, 0], [kernel.shape[0] // 2] * 2, [kernel.shape[1] // 2] * 2, [0, 0]]
    weights = tf.constant(kernel, dtype=dtype)
    expected = (height, width, kernel.shape[2])

    def operator(batch):
        batch = np.asarray(batch)
        if batch.shape[1:] != expected:
            raise ValueError(f"conv_operator: expected a batch (B, {height}, {width}, {kernel.shape[2]}), "
                             f"got {batch.shape}")
        out = tf.nn.conv2d(tf.constant(batch, dtype=dtype), weights, strides, padding)
        return out.numpy().astype(batch.dtype if batch.dtype.kind in "fc" else dtype, copy=False)

    return operator


def relu_jacobian_operator(kernel, preactivation, alpha=None, negative_slope=0.0, dtype="float64"):
    """The Jacobian of r ↦ relu(W r + c) at a point, D·W, or of its Euler map, (1 − α) I + α D W.

    D = diag(σ'(u)) with u = W r + c the preactivation at the point: 1 where u > 0, `negative_slope`
    elsewhere (0 for ReLU, TensorFlow's convention at u = 0; a for a PReLU with slope a). W is the
    3×3/s1 recurrent convolution with 'same' padding. Around a fixed point r* of a CordsNet area, the
    linear stability of the Euler update r' = (1 − α) r + α relu(W r + b + F h) is that of
    (1 − α) I + α D W (spec cordsnet.md §4, §7 item 11).

    Args:
        kernel: (kh, kw, C, C) recurrent kernel. preactivation: (H, W, C), u = W r + c at the point.
        alpha: None for D·W, or the Euler step α in (0, 1] for (1 − α) I + α D W.
        negative_slope: σ'(u) for u ≤ 0. dtype: as `conv_operator`.

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.eigen import dense_matrix, relu_jacobian_operator
        >>> kernel = np.zeros((3, 3, 1, 1)); kernel[1, 1] = 2.0
        >>> jacobian = relu_jacobian_operator(kernel, np.array([1.0, -1.0]).reshape(1, 2, 1), alpha=0.5)
        >>> dense_matrix(jacobian, (1, 2, 1)).tolist()
        [[1.5, 0.0], [0.0, 0.5]]
    """
    name = "relu_jacobian_operator"
    kernel = _kernel(name, kernel, square=True)
    preactivation = np.asarray(preactivation, dtype="float64")
    if preactivation.ndim != 3 or preactivation.shape[2] != kernel.shape[2]:
        raise ValueError(f"{name}: preactivation must be (H, W, {kernel.shape[2]}) for this kernel, "
                         f"got shape {preactivation.shape}")
    if alpha is not None and not (np.isfinite(alpha) and 0.0 < alpha <= 1.0):
        raise ValueError(f"{name}: alpha must be None or in (0, 1], got {alpha!r}")
    if not np.isfinite(negative_slope):
        raise ValueError(f"{name}: negative_slope must be finite, got {negative_slope!r}")
    conv = conv_operator(kernel, preactivation.shape[:2], dtype=dtype)
    gain = np.where(preactivation > 0.0, 1.0, float(negative_slope))

    def operator(batch):
        batch = np.asarray(batch)
        out = gain * conv(batch)
        if alpha is not None:
            out = (1.0 - alpha) * batch + alpha * out
        return out.astype(batch.dtype if batch.dtype.kind in "fc" else dtype, copy=False)

    return operator


# ---- dense ground truth -------------------------------------------------------------------------------
def dense_matrix(operator, shape, batch_size=256, dtype="float64"):
    """The (m, n) matrix of a linear operator on arrays of `shape` (n = prod(shape)), by unit-vector probing.

    Column i is A(e_i) flattened (m = its size; m = n for a square operator); `batch_size` unit vectors
    go through the operator per call.

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.eigen import dense_matrix
        >>> dense_matrix(lambda x: 2.0 * x[:, ::-1], (3,)).tolist()
        [[0.0, 0.0, 2.0], [0.0, 2.0, 0.0], [2.0, 0.0, 0.0]]
    """
    name = "dense_matrix"
    shape = _shape(name, shape)
    batch_size = _positive_int(name, "batch_size", batch_size)
    n = int(np.prod(shape))
    matrix = None
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        probes = np.zeros((stop - start, n), dtype=dtype)
        probes[np.arange(stop - start), np.arange(start, stop)] = 1.0
        columns = _apply(name, operator, probes.reshape((stop - start,) + shape), square=False)
        columns = columns.reshape(stop - start, -1)
        if matrix is None:
            matrix = np.empty((columns.shape[1], n), dtype=np.result_type(columns.dtype, dtype))
        matrix[:, start:stop] = columns.T
    return matrix


# ---- Arnoldi ------------------------------------------------------------------------------------------
@dataclasses.dataclass
class ArnoldiResult:
    """Ritz values of k Arnoldi steps, sorted by decreasing modulus.

    eigenvalues: (m,) complex Ritz values, m = steps. residuals: (m,) the residual norm ‖A x − θ x‖ of
    each Ritz pair (|h_{m+1,m}|·|last entry of the unit eigenvector of H|), 0 after a breakdown.
    steps: the Krylov dimension reached. invariant: True when the iteration broke down (the Krylov
    space is invariant under A), in which case the Ritz values are exact eigenvalues of A.
    hessenberg: (m, m) the projected matrix H.
    """

    eigenvalues: np.ndarray
    residuals: np.ndarray
    steps: int
    invariant: bool
    hessenberg: np.ndarray


def arnoldi_eigenvalues(operator, shape, k, seed=0, tolerance=1e-10):
    """Ritz values of `k` Arnoldi steps on a linear operator, matrix-free (spec cordsnet.md §4, §7 item 11).

    q_1 is a seeded Gaussian unit vector; step j orthogonalises w = A q_j against q_1..q_j by modified
    Gram–Schmidt, then once more (this re-orthogonalisation pass restores the orthogonality float rounding
    loses; it is a block product, the projections being tiny), and sets
    h_{j+1,j} = ‖w‖. If h_{j+1,j} ≤ tolerance·‖H‖_F the space span(q_1..q_j) is invariant: the iteration
    stops and `invariant` is True (the Ritz values are then exact eigenvalues). The eigenvalues of the
    small H come from `numpy.linalg.eigvals` (no unshifted QR sweeps). The outer (largest-modulus)
    Ritz values converge first; `residuals` tells which have.

    Args:
        operator: linear map of a batch (B, *shape) to (B, *shape).
        shape: the shape of one array. k: the number of steps (at most prod(shape) are taken; the basis
            holds k + 1 float64 vectors of prod(shape), e.g. 160 MB for k = 100 on 56×56×64).
        seed: seed of the start vector. tolerance: relative breakdown threshold.

    Returns:
        ArnoldiResult.

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.eigen import arnoldi_eigenvalues, matrix_operator
        >>> rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
        >>> result = arnoldi_eigenvalues(matrix_operator(rotation), (2,), k=5)
        >>> result.steps, result.invariant, sorted(np.round(result.eigenvalues.imag, 6).tolist())
        (2, True, [-1.0, 1.0])
    """
    name = "arnoldi_eigenvalues"
    shape = _shape(name, shape)
    k = _positive_int(name, "k", k)
    if not (np.isfinite(tolerance) and tolerance >= 0.0):
        raise ValueError(f"{name}: tolerance must be a finite number >= 0, got {tolerance!r}")
    n = int(np.prod(shape))
    k = min(k, n)
    basis = np.zeros((k + 1, n))
    hessenberg = np.zeros((k + 1, k))
    start = np.random.default_rng(seed).standard_normal(n)
    basis[0] = start / np.linalg.norm(start)
    steps, invariant, h_norm_squared = k, False, 0.0
    for j in range(k):
        w = _apply(name, operator, basis[j].reshape((1,) + shape)).reshape(n)
        if np.iscomplexobj(w):
            raise ValueError(f"{name}: the operator must be real, got a {w.dtype} result")
        w = w.astype("float64")
        for i in range(j + 1):
            coefficient = basis[i] @ w
            hessenberg[i, j] = coefficient
            w -= coefficient * basis[i]
        # The re-orthogonalisation pass works on what rounding left, so one block product is enough.
        correction = basis[:j + 1] @ w
        hessenberg[:j + 1, j] += correction
        w -= correction @ basis[:j + 1]
        norm = float(np.sqrt(w @ w))
        hessenberg[j + 1, j] = norm
        h_norm_squared += float(hessenberg[:j + 2, j] @ hessenberg[:j + 2, j])  # ‖H‖_F², column by column
        if norm <= tolerance * np.sqrt(h_norm_squared) or j + 1 == n:
            steps, invariant = j + 1, True
            break
        basis[j + 1] = w / norm
    h = hessenberg[:steps, :steps]
    values, vectors = np.linalg.eig(h)
    tail = 0.0 if invariant else hessenberg[steps, steps - 1]
    residuals = np.abs(tail) * np.abs(vectors[-1, :]) / np.linalg.norm(vectors, axis=0)
    order = np.argsort(-np.abs(values), kind="stable")
    return ArnoldiResult(eigenvalues=values[order].astype(complex), residuals=residuals[order], steps=steps,
                         invariant=invariant, hessenberg=h)


# ---- power iteration ----------------------------------------------------------------------------------
@dataclasses.dataclass
class PowerIterationResult:
    """Top eigenpair by power iteration.

    eigenvalue: the Rayleigh quotient vᵀ A v of the averaged unit vector. vector: (*shape) the
    sign-aligned average of the trials, unit norm. trial_vectors: (trials, *shape) each trial's unit
    vector as it ended (before alignment). signs: (trials,) ±1 that aligned each trial to the first.
    """

    eigenvalue: float
    vector: np.ndarray
    trial_vectors: np.ndarray
    signs: np.ndarray


def power_iteration(operator, shape, steps, trials=10, seed=0, initial=None):
    """The dominant eigenvector of a real linear operator by power iteration in parallel trials.

    Every trial iterates v ← A v/‖A v‖ `steps` times (all trials in one batch call per step). Trials
    end at +v or −v depending on their start, so each is multiplied by sign(⟨v_t, v_1⟩) before the
    average — the plain average of the original can cancel (spec cordsnet.md §4, §7 item 11). This
    converges when the dominant eigenvalue is real and separated in modulus from the rest (rate
    |λ₂/λ₁| per step); for a dominant complex pair it does not.

    Args:
        operator: linear map of a batch (B, *shape) to (B, *shape). shape: one array's shape.
        steps, trials: iteration count and number of parallel trials. seed: seed of the start vectors.
        initial: optional (trials, *shape) start vectors instead of seeded Gaussian ones.

    Example:
        >>> import numpy as np
        >>> from ndnx.analysis.eigen import matrix_operator, power_iteration
        >>> result = power_iteration(matrix_operator(np.diag([3.0, 1.0])), (2,), steps=60, trials=4)
        >>> round(result.eigenvalue, 6), np.abs(np.round(result.vector, 6)).tolist()
        (3.0, [1.0, 0.0])
    """
    name = "power_iteration"
    shape = _shape(name, shape)
    steps = _positive_int(name, "steps", steps)
    n = int(np.prod(shape))
    if initial is None:
        trials = _positive_int(name, "trials", trials)
        vectors = np.random.default_rng(seed).standard_normal((trials, n))
    else:
        vectors = np.asarray(initial, dtype="float64")
        if vectors.ndim < 2 or vectors.shape[1:] != shape:
            raise ValueError(f"{name}: initial must be (trials, *{shape}), got shape {vectors.shape}")
        trials = vectors.shape[0]
        vectors = vectors.reshape(trials, n)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if np.any(norms == 0.0) or not np.all(np.isfinite(norms)):
        raise ValueError(f"{name}: every start vector must be finite and non-zero")
    vectors = vectors / norms
    for _ in range(steps):
        vectors = _apply(name, operator, vectors.reshape((trials,) + shape)).reshape(trials, n)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if np.any(norms == 0.0):
            raise ValueError(f"{name}: the operator maps a trial vector to 0 (a nilpotent direction); "
                             "no dominant eigenvector")
        vectors = vectors / norms
    signs = np.where(vectors @ vectors[0] < 0.0, -1.0, 1.0)
    mean = (signs[:, None] * vectors).mean(0)
    mean /= np.linalg.norm(mean)
    image = _apply(name, operator, mean.reshape((1,) + shape)).reshape(n)
    return PowerIterationResult(eigenvalue=float(mean @ image), vector=mean.reshape(shape),
                                trial_vectors=vectors.reshape((trials,) + shape), signs=signs)


# ---- stability ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class Stability:
    """Linear stability of τ dr/dt = −r + W r and of its Euler map r' = (1 − α) r + α W r.

    continuous_stable: max Re λ < 1; continuous_margin = 1 − max Re λ (> 0 when stable).
    euler_stable: max |1 − α + αλ| < 1; euler_margin = 1 − max |1 − α + αλ| (> 0 when stable).
    max_real, euler_radius: the two maxima.
    """

    continuous_stable: bool
    euler_stable: bool
    continuous_margin: float
    euler_margin: float
    max_real: float
    euler_radius: float


def stability(eigenvalues, alpha=0.2):
    """Stability criteria from the eigenvalues λ of W (spec cordsnet.md §4).

    The linearised area τ dr/dt = −r + W r decays iff every Re λ < 1; its forward-Euler map with
    α = dt/τ has eigenvalues 1 − α + αλ and decays iff every |1 − α + αλ| < 1 (a disc of radius 1/α
    centred at 1 − 1/α). For W use the recurrent kernel (linear area) or D·W (ReLU fixed point).

    Example:
        >>> from ndnx.analysis.eigen import stability
        >>> s = stability([0.5, -11.0], alpha=0.2)
        >>> s.continuous_stable, s.euler_stable, round(s.euler_margin, 6)
        (True, False, -0.4)
    """
    name = "stability"
    values = np.asarray(eigenvalues, dtype=complex).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"{name}: eigenvalues must be a non-empty array of finite numbers, got {eigenvalues!r}")
    if isinstance(alpha, bool) or not (np.isfinite(alpha) and 0.0 < alpha <= 1.0):
        raise ValueError(f"{name}: alpha must be in (0, 1], got {alpha!r}")
    max_real = float(values.real.max())
    euler_radius = float(np.abs(1.0 - alpha + alpha * values).max())
    return Stability(continuous_stable=max_real < 1.0, euler_stable=euler_radius < 1.0,
                     continuous_margin=1.0 - max_real, euler_margin=1.0 - euler_radius,
                     max_real=max_real, euler_radius=euler_radius)
