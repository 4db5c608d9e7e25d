"""Thesis experiment 1.2.1 (experiments_1/baseline_1_exp2): Input scale (×1e6 grey levels vs N(0,
1)) × responses divided by their std, on baseline 1.

Thesis (region 1, 10 seeds, 5k epochs): the N(0, 1) inputs became baseline 2; dividing responses by
their std did not help.

Everything not varied is the recipe of baseline1 (experiments/v1/baseline1.py); the grid has 4 runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/inputs_outputs.py --set epochs=5000 --jobs 2
    ndnx summarize v1/inputs_outputs
"""

import os

from ndnx.experiment import load_experiment

baseline1 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline1.py"))

experiment = baseline1.derive(
    "v1/inputs_outputs",
    defaults=dict(),
    grid=dict(normalization=["none", "train"], output_normalization=["none", "std"]),
    description="thesis 1.2.1: Input scale (×1e6 grey levels vs N(0",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
