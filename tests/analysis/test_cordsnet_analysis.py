"""ndnx.analysis.cordsnet on small CordsNets against numbers from outside the code under test: the dense
eigenvalues of convolution matrices built here by index arithmetic, the latencies of spec cordsnet.md
§2.3 / §8.3 item 5, and accuracies and MSEs the test computes from the model's own runs."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import ndnx
from ndnx.analysis import cordsnet as analysis
from tests.analysis.test_eigen import conv_matrix


def fold(g, v):
    return v * (g / np.sqrt(np.sum(v.astype("float64") ** 2, axis=tuple(range(v.ndim - 1)))))


def nearest_distance(values, targets):
    return np.array([np.min(np.abs(values - t)) for t in targets])


@pytest.fixture(autouse=True)
def one_blas_thread():
    # Dense eigensolvers on busy shared cores: OpenBLAS threads spinning against each other cost 50×.
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def r2():
    """R2 at 8 px: areas 0 and 1 on a 2×2×64 grid (n = 256), small enough for dense eigenvalues.

    Positive kernels (|v|), so ReLU masks no change of an input (spec §8.3 item 5). Recurrent kernels of
    Frobenius norm 0.01·√64 = 0.08, so ‖W‖ ≤ Σ_taps ‖W_tap‖ ≤ 3 · 0.08 = 0.24 and each area's Euler map
    contracts by 0.8 + 0.2 · 0.24 < 0.85 per step: 200 blank steps reach the spontaneous fixed point
    r* = relu(u*) to float precision (0.85²⁰⁰ ≈ 10⁻¹⁴). Area 0's bias is N(0, 1), so about half its
    units are silent there. One model for every test: its loops are traced and its blank phase cached once.
    """
    net = ndnx.models.cordsnet_r2(num_classes=5, image_size=8, channels=1, blank_steps=200, stimulus_steps=3,
                                  jit_loop=False, seed=1)
    parameters = {name: np.abs(value) for name, value in net.get_parameters().items()}
    for j in range(2):
        parameters[f"area{j}/rec/g"] = np.full(64, 0.01, "float32")
    parameters["area0/bias"] = np.random.default_rng(2).normal(size=(2, 2, 64)).astype("float32")
    net.set_parameters(parameters)
    return net


def test_recurrent_spectrum_is_the_dense_spectrum_of_the_folded_conv(r2):
    parameters = r2.get_parameters()
    kernel = fold(parameters["area1/rec/g"], parameters["area1/rec/v"])
    reference = np.linalg.eigvals(conv_matrix(kernel, 2, 2))
    spectrum = analysis.recurrent_spectrum(r2, area=1, k=256)
    assert spectrum.shape == (2, 2, 64) and spectrum.arnoldi.invariant
    scale = np.abs(reference).max()
    assert np.max(nearest_distance(spectrum.arnoldi.eigenvalues, reference)) < 1e-8 * scale
    assert np.max(nearest_distance(reference, spectrum.arnoldi.eigenvalues)) < 1e-8 * scale
    assert spectrum.stability.max_real == pytest.approx(reference.real.max(), abs=1e-8 * scale)
    euler = np.abs(1 - 0.2 + 0.2 * reference).max()
    assert spectrum.stability.euler_radius == pytest.approx(euler, abs=1e-8 * scale)


def test_jacobian_spectrum_at_the_spontaneous_fixed_point_is_that_of_d_times_w(r2):
    parameters = r2.get_parameters()
    result = analysis.fixed_point_jacobian_spectrum(r2, area=0, images=None, k=256)
    r = r2.spontaneous_state()[0][0].astype("float64")
    active = (r > 0).ravel()  # at r* = relu(u*), r* > 0 exactly where u* > 0
    assert 0.2 < active.mean() < 0.8
    kernel = fold(parameters["area0/rec/g"], parameters["area0/rec/v"])
    reference = np.linalg.eigvals(active[:, None] * conv_matrix(kernel, 2, 2))
    reference = reference[np.argsort(-np.abs(reference))]
    assert result.residuals[0] < 1e-5
    assert result.active_fraction[0] == pytest.approx(active.mean(), abs=0)
    # Inactive rows make eigenvalue 0 defective; compare the outer ones.
    assert np.max(nearest_distance(result.arnoldi[0].eigenvalues, reference[:10])) < 1e-8
    assert result.stability[0].euler_radius == pytest.approx(np.abs(0.8 + 0.2 * reference).max(), abs=1e-8)


def test_latencies_of_r2_are_one_step_and_the_logits_read_the_new_states(r2):
    # Spec §2.3: areas 0 and 1 (via inp_skip) at step 1; the readout takes the new r0, r1 of the same step.
    images = np.random.default_rng(0).uniform(0.1, 1.0, (2, 8, 8, 1)).astype("float32")
    latencies = analysis.response_latencies(r2, images)
    assert latencies.steps == 3
    np.testing.assert_array_equal(latencies.areas, [[1, 1], [1, 1]])
    np.testing.assert_array_equal(latencies.logits, [1, 1])


@pytest.mark.slow  # 13 s of CPU, almost all tracing the R8 loops: `make test-all`
def test_latencies_of_r8_are_one_step_per_pair_of_areas():
    # Spec §2.3 / §8.3 item 5: positive weights and a positive image, so ReLU masks no change.
    net = ndnx.models.cordsnet_r8(num_classes=4, image_size=32, channels=1, blank_steps=3, jit_loop=False, seed=0)
    parameters = {}
    for name, value in net.get_parameters().items():
        if name.endswith("/g"):
            parameters[name] = np.full(value.shape, 0.02, "float32")
        elif name.endswith("bias"):
            parameters[name] = np.full(value.shape, 0.1, "float32")
        else:
            parameters[name] = np.abs(value)
    net.set_parameters(parameters)
    images = np.random.default_rng(0).uniform(0.1, 1.0, (2, 32, 32, 1)).astype("float32")
    latencies = analysis.response_latencies(net, images)
    print(f"R8 latencies {latencies.areas.tolist()}, logits {latencies.logits.tolist()} (stimulus steps)")
    assert latencies.steps == 6
    np.testing.assert_array_equal(latencies.areas, [[1, 1, 2, 2, 3, 3, 4, 4]] * 2)
    np.testing.assert_array_equal(latencies.logits, [4, 4])


def test_noise_level_zero_gives_zero_mse_and_the_clean_accuracy(r2):
    images = np.random.default_rng(3).normal(size=(4, 8, 8, 1)).astype("float32")
    start = r2.spontaneous_state()

    def run(x):  # in batches of 2, the shape every other test here simulates (one trace)
        halves = [r2.simulate(x[i:i + 2], initial_state=start, return_states=True) for i in (0, 2)]
        return {"logits": np.concatenate([h["logits"] for h in halves]),
                "states": [np.concatenate(s) for s in zip(*(h["states"] for h in halves))]}

    clean = run(images)
    predictions = np.argmax(clean["logits"][:, -1], -1)
    labels = np.concatenate([predictions[:2], (predictions[2:] + 1) % 5])  # clean accuracy 0.5 by construction
    result = analysis.noise_robustness(r2, images, labels, noise_levels=[0.0, 0.5], seed=7, batch_size=2)
    assert result.clean_accuracy == 0.5 and result.accuracy[0] == 0.5
    np.testing.assert_array_equal(result.mse[0], 0.0)
    np.testing.assert_array_equal(result.final_mse[0], 0.0)
    # σ = 0.5: the documented protocol, recomputed here from the model's own runs.
    noisy = images + 0.5 * np.random.default_rng(7).standard_normal(images.shape).astype("float32")
    other = run(noisy)
    expected = [np.mean((o.astype("float64") - c) ** 2) for o, c in zip(other["states"], clean["states"])]
    np.testing.assert_allclose(result.mse[1], expected, rtol=1e-6)
    assert np.all(result.mse[1] > 0)
    assert result.accuracy[1] == np.mean(np.argmax(other["logits"][:, -1], -1) == labels)


def test_area_activity_is_the_mean_distance_from_the_spontaneous_state(r2):
    images = np.ones((2, 8, 8, 1), "float32")
    activity = analysis.area_activity(r2, images, stimulus_steps=3)
    start = r2.spontaneous_state()
    states = r2.simulate(images, initial_state=start, stimulus_steps=3, return_states=True)["states"]
    expected = np.stack([np.abs(s[0] - b[0]).mean(axis=(1, 2, 3)) for s, b in zip(states, start)], -1)
    np.testing.assert_allclose(activity.deviation[0], expected, rtol=1e-6)
    # Area 0 moves at step 1; with an image on, the activity of every area grows from 0.
    assert np.all(activity.deviation[0, 0] > 0)
    np.testing.assert_array_equal(activity.steps, [1, 2, 3])


def test_bad_arguments_name_the_function(r2):
    with pytest.raises(ValueError, match="recurrent_spectrum: area must be an int in \\[0, 1\\]"):
        analysis.recurrent_spectrum(r2, area=2)
    with pytest.raises(ValueError, match="noise_robustness: labels must be 2 integer class indices"):
        analysis.noise_robustness(r2, np.zeros((2, 8, 8, 1)), [0.5, 1.0], [0.0])
    with pytest.raises(ValueError, match="response_latencies: images must be"):
        analysis.response_latencies(r2, np.zeros((8, 8, 1)))
