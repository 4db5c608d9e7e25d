"""How a run is fitted: the `Fit` protocol, the `Job` it is handed, and the `Objective` it is scored by.

An experiment names its fit (`Experiment(..., fit=Epochs())`). A runner hands the fit one `Job`
at a time — some repetitions (seeds) of one run, trained together as one replicated model when
there are several — and the fit does what its kind does: train epochs, simulate a protocol and
record it, run a chain of steps. `ndnx run`, the runners, resume, `ndnx summarize` and `ndnx tune`
call only this protocol, so they carry every kind alike:

    class Fit:
        keys       the configuration keys the fit reads, with their defaults
        checks     {key: Check} the values of its keys must pass (ndnx.experiment.config)
        required   keys the experiment must give a value
        objective  what a tuner maximises or minimises when the experiment names nothing else
        run(job)   fit one job: build, fit, save (the default builds `job.build_model()`,
                   calls `fit` and saves every seed's model)
        prebuild(job)  build the job's model before anything of the run is written, so a
                   configuration that cannot be built leaves nothing behind (`run` then gets
                   the same model from `job.build_model()`)
        fit(model, job) → {"final": {(split, metric): per-replica array}, ...}
                   fit an already built model (what a tuner trial calls)
        product(layout, run, seed)  the file whose existence says the repetition finished
        descriptions  {metric: what it is} of the metrics its evaluation logs (run_info.json
                   records them; `ndnx summarize` prints them over its table)
        images     None, or model → {name: (R, k, height, width) array}: pictures of the model
                   (e.g. its first-layer filters) a training fit logs to TensorBoard at every
                   checkpoint (`Epochs(images=...)`; `NDN3Fit` shows the V1 filters)

Everything a fit writes goes to the paths of its job (`job.log_dir`, `job.checkpoint_dir`,
`job.model_paths`, ...); a tuner trial's job has no layout and writes nothing.
"""

import dataclasses
import os

from ndnx.experiment.config import check_values

__all__ = ["Fit", "Job", "Objective", "step_config"]


def step_config(config, step):
    """The configuration a chain step reads: "<step>.<key>" with a value overrides "<key>"."""
    config = dict(config)
    if step:
        prefix = f"{step}."
        # A step key left at None (no step-specific value) falls back to the run-wide key.
        config.update({k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix) and v is not None})
    return config


@dataclasses.dataclass(frozen=True)
class Objective:
    """The number a tuner optimises: `metric` of the evaluation of `split`, to `direction`.

    Its keras-tuner name is "val_<metric>" for the validation split (Keras' own convention) and
    "<split>_<metric>" for any other. `Objective.parse` accepts an Objective, a (split, metric)
    or (split, metric, direction) tuple, or a string "split/metric" or "split/metric:max".
    """

    split: str = "validation"
    metric: str = "loss"
    direction: str = "min"

    def __post_init__(self):
        if self.direction not in ("min", "max"):
            raise ValueError(f"Objective: direction must be 'min' or 'max', got {self.direction!r}")
        for field in ("split", "metric"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value:
                raise ValueError(f"Objective: {field} must be a non-empty string, got {value!r}")

    @property
    def name(self):
        return f"val_{self.metric}" if self.split == "validation" else f"{self.split}_{self.metric}"

    @property
    def tag(self):
        """How `ndnx summarize` names it: split/metric."""
        return f"{self.split}/{self.metric}"

    def to_dict(self):
        return {"split": self.split, "metric": self.metric, "direction": self.direction, "name": self.name}

    @classmethod
    def parse(cls, value):
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, str):
            text, _, direction = value.partition(":")
            split, sep, metric = text.partition("/")
            if not sep:
                raise ValueError(f"Objective: expected 'split/metric' or 'split/metric:min|max', got {value!r}")
            return cls(split, metric, direction or "min")
        if isinstance(value, (tuple, list)) and len(value) in (2, 3):
            return cls(*value)
        raise ValueError(f"Objective: expected an Objective, (split, metric[, direction]) or 'split/metric[:dir]', "
                         f"got {value!r}")


