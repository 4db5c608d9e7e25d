"""Summaries over seeds read back from real TensorBoard event files."""

import csv
import os

import numpy as np
import pytest
import tensorflow as tf
import yaml

from ndnx.analysis.summary import (collect, format_table, percentiles, plot_learning_curves,
                                   read_scalars, summarize, write_csv)

SEEDS = 5
STEPS = [0, 9, 19, 29, 39, 49]  # what ReplicaLogger logs for 50 epochs, every 10
OFFSET = {"run0": 0.0, "run1": 0.05}


def write_scalars(directory, series):
    """series: {tag: [(step, value), ...]} written with TF2 summaries (tensor values)."""
    writer = tf.summary.create_file_writer(str(directory))
    with writer.as_default():
        for tag, points in series.items():
            for step, value in points:
                tf.summary.scalar(tag, value, step=step)
    writer.close()


def final_correlation(run, k):
    return 0.1 * k + OFFSET[run]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("training_data")
    exp = root / "logs" / "v1" / "exp"
    for run, lr in (("run0", 1e-3), ("run1", 1e-2)):
        (exp / run).mkdir(parents=True)
        config = {"epochs": 50, "batch_size": 16, "lr": lr, "l2": 0.1, "seeds": SEEDS}
        (exp / run / "config.yaml").write_text(yaml.safe_dump(config))
        for k in range(SEEDS):
            final = final_correlation(run, k)
            # Curves rise to the final value; the last point is the known one.
            corr = [(s, final * (s + 1) / 50) for s in STEPS]
            loss = [(s, 2.0 - final - s / 100) for s in STEPS]
            write_scalars(exp / run / f"seed{k}" / "validation", {"correlation": corr, "loss": loss})
            write_scalars(exp / run / f"seed{k}" / "train", {"correlation": [(s, 0.9) for s in STEPS]})
    # An unrelated experiment, to be listed in the error for a missing one.
    (root / "logs" / "v1" / "other" / "run0").mkdir(parents=True)
    return root


def test_percentiles_of_final_values_across_seeds(root):
    rows = summarize(root, "v1/exp")
    assert [(r["run"], r["tag"]) for r in rows] == [
        ("run0", "correlation"), ("run0", "loss"), ("run1", "correlation"), ("run1", "loss")]
    for row in rows:
        finals = [final_correlation(row["run"], k) for k in range(SEEDS)]
        if row["tag"] == "loss":
            finals = [2.0 - f - 0.49 for f in finals]
        p50, p90, p10 = np.percentile(finals, (50, 90, 10))
        assert row["seeds"] == SEEDS
        assert row["step"] == 49
        assert row["p50"] == pytest.approx(p50, abs=1e-6)
        assert row["p90"] == pytest.approx(p90, abs=1e-6)
        assert row["p10"] == pytest.approx(p10, abs=1e-6)
        # Only the key that differs between the runs is shown.
        assert row["lr"] == (1e-3 if row["run"] == "run0" else 1e-2)
        assert "l2" not in row and "epochs" not in row
    assert list(rows[0]) == ["run", "tag", "seeds", "step", "p50", "p90", "p10", "lr"]


def test_tags_and_split_selection(root):
    rows = summarize(root, "v1/exp", split="train", tags=["correlation"])
    assert [r["tag"] for r in rows] == ["correlation", "correlation"]
    assert all(r["p50"] == pytest.approx(0.9, abs=1e-6) for r in rows)
    with pytest.raises(ValueError, match="no scalar 'corr'.*tags found: correlation, loss"):
        summarize(root, "v1/exp", tags=["corr"])
    with pytest.raises(FileNotFoundError, match="no 'test' logs.*splits found: train, validation"):
        collect(root, "v1/exp", split="test")


def test_collect_structure(root):
    data = collect(root, "v1/exp")
    assert list(data) == ["run0", "run1"]
    assert list(data["run1"]) == list(range(SEEDS))
    steps, values = data["run1"][3]["correlation"]
    assert steps.tolist() == STEPS and steps.dtype == np.int64
    assert values[-1] == pytest.approx(final_correlation("run1", 3), abs=1e-6)


def test_missing_experiment_is_a_clear_error(root):
    with pytest.raises(FileNotFoundError) as info:
        collect(root, "v1/nope")
    message = str(info.value)
    assert os.path.join(str(root), "logs", "v1", "nope") in message
    assert "v1/exp, v1/other" in message
    with pytest.raises(FileNotFoundError, match="experiments under .*: none"):
        summarize(root / "elsewhere", "v1/exp")


