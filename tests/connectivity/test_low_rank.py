"""The dual task's low-rank vectors (Hopfield-like and correlated branches) and odor vectors (spec §2)."""

import math

import numpy as np
import pytest

from ndnx.connectivity import DEFAULT_LR_COV, dual_task_vectors, low_rank_vectors, odor_vectors

Z = 5.0


def assert_covariance_within_sampling_error(samples, mean, cov):
    """Sample mean and covariance of n MVN draws: each entry within Z standard errors.

    Var(sample cov_ij) = (σ_ii σ_jj + σ_ij²)/(n − 1) for a normal sample.
    """
    n = samples.shape[1]
    cov = np.asarray(cov, dtype="float64")
    se_mean = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(samples.mean(axis=1) - mean) < Z * se_mean + 1e-12)
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / (n - 1))
    assert np.all(np.abs(np.cov(samples) - cov) < Z * se_cov), np.cov(samples)


def test_correlated_branch_has_the_default_pairwise_covariance():
    xi = dual_task_vectors(20000, seed=1)
    assert xi.shape == (4, 20000)
    assert np.allclose(DEFAULT_LR_COV, [[1, .9, 0, 0], [.9, 1, 0, 0], [0, 0, 1, .9], [0, 0, .9, 1]])
    assert_covariance_within_sampling_error(xi, np.zeros(4), DEFAULT_LR_COV)


def test_correlated_branch_with_a_given_mean_and_covariance():
    mean = [1.0, -1.0, 0.5, 0.0]
    cov = [[2.0, 0.5, 0.3, 0.0], [0.5, 1.0, 0.0, 0.2], [0.3, 0.0, 1.5, -0.6], [0.0, 0.2, -0.6, 1.0]]
    assert_covariance_within_sampling_error(dual_task_vectors(20000, mean, cov, seed=4), np.array(mean), cov)


def test_hopfield_branch_draws_two_vectors_and_repeats_them():
    cov = [[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 4.0, 4.0]]
    xi = dual_task_vectors(20000, [0.0, 0.0, 2.0, 2.0], cov, seed=3)
    np.testing.assert_array_equal(xi[0], xi[1])
    np.testing.assert_array_equal(xi[2], xi[3])
    # the two drawn vectors: components 0 and 2 of the MVN, independent here
    assert_covariance_within_sampling_error(xi[[0, 2]], np.array([0.0, 2.0]), [[1.0, 0.0], [0.0, 4.0]])


def test_vectors_are_seeded():
    np.testing.assert_array_equal(dual_task_vectors(50, seed=7), dual_task_vectors(50, seed=7))
    assert not np.array_equal(dual_task_vectors(50, seed=7), dual_task_vectors(50, seed=8))
    assert low_rank_vectors(30, [0, 0, 0], np.eye(3), seed=2).shape == (3, 30)


def test_odor_vectors_are_standard_normal_with_odor_two_a_copy_of_odor_one():
    odors = odor_vectors(10000, seed=5)
    assert odors.shape == (10, 10000)
    np.testing.assert_array_equal(odors[2], odors[1])
    assert not np.array_equal(odors[3], odors[1])
    distinct = odors[[0, 1, 3, 4, 5, 6, 7, 8, 9]].ravel()
    assert abs(distinct.mean()) < Z / math.sqrt(distinct.size)
    assert abs(distinct.var() - 1) < Z * math.sqrt(2 / distinct.size)
    assert not np.array_equal(odor_vectors(100, seed=5)[0], dual_task_vectors(100, seed=5)[0][:100])


@pytest.mark.parametrize("make, message", [
    (lambda: dual_task_vectors(0), "n must be a positive int"),
    (lambda: dual_task_vectors(10, [0, 0], np.eye(2)), "lr_mean must have 4 entries"),
    (lambda: dual_task_vectors(10, [0, 0, 0, 0], np.eye(3)), "lr_mean must be a vector (R,) and lr_cov a matrix (R, R)"),
    (lambda: dual_task_vectors(10, [0, 0, 0, 0], [[1, 2, 0, 0], [2, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]),
     "positive semi-definite"),
    (lambda: dual_task_vectors(10, [0, 0, 0, 0], np.triu(np.ones((4, 4)))), "symmetric"),
    (lambda: low_rank_vectors(10, [np.nan], [[1.0]]), "finite"),
    (lambda: odor_vectors(10, count=2), "count must be an int ≥ 3"),
    (lambda: odor_vectors(10, seed=-2), "non-negative ints"),
])
def test_bad_input_is_refused_in_one_line(make, message):
    with pytest.raises(ValueError) as err:
        make()
    assert message in str(err.value) and "\n" not in str(err.value)
