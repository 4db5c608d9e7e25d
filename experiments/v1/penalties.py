"""Thesis experiment 1.3.2 (bs3_exp5): l1 or l2 on the hidden and output weights, λ from 10 to 1e-9,
hidden 0.2·N or 0.4·N, on baseline 3.

Thesis (region 1, 10 seeds, 5k epochs): L1 worse than L2.

Everything not varied is the recipe of baseline3 (experiments/v1/baseline3.py); the grid has 44
runs. Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/penalties.py --set epochs=5000 --jobs 2
    ndnx summarize v1/penalties
"""

import os

from ndnx.experiment import load_experiment

baseline3 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline3.py"))

experiment = baseline3.derive(
    "v1/penalties",
    defaults=dict(l2_output=0.0),
    grid={("hidden_penalty", "output_penalty"): [("l1", "l1"), ("l2", "l2")],
          ("hidden_lambda", "output_lambda"): [(10.0 ** -k, 10.0 ** -k) for k in range(-1, 10)],
          "hidden_fraction": [0.2, 0.4]},
    description="thesis 1.3.2: l1 or l2 on the hidden and output weights",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
