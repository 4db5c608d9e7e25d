"""keras-tuner glue: trials fitted by the experiment's own fit, scored by its objective; `ndnx tune`.

An experiment opts into tuning in one of two ways:

- `hypermodel=` — config → `keras_tuner.HyperModel` (or config → a plain `build(hp)` function)
  whose `build(hp)` returns the model a trial fits, as the experiment's own `build` does. The
  trial is fitted by the experiment's fit (`fit.fit(model, job)`: epochs of train_step for
  `Epochs` / `NDN3Fit`, the simulation for `Simulation`, ...) for the config's `epochs` — or the
  epochs the tuner asks for (Hyperband's `epochs`/`initial_epoch`);
- `search_space=` — (hp, config) → {key: value}: the trial is a whole run of the experiment with
  those configuration values (`fit.run(job)`: any fit, a chain of steps included), written and
  resumable under the trial's directory; its final model is saved there as `model.keras`.

`ExperimentHyperModel` makes every trial start from `keras.backend.clear_session()` (long searches
otherwise grow in RAM, keras-tuner #873/#1031) and scores it with the experiment's objective
(`experiment.objective`: split, metric, direction; e.g. the validation correlation of the V1
recipe, whose keras-tuner name is `val_correlation`) — the mean over the replicas (seeds) of the
model, so a replicated model gives a seed-averaged score. A model-level trial leaves its final
weights in the trial directory (`trial_<id>/checkpoint.weights.h5`), which is what
`tuner.get_best_models()` and Hyperband's continued trials load.

`run_search` drives one search under `<root>/tuning/<group>/<experiment>/<tuner>/` (keras-tuner's
`directory` + `project_name`):

    role "single"  a plain search in this process;
    role "chief"   serves the oracle on --oracle-address until every worker has finished;
    role "worker"  asks the chief for trials and runs them (any number of workers, same directory).

The same command run again resumes: finished trials are kept, an interrupted trial is run again
(same id, same hyper-parameters) and the search continues until `max_trials` trials exist.

This module knows the experiment only through what it uses (`name`, `defaults`, `fit`,
`objective`, `hypermodel`, `search_space`, `callbacks`, `layout(root)`, `trial_job(...)`,
`run_job(...)`, `runs(...)`), so training does not depend on `ndnx.experiment`.
"""

import contextlib
import json
import math
import os
import socket
import sys
import time

import numpy as np
import keras
import keras_tuner

from ndnx.files import atomic_write_text
from ndnx.training.ensemble import num_replicas

__all__ = [
    "TUNERS", "ROLES", "ExperimentHyperModel", "make_tuner", "load_tuner", "keras_objective",
    "run_search", "search_config", "trial_table",
]

TUNERS = ("random", "bayesian", "hyperband")
ROLES = ("single", "chief", "worker")
ENV_KEYS = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
# keras-tuner's per-trial bookkeeping values (Hyperband); never shown as searched hyper-parameters.
_TUNER_KEYS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id")
TRIAL_MODEL = "model.keras"


def keras_objective(exp):
    """The experiment's objective as a `keras_tuner.Objective` (e.g. val_correlation, max)."""
    objective = exp.objective
    if objective is None:
        raise ValueError(f"{exp.name}: tuning needs an objective; give the experiment objective=(split, metric, "
                         "'min'|'max')")
    return keras_tuner.Objective(objective.name, direction=objective.direction)


def _metric_name(split, metric):
    return f"val_{metric}" if split == "validation" else f"{split}_{metric}"


def _scores(final):
    """{keras-tuner metric name: mean over replicas} of a fit's final evaluation."""
    return {_metric_name(split, metric): float(np.mean(np.asarray(values, dtype="float64")))
            for (split, metric), values in final.items()}


