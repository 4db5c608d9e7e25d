"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Everything ndnx writes for others to read (models, configurations, tables, figures, results)
goes through `atomic_path`: the writer fills a temporary in the target's directory, and only a
writer that finished is published, by `os.replace` (atomic on POSIX within one file system).
Any exception removes the temporary and leaves the target as it was.

Temporaries never look like results: they are hidden and end in ``.partial``
(``.tmp-seed0.keras.3f9a1c2b7d4e.partial``), so ``*.keras`` or ``*.csv`` patterns — and any listing
that skips dot-files — do not see them. A writer that insists on an extension of its own (Keras'
``model.save`` accepts only paths ending in ``.keras``) gets, with ``suffix=".keras"``, a path
inside a hidden temporary directory instead: ``.tmp-seed0.keras.3f9a1c2b7d4e.partial/seed0.partial.keras``.
A process killed with SIGKILL mid-write leaves its ``.tmp-*.partial`` behind, and nothing else;
`temporaries(directory, names)` finds those of given targets and `remove_temporaries` removes them
(the caller makes sure their writers are gone, e.g. by holding a `FileLock`).

`FileLock(path)` is an exclusive lock (fcntl) held by one process at a time and released when the
process ends, however it ends; the lock file names its holder (pid and host), so a refused
process can say who holds it.

Files are created with mode ``0o666`` and directories ``0o777``, both less the process umask, as
`open` does — not the ``0o600`` of `tempfile.mkstemp`, which would hide models and configurations
from colleagues on a shared machine. ``mode=`` sets the permissions explicitly.

This module uses the standard library only and imports nothing from ndnx, so every other module
(data, training, analysis, plotting) may use it.

    from ndnx.files import atomic_path, atomic_open, atomic_write_text

    with atomic_path("models/seed0.keras", suffix=".keras") as tmp:
        model.save(tmp)
    with atomic_open("table.csv", "w", newline="") as f:
        csv.writer(f).writerow(["run", "p50"])
    atomic_write_text("config.yaml", text)
"""

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import socket
import sys
import time

__all__ = ["TEMP_PREFIX", "TEMP_SUFFIX", "atomic_path", "atomic_open", "atomic_write_text",
           "atomic_write_bytes", "make_temporary_dir", "temporaries", "remove_temporaries", "remove_path", "FileLock",
           "LockHeld"]

TEMP_PREFIX = ".tmp-"
TEMP_SUFFIX = ".partial"
_ATTEMPTS = 100
_MAX_LABEL = 100  # keeps temporary names well below NAME_MAX (255) whatever the target's name


def _target(path, owner):
    try:
        path = os.fspath(path)
    except TypeError:
        raise ValueError(f"{owner}: expected a file path, got {path!r}") from None
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if not path or path.endswith(os.sep) or os.path.basename(path) in ("", ".", ".."):
        raise ValueError(f"{owner}: expected a path naming a file, got {path!r}")
    return os.path.abspath(path)


def _temporary_name(label):
    return f"{TEMP_PREFIX}{label[:_MAX_LABEL]}{'.' if label else ''}{secrets.token_hex(6)}{TEMP_SUFFIX}"


def _create_file(directory, label):
    """A new empty file beside the target, mode 0o666 less the umask (as `open` would create it)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(_ATTEMPTS):
        tmp = os.path.join(directory, _temporary_name(label))
        try:
            os.close(os.open(tmp, flags, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"atomic_path: no free temporary name in {directory} after {_ATTEMPTS} attempts")


def make_temporary_dir(parent, label=""):
    """Create and return a new hidden directory ``<parent>/.tmp-<label>.<random>.partial``.

    Its mode is 0o777 less the umask (`tempfile.mkdtemp` would give 0o700), so a directory that is
    later renamed into place — a whole dataset, say — is as readable as one made by `os.makedirs`.
    The caller removes it (or renames it away).
    """
    parent = os.path.abspath(os.fspath(parent))
    os.makedirs(parent, exist_ok=True)
    for _ in range(_ATTEMPTS):
        tmp = os.path.join(parent, _temporary_name(str(label)))
        try:
            os.mkdir(tmp, 0o777)
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"make_temporary_dir: no free temporary name in {parent} after {_ATTEMPTS} attempts")


