"""Family-neutral figures (ndnx.plotting.figures): a kernel grid draws what it is given; figures are
written atomically in the format their suffix names."""

import numpy as np
import pytest
from matplotlib.image import imread

from ndnx import plotting


def test_kernel_grid_and_png(tmp_path):
    kernels = np.random.default_rng(0).normal(size=(5, 7, 7))
    path = tmp_path / "k.png"
    fig = plotting.plot_kernels(kernels, titles=list("abcde"), path=path)
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 5
    np.testing.assert_array_equal(images[3], kernels[3])
    assert imread(str(path)).shape[2] in (3, 4)
    assert [p.name for p in tmp_path.iterdir()] == ["k.png"]
    with pytest.raises(ValueError, match="expected kernels of shape"):
        plotting.plot_kernels(np.zeros((3, 3)))


@pytest.mark.parametrize("name, magic", [("f.pdf", b"%PDF"), ("f.svg", b"<?xml"), ("f", b"\x89PNG")])
def test_save_figure_format_follows_the_suffix(tmp_path, name, magic):
    fig = plotting.new_figure(2, 2)
    fig.add_subplot().plot([0, 1], [1, 0])
    assert plotting.save_figure(fig, tmp_path / name) == str(tmp_path / name)
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [name]
