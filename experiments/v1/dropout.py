"""Thesis experiment 1.3.1 (bs3_exp11): Dropout on the hidden layer × hidden size, on baseline 3
(rates; NDN3's value was a keep probability).

Thesis (region 1, 10 seeds, 5k epochs): dropout always hurt.

Everything not varied is the recipe of baseline3 (experiments/v1/baseline3.py); the grid has 15
runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/dropout.py --set epochs=5000 --jobs 2
    ndnx summarize v1/dropout
"""

import os

from ndnx.experiment import load_experiment

baseline3 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline3.py"))

experiment = baseline3.derive(
    "v1/dropout",
    defaults=dict(),
    grid=dict(hidden_dropout=[0.0, 0.1, 0.2, 0.3, 0.5], hidden_fraction=[0.2, 0.3, 0.4]),
    description="thesis 1.3.1: Dropout on the hidden layer × hidden size",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
