"""Behavioural tasks of the E/I rate networks: stimulus schedules, labels, targets and tf.data pipelines.

NeuroFlame spec (specs/ei_networks_neuroflame.md) §5 "Behavioural-task stimuli", §1.5 (time grid,
random delays and ITIs), §6 (curricula) and §11 "Task stimuli".

A batch of B trials is a schedule of S stimuli, the contract with the network model:

    onsets, offsets  float32 (B, S)     seconds from the end of the steady period T_STEADY;
                                        stimulus s is on during [onset, offset)
    patterns         float32 (B, S, N)  its spatial profile over the stimulated neurons (N = N_E, or
                                        every population when the stimulus also targets I), strength
                                        I0 and footprint included, NOT the √K_E·M0 factor (the model
                                        applies it); a stimulus a trial does not have is all zeros

together with the recorded `duration` the trials need (all trials of a batch run equally long),
labels per trial and the task windows (start, end) in seconds. Every generator draws from
`numpy.random.default_rng(seed)` with an explicit int seed; `TaskTrials.to_dataset` turns a batch
into a seeded `tf.data.Dataset` of (inputs dict, targets).

Footprints (neuron i of a population of n sits at θ_i = 2πi/n; angles in explicit `units`,
"degrees" or "radians", never guessed from their size):

- ODR cosine bump I0·relu(1 + σ·cos(θ_i − φ))/(1 + σ): peak I0 at φ, uniform I0 for σ = 0, and for
  σ ≤ 1 first Fourier moments m0 = I0/(1 + σ), m1 = I0·σ/(1 + σ), phase φ (spec §10.3 item 6);
- wrapped Gaussian I0·exp(−Δ²/(2σ²)), Δ = θ_i − φ wrapped into [−π, π), σ an angle;
- a pattern along a vector I0·σ·ξ (dual task, DPA, Go/NoGo);
- a uniform cue I0 (negative: the erase / go cue that kills a bump).

Tasks (one generator each): `odr_trials` (n targets, default 8 at 0..315°, or uniform random
phases; cue then a uniform erase/go cue), `dpa_trials`, `go_nogo_trials`, `dual_trials` (the
config_train / train_dual layout, 4, 2 and 12 balanced conditions) and `serial_bias_trials` (10
cue/erase trials in a 36 s run, random phases). `odr_targets` and `dual_targets` turn a batch into
the frame-by-frame targets of `ndnx.losses.AngularErrorLoss` and `ndnx.losses.DualLoss`. The serial
bias itself is computed by `ndnx.analysis.decoding.serial_bias`.

Random delays and ITIs (spec §1.5): a delay d from `delay_list` (DELAY_LIST) or uniform in
`delay_range` = (MIN_DELAY, MAX_DELAY) shifts the stimuli after the first (ODR) or only the last one
(dual family) by d − min, so the nominal layout is the shortest trial and the duration grows by
max − min; an ITI t from `iti_list` or `iti_range` shifts every stimulus by t − min (NeuroFlame's
random T_STEADY: the model's T_STEADY plays the shortest ITI) and the duration grows likewise.

Frames: the network records frame k = 0 … round(duration/T_WINDOW) as the window mean ending at
k·T_WINDOW; frame k belongs to a window [start, end) when start ≤ k·T_WINDOW < end — the frame-index
convention of spec §10.3 item 7 (a stimulus's onset frame is T_STIM_ON/T_WINDOW).

Example:
    >>> import numpy as np
    >>> from ndnx.data.tasks import dual_trials
    >>> trials = dual_trials(trials_per_condition=2, seed=0, odors=np.eye(10, 50))
    >>> trials.onsets.shape, trials.patterns.shape, trials.duration
    ((24, 5), (24, 5, 50), 10.0)
    >>> trials.names
    ('sample', 'distractor', 'cue', 'reward', 'test')
"""

import dataclasses

import numpy as np

__all__ = ["ANGLE_UNITS", "FOOTPRINTS", "DUAL_STIMULI", "DUAL_ON", "DUAL_OFF", "DUAL_CHANNELS", "TaskTrials",
           "neuron_angles", "cosine_bump", "wrapped_gaussian", "vector_pattern", "uniform_cue", "odr_trials",
           "dpa_trials", "go_nogo_trials", "dual_trials", "serial_bias_trials", "odr_targets", "dual_targets"]

ANGLE_UNITS = ("degrees", "radians")
FOOTPRINTS = ("cosine", "gauss")
TWO_PI = 2.0 * np.pi

#: The five stimuli of the dual-task family and their layout in config_train / train_dual (spec §5).
DUAL_STIMULI = ("sample", "distractor", "cue", "reward", "test")
DUAL_ON = (1.0, 3.0, 5.0, 5.5, 7.0)
DUAL_OFF = (2.0, 4.0, 5.5, 6.0, 8.0)

