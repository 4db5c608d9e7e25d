"""Natural-image patches cut from the photographs bundled with scikit-image (no downloads).

The stimuli of Antolík et al. 2016 (PLoS Comput Biol 12(6): e1004927) are grey-scale natural-movie
frames, cropped to about twice the union of the recorded receptive fields and down-sampled to 31×31.
Those frames are not redistributable, so the synthetic V1 data uses crops of the photographs that ship
inside the scikit-image wheel instead. Each patch is

    patch = resize(grey(photo)[r : r + s·size, c : c + s·size], (size, size))

with a random photograph, a random down-sampling factor s (log-uniform), a random position (r, c) and
a random left-right flip. Anti-aliased down-sampling keeps the 1/f² power spectrum of natural scenes,
so the patches have the spatial correlations a DoG receptive field sees, not pixel noise.
"""

import functools
import warnings

import numpy as np

# Photographs of natural or everyday scenes that `skimage.data` loads from files inside the wheel.
# Cartoons, synthetic test images and microscopy (retina, cells, ihc, hubble, horse silhouette, …) are
# left out because their statistics are not those of natural scenes.
PHOTOGRAPHS = ("camera", "astronaut", "coffee", "chelsea", "rocket", "grass", "gravel", "brick",
               "moon", "motorcycle")

# Down-sampling factors: at 2 a 31-px patch spans 62 photo pixels, at 6 it spans 186, a scene-sized crop
# of a 512-px photograph.
MIN_FACTOR = 2.0
MAX_FACTOR = 6.0


def _load_photo(name):
    from skimage import color, data, util

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    image = util.img_as_float64(image)
    if image.ndim == 3:
        image = color.rgb2gray(image[..., :3])
    return np.clip(image, 0.0, 1.0)


@functools.lru_cache(maxsize=1)
def bundled_photographs():
    """The grey-scale photographs (float64 in [0, 1]) of `PHOTOGRAPHS` that load offline, by name."""
    photos = {}
    for name in PHOTOGRAPHS:
        try:
            photos[name] = _load_photo(name)
        except Exception:  # a scikit-image build that fetches this file over the network: skip it
            continue
    if not photos:
        raise RuntimeError(f"none of the scikit-image photographs {', '.join(PHOTOGRAPHS)} loads offline")
    return photos


def natural_image_patches(n, size=31, seed=0):
    """Return `n` grey-scale natural-image patches, float64 array (n, size, size) with values in [0, 1].

    Patches are cut at random positions and scales from the photographs bundled with scikit-image
    (see `bundled_photographs`) and down-sampled by a random factor in [2, 6] with anti-aliasing, so they
    look like crops of natural scenes. The result depends only on (n, size, seed); `seed` is anything
    `numpy.random.default_rng` accepts.
    """
    from skimage.transform import resize

    n, size = int(n), int(size)
    if n < 0 or size < 1:
        raise ValueError(f"expected n ≥ 0 and size ≥ 1, got n={n}, size={size}")
    photos = bundled_photographs()
    names = sorted(photos)
    rng = np.random.default_rng(seed)
    patches = np.empty((n, size, size))
    for i in range(n):
        photo = photos[names[rng.integers(len(names))]]
        largest = min(photo.shape) / size
        factor = np.exp(rng.uniform(np.log(min(MIN_FACTOR, largest)), np.log(min(MAX_FACTOR, largest))))
        window = max(1, min(int(round(factor * size)), min(photo.shape)))
        row = rng.integers(photo.shape[0] - window + 1)
        col = rng.integers(photo.shape[1] - window + 1)
        crop = photo[row:row + window, col:col + window]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        patches[i] = resize(crop, (size, size), order=1, anti_aliasing=True, mode="reflect")
    return np.clip(patches, 0.0, 1.0)
