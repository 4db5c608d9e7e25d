"""What the progress line of a run shows: the training loss per seed, and when the metrics were measured."""

import io

import numpy as np
import keras
import pytest

from ndnx.losses import PoissonLoss, poisson_unit_norm
from ndnx.models.v1 import hsm
from ndnx.training import ProgressBar, train
from ndnx.training.callbacks import LBFGSProgress


def lines_of(bar, epochs_logs):
    bar.on_train_begin()
    for epoch, logs in enumerate(epochs_logs):
        bar.on_epoch_end(epoch, dict(logs))
    return bar.stream.getvalue().splitlines()


def test_the_loss_is_per_seed_and_the_metrics_say_when_they_were_measured():
    logs = [{"loss": 8.0, "validation_correlation": 0.5, "validation_loss": 1.0},
            {"loss": 4.0}, {"loss": 4.0},
            {"loss": 6.0, "validation_correlation": 0.6, "validation_loss": 0.9},
            {"loss": 2.0}]
    lines = lines_of(ProgressBar(5, label="g/e/run0/seed0-3", stream=io.StringIO(), replicas=4), logs)
    # Not a terminal: the first line, then one every 10 s, and the last.
    assert len(lines) == 2
    assert lines[0].endswith(" 1/5 epochs 0.0/s eta ? loss/seed=2.0000 | "
                             "validation_correlation=0.5000 validation_loss=1.0000 @ epoch 1")
    assert lines[-1].startswith("g/e/run0/seed0-3 ")
    assert " 5/5 epochs " in lines[-1]
    assert lines[-1].endswith("loss/seed=0.5000 | validation_correlation=0.6000 validation_loss=0.9000 @ epoch 4")
    # A plain model: the loss as it is.
    lines = lines_of(ProgressBar(2, stream=io.StringIO()), [{"loss": 3.0, "validation_loss": 1.5}, {"loss": 2.5}])
    assert lines[-1].endswith("loss=2.5000 | validation_loss=1.5000 @ epoch 1")


def test_lbfgs_progress_shows_the_objective_per_seed():
    stream = io.StringIO()
    LBFGSProgress(10, label="job", stream=stream, replicas=5)(10, 2.5)
    assert stream.getvalue().endswith("objective/seed=0.5\n")


def test_train_shows_the_mean_over_seeds_of_their_losses(capsys):
    """The loss/seed of a 2-seed ensemble is the mean of the losses the seeds have when trained alone."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 15, 15, 1)).astype("float32")
    y = rng.poisson(np.asarray(hsm(6, input_shape=(15, 15, 1), seed=77)(x))).astype("float32")

    class Losses(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.last = float(logs["loss"])

    def fitted(seed, replicas):
        model = hsm(6, input_shape=(15, 15, 1), l2_output=0.1, seed=seed, replicas=replicas)
        model.compile(keras.optimizers.Adam(1e-2), PoissonLoss(poisson_unit_norm(y), replica_axis=replicas and 1),
                      jit_compile=False)
        losses = Losses()
        train(model, (x, y), (x, y), epochs=3, batch_size=16, log_every=2, callbacks=[losses],
              progress=replicas is not None, label="ensemble", jit_compile=False)
        return losses.last

    capsys.readouterr()
    fitted(0, 2)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    alone = np.mean([fitted(0, None), fitted(1, None)])
    assert line.startswith("ensemble ") and " 3/3 epochs " in line
    shown = float(line.split("loss/seed=")[1].split()[0])
    assert shown == pytest.approx(alone, rel=1e-4, abs=1e-4)
    assert line.endswith(" @ epoch 3") and "| validation_loss=" in line
