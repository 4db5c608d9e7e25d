"""The options of `ndnx run` / `ndnx job`, shared by the `ndnx` command and experiment scripts.

`python experiments/v1/baseline4.py --set lr=1e-3` and `ndnx run experiments/v1/baseline4.py
--set lr=1e-3` take the same options and do the same thing; the script runs its own, already
loaded experiment (its body runs once). Bad input ends with one line on stderr,
`ndnx: error: ...`, and exit status 2.
"""

import argparse
import os
import sys

from ndnx.experiment.config import parse_overrides
from ndnx.training.strategy import KINDS

__all__ = ["add_experiment_arguments", "add_run_arguments", "add_job_arguments", "overrides_from_args",
           "runner_options_from_args", "run_from_args", "job_from_args", "one_line_errors", "experiment_main"]

ERRORS = (ValueError, OSError, RuntimeError)


def add_experiment_arguments(parser, script=True):
    if script:
        parser.add_argument("experiment", help="experiment script, e.g. experiments/v1/baseline4.py")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                        help="override a default (a YAML list value makes the key a grid axis)")
    parser.add_argument("--seeds", type=int, default=None, help="repetitions per run")
    parser.add_argument("--root", default=None,
                        help="training_data directory (default ./training_data or $NDNX_TRAINING_DATA)")
    parser.add_argument("--strategy", choices=KINDS, default="default",
                        help="tf.distribute strategy of each job (auto: from TF_CONFIG and the devices present)")
    parser.add_argument("--worker-timeout", type=float, default=None, metavar="SECONDS",
                        help="how long a task of a multi-worker cluster waits for the others to start "
                             "(default $NDNX_WORKER_TIMEOUT or 300; 0: no limit)")


def _add_ownership_arguments(parser):
    parser.add_argument("--wait", action="store_true",
                        help="when another process is fitting a repetition of the same run, wait for it to finish "
                             "(default: refuse, naming the lock and its holder's pid)")
    parser.add_argument("--restart", action="store_true",
                        help="start the runs afresh: remove their checkpoints, models, records and logs first "
                             "(e.g. after a damaged checkpoint)")


def add_run_arguments(parser):
    parser.add_argument("--runner", choices=("local", "slurm", "sge"), default="local",
                        help="run the jobs here (local, default) or submit them as one SLURM / SGE array job")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes of the local runner")
    parser.add_argument("--seeds-per-job", type=int, default=None,
                        help="repetitions per job (default: all seeds of a run in one ensemble job)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the configuration, print the jobs (or the scheduler's job script) and exit; "
                             "nothing is written or submitted")
    parser.add_argument("--no-summary", action="store_true", help="do not print the summary table at the end")
    _add_ownership_arguments(parser)
    group = parser.add_argument_group("scheduler options (--runner slurm or sge)")
    group.add_argument("--time", default=None, metavar="HH:MM:SS",
                       help="wall-clock limit of each job (SLURM --time, SGE -l h_rt)")
    group.add_argument("--mem", default=None, metavar="SIZE",
                       help="memory of each job, e.g. 8G (SLURM --mem, SGE -l mem_free=8G; a value with '=' is "
                            "passed to SGE's -l as is)")
    group.add_argument("--partition", "--queue", dest="queue", default=None, metavar="NAME",
                       help="SLURM partition / SGE queue")
    group.add_argument("--cpus", type=int, default=None, metavar="N",
                       help="CPUs of each job (SLURM --cpus-per-task; SGE slots of the --pe parallel environment)")
    group.add_argument("--pe", default=None, metavar="NAME",
                       help="SGE parallel environment the --cpus slots come from, e.g. smp")
    group.add_argument("--directive", dest="directives", action="append", default=[], metavar="TEXT",
                       help="one more scheduler directive, as is, e.g. --directive=--gres=gpu:1 (SLURM) or "
                            "--directive='-l gpu=1' (SGE); repeatable")
    group.add_argument("--job-name", default=None, metavar="NAME", help="name of the array job (default ndnx)")


