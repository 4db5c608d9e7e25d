"""Task losses of the E/I networks (NeuroFlame spec §6 "Losses"), against NumPy references written here."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import ndnx
from ndnx.losses import AngularErrorLoss, DualLoss

RNG = np.random.default_rng(5)


def dual_reference(y_true, readout, read_idx, thresh=2.0, negative="hinge", gain=0.1, beta=1.0):
    """Per trial: Σ_c [mean hinge over window frames + mean SmoothL1 over the other frames]; mean over trials."""
    channels = len(read_idx)
    per_trial = []
    for b in range(readout.shape[0]):
        total = 0.0
        for c, column in enumerate(read_idx):
            inside, outside = [], []
            for t in range(readout.shape[1]):
                label, window, z = y_true[b, t, c], y_true[b, t, channels + c], float(readout[b, t, column])
                if np.isnan(label):
                    continue
                if window == 1:
                    if negative == "neutral" and label == 0:
                        inside.append(gain * abs(z))
                    else:
                        inside.append(max(thresh - (1.0 if label == 1 else -1.0) * z, 0.0))
                else:
                    outside.append(0.5 * z * z / beta if abs(z) < beta else abs(z) - 0.5 * beta)
            total += (np.mean(inside) if inside else 0.0) + (np.mean(outside) if outside else 0.0)
        per_trial.append(total)
    return float(np.mean(per_trial))


def angular_reference(y_true, rates):
    """A trial: ½ mean_in[(sin φ − sin φ*)² + (cos φ − cos φ*)²] + mean_out m1² + mean_in relu(1 − m1/m0)"""
    n = rates.shape[-1]
    per_trial = []
    for b in range(rates.shape[0]):
        inside, outside = [], []
        for t in range(rates.shape[1]):
            target, window = y_true[b, t]
            if np.isnan(target):
                continue
            r = rates[b, t].astype("float64")
            f1 = sum(r[k] * np.exp(2j * np.pi * k / n) for k in range(n))
            m0, m1, phi = r.mean(), 2 * abs(f1) / n, np.angle(f1)
            if window == 1:
                error = 0.5 * ((np.sin(phi) - np.sin(target)) ** 2 + (np.cos(phi) - np.cos(target)) ** 2)
                inside.append(error + max(1 - m1 / m0, 0.0))
            else:
                outside.append(m1 ** 2)
        per_trial.append((np.mean(inside) if inside else 0.0) + (np.mean(outside) if outside else 0.0))
    return float(np.mean(per_trial))


def dual_batch(batch=6, frames=9, columns=3, channels=2):
    readout = RNG.normal(0, 1.8, size=(batch, frames, columns)).astype("float32")
    labels = np.broadcast_to(RNG.integers(0, 2, size=(batch, 1, channels)), (batch, frames, channels)).astype("float32")
    labels = labels.copy()
    labels[0, :, 0] = np.nan  # a trial without this channel's label
    labels[1, 2:4, -1] = np.nan  # two frames left out
    masks = (RNG.uniform(size=(batch, frames, channels)) < 0.4).astype("float32")
    masks[2, :, 0] = 0.0  # a trial with an empty window
    return np.concatenate([labels, masks], axis=-1), readout


@pytest.mark.parametrize("negative", ["hinge", "neutral"])
def test_dual_loss_matches_the_reference(negative):
    y_true, readout = dual_batch()
    loss = DualLoss(read_idx=[2, 0], negative=negative)
    assert float(loss(y_true, readout)) == pytest.approx(dual_reference(y_true, readout, [2, 0], negative=negative),
                                                         rel=1e-5)


def test_dual_loss_thresh_beta_and_gain():
    y_true, readout = dual_batch(channels=1)
    loss = DualLoss(read_idx=1, thresh=1.5, negative="neutral", neutral_gain=0.3, beta=0.5)
    expected = dual_reference(y_true, readout, [1], thresh=1.5, negative="neutral", gain=0.3, beta=0.5)
    assert float(loss(y_true, readout)) == pytest.approx(expected, rel=1e-5)


def test_dual_loss_hand_values():
    """Label 1, readout 0.5 in the window: relu(2 − 0.5) = 1.5; outside, readout 3: SmoothL1 = 3 − ½ = 2.5."""
    readout = np.array([[[3.0], [0.5]]], "float32")
    y_true = np.array([[[1.0, 0.0], [1.0, 1.0]]], "float32")
    assert float(DualLoss()(y_true, readout)) == pytest.approx(1.5 + 2.5)
    y_true[..., 0] = 0.0  # label 0: hinge relu(2 + 0.5) = 2.5, neutral 0.1·0.5
    assert float(DualLoss()(y_true, readout)) == pytest.approx(2.5 + 2.5)
    assert float(DualLoss(negative="neutral")(y_true, readout)) == pytest.approx(0.05 + 2.5)


def ring_rates(batch, frames, n):
    theta = 2 * np.pi * np.arange(n) / n
    m0 = RNG.uniform(0.5, 2.0, size=(batch, frames, 1))
    m1 = RNG.uniform(0.1, 3.0, size=(batch, frames, 1))  # m1 > m0 on some frames: the bump term is then 0
    phase = RNG.uniform(0, 2 * np.pi, size=(batch, frames, 1))
    noise = RNG.normal(0, 0.1, size=(batch, frames, n))
    return (m0 + m1 * np.cos(theta - phase) + noise).astype("float32")


def test_angular_error_loss_matches_the_reference():
    rates = ring_rates(5, 8, 20)
    target = np.broadcast_to(RNG.uniform(0, 2 * np.pi, size=(5, 1)), (5, 8))
    window = (RNG.uniform(size=(5, 8)) < 0.5).astype("float64")
    window[0] = 0.0  # a trial without memory frames
    y_true = np.stack([target, window], axis=-1).astype("float32")
    y_true[1, 3, 0] = np.nan  # a frame left out
    assert float(AngularErrorLoss()(y_true, rates)) == pytest.approx(angular_reference(y_true, rates), rel=1e-5)


def test_angular_error_loss_gradient_matches_finite_differences():
    rates = ring_rates(2, 3, 10).astype("float64")
    y_true = np.array([[[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]], [[4.0, 0.0], [4.0, 1.0], [4.0, 1.0]]])
    x = tf.Variable(rates)
    with tf.GradientTape() as tape:
        value = AngularErrorLoss(dtype="float64")(y_true, x)
    gradient = tape.gradient(value, x).numpy()
    numeric = np.zeros_like(rates)
    h = 1e-6
    for index in np.ndindex(*rates.shape):
        up, down = rates.copy(), rates.copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (angular_reference(y_true, up) - angular_reference(y_true, down)) / (2 * h)
    np.testing.assert_allclose(gradient, numeric, atol=1e-6)


def test_a_silent_network_has_a_finite_loss_and_gradient():
    """Rates 0 everywhere: F1 = 0, so cos φ = sin φ = 0 and the phase term is ½(sin²φ* + cos²φ*) = ½."""
    rates = tf.Variable(np.zeros((2, 4, 16), "float32"))
    y_true = np.tile(np.array([[0.5, 1.0], [0.5, 0.0]], "float32"), (2, 2, 1))
    with tf.GradientTape() as tape:
        value = AngularErrorLoss()(y_true, rates)
    assert float(value) == pytest.approx(0.5, rel=1e-6)
    assert np.all(np.isfinite(tape.gradient(value, rates).numpy()))


def test_losses_train_through_model_fit():
    """One fit step from a tf.data pipeline of targets: the loss Keras reports is the reference's."""
    y_true, readout = dual_batch(batch=4, frames=5, channels=2)
    inputs = keras.Input(shape=(5, 3))
    model = keras.Model(inputs, keras.layers.Dense(3, use_bias=False, kernel_initializer="identity")(inputs))
    model.compile(loss=DualLoss(read_idx=[2, 0]), optimizer="sgd")
    dataset = tf.data.Dataset.from_tensor_slices((readout, y_true)).batch(4)
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # the loss of the first (only) step
    assert history.history["loss"][0] == pytest.approx(dual_reference(y_true, readout, [2, 0]), rel=1e-5)


