"""ndnx.fused_swish: x·σ(x) and its XLA-fused gradient against the analytic derivative."""

import numpy as np
import pytest
import tensorflow as tf

from ndnx.fused_swish import swish

X = np.random.default_rng(0).normal(scale=4.0, size=(3, 5, 7)).astype("float64")


def _analytic(x):
    s = 1.0 / (1.0 + np.exp(-x))
    return x * s, s * (1.0 + x * (1.0 - s))  # d/dx x·σ(x) = σ + x·σ·(1 − σ)


# u: the unit roundoff of the map's dtype
@pytest.mark.parametrize("dtype,u", [("float64", 2.0 ** -53), ("float32", 2.0 ** -24), ("bfloat16", 2.0 ** -8)])
def test_value_and_gradient_are_swish_and_its_derivative(dtype, u):
    x = tf.constant(X, dtype)
    dy = tf.constant(np.linspace(-2, 2, X.size).reshape(X.shape), dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = swish(x)
    grad = tape.gradient(y, x, output_gradients=dy)
    assert y.dtype == grad.dtype == x.dtype
    xs = tf.cast(x, tf.float64).numpy()  # the rounded inputs
    value, derivative = _analytic(xs)
    want = tf.cast(dy, tf.float64).numpy() * derivative
    got = tf.cast(grad, tf.float64).numpy()
    # the gradient is computed in float32 (float64 for float64 maps) and rounded once to the map's dtype;
    # near the derivative's zero (x ≈ −1.28) 1 + x·(1 − σ) cancels, so float32's error counts absolutely there
    work = 2.0 ** -53 if dtype == "float64" else 2.0 ** -24
    assert np.all(np.abs(got - want) <= u * np.abs(want) + 16 * work * np.abs(want).max())
    # the value is TensorFlow's own silu, a few roundings in the map's dtype
    assert np.all(np.abs(tf.cast(y, tf.float64).numpy() - value) <= 4 * u * (np.abs(value) + 1))


def test_gradient_inside_a_compiled_loop():
    @tf.function
    def loop(x):
        def body(t, x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.reduce_sum(swish(x))
            return t + 1, x - 0.1 * tape.gradient(y, x)
        return tf.while_loop(lambda t, _: t < 3, body, (0, x))[1]

    x = X.astype("float32")
    want = x.astype("float64")
    for _ in range(3):
        want = want - 0.1 * _analytic(want)[1]
    np.testing.assert_allclose(loop(tf.constant(x)).numpy(), want, rtol=1e-5, atol=1e-6)
