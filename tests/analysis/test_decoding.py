"""Decoders of ring activity (NeuroFlame spec §5 "Decoding", §10.3 item 6)."""

import numpy as np
import pytest
import tensorflow as tf

from ndnx.analysis.decoding import (circular_error, circular_smooth, first_fourier_mode_ops, fourier_moments,
                                    fourier_moments_ops, overlaps, ring_order, serial_bias, sort_by_ring)

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("n", [3, 7, 64, 1000])
def test_cosine_profile_decodes_to_its_offset_amplitude_and_phase(n):
    """r_n = a + b·cos(2πn/N − φ0) → (m0, m1, φ) = (a, b, φ0) to 1e-6, NumPy and keras.ops (§10.3 item 6)"""
    a, b = RNG.uniform(-1, 3, size=5), RNG.uniform(0.1, 2, size=5)
    phi0 = np.array([0.0, 0.3, np.pi, 4.0, 2 * np.pi - 1e-3])
    theta = 2 * np.pi * np.arange(n) / n
    rates = a[:, None] + b[:, None] * np.cos(theta - phi0[:, None])
    for m0, m1, phi in (fourier_moments(rates), [np.asarray(x) for x in fourier_moments_ops(rates)]):
        np.testing.assert_allclose(m0, a, atol=1e-6)
        np.testing.assert_allclose(m1, b, atol=1e-6)
        np.testing.assert_allclose(circular_error(phi, phi0), 0.0, atol=1e-6)
        assert np.all((phi >= 0) & (phi < 2 * np.pi))


def test_moments_along_another_axis_and_the_sign_convention():
    """A single active neuron n* decodes to φ = 2πn*/N (F1 = Σ r e^{+iθ}), along any axis."""
    rates = np.zeros((10, 3))
    rates[7, 0], rates[2, 1], rates[5, 2] = 1.0, 2.0, 4.0
    m0, m1, phi = fourier_moments(rates, axis=0)
    np.testing.assert_allclose(m0, [0.1, 0.2, 0.4])
    np.testing.assert_allclose(m1, [0.2, 0.4, 0.8])
    np.testing.assert_allclose(phi, 2 * np.pi * np.array([7, 2, 5]) / 10, atol=1e-12)


def test_m0_is_nan_aware_and_a_nan_neuron_adds_nothing_to_f1():
    rates = RNG.uniform(0, 5, size=(4, 9))
    rates[0, 3] = rates[2, [1, 8]] = np.nan
    m0, m1, phi = fourier_moments(rates)
    finite = np.where(np.isnan(rates), 0.0, rates)
    f1 = (finite * np.exp(1j * 2 * np.pi * np.arange(9) / 9)).sum(axis=1)
    np.testing.assert_allclose(m0, [np.mean(r[~np.isnan(r)]) for r in rates])
    np.testing.assert_allclose(m1, 2 * np.abs(f1) / 9)
    np.testing.assert_allclose(phi, np.mod(np.angle(f1), 2 * np.pi))


def test_gradient_of_m1_is_the_analytic_cosine():
    """∂m1/∂r_n = (2/N)·cos(θ_n − φ): the keras.ops moments are differentiable for the losses."""
    n = 24
    rates = tf.constant(RNG.uniform(0, 2, size=(3, n)))
    with tf.GradientTape() as tape:
        tape.watch(rates)
        _, m1, _, _ = first_fourier_mode_ops(rates)
        total = tf.reduce_sum(m1)
    _, _, phi = fourier_moments(rates.numpy())
    theta = 2 * np.pi * np.arange(n) / n
    np.testing.assert_allclose(tape.gradient(total, rates).numpy(), 2 / n * np.cos(theta - phi[:, None]), atol=1e-12)


