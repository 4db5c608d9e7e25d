"""Family-neutral figures: an Agg figure, atomic saving, a grid of 2-D kernels, learning curves.

Every function returns a `matplotlib.figure.Figure` drawn on an Agg canvas (no pyplot state, no
GUI) and, given `path`, also writes it as a PNG through `ndnx.files.atomic_open`, so a half-written
image never appears. Figures of one model family live beside this module (`ndnx.plotting.v1`).
"""

import os

import numpy as np

from ndnx.files import atomic_open

__all__ = ["new_figure", "save_figure", "plot_kernels", "plot_learning_curves"]


def new_figure(width, height):
    """An empty `Figure` of `width` × `height` inches on an Agg canvas, constrained layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path, dpi=120):
    """Write `fig` to `path` (PNG unless the suffix says otherwise) atomically; returns the path."""
    path = str(path)
    suffix = os.path.splitext(path)[1] or ".png"
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format=suffix.lstrip("."), dpi=dpi)
    return path


def plot_kernels(kernels, titles=None, ncols=None, suptitle=None, path=None, cmap="RdBu_r"):
    """A grid of 2-D kernels (K, H, W), each on a colour scale symmetric around 0."""
    kernels = np.asarray(kernels, dtype="float64")
    if kernels.ndim != 3:
        raise ValueError(f"plot_kernels: expected kernels of shape (count, height, width), got {kernels.shape}")
    count = len(kernels)
    ncols = ncols or int(np.ceil(np.sqrt(count)))
    nrows = int(np.ceil(count / ncols))
    fig = new_figure(1.6 * ncols + 0.5, 1.6 * nrows + (0.4 if suptitle else 0.1))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= count:
            ax.set_axis_off()
            continue
        limit = np.abs(kernels[i]).max() or 1.0
        ax.imshow(kernels[i], cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize="small")
    if suptitle:
        fig.suptitle(suptitle)
    if path:
        save_figure(fig, path)
    return fig


def plot_learning_curves(data, path, tag="correlation"):
    """Median over seeds with a 10th–90th percentile band per run (see ndnx.analysis.summary)."""
    from ndnx.analysis.summary import plot_learning_curves as plot

    return plot(data, path, tag=tag)
