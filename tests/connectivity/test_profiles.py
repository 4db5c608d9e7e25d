"""Probability profiles against their formulas (specs/ei_networks_neuroflame.md §2), evaluated here in NumPy."""

import math

import numpy as np
import pytest
from scipy import special

from ndnx.connectivity import ProbabilityProfile, profile_kind

N_POST, N_PRE = 30, 45
THETA = 2 * np.pi * np.arange(N_POST)[:, None] / N_POST   # θ_i
PHI = 2 * np.pi * np.arange(N_PRE)[None, :] / N_PRE       # φ_j


def rows_of(profile, chunk):
    """The whole block, assembled from row chunks of the given size."""
    return np.concatenate([profile((s, min(s + chunk, N_POST))) for s in range(0, N_POST, chunk)])


@pytest.mark.parametrize("name, kwargs, formula", [
    ("None", {}, lambda: np.ones((N_POST, N_PRE))),
    ("", {}, lambda: np.ones((N_POST, N_PRE))),
    ("cosine", dict(kappa=0.8, phase=30.0), lambda: 1 + 0.8 * np.cos(THETA - PHI - np.pi / 6)),
    ("cos_dense", dict(kappa=-0.4), lambda: 1 - 0.4 * np.cos(THETA - PHI)),
    ("cosine_spec", dict(kappa=3.0, in_degree=400.0, phase=90.0), lambda: 1 + 3.0 / 20.0 * np.cos(THETA - PHI)),
    ("von_mises", dict(kappa=2.5), lambda: np.exp(2.5 * np.cos(THETA - PHI)) / (2 * np.pi * special.iv(0, 2.5))),
    ("von_mises_dense", dict(kappa=-1.0), lambda: np.exp(-np.cos(THETA - PHI)) / (2 * np.pi * special.iv(0, 1.0))),
])
def test_ring_profiles_follow_their_formulas(name, kwargs, formula):
    profile = ProbabilityProfile.from_name(name, N_POST, N_PRE, **kwargs)
    expected = formula()
    np.testing.assert_allclose(rows_of(profile, 7), expected, rtol=1e-12, atol=1e-12)
    i, j = np.array([0, 5, 29]), np.array([44, 0, 17])
    np.testing.assert_allclose(profile.at(i, j), expected[i, j], rtol=1e-12)
    assert profile.bound() >= expected.max() - 1e-12


def test_von_mises_rows_average_one_over_two_pi():
    # (1/N) Σ_j exp(κ cos(θ − 2πj/N)) = I0(κ) + O(I_N(κ)): every row averages 1/(2π)
    profile = ProbabilityProfile("von_mises", 8, 200, kappa=4.0)
    np.testing.assert_allclose(profile((0, 8)).mean(axis=1), 1 / (2 * np.pi), rtol=1e-12)
    assert profile.bound() == pytest.approx(np.exp(4.0) / (2 * np.pi * special.iv(0, 4.0)), rel=1e-12)


def test_low_rank_profiles_four_vectors_general_rank_and_pairs():
    rng = np.random.default_rng(1)
    xi = rng.normal(size=(4, N_POST))
    square = ProbabilityProfile.from_name("lr", N_POST, N_POST, kappa=2.0, in_degree=100.0, vectors=xi)
    expected = 1 + 2.0 * (np.outer(xi[0], xi[1]) + np.outer(xi[2], xi[3])) / 10.0
    np.testing.assert_allclose(rows_of(square, 4)[:, :N_POST], expected, rtol=1e-12)
    np.testing.assert_allclose(square.at(3, 7), expected[3, 7], rtol=1e-12)
    assert square.bound() >= expected.max()
    rank3 = rng.normal(size=(3, N_POST))
    symmetric = ProbabilityProfile("low_rank", N_POST, N_POST, kappa=-1.0, in_degree=4.0, vectors=rank3)
    np.testing.assert_allclose(symmetric((0, N_POST)), 1 - rank3.T @ rank3 / 2.0, rtol=1e-12)
    u, v = rng.normal(size=(2, N_POST)), rng.normal(size=(2, N_PRE))
    pair = ProbabilityProfile("low_rank", N_POST, N_PRE, kappa=1.0, vectors=(u, v))
    np.testing.assert_allclose(pair((5, 9)), 1 + u[:, 5:9].T @ v, rtol=1e-12)


def test_gaussian_profile_is_seeded_and_independent_of_the_row_slicing():
    profile = ProbabilityProfile("gaussian", 300, 500, seed=(4, 0, 1))
    whole = profile((0, 300))
    np.testing.assert_array_equal(rows_of(ProbabilityProfile("gaussian", 300, 500, seed=(4, 0, 1)), 37)[:30],
                                  whole[:30])
    np.testing.assert_array_equal(np.concatenate([profile((0, 131)), profile((131, 300))]), whole)
    assert not np.array_equal(ProbabilityProfile("gaussian", 300, 500, seed=(5, 0, 1))((0, 300)), whole)
    # N(0, 1): mean and variance of 1.5·10⁵ draws within 5 standard errors
    n = whole.size
    assert abs(whole.mean()) < 5 / math.sqrt(n)
    assert abs(whole.var() - 1) < 5 * math.sqrt(2 / n)
    with pytest.raises(ValueError, match="no closed form"):
        profile.at(0, 0)


def test_profile_names_follow_neuroflame():
    assert [profile_kind(n) for n in (None, "None", "", "uniform", "cosine", "cos", "cosine_spec", "spec_cos",
                                      "lr", "von_mises", "gaussian", "gaussian_dense", "None_dense")] == [
        "uniform", "uniform", "uniform", "uniform", "cosine", "cosine", "weak_cosine", "weak_cosine",
        "low_rank", "von_mises", "gaussian", "gaussian", "uniform"]
    assert profile_kind("lr_dense", strict=False) == "uniform"  # 'lr' is an exact match in NeuroFlame
    assert profile_kind("ring", strict=False) == "uniform"


@pytest.mark.parametrize("make, message", [
    (lambda: profile_kind("vonmises"), "unknown profile 'vonmises'"),
    (lambda: profile_kind("lr_dense"), "unknown profile 'lr_dense'"),
    (lambda: profile_kind(3), "must be a string or None"),
    (lambda: ProbabilityProfile("ring", 3, 3), "kind must be one of"),
    (lambda: ProbabilityProfile("cosine", 0, 3), "n_post must be a positive int"),
    (lambda: ProbabilityProfile("cosine", 3, 3, kappa=np.nan), "must be finite"),
    (lambda: ProbabilityProfile("low_rank", 3, 3), "needs low-rank vectors"),
    (lambda: ProbabilityProfile("low_rank", 3, 4, vectors=np.ones((4, 3))), "v (R, 4)"),
    (lambda: ProbabilityProfile("low_rank", 3, 3, vectors=np.full((2, 3), np.inf)), "non-finite"),
    (lambda: ProbabilityProfile("cosine", 3, 3)((2, 5)), "outside [0, 3)"),
])
def test_bad_profiles_are_refused_in_one_line(make, message):
    with pytest.raises(ValueError) as err:
        make()
    assert message in str(err.value) and "\n" not in str(err.value)
