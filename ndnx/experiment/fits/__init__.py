"""How an experiment's runs are fitted (see `ndnx.experiment.fits.fit` for the protocol).

| fit                    | what a job does                                                         |
|------------------------|-------------------------------------------------------------------------|
| `Epochs`               | epochs of the model's train_step over arrays, x alone or a tf.data pipeline; |
|                        | `carry_state=True`: truncated BPTT, state carried across batches        |
| `NDN3Fit`              | the V1 recipe: `Epochs` + NDN3's early stopping, L-BFGS, last-batch keys |
| `Simulation(simulate)` | no training: run the model over a protocol, record HDF5, log summaries  |
| `Chain([Step, ...])`   | steps, each built from the previous step's weights, each resumable      |
"""

from ndnx.experiment.fits.fit import Fit, Job, Objective
from ndnx.experiment.fits.epochs import Epochs
from ndnx.experiment.fits.simulation import Records, Simulation
from ndnx.experiment.fits.chain import Chain, Step
from ndnx.experiment.fits.v1 import NDN3Fit, supervised_evaluation

__all__ = ["Fit", "Job", "Objective", "Epochs", "Simulation", "Records", "Chain", "Step", "NDN3Fit",
           "supervised_evaluation"]
