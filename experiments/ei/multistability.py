"""STP-induced bistability (search/multi_stable.org, spec ei_networks_neuroflame.md §3.3, §10.3 item 4): the
homogeneous E/I network with STP on E→E, started low and started high, against the self-consistent states
of `ndnx.analysis.mean_field.stp_fixed_points`.

Setup of §10.3 item 4: every block all-to-all with C_AB = K/N_B (each neuron sees the mean of its
K inputs, no quenched variance), weights G·J_AB/√K_B, E→E replaced by J_STP·u·x (mid-2024
"structured" semantics; U = 0.03, τ_f = 1 s, τ_r = 0.2 s), Jab_EI = −1.5, J_IE = 1, J_II = −1,
G = M0 = 1, Ja0 = [2, 1], K = 400, threshold-linear Φ with θ = 1, RATE_DYN 1 (τ = [40, 20] ms),
instantaneous synapses, no NMDA, no noise. Spec: (r_E, r_I) = (0.585, 1.462) stable, (5.064, 5.728)
unstable, (22.569, 22.399) stable.

The network is built in its all-to-all form (CON_TYPE all2all, so K_B = 1 in the cell): blocks
√K/N_B and the drive scale M0·√K give every neuron exactly the input of K/N_B synapses of weight
G·J_AB/√K_B and the drive √K·M0·Ja0_A, for any N (a sparse configuration would need N_B ≥ K).

Two batch rows share the network: row 0 starts from the documented low start (r = Φ(drive), u = U,
x = 1), row 1 from `high_start` Hz in both populations with u, x at their steady state for that rate
(starting high with u = U falls back to the low state: facilitation needs τ_f to build up). The
final rates (mean over the last `average` seconds) are compared with the lowest and the highest
stable state.

Records (per seed): "rates" (2, frames, 2) population rates of both starts, "u", "x" (2, frames) of
the E→E synapses, "fixed_points" (states, 2) and "stable" (states,). Scalars: low_E, low_I,
high_E, high_I, theory_low_E, theory_high_E, error_low_E, error_high_E (relative).

Defaults (N = 500, 5 s at DT = 2 ms) take well under a minute on 2 CPU cores (the network being homogeneous, N
does not change the rates); `--set J_STP=...` moves along the bistable range.

    ndnx run experiments/ei/multistability.py
    ndnx summarize ei/multistability
"""

import numpy as np

from ndnx.analysis.mean_field import stp_fixed_points, stp_steady_state
from ndnx.experiment import Experiment, Simulation
from ndnx.models import build_ei_network
from ndnx.models.ei_config import derive_quantities, load_config

NETWORK = dict(N_NEURON=500, frac=[0.8, 0.2], Jab=[1.0, -1.5, 1.0, -1.0], Ja0=[2.0, 1.0], GAIN=1.0,
               M0=1.0, THRESH=[1.0, 1.0], RATE_DYN=1, TAU=[0.04, 0.02], SYN_DYN=0, IF_NMDA=0, IF_STP=1,
               IS_STP=[1, 0, 0, 0], USE=0.03, TAU_FAC=1.0, TAU_REC=0.2, J_STP=10.0, RATE_NOISE=0,
               DT=0.002, T_WINDOW=0.05, T_STEADY=0.0, DURATION=5.0)


def ei_config(config, seed):
    """The all-to-all form of the K network: K = 1 (CON_TYPE all2all), drive scale M0·√K."""
    keys = {k: config[k] for k in NETWORK}
    keys["M0"] = config["M0"] * np.sqrt(config["K"])
    return load_config(None, **keys, CON_TYPE="all2all", SEED=int(seed))


def mean_field_blocks(config):
    """Every block √K/N_B: weight G·J_AB·√K/N_B per synapse = K/N_B synapses of G·J_AB/√K (§10.3 item 4)."""
    sizes = derive_quantities(ei_config(config, 0)).N
    return {(a, b): np.full((sizes[a], sizes[b]), np.sqrt(config["K"]) / sizes[b], "float32")
            for a in range(2) for b in range(2)}


def build(config, seed, replicas):
    return build_ei_network(ei_config(config, seed), blocks=mean_field_blocks(config), cell_options={"init_std": 0.0},
                            network_options={"record_stp": True})


def theory(config):
    """The self-consistent states of the network (`stp_fixed_points`, with stability)."""
    return stp_fixed_points(config["Jab"], config["Ja0"], k=config["K"], j_stp=config["J_STP"], use=config["USE"],
                            tau_fac=config["TAU_FAC"], tau_rec=config["TAU_REC"], gain=config["GAIN"],
                            m0=config["M0"], thresh=config["THRESH"], tau=config["TAU"])


def starts(model, config):
    """The state of the two rows: the documented low start, and `high_start` Hz with u, x at steady state."""
    cell = model.cell
    state = {k: np.array(v) for k, v in cell.initial_state(2).items()}
    u, x = stp_steady_state(config["high_start"], config["USE"], config["TAU_FAC"], config["TAU_REC"])
    state["r"][1] = config["high_start"]
    state["u_0_0"][1], state["x_0_0"][1] = u, x
    return state


def simulate(model, data, config, records):
    cell = model.cell
    n_e = cell.sizes[0]
    out = model.simulate(initial_state=starts(model, config))
    rates = np.stack([out["rates"][:, :, :n_e].mean(-1), out["rates"][:, :, n_e:].mean(-1)], axis=-1)
    records.write("rates", rates)
    records.write("u", out["u_0_0"].mean(-1))
    records.write("x", out["x_0_0"].mean(-1))
    states = theory(config)
    records.write("fixed_points", np.array([s.rates for s in states]))
    records.write("stable", np.array([bool(s.stable) for s in states]))
    last = int(round(config["average"] / cell.t_window))
    final = rates[:, -last:].mean(axis=1)                      # (2 starts, 2 populations)
    stable = [s.rates for s in states if s.stable]
    low, high = stable[0], stable[-1]
    return {"low_E": final[0, 0], "low_I": final[0, 1], "high_E": final[1, 0], "high_I": final[1, 1],
            "theory_low_E": low[0], "theory_high_E": high[0], "error_low_E": final[0, 0] / low[0] - 1.0,
            "error_high_E": final[1, 0] / high[0] - 1.0}


experiment = Experiment(
    "ei/multistability",
    defaults=dict(NETWORK, K=400.0, high_start=22.0, average=1.0, seeds=1, ensemble=False),
    build=build,
    fit=Simulation(simulate, objective=("simulation", "error_high_E", "min")),
    seeds=1,
    description="STP bistability: low and high starts vs stp_fixed_points (spec §10.3 item 4)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
