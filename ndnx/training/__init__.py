"""Training: compiled epochs, ensembles of seeds, callbacks, strategies and tuning glue."""

from ndnx.training.callbacks import EpochCheckpoint, ProgressBar, ReplicaLogger
from ndnx.training.compiled_epochs import CompiledEpochs, epoch_permutation
from ndnx.training.ensemble import extract_replica, num_replicas, supervised_evaluation
from ndnx.training.trainer import save_model_atomic, save_replicas, train

__all__ = [
    "CompiledEpochs", "EpochCheckpoint", "ProgressBar", "ReplicaLogger", "epoch_permutation",
    "extract_replica", "num_replicas", "save_model_atomic", "save_replicas",
    "supervised_evaluation", "train",
]
