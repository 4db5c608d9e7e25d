"""Thesis experiment 2.2.3, 2.2.4 (experiments_4/bs4_exp9, bs4_exp10): conv-DoG (softplus, 2.2.3, or
linear, 2.2.4) → separable or dense hidden layer with l1 or max → outputs.

Thesis (region 1, 10 seeds, 5k epochs): conv-DoG 0.482–0.483; linear conv-DoG 0.498 / 0.516 / 0.448
(dense hidden), 0.495 / 0.509 / 0.462 (sep).

Everything not varied is the recipe of baseline4 (experiments/v1/baseline4.py); the grid has 54
runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/conv_dog.py --set epochs=5000 --jobs 2
    ndnx summarize v1/conv_dog
"""

import os

from ndnx.experiment import load_experiment

baseline4 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py"))

experiment = baseline4.derive(
    "v1/conv_dog",
    defaults=dict(model="conv_dog", l2_output=0.1, hidden_lambda=0.1),
    # NDN3's separable layer has no 'max' penalty (it silently added 0), so sep runs take l1 only.
    grid={("readout", "hidden_penalty"): [("sep", "l1"), ("normal", "l1"), ("normal", "max")],
          "dog_activation": ["softplus", "lin"], "kernel_size": [3, 7, 15], "filters": [4, 9, 30]},
    description="thesis 2.2.3, 2.2.4: conv-DoG (softplus",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
