"""Prediction-quality metrics: NumPy reference functions and streaming Keras metrics.

- `ndnx.metrics.correlation` — family-neutral: per-unit Pearson correlation between predictions and
  targets, masked, with a replica axis (`pearson_per_neuron`, `mean_pearson`, `NAN_MODES`,
  `PearsonCorrelation`).
- `ndnx.metrics.v1` — V1 system identification on repeated trials: repeats layout, variance
  components, FEV, FEVE, single-trial correlation, correlation to average, oracle correlation
  (jackknife, conservative, extrapolated), signal-to-noise ratio (`SingleTrialCorrelation`,
  `CorrelationToAverage`, `FEVE`, `OracleCorrelation` stream them).

- `ndnx.metrics.tasks` — behavioural accuracy of a task readout (dual task, DPA, Go/NoGo:
  `dual_accuracy`).

Every public name is importable from here (`ndnx.metrics.feve`, ...). The Keras metric
classes are registered as "ndnx>ClassName" whichever module defines them, so `.keras` files saved
when they lived in the single module `ndnx/metrics.py` still load. One rule for every score: where a
neuron's value is undefined it is 0, and that 0 enters the mean over neurons (details in each module).
"""

from ndnx.metrics import correlation, tasks, v1
from ndnx.metrics.correlation import NAN_MODES, PearsonCorrelation, mean_pearson, pearson_per_neuron
from ndnx.metrics.tasks import dual_accuracy
from ndnx.metrics.v1 import (
    FEVE,
    ORACLE_METHODS,
    CorrelationToAverage,
    OracleCorrelation,
    SingleTrialCorrelation,
    correlation_to_average,
    explainable_variance,
    fev,
    feve,
    mean_feve,
    noise_variance,
    oracle_correlation,
    repeats_from_trials_first,
    single_trial_correlation,
    snr,
    stack_repeats,
    standardize_responses,
    total_variance,
    trial_average,
)

__all__ = [
    "pearson_per_neuron", "mean_pearson", "NAN_MODES", "PearsonCorrelation", "dual_accuracy",
    "stack_repeats", "repeats_from_trials_first", "trial_average", "standardize_responses",
    "total_variance", "noise_variance", "explainable_variance", "fev", "feve", "mean_feve",
    "single_trial_correlation", "correlation_to_average", "oracle_correlation", "snr", "ORACLE_METHODS",
    "SingleTrialCorrelation", "CorrelationToAverage", "FEVE", "OracleCorrelation",
]
