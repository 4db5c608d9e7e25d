"""Losses of every ndnx family, one topic per module; every public name is importable from here.

- `ndnx.losses.spikes` — spike counts and rates of recorded neurons (V1 system identification):
  Poisson and Gaussian losses with NDN3 / NDNT normalisation, data filters, the replica axis
  (`PoissonLoss`, `GaussianLoss`, `poisson_unit_norm`, `apply_data_filter`,
  `poisson_log_likelihood_per_spike`, `check_replica_axis`).
- `ndnx.losses.distribution` — the 1/N scaling a custom `train_step` applies under `tf.distribute`
  (`scale_loss_for_replicas`).
- `ndnx.losses.tasks` — behavioural tasks of the E/I rate networks (NeuroFlame spec §6): the dual /
  DPA / Go-NoGo readout loss and the angular error of a bump (`DualLoss`, `AngularErrorLoss`).

The Keras loss classes are registered as "ndnx>ClassName" whichever module defines them, so
`.keras` files saved when the losses lived in the single module `ndnx/losses.py` still load.
"""

from ndnx.losses import distribution, spikes, tasks
from ndnx.losses.distribution import scale_loss_for_replicas
from ndnx.losses.spikes import (
    GaussianLoss,
    PoissonLoss,
    apply_data_filter,
    check_replica_axis,
    poisson_log_likelihood_per_spike,
    poisson_unit_norm,
)
from ndnx.losses.tasks import AngularErrorLoss, DualLoss

__all__ = ["PoissonLoss", "GaussianLoss", "poisson_unit_norm", "apply_data_filter",
           "poisson_log_likelihood_per_spike", "check_replica_axis", "DualLoss", "AngularErrorLoss",
           "scale_loss_for_replicas"]
