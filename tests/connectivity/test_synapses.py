"""Synapses and synaptic_drive: the dense and ELL layouts give one drive, eager, in graphs and under XLA."""

import numpy as np
import pytest
import scipy.sparse
import tensorflow as tf

import ndnx  # noqa: F401  (quiet TensorFlow)
from ndnx.connectivity import Synapses, synaptic_drive

RNG = np.random.default_rng(0)


def random_block(n_post, n_pre, density, valued):
    mask = RNG.random((n_post, n_pre)) < density
    mask[3] = False  # an empty row
    return mask * (RNG.normal(size=(n_post, n_pre)) if valued else 1.0)


def drive(syn, x, scale, mode):
    tensors = {k: tf.constant(v) for k, v in syn.tensors().items()}
    fn = lambda x: synaptic_drive(x, tensors, scale)  # noqa: E731
    if mode != "eager":
        fn = tf.function(fn, jit_compile=(mode == "xla"))
    return fn(tf.constant(x)).numpy()


# "valued" is slow for the E/I family budget; the ELL values path stays in the fast tests below
@pytest.mark.parametrize("valued", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["binary", "valued"])
def test_dense_and_ell_drives_match_the_numpy_product(valued):
    w = random_block(61, 83, 0.15, valued)
    dense = Synapses.from_dense(w)
    ell = dense.with_layout("ell")
    assert ell.layout == "ell" and (ell.values is None) == (not valued)
    for batch in [(1,), (10,), (2, 3)]:  # one vector, a batch, (batch, replicas)
        x = RNG.random(batch + (83,)).astype("float32")
        expected = 0.7 * x.astype("float64") @ w.T
        by_ell = drive(ell, x, 0.7, "xla")
        np.testing.assert_allclose(by_ell, expected, rtol=0, atol=1e-5)
        np.testing.assert_allclose(by_ell, drive(dense, x, 0.7, "xla"), rtol=0, atol=1e-6)
        np.testing.assert_allclose(drive(ell, x, 0.7, "eager"), expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(drive(ell, x, 0.7, "graph"), expected, rtol=0, atol=1e-5)


@pytest.mark.slow  # family budget
def test_the_ell_drive_back_propagates_as_the_matrix_product():
    w = random_block(29, 41, 0.3, valued=True)
    x = tf.constant(RNG.random((4, 41)).astype("float32"))
    tensors = {k: tf.constant(v) for k, v in Synapses.from_dense(w).with_layout("ell").tensors().items()}

    @tf.function(jit_compile=True)
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(synaptic_drive(x, tensors, 2.0) ** 2)
        return tape.gradient(loss, x)

    d = 2.0 * x.numpy().astype("float64") @ w.T
    np.testing.assert_allclose(gradient(x).numpy(), 2.0 * d @ (2.0 * w), rtol=1e-5, atol=1e-5)


def test_round_trips_between_constructors_and_layouts():
    w = random_block(20, 30, 0.2, valued=True)
    rows, cols = np.nonzero(w)
    coo = Synapses.from_sparse(rows, cols, w[rows, cols], (20, 30), scale=1.5)
    np.testing.assert_allclose(coo.to_dense(), 1.5 * w, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(coo.with_layout("dense").to_dense(), coo.to_dense())
    np.testing.assert_array_equal(coo.with_layout("dense").with_layout("ell").to_dense(), coo.to_dense())
    rows_of = [np.flatnonzero(r) for r in w]
    by_rows = Synapses.from_rows(rows_of, 30, values=[r[i] for r, i in zip(w, rows_of)])
    np.testing.assert_array_equal(by_rows.to_dense(), w.astype("float32"))
    assert by_rows.k_max == max(len(r) for r in rows_of)
    np.testing.assert_array_equal(by_rows.in_degrees(), [len(r) for r in rows_of])
    np.testing.assert_array_equal(Synapses.from_dense(w).in_degrees(), [len(r) for r in rows_of])
    # duplicates of COO triplets add up, as in scipy.sparse
    dup = Synapses.from_sparse([0, 0, 1], [2, 2, 0], [1.0, 2.5, 4.0], (2, 3))
    np.testing.assert_array_equal(dup.to_dense(), scipy.sparse.coo_matrix(([1.0, 2.5, 4.0], ([0, 0, 1], [2, 2, 0])),
                                                                           shape=(2, 3)).toarray())


def test_binary_blocks_keep_no_values_and_ell_tensors_are_transposed():
    w = random_block(10, 12, 0.4, valued=False) * 3.0  # one weight value: binary times a scale
    ell = Synapses.from_dense(w).with_layout("ell")
    assert ell.values is None and ell.scale == 3.0
    tensors = ell.tensors()
    assert set(tensors) == {"columns"} and tensors["columns"].shape == (ell.k_max, 10)
    np.testing.assert_array_equal(tensors["columns"], ell.indices.T)
    assert Synapses.from_dense(w).tensors()["kernel"].shape == (12, 10)


@pytest.mark.parametrize("make, message", [
    (lambda: Synapses((2, 3), "csr"), "layout must be one of"),
    (lambda: Synapses.from_dense([[1.0, np.nan]]), "non-finite"),
    (lambda: Synapses.from_rows([[0, 3]], n_pre=3), "outside [0, 3)"),
    (lambda: Synapses.from_sparse([0], [5], [1.0], (2, 3)), "outside the shape"),
    (lambda: Synapses((1, 3), "ell", indices=[[0, 1]], values=[[1.0, np.inf]]), "non-finite"),
])
def test_bad_blocks_are_refused_in_one_line(make, message):
    with pytest.raises(ValueError, match=None) as err:
        make()
    assert message in str(err.value) and "\n" not in str(err.value)
