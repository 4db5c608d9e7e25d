"""Experiments, runs and repetitions: configuration, grids, fits, the training_data/ layout, running.

Vocabulary (msc-neuro): an **experiment** is a script defining a model family and a grid of
hyper-parameters; a **run** is one point of the grid; a **repetition** is one seed of a run. An
experiment says how its runs are fitted (`fit=`: `Epochs`, `NDN3Fit`, `Simulation`, `Chain`), how
they are evaluated (`evaluate=`) and what a tuner optimises (`objective=`); `ndnx run`, the
runners, resume, `ndnx summarize` and `ndnx tune` work the same for every kind.

A run is its configuration: its folder is named by its values and the hash of the whole resolved
configuration, and never holds another one. The values are checked against what the experiment
and its fit declare before anything is written; one process at a time fits a repetition.

Modules: `experiment` (the `Experiment` class), `config` (overrides, value checks, grids, runs and
their names), `fits` (how a job is fitted), `layout` (paths under training_data/), `records` (run
records, experiments.txt), `ownership` (one process per repetition, leftovers of killed writers,
starting over), `planning` (jobs and runners), `commandline` (the options of `ndnx run`).
"""

from ndnx.experiment.config import (Check, Run, boolean, each, finite, integer, non_negative, number, one_of,
                                    optional, parse_overrides, positive, text)
from ndnx.experiment.experiment import Experiment, load_experiment
from ndnx.experiment.fits import Chain, Epochs, Fit, Job, NDN3Fit, Objective, Records, Simulation, Step
from ndnx.experiment.layout import Layout, default_root, seed_label

__all__ = ["Experiment", "Run", "Layout", "load_experiment", "parse_overrides", "seed_label", "default_root",
           "Fit", "Job", "Objective", "Epochs", "NDN3Fit", "Simulation", "Records", "Chain", "Step",
           "Check", "positive", "non_negative", "finite", "number", "integer", "one_of", "boolean", "text", "each",
           "optional"]
