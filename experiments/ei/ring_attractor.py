"""Ring attractor search (search/ring_attractor.org, spec ei_networks_neuroflame.md §1.6 (e), §8, §10.3 item 5):
config_ringEI with STP on E→E, a J_STP × J_E0 grid run as ONE batch through the cell's (B, 1) parameters.

Every batch row is one grid point (`ndnx.models.ei_config.grid`, rows i·n2 + j for J_STP_i, J_E0_j,
`ndnx.models.ei_network_parameters` → (B, 1) j_stp and (B, P) ja0), all sharing one weight matrix.
A cosine cue I0·relu(1 + σ cos(θ − φ))/(1 + σ) at `cue_phase` is on during [cue_on, cue_off), then the
network is left alone until DURATION. The E rates of every frame are decoded by their first Fourier
moment (`ndnx.analysis.decoding.fourier_moments`: m0, m1, φ).

A grid point holds a bump when m1/m0 stays above 0.5 through the delay (§10.3 item 5); its phase
drift is the decoded phase at the end minus the phase at the cue offset (wrapped to [−180°, 180°)).

Records (per seed): "m0", "m1", "phase" (B, frames) of every grid point, "m1_over_m0_end" and
"drift_deg" as (n_j_stp, n_je0) maps, "j_stp", "je0" the axes, and "rates" (B, frames, N_E) when
`record_rates`. Scalars: bump_fraction (of grid points holding a bump), max_m1_over_m0,
mean_abs_drift_deg (over the points with a bump; NaN when none).

Defaults (N = 500, a 5 × 4 grid, 2.5 s) take about a minute on 2 CPU cores; the notebook's search is
`--set N_NEURON=1000 --set n_j_stp=20 --set n_je0=20 --set DURATION=5.0` (400 runs in one batch).

    ndnx run experiments/ei/ring_attractor.py
    ndnx summarize ei/ring_attractor
"""

import numpy as np

from ndnx.analysis.decoding import circular_error, fourier_moments
from ndnx.data.tasks import cosine_bump
from ndnx.experiment import Experiment, Simulation
from ndnx.models import build_ei_network, ei_network_parameters
from ndnx.models.ei_config import grid, load_config

NETWORK = dict(N_NEURON=500, IF_STP=1, RATE_NOISE=1, VAR_RATE=0.001, T_STEADY=0.5, DURATION=2.0)


def ei_config(config, seed):
    """config_ringEI with the experiment's keys, SEED = the repetition's seed."""
    return load_config("config_ringEI", **{k: config[k] for k in NETWORK}, SEED=int(seed))


def parameter_grid(config, seed=0):
    """The J_STP × J_E0 grid (`ndnx.models.ei_config.ParameterGrid`) of the run."""
    j_stp = np.linspace(config["j_stp_min"], config["j_stp_max"], config["n_j_stp"])
    je0 = np.linspace(config["je0_min"], config["je0_max"], config["n_je0"])
    return grid(ei_config(config, seed), {"J_STP": j_stp.tolist(), "Ja0[0]": je0.tolist()})


def cue(config, n_e, batch):
    """The schedule (onsets, offsets, patterns) of one cue on E, the same for every row."""
    pattern = cosine_bump(n_e, config["cue_phase"], config["cue_strength"], config["cue_sigma"])
    onsets = np.full((batch, 1), config["cue_on"], "float32")
    offsets = np.full((batch, 1), config["cue_off"], "float32")
    return onsets, offsets, np.broadcast_to(pattern, (batch, 1, n_e)).astype("float32")


def build(config, seed, replicas):
    return build_ei_network(ei_config(config, seed), cell_options={"init_std": config["init_std"]})


def run_grid(model, config, seed=0):
    """(ParameterGrid, E rates (B, frames, N_E)) of the whole grid simulated as one batch."""
    g = parameter_grid(config, seed)
    n_e = model.cell.sizes[0]
    onsets, offsets, patterns = cue(config, n_e, g.size)
    out = model.simulate(onsets=onsets, offsets=offsets, patterns=patterns, parameters=ei_network_parameters(g))
    return g, out["rates"][:, :, :n_e]


def bump_summary(model, rates, config):
    """m0, m1, φ (degrees) per frame, m1/m0 at the last frame and the drift since the cue offset (degrees)."""
    m0, m1, phase = fourier_moments(rates)
    phase = np.degrees(phase)
    offset_frame = int(round(config["cue_off"] / model.cell.t_window))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = m1[:, -1] / m0[:, -1]
    drift = circular_error(phase[:, -1], phase[:, offset_frame], units="degrees")
    return m0, m1, phase, ratio, drift


def simulate(model, data, config, records):
    g, rates = run_grid(model, config)
    m0, m1, phase, ratio, drift = bump_summary(model, rates, config)
    for name, value in (("m0", m0), ("m1", m1), ("phase", phase)):
        records.write(name, value)
    records.write("m1_over_m0_end", g.reshape(ratio))
    records.write("drift_deg", g.reshape(drift))
    records.write("j_stp", np.asarray(g.column("J_STP")))
    records.write("je0", np.asarray(g.column("Ja0[0]")))
    if config["record_rates"]:
        records.write("rates", rates)
    bump = np.nan_to_num(ratio) > 0.5
    return {"bump_fraction": bump.mean(), "max_m1_over_m0": np.nanmax(np.nan_to_num(ratio)),
            "mean_abs_drift_deg": np.abs(drift[bump]).mean() if bump.any() else np.nan}


experiment = Experiment(
    "ei/ring_attractor",
    defaults=dict(NETWORK, j_stp_min=5.0, j_stp_max=15.0, n_j_stp=5, je0_min=0.5, je0_max=2.0, n_je0=4,
                  cue_phase=180.0, cue_strength=2.0, cue_sigma=1.0, cue_on=0.0, cue_off=0.5, init_std=1.0,
                  record_rates=False, seeds=1, ensemble=False),
    build=build,
    fit=Simulation(simulate, objective=("simulation", "bump_fraction", "max")),
    seeds=1,
    description="ring attractor: J_STP × J_E0 grid of config_ringEI with STP as one batch (spec §1.6, §10.3 item 5)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
