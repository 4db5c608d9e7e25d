"""Parameter study: how diffuse the spatial feedback is (Fig. 3): box (0), von Mises widths 0.1–1, flat (10), 5 seeds each.

Everything else as experiments/feedback/proof_of_concept.py; grids run on a cluster with the SLURM
runner, e.g. `ndnx run experiments/feedback/kernel_width_study.py --runner slurm`.

    ndnx run experiments/feedback/kernel_width_study.py
    ndnx summarize feedback/kernel_width_study
"""

import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "feedback_proof_of_concept", os.path.join(os.path.dirname(os.path.abspath(__file__)), "proof_of_concept.py"))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

experiment = base.make_experiment(
    "feedback/kernel_width_study",
    "SpatialNet clarity against the width of the feedback kernels",
    dict(cell="spatial", tau=100.0, epochs=100, seeds=5),
    grid={"kernel_width": [0.0, 0.1, 0.2, 0.5, 1.0, 10.0]})

if __name__ == "__main__":
    raise SystemExit(experiment.main())
