"""Thesis experiment 1.3.4 (experiments_3/bs4_exp3): Linear vs softplus DoG units, on baseline 4.

Thesis (region 1, 10 seeds, 5k epochs): softplus after the DoG 0.494 / 0.512 / 0.467 vs 0.51 / 0.527
/ 0.502 linear.

Everything not varied is the recipe of baseline4 (experiments/v1/baseline4.py); the grid has 2 runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/dog_softplus.py --set epochs=5000 --jobs 2
    ndnx summarize v1/dog_softplus
"""

import os

from ndnx.experiment import load_experiment

baseline4 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py"))

experiment = baseline4.derive(
    "v1/dog_softplus",
    defaults=dict(),
    grid=dict(dog_activation=["lin", "softplus"]),
    description="thesis 1.3.4: Linear vs softplus DoG units",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
