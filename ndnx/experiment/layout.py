"""Where an experiment's runs write, under one training_data root.

    logs/<group>/<experiment>/<run>/seed<k>/<split>/             TensorBoard event files
    logs/<group>/<experiment>/<run>/config.yaml, run_info.json   resolved config, versions, commit
    logs/<group>/<experiment>/<run>/.seed<k>.lock                held while a process fits seed k
    models/<group>/<experiment>/<run>/seed<k>.keras              final models
    models/<group>/<experiment>/<run>/checkpoints/<job>/         resume checkpoints
    models/<group>/<experiment>/<run>/steps/<step>/<job>.keras   finished steps of a chain
    records/<group>/<experiment>/<run>/seed<k>.h5                what a simulation recorded
    job_logs/<group>/<experiment>/<run>/<job>.{out,err}          runner job output
    tuning/<group>/<experiment>/                                 keras-tuner projects
    experiments.txt                                              one line per finished run

The root is ./training_data, or $NDNX_TRAINING_DATA, or what the user names (`--root`).
"""

import dataclasses
import os

__all__ = ["Layout", "default_root", "seed_label"]


def default_root():
    return os.environ.get("NDNX_TRAINING_DATA", "training_data")


def seed_label(seeds):
    """Job label of a group of seeds: seed3, or seed0-9 for a contiguous range, or seed0+2+5."""
    seeds = list(seeds)
    if len(seeds) == 1:
        return f"seed{seeds[0]}"
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seed{seeds[0]}-{seeds[-1]}"
    return "seed" + "+".join(str(s) for s in seeds)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Paths of one experiment under a training_data root."""

    root: str
    experiment: str  # "group/name"

    def logs(self, run):
        return os.path.join(self.root, "logs", self.experiment, run)

    def seed_lock(self, run, seed):
        """The lock a process holds while it fits repetition `seed` of `run` (ndnx.experiment.ownership)."""
        return os.path.join(self.logs(run), f".seed{seed}.lock")

    def run_lock(self, run):
        """The lock held briefly while the run's records (config.yaml, run_info.json) are checked and written."""
        return os.path.join(self.logs(run), ".run.lock")

    def models(self, run):
        return os.path.join(self.root, "models", self.experiment, run)

    def model(self, run, seed):
        return os.path.join(self.models(run), f"seed{seed}.keras")

    def checkpoints(self, run, seeds, step=None):
        base = os.path.join(self.models(run), "checkpoints")
        return os.path.join(base, step, seed_label(seeds)) if step else os.path.join(base, seed_label(seeds))

    def step_model(self, run, step, seeds):
        """The model a chain's `step` left for the job training `seeds` (replicated as trained)."""
        return os.path.join(self.models(run), "steps", step, f"{seed_label(seeds)}.keras")

    def records(self, run, seed):
        return os.path.join(self.root, "records", self.experiment, run, f"seed{seed}.h5")

    def job_log(self, run, seeds, stream):
        return os.path.join(self.root, "job_logs", self.experiment, run, f"{seed_label(seeds)}.{stream}")

    def tuning(self):
        return os.path.join(self.root, "tuning", self.experiment)

    @property
    def experiments_txt(self):
        return os.path.join(self.root, "experiments.txt")
