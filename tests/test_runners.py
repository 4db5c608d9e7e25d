"""Runners: local parallel processes, and SLURM/SGE array scripts run by fake sbatch/qsub."""

import _thread
import os
import shlex
import stat
import sys
import threading
import time

import pytest

from ndnx.runners import Job, JobResult, LocalRunner, SGERunner, SlurmRunner, get_runner


def py(code):
    return [sys.executable, "-c", code]


def job(tmp_path, name, code, **kwargs):
    return Job(name=name, argv=py(code), out=tmp_path / "logs" / f"{name}.out",
               err=tmp_path / "logs" / f"{name}.err", **kwargs)


# --- local -------------------------------------------------------------------------------------

def test_local_failure_does_not_stop_the_others(tmp_path):
    jobs = [
        job(tmp_path, "run0/seed0", "print('hello 0')"),
        job(tmp_path, "run0/seed1", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"),
        job(tmp_path, "run1/seed0", "print('hello 2')"),
        job(tmp_path, "run1/seed1", "print('hello 3')"),
    ]
    lines = []
    results = LocalRunner(jobs=2, log=lines.append).submit(jobs)

    assert [r.job for r in results] == jobs  # input order, whatever the finishing order
    assert [r.returncode for r in results] == [0, 3, 0, 0]
    assert [r.ok for r in results] == [True, False, True, True]
    assert all(isinstance(r, JobResult) and r.seconds >= 0 for r in results)
    assert jobs[1].err.read_text() == "boom\n"
    for i in (0, 2, 3):
        assert jobs[i].out.read_text() == f"hello {i}\n"
    assert len(lines) == 4
    assert all(line.startswith(f"[{k}/4] ") for k, line in enumerate(lines, 1))
    failed = [line for line in lines if "FAILED" in line]
    assert failed == [next(line for line in lines if "run0/seed1" in line)]
    assert "(exit 3)" in failed[0] and str(jobs[1].err) in failed[0]
    assert sum(" ok " in line for line in lines) == 3


def test_local_runs_jobs_in_parallel(tmp_path):
    jobs = [job(tmp_path, f"sleep{i}", "import time; time.sleep(1)") for i in range(2)]
    start = time.monotonic()
    results = LocalRunner(jobs=2, log=lambda line: None).submit(jobs)
    elapsed = time.monotonic() - start
    assert all(r.ok for r in results)
    assert elapsed < 1.8, f"two 1 s jobs with jobs=2 took {elapsed:.2f} s"


def test_local_never_exceeds_the_job_limit(tmp_path):
    code = "import time; a = time.time(); time.sleep(0.3); print(a, time.time())"
    jobs = [job(tmp_path, f"j{i}", code) for i in range(5)]
    results = LocalRunner(jobs=2, log=lambda line: None).submit(jobs)
    assert all(r.ok for r in results)
    spans = [tuple(map(float, j.out.read_text().split())) for j in jobs]
    for a, _ in spans:
        overlapping = sum(1 for s, e in spans if s <= a < e)
        assert overlapping <= 2


def test_local_job_env_and_cwd(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    j = job(tmp_path, "env", "import os; print(os.environ['NDNX_TAG'], os.getcwd())",
            cwd=str(work), env={"NDNX_TAG": "x y"})
    (result,) = LocalRunner(log=lambda line: None).submit([j])
    assert result.ok
    assert j.out.read_text().split() == ["x", "y", str(work)]


def test_local_unstartable_job_is_a_failure(tmp_path):
    missing = Job("missing", [str(tmp_path / "no-such-program")], tmp_path / "m.out", tmp_path / "m.err")
    fine = job(tmp_path, "fine", "print('ok')")
    lines = []
    results = LocalRunner(log=lines.append).submit([missing, fine])
    assert results[0].returncode is None and not results[0].ok
    assert "could not start" in missing.err.read_text()
    assert results[1].ok and fine.out.read_text() == "ok\n"


def test_local_ctrl_c_terminates_children(tmp_path):
    code = "import os, sys, time; print(os.getpid(), flush=True); time.sleep(60)"
    jobs = [job(tmp_path, f"long{i}", code) for i in range(3)]

    def interrupt_when_started():
        # Wait until both parallel children have reported their pid, then "press Ctrl-C".
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(j.out.exists() and j.out.read_text().strip() for j in jobs[:2]):
                break
            time.sleep(0.02)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    lines = []
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        LocalRunner(jobs=2, log=lines.append).submit(jobs)
    assert time.monotonic() - start < 15
    for j in jobs[:2]:
        pid = int(j.out.read_text())
        with pytest.raises(ProcessLookupError):  # terminated and reaped
            os.kill(pid, 0)
    assert not jobs[2].out.exists()  # never started
    assert "interrupted" in lines[-1]


def test_job_rejects_a_command_string(tmp_path):
    with pytest.raises(ValueError, match="argv must be a non-empty list"):
        Job("x", "python -c pass", tmp_path / "o", tmp_path / "e")


# --- SLURM / SGE with fake schedulers ---------------------------------------------------------

FAKE_SBATCH = """#!/bin/bash
# Fake sbatch: records its arguments and script, then runs every array task as SLURM would.
record={record}
script="${{@: -1}}"
echo "$@" > "$record/args"
cp "$script" "$record/script"
last=$(sed -n 's/^#SBATCH --array=0-\\([0-9]*\\)$/\\1/p' "$script")
for task in $(seq 0 "$last"); do
  SLURM_ARRAY_TASK_ID=$task bash "$script" >> "$record/tasks.log" 2>&1
  echo "$task $?" >> "$record/exit_codes"
done
echo "Submitted batch job 4242"
"""

FAKE_QSUB = """#!/bin/bash
# Fake qsub: records its arguments and script, then runs every array task as SGE would (1-based).
record={record}
script="${{@: -1}}"
echo "$@" > "$record/args"
cp "$script" "$record/script"
last=$(sed -n 's/^#\\$ -t 1-\\([0-9]*\\)$/\\1/p' "$script")
for task in $(seq 1 "$last"); do
  SGE_TASK_ID=$task bash "$script" >> "$record/tasks.log" 2>&1
  echo "$task $?" >> "$record/exit_codes"
done
echo 'Your job-array 456.1-'"$last"':1 ("ndnx") has been submitted'
"""

FAILING = """#!/bin/bash
echo "{command}: error: invalid partition specified: nope" >&2
exit 1
"""


def install_fake(tmp_path, monkeypatch, command, text):
    bin_dir = tmp_path / "bin"
    record = tmp_path / "record"
    bin_dir.mkdir(exist_ok=True)
    record.mkdir(exist_ok=True)
    exe = bin_dir / command
    exe.write_text(text.format(record=record, command=command))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return record


def array_jobs(tmp_path):
    work = tmp_path / "work dir"
    work.mkdir()
    code = ("import os, sys; print('task', sys.argv[1], os.environ['NDNX_TAG'], os.getcwd()); "
            "print('warning from', sys.argv[1], file=sys.stderr)")
    logs = tmp_path / "job_logs" / "v1" / "exp"
    return [Job(name=f"run{i}/seed0", argv=py(code) + [f"arg {i}'s"],
                out=logs / f"run{i}" / "seed0.out", err=logs / f"run{i}" / "seed0.err",
                cwd=str(work), env={"NDNX_TAG": f"tag-{i} $HOME"})
            for i in range(3)]


def check_tasks_ran(jobs, record, first):
    codes = record.joinpath("exit_codes").read_text().split("\n")
    assert [c for c in codes if c] == [f"{k + first} 0" for k in range(len(jobs))]
    for i, j in enumerate(jobs):
        assert j.out.read_text().split("\n")[0] == f"task arg {i}'s tag-{i} $HOME {j.cwd}"
        assert j.err.read_text() == f"warning from arg {i}'s\n"


@pytest.mark.parametrize("runner, command, fake, first, job_id", [
    (SlurmRunner(partition="cpu", time="01:00:00", mem="8G", cpus_per_task=4, extra=("--gres=gpu:1",)),
     "sbatch", FAKE_SBATCH, 0, "4242"),
    (SGERunner(queue="cpu.q", pe="smp", slots=4, mem="8G", extra=("-l gpu=1",)),
     "qsub", FAKE_QSUB, 1, "456"),
])
def test_array_job_runs_every_task(tmp_path, monkeypatch, runner, command, fake, first, job_id):
    record = install_fake(tmp_path, monkeypatch, command, fake)
    jobs = array_jobs(tmp_path)

    assert runner.submit(jobs) == job_id

    script_path = record.joinpath("args").read_text().split()[-1]
    assert os.path.dirname(script_path) == str(tmp_path / "job_logs" / "v1" / "exp")
    script = record.joinpath("script").read_text()
    assert script == open(script_path).read()
    check_tasks_ran(jobs, record, first)
    if command == "sbatch":
        for directive in ("--array=0-2", "--partition=cpu", "--time=01:00:00", "--mem=8G",
                          "--cpus-per-task=4", "--gres=gpu:1", "--output=", "--error="):
            assert f"#SBATCH {directive}" in script
        assert "%A_%a" in script
    else:
        for directive in ("-t 1-3", "-q cpu.q", "-pe smp 4", "-l mem_free=8G", "-l gpu=1", "-V", "-o ", "-e "):
            assert f"#$ {directive}" in script
        assert "$TASK_ID" in script


@pytest.mark.parametrize("runner, directive, task_var", [
    (SlurmRunner(), "#SBATCH --array=0-2", "SLURM_ARRAY_TASK_ID"),
    (SGERunner(), "#$ -t 1-3", "SGE_TASK_ID"),
])
def test_dry_run_returns_the_script_and_submits_nothing(tmp_path, monkeypatch, runner, directive, task_var):
    record = install_fake(tmp_path, monkeypatch, runner.command, FAKE_SBATCH if task_var.startswith("SLURM")
                          else FAKE_QSUB)
    jobs = array_jobs(tmp_path)
    script = runner.submit(jobs, dry_run=True)
    assert script.startswith("#!/bin/bash\n")
    assert directive in script and f"${{{task_var}" in script
    for j in jobs:
        assert shlex.join(j.argv) in script
        assert str(j.out) in script and str(j.err) in script
    assert list(record.iterdir()) == []  # the fake scheduler was never called
    assert not (tmp_path / "job_logs").exists()  # nothing written either
    assert runner.script(jobs, log_dir=runner._default_dir(jobs)) == script


@pytest.mark.parametrize("runner, message", [
    (SlurmRunner(), "sbatch not found on PATH; is this a SLURM login node?"),
    (SGERunner(), "qsub not found on PATH; is this a SGE login node?"),
])
def test_missing_scheduler_is_a_clear_error(tmp_path, monkeypatch, runner, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(RuntimeError, match="^" + message.replace("?", r"\?") + "$"):
        runner.submit(array_jobs(tmp_path))


def test_scheduler_error_is_reported_on_one_line(tmp_path, monkeypatch):
    install_fake(tmp_path, monkeypatch, "sbatch", FAILING)
    with pytest.raises(RuntimeError) as info:
        SlurmRunner(partition="nope").submit(array_jobs(tmp_path))
    text = str(info.value)
    assert "\n" not in text
    assert "exit 1" in text and "invalid partition specified: nope" in text


def test_job_id_parsing():
    assert SlurmRunner().parse_job_id("Submitted batch job 123\n") == "123"
    assert SlurmRunner().parse_job_id("123;cluster\n") == "123"
    assert SGERunner().parse_job_id('Your job-array 456.1-3:1 ("name") has been submitted\n') == "456"
    assert SGERunner().parse_job_id('Your job 789 ("name") has been submitted\n') == "789"
    with pytest.raises(RuntimeError, match="could not find a job id"):
        SlurmRunner().parse_job_id("something else")


def test_get_runner():
    assert isinstance(get_runner("local", jobs=3), LocalRunner) and get_runner("local", jobs=3).jobs == 3
    assert get_runner("slurm", partition="gpu").partition == "gpu"
    assert get_runner("sge", queue="cpu.q").queue == "cpu.q"
    with pytest.raises(ValueError, match="unknown runner 'pbs'; expected one of: local, slurm, sge"):
        get_runner("pbs")
