"""Job submission: local processes, SLURM array jobs, SGE array jobs.

A `Job` is one full command (e.g. `[sys.executable, "-m", "ndnx.cli", "job", ...]`) with the files
its stdout and stderr go to. A runner takes a list of jobs:

    LocalRunner(jobs=2).submit(jobs)          runs them here, at most 2 at once, and waits
    SlurmRunner(partition="cpu").submit(jobs) submits ONE array job (one task per Job) via sbatch
    SGERunner(queue="cpu.q").submit(jobs)     the same via qsub

The scheduler runners write a bash script with a `case` over the array task id; each branch cds into
the job's directory, exports its variables and runs its command with stdout/stderr redirected to the
job's own files, so every job leaves the same `.out`/`.err` files whichever runner ran it.
`submit(jobs, dry_run=True)` returns that script without submitting anything.

This replaces msc-neuro's `utils/runners.py` (qsub-cpu, qsub-gpu, linux background processes), which
submitted one scheduler job per run and did not wait for local processes.
"""

import dataclasses
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import time

__all__ = ["Job", "JobResult", "LocalRunner", "SlurmRunner", "SGERunner", "get_runner"]


@dataclasses.dataclass
class Job:
    """One command to run, and where its output goes.

    Args:
        name: label for progress lines, e.g. "run1/seed2".
        argv: the full command as a list, e.g. [sys.executable, "-m", "ndnx.cli", "job", ...].
        out, err: files that receive the command's stdout and stderr (directories are created).
        cwd: working directory of the command (None: the runner's own working directory).
        env: extra environment variables, set on top of the runner's environment.
    """

    name: str
    argv: list
    out: pathlib.Path
    err: pathlib.Path
    cwd: str | None = None
    env: dict | None = None

    def __post_init__(self):
        # A single string is the most common mistake: it would be run as one executable name.
        if isinstance(self.argv, (str, bytes)) or not self.argv:
            raise ValueError(
                f"Job {self.name!r}: argv must be a non-empty list (a full command), got {self.argv!r}"
            )
        self.argv = [str(a) for a in self.argv]
        self.out = pathlib.Path(self.out)
        self.err = pathlib.Path(self.err)
        if self.env is not None:
            bad = [k for k in self.env if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(k))]
            if bad:
                raise ValueError(
                    f"Job {self.name!r}: env keys must be shell variable names, got {bad!r}"
                )
            self.env = {str(k): str(v) for k, v in self.env.items()}


@dataclasses.dataclass
class JobResult:
    """How a job ended: its exit code (None: it never started or was interrupted) and duration."""

    job: Job
    returncode: int | None
    seconds: float

    @property
    def ok(self):
        return self.returncode == 0


def _check_jobs(runner, jobs):
    jobs = list(jobs)
    for job in jobs:
        if not isinstance(job, Job):
            raise TypeError(f"{runner}.submit: expected a list of ndnx.runners.Job, got an item {job!r}")
    return jobs


def _describe_exit(returncode):
    if returncode is None:
        return "could not start"
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"exit {returncode}"


