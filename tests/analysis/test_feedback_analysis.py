"""Metrics of feedback-modulated networks against analytic values (spec feedback_modulation_naumann22.md §3)."""

import numpy as np
import pytest

from ndnx.analysis import feedback as fa

T = np.arange(2000)
S = np.stack([np.sin(2 * np.pi * T / 80), np.sin(2 * np.pi * T / 44.4)], axis=1)


def test_clarity_of_known_mixtures():
    # y = A s with orthogonal-ish sources: C[i, k] ≈ A[k, i]/‖A[k]‖, clarity ≈ mean_k | |A_k1| − |A_k2| |/‖A_k‖
    A = np.array([[0.8, 0.2], [0.3, 0.7]])
    C = fa.correlation_matrix(S[:1000], S[:1000] @ A.T)
    np.testing.assert_allclose(C, (A / np.linalg.norm(A, axis=1, keepdims=True)).T, atol=0.02)
    expected = np.mean([abs(abs(C[0, k]) - abs(C[1, k])) for k in range(2)])
    assert fa.signal_clarity(S, S @ A.T)[0] == pytest.approx(expected, abs=1e-12)
    assert fa.signal_clarity(S, -S).min() > 0.99
    three = np.c_[S, np.sign(np.sin(2 * np.pi * T / 63))]
    C = np.abs(fa.correlation_matrix(three[:1000], three[:1000]))
    expected = np.mean([1 - np.max(np.delete(C[:, k], k)) for k in range(3)])  # n sources: largest − second
    assert fa.signal_clarity(three, three, 1000)[0] == pytest.approx(expected, abs=1e-12)


def test_unit_clarity_and_source_correlation():
    units = np.c_[S[:, 0], S.sum(axis=1), np.zeros(2000)]  # pure, equal mix, silent
    clarity = fa.unit_clarity(S, units)
    assert clarity[0] > 0.99 and clarity[1] < 0.05 and clarity[2] == 0.0
    corr = fa.source_correlation(S, S[:, ::-1], steady=500)
    assert corr.shape == (2, 2) and corr.max() < 0.2  # order-specific: swapped outputs do not count


def test_snr_in_db():
    assert fa.snr_db(S, 0.9 * S) == pytest.approx(20.0)
    y = 0.9 * S
    y[:500] = 0  # the transient of context 1 counts over all steps, not in the steady state
    y[1000:1500] = 0
    assert fa.snr_db(S, y, 1000, steady=500) == pytest.approx(20.0)
    assert fa.snr_db(S, y) < 5


def test_linear_decoding_is_exact_for_linear_invertible_codes():
    rng = np.random.default_rng(0)
    x = S @ rng.normal(size=(2, 5)) + 0.3
    r2 = fa.decoding_r2(x, S, 1)
    np.testing.assert_allclose(r2, [1.0], atol=1e-10)
    with pytest.raises(ValueError, match=r"n_train_contexts must be in \[1, 1\]"):
        fa.decoding_r2(x, S, 2)


def test_planes_and_principal_angles():
    rng = np.random.default_rng(1)
    p = rng.normal(size=(100, 2))
    n1 = fa.plane_normal(np.c_[p, 0.5 * p[:, 0]])
    n2 = fa.plane_normal(np.c_[p, np.zeros(100)])
    assert fa.plane_angle(n1, n2) == pytest.approx(np.degrees(np.arctan(0.5)))
    assert fa.plane_angle([1, 0, 0], [-1, 0, 0]) == 0.0
    rotation = np.array([[1, 0, 0], [0, np.cos(0.3), -np.sin(0.3)], [0, np.sin(0.3), np.cos(0.3)]])
    plane = np.c_[p, np.zeros(100)]
    np.testing.assert_allclose(fa.principal_angles(plane, plane @ rotation.T), [0.0, np.degrees(0.3)], atol=1e-6)


def test_bad_windows_give_one_line():
    with pytest.raises(ValueError, match="whole contexts"):
        fa.signal_clarity(S[:1500], S[:1500], 1000)
