"""Figures of energy-based latent-variable models (NRF-LV): sample grids, per-channel maps, edge filters.

Spec energy_sampling_nrflv.md §3.1 (the original's `--viz` PNGs): the image layer of sampled chains as a
grid (also one row per channel for the `channels_energy` / `channels_state` summaries), and here also
the per-channel state (or per-unit energy) maps of one example and the learned filters of an edge.

- `plot_samples(images, value_range)`: one panel per image; images (N, H, W[, C]) or a grid
  (rows, N, H, W[, C]); each drawn as clip((x − lo)/(hi − lo), 0, 1) (C = 3 as RGB, C = 1 in grey).
- `plot_channel_maps(state)`: one panel per channel of an (H, W, C) map (a state, per-unit energies,
  a gradient), on a shared colour scale (`value_range`, or symmetric around 0).
- `plot_edge_weights(kernel)`: the filters of a conv edge, a (k, k, C_in, C_out) kernel (e.g.
  `EnergyGraph.edge_kernel("image", "sl1")`): with 3 input channels one RGB panel per output channel
  (0.5 + 0.5·w/max|w| per filter), otherwise a grid of 2-D kernels, a row per output channel.

Each returns a `matplotlib.figure.Figure` on an Agg canvas (`ndnx.plotting.figures`); given `path`, also a PNG.

Movies (looping GIFs through `ndnx.plotting.movies`, the thesis's map GIFs):

- `write_sample_movie(images, path)`: sampled images over time, (T, N, H, W[, C]) — e.g. the image layer
  of `ndnx.energy.visualisation.visualise` snapshot by snapshot; one mosaic of the N images per frame;
- `write_channel_movie(frames, path)`: per-channel maps over time, (T, H, W, C) — e.g. a recording's
  response maps in time bins; one panel per channel, one colour scale for the whole movie.

Example:
    >>> import numpy as np
    >>> from ndnx.plotting.energy import plot_samples
    >>> fig = plot_samples(np.zeros((6, 4, 4, 3)), value_range=(-1, 1), ncols=3)
    >>> len([ax for ax in fig.axes if ax.images]), float(fig.axes[0].images[0].get_array().max())
    (6, 0.5)
"""

import numpy as np

from ndnx.plotting.figures import new_figure, save_figure
from ndnx.plotting.movies import colourise, mosaic, write_movie

__all__ = ["plot_samples", "plot_channel_maps", "plot_edge_weights", "write_sample_movie", "write_channel_movie"]


def _grid(count, ncols, rows=None):
    if rows is not None:
        return rows, count // rows
    ncols = int(ncols or min(count, 16))
    return int(np.ceil(count / ncols)), ncols


def _panels(nrows, ncols, size=1.0, title=None):
    fig = new_figure(size * ncols + 0.3, size * nrows + (0.4 if title else 0.1))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig, list(axes.flat)


def _finish(fig, path):
    if path:
        save_figure(fig, path)
    return fig


def _range(name, value_range):
    lo, hi = (float(v) for v in value_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"{name}: value_range must be two finite numbers (low, high) with high > low, got {value_range!r}")
    return lo, hi


def _channels_and_range(name, maps, channels, value_range):
    """The channels of `maps` (…, C) to draw (default all) and one colour scale: `value_range`, or symmetric
    around 0 up to their largest |value|."""
    channels = list(range(maps.shape[-1])) if channels is None else [int(c) for c in channels]
    if not channels or any(not 0 <= c < maps.shape[-1] for c in channels):
        raise ValueError(f"{name}: channels must be in 0..{maps.shape[-1] - 1}, got {channels}")
    if value_range is None:
        limit = float(np.abs(maps[..., channels]).max()) or 1.0
        value_range = (-limit, limit)
    return channels, _range(name, value_range)


def plot_samples(images, value_range=(0.0, 1.0), ncols=None, titles=None, title=None, path=None):
    """A grid of images (N, H, W[, C]) or (rows, N, H, W[, C]), C ∈ {1, 3}, rescaled from `value_range`."""
    name = "plot_samples"
    images = np.asarray(images, dtype="float64")
    channels_last = images.ndim in (4, 5) and images.shape[-1] in (1, 3)
    spatial = images.ndim - (1 if channels_last else 0)
    if spatial not in (3, 4) or images.size == 0:
        raise ValueError(f"{name}: expected images (N, H, W[, C]) or (rows, N, H, W[, C]) with C in (1, 3), "
                         f"got shape {images.shape}")
    rows = images.shape[0] if spatial == 4 else None
    flat = images.reshape((-1,) + images.shape[(2 if rows else 1):])
    lo, hi = _range(name, value_range)
    nrows, ncols = _grid(len(flat), ncols, rows)
    fig, axes = _panels(nrows, ncols, 0.8, title)
    for i, ax in zip(range(len(flat)), axes):
        shown = np.clip((flat[i] - lo) / (hi - lo), 0.0, 1.0)
        if shown.ndim == 3 and shown.shape[-1] == 1:
            shown = shown[..., 0]
        ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize="x-small")
    return _finish(fig, path)


