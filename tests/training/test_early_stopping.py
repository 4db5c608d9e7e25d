"""Early stopping per replica (NDN3 early_stop_mode 1 / 2): stop epoch, best weights, resume."""

import numpy as np
import keras
import pytest

import ndnx
from ndnx.losses import GaussianLoss
from ndnx.experiment.fits.v1 import supervised_evaluation
from ndnx.training import ReplicaEarlyStopping, train

STEPS = 2  # 32 rows in batches of 16


def data(seed=0, rows=32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6)).astype("float32")
    return x, (x @ rng.normal(size=(6, 3))).astype("float32")


def model(replicas=2, seed=0):
    inputs = keras.Input((6,))
    m = keras.Model(inputs, ndnx.layers.Dense(3, replicas=replicas, seed=seed)(inputs))
    m.compile(optimizer=keras.optimizers.SGD(0.01), loss=GaussianLoss(replica_axis=None if replicas is None else 1))
    return m


# Scripted scores: replica 0 is best at epoch 9, replica 1 at epoch 29. The score is a function
# of the optimizer's step count only, so it is the same after a resume.
BEST = (9, 29)


def scripted(m, x, y):
    epoch = int(m.optimizer.iterations.numpy()) // STEPS - 1
    return {"loss": np.array([abs(epoch - b) + 1.0 for b in BEST])}


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = [w.copy() for w in self.model.get_weights()]


def test_stops_when_every_replica_stalled_and_restores_each_ones_best():
    x, y = data()
    m, recorder = model(), Recorder()
    outcome = train(m, (x, y), (x, y), epochs=500, batch_size=16, evaluate=scripted, progress=False,
                    log_every=10, early_stop={"patience": 30}, callbacks=[recorder])
    # replica 1's last improvement was epoch 29; it is stalled at 29 + 30 = 59 (an evaluation epoch)
    assert outcome["epochs_done"] == 60
    assert outcome["best_epoch"] == list(BEST)
    for r, best in enumerate(BEST):
        for restored, saved in zip(m.get_weights(), recorder.weights[best]):
            np.testing.assert_array_equal(restored[r], saved[r])


def test_resume_continues_the_early_stopping_state(tmp_path):
    x, y = data()
    full = model()
    train(full, (x, y), (x, y), epochs=500, batch_size=16, evaluate=scripted, progress=False,
          early_stop={"patience": 30}, checkpoint_dir=tmp_path / "full")
    # killed at epoch 40 (after replica 0's best, before the stop), then rerun to the end
    part = model()
    train(part, (x, y), (x, y), epochs=40, batch_size=16, evaluate=scripted, progress=False,
          early_stop={"patience": 30}, checkpoint_dir=tmp_path / "part")
    resumed = model(seed=123)  # a fresh process builds another model; the checkpoint wins
    outcome = train(resumed, (x, y), (x, y), epochs=500, batch_size=16, evaluate=scripted, progress=False,
                    early_stop={"patience": 30}, checkpoint_dir=tmp_path / "part")
    assert outcome["initial_epoch"] == 40 and outcome["epochs_done"] == 60
    for a, b in zip(full.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    # a run that already stopped trains no more when started again
    again = model(seed=7)
    outcome = train(again, (x, y), (x, y), epochs=500, batch_size=16, evaluate=scripted, progress=False,
                    early_stop={"patience": 30}, checkpoint_dir=tmp_path / "full")
    assert outcome["initial_epoch"] == outcome["epochs_done"] == 60
    for a, b in zip(full.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_real_overfitting_returns_the_validation_minimum():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 6)).astype("float32")
    truth = rng.normal(size=(6, 3))
    y = (x @ truth + 2.0 * rng.normal(size=(40, 3))).astype("float32")  # noisy: Adam overfits
    xv = rng.normal(size=(200, 6)).astype("float32")
    yv = (xv @ truth).astype("float32")
    m = model(replicas=3, seed=4)
    m.compile(optimizer=keras.optimizers.Adam(0.05), loss=GaussianLoss(replica_axis=1))
    seen = []

    class Scores(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0 or (epoch + 1) % 5 == 0:
                seen.append(supervised_evaluation(self.model, xv, yv)["loss"])

    outcome = train(m, (x, y), (xv, yv), epochs=400, batch_size=8, progress=False, log_every=5,
                    early_stop={"patience": 50}, callbacks=[Scores()])
    seen = np.array(seen)  # (evaluations, replicas)
    final = supervised_evaluation(m, xv, yv)["loss"]
    np.testing.assert_allclose(final, seen.min(axis=0), rtol=1e-6)
    assert np.all(final < seen[-1])  # the validation loss rose after the best epoch


def test_on_the_training_split_and_bad_splits():
    x, y = data()
    m = model()
    outcome = train(m, (x, y), None, epochs=100, batch_size=16, evaluate=scripted, progress=False,
                    early_stop={"patience": 30, "split": "train"})
    assert outcome["epochs_done"] == 60
    with pytest.raises(ValueError, match="early_stop scores the split 'validation', which was not given"):
        train(model(), (x, y), None, epochs=5, batch_size=16, early_stop=10, progress=False)
    with pytest.raises(ValueError, match="patience must be"):
        ReplicaEarlyStopping(model(), (x, y), scripted, patience=0)


def test_a_cell_inside_rnn_is_tracked_and_shared_weights_are_refused():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 5, 3)).astype("float32")
    inputs = keras.Input((5, 3))
    m = keras.Model(inputs, keras.layers.RNN(ndnx.cells.LeakyRateCell(4, replicas=2, seed=0))(inputs))
    stopper = ReplicaEarlyStopping(m, (x, None), lambda *_: {"loss": np.array([0.5, 0.5])}, patience=3)
    cell = m.layers[1].cell
    assert [w.path for w, _ in stopper._tracked] == [w.path for w in cell.weights]
    cell.kernel.assign(cell.kernel.numpy() + 1.0)  # replica 1 improves, replica 0 does not
    stopper.best.assign([-1.0, np.inf])
    stopper.best_epoch.assign([0, 0])
    before = [shadow.numpy().copy() for _, shadow in stopper._tracked]
    stopper.on_epoch_end(0)
    kernel_shadow = stopper._tracked[0][1].numpy()
    np.testing.assert_array_equal(kernel_shadow[0], before[0][0])
    np.testing.assert_array_equal(kernel_shadow[1], cell.kernel.numpy()[1])
    shared = keras.Model(inputs, keras.layers.Dense(2)(m(inputs)))
    with pytest.raises(ValueError, match="is shared by all replicas"):
        ReplicaEarlyStopping(shared, (x, None), scripted, patience=3)
