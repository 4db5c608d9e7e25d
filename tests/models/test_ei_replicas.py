"""Several seeds of a BPTT-trained E/I network as one replicated model (spec ei_networks_neuroflame.md §6,
replica protocol of ndnx/layers/replicas.py).

The reference of every check is the lone model: replica r of an `EITaskModel` built with
`replicas=R` and seeds `seeds` must give, weight for weight and output for output, what the lone
model built with seed seeds[r] on the same connectivity gives — before training, after one Adam
step (with and without the per-replica clip), and once extracted with `extract_replica`. The task
losses with a replica axis are checked against the sum of the lone losses, each written out in
NumPy here.
"""

import numpy as np
import keras
import pytest
import tensorflow as tf

import ndnx
from ndnx.connectivity import Synapses
from ndnx.layers.replicas import all_layers, replicated_variable_ids
from ndnx.training import check_replica_optimizer, extract_replica
from ndnx.training.ei_tasks import ReplicaClippedAdam, task_optimizer

SIZES = [6, 2]
RNG = np.random.default_rng(17)
MASKS = {(a, b): RNG.random((SIZES[a], SIZES[b])) < 0.6 for a in range(2) for b in range(2) if (a, b) != (0, 0)}
CELL_SEEDS = [3, 11, 29]
MODEL_SEEDS = [0, 5, 8]
NOISE = dict(init_std=0.5, rate_noise=True, var_rate=0.3, var_ff=(0.1, 0.1))
SCHEDULE = {"onsets": np.array([[0.0], [0.1]], "float32"), "offsets": np.array([[0.1], [0.2]], "float32"),
            "patterns": np.random.default_rng(2).uniform(0.5, 1.5, size=(2, 1, 6)).astype("float32")}
# two channels (read_idx (0, 2): an overlap and the linear column): labels 1 and 0, then 0 and 1;
# window from frame 1 on (|z| < 2, so the hinge is active)
TARGETS = np.concatenate([np.broadcast_to(np.array([[1.0, 0.0], [0.0, 1.0]])[:, None], (2, 3, 2)),
                          np.broadcast_to((np.arange(3) >= 1).astype(float)[None, :, None], (2, 3, 2))],
                         axis=-1).astype("float32")


def cell(seed, replicas=None, **overrides):
    kwargs = dict(in_degree=3, m0=1.0, gain=1.0, ja0=(1.5, 1.0), dt=0.02, t_window=0.1, rate_dynamics=True,
                  tau=(0.05, 0.04), tau_syn=(0.04, 0.04), stp_blocks=[(0, 0)], stp_mode="dense", j_stp=2.0,
                  lr_train=True, rank=2, lr_ini=1.5, init_std=0.0)
    kwargs.update(overrides)
    blocks = {k: Synapses.from_dense(m) for k, m in MASKS.items()}
    return ndnx.cells.EIRateCell(SIZES, blocks, replicas=replicas, seed=seed, **kwargs)


def task_model(cell_seed, model_seed, replicas=None, readout="overlaps", **overrides):
    # no steady period: one traced sub-step loop fewer (tracing a trial and its gradient is what costs)
    network = ndnx.models.EINetwork(cell(cell_seed, replicas, **overrides), duration=0.2, t_steady=0.0,
                                    jit_loop=False)
    return ndnx.models.EITaskModel(network, readout=readout, linear_readout=readout == "overlaps", seed=model_seed)


