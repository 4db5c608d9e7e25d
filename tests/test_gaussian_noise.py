import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from ndnx.gaussian_noise import stateless_normal


def test_samples_are_standard_normal_and_independent():
    n = 1_000_000
    z = stateless_normal((n,), seed=[3, 4]).numpy().astype("float64")
    se = 1.0 / math.sqrt(n)
    assert abs(z.mean()) < 4 * se
    assert abs(z.std() - 1.0) < 4 * se / math.sqrt(2)  # the standard error of a normal sample's sd
    assert stats.kstest(z, "norm").pvalue > 0.01
    assert abs(stats.kurtosis(z, fisher=False) - 3.0) < 4 * math.sqrt(24.0 / n)
    # the cosine and sine halves of each Box–Muller pair, and neighbours, are uncorrelated
    half = n // 2
    assert abs(np.corrcoef(z[:half], z[half:])[0, 1]) < 4 / math.sqrt(half)
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 4 / math.sqrt(n)
    # float32 uniforms are multiples of 2⁻²³ below 1, so 1 − u ≥ 2⁻²³ and |z| ≤ √(2·23·ln 2) = 5.646
    assert np.abs(z).max() <= math.sqrt(2 * 23 * math.log(2)) + 1e-4


@pytest.mark.parametrize("shape, dtype", [((3, 5, 7), tf.float32), ((2, 9), tf.float64), ((1,), tf.float32),
                                          ((4, 4), tf.float16)])
def test_shape_dtype_and_seed_decide_the_numbers(shape, dtype):
    a = stateless_normal(shape, [1, 2], dtype)
    assert a.shape == shape and a.dtype == dtype
    np.testing.assert_array_equal(a.numpy(), stateless_normal(tf.constant(shape), tf.constant([1, 2]), dtype).numpy())
    assert not np.array_equal(a.numpy(), stateless_normal(shape, [1, 3], dtype).numpy())

    @tf.function
    def traced(s):  # a shape known only when the function runs
        return stateless_normal(tf.shape(s), [1, 2], dtype)

    np.testing.assert_array_equal(traced(tf.zeros(shape, dtype)).numpy(), a.numpy())


def test_half_precision_noise_is_drawn_in_float32():
    # float16 uniforms (10 mantissa bits) would stop the tail at √(2·10·ln 2) = 3.7σ; drawn in float32
    # and rounded, the samples are the float32 ones to float16 precision
    z16 = stateless_normal((200_000,), [5, 6], tf.float16).numpy()
    z32 = stateless_normal((200_000,), [5, 6], tf.float32).numpy()
    np.testing.assert_array_equal(z16, z32.astype("float16"))
    assert np.abs(z16).max() > 4.0  # P(max |z| ≤ 4 over 200,000 samples) = (1 − 6.3e-5)^200000 ≈ 3e-6


def test_box_muller_outside_xla_and_xlas_own_normal_inside():
    def op_types(jit):
        graph = tf.function(lambda: stateless_normal((64,), [1, 2]), jit_compile=jit).get_concrete_function().graph
        return {op.type for op in graph.get_operations()}

    assert {"StatelessRandomUniformV2", "Log1p", "Cos", "Sin"} <= op_types(False)
    assert "StatelessRandomNormalV2" not in op_types(False)
    assert "StatelessRandomNormalV2" in op_types(True) and "Log1p" not in op_types(True)
    z = tf.function(lambda: stateless_normal((100_000,), [1, 2]), jit_compile=True)().numpy()
    assert abs(z.mean()) < 4 / math.sqrt(1e5) and abs(z.std() - 1) < 4 / math.sqrt(2e5)
