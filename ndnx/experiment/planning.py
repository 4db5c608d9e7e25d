"""Running an experiment's grid: which jobs, where their output goes, and who runs them.

Every run of the grid is cut into jobs (by default one job per run, its seeds trained as one
ensemble; `seeds_per_job` splits them). One job alone runs in this process; several run as
`ndnx job ...` processes of the local runner, or as one SLURM / SGE array job (`ndnx.runners`).
When everything ran here, the summary over seeds is printed.

Before any job starts, every run's configuration is checked (the experiment's and its fit's
checks), every run folder that exists must hold the same configuration, and no repetition may be
being fitted by another process (unless `wait`): bad input is refused in one line and nothing is
written.
"""

import json
import os
import shlex
import sys

from ndnx import runners
from ndnx.experiment import ownership, records
from ndnx.experiment.layout import default_root, seed_label

__all__ = ["plan_jobs", "job_argv", "run_experiment", "run_one_job", "override_assignments", "check_root",
           "tensorboard_command", "RUNNER_OPTIONS"]

#: The options each scheduler runner takes from the command line (`ndnx.runners`).
RUNNER_OPTIONS = {
    "slurm": ("partition", "time", "mem", "cpus_per_task", "extra", "name"),
    "sge": ("queue", "time", "mem", "pe", "slots", "extra", "name"),
}


def check_root(root):
    """Refuse a training_data root that is not a directory (one-line ValueError)."""
    if os.path.exists(root) and not os.path.isdir(root):
        raise ValueError(f"--root {root} is a file; expected the training_data directory (it is created if missing)")
    parent = os.path.dirname(os.path.abspath(root))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise ValueError(f"--root {root} is under the file {parent}; expected a directory path")


def tensorboard_command(root, experiment):
    """A command that opens the experiment's logs in TensorBoard with this Python (no PATH needed)."""
    return shlex.join([sys.executable, "-m", "tensorboard.main", "--logdir",
                       os.path.abspath(os.path.join(root, "logs", experiment))])


def plan_jobs(exp, overrides=None, seeds_per_job=None):
    """[(run, seeds)] of every job of the grid."""
    return [(run, seeds) for run in exp.runs(overrides)
            for seeds in exp.seed_groups(int(run.config["seeds"]), seeds_per_job, run.config)]


def override_assignments(overrides):
    """`--set` arguments that reproduce `overrides` (JSON values are YAML too)."""
    return [f"{key}={json.dumps(value)}" for key, value in (overrides or {}).items()]


def job_argv(exp, overrides, run, seeds, root, strategy="default", wait=False, restart=False):
    """The command of one job: `python -m ndnx.cli job SCRIPT --run NAME --only-seeds ...`."""
    if exp.source is None:
        raise ValueError(f"{exp.name}: jobs in other processes load the experiment from its script, and this "
                         "experiment was not defined in a file")
    argv = [sys.executable, "-m", "ndnx.cli", "job", exp.source, "--run", run.name,
            "--only-seeds", ",".join(str(s) for s in seeds), "--root", os.path.abspath(root),
            "--strategy", strategy, "--no-progress"]
    argv += ["--wait"] if wait else []
    argv += ["--restart"] if restart else []
    for assignment in override_assignments(overrides):
        argv += ["--set", assignment]
    return argv


def _check_runner_options(runner, options):
    options = {k: v for k, v in (options or {}).items() if v not in (None, (), [])}
    if not options:
        return {}
    if runner == "local":
        raise ValueError(f"--{sorted(options)[0].replace('_', '-')} is an option of --runner slurm or sge, "
                         f"not of the local runner")
    allowed = RUNNER_OPTIONS[runner]
    wrong = sorted(k for k in options if k not in allowed)
    if wrong:
        others = {"partition": "queue", "queue": "partition", "cpus_per_task": "slots", "slots": "cpus_per_task"}
        hint = f" (it takes --{others[wrong[0]].replace('_', '-')})" if wrong[0] in others else ""
        raise ValueError(f"--{wrong[0].replace('_', '-')} is not an option of --runner {runner}{hint}")
    return options


def _strategy(kind):
    if kind in (None, "default"):
        return None
    from ndnx.training.strategy import strategy

    return strategy(kind)


