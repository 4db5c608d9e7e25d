"""Choosing a `tf.distribute` strategy, splitting the CPU, and building models under one.

    import ndnx
    from ndnx.training import strategy as st

    st.logical_cpus(2)                    # first thing in the process (tests, CPU-only machines)
    s = st.strategy("auto")               # TF_CONFIG cluster → multi-worker; ≥2 GPUs → mirrored
    model = st.build_in_scope(s, lambda: compiled_hsm())
    ndnx.training.train(model, (x, y), epochs=10, batch_size=16, strategy=s)

Keras 3 pitfall (specs/ecosystem_and_peers.md §0.3): the model, its optimizer and its metrics must
be created inside `strategy.scope()`, and the optimizer must be *built* there, before the first
distributed step; an optimizer built lazily inside `strategy.run` fails with a "must feed a value
for placeholder" error or hangs. `build_in_scope` does both.
"""

import json
import os

import keras
import tensorflow as tf

__all__ = ["strategy", "logical_cpus", "build_in_scope", "is_chief", "is_chief_task", "task_description",
           "is_default_strategy", "cluster_size", "KINDS"]

KINDS = ("auto", "default", "mirrored", "multi_worker")


def is_default_strategy(strategy):
    """True for TensorFlow's default (no-op, one device) strategy."""
    return type(strategy).__name__ == "_DefaultDistributionStrategy"


