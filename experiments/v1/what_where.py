"""Thesis experiment 2.2.5 (experiments_3/bs4_exp8): What/where (Klindt et al. 2017): three conv
layers of 48 maps (13 / 3 / 3 px, stride 2 then 1) → separable readout; d2x and max_filt / l2 / max
on the convs, l1 or l2 on the readout.

Thesis (region 1, 10 seeds, 5k epochs): 0.479 / 0.494 / 0.455 (the paper reports 0.55).

Everything not varied is the recipe of baseline4 (experiments/v1/baseline4.py); the grid has 6 runs.
Percentiles are 50th / 90th / 10th over seeds of the validation correlation.

    ndnx run experiments/v1/what_where.py --set epochs=5000 --jobs 2
    ndnx summarize v1/what_where
"""

import os

from ndnx.experiment import load_experiment

baseline4 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py"))

experiment = baseline4.derive(
    "v1/what_where",
    defaults=dict(model="what_where", l2_output=0.0, d2x=0.1, conv_lambda=0.01, output_lambda=0.01),
    grid=dict(conv_penalty=["max_filt", "l2", "max"], output_penalty=["l1", "l2"]),
    description="thesis 2.2.5: What/where (Klindt et al. 2017)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
