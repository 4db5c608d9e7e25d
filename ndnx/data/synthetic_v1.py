"""A synthetic V1 region in the file format of Antolík et al. 2016, with a known ground-truth HSM.

The recordings of Antolík et al. 2016 (PLoS Comput Biol 12(6): e1004927, supporting information S1)
cannot be fetched offline, so `write_synthetic_region` writes a stand-in with the same files, shapes,
dtypes and scales, whose responses come from a hierarchical structural model (HSM) with known parameters.
That makes every V1 experiment runnable without the download and gives recovery tests a ground truth.

Ground truth (the HSM of Antolík et al. 2016 with NDN3 difference-of-Gaussians semantics):

    G(x, y; a, s) = a · exp(−((x − μx)² + (y − μy)²) / (2s)) / (2πs)     x = column, y = row, s a VARIANCE
    K_j           = G(·; α1_j, σ1_j) − G(·; α2_j, σ1_j + σ2_j)          9 concentric DoGs, surround wider
    z_j           = Σ_p S(p) · K_j(p)                                    linear, S the N(0, 1)-normalised image
    h             = softplus(z · W1 + b1)                                H = int(0.2·N) hidden units
    rate          = softplus(h · W2 + b2)                                N neurons

S is normalised exactly as `antolik.load_region(..., normalization="train")` does it (one global mean and
standard deviation over the training pixels, grey levels 0–255), so a model fitted to the loaded data
sees the same images the generator used.

Responses: training images are shown once, y ~ Poisson(rate); each validation image `repeats` times,
raw_validation_set[r] ~ Poisson(rate), and validation_set is the mean over the repeats.

Parameter distributions (chosen so the cells look like LGN-driven V1 neurons): DoG centres in the middle
third of the image, centre variance 1.5–6 px², surround increment ≥ the centre variance, α1 ∈ [1, 4],
α2 = α1 · U(0.3, 0.8); every hidden unit mixes 2–4 DoGs with both signs (ON and OFF sub-fields); the
output weights are sparse (30 %), mostly positive (70 %); each neuron's gain and threshold are set so that
its mean rate over the training images is log-uniform in [0.2, 2] and the standard deviation of its rate
over images is about as large as the mean (never below ≈ 0.3 of it: every neuron is stimulus-driven).
Rates are sparse and skewed like the calcium-derived rates of the real data: 99.9 % of them lie in 0–10.
"""

import glob
import os
import shutil

import numpy as np

from ndnx.data.antolik import FILES, IMAGE_SHAPE, PIXEL_SCALE, REGION_SIZES, VALIDATION_REPEATS
from ndnx.data.commands import data_command
from ndnx.data.images import natural_image_patches
from ndnx.files import FileLock, make_temporary_dir, remove_temporaries

DOG_FIELDS = ("alpha1", "sigma1", "mu_x", "mu_y", "alpha2", "sigma2")
NUM_DOGS = 9
HIDDEN_FRACTION = 0.2
GROUND_TRUTH = "ground_truth.npz"

README = """\
SYNTHETIC DATA - not a recording.

This directory was written by ndnx (ndnx.data.synthetic_v1.write_synthetic_region) in the file format of
region{region} of Antolik et al. 2016, PLoS Comput Biol 12(6): e1004927 (supporting information S1):

  training_inputs.npy     ({train}, 961) float64  31x31 images, row-major, grey levels 0-255 x 1e-6
  training_set.npy        ({train}, {neurons}) float64 Poisson responses, one presentation per image
  validation_inputs.npy   ({val}, 961) float64
  validation_set.npy      ({val}, {neurons}) float64 mean of raw_validation_set over the repeats
  raw_validation_set.npy  ({repeats}, {val}, {neurons}) float64 single-trial Poisson responses

Images are patches of the photographs bundled with scikit-image. Responses are drawn from a known
hierarchical structural model (9 linear difference-of-Gaussians units -> softplus hidden layer of
{hidden} units -> softplus outputs) applied to the images normalised with the training-set mean and
standard deviation. ground_truth.npz holds its parameters (alpha1, sigma1, mu_x, mu_y, alpha2, sigma2
per DoG, W1, b1, W2, b2), the normalisation (train_mean, train_std) and the noiseless rates
(rates_train, rates_val). Generator seed: {seed}.
"""


def softplus(x):
    """log(1 + eˣ), overflow-free."""
    return np.logaddexp(0.0, x)