class ExperimentHyperModel(keras_tuner.HyperModel):
    """An experiment's hypermodel (or search space), fitted by the experiment's fit and scored.

    Args:
        experiment: an `ndnx.experiment.Experiment` with a `hypermodel` or a `search_space`.
        config: the resolved configuration (defaults + overrides) of the search.
        hypermodel: the inner hypermodel; default `experiment.hypermodel(config)`. A
            `keras_tuner.HyperModel` or a `build(hp)` callable returning a compiled model.
        progress: show ndnx's progress bar while a trial trains.

    Reserved hyper-parameter names: a hypermodel that defines `batch_size` or `epochs` as
    hyper-parameters trains with the sampled values instead of the config's (Hyperband's own
    epoch budget still wins over an `epochs` hyper-parameter).

    `fit` returns the objective and every other metric of the final evaluation, averaged over
    the model's replicas ("val_<metric>" for the validation split, "<split>_<metric>" for others),
    the mean training loss of the last epoch ("loss", when the fit trains) and the epochs trained.
    The last result is kept in `last_metrics`.
    """

    def __init__(self, experiment, config, hypermodel=None, progress=False, name=None):
        super().__init__(name=name or experiment.name.replace("/", "_"), tunable=True)
        self.experiment = experiment
        self.config = dict(config)
        self.search_space = getattr(experiment, "search_space", None) if hypermodel is None else None
        if self.search_space is None:
            inner = hypermodel if hypermodel is not None else experiment.hypermodel(config)
            if not isinstance(inner, keras_tuner.HyperModel):
                if not callable(inner):
                    raise ValueError(
                        f"{experiment.name}: hypermodel(config) must return a keras_tuner.HyperModel or a "
                        f"build(hp) callable, got {type(inner).__name__}")
                inner = _BuildFunction(inner)
            self.inner = inner
        else:
            self.inner = None
        self.objective = keras_objective(experiment)
        self.progress = bool(progress)
        self.label = experiment.name
        self.last_metrics = None

    @property
    def searches_configuration(self):
        return self.search_space is not None

    def declare_hyperparameters(self, hp):
        if self.inner is not None:
            self.inner.declare_hyperparameters(hp)

    def trial_config(self, hp):
        """The configuration of a search-space trial: the search's config with the sampled keys."""
        sampled = self.search_space(hp, dict(self.config))
        if not isinstance(sampled, dict):
            raise keras_tuner.errors.FatalValueError(
                f"{self.experiment.name}: search_space(hp, config) must return {{key: value}}, "
                f"got {type(sampled).__name__}")
        unknown = sorted(k for k in sampled if k not in self.experiment.defaults)
        if unknown:
            raise keras_tuner.errors.FatalValueError(
                f"{self.experiment.name}: search_space sets unknown keys {unknown}; known keys: "
                f"{', '.join(sorted(self.experiment.defaults))}")
        return {**self.config, **sampled}

    def build(self, hp):
        # Every trial builds a fresh graph: drop what earlier trials left in Keras' global state.
        keras.backend.clear_session()
        if self.inner is None:
            # keras-tuner builds to discover the space; a search-space trial's models are built by
            # the experiment's fit when the trial runs.
            self.trial_config(hp)
            return None
        model = self.inner.build(hp)
        if not isinstance(model, keras.Model):
            raise keras_tuner.errors.FatalValueError(
                f"{self.experiment.name}: the hypermodel's build(hp) must return a compiled keras.Model, "
                f"got {type(model).__name__}")
        if getattr(model, "optimizer", None) is None:
            if getattr(self.experiment.fit, "needs_optimizer", True):
                raise keras_tuner.errors.FatalValueError(
                    f"{self.experiment.name}: the model returned by build(hp) is not compiled; "
                    f"call model.compile(optimizer, loss, jit_compile=...) in build")
        elif not model.optimizer.built:
            # With its variables in place, loading a trial checkpoint (Hyperband's continued
            # trials, get_best_models) restores the optimizer state too instead of skipping it.
            model.optimizer.build(model.trainable_variables)
        return model

    def fit(self, hp, model, *args, callbacks=(), epochs=None, initial_epoch=0, verbose=None, trial_dir=None,
            **kwargs):
        """Fit a trial: `model` (built from hp) with the experiment's fit, or a whole run (search space)."""
        if kwargs or args:
            raise TypeError(f"ExperimentHyperModel.fit: unexpected arguments {sorted(kwargs) or list(args)}")
        if self.inner is not None and type(self.inner).fit is not keras_tuner.HyperModel.fit:
            # The experiment owns its training loop.
            return self.inner.fit(hp, model, callbacks=callbacks,
                                  **({"epochs": epochs, "initial_epoch": initial_epoch} if epochs else {}))
        savers = [c for c in callbacks if hasattr(c, "objective") and hasattr(c, "filepath")]
        others = [c for c in callbacks if c not in savers]
        last = _LastLogs()
        if self.searches_configuration:
            metrics, model = self._fit_run(hp, trial_dir, [*others, last])
        else:
            metrics = self._fit_model(hp, model, epochs, initial_epoch, [*others, last])
        if last.logs.get("loss") is not None:
            metrics["loss"] = float(last.logs["loss"])  # mean training loss of the last epoch
        name = self.objective.name
        if name not in metrics:
            raise keras_tuner.errors.FatalValueError(
                f"{self.experiment.name}: the trial's evaluation gives no {name!r} (objective "
                f"{self.experiment.objective.tag}); it gives {sorted(metrics)}")
        self.last_metrics = metrics
        if not math.isfinite(metrics[name]):
            raise keras_tuner.errors.FailedTrialError(f"{name} is {metrics[name]} (diverged training?)")
        # keras-tuner's own SaveBestEpoch writes the trial checkpoint. Without the objective in the
        # epoch logs it would save on every epoch, so it is called once at the end instead.
        for saver in savers if model is not None and not self.searches_configuration else ():
            saver.set_model(model)
            saver.on_epoch_end(int(metrics.get("epochs", 1)) - 1, logs=metrics)
        return metrics

    def _fit_model(self, hp, model, epochs, initial_epoch, callbacks):
        config = dict(self.config)
        total = int(epochs) if epochs else int(hp.values.get("epochs", config.get("epochs") or 0))
        initial = int(initial_epoch or 0)
        if "epochs" in self.experiment.defaults:
            config["epochs"] = max(total - initial, 0)
        if "batch_size" in hp.values:
            config["batch_size"] = int(hp.values["batch_size"])
        # A Hyperband continuation starts from the weights of an earlier trial (loaded by the tuner)
        # and trains the remaining epochs; its epoch orders differ from the earlier trial's.
        config["shuffle_seed"] = int(config.get("shuffle_seed", 0)) + initial
        replicas = num_replicas(model)
        job = self.experiment.trial_job(config, seeds=range(replicas or 1), progress=self.progress,
                                        label=self.label, callbacks=callbacks, data_config=self.config)
        outcome = self.experiment.fit.fit(model, job)
        return {"epochs": float(total), **_scores(outcome.get("final", {}))}

    def _fit_run(self, hp, trial_dir, callbacks):
        if trial_dir is None:
            raise keras_tuner.errors.FatalValueError("a search-space trial needs its trial directory")
        config = self.trial_config(hp)
        [run] = self.experiment.runs({k: v for k, v in config.items() if k in self.experiment.defaults
                                      and not isinstance(v, list)})
        # The trial's run is named by its configuration like any run (its folder is the trial's own).
        run = type(run)(run.index, run.name, run.config, {k: v for k, v in hp.values.items()
                                                          if k not in _TUNER_KEYS})
        seeds = list(range(int(config["seeds"])))
        outcomes = self.experiment.run_job(run, seeds, root=os.path.join(trial_dir, "run"),
                                           progress=self.progress, callbacks=callbacks)
        final, model = {}, None
        for outcome in outcomes.values():
            model = model if model is not None else outcome.get("model")
            for key, values in outcome.get("final", {}).items():
                final[key] = np.concatenate([final.get(key, np.zeros(0)), np.asarray(values, "float64").reshape(-1)])
        if model is not None:
            from ndnx.training.trainer import save_model_atomic

            save_model_atomic(model, os.path.join(trial_dir, TRIAL_MODEL))
        metrics = _scores(final)
        if "epochs" in config:
            metrics["epochs"] = float(config["epochs"])
        return metrics, model


