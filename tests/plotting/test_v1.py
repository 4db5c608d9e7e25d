"""V1 figures (ndnx.plotting.v1): they draw what they are given and are written atomically as PNG files."""

import numpy as np
import pytest

import ndnx
from ndnx import plotting


def test_model_figures(tmp_path):
    model = ndnx.models.v1.hsm(10, seed=0, replicas=2)
    fig = plotting.plot_dog_filters(model.get_layer("dog"), replica=1, path=tmp_path / "dog.png")
    assert sum(1 for ax in fig.axes if ax.images) == 9
    truth = np.random.default_rng(1).normal(size=(2, 31, 31))
    fig = plotting.plot_effective_hidden_kernels(model, replica=0, truth=truth, path=tmp_path / "eff.png")
    assert sum(1 for ax in fig.axes if ax.images) == 4  # two matched pairs
    fig = plotting.plot_correlation_histogram([np.linspace(0, 1, 11), np.linspace(0.2, 0.4, 11)],
                                              labels=["a", "b"], path=tmp_path / "h.png")
    assert "median 0.500" in fig.axes[0].get_legend().get_texts()[0].get_text()
    fig = plotting.plot_readout_masks(np.ones((3, 4, 4)))
    assert sum(1 for ax in fig.axes if ax.images) == 3


def test_readout_positions_land_on_the_sampled_pixels():
    feature_map = np.arange(20.0).reshape(4, 5)
    positions = np.array([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]])
    fig = plotting.plot_readout_positions(positions, feature_map)
    ax = fig.axes[0]
    left, right, bottom, top = ax.images[0].get_extent()
    # align_corners: x = −1 is the centre of column 0, x = 1 that of column 4 (5 columns)
    width = (right - left) / 5
    assert left + width / 2 == pytest.approx(-1.0) and right - width / 2 == pytest.approx(1.0)
    height = (bottom - top) / 4
    assert top + height / 2 == pytest.approx(-1.0) and bottom - height / 2 == pytest.approx(1.0)
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), positions)
    fig = plotting.plot_readout_positions(positions, feature_map, align_corners=False)
    assert tuple(fig.axes[0].images[0].get_extent()) == (-1, 1, 1, -1)
    with pytest.raises(ValueError, match=r"expected positions of shape \(neurons, 2\)"):
        plotting.plot_readout_positions(np.zeros((3, 3)))
