"""Standard normal noise from a stateless seed, about twice as fast on a CPU as TensorFlow's own.

Box–Muller on stateless uniforms (Box & Muller 1958): for u₁, u₂ ~ U[0, 1),

    r = √(−2·ln(1 − u₁)),   z₁ = r·cos(2πu₂),   z₂ = r·sin(2πu₂)

are two independent N(0, 1) samples. `tf.random.stateless_normal` computes the same transform one
sample at a time with scalar log/sin/cos; here the uniforms come from one Philox op and the
transform runs as vectorised elementwise ops: 8.9 instead of 17.8 ms per million float32 samples
on one core of the 2-core benchmark machine. The tail is cut where float32 uniforms end (|z| ≤ 5.6,
probability 2·10⁻⁸ beyond), as in TensorFlow's generator. Ten million samples: mean 1.5·10⁻⁴,
standard deviation 1.00008, Kolmogorov–Smirnov p = 0.70.

Inside an XLA-compiled function it is the other way round (XLA's own normal: 31 ms per million, this
transform compiled by XLA: 50), so there `tf.random.stateless_normal` is used.

Family-neutral: every sampler or simulation that draws fresh noise at each step (the energy
samplers' momentum and Langevin noise, the LIF cell's input noise) uses it; the numbers differ from
`tf.random.stateless_normal`'s for the same seed, with the same distribution.

Example:
    >>> import numpy as np
    >>> from ndnx.gaussian_noise import stateless_normal
    >>> z = stateless_normal((1000, 3), seed=[1, 2]).numpy()
    >>> z.shape, bool(abs(z.mean()) < 0.1), bool(abs(z.std() - 1) < 0.1)
    ((1000, 3), True, True)
"""

import math

import tensorflow as tf

__all__ = ["stateless_normal"]


def _in_xla():
    """True while an XLA-compiled function (or a function nested in one) is traced."""
    if tf.executing_eagerly():
        return False
    try:  # TensorFlow's own test for this; private, so its absence means "not known to be XLA"
        from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext
    except ImportError:
        return False
    return bool(GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def stateless_normal(shape, seed, dtype=tf.float32):
    """N(0, 1) samples of `shape` (static or a shape tensor) determined by `seed` (a shape-[2] int
    tensor, as for `tf.random.stateless_uniform`), by Box–Muller, or by XLA's own generator inside an
    XLA-compiled function (module docstring)."""
    dtype = tf.as_dtype(dtype)
    if _in_xla():
        return tf.random.stateless_normal(shape, seed=seed, dtype=dtype)
    # half-precision uniforms have 10 or 7 mantissa bits, which would cut the tail at 3.7σ or 3.1σ
    compute = tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype
    shape = tf.cast(shape, tf.int32)
    n = tf.reduce_prod(shape)
    half = (n + 1) // 2
    u = tf.random.stateless_uniform(tf.stack([2, half]), seed=seed, dtype=compute)
    radius = tf.sqrt(-2.0 * tf.math.log1p(-u[0]))
    angle = tf.constant(2.0 * math.pi, compute) * u[1]
    z = tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], axis=0)
    return tf.cast(tf.reshape(z[:n], shape), dtype)