def run_experiment(exp, overrides=None, runner="local", jobs=1, seeds_per_job=None, dry_run=False, root=None,
                   strategy="default", summary=True, runner_options=None, wait=False, restart=False):
    """Run (or submit) every job of the grid; returns an exit code (1 when a local job failed).

    Args:
        exp: the experiment.
        overrides: {key: value} over the defaults (a list value makes a grid axis).
        runner: "local", "slurm" or "sge".
        jobs: processes of the local runner at once (1 with a single job: it runs in this process).
        seeds_per_job: repetitions per job (default: all seeds of a run in one ensemble job).
        dry_run: print the jobs (or the scheduler's script) and write nothing.
        root: the training_data root (default ./training_data or $NDNX_TRAINING_DATA).
        strategy: the tf.distribute strategy of each job ("default", "auto", "mirrored", "multi_worker").
        summary: print the percentiles over seeds of every logged split at the end.
        runner_options: keyword arguments of the scheduler runner (`RUNNER_OPTIONS`: partition,
            time, mem, cpus_per_task, extra for SLURM; queue, time, mem, pe, slots, extra for SGE).
        wait: a repetition another process is fitting is waited for (default: refused).
        restart: start every run afresh (its checkpoints, models, records and logs are removed).
    """
    root = root or default_root()
    check_root(root)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"--jobs expects a positive number, got {jobs!r}")
    if seeds_per_job is not None and (isinstance(seeds_per_job, bool) or not isinstance(seeds_per_job, int)
                                      or seeds_per_job < 1):
        raise ValueError(f"--seeds-per-job expects a positive number, got {seeds_per_job!r}")
    runner_options = _check_runner_options(runner, runner_options)
    layout = exp.layout(root)
    runs = exp.runs(overrides)
    for run in runs:  # every run's values, and its folder's configuration, before anything is written
        exp.check_config(run.config)
        records.check_stored_config(exp.name, layout, run)
    planned = plan_jobs(exp, overrides, seeds_per_job)
    # The workers of a multi-worker run are not refused: the chief alone claims the seeds.
    if not dry_run and not wait and strategy in (None, "default", "mirrored"):
        for run, seeds in planned:
            for seed, path, holder in ownership.busy(layout, run.name, seeds)[:1]:
                raise RuntimeError(ownership.busy_message(exp.name, run.name, seed, path, holder))
    in_process = runner == "local" and len(planned) == 1 and jobs <= 1 and not dry_run
    job_list = [] if in_process else [
        runners.Job(name=f"{run.name}/{seed_label(seeds)}",
                    argv=job_argv(exp, overrides, run, seeds, root, strategy, wait=wait, restart=restart),
                    out=layout.job_log(run.name, seeds, "out"), err=layout.job_log(run.name, seeds, "err"),
                    cwd=os.getcwd())
        for run, seeds in planned]
    print(f"{exp.name}: {len(runs)} run(s) × {runs[0].config['seeds']} seed(s) → {len(planned)} job(s) [{runner}]")
    if runner != "local":
        submitted = runners.get_runner(runner, **runner_options).submit(job_list, dry_run=dry_run)
        print(submitted if dry_run else f"submitted: {submitted}")
        return 0
    if dry_run:
        for job in job_list:
            print(f"{job.name}: {shlex.join(job.argv)}")
        return 0
    failed = 0
    if in_process:
        run, seeds = planned[0]
        exp.run_job(run, seeds, root=root, progress=True, strategy=_strategy(strategy), wait=wait, restart=restart)
    else:
        results = runners.get_runner("local", jobs=jobs).submit(job_list)
        failed = sum(1 for r in results if not r.ok)
    from ndnx.training.strategy import is_chief_task, task_description

    if summary and not is_chief_task(strategy):
        # A worker of a multi-worker run writes nothing; the logs are the chief's, possibly unfinished.
        print(f"{exp.name}: {task_description(strategy)} is done; the chief of the cluster prints the summary "
              "when the run has finished")
    elif summary:
        from ndnx.analysis.summary import logged_splits, print_summary

        names = {run.name for run in runs}  # this command's runs, not every run of the experiment
        for split in logged_splits(root, exp.name, runs=names):
            print_summary(root, exp.name, split, tags=exp.summary_tags, runs=names)
    print(f"TensorBoard: {tensorboard_command(root, exp.name)}")
    if failed:
        print(f"{failed} job(s) failed; see {os.path.join(root, 'job_logs', exp.name)}", file=sys.stderr)
        return 1
    return 0


def run_one_job(exp, overrides, run_name, seeds, root=None, progress=True, strategy="default", wait=False,
                restart=False):
    """Fit the repetitions `seeds` of the run named `run_name` (or its hash) — what `ndnx job` does."""
    if root is not None:
        check_root(root)
    runs = exp.runs(overrides)
    found = [r for r in runs if r.name == run_name] or [r for r in runs if r.hash == run_name]
    if not found:
        raise ValueError(f"{exp.name}: no run named {run_name!r}; runs are {', '.join(r.name for r in runs)}")
    exp.run_job(found[0], seeds, root=root, progress=progress, strategy=_strategy(strategy), wait=wait,
                restart=restart)
    return 0