def _dog_array(params):
    if hasattr(params, "keys"):
        keys = set(params.keys())
        if "dog_params" in keys:
            params = params["dog_params"]
        elif keys.issuperset(DOG_FIELDS):
            params = np.stack([np.asarray(params[k], dtype=np.float64).reshape(-1) for k in DOG_FIELDS], axis=1)
        else:
            raise ValueError(f"expected DoG parameters {', '.join(DOG_FIELDS)} (or 'dog_params'), got keys "
                             f"{sorted(keys)}")
    array = np.asarray(params, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != len(DOG_FIELDS):
        raise ValueError(f"expected DoG parameters of shape (filters, 6) with columns "
                         f"[{', '.join(DOG_FIELDS)}], got shape {array.shape}")
    return array


def dog_kernels(params, height=31, width=31, clip=False):
    """Difference-of-Gaussians kernels (F, height, width) with NDN3 semantics.

    params: array (F, 6) with columns [α1, σ1, μx, μy, α2, σ2] (one filter may be given as (6,)), or a
    mapping with those six names (`DOG_FIELDS`) or a 'dog_params' entry.

        K(y, x) = G(x, y; α1, σ1) − G(x, y; α2, σ1 + σ2),
        G(x, y; a, s) = a · exp(−((x − μx)² + (y − μy)²) / (2s)) / (2πs),

    with x the column index and y the row index; σ is a variance. With clip=True the parameters are
    first clipped as the NDN3 forward pass does: α ≥ machine ε, σ ∈ [1, int(0.82·max(height, width))],
    μx ∈ [2, width − 2], μy ∈ [2, height − 2].
    """
    p = _dog_array(params)
    a1, s1, mx, my, a2, s2 = (p[:, i][:, None, None] for i in range(6))
    if clip:
        eps = np.finfo(np.float64).eps
        s_hi = int(0.82 * max(height, width))
        a1, a2 = np.maximum(a1, eps), np.maximum(a2, eps)
        s1, s2 = np.clip(s1, 1.0, s_hi), np.clip(s2, 1.0, s_hi)
        mx, my = np.clip(mx, 2.0, width - 2.0), np.clip(my, 2.0, height - 2.0)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    d2 = (cols[None] - mx) ** 2 + (rows[None] - my) ** 2

    def gaussian(a, s):
        return a * np.exp(-d2 / (2.0 * s)) / (2.0 * np.pi * s)

    return gaussian(a1, s1) - gaussian(a2, s1 + s2)


def ground_truth_hsm_rates(images_normalised, params):
    """Noiseless HSM rates (T, N) for normalised images (T, 31, 31), (T, 31, 31, 1) or (T, 961).

    params: a mapping (dict, or the NpzFile of ground_truth.npz) with the DoG parameters (see
    `dog_kernels`) and W1 (F, H), b1 (H,), W2 (H, N), b2 (N,):

        rate = softplus(softplus(z · W1 + b1) · W2 + b2),   z_j = Σ_p S(p) K_j(p).
    """
    kernels = dog_kernels(params, *IMAGE_SHAPE)
    images = np.asarray(images_normalised, dtype=np.float64).reshape(-1, kernels[0].size)
    z = images @ kernels.reshape(len(kernels), -1).T
    hidden = softplus(z @ np.asarray(params["W1"], np.float64) + np.asarray(params["b1"], np.float64))
    return softplus(hidden @ np.asarray(params["W2"], np.float64) + np.asarray(params["b2"], np.float64))


def _bias_for_mean_rate(drive, target):
    """b such that mean(softplus(drive + b)) = target (monotone in b, so bisection)."""
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if softplus(drive + mid).mean() < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def sample_ground_truth(images_normalised, neurons, rng, num_dogs=NUM_DOGS):
    """Draw ground-truth HSM parameters for `neurons` cells, calibrated on the (training) images.

    Returns a dict with the six DoG parameter vectors (F,), 'dog_params' (F, 6), W1, b1, W2, b2.
    The calibration uses the images only to set scales (DoG output spread, hidden and output gains and
    thresholds), never their responses.
    """
    height, width = IMAGE_SHAPE
    images = np.asarray(images_normalised, dtype=np.float64).reshape(len(images_normalised), -1)
    hidden_units = max(1, int(HIDDEN_FRACTION * neurons))

    # DoG layer: centres in the middle third, where the real receptive fields sit (the region of interest
    # was cut at about twice their union); the surround at least doubles the centre variance.
    sigma1 = rng.uniform(1.5, 6.0, num_dogs)
    alpha1 = rng.uniform(1.0, 4.0, num_dogs)
    dog = {
        "alpha1": alpha1,
        "sigma1": sigma1,
        "mu_x": rng.uniform(width / 3, 2 * width / 3, num_dogs),
        "mu_y": rng.uniform(height / 3, 2 * height / 3, num_dogs),
        "alpha2": alpha1 * rng.uniform(0.3, 0.8, num_dogs),
        "sigma2": sigma1 * rng.uniform(1.0, 3.0, num_dogs),
    }
    dog_params = np.stack([dog[k] for k in DOG_FIELDS], axis=1)
    z = images @ dog_kernels(dog_params, height, width).reshape(num_dogs, -1).T
    z_std = z.std(axis=0) + 1e-12

    # Hidden layer: 2–4 DoGs per unit, at least one excitatory and one inhibitory, each contributing on a
    # unit scale; then a gain of 1–2 and a threshold near the mean so the softplus bends inside the data.
    w1 = np.zeros((num_dogs, hidden_units))
    for h in range(hidden_units):
        picked = rng.choice(num_dogs, size=rng.integers(2, min(4, num_dogs) + 1), replace=False)
        signs = np.concatenate([[1.0, -1.0], rng.choice([-1.0, 1.0], size=len(picked) - 2)])
        w1[picked, h] = signs * rng.uniform(0.5, 1.5, len(picked)) / z_std[picked]
    a = z @ w1
    gain = rng.uniform(1.0, 2.0, hidden_units)
    w1 *= gain / (a.std(axis=0) + 1e-12)
    a = z @ w1
    b1 = -a.mean(axis=0) + gain * rng.uniform(-0.5, 0.5, hidden_units)
    hidden = softplus(a + b1)

    # Output layer: each neuron pools a few hidden units, mostly excitatory; its gain and threshold then
    # fix the spread and the mean of its rate.
    w2 = np.where(rng.random((hidden_units, neurons)) < 0.3, 1.0, 0.0)
    w2 *= np.where(rng.random((hidden_units, neurons)) < 0.7, 1.0, -1.0)
    for n in range(neurons):
        if not np.any(w2[:, n] > 0):
            w2[rng.integers(hidden_units), n] = 1.0
    w2 *= rng.uniform(0.5, 1.5, w2.shape)
    u = hidden @ w2
    drive_gain = rng.uniform(1.0, 1.5, neurons)
    w2 *= drive_gain / (u.std(axis=0) + 1e-12)
    u = hidden @ w2
    target = np.exp(rng.uniform(np.log(0.2), np.log(2.0), neurons))
    b2 = np.array([_bias_for_mean_rate(u[:, n], target[n]) for n in range(neurons)])
    return {**dog, "dog_params": dog_params, "W1": w1, "b1": b1, "W2": w2, "b2": b2}


def _write_readme(directory, **fields):
    with open(os.path.join(directory, "README.txt"), "w", encoding="utf-8") as f:
        f.write(README.format(**fields))


def is_complete(path):
    """True when `path` holds every published file and ground_truth.npz."""
    names = [stem + ".npy" for stem in FILES] + [GROUND_TRUTH]
    return all(os.path.isfile(os.path.join(path, name)) for name in names)


def _publish(tmp, target, replace_complete):
    """Move the finished directory `tmp` to `target` (same file system, so each rename is atomic)."""
    if not os.path.exists(target):
        try:
            os.rename(tmp, target)
            return
        except OSError:
            if not os.path.exists(target):
                raise
            # another process published `target` between the check and the rename: fall through
    if not replace_complete and is_complete(target):
        shutil.rmtree(tmp)  # a concurrent writer got there first with the same data: keep theirs
        return
    old = make_temporary_dir(os.path.dirname(target), f"{os.path.basename(target)}.old")
    parked = os.path.join(old, "region")
    os.rename(target, parked)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(parked, target)  # put the previous region back rather than leave none
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def write_synthetic_region(out_dir, neurons=103, train=1800, val=50, repeats=10, seed=0, region=1,
                           overwrite=True):
    """Write `<out_dir>/region{region}/` in the Antolík et al. 2016 format; return its path.

    Files: training_inputs.npy (train, 961), training_set.npy (train, neurons), validation_inputs.npy
    (val, 961), validation_set.npy (val, neurons), raw_validation_set.npy (repeats, val, neurons), all
    float64, inputs = grey levels 0–255 × 10⁻⁶ flattened row-major; plus ground_truth.npz (HSM parameters,
    train_mean / train_std and the noiseless rates rates_train, rates_val) and README.txt.

    The region is built in a hidden temporary sibling directory and renamed into place, so an interrupted
    run never leaves a half-written region. With overwrite=False an existing complete region is kept.
    The output depends only on (neurons, train, val, repeats, seed).

    One process at a time writes a region: the writer holds `<out_dir>/.region{region}.lock` (others
    wait, then find the region written), and first removes the temporaries that writers killed
    before it left behind.
    """
    neurons, train, val, repeats = int(neurons), int(train), int(val), int(repeats)
    if min(neurons, train, val, repeats) < 1:
        raise ValueError(f"expected positive sizes, got neurons={neurons}, train={train}, val={val}, "
                         f"repeats={repeats}")
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    name = f"region{int(region)}"
    target = os.path.join(out_dir, name)
    lock = FileLock(os.path.join(out_dir, f".{name}.lock")).acquire(wait=True)
    try:
        remove_stale_temporaries(out_dir, name)
        if not overwrite and is_complete(target):
            return target  # another process wrote it while this one waited
        return _write_region(out_dir, name, target, neurons, train, val, repeats, seed, region, overwrite)
    finally:
        lock.release()


def remove_stale_temporaries(out_dir, name):
    """Remove what writers of `<out_dir>/<name>` killed mid-write left (only while holding its lock)."""
    removed = remove_temporaries(out_dir, [name, f"{name}.old"])
    for path in glob.glob(os.path.join(glob.escape(out_dir), f".{name}.partial-*")):  # older ndnx versions
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _write_region(out_dir, name, target, neurons, train, val, repeats, seed, region, overwrite):
    image_seed, model_seed, noise_seed = np.random.SeedSequence(seed).spawn(3)
    tmp = make_temporary_dir(out_dir, name)  # hidden, mode 0o777 less the umask (mkdtemp: 0o700)
    try:
        # 256 grey levels like the original stimuli, stored divided by 10⁶ as published.
        levels = np.rint(natural_image_patches(train + val, IMAGE_SHAPE[0], seed=image_seed) * 255.0)
        levels = levels.reshape(train + val, -1)
        stored = levels / PIXEL_SCALE
        mean, std = float(levels[:train].mean()), float(levels[:train].std())
        images = (levels - mean) / std

        params = sample_ground_truth(images[:train], neurons, np.random.default_rng(model_seed))
        rates = ground_truth_hsm_rates(images, params)
        rates_train, rates_val = rates[:train], rates[train:]

        noise = np.random.default_rng(noise_seed)
        responses = noise.poisson(rates_train).astype(np.float64)
        trials = noise.poisson(rates_val, size=(repeats,) + rates_val.shape).astype(np.float64)

        arrays = {"training_inputs": stored[:train], "training_set": responses,
                  "validation_inputs": stored[train:], "validation_set": trials.mean(axis=0),
                  "raw_validation_set": trials}
        for stem in FILES:
            np.save(os.path.join(tmp, stem + ".npy"), np.ascontiguousarray(arrays[stem], dtype=np.float64))
        np.savez(os.path.join(tmp, GROUND_TRUTH), rates_train=rates_train, rates_val=rates_val,
                 train_mean=mean, train_std=std, seed=seed, **params)
        _write_readme(tmp, region=int(region), train=train, val=val, neurons=neurons, repeats=repeats,
                      hidden=params["W1"].shape[1], seed=seed)
        _publish(tmp, target, replace_complete=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_ground_truth(path):
    """The contents of `<path>/ground_truth.npz` as a dict of arrays (`path`: a region directory)."""
    with np.load(os.path.join(path, GROUND_TRUTH), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def ensure_default_region(cache_dir, region=1):
    """Return (path, generated): `<cache_dir>/region{region}`, generating it first if it is incomplete.

    Generation uses the published sizes of that region (region 1: 103 neurons, 1800 training images,
    10 validation repeats) and seed 0, so every caller gets the same data; `generated` says whether this
    call wrote it (the caller reports it).
    """
    path = os.path.join(os.path.abspath(cache_dir), f"region{int(region)}")
    if is_complete(path):
        return path, False
    neurons, train = REGION_SIZES.get(int(region), REGION_SIZES[1])
    repeats = VALIDATION_REPEATS.get(int(region), VALIDATION_REPEATS[1])
    write_synthetic_region(cache_dir, neurons=neurons, train=train, val=50, repeats=repeats, seed=0,
                           region=region, overwrite=False)
    return path, True


@data_command("synth-v1", "write a synthetic V1 region in the Antolík et al. 2016 file format")
def _synth_v1_command(parser):
    parser.add_argument("--out", required=True, help="directory the region{N}/ folder is written under")
    parser.add_argument("--neurons", type=int, default=103, help="neurons (default 103, region 1's size)")
    parser.add_argument("--train", type=int, default=1800, help="training images, one presentation each")
    parser.add_argument("--val", type=int, default=50, help="validation images")
    parser.add_argument("--repeats", type=int, default=10, help="presentations of every validation image")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (images, ground truth, noise)")
    parser.add_argument("--region", type=int, default=1, help="the N of region{N}/")

    def run(args):
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise ValueError(f"--out {args.out} is a file; expected the directory region{args.region}/ is written under")
        path = write_synthetic_region(args.out, neurons=args.neurons, train=args.train, val=args.val,
                                      repeats=args.repeats, seed=args.seed, region=args.region)
        print(f"wrote a synthetic region (ground-truth HSM, Poisson responses) to {path}")
        return 0

    return run