def plot_channel_maps(state, channels=None, value_range=None, ncols=None, cmap="RdBu_r", title=None, path=None):
    """One panel per channel of an (H, W, C) map, titled by channel index, on one colour scale."""
    name = "plot_channel_maps"
    state = np.asarray(state, dtype="float64")
    if state.ndim != 3 or state.size == 0:
        raise ValueError(f"{name}: expected one example's map (H, W, C), got shape {state.shape}")
    channels, (lo, hi) = _channels_and_range(name, state, channels, value_range)
    nrows, ncols = _grid(len(channels), ncols)
    fig, axes = _panels(nrows, ncols, 1.0, title)
    image = None
    for c, ax in zip(channels, axes):
        image = ax.imshow(state[..., c], cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(f"ch {c}", fontsize="x-small")
    fig.colorbar(image, ax=axes[:len(channels)], shrink=0.6)
    return _finish(fig, path)


def plot_edge_weights(kernel, outputs=None, inputs=None, title=None, path=None, cmap="RdBu_r"):
    """The filters of a conv edge, kernel (k, k, C_in, C_out); RGB panels when C_in = 3 (and `inputs` unset).

    outputs / inputs: the output / input channels shown (default all outputs up to 32; inputs up to 8).
    """
    name = "plot_edge_weights"
    kernel = np.asarray(kernel, dtype="float64")
    if kernel.ndim != 4 or kernel.size == 0:
        raise ValueError(f"{name}: expected a conv kernel (k, k, C_in, C_out), got shape {kernel.shape}")
    outputs = list(range(min(kernel.shape[3], 32))) if outputs is None else [int(o) for o in outputs]
    rgb = kernel.shape[2] == 3 and inputs is None
    inputs = list(range(min(kernel.shape[2], 8))) if inputs is None else [int(i) for i in inputs]
    if any(not 0 <= o < kernel.shape[3] for o in outputs) or any(not 0 <= i < kernel.shape[2] for i in inputs):
        raise ValueError(f"{name}: outputs must be in 0..{kernel.shape[3] - 1} and inputs in 0..{kernel.shape[2] - 1}, "
                         f"got {outputs} and {inputs}")
    if rgb:
        nrows, ncols = _grid(len(outputs), min(len(outputs), 8))
        fig, axes = _panels(nrows, ncols, 0.9, title)
        for o, ax in zip(outputs, axes):
            limit = np.abs(kernel[..., o]).max() or 1.0
            ax.imshow(0.5 + 0.5 * kernel[..., o] / limit, interpolation="nearest")
            ax.set_title(f"{o}", fontsize="x-small")
        return _finish(fig, path)
    fig, axes = _panels(len(outputs), len(inputs), 0.7, title)
    for (o, i), ax in zip([(o, i) for o in outputs for i in inputs], axes):
        limit = np.abs(kernel[..., o]).max() or 1.0
        ax.imshow(kernel[:, :, i, o], cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"{i}→{o}", fontsize="xx-small")
    return _finish(fig, path)


def write_sample_movie(images, path, value_range=(0.0, 1.0), ncols=None, scale=4, fps=5.0):
    """A GIF of sampled images over time, (T, N, H, W[, C]) with C ∈ {1, 3}: frame t is the mosaic of the N
    images of snapshot t (grey for C = 1), each rescaled from `value_range` and clipped. Returns the path."""
    name = "write_sample_movie"
    images = np.asarray(images, dtype="float64")
    if images.ndim == 5 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (4, 5) or (images.ndim == 5 and images.shape[-1] != 3) or images.size == 0:
        raise ValueError(f"{name}: expected images over time (T, N, H, W[, C]) with C in (1, 3), got shape "
                         f"{images.shape}")
    lo, hi = _range(name, value_range)
    rgb = images.ndim == 5
    frames = [colourise(mosaic(snapshot, ncols or min(len(snapshot), 16)), (lo, hi), None if rgb else "gray")
              for snapshot in images]
    return write_movie(np.stack(frames), path, fps=fps, scale=scale)


def write_channel_movie(frames, path, channels=None, value_range=None, ncols=None, cmap="RdBu_r", scale=4,
                        fps=5.0):
    """A GIF of per-channel maps over time, (T, H, W, C): frame t has one panel per channel (as
    `plot_channel_maps`) on one colour scale for the whole movie (`value_range`, or symmetric around 0
    up to the largest |value|). Returns the path."""
    name = "write_channel_movie"
    frames = np.asarray(frames, dtype="float64")
    if frames.ndim != 4 or frames.size == 0:
        raise ValueError(f"{name}: expected maps over time (T, H, W, C), got shape {frames.shape}")
    channels, (lo, hi) = _channels_and_range(name, frames, channels, value_range)
    shown = frames[..., channels]
    ncols = ncols or int(np.ceil(np.sqrt(len(channels))))
    movie = [colourise(mosaic(np.moveaxis(frame, -1, 0), ncols), (lo, hi), cmap) for frame in shown]
    return write_movie(np.stack(movie), path, fps=fps, scale=scale)
