"""The invariant-subspace network (Figs 4–5; demo_invariant_subspaces): the SpatialNet of spatial_network.py trained on sines (100 and 180 Hz) for visualisation; analyse the saved model with ndnx.models.feedback_protocol.invariant_subspace.

Everything else as experiments/feedback/proof_of_concept.py.

    ndnx run experiments/feedback/invariant_subspaces.py
    ndnx summarize feedback/invariant_subspaces
"""

import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "feedback_proof_of_concept", os.path.join(os.path.dirname(os.path.abspath(__file__)), "proof_of_concept.py"))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

experiment = base.make_experiment(
    "feedback/invariant_subspaces",
    "SpatialNet on sines (Figs 4–5)",
    dict(cell="spatial", source="sines", tau=100.0, epochs=100),
    grid=None)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
