"""Parameter study: what the feedback modulates in the Dale network (Figs 6–7): the output gain, the excitatory or the inhibitory input (DaleRateNet: Nz 100, NzL 40, Nm 4, width 0.2, half as many interneurons, τ = 100, activity penalty 1e-5), 5 seeds each.

Everything else as experiments/feedback/proof_of_concept.py; grids run on a cluster with the SLURM
runner, e.g. `ndnx run experiments/feedback/mod_target_study.py --runner slurm`.

    ndnx run experiments/feedback/mod_target_study.py
    ndnx summarize feedback/mod_target_study
"""

import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "feedback_proof_of_concept", os.path.join(os.path.dirname(os.path.abspath(__file__)), "proof_of_concept.py"))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

experiment = base.make_experiment(
    "feedback/mod_target_study",
    "DaleRateNet clarity against the modulation target",
    dict(cell="dale", tau=100.0, epochs=100, activity_penalty=1e-5, inh_frac=0.5, seeds=5),
    grid={"mod_target": ["output", "excitation", "inhibition"]})

if __name__ == "__main__":
    raise SystemExit(experiment.main())