def _tf_config():
    """The parsed TF_CONFIG environment variable, or None when it is unset or empty."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}): {raw[:80]!r}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError('TF_CONFIG has no "cluster" entry (expected {"cluster": {"worker": ["host:port", ...]}, '
                         f'"task": {{"type": "worker", "index": i}}}}), got {raw[:80]!r}')
    for job, tasks in cluster.items():
        if not isinstance(tasks, (list, dict)):
            raise ValueError(f'TF_CONFIG: cluster["{job}"] must be a list of "host:port" addresses, got {tasks!r}')
    task = config.get("task")
    if cluster_size(config) > 1 and not (isinstance(task, dict) and "type" in task and "index" in task):
        raise ValueError('TF_CONFIG names a cluster but not this process\'s task (expected "task": '
                         f'{{"type": "worker", "index": i}}), got {raw[:80]!r}')
    return config


def cluster_size(config=None):
    """Number of training tasks (chief + workers) that TF_CONFIG describes (1 without TF_CONFIG)."""
    config = _tf_config() if config is None else config
    if config is None:
        return 1
    cluster = config["cluster"]
    return sum(len(cluster.get(job, ())) for job in ("chief", "worker"))


def _multi_worker_config(kind):
    """TF_CONFIG when `strategy(kind)` would be a multi-worker strategy of several tasks, else None."""
    if kind not in (None, *KINDS):
        raise ValueError(f"unknown strategy kind {kind!r}; expected one of {', '.join(map(repr, KINDS))}")
    if kind in (None, "default", "mirrored"):
        return None
    config = _tf_config()
    return config if config is not None and cluster_size(config) > 1 else None


def is_chief_task(kind="auto"):
    """True when this process is the chief of the jobs `strategy(kind)` would train — the process that
    writes logs, models and experiments.txt and prints the summary — read from TF_CONFIG without
    building a strategy (which would start the cluster).

    One process (no TF_CONFIG, a cluster of one, kind "default" or "mirrored"): True. A multi-worker
    cluster: the "chief" task when the cluster has one, else worker 0 (the TF multi-worker rule, as
    `is_chief`); every other task (other workers, an evaluator) is not.
    """
    config = _multi_worker_config(kind)
    if config is None:
        return True
    task = config["task"]
    if task["type"] == "chief":
        return True
    return "chief" not in config["cluster"] and task["type"] == "worker" and int(task["index"]) == 0


def task_description(kind="auto"):
    """How messages name this process: "worker 1 of 2 (127.0.0.1:20001)", or "" outside a cluster."""
    config = _multi_worker_config(kind)
    return "" if config is None else _describe(config)


def _describe(config):
    task = config["task"]
    tasks = config["cluster"].get(task["type"], ())
    index = int(task["index"])
    address = tasks[index] if isinstance(tasks, list) and 0 <= index < len(tasks) else None
    return (f"{task['type']} {index} of {cluster_size(config)}" + (f" ({address})" if address else ""))


def strategy(kind="auto", devices=None, timeout=None):
    """A `tf.distribute` strategy.

    Args:
        kind: "auto" — `MultiWorkerMirroredStrategy` when TF_CONFIG describes a cluster of more
            than one task, else `MirroredStrategy` when `devices` is given or there is more than
            one GPU, else the default strategy; or explicitly "default", "mirrored" (over
            `devices`, default all GPUs, else the CPU) or "multi_worker" (TF_CONFIG decides the
            cluster; without it a cluster of one).
        devices: device names for "mirrored", e.g. `logical_cpus(2)`.
        timeout: seconds a task of a multi-worker cluster waits for the other tasks to start
            (default `ndnx.training.cluster.worker_timeout()`: $NDNX_WORKER_TIMEOUT or 300; 0: no
            limit). While it waits, and while it trains, SIGTERM and SIGINT end the process with
            one line (see `ndnx.training.cluster`).

    Raises:
        ValueError: an unknown kind, or a TF_CONFIG that is not JSON or names no cluster.
        RuntimeError: the other tasks of the cluster did not start within `timeout`.
    """
    if kind not in KINDS:
        raise ValueError(f"strategy: unknown kind {kind!r}; expected one of {', '.join(map(repr, KINDS))}")
    config = _tf_config()  # validated whatever the kind, so a broken TF_CONFIG never passes silently
    if kind == "auto":
        if cluster_size(config) > 1:
            kind = "multi_worker"
        elif devices is not None or len(tf.config.list_physical_devices("GPU")) > 1:
            kind = "mirrored"
        else:
            kind = "default"
    if kind == "default":
        if tf.distribute.has_strategy():
            raise RuntimeError("strategy('default') was called inside another strategy's scope")
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(devices=list(devices) if devices is not None else None)
    if devices is not None:
        raise ValueError("strategy: `devices` applies to kind='mirrored' only; a multi-worker strategy "
                         "uses each worker's local devices")
    if config is not None and cluster_size(config) > 1:
        from ndnx.training.cluster import join_cluster

        # Waits for the other tasks with a time limit and stops on SIGTERM / SIGINT, where
        # TensorFlow alone would wait for ever and ignore both (ndnx.training.cluster).
        return join_cluster(config, _describe(config), timeout=timeout)
    return tf.distribute.MultiWorkerMirroredStrategy()


def logical_cpus(n):
    """Split the (first) physical CPU into `n` logical devices; returns their names.

    Must run before TensorFlow initialises its devices (before the first op, variable or model in
    the process). Calling it again with the same `n` is harmless.

    Raises:
        RuntimeError: TensorFlow has already initialised its devices with another layout.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"logical_cpus: n must be ≥ 1, got {n}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError as e:
        names = [d.name for d in tf.config.list_logical_devices("CPU")]
        if len(names) == n:
            return names  # already initialised with this layout
        raise RuntimeError(
            f"logical_cpus({n}): too late — TensorFlow has already initialised its devices in this "
            f"process ({len(names)} logical CPU(s)); call it first thing (before any model, variable "
            f"or op), or in a fresh process ({e})") from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def build_in_scope(strategy, build_fn):
    """`build_fn()` (→ a compiled Keras model) inside `strategy.scope()`, optimizer built there.

    Building the optimizer's variables before the first distributed step is the Keras 3 fix for
    the placeholder error / hang of an optimizer built lazily inside `strategy.run`.
    """
    with strategy.scope():
        model = build_fn()
        if not isinstance(model, keras.Model):
            raise ValueError(f"build_in_scope: build_fn must return a keras.Model, got {type(model).__name__}")
        if getattr(model, "optimizer", None) is None:
            raise ValueError(f"build_in_scope: build_fn must return a compiled model ({model.name} has no optimizer)")
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    return model


def is_chief(strategy):
    """True in the process that writes logs and checkpoints.

    Single-process strategies: always. Multi-worker: the "chief" task when the cluster has one,
    else worker 0 (the TF multi-worker convention).
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    try:
        has_chief = "chief" in resolver.cluster_spec().as_dict()
    except Exception:  # a resolver without a spec: fall back to the worker-0 rule
        has_chief = False
    return not has_chief and resolver.task_type == "worker" and int(resolver.task_id) == 0
