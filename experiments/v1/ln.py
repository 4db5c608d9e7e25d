"""Thesis experiment 2.1.2 (bs4_exp2): LN: one dense softplus layer per neuron with a d2x smoothness
penalty (≈ rLN of Antolík et al. 2016).

Thesis (region 1, 10 seeds, 5k epochs): 0.282 / 0.296 / 0.265 (rLN 0.31).

Everything not varied is the recipe of baseline4 (experiments/v1/baseline4.py); the grid has 8 runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/ln.py --set epochs=5000 --jobs 2
    ndnx summarize v1/ln
"""

import os

from ndnx.experiment import load_experiment

baseline4 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py"))

experiment = baseline4.derive(
    "v1/ln",
    defaults=dict(model="ln", l2_output=0.0),
    grid=dict(d2x=[0.0, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5]),
    description="thesis 2.1.2: LN",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
