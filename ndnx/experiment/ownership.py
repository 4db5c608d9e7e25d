"""Who writes a run's files: one process per repetition, leftovers of dead writers, starting over.

A process fitting repetitions (seeds) of a run holds, for each, the lock
`logs/<group>/<experiment>/<run>/.seed<k>.lock` (`claim`, an fcntl lock released when the process
ends, however it ends). A second process asking for a repetition that is being fitted is refused
in one line naming the lock and its holder's pid and host — or, with `wait=True` (`--wait`),
waits until the holder is done and then goes on (it resumes from the holder's last checkpoint, or
finds the run finished). So two identical commands never train the same repetition at once.

Holding the locks, a job is the only writer of its repetitions' files, so it removes what an
earlier, killed writer of those files left behind (`remove_leftovers`): hidden `.tmp-*.partial`
temporaries of its models, chain-step models and records, and TensorFlow's unfinished checkpoint
pieces (`ckpt-N_temp/`, `checkpoint.tmp*`, checkpoint files the index no longer names).

`start_over` (`--restart`) removes a job's checkpoints, models, records and logs and the run's line in
experiments.txt, for a run whose checkpoint is damaged or that should be fitted afresh.
"""

import contextlib
import os
import re
import sys

from ndnx.files import FileLock, LockHeld, remove_path, remove_temporaries
from ndnx.experiment.layout import seed_label

__all__ = ["claim", "busy", "busy_message", "remove_leftovers", "start_over"]


def busy_message(experiment, run_name, seed, path, holder):
    return (f"{experiment}/{run_name} seed{seed} is being fitted by {holder or 'another process'} "
            f"(lock {path}); run the command again when it has finished, or add --wait to wait for it")


def _remove_empty_dirs(path, stop):
    """Remove `path` and its parents while they are empty, up to (not including) `stop`."""
    path, stop = os.path.abspath(path), os.path.abspath(stop)
    while path != stop and path.startswith(stop + os.sep):
        try:
            os.rmdir(path)
        except OSError:
            return
        path = os.path.dirname(path)


@contextlib.contextmanager
def claim(experiment, layout, run_name, seeds, wait=False):
    """Hold the locks of `seeds` of the run for the body (see the module docstring).

    Raises RuntimeError (one line: the lock, its holder) when another process holds one and not
    `wait`. A run folder that is empty afterwards (the job failed before writing) is removed.
    """
    locks = []
    try:
        for seed in sorted(set(seeds)):
            lock = FileLock(layout.seed_lock(run_name, seed))

            def waiting(holder, seed=seed, path=lock.path):
                print(f"{experiment}/{run_name} seed{seed}: waiting for {holder or 'another process'} "
                      f"(lock {path})", file=sys.stderr, flush=True)

            try:
                lock.acquire(wait=wait, on_wait=waiting)
            except LockHeld as exc:
                raise RuntimeError(busy_message(experiment, run_name, seed, exc.path, exc.holder)) from None
            locks.append(lock)
        yield locks
    finally:
        for lock in reversed(locks):
            lock.release()
        _remove_empty_dirs(layout.logs(run_name), layout.root)


def busy(layout, run_name, seeds):
    """[(seed, lock path, holder)] of the seeds of the run another process is fitting now."""
    out = []
    for seed in sorted(set(seeds)):
        lock = FileLock(layout.seed_lock(run_name, seed))
        holder = lock.holder()
        if holder is not None:
            out.append((seed, lock.path, holder))
    return out


_CHECKPOINT_FILE = re.compile(r"(ckpt-\d+)\.(index|data-\d+-of-\d+)")


def _checkpoint_leftovers(directory):
    """What a killed TensorFlow checkpoint save leaves in `directory`: `ckpt-N_temp/` directories,
    `checkpoint.tmp*` files, and checkpoint files the `checkpoint` index does not name."""
    try:
        entries = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = [e for e in entries if (e.endswith("_temp") and e.startswith("ckpt-")) or e.startswith("checkpoint.tmp")]
    try:
        with open(os.path.join(directory, "checkpoint")) as f:
            named = {os.path.basename(p) for p in re.findall(r'"([^"]*)"', f.read())}
    except OSError:
        named = set()  # no index: no checkpoint can be restored, any checkpoint file is a leftover
    found += [e for e in entries if (m := _CHECKPOINT_FILE.fullmatch(e)) and m.group(1) not in named]
    return [os.path.join(directory, e) for e in sorted(found)]


def _job_paths(layout, run_name, groups, steps):
    """The checkpoint directories and chain-step models of the jobs fitting `groups` of seeds."""
    checkpoints, step_models = [], []
    for group in groups:
        checkpoints.append(layout.checkpoints(run_name, group))
        for step in steps:
            checkpoints.append(layout.checkpoints(run_name, group, step))
            step_models.append(layout.step_model(run_name, step, group))
    return checkpoints, step_models


def remove_leftovers(layout, run_name, groups, steps=()):
    """Remove what killed writers of these jobs' files left behind; returns the removed paths.

    Only while holding the locks of every seed in `groups` (`claim`): nobody else writes them.
    """
    seeds = sorted({s for group in groups for s in group})
    removed = remove_temporaries(layout.models(run_name), [f"seed{s}.keras" for s in seeds])
    removed += remove_temporaries(os.path.dirname(layout.records(run_name, 0)), [f"seed{s}.h5" for s in seeds])
    checkpoints, step_models = _job_paths(layout, run_name, groups, steps)
    for path in step_models:
        removed += remove_temporaries(os.path.dirname(path), [os.path.basename(path)])
    for directory in checkpoints:
        for path in _checkpoint_leftovers(directory):
            remove_path(path)
            removed.append(path)
    return removed


def start_over(experiment, layout, run, groups, steps=()):
    """Remove the checkpoints, models, records and logs of these jobs, and the run's finished line.

    Only while holding the locks of every seed in `groups` (`claim`). The run's config.yaml stays.
    """
    from ndnx.experiment.records import unmark_finished

    seeds = sorted({s for group in groups for s in group})
    checkpoints, step_models = _job_paths(layout, run.name, groups, steps)
    for path in [*checkpoints, *step_models]:
        remove_path(path)
    for seed in seeds:
        for path in (layout.model(run.name, seed), layout.records(run.name, seed),
                     os.path.join(layout.logs(run.name), f"seed{seed}")):
            remove_path(path)
    unmark_finished(experiment, layout, run)
    return [seed_label(group) for group in groups]
