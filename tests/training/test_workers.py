"""Processes of a multi-worker run: who prints the summary, how long a worker waits, how it stops."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import tensorflow as tf

from tests.fixtures.network import free_ports

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
    [run] = exp.runs({"epochs": 30})  # its folder is named by its configuration
    # The chief's logs so far: 20 of 30 epochs.
    for seed in (0, 1):
        writer = tf.summary.create_file_writer(str(tmp_path / "logs" / "tests" / "tiny" / run.name / f"seed{seed}"
                                                   / "validation"))
        with writer.as_default():
            tf.summary.scalar("correlation", 0.5, step=19)
        writer.close()
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", index))
    monkeypatch.setattr(planning, "_strategy", lambda kind: "a multi-worker strategy")
    jobs = []
    monkeypatch.setattr(exp, "run_job", lambda run, seeds, **options: jobs.append((run.name, seeds, options)))
    assert planning.run_experiment(exp, {"epochs": 30}, root=str(tmp_path), strategy="auto") == 0
    assert jobs == [(run.name, [0, 1], {"root": str(tmp_path), "progress": True,
                                        "strategy": "a multi-worker strategy", "wait": False, "restart": False})]
    out = capsys.readouterr().out
    if index == 0:
        assert "final validation metrics" in out and "0.5000" in out
    else:
        assert "final validation metrics" not in out and "0.5000" not in out
        assert "worker 1 of 2 (127.0.0.1:20002) is done; the chief of the cluster prints the summary" in out


# --- joining the cluster ------------------------------------------------------------------------

def cluster_of(ports):
    return {"worker": [f"127.0.0.1:{p}" for p in ports]}


def test_tasks_wait_for_each_other_then_go_on():
    from ndnx.training.cluster import wait_for_peers

    ports = free_ports(2)
    cluster = cluster_of(ports)
    waited, errors, servers, done = {}, [], [], threading.Barrier(3)

    def task(index, delay):
        time.sleep(delay)  # worker 1 starts a second after worker 0
        try:
            config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            waited[index] = wait_for_peers(config, f"worker {index}", timeout=20, poll=0.05)
            # What TensorFlow's server does next: listen on the same address.
            server = socket.create_server(("", ports[index]), reuse_port=False)
            servers.append(server)
        except Exception as e:  # reported below
            errors.append(e)
        done.wait(30)

    threads = [threading.Thread(target=task, args=(i, float(i))) for i in range(2)]
    for t in threads:
        t.start()
    done.wait(30)
    for t in threads:
        t.join(30)
    for server in servers:
        server.close()
    assert not errors and sorted(waited) == [0, 1]
    assert 0.8 < waited[0] < 10 and waited[1] < 5


def test_a_task_whose_peer_never_starts_gives_up_and_says_which():
    from ndnx.training.cluster import wait_for_peers

    ports = free_ports(3)
    cluster = {"chief": [f"127.0.0.1:{ports[0]}"], **cluster_of(ports[1:])}
    config = {"cluster": cluster, "task": {"type": "worker", "index": 1}}
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=(rf"^me: no answer from chief 0 \(127.0.0.1:{ports[0]}\), worker 0 "
                                            rf"\(127.0.0.1:{ports[1]}\) after 1 s; start every task.*"
                                            r"--worker-timeout SECONDS \(NDNX_WORKER_TIMEOUT")):
        wait_for_peers(config, "me", timeout=0.6, poll=0.05)
    assert time.monotonic() - start < 5
    # Its own address taken by another process: said at once.
    with socket.socket() as other:
        other.bind(("", ports[2]))
        other.listen()
        with pytest.raises(RuntimeError, match=f"cannot listen on its TF_CONFIG address 127.0.0.1:{ports[2]}"):
            wait_for_peers(config, "me", timeout=5)


def test_the_timeout_comes_from_the_environment_or_the_command_line(monkeypatch):
    from ndnx.experiment import load_experiment
    from ndnx.experiment.commandline import add_experiment_arguments, overrides_from_args
    from ndnx.training.cluster import DEFAULT_TIMEOUT, worker_timeout

    monkeypatch.delenv("NDNX_WORKER_TIMEOUT", raising=False)
    assert worker_timeout() == DEFAULT_TIMEOUT == 300
    monkeypatch.setenv("NDNX_WORKER_TIMEOUT", "0")
    assert worker_timeout() == 0
    monkeypatch.setenv("NDNX_WORKER_TIMEOUT", "soon")
    with pytest.raises(ValueError, match=r"NDNX_WORKER_TIMEOUT \(--worker-timeout\) expects a number of seconds ≥ 0 \(0: no limit\), got 'soon'"):
        worker_timeout()
    import argparse

    parser = argparse.ArgumentParser()
    add_experiment_arguments(parser)
    exp = load_experiment(TINY)
    overrides_from_args(exp, parser.parse_args([TINY, "--worker-timeout", "12.5"]))
    assert worker_timeout() == 12.5
    with pytest.raises(ValueError, match="--worker-timeout expects a number of seconds ≥ 0"):
        overrides_from_args(exp, parser.parse_args([TINY, "--worker-timeout", "-1"]))


def worker_of_two(tmp_path, *options, env=None):
    """`ndnx run` of the tiny experiment as worker 1 of a cluster whose worker 0 never starts."""
    ports = free_ports(2)
    environment = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                       TF_CONFIG=tf_config("worker", 1, cluster_of(ports)), **(env or {}))
    proc = subprocess.Popen([sys.executable, "-m", "ndnx.cli", "run", TINY, "--root", str(tmp_path),
                             "--strategy", "auto", *options], env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines, waiting = [], threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if "is waiting for worker 0" in line:
                waiting.set()

    threading.Thread(target=read, daemon=True).start()
    return proc, ports, lines, waiting


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_wait_with_one_line(name, capsys):
    from ndnx.training.cluster import join_cluster

    ports = free_ports(2)
    config = {"cluster": cluster_of(ports), "task": {"type": "worker", "index": 1}}
    signum = getattr(signal, name)
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signum))
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(SystemExit) as info:
            join_cluster(config, "worker 1 of 2", timeout=30)
    finally:
        timer.cancel()
        for s, handler in saved.items():
            signal.signal(s, handler)
    assert info.value.code == 128 + signum and time.monotonic() - start < 5
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"ndnx: worker 1 of 2 stopped by {name} while waiting for its cluster")
    with socket.socket() as s:  # the address it listened on is free again
        s.bind(("", ports[1]))


@pytest.mark.slow  # a process waiting out its timeout; the waiting itself is tested in-process above
def test_ndnx_run_as_a_worker_whose_peer_never_starts_says_so_and_ends(tmp_path):
    proc, ports, lines, _ = worker_of_two(tmp_path, env={"NDNX_WORKER_TIMEOUT": "1"})
    try:
        code = proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.2)  # the reader thread takes the last lines
    assert code == 2
    assert lines[-1].startswith(f"ndnx: error: worker 1 of 2 (127.0.0.1:{ports[1]}): no answer from worker 0 "
                                f"(127.0.0.1:{ports[0]}) after 1 s; start every task of TF_CONFIG's cluster")
    assert not (tmp_path / "logs").exists()  # nothing was written


@pytest.mark.slow  # three processes, ~20 s on a 2-core machine
def test_a_worker_without_its_peer_times_out_and_stops_on_sigterm_and_sigint(tmp_path):
    runs = {"timeout": worker_of_two(tmp_path / "a", env={"NDNX_WORKER_TIMEOUT": "1"}),
            "SIGTERM": worker_of_two(tmp_path / "b", "--worker-timeout", "600"),
            "SIGINT": worker_of_two(tmp_path / "c", "--worker-timeout", "600")}
    try:
        for name in ("SIGTERM", "SIGINT"):
            proc, _, lines, waiting = runs[name]
            assert waiting.wait(60), lines
            assert "(up to 600 s; --worker-timeout, NDNX_WORKER_TIMEOUT)" in lines[-1]
            time.sleep(0.5)
            sent = time.monotonic()
            proc.send_signal(getattr(signal, name))
            proc.wait(10)
            assert time.monotonic() - sent < 5
        codes = {name: run[0].wait(60) for name, run in runs.items()}
    finally:
        for proc, *_ in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    time.sleep(0.2)  # the reader threads take the last lines
    proc, ports, lines, _ = runs["timeout"]
    assert codes["timeout"] == 2
    assert lines[-1].startswith(f"ndnx: error: worker 1 of 2 (127.0.0.1:{ports[1]}): no answer from worker 0 "
                                f"(127.0.0.1:{ports[0]}) after 1 s; start every task of TF_CONFIG's cluster")
    for name, code in (("SIGTERM", 128 + signal.SIGTERM), ("SIGINT", 128 + signal.SIGINT)):
        proc, ports, lines, _ = runs[name]
        assert codes[name] == code
        assert lines[-1] == (f"ndnx: worker 1 of 2 (127.0.0.1:{ports[1]}) stopped by {name} while waiting "
                             "for its cluster"), lines
        assert not any("Traceback" in line for line in lines), lines
    assert not any((tmp_path / d / "logs").exists() for d in "abc")  # nothing was written


@pytest.mark.slow  # a two-worker run, ~30 s on a 2-core machine
def test_sigterm_stops_both_workers_of_a_training_run_promptly(tmp_path):
    ports = free_ports(2)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen(
        [sys.executable, "-m", "ndnx.cli", "run", TINY, "--root", str(tmp_path), "--strategy", "auto",
         "--set", "epochs=2000"],
        env=dict(env, NDNX_TEST_SLEEP="0.01", TF_CONFIG=tf_config("worker", i, cluster_of(ports))), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "logs").rglob("*.tfevents.*")):  # the chief has logged epoch 0
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
            time.sleep(0.2)
        time.sleep(1.0)
        outputs = []
        # The worker first; the chief is then left waiting for it inside a collective operation.
        for i in (1, 0):
            sent = time.monotonic()
            procs[i].send_signal(signal.SIGTERM)
            out, err = procs[i].communicate(timeout=30)
            assert time.monotonic() - sent < 10
            outputs.append((i, procs[i].returncode, err.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for i, code, last in outputs:
        assert code == 128 + signal.SIGTERM
        assert last == (f"ndnx: worker {i} of 2 (127.0.0.1:{ports[i]}) stopped by SIGTERM; the same command on "
                        "every task resumes from the last checkpoint")
