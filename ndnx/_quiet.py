"""Import TensorFlow without its C++ start-up chatter.

TensorFlow 2.21 writes oneDNN notices and CUDA probing lines (on machines without a GPU:
"failed call to cuInit ...") to file descriptor 2 through absl before `TF_CPP_MIN_LOG_LEVEL` takes
effect. Unless the user asked for verbose logs (TF_CPP_MIN_LOG_LEVEL < 2), ndnx silences fd 2 while
TensorFlow loads and probes its devices; Python exceptions raised meanwhile still propagate once
stderr is restored.

When TensorFlow was imported before ndnx (`import keras` first), its load-time lines are out
already and its C++ log level was fixed without TF_CPP_MIN_LOG_LEVEL, so XLA's start-up notes
("XLA service ... initialized", "Compiled cluster using XLA!") still appear later; ndnx then
silences what is left of the start-up — the device probing with its cuInit error line. Import ndnx
first (or set TF_CPP_MIN_LOG_LEVEL=2 before TensorFlow loads) for none of it.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def _silenced_stderr():
    """File descriptor 2 sent to /dev/null (also what C++ code writes); nothing when that fails."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_quietly():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0) < 2:
        import tensorflow  # noqa: F401
        return
    with _silenced_stderr():
        import tensorflow as tf

        # Device probing (where the CUDA lines come from) without initialising the runtime, so
        # logical devices can still be configured afterwards. Done here also when TensorFlow was
        # imported first: its first probe would print them.
        tf.config.list_physical_devices()
