"""Narrow (uint16) ELL columns and the drive split over row ranges give the matrix product."""

import numpy as np
import pytest
import tensorflow as tf

import ndnx  # noqa: F401  (quiet TensorFlow)
from ndnx.connectivity import Synapses, narrow_columns, synaptic_drive
from ndnx.connectivity.parallel_drive import parallel_drives, split_rows

RNG = np.random.default_rng(1)


def random_block(n_post, n_pre, density, valued):
    mask = RNG.random((n_post, n_pre)) < density
    mask[2] = False  # an empty row
    return mask * (RNG.normal(size=(n_post, n_pre)) if valued else 1.0)


@pytest.mark.parametrize("valued", [False, True], ids=["binary", "valued"])
def test_narrow_columns_drive_is_the_numpy_product(valued):
    w = random_block(37, 53, 0.2, valued)
    tensors = narrow_columns({k: tf.constant(v) for k, v in Synapses.from_dense(w).with_layout("ell").tensors().items()},
                             53)
    assert tensors["columns"].dtype == tf.uint16
    compiled = tf.function(lambda x: synaptic_drive(x, tensors, 0.3), jit_compile=True)
    for batch in (1, 7):  # the clamp-free single-vector gather and the padded batch
        x = RNG.random((batch, 53)).astype("float32")
        expected = 0.3 * x.astype("float64") @ w.T
        np.testing.assert_allclose(compiled(tf.constant(x)).numpy(), expected, rtol=0, atol=1e-5)
        np.testing.assert_allclose(synaptic_drive(x, tensors, 0.3).numpy(), expected, rtol=0, atol=1e-5)


def test_narrow_columns_leaves_large_and_dense_blocks_alone():
    wide = {"columns": tf.zeros((2, 3), tf.int32)}
    assert narrow_columns(wide, 2 ** 16) is wide
    dense = {"kernel": tf.zeros((3, 2))}
    assert narrow_columns(dense, 3) is dense


@pytest.mark.parametrize("parts", [2, 3])
def test_parallel_drives_are_the_numpy_products(parts):
    blocks = [random_block(41, 30, 0.25, False), random_block(19, 30, 0.3, True), random_block(41, 12, 0.4, False)]
    scales = [0.5, -1.5, tf.constant([[2.0], [0.25]])]  # the last one per batch element
    tensors = [narrow_columns(Synapses.from_dense(w).with_layout("ell").tensors(), w.shape[1]) for w in blocks]
    xs = [RNG.random((2, w.shape[1])).astype("float32") for w in blocks]
    out = parallel_drives(xs, [split_rows(t, parts) for t in tensors], scales)
    for d, x, w, s in zip(out, xs, blocks, scales):
        expected = np.asarray(s, "float64") * (x.astype("float64") @ w.T)
        np.testing.assert_allclose(d.numpy(), expected, rtol=0, atol=1e-5)


def test_split_rows_cuts_every_tensor_at_the_same_rows():
    w = random_block(10, 6, 0.5, True)
    tensors = Synapses.from_dense(w).with_layout("ell").tensors()
    pieces = split_rows(tensors, 3)
    assert [p["columns"].shape[1] for p in pieces] == [3, 3, 4]
    np.testing.assert_array_equal(np.concatenate([p["values"].numpy() for p in pieces], axis=1), tensors["values"])
    with pytest.raises(ValueError, match="split_rows: parts must be an int ≥ 1, got 0"):
        split_rows(tensors, 0)
