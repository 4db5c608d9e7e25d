"""Summaries over seeds, read back from the TensorBoard event files of an experiment.

Layout (see ndnx.experiment):

    <root>/logs/<group>/<experiment>/<run>/config.yaml                      resolved hyper-parameters
    <root>/logs/<group>/<experiment>/<run>/seed<k>/{train,validation}/events.out.tfevents.*

As in msc-neuro, a run is summarized by the (50th, 90th, 10th) percentiles across its seeds of the
metric value at each seed's final logged step:

    rows = summarize("training_data", "v1/baseline4")
    print(format_table(rows))
    write_csv(rows, "baseline4.csv")
    plot_learning_curves(collect("training_data", "v1/baseline4"), "baseline4.png")
"""

import csv
import glob
import math
import os
import re

import numpy as np

from ndnx.files import atomic_open

__all__ = ["read_scalars", "collect", "percentiles", "summarize", "format_table", "write_csv",
           "plot_learning_curves", "logged_splits", "run_info", "print_summary", "default_plot_tag",
           "metric_descriptions", "run_label", "run_labels", "plot_experiment",
           "learning_curves_figure", "experiment_figure"]

SUMMARY_COLUMNS = ("run", "tag", "seeds", "step")


def _natural_key(text):
    # run2 before run10, seed9 before seed10.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _as_scalar(tensor_proto):
    """The float in a TF2 scalar summary's tensor, or None when it holds more than one number."""
    from tensorboard.util import tensor_util

    array = tensor_util.make_ndarray(tensor_proto)
    if array.size != 1 or not np.issubdtype(array.dtype, np.number):
        return None
    return float(array.reshape(()))


def _read_event_file(path):
    """[(step, tag, value)] of the scalars in one event file, and the wall time it starts at.

    Read with TensorBoard's own `EventAccumulator` (what TensorBoard itself and tbparse read
    event files with), one file at a time and with nothing dropped: every scalar kept (no
    reservoir sampling) and no "orphaned data" purge, since the order of the files of a resumed
    run is decided here, by when each file started.
    """
    from tensorboard.backend.event_processing import event_accumulator as ea

    keep_all = {ea.SCALARS: 0, ea.TENSORS: 0, ea.IMAGES: 1, ea.AUDIO: 1, ea.HISTOGRAMS: 1,
                ea.COMPRESSED_HISTOGRAMS: 1}
    accumulator = ea.EventAccumulator(path, size_guidance=keep_all, purge_orphaned_data=False).Reload()
    tags = accumulator.Tags()
    records = []
    for tag in tags.get(ea.SCALARS, ()):  # TF1 / tf.compat.v1 summaries (simple_value)
        records += [(int(e.step), tag, float(e.value), e.wall_time) for e in accumulator.Scalars(tag)]
    for tag in tags.get(ea.TENSORS, ()):  # TF2 summaries: scalars are tensors of the "scalars" plugin
        try:
            plugin = accumulator.SummaryMetadata(tag).plugin_data.plugin_name
        except KeyError:
            plugin = ""
        if plugin not in ("scalars", ""):
            continue  # text, hparams, ...
        for e in accumulator.Tensors(tag):
            number = _as_scalar(e.tensor_proto)
            if number is not None:
                records.append((int(e.step), tag, number, e.wall_time))
    # The file_version event's wall time is whole seconds (TF2), too coarse to order a run resumed
    # within the same second; the first summary's is precise.
    if records:
        start = min(r[3] for r in records)
    else:
        try:
            start = accumulator.FirstEventTimestamp()
        except ValueError:  # an empty file
            start = math.inf
    records.sort(key=lambda r: r[3])  # in the order they were written (the sort is stable)
    return [r[:3] for r in records], start


