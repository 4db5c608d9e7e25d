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
           "run_from_args", "job_from_args", "one_line_errors", "experiment_main"]

ERRORS = (ValueError, FileNotFoundError, RuntimeError)


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


def add_run_arguments(parser):
    parser.add_argument("--runner", choices=("local", "slurm", "sge"), default="local")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes of the local runner")
    parser.add_argument("--seeds-per-job", type=int, default=None,
                        help="repetitions per job (default: all seeds of a run in one ensemble job)")
    parser.add_argument("--dry-run", action="store_true", help="print the jobs (or the job script) and exit")
    parser.add_argument("--no-summary", action="store_true", help="do not print the summary table at the end")


def add_job_arguments(parser):
    parser.add_argument("--run", required=True, help="run name, e.g. run0")
    parser.add_argument("--only-seeds", required=True, help="comma-separated seeds of this job")
    parser.add_argument("--no-progress", action="store_true")


def overrides_from_args(exp, args):
    """The `--set` and `--seeds` overrides, checked against the experiment's defaults."""
    if args.root:
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


def run_from_args(exp, args):
    from ndnx.experiment.planning import run_experiment

    overrides = overrides_from_args(exp, args)
    return run_experiment(exp, overrides, runner=args.runner, jobs=args.jobs, seeds_per_job=args.seeds_per_job,
                          dry_run=args.dry_run, root=args.root, strategy=args.strategy,
                          summary=not args.no_summary)


def job_from_args(exp, args):
    from ndnx.experiment.planning import run_one_job

    overrides = overrides_from_args(exp, args)
    try:
        seeds = [int(s) for s in args.only_seeds.split(",")]
    except ValueError:
        raise ValueError(f"--only-seeds expects comma-separated integers, got {args.only_seeds!r}") from None
    return run_one_job(exp, overrides, args.run, seeds, root=args.root, progress=not args.no_progress,
                       strategy=args.strategy)


def one_line_errors(function, *args):
    """`function(*args)` as a command: bad input is one line on stderr and exit status 2."""
    try:
        return function(*args)
    except ERRORS as exc:
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
