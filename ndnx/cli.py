"""The `ndnx` command: run, job, summarize, tensorboard, tune, data, bench.

    ndnx run EXP.py [--set key=value ...] [--seeds N] [--runner local|slurm|sge] [--jobs N] [--dry-run]
                    [--wait] [--restart] [--time T --mem M --partition P --cpus N --directive D ...]
    ndnx summarize GROUP/EXP [--split S] [--csv FILE] [--plot FILE] [--tag T]
    ndnx tensorboard [GROUP/EXP] [--port N] [--print]
    ndnx tune EXP.py --tuner random|bayesian|hyperband --max-trials N [--role chief|worker]
    ndnx data <command> ...          (ndnx data --help lists them, e.g. synth-v1)
    ndnx bench [NAME] [--quick]

This module only parses the command line: the experiment runs its grid, its jobs and its search
(`ndnx.experiment`), the data modules own their commands (`ndnx.data.commands`). Bad input ends
with one line on stderr, `ndnx: error: ...`, and exit status 2.
"""

import argparse
import os
import sys

__all__ = ["main"]


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _parser():
    from ndnx.data.commands import commands
    from ndnx.experiment.commandline import add_experiment_arguments, add_job_arguments, add_run_arguments

    parser = argparse.ArgumentParser(prog="ndnx", description="ndnx experiments, tuning, data and benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run an experiment's grid")
    add_experiment_arguments(p)
    add_run_arguments(p)

    p = sub.add_parser("job", help="(used by runners) fit some repetitions of one run")
    add_experiment_arguments(p)
    add_job_arguments(p)

    p = sub.add_parser("summarize", help="percentiles over seeds of the final metrics of each run")
    p.add_argument("experiment", help="GROUP/EXPERIMENT, e.g. v1/baseline4")
    p.add_argument("--root", default=None, help="training_data directory (default ./training_data or $NDNX_TRAINING_DATA)")
    p.add_argument("--split", default=None,
                   help="the split whose logs are summarised (default validation, or the only split logged, e.g. "
                        "simulation; e.g. train, noiseless)")
    p.add_argument("--csv", default=None, metavar="FILE", help="also write the table as CSV to FILE")
    p.add_argument("--plot", default=None, metavar="FILE",
                   help="also write learning curves (median over seeds, 10th-90th percentile band) as a PNG to FILE")
    p.add_argument("--tag", default=None,
                   help="metric of the learning-curve plot (default: the experiment's objective)")

    p = sub.add_parser("tensorboard", help="open an experiment's logs in TensorBoard (with this Python)")
    p.add_argument("experiment", nargs="?", default=None,
                   help="GROUP/EXPERIMENT, e.g. v1/baseline4 (default: every experiment under the root)")
    p.add_argument("--root", default=None, help="training_data directory (default ./training_data or $NDNX_TRAINING_DATA)")
    p.add_argument("--port", type=int, default=None, help="port to serve on (default TensorBoard's, 6006)")
    p.add_argument("--host", default=None,
                   help="address to serve on (default localhost; 0.0.0.0 to reach it from other machines)")
    p.add_argument("--print", dest="print_only", action="store_true",
                   help="print the command instead of running it")

    p = sub.add_parser("tune", help="keras-tuner search over an experiment's hypermodel or search space")
    add_experiment_arguments(p)
    p.add_argument("--tuner", choices=("random", "bayesian", "hyperband"), default="random",
                   help="keras-tuner search algorithm (default random)")
    p.add_argument("--max-trials", type=int, default=10, help="trials of the whole search (finished ones count)")
    p.add_argument("--role", choices=("single", "chief", "worker"), default="single",
                   help="a search in this process, or the chief / a worker of a distributed search")
    p.add_argument("--oracle-address", default="127.0.0.1:8000", help="IP:PORT of the chief (distributed search)")
    p.add_argument("--worker-id", default=None, help="worker name (distributed search)")
    p.add_argument("--overwrite", action="store_true", help="start the search afresh")

    p = sub.add_parser("data", help="data utilities of every family")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="COMMAND",
                            help="one of the data commands below")
    for name, (help_text, add_arguments) in commands().items():
        command = dsub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(data_run=add_arguments(command))

    p = sub.add_parser("bench", help="run benchmarks/bench_*.py")
    p.add_argument("name", nargs="?", default=None, help="family, e.g. v1 (default: all)")
    p.add_argument("--quick", action="store_true", help="a short run of each benchmark")
    return parser


