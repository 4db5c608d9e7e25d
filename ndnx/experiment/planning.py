"""Running an experiment's grid: which jobs, where their output goes, and who runs them.

Every run of the grid is cut into jobs (by default one job per run, its seeds trained as one
ensemble; `seeds_per_job` splits them). One job alone runs in this process; several run as
`ndnx job ...` processes of the local runner, or as one SLURM / SGE array job (`ndnx.runners`).
When everything ran here, the summary over seeds is printed.
"""

import json
import os
import shlex
import sys

from ndnx import runners
from ndnx.experiment.layout import default_root, seed_label

__all__ = ["plan_jobs", "job_argv", "run_experiment", "override_assignments"]


def plan_jobs(exp, overrides=None, seeds_per_job=None):
    """[(run, seeds)] of every job of the grid."""
    return [(run, seeds) for run in exp.runs(overrides)
            for seeds in exp.seed_groups(int(run.config["seeds"]), seeds_per_job, run.config)]


def override_assignments(overrides):
    """`--set` arguments that reproduce `overrides` (JSON values are YAML too)."""
    return [f"{key}={json.dumps(value)}" for key, value in (overrides or {}).items()]


def job_argv(exp, overrides, run, seeds, root, strategy="default"):
    """The command of one job: `python -m ndnx.cli job SCRIPT --run NAME --only-seeds ...`."""
    if exp.source is None:
        raise ValueError(f"{exp.name}: jobs in other processes load the experiment from its script, and this "
                         "experiment was not defined in a file")
    argv = [sys.executable, "-m", "ndnx.cli", "job", exp.source, "--run", run.name,
            "--only-seeds", ",".join(str(s) for s in seeds), "--root", os.path.abspath(root),
            "--strategy", strategy, "--no-progress"]
    for assignment in override_assignments(overrides):
        argv += ["--set", assignment]
    return argv


def _strategy(kind):
    if kind in (None, "default"):
        return None
    from ndnx.training.strategy import strategy

    return strategy(kind)


def run_experiment(exp, overrides=None, runner="local", jobs=1, seeds_per_job=None, dry_run=False, root=None,
                   strategy="default", summary=True, runner_options=None):
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
        runner_options: keyword arguments of the scheduler runner (partition, time, mem, ...).
    """
    root = root or default_root()
    layout = exp.layout(root)
    runs = exp.runs(overrides)
    planned = plan_jobs(exp, overrides, seeds_per_job)
    in_process = runner == "local" and len(planned) == 1 and jobs <= 1 and not dry_run
    job_list = [] if in_process else [
        runners.Job(name=f"{run.name}/{seed_label(seeds)}",
                    argv=job_argv(exp, overrides, run, seeds, root, strategy),
                    out=layout.job_log(run.name, seeds, "out"), err=layout.job_log(run.name, seeds, "err"),
                    cwd=os.getcwd())
        for run, seeds in planned]
    print(f"{exp.name}: {len(runs)} run(s) × {runs[0].config['seeds']} seed(s) → {len(planned)} job(s) [{runner}]")
    if runner != "local":
        submitted = runners.get_runner(runner, **(runner_options or {})).submit(job_list, dry_run=dry_run)
        print(submitted if dry_run else f"submitted: {submitted}")
        return 0
    if dry_run:
        for job in job_list:
            print(f"{job.name}: {shlex.join(job.argv)}")
        return 0
    failed = 0
    if in_process:
        run, seeds = planned[0]
        exp.run_job(run, seeds, root=root, progress=True, strategy=_strategy(strategy))
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

        for split in logged_splits(root, exp.name):
            print_summary(root, exp.name, split, tags=exp.summary_tags)
    print(f"TensorBoard: tensorboard --logdir {os.path.join(root, 'logs', exp.name)}")
    if failed:
        print(f"{failed} job(s) failed; see {os.path.join(root, 'job_logs', exp.name)}", file=sys.stderr)
        return 1
    return 0


def run_one_job(exp, overrides, run_name, seeds, root=None, progress=True, strategy="default"):
    """Fit the repetitions `seeds` of the run named `run_name` (what `ndnx job` does)."""
    runs = {r.name: r for r in exp.runs(overrides)}
    if run_name not in runs:
        raise ValueError(f"{exp.name}: no run named {run_name!r}; runs are {', '.join(runs)}")
    exp.run_job(runs[run_name], seeds, root=root, progress=progress, strategy=_strategy(strategy))
    return 0