class _LastLogs(keras.callbacks.Callback):
    """Keeps the logs of the last epoch (the training loss of ndnx's compiled loop)."""

    def __init__(self):
        super().__init__()
        self.logs = {}

    def on_epoch_end(self, epoch, logs=None):
        self.logs = dict(logs or {})


class _BuildFunction(keras_tuner.HyperModel):
    """A `build(hp)` callable as a HyperModel."""

    def __init__(self, function):
        super().__init__(name=getattr(function, "__name__", None))
        self.function = function

    def build(self, hp):
        return self.function(hp)


class _TrialLog:
    """Tuner mixin: times each trial, prints one line per trial and records who ran it.

    Every trial directory gets `ndnx_trial.json` ({tuner_id, host, pid, seconds, status, metrics}),
    written by the process that ran the trial. A search-space trial is a whole run of the
    experiment: it is fitted without a model built here, and its saved `model.keras` is what
    `get_best_models()` loads.
    """

    def _build_and_fit_model(self, trial, *args, **kwargs):
        if self.hypermodel.searches_configuration:
            keras.backend.clear_session()
            return self.hypermodel.fit(trial.hyperparameters, None, *args,
                                       trial_dir=self.get_trial_dir(trial.trial_id), **kwargs)
        return super()._build_and_fit_model(trial, *args, **kwargs)

    def load_model(self, trial):
        if self.hypermodel.searches_configuration:
            return keras.saving.load_model(os.path.join(self.get_trial_dir(trial.trial_id), TRIAL_MODEL))
        return super().load_model(trial)

    def on_trial_begin(self, trial):
        self._ndnx_started = time.time()
        self.hypermodel.label = f"{self.hypermodel.experiment.name} trial {trial.trial_id}"
        self.hypermodel.last_metrics = None
        super().on_trial_begin(trial)

    def on_trial_end(self, trial):
        seconds = time.time() - getattr(self, "_ndnx_started", time.time())
        metrics = self.hypermodel.last_metrics or {}
        record = {"trial_id": trial.trial_id, "tuner_id": self.tuner_id, "host": socket.gethostname(),
                  "pid": os.getpid(), "seconds": round(seconds, 3), "status": trial.status,
                  "metrics": metrics}
        atomic_write_text(os.path.join(self.get_trial_dir(trial.trial_id), "ndnx_trial.json"),
                          json.dumps(record, indent=2))
        self.ndnx_trials_run.append(record)
        super().on_trial_end(trial)
        name = self.hypermodel.objective.name
        score = metrics.get(name)
        if score is not None:
            shown = f"{name}={score:.4f}"
        else:
            shown = ((trial.message or "").strip().splitlines() or ["no result"])[-1]
        print(f"[{self.tuner_id}] trial {trial.trial_id} {trial.status.lower()} in {seconds:.1f} s: {shown}",
              flush=True)


