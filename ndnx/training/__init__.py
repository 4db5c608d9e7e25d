"""Training: compiled epochs, ensembles of seeds, callbacks, strategies and tuning glue."""

from ndnx.training.callbacks import EpochCheckpoint, ImageLogger, ProgressBar, ReplicaLogger, RunHParams
from ndnx.training.compiled_epochs import CompiledEpochs, epoch_permutation
from ndnx.training.early_stopping import ReplicaEarlyStopping
from ndnx.training.ensemble import all_layers, check_replica_optimizer, extract_replica, lone_loss, num_replicas
from ndnx.training.evaluation import loss_evaluation
from ndnx.training.lbfgs import box_bounds, fit_lbfgs
from ndnx.training.trainer import save_model_atomic, save_replicas, train
from ndnx.training.xla import runs_step_parts, step_jit_compile, xla_helps

__all__ = [
    "CompiledEpochs", "EpochCheckpoint", "ImageLogger", "ProgressBar", "ReplicaEarlyStopping", "ReplicaLogger",
    "RunHParams",
    "all_layers", "check_replica_optimizer", "box_bounds", "epoch_permutation", "extract_replica", "lone_loss", "fit_lbfgs",
    "num_replicas", "save_model_atomic", "save_replicas", "loss_evaluation", "train", "xla_helps", "step_jit_compile",
    "runs_step_parts",
]
