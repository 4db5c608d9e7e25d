"""Animated GIFs of arrays that change over time: mosaics of maps, coloured exactly, written atomically.

Family-neutral. A movie here is drawn without matplotlib figures: each frame is a mosaic of 2-D panels
(`mosaic`), mapped through a colour map (values outside `value_range` saturate), enlarged by an integer
`scale` with nearest-neighbour pixels, and written by Pillow as a looping GIF (`write_movie`). A frame of
64 panels of 32×32 takes well under a millisecond, so a recording of thousands of steps is a movie of
its time-binned means in seconds, not a figure per step.

- `mosaic(panels, ncols, gap)`: (N, H, W[, 3]) → one (rows·(H+gap)−gap, cols·(W+gap)−gap[, 3]) array,
  panels row by row, gaps filled with NaN (drawn in the background colour);
- `colourise(values, value_range, cmap)`: values → uint8 RGB through a matplotlib colour map, NaN as
  white;
- `write_movie(frames, path, fps, scale)`: uint8 RGB frames (T, H, W, 3) → a GIF. GIF frames hold at
  most 256 colours; Pillow's adaptive palette keeps every colour of a frame that has ≤ 256 distinct ones,
  and merges consecutive identical frames into one (their durations add).

Example:
    >>> import numpy as np
    >>> from ndnx.plotting.movies import colourise, mosaic
    >>> tiled = mosaic(np.arange(4 * 2 * 2, dtype=float).reshape(4, 2, 2), ncols=2, gap=1)
    >>> tiled.shape, bool(np.isnan(tiled[2, 0]))
    ((5, 5), True)
    >>> colourise(np.array([[0.0, 1.0]]), (0.0, 1.0), "gray")[0].tolist()
    [[0, 0, 0], [255, 255, 255]]
"""

import io

import numpy as np

from ndnx.files import atomic_write_bytes

__all__ = ["mosaic", "colourise", "write_movie"]


def mosaic(panels, ncols=None, gap=1):
    """Panels (N, H, W) or (N, H, W, 3) tiled row by row into one array; gaps and empty cells are NaN."""
    panels = np.asarray(panels, dtype="float64")
    if panels.ndim not in (3, 4) or (panels.ndim == 4 and panels.shape[-1] != 3) or panels.shape[0] == 0:
        raise ValueError(f"mosaic: expected panels (N, H, W) or (N, H, W, 3), got shape {panels.shape}")
    count, h, w = panels.shape[:3]
    ncols = int(ncols or int(np.ceil(np.sqrt(count))))
    if ncols < 1 or gap < 0:
        raise ValueError(f"mosaic: ncols must be ≥ 1 and gap ≥ 0, got ncols={ncols}, gap={gap}")
    nrows = int(np.ceil(count / ncols))
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap) + panels.shape[3:], np.nan)
    for i in range(count):
        r, c = divmod(i, ncols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = panels[i]
    return out


def colourise(values, value_range, cmap="RdBu_r"):
    """uint8 RGB (…, 3) of `values` (…) through the matplotlib colour map `cmap` over `value_range`;
    values outside the range saturate, NaN is white. RGB input (…, 3) is scaled from the range instead."""
    import matplotlib

    lo, hi = (float(v) for v in value_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"colourise: value_range must be two finite numbers (low, high) with high > low, "
                         f"got {value_range!r}")
    values = np.asarray(values, dtype="float64")
    missing = np.isnan(values)
    scaled = np.clip((np.nan_to_num(values, nan=lo) - lo) / (hi - lo), 0.0, 1.0)
    if cmap is None:  # already RGB
        rgb = scaled
        missing = missing.any(axis=-1)
    else:
        rgb = matplotlib.colormaps[cmap](scaled)[..., :3]
    rgb = np.round(rgb * 255.0).astype("uint8")
    rgb[missing] = 255
    return rgb


def write_movie(frames, path, fps=10.0, scale=1):
    """Write uint8 RGB frames (T, H, W, 3) to `path` as a looping GIF, each pixel enlarged to scale×scale."""
    from PIL import Image

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] == 0:
        raise ValueError(f"write_movie: expected uint8 RGB frames (T, H, W, 3), got {frames.dtype} of shape "
                         f"{frames.shape}")
    if not (np.isfinite(fps) and fps > 0) or int(scale) < 1:
        raise ValueError(f"write_movie: fps must be > 0 and scale ≥ 1, got fps={fps}, scale={scale}")
    scale = int(scale)
    if scale > 1:
        frames = np.repeat(np.repeat(frames, scale, axis=1), scale, axis=2)
    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    # GIF stores durations in hundredths of a second
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], loop=0,
                   duration=max(20, int(round(1000.0 / fps))), optimize=False)
    atomic_write_bytes(str(path), buffer.getvalue())
    return str(path)
