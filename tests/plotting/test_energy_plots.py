"""NRF-LV figures (ndnx.plotting.energy): the right panels, each drawing exactly the data given."""

import numpy as np
import pytest
from matplotlib.image import imread

from ndnx.plotting.energy import plot_channel_maps, plot_edge_weights, plot_samples

RNG = np.random.default_rng(0)


def _drawn(fig):
    return [ax.images[0] for ax in fig.axes if ax.images]


def test_sample_grid_draws_the_rescaled_images(tmp_path):
    images = RNG.uniform(-1, 1, size=(10, 5, 6, 3))
    fig = plot_samples(images, value_range=(-1, 1), ncols=4, path=tmp_path / "s.png")
    drawn = _drawn(fig)
    assert len(drawn) == 10 and len(fig.axes) == 12  # 3 rows of 4, the last two empty
    for image, shown in zip(images, drawn):
        np.testing.assert_array_equal(shown.get_array(), (image + 1) / 2)
    assert imread(str(tmp_path / "s.png")).ndim == 3
    grey = RNG.uniform(0, 1, size=(3, 4, 5, 6, 1))  # one row per channel: the channels_energy summary
    fig = plot_samples(grey)
    drawn = _drawn(fig)
    assert len(drawn) == 12 and fig.axes[0].get_subplotspec().get_geometry()[:2] == (3, 4)
    np.testing.assert_array_equal(drawn[5].get_array(), grey[1, 1, ..., 0])
    assert drawn[5].get_cmap().name == "gray"
    np.testing.assert_array_equal(_drawn(plot_samples(np.full((1, 2, 2, 3), 3.0)))[0].get_array(), 1.0)  # clipped
    with pytest.raises(ValueError, match=r"expected images .*got shape \(4, 4\)"):
        plot_samples(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="value_range must be two finite numbers"):
        plot_samples(images, value_range=(1, 1))


def test_channel_maps_one_panel_per_channel_on_one_scale():
    state = RNG.normal(size=(8, 7, 5))
    fig = plot_channel_maps(state, channels=[4, 0, 2])
    drawn = _drawn(fig)
    assert len(drawn) == 3 and [ax.get_title() for ax in fig.axes if ax.images] == ["ch 4", "ch 0", "ch 2"]
    for c, shown in zip([4, 0, 2], drawn):
        np.testing.assert_array_equal(shown.get_array(), state[..., c])
    limit = np.abs(state[..., [4, 0, 2]]).max()
    assert all(shown.get_clim() == (-limit, limit) for shown in drawn)
    assert _drawn(plot_channel_maps(state, value_range=(-1, 1)))[0].get_clim() == (-1.0, 1.0)
    with pytest.raises(ValueError, match=r"channels must be in 0..4, got \[5\]"):
        plot_channel_maps(state, channels=[5])


def test_edge_weights_rgb_filters_and_kernel_grid():
    kernel = RNG.normal(size=(7, 7, 3, 5))
    drawn = _drawn(plot_edge_weights(kernel))
    assert len(drawn) == 5
    for o, shown in enumerate(drawn):
        np.testing.assert_allclose(shown.get_array(), 0.5 + 0.5 * kernel[..., o] / np.abs(kernel[..., o]).max(),
                                   rtol=1e-15)
    deep = RNG.normal(size=(3, 3, 6, 4))
    fig = plot_edge_weights(deep, outputs=[1, 3], inputs=[0, 5])
    drawn = _drawn(fig)
    assert len(drawn) == 4 and [ax.get_title() for ax in fig.axes if ax.images] == ["0→1", "5→1", "0→3", "5→3"]
    np.testing.assert_array_equal(drawn[1].get_array(), deep[:, :, 5, 1])
    with pytest.raises(ValueError, match=r"expected a conv kernel \(k, k, C_in, C_out\), got shape \(3, 3\)"):
        plot_edge_weights(np.zeros((3, 3)))