def _tuner_class(kind):
    base = {"random": keras_tuner.RandomSearch, "bayesian": keras_tuner.BayesianOptimization,
            "hyperband": keras_tuner.Hyperband}[kind]
    return type(f"Ndnx{base.__name__}", (_TrialLog, base), {})


def search_config(exp, overrides=None):
    """The one configuration a search runs: the experiment's defaults with `overrides` applied."""
    overrides = dict(overrides or {})
    axes = [k for k, v in overrides.items()
            if isinstance(v, list) and not isinstance(exp.defaults.get(k), (list, tuple))]
    if axes:
        raise ValueError(f"{exp.name}: a search runs one configuration; --set {axes[0]}=[...] makes a grid "
                         f"(declare it as a hyper-parameter of the hypermodel instead)")
    unknown = sorted(k for k in overrides if k not in exp.defaults)
    if unknown:
        raise ValueError(f"{exp.name}: unknown keys {unknown}; known keys: {', '.join(sorted(exp.defaults))}")
    return {**exp.defaults, **overrides}


def _parse_address(address):
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--oracle-address expects IP:PORT (e.g. 127.0.0.1:8000), got {address!r}")
    return host, port


@contextlib.contextmanager
def _tuner_environment(role, oracle_address=None, worker_id=None):
    """The KERASTUNER_* variables of `role` for the duration of the block (keras-tuner reads them
    when a tuner is constructed and again while it searches); the previous values come back after."""
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    try:
        for k in ENV_KEYS:
            os.environ.pop(k, None)
        tuner_id = "tuner0"
        if role != "single":
            host, port = _parse_address(oracle_address)
            if role == "chief":
                tuner_id = "chief"
            else:
                tuner_id = str(worker_id) if worker_id else f"tuner-{os.getpid()}"
                if "chief" in tuner_id:
                    # keras-tuner makes any process whose id contains "chief" the oracle server.
                    raise ValueError(f"--worker-id must not contain 'chief', got {tuner_id!r}")
            os.environ.update(KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP=host,
                              KERASTUNER_ORACLE_PORT=port)
        yield tuner_id
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _quiet_retracing():
    """Every trial builds a new model, so TensorFlow's "N out of the last M calls ... triggered
    tf.function retracing" warnings are expected during a search; hide them (warnings only)."""
    import logging

    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        logger.setLevel(level)


