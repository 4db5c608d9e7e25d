"""Connection rules: Bernoulli, fixed in-degree and all-to-all blocks against their distributions.

Every bound below is computed from the distribution the rule must follow (binomial, Bernoulli sums,
successive sampling), in NumPy, never from the code's output; 5 standard deviations (a false alarm
about once in 3.5 million runs; every block has a fixed seed, so a run is reproducible anyway).
"""

import math

import numpy as np
import pytest
from scipy import stats

from ndnx.connectivity import ProbabilityProfile, all_to_all_block, fixed_indegree_block, sparse_block

Z = 5.0


def angles(n_post, n_pre):
    return 2 * np.pi * np.arange(n_post)[:, None] / n_post - 2 * np.pi * np.arange(n_pre)[None, :] / n_pre


def dense(block):
    return block.to_dense().astype("float64")


def assert_sum_of_bernoullis(observed, p, weights=None, what=""):
    """observed = Σ w_ij C_ij with C_ij ~ Bernoulli(p_ij) independent: within Z standard deviations."""
    w = np.ones_like(p) if weights is None else weights
    mean, sd = float((w * p).sum()), math.sqrt(float((w ** 2 * p * (1 - p)).sum()))
    assert abs(observed - mean) < Z * sd, f"{what}: {observed:.2f} vs {mean:.2f} ± {sd:.2f}"


def assert_binomial_sample(samples, n, p, what):
    """Independent Binomial(n, p) samples: their mean and (ddof=1) variance within Z standard errors."""
    m = len(samples)
    var = n * p * (1 - p)
    mu4 = var * (1 + 3 * (n - 2) * p * (1 - p))                  # the binomial's fourth central moment
    assert abs(samples.mean() - n * p) < Z * math.sqrt(var / m), f"{what}: mean {samples.mean()} vs {n * p}"
    sd_var = math.sqrt((mu4 - var ** 2 * (m - 3) / (m - 1)) / m)
    assert abs(samples.var(ddof=1) - var) < Z * sd_var, f"{what}: variance {samples.var(ddof=1)} vs {var}"


def test_uniform_bernoulli_in_degrees_are_binomial():
    n_post, n_pre, k = 2000, 1000, 100
    c = sparse_block(ProbabilityProfile("uniform", n_post, n_pre), k, seed=(11, 0, 0))
    assert set(np.unique(dense(c))) == {0.0, 1.0}
    assert_binomial_sample(c.in_degrees().astype("float64"), n_pre, k / n_pre, "in-degrees")   # B(1000, 0.1)
    assert_binomial_sample(dense(c).sum(axis=0), n_post, k / n_pre, "out-degrees")            # B(2000, 0.1)


def test_cosine_bernoulli_follows_the_clipped_profile():
    n_post, n_pre, k, kappa = 600, 800, 200, 3.0           # K/N·(1 + 3 cos) leaves [0, 1] on both sides
    delta = angles(n_post, n_pre) - np.deg2rad(45.0)
    p = np.clip(k / n_pre * (1 + kappa * np.cos(delta)), 0, 1)
    c = dense(sparse_block(ProbabilityProfile("cosine", n_post, n_pre, kappa=kappa, phase=45.0), k, seed=(2, 0, 0)))
    assert_sum_of_bernoullis(c.sum(), p, what="synapses")
    assert_sum_of_bernoullis((c * np.cos(delta)).sum(), p, np.cos(delta), what="first Fourier mode")
    assert_sum_of_bernoullis((c * np.sin(delta)).sum(), p, np.sin(delta), what="its sine part")
    assert not c[p == 0].any() and c[p == 1].all()


def test_low_rank_and_von_mises_bernoulli():
    rng = np.random.default_rng(3)
    xi = rng.normal(size=(4, 500))
    profile = ProbabilityProfile("low_rank", 500, 500, kappa=4.0, in_degree=50.0, vectors=xi)
    p = np.clip(50 / 500 * (1 + 4.0 * (np.outer(xi[0], xi[1]) + np.outer(xi[2], xi[3])) / math.sqrt(50)), 0, 1)
    c = dense(sparse_block(profile, 50, seed=(0, 0, 0)))
    assert_sum_of_bernoullis(c.sum(), p, what="synapses")
    assert_sum_of_bernoullis((c * np.outer(xi[0], xi[1])).sum(), p, np.outer(xi[0], xi[1]), what="ξ0 ξ1 overlap")
    # von Mises: ⟨P⟩ = 1/(2π), so the mean in-degree is K/(2π)
    vm = ProbabilityProfile("von_mises", 500, 1000, kappa=2.0)
    p = 100 / 1000 * np.exp(2.0 * np.cos(angles(500, 1000))) / (2 * np.pi * np.i0(2.0))
    c = dense(sparse_block(vm, 100, seed=(0, 1, 1)))
    assert_sum_of_bernoullis(c.sum(), p, what="von Mises synapses")
    assert abs(p.sum() / 500 - 100 / (2 * np.pi)) < 1e-9