def test_old_import_paths_and_saved_names_still_work():
    """ndnx/losses.py became a package: its names and the registered "ndnx>PoissonLoss" are unchanged."""
    from ndnx.losses import GaussianLoss, PoissonLoss, check_replica_axis, poisson_unit_norm  # noqa: F401

    assert ndnx.losses.PoissonLoss is ndnx.losses.spikes.PoissonLoss
    assert check_replica_axis("x", 2) == 2
    legacy = {"module": "builtins", "class_name": "PoissonLoss", "registered_name": "ndnx>PoissonLoss",
              "config": {"name": "poisson", "reduction": "sum_over_batch_size", "unit_norm": None,
                         "convention": "ndnt", "epsilon": 1e-8, "replica_axis": None}}
    loss = keras.saving.deserialize_keras_object(json.loads(json.dumps(legacy)))
    y, pred = np.array([[2.0, 0.0]], "float32"), np.array([[1.0, 3.0]], "float32")
    assert float(loss(y, pred)) == pytest.approx(np.mean(pred - y * np.log(pred + 1e-8)), rel=1e-6)


@pytest.mark.parametrize("call, words", [
    (lambda: DualLoss(read_idx=[]), "DualLoss: read_idx must be"),
    (lambda: DualLoss(negative="balanced"), "DualLoss: negative must be one of"),
    (lambda: DualLoss(thresh=float("nan")), "DualLoss: thresh must be finite"),
    (lambda: DualLoss(read_idx=[3])(np.zeros((2, 4, 2)), np.zeros((2, 4, 3))), r"DualLoss: read_idx \[3\]"),
    (lambda: DualLoss(read_idx=[0, 1])(np.zeros((2, 4, 2)), np.zeros((2, 4, 3))),
     r"DualLoss: targets must have shape \(batch, 4, 4\)"),
    (lambda: AngularErrorLoss()(np.zeros((2, 4, 3)), np.zeros((2, 4, 8))),
     r"AngularErrorLoss: targets must have shape \(batch, 4, 2\)"),
    (lambda: AngularErrorLoss()(np.zeros((2, 2)), np.zeros((2, 8))), "AngularErrorLoss: predictions must be"),
    (lambda: AngularErrorLoss(epsilon=0), "AngularErrorLoss: epsilon must be finite and > 0"),
])
def test_bad_input_is_one_clear_line(call, words):
    with pytest.raises(ValueError, match=words) as error:
        call()
    assert "\n" not in str(error.value)
