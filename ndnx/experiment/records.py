"""What a run records about itself: its configuration, versions and commit, and that it finished.

`logs/<group>/<experiment>/<run>/config.yaml` holds the resolved configuration and `run_info.json`
the experiment, the run's varied keys, package versions, the git commit, the command, the fit
kind, the objective, the summary tags (what `ndnx summarize` shows by default) and what each
metric is ("metrics", printed over the summary table).
`experiments.txt` gets one line per finished run.

A run folder holds one configuration for ever: `write_run_info` checks, under the run's lock,
that a config.yaml already there is the same configuration (`check_stored_config`) and refuses
otherwise, so no run's records are ever overwritten by another's.
"""

import fcntl
import json
import os
import platform
import subprocess
import sys
from importlib import metadata

import yaml

from ndnx.experiment.config import config_differences
from ndnx.files import FileLock, atomic_write_text, remove_temporaries

__all__ = ["package_versions", "git_commit", "write_run_info", "read_run_info", "read_config",
           "check_stored_config", "mark_finished", "unmark_finished", "metric_descriptions"]


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


def read_config(layout, run_name):
    """The configuration stored in the run's config.yaml, or None when there is none yet."""
    path = os.path.join(layout.logs(run_name), "config.yaml")
    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read {path} ({type(exc).__name__}); the run folder's configuration is "
                         f"unknown, so it is not reused: move the folder away") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} does not hold a configuration (a mapping of keys); the run folder is not "
                         f"reused: move it away")
    return config


def _shown(value):
    return " ".join(repr(value).split())[:40]


def check_stored_config(experiment, layout, run):
    """Refuse (one-line ValueError) when the run folder holds another configuration than `run.config`."""
    stored = read_config(layout, run.name)
    if stored is None:
        return
    keys = config_differences(stored, run.config)
    if not keys:
        return
    missing = object()
    details = "; ".join(
        f"{k}: {'absent' if stored.get(k, missing) is missing else _shown(stored[k])} there, "
        f"{'absent' if run.config.get(k, missing) is missing else _shown(run.config[k])} asked" for k in keys[:4])
    more = f"; and {len(keys) - 4} more" if len(keys) > 4 else ""
    raise ValueError(f"{experiment}: the run folder {layout.logs(run.name)} holds another configuration "
                     f"({details}{more}); a run folder is never reused for a different configuration: move it "
                     f"away to run this one")


def metric_descriptions(experiment):
    """{metric: what it is} of the metrics the experiment's evaluation logs: the `descriptions` of
    its own `evaluate` function when it gives one, else its fit's."""
    source = experiment.evaluate if experiment.evaluate is not None else experiment.fit
    return {str(k): str(v) for k, v in (getattr(source, "descriptions", None) or {}).items()}


def write_run_info(experiment, layout, run):
    """Write the run's config.yaml and run_info.json (atomically) under its logs directory.

    Under the run's lock: a config.yaml already there must be the same configuration (else
    ValueError), and temporaries of earlier writers killed mid-write are removed.
    """
    logs = layout.logs(run.name)
    lock = FileLock(layout.run_lock(run.name)).acquire(wait=True)  # held for a moment by any writer
    try:
        check_stored_config(experiment.name, layout, run)
        remove_temporaries(logs, ["config.yaml", "run_info.json"])
        _write_run_info(experiment, layout, run)
    finally:
        lock.release()


def _write_run_info(experiment, layout, run):
    logs = layout.logs(run.name)
    atomic_write_text(os.path.join(logs, "config.yaml"),
                      yaml.safe_dump(run.config, sort_keys=True, default_flow_style=False))
    info = {
        "experiment": experiment.name,
        "run": run.name,
        "varied": run.varied,
        "config_hash": run.hash,
        "fit": type(experiment.fit).__name__,
        "objective": experiment.objective.to_dict() if experiment.objective is not None else None,
        "summary_tags": list(experiment.summary_tags) if experiment.summary_tags else None,
        "metrics": metric_descriptions(experiment),
        "versions": package_versions(),
        "git_commit": git_commit(experiment.source or __file__),
        "command": sys.argv,
    }
    atomic_write_text(os.path.join(logs, "run_info.json"), json.dumps(info, indent=2, default=str))


def read_run_info(run_dir):
    """The run_info.json of a run directory as a dict ({} when there is none or it is unreadable)."""
    path = os.path.join(run_dir, "run_info.json")
    try:
        with open(path) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _lock_path(layout):
    # Hidden: a lock file is not a result.
    return os.path.join(layout.root, ".experiments.txt.lock")


def mark_finished(experiment, layout, run, products):
    """Append the run to experiments.txt once every repetition has its final product.

    `products` are the files whose existence means a repetition finished (its final models, or
    what a simulation recorded). The check-and-append is done under an exclusive lock, so two jobs
    finishing the last two seeds at once add exactly one line, and a line is one write (never
    interleaved).
    """
    if not all(os.path.exists(p) for p in products):
        return False
    os.makedirs(layout.root, exist_ok=True)
    line = f"{experiment}/{run.name}"
    varied = " ".join(f"{k}={v}" for k, v in run.varied.items())
    with open(_lock_path(layout), "w") as lock:
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


def unmark_finished(experiment, layout, run):
    """Take the run's line out of experiments.txt (a run started over is not finished)."""
    if not os.path.exists(layout.experiments_txt):
        return False
    line = f"{experiment}/{run.name}"
    with open(_lock_path(layout), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(layout.experiments_txt) as f:
            lines = f.readlines()
        kept = [ln for ln in lines if ln.split("#")[0].strip() != line]
        if len(kept) == len(lines):
            return False
        atomic_write_text(layout.experiments_txt, "".join(kept))
    return True
