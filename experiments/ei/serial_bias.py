"""Serial bias (notebooks/serial_bias/seq_serial_bias.ipynb, spec ei_networks_neuroflame.md §5): config_SB runs
of 10 trials, each a cue bump at a random phase and then an erase cue; the decoded error of every trial,
binned by the previous − current target location.

`ndnx.data.tasks.serial_bias_trials` lays out the protocol: trial j of a 36 s run starts at 3.6·j s,
its cue I0·relu(1 + σ cos(θ − φ_j))/(1 + σ) (I0 = 1.75, σ = 1) is on for 1 s, then a uniform erase
cue (I0 = −5). Every batch row is one run with its own random phases; the network (all-to-all
cosine E/I ring with STP on E→E, J_STP = 7.5, τ_f = 1, rate noise) is shared. Two departures from
config_SB, both `--set` keys: the rate noise is VAR_RATE = 0.001 (config_SB's VAR_RATE = 1 is a
per-step std of 1 Hz in an all-to-all net, K = 1, which buries the ~1 Hz bump), and the threshold
adaptation is off (IF_ADAPT = 0; with A_ADAPT = 5, τ = 0.1 s no bump survived a 1 s delay at N = 400:
mean decoded error 89°, chance level). The E rates of the last frame of each delay (cue offset → erase onset) are decoded by their
first Fourier moment (`fourier_moments`); `ndnx.analysis.decoding.serial_bias` bins the errors
decoded − current by previous − current (the first trial of a run has no previous one).

Records (per seed): "decoded", "phase", "previous_phase" (B, trials, radians), "m0", "m1" (B,
trials) at the delay ends, "bins", "bias", "counts" (n_bins,) the serial-bias curve (degrees), and
"population_rate" (B, frames) the mean E rate. Scalars: mean_abs_error_deg, attraction_deg (mean
of error·sign(previous − current) over trials with 0 < |previous − current| < 90°: > 0 when the
memory is pulled towards the previous target), bump_fraction (trials whose m1/m0 > 0.5 at the end
of the delay), trials (decoded trials with a previous one).

Defaults (N = 200, 16 runs of 10 trials, 36 s) take one to two minutes on 2 CPU cores; NeuroFlame's
size is `--set N_NEURON=1000 --set n_batch=512`.

    ndnx run experiments/ei/serial_bias.py
    ndnx summarize ei/serial_bias
"""

import numpy as np

from ndnx.analysis.decoding import circular_error, fourier_moments, serial_bias
from ndnx.data.tasks import serial_bias_trials
from ndnx.experiment import Experiment, Simulation
from ndnx.models import build_ei_network
from ndnx.models.ei_config import load_config

NETWORK = dict(N_NEURON=200, RATE_NOISE=1, VAR_RATE=0.001, IF_ADAPT=0, T_STEADY=0.5)


def ei_config(config, seed, duration):
    return load_config("config_SB", **{k: config[k] for k in NETWORK}, DURATION=duration, SEED=int(seed))


def trials(config, n_e, seed=0):
    """The batch's `TaskTrials` (seeded by `task_seed` + the repetition's seed)."""
    return serial_bias_trials(n_e, config["n_batch"], config["task_seed"] + seed, n_trials=config["n_trials"],
                              run_duration=config["run_duration"])


def build(config, seed, replicas):
    return build_ei_network(ei_config(config, seed, config["run_duration"]),
                            cell_options={"init_std": config["init_std"]})


def decode_delays(model, rates, task):
    """(decoded φ, m0, m1) of E at the last frame of every delay: (B, trials) each (φ in radians)."""
    n_e = model.cell.sizes[0]
    frames = np.rint(task.windows["delay"][..., 1] / model.cell.t_window).astype(int)   # (B, trials)
    profiles = np.take_along_axis(rates[:, :, :n_e], frames[..., None], axis=1)          # (B, trials, N_E)
    m0, m1, phase = fourier_moments(profiles)
    return phase, m0, m1


def simulate(model, data, config, records):
    task = trials(config, model.cell.sizes[0])
    rates = model.simulate(**task.inputs())["rates"]
    decoded, m0, m1 = decode_delays(model, rates, task)
    current, previous = task.labels["phase"], task.labels["previous_phase"]
    bins, bias, counts = serial_bias(np.degrees(decoded), np.degrees(current), np.degrees(previous),
                                     n_bins=config["n_bins"], units="degrees")
    for name, value in (("decoded", decoded), ("phase", current), ("previous_phase", previous), ("m0", m0),
                        ("m1", m1), ("bins", bins), ("bias", bias), ("counts", counts),
                        ("population_rate", rates[:, :, :model.cell.sizes[0]].mean(-1))):
        records.write(name, value)
    error = circular_error(decoded, current)
    relative = circular_error(previous, current)
    near = np.isfinite(relative) & (np.abs(relative) > 0) & (np.abs(relative) < np.pi / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        bump = np.nan_to_num(m1 / m0) > 0.5
    return {"mean_abs_error_deg": np.degrees(np.abs(error)).mean(),
            "attraction_deg": np.degrees(error[near] * np.sign(relative[near])).mean() if near.any() else np.nan,
            "bump_fraction": bump.mean(), "trials": float(counts.sum())}


experiment = Experiment(
    "ei/serial_bias",
    defaults=dict(NETWORK, n_batch=16, n_trials=10, run_duration=36.0, n_bins=8, task_seed=0, init_std=1.0,
                  seeds=1, ensemble=False),
    build=build,
    fit=Simulation(simulate, objective=("simulation", "attraction_deg", "max")),
    seeds=1,
    description="serial bias: 10 cue/erase trials per run, errors binned by previous − current (spec §5)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
