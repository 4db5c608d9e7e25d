"""CordsNet and CordsNetInverse train under MirroredStrategy exactly as on one device.

Both override `train_step` with their own losses, so they must scale the loss by 1/N before the
cross-device SUM of gradients (`ndnx.losses.scale_loss_for_replicas`). Plain SGD makes the update
proportional to the gradient: without the scaling the two-device weights move twice as far
(a difference of 0.14 in CordsNet's weights, 1.7e-4 in the inverse model's, after 4 steps). With
an active clip ("cordsnet_clipped", global norm 1e-3) the devices' gradients must also be summed
before the clip (`ndnx.losses.clip_after_device_sum`): Keras clips each device's part. The step-1
CNN ("cnn") uses Keras' train_step; its batch norms are synchronized (global batch statistics;
per-device statistics put its weights 0.063 apart).
Slow (~70 CPU-s: six models traced in a fresh process); run by `make test-all`.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_cordsnet_distributed_worker.py")


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TF_CONFIG", None)
    proc = subprocess.run([sys.executable, WORKER, "cordsnet,cordsnet_clipped,inverse,cnn"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"worker failed:\n{proc.stderr[-6000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["cordsnet", "cordsnet_clipped", "inverse", "cnn"])
def test_mirrored_two_devices_equals_one_device(runs, kind):
    assert runs["num_devices"] == 2
    single, mirrored = runs[kind]["single"], runs[kind]["mirrored"]
    assert single["iterations"] == mirrored["iterations"] == 4  # 16 rows, batch 8, 2 epochs
    np.testing.assert_allclose(mirrored["losses"], single["losses"], rtol=2e-6, atol=0)
    difference = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                     for a, b in zip(mirrored["weights"], single["weights"]))
    print(f"{kind}: largest weight difference, 2 devices vs 1: {difference:.2e}")
    assert difference < 1e-6
