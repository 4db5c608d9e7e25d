"""Thesis experiment 1.2.6 (bs3_exp2): batch size, with the epochs scaled to keep the number of updates.

Batch sizes 2 … 1800 on baseline 3; each run trains for as many epochs as it takes to make the same
number of optimizer steps as `base_epochs` epochs at batch 16 on region 1's 1800 images
(⌈1800/16⌉ = 113 steps per epoch, the last partial batch kept). Thesis: batch 16 was kept.
Everything not varied is the recipe of baseline 3 (experiments/v1/baseline3.py); 9 runs.

    ndnx run experiments/v1/batch_size.py --jobs 2
    ndnx summarize v1/batch_size
"""

import math
import os

from ndnx.experiment import load_experiment

baseline3 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline3.py"))

TRAIN_IMAGES = 1800  # region 1
BASE_EPOCHS = 200    # at batch 16: 22,600 updates
BATCH_SIZES = [2, 8, 16, 32, 64, 128, 512, 1024, 1800]


def epochs_for(batch_size, base_epochs=BASE_EPOCHS, base_batch=16, images=TRAIN_IMAGES):
    """Epochs at `batch_size` that make as many updates as `base_epochs` at `base_batch`."""
    updates = base_epochs * math.ceil(images / base_batch)
    return max(1, round(updates / math.ceil(images / batch_size)))


experiment = baseline3.derive(
    "v1/batch_size",
    grid={("batch_size", "epochs", "log_every"): [
        (b, epochs_for(b), max(1, epochs_for(b) // 20)) for b in BATCH_SIZES]},
    description="thesis 1.2.6: batch size at a constant number of updates",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
