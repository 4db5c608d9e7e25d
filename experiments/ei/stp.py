"""Short-term plasticity at a clamped presynaptic rate (tests/stp.org, spec ei_networks_neuroflame.md §3.1, §3.2,
§10.3 item 3): u, x and the efficacy u·x against the steady-state formula, with USE and TAU_FAC swept as
batched (B, 1) parameters of one network.

The E population is clamped at a rate r: no recurrent coupling (Jab = 0, J_STP = 0, so the plastic
E→E block carries no current), instantaneous rates (RATE_DYN 0), threshold-linear Φ with θ = 1 and
drive M0·Ja0_E (all-to-all, K = 1), so r = M0·Ja0_E − 1; row b of the batch sets Ja0_E = (r_b + 1)/M0
and its own U and τ_f ((B, P) `ja0`, (B, 1) `use` and `tau_fac`). The 'markram' rule runs its Euler
updates (x first with the old u, then u) for DURATION; the last frame's u and x are compared with

    u* = U(1 + τ_f r)/(1 + U τ_f r),   x* = 1/(1 + u* τ_r r),   A(r) = u*·x*   (§3.2).

Spec table (U = 0.03, τ_f = 1 s, τ_r = 0.2 s): r = 1, 5, 10, 20, 40 Hz → u*x* = 0.05758, 0.13534,
0.16837, 0.15291, 0.10216.

Records (per seed): "u", "x" (B, frames) of every row, "rate", "use", "tau_fac" (B,) its parameters,
"u_theory", "x_theory" (B,). Scalars: max_error_u, max_error_x, max_error_efficacy (over rows, at
the last frame), efficacy_peak_rate (Hz, the rate of the largest simulated u·x at U = 0.03,
τ_f = 1 among the rates swept; theory: the peak is at 11.7 Hz, 10 Hz among
the default rates).

Defaults (5 rates × 3 U × 4 τ_f = 60 rows, 10 s) take about half a minute on 2 CPU cores.

    ndnx run experiments/ei/stp.py
    ndnx summarize ei/stp
"""

import numpy as np

from ndnx.analysis.mean_field import stp_steady_state
from ndnx.experiment import Experiment, Simulation
from ndnx.models import build_ei_network
from ndnx.models.ei_config import load_config

NETWORK = dict(N_NEURON=8, frac=[0.5, 0.5], CON_TYPE="all2all", Jab=[0.0, 0.0, 0.0, 0.0], J_STP=0.0, Ja0=[2.0, 0.0],
               GAIN=1.0, M0=1.0, THRESH=[1.0, 1.0], RATE_DYN=0, SYN_DYN=0, IF_NMDA=0, IF_STP=1, IS_STP=[1, 0, 0, 0],
               TAU_REC=0.2, STP_TYPE="markram", RATE_NOISE=0, DT=0.001, T_WINDOW=0.1, T_STEADY=0.0, DURATION=10.0)


def ei_config(config, seed):
    return load_config(None, **{k: config[k] for k in NETWORK}, SEED=int(seed))


def build(config, seed, replicas):
    return build_ei_network(ei_config(config, seed), cell_options={"init_std": 0.0},
                            network_options={"record_stp": True})


def sweep(config):
    """(rate, use, tau_fac) per batch row: the Cartesian product, rates varying fastest."""
    tau_fac, use, rate = np.meshgrid(config["tau_facs"], config["uses"], config["rates"], indexing="ij")
    return rate.ravel(), use.ravel(), tau_fac.ravel()


def parameters(config):
    """The batched cell parameters clamping E at each row's rate, with its U and τ_f."""
    rate, use, tau_fac = sweep(config)
    ja0 = np.stack([(rate + config["THRESH"][0]) / config["M0"], np.zeros_like(rate)], axis=1)
    return {"ja0": ja0.astype("float32"), "use": use[:, None].astype("float32"),
            "tau_fac": tau_fac[:, None].astype("float32")}


def simulate(model, data, config, records):
    rate, use, tau_fac = sweep(config)
    out = model.simulate(parameters=parameters(config))
    u, x = out["u_0_0"].mean(-1), out["x_0_0"].mean(-1)       # (B, frames); every E neuron is the same
    u_theory, x_theory = np.array([stp_steady_state(r, U, f, config["TAU_REC"])
                                   for r, U, f in zip(rate, use, tau_fac)]).T
    for name, value in (("u", u), ("x", x), ("rate", rate), ("use", use), ("tau_fac", tau_fac),
                        ("u_theory", u_theory), ("x_theory", x_theory), ("rates", out["rates"][:, -1])):
        records.write(name, value)
    efficacy = u[:, -1] * x[:, -1]
    reference = (np.isclose(use, 0.03)) & (np.isclose(tau_fac, 1.0))
    peak = rate[reference][np.argmax(efficacy[reference])] if reference.any() else np.nan
    return {"max_error_u": np.abs(u[:, -1] - u_theory).max(), "max_error_x": np.abs(x[:, -1] - x_theory).max(),
            "max_error_efficacy": np.abs(efficacy - u_theory * x_theory).max(), "efficacy_peak_rate": peak}


experiment = Experiment(
    "ei/stp",
    defaults=dict(NETWORK, rates=[1.0, 5.0, 10.0, 20.0, 40.0], uses=[0.01, 0.03, 0.1],
                  tau_facs=[0.25, 0.5, 0.75, 1.0], seeds=1, ensemble=False),
    build=build,
    fit=Simulation(simulate, objective=("simulation", "max_error_efficacy", "min")),
    seeds=1,
    description="STP u, x and efficacy at clamped rates vs the steady state; batched U and τ_f (spec §3.2)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