def _check_suffix(suffix):
    if suffix is None:
        return
    if (not isinstance(suffix, str) or not suffix.startswith(".") or len(suffix) < 2
            or os.sep in suffix or (os.altsep and os.altsep in suffix)):
        raise ValueError(f"atomic_path: suffix must be None or an extension such as '.keras', got {suffix!r}")


def remove_path(path):
    """Remove a file or a directory tree; nothing when it does not exist."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


@contextlib.contextmanager
def atomic_path(path, suffix=None, mode=None):
    """Yield a temporary path to write; on success it replaces `path`, on any failure it is removed.

    Args:
        path: the file to create or replace; missing parent directories are created.
        suffix: None — the temporary is an existing empty file ``.tmp-<name>.<random>.partial``
            beside `path`, for writers that take any name (open it for writing, truncating).
            An extension such as ".keras" — for a writer that requires it: the temporary is a path
            that does not exist yet, ``<stem>.partial<suffix>`` inside a new hidden directory
            ``.tmp-<name>.<random>.partial`` beside `path`; the writer must create it.
        mode: permission bits of the published file (e.g. 0o640); default 0o666 less the umask.

    The target is replaced only when the body finishes without an exception and the temporary is a
    regular file; otherwise the temporary (file or directory) is removed and the target is left as
    it was. Returns nothing; the published path is `path`.
    """
    target = _target(path, "atomic_path")
    _check_suffix(suffix)
    if mode is not None and (not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 0o7777):
        raise ValueError(f"atomic_path: mode must be None or permission bits such as 0o644, got {mode!r}")
    directory, name = os.path.split(target)
    os.makedirs(directory, exist_ok=True)
    if suffix is None:
        holder, tmp = None, _create_file(directory, name)
    else:
        stem = name[:-len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name
        holder = make_temporary_dir(directory, name)
        tmp = os.path.join(holder, f"{stem}{TEMP_SUFFIX}{suffix}")
    try:
        yield tmp
        if not os.path.isfile(tmp) or os.path.islink(tmp):
            raise FileNotFoundError(f"atomic_path: the writer did not create the file {tmp} for {target}")
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        remove_path(holder if holder is not None else tmp)


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """`open(path, mode, **kwargs)` on a temporary that replaces `path` when the block succeeds.

    mode: "w" or "wb" (with "x", "t" or "+" variants refused: the target is always replaced);
    kwargs go to `open` (encoding, newline, ...). A text file defaults to UTF-8.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    if mode == "w":
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f


def atomic_write_text(path, text, encoding="utf-8", newline=None):
    """Write `text` to `path` atomically; returns the absolute path."""
    if not isinstance(text, str):
        raise ValueError(f"atomic_write_text: expected text (str), got {type(text).__name__}")
    with atomic_open(path, "w", encoding=encoding, newline=newline) as f:
        f.write(text)
    return _target(path, "atomic_write_text")


