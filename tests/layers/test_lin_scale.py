"""LinScale (the fork's 'lin_scale', spec §3.3): y = act(w·x + b) with scalar w, b."""

import numpy as np
import pytest
import tensorflow as tf

import ndnx
from ndnx.layers import LinScale

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 7, 6, 2)).astype("float32")


def test_identity_at_init():
    layer = LinScale()
    np.testing.assert_array_equal(layer(X), X)
    assert layer.scale.shape == () and float(layer.scale) == 1.0 and float(layer.offset) == 0.0
    assert LinScale()(X[:, :, 0, 0]).shape == (4, 7)


def test_analytic_gradient():
    layer = LinScale(activation="softplus")
    layer(X)
    layer.scale.assign(0.7)
    layer.offset.assign(-0.2)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(X))
    g_w, g_b = tape.gradient(loss, [layer.scale, layer.offset])
    s = 1.0 / (1.0 + np.exp(-(0.7 * X.astype("float64") - 0.2)))  # softplus' = sigmoid
    assert float(g_w) == pytest.approx(np.sum(s * X), rel=1e-4)
    assert float(g_b) == pytest.approx(np.sum(s), rel=1e-5)
    np.testing.assert_allclose(layer(X), np.log1p(np.exp(0.7 * X - 0.2)), rtol=1e-5, atol=1e-6)


def test_replicas():
    shared = LinScale(replicas=3, seed=1)
    y = shared(X)
    assert y.shape == (4, 3, 7, 6, 2)
    shared.scale.assign([1.0, 2.0, -1.0])
    shared.offset.assign([0.0, 1.0, 0.5])
    y = shared(X)
    for r, (w, b) in enumerate([(1.0, 0.0), (2.0, 1.0), (-1.0, 0.5)]):
        np.testing.assert_allclose(y[:, r], w * X + b, rtol=1e-6, atol=1e-6)
    stacked = np.stack([X, -X, 2 * X], axis=1)
    per_replica = LinScale(replicas=3, per_replica_input=True)
    per_replica(stacked)
    per_replica.scale.assign([1.0, 2.0, -1.0])
    np.testing.assert_allclose(per_replica(stacked)[:, 1], -2 * X, rtol=1e-6)
    assert tuple(per_replica.compute_output_shape(stacked.shape)) == stacked.shape


def test_errors_and_config():
    with pytest.raises(ValueError, match=r"ls: expected input of shape \(batch, 3, \.\.\.\)"):
        LinScale(replicas=3, per_replica_input=True, name="ls")(X)
    with pytest.raises(ValueError, match="ls: per_replica_input=True needs replicas"):
        LinScale(per_replica_input=True, name="ls")
    layer = LinScale(activation="relu", replicas=2, seed=[3, 4])
    config = layer.get_config()
    assert LinScale.from_config(config).get_config() == config
    assert ndnx.layers.LinScale is LinScale
