"""BPTT training of E/I rate networks (spec ei_networks_neuroflame.md §6, §10.3 item 9).

The low-rank E→E block and the overlap readout against NumPy, gradients against central finite
differences, the optimiser's schedule and the stopping rules against hand-written loss curves. The
spec's DPA smoke test (§10.3 item 9) runs the experiment: tests/experiments/ei/test_dpa_training.py.
"""

import numpy as np
import keras
import pytest
import tensorflow as tf

import ndnx
from ndnx.connectivity import Synapses
from ndnx.training.ei_tasks import TaskStopping, task_optimizer

SIZES = [6, 2]
RNG = np.random.default_rng(7)
MASKS = {(a, b): RNG.random((SIZES[a], SIZES[b])) < 0.6 for a in range(2) for b in range(2) if (a, b) != (0, 0)}


def low_rank_cell(**overrides):
    kwargs = dict(in_degree=3, m0=1.0, gain=1.0, ja0=(1.5, 1.0), dt=0.02, t_window=0.1, rate_dynamics=True,
                  tau=(0.05, 0.04), tau_syn=(0.04, 0.04), stp_blocks=[(0, 0)], stp_mode="dense", j_stp=2.0,
                  lr_train=True, rank=2, init_std=0.0, seed=1)
    kwargs.update(overrides)
    blocks = {k: Synapses.from_dense(m) for k, m in MASKS.items()}
    return ndnx.cells.EIRateCell(SIZES, blocks, **kwargs)


def kernel_of(cell):
    """The E→E plastic coupling the cell uses, pre × post, and its scale."""
    scale, coupling = cell.resolve(None, 1)["stp"][(0, 0)][:2]
    return np.asarray(coupling["kernel"], "float64"), float(np.asarray(scale).ravel()[0])


def test_low_rank_block_is_one_plus_v_u_against_numpy():
    cell = low_rank_cell(lr_clamp=True, lr_ini=2.0)
    cell.build(None)
    v = cell.lr_v.numpy().astype("float64")
    np.testing.assert_array_equal(cell.lr_u.numpy(), cell.lr_v.numpy())  # LR_UeqV: U starts as V
    u = v + np.random.default_rng(0).normal(size=v.shape)
    cell.lr_u.assign(u.astype("float32"))
    kernel, scale = kernel_of(cell)
    post_pre = 1.0 + np.maximum(np.einsum("ir,jr->ij", v, u), -1.0)  # J_ij ∝ 1 + V_i·U_j, clamped at −1
    np.testing.assert_allclose(kernel, post_pre.T, rtol=1e-5, atol=1e-5)
    assert (post_pre < 1e-12).any()  # lr_ini 2 makes the clamp bite
    assert scale == pytest.approx(1.0 * 2.0 / 6)  # GAIN·J_STP/N_E
    assert sorted(w.name for w in cell.trainable_weights) == ["j_stp", "lr_u", "lr_v"]


def test_low_rank_options_symmetric_normalised_frozen():
    cell = low_rank_cell(lr_separate=False, lr_norm=True)
    cell.build(None)
    v = cell.lr_v.numpy().astype("float64")
    vn = v / np.sqrt((v ** 2).sum())  # Frobenius normalisation
    kernel, _ = kernel_of(cell)
    np.testing.assert_allclose(kernel, 1.0 + vn @ vn.T, rtol=1e-5, atol=1e-6)  # LR_MN = 0: V·Vᵀ
    assert sorted(w.name for w in cell.trainable_weights) == ["j_stp", "lr_v"]
    other = low_rank_cell(lr_u_eq_v=False)
    other.build(None)
    assert np.abs(other.lr_u.numpy() - other.lr_v.numpy()).min() > 0
    frozen = low_rank_cell(lr_frozen=1)
    frozen.build(None)
    with tf.GradientTape() as tape:
        v, u = frozen.low_rank_factors()
        total = tf.reduce_sum(v * 3.0) + tf.reduce_sum(u)
    gv, gu = tape.gradient(total, [frozen.lr_v, frozen.lr_u])
    np.testing.assert_array_equal(gv.numpy()[:, 0], 0.0)  # the first rank component is held
    np.testing.assert_array_equal(gv.numpy()[:, 1], 3.0)
    np.testing.assert_array_equal(gu.numpy()[:, 0], 0.0)


def test_low_rank_options_are_checked():
    with pytest.raises(ValueError, match="lr_train makes the dense E→E"):
        low_rank_cell(stp_mode="structured", lr_train=True)
    with pytest.raises(ValueError, match="rank must be an int ≥ 1"):
        low_rank_cell(rank=0)
    with pytest.raises(ValueError, match="lr_frozen must be at most rank = 2"):
        low_rank_cell(lr_frozen=3)


def tiny_model(**cell_overrides):
    network = ndnx.models.EINetwork(low_rank_cell(**cell_overrides), duration=0.2, t_steady=0.04, jit_loop=False)
    return ndnx.models.EITaskModel(network, linear_readout=True, seed=0)