def test_ring_order_recovers_the_hidden_angles_of_a_low_rank_ring():
    n = 200
    alpha = 2 * np.pi * RNG.permutation(n) / n  # each neuron's hidden preferred angle, shuffled
    radius = RNG.uniform(0.5, 2.0, size=n)
    xi_a, xi_b = radius * np.cos(alpha), radius * np.sin(alpha)
    np.testing.assert_array_equal(ring_order(xi_a, xi_b), np.argsort(alpha))
    rates = 1.0 + 0.5 * np.cos(alpha - 2.0)  # a bump at 2 rad over the hidden angles
    m0, m1, phi = fourier_moments(sort_by_ring(rates, xi_a, xi_b))
    np.testing.assert_allclose([m0, m1, phi], [1.0, 0.5, 2.0], atol=1e-9)
    _, _, scrambled = fourier_moments(rates)  # unsorted, the bump is not on the ring
    assert abs(circular_error(scrambled, 2.0)) > 1e-3


def test_overlaps_are_rates_dot_vectors_over_n():
    rates, vectors = RNG.normal(size=(2, 3, 11)), RNG.normal(size=(4, 11))
    expected = np.array([[[sum(rates[i, j, k] * vectors[v, k] for k in range(11)) / 11 for v in range(4)]
                          for j in range(3)] for i in range(2)])
    np.testing.assert_allclose(overlaps(rates, vectors), expected)
    np.testing.assert_allclose(overlaps(rates, vectors[1]), expected[..., 1])


@pytest.mark.parametrize("width", [1, 4, 5, 11])
def test_circular_smooth_is_a_wrapped_boxcar(width):
    values = RNG.normal(size=(2, 11))
    behind, ahead = (width - 1) // 2, width // 2
    expected = np.array([[np.mean([row[(i + k) % 11] for k in range(-behind, ahead + 1)]) for i in range(11)]
                         for row in values])
    np.testing.assert_allclose(circular_smooth(values, width), expected)
    np.testing.assert_allclose(circular_smooth(values.T, width, axis=0), expected.T)


def test_circular_error_wraps_onto_the_circle():
    np.testing.assert_allclose(circular_error([0.1, 6.2, np.pi], [6.2, 0.1, 0.0]),
                               [0.1 - 6.2 + 2 * np.pi, 6.2 - 0.1 - 2 * np.pi, -np.pi])
    np.testing.assert_allclose(circular_error(370.0, 0.0, units="degrees"), 10.0)


def test_serial_bias_is_the_binned_mean_error():
    current = RNG.uniform(0, 2 * np.pi, size=(50, 10))
    previous = np.concatenate([np.full((50, 1), np.nan), current[:, :-1]], axis=1)
    relative = np.mod(previous - current + np.pi, 2 * np.pi) - np.pi
    decoded = current + 0.2 * np.sin(relative)  # an attractive bias of 0.2·sin(Δ)
    centres, bias, counts = serial_bias(decoded, current, previous, n_bins=6)
    edges = np.linspace(-np.pi, np.pi, 7)
    for i in range(6):
        chosen = [0.2 * np.sin(r) for r in relative[:, 1:].ravel() if edges[i] <= r < edges[i + 1]]
        assert counts[i] == len(chosen)
        assert bias[i] == pytest.approx(np.mean(chosen), abs=1e-12)
    np.testing.assert_allclose(centres, (edges[:-1] + edges[1:]) / 2)
    assert counts.sum() == 50 * 9  # the first trials have no previous location


@pytest.mark.parametrize("call, words", [
    (lambda: circular_error(1.0, 0.0, units="deg"), "circular_error: units"),
    (lambda: circular_smooth(np.ones(5), 6), "circular_smooth: width"),
    (lambda: ring_order(np.ones(3), np.ones(4)), "ring_order: xi_a and xi_b"),
    (lambda: overlaps(np.ones((2, 5)), np.ones((3, 4))), "overlaps: vectors"),
    (lambda: serial_bias([0.0], [0.0], [0.0], n_bins=0), "serial_bias: n_bins"),
])
def test_bad_input_is_one_clear_line(call, words):
    with pytest.raises(ValueError, match=words) as error:
        call()
    assert "\n" not in str(error.value)
