"""Rate transfer functions against spec ei_networks_neuroflame.md §1.3 and SciPy."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import special

from ndnx.cells.transfer import TRANSFER_FUNCTIONS, transfer_function

H = np.linspace(-3, 5, 81).astype("float32")


def phi(name, h, theta):
    return np.asarray(transfer_function(name)(tf.constant(h), theta))


def test_relu_and_erf():
    np.testing.assert_allclose(phi("relu", H, 1.0), np.maximum(H - 1.0, 0))
    got = phi("erf", H, 1.0)
    np.testing.assert_allclose(got, special.erf((H - 1.0) / np.sqrt(2)), atol=1e-6)
    assert got.min() < -0.99 and got.max() < 1  # range (−1, 1): negative rates


def test_brunel_sqrt_values_and_c1_at_one():
    np.testing.assert_allclose(phi("sqrt", np.array([-1, 0, 0.5, 1, 3, 7], "float32"), 123.0),
                               [0, 0, 0.25, 1, 3, 5], atol=1e-6)  # θ ignored; √(4·3 − 3) = 3
    h = tf.constant([1 - 1e-3, 1 + 1e-3])
    with tf.GradientTape() as tape:
        tape.watch(h)
        y = transfer_function("sqrt")(h)
    np.testing.assert_allclose(tape.gradient(y, h), [2, 2], atol=5e-3)  # slope 2 on both sides
    with tf.GradientTape() as tape:
        h = tf.constant([-0.5, 0.25])
        tape.watch(h)
        y = transfer_function("sqrt")(h)
    assert np.all(np.isfinite(tape.gradient(y, h)))


def test_gaussian_cdf_has_thresh_as_amplitude():
    np.testing.assert_allclose(phi("gaussian_cdf", H, 3.0), 3.0 * special.ndtr(H), atol=1e-6)
    assert phi("gaussian_cdf", np.zeros(1, "float32"), 3.0)[0] == pytest.approx(1.5)


def test_unknown_name_is_refused():
    assert set(TRANSFER_FUNCTIONS) == {"relu", "erf", "sqrt", "gaussian_cdf"}
    with pytest.raises(ValueError, match=r"EIRateCell: transfer must be one of .* got 'sigmoid'"):
        transfer_function("sigmoid", owner="EIRateCell")
