"""Step 2 of CordsNet's pipeline (spec cordsnet.md §3 step 2, §8.3 test 2): centre-tap recurrence is exact.

When every recurrent 3×3 kernel of the CNN is zero except its centre tap W2 = K (a C×C matrix), the
block's inverse is a 1×1 convolution: W_rec = I − K⁻¹, b = (I − W_rec)(K a + c). Then the linear
CordsNet-R2 steady state, r_j = (I − W_rec)⁻¹ (b_j + W1 h_j) with ReLU only between areas, is the CNN.
The steady state is solved here in NumPy, pixel by pixel.
"""

import numpy as np
import pytest

from ndnx.models.cordsnet_cnn import CordsNetCNN
from ndnx.models.cordsnet_folding import fold_batch_norm
from ndnx.models.cordsnet_inverse import CordsNetInverse
from tests.models.test_cordsnet_cnn import conv, avg_pool_include_pad, random_statistics

SIZE = 12
RNG = np.random.default_rng(21)


def centre_tap_cnn():
    """A CordsNet-R2 CNN with random BN statistics whose recurrent kernels have only a centre tap."""
    cnn = CordsNetCNN(depth=2, num_classes=4, image_size=SIZE, channels=1, seed=5)
    p = random_statistics(cnn.get_parameters())
    for j in range(2):
        v = np.zeros((3, 3, 64, 64), "float32")
        v[1, 1] = np.eye(64) + 0.1 * RNG.normal(size=(64, 64)) / 8.0  # well conditioned
        p[f"area{j}/rec/v"] = v
        p[f"area{j}/rec/g"] = np.sqrt((v ** 2).sum(axis=(0, 1, 2))).astype("float32")  # W2 = v itself
    cnn.set_parameters(p)
    return cnn, p


def linear_steady_state_logits(q, x):
    """CordsNet-R2 with σ = identity at its fixed point: r_j = solve(I − W_c, b_j + ff_j(h_j)) at every pixel."""
    inp = avg_pool_include_pad(conv(x, q["stem/g"], q["stem/v"], 2, 3))
    rates = []
    for j in range(2):
        h = inp if j == 0 else np.maximum(rates[0], 0) + conv(inp, q["inp_skip/g"], q["inp_skip/v"], 1, 1)
        drive = conv(h, q[f"area{j}/ff/g"], q[f"area{j}/ff/v"], 1, 1) + q[f"area{j}/bias"]
        v = q[f"area{j}/rec/v"]
        w = q[f"area{j}/rec/g"] * v / np.sqrt((v ** 2).sum(axis=(0, 1, 2), keepdims=True))
        assert np.abs(w[[0, 0, 0, 1, 1, 2, 2, 2], [0, 1, 2, 0, 2, 0, 1, 2]]).max() < 1e-6  # centre tap only
        # r = r W_c + u  (x ↦ x @ W_c per pixel)  ⇔  r (I − W_c) = u
        rates.append(np.linalg.solve((np.eye(64) - w[1, 1]).T, drive[..., None])[..., 0])
    wr = q["readout/g"] * q["readout/v"] / np.sqrt((q["readout/v"] ** 2).sum(0, keepdims=True))
    return (np.maximum(rates[0], 0) + np.maximum(rates[1], 0)).mean(axis=(1, 2)) @ wr + q["readout/bias"]


def test_centre_tap_inverse_makes_the_linear_steady_state_the_cnn():
    cnn, p = centre_tap_cnn()
    x = RNG.normal(size=(3, SIZE, SIZE, 1)).astype("float32")
    inverse = CordsNetInverse(depth=2, num_classes=4, image_size=SIZE, channels=1, seed=0)
    inverse.set_folded(fold_batch_norm(p, SIZE))
    q = {k: v.astype("float64") for k, v in inverse.get_parameters().items()}
    expected = np.asarray(cnn(x, training=False), "float64")
    got = linear_steady_state_logits(q, x.astype("float64"))
    assert np.abs(expected).max() > 0.5
    np.testing.assert_allclose(got, expected, atol=1e-5 * np.abs(expected).max(), rtol=0)
    # and the 4-term series is I + W + W² + W³, not the inverse: the model's own logits differ from the CNN's
    assert np.abs(np.asarray(inverse(x)) - expected).max() > 1e-4


def test_least_squares_residual_fit_recovers_the_centre_tap_inverse():
    """objective "residual": (W_rec, b) solved by least squares on teacher-forced activations equals
    I − K⁻¹ (centre), 0 (other taps) and the exact bias, since the block is representable."""
    cnn, p = centre_tap_cnn()
    folded = fold_batch_norm(p, SIZE)
    exact = CordsNetInverse(depth=2, num_classes=4, image_size=SIZE, channels=1, seed=0)
    exact.set_folded(folded)
    fitted = CordsNetInverse(depth=2, num_classes=4, image_size=SIZE, channels=1, objective="residual", seed=1)
    fitted.set_folded(folded, initialise=False)
    fitted.solve_residual(RNG.normal(size=(150, SIZE, SIZE, 1)).astype("float32"), ridge=0.0)
    for j in range(2):
        w_exact = np.asarray(exact.rec_kernel(j))
        np.testing.assert_allclose(np.asarray(fitted.rec_kernel(j)), w_exact, atol=1e-3 * np.abs(w_exact).max())
        b_exact = exact.bias[j].numpy()
        np.testing.assert_allclose(fitted.bias[j].numpy(), b_exact, atol=1e-3 * np.abs(b_exact).max())


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ValueError, match="CordsNetInverse: objective must be 'neumann' or 'residual'"):
        CordsNetInverse(objective="exact")
    inverse = CordsNetInverse(depth=2, num_classes=4, image_size=SIZE, channels=1)
    with pytest.raises(ValueError, match="CordsNetInverse.set_folded: the folded dict lacks"):
        inverse.set_folded({"stem/g": np.ones(64)})
