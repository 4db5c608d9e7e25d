"""Thesis experiment 3.1.1 (experiments_mult1/bs3_exp9): One HSM for pooled regions (block-diagonal
outputs, unrecorded entries masked) × DoGs × hidden × l2.

Thesis (region 1, 10 seeds, 5k epochs): regions 1+2+3 shared 0.439 / 0.459 / 0.426 vs per-region
0.474 / 0.486 / 0.46; regions 1+2 shared 0.484 / 0.495 / 0.471 vs 0.475 / 0.483 / 0.475.

Everything not varied is the recipe of baseline3 (experiments/v1/baseline3.py); the grid has 36
runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/pooled.py --set epochs=5000 --jobs 2
    ndnx summarize v1/pooled
"""

import os

from ndnx.experiment import load_experiment

baseline3 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline3.py"))

experiment = baseline3.derive(
    "v1/pooled",
    defaults=dict(regions=[1, 2]),
    grid=dict(regions=[[1, 2], [1, 2, 3]], num_dogs=[9, 15, 25], hidden_fraction=[0.2, 0.3], l2_output=[0.0, 0.1, 1.0]),
    description="thesis 3.1.1: One HSM for pooled regions (block-diagonal outputs",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