#: Channels of `dual_targets`: name → (label, window). The labels are 0/1: "dpa" = (sample == test),
#: "gng" = (distractor is Go), "sample" = (sample is A); the windows are NeuroFlame's rwd (test → end),
#: cue/gng (distractor → cue offset, only in trials with a distractor) and stim (sample → test).
DUAL_CHANNELS = {"dpa": ("dpa", "rwd"), "gng": ("gng", "gng"), "sample": ("sample", "stim")}
_DEFAULT_CHANNELS = {"dpa": ("dpa",), "go_nogo": ("gng",), "dual": ("dpa", "gng")}


# ----------------------------------------------------------------------------------------------- checks

def _int(name, argument, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: {argument} must be an int ≥ {minimum}, got {value!r}")
    return int(value)


def _rng(name, seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{name}: seed must be an int ≥ 0 (seeds are explicit, never the clock), got {seed!r}")
    return np.random.default_rng(int(seed))


def _number(name, argument, value, minimum=None):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: {argument} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or (minimum is not None and value < minimum):
        raise ValueError(f"{name}: {argument} must be finite{f' and ≥ {minimum}' if minimum is not None else ''}, "
                         f"got {value}")
    return value


def _finite_array(name, argument, value):
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {argument} must be numbers, got {value!r}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: {argument} must be finite, got {value!r}")
    return array


def _radians(name, argument, angles, units):
    if units not in ANGLE_UNITS:
        raise ValueError(f"{name}: units must be one of {ANGLE_UNITS}, got {units!r}")
    angles = _finite_array(name, argument, angles)
    return np.deg2rad(angles) if units == "degrees" else angles


def _sizes(name, n_neurons):
    """Population sizes: an int (one ring, E) or a sequence (one ring per population, E first)."""
    sizes = (n_neurons,) if isinstance(n_neurons, (int, np.integer)) and not isinstance(n_neurons, bool) \
        else tuple(n_neurons) if isinstance(n_neurons, (list, tuple)) else None
    if not sizes or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in sizes):
        raise ValueError(f"{name}: n_neurons must be a positive int or a list of them (one ring per population, "
                         f"E first), got {n_neurons!r}")
    return tuple(int(n) for n in sizes)


def _layout(name, on, off, count):
    on, off = _finite_array(name, "stim_on", on), _finite_array(name, "stim_off", off)
    if on.shape != (count,) or off.shape != (count,):
        raise ValueError(f"{name}: stim_on and stim_off must hold {count} times each (s), got {on.tolist()} and "
                         f"{off.tolist()}")
    if np.any(on < 0) or np.any(off <= on):
        raise ValueError(f"{name}: every stimulus needs 0 ≤ onset < offset, got stim_on {on.tolist()} and stim_off "
                         f"{off.tolist()}")
    return on, off


def _per_stimulus(name, argument, value, count):
    array = _finite_array(name, argument, value)
    if array.ndim == 0:
        return np.full(count, float(array))
    if array.shape != (count,):
        raise ValueError(f"{name}: {argument} must be one number or {count} (one per stimulus), got {value!r}")
    return array


def _random_times(name, what, rng, n, choices, bounds):
    """Per-trial draws from a list or a uniform range: (values, shifts = values − min, growth = max − min)."""
    if choices is not None and bounds is not None:
        raise ValueError(f"{name}: give {what}_list or {what}_range, not both")
    if choices is None and bounds is None:
        return np.zeros(n), np.zeros(n), 0.0
    if choices is not None:
        choices = _finite_array(name, f"{what}_list", choices)
        if choices.ndim != 1 or choices.size == 0 or np.any(choices < 0):
            raise ValueError(f"{name}: {what}_list must be a non-empty list of times ≥ 0 (s), got {choices.tolist()}")
        values = rng.choice(choices, size=n)
        low, high = choices.min(), choices.max()
    else:
        bounds = _finite_array(name, f"{what}_range", bounds)
        if bounds.shape != (2,) or not 0 <= bounds[0] <= bounds[1]:
            raise ValueError(f"{name}: {what}_range must be (min, max) with 0 ≤ min ≤ max (s), "
                             f"got {bounds.tolist()}")
        low, high = bounds
        values = rng.uniform(low, high, size=n)
    return values, values - low, float(high - low)


# ------------------------------------------------------------------------------------------- footprints

def neuron_angles(n_neurons):
    """θ_i = 2πi/n for i = 0 … n − 1 (radians): the ring of a population (spec §2, §5)."""
    n_neurons = _int("neuron_angles", "n_neurons", n_neurons)
    return TWO_PI * np.arange(n_neurons) / n_neurons


def _angles(name, n_neurons, angles):
    sizes = _sizes(name, n_neurons)
    if angles is None:
        return np.concatenate([neuron_angles(n) for n in sizes])
    angles = _finite_array(name, "angles", angles)
    if angles.shape != (sum(sizes),):
        raise ValueError(f"{name}: angles must be one angle (radians) per neuron, {sum(sizes)} of them, got shape "
                         f"{angles.shape}")
    return angles


def cosine_bump(n_neurons, phase, strength=1.0, sigma=1.0, units="degrees", angles=None):
    """The ODR stimulus I0·relu(1 + σ·cos(θ_i − φ))/(1 + σ) → (..., N), broadcast over phase, strength, σ.

    `phase` in `units` (one per trial: shape (B,) gives (B, N)); `n_neurons` an int or one int per
    population (each its own ring, concatenated); `angles` (radians, one per neuron) replaces the
    rings, e.g. atan2(ξ_2, ξ_0) for an ODR-type bump on a low-rank ring ('dual_rand').

    Example:
        >>> from ndnx.data.tasks import cosine_bump
        >>> cosine_bump(4, 90.0, strength=2.0, sigma=1.0).round(6).tolist()  # peak I0 at 90°, 0 opposite
        [1.0, 2.0, 1.0, 0.0]
    """
    name = "cosine_bump"
    theta = _angles(name, n_neurons, angles)
    phase = _radians(name, "phase", phase, units)[..., None]
    strength = _finite_array(name, "strength", strength)[..., None]
    sigma = _finite_array(name, "sigma", sigma)[..., None]
    if np.any(sigma <= -1):
        raise ValueError(f"{name}: sigma must be > −1 (the profile is divided by 1 + σ), "
                         f"got {sigma.ravel().tolist()}")
    return strength * np.maximum(1.0 + sigma * np.cos(theta - phase), 0.0) / (1.0 + sigma)


def wrapped_gaussian(n_neurons, phase, strength=1.0, sigma=30.0, units="degrees", angles=None):
    """I0·exp(−Δ²/(2σ²)), Δ = θ_i − φ wrapped into [−π, π) → (..., N); φ and σ both in `units`.

    Example:
        >>> from ndnx.data.tasks import wrapped_gaussian
        >>> wrapped_gaussian(4, 0.0, sigma=90.0).round(6).tolist()  # Δ = 0, 90°, −180°, −90°
        [1.0, 0.606531, 0.135335, 0.606531]
    """
    name = "wrapped_gaussian"
    theta = _angles(name, n_neurons, angles)
    phase = _radians(name, "phase", phase, units)[..., None]
    sigma = _radians(name, "sigma", sigma, units)[..., None]
    if np.any(sigma <= 0):
        raise ValueError(f"{name}: sigma must be > 0, got {sigma.ravel().tolist()}")
    strength = _finite_array(name, "strength", strength)[..., None]
    delta = np.mod(theta - phase + np.pi, TWO_PI) - np.pi
    return strength * np.exp(-delta ** 2 / (2.0 * sigma ** 2))


def vector_pattern(vector, strength=1.0, sigma=1.0):
    """I0·σ·ξ → (..., N): a stimulus along a connectivity or odor vector (dual task, spec §5).

    Example:
        >>> from ndnx.data.tasks import vector_pattern
        >>> vector_pattern([1.0, -2.0], strength=[1.0, -1.0], sigma=0.5).tolist()  # A and B along ξ
        [[0.5, -1.0], [-0.5, 1.0]]
    """
    vector = _finite_array("vector_pattern", "vector", vector)
    if vector.ndim != 1:
        raise ValueError(f"vector_pattern: vector must be one value per neuron, got shape {vector.shape}")
    strength = _finite_array("vector_pattern", "strength", strength)[..., None]
    return strength * _finite_array("vector_pattern", "sigma", sigma)[..., None] * vector


def uniform_cue(n_neurons, strength=-5.0):
    """I0 on every neuron → (..., N): with I0 < 0 the erase / go cue that kills a bump (spec §5).

    Example:
        >>> from ndnx.data.tasks import uniform_cue
        >>> uniform_cue(3).tolist()
        [-5.0, -5.0, -5.0]
    """
    n = sum(_sizes("uniform_cue", n_neurons))
    return _finite_array("uniform_cue", "strength", strength)[..., None] * np.ones(n)


# ------------------------------------------------------------------------------------------------ trials

@dataclasses.dataclass(frozen=True, eq=False)
class TaskTrials:
    """A batch of trials of one task: the stimulus schedule, the duration, labels and task windows.

    Attributes:
        kind: the task ("odr", "dpa", "go_nogo", "dual", "serial_bias").
        names: the S stimulus names, in the order of the schedule's stimulus axis.
        onsets, offsets: float32 (B, S), seconds from the end of T_STEADY; on during [onset, offset).
        patterns: float32 (B, S, N), I0 and footprint included, without the √K_E·M0 factor.
        duration: the recorded duration (s) every trial of the batch needs (the model's DURATION).
        labels: name → float32 (B,) or (B, trials) per-trial values (phases in radians).
        windows: name → float32 (B, 2) or (B, trials, 2) intervals [start, end) in seconds (end = inf:
            to the end of the recording, its last frame included).
    """

    kind: str
    names: tuple
    onsets: np.ndarray
    offsets: np.ndarray
    patterns: np.ndarray
    duration: float
    labels: dict
    windows: dict

    @property
    def n_trials(self):
        return self.onsets.shape[0]

    def inputs(self):
        """The schedule as the network's inputs: {"onsets", "offsets", "patterns"} float32."""
        return {"onsets": self.onsets, "offsets": self.offsets, "patterns": self.patterns}

    def n_frames(self, t_window):
        """round(duration/T_WINDOW) + 1: the frames the network records for these trials (spec §1.5)."""
        t_window = _number("TaskTrials.n_frames", "t_window", t_window, minimum=0.0)
        if t_window <= 0:
            raise ValueError(f"TaskTrials.n_frames: t_window must be > 0 (s), got {t_window}")
        return int(round(self.duration / t_window)) + 1

    def frame_mask(self, window, t_window):
        """float32 (B, frames): 1 where frame k (time k·T_WINDOW) lies in the window [start, end).

        A window of shape (B, trials, 2) (serial bias) gives the union of its intervals.
        """
        if window not in self.windows:
            raise ValueError(f"TaskTrials.frame_mask: {self.kind} trials have the windows {sorted(self.windows)}, "
                             f"not {window!r}")
        frames = self.n_frames(t_window)
        intervals = self.windows[window].reshape(self.n_trials, -1, 2).astype("float64") / t_window
        k = np.arange(frames)[None, None, :]
        tolerance = 1e-6  # start/T_WINDOW = 19.999999… is frame 20
        inside = (k >= intervals[..., :1] - tolerance) & (k < intervals[..., 1:] - tolerance)
        return inside.any(axis=1).astype("float32")

    def to_dataset(self, targets, batch_size, seed, shuffle=True, drop_remainder=False):
        """A `tf.data.Dataset` of (inputs dict, targets) batches, shuffled with `seed` every epoch.

        `targets`: an array (B, ...) (e.g. `odr_targets(...)`, `dual_targets(...)`), or a dict of them.
        As for every tf.data op, the order depends on the seed and on TensorFlow's global seed
        (`ndnx.set_seed`); the same pair gives the same batches.
        """
        import tensorflow as tf

        name = "TaskTrials.to_dataset"
        batch_size = _int(name, "batch_size", batch_size)
        _rng(name, seed)
        arrays = targets if isinstance(targets, dict) else {"": targets}
        for key, value in arrays.items():
            if np.shape(value)[:1] != (self.n_trials,):
                raise ValueError(f"{name}: targets{f'[{key!r}]' if key else ''} must have one row per trial "
                                 f"({self.n_trials}), got shape {np.shape(value)}")
        dataset = tf.data.Dataset.from_tensor_slices((self.inputs(), targets))
        if shuffle:
            dataset = dataset.shuffle(self.n_trials, seed=int(seed), reshuffle_each_iteration=True)
        return dataset.batch(batch_size, drop_remainder=drop_remainder)


def _trials(kind, names, onsets, offsets, patterns, duration, labels, windows):
    as32 = lambda d: {k: np.asarray(v, dtype="float32") for k, v in d.items()}  # noqa: E731
    return TaskTrials(kind, tuple(names), np.asarray(onsets, "float32"), np.asarray(offsets, "float32"),
                      np.asarray(patterns, "float32"), float(duration), as32(labels), as32(windows))


# --------------------------------------------------------------------------------------------------- ODR

def _odr_phases(name, targets, n_trials, units, rng):
    if isinstance(targets, str):
        if targets != "uniform":
            raise ValueError(f"{name}: targets must be a number of targets, 'uniform' or one phase per trial, "
                             f"got {targets!r}")
        return rng.uniform(0.0, TWO_PI, size=n_trials)
    if isinstance(targets, (int, np.integer)) and not isinstance(targets, bool):
        targets = _int(name, "targets", targets)
        if n_trials % targets:
            raise ValueError(f"{name}: n_trials ({n_trials}) must be a multiple of the {targets} targets (balanced)")
        return rng.permutation(np.repeat(TWO_PI * np.arange(targets) / targets, n_trials // targets))
    phases = _radians(name, "targets", targets, units)
    if phases.shape != (n_trials,):
        raise ValueError(f"{name}: targets given as phases need one per trial ({n_trials}), got shape {phases.shape}")
    return np.mod(phases, TWO_PI)


def odr_trials(n_neurons, n_trials, seed, *, targets=8, units="degrees", footprint="cosine", cue_strength=1.0,
               cue_sigma=1.0, cue_on=1.0, cue_off=2.0, go_strength=-5.0, go_on=3.0, go_off=3.5, tail=1.0,
               delay_list=None, delay_range=None, iti_list=None, iti_range=None, angles=None):
    """Oculomotor delayed response: a cue bump at the target, a delay, then a uniform erase/go cue.

    Stimuli ("cue", "go"): the cue I0·relu(1 + σ·cos(θ_i − φ))/(1 + σ) (footprint "cosine") or the
    wrapped Gaussian I0·exp(−Δ²/(2σ²)) ("gauss", σ in `units`) during [cue_on, cue_off), then the
    uniform cue go_strength (I0 = −5 erases the bump) during [go_on, go_off); go_strength=None
    leaves it out. Targets: an int n gives n locations 360°·k/n (8: 0, 45, …, 315°), each on
    n_trials/n trials (balanced, shuffled); "uniform" a random phase per trial (NeuroFlame's 'rand');
    or one phase per trial in `units`. Random delays shift the go cue (the first stimulus stays),
    random ITIs both (module docstring). The duration is go_off (or cue_off) + tail + the growth of
    the random delays and ITIs.

    Labels: "phase" (radians), "delay", "iti" (s; 0 when fixed). Windows: "cue", "memory" (cue
    offset → go onset, or → the end without a go cue), "go".

    Example:
        >>> import numpy as np
        >>> from ndnx.data.tasks import odr_trials
        >>> trials = odr_trials(n_neurons=16, n_trials=16, seed=1)
        >>> sorted(set(np.degrees(trials.labels["phase"]).round(3).tolist()))
        [0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0]
        >>> trials.onsets[0].tolist(), trials.offsets[0].tolist(), trials.duration
        ([1.0, 3.0], [2.0, 3.5], 4.5)
    """
    name = "odr_trials"
    if units not in ANGLE_UNITS:
        raise ValueError(f"{name}: units must be one of {ANGLE_UNITS}, got {units!r}")
    n_trials = _int(name, "n_trials", n_trials)
    rng = _rng(name, seed)
    if footprint not in FOOTPRINTS:
        raise ValueError(f"{name}: footprint must be one of {FOOTPRINTS}, got {footprint!r}")
    go = go_strength is not None
    count = 2 if go else 1
    on, off = _layout(name, [cue_on, go_on][:count], [cue_off, go_off][:count], count)
    if go and on[1] < off[0]:
        raise ValueError(f"{name}: the go cue must come after the cue (go_on ≥ cue_off), got go_on {on[1]} and "
                         f"cue_off {off[0]}")
    tail = _number(name, "tail", tail, minimum=0.0)
    phases = _odr_phases(name, targets, n_trials, units, rng)
    if not go and (delay_list is not None or delay_range is not None):
        raise ValueError(f"{name}: random delays shift the go cue, and go_strength is None (no go cue)")
    delays, delay_shift, delay_growth = _random_times(name, "delay", rng, n_trials, delay_list, delay_range)
    itis, iti_shift, iti_growth = _random_times(name, "iti", rng, n_trials, iti_list, iti_range)
    shift = np.zeros((n_trials, count))
    shift[:, 1:] += delay_shift[:, None]
    shift += iti_shift[:, None]
    onsets, offsets = on + shift, off + shift
    cue_strength, cue_sigma = _number(name, "cue_strength", cue_strength), _number(name, "cue_sigma", cue_sigma)
    if footprint == "cosine":
        cue = cosine_bump(n_neurons, phases, cue_strength, cue_sigma, units="radians", angles=angles)
    else:  # σ of the Gaussian is an angle, in `units`
        cue = wrapped_gaussian(n_neurons, phases, cue_strength, _radians(name, "cue_sigma", cue_sigma, units),
                               units="radians", angles=angles)
    patterns = [cue]
    if go:
        patterns.append(np.broadcast_to(_number(name, "go_strength", go_strength), cue.shape))
    duration = off[-1] + tail + delay_growth + iti_growth
    memory_end = onsets[:, 1] if go else np.full(n_trials, np.inf)
    windows = {"cue": np.stack([onsets[:, 0], offsets[:, 0]], axis=1),
               "memory": np.stack([offsets[:, 0], memory_end], axis=1)}
    if go:
        windows["go"] = np.stack([onsets[:, 1], offsets[:, 1]], axis=1)
    return _trials("odr", ("cue", "go")[:count], onsets, offsets, np.stack(patterns, axis=1), duration,
                   {"phase": phases, "delay": delays, "iti": itis}, windows)


def odr_targets(trials, t_window, window="memory"):
    """Targets of `ndnx.losses.AngularErrorLoss` (B, frames, 2): the target phase (radians) and the window mask.

    Example:
        >>> from ndnx.data.tasks import odr_trials, odr_targets
        >>> trials = odr_trials(n_neurons=8, n_trials=8, seed=0)
        >>> y = odr_targets(trials, t_window=0.5)   # frames at 0, 0.5, …, 4.5 s; memory [2, 3) s
        >>> y.shape, y[0, :, 1].tolist()
        ((8, 10, 2), [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    """
    if not isinstance(trials, TaskTrials) or "phase" not in trials.labels or trials.labels["phase"].ndim != 1:
        raise ValueError(f"odr_targets: expected ODR trials (TaskTrials with one phase per trial), got {trials!r:.80}")
    mask = trials.frame_mask(window, t_window)
    phase = np.broadcast_to(trials.labels["phase"][:, None], mask.shape)
    return np.stack([phase, mask], axis=-1).astype("float32")


# ------------------------------------------------------------------------------------- dual-task family

def _dual_patterns(name, signs, vectors, odors, strengths, sigmas):
    """(B, 5, N) patterns of the five dual-task stimuli from their per-trial signs (B, 5)."""
    if (vectors is None) == (odors is None):
        raise ValueError(f"{name}: give exactly one of vectors=(ξ_sample, ξ_distractor) (untrained network) and "
                         f"odors (10 vectors, trained network)")
    amplitude = strengths * sigmas  # I0·σ per stimulus
    if odors is not None:
        odors = _finite_array(name, "odors", odors)
        if odors.ndim != 2 or odors.shape[0] != 10:
            raise ValueError(f"{name}: odors must be 10 vectors (10, N), got shape {odors.shape}")
        # the sign picks the vector, odors[k] (A / Go / present) or odors[5 + k] (B / NoGo)
        chosen = np.where(signs[..., None] > 0, odors[None, :5], odors[None, 5:])
        return np.abs(signs)[..., None] * amplitude[:, None] * chosen
    vectors = _finite_array(name, "vectors", vectors)
    if vectors.ndim != 2 or vectors.shape[0] != 2:
        raise ValueError(f"{name}: vectors must be (ξ_sample, ξ_distractor), shape (2, N), got {vectors.shape}")
    # sample and test along ξ_sample (ξ1 in NeuroFlame); distractor, cue, reward along ξ_distractor (ξ3)
    along = vectors[[0, 1, 1, 1, 0]]
    return signs[..., None] * amplitude[:, None] * along


def _dual_family(kind, conditions, trials_per_condition, seed, vectors, odors, strengths, sigmas, stim_on, stim_off,
                 tail, delay_list, delay_range, iti_list, iti_range):
    name = f"{kind}_trials"
    per = _int(name, "trials_per_condition", trials_per_condition)
    rng = _rng(name, seed)
    on, off = _layout(name, stim_on, stim_off, 5)
    strengths = _per_stimulus(name, "strengths", strengths, 5)
    sigmas = _per_stimulus(name, "sigmas", sigmas, 5)
    tail = _number(name, "tail", tail, minimum=0.0)
    conditions = np.asarray(conditions, dtype="float64")  # (conditions, 3): sample, distractor, test
    drawn = conditions[rng.permutation(np.repeat(np.arange(len(conditions)), per))]
    sample, distractor, test = drawn.T
    signs = np.stack([sample, distractor, np.abs(distractor), np.abs(test), test], axis=1)
    n = drawn.shape[0]
    delays, delay_shift, delay_growth = _random_times(name, "delay", rng, n, delay_list, delay_range)
    itis, iti_shift, iti_growth = _random_times(name, "iti", rng, n, iti_list, iti_range)
    last = int(np.argmax(on))  # random delays move the last stimulus (the test), the others stay
    shift = np.zeros((n, 5)) + iti_shift[:, None]
    shift[:, last] += delay_shift
    onsets, offsets = on + shift, off + shift
    patterns = _dual_patterns(name, signs, vectors, odors, strengths, sigmas)
    duration = off.max() + tail + delay_growth + iti_growth
    i = {s: k for k, s in enumerate(DUAL_STIMULI)}
    has_distractor = distractor != 0
    gng_end = np.where(has_distractor, offsets[:, i["cue"]], onsets[:, i["distractor"]])
    windows = {
        "stim": np.stack([onsets[:, i["sample"]], onsets[:, i["test"]]], axis=1),
        "gng": np.stack([onsets[:, i["distractor"]], gng_end], axis=1),
        "rwd": np.stack([onsets[:, i["test"]], np.full(n, np.inf)], axis=1),
    }
    with np.errstate(invalid="ignore"):
        dpa = np.where((sample != 0) & (test != 0), (sample == test).astype("float64"), np.nan)
    labels = {"sample": sample, "distractor": distractor, "cue": signs[:, 2], "test": test, "dpa": dpa,
              "gng": np.sign(distractor), "delay": delays, "iti": itis}
    return _trials(kind, DUAL_STIMULI, onsets, offsets, patterns, duration, labels, windows)


_DUAL_DOC = """

    Layout (config_train / train_dual, spec §5): stimuli {names} on during DUAL_ON = [1, 3, 5, 5.5, 7]
    to DUAL_OFF = [2, 4, 5.5, 6, 8] s (`stim_on`, `stim_off`); stimulus k is I0_k·σ_k·ξ with
    `strengths` I0 (default 1, 1, 1, 0, 1: the reward input is used only by reward-driven variants)
    and `sigmas` σ. Signs: sample ±1 (A/B), distractor +1 Go / −1 NoGo / 0 none, cue 1 when a
    distractor was shown, reward 1 when a test is shown, test ±1; a stimulus with sign 0 has a zero
    pattern. Vectors — exactly one of:
      vectors = (ξ_sample, ξ_distractor), shape (2, N): an untrained low-rank network (NeuroFlame's
        ξ1 and ξ3); the sign multiplies the vector; sample and test along ξ_sample, distractor,
        cue and reward along ξ_distractor;
      odors (10, N): a trained network (LR_TRAIN); stimulus k uses odors[k] for a positive sign and
        odors[5 + k] for a negative one, with amplitude |sign|·I0_k·σ_k (the vector carries the
        identity).
    Conditions are balanced: each of them on `trials_per_condition` trials, shuffled. Random delays
    move only the last stimulus (the test), random ITIs all of them (module docstring). Duration:
    the last offset + `tail` (2 s: a 10 s trial) + the growth of the random delays and ITIs.

    Labels (per trial): "sample", "distractor", "cue", "test" (signs), "dpa" = (sample == test)
    (NaN without a sample or test), "gng" = sign(distractor), "delay", "iti". Windows: "stim"
    (sample onset → test onset), "gng" (distractor onset → cue offset; empty without a distractor),
    "rwd" (test onset → end). `dual_targets` turns them into `ndnx.losses.DualLoss` targets.
"""


def dpa_trials(trials_per_condition, seed, *, vectors=None, odors=None, strengths=(1.0, 1.0, 1.0, 0.0, 1.0),
               sigmas=1.0, stim_on=DUAL_ON, stim_off=DUAL_OFF, tail=2.0, delay_list=None, delay_range=None,
               iti_list=None, iti_range=None):
    """Delayed paired association: sample A/B, delay, test A/B; 4 conditions (sample ± × test ±), no distractor.

    Example:
        >>> import numpy as np
        >>> from ndnx.data.tasks import dpa_trials
        >>> trials = dpa_trials(trials_per_condition=3, seed=0, odors=np.eye(10, 20))
        >>> trials.n_trials, int(np.nansum(trials.labels["dpa"])), float(np.abs(trials.patterns[:, 1:4]).max())
        (12, 6, 0.0)
    """
    return _dual_family("dpa", [(s, 0, t) for s in (1, -1) for t in (1, -1)], trials_per_condition, seed, vectors,
                        odors, strengths, sigmas, stim_on, stim_off, tail, delay_list, delay_range, iti_list,
                        iti_range)


def go_nogo_trials(trials_per_condition, seed, *, vectors=None, odors=None, strengths=(1.0, 1.0, 1.0, 0.0, 1.0),
                   sigmas=1.0, stim_on=DUAL_ON, stim_off=DUAL_OFF, tail=2.0, delay_list=None, delay_range=None,
                   iti_list=None, iti_range=None):
    """Go/NoGo: a Go (+1) or NoGo (−1) distractor then the cue; 2 conditions, no sample or test."""
    return _dual_family("go_nogo", [(0, 1, 0), (0, -1, 0)], trials_per_condition, seed, vectors, odors, strengths,
                        sigmas, stim_on, stim_off, tail, delay_list, delay_range, iti_list, iti_range)


def dual_trials(trials_per_condition, seed, *, vectors=None, odors=None, strengths=(1.0, 1.0, 1.0, 0.0, 1.0),
                sigmas=1.0, stim_on=DUAL_ON, stim_off=DUAL_OFF, tail=2.0, delay_list=None, delay_range=None,
                iti_list=None, iti_range=None):
    """The dual task: DPA with a Go/NoGo/no distractor in its delay; 12 conditions (2 samples × 3 × 2 tests)."""
    return _dual_family("dual", [(s, d, t) for s in (1, -1) for d in (1, -1, 0) for t in (1, -1)],
                        trials_per_condition, seed, vectors, odors, strengths, sigmas, stim_on, stim_off, tail,
                        delay_list, delay_range, iti_list, iti_range)


for _generator in (dpa_trials, go_nogo_trials, dual_trials):
    _generator.__doc__ += _DUAL_DOC.format(names=", ".join(DUAL_STIMULI))


def dual_targets(trials, t_window, channels=None):
    """Targets of `ndnx.losses.DualLoss` (B, frames, 2C): C label columns, then C window masks.

    `channels` names from `DUAL_CHANNELS` ("dpa": label (sample == test) in the rwd window, "gng":
    label Go in the cue/gng window, "sample": label A in the stim window); default by task: DPA
    ("dpa",), Go/NoGo ("gng",), dual ("dpa", "gng"), the readout columns `DualLoss(read_idx=...)`
    pairs with them. A trial without the label (a DPA label without test, a sample label without
    sample) has NaN labels: that channel ignores it.

    Example:
        >>> import numpy as np
        >>> from ndnx.data.tasks import dpa_trials, dual_targets
        >>> trials = dpa_trials(trials_per_condition=1, seed=0, odors=np.eye(10, 20))
        >>> y = dual_targets(trials, t_window=1.0)   # frames at 0, 1, …, 10 s; rwd from the test at 7 s
        >>> y.shape, y[0, :, 1].tolist()
        ((4, 11, 2), [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    """
    if not isinstance(trials, TaskTrials) or trials.kind not in _DEFAULT_CHANNELS:
        raise ValueError(f"dual_targets: expected DPA, Go/NoGo or dual trials, got {getattr(trials, 'kind', trials)!r}")
    channels = _DEFAULT_CHANNELS[trials.kind] if channels is None else tuple(channels)
    unknown = [c for c in channels if c not in DUAL_CHANNELS]
    if not channels or unknown:
        raise ValueError(f"dual_targets: channels must be names from {sorted(DUAL_CHANNELS)}, got {list(channels)}")
    labels, masks = [], []
    for channel in channels:
        label_name, window = DUAL_CHANNELS[channel]
        value = trials.labels[label_name].astype("float64")
        if label_name != "dpa":  # signs → 0/1, and a missing sample has no label
            value = np.where(value > 0, 1.0, 0.0) if label_name == "gng" else \
                np.where(value == 0, np.nan, (value > 0).astype("float64"))
        mask = trials.frame_mask(window, t_window)
        labels.append(np.broadcast_to(value[:, None], mask.shape))
        masks.append(mask)
    return np.stack(labels + masks, axis=-1).astype("float32")


# ------------------------------------------------------------------------------------------- serial bias

def serial_bias_trials(n_neurons, n_batch, seed, *, n_trials=10, run_duration=36.0, cue_strength=1.75, cue_sigma=1.0,
                       cue_onset=0.5, cue_duration=1.0, erase_strength=-5.0, erase_onset=2.5, erase_duration=0.5,
                       angles=None):
    """The serial-bias protocol (config_SB, spec §5): trials of a cue bump at a random phase, then an erase cue.

    `n_batch` runs (NeuroFlame: 512) of `n_trials` (10) trials in `run_duration` (36 s): trial j
    starts at j·T (T = run_duration/n_trials = 3.6 s); its cue I0·relu(1 + σ·cos(θ_i − φ_j))/(1 + σ)
    (I0 = 1.75, σ = 1) is on during cue_onset … + cue_duration (1 s) after the trial start, the
    uniform erase cue (I0 = −5, σ = 0) during erase_onset … + erase_duration. The spec fixes the
    strengths, σ, the 1 s cue and the 36 s run; the onsets 0.5 and 2.5 s and the 0.5 s erase cue are
    ndnx's choices. Schedule: 2·n_trials stimuli, cue j at 2j and erase j at 2j + 1.

    Labels: "phase" (B, n_trials) uniform in [0, 2π), "previous_phase" (NaN for the first trial).
    Windows: "delay" (B, n_trials, 2), cue offset → erase onset of every trial. Decode the phase at
    the last frame of each delay and pass (decoded, phase, previous_phase) to
    `ndnx.analysis.decoding.serial_bias`.

    Example:
        >>> from ndnx.data.tasks import serial_bias_trials
        >>> trials = serial_bias_trials(n_neurons=32, n_batch=4, seed=0)
        >>> trials.patterns.shape, trials.onsets[0, :4].astype(float).round(2).tolist(), trials.duration
        ((4, 20, 32), [0.5, 2.5, 4.1, 6.1], 36.0)
    """
    name = "serial_bias_trials"
    n_batch = _int(name, "n_batch", n_batch)
    n_trials = _int(name, "n_trials", n_trials)
    rng = _rng(name, seed)
    run_duration = _number(name, "run_duration", run_duration, minimum=0.0)
    period = run_duration / n_trials
    on, off = _layout(name, [cue_onset, erase_onset], [cue_onset + cue_duration, erase_onset + erase_duration], 2)
    if on[1] < off[0] or off[1] > period:
        raise ValueError(f"{name}: each trial needs cue, then erase cue, within its {period:g} s "
                         f"(run_duration/n_trials); got cue [{on[0]}, {off[0]}) and erase [{on[1]}, {off[1]}) s")
    phases = rng.uniform(0.0, TWO_PI, size=(n_batch, n_trials))
    starts = period * np.arange(n_trials)
    onsets = np.broadcast_to((starts[:, None] + on).ravel(), (n_batch, 2 * n_trials))
    offsets = np.broadcast_to((starts[:, None] + off).ravel(), (n_batch, 2 * n_trials))
    cues = cosine_bump(n_neurons, phases, _number(name, "cue_strength", cue_strength),
                       _number(name, "cue_sigma", cue_sigma), units="radians", angles=angles)
    erase = np.broadcast_to(_number(name, "erase_strength", erase_strength), cues.shape)
    patterns = np.stack([cues, erase], axis=2).reshape(n_batch, 2 * n_trials, cues.shape[-1])
    previous = np.concatenate([np.full((n_batch, 1), np.nan), phases[:, :-1]], axis=1)
    delay = np.broadcast_to(np.stack([starts + off[0], starts + on[1]], axis=1), (n_batch, n_trials, 2))
    names = tuple(f"{what}{j}" for j in range(n_trials) for what in ("cue", "erase"))
    return _trials("serial_bias", names, onsets, offsets, patterns, run_duration,
                   {"phase": phases, "previous_phase": previous}, {"delay": delay})
