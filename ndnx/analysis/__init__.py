"""Analysis of finished experiments: percentiles over seeds, tables, CSV files and learning curves.

Everything reads what training wrote under <root>/logs/ (TensorBoard event files and each run's
config.yaml), so it works on runs from any machine or runner, and while runs are still going.

`ndnx.analysis.mean_field` holds the analytic oracles of E/I rate networks (STP steady states,
linear and balanced fixed points, STP multistability, linear ring modes), NumPy/SciPy only.

`ndnx.analysis.eigen` holds eigenvalues of linear operators given as functions (dense probing,
matrix-free Arnoldi, sign-aligned power iteration, convolution and ReLU-Jacobian operators, the
stability criteria of a leaky rate network); `ndnx.analysis.cordsnet` applies them to a CordsNet
(recurrent and fixed-point Jacobian spectra, response latencies, noise robustness, area activity).

`ndnx.analysis.feedback` holds the metrics of feedback-modulated networks (signal clarity, per-source
correlation, SNR, decoding across contexts, plane and principal angles).
"""

from ndnx.analysis import eigen, feedback, mean_field
from ndnx.analysis.summary import (
    collect,
    format_table,
    percentiles,
    plot_learning_curves,
    read_scalars,
    summarize,
    write_csv,
)

__all__ = ["eigen", "feedback", "mean_field", "collect", "format_table", "percentiles", "plot_learning_curves", "read_scalars",
           "summarize", "write_csv"]
