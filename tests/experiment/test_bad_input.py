"""Every bad input is refused in one line, exit status 2, and nothing is recorded (issue 14 item 3).

In process (`ndnx.cli.main`): each case is a fraction of a second.
"""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny_experiment.py")
LINEAR = os.path.join(ROOT, "tests", "fixtures", "linear_experiment.py")
BASELINE4 = os.path.join(ROOT, "experiments", "v1", "baseline4.py")


@pytest.fixture
def ndnx_main(monkeypatch):
    from ndnx.cli import main

    monkeypatch.delenv("NDNX_TRAINING_DATA", raising=False)  # --root exports it
    return main


def refused(main, capsys, argv):
    """Run `ndnx argv`; assert exit 2 and one stderr line `ndnx: error: ...`; return that line."""
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("ndnx: error: "), err
    return err[0][len("ndnx: error: "):]


@pytest.mark.parametrize("assignment, message", [
    # tracebacks before: a YAML ParserError, an IndexError
    ("lr=[1e-3,", "tests/tiny: --set lr=[1e-3, is not a value YAML can read (expected the node content, but found "
                  "'<stream end>'); a grid is written [a, b, c]"),
    ("lr=[]", "tests/tiny: --set lr=[] gives a grid axis with no values; give at least one"),
    # accepted before, and marked finished in experiments.txt
    ("epochs=-5", "tests/tiny: epochs=-5 is not valid: expected an integer >= 0"),
    ("seeds=0", "tests/tiny: seeds=0 is not valid: expected an integer >= 1"),
    ("lr=-1", "tests/tiny: lr=-1.0 is not valid: expected a finite number > 0"),
    ("lr=.nan", "tests/tiny: lr=nan is not valid: expected a finite number > 0"),
    ("lr=[0.01, -0.01]", "tests/tiny: lr=-0.01 is not valid: expected a finite number > 0"),  # one bad grid point
    # left config.yaml and run_info.json behind before
    ("batch_size=0", "tests/tiny: batch_size=0 is not valid: expected an integer >= 1"),
    ("log_every=0", "tests/tiny: log_every=0 is not valid: expected an integer >= 1"),
    ("early_stop_on=test", "tests/tiny: early_stop_on='test' is not valid: expected one of 'validation', 'train'"),
])
def test_bad_values_are_refused_before_anything_is_written(tmp_path, ndnx_main, capsys, assignment, message):
    assert refused(ndnx_main, capsys, ["run", TINY, "--set", assignment, "--root", str(tmp_path / "td")]) == message
    assert not (tmp_path / "td").exists()
    # a dry run checks as much
    assert refused(ndnx_main, capsys, ["run", TINY, "--set", assignment, "--dry-run"]) == message


@pytest.mark.parametrize("assignment, message", [
    ("model=foo", "model='foo' is not valid: expected one of 'hsm', 'original_hsm', 'ln', 'lnln', 'conv_readout', "
                  "'conv_dog', 'what_where', 'conv_gaussian'"),
    ("lr=0", "lr=0.0 is not valid: expected a finite number > 0"),
    ("lr=.inf", "lr=inf is not valid: expected a finite number > 0"),
    ("noise=cauchy", "noise='cauchy' is not valid: expected one of 'poisson', 'gaussian', 'poisson_sum'"),
    ("hidden_fraction=0", "hidden_fraction=0.0 is not valid: expected a finite number in (0, 1]"),
    ("hidden_fraction=1.5", "hidden_fraction=1.5 is not valid: expected a finite number in (0, 1]"),
    ("l2_output=-0.1", "l2_output=-0.1 is not valid: expected a finite number >= 0"),
    ("region=4", "region=4 is not valid: expected one of 1, 2, 3"),
    ("regions=[1, 1]", "regions=[1, 1] is not valid: expected a list of distinct regions out of (1, 2, 3) (empty: "
                       "`region` alone)"),
    ("hidden_penalty=l3", "hidden_penalty='l3' is not valid: expected one of '', "),
    ("hidden_dropout=1", "hidden_dropout=1.0 is not valid: expected a finite number in [0, 1)"),
    ("dog_activation=wobbly", "dog_activation='wobbly' is not valid: expected 'lin' or an NDN3 / Keras activation name"),
    ("bias_init=wobbly", "bias_init='wobbly' is not valid: expected 'zeros', 'normal', 'trunc_normal' or a Keras "
                         "initializer name"),
    ("normalization=z", "normalization='z' is not valid: expected one of 'train', 'per_split', 'none'"),
    ("filters=0", "filters=0 is not valid: expected an integer >= 1"),
    ("lbfgs_rounds=0", "lbfgs_rounds=0 is not valid: expected an integer >= 1"),
])
def test_v1_keys_are_checked(tmp_path, ndnx_main, capsys, assignment, message):
    line = refused(ndnx_main, capsys, ["run", BASELINE4, "--set", assignment, "--root", str(tmp_path), "--dry-run"])
    assert line.startswith("v1/baseline4: " + message)
    assert os.listdir(tmp_path) == []


