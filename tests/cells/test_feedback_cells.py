"""The feedback-modulation cells against a float64 NumPy reference of spec §2's step order."""

import numpy as np
import keras
import pytest

import ndnx
from ndnx.cells import DaleRateNetCell, ModulationNetCell, SpatialNetCell, modulation_kernel

RNG = np.random.default_rng(5)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _lstm(cell, u, h, c):
    m = cell.modulator
    z = u @ m.kernel.numpy() + m.bias.numpy() + h @ m.recurrent_kernel.numpy() + m.recurrent_bias.numpy()
    i, f, g, o = np.split(z, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    h = _sigmoid(o) * np.tanh(c)
    return h @ m.out_kernel.numpy() + m.out_bias.numpy(), h, c


def reference(cell, x):
    """y (batch, time, sources): the step order feedforward(M_{t−1}) → LSTM([x, y]) → leaky update."""
    x = np.asarray(x, "float64")
    B, T, _ = x.shape
    H = cell.hidden_units
    h, c = np.zeros((B, H)), np.zeros((B, H))
    if isinstance(cell, DaleRateNetCell):
        m, p = np.zeros((B, cell.signals)), None
    else:
        M = np.zeros((B, cell.modulation_sizes[0]))
    ys = []
    for t in range(T):
        xt = x[:, t]
        if isinstance(cell, ModulationNetCell):
            y = np.einsum("bij,bj->bi", M.reshape(B, cell.sources, cell.sensors), xt)
        elif isinstance(cell, SpatialNetCell):
            y = (M * (xt @ cell.w0.numpy().T)) @ cell.wro.numpy().T
        else:
            p = np.full((B, cell.units), 0.5) if p is None else p
            scale_exc, scale_inh = {"output": (20, 20), "excitation": (20, 10), "inhibition": (10, 20)}[cell.mod_target]
            w0 = np.abs(cell.w0.numpy()) * scale_exc / cell.units
            n_inh = cell.inhibitory_units
            w_inh = (np.abs(cell.w_zi.numpy()) * scale_inh / cell.units) @ (np.abs(cell.w_ix.numpy()) / n_inh)
            zl = np.maximum(xt @ cell.wx.numpy().T, 0)
            exc, inh = zl @ w0.T, zl @ w_inh.T
            z = {"output": lambda: p * np.maximum(exc - inh, 0), "excitation": lambda: np.maximum(p * exc - inh, 0),
                 "inhibition": lambda: np.maximum(exc - p * inh, 0)}[cell.mod_target]()
            y = z @ cell.wro.numpy().T
        u = {"xy": np.concatenate([xt, y], axis=1), "x": xt, "y": y}[cell.input_to_net]
        out, h, c = _lstm(cell, u, h, c)
        if isinstance(cell, ModulationNetCell):
            w0 = cell.w0.numpy()
            target = {"multiplicative": w0 * out, "additive": w0 + out, "direct": out}[cell.mode]
            M = target if cell.mode == "direct" else M + (target - M) / cell.tau
        elif isinstance(cell, SpatialNetCell):
            M = M + (out @ cell.wm.numpy().T - M) / cell.tau
        else:
            m = m + (out - m) / cell.tau
            p = 1 - _sigmoid(m @ cell.wm.numpy().T)
        ys.append(y)
    return np.stack(ys, axis=1)


CELLS = [
    lambda: ModulationNetCell(hidden_units=12, tau=3.0, seed=1),
    lambda: ModulationNetCell(hidden_units=12, mode="additive", tau=1.0, input_to_net="y", seed=2),
    lambda: ModulationNetCell(hidden_units=12, mode="direct", sensors=3, seed=3),
    lambda: SpatialNetCell(hidden_units=12, units=20, signals=4, kernel_width=0.2, tau=5.0, seed=4),
    lambda: SpatialNetCell(hidden_units=12, units=20, signals=4, kernel_width=0.0, tau=1.0, input_to_net="x", seed=5),
    lambda: DaleRateNetCell(hidden_units=12, units=16, lower_units=10, inh_frac=0.5, tau=4.0, p_init_std=0.0, seed=6),
    lambda: DaleRateNetCell(hidden_units=12, units=16, lower_units=10, mod_target=1, p_init_std=0.0, seed=7),
    lambda: DaleRateNetCell(hidden_units=12, units=16, lower_units=10, mod_target=2, p_init_std=0.0, seed=8),
]


@pytest.mark.parametrize("i", range(len(CELLS)))
def test_cell_follows_the_step_order_of_the_reference(i):
    cell = CELLS[i]()
    x = RNG.normal(size=(3, 40, cell.sensors)).astype("float32")
    y = keras.layers.RNN(cell, return_sequences=True)(x)
    np.testing.assert_allclose(np.asarray(y), reference(cell, x), atol=2e-5)
    assert np.all(np.asarray(y)[:, 0] == 0) or isinstance(cell, DaleRateNetCell)  # y_0 = 0: M starts at 0


def test_torch_style_initialisation_and_parameter_count():
    cell = ModulationNetCell(seed=0)
    cell.build((None, 2))
    values = np.concatenate([w.numpy().ravel() for w in cell.modulator.weights])
    assert values.size == 42804
    assert np.abs(values).max() <= 0.1 and np.abs(values).max() > 0.0999
    assert values.std() == pytest.approx(0.2 / np.sqrt(12), rel=0.02)  # U(−0.1, 0.1)
    assert cell.w0.numpy().mean() == pytest.approx(1.0, abs=0.002) and not cell.w0.trainable


def test_modulation_kernels():
    np.testing.assert_array_equal(modulation_kernel(6, 3, 0), np.kron(np.eye(3), np.ones((2, 1))))
    np.testing.assert_array_equal(modulation_kernel(5, 2, 10), np.ones((5, 2)))
    k = modulation_kernel(8, 2, 0.5)
    np.testing.assert_allclose(k[2, 0], np.exp((np.cos(np.pi / 2) - 1) / 0.5))
    np.testing.assert_allclose(k[4:, 1], k[:4, 0])  # the second signal is the first turned by half the ring


def test_freeze_holds_the_modulation_while_the_modulator_runs():
    cell = SpatialNetCell(hidden_units=8, units=10, signals=2, tau=2.0, seed=0)
    model = ndnx.models.FeedbackNetwork(cell)
    x = RNG.normal(size=(2, 30, 2)).astype("float32")
    freeze = np.zeros((2, 30), bool)
    freeze[0, 10:20] = True
    y, _, rec = model.run(x, freeze=freeze, record=("modulation", "feedback"))
    _, _, free = model.run(x, record=("modulation", "feedback"))
    M = rec["modulation"].numpy()[:, :, 0]
    np.testing.assert_array_equal(M[0, 10:20], np.broadcast_to(M[0, 9], (10, 10)))
    np.testing.assert_allclose(M[1], free["modulation"].numpy()[1, :, 0], atol=1e-6)  # row 1 was not frozen
    # the modulator kept running: its outputs differ from the unfrozen run only through the held y
    assert not np.allclose(rec["feedback"].numpy()[0, 10:20], rec["feedback"].numpy()[0, 9])


@pytest.mark.parametrize("make,message", [
    (lambda: ModulationNetCell(mode="divisive"), "mode must be one of"),
    (lambda: ModulationNetCell(tau=0.5), r"tau must be finite and ≥ 1"),
    (lambda: SpatialNetCell(kernel_width=-1), "width must be ≥ 0"),
    (lambda: SpatialNetCell(input_to_net="z"), "input_to_net must be one of"),
    (lambda: DaleRateNetCell(mod_target="gain"), "mod_target must be one of"),
    (lambda: DaleRateNetCell(lower_units=1, inh_frac=0.1), "must round to ≥ 1 interneuron"),
])
def test_bad_arguments_give_one_line(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_wrong_number_of_sensors_gives_one_line():
    with pytest.raises(ValueError, match="expected 2 sensor inputs per step, got 3"):
        keras.layers.RNN(ModulationNetCell(hidden_units=4, seed=0))(np.zeros((1, 5, 3), "float32"))