def _experiment(args):
    from ndnx.experiment import load_experiment
    from ndnx.experiment.planning import check_root

    if args.root:
        check_root(args.root)
        # Experiment scripts read their data cache location through this variable.
        os.environ["NDNX_TRAINING_DATA"] = os.path.abspath(args.root)
    return load_experiment(args.experiment)


def cmd_run(args):
    from ndnx.experiment.commandline import run_from_args

    return run_from_args(_experiment(args), args)


def cmd_job(args):
    from ndnx.experiment.commandline import job_from_args

    return job_from_args(_experiment(args), args)


def _check_output(path, option):
    """Refuse an output file path that cannot be written: a directory, or under a file."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{option} {path} is a directory; expected a file name")
    parent = os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"{option} {path} is under the file {parent}; expected a path in a directory")


def _default_split(root, experiment):
    """"validation", unless the experiment logged exactly one other split (a simulation's "simulation")."""
    import glob

    found = {os.path.basename(p) for p in glob.glob(os.path.join(root, "logs", experiment, "*", "seed*", "*"))
             if os.path.isdir(p)}
    return found.pop() if len(found) == 1 else "validation"


def cmd_summarize(args):
    from ndnx.analysis.summary import plot_experiment, print_summary, write_csv
    from ndnx.experiment.layout import default_root
    from ndnx.experiment.planning import check_root

    root = args.root or default_root()
    check_root(root)
    for path, option in ((args.csv, "--csv"), (args.plot, "--plot")):
        if path:
            _check_output(path, option)
    if args.split is None:
        args.split = _default_split(root, args.experiment)
    rows = print_summary(root, args.experiment, args.split)
    if not rows:
        raise ValueError(f"{args.experiment}: no run under {os.path.join(root, 'logs', args.experiment)} has "
                         f"{args.split} metrics logged yet")
    if args.csv:
        write_csv(rows, args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        plot_experiment(root, args.experiment, args.plot, split=args.split, tag=args.tag)
        print(f"wrote {args.plot}")
    return 0


def cmd_tensorboard(args):
    import shlex

    from ndnx.experiment.layout import default_root
    from ndnx.experiment.planning import check_root

    root = args.root or default_root()
    check_root(root)
    logdir = os.path.abspath(os.path.join(root, "logs", *([args.experiment] if args.experiment else [])))
    if not os.path.isdir(logdir):
        raise FileNotFoundError(f"no logs at {logdir}; `ndnx run` an experiment first (or give --root)")
    argv = [sys.executable, "-m", "tensorboard.main", "--logdir", logdir]
    argv += ["--port", str(args.port)] if args.port is not None else []
    argv += ["--host", args.host] if args.host else []
    if args.print_only:
        print(shlex.join(argv))
        return 0
    sys.stdout.flush()
    os.execv(sys.executable, argv)  # TensorBoard takes this process over (Ctrl-C stops it)


def cmd_tune(args):
    from ndnx.experiment.commandline import overrides_from_args

    exp = _experiment(args)
    overrides = overrides_from_args(exp, args)
    for run in exp.runs(overrides):  # the fixed configuration is checked before any trial
        exp.check_config(run.config)
    return exp.tune(overrides, root=args.root, tuner=args.tuner, max_trials=args.max_trials, role=args.role,
                    oracle_address=args.oracle_address, worker_id=args.worker_id, overwrite=args.overwrite)


def cmd_data(args):
    return args.data_run(args)


def cmd_bench(args):
    import glob
    import subprocess

    scripts = sorted(glob.glob(os.path.join("benchmarks", "bench_*.py")))
    if args.name:
        scripts = [s for s in scripts if os.path.basename(s) == f"bench_{args.name}.py"]
    if not scripts:
        raise ValueError(f"no benchmark {'bench_' + args.name + '.py' if args.name else 'bench_*.py'} under ./benchmarks")
    code = 0
    for script in scripts:
        print(f"== {script}")
        code |= subprocess.call([sys.executable, script] + (["--quick"] if args.quick else []))
    return code


COMMANDS = {"run": cmd_run, "job": cmd_job, "summarize": cmd_summarize, "tensorboard": cmd_tensorboard,
            "tune": cmd_tune, "data": cmd_data, "bench": cmd_bench}


def main(argv=None):
    _quiet_tensorflow()
    from ndnx.experiment.commandline import one_line_errors

    args = _parser().parse_args(argv)
    return one_line_errors(COMMANDS[args.command], args)


if __name__ == "__main__":
    sys.exit(main())
