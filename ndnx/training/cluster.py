"""Joining a multi-worker cluster without hanging: a time limit on waiting for the other tasks, and
SIGTERM / SIGINT that stop the process.

`tf.distribute.MultiWorkerMirroredStrategy()` blocks inside TensorFlow until every task of
TF_CONFIG's cluster has started, with no time limit and holding Python's global interpreter lock,
so neither a timer thread nor Python's SIGINT handler can run meanwhile; and TensorFlow's
coordination service takes SIGTERM for its preemption notifier, which notes the signal and carries
on. A worker whose peer never starts therefore waits for ever, deaf to SIGTERM and SIGINT.

`join_cluster` waits first, in Python: each task listens on its own TF_CONFIG address and polls the
others' until every address accepts a connection — the peer's temporary listener, or its
TensorFlow server once that peer has gone on — then closes its listener and builds the strategy,
which finds everybody there. While it waits:

- it says once, on stderr, whom it is waiting for and for how long;
- after `timeout` seconds (`worker_timeout()`: `--worker-timeout` / $NDNX_WORKER_TIMEOUT, default
  300; 0 waits without limit) it gives up with a `RuntimeError` naming the tasks that never
  answered (`ndnx run` prints it as one line and exits with status 2);
- SIGTERM and SIGINT end the process at once with one line on stderr (status 128 + signal).

Once the strategy is built, SIGTERM and SIGINT are taken back from TensorFlow: each ends the process
promptly with one line, without TensorFlow's shutdown barrier (which would wait for the other
tasks). Whatever the chief had checkpointed is kept: the same command, on every task, resumes.
A peer that dies after the cluster has formed is TensorFlow's to detect (its coordination service
heartbeats).
"""

import os
import select
import signal
import socket
import sys
import threading
import time

__all__ = ["DEFAULT_TIMEOUT", "worker_timeout", "wait_for_peers", "join_cluster", "task_addresses"]

#: Seconds a task waits for the other tasks of its cluster unless told otherwise.
DEFAULT_TIMEOUT = 300.0
ENV = "NDNX_WORKER_TIMEOUT"


def worker_timeout():
    """Seconds to wait for the cluster: $NDNX_WORKER_TIMEOUT (0: no limit), default `DEFAULT_TIMEOUT`."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{ENV} (--worker-timeout) expects a number of seconds ≥ 0 (0: no limit), got {raw!r}")
    return value


def task_addresses(config):
    """[(name, "host:port")] of every task of a TF_CONFIG cluster, e.g. ("worker 1", "127.0.0.1:20002")."""
    out = []
    for job, tasks in config["cluster"].items():
        if isinstance(tasks, dict):  # {"index": address}
            tasks = [tasks[k] for k in sorted(tasks, key=int)]
        out += [(f"{job} {i}", str(address)) for i, address in enumerate(tasks)]
    return out


def _host_port(address):
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"TF_CONFIG: expected a task address 'host:port', got {address!r}")
    return host.strip("[]") or "localhost", int(port)


def _reachable(address, timeout=1.0):
    try:
        with socket.create_connection(_host_port(address), timeout=timeout):
            return True
    except OSError:
        return False


def _listen(address, me):
    """A listening socket on this task's port, so the peers see it is up (`_turn_away` closes what it
    accepts: a peer's TensorFlow client that connects early retries at once rather than waiting on
    a handshake that never comes)."""
    _, port = _host_port(address)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("", port))
        sock.listen(64)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise RuntimeError(f"{me}: cannot listen on its TF_CONFIG address {address} ({e.strerror or e}); "
                           "is another process using that port?") from None
    return sock


def _turn_away(listener, seconds):
    """Close every connection made to `listener` within the next `seconds`."""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        if select.select([listener], [], [], left)[0]:
            try:
                connection, _ = listener.accept()
                connection.close()
            except OSError:
                pass


def _say(text):
    sys.stderr.write(f"ndnx: {text}\n")
    sys.stderr.flush()


def _signal_name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _on_signals(handler):
    if threading.current_thread() is not threading.main_thread():
        return  # Python takes signals in the main thread only
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)


def wait_for_peers(config, me, timeout=None, poll=0.25):
    """Wait until every other task of the cluster in `config` (TF_CONFIG, parsed) accepts connections.

    `me` names this task in messages ("worker 1 of 2 (host:port)"). Raises RuntimeError when the
    time is up; returns the seconds waited.
    """
    timeout = worker_timeout() if timeout is None else float(timeout)
    task = config["task"]
    own_name = f"{task['type']} {int(task['index'])}"
    tasks = task_addresses(config)
    own = dict(tasks).get(own_name)
    if own is None:
        raise ValueError(f"TF_CONFIG: the task {own_name} is not in the cluster {config['cluster']}")
    others = [(name, address) for name, address in tasks if name != own_name]
    start = time.monotonic()
    listener = _listen(own, me)
    said = False
    try:
        while True:
            others = [(name, address) for name, address in others if not _reachable(address)]
            if not others:
                return time.monotonic() - start
            waited = time.monotonic() - start
            missing = ", ".join(f"{name} ({address})" for name, address in others)
            if timeout and waited >= timeout:
                raise RuntimeError(
                    f"{me}: no answer from {missing} after {waited:.0f} s; start every task of TF_CONFIG's "
                    f"cluster, or wait longer with --worker-timeout SECONDS ({ENV}; 0 waits without limit)")
            if not said:
                limit = f"up to {timeout:g} s" if timeout else "without time limit"
                _say(f"{me} is waiting for {missing} to start ({limit}; --worker-timeout, {ENV})")
                said = True
            _turn_away(listener, poll)
    finally:
        listener.close()


def join_cluster(config, me, timeout=None):
    """Wait for the cluster's tasks (`wait_for_peers`), then build the `MultiWorkerMirroredStrategy`.

    SIGTERM and SIGINT end the process with one line while it waits and, taken back from
    TensorFlow, for the rest of its life.
    """
    import tensorflow as tf

    def while_waiting(signum, frame):
        _say(f"{me} stopped by {_signal_name(signum)} while waiting for its cluster")
        raise SystemExit(128 + signum)

    def while_running(signum, frame):
        # No orderly exit: TensorFlow's shutdown barrier would wait for the other tasks.
        try:
            sys.stdout.flush()
        finally:
            os.write(2, f"ndnx: {me} stopped by {_signal_name(signum)}; the same command on every task "
                        "resumes from the last checkpoint\n".encode())
            os._exit(128 + signum)

    _on_signals(while_waiting)
    wait_for_peers(config, me, timeout)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _on_signals(while_running)  # replaces the handler TensorFlow's coordination service installed
    return strategy