class LocalRunner:
    """Runs jobs as child processes of this one, at most `jobs` at a time, and waits for all.

    A failing job does not stop the others. One line per finished job goes to `log`:
    "[3/10] run1/seed2 ok 12.3 s" or "[4/10] run1/seed3 FAILED (exit 1), see <err file>".
    On Ctrl-C the running children are terminated (then killed if they linger) before the
    KeyboardInterrupt propagates; jobs not yet started are never started.

    Args:
        jobs: how many processes may run at once (>= 1).
        log: callable receiving each progress line (default `print`).
        poll_interval: seconds between checks for finished children.
        grace: seconds a terminated child may take to exit before it is killed.
    """

    def __init__(self, jobs=1, log=print, poll_interval=0.02, grace=10.0):
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"LocalRunner: jobs must be an integer >= 1, got {jobs!r}")
        self.jobs = jobs
        self.log = log
        self.poll_interval = poll_interval
        self.grace = grace

    def _start(self, job):
        job.out.parent.mkdir(parents=True, exist_ok=True)
        job.err.parent.mkdir(parents=True, exist_ok=True)
        env = None
        if job.env:
            env = {**os.environ, **job.env}
        with open(job.out, "wb") as out, open(job.err, "wb") as err:
            try:
                # The child keeps its own copies of the descriptors, so ours can close right away.
                return subprocess.Popen(job.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                        cwd=job.cwd, env=env)
            except OSError as exc:
                # A job that cannot start is a failed job, not a reason to abandon the others.
                err.write(f"ndnx.runners: could not start {shlex.join(job.argv)}: {exc}\n".encode())
                return None

    def submit(self, jobs):
        """Run `jobs` and return one JobResult per job, in the order given."""
        jobs = _check_jobs("LocalRunner", jobs)
        total = len(jobs)
        results = [None] * total
        pending = list(range(total))
        pending.reverse()  # pop() from the end takes the jobs in input order
        running = {}  # index -> (Popen, start time)
        done = 0

        def finish(i, returncode, started):
            nonlocal done
            done += 1
            job = jobs[i]
            seconds = time.monotonic() - started
            results[i] = JobResult(job, returncode, seconds)
            if returncode == 0:
                self.log(f"[{done}/{total}] {job.name} ok {seconds:.1f} s")
            else:
                self.log(f"[{done}/{total}] {job.name} FAILED ({_describe_exit(returncode)}), see {job.err}")

        try:
            while pending or running:
                while pending and len(running) < self.jobs:
                    i = pending.pop()
                    started = time.monotonic()
                    proc = self._start(jobs[i])
                    if proc is None:
                        finish(i, None, started)
                    else:
                        running[i] = (proc, started)
                finished = [i for i, (proc, _) in running.items() if proc.poll() is not None]
                for i in sorted(finished):
                    proc, started = running.pop(i)
                    finish(i, proc.returncode, started)
                if not finished and running:
                    time.sleep(self.poll_interval)
        except KeyboardInterrupt:
            self._terminate([proc for proc, _ in running.values()])
            self.log(f"interrupted: terminated {len(running)} running job(s); "
                     f"{len(pending)} job(s) were not started")
            raise
        return results

    def _terminate(self, procs):
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + self.grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class _ArrayRunner:
    """What SLURM and SGE share: one array job whose tasks are the jobs, submitted by a command."""

    kind = None        # "slurm" / "sge"
    command = None     # "sbatch" / "qsub"
    task_var = None    # environment variable holding the array task id
    first_task = 0     # id of the first task (SGE counts from 1)
    scheduler = None   # for error messages

    def __init__(self, name="ndnx", extra=()):
        if isinstance(extra, str):
            extra = (extra,)
        self.name = name
        self.extra = tuple(str(e) for e in extra)

    # Subclasses: the scheduler directive lines for n tasks with scheduler logs in `log_dir`.
    def directives(self, n, log_dir):
        raise NotImplementedError

    def parse_job_id(self, output):
        raise NotImplementedError

    #: Characters the scheduler reads specially in its log paths (SGE: "," separates a list of paths,
    #: ":" a host); the scheduler logs go to the nearest directory up whose path has none of them.
    path_separators = ""

    def _default_dir(self, jobs):
        # The common directory of all job outputs keeps one array's script and scheduler logs
        # together (e.g. job_logs/<group>/<experiment>/); unrelated outputs fall back to the first.
        dirs = [os.path.dirname(os.path.abspath(j.out)) for j in jobs]
        common = os.path.commonpath(dirs)
        if common == os.path.dirname(common):  # the filesystem root
            common = dirs[0]
        while any(c in common for c in self.path_separators) and common != os.path.dirname(common):
            common = os.path.dirname(common)  # e.g. a run folder named lr=0.001,region=2-3f9a1c2b
        return pathlib.Path(common)

    def _check(self, jobs):
        jobs = _check_jobs(type(self).__name__, jobs)
        if not jobs:
            raise ValueError(f"{type(self).__name__}: expected at least one Job, got an empty list")
        return jobs

    def script(self, jobs, log_dir=None):
        """The bash array-job script running `jobs`, one array task per job.

        `log_dir` holds the scheduler's own per-task output (what happens outside the jobs'
        redirections, e.g. a failing `cd`); default: the common directory of the jobs' out files.
        """
        jobs = self._check(jobs)
        log_dir = pathlib.Path(log_dir or self._default_dir(jobs)).absolute()
        q = shlex.quote
        lines = ["#!/bin/bash",
                 f"# {len(jobs)} ndnx job(s) as one {self.scheduler} array, written by ndnx.runners"]
        lines += self.directives(len(jobs), log_dir)
        lines += [
            "",
            f'task="${{{self.task_var}:?not running as a {self.scheduler} array task}}"',
            'case "$task" in',
        ]
        for k, job in enumerate(jobs):
            # Absolute paths: the redirections happen after the cd into job.cwd.
            out = os.path.abspath(job.out)
            err = os.path.abspath(job.err)
            label = " ".join(job.name.split())  # a newline in a name would end the comment
            lines.append(f"  {k + self.first_task})  # {label}")
            dirs = sorted({os.path.dirname(out), os.path.dirname(err)})
            lines.append("    mkdir -p " + " ".join(q(d) for d in dirs) + " || exit 1")
            if job.cwd:
                lines.append(f"    cd {q(str(job.cwd))} || exit 1")
            for key, value in (job.env or {}).items():
                lines.append(f"    export {key}={q(value)}")
            # exec: the scheduler's signals (time limit, scancel/qdel) reach the job itself.
            lines.append(f"    exec {shlex.join(job.argv)} > {q(out)} 2> {q(err)}")
            lines.append("    ;;")
        last = len(jobs) - 1 + self.first_task
        lines += [
            f'  *) echo "ndnx: array task $task has no job (expected {self.first_task}-{last})" >&2; exit 2;;',
            "esac",
            "",
        ]
        return "\n".join(lines)

    def submit(self, jobs, dry_run=False, path=None):
        """Submit `jobs` as one array job and return the scheduler's job id (a string).

        With `dry_run` the script text is returned and nothing is written or submitted.
        `path` is where the script is written (default: beside the jobs' out files).
        """
        jobs = self._check(jobs)
        log_dir = self._default_dir(jobs)
        text = self.script(jobs, log_dir=log_dir)
        if dry_run:
            return text
        executable = shutil.which(self.command)
        if executable is None:
            raise RuntimeError(
                f"{self.command} not found on PATH; is this a {self.scheduler} login node?"
            )
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = log_dir / f"{self.name}-{self.kind}-{stamp}-{os.getpid()}.sh"
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        log_dir.mkdir(parents=True, exist_ok=True)
        for job in jobs:
            # The scheduler opens no file of ours, but the directories must exist before any task
            # starts (SLURM silently fails a task whose --output directory is missing).
            job.out.parent.mkdir(parents=True, exist_ok=True)
            job.err.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)
        proc = subprocess.run([executable, str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            message = " ".join((proc.stderr or proc.stdout or "").split()) or "no output"
            raise RuntimeError(
                f"{self.command} {path} failed (exit {proc.returncode}): {message}"
            )
        return self.parse_job_id(proc.stdout)


class SlurmRunner(_ArrayRunner):
    """Submits jobs as one SLURM array job (`sbatch`), one task per job.

    Args:
        partition, time, mem, cpus_per_task: the usual sbatch options per task
            (e.g. "cpu", "02:00:00", "8G", 4); None leaves the cluster default.
        extra: further `#SBATCH` options, e.g. ("--gres=gpu:1", "--account=lab").
        name: the array's job name.
    """

    kind = "slurm"
    command = "sbatch"
    task_var = "SLURM_ARRAY_TASK_ID"
    first_task = 0
    scheduler = "SLURM"

    def __init__(self, partition=None, time=None, mem=None, cpus_per_task=None, extra=(), name="ndnx"):
        super().__init__(name=name, extra=extra)
        self.partition = partition
        self.time = time
        self.mem = mem
        self.cpus_per_task = cpus_per_task

    def directives(self, n, log_dir):
        lines = [
            f"#SBATCH --job-name={self.name}",
            f"#SBATCH --array=0-{n - 1}",
            # %A = array job id, %a = task id: one scheduler log per task.
            f"#SBATCH --output={log_dir}/{self.name}-%A_%a.out",
            f"#SBATCH --error={log_dir}/{self.name}-%A_%a.err",
        ]
        for option, value in (("partition", self.partition), ("time", self.time), ("mem", self.mem),
                              ("cpus-per-task", self.cpus_per_task)):
            if value is not None:
                lines.append(f"#SBATCH --{option}={value}")
        lines += [f"#SBATCH {e}" for e in self.extra]
        return lines

    def parse_job_id(self, output):
        # "Submitted batch job 123", or "123" / "123;cluster" with --parsable.
        match = re.search(r"Submitted batch job (\d+)", output) or re.match(r"\s*(\d+)", output)
        if match is None:
            raise RuntimeError(f"sbatch: could not find a job id in its output: {' '.join(output.split())!r}")
        return match.group(1)


class SGERunner(_ArrayRunner):
    """Submits jobs as one Sun/Son of Grid Engine array job (`qsub -t 1-n`), one task per job.

    Args:
        queue: `-q`, e.g. "cpu.q".
        pe, slots: parallel environment, `-pe <pe> <slots>` (e.g. "smp", 4); `pe` alone is used as is.
        mem: `-l` resource request; "8G" means `mem_free=8G`, a string with "=" is passed verbatim
            (e.g. "mem_free=8G,act_mem_free=8G,h_data=20G" as msc-neuro used).
        time: wall-clock limit per task, `-l h_rt=<time>` (e.g. "02:00:00").
        extra: further `#$` options, e.g. ("-l gpu=1",).
        name: the array's job name.

    The script asks for bash (`-S /bin/bash`), the submitting environment (`-V`, so the job sees
    the same virtualenv and NDNX_* variables) and the submission directory (`-cwd`).
    """

    kind = "sge"
    command = "qsub"
    task_var = "SGE_TASK_ID"
    first_task = 1
    scheduler = "SGE"
    path_separators = ",:"

    def __init__(self, queue=None, pe=None, slots=None, mem=None, extra=(), name="ndnx", time=None):
        super().__init__(name=name, extra=extra)
        if slots is not None and pe is None:
            raise ValueError(f"SGERunner: slots={slots!r} needs a parallel environment (pe=...), got pe=None")
        self.queue = queue
        self.pe = pe
        self.slots = slots
        self.mem = mem
        self.time = time

    def directives(self, n, log_dir):
        lines = [
            f"#$ -N {self.name}",
            f"#$ -t 1-{n}",
            "#$ -S /bin/bash",
            "#$ -V",
            "#$ -cwd",
            # SGE expands $JOB_ID and $TASK_ID in these paths: one scheduler log per task.
            f"#$ -o {log_dir}/{self.name}.o$JOB_ID.$TASK_ID",
            f"#$ -e {log_dir}/{self.name}.e$JOB_ID.$TASK_ID",
        ]
        if self.queue is not None:
            lines.append(f"#$ -q {self.queue}")
        if self.pe is not None:
            lines.append(f"#$ -pe {self.pe}" + (f" {self.slots}" if self.slots is not None else ""))
        if self.mem is not None:
            mem = str(self.mem)
            lines.append(f"#$ -l {mem if '=' in mem else 'mem_free=' + mem}")
        if self.time is not None:
            lines.append(f"#$ -l h_rt={self.time}")
        lines += [f"#$ {e}" for e in self.extra]
        return lines

    def parse_job_id(self, output):
        # 'Your job-array 456.1-3:1 ("ndnx") has been submitted', or "456.1-3:1" with -terse.
        match = re.search(r"Your job(?:-array)? (\d+)", output) or re.match(r"\s*(\d+)", output)
        if match is None:
            raise RuntimeError(f"qsub: could not find a job id in its output: {' '.join(output.split())!r}")
        return match.group(1)


RUNNERS = {"local": LocalRunner, "slurm": SlurmRunner, "sge": SGERunner}


def get_runner(name, /, **options):
    """The runner called `name` ("local", "slurm" or "sge"), constructed with `options` (which may
    include the scheduler array's own `name=`)."""
    if name not in RUNNERS:
        raise ValueError(f"unknown runner {name!r}; expected one of: {', '.join(RUNNERS)}")
    return RUNNERS[name](**options)
