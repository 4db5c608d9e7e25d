"""Parameter study: the number of feedback signals Nm of a SpatialNet (Fig. 3), 1 to 10, 5 seeds each.

Everything else as experiments/feedback/proof_of_concept.py; grids run on a cluster with the SLURM
runner, e.g. `ndnx run experiments/feedback/feedback_signals_study.py --runner slurm`.

    ndnx run experiments/feedback/feedback_signals_study.py
    ndnx summarize feedback/feedback_signals_study
"""

import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "feedback_proof_of_concept", os.path.join(os.path.dirname(os.path.abspath(__file__)), "proof_of_concept.py"))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

experiment = base.make_experiment(
    "feedback/feedback_signals_study",
    "SpatialNet clarity against the number of feedback signals",
    dict(cell="spatial", tau=100.0, epochs=100, seeds=5),
    grid={"signals": [1, 2, 4, 6, 10]})

if __name__ == "__main__":
    raise SystemExit(experiment.main())
