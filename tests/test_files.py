"""Atomic writes (ndnx.files): all or nothing, temporaries that look like no result, umask modes."""

import csv
import glob
import os
import pathlib
import stat

import numpy as np
import pytest

from ndnx.files import (FileLock, LockHeld, atomic_open, atomic_path, atomic_write_bytes, atomic_write_text,
                        make_temporary_dir, remove_temporaries, temporaries)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def everything_under(directory):
    return sorted(os.path.relpath(os.path.join(d, n), directory)
                  for d, dirs, files in os.walk(directory) for n in dirs + files)


def test_text_and_bytes_are_written_and_follow_the_umask(tmp_path, umask_022):
    path = atomic_write_text(tmp_path / "sub" / "config.yaml", "lr: 0.001\n")
    assert path == str(tmp_path / "sub" / "config.yaml")
    assert open(path).read() == "lr: 0.001\n" and mode_of(path) == 0o644
    atomic_write_bytes(tmp_path / "blob.bin", b"\x00\x01")
    assert (tmp_path / "blob.bin").read_bytes() == b"\x00\x01" and mode_of(tmp_path / "blob.bin") == 0o644
    os.umask(0o077)
    atomic_write_text(tmp_path / "private.txt", "x")
    assert mode_of(tmp_path / "private.txt") == 0o600
    assert everything_under(tmp_path) == ["blob.bin", "private.txt", "sub", "sub/config.yaml"]


def test_explicit_mode(tmp_path):
    with atomic_path(tmp_path / "a.txt", mode=0o640) as tmp:
        pathlib.Path(tmp).write_text("a")
    assert mode_of(tmp_path / "a.txt") == 0o640


def test_failure_mid_write_leaves_neither_target_nor_temporary(tmp_path):
    target = tmp_path / "table.csv"
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_open(target, "w") as f:
            f.write("run,p50\nrun0,0.5")
            raise RuntimeError("disk full")
    assert everything_under(tmp_path) == []

    atomic_write_text(target, "old\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            pathlib.Path(tmp).write_text("new, but only half")
            raise KeyboardInterrupt
    assert target.read_text() == "old\n" and everything_under(tmp_path) == ["table.csv"]


def test_temporaries_are_hidden_and_do_not_match_the_target_pattern(tmp_path):
    with atomic_path(tmp_path / "summary.csv") as tmp:
        name = os.path.basename(tmp)
        assert os.path.dirname(tmp) == str(tmp_path) and os.path.isfile(tmp)
        assert name.startswith(".tmp-") and name.endswith(".partial")
        # pathlib's glob, unlike glob.glob, also lists hidden files: neither sees a *.csv yet
        assert list(tmp_path.glob("*.csv")) == [] and glob.glob(str(tmp_path / "*.csv")) == []
        pathlib.Path(tmp).write_text("run\n")
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]


def test_suffix_gives_a_path_with_that_extension_in_a_hidden_directory(tmp_path):
    with atomic_path(tmp_path / "seed0.keras", suffix=".keras") as tmp:
        assert tmp.endswith(".keras") and not os.path.exists(tmp)
        holder = os.path.dirname(tmp)
        assert os.path.dirname(holder) == str(tmp_path)
        # the hidden directory is named after the target, so the temporaries of one file can be found
        assert os.path.basename(holder).startswith(".tmp-seed0.keras.") and os.path.basename(holder).endswith(".partial")
        pathlib.Path(tmp).write_bytes(b"model")
        assert list(tmp_path.glob("*.keras")) == []
    assert everything_under(tmp_path) == ["seed0.keras"]


def test_a_writer_that_writes_nothing_publishes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="did not create the file"):
        with atomic_path(tmp_path / "seed0.keras", suffix=".keras"):
            pass
    assert everything_under(tmp_path) == []


@pytest.mark.parametrize("call, message", [
    (lambda p: atomic_path("").__enter__(), "expected a path naming a file, got ''"),
    (lambda p: atomic_path(p / "x.keras", suffix="keras").__enter__(), "suffix must be None or an extension"),
    (lambda p: atomic_path(p / "x", mode="644").__enter__(), "mode must be None or permission bits"),
    (lambda p: atomic_open(p / "x", "a").__enter__(), "mode must be 'w' or 'wb', got 'a'"),
    (lambda p: atomic_write_text(p / "x", b"bytes"), "expected text"),
    (lambda p: atomic_write_bytes(p / "x", "text"), "expected bytes"),
    (lambda p: atomic_path(3.5).__enter__(), "expected a file path, got 3.5"),
])
def test_bad_arguments_are_one_line_value_errors(tmp_path, call, message):
    with pytest.raises(ValueError, match=message) as info:
        call(tmp_path)
    assert "\n" not in str(info.value)
    assert everything_under(tmp_path) == []


def test_temporary_directory_follows_the_umask(tmp_path, umask_022):
    directory = make_temporary_dir(tmp_path, "region1")
    name = os.path.basename(directory)
    assert name.startswith(".tmp-region1.") and name.endswith(".partial")
    assert mode_of(directory) == 0o755


