"""The `ndnx` command: run, job, summarize, tune, data, bench.

    ndnx run EXP.py [--set key=value ...] [--seeds N] [--runner local|slurm|sge] [--jobs N] [--dry-run]
    ndnx summarize GROUP/EXP [--csv FILE] [--plot FILE]
    ndnx tune EXP.py --tuner random|bayesian|hyperband --max-trials N [--role chief|worker]
    ndnx data synth-v1 --out DIR [--neurons 103 --train 1800 --val 50 --repeats 10 --seed 0]
    ndnx bench [NAME] [--quick]

Bad input ends with one line on stderr, `ndnx: error: ...`, and exit status 2.
"""

import argparse
import os
import shlex
import sys

__all__ = ["main"]


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _add_experiment_args(p):
    p.add_argument("experiment", help="experiment script, e.g. experiments/v1/baseline4.py")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                   help="override a default (a YAML list value makes the key a grid axis)")
    p.add_argument("--seeds", type=int, default=None, help="repetitions per run")
    p.add_argument("--root", default=None, help="training_data directory (default ./training_data or $NDNX_TRAINING_DATA)")
    p.add_argument("--strategy", choices=("auto", "default", "mirrored", "multi_worker"), default="default",
                   help="tf.distribute strategy of each job (auto: from TF_CONFIG and the devices present)")


def _parser():
    parser = argparse.ArgumentParser(prog="ndnx", description="ndnx experiments, tuning, data and benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run an experiment's grid")
    _add_experiment_args(p)
    p.add_argument("--runner", choices=("local", "slurm", "sge"), default="local")
    p.add_argument("--jobs", type=int, default=1, help="parallel processes of the local runner")
    p.add_argument("--seeds-per-job", type=int, default=None,
                   help="repetitions per job (default: all seeds of a run in one ensemble job)")
    p.add_argument("--dry-run", action="store_true", help="print the jobs (or the job script) and exit")
    p.add_argument("--no-summary", action="store_true", help="do not print the summary table at the end")

    p = sub.add_parser("job", help="(used by runners) train some repetitions of one run")
    _add_experiment_args(p)
    p.add_argument("--run", required=True, help="run name, e.g. run0")
    p.add_argument("--only-seeds", required=True, help="comma-separated seeds of this job")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("summarize", help="percentiles over seeds of the final metrics of each run")
    p.add_argument("experiment", help="GROUP/EXPERIMENT, e.g. v1/baseline4")
    p.add_argument("--root", default=None)
    p.add_argument("--split", default="validation")
    p.add_argument("--csv", default=None, help="write the table as CSV")
    p.add_argument("--plot", default=None, help="write learning curves with percentile bands (PNG)")
    p.add_argument("--tag", default="correlation", help="metric of the learning-curve plot")

    p = sub.add_parser("tune", help="keras-tuner search over an experiment's hypermodel")
    _add_experiment_args(p)
    p.add_argument("--tuner", choices=("random", "bayesian", "hyperband"), default="random")
    p.add_argument("--max-trials", type=int, default=10)
    p.add_argument("--role", choices=("single", "chief", "worker"), default="single")
    p.add_argument("--oracle-address", default="127.0.0.1:8000", help="IP:PORT of the chief (distributed search)")
    p.add_argument("--worker-id", default=None, help="worker name (distributed search)")
    p.add_argument("--overwrite", action="store_true", help="start the search afresh")

    p = sub.add_parser("data", help="data utilities")
    dsub = p.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("synth-v1", help="write a synthetic V1 region in the Antolík et al. 2016 file format")
    s.add_argument("--out", required=True)
    s.add_argument("--neurons", type=int, default=103)
    s.add_argument("--train", type=int, default=1800)
    s.add_argument("--val", type=int, default=50)
    s.add_argument("--repeats", type=int, default=10)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--region", type=int, default=1)

    p = sub.add_parser("bench", help="run benchmarks/bench_*.py")
    p.add_argument("name", nargs="?", default=None, help="family, e.g. v1 (default: all)")
    p.add_argument("--quick", action="store_true")
    return parser


def _load(args):
    from ndnx.experiment import load_experiment, parse_overrides

    if args.root:
        # Experiment scripts (and the jobs they spawn) find training_data/ through this variable.
        os.environ["NDNX_TRAINING_DATA"] = os.path.abspath(args.root)
    exp = load_experiment(args.experiment)
    overrides = parse_overrides(exp.name, args.assignments, exp.defaults)
    if args.seeds is not None:
        if args.seeds < 1:
            raise ValueError(f"--seeds expects a positive number, got {args.seeds}")
        overrides["seeds"] = args.seeds
    return exp, overrides


def _job_argv(args, exp, run, seeds, root):
    argv = [sys.executable, "-m", "ndnx.cli", "job", exp.source, "--run", run.name,
            "--only-seeds", ",".join(str(s) for s in seeds), "--root", os.path.abspath(root),
            "--strategy", args.strategy, "--no-progress"]
    for a in args.assignments:
        argv += ["--set", a]
    if args.seeds is not None:
        argv += ["--seeds", str(args.seeds)]
    return argv