def fresh_lone(r, runner, **overrides):
    """`runner` (a lone model whose trial function is traced already) made the lone model built with
    seeds CELL_SEEDS[r], MODEL_SEEDS[r]: the weights and random-number states of a newly built one.

    Only a model's first call traces its trial and its first gradient the trial's gradient (seconds
    each); copying fresh models into one traced model keeps the reference independent of the
    replicated code at the cost of one trace. (The opto mask is a constant of the trace: give opto
    as indices here, the same for every seed.)
    """
    fresh = task_model(CELL_SEEDS[r], MODEL_SEEDS[r], None, runner.readout, **overrides)
    fresh.build(None)
    runner.build(None)
    assert len(fresh.weights) == len(runner.weights)
    for source, target in zip(fresh.weights, runner.weights):
        target.assign(source.numpy())
    for source, target in zip(all_layers(fresh), all_layers(runner)):
        for name, generators in getattr(source, "_replica_generators", {}).items():
            target._replica_generators[name][0].state.assign(generators[0].state.value)
    return runner


@pytest.mark.parametrize("case", [pytest.param("quiet", marks=pytest.mark.slow), "noisy_w_train"])  # budget
def test_replica_r_is_the_lone_model_with_seed_r(case):
    overrides = {"quiet": {}, "noisy_w_train": dict(NOISE, lr_train=False, clamp=True, opto=[1, 4])}[case]
    readout = "rates" if case == "noisy_w_train" else "overlaps"
    # batched parameters (one row per simulation) are shared by the replicas of a simulation
    parameters = {"quiet": {"ja0": np.array([[1.5, 1.0], [2.0, 0.5]], "float32")},
                  "noisy_w_train": {"j_stp": np.array([[1.0], [3.0]], "float32")}}[case]
    ensemble = task_model(CELL_SEEDS, MODEL_SEEDS, 3, readout, **overrides)
    runner = task_model(CELL_SEEDS[0], MODEL_SEEDS[0], None, readout, **overrides)
    # two calls each: the noise of the second call is drawn from the advanced generators
    outputs = [np.asarray(ensemble(SCHEDULE, parameters=parameters, training=t)) for t in (False, True)]
    width = 6 if readout == "rates" else 3
    assert outputs[0].shape == (2, 3, 3, width)  # (batch, frames, R, width)
    assert tuple(ensemble.compute_output_shape(None)) == (None, 3, 3, width)
    replicated = replicated_variable_ids(ensemble)
    assert all(id(w) in replicated for w in ensemble.trainable_weights)
    for r in range(3):
        lone = fresh_lone(r, runner, **overrides)
        for w, w_lone in zip(ensemble.weights, lone.weights):
            value = w.numpy()[r] if id(w) in replicated else w.numpy()
            np.testing.assert_array_equal(value, w_lone.numpy(), err_msg=f"{w.path}, replica {r}")
        expected = [np.asarray(lone(SCHEDULE, parameters=parameters, training=t)) for t in (False, True)]
        for got, want in zip(outputs, expected):
            np.testing.assert_allclose(got[:, :, r], want, rtol=1e-5, atol=1e-5, err_msg=f"{case}, replica {r}")
    # the seeds matter: the replicas differ
    assert np.abs(outputs[0][:, :, 0] - outputs[0][:, :, 1]).max() > 1e-3


def test_opto_silences_per_replica_what_the_lone_seed_silences():
    ensemble = task_model(CELL_SEEDS, MODEL_SEEDS, 3, "rates", lr_train=False, opto=2)
    ensemble.build(None)
    masks = ensemble.network.cell._opto_mask
    for r in range(3):
        lone = task_model(CELL_SEEDS[r], MODEL_SEEDS[r], None, "rates", lr_train=False, opto=2)
        lone.build(None)
        np.testing.assert_array_equal(masks[r], lone.network.cell._opto_mask)
        assert masks[r].sum() == 6 - 2
    assert len({tuple(m.ravel()) for m in masks}) > 1  # the seeds silence different neurons


def _generators(model):
    return [g for layer in all_layers(model) for gens in getattr(layer, "_replica_generators", {}).values()
            for g in gens]


def _restore(model, weights, states):
    for w, value in zip(model.weights, weights):
        w.assign(value)
    for g, value in zip(_generators(model), states):
        g.state.assign(value)


