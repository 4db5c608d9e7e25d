"""ndnx.analysis.eigen against references written here: a convolution matrix built by index arithmetic,
the DFT spectrum of circulant convolutions, operators with a known small Krylov space, hand-made
eigenvalues for the stability criteria, and a finite-difference ReLU Jacobian (spec cordsnet.md §4,
§7 item 11)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from ndnx.analysis import eigen


@pytest.fixture(autouse=True)
def one_blas_thread():
    # Dense eigensolvers on busy shared cores: OpenBLAS threads spinning against each other cost 5–50×.
    with threadpool_limits(1):
        yield


def conv_matrix(kernel, height, width):
    """The dense matrix of a 'same' zero-padded cross-correlation on (H, W, C_in) → (H, W, C_out), by indices."""
    kh, kw, c_in, c_out = kernel.shape
    matrix = np.zeros((height * width * c_out, height * width * c_in))
    for y in range(height):
        for x in range(width):
            for dy in range(kh):
                for dx in range(kw):
                    sy, sx = y + dy - kh // 2, x + dx - kw // 2
                    if 0 <= sy < height and 0 <= sx < width:
                        rows = (y * width + x) * c_out + np.arange(c_out)
                        cols = (sy * width + sx) * c_in + np.arange(c_in)
                        matrix[np.ix_(rows, cols)] += kernel[dy, dx].T
    return matrix


def numpy_conv(kernel, r):
    """'same' zero-padded cross-correlation of one (H, W, C) array, by shifts."""
    kh, kw = kernel.shape[:2]
    padded = np.pad(r, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    height, width = r.shape[:2]
    return sum(padded[dy:dy + height, dx:dx + width] @ kernel[dy, dx] for dy in range(kh) for dx in range(kw))


def random_conv_kernel(seed, channels=10):
    # PyTorch's default Conv2d initialisation, U(±1/√fan_in), as in the spec's demo (§4).
    bound = 1.0 / np.sqrt(9 * channels)
    return np.random.default_rng(seed).uniform(-bound, bound, (3, 3, channels, channels))


def circulant_operator(taps):
    """y[i] = Σ_d taps[d] x[(i + d − c) mod n] on (B, n): a periodic 1-D cross-correlation."""
    centre = len(taps) // 2
    return lambda batch: sum(t * np.roll(batch, -(d - centre), axis=1) for d, t in enumerate(taps))


def circulant_spectrum(taps, n):
    # The eigenvector exp(2πi m i/n) of the periodic correlation has eigenvalue Σ_d taps[d] ω^{m(d−c)}.
    centre = len(taps) // 2
    m = np.arange(n)[:, None]
    d = np.arange(len(taps))[None, :] - centre
    return (np.asarray(taps)[None, :] * np.exp(2j * np.pi * m * d / n)).sum(1)


def nearest_distance(values, targets):
    return np.array([np.min(np.abs(values - t)) for t in targets])


# ---- dense probing and Arnoldi on the spec's demo conv ----------------------------------------------------
def test_probed_conv_matrix_is_the_index_built_matrix():
    kernel = random_conv_kernel(1, channels=3)
    probed = eigen.dense_matrix(eigen.conv_operator(kernel, (5, 4)), (5, 4, 3), batch_size=7)
    np.testing.assert_allclose(probed, conv_matrix(kernel, 5, 4), atol=1e-15, rtol=0)


def test_strided_conv_probes_to_every_other_row_of_the_same_conv():
    kernel = np.random.default_rng(2).normal(size=(3, 3, 2, 3))
    probed = eigen.dense_matrix(eigen.conv_operator(kernel, (6, 6), strides=2), (6, 6, 2))
    full = conv_matrix(kernel, 6, 6).reshape(6, 6, 3, -1)
    np.testing.assert_allclose(probed, full[::2, ::2].reshape(27, -1), atol=1e-14, rtol=0)


def test_arnoldi_outer_eigenvalues_of_a_random_conv_match_dense_eigvals():
    # The spec's demo (§4): a random Conv2d(10 → 10, 3×3, padding 1) on a 10×10 grid, n = 1000.
    kernel = random_conv_kernel(0)
    reference = np.linalg.eigvals(conv_matrix(kernel, 10, 10))
    reference = reference[np.argsort(-np.abs(reference))]
    result = eigen.arnoldi_eigenvalues(eigen.conv_operator(kernel, (10, 10)), (10, 10, 10), k=150, seed=0)
    assert result.steps == 150 and not result.invariant
    assert np.max(nearest_distance(result.eigenvalues, reference[:10])) < 1e-6
    # The largest Ritz value is the spectral radius, and the converged ones say so by their residuals.
    assert abs(abs(result.eigenvalues[0]) - abs(reference[0])) < 1e-6
    assert np.all(result.residuals[:10] < 1e-5)


# ---- breakdown and analytic spectra -----------------------------------------------------------------------
def test_breakdown_on_a_small_invariant_subspace_returns_the_exact_eigenvalues():
    # A 40 × 40 non-normal, diagonalisable operator with only 4 distinct eigenvalues: every Krylov space
    # has dimension ≤ 4, so the iteration must stop at step 4 (h_{5,4} = 0) and not divide by it.
    rng = np.random.default_rng(3)
    distinct = np.array([2.0, -1.0, 0.5 + 0.3j, 0.5 - 0.3j])
    basis = rng.normal(size=(40, 40))
    diagonal = np.zeros((40, 40))
    diagonal[:2, :2] = [[0.5, 0.3], [-0.3, 0.5]]  # a real block for the pair 0.5 ± 0.3i
    diagonal[np.arange(2, 40), np.arange(2, 40)] = np.resize([2.0, -1.0], 38)
    matrix = basis @ diagonal @ np.linalg.inv(basis)
    with np.errstate(all="raise"):
        result = eigen.arnoldi_eigenvalues(eigen.matrix_operator(matrix), (40,), k=30, seed=5)
    assert result.invariant and result.steps == 4
    assert np.all(np.isfinite(result.eigenvalues))
    np.testing.assert_allclose(np.sort_complex(result.eigenvalues), np.sort_complex(distinct), atol=1e-10)
    np.testing.assert_array_equal(result.residuals, 0.0)


def test_breakdown_at_the_first_step_of_the_zero_operator():
    with np.errstate(all="raise"):
        result = eigen.arnoldi_eigenvalues(lambda x: np.zeros_like(x), (3, 4), k=10)
    assert result.invariant and result.steps == 1
    assert result.eigenvalues.tolist() == [0.0]


def test_circulant_conv_spectrum_is_the_dft_of_the_kernel():
    taps = [0.3, -0.7, 1.1]  # not symmetric: 48 distinct eigenvalues on an ellipse
    n = 48
    analytic = circulant_spectrum(taps, n)
    dense = np.linalg.eigvals(eigen.dense_matrix(circulant_operator(taps), (n,)))
    assert np.max(nearest_distance(dense, analytic)) < 1e-12
    result = eigen.arnoldi_eigenvalues(circulant_operator(taps), (n,), k=100, seed=1)
    assert result.steps == n and result.invariant
    assert np.max(nearest_distance(result.eigenvalues, analytic)) < 1e-10
    assert np.max(nearest_distance(analytic, result.eigenvalues)) < 1e-10


def test_symmetric_circulant_krylov_space_has_one_dimension_per_distinct_eigenvalue():
    # taps symmetric about the centre: λ_m = λ_{n−m}, so n = 32 gives 17 distinct real eigenvalues.
    taps = [0.1, -0.5, 1.0, -0.5, 0.1]  # λ(θ) = 1 − cos θ + 0.2 cos 2θ, monotonic on [0, π]
    analytic = circulant_spectrum(taps, 32)
    distinct = np.sort(analytic.real[:17])
    result = eigen.arnoldi_eigenvalues(circulant_operator(taps), (32,), k=30, seed=2)
    assert result.invariant and result.steps == 17
    np.testing.assert_allclose(np.sort(result.eigenvalues.real), distinct, atol=1e-10)
    np.testing.assert_allclose(result.eigenvalues.imag, 0.0, atol=1e-10)


# ---- power iteration --------------------------------------------------------------------------------------
def test_sign_aligned_power_iteration_finds_the_top_eigenvector_where_averaging_cancels():
    # A positive kernel makes the conv matrix positive on its support and irreducible (Perron–Frobenius):
    # the top eigenvalue is real, simple and well separated on a 5×5×4 grid.
    kernel = np.random.default_rng(4).uniform(0.5, 1.0, (3, 3, 4, 4))
    matrix = conv_matrix(kernel, 5, 5)
    values, vectors = np.linalg.eig(matrix)
    top = np.argmax(np.abs(values))
    expected = np.real(vectors[:, top]) / np.linalg.norm(np.real(vectors[:, top]))
    start = np.random.default_rng(6).normal(size=(5, 5, 4))
    initial = np.stack([start, -start, 0.5 * start, -2.0 * start])  # trials that end at +v and −v
    result = eigen.power_iteration(eigen.conv_operator(kernel, (5, 5)), (5, 5, 4), steps=200, initial=initial)
    naive = result.trial_vectors.reshape(4, -1).mean(0)
    assert np.linalg.norm(naive) < 1e-12  # what the original's plain average returns
    assert abs(abs(result.vector.ravel() @ expected) - 1.0) < 1e-12
    assert abs(result.eigenvalue - values[top].real) < 1e-9
    np.testing.assert_array_equal(result.signs, [1.0, -1.0, 1.0, -1.0])


def test_power_iteration_with_seeded_trials_and_a_negative_top_eigenvalue():
    # Symmetric 30 × 30 with eigenvalues −3 (top modulus), then |λ| ≤ 1: v flips sign every step.
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.normal(size=(30, 30)))
    spectrum = np.concatenate([[-3.0], np.linspace(-1.0, 1.0, 29)])
    matrix = q @ np.diag(spectrum) @ q.T
    result = eigen.power_iteration(eigen.matrix_operator(matrix), (30,), steps=60, trials=10, seed=3)
    assert abs(abs(result.vector @ q[:, 0]) - 1.0) < 1e-12
    assert abs(result.eigenvalue + 3.0) < 1e-12


# ---- stability ---------------------------------------------------------------------------------------------
def test_stability_criteria_on_hand_made_eigenvalues():
    # λ = 0.9 + 0.5i: Re < 1 (continuous stable); |1 − 0.2 + 0.2λ| = |0.98 + 0.1i| = 0.98509 < 1.
    s = eigen.stability([0.9 + 0.5j, 0.9 - 0.5j, -2.0], alpha=0.2)
    assert s.continuous_stable and s.euler_stable
    assert s.continuous_margin == pytest.approx(0.1, abs=1e-12)
    # |0.8 + 0.2·(−2)| = 0.4, |0.98 ± 0.1i| = √0.9704.
    assert s.euler_radius == pytest.approx(np.sqrt(0.9704), abs=1e-12)
    # λ = −11 is continuous stable but leaves the Euler disc at α = 0.2 (|0.8 − 2.2| = 1.4) ...
    s = eigen.stability([-11.0, 0.5], alpha=0.2)
    assert s.continuous_stable and not s.euler_stable
    assert s.euler_margin == pytest.approx(-0.4, abs=1e-12)
    # ... and inside it at α = 0.1 (|0.9 − 1.1| = 0.2, |0.95| for λ = 0.5).
    s = eigen.stability([-11.0, 0.5], alpha=0.1)
    assert s.euler_stable and s.euler_radius == pytest.approx(0.95, abs=1e-12)
    # Re λ = 1.2 is unstable either way: |0.8 + 0.24| = 1.04.
    s = eigen.stability([1.2], alpha=0.2)
    assert not s.continuous_stable and not s.euler_stable
    assert s.continuous_margin == pytest.approx(-0.2, abs=1e-12)
    assert s.euler_radius == pytest.approx(1.04, abs=1e-12)


# ---- the ReLU Jacobian ------------------------------------------------------------------------------------
def test_relu_jacobian_equals_a_finite_difference_jacobian():
    rng = np.random.default_rng(8)
    kernel = rng.normal(size=(3, 3, 3, 3)) / 3.0
    bias = rng.normal(size=(4, 5, 3))
    point = rng.normal(size=(4, 5, 3))
    preactivation = numpy_conv(kernel, point) + bias
    assert 0.2 < np.mean(preactivation > 0) < 0.8  # both sides of the kink are tested
    f = lambda r: np.maximum(numpy_conv(kernel, r) + bias, 0.0)  # noqa: E731
    eps = 1e-6
    columns = []
    for i in range(point.size):
        step = np.zeros(point.size)
        step[i] = eps
        step = step.reshape(point.shape)
        columns.append(((f(point + step) - f(point - step)) / (2 * eps)).ravel())
    finite_difference = np.stack(columns, axis=1)
    jacobian = eigen.dense_matrix(eigen.relu_jacobian_operator(kernel, preactivation), point.shape)
    np.testing.assert_allclose(jacobian, finite_difference, atol=1e-6, rtol=0)
    euler = eigen.dense_matrix(eigen.relu_jacobian_operator(kernel, preactivation, alpha=0.2), point.shape)
    np.testing.assert_allclose(euler, 0.8 * np.eye(point.size) + 0.2 * finite_difference, atol=1e-6, rtol=0)


def test_bad_arguments_name_the_function_and_the_argument():
    with pytest.raises(ValueError, match="arnoldi_eigenvalues: k must be a positive int"):
        eigen.arnoldi_eigenvalues(lambda x: x, (3,), k=0)
    with pytest.raises(ValueError, match="conv_operator: kernel must be"):
        eigen.conv_operator(np.zeros((3, 3, 2)), (4, 4))
    with pytest.raises(ValueError, match="relu_jacobian_operator: kernel must map C channels to C"):
        eigen.relu_jacobian_operator(np.zeros((3, 3, 2, 3)), np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="stability: alpha must be in"):
        eigen.stability([0.5], alpha=0.0)
    with pytest.raises(ValueError, match="dense_matrix: the operator must map a batch"):
        eigen.dense_matrix(lambda x: x[:1], (3,))
