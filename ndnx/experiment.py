"""Experiments, runs and repetitions, and the training_data/ layout they write.

Vocabulary (msc-neuro): an **experiment** is a script defining a model family and a grid of
hyper-parameters; a **run** is one point of the grid; a **repetition** is one seed of a run.
Seeds of a run are trained together as one replicated model when the experiment allows it
(`ensemble=True` in its config): one job then covers several repetitions.

Layout under the root (default ./training_data, or $NDNX_TRAINING_DATA, or --root):

    logs/<group>/<experiment>/<run>/seed<k>/{train,validation}/   TensorBoard event files
    logs/<group>/<experiment>/<run>/config.yaml, run_info.json    resolved config, versions, commit
    models/<group>/<experiment>/<run>/seed<k>.keras               final models
    models/<group>/<experiment>/<run>/checkpoints/<job>/           resume checkpoints
    job_logs/<group>/<experiment>/<run>/<job>.{out,err}           runner job output
    tuning/<group>/<experiment>/                                  keras-tuner projects
    experiments.txt                                               one line per finished run
"""

import dataclasses
import fcntl
import importlib.util
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata

import yaml

__all__ = ["Experiment", "Run", "Layout", "load_experiment", "parse_overrides", "seed_label"]

RESERVED = ("epochs", "batch_size", "log_every", "ensemble", "shuffle_seed", "seeds", "early_stop", "early_stop_on",
            "lbfgs_maxiter", "lbfgs_rounds", "drop_last_batch")


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

    def models(self, run):
        return os.path.join(self.root, "models", self.experiment, run)

    def model(self, run, seed):
        return os.path.join(self.models(run), f"seed{seed}.keras")

    def checkpoints(self, run, seeds):
        return os.path.join(self.models(run), "checkpoints", seed_label(seeds))

    def job_log(self, run, seeds, stream):
        return os.path.join(self.root, "job_logs", self.experiment, run, f"{seed_label(seeds)}.{stream}")

    def tuning(self):
        return os.path.join(self.root, "tuning", self.experiment)

    @property
    def experiments_txt(self):
        return os.path.join(self.root, "experiments.txt")


@dataclasses.dataclass(frozen=True)
class Run:
    index: int
    name: str
    config: dict
    varied: dict


def _atomic_write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _coerce(experiment, key, value, default):
    """Check a --set value against the type of its default."""
    if default is None or value is None:
        return value
    if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
        # YAML 1.1 reads "5e-4" (no dot) as a string.
        try:
            value = float(value) if isinstance(default, float) or not value.lstrip("+-").isdigit() else int(value)
        except ValueError:
            pass
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        return str(value)
    elif isinstance(default, (list, tuple)):
        if isinstance(value, (list, tuple)):
            return list(value)
    else:
        return value
    raise ValueError(
        f"{experiment}: --set {key} expects a {type(default).__name__} (default {default!r}), got {value!r}"
    )