def _check_max_trials(max_trials):
    if isinstance(max_trials, bool) or not isinstance(max_trials, (int, np.integer)) or max_trials < 1:
        raise ValueError(f"--max-trials expects a positive number, got {max_trials!r}")
    return int(max_trials)


def _tuning_dir(exp, root=None, directory=None):
    """The experiment's tuning directory: `directory`, else `<root>/tuning/<group>/<experiment>`."""
    return directory if directory is not None else exp.layout(root).tuning()


def _check_tunable(exp):
    if getattr(exp, "hypermodel", None) is None and getattr(exp, "search_space", None) is None:
        raise ValueError(f"{exp.name} defines no hypermodel or search space; add hypermodel=... or "
                         f"search_space=... to its Experiment")


def make_tuner(exp, config, tuner="random", max_trials=10, root=None, overwrite=False, seed=None,
               progress=False, directory=None):
    """A keras-tuner tuner of kind `tuner` over `exp`'s hypermodel, in the experiment's tuning dir.

    Reads the KERASTUNER_* environment as keras-tuner does (see `run_search` for the roles). With
    `overwrite=False` an existing project is reloaded, including one whose tuner file is missing
    (a search killed during its first trial, or one started under another role).
    """
    _check_tunable(exp)
    if tuner not in TUNERS:
        raise ValueError(f"unknown tuner {tuner!r}; expected one of {', '.join(TUNERS)}")
    max_trials = _check_max_trials(max_trials)
    directory = _tuning_dir(exp, root, directory)
    os.makedirs(directory, exist_ok=True)
    seed = int(config.get("tuner_seed", 1)) if seed is None else int(seed)
    if seed < 1:
        # keras-tuner's Oracle takes `seed or random.randint(1, 10000)`: 0 would mean unseeded.
        raise ValueError(f"the tuner seed must be a positive integer (keras-tuner treats 0 as unseeded), got {seed}")
    hypermodel = ExperimentHyperModel(exp, config, progress=progress)
    common = dict(hypermodel=hypermodel, objective=hypermodel.objective, seed=seed, directory=directory,
                  project_name=tuner, overwrite=overwrite)
    cls = _tuner_class(tuner)
    if tuner == "hyperband":
        if not config.get("epochs"):
            raise ValueError(f"{exp.name}: hyperband allocates epochs to trials; the experiment's fit has no "
                             "'epochs' key to budget")
        instance = cls(max_epochs=max(int(config["epochs"]), 1), factor=3, hyperband_iterations=1, **common)
        # Hyperband's oracle has no trial budget of its own; the base Oracle honours this one.
        instance.oracle.max_trials = max_trials
    else:
        instance = cls(max_trials=max_trials, **common)
    instance.ndnx_trials_run = []
    if not instance._is_worker():
        _reload_orphaned_project(instance)
    return instance