def _fit(model, loss, optimizer):
    """Two Adam steps of model.fit (the clip scale differs between them, so it shows in the update)."""
    model.compile(optimizer=optimizer, loss=loss, run_eagerly=True)  # eager: the trial is traced already
    batches = tf.data.Dataset.from_tensors((SCHEDULE, TARGETS)).repeat(2)
    model.fit(batches, epochs=1, verbose=0, shuffle=False)


def _gradients(model, loss):
    with tf.GradientTape() as tape:
        value = loss(TARGETS, model(SCHEDULE, training=True))
    return [g.numpy() for g in tape.gradient(value, model.trainable_weights)]


@pytest.mark.slow  # family budget; the replicas' forward equivalence is checked fast above
def test_gradients_and_adam_steps_of_each_replica_are_its_lone_models():
    ensemble = task_model(CELL_SEEDS, MODEL_SEEDS, 3, **NOISE)
    runner = task_model(CELL_SEEDS[0], MODEL_SEEDS[0], None, **NOISE)
    ensemble.build(None)
    start = [w.numpy().copy() for w in ensemble.weights], [g.state.numpy().copy() for g in _generators(ensemble)]
    ensemble_grads = _gradients(ensemble, ndnx.losses.DualLoss(read_idx=(0, 2), replica_axis=2))
    assert all(id(w) in replicated_variable_ids(ensemble) for w in ensemble.trainable_weights)
    norms = []
    for r in range(3):  # the summed loss gives each replica its lone gradient, scale included
        lone_grads = _gradients(fresh_lone(r, runner, **NOISE), ndnx.losses.DualLoss(read_idx=(0, 2)))
        for g, g_lone, w in zip(ensemble_grads, lone_grads, ensemble.trainable_weights):
            np.testing.assert_allclose(g[r], g_lone, rtol=1e-4, atol=1e-6, err_msg=f"{w.path}, replica {r}")
        norms.append(np.sqrt(sum(float(np.sum(g ** 2)) for g in lone_grads)))
    for clip_norm in (None, 0.05):
        if clip_norm is not None:
            assert min(norms) > 10 * clip_norm  # the clip bites on every replica
        _restore(ensemble, *start)
        _fit(ensemble, ndnx.losses.DualLoss(read_idx=(0, 2), replica_axis=2),
             task_optimizer(1, learning_rate=0.05, clip_norm=clip_norm, replicas=3))
        check_replica_optimizer(ensemble)
        assert isinstance(ensemble.optimizer, ReplicaClippedAdam) == (clip_norm is not None)
        for r in range(3):
            lone = fresh_lone(r, runner, **NOISE)
            before = [w.numpy().copy() for w in lone.trainable_weights]
            _fit(lone, ndnx.losses.DualLoss(read_idx=(0, 2)), task_optimizer(1, learning_rate=0.05,
                                                                             clip_norm=clip_norm))
            moved = [np.abs(w.numpy() - b).max() for w, b in zip(lone.trainable_weights, before)]
            assert min(moved) > 1e-4  # every trainable weight took its steps
            for w, w_lone in zip(ensemble.trainable_weights, lone.trainable_weights):
                np.testing.assert_allclose(w.numpy()[r], w_lone.numpy(), rtol=1e-5, atol=1e-5,
                                           err_msg=f"{w.path}, replica {r}, clip_norm {clip_norm}")


def test_a_global_clip_norm_is_refused_for_replicas():
    ensemble = task_model(CELL_SEEDS, MODEL_SEEDS, 3)
    ensemble.compile(optimizer=keras.optimizers.Adam(global_clipnorm=10.0),
                     loss=ndnx.losses.DualLoss(replica_axis=2))
    with pytest.raises(ValueError, match="global_clipnorm=10.0, a norm over every seed"):
        check_replica_optimizer(ensemble)
    with pytest.raises(ValueError, match="clipnorm and global_clipnorm mix the replicas"):
        ReplicaClippedAdam(replicas=3, global_clipnorm=1.0)


