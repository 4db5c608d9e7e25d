"""NRFLV under ndnx.training: checkpoints and resume, and two devices under MirroredStrategy."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import ndnx
import ndnx.training

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GRAPH = dict(layers=[{"name": "x", "shape": [2]}, {"name": "h", "shape": [4]}],
             edges=[{"source": "h", "target": "x", "kind": "dense"}, {"source": "x", "target": "h", "kind": "dense"}],
             state_activation="hardsig")
DATA = np.random.default_rng(0).uniform(size=(32, 2)).astype("float32")


def _model():
    model = ndnx.models.NRFLV(GRAPH, positive_steps=3, negative_steps=3, buffer_capacity=64, seed=0)
    model.compile()
    return model


def test_resume_continues_from_the_checkpoint_with_its_buffer(tmp_path):
    first = _model()
    out = ndnx.training.train(first, DATA, epochs=2, batch_size=8, checkpoint_dir=str(tmp_path / "ckpt"),
                              checkpoint_every=1, log_dir=str(tmp_path / "logs"), progress=False,
                              images=lambda m: m.sample_images(4))
    assert out["initial_epoch"] == 0 and out["epochs_done"] == 2
    assert int(first.buffer.count.numpy()) == 64  # 2 epochs × 4 batches × 8 chains
    np.testing.assert_array_equal(first.latest_chains(4)[1], first.buffer.slots[1].numpy()[60:64])  # the last 4
    assert first.sample_images() == {}  # the data layer is not an image
    resumed = _model()
    out = ndnx.training.train(resumed, DATA, epochs=2, batch_size=8, checkpoint_dir=str(tmp_path / "ckpt"),
                              progress=False)
    assert out["initial_epoch"] == 2  # nothing left to do: the weights and the chains come back
    for a, b in zip(first.graph.weights + first.buffer.slots, resumed.graph.weights + resumed.buffer.slots):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert os.listdir(tmp_path / "logs")


WORKER = r"""
import json, sys
import numpy as np
import ndnx
import ndnx.training
from ndnx.training.strategy import build_in_scope, logical_cpus, strategy as make_strategy
devices = logical_cpus(2)
strategy = make_strategy("mirrored", devices=devices)
graph = json.loads(sys.argv[1])
def build():
    model = ndnx.models.NRFLV(graph, positive_steps=3, negative_steps=3, buffer_capacity=64, seed=0)
    model.compile()
    return model
model = build_in_scope(strategy, build)
x = np.random.default_rng(0).uniform(size=(32, 2)).astype("float32")
out = ndnx.training.train(model, x, epochs=2, batch_size=8, progress=False, strategy=strategy)
print(json.dumps({"devices": strategy.num_replicas_in_sync, "count": int(model.buffer.count.numpy()),
                  "loss": float(out["final"][("train", "loss")][0])}))
"""


@pytest.mark.slow
def test_two_devices_under_mirrored_strategy():
    """About 30 s: each device runs its half of the chains and keeps its own buffer."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, "-c", WORKER, json.dumps(GRAPH)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    print("mirrored:", got)
    assert got["devices"] == 2 and got["count"] == 32  # the first device's buffer: 8 steps × 4 chains
    assert np.isfinite(got["loss"])


def test_adaptive_negative_steps_and_poisson_lengths():
    model = ndnx.models.NRFLV(GRAPH, positive_steps=2, negative_steps=4, buffer_capacity=64,
                              randomize_negative_steps=True, seed=0)
    model.compile()
    schedule = ndnx.energy.AdaptiveNegativeSteps(factor=1.25, cooldown=2, start_epoch=1)
    schedule.set_model(model)
    for epoch, (neg, pos) in enumerate([(1.0, 0.0), (1.0, 0.0), (1.0, 0.0), (1.0, 0.0), (1.0, 0.0), (0.0, 1.0)]):
        schedule.on_epoch_end(epoch, {"negative_energy": neg, "positive_energy": pos})
        if epoch == 1:
            assert int(model.num_negative_steps.numpy()) == 5  # ⌈4 · 1.25⌉ once past the start epoch
    assert int(model.num_negative_steps.numpy()) == 7  # 5 → 7 after the 2-epoch cooldown, then no change
    model.fit(DATA, batch_size=8, epochs=1, verbose=0)  # Poisson lengths run (each ≥ 1 step)
    assert int(model.buffer.count.numpy()) == 32


def test_fresh_negative_chains_from_the_initter():
    model = ndnx.models.NRFLV(GRAPH, positive_steps=1, negative_steps=1, buffer_capacity=64, negative_initter=True,
                              seed=3)
    model.compile()
    images, latents = model.fresh_states(256)
    np.testing.assert_allclose(latents.numpy(), model.initial_latents(images)[0].numpy(), rtol=1e-6)
    x = images.numpy()
    assert x.min() >= 0.0 and x.max() <= 1.0  # hardsig range
    rng = np.random.default_rng(0)  # the NumPy reference of the recipe: clip(U(0, 0.7) + N(0, 0.3²), 0, 1)
    want = np.clip(rng.uniform(0, 0.7, 10**6) + rng.normal(0, 0.3, 10**6), 0, 1).mean()
    assert abs(float(x.mean()) - want) < 0.03


def test_a_saved_model_reloads_compiled_with_its_optimizer_state(tmp_path):
    import warnings

    import keras

    model = _model()
    ndnx.training.train(model, DATA, epochs=1, batch_size=8, progress=False)
    path = str(tmp_path / "nrflv.keras")
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns when a custom compile() cannot be replayed
        loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer).__name__ == "IGEBMAdam"
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) == 4
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


WORKER_FFT = r"""
import json
import numpy as np, tensorflow as tf
import ndnx
from ndnx.training.strategy import logical_cpus, strategy as make_strategy
strategy = make_strategy("mirrored", devices=logical_cpus(2))
layers = [{"name": "image", "shape": [8, 8, 2]}, {"name": "h", "shape": [8, 8, 4]}]
edges = [{"source": "h", "target": "image", "kind": "cct", "kernel": 7},
         {"source": "image", "target": "h", "kind": "conv", "kernel": 7},
         {"source": "h", "target": "h", "kind": "convT", "kernel": 7}]
graph = ndnx.energy.EnergyGraph(layers, edges, base_channels=4, fft_min_kernel=7, seed=5)
graph.build()
rng = np.random.default_rng(0)
halves = [[rng.uniform(0, 1, size=(3,) + s).astype("float32") for s in graph.shapes] for _ in range(2)]
sampler = ndnx.energy.SGHMC(0.05, 0.1, temperature=0.5, seed=3)
alone = [[s.numpy() for s in sampler.run(graph, half, 6)[0]] for half in halves]
per_replica = strategy.experimental_distribute_values_from_function(
    lambda context: [tf.constant(s) for s in halves[context.replica_id_in_sync_group]])
out = strategy.run(tf.function(lambda states: sampler.run(graph, states, 6)[0]), args=(per_replica,))
together = [[s.numpy() for s in strategy.experimental_local_results(layer)] for layer in out]
error = max(float(np.abs(together[l][k] - alone[k][l]).max()) for l in range(2) for k in range(2))
print(json.dumps({"error": error, "scale": float(max(np.abs(a).max() for half in alone for a in half))}))
"""


@pytest.mark.slow
def test_fft_sampler_under_mirrored_strategy_matches_each_device_alone():
    """The kernel spectra that the sampler computes once per loop (`constant_weights`) are traced per replica."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, "-c", WORKER_FFT], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    print("mirrored FFT sampler:", got)
    assert got["error"] <= 1e-5 * got["scale"]