def parse_overrides(experiment, assignments, defaults):
    """`["lr=1e-3", "region=2"]` → {"lr": 0.001, "region": 2}, each checked against the defaults.

    A value may be a list in YAML syntax (`l2=[0, 0.1]`), which turns the key into a grid axis.
    """
    out = {}
    for item in assignments or ():
        if "=" not in item:
            raise ValueError(f"{experiment}: --set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in defaults:
            raise ValueError(
                f"{experiment}: unknown --set key {key!r}; known keys: {', '.join(sorted(defaults))}"
            )
        value = yaml.safe_load(text) if text.strip() else ""
        if isinstance(value, str) and text.strip().lower() in ("none", "null"):
            value = None
        if isinstance(value, list) and not isinstance(defaults[key], (list, tuple)):
            out[key] = [_coerce(experiment, key, v, defaults[key]) for v in value]
        else:
            out[key] = _coerce(experiment, key, value, defaults[key])
    return out


def package_versions():
    names = ["ndnx", "tensorflow", "keras", "numpy", "scipy", "keras-tuner", "tensorboard"]
    versions = {}
    for n in names:
        try:
            versions[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            versions[n] = None
    versions["python"] = platform.python_version()
    return versions


def git_commit(path):
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=os.path.dirname(os.path.abspath(path)),
                             capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=os.path.dirname(os.path.abspath(path)), capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _without_key(grid, key):
    """`grid` with `key` taken out of its axes (a joint axis keeps its other keys)."""
    out = {}
    for axis, values in grid.items():
        if axis == key:
            continue
        if isinstance(axis, tuple) and key in axis:
            keep = [j for j, k in enumerate(axis) if k != key]
            rest = []
            for v in values:
                part = tuple(v[j] for j in keep)
                if part not in rest:
                    rest.append(part)
            if len(keep) == 1:
                out[axis[keep[0]]] = [p[0] for p in rest]
            elif keep:
                out[tuple(axis[j] for j in keep)] = rest
            continue
        out[axis] = values
    return out


class Experiment:
    """A model family, its default hyper-parameters, a grid over them and a number of seeds.

    Args:
        name: "group/experiment", e.g. "v1/baseline4" (the training_data/ sub-path).
        defaults: every configurable key with its default value; `--set` accepts only these.
            Keys the pipeline itself reads: epochs, batch_size, log_every, seeds (repetitions
            per run), ensemble (train the seeds of a run as one replicated model), shuffle_seed,
            early_stop (patience in epochs, 0 = fixed epochs; NDN3 early_stop_mode 1 on
            "validation", 2 on "train" as early_stop_on) and lbfgs_maxiter (> 0: full-batch
            L-BFGS after the epochs; with epochs=0 it is the only fit, NDN3 learning_alg='lbfgs';
            lbfgs_rounds restarts it from where it stopped, see `fit_lbfgs`),
            drop_last_batch (upstream NDN3's floor(T / batch_size) steps; default False keeps
            the last partial batch as the thesis's fork did).
        data: config → {"train": (x, y), "validation": (x, y), ...}; further (x, y) splits are
            evaluated and logged like validation under their own names.
        build: (config, seed, replicas) → a compiled Keras model; with `replicas=R` it holds seeds
            seed … seed+R−1 (see `ndnx.layers.replicas`).
        grid: {key: [values]}; the runs are the Cartesian product. A tuple of keys is one joint
            axis whose values are tuples, e.g. {("batch_size", "epochs"): [(8, 250), (16, 500)]}
            (thesis exp. 1.2.6 scales the epochs with the batch size).
        seeds: default repetitions per run (the `seeds` key).
        evaluate: optional per-replica evaluation, (model, x, y) → {metric: array}.
        callbacks: optional config → list of extra Keras callbacks for each job.
        hypermodel: optional config → keras_tuner.HyperModel, for `ndnx tune`.
        description: one line for listings.

    Example (experiments/v1/baseline4.py):
        experiment = Experiment("v1/baseline4", defaults={...}, data=load, build=build, seeds=10)
        if __name__ == "__main__":
            experiment.main()
    """

    def __init__(self, name, defaults, data, build, grid=None, seeds=10, evaluate=None,
                 callbacks=None, hypermodel=None, description=""):
        if name.count("/") != 1 or not all(name.split("/")):
            raise ValueError(f"Experiment: name must be 'group/experiment', got {name!r}")
        missing = [k for k in ("epochs", "batch_size") if k not in defaults]
        if missing:
            raise ValueError(f"Experiment {name}: defaults must define {missing}")
        self.name = name
        self.defaults = dict(defaults)
        self.defaults.setdefault("log_every", 10)
        self.defaults.setdefault("ensemble", True)
        self.defaults.setdefault("shuffle_seed", 0)
        self.defaults.setdefault("early_stop", 0)
        self.defaults.setdefault("early_stop_on", "validation")
        self.defaults.setdefault("lbfgs_maxiter", 0)
        self.defaults.setdefault("lbfgs_rounds", 1)
        self.defaults.setdefault("drop_last_batch", False)
        self.defaults.setdefault("seeds", int(seeds))
        self.data = data
        self.build = build
        self.grid = {k: list(v) for k, v in (grid or {}).items()}
        for axis, values in self.grid.items():
            keys = axis if isinstance(axis, tuple) else (axis,)
            unknown = [k for k in keys if k not in self.defaults]
            if unknown:
                raise ValueError(f"Experiment {name}: grid keys {unknown} have no default")
            if isinstance(axis, tuple) and any(not isinstance(v, (list, tuple)) or len(v) != len(axis)
                                               for v in values):
                raise ValueError(f"Experiment {name}: the joint grid axis {axis} expects values that are "
                                 f"tuples of {len(axis)}, got {values!r}")
        self.seeds = int(seeds)
        self.evaluate = evaluate
        self.callbacks = callbacks
        self.hypermodel = hypermodel
        self.description = description
        self.source = None
        self._data_cache = {}

    def derive(self, name, defaults=None, grid=None, seeds=None, description=None):
        """A new experiment with this one's data, build and evaluation but other defaults or grid.

        `defaults` updates (and may extend) the defaults; `grid` replaces the grid.

        Example (experiments/v1/baseline1.py):
            experiment = baseline4.derive("v1/baseline1", defaults=dict(lr=1e-4, l2_output=0.0))
        """
        # Data go through this experiment's cache, which its own `build` reads as well.
        derived = Experiment(
            name, {**self.defaults, **(defaults or {})}, data=self.load_data,
            build=self.build, grid=self.grid if grid is None else grid,
            seeds=self.defaults["seeds"] if seeds is None else seeds,
            evaluate=self.evaluate, callbacks=self.callbacks, hypermodel=self.hypermodel,
            description=self.description if description is None else description)
        if seeds is not None:
            derived.defaults["seeds"] = int(seeds)
        derived.source = self.source
        return derived

    def runs(self, overrides=None):
        """The grid's points with `overrides` applied (a list value makes or replaces an axis)."""
        overrides = dict(overrides or {})
        grid = dict(self.grid)
        fixed = {}
        for k, v in overrides.items():
            grid = _without_key(grid, k)
            if isinstance(v, list) and not isinstance(self.defaults.get(k), (list, tuple)):
                grid[k] = v
            else:
                fixed[k] = v
        axes = list(grid)
        runs = []
        for i, values in enumerate(itertools.product(*(grid[a] for a in axes))):
            varied = {}
            for axis, value in zip(axes, values):
                varied.update(zip(axis, value) if isinstance(axis, tuple) else [(axis, value)])
            config = {**self.defaults, **fixed, **varied}
            runs.append(Run(i, f"run{i}", config, varied))
        return runs

    def load_data(self, config):
        key = json.dumps({k: config[k] for k in sorted(config)}, default=str)
        if key not in self._data_cache:
            self._data_cache = {key: self.data(config)}
        return self._data_cache[key]

    def seed_groups(self, seeds, seeds_per_job=None, config=None):
        seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
        ensemble = True if config is None else bool(config.get("ensemble", True))
        if seeds_per_job is None:
            seeds_per_job = len(seeds) if ensemble else 1
        seeds_per_job = max(1, int(seeds_per_job))
        return [seeds[i:i + seeds_per_job] for i in range(0, len(seeds), seeds_per_job)]

    def run_job(self, run, seeds, root=None, progress=True, strategy=None):
        """Train the repetitions `seeds` of `run`; resumes from its checkpoint if there is one."""
        from ndnx.training import save_model_atomic, save_replicas, train
        from ndnx.training.strategy import is_chief

        layout = Layout(root or default_root(), self.name)
        config = run.config
        seeds = list(seeds)
        data = self.load_data(config)
        chief = strategy is None or is_chief(strategy)
        if chief:
            self.write_run_info(layout, run, total_seeds=None)
        contiguous = seeds == list(range(seeds[0], seeds[0] + len(seeds)))
        groups = [seeds] if (len(seeds) > 1 and config.get("ensemble", True) and contiguous) else [[s] for s in seeds]
        results = {}
        for group in groups:
            replicas = len(group) if len(group) > 1 else None
            if strategy is not None:
                with strategy.scope():
                    model = self.build(config, group[0], replicas)
                    model.optimizer.build(model.trainable_variables)
            else:
                model = self.build(config, group[0], replicas)
            outcome = train(
                model, data["train"], data.get("validation"), epochs=int(config["epochs"]),
                batch_size=int(config["batch_size"]), seeds=group, log_dir=layout.logs(run.name),
                checkpoint_dir=layout.checkpoints(run.name, group), log_every=int(config["log_every"]),
                shuffle_seed=int(config["shuffle_seed"]), evaluate=self.evaluate, progress=progress,
                callbacks=self.callbacks(config) if self.callbacks else (),
                extra_splits={k: v for k, v in data.items() if k not in ("train", "validation")},
                label=f"{self.name}/{run.name}/{seed_label(group)}", strategy=strategy,
                early_stop={"patience": int(config["early_stop"]), "split": config["early_stop_on"]}
                if int(config["early_stop"]) > 0 else None,
                lbfgs={"maxiter": int(config["lbfgs_maxiter"]), "rounds": int(config["lbfgs_rounds"])}
                if int(config["lbfgs_maxiter"]) > 0 else None,
                drop_remainder=bool(config["drop_last_batch"]))
            if not chief:
                results[seed_label(group)] = outcome
                continue  # a worker of a multi-worker strategy: the chief saves
            paths = [layout.model(run.name, s) for s in group]
            if replicas is None:
                save_model_atomic(model, paths[0])
            else:
                save_replicas(model, paths)
            results[seed_label(group)] = outcome
        if chief:
            self.mark_finished(layout, run)
        return results

    def write_run_info(self, layout, run, total_seeds):
        logs = layout.logs(run.name)
        _atomic_write(os.path.join(logs, "config.yaml"),
                      yaml.safe_dump(run.config, sort_keys=True, default_flow_style=False))
        info = {
            "experiment": self.name,
            "run": run.name,
            "varied": run.varied,
            "versions": package_versions(),
            "git_commit": git_commit(self.source or __file__),
            "command": sys.argv,
        }
        _atomic_write(os.path.join(logs, "run_info.json"), json.dumps(info, indent=2, default=str))

    def mark_finished(self, layout, run, seeds=None):
        """Append the run to experiments.txt once every repetition has its final model.

        The check-and-append is done under an exclusive lock, so two jobs finishing the last two
        seeds at once add exactly one line, and a line is one write (never interleaved).
        """
        seeds = range(self.expected_seeds(run)) if seeds is None else seeds
        if not all(os.path.exists(layout.model(run.name, s)) for s in seeds):
            return False
        os.makedirs(layout.root, exist_ok=True)
        line = f"{self.name}/{run.name}"
        varied = " ".join(f"{k}={v}" for k, v in run.varied.items())
        with open(layout.experiments_txt + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            existing = []
            if os.path.exists(layout.experiments_txt):
                with open(layout.experiments_txt) as f:
                    existing = [ln.split("#")[0].strip() for ln in f]
            if line in existing:
                return True
            fd = os.open(layout.experiments_txt, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (line + (f"  # {varied}" if varied else "") + "\n").encode())
            finally:
                os.close(fd)
        return True

    def expected_seeds(self, run):
        return int(run.config["seeds"])

    def main(self, argv=None):
        """`python experiments/<group>/<name>.py [--set k=v ...] [--seeds N]`: run in-process."""
        from ndnx.cli import main as cli_main

        return cli_main(["run", self.source or sys.argv[0], *(sys.argv[1:] if argv is None else argv)])


def load_experiment(path):
    """Import an experiment script and return its module-level `experiment`."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"experiment script not found: {path}")
    name = "ndnx_experiment_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exp = getattr(module, "experiment", None)
    if not isinstance(exp, Experiment):
        raise ValueError(f"{path}: expected a module-level `experiment = ndnx.experiment.Experiment(...)`")
    exp.source = os.path.abspath(path)
    return exp