def test_replica_clipped_adam_against_the_clip_by_hand():
    grads = [np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 12.0]], "float32"), np.array([0.0, 0.0, 5.0], "float32")]
    clipped = ReplicaClippedAdam(replicas=3, replica_clipnorm=1.0)._clip_gradients(grads)
    # replica norms 5, 0.5 and 13: scaled by 1/5, 1, 1/13
    np.testing.assert_allclose(clipped[0], [[0.6, 0.8], [0.3, 0.4], [0.0, 12 / 13]], rtol=1e-6)
    np.testing.assert_allclose(clipped[1], [0.0, 0.0, 5 / 13], rtol=1e-6)
    lone = ReplicaClippedAdam(replica_clipnorm=1.0)._clip_gradients([np.array([3.0, 4.0], "float32")])
    np.testing.assert_allclose(lone[0], [0.6, 0.8], rtol=1e-6)


@pytest.mark.slow  # family budget
def test_extract_replica_is_the_lone_model_and_round_trips(tmp_path):
    ensemble = task_model(CELL_SEEDS, MODEL_SEEDS, 3, **NOISE)
    ensemble(SCHEDULE)
    ensemble.compile(optimizer=task_optimizer(1, clip_norm=10.0, replicas=3),
                     loss=ndnx.losses.DualLoss(read_idx=(0, 2), replica_axis=2), run_eagerly=True)
    for r in range(3):
        single = extract_replica(ensemble, r)
        assert single.replicas is None and single.network.cell.replicas is None
        assert single.seed == MODEL_SEEDS[r] and single.network.cell.seed == CELL_SEEDS[r]
        assert single.loss.replica_axis is None
        assert single.optimizer.replicas is None and single.optimizer.replica_clipnorm == 10.0
        lone = task_model(CELL_SEEDS[r], MODEL_SEEDS[r], None, **NOISE)
        lone.build(None)
        for w, w_lone in zip(single.weights, lone.weights):
            np.testing.assert_array_equal(w.numpy(), w_lone.numpy(), err_msg=w.path)
    # the extract continues replica 2's random numbers: its next call is the ensemble's
    np.testing.assert_allclose(np.asarray(single(SCHEDULE, training=True)),
                               np.asarray(ensemble(SCHEDULE, training=True))[:, :, 2], rtol=1e-5, atol=1e-5)
    # a replicated model saves and loads as any Keras model
    ensemble.optimizer.build(ensemble.trainable_variables)
    path = str(tmp_path / "seeds.keras")
    ensemble.save(path)
    restored = keras.saving.load_model(path)
    assert restored.replicas == 3 and restored.network.cell.seed == CELL_SEEDS
    assert isinstance(restored.optimizer, ReplicaClippedAdam) and restored.loss.replica_axis == 2
    for w, w_restored in zip(ensemble.weights, restored.weights):
        np.testing.assert_array_equal(w.numpy(), w_restored.numpy(), err_msg=w.path)


def _dual_numpy(y_true, z, read_idx, thresh=2.0, beta=1.0):
    """DualLoss of one model, per trial (hinge in the window, SmoothL1 outside; NaN frames skipped)."""
    out = np.zeros(z.shape[0])
    for c, col in enumerate(read_idx):
        for b in range(z.shape[0]):
            label, window, zz = y_true[b, :, c], y_true[b, :, len(read_idx) + c], z[b, :, col]
            ok = ~np.isnan(label)
            inside, outside = ok & (window == 1), ok & (window == 0)
            hinge = np.maximum(thresh - np.sign(2 * label - 1) * zz, 0)
            a = np.abs(zz)
            smooth = np.where(a < beta, 0.5 * zz ** 2 / beta, a - 0.5 * beta)
            out[b] += (hinge[inside].mean() if inside.any() else 0) + (smooth[outside].mean() if outside.any() else 0)
    return out


