"""Contract cases of the feedback-modulation family (Naumann et al. 2022; see tests/test_contract.py).

Cells inside `keras.layers.RNN` on 3 mixtures of 6 steps (2 sensors, or 3 for the non-square
ModulationNet case); small modulators (H = 6). SpatialNetCell case 2 and DaleRateNetCell case 2 learn
their fixed matrices; ModulationNetCell case 3 and SpatialNetCell case 3 are two seeds as one
replicated cell. FeedbackNetwork runs a cell over the whole window (its own loop).
"""

import keras
import numpy as np

import ndnx

RNG = np.random.default_rng(31)
MIX = RNG.normal(size=(3, 6, 2)).astype("float32")
MIX3 = RNG.normal(size=(3, 6, 3)).astype("float32")
H = 6


def _lstm(inputs, outputs, hidden=H):
    return 4 * hidden * (inputs + hidden + 2) + hidden * outputs + outputs


def _rnn(cell):
    return lambda: ndnx.cells.RNN(cell(), return_sequences=True)


LAYER_CASES = {
    "FeedbackModulator": [
        (_rnn(lambda: ndnx.cells.FeedbackModulator(3, hidden_units=H, seed=1)), MIX, (3, 6, 3), _lstm(2, 3)),
        (_rnn(lambda: ndnx.cells.FeedbackModulator(3, hidden_units=H, torch_init=False, seed=1)), MIX, (3, 6, 3),
         _lstm(2, 3)),
    ],
    "ModulationNetCell": [
        (_rnn(lambda: ndnx.cells.ModulationNetCell(hidden_units=H, tau=2.0, seed=2)), MIX, (3, 6, 2),
         _lstm(4, 4) + 4),
        (_rnn(lambda: ndnx.cells.ModulationNetCell(sensors=3, hidden_units=H, mode="additive", input_to_net="x",
                                                   learn_baseline=True, seed=2)), MIX3, (3, 6, 2), _lstm(3, 6) + 6),
        (_rnn(lambda: ndnx.cells.ModulationNetCell(hidden_units=H, tau=3.0, replicas=2, seed=[2, 3])), MIX,
         (3, 6, 2, 2), 2 * (_lstm(4, 4) + 4)),
    ],
    "SpatialNetCell": [
        (_rnn(lambda: ndnx.cells.SpatialNetCell(hidden_units=H, units=8, signals=2, tau=2.0, seed=4)), MIX,
         (3, 6, 2), _lstm(4, 2) + 16 + 16 + 16),
        (_rnn(lambda: ndnx.cells.SpatialNetCell(hidden_units=H, units=8, signals=2, kernel_width=0.0, tau=1.0,
                                                learn_baseline=True, learn_readout=True, input_to_net="y", seed=4)),
         MIX, (3, 6, 2), _lstm(2, 2) + 16 + 16 + 16),
        (_rnn(lambda: ndnx.cells.SpatialNetCell(hidden_units=H, units=8, signals=2, tau=1.0, replicas=2,
                                                seed=[4, 5])), MIX, (3, 6, 2, 2), 2 * (_lstm(4, 2) + 48)),
    ],
    "DaleRateNetCell": [
        (_rnn(lambda: ndnx.cells.DaleRateNetCell(hidden_units=H, units=8, lower_units=6, signals=2, inh_frac=0.5,
                                                 tau=2.0, seed=6)), MIX, (3, 6, 2),
         _lstm(4, 2) + 12 + 48 + 18 + 24 + 16 + 16),
        (_rnn(lambda: ndnx.cells.DaleRateNetCell(hidden_units=H, units=8, lower_units=6, signals=2,
                                                 mod_target="inhibition", learn_baseline=True, learn_wx=True,
                                                 learn_readout=True, seed=6)), MIX, (3, 6, 2),
         _lstm(4, 2) + 12 + 48 + 36 + 48 + 16 + 16),
        (_rnn(lambda: ndnx.cells.DaleRateNetCell(hidden_units=H, units=8, lower_units=6, signals=2,
                                                 mod_target="excitation", p_init_std=0.1, replicas=2, seed=[6, 7])),
         MIX, (3, 6, 2, 2), 2 * (_lstm(4, 2) + 12 + 48 + 36 + 48 + 16 + 16)),
    ],
    "DirectDemixCell": [
        (_rnn(lambda: ndnx.cells.DirectDemixCell(hidden_units=H, seed=8)), MIX, (3, 6, 2), _lstm(2, 2)),
    ],
    "FeedbackNetwork": [
        (lambda: ndnx.models.FeedbackNetwork(ndnx.cells.SpatialNetCell(hidden_units=H, units=8, signals=2, tau=2.0,
                                                                       seed=9), activity_penalty=1e-3),
         MIX, (3, 6, 2), _lstm(4, 2) + 48),
        (lambda: ndnx.models.FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=H, replicas=2, seed=[9, 10])),
         MIX, (3, 6, 2, 2), 2 * (_lstm(4, 4) + 4)),
    ],
}
