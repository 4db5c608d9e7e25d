"""Thesis experiment 2.1.1 (bs4_exp1): LNLN: smooth dense subunits (d2x) → softplus outputs (l2).

Thesis (region 1, 10 seeds, 5k epochs): best 0.474 / 0.484 / 0.45.

Everything not varied is the recipe of baseline4 (experiments/v1/baseline4.py); the grid has 20
runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/lnln.py --set epochs=5000 --jobs 2
    ndnx summarize v1/lnln
"""

import os

from ndnx.experiment import load_experiment

baseline4 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py"))

experiment = baseline4.derive(
    "v1/lnln",
    defaults=dict(model="lnln"),
    grid=dict(hidden_fraction=[0.1, 0.2], d2x=[0.0, 0.1, 0.5, 1.0, 10.0], l2_output=[0.1, 0.5]),
    description="thesis 2.1.1: LNLN",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
