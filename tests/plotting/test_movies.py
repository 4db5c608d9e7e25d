"""GIF movies: mosaics, exact colours (against matplotlib's colour maps) and frames read back with Pillow."""

import matplotlib
import numpy as np
import pytest
from PIL import Image, ImageSequence

from ndnx.plotting.energy import write_channel_movie, write_sample_movie
from ndnx.plotting.movies import colourise, mosaic, write_movie


def _frames(path):
    with Image.open(path) as gif:
        info = dict(gif.info)
        return np.stack([np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]), info


def test_mosaic_places_panels_row_by_row_with_nan_gaps():
    panels = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    tiled = mosaic(panels, ncols=3, gap=1)
    assert tiled.shape == (2 * 3 - 1, 3 * 4 - 1)
    for i in range(5):
        r, c = divmod(i, 3)
        np.testing.assert_array_equal(tiled[3 * r:3 * r + 2, 4 * c:4 * c + 3], panels[i])
    filled = np.zeros(tiled.shape, bool)
    for i in range(5):
        r, c = divmod(i, 3)
        filled[3 * r:3 * r + 2, 4 * c:4 * c + 3] = True
    assert np.isnan(tiled[~filled]).all()  # the gaps and the sixth, empty cell
    with pytest.raises(ValueError, match=r"mosaic: expected panels \(N, H, W\) or \(N, H, W, 3\), got shape \(2, 3\)"):
        mosaic(np.zeros((2, 3)))


def test_colourise_is_the_colour_map_saturating_outside_the_range():
    values = np.array([[-2.0, -1.0, 0.0, 0.5, 1.0, 3.0, np.nan]])
    got = colourise(values, (-1.0, 1.0), "RdBu_r")
    reference = matplotlib.colormaps["RdBu_r"](np.array([0.0, 0.0, 0.5, 0.75, 1.0, 1.0]))[:, :3]
    np.testing.assert_array_equal(got[0, :6], np.round(reference * 255).astype("uint8"))
    assert got[0, 6].tolist() == [255, 255, 255]
    with pytest.raises(ValueError, match=r"value_range must be two finite numbers \(low, high\) with high > low, got \(1, 1\)"):
        colourise(values, (1, 1))


def test_write_movie_round_trips_frames_enlarged_and_looping(tmp_path):
    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, size=(20, 3), dtype=np.uint8)
    frames = palette[rng.integers(0, 20, size=(4, 3, 5))]  # 20 colours: the GIF palette keeps them exactly
    path = write_movie(frames, tmp_path / "m.gif", fps=4, scale=3)
    back, info = _frames(path)
    assert back.shape == (4, 9, 15, 3)
    np.testing.assert_array_equal(back, np.repeat(np.repeat(frames, 3, axis=1), 3, axis=2))
    assert info["duration"] == 250 and info["loop"] == 0
    with pytest.raises(ValueError, match=r"write_movie: expected uint8 RGB frames \(T, H, W, 3\), got float64"):
        write_movie(frames.astype(float), tmp_path / "bad.gif")


def test_channel_movie_colours_each_channel_on_one_symmetric_scale(tmp_path):
    # channel c is c/2 at frame c and 0 elsewhere, channel 0 is −1 at frame 3: the largest |value| is 1.5
    frames = np.zeros((4, 2, 2, 4))
    for c in range(4):
        frames[c, ..., c] = c / 2
    frames[3, ..., 0] = -1.0
    back, _ = _frames(write_channel_movie(frames, tmp_path / "c.gif", ncols=2, scale=1))
    assert back.shape == (4, 5, 5, 3)
    cmap = matplotlib.colormaps["RdBu_r"]
    expected_colour = lambda v: np.round(np.asarray(cmap((v + 1.5) / 3.0)[:3]) * 255).astype("uint8")  # noqa: E731
    for t in range(4):
        for c in range(4):
            r, col = divmod(c, 2)
            np.testing.assert_array_equal(back[t, 3 * r, 3 * col], expected_colour(frames[t, 0, 0, c]))
    assert back[0, 2, 2].tolist() == [255, 255, 255]  # the gap


def test_sample_movie_shows_grey_images_rescaled_from_the_range(tmp_path):
    images = np.stack([np.full((3, 2, 2, 1), v) for v in (-1.0, 0.0, 1.0)])  # (T=3, N=3, H, W, C=1)
    images[:, 1] = 2.0  # saturates
    back, _ = _frames(write_sample_movie(images, tmp_path / "s.gif", value_range=(-1, 1), ncols=3, scale=1))
    assert back.shape == (3, 2, 8, 3)
    for t, v in enumerate((-1.0, 0.0, 1.0)):
        grey = matplotlib.colormaps["gray"]((v + 1) / 2)[0]
        assert back[t, 0, 0].tolist() == [int(round(grey * 255))] * 3
        assert back[t, 0, 3].tolist() == [255, 255, 255]
    with pytest.raises(ValueError, match=r"write_sample_movie: expected images over time \(T, N, H, W\[, C\]\)"):
        write_sample_movie(np.zeros((3, 4, 4)), tmp_path / "bad.gif")