def test_gaussian_bernoulli_is_bernoulli_of_the_expected_clipped_gaussian():
    # P ~ N(0, 1) iid, C ~ Bernoulli(clip(cP, 0, 1)): every entry is Bernoulli(q) with
    # q = E[clip(cZ, 0, 1)] = c(φ(0) − φ(1/c)) + 1 − Φ(1/c)
    n_post, n_pre, k = 400, 600, 200
    c = k / n_pre
    q = c * (stats.norm.pdf(0) - stats.norm.pdf(1 / c)) + stats.norm.sf(1 / c)
    block = dense(sparse_block(ProbabilityProfile("gaussian", n_post, n_pre, seed=(9, 0, 0)), k, seed=(9, 0, 0)))
    assert_sum_of_bernoullis(block.sum(), np.full((n_post, n_pre), q), what="synapses")


def test_the_spec_coo_example_size():
    # §2: N = 10⁴ (8000 E + 2000 I), K = 10³ per population: nnz 2K per row (NeuroFlame drew 19,997,007)
    sizes, k, nnz, p_all = (8000, 2000), 1000, 0, []
    for a, n_post in enumerate(sizes):
        for b, n_pre in enumerate(sizes):
            nnz += sparse_block(ProbabilityProfile("uniform", n_post, n_pre), k, seed=(1, a, b)).nnz
            p_all.append((n_post * n_pre, k / n_pre))
    mean = sum(n * p for n, p in p_all)
    sd = math.sqrt(sum(n * p * (1 - p) for n, p in p_all))
    assert mean == 2e7 and abs(19_997_007 - mean) < Z * sd
    assert abs(nnz - mean) < Z * sd


def test_fixed_in_degree_rows_have_exactly_k_distinct_partners_uniformly():
    for n_pre, k in ((1000, 30), (100, 60)):  # redraw-duplicates path and permutation path
        n_post = 3000
        c = fixed_indegree_block(ProbabilityProfile("uniform", n_post, n_pre), k, seed=(5, 0, 0))
        assert np.all(c.in_degrees() == k) and c.k_max == k
        assert np.all(np.diff(c.indices, axis=1) > 0)          # sorted, distinct
        # Σ_j X_j² = n_post·K + 2 Σ_{i<i'} |R_i ∩ R_i'| for column counts X_j and row sets R_i; for
        # uniform K-subsets each overlap is hypergeometric (mean K²/n, variance K²(n−K)²/(n²(n−1)))
        # and the overlaps are pairwise uncorrelated
        counts = dense(c).sum(axis=0)
        overlaps = ((counts ** 2).sum() - n_post * k) / 2
        pairs = n_post * (n_post - 1) / 2
        mean, var = pairs * k ** 2 / n_pre, pairs * k ** 2 * (n_pre - k) ** 2 / (n_pre ** 2 * (n_pre - 1))
        assert abs(overlaps - mean) < Z * math.sqrt(var), f"{overlaps} vs {mean} ± {math.sqrt(var)}"


def test_fixed_in_degree_is_successive_sampling_proportional_to_the_clipped_profile():
    n_post, n_pre = 3000, 40
    delta = angles(n_post, n_pre)
    profile = ProbabilityProfile("cosine", n_post, n_pre, kappa=0.9)
    w = 1 + 0.9 * np.cos(delta)
    s = w.sum(axis=1, keepdims=True)
    # K = 1: P(j) = w_j/S
    one = dense(fixed_indegree_block(profile, 1, seed=(0, 0, 0)))
    assert_sum_of_bernoullis((one * np.cos(delta)).sum(), w / s, np.cos(delta), what="K=1 first mode")
    # K = 2: P(j chosen) = w_j/S + Σ_{k≠j} (w_k/S)·w_j/(S − w_k)
    two = dense(fixed_indegree_block(profile, 2, seed=(0, 0, 0)))
    first = w / s
    inclusion = first + w * ((first / (s - w)).sum(axis=1, keepdims=True) - first / (s - w))
    assert np.allclose(inclusion.sum(axis=1), 2)
    stat = (two * np.cos(delta)).sum()
    # (Σ_{chosen} cos)² ≤ 2 Σ_{chosen} cos², so each row's variance is below 2 Σ_j π_j cos²
    bound = Z * math.sqrt(2 * (inclusion * np.cos(delta) ** 2).sum())
    assert abs(stat - (inclusion * np.cos(delta)).sum()) < bound
    # clip(P, 0, ∞): no partner where 1 + 3 cos < 0
    strong = ProbabilityProfile("cosine", 200, 90, kappa=3.0)
    chosen = dense(fixed_indegree_block(strong, 20, seed=(1, 0, 0)))
    assert not chosen[1 + 3 * np.cos(angles(200, 90)) <= 0].any() and np.all(chosen.sum(axis=1) == 20)


