"""Quantities derived from an E/I configuration: population sizes, in-degrees, step counts, STP blocks, the seed.

Populations (spec ei_networks_neuroflame.md §1.1): N_a = int(N_NEURON·frac[a]), stored contiguously
with E (population 0) first; the in-degree from presynaptic population a is K_a = K, or K·frac[a]
with FRAC_K = 1, and K is forced to 1 when CON_TYPE contains 'all2all'. The external drive of every
population uses K_E = K_0.

Time grid (§1.5), with steps(t) the number of Euler steps in t seconds:

    N_STEADY = steps(T_STEADY),  N_WINDOW = steps(T_WINDOW),  N_HEBB = steps(T_HEBB),
    N_STEPS  = steps(DURATION) + N_DELAY + N_WINDOW + N_STEADY + N_HEBB,
    N_STIM_ON[k] = steps(T_STIM_ON[k]) + N_STEADY + N_HEBB     (stimulus times count from the end of T_STEADY)

where N_DELAY = steps(MAX_DELAY − MIN_DELAY) with RANDOM_DELAY (the growth §1.5 names), else 0; when
DELAY_LIST gives the delays, ndnx grows N_STEPS by their spread, steps(max − min of DELAY_LIST).
ndnx rounds, steps(t) = ⌊t/DT + ½⌋; ``truncate=True`` reproduces NeuroFlame's int(t/DT), which
loses a step whenever the division falls just below an integer: int(0.3/0.1) = 2, not 3.

Recording starts at step N_RECORD = N_STEADY + N_HEBB. ndnx records N_FRAMES =
(steps(DURATION) + N_DELAY) // N_WINDOW + 1 window means (2 s at T_WINDOW 0.1 s → 21 frames, §10.3
item 7). With ``truncate=True`` N_FRAMES counts NeuroFlame's recording steps instead: the steps s in
[N_RECORD, N_STEPS) with s % N_WINDOW == 0 (the same number when the grid is aligned).

Example:
    >>> from ndnx.models.ei_config import load_config, derive_quantities
    >>> d = derive_quantities(load_config("config_EI"))
    >>> d.N, d.K, d.N_STEADY, d.N_WINDOW, d.N_STEPS, d.N_FRAMES
    ((2000, 500), (250.0, 250.0), 1000, 20, 3020, 101)
"""

import dataclasses
import math

__all__ = ["DerivedQuantities", "STPBlock", "derive_quantities", "time_steps", "NO_SEED"]

#: The seed used when a configuration gives SEED: null ('None' in NeuroFlame's files, where it meant
#: a wall-clock seed). ndnx never seeds from the clock: a run without a seed is repeatable.
NO_SEED = 0


def time_steps(time, dt, truncate=False):
    """The number of Euler steps of size `dt` in `time` seconds: ⌊time/dt + ½⌋, or int(time/dt) with `truncate`.

    Example:
        >>> from ndnx.models.ei_config import time_steps
        >>> time_steps(0.3, 0.1), time_steps(0.3, 0.1, truncate=True)
        (3, 2)
    """
    ratio = time / dt
    return int(ratio) if truncate else math.floor(ratio + 0.5)


@dataclasses.dataclass(frozen=True)
class STPBlock:
    """One plastic block (post ← pre) and its parameters: the k-th 1 of IS_STP takes entry k of list values."""

    post: int
    pre: int
    USE: float
    TAU_FAC: float
    TAU_REC: float
    W_STP: float


@dataclasses.dataclass(frozen=True)
class DerivedQuantities:
    """What a configuration implies (see the module docstring for the formulas).

    Attributes:
        N: neurons per population (E first); N_NEURON: their sum (≤ the configured N_NEURON when
            int() drops a fraction); N_E: N[0]; slices: (start, stop) of each population.
        K: in-degree per presynaptic population; K_E: K[0], used for every external drive.
        N_STEADY, N_WINDOW, N_HEBB, N_DURATION (steps of DURATION), N_DELAY, N_STEPS: step counts.
        N_STIM_ON, N_STIM_OFF: stimulus on/off steps, counted from step 0 of the simulation.
        N_RECORD: first recorded step; N_FRAMES: number of recorded window means.
        stp_blocks: the plastic blocks (empty unless IF_STP), in IS_STP's order.
        seed: SEED, or `NO_SEED` when SEED is null.
        truncate: whether steps were counted with NeuroFlame's int() truncation.
    """

    N: tuple
    N_NEURON: int
    N_E: int
    slices: tuple
    K: tuple
    K_E: float
    N_STEADY: int
    N_WINDOW: int
    N_HEBB: int
    N_DURATION: int
    N_DELAY: int
    N_STEPS: int
    N_STIM_ON: tuple
    N_STIM_OFF: tuple
    N_RECORD: int
    N_FRAMES: int
    stp_blocks: tuple
    seed: int
    truncate: bool