def add_job_arguments(parser):
    parser.add_argument("--run", required=True,
                        help="run name as `ndnx run` plans it (e.g. lr=0.05-3f9a1c2b), or its hash (3f9a1c2b)")
    parser.add_argument("--only-seeds", required=True, help="comma-separated seeds of this job, e.g. 0,1,2")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (a job's output goes to a file)")
    _add_ownership_arguments(parser)


def overrides_from_args(exp, args):
    """The `--set` and `--seeds` overrides, checked against the experiment's defaults."""
    if args.root:
        from ndnx.experiment.planning import check_root

        check_root(args.root)
        # Experiment scripts (and the jobs they spawn) find training_data/ through this variable.
        os.environ["NDNX_TRAINING_DATA"] = os.path.abspath(args.root)
    if getattr(args, "worker_timeout", None) is not None:
        if not 0 <= args.worker_timeout < float("inf"):
            raise ValueError(f"--worker-timeout expects a number of seconds ≥ 0 (0: no limit), got {args.worker_timeout}")
        # Read where the strategy is built, here and in the jobs this process starts.
        os.environ["NDNX_WORKER_TIMEOUT"] = f"{args.worker_timeout:g}"
    overrides = parse_overrides(exp.name, args.assignments, exp.defaults)
    if args.seeds is not None:
        if args.seeds < 1:
            raise ValueError(f"--seeds expects a positive number, got {args.seeds}")
        overrides["seeds"] = args.seeds
    return overrides


def runner_options_from_args(args):
    """The scheduler runner's keyword arguments from the scheduler options (`ndnx.runners`)."""
    given = {"time": args.time, "mem": args.mem, "queue": args.queue, "cpus": args.cpus, "pe": args.pe,
             "directives": args.directives or None, "job_name": args.job_name}
    given = {k: v for k, v in given.items() if v is not None}
    if args.cpus is not None and args.cpus < 1:
        raise ValueError(f"--cpus expects a positive number, got {args.cpus}")
    if not given:
        return {}
    if args.runner == "local":
        raise ValueError(f"--{sorted(given)[0].replace('_', '-')} is an option of --runner slurm or sge, not of the "
                         "local runner")
    options = {"time": args.time, "mem": args.mem, "extra": tuple(args.directives or ()), "name": args.job_name}
    if args.runner == "slurm":
        if args.pe is not None:
            raise ValueError("--pe is an SGE option; SLURM takes --cpus alone (--cpus-per-task)")
        options.update(partition=args.queue, cpus_per_task=args.cpus)
    else:
        if args.cpus is not None and args.pe is None:
            raise ValueError("--cpus on SGE needs --pe NAME, the parallel environment its slots come from (e.g. smp)")
        options.update(queue=args.queue, pe=args.pe, slots=args.cpus)
    return {k: v for k, v in options.items() if v not in (None, ())}


def run_from_args(exp, args):
    from ndnx.experiment.planning import run_experiment

    overrides = overrides_from_args(exp, args)
    return run_experiment(exp, overrides, runner=args.runner, jobs=args.jobs, seeds_per_job=args.seeds_per_job,
                          dry_run=args.dry_run, root=args.root, strategy=args.strategy,
                          summary=not args.no_summary, runner_options=runner_options_from_args(args),
                          wait=args.wait, restart=args.restart)


def job_from_args(exp, args):
    from ndnx.experiment.planning import run_one_job

    overrides = overrides_from_args(exp, args)
    try:
        seeds = [int(s) for s in args.only_seeds.split(",")]
    except ValueError:
        raise ValueError(f"--only-seeds expects comma-separated integers, got {args.only_seeds!r}") from None
    return run_one_job(exp, overrides, args.run, seeds, root=args.root, progress=not args.no_progress,
                       strategy=args.strategy, wait=args.wait, restart=args.restart)


def one_line_errors(function, *args):
    """`function(*args)` as a command: bad input is one line on stderr and exit status 2."""
    try:
        return function(*args)
    except ERRORS as exc:
        if isinstance(exc, OSError) and exc.strerror and exc.filename:
            message = f"{exc.filename}: {exc.strerror}"  # e.g. a path under a file: "Not a directory"
        else:
            message = " ".join(str(exc).split())
        print(f"ndnx: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ndnx: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def experiment_main(exp, argv):
    """An experiment script's own command line: the options of `ndnx run`, for this experiment."""
    prog = os.path.basename(exp.source) if exp.source else exp.name
    parser = argparse.ArgumentParser(prog=prog, description=f"run the grid of {exp.name} (as `ndnx run {prog}`)")
    add_experiment_arguments(parser, script=False)
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    return one_line_errors(run_from_args, exp, args)
