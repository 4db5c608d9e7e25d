"""Thesis experiment 1.2.2 (experiments_1/baseline_2_exp5): Poisson vs Gaussian noise model (loss),
on baseline 2.

Thesis (region 1, 10 seeds, 5k epochs): Gaussian 0.46 / 0.47 / 0.42, worse than Poisson.

Everything not varied is the recipe of baseline2 (experiments/v1/baseline2.py); the grid has 2 runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/noise.py --set epochs=5000 --jobs 2
    ndnx summarize v1/noise
"""

import os

from ndnx.experiment import load_experiment

baseline2 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline2.py"))

experiment = baseline2.derive(
    "v1/noise",
    defaults=dict(),
    grid=dict(noise=["poisson", "gaussian"]),
    description="thesis 1.2.2: Poisson vs Gaussian noise model (loss)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
