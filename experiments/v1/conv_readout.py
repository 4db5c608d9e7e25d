"""Thesis experiment 2.2.1, 2.2.2 (bs4_exp5): conv → separable ('sep') or dense hidden layer →
outputs: conv width, filters, d2x on the conv, l1 / l2 / max on the hidden layer (stride (w + 1) //
2, l2 0.1 on the output).

Thesis (region 1, 10 seeds, 5k epochs): conv + d2x + max hidden 0.47 / 0.484 / 0.462; conv + sep
0.474 / 0.499 / 0.461; conv without d2x 0.242.

Everything not varied is the recipe of baseline4 (experiments/v1/baseline4.py); the grid has 180
runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/conv_readout.py --set epochs=5000 --jobs 2
    ndnx summarize v1/conv_readout
"""

import os

from ndnx.experiment import load_experiment

baseline4 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py"))

experiment = baseline4.derive(
    "v1/conv_readout",
    defaults=dict(model="conv_readout", l2_output=0.1),
    # NDN3's separable layer has no 'max' penalty (it silently added 0), so sep runs take l1 / l2 only.
    grid={("readout", "hidden_penalty"): [("sep", "l1"), ("sep", "l2"), ("normal", "l1"), ("normal", "l2"),
                                          ("normal", "max")],
          "kernel_size": [3, 7, 15], "filters": [9, 30], "d2x": [0.01, 0.1], "hidden_lambda": [0.01, 0.1, 1.0]},
    description="thesis 2.2.1, 2.2.2: conv → separable ('sep') or dense hidden layer → outputs",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
