"""A minimal configuration → `EINetwork` builder used by the E/I experiments and playground.

`network(config, **overrides)` reads the NeuroFlame keys the experiments need (sizes, in-degree,
connectivity, couplings, drive, time constants, NMDA, STP, rate noise, time grid) from an
`ndnx.models.ei_config.EIConfig` (or a reference name, path or mapping), builds the blocks with
`ndnx.connectivity.build_network` and returns `EINetwork(EIRateCell(...))`. It is a stand-in for
the full builder of the model family and reads only the keys listed in `_READ`.

Reference: spec ei_networks_neuroflame.md §1.1 (sizes and scaling), §3.3 (plastic blocks), §7 (keys).
"""

from ndnx.cells.ei_rate import EIRateCell
from ndnx.connectivity import build_network
from ndnx.models.ei_config import EIConfig, derive_quantities, load_config
from ndnx.models.ei_network import EINetwork

__all__ = ["network"]


def network(config=None, *, layout="auto", jit_loop=True, init_std=None, **overrides):
    """An `EINetwork` of `config` (EIConfig, reference name, YAML path or dict) with key `overrides`.

    Example:
        >>> from ndnx.models.ei_quick import network
        >>> net = network("config_ringEI", N_NEURON=40, RATE_NOISE=0, DURATION=0.2, T_STEADY=0.1)
        >>> net.cell.sizes, net.frames
        ([20, 20], 3)
    """
    if not isinstance(config, EIConfig) or overrides:
        config = load_config(config, **overrides) if not isinstance(config, EIConfig) else config.replace(**overrides)
    c, d = config, derive_quantities(config)
    n_pop = len(d.N)
    blocks = build_network(list(d.N), list(d.K), con_type=c.CON_TYPE, profiles=list(c.PROBA_TYPE),
                           kappa=list(c.KAPPA), phase=c.PHASE, seed=0 if d.seed is None or d.seed < 0 else d.seed,
                           layout=layout, strict=False)
    stp = d.stp_blocks
    cell = EIRateCell(
        list(d.N), blocks, jab=list(c.Jab), gain=c.GAIN, in_degree=list(d.K), m0=c.M0, ja0=list(c.Ja0),
        bump_switch=list(c.BUMP_SWITCH), dt=c.DT, t_window=c.T_WINDOW, thresh=list(c.THRESH),
        rate_dynamics=bool(c.RATE_DYN), tau=list(c.TAU), synaptic_dynamics=bool(c.SYN_DYN),
        tau_syn=list(c.TAU_SYN), nmda=bool(c.IF_NMDA), r_nmda=c.R_NMDA, tau_nmda=list(c.TAU_NMDA),
        stp_blocks=[(b.post, b.pre) for b in stp], use=[b.USE for b in stp] or 0.03,
        tau_fac=[b.TAU_FAC for b in stp] or 1.0, tau_rec=[b.TAU_REC for b in stp] or 0.2,
        j_stp=c.J_STP, rate_noise=bool(c.RATE_NOISE), var_rate=c.VAR_RATE, var_ff=list(c.VAR_FF)[:n_pop],
        init_std=1.0 if init_std is None else init_std, seed=0 if d.seed is None or d.seed < 0 else d.seed)
    return EINetwork(cell, duration=c.DURATION, t_steady=c.T_STEADY, jit_loop=jit_loop)
