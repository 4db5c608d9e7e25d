"""Thesis experiment 1.2.3 (baseline_2_exp4): Zero vs N(0, 0.1²) ('trunc_normal') bias
initialisation, on baseline 2.

Thesis (region 1, 10 seeds, 5k epochs): N(0, 0.1²) biases became part of baseline 3.

Everything not varied is the recipe of baseline2 (experiments/v1/baseline2.py); the grid has 2 runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/bias_init.py --set epochs=5000 --jobs 2
    ndnx summarize v1/bias_init
"""

import os

from ndnx.experiment import load_experiment

baseline2 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline2.py"))

experiment = baseline2.derive(
    "v1/bias_init",
    defaults=dict(),
    grid=dict(bias_init=["zeros", "trunc_normal"]),
    description="thesis 1.2.3: Zero vs N(0",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
