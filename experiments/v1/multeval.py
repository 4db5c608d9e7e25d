"""Thesis experiment 3.2.1 (experiments_multeval): the best model of each family on every region.

Baseline 2 (the multeval variant: Adam 1e-3, zero biases), baseline 4, the best conv + sep
(bs4_exp5: 30 filters of 15 px, d2x 0.01, l1 0.1 on the separable layer), the best LNLN (bs4_exp1:
hidden 0.2·N, d2x 0.1, l2 0.1) and the best linear conv-DoG (bs4_exp10: 9 filters of 7 px, dense
hidden layer with l1 0.1), each on regions 1, 2 and 3 (15 runs; the thesis ran 35k epochs and 10
seeds). Thesis (50th / 90th / 10th):

| Model                 | Region 1              | Region 2              | Region 3              |
|-----------------------|-----------------------|-----------------------|-----------------------|
| Baseline 4            | 0.513, 0.533, 0.506   | 0.414, 0.434, 0.407   | 0.449, 0.455, 0.439   |
| Baseline 2 (multeval) | 0.496, 0.523, 0.469   | 0.415, 0.429, 0.398   | 0.454, 0.460, 0.449   |
| Conv + sep            | 0.476, 0.498, 0.446   | 0.358, 0.391, 0.306   | 0.416, 0.445, 0.403   |
| LNLN                  | 0.481, 0.491, 0.471   | 0.340, 0.362, 0.327   | 0.404, 0.417, 0.396   |
| Conv-DoG (linear)     | 0.486, 0.499, 0.450   | 0.318, 0.363, 0.288   | 0.396, 0.432, 0.384   |

    ndnx run experiments/v1/multeval.py --set epochs=35000 --jobs 2
    ndnx summarize v1/multeval
"""

import os

from ndnx.experiment import load_experiment

baseline4 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py"))

KEYS = ("model", "lr", "bias_init", "l2_output", "filters", "kernel_size", "d2x", "readout", "hidden_penalty",
        "hidden_lambda")
MODELS = [
    ("hsm", 1e-3, "zeros", 0.0, 9, 7, 0.0, "normal", "", 0.0),           # baseline 2, multeval variant
    ("hsm", 1e-3, "normal", 0.1, 9, 7, 0.0, "normal", "", 0.0),          # baseline 4
    ("conv_readout", 1e-3, "normal", 0.1, 30, 15, 0.01, "sep", "l1", 0.1),
    ("lnln", 1e-3, "normal", 0.1, 9, 7, 0.1, "normal", "", 0.0),
    ("conv_dog", 1e-3, "normal", 0.1, 9, 7, 0.0, "normal", "l1", 0.1),
]

experiment = baseline4.derive(
    "v1/multeval",
    grid={KEYS: MODELS, "region": [1, 2, 3]},
    description="thesis 3.2.1: the best model of each family on regions 1, 2 and 3",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
