"""Thesis experiment 1.4.1 (bs3_exp10): A learned LinScale first layer × input scale (N(0, 1) or
×1e6 grey levels), on baseline 3.

Thesis (region 1, 10 seeds, 5k epochs): with 0–255 inputs, LinScale 0.465 / 0.505 / 0.421 vs 0.41 /
0.429 / 0.295 without.

Everything not varied is the recipe of baseline3 (experiments/v1/baseline3.py); the grid has 4 runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/lin_scale.py --set epochs=5000 --jobs 2
    ndnx summarize v1/lin_scale
"""

import os

from ndnx.experiment import load_experiment

baseline3 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline3.py"))

experiment = baseline3.derive(
    "v1/lin_scale",
    defaults=dict(),
    grid=dict(lin_scale=[False, True], normalization=["train", "none"]),
    description="thesis 1.4.1: A learned LinScale first layer × input scale (N(0",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
