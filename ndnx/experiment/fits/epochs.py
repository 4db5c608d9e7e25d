"""`Epochs`: a run trained for a number of epochs by the model's own `train_step`.

The generic fit: supervised (x, y) arrays, x alone, or a `tf.data` pipeline (the experiment's
"train" split), any model — plain supervised, one with its own `train_step` (contrastive
divergence, multi-step losses), one that carries its state from batch to batch (truncated BPTT:
`Epochs(carry_state=True)`). Logs, resume checkpoints and progress come from
`ndnx.training.train`; every other split of the data is evaluated and logged every `log_every`
epochs.

Keys it reads: epochs, batch_size (in-memory data; a pipeline brings its own batches), log_every,
shuffle_seed.

Example (a model with its own train_step fed by a pipeline function of the epoch):

    experiment = Experiment("energy/toy", defaults=dict(epochs=20, lr=0.1),
                            data=lambda config: {"train": lambda epoch: batches(config, epoch)},
                            build=build, fit=Epochs(), objective=("train", "energy_gap", "min"))
"""

from ndnx.experiment.config import integer, optional
from ndnx.experiment.fits.fit import Fit, Objective

__all__ = ["Epochs"]


class Epochs(Fit):
    """Train the job's model for `config["epochs"]` epochs over the "train" split.

    "validation" and every other split of the data are evaluated and logged.

    Args:
        shuffle: shuffle in-memory rows every epoch (a fresh order from (shuffle_seed, epoch)).
        carry_state: truncated BPTT: batches follow each other in order and the model's carried
            state (stateful RNNs, `carried_state` variables) passes from each batch to the next;
            it is saved with the resume checkpoints and kept out of evaluations. Implies
            shuffle=False.
        reset_state: with carry_state, "run" (reset once, when the run starts) or "epoch".
        jit_compile: XLA for the epoch loop: "auto" (as the model was compiled) or a bool.
        objective: what a tuner optimises by default (validation loss, lower is better).
        images: model → {name: (R, k, height, width) array}, logged to TensorBoard at every
            checkpoint (see `ndnx.training.train`).
    """

    keys = {"epochs": None, "batch_size": None, "log_every": 10, "shuffle_seed": 0}
    # epochs=0 trains nothing (a model saved as built); a pipeline brings its own batches (batch_size null).
    checks = {"epochs": integer(0), "batch_size": optional(integer(1)), "log_every": integer(1),
              "shuffle_seed": integer(0)}
    required = ("epochs",)
    objective = Objective("validation", "loss", "min")

    def __init__(self, shuffle=True, carry_state=False, reset_state="run", jit_compile="auto", objective=None,
                 images=None):
        if reset_state not in ("run", "epoch"):
            raise ValueError(f"Epochs: reset_state must be 'run' or 'epoch', got {reset_state!r}")
        self.carry_state = bool(carry_state)
        self.shuffle = bool(shuffle) and not self.carry_state
        self.reset_state = reset_state
        self.jit_compile = jit_compile
        if objective is not None:
            self.objective = Objective.parse(objective)
        if images is not None:
            if not callable(images):
                raise ValueError(f"Epochs: images must be a function model → {{name: array}}, got {images!r}")
            self.images = images

    def evaluation(self):
        from ndnx.training.evaluation import loss_evaluation

        return loss_evaluation

    def train_options(self, config):
        """More `ndnx.training.train` arguments from the configuration (subclasses add theirs)."""
        return {}

    def fit(self, model, job):
        return self.train(model, job, dict(job.data), job.evaluate or self.evaluation())

    def train(self, model, job, splits, evaluate, **options):
        """`ndnx.training.train` of `model` on the splits `splits` (a "train" split and the splits to
        evaluate with `evaluate`), with the job's paths and configuration; `options` add to (or
        override) what the configuration gives (`train_options`)."""
        from ndnx.training import train
        from ndnx.training.callbacks import RunHParams

        config = job.config
        splits = dict(splits)
        if "train" not in splits:
            raise ValueError(f"{job.experiment.name}: data(config) has no 'train' split to train on "
                             f"(splits: {', '.join(splits) or 'none'})")
        train_data = splits.pop("train")
        validation = splits.pop("validation", None)
        batch_size = config.get("batch_size")
        return train(
            model, train_data, validation, epochs=int(config["epochs"]),
            batch_size=None if batch_size is None else int(batch_size), seeds=job.seeds,
            log_dir=job.log_dir, checkpoint_dir=job.checkpoint_dir, log_every=int(config.get("log_every", 10)),
            shuffle_seed=int(config.get("shuffle_seed", 0)), shuffle=self.shuffle, carry_state=self.carry_state,
            reset_state=self.reset_state, evaluate=evaluate, callbacks=job.callbacks(),
            jit_compile=self.jit_compile, progress=job.progress, label=job.label, strategy=job.strategy,
            extra_splits=splits, tag_prefix=job.tag_prefix,
            # The run's whole configuration (a chain's steps share it) for TensorBoard's HParams dashboard.
            hparams=RunHParams(job.run.config, job.run.name), images=self.images,
            **{**self.train_options(config), **options})
