"""Sources, contexts and pipelines of the unmixing task (spec feedback_modulation_naumann22.md §1)."""

import numpy as np
import pytest

from ndnx.data import unmixing


def test_sources_match_their_formulas():
    t = np.arange(16000) / 8000.0
    s = unmixing.sines()
    np.testing.assert_allclose(s[:, 1], np.sin(2 * np.pi * 180 * t), atol=1e-6)
    c = unmixing.chords()
    chord2 = np.sin(2 * np.pi * 150 * t) + np.sin(2 * np.pi * 210 * t)
    np.testing.assert_allclose(c[:, 1], chord2 / np.abs(chord2).max(), atol=1e-6)
    assert np.abs(c).max(axis=0).tolist() == [1.0, 1.0]
    # chord 1 has period 320 samples (25 Hz envelope of 100 + 125 Hz)
    np.testing.assert_allclose(c[320:640, 0], c[:320, 0], atol=1e-5)
    ica = unmixing.ica_style()
    assert ica.shape == (16000, 3)
    np.testing.assert_allclose(ica[:, 0], np.sin(2 * np.pi * 120 * t), atol=1e-6)
    square = np.sin(2 * np.pi * 80 * t)
    away = np.abs(square) > 1e-6  # zero crossings round either way
    np.testing.assert_array_equal(ica[away, 1], np.sign(square[away]))
    # sawtooth at 140 Hz: rises by 2 per period of 8000/140 samples
    assert ica[1, 2] - ica[0, 2] == pytest.approx(2 * 140 / 8000, abs=1e-6)
    # chords' cross-correlation over a 1000-sample window is small (spec: |r| ≈ 0.02, max 0.03)
    assert abs(np.corrcoef(c[:1000].T)[0, 1]) < 0.03


def test_random_norm_contexts_and_targets():
    A, W = unmixing.mixing_matrices(2000, seed=0)
    np.testing.assert_allclose(A.sum(axis=2), 1.0, atol=1e-6)
    det = np.linalg.det(A.astype("float64"))
    assert np.all(np.abs(det) > 0.2)
    np.testing.assert_allclose(W.reshape(-1, 2, 2) @ A, np.broadcast_to(np.eye(2), A.shape), atol=1e-4)
    # det = a − b, a and b each u1/(u1 + u2) of two U(0, 1): density 1/(2(1−a)²) below 1/2 and
    # 1/(2a²) above; the accepted fraction P(|a − b| > 0.2) is the spec's measured ≈ 57 %
    grid = (np.arange(4000) + 0.5) / 4000
    density = np.where(grid < 0.5, 0.5 / (1 - grid) ** 2, 0.5 / grid ** 2) / 4000
    gap = np.abs(grid[:, None] - grid[None, :])
    joint = density[:, None] * density[None, :] * (gap > 0.2)
    assert joint.sum() == pytest.approx(0.57, abs=0.01)
    assert np.abs(det).mean() == pytest.approx((joint * gap).sum() / joint.sum(), abs=0.01)


def test_every_mix_type():
    A, _ = unmixing.mixing_matrices(500, mix_type="scale_both", seed=1)
    assert A[:, 0, 0].min() >= 0.3 and A[:, 0, 0].max() <= 3 and A[:, 1, 1].min() >= 1 and A[:, 1, 1].max() <= 2
    assert np.all(A[:, 0, 1] == 0) and np.all(A[:, 1, 0] == 0)
    A, _ = unmixing.mixing_matrices(500, mix_type="interpolate", seed=1)
    np.testing.assert_allclose(A.sum(axis=2), 1.0, atol=1e-6)
    np.testing.assert_array_equal(A[:, 1], np.broadcast_to([0.0, 1.0], (500, 2)))
    assert A[:, 0, 0].min() >= 0.2
    A, _ = unmixing.mixing_matrices(500, mix_type="interpolate_both", seed=1)
    assert A[:, 1, 1].min() >= 0.2 and A[:, 1, 1].std() > 0.1
    A, W = unmixing.mixing_matrices(2, mix_type="constant")
    np.testing.assert_allclose(A[0], [[0.8, 0.2], [0.5, 0.5]])
    np.testing.assert_allclose(W[0], np.linalg.inv([[0.8, 0.2], [0.5, 0.5]]).ravel(), rtol=1e-6)
    A, _ = unmixing.mixing_matrices(200, mix_type="random", seed=2)
    assert A.sum(axis=2).std() > 0.1  # not normalised
    with pytest.warns(UserWarning, match="2×2"):
        unmixing.mixing_matrices(1, mat_size=(3, 2), mix_type="scale")
    with pytest.raises(ValueError, match="mix_type must be one of"):
        unmixing.mixing_matrices(1, mix_type="randm")
    A, _ = unmixing.mixing_matrices(3, mix_type="randm", compatible_mix_type=True, seed=0)
    assert not np.allclose(A.sum(axis=2), 1.0)  # the original's catch-all "random"