def _reload_orphaned_project(tuner):
    """Resume-safety on top of keras-tuner's reload.

    keras-tuner reloads the oracle only when this process's own tuner file exists
    (`<project>/<tuner_id>.json`, written at the end of each trial), so a search killed during its
    first trial, or resumed under another role (single ↔ chief), would start afresh and overwrite
    the existing trials. And a kill between writing a new trial's trial.json and oracle.json leaves a
    RUNNING trial that no queue knows about (it would count against max_trials and never finish).
    """
    oracle = tuner.oracle
    oracle_file = os.path.join(tuner.project_dir, "oracle.json")
    if not oracle.trials and os.path.exists(oracle_file):
        print(f"Reloading Oracle from {oracle_file}")
        oracle.reload()
    waiting = set(oracle._retry_queue) | {t.trial_id for t in oracle.ongoing_trials.values()}
    for trial_id, trial in sorted(oracle.trials.items()):
        if trial.status == "RUNNING" and trial_id not in waiting:
            oracle._retry_queue.append(trial_id)
            if trial_id not in oracle.start_order:
                oracle.start_order.append(trial_id)


def load_tuner(exp, overrides=None, tuner="random", root=None, max_trials=None, directory=None):
    """The tuner of an existing search (reloaded, not searching), e.g. for `get_best_models()`."""
    config = search_config(exp, overrides)
    directory = _tuning_dir(exp, root, directory)
    project = os.path.join(directory, tuner)
    if not os.path.exists(os.path.join(project, "oracle.json")):
        raise FileNotFoundError(f"no {tuner} search of {exp.name} under {project}")
    with _tuner_environment("single"):
        return make_tuner(exp, config, tuner, max_trials or 10 ** 6, directory=directory)