def tiny_model():
    import keras

    from ndnx.models.v1 import hsm

    model = hsm(5, input_shape=(9, 9, 1), seed=0)
    model.compile(keras.optimizers.Adam(1e-3), "mse", jit_compile=False)
    model.optimizer.build(model.trainable_variables)
    return model


def test_keras_model_saved_through_the_helper(tmp_path, umask_022, monkeypatch):
    import keras

    from ndnx.training import save_model_atomic

    model = tiny_model()
    target = tmp_path / "models" / "seed0.keras"
    seen = []
    save = keras.Model.save

    def watching_save(self, filepath, *args, **kwargs):
        save(self, filepath, *args, **kwargs)
        # written, not yet published: no *.keras in the models directory, hidden or not
        seen.append((str(filepath), sorted(p.name for p in target.parent.glob("*.keras"))))

    monkeypatch.setattr(keras.Model, "save", watching_save)
    save_model_atomic(model, target)
    [(written, listed)] = seen
    assert written.endswith(".keras") and listed == []
    assert everything_under(tmp_path) == ["models", "models/seed0.keras"]
    assert mode_of(target) == 0o644
    x = np.random.default_rng(0).normal(size=(4, 9, 9, 1)).astype("float32")
    np.testing.assert_allclose(keras.saving.load_model(str(target))(x), model(x), rtol=1e-6)


def test_keras_save_failing_mid_write_leaves_the_old_model(tmp_path, monkeypatch):
    import keras

    from ndnx.training import save_model_atomic

    model = tiny_model()
    target = tmp_path / "seed0.keras"
    save_model_atomic(model, target)
    before = target.read_bytes()

    def failing_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(before[: len(before) // 2])
        raise OSError("No space left on device")

    monkeypatch.setattr(keras.Model, "save", failing_save)
    with pytest.raises(OSError, match="No space left"):
        save_model_atomic(model, target)
    assert target.read_bytes() == before and everything_under(tmp_path) == ["seed0.keras"]


def test_csv_and_figures_follow_the_umask(tmp_path, umask_022):
    from ndnx.analysis.summary import write_csv
    from ndnx.plotting import plot_kernels

    path = write_csv([{"run": "run0", "tag": "correlation", "p50": 0.5}], tmp_path / "s.csv")
    assert mode_of(path) == 0o644
    assert list(csv.DictReader(open(path))) == [{"run": "run0", "tag": "correlation", "p50": "0.5"}]
    plot_kernels(np.ones((2, 3, 3)), path=tmp_path / "k.png")
    assert mode_of(tmp_path / "k.png") == 0o644
    assert (tmp_path / "k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert everything_under(tmp_path) == ["k.png", "s.csv"]


def test_temporaries_of_given_targets_are_found_and_removed(tmp_path):
    names = [".tmp-seed0.keras.0123456789ab.partial", ".tmp-seed1.keras.0123456789ab.partial",
             ".tmp-seed10.keras.0123456789ab.partial", ".tmp-seed1.keras.bak.0123456789ab.partial",
             ".tmp-config.yaml.abcdefabcdef.partial", "seed1.keras", ".hidden"]
    for name in names:
        (tmp_path / name).mkdir() if "keras" in name and name.startswith(".tmp") else (tmp_path / name).touch()
    assert [os.path.basename(p) for p in temporaries(tmp_path, ["seed1.keras"])] == [names[1]]
    assert len(temporaries(tmp_path)) == 5 and temporaries(tmp_path / "missing") == []
    assert [os.path.basename(p) for p in remove_temporaries(tmp_path, ["seed0.keras", "config.yaml"])] == [
        names[4], names[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:4] + names[5:])


HOLD = """
import sys, time
sys.path.insert(0, sys.argv[2])
import importlib.util
spec = importlib.util.spec_from_file_location("files", sys.argv[2] + "/ndnx/files.py")
files = importlib.util.module_from_spec(spec); spec.loader.exec_module(files)
lock = files.FileLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_file_lock_one_holder_named_and_freed_by_death(tmp_path):
    import signal
    import subprocess
    import sys
    import threading

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = tmp_path / "run" / ".seed0.lock"
    # ndnx.files alone (standard library): the holder starts in a fraction of a second
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), root], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = FileLock(path)
        assert lock.holder() == f"pid {holder.pid} on {os.uname().nodename}"
        with pytest.raises(LockHeld) as info:
            lock.acquire()
        assert info.value.path == str(path) and str(holder.pid) in str(info.value)
        assert not lock.held
        # waiting: the holder dies (SIGKILL) and the lock is free, the file taken over
        seen = []
        threading.Timer(0.5, holder.send_signal, [signal.SIGKILL]).start()
        lock.acquire(wait=True, on_wait=seen.append)
        assert seen == [f"pid {holder.pid} on {os.uname().nodename}"] and lock.held
        assert path.read_text().split()[0] == str(os.getpid())
        with pytest.raises(LockHeld):  # two FileLocks exclude each other in one process as well
            FileLock(path).acquire()
        lock.release()
        assert not path.exists() and lock.holder() is None
        with FileLock(path) as again:
            assert again.held
        assert not path.exists()
    finally:
        holder.kill()
        holder.wait()