@pytest.mark.parametrize("rule, profile", [
    ("sparse", ProbabilityProfile("uniform", 700, 300)),
    ("sparse", ProbabilityProfile("cosine", 700, 300, kappa=0.7)),
    ("sparse", ProbabilityProfile("gaussian", 700, 300, seed=(3, 0, 1))),
    ("fixed", ProbabilityProfile("uniform", 700, 300)),
    ("fixed", ProbabilityProfile("uniform", 700, 90)),
    ("fixed", ProbabilityProfile("von_mises", 700, 300, kappa=1.0)),
    ("all2all", ProbabilityProfile("gaussian", 700, 300, seed=(3, 0, 1))),
], ids=["sparse-uniform", "sparse-cosine", "sparse-gaussian", "fixed-uniform", "fixed-permutation",
        "fixed-weighted", "all2all-gaussian"])
def test_one_seed_gives_one_block_whatever_the_layout_and_chunk_size(rule, profile):
    def build(layout, chunk_bytes, seed=(3, 0, 1)):
        if rule == "all2all":
            return all_to_all_block(profile, layout=layout, chunk_bytes=chunk_bytes)
        make = sparse_block if rule == "sparse" else fixed_indegree_block
        return make(profile, 30, seed, layout=layout, chunk_bytes=chunk_bytes)

    reference = build("ell", 64 * 2 ** 20)
    assert reference.layout == "ell" and reference.nnz > 0
    for layout, chunk_bytes in (("dense", 1), ("ell", 1), ("ell", 50_000), ("dense", 64 * 2 ** 20)):
        other = build(layout, chunk_bytes)
        assert other.layout == layout
        np.testing.assert_array_equal(other.to_dense(), reference.to_dense())
    if rule != "all2all":
        assert not np.array_equal(build("ell", 64 * 2 ** 20, seed=(4, 0, 1)).to_dense(), reference.to_dense())


def test_all_to_all_normalisations():
    profile = ProbabilityProfile("cosine", 40, 50, kappa=0.5)
    p = 1 + 0.5 * np.cos(angles(40, 50))
    np.testing.assert_allclose(dense(all_to_all_block(profile)), p / 50, rtol=1e-6)
    np.testing.assert_allclose(dense(all_to_all_block(profile, sqrt_normalised=True, layout="ell")),
                               p / math.sqrt(50), rtol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: sparse_block(ProbabilityProfile("uniform", 5, 5), -1, seed=0), "in_degree must be finite and ≥ 0"),
    (lambda: sparse_block(ProbabilityProfile("uniform", 5, 5), 1, seed=-3), "non-negative ints"),
    (lambda: sparse_block(ProbabilityProfile("uniform", 5, 5), 1, seed=0, layout="csr"), "layout must be one of"),
    (lambda: sparse_block("uniform", 1, seed=0), "profile must be a ProbabilityProfile"),
    (lambda: fixed_indegree_block(ProbabilityProfile("uniform", 5, 5), 2.5, seed=0), "an integer in [0, n_pre = 5]"),
    (lambda: fixed_indegree_block(ProbabilityProfile("uniform", 5, 5), 6, seed=0), "an integer in [0, n_pre = 5]"),
    (lambda: fixed_indegree_block(ProbabilityProfile("cosine", 5, 40, kappa=3.0), 30, seed=0),
     "fewer than in_degree = 30"),
    (lambda: sparse_block(ProbabilityProfile("uniform", 5, 5), 1, seed=0, chunk_bytes=0), "chunk_bytes"),
])
def test_bad_rule_arguments_are_refused_in_one_line(make, message):
    with pytest.raises(ValueError) as err:
        make()
    assert message in str(err.value) and "\n" not in str(err.value)
