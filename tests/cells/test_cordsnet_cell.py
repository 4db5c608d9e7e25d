"""CordsNet dynamics against closed forms and a NumPy reference (spec cordsnet.md §1.2, §8.3 tests 1 and 4)."""

import numpy as np
import pytest

import ndnx
from ndnx.cells.cordsnet import cordsnet_geometry
from tests import cordsnet_reference as ref


def conv_matrix(kernel, shape):
    """The dense matrix M of a 3×3/s1/p1 conv on states of `shape` (H, W, C), probed with unit vectors."""
    n = int(np.prod(shape))
    basis = np.eye(n).reshape((n,) + tuple(shape))
    return ref.conv(basis, kernel, 1, 1).reshape(n, n).T


def random_parameters(shapes, rng, scale=0.3):
    """Random plain-kernel parameters for the canonical shapes (biases and g's included)."""
    params = {}
    for name, shape in shapes.items():
        if name.endswith("/kernel"):
            fan_in = int(np.prod(shape[:-1]))
            params[name] = (rng.normal(size=shape) * scale / np.sqrt(fan_in)).astype("float32")
        elif name.endswith("/g"):
            params[name] = rng.uniform(0.5, 1.5, size=shape).astype("float32")
        else:
            params[name] = rng.normal(size=shape).astype("float32") * 0.3
    return params


def _model(depth, image_size, **kwargs):
    kwargs.setdefault("weight_norm", False)
    kwargs.setdefault("jit_loop", False)  # the step is compiled either way; a compiled loop costs compile time
    return ndnx.models.CordsNet(depth=depth, num_classes=4, image_size=image_size, channels=1, seed=0, **kwargs)


def _scaled_recurrence(params, area_shapes, target, measure):
    """Scale every recurrent kernel so that `measure`(M) = target (NumPy, float64)."""
    for j, shape in enumerate(area_shapes):
        kernel = params[f"area{j}/rec/kernel"].astype(np.float64)
        params[f"area{j}/rec/kernel"] = (kernel * target / measure(conv_matrix(kernel, shape))).astype("float32")
    return params


