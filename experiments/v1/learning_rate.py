"""Thesis experiment 1.2.4 (experiments_2/bs2_exp1): Adam learning rate, on baseline 2.

Thesis (region 1, 10 seeds, 5k epochs): 1e-3 became baseline 3's learning rate.

Everything not varied is the recipe of baseline2 (experiments/v1/baseline2.py); the grid has 5 runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/learning_rate.py --set epochs=5000 --jobs 2
    ndnx summarize v1/learning_rate
"""

import os

from ndnx.experiment import load_experiment

baseline2 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline2.py"))

experiment = baseline2.derive(
    "v1/learning_rate",
    defaults=dict(),
    grid=dict(lr=[1e-5, 1e-4, 5e-4, 1e-3, 5e-3]),
    description="thesis 1.2.4: Adam learning rate",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