def read_scalars(directory):
    """All scalar summaries in one TensorBoard directory: {tag: (steps, values)}, sorted by step.

    Reads every `events.out.tfevents.*` file in `directory` (not its sub-directories). A run that
    was killed and resumed leaves several files with repeated steps; files are applied in the order
    they were started, so for a repeated step the value from the later file wins. Values are
    float64, steps int64.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"read_scalars: expected a directory of TensorBoard event files, got {directory}")
    files = [_read_event_file(p) for p in glob.glob(os.path.join(directory, "events.out.tfevents.*"))]
    files.sort(key=lambda item: item[1])  # sort is stable: same start keeps name order
    by_tag = {}
    for records, _ in files:
        for step, tag, number in records:
            by_tag.setdefault(tag, {})[step] = number
    out = {}
    for tag in sorted(by_tag):
        steps = np.array(sorted(by_tag[tag]), dtype=np.int64)
        values = np.array([by_tag[tag][s] for s in steps], dtype=np.float64)
        out[tag] = (steps, values)
    return out


def _experiments(logs):
    """"group/experiment" names that have a directory under logs/."""
    found = glob.glob(os.path.join(logs, "*", "*", ""))
    return sorted((os.path.relpath(p, logs).replace(os.sep, "/") for p in found), key=_natural_key)


def _seed_dirs(run_dir):
    """{seed: directory} of the seed<k> directories of one run."""
    seeds = {}
    for name in os.listdir(run_dir):
        match = re.fullmatch(r"seed(\d+)", name)
        if match and os.path.isdir(os.path.join(run_dir, name)):
            seeds[int(match.group(1))] = os.path.join(run_dir, name)
    return dict(sorted(seeds.items()))


def collect(root, experiment, split="validation", runs=None):
    """Scalars of every run and seed of an experiment: {run: {seed: {tag: (steps, values)}}}.

    `experiment` is "group/experiment"; `runs` (run folder names) keeps only those runs; runs and
    seeds without `split` logs (not started yet) are left out. Raises FileNotFoundError naming the path, with the experiments that do exist, when
    the experiment has no logs, and listing the splits found when there are none for `split`.
    """
    logs = os.path.join(os.fspath(root), "logs")
    base = os.path.join(logs, experiment)
    if not os.path.isdir(base):
        existing = _experiments(logs)
        raise FileNotFoundError(
            f"no logs for experiment {experiment!r}: expected a directory {base}; "
            f"experiments under {logs}: {', '.join(existing) if existing else 'none'}"
        )
    data = {}
    other_splits = set()
    for run in sorted(os.listdir(base), key=_natural_key):
        if runs is not None and run not in runs:
            continue
        run_dir = os.path.join(base, run)
        if not os.path.isdir(run_dir):
            continue
        seeds = {}
        for seed, seed_dir in _seed_dirs(run_dir).items():
            split_dir = os.path.join(seed_dir, split)
            if os.path.isdir(split_dir):
                scalars = read_scalars(split_dir)
                if scalars:
                    seeds[seed] = scalars
            else:
                other_splits.update(n for n in os.listdir(seed_dir) if os.path.isdir(os.path.join(seed_dir, n)))
        if seeds:
            data[run] = seeds
    if not data and other_splits:
        raise FileNotFoundError(
            f"no {split!r} logs under {base}; splits found: {', '.join(sorted(other_splits))}"
        )
    return data


def percentiles(values, q=(50, 90, 10)):
    """The percentiles `q` of `values` (linear interpolation, as numpy.percentile), as floats."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("percentiles: expected at least one value, got none")
    return tuple(float(p) for p in np.percentile(values, q))


def _read_config(run_dir):
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        return {}
    import yaml

    with open(path) as f:
        config = yaml.safe_load(f)
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a mapping of hyper-parameters, got {type(config).__name__}")
    return config


def _differing_keys(configs):
    """Config keys whose value is not the same in every run (a missing key counts as a value)."""
    keys = sorted({k for c in configs.values() for k in c}, key=str)
    missing = object()
    return [k for k in keys if len({repr(c.get(k, missing)) for c in configs.values()}) > 1]


def summarize(root, experiment, split="validation", tags=None, q=(50, 90, 10), runs=None):
    """One row per (run, tag): percentiles across seeds of each seed's final value.

    Each row is a dict with run, tag, seeds (how many had the tag), step (the final step; "a-b" when
    seeds ended at different steps), p50, p90, p10 (named after `q`), and the config.yaml keys whose
    values differ between the runs (prefixed "config." if a name clashes with a column).
    `tags`: the tags to report (default all, alphabetically); `runs`: only these run folders.
    """
    data = collect(root, experiment, split, runs=runs)
    base = os.path.join(os.fspath(root), "logs", experiment)
    configs = {run: _read_config(os.path.join(base, run)) for run in data}
    labels = run_labels(root, experiment, data)
    differing = _differing_keys(configs)
    present = sorted({t for seeds in data.values() for scalars in seeds.values() for t in scalars})
    if tags is None:
        tags = present
    else:
        tags = [tags] if isinstance(tags, str) else list(tags)
        unknown = [t for t in tags if t not in present]
        if unknown:
            raise ValueError(
                f"summarize: no scalar {unknown[0]!r} in the {split} logs of {experiment}; "
                f"tags found: {', '.join(present) or 'none'}"
            )
    names = [f"p{x:g}" for x in q]
    rows = []
    for run, seeds in data.items():
        for tag in tags:
            finals = [(int(s[tag][0][-1]), float(s[tag][1][-1])) for s in seeds.values() if tag in s]
            if not finals:
                continue
            steps = sorted({step for step, _ in finals})
            row = {
                "run": labels[run],
                "tag": tag,
                "seeds": len(finals),
                "step": steps[0] if len(steps) == 1 else f"{steps[0]}-{steps[-1]}",
            }
            row.update(zip(names, percentiles([v for _, v in finals], q)))
            for key in differing:
                column = f"config.{key}" if key in row else key
                row[column] = configs[run].get(key)
            if any(label != name for name, label in labels.items()):
                row["folder"] = run
            rows.append(row)
    return rows