def test_resumed_run_is_deduplicated_later_file_wins(tmp_path):
    directory = tmp_path / "seed0" / "validation"
    write_scalars(directory, {"correlation": [(s, float(s)) for s in range(10)]})
    (first,) = directory.glob("events.out.tfevents.*")
    # Killed after step 9, resumed from the checkpoint of step 4: steps 5-9 are logged again.
    write_scalars(directory, {"correlation": [(s, 100.0 + s) for s in range(5, 13)]})
    assert len(list(directory.glob("events.out.tfevents.*"))) == 2
    steps, values = read_scalars(directory)["correlation"]
    assert steps.tolist() == list(range(13))
    assert values.tolist() == [0, 1, 2, 3, 4] + [100.0 + s for s in range(5, 13)]
    # "Later" means started later, not named later (names embed a host and pid, e.g. after a
    # resume on another node): rename the later file so that it sorts first.
    (second,) = set(directory.glob("events.out.tfevents.*")) - {first}
    second.rename(directory / "events.out.tfevents.0.zzz")
    first.rename(directory / "events.out.tfevents.9.aaa")
    assert read_scalars(directory)["correlation"][1].tolist() == values.tolist()


def test_simple_values_and_non_scalars(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    # A TF1-style event file: simple_value instead of a tensor.
    legacy = EventFileWriter(str(tmp_path))
    for step in (2, 0, 1):
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=step / 10)])
        legacy.add_event(event_pb2.Event(wall_time=1.0, step=step, summary=summary))
    legacy.close()
    # Histograms and text in the same directory are not scalars and are skipped.
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        tf.summary.histogram("weights", tf.range(10.0), step=0)
        tf.summary.text("note", "hello", step=0)
        tf.summary.scalar("correlation", 0.5, step=3)
    writer.close()
    scalars = read_scalars(tmp_path)
    assert sorted(scalars) == ["correlation", "loss"]
    steps, values = scalars["loss"]
    assert steps.tolist() == [0, 1, 2]
    assert values == pytest.approx([0.0, 0.1, 0.2])
    assert scalars["correlation"][1].tolist() == [0.5]


def test_seeds_ending_at_different_steps(tmp_path):
    run = tmp_path / "logs" / "v1" / "partial" / "run0"
    write_scalars(run / "seed0" / "validation", {"correlation": [(0, 0.1), (49, 0.4)]})
    write_scalars(run / "seed1" / "validation", {"correlation": [(0, 0.1), (9, 0.2)]})
    (row,) = summarize(tmp_path, "v1/partial")
    assert row["seeds"] == 2 and row["step"] == "9-49"
    assert row["p50"] == pytest.approx(0.3, abs=1e-6)


def test_percentiles_helper():
    values = np.arange(11.0)
    assert percentiles(values) == (5.0, 9.0, 1.0)
    assert percentiles(values, q=(25,)) == (2.5,)
    with pytest.raises(ValueError, match="at least one value"):
        percentiles([])


def test_format_table_is_aligned(root):
    rows = summarize(root, "v1/exp")
    text = format_table(rows)
    lines = text.split("\n")
    assert len(lines) == len(rows) + 2
    header = lines[0]
    assert header.split() == ["run", "tag", "seeds", "step", "p50", "p90", "p10", "lr"]
    end = header.index("p50") + len("p50")  # numbers are right-aligned under their column
    for line, row in zip(lines[2:], rows):
        assert line[:end].endswith(f"{row['p50']:.4f}")
    assert format_table([]) == "(no data)"


def test_write_csv(root, tmp_path):
    rows = summarize(root, "v1/exp")
    path = write_csv(rows, tmp_path / "out" / "summary.csv")
    with open(path, newline="") as f:
        back = list(csv.DictReader(f))
    assert list(back[0]) == ["run", "tag", "seeds", "step", "p50", "p90", "p10", "lr"]
    assert len(back) == len(rows)
    for row, read in zip(rows, back):
        assert read["run"] == row["run"] and read["tag"] == row["tag"]
        assert int(read["seeds"]) == SEEDS and int(read["step"]) == 49
        for key in ("p50", "p90", "p10", "lr"):
            assert float(read[key]) == pytest.approx(row[key], abs=1e-12)
    assert os.listdir(tmp_path / "out") == ["summary.csv"]  # no temporary file left behind


def test_plot_learning_curves(root, tmp_path):
    import matplotlib.image

    path = plot_learning_curves(collect(root, "v1/exp"), tmp_path / "curves.png", tag="correlation")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 0 and image.shape[1] > 0
    assert os.listdir(tmp_path) == ["curves.png"]
    with pytest.raises(ValueError, match="no run logs a scalar 'accuracy'"):
        plot_learning_curves(collect(root, "v1/exp"), tmp_path / "x.png", tag="accuracy")


