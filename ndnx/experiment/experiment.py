"""`Experiment`: a model family, its configuration, a grid over it, and how its runs are fitted.

Vocabulary (msc-neuro): an **experiment** is a script defining a model family and a grid of
hyper-parameters; a **run** is one point of the grid; a **repetition** is one seed of a run.
Seeds of a run are fitted together as one replicated model when the configuration allows it
(`ensemble=True`): one job then covers several repetitions. Where everything goes is
`ndnx.experiment.layout`; how a job is fitted is the experiment's `fit`
(`ndnx.experiment.fits`).
"""

import contextlib
import importlib.util
import json
import os
import sys

from ndnx.experiment.config import as_check, boolean, check_grid, check_values, expand_grid, integer
from ndnx.experiment.fits.fit import Fit, Job, Objective
from ndnx.experiment.layout import Layout, default_root, seed_label
from ndnx.experiment import ownership, records

__all__ = ["Experiment", "load_experiment"]

#: Keys every experiment has: repetitions per run, and whether they train as one ensemble.
PLANNING_KEYS = {"seeds": 10, "ensemble": True}
PLANNING_CHECKS = {"seeds": integer(1), "ensemble": boolean}


def _caller_file(depth=2):
    frame = sys._getframe(depth)
    path = frame.f_globals.get("__file__")
    return os.path.abspath(path) if path else None


