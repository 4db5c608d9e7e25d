"""TensorFlow's start-up chatter stays out of a user's output, whatever was imported first."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = """
import sys
import keras  # TensorFlow loads here, before ndnx can set its log level
print("-- keras imported", file=sys.stderr, flush=True)
import ndnx
import tensorflow as tf
tf.constant(1.0) + 1.0  # the first operation: TensorFlow probes its devices unless that was done
print("-- first operation done", file=sys.stderr, flush=True)
"""


def test_importing_keras_first_leaves_only_the_load_time_lines():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    after = out.stderr.split("-- keras imported\n", 1)[1]
    # Nothing from the device probing (e.g. "E0000 ... failed call to cuInit") once ndnx is imported.
    assert after == "-- first operation done\n", after
