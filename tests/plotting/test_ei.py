"""E/I figures draw the numbers they are given: the image is rates.T, the traces are population means."""

import numpy as np
import pytest

from ndnx.plotting.ei import plot_bump_phase, plot_parameter_map, plot_population_rates, plot_rate_image


def test_ei_figures_show_their_data(tmp_path):
    rates = np.random.default_rng(0).random((2, 5, 12))
    fig = plot_rate_image(rates[0], np.arange(5) * 0.1, sizes=[8, 4], path=tmp_path / "image.png")
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), rates[0].T)
    assert (tmp_path / "image.png").stat().st_size > 0
    fig = plot_population_rates(rates, np.arange(5) * 0.1, sizes=[8, 4])
    lines = [line.get_ydata() for line in fig.axes[0].lines]
    expected = [rates[b, :, :8].mean(-1) for b in range(2)] + [rates[b, :, 8:].mean(-1) for b in range(2)]
    np.testing.assert_allclose(lines, expected)
    fig = plot_bump_phase([[10.0, 20.0, 30.0]], [0.0, 0.1, 0.2], m1_over_m0=[[1.0, 0.8, 0.6]])
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [10.0, 20.0, 30.0])
    fig = plot_parameter_map(np.arange(6.0).reshape(3, 2), [1, 2, 3], [0.5, 1.0])
    np.testing.assert_allclose(np.asarray(fig.axes[0].collections[0].get_array()).ravel(), np.arange(6.0))
    with pytest.raises(ValueError, match="plot_rate_image: sizes must be positive population sizes summing to 12"):
        plot_rate_image(rates[0], sizes=[8, 5])
