"""Import TensorFlow without its C++ start-up chatter.

TensorFlow 2.21 writes oneDNN notices and CUDA probing lines (on machines without a GPU) to
file descriptor 2 through absl before `TF_CPP_MIN_LOG_LEVEL` takes effect. Unless the user asked
for verbose logs (TF_CPP_MIN_LOG_LEVEL < 2), ndnx silences fd 2 while TensorFlow loads and probes
its devices; Python exceptions raised meanwhile still propagate once stderr is restored.
"""

import os
import sys


def import_tensorflow_quietly():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0) < 2:
        import tensorflow  # noqa: F401
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        import tensorflow  # noqa: F401
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        # Device probing (where the CUDA lines come from) without initialising the runtime, so
        # logical devices can still be configured afterwards.
        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