def test_v1_experiments_pass_their_own_checks():
    import glob

    from ndnx.experiment import load_experiment

    for path in sorted(glob.glob(os.path.join(ROOT, "experiments", "v1", "*.py"))):
        exp = load_experiment(path)
        assert {"lr", "model", "noise", "region"} <= set(exp.checks), path  # derived from baseline 4's
        for run in exp.runs():
            exp.check_config(run.config)


def test_broken_scripts_and_paths_are_one_line(tmp_path, ndnx_main, capsys):
    syntax = tmp_path / "syntax.py"
    syntax.write_text("import os\nx = (\n")
    assert refused(ndnx_main, capsys, ["run", str(syntax)]) == (
        f"{syntax}:2: the experiment script has a syntax error: '(' was never closed")
    raising = tmp_path / "raising.py"
    raising.write_text("import json\njson.loads('{')\n")
    assert refused(ndnx_main, capsys, ["run", str(raising)]) == (
        f"{raising}: importing the experiment script failed with JSONDecodeError: Expecting property name enclosed "
        f"in double quotes: line 1 column 2 (char 1) (`python {raising}` shows the traceback)")

    a_file = tmp_path / "a_file"
    a_file.write_text("not a directory\n")
    for command in (["run", LINEAR], ["job", LINEAR, "--run", "x", "--only-seeds", "0"], ["summarize", "tests/linear"],
                    ["tensorboard"]):
        assert refused(ndnx_main, capsys, [*command, "--root", str(a_file)]) == (
            f"--root {a_file} is a file; expected the training_data directory (it is created if missing)")
    assert refused(ndnx_main, capsys, ["run", LINEAR, "--root", str(a_file / "td")]) == (
        f"--root {a_file / 'td'} is under the file {a_file}; expected a directory path")
    assert refused(ndnx_main, capsys, ["summarize", "tests/linear", "--root", str(tmp_path),
                                       "--csv", str(a_file / "s.csv")]) == (
        f"--csv {a_file / 's.csv'} is under the file {a_file}; expected a path in a directory")
    assert refused(ndnx_main, capsys, ["summarize", "tests/linear", "--root", str(tmp_path),
                                       "--plot", str(tmp_path)]) == f"--plot {tmp_path} is a directory; expected a file name"
    assert refused(ndnx_main, capsys, ["data", "synth-v1", "--out", str(a_file)]) == (
        f"--out {a_file} is a file; expected the directory region1/ is written under")
    assert sorted(os.listdir(tmp_path)) == ["a_file", "raising.py", "syntax.py"]


def test_summarize_without_data_is_an_error(tmp_path, ndnx_main, capsys):
    # A run folder with its records but no logged metrics (killed before its first evaluation).
    run = tmp_path / "logs" / "tests" / "linear" / "defaults-0123abcd"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("lr: 0.05\n")
    assert refused(ndnx_main, capsys, ["summarize", "tests/linear", "--root", str(tmp_path)]) == (
        f"tests/linear: no run under {tmp_path}/logs/tests/linear has validation metrics logged yet")

