"""replica_matvec: Σ_j W[r, k, j] v[b, r, j] by broadcast sum (small W) or einsum (large W), against NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from ndnx.cells.replica_matvec import SMALL_MATRIX_ELEMENTS, replica_matvec

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("k, j", [(100, 2), (2, 100), (100, 4), (1, 1), (64, 64)])
def test_equals_the_numpy_product_per_replica(k, j):
    w = RNG.normal(size=(3, k, j))
    v = RNG.normal(size=(5, 3, j))
    expected = np.stack([v[:, r] @ w[r].T for r in range(3)], axis=1)
    got = replica_matvec(tf.constant(w, tf.float32), tf.constant(v, tf.float32)).numpy()
    assert got.shape == (5, 3, k)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.sqrt(j))


def test_its_gradient_is_the_transposed_product():
    w = tf.constant(RNG.normal(size=(2, 100, 4)), tf.float32)
    v = tf.constant(RNG.normal(size=(6, 2, 4)), tf.float32)
    cot = RNG.normal(size=(6, 2, 100))
    assert 100 * 4 <= SMALL_MATRIX_ELEMENTS  # the broadcast form
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([w, v])
        out = replica_matvec(w, v)
    dw, dv = tape.gradient(out, [w, v], output_gradients=tf.constant(cot, tf.float32))
    np.testing.assert_allclose(dv.numpy(), np.einsum("brk,rkj->brj", cot, w.numpy()), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dw.numpy(), np.einsum("brk,brj->rkj", cot, v.numpy()), rtol=1e-5, atol=1e-4)
