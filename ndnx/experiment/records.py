"""What a run records about itself: its configuration, versions and commit, and that it finished.

`logs/<group>/<experiment>/<run>/config.yaml` holds the resolved configuration and `run_info.json`
the experiment, the run's varied keys, package versions, the git commit, the command, the fit
kind, the objective, the summary tags (what `ndnx summarize` shows by default) and what each
metric is ("metrics", printed over the summary table).
`experiments.txt` gets one line per finished run.
"""

import fcntl
import json
import os
import platform
import subprocess
import sys
from importlib import metadata

import yaml

from ndnx.files import atomic_write_text

__all__ = ["package_versions", "git_commit", "write_run_info", "read_run_info", "mark_finished",
           "metric_descriptions"]


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


def metric_descriptions(experiment):
    """{metric: what it is} of the metrics the experiment's evaluation logs: the `descriptions` of
    its own `evaluate` function when it gives one, else its fit's."""
    source = experiment.evaluate if experiment.evaluate is not None else experiment.fit
    return {str(k): str(v) for k, v in (getattr(source, "descriptions", None) or {}).items()}


def write_run_info(experiment, layout, run):
    """Write the run's config.yaml and run_info.json (atomically) under its logs directory."""
    logs = layout.logs(run.name)
    atomic_write_text(os.path.join(logs, "config.yaml"),
                yaml.safe_dump(run.config, sort_keys=True, default_flow_style=False))
    info = {
        "experiment": experiment.name,
        "run": run.name,
        "varied": run.varied,
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
