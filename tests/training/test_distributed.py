"""Training under tf.distribute equals single-device training, batch for batch.

MirroredStrategy runs on two logical CPU devices and MultiWorkerMirroredStrategy on two worker
processes over 127.0.0.1. Both need TensorFlow configured before it initialises, so they run in
fresh processes (tests/training/_distributed_worker.py) that report JSON on stdout.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.fixtures.network import free_ports

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_distributed_worker.py")
TIMEOUT = 180
EPOCHS = 3


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _result(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def _helper():
    spec = importlib.util.spec_from_file_location("_distributed_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_same_training(distributed, single):
    a, b = np.asarray(distributed["losses"]), np.asarray(single["losses"])
    assert a.shape == b.shape == (EPOCHS,)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=0)
    assert distributed["iterations"] == single["iterations"]
    for w_d, w_s in zip(distributed["weights"], single["weights"]):
        np.testing.assert_allclose(np.asarray(w_d), np.asarray(w_s), atol=1e-5, rtol=0)


def max_weight_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a["weights"], b["weights"]))


# --- MirroredStrategy on two logical CPUs -------------------------------------------------------

MIRRORED_CASES = [
    {"t": 100, "batch_size": 16},                        # 6 full batches + 4 rows, even over 2 devices
    {"t": 100, "batch_size": 16, "replicas": 3},         # an ensemble of 3 seeds
    {"t": 99, "batch_size": 15, "l2_output": 0.1},       # 15 and 9 rows: every batch uneven; penalty
    {"t": 97, "batch_size": 16},                         # last global batch of 1 row < 2 devices
]


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    log_dir = str(tmp_path_factory.mktemp("mirrored_logs"))
    config = {"epochs": EPOCHS, "cases": MIRRORED_CASES, "log_dir": log_dir}
    proc = subprocess.run([sys.executable, WORKER, "mirrored", json.dumps(config)], env=_env(),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"mirrored worker failed:\n{proc.stderr[-6000:]}"
    return _result(proc.stdout)


def test_mirrored_two_devices_equals_one_device(mirrored):
    assert mirrored["num_devices"] == 2
    for run in mirrored["runs"][:2]:
        assert_same_training(run["distributed"], run["single"])
        # the chief's (here: only) logger evaluated the same model as one device would
        for key, value in run["single"]["final"].items():
            np.testing.assert_allclose(run["distributed"]["final"][key], value, rtol=1e-4, atol=1e-6)


def test_mirrored_uneven_batches_keep_the_single_device_loss(mirrored):
    # 15 rows, 9 rows and 1 row over 2 devices: padded shards with sample weights (see distributed.py)
    for run in mirrored["runs"][2:]:
        assert_same_training(run["distributed"], run["single"])


def test_custom_train_step_with_uneven_batches_is_refused(mirrored):
    message = mirrored["refusal"]
    assert message is not None and "overrides train_step" in message and "multiples of 2" in message


# --- MultiWorkerMirroredStrategy: two worker processes ------------------------------------------

def test_multi_worker_equals_one_device_and_only_the_chief_writes(tmp_path):
    case = {"t": 99, "batch_size": 16, "l2_output": 0.1}  # last batch of 3 rows over 2 workers
    log_dir, checkpoint_dir = tmp_path / "logs", tmp_path / "checkpoints"
    config = {"epochs": EPOCHS, "cases": [case], "log_dir": str(log_dir), "checkpoint_dir": str(checkpoint_dir)}
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    procs = [subprocess.Popen(
        [sys.executable, WORKER, "mwms", json.dumps(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})))
        for i in range(2)]
    try:
        # The single-device reference, here while the workers start.
        helper = _helper()
        single = helper.run(case, EPOCHS, log_dir=str(tmp_path / "reference_logs"))
        outputs = []
        for i, proc in enumerate(procs):
            try:
                out, err = proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                pytest.fail(f"worker {i} timed out after {TIMEOUT} s:\n{err[-6000:]}")
            assert proc.returncode == 0, f"worker {i} failed:\n{err[-6000:]}"
            outputs.append(_result(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    chief, worker = outputs
    assert chief["multi_worker"] and worker["multi_worker"]  # strategy("auto") read TF_CONFIG
    assert chief["num_devices"] == worker["num_devices"] == 2
    assert chief["chief"] and not worker["chief"]
    for out in outputs:
        assert_same_training(out["run"], single)
    for key, value in single["final"].items():
        np.testing.assert_allclose(chief["run"]["final"][key], value, rtol=1e-4, atol=1e-6)
    assert worker["run"]["final"] == {}

    # Logs: one TensorBoard run, written by the chief's process only.
    events = [os.path.join(d, f) for d, _, files in os.walk(log_dir) for f in files]
    assert events and all(".tfevents." in f for f in events)
    assert all(f".{chief['pid']}." in os.path.basename(f) for f in events), events
    assert os.path.isdir(log_dir / "seed0" / "train")
    # Checkpoint: the chief's in checkpoint_dir; the other worker's went to a worker_tmp_* subdirectory,
    # a temporary removed when the training ended (a restart resumes from the chief's).
    assert (checkpoint_dir / "checkpoint").is_file()
    assert sorted(p.name for p in checkpoint_dir.glob("ckpt-*.index")) == [f"ckpt-{EPOCHS}.index"]
    assert not list(checkpoint_dir.glob("worker_tmp_*"))


# --- strategy selection and helpers (in process) ------------------------------------------------

def test_strategy_selection(monkeypatch):
    import tensorflow as tf
    from ndnx.training import strategy as st

    monkeypatch.delenv("TF_CONFIG", raising=False)
    default = st.strategy()
    assert st.is_default_strategy(default) and st.is_chief(default)
    assert st.is_default_strategy(st.strategy("default"))

    one_task = {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(one_task))
    assert st.is_default_strategy(st.strategy("auto"))  # a cluster of one is no cluster

    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        st.strategy()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"task": {"type": "worker", "index": 0}}))
    with pytest.raises(ValueError, match='TF_CONFIG has no "cluster"'):
        st.strategy()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}}))
    with pytest.raises(ValueError, match="not this process's task"):
        st.strategy()

    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(ValueError, match="unknown kind 'tpu'.*'auto', 'default', 'mirrored', 'multi_worker'"):
        st.strategy("tpu")
    assert tf.distribute.has_strategy() is False


def test_logical_cpus_after_initialisation_says_it_is_too_late():
    import tensorflow as tf
    from ndnx.training.strategy import logical_cpus

    tf.constant(1.0) + 1.0  # TensorFlow has initialised its devices in this process
    n = len(tf.config.list_logical_devices("CPU"))
    assert len(logical_cpus(n)) == n  # the current layout: nothing to do
    with pytest.raises(RuntimeError, match="too late"):
        logical_cpus(n + 1)


def test_build_in_scope_builds_the_optimizer_and_checks_the_model():
    import keras
    import tensorflow as tf
    from ndnx.training.distributed import DistributedEpochs, shard_plan
    from ndnx.training.strategy import build_in_scope

    s = tf.distribute.get_strategy()

    def build():
        inputs = keras.Input((3,))
        model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
        model.compile(keras.optimizers.Adam(1e-3), "mse")
        return model

    model = build_in_scope(s, build)
    assert model.optimizer.built
    with pytest.raises(ValueError, match="compiled model"):
        build_in_scope(s, lambda: keras.Sequential([keras.layers.Dense(1)]))

    # A model built outside the strategy's scope is refused with a pointer to build_in_scope.
    mirrored = tf.distribute.MirroredStrategy(devices=["/cpu:0"])
    x, y = np.zeros((8, 3), "float32"), np.zeros((8, 2), "float32")
    with pytest.raises(ValueError, match="build_in_scope"):
        DistributedEpochs(model, x, y, batch_size=4, strategy=mirrored)

    # Shards of a global batch: equal sizes, padding of weight 0, real rows weighted m·N/B.
    idx, w = shard_plan(np.array([5, 1, 7]), 2)
    assert idx.tolist() == [[5, 1], [7, 5]]
    np.testing.assert_allclose(w, [[4 / 3, 4 / 3], [4 / 3, 0]])
    idx, w = shard_plan(np.array([2]), 2)
    assert idx.tolist() == [[2], [2]] and w.tolist() == [[2.0], [0.0]]
    idx, w = shard_plan(np.arange(4), 2)
    assert idx.tolist() == [[0, 1], [2, 3]] and w.tolist() == [[1, 1], [1, 1]]


# --- the whole pipeline: `ndnx run` as two workers ------------------------------------------------

@pytest.mark.slow  # minutes on a 2-core machine: `make test-all`
def test_ndnx_run_as_two_workers_equals_one_process(tmp_path):
    from ndnx.analysis.summary import collect

    tiny = os.path.join(ROOT, "tests", "fixtures", "tiny_experiment.py")
    args = ["-m", "ndnx.cli", "run", tiny, "--set", "epochs=3", "--set", "samples=99"]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    procs = [subprocess.Popen(
        [sys.executable, *args, "--root", str(tmp_path / "mwms"), "--strategy", "auto"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})))
        for i in range(2)]
    try:
        single = subprocess.run([sys.executable, *args, "--root", str(tmp_path / "single")], env=_env(),
                                capture_output=True, text=True, timeout=TIMEOUT)
        assert single.returncode == 0, single.stderr[-4000:]
        for i, proc in enumerate(procs):
            _, err = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, f"worker {i} failed:\n{err[-6000:]}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    # The chief alone wrote: one finished run, one model per seed, logs equal to one process's.
    lines = (tmp_path / "mwms" / "experiments.txt").read_text().splitlines()
    assert len(lines) == 1
    models = sorted(p.name for p in (tmp_path / "mwms").rglob("*.keras"))
    assert models == sorted(p.name for p in (tmp_path / "single").rglob("*.keras")) and len(models) == 2
    events = [p for p in (tmp_path / "mwms" / "logs").rglob("*.tfevents.*")]
    assert events and len({p.name.split(".")[-3] for p in events}) == 1  # one writing process (pid)
    got, want = collect(str(tmp_path / "mwms"), "tests/tiny"), collect(str(tmp_path / "single"), "tests/tiny")
    pairs = [(tag, got[run][seed][tag], want[run][seed][tag])
             for run in want for seed in want[run] for tag in want[run][seed]]
    assert len(pairs) >= 4 and got.keys() == want.keys()
    for tag, (steps_g, values_g), (steps_w, values_w) in pairs:
        assert list(steps_g) == list(steps_w)
        # A median over neurons is one neuron's r (or two): float32 differences of the order of
        # 1e-6 are not averaged out as in the mean, and after 3 epochs some r are near 0.
        np.testing.assert_allclose(values_g, values_w, rtol=1e-4, atol=1e-5 if "median" in tag else 1e-6,
                                   err_msg=tag)
