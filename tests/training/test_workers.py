"""Processes of a multi-worker run: who prints the summary, how long a worker waits, how it stops."""

import json
import os

import pytest
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny_experiment.py")
CLUSTER = {"worker": ["127.0.0.1:20001", "127.0.0.1:20002"]}


def tf_config(task_type, index, cluster=CLUSTER):
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_the_chief_task_is_read_from_tf_config(monkeypatch):
    from ndnx.training.strategy import is_chief_task, task_description

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert is_chief_task() and is_chief_task("multi_worker") and task_description() == ""
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", 1))
    assert not is_chief_task("auto") and not is_chief_task("multi_worker")
    assert is_chief_task("default") and is_chief_task("mirrored")  # TF_CONFIG is not read by these
    assert task_description("auto") == "worker 1 of 2 (127.0.0.1:20002)"
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", 0))
    assert is_chief_task("auto")
    with_chief = {"chief": ["127.0.0.1:20000"], **CLUSTER}
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", 0, with_chief))
    assert not is_chief_task("auto")
    monkeypatch.setenv("TF_CONFIG", tf_config("chief", 0, with_chief))
    assert is_chief_task("auto") and task_description("auto") == "chief 0 of 3 (127.0.0.1:20000)"
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", 0, {"worker": ["127.0.0.1:20001"]}))
    assert is_chief_task("auto")  # a cluster of one is one process


@pytest.mark.parametrize("index", [0, 1])
def test_only_the_chief_prints_the_summary(index, tmp_path, monkeypatch, capsys):
    """A worker's summary would be read from the chief's logs while the chief is still writing them."""
    from ndnx.experiment import load_experiment
    from ndnx.experiment import planning

    exp = load_experiment(TINY)
    # The chief's logs so far: 20 of 30 epochs.
    for seed in (0, 1):
        writer = tf.summary.create_file_writer(str(tmp_path / "logs" / "tests" / "tiny" / "run0" / f"seed{seed}"
                                                   / "validation"))
        with writer.as_default():
            tf.summary.scalar("correlation", 0.5, step=19)
        writer.close()
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", index))
    monkeypatch.setattr(planning, "_strategy", lambda kind: "a multi-worker strategy")
    jobs = []
    monkeypatch.setattr(exp, "run_job", lambda run, seeds, **options: jobs.append((run.name, seeds, options)))
    assert planning.run_experiment(exp, {"epochs": 30}, root=str(tmp_path), strategy="auto") == 0
    assert jobs == [("run0", [0, 1], {"root": str(tmp_path), "progress": True,
                                      "strategy": "a multi-worker strategy"})]
    out = capsys.readouterr().out
    if index == 0:
        assert "final validation metrics" in out and "0.5000" in out
    else:
        assert "final validation metrics" not in out and "0.5000" not in out
        assert "worker 1 of 2 (127.0.0.1:20002) is done; the chief of the cluster prints the summary" in out
