"""An experiment script runs itself once, with the options of `ndnx run`; the CLI only parses."""

import os
import subprocess
import sys
import textwrap

import pytest

from ndnx.experiment import Objective

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = textwrap.dedent('''
    import os

    from ndnx.experiment import Epochs, Experiment  # ndnx first: TensorFlow loads without its chatter

    import numpy as np
    import keras

    with open(os.environ["BODY_LOG"], "a") as log:  # one line per execution of this module's body
        log.write(__name__ + "\\n")


    def build(config, seed, replicas):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="zeros")])
        model.compile(keras.optimizers.SGD(0.1), loss="mse", jit_compile=False)
        return model


    experiment = Experiment(
        "tests/script", defaults=dict(epochs=2, batch_size=4),
        data=lambda config: {"train": (np.ones((8, 2), "float32"), np.ones((8, 1), "float32"))},
        build=build, fit=Epochs(), seeds=1)

    if __name__ == "__main__":
        raise SystemExit(experiment.main())
''')


def run(*args, cwd, env_extra=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_a_script_runs_its_body_once_and_takes_the_run_options(tmp_path, monkeypatch, capsys):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    body_log = tmp_path / "body.log"
    out = run(str(script), "--set", "epochs=3", "--root", str(tmp_path / "td"), "--no-summary", cwd=tmp_path,
              env_extra={"BODY_LOG": str(body_log)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert body_log.read_text().splitlines() == ["__main__"]
    # The run is named by how its configuration differs from the defaults, and its hash.
    assert [p.parent.name.split("-")[0] for p in (tmp_path / "td" / "models" / "tests" / "script").glob("*/seed0.keras")] \
        == ["epochs=3"]
    # Bad input: one line, exit 2, as `ndnx run` does (the script's own main, here in this process).
    from ndnx.experiment import load_experiment

    monkeypatch.setenv("BODY_LOG", str(body_log))
    assert load_experiment(str(script)).main(["--set", "epoch=3"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "ndnx: error: tests/script: unknown --set key 'epoch'; known keys: batch_size, ensemble, epochs, log_every, "
        "seeds, shuffle_seed"]


@pytest.mark.slow  # three processes: `make test-all`
def test_a_script_with_several_jobs_imports_itself_once_per_job(tmp_path):
    # Two jobs go to two processes, each importing the script as a module (not as __main__).
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    body_log = tmp_path / "body.log"
    out = run(str(script), "--seeds", "2", "--seeds-per-job", "1", "--jobs", "2", "--root", str(tmp_path / "td"),
              "--no-summary", cwd=tmp_path, env_extra={"BODY_LOG": str(body_log)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert sorted(body_log.read_text().splitlines()) == ["__main__", "ndnx_experiment_script", "ndnx_experiment_script"]


def test_data_commands_come_from_the_families(capsys):
    from ndnx.cli import main
    from ndnx.data.commands import commands

    assert "synth-v1" in commands()
    with pytest.raises(SystemExit) as exit_:
        main(["data", "synth-v1", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out", "--neurons", "--train", "--val", "--repeats", "--seed", "--region"):
        assert option in text
    assert "Antolík et al. 2016" in text


@pytest.mark.parametrize("given,expected", [
    (("validation", "correlation", "max"), Objective("validation", "correlation", "max")),
    ("simulation/rate_error", Objective("simulation", "rate_error", "min")),
    ("train/offset/loss:max", Objective("train", "offset/loss", "max")),
])
def test_objective_forms(given, expected):
    parsed = Objective.parse(given)
    assert parsed == expected
    assert parsed.name == ("val_" if expected.split == "validation" else f"{expected.split}_") + expected.metric


def test_objective_errors():
    with pytest.raises(ValueError, match="direction must be 'min' or 'max', got 'up'"):
        Objective("validation", "loss", "up")
    with pytest.raises(ValueError, match="expected 'split/metric'"):
        Objective.parse("correlation")