def _value_text(value):
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple, dict)):
        import json

        return json.dumps(value, default=str)
    return str(value)


def run_label(varied, folder):
    """How tables and plots name a run: its varied values ("lr=0.001 l2_output=0.1"), or its folder
    name when nothing was varied."""
    if not varied:
        return folder
    return " ".join(f"{key}={_value_text(value)}" for key, value in varied.items())


def run_labels(root, experiment, runs):
    """{run folder: label} of `runs` by the varied values their run_info.json records (`run_label`);
    a folder without a record keeps its name, and runs that would share a label add their folder."""
    base = os.path.join(os.fspath(root), "logs", experiment)
    labels = {}
    for run in runs:
        varied = _read_run_info(os.path.join(base, run)).get("varied")
        labels[run] = run_label(varied if isinstance(varied, dict) else {}, run)
    counts = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    return {run: label if counts[label] == 1 or label == run else f"{label} ({run})" for run, label in labels.items()}


def _read_run_info(run_dir):
    import json

    try:
        with open(os.path.join(run_dir, "run_info.json")) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _columns(rows):
    columns = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return columns


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        # Four decimals suit metrics; tiny or huge values (learning rates, 1e-5) keep their digits.
        if value == 0 or 1e-3 <= abs(value) < 1e6 or not math.isfinite(value):
            return f"{value:.4f}"
        return f"{value:.4g}"
    return str(value)


def format_table(rows):
    """Rows as an aligned plain-text table (numbers right-aligned, floats to 4 decimals)."""
    if not rows:
        return "(no data)"
    columns = _columns(rows)
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row.get(c), (int, float)) and not isinstance(row.get(c), bool)
                   for row in rows if row.get(c) is not None) for c in columns]

    def line(values):
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def write_csv(rows, path):
    """Write rows (as from `summarize`) to a CSV file, atomically; returns the absolute path."""
    path = os.path.abspath(os.fspath(path))
    with atomic_open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_columns(rows))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return path


def _curve(seeds, tag):
    """Steps and (p50, p10, p90) across the seeds logging `tag` at each step."""
    per_step = {}
    for scalars in seeds.values():
        if tag in scalars:
            for step, value in zip(*scalars[tag]):
                per_step.setdefault(int(step), []).append(value)
    steps = np.array(sorted(per_step), dtype=np.int64)
    bands = np.array([np.percentile(per_step[s], (50, 10, 90)) for s in steps]).reshape(-1, 3)
    return steps, bands[:, 0], bands[:, 1], bands[:, 2]


def plot_learning_curves(data, path, tag="correlation", title=None, labels=None, ylabel=None):
    """Plot `tag` against step for every run of `data` (from `collect`) and save a PNG atomically.

    One line per run: the median over seeds, with a shaded 10th-90th percentile band. `labels`
    ({run: text}) names the runs in the legend (default their folder names); `title` goes over the
    plot (`plot_experiment` names the experiment and the split). Returns the path.
    """
    fig = learning_curves_figure(data, tag, title=title, labels=labels, ylabel=ylabel)
    path = os.path.abspath(os.fspath(path))
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120)
    return path


