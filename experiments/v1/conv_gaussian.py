"""Thesis experiment — ((not in the thesis)): A conv core → Gaussian readout (Lurz et al. 2021), the
modern readout NDNT and neuralpredictors use.

Thesis (region 1, 10 seeds, 5k epochs): no thesis number; compare with conv_readout and what_where.

Everything not varied is the recipe of baseline4 (experiments/v1/baseline4.py); the grid has 3 runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/conv_gaussian.py --set epochs=5000 --jobs 2
    ndnx summarize v1/conv_gaussian
"""

import os

from ndnx.experiment import load_experiment

baseline4 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py"))

experiment = baseline4.derive(
    "v1/conv_gaussian",
    defaults=dict(model="conv_gaussian", maps=16, l2_output=0.0, d2x=0.1),
    grid=dict(maps=[8, 16, 32]),
    description="thesis —: A conv core → Gaussian readout (Lurz et al. 2021)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