def _population_sizes(config, truncate):
    # int() as NeuroFlame; without `truncate`, a product that float arithmetic puts a hair below an
    # integer (100·0.29 = 28.999999999999996) counts as that integer.
    return tuple(int(config["N_NEURON"] * f + (0.0 if truncate else 1e-9)) for f in config["frac"])


def _entry(value, k):
    return value[k] if isinstance(value, tuple) else value


def _stp_blocks(config):
    if not config["IF_STP"]:
        return ()
    n_pop = config["N_POP"]
    blocks = []
    for flat, plastic in enumerate(config["IS_STP"]):
        if plastic:
            k = len(blocks)
            weight = 1.0 if config["W_STP"] is None else config["W_STP"][flat]
            blocks.append(STPBlock(post=flat // n_pop, pre=flat % n_pop, USE=_entry(config["USE"], k),
                                   TAU_FAC=_entry(config["TAU_FAC"], k), TAU_REC=_entry(config["TAU_REC"], k),
                                   W_STP=weight))
    return tuple(blocks)


def derive_quantities(config, truncate=False):
    """The sizes, in-degrees, step counts, STP blocks and seed of a configuration (`DerivedQuantities`).

    Args:
        config: an `EIConfig` (or a mapping with the same keys and normal values).
        truncate: count steps with NeuroFlame's int(t/DT) (compatibility mode) instead of rounding.

    Example:
        >>> from ndnx.models.ei_config import load_config, derive_quantities
        >>> config = load_config(N_NEURON=1000, FRAC_K=1, K=100, DT=0.1, T_STEADY=0.3, DURATION=2.0)
        >>> d, compat = derive_quantities(config), derive_quantities(config, truncate=True)
        >>> d.N, d.K, d.N_STIM_ON, d.N_FRAMES
        ((800, 200), (80.0, 20.0), (13, 33, 53), 21)
        >>> (d.N_STEADY, d.N_STEPS), (compat.N_STEADY, compat.N_STEPS)   # int(0.3/0.1) = 2
        ((3, 24), (2, 23))
    """
    sizes = _population_sizes(config, truncate)
    starts = [sum(sizes[:a]) for a in range(len(sizes))]
    if "all2all" in config["CON_TYPE"]:
        in_degrees = tuple(1.0 for _ in sizes)
    elif config["FRAC_K"]:
        in_degrees = tuple(float(config["K"]) * f for f in config["frac"])
    else:
        in_degrees = tuple(float(config["K"]) for _ in sizes)

    dt = config["DT"]

    def steps(t):
        return time_steps(t, dt, truncate)

    n_steady, n_window, n_hebb, n_duration = (steps(config[k]) for k in ("T_STEADY", "T_WINDOW", "T_HEBB", "DURATION"))
    delays = config["DELAY_LIST"] or (config["MIN_DELAY"], config["MAX_DELAY"])
    n_delay = steps(max(delays) - min(delays)) if config["RANDOM_DELAY"] else 0
    n_record = n_steady + n_hebb
    n_steps = n_duration + n_delay + n_window + n_record
    if truncate:
        first = -(-n_record // n_window) * n_window
        n_frames = max(0, (n_steps - 1 - first) // n_window + 1)
    else:
        n_frames = (n_duration + n_delay) // n_window + 1
    seed = NO_SEED if config["SEED"] is None else config["SEED"]
    return DerivedQuantities(
        N=sizes, N_NEURON=sum(sizes), N_E=sizes[0], slices=tuple((s, s + n) for s, n in zip(starts, sizes)),
        K=in_degrees, K_E=in_degrees[0], N_STEADY=n_steady, N_WINDOW=n_window, N_HEBB=n_hebb, N_DURATION=n_duration,
        N_DELAY=n_delay, N_STEPS=n_steps, N_STIM_ON=tuple(steps(t) + n_record for t in config["T_STIM_ON"]),
        N_STIM_OFF=tuple(steps(t) + n_record for t in config["T_STIM_OFF"]), N_RECORD=n_record, N_FRAMES=n_frames,
        stp_blocks=_stp_blocks(config), seed=seed, truncate=bool(truncate))