def learning_curves_figure(data, tag="correlation", title=None, labels=None, ylabel=None):
    """The figure `plot_learning_curves` saves (a matplotlib Figure on an Agg canvas)."""
    runs = {run: seeds for run, seeds in data.items()
            if any(tag in scalars for scalars in seeds.values())}
    if not runs:
        present = sorted({t for seeds in data.values() for s in seeds.values() for t in s})
        raise ValueError(
            f"plot_learning_curves: no run logs a scalar {tag!r}; tags found: {', '.join(present) or 'none'}"
        )
    labels = labels or {}
    # Figure + Agg canvas without pyplot: no global backend switch, no GUI, no figure registry.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for run, seeds in runs.items():
        steps, median, low, high = _curve(seeds, tag)
        n = sum(1 for s in seeds.values() if tag in s)
        (line,) = ax.plot(steps, median, marker="." if len(steps) < 30 else None,
                          label=f"{labels.get(run, run)} ({n} seed{'s' if n != 1 else ''})")
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are epochs
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or tag)
    subtitle = "median over seeds, band = 10th-90th percentile"
    ax.set_title(f"{title}\n{subtitle}" if title else f"{tag}: {subtitle}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def experiment_figure(root, experiment, split="validation", tag=None):
    """The learning curves `plot_experiment` draws, as (Figure, tag)."""
    data = collect(root, experiment, split=split)
    tag = tag or default_plot_tag(root, experiment, data)
    text = _description(metric_descriptions(root, experiment), tag)
    fig = learning_curves_figure(data, tag, title=f"{experiment}, {split} split: {tag}",
                                 labels=run_labels(root, experiment, data),
                                 ylabel=f"{tag}\n({text})" if text else tag)
    return fig, tag


def plot_experiment(root, experiment, path, split="validation", tag=None):
    """`ndnx summarize --plot`: learning curves of every run of `experiment` on `split`, titled with the
    experiment, the split and the metric, the runs named by their varied values (`run_labels`).

    `tag` defaults to the experiment's objective (`default_plot_tag`). Returns (path, tag).
    """
    fig, tag = experiment_figure(root, experiment, split=split, tag=tag)
    path = os.path.abspath(os.fspath(path))
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120)
    return path, tag


def logged_splits(root, experiment, runs=None):
    """The splits an experiment logged (validation first, then the others; train left out).

    `runs`: only what these run folders logged.
    """
    pattern = os.path.join(os.fspath(root), "logs", experiment, "*", "seed*", "*")
    found = {os.path.basename(p) for p in glob.glob(pattern) if os.path.isdir(p)
             and (runs is None or os.path.basename(os.path.dirname(os.path.dirname(p))) in runs)}
    found.discard("train")
    return sorted(found, key=lambda s: (s != "validation", s))


def run_info(root, experiment):
    """The run_info.json of the experiment's first run that has one ({} when none does).

    It names the experiment's fit, its objective ({"split", "metric", "direction", "name"}) and the
    tags its summary shows (`summary_tags`, None for all).
    """
    base = os.path.join(os.fspath(root), "logs", experiment)
    for run in sorted(os.listdir(base), key=_natural_key) if os.path.isdir(base) else ():
        info = _read_run_info(os.path.join(base, run))
        if info:
            return info
    return {}


def print_summary(root, experiment, split="validation", tags=None, runs=None):
    """Print (and return) the percentile table of one split.

    `tags`: the metrics to show; default the experiment's own choice (`summary_tags` of its
    run_info.json), else every logged metric. Tags not logged in this split are left out.
    `runs`: only these run folders (e.g. the runs one command ran).
    """
    data = collect(root, experiment, split, runs=runs)
    present = sorted({t for seeds in data.values() for scalars in seeds.values() for t in scalars})
    if tags is None:
        tags = run_info(root, experiment).get("summary_tags")
    chosen = None if not tags else [t for t in tags if t in present] or None
    rows = summarize(root, experiment, split=split, tags=chosen, runs=runs)
    print(f"{experiment}: final {split} metrics over seeds (50th / 90th / 10th percentile)")
    described = metric_descriptions(root, experiment)
    for tag in dict.fromkeys(row["tag"] for row in rows):
        text = _description(described, tag)
        if text:
            print(f"  {tag} = {text}")
    print(format_table(rows))
    return rows


def metric_descriptions(root, experiment):
    """{metric: what it is} as the experiment recorded it (run_info.json "metrics"; {} if it did not)."""
    described = run_info(root, experiment).get("metrics")
    return dict(described) if isinstance(described, dict) else {}


def _description(described, tag):
    """What `tag` is: its own entry, or that of its last part (a chain step's "<step>/<metric>")."""
    return described.get(tag) or described.get(tag.rsplit("/", 1)[-1])


def default_plot_tag(root, experiment, data):
    """The metric a learning-curve plot shows by default: the experiment's objective, when logged."""
    present = sorted({t for seeds in data.values() for s in seeds.values() for t in s})
    objective = run_info(root, experiment).get("objective") or {}
    for tag in (objective.get("metric"), "correlation", "loss"):
        if tag in present:
            return tag
    if not present:
        raise ValueError(f"{experiment}: no metric was logged")
    return present[0]
