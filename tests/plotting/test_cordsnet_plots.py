"""CordsNet and spectrum figures draw the numbers they are given: points at (Re λ, Im λ), the Euler
stability circle of centre 1 − 1/α and radius 1/α, one activity line per area, one bar per latency."""

import numpy as np
import pytest

from ndnx.plotting.cordsnet import plot_area_activity, plot_latencies
from ndnx.plotting.spectra import plot_eigenvalues


def test_eigenvalue_plot_draws_the_points_and_the_stability_boundaries(tmp_path):
    values = np.array([0.3 + 0.4j, 0.3 - 0.4j, 1.5, -2.0])
    fig = plot_eigenvalues(values, alpha=0.25, reference=[0.0], path=tmp_path / "s.png")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.c_[values.real, values.imag])
    np.testing.assert_allclose(ax.collections[1].get_offsets(), [[0.0, 0.0]])
    circle, line, euler = ax.lines[0], ax.lines[1], ax.lines[2]
    np.testing.assert_allclose(np.hypot(circle.get_xdata(), circle.get_ydata()), 1.0, atol=1e-12)
    np.testing.assert_allclose(line.get_xdata(), [1.0, 1.0])
    # α = 1/4: centre −3, radius 4; λ = 1 (Re λ = 1) lies on it, as |1 − α + α·1| = 1 says.
    np.testing.assert_allclose(np.hypot(euler.get_xdata() + 3.0, euler.get_ydata()), 4.0, atol=1e-12)
    assert (tmp_path / "s.png").stat().st_size > 0
    with pytest.raises(ValueError, match="plot_eigenvalues: alpha must be None or in"):
        plot_eigenvalues(values, alpha=2.0)


def test_area_activity_and_latency_plots_show_their_data():
    deviation = np.random.default_rng(0).random((2, 6, 4))
    fig = plot_area_activity(deviation, dt=2.0)
    lines = fig.axes[0].lines
    assert len(lines) == 4
    np.testing.assert_allclose(lines[2].get_ydata(), deviation[:, :, 2].mean(0))
    np.testing.assert_allclose(lines[2].get_xdata(), 2.0 * np.arange(1, 7))
    fig = plot_latencies([1, 1, 2, 2, 3, 3, 4, -1], logits=4, dt=2.0)
    assert [p.get_height() for p in fig.axes[0].patches] == [1, 1, 2, 2, 3, 3, 4, 0]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [4.0, 4.0])
    with pytest.raises(ValueError, match="plot_area_activity: deviation must be"):
        plot_area_activity(np.zeros(5))