def test_non_square_contexts():
    A, W = unmixing.mixing_matrices(50, mat_size=(3, 2), seed=3)
    assert A.shape == (50, 3, 2) and W.shape == (50, 6)
    np.testing.assert_allclose(W.reshape(-1, 2, 3) @ A, np.broadcast_to(np.eye(2), (50, 2, 2)), atol=1e-3)
    gram = np.linalg.det(np.swapaxes(A, 1, 2).astype("float64") @ A)
    assert np.all(np.sqrt(gram) > 0.2)
    x, s = unmixing.training_batches(unmixing.chords(), A[:4], window=20, batch_size=2, noise=0.0)
    np.testing.assert_allclose(x[1, 0], s[1, 0] @ A[2].T, atol=1e-6)


def test_bad_contexts_give_one_line():
    with pytest.raises(ValueError, match=r"\|det A\| > 0.2; context 1 has 0.1"):
        unmixing.check_contexts([np.eye(2), [[0.6, 0.4], [0.5, 0.5]]], 2, det_threshold=0.2)
    with pytest.raises(ValueError, match=r"shape \(contexts, sensors, 3\) for 3 sources"):
        unmixing.context_sequence(unmixing.ica_style(), np.eye(2)[None])
    with pytest.raises(ValueError, match="multiple of batch_size 32"):
        unmixing.training_windows(unmixing.chords(), unmixing.mixing_matrices(40, seed=0)[0])


def test_training_windows_are_seeded_and_shared_across_the_batch():
    A, _ = unmixing.mixing_matrices(8, seed=0)
    x, s = unmixing.training_batches(unmixing.chords(), A, window=100, batch_size=4, noise=0.001, seed=5)
    data = list(unmixing.training_windows(unmixing.chords(), A, window=100, batch_size=4, noise=0.001, seed=5))
    for k, (xk, sk) in enumerate(data):
        np.testing.assert_array_equal(xk.numpy(), x[k])
        np.testing.assert_array_equal(sk.numpy(), s[k])
    assert np.all(s[0] == s[0, :1])  # one segment shared by the batch
    residual = x[0] - np.einsum("bij,btj->bti", A[:4], s[0])
    assert residual.std() == pytest.approx(0.001, rel=0.1)
    # each source starts at its own random phase: the segment is a window of the looped source
    c = unmixing.chords()
    for j in range(2):
        start = int(np.argmin([np.abs(c[i:i + 100, j] - s[1, 0, :, j]).max() for i in range(16000 - 100)]))
        np.testing.assert_array_equal(c[start:start + 100, j], s[1, 0, :, j])
    x2, _ = unmixing.training_batches(unmixing.chords(), A, window=100, batch_size=4, seed=6)
    assert not np.allclose(x2, x)


def test_context_sequence_plays_sources_from_zero():
    A, W = unmixing.mixing_matrices(3, seed=0)
    x, s, w = unmixing.context_sequence(unmixing.sines(), A, context_length=8000, noise=0.0)
    np.testing.assert_array_equal(s[16000:16010], unmixing.sines()[:10])  # looped at 16000
    np.testing.assert_allclose(x[8000:16000], s[8000:16000] @ A[1].T, atol=1e-6)
    np.testing.assert_allclose(w[-1], W[2], rtol=1e-5)