def test_readout_is_the_overlaps_with_v_against_numpy():
    model = tiny_model()
    model.build(None)
    rates = np.random.default_rng(1).uniform(0, 3, size=(2, 5, 8)).astype("float32")
    z = model.readout_of(rates).numpy()
    v = model.network.cell.lr_v.numpy()
    kernel, bias = (w.numpy() for w in model.linear.weights)
    np.testing.assert_allclose(z[..., :2], rates[..., :6] @ v / 6, rtol=1e-5)
    np.testing.assert_allclose(z[..., 2:], rates[..., :6] @ kernel + bias, rtol=1e-5, atol=1e-6)


SCHEDULE = {"onsets": np.array([[0.0], [0.1]], "float32"), "offsets": np.array([[0.1], [0.2]], "float32"),
            "patterns": np.random.default_rng(2).uniform(0.5, 1.5, size=(2, 1, 6)).astype("float32")}
# labels 1 and 0 on channel 0, window from frame 1 on; the hinge is active everywhere (|z| < 2)
TARGETS = np.concatenate([np.broadcast_to(np.array([[1.0], [0.0]])[:, None], (2, 3, 1)),
                          np.broadcast_to((np.arange(3) >= 1).astype(float)[None, :, None], (2, 3, 1))],
                         axis=-1).astype("float32")


@pytest.mark.slow  # family budget; the low-rank block and readout against NumPy stay fast
def test_gradients_of_the_dual_loss_match_central_differences():
    model = tiny_model()
    loss_fn = ndnx.losses.DualLoss(read_idx=(0,))
    cell = model.network.cell

    def loss():
        return loss_fn(TARGETS, model(SCHEDULE, training=True))

    model.build(None)
    cell.lr_v.assign(cell.lr_v.numpy() * 2.0)  # a readout large enough for float32 differences
    with tf.GradientTape() as tape:
        value = loss()
    weights = [cell.lr_v, cell.lr_u, cell.j_stp_weight]
    grads = [g.numpy() for g in tape.gradient(value, weights)]
    eps = 1e-2
    checked = 0
    for w, g in zip(weights, grads):
        base = np.array(w.numpy())
        # the entry of V and of U that moves the loss most (elsewhere float32 differences are noise)
        picks = [()] if base.ndim == 0 else [np.unravel_index(i, base.shape) for i in np.argsort(-np.abs(g).ravel())[:1]]
        for idx in picks:
            plus, minus = base.copy(), base.copy()
            plus[idx] += eps
            minus[idx] -= eps
            w.assign(plus)
            up = float(loss())
            w.assign(minus)
            down = float(loss())
            w.assign(base)
            numeric = (up - down) / (2 * eps)
            assert abs(numeric) > 1e-3, (w.name, idx, numeric)  # a real gradient, not a flat spot
            np.testing.assert_allclose(g[idx], numeric, rtol=3e-2, atol=2e-4, err_msg=f"{w.name}{idx}")
            checked += 1
    assert checked == 3


def test_optimizer_decays_the_rate_by_0_9_per_epoch_and_clips_at_10():
    opt = task_optimizer(steps_per_epoch=3)
    lrs = [float(opt.learning_rate_schedule(step)) for step in range(9)]
    np.testing.assert_allclose(lrs, [0.1] * 3 + [0.09] * 3 + [0.081] * 3, rtol=1e-6)
    assert opt.global_clipnorm == 10.0
    var = keras.Variable(np.zeros(4, "float32"))
    opt = task_optimizer(steps_per_epoch=1, learning_rate=1.0)
    opt.apply_gradients([(tf.constant([30.0, 40.0, 0.0, 0.0]), var)])  # norm 50 → clipped to 10 (Adam: ±lr)
    np.testing.assert_allclose(var.numpy(), [-1.0, -1.0, 0.0, 0.0], atol=1e-4)


class _Model:
    stop_training = False


def _run(stopping, curve):
    stopping.set_model(_Model())
    stopping.model.stop_training = False
    stopping.on_train_begin()
    for epoch, logs in enumerate(curve):
        stopping.on_epoch_end(epoch, logs)
        if stopping.model.stop_training:
            return epoch
    return None


def test_stopping_rules_on_written_loss_curves():
    # the reference run: val 1.96 → 0.12 (spec §6); below a 0.2 threshold at the 4th epoch
    curve = [{"loss": a, "val_loss": b} for a, b in [(1.9, 1.96), (1.0, 0.9), (0.3, 0.25), (0.15, 0.12)]]
    stop = TaskStopping(loss_threshold=0.2)
    assert _run(stop, curve) == 3 and stop.reason == "threshold"
    stop = TaskStopping()
    assert _run(stop, [{"loss": 1.0}, {"loss": float("nan")}]) == 1 and stop.reason == "nan"
    # improvements 0.3, then 0.001 per epoch: epoch 6 is 0.005 (< 1e-2) below epoch 1
    losses = [1.3, 1.0, 0.999, 0.998, 0.997, 0.996, 0.995, 0.5]
    stop = TaskStopping(monitor="loss")
    assert _run(stop, [{"loss": v} for v in losses]) == 6 and stop.reason == "stalled"