class Job:
    """Some repetitions (`seeds`) of one run, fitted together, and everything the fit needs.

    With several seeds (and `ensemble` on) the job builds one model of `replicas = len(seeds)`
    replicas: replica r is seed `seeds[r]`. A job with no `layout` (a tuner trial) writes nothing.

    Attributes a fit reads:
        config: the run's resolved configuration (for a chain step, the step's view: keys
            "<step>.<key>" that have a value override "<key>").
        data: the experiment's data for this configuration ({split: data}), loaded once.
        replicas: None for one seed, else the number of seeds.
        log_dir, checkpoint_dir, model_paths, record_paths: where to write (None: nothing).
        tag_prefix: "" or "<step>/" — prefix of the metric tags a chain step logs.
        evaluate: the experiment's evaluation, or None for the fit's own.
        progress, strategy, chief, label.
    """

    def __init__(self, experiment, run, seeds, layout=None, progress=True, strategy=None, step=None,
                 callbacks=(), label=None, data_config=None, prebuilt=None):
        self.experiment = experiment
        self._prebuilt = {} if prebuilt is None else prebuilt  # shared with this job's chain steps
        self._label = label
        self._data_config = data_config
        self.run = run
        self.seeds = [int(s) for s in seeds]
        self.layout = layout
        self.progress = bool(progress)
        self.strategy = strategy
        self.step = step
        self.extra_callbacks = list(callbacks)

    def for_step(self, step):
        """This job as one step of a chain: its own checkpoints, model files, config view and tags."""
        return Job(self.experiment, self.run, self.seeds, layout=self.layout, progress=self.progress,
                   strategy=self.strategy, step=step, callbacks=self.extra_callbacks, label=self._label,
                   data_config=self._data_config, prebuilt=self._prebuilt)

    # --- what is fitted ------------------------------------------------------------------------

    @property
    def replicas(self):
        return len(self.seeds) if len(self.seeds) > 1 else None

    @property
    def config(self):
        return step_config(self.run.config, self.step)

    @property
    def data(self):
        # A chain step's data are loaded for its own configuration: "<step>.<key>" may change them
        # (a curriculum trains each step on another task).
        return self.experiment.load_data(step_config(self._data_config or self.run.config, self.step))

    @property
    def evaluate(self):
        return self.experiment.evaluate

    def callbacks(self):
        made = self.experiment.callbacks(self.config) if self.experiment.callbacks else ()
        return [*made, *self.extra_callbacks]

    def build_model(self, build=None, fit=None, **kwargs):
        """`build(config, seeds[0], replicas, **kwargs)` (default the experiment's build).

        Under a `tf.distribute` strategy the model and its optimizer are built in the strategy's
        scope (ndnx.training.strategy.build_in_scope). A model that `fit` (default the
        experiment's) trains must be compiled.
        """
        from ndnx.training.strategy import build_in_scope

        if build is None and not kwargs and self._prebuilt.get("fit") is (fit or self.experiment.fit) \
                and self._prebuilt.get("step") == self.step:
            model = self._prebuilt.pop("model")
            self._prebuilt.clear()
            return model
        build = build or self.experiment.build
        fit = fit or self.experiment.fit
        if build is None:
            raise ValueError(f"{self.experiment.name}: the experiment has no build(config, seed, replicas)")

        def make():
            return build(self.config, self.seeds[0], self.replicas, **kwargs)

        if self.strategy is not None and fit.needs_optimizer:
            return build_in_scope(self.strategy, make)
        if self.strategy is not None:
            with self.strategy.scope():
                return make()
        model = make()
        if getattr(model, "optimizer", None) is None and fit.needs_optimizer:
            raise ValueError(f"{self.experiment.name}: build(config, seed, replicas) must return a compiled "
                             f"keras.Model, got {type(model).__name__} without an optimizer")
        return model

    def prebuild(self, fit=None):
        """Build the model now; the next `build_model(fit=fit)` of this job returns it."""
        fit = fit or self.experiment.fit
        self._prebuilt.clear()
        model = self.build_model(fit=fit)
        self._prebuilt.update(model=model, fit=fit, step=self.step)

    # --- where it goes -----------------------------------------------------------------------------

    @property
    def chief(self):
        if self.strategy is None:
            return True
        from ndnx.training.strategy import is_chief

        return is_chief(self.strategy)

    @property
    def label(self):
        from ndnx.experiment.layout import seed_label

        if self._label is not None:
            return self._label + (f"/{self.step}" if self.step else "")
        parts = [self.experiment.name, self.run.name, seed_label(self.seeds)]
        return "/".join(parts + ([self.step] if self.step else []))

    @property
    def tag_prefix(self):
        return f"{self.step}/" if self.step else ""

    @property
    def log_dir(self):
        return None if self.layout is None else self.layout.logs(self.run.name)

    @property
    def checkpoint_dir(self):
        return None if self.layout is None else self.layout.checkpoints(self.run.name, self.seeds, self.step)

    @property
    def model_paths(self):
        if self.layout is None:
            return None
        return [self.layout.model(self.run.name, s) for s in self.seeds]

    @property
    def record_paths(self):
        if self.layout is None:
            return None
        return [self.layout.records(self.run.name, s) for s in self.seeds]

    def step_model_path(self, step):
        return None if self.layout is None else self.layout.step_model(self.run.name, step, self.seeds)


class Fit:
    """The protocol every fit kind keeps (see the module docstring); subclasses implement `fit`."""

    keys = {}
    checks = {}
    required = ()
    objective = None
    needs_optimizer = True
    descriptions = {}
    images = None

    def check_config(self, experiment, config):
        """Raise a clear error when `config` lacks a value the fit reads."""
        missing = [k for k in self.required if config.get(k) is None]
        if missing:
            raise ValueError(f"Experiment {experiment}: its fit ({type(self).__name__}) reads {missing}; "
                             f"defaults must give them values")

    def check_values(self, experiment, config, skip_none=False):
        """Raise a one-line ValueError when a value of the fit's keys fails its check (`checks`)."""
        check_values(experiment, config, self.checks, skip_none=skip_none)

    def evaluation(self):
        """The evaluation used when the experiment gives none: (model, *split) → {metric: (R,)}."""
        return None

    def product(self, layout, run, seed):
        return layout.model(run, seed)

    def finished(self, job):
        return job.layout is not None and all(
            os.path.exists(self.product(job.layout, job.run.name, s)) for s in job.seeds)

    def prebuild(self, job):
        """Build the model `run` will build, before the run's records are written (a no-op when the
        experiment has no build or the job finished); a fit whose `run` builds otherwise overrides it."""
        if job.experiment.build is not None and not self.finished(job):
            job.prebuild()

    def run(self, job):
        model = job.build_model()
        outcome = self.fit(model, job)
        self.save(model, job)
        return {**outcome, "model": model}

    def fit(self, model, job):
        raise NotImplementedError(f"{type(self).__name__}.fit")

    def save(self, model, job):
        """Every seed's model to its final path (the chief of a multi-worker job only)."""
        if job.layout is None or not job.chief:
            return
        from ndnx.training import save_replicas

        save_replicas(model, job.model_paths)