class Experiment:
    """A model family, its default configuration, a grid over it, and how its runs are fitted.

    Args:
        name: "group/experiment", e.g. "v1/baseline4" (the training_data/ sub-path).
        defaults: every configurable key with its default value; `--set` accepts only these. The
            keys the fit reads (`fit.keys`: e.g. epochs, batch_size, log_every, shuffle_seed for
            `Epochs`) and `seeds` (repetitions per run) and `ensemble` (train the seeds of a run as
            one replicated model) are added with their defaults when not given.
        data: config → {split: data}: e.g. {"train": (x, y), "validation": (x, y), ...} for a
            supervised fit (further splits are evaluated and logged like validation), x alone or
            a tf.data pipeline for a model with its own train_step, anything a simulation reads;
            None for no data. Loaded once per configuration.
        build: (config, seed, replicas) → a Keras model (compiled when the fit trains it); with
            `replicas=R` it holds seeds seed … seed+R−1 (see `ndnx.layers.replicas`).
        fit: how a job of the experiment is fitted — `ndnx.experiment.Epochs()` (the model's
            train_step over epochs; `carry_state=True` for truncated BPTT),
            `ndnx.experiment.NDN3Fit()` (the V1 recipe), `ndnx.experiment.Simulation(simulate)`
            (no training: run and record), `ndnx.experiment.Chain([...])` (steps, each from the
            previous one's weights), or any `ndnx.experiment.Fit`.
        grid: {key: [values]}; the runs are the Cartesian product. A tuple of keys is one joint
            axis whose values are tuples, e.g. {("batch_size", "epochs"): [(8, 250), (16, 500)]}.
        seeds: default repetitions per run (the `seeds` key).
        evaluate: per-replica evaluation (model, *split) → {metric: array (R,)}; default the fit's
            own (the loss for `Epochs`; loss and correlation for `NDN3Fit`).
        objective: what `ndnx tune` optimises and `ndnx summarize` plots by default: an
            `ndnx.experiment.Objective`, (split, metric, "min"|"max") or "split/metric:max";
            default the fit's (validation loss; validation correlation for `NDN3Fit`).
        summary_tags: the metrics the end-of-run table shows (default all that were logged).
        checks: {key: check} — the values each key accepts, e.g. {"lr": positive, "noise":
            one_of("poisson", "gaussian")} (`ndnx.experiment.config`: positive, non_negative,
            finite, number(...), integer(...), one_of(...), boolean, text, each(...),
            optional(...), or any `Check`). The fit checks its own keys (epochs, batch_size, ...)
            and `seeds` must be an integer >= 1; every run's configuration is checked before
            anything of it is written, and the defaults when the experiment is made.
        callbacks: optional config → list of extra Keras callbacks for each job.
        hypermodel: optional config → keras_tuner.HyperModel (or build(hp) function) whose
            build(hp) returns the model a trial fits, for `ndnx tune`.
        search_space: optional (hp, config) → {key: value}: `ndnx tune` samples configuration
            keys and fits each trial as a whole run (any fit, a chain included).
        description: one line for listings.

    Example (experiments/v1/baseline4.py):
        experiment = Experiment("v1/baseline4", defaults={...}, data=load, build=build,
                                fit=NDN3Fit(), seeds=10)
        if __name__ == "__main__":
            raise SystemExit(experiment.main())
    """

    def __init__(self, name, defaults, data=None, build=None, *, fit, grid=None, seeds=10, evaluate=None,
                 objective=None, summary_tags=None, callbacks=None, hypermodel=None, search_space=None,
                 description="", checks=None):
        if not isinstance(name, str) or name.count("/") != 1 or not all(name.split("/")):
            raise ValueError(f"Experiment: name must be 'group/experiment', got {name!r}")
        if not isinstance(fit, Fit):
            raise ValueError(f"Experiment {name}: fit must be an ndnx.experiment.Fit (e.g. Epochs(), NDN3Fit(), "
                             f"Simulation(...), Chain([...])), got {type(fit).__name__}")
        if hypermodel is not None and search_space is not None:
            raise ValueError(f"Experiment {name}: give hypermodel= or search_space=, not both")
        self.name = name
        self.fit = fit
        self.defaults = {**PLANNING_KEYS, "seeds": int(seeds), **fit.keys, **dict(defaults)}
        fit.check_config(name, self.defaults)
        checks = dict(checks or {})
        unknown = sorted(k for k in checks if k not in self.defaults)
        if unknown:
            raise ValueError(f"Experiment {name}: checks for keys {unknown} that have no default")
        self.checks = {**PLANNING_CHECKS, **{k: as_check(c) for k, c in checks.items()}}
        self.check_config(self.defaults, skip_none=True)
        self.data = data
        self.build = build
        self.grid = check_grid(name, grid, self.defaults)
        self.seeds = int(self.defaults["seeds"])
        self.evaluate = evaluate
        self._objective = Objective.parse(objective)
        self.summary_tags = list(summary_tags) if summary_tags else None
        self.callbacks = callbacks
        self.hypermodel = hypermodel
        self.search_space = search_space
        self.description = description
        self.source = _caller_file()
        self._data_cache = {}

    @property
    def objective(self):
        return self._objective or self.fit.objective

    def derive(self, name, defaults=None, grid=None, seeds=None, description=None, **changes):
        """A new experiment with this one's data, build, fit and evaluation but other defaults or grid.

        `defaults` updates (and may extend) the defaults; `grid` replaces the grid; `checks` adds to
        (and may replace) this one's checks; any other constructor argument (fit=, objective=,
        hypermodel=, ...) given replaces this one's.

        Example (experiments/v1/baseline1.py):
            experiment = baseline4.derive("v1/baseline1", defaults=dict(lr=1e-4, l2_output=0.0))
        """
        options = dict(fit=self.fit, evaluate=self.evaluate, objective=self._objective,
                       summary_tags=self.summary_tags, callbacks=self.callbacks, hypermodel=self.hypermodel,
                       search_space=self.search_space)
        checks = {**self.checks, **(changes.pop("checks", None) or {})}
        options.update(changes)
        # Data go through this experiment's cache, which its own `build` reads as well.
        derived = Experiment(
            name, {**self.defaults, **(defaults or {})}, data=self.load_data, build=self.build,
            grid=self.grid if grid is None else grid, seeds=self.defaults["seeds"] if seeds is None else seeds,
            description=self.description if description is None else description, checks=checks, **options)
        if seeds is not None:
            derived.defaults["seeds"] = int(seeds)
        derived.source = _caller_file() or self.source
        return derived

    # --- configuration -----------------------------------------------------------------------------

    def runs(self, overrides=None):
        """The grid's points with `overrides` applied (a list value makes or replaces an axis)."""
        return expand_grid(self.defaults, self.grid, overrides)

    def check_config(self, config, skip_none=False):
        """Raise a one-line ValueError when a value of `config` fails its check (see `checks`)."""
        self.fit.check_config(self.name, config)
        check_values(self.name, config, self.checks, skip_none=skip_none)
        self.fit.check_values(self.name, config, skip_none=skip_none)

    def load_data(self, config):
        if self.data is None:
            return {}
        key = json.dumps({k: config[k] for k in sorted(config)}, default=str)
        if key not in self._data_cache:
            self._data_cache = {key: self.data(config)}
        return self._data_cache[key]

    def seed_groups(self, seeds, seeds_per_job=None, config=None):
        """The jobs' seeds: all seeds of a run in one job (an ensemble) unless split."""
        seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
        ensemble = True if config is None else bool(config.get("ensemble", True))
        if seeds_per_job is None:
            seeds_per_job = len(seeds) if ensemble else 1
        seeds_per_job = max(1, int(seeds_per_job))
        return [seeds[i:i + seeds_per_job] for i in range(0, len(seeds), seeds_per_job)]

    def expected_seeds(self, run):
        return int(run.config["seeds"])

    def layout(self, root=None):
        return Layout(root or default_root(), self.name)

    # --- running -----------------------------------------------------------------------------------

    def trial_job(self, config, seeds=(0,), progress=False, label=None, callbacks=(), data_config=None):
        """A job that fits a tuner trial's model with this configuration and writes nothing.

        `data_config` is the configuration the data are loaded for (default `config`), so trials
        that change only training keys (epochs, batch size) share one load.
        """
        from ndnx.experiment.config import Run

        return Job(self, Run(0, "trial", dict(config), {}), list(seeds), layout=None, progress=progress,
                   callbacks=callbacks, label=label, data_config=data_config)

    def run_job(self, run, seeds, root=None, progress=True, strategy=None, callbacks=(), wait=False,
                restart=False):
        """Fit the repetitions `seeds` of `run` with the experiment's fit; resumes where it stopped.

        Nothing is written for a configuration that fails its checks, that cannot be loaded or
        built, or whose run folder holds another configuration. The process holds the locks of
        its seeds while it fits them (`ndnx.experiment.ownership`): another process fitting one
        of them makes this one fail in one line, or, with `wait`, wait for it. `restart` removes
        the seeds' checkpoints, models, records and logs first (a fresh start).

        Returns {job label: the fit's outcome}.
        """
        from ndnx.training.callbacks import CheckpointError
        from ndnx.training.strategy import is_chief

        layout = self.layout(root)
        seeds = list(seeds)
        chief = strategy is None or is_chief(strategy)
        self.check_config(run.config)
        records.check_stored_config(self.name, layout, run)
        self.load_data(run.config)  # data that cannot be loaded fail here, before anything is written
        contiguous = seeds == list(range(seeds[0], seeds[0] + len(seeds)))
        ensemble = len(seeds) > 1 and run.config.get("ensemble", True) and contiguous
        groups = [seeds] if ensemble else [[s] for s in seeds]
        jobs = [Job(self, run, group, layout=layout, progress=progress, strategy=strategy, callbacks=callbacks)
                for group in groups]
        steps = [step.name for step in getattr(self.fit, "steps", ())]
        # Only the chief of a multi-worker job writes, so only it claims the seeds.
        owner = ownership.claim(self.name, layout, run.name, seeds, wait=wait) if chief else contextlib.nullcontext()
        with owner:
            if chief:
                if restart:
                    ownership.start_over(self.name, layout, run, groups, steps)
                ownership.remove_leftovers(layout, run.name, groups, steps)
                if strategy is None:
                    self.fit.prebuild(jobs[0])  # a model that cannot be built fails before any record
                self.write_run_info(layout, run)
            results = {}
            for job in jobs:
                try:
                    results[seed_label(job.seeds)] = self.fit.run(job)
                except CheckpointError as exc:
                    raise ValueError(f"{exc}; run the same command with --restart to start {self.name}/{run.name} "
                                     f"over (its checkpoints, models and logs of these seeds are removed)") from None
            if chief:
                self.mark_finished(layout, run)
        return results

    def write_run_info(self, layout, run):
        records.write_run_info(self, layout, run)

    def mark_finished(self, layout, run, seeds=None):
        """Append the run to experiments.txt once every repetition has its final product."""
        seeds = range(self.expected_seeds(run)) if seeds is None else seeds
        return records.mark_finished(self.name, layout, run, [self.fit.product(layout, run.name, s) for s in seeds])

    def run(self, overrides=None, **options):
        """Run the grid (see `ndnx.experiment.planning.run_experiment` for the options); an exit code."""
        from ndnx.experiment.planning import run_experiment

        return run_experiment(self, overrides, **options)

    def tune(self, overrides=None, root=None, **options):
        """A keras-tuner search over the hypermodel or search space (`ndnx.training.tuning.run_search`)."""
        from ndnx.training.tuning import run_search

        return run_search(self, overrides, directory=self.layout(root).tuning(), **options)

    def main(self, argv=None):
        """`python experiments/<group>/<name>.py [--set k=v ...] [--seeds N] ...`: run in this process.

        The options are those of `ndnx run`; bad input ends with one line on stderr and exit 2.
        """
        from ndnx.experiment.commandline import experiment_main

        return experiment_main(self, sys.argv[1:] if argv is None else argv)


def load_experiment(path):
    """Import an experiment script and return its module-level `experiment`."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"experiment script not found: {path}")
    name = "ndnx_experiment_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        where = f"{exc.filename or path}:{exc.lineno}" if exc.lineno else (exc.filename or path)
        raise ValueError(f"{where}: the experiment script has a syntax error: {exc.msg}") from None
    except Exception as exc:
        message = " ".join(str(exc).split()) or "no message"
        raise ValueError(f"{path}: importing the experiment script failed with {type(exc).__name__}: {message} "
                         f"(`python {path}` shows the traceback)") from None
    exp = getattr(module, "experiment", None)
    if not isinstance(exp, Experiment):
        raise ValueError(f"{path}: expected a module-level `experiment = ndnx.experiment.Experiment(...)`")
    exp.source = os.path.abspath(path)
    return exp
