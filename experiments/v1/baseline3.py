"""Baseline 3 of the V1 thesis experiments (msc-neuro bl3): the HSM with
inputs N(0, 1), Adam 1e-3, N(0, 0.1²) biases (msc-neuro's 'trunc_normal'), no penalty. Thesis,
region 1, 25 seeds: 0.507 / 0.517 / 0.498 at 5k epochs, 0.50 / 0.521 / 0.492 at 35k.

Everything else is baseline 4's recipe (experiments/v1/baseline4.py): 9 linear DoG units →
softplus hidden (0.2·N) → softplus outputs, batch 16, Poisson loss normalised by the mean training
rate, N(0, 0.1²) weights. Percentiles are 50th / 90th / 10th over seeds of the validation
correlation; the thesis ran 35,000 epochs (`--set epochs=35000`).

    ndnx run experiments/v1/baseline3.py --set epochs=5000 --seeds 25
"""

import os

from ndnx.experiment import load_experiment

baseline4 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py"))

experiment = baseline4.derive(
    "v1/baseline3",
    defaults=dict(normalization="train", lr=1e-3, bias_init="normal", l2_output=0.0),
    description="HSM, inputs N(0, 1), Adam 1e-3, N(0, 0.1²) biases (msc-neuro's 'trunc_normal'), no penalty",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
