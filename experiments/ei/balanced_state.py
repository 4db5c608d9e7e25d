"""Balanced state of a sparse E/I network: mean E and I rates over a K sweep at fixed N, against the
finite-K Gaussian mean-field and the large-K balance limit (spec ei_networks_neuroflame.md §10.3 item 2).

Setup of §10.3: threshold-linear Φ, θ = 1, frac 0.8/0.2, Jab = [1, −1.5, 1, −1], G = M0 = 1,
Ja0 = [2, 1], RATE_DYN 1 with τ = [40, 20] ms, DT = 1 ms, sparse Bernoulli connectivity, no NMDA,
no STP, no noise. Large-K limit (r_E, r_I) = (1, 2); finite-K mean-field r_E = 1.79 / 1.370 / 1.226
against NeuroFlame's 1.92 / 1.376 / 1.258 Hz at (N, K) = (2500, 100) / (5000, 400) / (10000, 1000).

Each K is its own run (its own network), so every K's rate is its own mean over neurons and time
after T_STEADY. The scaling test of tests/balance.org multiplied one global mean by √K; here each
run logs √K·r_A and √K·(r_A − r_A^∞): the balance theory says r_A − r_A^∞ = O(1/√K), so the latter
settles to a constant as K grows while r_A itself tends to r_A^∞.

Records (per seed): "rates" (frames, N) the window means of every neuron, "population_rates"
(frames, 2) and "neuron_rates" (N,) the time-averaged rate of each neuron. Scalars: rate_E,
rate_I, mean_field_E, mean_field_I, error_E (relative to the mean field), sqrt_k_rate_E/I,
sqrt_k_deviation_E/I.

Defaults (N = 5000, K = 100 … 1000, 0.9 s per run) take 1–2 minutes on 2 CPU cores; the spec's
sizes are `--set N_NEURON=10000 --set DURATION=2.0`.

    ndnx run experiments/ei/balanced_state.py
    ndnx summarize ei/balanced_state
"""

import numpy as np

from ndnx.analysis.mean_field import balanced_mean_field, balanced_rates
from ndnx.experiment import Experiment, Simulation
from ndnx.models.ei_config import load_config
from ndnx.models import build_ei_network

#: NeuroFlame keys of the network (spec §10.3 item 2); the grid varies K.
NETWORK = dict(N_NEURON=5000, K=100.0, frac=[0.8, 0.2], Jab=[1.0, -1.5, 1.0, -1.0], Ja0=[2.0, 1.0], GAIN=1.0,
               M0=1.0, THRESH=[1.0, 1.0], RATE_DYN=1, TAU=[0.04, 0.02], SYN_DYN=0, IF_NMDA=0, IF_STP=0,
               RATE_NOISE=0, CON_TYPE="sparse", DT=0.001, T_WINDOW=0.05, T_STEADY=0.3, DURATION=0.6)


def ei_config(config, seed):
    """The network's EIConfig: the experiment's NeuroFlame keys, SEED = the repetition's seed."""
    return load_config(None, **{k: config[k] for k in NETWORK}, SEED=int(seed))


def build(config, seed, replicas):
    return build_ei_network(ei_config(config, seed), cell_options={"init_std": config["init_std"]})


def simulate(model, data, config, records):
    out = model.simulate(batch_size=1)
    rates = out["rates"][0]                                   # (frames, N)
    n_e = model.cell.sizes[0]
    settled = rates[1 + config["skip_frames"]:]               # frame 0 is the end of T_STEADY
    neuron_rates = settled.mean(axis=0)
    rate = np.array([neuron_rates[:n_e].mean(), neuron_rates[n_e:].mean()])
    records.write("rates", rates)
    records.write("population_rates", np.stack([rates[:, :n_e].mean(1), rates[:, n_e:].mean(1)], axis=1))
    records.write("neuron_rates", neuron_rates)
    mf = mean_field(config, model.cell.sizes)
    limit = balanced_rates(config["Jab"], config["Ja0"], gain=config["GAIN"], m0=config["M0"])
    sqrt_k = np.sqrt(config["K"])
    return {"rate_E": rate[0], "rate_I": rate[1], "mean_field_E": mf[0], "mean_field_I": mf[1],
            "error_E": rate[0] / mf[0] - 1.0, "sqrt_k_rate_E": sqrt_k * rate[0], "sqrt_k_rate_I": sqrt_k * rate[1],
            "sqrt_k_deviation_E": sqrt_k * (rate[0] - limit[0]), "sqrt_k_deviation_I": sqrt_k * (rate[1] - limit[1])}


def mean_field(config, sizes):
    """The finite-K Gaussian mean-field rates (r_E, r_I) of the run's network (spec §10.3 item 2)."""
    state = balanced_mean_field(config["Jab"], config["Ja0"], k=config["K"], sizes=sizes, gain=config["GAIN"],
                                m0=config["M0"], thresh=config["THRESH"])
    return state.rates


experiment = Experiment(
    "ei/balanced_state",
    defaults=dict(NETWORK, skip_frames=2, init_std=1.0, seeds=1, ensemble=False),
    build=build,
    fit=Simulation(simulate, objective=("simulation", "error_E", "min")),
    grid={"K": [100.0, 250.0, 500.0, 1000.0]},
    seeds=1,
    description="balanced state: mean E/I rates over K vs the finite-K mean-field (spec §10.3 item 2)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
