"""Every E/I experiment script loads as an experiment named after its file, with its grid: simulations, and
the task training fitted by epochs or as a curriculum."""

import glob
import os

from ndnx.experiment import Chain, Epochs, Simulation, load_experiment
from tests.experiments.ei.helpers import ROOT

SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "experiments", "ei", "*.py")))
# Runs per experiment: the K sweep is one run per K (100 … 1000); the others batch inside one run.
RUNS = {"balanced_state": 4, "ring_attractor": 1, "multistability": 1, "stp": 1, "serial_bias": 1,
        "dpa_training": 1, "dual_curriculum": 1, "odr_training": 1}
TRAINED = {"dpa_training": Epochs, "dual_curriculum": Chain, "odr_training": Epochs}


def test_every_script_is_an_experiment_of_its_kind():
    assert {os.path.basename(p)[:-3] for p in SCRIPTS} == set(RUNS)
    for path in SCRIPTS:
        name = os.path.basename(path)[:-3]
        exp = load_experiment(path)
        assert exp.name == f"ei/{name}" and isinstance(exp.fit, TRAINED.get(name, Simulation))
        assert len(exp.runs()) == RUNS[name]
    ks = [run.config["K"] for run in load_experiment(SCRIPTS[0]).runs()]
    assert sorted(ks) == [100.0, 250.0, 500.0, 1000.0]