def _angular_numpy(y_true, rates, eps=1e-7):
    n = rates.shape[-1]
    theta = 2 * np.pi * np.arange(n) / n
    f1 = (rates * np.exp(1j * theta)).sum(-1)
    m0 = rates.mean(-1)
    m1 = np.sqrt(np.abs(2 * f1 / n) ** 2 + eps ** 2)
    cos, sin = (2 * f1 / n).real / m1, (2 * f1 / n).imag / m1
    target, window = y_true[..., 0], y_true[..., 1]
    phase = 0.5 * ((sin - np.sin(target)) ** 2 + (cos - np.cos(target)) ** 2)
    bump = np.maximum(1 - m1 / np.maximum(m0, eps), 0)
    inside = window == 1
    return np.array([(phase + bump)[b][inside[b]].mean() + (m1 ** 2)[b][~inside[b]].mean()
                     for b in range(rates.shape[0])])


def test_task_losses_sum_the_replicas_lone_losses():
    rng = np.random.default_rng(5)
    z = rng.normal(0, 1.5, size=(4, 6, 3, 3)).astype("float32")  # (batch, frames, R, columns)
    labels = rng.integers(0, 2, size=(4, 1, 2)).repeat(6, axis=1).astype("float32")
    labels[0, :2, 1] = np.nan
    windows = (rng.random((4, 6, 2)) < 0.5).astype("float32")
    y_true = np.concatenate([labels, windows], axis=-1)
    expected = np.mean(sum(_dual_numpy(y_true, z[:, :, r], (0, 2)) for r in range(3)))
    got = float(ndnx.losses.DualLoss(read_idx=(0, 2), replica_axis=2)(y_true, z))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # per-replica targets on the same axis, and the replica axis at 1
    per_replica = np.repeat(y_true[:, :, None], 3, axis=2)
    np.testing.assert_allclose(float(ndnx.losses.DualLoss(read_idx=(0, 2), replica_axis=2)(per_replica, z)),
                               expected, rtol=1e-5)
    np.testing.assert_allclose(float(ndnx.losses.DualLoss(read_idx=(0, 2), replica_axis=1)(
        y_true, np.moveaxis(z, 2, 1))), expected, rtol=1e-5)

    theta = 2 * np.pi * np.arange(8) / 8
    rates = (1.0 + rng.uniform(0.2, 1.0, size=(3, 5, 3, 1)) * np.cos(theta - rng.uniform(-3, 3, size=(3, 5, 3, 1))))
    rates = rates.astype("float32")
    y_ang = np.stack([np.full((3, 5), 1.0), (np.arange(5) >= 2)[None].repeat(3, 0)], axis=-1).astype("float32")
    expected = np.mean(sum(_angular_numpy(y_ang, rates[:, :, r].astype("float64")) for r in range(3)))
    got = float(ndnx.losses.AngularErrorLoss(replica_axis=2)(y_ang, rates))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_replica_arguments_are_checked():
    with pytest.raises(ValueError, match="replica_axis must be None or an int ≥ 1"):
        ndnx.losses.DualLoss(replica_axis=0)
    with pytest.raises(ValueError, match="with replica_axis=2 the predictions must be of rank 4"):
        ndnx.losses.DualLoss(replica_axis=2)(TARGETS, np.zeros((2, 3, 1), "float32"))
    network = ndnx.models.EINetwork(cell(CELL_SEEDS, 3), duration=0.2, t_steady=0.04)
    with pytest.raises(ValueError, match=r"replicas must be the cell's \(3\), got 2"):
        ndnx.models.EITaskModel(network, replicas=2)
    with pytest.raises(ValueError, match="the cell must have replicas=None, got replicas=3"):
        network.record("unused.h5", batch_size=1)
    with pytest.raises(ValueError, match="runs inside ndnx.models.EINetwork"):
        keras.layers.RNN(cell(CELL_SEEDS, 3))(np.zeros((2, 1, 6), "float32"))
    with pytest.raises(ValueError, match="expected one seed per replica"):
        cell([1, 2], 3)
