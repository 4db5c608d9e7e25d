"""The original HSM fit (Antolík et al. 2016, lscsm), for comparison with the NDN3 baselines.

Spec v1_system_identification.md §2.1: the HSM on the grey levels (no normalisation), every
parameter in the lscsm box and initialised in the middle half of it, no penalty, the unnormalised
Poisson NLL with ε = 1e-19, fitted to the whole training set at once by a bounded quasi-Newton
method. The original used SciPy's truncated Newton (fmin_tnc) for 100 rounds of 1000 evaluations;
ndnx fits with L-BFGS-B (`ndnx.training.fit_lbfgs`) under the same bounds: `lbfgs_rounds` runs
of up to `lbfgs_maxiter` iterations, each from where the last stopped, all seeds as one problem
(`ndnx.models.v1.original_hsm` documents the bounds).

    ndnx run experiments/v1/original_hsm.py --set lbfgs_rounds=100
"""

import os

from ndnx.experiment import load_experiment

baseline4 = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py"))

experiment = baseline4.derive(
    "v1/original_hsm",
    defaults=dict(model="original_hsm", normalization="none", noise="poisson_sum", l2_output=0.0,
                  epochs=0, lbfgs_maxiter=1000, lbfgs_rounds=20),
    description="the original HSM: lscsm bounds, middle-half init, unnormalised Poisson, bounded L-BFGS",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
