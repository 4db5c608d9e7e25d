"""Figures of E/I rate networks: rates as an image (a rate "raster"), population traces, bump phases, and
a map over a 2-D parameter grid (spec ei_networks_neuroflame.md §5, §8).

- `plot_rate_image(rates, times, sizes)`: neurons × time image of one simulation, populations
  separated by lines (E first, neurons in ring order);
- `plot_population_rates(rates, times, sizes)`: the mean rate of every population over time, one
  line per population (and per batch row, faded);
- `plot_bump_phase(phase, times, m1_over_m0)`: the decoded bump phase (degrees) over time per
  batch row, optionally with m1/m0 beneath;
- `plot_parameter_map(values, x, y)`: an (n1, n2) map of one number per grid point.

Every function returns a `matplotlib.figure.Figure` on an Agg canvas (`ndnx.plotting.figures`) and,
given `path`, saves it as a PNG.

Example:
    >>> import numpy as np
    >>> from ndnx.plotting.ei import plot_rate_image
    >>> fig = plot_rate_image(np.random.default_rng(0).random((11, 30)), np.arange(11) * 0.1, sizes=[20, 10])
    >>> len(fig.axes)
    2
"""

import numpy as np

from ndnx.plotting.figures import new_figure, save_figure

__all__ = ["plot_rate_image", "plot_population_rates", "plot_bump_phase", "plot_parameter_map"]


def _check(name, argument, array, ndim):
    array = np.asarray(array, dtype="float64")
    if array.ndim not in ndim:
        raise ValueError(f"{name}: {argument} must have {' or '.join(str(n) for n in ndim)} dimensions, "
                         f"got shape {array.shape}")
    return array


def _times(name, times, frames):
    times = np.arange(frames, dtype="float64") if times is None else np.asarray(times, dtype="float64")
    if times.shape != (frames,):
        raise ValueError(f"{name}: times must be one time per frame ({frames}), got shape {times.shape}")
    return times


def _sizes(name, sizes, n):
    sizes = [n] if sizes is None else [int(s) for s in sizes]
    if sum(sizes) != n or any(s < 1 for s in sizes):
        raise ValueError(f"{name}: sizes must be positive population sizes summing to {n} neurons, got {sizes}")
    return sizes


def _finish(fig, path):
    if path:
        save_figure(fig, path)
    return fig


def plot_rate_image(rates, times=None, sizes=None, labels=("E", "I"), title=None, path=None, cmap="viridis"):
    """Rates (frames, N) of one simulation as a neurons × time image; populations stacked, E first.

    Args:
        rates: (frames, N) window means. times: (frames,) in s (default frame numbers).
        sizes: population sizes (default one population). labels: population names.
        title, path, cmap: figure title, PNG path, colour map.
    """
    name = "plot_rate_image"
    rates = _check(name, "rates", rates, (2,))
    times = _times(name, times, rates.shape[0])
    sizes = _sizes(name, sizes, rates.shape[1])
    fig = new_figure(7.0, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    dt = times[1] - times[0] if len(times) > 1 else 1.0
    image = ax.imshow(rates.T, aspect="auto", origin="lower", cmap=cmap, interpolation="nearest",
                      extent=(times[0] - dt / 2, times[-1] + dt / 2, 0, rates.shape[1]))
    start = 0
    for k, size in enumerate(sizes):
        if k:
            ax.axhline(start, color="w", lw=0.8)
        ax.text(times[0], start + size / 2, f" {labels[k] if k < len(labels) else k}", color="w", va="center")
        start += size
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron")
    fig.colorbar(image, ax=ax, label="rate (Hz)")
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def plot_population_rates(rates, times=None, sizes=None, labels=("E", "I"), title=None, path=None):
    """Mean rate of each population over time: rates (frames, N) or (B, frames, N), one faded line per row."""
    name = "plot_population_rates"
    rates = _check(name, "rates", rates, (2, 3))
    rates = rates[None] if rates.ndim == 2 else rates
    times = _times(name, times, rates.shape[1])
    sizes = _sizes(name, sizes, rates.shape[2])
    fig = new_figure(6.0, 3.0)
    ax = fig.add_subplot(1, 1, 1)
    bounds = np.cumsum([0] + sizes)
    alpha = 1.0 if rates.shape[0] == 1 else max(0.15, 1.0 / rates.shape[0] ** 0.5)
    for k in range(len(sizes)):
        means = rates[:, :, bounds[k]:bounds[k + 1]].mean(-1)
        colour = f"C{k}"
        for b, trace in enumerate(means):
            ax.plot(times, trace, color=colour, alpha=alpha,
                    label=(labels[k] if k < len(labels) else str(k)) if b == 0 else None)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mean rate (Hz)")
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def plot_bump_phase(phase, times=None, m1_over_m0=None, title=None, path=None):
    """Decoded bump phase (degrees, (frames,) or (B, frames)) over time, and m1/m0 beneath when given."""
    name = "plot_bump_phase"
    phase = _check(name, "phase", phase, (1, 2))
    phase = phase[None] if phase.ndim == 1 else phase
    times = _times(name, times, phase.shape[1])
    rows = 2 if m1_over_m0 is not None else 1
    fig = new_figure(6.0, 2.5 * rows)
    ax = fig.add_subplot(rows, 1, 1)
    for trace in phase:
        ax.plot(times, trace, ".", ms=3)
    ax.set_ylim(0, 360)
    ax.set_yticks([0, 90, 180, 270, 360])
    ax.set_ylabel("bump phase (°)")
    if title:
        ax.set_title(title)
    if m1_over_m0 is not None:
        ratio = _check(name, "m1_over_m0", m1_over_m0, (1, 2))
        ratio = ratio[None] if ratio.ndim == 1 else ratio
        if ratio.shape != phase.shape:
            raise ValueError(f"{name}: m1_over_m0 must have the shape of phase {phase.shape}, got {ratio.shape}")
        ax2 = fig.add_subplot(rows, 1, 2, sharex=ax)
        for trace in ratio:
            ax2.plot(times, trace)
        ax2.axhline(0.5, color="k", lw=0.5, ls="--")
        ax2.set_ylabel("m1 / m0")
        ax2.set_xlabel("time (s)")
    else:
        ax.set_xlabel("time (s)")
    return _finish(fig, path)


def plot_parameter_map(values, x, y, xlabel="", ylabel="", label="", title=None, path=None, cmap="magma"):
    """An (n1, n2) map of one number per grid point: rows follow `x` (n1 values), columns `y` (n2)."""
    name = "plot_parameter_map"
    values = _check(name, "values", values, (2,))
    x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    if values.shape != (len(x), len(y)):
        raise ValueError(f"{name}: values must be (len(x), len(y)) = {(len(x), len(y))}, got {values.shape}")
    fig = new_figure(4.5, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.pcolormesh(y, x, values, cmap=cmap, shading="nearest")
    ax.set_xlabel(ylabel)
    ax.set_ylabel(xlabel)
    fig.colorbar(image, ax=ax, label=label)
    if title:
        ax.set_title(title)
    return _finish(fig, path)
