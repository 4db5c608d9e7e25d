"""Parameter study: the timescale of the feedback (Fig. 2), ModulationNet at τ = 1, 10, 30, 100, 300, 5 seeds each as one replicated model.

Everything else as experiments/feedback/proof_of_concept.py; grids run on a cluster with the SLURM
runner, e.g. `ndnx run experiments/feedback/tau_study.py --runner slurm`.

    ndnx run experiments/feedback/tau_study.py
    ndnx summarize feedback/tau_study
"""

import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "feedback_proof_of_concept", os.path.join(os.path.dirname(os.path.abspath(__file__)), "proof_of_concept.py"))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

experiment = base.make_experiment(
    "feedback/tau_study",
    "ModulationNet clarity against the feedback timescale τ",
    dict(seeds=5),
    grid={"tau": [1.0, 10.0, 30.0, 100.0, 300.0]})

if __name__ == "__main__":
    raise SystemExit(experiment.main())
