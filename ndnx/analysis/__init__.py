"""Analysis of finished experiments: percentiles over seeds, tables, CSV files and learning curves.

Everything reads what training wrote under <root>/logs/ (TensorBoard event files and each run's
config.yaml), so it works on runs from any machine or runner, and while runs are still going.
"""

from ndnx.analysis.summary import (
    collect,
    format_table,
    percentiles,
    plot_learning_curves,
    read_scalars,
    summarize,
    write_csv,
)

__all__ = ["collect", "format_table", "percentiles", "plot_learning_curves", "read_scalars",
           "summarize", "write_csv"]
