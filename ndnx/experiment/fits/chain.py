"""`Chain`: a run made of steps, each starting from the weights the previous step left.

Some models are trained in stages: a feedforward network first, its weights then folded into a
recurrent one, which is trained linear, then annealed into a nonlinearity, then fine-tuned
(CordsNet's five-step pipeline). `Chain([Step(...), ...])` runs such stages inside every job:

- step k builds its model with `build(config, seed, replicas, previous)`, where `previous` is the
  model step k−1 finished with (loaded from its file when that step ran in an earlier process),
  and fits it with its own fit (`Epochs`, `NDN3Fit`, ...);
- each step is resumable on its own: its checkpoints live in `checkpoints/<step>/<job>/`, and
  when it ends its model is saved as `models/.../<run>/steps/<step>/<job>.keras` — the next step
  reads it from there. A killed chain restarts at the step it was in, from that step's last
  checkpoint; finished steps are not run again;
- a step reads the run's configuration with its own keys on top: "<step>.<key>" overrides "<key>"
  (e.g. `--set linear.epochs=20`); each step's fit keys are offered as "<step>.<key>"; the data
  are loaded for the step's configuration, so a step key the data read (declared in the defaults,
  e.g. "gng.task") gives that step its own data — a curriculum;
- its metrics are logged as "<step>/<metric>" (TensorBoard groups them by step) and the last
  step's model is the run's final model (`models/.../<run>/seed<k>.keras`).

Example:

    experiment = Experiment("cordsnet/pipeline", defaults={"cnn.epochs": 100, "linear.epochs": 20, ...},
                            data=images, build=build_cnn, fit=Chain([
                                Step("cnn", Epochs()),
                                Step("linear", Epochs(), build=rnn_from_cnn),
                                Step("relu", Epochs(), build=relu_from_linear)]))
"""

import os

from ndnx.experiment.config import check_values, optional
from ndnx.experiment.fits.fit import Fit, Objective

__all__ = ["Chain", "Step"]


class Step:
    """One step of a `Chain`: a name, a fit, and how its model is built from the previous step's.

    Args:
        name: a name without "/" or "." (it names the step's files, keys and tags).
        fit: the step's fit (any `Fit` that trains a built model, e.g. `Epochs()`).
        build: (config, seed, replicas, previous) → compiled model; `previous` is the model the
            previous step finished with (None for the first step). Default, for the first step
            only: the experiment's own `build(config, seed, replicas)`.
    """

    def __init__(self, name, fit, build=None):
        if not isinstance(name, str) or not name or any(c in name for c in "/. "):
            raise ValueError(f"Step: name must be a non-empty word without '/', '.' or spaces, got {name!r}")
        if not isinstance(fit, Fit):
            raise ValueError(f"Step {name}: fit must be an ndnx.experiment.Fit, got {type(fit).__name__}")
        if isinstance(fit, Chain):
            raise ValueError(f"Step {name}: a step cannot be a chain itself")
        self.name = name
        self.fit = fit
        self.build = build


class Chain(Fit):
    """Run `steps` one after the other in every job (see the module docstring)."""

    def __init__(self, steps, objective=None):
        steps = list(steps)
        if not steps or not all(isinstance(s, Step) for s in steps):
            raise ValueError("Chain: expected a non-empty list of ndnx.experiment.Step")
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"Chain: step names must differ, got {names}")
        if any(s.build is None for s in steps[1:]):
            missing = [s.name for s in steps[1:] if s.build is None]
            raise ValueError(f"Chain: steps after the first need build(config, seed, replicas, previous); "
                             f"{missing} have none")
        self.steps = steps
        self.keys = {f"{s.name}.{k}": v for s in steps for k, v in s.fit.keys.items()}
        # A step key left null falls back to the run-wide key, which its step's checks then apply to.
        self.checks = {f"{s.name}.{k}": optional(c) for s in steps for k, c in s.fit.checks.items()}
        self.needs_optimizer = any(s.fit.needs_optimizer for s in steps)
        last = steps[-1]
        if objective is not None:
            self.objective = Objective.parse(objective)
        elif last.fit.objective is not None:
            o = last.fit.objective
            self.objective = Objective(o.split, f"{last.name}/{o.metric}", o.direction)

    def check_config(self, experiment, config):
        for step in self.steps:
            for key in step.fit.required:
                # a step key left null falls back to the run-wide key
                if config.get(f"{step.name}.{key}") is None and config.get(key) is None:
                    raise ValueError(f"Experiment {experiment}: step {step.name!r} reads {key!r}; give "
                                     f"{step.name}.{key} (or {key}) a value")

    def check_values(self, experiment, config, skip_none=False):
        check_values(experiment, config, self.checks, skip_none=skip_none)
        for step in self.steps:  # run-wide values a step falls back to
            fallback = {k: config[k] for k in step.fit.checks
                        if k in config and config.get(f"{step.name}.{k}") is None}
            step.fit.check_values(experiment, fallback, skip_none=skip_none)

    def evaluation(self):
        return self.steps[-1].fit.evaluation()

    def prebuild(self, job):
        first = self.steps[0]
        path = job.step_model_path(first.name)
        if first.build is None and job.experiment.build is not None and not (path and os.path.exists(path)) \
                and not self.finished(job):
            job.for_step(first.name).prebuild(fit=first.fit)

    def run(self, job):
        import keras

        from ndnx.training import save_model_atomic

        self.check_config(job.experiment.name, job.run.config)
        previous, outcome, model = None, {"final": {}}, None
        for step in self.steps:
            sub = job.for_step(step.name)
            path = job.step_model_path(step.name)
            if path is not None and os.path.exists(path):
                previous, model = path, None
                continue
            if isinstance(previous, str):
                previous = keras.saving.load_model(previous)
            if step.build is None:
                model = sub.build_model(fit=step.fit)
            else:
                model = sub.build_model(step.build, fit=step.fit, previous=previous)
            result = step.fit.fit(model, sub)
            outcome = {**result, "final": {(split, f"{step.name}/{metric}"): v
                                           for (split, metric), v in result.get("final", {}).items()}}
            if path is not None and job.chief:
                save_model_atomic(model, path)
            previous = model
        if model is None:  # every step had finished before
            model = keras.saving.load_model(previous)
        self.save(model, job)
        outcome["model"] = model
        return outcome

    def fit(self, model, job):
        raise ValueError(f"{job.experiment.name}: a chain builds each step's model itself; tune it with "
                         "search_space= (configuration keys), not with a hypermodel")
