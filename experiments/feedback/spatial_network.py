"""Spatially diffuse gain feedback (Naumann et al. 2022, Fig. 3; the original's demo_spatial_network).

A SpatialNet: a population of Nz = 100 neurons between x and y, each with a gain M_k set by Nm = 4
slow (τ = 100) feedback signals spread over the population by von Mises kernels of width 0.2;
chords; everything else as experiments/feedback/proof_of_concept.py (the paper trains 10,000 batches).

    ndnx run experiments/feedback/spatial_network.py
"""

import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "feedback_proof_of_concept", os.path.join(os.path.dirname(os.path.abspath(__file__)), "proof_of_concept.py"))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

experiment = base.make_experiment("feedback/spatial_network", "SpatialNet (Nz 100, Nm 4, width 0.2, τ = 100) on chords",
                                  dict(cell="spatial", tau=100.0, epochs=100))

if __name__ == "__main__":
    raise SystemExit(experiment.main())
