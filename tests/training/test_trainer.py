"""Training: seeds as one ensemble, resume after SIGKILL, seeded determinism."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import keras
import pytest

import ndnx
from ndnx.losses import PoissonLoss, poisson_unit_norm
from ndnx.models.v1 import hsm
from ndnx.training import CompiledEpochs, extract_replica, num_replicas, train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny_experiment.py")


def region(seed=0, t=90, n=10):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, 31, 31, 1)).astype("float32")
    rates = np.asarray(hsm(n, seed=77)(x))
    return x, rng.poisson(rates).astype("float32")


def compiled(model, y, lr=1e-3):
    axis = None if num_replicas(model) is None else 1
    model.compile(keras.optimizers.Adam(lr), PoissonLoss(poisson_unit_norm(y), replica_axis=axis), jit_compile=True)
    return model


def test_replica_k_equals_model_trained_alone_with_seed_k():
    x, y = region()
    ensemble = compiled(hsm(10, seed=0, replicas=3, l2_output=0.1), y)
    assert num_replicas(ensemble) == 3
    train(ensemble, (x, y), epochs=3, batch_size=16, shuffle_seed=4, progress=False)
    for k in range(3):
        alone = compiled(hsm(10, seed=k, l2_output=0.1), y)
        train(alone, (x, y), epochs=3, batch_size=16, shuffle_seed=4, progress=False)
        replica = extract_replica(ensemble, k)
        for a, b in zip(replica.get_weights(), alone.get_weights()):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
        np.testing.assert_allclose(replica.predict(x[:8], verbose=0), alone.predict(x[:8], verbose=0), atol=1e-5)
    # the replicas really differ (independent seeds)
    w = ensemble.get_layer("output").kernel.numpy()
    assert np.abs(w[0] - w[1]).max() > 0.05


def test_replica_k_with_hidden_dropout_equals_model_trained_alone_with_seed_k():
    # Dropout draws one mask per replica, replica k's as the lone model with seed k draws it.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 15, 15, 1)).astype("float32")
    y = rng.poisson(np.asarray(hsm(8, input_shape=(15, 15, 1), seed=77)(x))).astype("float32")

    def fitted(**kw):
        model = compiled(hsm(8, input_shape=(15, 15, 1), hidden_dropout=0.3, **kw), y, lr=1e-2)
        runner = CompiledEpochs(model, x, y, batch_size=16, shuffle_seed=4, jit_compile=False)
        for epoch in range(2):
            runner.run_epoch(epoch)
        return model

    ensemble = fitted(seed=5, replicas=2)
    for k in range(2):
        alone = fitted(seed=5 + k)
        replica = extract_replica(ensemble, k)
        for a, b in zip(replica.get_weights(), alone.get_weights()):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    # the masks mattered: without dropout seed 5 ends elsewhere
    plain = compiled(hsm(8, input_shape=(15, 15, 1), seed=5), y, lr=1e-2)
    runner = CompiledEpochs(plain, x, y, batch_size=16, shuffle_seed=4, jit_compile=False)
    for epoch in range(2):
        runner.run_epoch(epoch)
    moved = np.abs(plain.get_layer("hidden").kernel.numpy() - ensemble.get_layer("hidden").kernel.numpy()[0]).max()
    assert moved > 1e-3


def test_epoch_steps_keep_the_last_partial_batch():
    x, y = region(t=37)
    model = compiled(hsm(10, seed=0), y)
    runner = CompiledEpochs(model, x, y, batch_size=16)
    assert runner.steps_per_epoch == 3 and runner.remainder == 5
    runner.run_epoch(0)
    assert int(model.optimizer.iterations.numpy()) == 3


def test_drop_remainder_is_training_on_the_full_batches_only():
    x, y = region(t=37)
    dropped = compiled(hsm(10, seed=0), y)
    runner = CompiledEpochs(dropped, x, y, batch_size=16, shuffle=False, drop_remainder=True)
    assert runner.steps_per_epoch == 2
    runner.run_epoch(0)
    first32 = compiled(hsm(10, seed=0), y)
    CompiledEpochs(first32, x[:32], y[:32], batch_size=16, shuffle=False).run_epoch(0)
    assert int(dropped.optimizer.iterations.numpy()) == 2
    for a, b in zip(dropped.get_weights(), first32.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_partial_fit_leaves_frozen_layers_unchanged():
    # NDN3 fit_variables / set_partial_fit: refit the upper layers on a fixed DoG layer
    x, y = region()
    model = hsm(10, seed=0)
    model.get_layer("dog").trainable = False
    compiled(model, y)
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers}
    train(model, (x, y), epochs=3, batch_size=16, progress=False)
    for layer in model.layers:
        for a, b in zip(before[layer.name], layer.get_weights()):
            if layer.name == "dog":
                np.testing.assert_array_equal(a, b)
            else:
                assert np.abs(a - b).max() > 1e-4, layer.name


def test_same_seed_same_numbers():
    x, y = region()

    def once():
        ndnx.set_seed(3)
        model = compiled(hsm(10, seed=3), y)
        train(model, (x, y), epochs=2, batch_size=16, shuffle_seed=1, progress=False)
        return model.get_weights()

    for a, b in zip(once(), once()):
        np.testing.assert_array_equal(a, b)


#: The run the SIGKILL test resumes, named by its configuration (`ndnx run` prints it; jobs are given it).
RUN = {"epochs": 24, "log_every": 2}


def _run_name():
    from ndnx.experiment import load_experiment

    return load_experiment(TINY).runs(RUN)[0].name


def _job(root, *extra):
    return [sys.executable, "-m", "ndnx.cli", "job", TINY, "--run", _run_name(), "--only-seeds", "0,1",
            "--root", str(root), "--no-progress", *extra]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _weights(root, seed):
    model = keras.saving.load_model(os.path.join(root, "models", "tests", "tiny", _run_name(), f"seed{seed}.keras"))
    return model.get_weights()


@pytest.mark.slow  # minutes on a 2-core machine: `make test-all`
def test_sigkill_then_rerun_resumes_and_matches_uninterrupted(tmp_path):
    settings = ["--set", "epochs=24", "--set", "log_every=2"]
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    ckpt = killed / "models" / "tests" / "tiny" / _run_name() / "checkpoints" / "seed0-1"
    # The slow-down comes from the environment: a configuration key would make it another run.
    proc = subprocess.Popen(_job(killed, *settings), env={**_env(), "NDNX_TEST_SLEEP": "0.25"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not list(ckpt.glob("ckpt-4.index")):
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "models" / "tests" / "tiny" / _run_name() / "seed0.keras").exists()
    assert not (killed / "experiments.txt").exists()
    # Same command again (without the slow-down): continues from the checkpoint.
    out = subprocess.run(_job(killed, *settings), env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    out = subprocess.run(_job(clean, *settings), env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for seed in (0, 1):
        for a, b in zip(_weights(killed, seed), _weights(clean, seed)):
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    latest = [p.name for p in ckpt.iterdir() if p.name.endswith(".index")]
    assert latest == ["ckpt-24.index"]
    assert (killed / "experiments.txt").read_text().splitlines() == [f"tests/tiny/{_run_name()}"]
    from ndnx.analysis.summary import read_scalars

    steps, _ = read_scalars(str(killed / "logs" / "tests" / "tiny" / _run_name() / "seed1" / "validation"))["correlation"]
    assert steps[-1] == 23 and len(set(steps.tolist())) == len(steps)


def test_a_tf_data_pipeline_and_x_only_arrays_train_as_the_same_batches():
    # A model with its own train_step on x alone: a Dataset of batches (iterated whole every epoch)
    # and the same rows as an x-only array in order give the same weights; a function of the epoch
    # giving that Dataset does too.
    import tensorflow as tf

    class Mean(keras.Model):
        def __init__(self):
            super().__init__()
            self.mu = self.add_weight(shape=(3,), initializer="zeros", name="mu")

        def call(self, x):
            return x - self.mu

        def train_step(self, x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.reduce_sum(tf.square(self(x)), axis=-1))
            self.optimizer.apply_gradients(zip(tape.gradient(loss, [self.mu]), [self.mu]))
            return {}

    x = np.random.default_rng(3).normal(size=(40, 3)).astype("float32")
    results = []
    for data in (tf.data.Dataset.from_tensor_slices(x).batch(16), x,
                 lambda epoch: tf.data.Dataset.from_tensor_slices(x).batch(16)):
        model = Mean()
        model.compile(keras.optimizers.SGD(0.1), jit_compile=False)
        train(model, data, epochs=3, batch_size=16, shuffle=False, progress=False,
              evaluate=lambda m, *split: {"mu0": np.asarray([float(m.mu[0])])})
        results.append(model.mu.numpy())
    # NumPy: SGD on the batch mean of ‖x − μ‖², gradient 2(μ − mean(batch)).
    mu = np.zeros(3)
    for _ in range(3):
        for start in range(0, 40, 16):
            mu -= 0.1 * 2 * (mu - x[start:start + 16].astype("float64").mean(axis=0))
    for got in results:
        np.testing.assert_allclose(got, mu, atol=1e-6)
