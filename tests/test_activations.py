"""NDN3 activation names (ndnx.activations, spec §5.1): leaky_relu slope 0.1, requ = relu², quad = x²."""

import numpy as np
import pytest

import ndnx


def test_ndn3_activations():
    x = np.array([-2.0, 0.5], "float32")
    np.testing.assert_allclose(ndnx.activations.get("leaky_relu")(x), [-0.2, 0.5], rtol=1e-6)
    np.testing.assert_allclose(ndnx.activations.get("requ")(x), [0.0, 0.25], rtol=1e-6)
    np.testing.assert_allclose(ndnx.activations.get("quad")(x), [4.0, 0.25], rtol=1e-6)
    assert ndnx.activations.get("lin")(x) is x or np.allclose(ndnx.activations.get("lin")(x), x)
    with pytest.raises(ValueError, match="unknown name 'swishy'"):
        ndnx.activations.get("swishy")
