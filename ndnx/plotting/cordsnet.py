"""Figures of CordsNet dynamics (spec cordsnet.md §2.3): area activity over the stimulus phase and latencies.

- `plot_area_activity(deviation, steps, dt)`: one line per area of its mean |r_j(t) − r_j(spontaneous)|
  (`ndnx.analysis.cordsnet.area_activity`), averaged over images when a batch is given;
- `plot_latencies(areas, logits, dt)`: each area's first stimulus step of departure from the
  zero-input run (`ndnx.analysis.cordsnet.response_latencies`), and the logits' as a line.

Every function returns a `matplotlib.figure.Figure` on an Agg canvas (`ndnx.plotting.figures`) and,
given `path`, saves it as a PNG.

Example:
    >>> import numpy as np
    >>> from ndnx.plotting.cordsnet import plot_latencies
    >>> fig = plot_latencies([1, 1, 2, 2], logits=2)
    >>> [float(p.get_height()) for p in fig.axes[0].patches]
    [1.0, 1.0, 2.0, 2.0]
"""

import numpy as np

from ndnx.plotting.figures import new_figure, save_figure

__all__ = ["plot_area_activity", "plot_latencies"]


def _finish(fig, path):
    if path:
        save_figure(fig, path)
    return fig


def plot_area_activity(deviation, steps=None, dt=None, title=None, path=None, log=False):
    """Mean |r_j(t) − r_j(spontaneous)| of every area over stimulus steps, one line per area.

    Args:
        deviation: (T, depth), or (B, T, depth) averaged over B.
        steps: (T,) stimulus steps (default 1 … T). dt: step in ms to label the axis in ms (e.g. 2).
        title, path: figure title, PNG path. log: logarithmic y axis.
    """
    name = "plot_area_activity"
    deviation = np.asarray(deviation, dtype="float64")
    if deviation.ndim == 3:
        deviation = deviation.mean(0)
    if deviation.ndim != 2:
        raise ValueError(f"{name}: deviation must be (T, depth) or (B, T, depth), got shape {deviation.shape}")
    steps = np.arange(1, deviation.shape[0] + 1) if steps is None else np.asarray(steps, dtype="float64")
    if steps.shape != deviation.shape[:1]:
        raise ValueError(f"{name}: steps must be one per time step ({deviation.shape[0]}), got shape {steps.shape}")
    x = steps * dt if dt else steps
    fig = new_figure(6.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    for j in range(deviation.shape[1]):
        ax.plot(x, deviation[:, j], color=f"C{j % 10}", label=f"area {j}")
    if log:
        ax.set_yscale("symlog", linthresh=max(1e-6, float(np.abs(deviation).max()) * 1e-4))
    ax.set_xlabel("time after onset (ms)" if dt else "stimulus step")
    ax.set_ylabel("mean |r − r_spontaneous|")
    ax.legend(frameon=False, fontsize="small", ncol=2)
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def plot_latencies(areas, logits=None, dt=None, title=None, path=None):
    """Per-area latency (first stimulus step of departure) as bars; the logits' latency as a line.

    Args:
        areas: (depth,) latencies in steps (−1: none within the run; drawn as 0).
        logits: the logits' latency in steps, or None. dt: step in ms to add a second axis in ms.
        title, path: figure title, PNG path.
    """
    name = "plot_latencies"
    areas = np.asarray(areas, dtype="float64")
    if areas.ndim != 1:
        raise ValueError(f"{name}: areas must be one latency per area (depth,), got shape {areas.shape}")
    fig = new_figure(4.8, 3.0)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(np.arange(areas.size), np.where(areas < 0, 0.0, areas), color="C0")
    if logits is not None:
        ax.axhline(float(logits), color="C3", ls="--", lw=1.0, label=f"logits: step {int(logits)}")
        ax.legend(frameon=False, loc="upper left")
    ax.set_xticks(np.arange(areas.size))
    ax.set_xlabel("area")
    ax.set_ylabel("latency (stimulus steps)")
    if dt:
        secondary = ax.secondary_yaxis("right", functions=(lambda s: s * dt, lambda ms: ms / dt))
        secondary.set_ylabel("ms")
    if title:
        ax.set_title(title)
    return _finish(fig, path)
