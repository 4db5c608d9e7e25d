"""Thesis experiment 1.3.3 (bl3_exp12): l2 on the hidden × l2 on the output layer, on baseline 3
(35k epochs in the thesis).

Thesis (region 1, 10 seeds, 5k epochs): l2 0.1 on the output layer became baseline 4.

Everything not varied is the recipe of baseline3 (experiments/v1/baseline3.py); the grid has 16
runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/l2_grid.py --set epochs=5000 --jobs 2
    ndnx summarize v1/l2_grid
"""

import os

from ndnx.experiment import load_experiment

baseline3 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline3.py"))

experiment = baseline3.derive(
    "v1/l2_grid",
    defaults=dict(),
    grid=dict(l2_hidden=[0.0, 0.05, 0.1, 0.5], l2_output=[0.0, 0.05, 0.1, 0.5]),
    description="thesis 1.3.3: l2 on the hidden × l2 on the output layer",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
