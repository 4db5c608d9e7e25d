"""Matplotlib figures, drawn on Agg canvases (no pyplot state, no GUI) and saved atomically.

- `ndnx.plotting.figures` — family-neutral: `new_figure`, `save_figure`, `plot_kernels` (a grid of
  2-D kernels), `plot_learning_curves` (median and 10th–90th percentile band over seeds);
  `ndnx.plotting.movies` — family-neutral GIFs: `mosaic`, `colourise`, `write_movie`.
- `ndnx.plotting.ei` — E/I rate networks: `plot_rate_image`, `plot_population_rates`,
  `plot_bump_phase`, `plot_parameter_map`.
- `ndnx.plotting.energy` — energy-based models (NRF-LV): `plot_samples`, `plot_channel_maps`,
  `plot_edge_weights`, the GIFs `write_sample_movie` and `write_channel_movie`;
  `ndnx.plotting.energy_oscillations` — their sampler trajectories: `plot_state_and_momentum`,
  `plot_contrast_spectrograms`.
- `ndnx.plotting.spectra` — `plot_eigenvalues` (complex plane with the stability boundaries of a leaky
  rate network).
- `ndnx.plotting.cordsnet` — CordsNet dynamics: `plot_area_activity`, `plot_latencies`.
- `ndnx.plotting.v1` — V1 models and results: `plot_dog_filters`, `plot_effective_hidden_kernels`,
  `plot_readout_masks`, `plot_readout_positions`, `plot_correlation_histogram`.

Every name of them is importable from here (`ndnx.plotting.plot_kernels`, ...).
"""

from ndnx.plotting import cordsnet, ei, energy, energy_oscillations, figures, movies, spectra, v1
from ndnx.plotting.cordsnet import plot_area_activity, plot_latencies
from ndnx.plotting.energy import plot_channel_maps, plot_edge_weights, plot_samples, write_channel_movie, \
    write_sample_movie
from ndnx.plotting.energy_oscillations import plot_contrast_spectrograms, plot_state_and_momentum
from ndnx.plotting.ei import plot_bump_phase, plot_parameter_map, plot_population_rates, plot_rate_image
from ndnx.plotting.figures import new_figure, plot_kernels, plot_learning_curves, save_figure
from ndnx.plotting.movies import colourise, mosaic, write_movie
from ndnx.plotting.spectra import plot_eigenvalues
from ndnx.plotting.v1 import (
    plot_correlation_histogram,
    plot_dog_filters,
    plot_effective_hidden_kernels,
    plot_readout_masks,
    plot_readout_positions,
)

__all__ = ["new_figure", "save_figure", "plot_kernels", "plot_dog_filters", "plot_effective_hidden_kernels",
           "plot_readout_masks", "plot_readout_positions", "plot_correlation_histogram", "plot_learning_curves",
           "plot_rate_image", "plot_population_rates", "plot_bump_phase", "plot_parameter_map", "plot_eigenvalues",
           "plot_area_activity", "plot_latencies", "plot_samples", "plot_channel_maps", "plot_edge_weights",
           "plot_state_and_momentum", "plot_contrast_spectrograms", "write_sample_movie", "write_channel_movie",
           "mosaic", "colourise", "write_movie"]
