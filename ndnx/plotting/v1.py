"""Matplotlib figures of V1 models and results: DoG filters, effective hidden kernels, readout masks
and positions, histograms of per-neuron correlations.

Every function returns a `matplotlib.figure.Figure` drawn on an Agg canvas (no pyplot state, no
GUI) and, given `path`, also writes it atomically (`ndnx.plotting.figures.save_figure`), so a
half-written image never appears. Family-neutral figures (kernel grids, learning curves over seeds)
are in `ndnx.plotting.figures`; everything is importable from `ndnx.plotting`.
"""

import numpy as np

from ndnx.plotting.figures import new_figure, plot_kernels, save_figure

__all__ = ["plot_dog_filters", "plot_effective_hidden_kernels", "plot_readout_masks", "plot_readout_positions",
           "plot_correlation_histogram"]


def plot_dog_filters(layer, replica=None, path=None):
    """The kernels of a `DifferenceOfGaussians` layer, titled with their clipped parameters."""
    from ndnx.analysis.v1 import dog_kernels_of

    kernels = dog_kernels_of(layer, replica)
    clipped = {k: np.asarray(v) for k, v in layer.clipped_parameters().items()}
    if layer.replicas is not None:
        clipped = {k: v[replica] for k, v in clipped.items()}
    titles = [f"μ=({clipped['mu_x'][k]:.1f},{clipped['mu_y'][k]:.1f}) σ={clipped['sigma_center'][k]:.1f}"
              for k in range(len(kernels))]
    return plot_kernels(kernels, titles=titles, suptitle=f"{layer.name}: DoG kernels", path=path)


def plot_effective_hidden_kernels(model, replica=None, truth=None, path=None, dog="dog", hidden="hidden"):
    """Effective hidden kernels Σⱼ W1[j,h]·DoGⱼ; with `truth` (K, H, W), matched pairs side by side."""
    from ndnx.analysis.v1 import effective_hidden_kernels, match_kernels

    kernels = effective_hidden_kernels(model, replica=replica, dog=dog, hidden=hidden)
    if truth is None:
        return plot_kernels(kernels, titles=[f"h{h}" for h in range(len(kernels))],
                            suptitle="effective hidden kernels", path=path)
    rows, cols, corr = match_kernels(kernels, truth)
    pairs, titles = [], []
    for r, c, value in zip(rows, cols, corr):
        pairs += [np.asarray(truth)[c], kernels[r]]
        titles += [f"truth {c}", f"fit h{r}: r={value:.2f}"]
    return plot_kernels(np.stack(pairs), titles=titles, ncols=min(8, len(pairs)),
                        suptitle=f"effective hidden kernels vs ground truth (median r = {np.median(corr):.2f})",
                        path=path)


def plot_readout_masks(masks, titles=None, path=None, suptitle="readout masks"):
    """Spatial readout masks (neurons, H, W), e.g. of a separable readout."""
    masks = np.asarray(masks, dtype="float64")
    return plot_kernels(masks, titles=titles or [f"n{i}" for i in range(len(masks))],
                        suptitle=suptitle, path=path)


def plot_readout_positions(positions, feature_map=None, align_corners=True, path=None,
                           title="readout positions"):
    """Positions of a Gaussian readout, (neurons, 2) in [-1, 1]² with x = column, y = row.

    `feature_map` (H, W), e.g. the core's mean absolute activity, is drawn underneath, placed so
    that the positions land on the pixels the readout samples: with `align_corners=True` (the
    default of `ndnx.layers.GaussianReadout`) ±1 are the centres of the corner pixels, otherwise
    the outer edges of the map. Rows grow downwards, as in an image.
    """
    positions = np.asarray(positions, dtype="float64")
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"plot_readout_positions: expected positions of shape (neurons, 2), got {positions.shape}")
    fig = new_figure(5, 5)
    ax = fig.add_subplot()
    if feature_map is not None:
        feature_map = np.asarray(feature_map, dtype="float64")
        h, w = feature_map.shape
        # pixel j's centre sits at −1 + 2j/(W−1) (align_corners) or −1 + (2j + 1)/W
        half_x = 1.0 / (w - 1) if align_corners and w > 1 else 1.0 / w
        half_y = 1.0 / (h - 1) if align_corners and h > 1 else 1.0 / h
        extent = (-1 - half_x, 1 + half_x, 1 + half_y, -1 - half_y) if align_corners else (-1, 1, 1, -1)
        ax.imshow(feature_map, cmap="Greys", extent=extent)
    ax.scatter(positions[:, 0], positions[:, 1], s=12, c="tab:red")
    ax.set_xlim(-1.1, 1.1)
    ax.set_ylim(1.1, -1.1)
    ax.set_xlabel("x (column)")
    ax.set_ylabel("y (row)")
    ax.set_title(title)
    ax.set_aspect("equal")
    if path:
        save_figure(fig, path)
    return fig


def plot_correlation_histogram(correlations, labels=None, bins=30, path=None):
    """Histogram(s) of per-neuron correlations; `correlations` is one array or a list of arrays."""
    arrays = [np.asarray(correlations, dtype="float64")] if np.ndim(correlations[0]) == 0 \
        else [np.asarray(c, dtype="float64") for c in correlations]
    labels = labels or [None] * len(arrays)
    fig = new_figure(6, 4)
    ax = fig.add_subplot()
    edges = np.linspace(min(-0.1, min(a.min() for a in arrays)), 1.0, bins + 1)
    for values, label in zip(arrays, labels):
        text = f"{label}: " if label else ""
        ax.hist(values, bins=edges, alpha=0.6, label=f"{text}median {np.median(values):.3f}")
    ax.set_xlabel("per-neuron correlation")
    ax.set_ylabel("neurons")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    if path:
        save_figure(fig, path)
    return fig