def atomic_write_bytes(path, data):
    """Write `data` (bytes-like) to `path` atomically; returns the absolute path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"atomic_write_bytes: expected bytes, got {type(data).__name__}")
    with atomic_open(path, "wb") as f:
        f.write(data)
    return _target(path, "atomic_write_bytes")


# --- temporaries left behind ----------------------------------------------------------------------

def _temporary_pattern(name):
    import re

    label = re.escape(str(name)[:_MAX_LABEL])
    return re.compile(rf"{re.escape(TEMP_PREFIX)}{label}\.[0-9a-f]{{12}}{re.escape(TEMP_SUFFIX)}")


def temporaries(directory, names=None):
    """The ``.tmp-*.partial`` entries (files or directories) in `directory`, sorted.

    With `names` (target file names, e.g. ["seed0.keras", "seed1.keras"]) only the temporaries
    written for those targets; without, every temporary of `atomic_path` / `make_temporary_dir`.
    A missing directory has none.
    """
    try:
        entries = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    if names is None:
        found = [e for e in entries if e.startswith(TEMP_PREFIX) and e.endswith(TEMP_SUFFIX)]
    else:
        patterns = [_temporary_pattern(n) for n in names]
        found = [e for e in entries if any(p.fullmatch(e) for p in patterns)]
    return [os.path.join(directory, e) for e in sorted(found)]


def remove_temporaries(directory, names=None):
    """Remove what `temporaries(directory, names)` lists; returns the removed paths.

    Only for temporaries whose writers are gone: the caller holds the lock every writer of those
    targets holds (a `FileLock`), or knows otherwise that nobody writes them.
    """
    removed = temporaries(directory, names)
    for path in removed:
        remove_path(path)
    return removed


# --- one process at a time --------------------------------------------------------------------------

class LockHeld(RuntimeError):
    """A `FileLock` another process holds: `path` and `holder` ("pid 4242 on host", or None)."""

    def __init__(self, path, holder):
        self.path = path
        self.holder = holder
        super().__init__(f"{path} is held by {holder or 'another process'}")


def _try_flock(fd, operation):
    """`flock(fd, operation)` without waiting: False when another open file holds a conflicting lock."""
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        return False
    return True


def _host():
    try:
        return socket.gethostname() or "?"
    except OSError:
        return "?"


class FileLock:
    """An exclusive lock on the file `path`, held by one process at a time.

    It is an fcntl `flock`: the kernel releases it when the process ends, however it ends (exit,
    exception, SIGKILL), so a lock is never left held by a dead process. While held, the file
    holds "<pid> <host>" of its holder; `release` removes the file (a process that locked a file
    already removed tries again), so nothing stays behind after a clean exit. A SIGKILLed holder
    leaves the file, unlocked, and the next process takes it over.

        with FileLock("logs/run/.seed0.lock"):          # LockHeld when another process has it
            ...
        FileLock(path).acquire(wait=True)                # or wait until it is free

    The lock is per open file: two `FileLock`s on the same path exclude each other even in one
    process. The file is opened close-on-exec, so programs this process runs do not inherit it.
    """

    def __init__(self, path):
        self.path = os.path.abspath(os.fspath(path))
        self._fd = None

    @property
    def held(self):
        return self._fd is not None

    @staticmethod
    def _holder_of(fd):
        try:
            text = os.pread(fd, 256, 0).decode("utf-8", "replace").split()
        except OSError:
            return None
        if len(text) >= 2 and text[0].isdigit():
            return f"pid {text[0]} on {text[1]}"
        return None

    def holder(self):
        """Who holds the lock now ("pid 4242 on host"), or None when nobody does."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        try:
            if not _try_flock(fd, fcntl.LOCK_SH):
                return self._holder_of(fd) or "another process"
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def acquire(self, wait=False, on_wait=None):
        """Take the lock; `LockHeld` when another process has it and not `wait`.

        With `wait`, block until the holder releases it (or dies); `on_wait(holder)` is called
        once, before waiting. Returns self.
        """
        if self._fd is not None:
            raise RuntimeError(f"FileLock: {self.path} is already held by this FileLock")
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        told = False
        while True:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            try:
                fd = os.open(self.path, flags, 0o666)
            except FileNotFoundError:  # the directory was removed meanwhile (an empty run folder)
                continue
            try:
                # A few quick tries: `holder()` of another process may hold the lock for a moment.
                if not any(_try_flock(fd, fcntl.LOCK_EX) or time.sleep(0.01) for _ in range(5)):
                    holder = self._holder_of(fd)
                    if not wait:
                        raise LockHeld(self.path, holder) from None
                    if on_wait is not None and not told:
                        on_wait(holder)
                        told = True
                    fcntl.flock(fd, fcntl.LOCK_EX)
                # The lock is ours if the path still names the file locked: a releasing holder
                # removes its file, and whoever waited on that file must lock the new one.
                try:
                    path_stat, fd_stat = os.stat(self.path), os.fstat(fd)
                    same = (path_stat.st_ino, path_stat.st_dev) == (fd_stat.st_ino, fd_stat.st_dev)
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    time.sleep(0.001)
                    continue
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {_host()}\n".encode(), 0)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                raise
            self._fd = fd
            return self

    def release(self):
        """Give the lock up and remove its file (nothing when it is not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        finally:
            os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False

    def __del__(self):
        if getattr(self, "_fd", None) is not None and sys is not None:
            with contextlib.suppress(Exception):
                os.close(self._fd)
