"""Contract cases of the E/I rate network (see tests/test_contract.py).

The cell runs inside `keras.layers.RNN`; a step is one recorded window. Case 1: dense blocks,
structured STP on E→E, NMDA, rate dynamics, inputs held over each window (batch, windows, N_E).
Case 2: ELL blocks, NeuroFlame's dense trainable E→E plastic block with CLAMP and opto, threshold
adaptation, feedforward low-pass, rate and input noise, BUMP_SWITCH, inputs per sub-step
(batch, windows, n_window, N). EINetwork: a 0.12 s trial of case 1's cell after a 0.06 s steady
period, driven by a dense stimulus at window resolution. Case 3 and EITaskModel: the low-rank
trainable E→E block (lr_train, rank 2, LR_CLAMP), the model reading the overlaps plus a linear column;
EITaskModel case 2: two training seeds of it as one replicated model (shared connectivity; J_STP,
V, U, the readout, initial state and noise per replica), outputs (batch, frames, R, width).
"""

import keras
import numpy as np

import ndnx
from ndnx.connectivity import Synapses

RNG = np.random.default_rng(11)
SIZES = [8, 2]
MASKS = {(a, b): RNG.random((SIZES[a], SIZES[b])) < 0.5 for a in range(2) for b in range(2)}
WINDOWS = RNG.uniform(0, 1, size=(4, 5, 8)).astype("float32")
SUBSTEPS = RNG.uniform(0, 1, size=(4, 3, 2, 10)).astype("float32")
TRIAL = RNG.uniform(0, 1, size=(4, 4, 8)).astype("float32")  # 4 windows of a 0.12 s trial, E only


def _dense_cell():
    blocks = {key: Synapses.from_dense(mask) for key, mask in MASKS.items()}
    return ndnx.cells.EIRateCell(SIZES, blocks, in_degree=4, m0=1.0, gain=1.0, dt=0.01, t_window=0.03,
                                 rate_dynamics=True, tau=(0.02, 0.01), tau_syn=(0.01, 0.01),
                                 stp_blocks=[(0, 0)], j_stp=2.0, seed=3)


def _ell_cell():
    blocks = {key: Synapses.from_dense(mask).with_layout("ell") for key, mask in MASKS.items() if key != (0, 0)}
    return ndnx.cells.EIRateCell(SIZES, blocks, in_degree=4, m0=1.0, gain=1.0, dt=0.01, t_window=0.02,
                                 rate_dynamics=True, tau=(0.02, 0.01), tau_syn=(0.01, 0.01), nmda=False,
                                 stp_blocks=[(0, 0)], stp_mode="dense", j_stp=2.0, clamp=True, opto=2,
                                 adaptation=True, a_adapt=0.5, tau_adapt=0.1, ff_lowpass=True, tau_ff=0.05,
                                 rate_noise=True, var_rate=0.5, var_ff=(0.1, 0.1), bump_switch=(0, 1), seed=4)


def _low_rank_cell(**overrides):
    blocks = {key: Synapses.from_dense(mask) for key, mask in MASKS.items() if key != (0, 0)}
    kwargs = dict(in_degree=4, m0=1.0, gain=1.0, dt=0.01, t_window=0.03, rate_dynamics=True, tau=(0.02, 0.01),
                  tau_syn=(0.01, 0.01), stp_blocks=[(0, 0)], stp_mode="dense", j_stp=2.0, lr_train=True, rank=2,
                  lr_clamp=True, seed=5)
    kwargs.update(overrides)
    return ndnx.cells.EIRateCell(SIZES, blocks, **kwargs)


def _ell_count():
    return sum(Synapses.from_dense(m).with_layout("ell").indices.size for k, m in MASKS.items() if k != (0, 0))


LAYER_CASES = {
    "EIRateCell": [
        (lambda: keras.layers.RNN(_dense_cell(), return_sequences=True), WINDOWS, (4, 5, 10),
         1 + sum(m.size for m in MASKS.values())),
        (lambda: keras.layers.RNN(_ell_cell(), return_sequences=True), SUBSTEPS, (4, 3, 10),
         1 + 8 * 8 + _ell_count()),
        (lambda: keras.layers.RNN(_low_rank_cell(), return_sequences=True), WINDOWS, (4, 5, 10),
         1 + 2 * 8 * 2 + sum(m.size for k, m in MASKS.items() if k != (0, 0))),
    ],
    "EINetwork": [
        (lambda: ndnx.models.EINetwork(_dense_cell(), duration=0.12, t_steady=0.06), TRIAL, (4, 5, 10),
         1 + sum(m.size for m in MASKS.values())),
    ],
    "EITaskModel": [
        (lambda: ndnx.models.EITaskModel(ndnx.models.EINetwork(_low_rank_cell(), duration=0.12, t_steady=0.06),
                                         linear_readout=True, seed=2), TRIAL, (4, 5, 3),
         1 + 2 * 8 * 2 + sum(m.size for k, m in MASKS.items() if k != (0, 0)) + 8 + 1),
        (lambda: ndnx.models.EITaskModel(ndnx.models.EINetwork(_low_rank_cell(replicas=2, seed=[5, 6], rate_noise=True,
                                                                              var_rate=0.3),
                                                               duration=0.12, t_steady=0.06),
                                         linear_readout=True, seed=[2, 3]), TRIAL, (4, 5, 2, 3),
         2 * (1 + 2 * 8 * 2 + 8 + 1) + sum(m.size for k, m in MASKS.items() if k != (0, 0))),
    ],
}
