"""build_network: every block, E first, unscaled; per-block lists; layouts; user blocks; bad input."""

import math

import numpy as np
import pytest
import scipy.sparse

from ndnx.connectivity import DENSE_MAX_NEURONS, Synapses, build_network, dual_task_vectors


def test_blocks_are_post_by_pre_e_first_binary_and_unscaled():
    net = build_network([300, 100], in_degree=[40, 20], seed=3)
    assert list(net) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [net[k].shape for k in net] == [(300, 300), (300, 100), (100, 300), (100, 100)]
    for (a, b), block in net.items():
        assert block.layout == "dense" and block.scale == 1.0
        assert set(np.unique(block.to_dense())) == {0.0, 1.0}
        k, n = [40, 20][b], [300, 100][b]
        # in-degree of every row is Binomial(N_B, K_B/N_B): the block mean within 5 standard errors
        assert abs(block.in_degrees().mean() - k) < 5 * math.sqrt(k * (1 - k / n) / block.shape[0])


def test_per_block_lists_are_flat_post_by_pre():
    net = build_network([400, 400], 50, con_type="all2all", profiles=["cosine", "None", "None", "cosine_dense"],
                        kappa=[0.5, 0.0, 0.0, 2.0], phase=[0, 0, 0, 90])
    delta = 2 * np.pi * (np.arange(400)[:, None] - np.arange(400)[None, :]) / 400
    np.testing.assert_allclose(net[(0, 0)].to_dense(), (1 + 0.5 * np.cos(delta)) / 400, rtol=1e-6)
    np.testing.assert_allclose(net[(0, 1)].to_dense(), np.full((400, 400), 1 / 400), rtol=1e-6)
    np.testing.assert_allclose(net[(1, 1)].to_dense(), (1 + 2 * np.cos(delta - np.pi / 2)) / 20, rtol=1e-6, atol=1e-7)


def test_all_to_all_uses_k_equal_to_one():
    # weak cosine divides κ by √K_B; all-to-all networks force K = 1, whatever in_degree says
    net = build_network([100, 100], 400, con_type="all2all", profiles="cosine_spec", kappa=0.6)
    delta = 2 * np.pi * (np.arange(100)[:, None] - np.arange(100)[None, :]) / 100
    np.testing.assert_allclose(net[(1, 0)].to_dense(), (1 + 0.6 * np.cos(delta)) / 100, rtol=1e-6)


def test_low_rank_blocks_take_the_dual_task_vectors():
    xi = dual_task_vectors(500, seed=2)
    net = build_network([500, 125], 100, profiles=["lr", "None", "None", "None"], kappa=[5.0, 0, 0, 0],
                        low_rank_vectors=xi, seed=2, layout="ell")
    c = net[(0, 0)].to_dense().astype("float64")
    p = np.clip(100 / 500 * (1 + 5.0 * (np.outer(xi[0], xi[1]) + np.outer(xi[2], xi[3])) / 10.0), 0, 1)
    w = np.outer(xi[0], xi[1])
    mean, sd = (w * p).sum(), math.sqrt((w ** 2 * p * (1 - p)).sum())
    assert abs((w * c).sum() - mean) < 5 * sd
    by_dict = build_network([500, 125], 100, profiles=["lr", "None", "None", "None"], kappa=[5.0, 0, 0, 0],
                            low_rank_vectors={(0, 0): xi}, seed=2, layout="ell")
    np.testing.assert_array_equal(by_dict[(0, 0)].indices, net[(0, 0)].indices)


def test_layout_auto_dense_for_small_networks_and_ell_above():
    small = build_network([DENSE_MAX_NEURONS - 500, 500], 20, seed=0)
    large = build_network([DENSE_MAX_NEURONS - 499, 500], 20, seed=0)
    assert {b.layout for b in small.values()} == {"dense"} and {b.layout for b in large.values()} == {"ell"}
    forced = build_network([DENSE_MAX_NEURONS - 500, 500], 20, seed=0, layout="ell")
    for key in small:
        np.testing.assert_array_equal(forced[key].to_dense(), small[key].to_dense())


def test_user_blocks_replace_generated_ones():
    rng = np.random.default_rng(0)
    w_ee = (rng.random((30, 30)) < 0.2) * rng.random((30, 30))
    rows, cols = np.nonzero(w_ee[:10, :30])
    w_ie = scipy.sparse.random(10, 30, density=0.3, random_state=1)
    net = build_network([30, 10], 5, seed=1, layout="ell",
                        blocks={(0, 0): w_ee, (0, 1): Synapses.from_dense(np.full((30, 10), 2.0)),
                                (1, 0): w_ie, (1, 1): (np.array([0, 9]), np.array([1, 2]), np.array([0.5, -2.0]))})
    np.testing.assert_allclose(net[(0, 0)].to_dense(), w_ee, rtol=1e-6)
    assert net[(0, 0)].layout == "ell"
    np.testing.assert_array_equal(net[(0, 1)].to_dense(), np.full((30, 10), 2.0))
    assert {block.scale for block in net.values()} == {1.0}  # weights as given, the scale folded in
    np.testing.assert_allclose(net[(1, 0)].to_dense(), w_ie.toarray(), rtol=1e-6)
    expected = np.zeros((10, 10))
    expected[0, 1], expected[9, 2] = 0.5, -2.0
    np.testing.assert_array_equal(net[(1, 1)].to_dense(), expected)


@pytest.mark.parametrize("kwargs, message", [
    (dict(con_type="dense"), "con_type must be 'sparse', 'fixed_k' or contain 'all2all', got 'dense'"),
    (dict(profiles="ring"), "unknown profile 'ring'"),
    (dict(profiles=["cosine", "None"]), "profiles must be one value or a flat post×pre list of 4"),
    (dict(kappa=[1.0, 0.0, 0.0]), "kappa must be one value or a flat post×pre list of 4"),
    (dict(kappa=[1.0, np.nan, 0.0, 0.0]), "kappa must be finite"),
    (dict(in_degree=[10, 10, 10]), "in_degree must be one K or one per population (2)"),
    (dict(in_degree=0), "in_degree[0] must be > 0"),
    (dict(layout="csr"), "layout must be 'auto', 'dense' or 'ell'"),
    (dict(sizes=[40, 0]), "sizes[1] must be a positive int"),
    (dict(seed=-1), "non-negative ints"),
    (dict(profiles=["lr", "None", "None", "None"]), "block (0, 0) has the 'lr' profile but low_rank_vectors"),
    (dict(profiles=["lr", "None", "None", "None"], low_rank_vectors=np.ones((4, 10))), "u (R, 40)"),
    (dict(blocks={(0, 1): np.ones((10, 40))}), "blocks[(0, 1)] must have shape (40, 10) (post × pre), got (10, 40)"),
    (dict(blocks={(0, 0): np.full((40, 40), np.inf)}), "blocks[(0, 0)] has non-finite entries"),
    (dict(blocks={(1, 1): ([0], [0], [np.nan])}), "blocks[(1, 1)] has non-finite values"),
    (dict(blocks={(1, 1): scipy.sparse.eye(11)}), "blocks[(1, 1)] must have shape (10, 10)"),
    (dict(blocks={(2, 0): np.ones((1, 1))}), "blocks has the key (2, 0)"),
    (dict(blocks={(0, 0): "connectome.h5"}), "must be a Synapses, a 2-D array"),
])
def test_bad_input_is_refused_in_one_line(kwargs, message):
    args = dict(sizes=[40, 10], in_degree=5, seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError) as err:
        build_network(**args)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)
