"""Contract cases of the LIF cell (see tests/test_contract.py): one window per step, inside keras.layers.RNN.

Case 0: dense blocks, synaptic dynamics, a current per window (batch, time, N). Case 1: ELL blocks
(binary and weighted), I_rec = W s, a current per sub-step (batch, time, n_window, N). Both draw noise
and their initial V from their seed; the cell has no trainable weights.
"""

import keras
import numpy as np

import ndnx
from ndnx.connectivity import Synapses

RNG = np.random.default_rng(11)
SIZES = [4, 2]
N, N_WINDOW = sum(SIZES), 5
SEQ = RNG.normal(size=(4, 6, N)).astype("float32")
SEQ_SUBSTEPS = RNG.normal(size=(4, 6, N_WINDOW, N)).astype("float32")
DENSE = [[Synapses.from_dense(RNG.uniform(size=(SIZES[a], SIZES[b])) * (1 if b == 0 else -1), scale=0.5)
          for b in range(2)] for a in range(2)]
ELL = [[Synapses.from_rows([[0, 2], [1, 3], [2], [0, 1, 3]], n_pre=4, scale=0.8), None],
       [Synapses.from_rows([[1, 3], [0]], n_pre=4, values=[[1.0, 0.5], [2.0]]),
        Synapses.from_rows([[1], [0]], n_pre=2, scale=-1.0)]]
COMMON = dict(dt=1e-3, n_window=N_WINDOW, v_thresh=1.0, v_rest=0.0, ff_mean=[1.5, 1.2], ff_std=[0.8, 0.5])

LAYER_CASES = {
    "LIFCell": [
        (lambda: keras.layers.RNN(ndnx.cells.LIFCell(SIZES, DENSE, tau=[0.01, 0.005], tau_syn=[0.004, 0.002],
                                                     seed=1, **COMMON), return_sequences=True),
         SEQ, (4, 6, N), 4 * 4 + 4 * 2 + 2 * 4 + 2 * 2),
        (lambda: keras.layers.RNN(ndnx.cells.LIFCell(SIZES, ELL, tau=0.008, synaptic_dynamics=False, seed=2,
                                                     **COMMON)),
         SEQ_SUBSTEPS, (4, N), 4 * 3 + 2 * 2 + 2 * 2 + 2 * 1),
    ],
}