def test_the_experiment_names_the_summary_tags_and_the_plotted_metric(root, tmp_path, capsys):
    import json
    import shutil

    from ndnx.analysis.summary import default_plot_tag, logged_splits, print_summary

    copy = tmp_path / "td"
    shutil.copytree(root, copy)
    data = collect(copy, "v1/exp")
    # No run_info.json: every tag, and the plot shows the correlation (then the loss) if logged.
    rows = print_summary(copy, "v1/exp")
    assert {r["tag"] for r in rows} == {"correlation", "loss"}
    assert default_plot_tag(copy, "v1/exp", data) == "correlation"
    # What the experiment recorded (ndnx.experiment.records.write_run_info) decides.
    info = {"objective": {"split": "validation", "metric": "loss", "direction": "min", "name": "val_loss"},
            "summary_tags": ["loss", "not_logged"]}
    (copy / "logs" / "v1" / "exp" / "run0" / "run_info.json").write_text(json.dumps(info))
    capsys.readouterr()
    rows = print_summary(copy, "v1/exp")
    assert {r["tag"] for r in rows} == {"loss"} and len(rows) == 2
    assert "final validation metrics" in capsys.readouterr().out
    assert default_plot_tag(copy, "v1/exp", data) == "loss"
    assert logged_splits(copy, "v1/exp") == ["validation"]


def test_every_scalar_is_read_back(tmp_path):
    # TensorBoard's reader keeps a sample of 10,000 values per tag unless told to keep them all.
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path))
    for step in range(10_050):
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=float(step))])
        writer.add_event(event_pb2.Event(wall_time=1.0 + step, step=step, summary=summary))
    writer.close()
    steps, values = read_scalars(tmp_path)["loss"]
    assert steps.tolist() == list(range(10_050)) and values.tolist() == [float(s) for s in range(10_050)]


def test_the_table_says_what_its_metrics_are(root, tmp_path, capsys):
    import json
    import shutil

    from ndnx.analysis.summary import print_summary

    copy = tmp_path / "td"
    shutil.copytree(root, copy)
    info = {"metrics": {"correlation": "mean over neurons of per-neuron Pearson r",
                        "unlogged": "not in the table"}}
    (copy / "logs" / "v1" / "exp" / "run0" / "run_info.json").write_text(json.dumps(info))
    print_summary(copy, "v1/exp")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "v1/exp: final validation metrics over seeds (50th / 90th / 10th percentile)"
    assert lines[1] == "  correlation = mean over neurons of per-neuron Pearson r"
    assert lines[2].split()[:2] == ["run", "tag"]  # loss has no description; nothing else is said


def test_runs_are_named_by_their_varied_values(root, tmp_path):
    import json
    import shutil

    from ndnx.analysis.summary import experiment_figure, run_labels

    copy = tmp_path / "td"
    shutil.copytree(root, copy)
    runs = copy / "logs" / "v1" / "exp"
    for run, lr in (("run0", 1e-3), ("run1", 1e-2)):
        (runs / run / "run_info.json").write_text(json.dumps({"varied": {"lr": lr, "regions": [1, 2]}}))
    rows = summarize(copy, "v1/exp")
    assert [(r["run"], r["folder"]) for r in rows] == [("lr=0.001 regions=[1, 2]", "run0")] * 2 + [
        ("lr=0.01 regions=[1, 2]", "run1")] * 2
    assert list(rows[0]) == ["run", "tag", "seeds", "step", "p50", "p90", "p10", "lr", "folder"]

    # The plot: its title names the experiment, the split and the metric; the legend the varied values.
    fig, tag = experiment_figure(copy, "v1/exp", split="validation")
    ax = fig.axes[0]
    assert tag == "correlation"
    assert ax.get_title().splitlines() == ["v1/exp, validation split: correlation",
                                           "median over seeds, band = 10th-90th percentile"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"lr=0.001 regions=[1, 2] ({SEEDS} seeds)", f"lr=0.01 regions=[1, 2] ({SEEDS} seeds)"]

    # Runs of separate commands that varied the same way keep apart by their folders; a run with
    # nothing varied is named by its folder.
    (runs / "run1" / "run_info.json").write_text(json.dumps({"varied": {"lr": 1e-3, "regions": [1, 2]}}))
    assert run_labels(copy, "v1/exp", ["run0", "run1"]) == {"run0": "lr=0.001 regions=[1, 2] (run0)",
                                                            "run1": "lr=0.001 regions=[1, 2] (run1)"}
    (runs / "run1" / "run_info.json").write_text(json.dumps({"varied": {}}))
    assert run_labels(copy, "v1/exp", ["run1"]) == {"run1": "run1"}


def test_a_summary_of_some_runs_leaves_the_others_out(root):
    from ndnx.analysis.summary import logged_splits

    rows = summarize(root, "v1/exp", runs={"run1"})
    assert {r["folder"] if "folder" in r else r["run"] for r in rows} == {"run1"}
    finals = [final_correlation("run1", k) for k in range(SEEDS)]
    [corr] = [r for r in rows if r["tag"] == "correlation"]
    assert corr["p50"] == pytest.approx(np.percentile(finals, 50))
    assert logged_splits(root, "v1/exp", runs={"run1"}) == ["validation"]
    assert logged_splits(root, "v1/exp", runs={"nothing"}) == []