@pytest.mark.parametrize("alpha", [0.2, pytest.param(0.05, marks=pytest.mark.slow)])
def test_linear_steady_state_is_the_closed_form_and_independent_of_alpha(alpha):
    # Test 1: identity σ, spectral radius 0.5 → r* = (I − M)⁻¹ (b + F u) per area, whatever α.
    rng = np.random.default_rng(1)
    net = _model(2, 12, nonlinearity="linear", alpha=alpha, blank_steps=0, stimulus_steps=300 if alpha == 0.2 else 1200)
    _, areas = cordsnet_geometry(2, 12)
    params = random_parameters(net.parameter_shapes(), rng)
    params = _scaled_recurrence(params, areas, 0.5, lambda m: np.abs(np.linalg.eigvals(m)).max())
    net.set_parameters(params)
    image = rng.normal(size=(1, 12, 12, 1)).astype("float32")
    zero = tuple(np.zeros((1,) + s, "float32") for s in areas)
    states = net.simulate(image, initial_state=zero, return_states=True)["states"]

    k = ref.kernels(params)
    inp = ref.stem(params, image)
    n = int(np.prod(areas[0]))
    m0, m1 = (conv_matrix(k[f"area{j}/rec"], areas[j]) for j in (0, 1))
    drive0 = ref.conv(inp, k["area0/ff"], 1, 1).ravel() + params["area0/bias"].ravel()
    r0 = np.linalg.solve(np.eye(n) - m0, drive0)
    h1 = ref.relu(r0.reshape((1,) + areas[0])) + ref.conv(inp, k["inp_skip"], 1, 1)
    r1 = np.linalg.solve(np.eye(n) - m1, ref.conv(h1, k["area1/ff"], 1, 1).ravel() + params["area1/bias"].ravel())
    for got, expected in ((states[0][0, -1], r0), (states[1][0, -1], r1)):
        np.testing.assert_allclose(got.ravel(), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_relu_dynamics_with_contracting_recurrence_converge_to_the_fixed_point():
    # Test 4: ‖W_rec‖ = 0.6 < 1 → each area's Euler map is a contraction (Lipschitz 1 − α + 0.6α),
    # and the areas form a DAG, so the network reaches r = relu(W r + b + F h).
    rng = np.random.default_rng(2)
    net = _model(2, 12, blank_steps=0, stimulus_steps=250)
    _, areas = cordsnet_geometry(2, 12)
    params = random_parameters(net.parameter_shapes(), rng, scale=0.6)
    params = _scaled_recurrence(params, areas, 0.6, lambda m: np.sqrt(np.linalg.eigvalsh(m.T @ m).max()))
    net.set_parameters(params)
    image = rng.normal(size=(2, 12, 12, 1)).astype("float32")
    zero = tuple(np.zeros((1,) + s, "float32") for s in areas)
    states = net.simulate(image, initial_state=zero, return_states=True)["states"]
    final = [s[:, -1].astype(np.float64) for s in states]
    for s in states:
        assert np.abs(s[:, -1] - s[:, -2]).max() < 1e-6
    # residual r − relu(W r + b + F h), from the NumPy equations: with α = 1 one step maps r to that.
    mapped, _ = ref.step(params, image, final, 2, alpha=1.0)
    for r, m in zip(final, mapped):
        assert np.abs(r).max() > 1e-2  # a non-trivial fixed point
        np.testing.assert_allclose(r, m, atol=1e-5 * np.abs(r).max())


@pytest.mark.parametrize("nonlinearity,slope", [pytest.param("relu", 0.0, marks=pytest.mark.slow), ("prelu", 0.3),
                                                 pytest.param("linear", 0.0, marks=pytest.mark.slow)])
def test_model_steps_match_the_numpy_reference(nonlinearity, slope):
    rng = np.random.default_rng(3)
    net = ndnx.models.CordsNet(depth=4, num_classes=5, image_size=20, channels=1, blank_steps=3, stimulus_steps=4,
                               nonlinearity=nonlinearity, prelu_slope=slope, jit_loop=nonlinearity == "relu",
                               winograd_min_size=0 if nonlinearity == "prelu" else 14, seed=0)
    _, areas = cordsnet_geometry(4, 20)
    params = net.get_parameters()
    for name in params:
        if name.endswith("bias"):
            params[name] = rng.normal(size=params[name].shape).astype("float32") * 0.5
    net.set_parameters(params)
    image = rng.normal(size=(2, 20, 20, 1)).astype("float32")
    kwargs = dict(depth=4, nonlinearity=nonlinearity, slope=slope)
    blank, _, _ = ref.run(params, np.zeros((1, 20, 20, 1)), ref.zero_states(areas, 1), 3, **kwargs)
    blank = [np.repeat(b, 2, axis=0) for b in blank]
    _, trajectory, logits = ref.run(params, image, blank, 4, **kwargs)
    out = net.simulate(image, return_states=True)
    scale = np.abs(logits).max()
    np.testing.assert_allclose(out["logits"], np.transpose(logits, (1, 0, 2)), atol=2e-5 * scale)
    for j in range(4):
        expected = np.stack([t[j] for t in trajectory], axis=1)
        np.testing.assert_allclose(out["states"][j], expected, atol=2e-5 * np.abs(expected).max())
    np.testing.assert_allclose(np.asarray(net(image)), logits[-1], atol=2e-5 * scale)


def test_cell_in_keras_rnn_is_the_reference_step_and_checks_its_input():
    rng = np.random.default_rng(4)
    cell = ndnx.cells.CordsNetCell(2, 12, 1, 3, nonlinearity="prelu", prelu_slope=0.2, seed=1)
    import keras

    rnn = keras.layers.RNN(cell, return_sequences=True)
    images = rng.normal(size=(2, 12, 12, 1)).astype("float32")
    movie = np.repeat(images[:, None], 3, axis=1)
    got = np.asarray(rnn(movie))
    params = {name: v.numpy() for name, v in cell.canonical_variables().items()}
    _, areas = cordsnet_geometry(2, 12)
    _, _, logits = ref.run(params, images, ref.zero_states(areas, 2), 3, depth=2, nonlinearity="prelu", slope=0.2)
    np.testing.assert_allclose(got, np.transpose(logits, (1, 0, 2)), atol=1e-5 * np.abs(logits).max())
    drives = np.asarray(cell.drive_input(images))
    np.testing.assert_allclose(np.asarray(rnn(np.repeat(drives[:, None], 3, axis=1))), got, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="expected images"):
        cell.drive_input(np.zeros((1, 10, 12, 1), "float32"))
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        ndnx.cells.CordsNetCell(2, 12, 1, 3, nonlinearity="tanh")