def cmd_run(args):
    from ndnx.experiment import Layout, default_root, seed_label
    from ndnx.runners import Job, get_runner

    exp, overrides = _load(args)
    root = args.root or default_root()
    layout = Layout(root, exp.name)
    runs = exp.runs(overrides)
    planned = []
    for run in runs:
        for seeds in exp.seed_groups(int(run.config["seeds"]), args.seeds_per_job, run.config):
            planned.append((run, seeds))
    jobs = [Job(name=f"{run.name}/{seed_label(seeds)}", argv=_job_argv(args, exp, run, seeds, root),
                out=layout.job_log(run.name, seeds, "out"), err=layout.job_log(run.name, seeds, "err"),
                cwd=os.getcwd())
            for run, seeds in planned]
    print(f"{exp.name}: {len(runs)} run(s) × {runs[0].config['seeds']} seed(s) → {len(jobs)} job(s) [{args.runner}]")
    if args.runner != "local":
        runner = get_runner(args.runner)
        out = runner.submit(jobs, dry_run=args.dry_run)
        print(out if args.dry_run else f"submitted: {out}")
        return 0
    if args.dry_run:
        for job in jobs:
            print(f"{job.name}: {shlex.join(job.argv)}")
        return 0
    failed = 0
    if len(jobs) == 1 and args.jobs <= 1:
        run, seeds = planned[0]
        exp.run_job(run, seeds, root=root, progress=True, strategy=_strategy(args))
    else:
        results = get_runner("local", jobs=args.jobs).submit(jobs)
        failed = sum(1 for r in results if not r.ok)
    if not args.no_summary:
        for split in _logged_splits(root, exp.name):
            _print_summary(root, exp.name, split)
    print(f"TensorBoard: tensorboard --logdir {os.path.join(root, 'logs', exp.name)}")
    if failed:
        print(f"{failed} job(s) failed; see {os.path.join(root, 'job_logs', exp.name)}", file=sys.stderr)
        return 1
    return 0


def _logged_splits(root, experiment):
    """The evaluation splits an experiment logged (validation first, train left out)."""
    import glob

    found = {os.path.basename(p) for p in glob.glob(os.path.join(root, "logs", experiment, "*", "seed*", "*"))}
    found.discard("train")
    return sorted(found, key=lambda s: (s != "validation", s))


def _print_summary(root, experiment, split="validation"):
    from ndnx.analysis.summary import format_table, summarize

    rows = summarize(root, experiment, split=split)
    print(f"{experiment}: final {split} metrics over seeds (50th / 90th / 10th percentile)")
    print(format_table(rows))
    return rows


def cmd_job(args):
    exp, overrides = _load(args)
    runs = {r.name: r for r in exp.runs(overrides)}
    if args.run not in runs:
        raise ValueError(f"{exp.name}: no run named {args.run!r}; runs are {', '.join(runs)}")
    try:
        seeds = [int(s) for s in args.only_seeds.split(",")]
    except ValueError:
        raise ValueError(f"--only-seeds expects comma-separated integers, got {args.only_seeds!r}") from None
    exp.run_job(runs[args.run], seeds, root=args.root, progress=not args.no_progress,
                strategy=_strategy(args))
    return 0


def _strategy(args):
    if args.strategy == "default":
        return None
    from ndnx.training.strategy import strategy

    return strategy(args.strategy)


def cmd_summarize(args):
    from ndnx.analysis.summary import collect, plot_learning_curves, write_csv
    from ndnx.experiment import default_root

    root = args.root or default_root()
    rows = _print_summary(root, args.experiment, args.split)
    if args.csv:
        write_csv(rows, args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        plot_learning_curves(collect(root, args.experiment, split=args.split), args.plot, tag=args.tag)
        print(f"wrote {args.plot}")
    return 0


def cmd_tune(args):
    from ndnx.training.tuning import run_search

    exp, overrides = _load(args)
    return run_search(exp, overrides, tuner=args.tuner, max_trials=args.max_trials, role=args.role,
                      oracle_address=args.oracle_address, worker_id=args.worker_id,
                      root=args.root, overwrite=args.overwrite)


def cmd_data(args):
    from ndnx.data.synthetic_v1 import write_synthetic_region

    path = write_synthetic_region(args.out, neurons=args.neurons, train=args.train, val=args.val,
                                  repeats=args.repeats, seed=args.seed, region=args.region)
    print(f"wrote a synthetic region (ground-truth HSM, Poisson responses) to {path}")
    return 0


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


COMMANDS = {"run": cmd_run, "job": cmd_job, "summarize": cmd_summarize, "tune": cmd_tune,
            "data": cmd_data, "bench": cmd_bench}


def main(argv=None):
    _quiet_tensorflow()
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        message = " ".join(str(exc).split())
        print(f"ndnx: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ndnx: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
