"""Eigenvalues in the complex plane with the stability boundaries of a leaky rate network (spec cordsnet.md §4).

- `plot_eigenvalues(eigenvalues, alpha, reference)`: λ of W as points; the unit circle; the line
  Re λ = 1 (τ dr/dt = −r + W r is stable to its left); and, given α, the circle |1 − α + αλ| = 1 (the
  forward-Euler map r' = (1 − α) r + α W r is stable inside: centre 1 − 1/α, radius 1/α). `reference`
  (e.g. dense eigenvalues) is drawn as rings under the points.

Returns a `matplotlib.figure.Figure` on an Agg canvas (`ndnx.plotting.figures`); given `path`, also a PNG.

Example:
    >>> from ndnx.plotting.spectra import plot_eigenvalues
    >>> fig = plot_eigenvalues([0.5 + 0.5j, 0.5 - 0.5j, -0.2], alpha=0.2)
    >>> fig.axes[0].collections[0].get_offsets().tolist()
    [[0.5, 0.5], [0.5, -0.5], [-0.2, 0.0]]
"""

import numpy as np

from ndnx.plotting.figures import new_figure, save_figure

__all__ = ["plot_eigenvalues"]


def plot_eigenvalues(eigenvalues, alpha=None, reference=None, title=None, path=None, label="eigenvalues",
                     reference_label="reference"):
    """Eigenvalues λ (any shape, complex) in the complex plane with the stability boundaries.

    Args:
        eigenvalues: the λ to draw (first collection of the axes, in the given order).
        alpha: the Euler step α in (0, 1], or None to omit the Euler circle.
        reference: optional other eigenvalues (e.g. of the dense matrix), drawn as rings.
        title, path: figure title, PNG path. label, reference_label: legend labels of the points, rings.
    """
    name = "plot_eigenvalues"
    values = np.asarray(eigenvalues, dtype=complex).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"{name}: eigenvalues must be a non-empty array of finite numbers, got {values.size} values")
    if alpha is not None and not (np.isfinite(alpha) and 0.0 < alpha <= 1.0):
        raise ValueError(f"{name}: alpha must be None or in (0, 1], got {alpha!r}")
    fig = new_figure(4.6, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(values.real, values.imag, s=10, color="C0", label=label, zorder=3)
    if reference is not None:
        reference = np.asarray(reference, dtype=complex).ravel()
        ax.scatter(reference.real, reference.imag, s=28, facecolors="none", edgecolors="0.5", lw=0.7,
                   label=reference_label, zorder=2)
    angle = np.linspace(0.0, 2.0 * np.pi, 361)
    ax.plot(np.cos(angle), np.sin(angle), color="k", lw=0.8, label="|λ| = 1")
    ax.axvline(1.0, color="C3", lw=0.8, ls="--", label="Re λ = 1")
    if alpha is not None:
        centre, radius = 1.0 - 1.0 / alpha, 1.0 / alpha
        ax.plot(centre + radius * np.cos(angle), radius * np.sin(angle), color="C2", lw=0.8,
                label=f"|1 − α + αλ| = 1 (α = {alpha:g})")
    extent = max(1.2, 1.1 * float(np.abs(values).max()))
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.legend(frameon=False, fontsize="small", loc="upper left")
    if title:
        ax.set_title(title)
    if path:
        save_figure(fig, path)
    return fig
