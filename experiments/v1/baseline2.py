"""Baseline 2 of the V1 thesis experiments (msc-neuro bl2): the HSM with
inputs normalised to N(0, 1), Adam 1e-4, zero biases, no penalty. Thesis, region 1, 25 seeds: 0.472
/ 0.499 / 0.444 at 5k epochs, 0.508 / 0.521 / 0.49 at 35k.

Everything else is baseline 4's recipe (experiments/v1/baseline4.py): 9 linear DoG units →
softplus hidden (0.2·N) → softplus outputs, batch 16, Poisson loss normalised by the mean training
rate, N(0, 0.1²) weights. Percentiles are 50th / 90th / 10th over seeds of the validation
correlation; the thesis ran 35,000 epochs (`--set epochs=35000`).

    ndnx run experiments/v1/baseline2.py --set epochs=5000 --seeds 25
"""

import os

from ndnx.experiment import load_experiment

baseline4 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py"))

experiment = baseline4.derive(
    "v1/baseline2",
    defaults=dict(normalization="train", lr=1e-4, bias_init="zeros", l2_output=0.0),
    description="HSM, inputs normalised to N(0, 1), Adam 1e-4, zero biases, no penalty",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
