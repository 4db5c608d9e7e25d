"""FeedbackNetwork trains under MirroredStrategy (2 logical CPUs) exactly as on one device.

Truncated BPTT with the state carried from batch to batch: under the strategy each device takes
its contiguous half of every global batch, starts from its half of the carried state and the
devices gather their final states, so the carried state after training equals the single-device
one too. From the experiments' tf.data pipeline (`ndnx.training.DistributedDatasetEpochs`) and
from in-memory arrays (`DistributedEpochs`), with plain SGD (an update proportional to the
gradient: a missing 1/N scaling would double it) and with the paper's Adam + clipping (Keras
clips each device's part of the gradient before the sum; without
`ndnx.losses.distribution.clip_after_device_sum` the weights differ by up to 2.7e-4 after 6 steps).
Slow (~60 CPU-s: six models traced in a fresh process); run by `make test-all`.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_feedback_distributed_worker.py")
CASES = ["pipeline:sgd", "arrays:sgd", "pipeline:adam"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TF_CONFIG", None)
    proc = subprocess.run([sys.executable, WORKER, ",".join(CASES)], env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, f"worker failed:\n{proc.stderr[-6000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _largest_difference(a, b):
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in zip(a, b))


@pytest.mark.parametrize("case", CASES)
def test_mirrored_two_devices_equals_one_device(runs, case):
    assert runs["num_devices"] == 2
    single, mirrored = runs[case]["single"], runs[case]["mirrored"]
    assert single["iterations"] == mirrored["iterations"] == 6  # 3 batches of 4 contexts, 2 epochs
    np.testing.assert_allclose(mirrored["losses"], single["losses"], rtol=1e-5, atol=0)
    weights = _largest_difference(mirrored["weights"], single["weights"])
    carried = _largest_difference(mirrored["carried"], single["carried"])
    scale = max(float(np.max(np.abs(np.asarray(v)))) for v in single["carried"])
    print(f"{case}: largest difference, 2 devices vs 1: weights {weights:.2e}, carried state {carried:.2e} "
          f"(state up to {scale:.2f})")
    assert weights < 1e-5 and carried < 1e-5 * max(scale, 1.0)


def test_a_pipeline_batch_that_does_not_split_over_the_devices_is_one_error_line(runs):
    assert len(runs["uneven"]) == 1
    assert "every batch must split evenly over the 2 devices" in runs["uneven"][0]