def _serve_oracle(tuner, host, port, poll=0.5):
    """The chief: serve `tuner.oracle` over gRPC until the search ended and every worker left.

    Same protocol as keras-tuner's own chief loop (which polls every 20 s once the search has
    ended), from the servicer in keras_tuner.src.distribute (not public API in 1.4.8).
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    tuner.save()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(tuner.oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise RuntimeError(f"the chief cannot listen on {host}:{port} (address in use?)")
    server.start()
    print(f"[chief] oracle serving on {host}:{port}; start workers with "
          f"--role worker --oracle-address {host}:{port}", flush=True)
    try:
        while not (servicer.stop_triggered and oracle_chief.exit_chief(tuner.oracle)):
            time.sleep(poll)
    finally:
        server.stop(grace=2).wait()
    print("[chief] search finished; every worker has left", flush=True)


def trial_table(oracle, top=10):
    """Rows (dicts) of the `top` best completed trials, best first, the column names, and how many
    of the columns after "trial" are metrics (the objective first); the rest are epochs and
    hyper-parameters."""
    done = [t for t in oracle.trials.values() if t.status == "COMPLETED" and t.score is not None]
    best = sorted(done, key=lambda t: t.score, reverse=oracle.objective.direction == "max")[:top]
    hp_names = []
    for t in best:
        for name in t.hyperparameters.values:
            if name not in hp_names and name not in _TUNER_KEYS:
                hp_names.append(name)
    objective = oracle.objective.name
    others = sorted({m for t in best for m in t.metrics.metrics if m not in (objective, "epochs")},
                    key=lambda m: (m == "loss", m))
    metric_names = [objective, *others]
    rows = []
    for t in best:
        row = {"trial": t.trial_id}
        for m in metric_names:
            row[m] = t.score if m == objective else (
                t.metrics.get_last_value(m) if t.metrics.exists(m) else None)
        if "tuner/epochs" in t.hyperparameters.values:
            row["epochs"] = t.hyperparameters.values["tuner/epochs"]
        for name in hp_names:
            row[name] = t.hyperparameters.values.get(name)
        rows.append(row)
    columns = ["trial", *metric_names] + (["epochs"] if any("epochs" in r for r in rows) else []) + hp_names
    return rows, columns, len(metric_names)


def _format_value(v):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}"
    return str(v)


def _print_results(exp, tuner, kind, max_trials, top=10):
    oracle = tuner.oracle
    statuses = [t.status for t in oracle.trials.values()]
    completed = statuses.count("COMPLETED")
    failed = len(statuses) - completed
    print(f"{exp.name}: {completed} completed trial(s) of {max_trials} [{kind}]"
          + (f", {failed} not completed" if failed else "") + f" in {tuner.project_dir}")
    rows, columns, metrics = trial_table(oracle, top)
    if not rows:
        print("no completed trial")
        return False
    objective = oracle.objective
    print(f"best trials by {objective.name} ({objective.direction}):")
    cells = [[_format_value(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    best = rows[0]
    hps = " ".join(f"{k}={_format_value(best[k])}" for k in columns[1 + metrics:]
                   if k != "epochs" and best.get(k) is not None)
    print(f"best: trial {best['trial']} {objective.name}={best[objective.name]:.6g}  {hps}".rstrip())
    return True


def _search_complete(project_dir, max_trials):
    """Whether a shared project already holds `max_trials` completed trials (a late worker's check)."""
    count = 0
    for name in os.listdir(project_dir) if os.path.isdir(project_dir) else ():
        path = os.path.join(project_dir, name, "trial.json")
        if name.startswith("trial_") and os.path.exists(path):
            try:
                with open(path) as f:
                    count += json.load(f).get("status") == "COMPLETED"
            except (OSError, ValueError):
                pass
    return count >= max_trials


def run_search(exp, overrides=None, tuner="random", max_trials=10, role="single",
               oracle_address="127.0.0.1:8000", worker_id=None, root=None, overwrite=False,
               seed=None, top=10, directory=None):
    """Run (or resume) a keras-tuner search over `exp`'s hypermodel or search space; an exit code.

    Args:
        exp: an `ndnx.experiment.Experiment` with `hypermodel=` or `search_space=`.
        overrides: {key: value} applied to the defaults (one configuration; no grid axes).
        tuner: "random", "bayesian" or "hyperband" (max_epochs = the config's `epochs`; the trial
            budget `max_trials` caps its brackets).
        max_trials: total number of trials of the search (finished ones count when resuming).
        role: "single", "chief" (serves the oracle at `oracle_address` until the workers finish;
            trains nothing) or "worker" (runs trials handed out by the chief).
        oracle_address: "IP:PORT" of the chief (chief and workers).
        worker_id: a worker's KERASTUNER_TUNER_ID (default "tuner-<pid>"). A worker restarted with
            the same id is handed its unfinished trial again.
        root: training_data root (default ./training_data or $NDNX_TRAINING_DATA).
        directory: the tuning directory (default `<root>/tuning/<group>/<experiment>`).
        overwrite: delete the project and start afresh (ignored by workers, which share it).
        seed: the oracle's seed, ≥ 1 (default the config's `tuner_seed`, else 1).
        top: rows of the final table.

    Results live in `<root>/tuning/<group>/<experiment>/<tuner>/trial_<id>/` (keras-tuner's
    trial.json and checkpoint.weights.h5, plus ndnx_trial.json: who ran the trial and how long).
    """
    _check_tunable(exp)
    if tuner not in TUNERS:
        raise ValueError(f"unknown tuner {tuner!r}; expected one of {', '.join(TUNERS)}")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    max_trials = _check_max_trials(max_trials)
    config = search_config(exp, overrides)
    keras_objective(exp)  # an experiment without an objective fails here, before anything is written
    directory = _tuning_dir(exp, root, directory)
    if role == "worker":
        overwrite = False
        project = os.path.join(directory, tuner)
        if _search_complete(project, max_trials):
            print(f"{exp.name}: the {tuner} search in {project} already has {max_trials} completed trials")
            return 0

    with _tuner_environment(role, oracle_address, worker_id) as tuner_id, _quiet_retracing():
        progress = role == "single" and sys.stderr.isatty()
        instance = make_tuner(exp, config, tuner, max_trials, overwrite=overwrite, seed=seed,
                              progress=progress, directory=directory)
        if role == "chief":
            host, port = _parse_address(oracle_address)
            _serve_oracle(instance, host, port)
        else:
            instance.search(verbose=1 if role == "single" else 0)

        if role == "worker":
            ids = [r["trial_id"] for r in instance.ndnx_trials_run]
            print(f"[{tuner_id}] ran {len(ids)} trial(s): {', '.join(ids) if ids else '-'}", flush=True)
            return 0
        ok = _print_results(exp, instance, tuner, max_trials, top)
    return 0 if ok else 1
