"""Contract cases of the recurrent cells and of Dropout (see tests/test_contract.py).

A cell's case is the cell inside `keras.layers.RNN` (one seed) or `ndnx.cells.RNN` (replicas:
Keras' RNN takes its symbolic output shape from the cell's integer output_size, without the
replica axis, which the shape check would refuse; test_contract.py saves and reloads a replicated
cell inside `keras.layers.RNN` itself, stateful with return_state, in the fresh process).
Sequences are (batch, time, features), per replica (batch, time, R, features).
"""

import keras
import numpy as np

import ndnx

RNG = np.random.default_rng(5)
SEQ = RNG.normal(size=(4, 6, 3)).astype("float32")
SEQ_R2 = RNG.normal(size=(4, 6, 2, 3)).astype("float32")
FEATURES = RNG.normal(size=(4, 6)).astype("float32")
FEATURES_R2 = RNG.normal(size=(4, 2, 6)).astype("float32")

LAYER_CASES = {
    "LeakyRateCell": [
        (lambda: keras.layers.RNN(ndnx.cells.LeakyRateCell(5, tau=30.0, dt=10.0, seed=1), return_sequences=True),
         SEQ, (4, 6, 5), 3 * 5 + 5 * 5 + 5),
        (lambda: ndnx.cells.RNN(ndnx.cells.LeakyRateCell(5, activation="tanh", replicas=2, seed=[1, 2],
                                                         kernel_regularizer=ndnx.regularizers.L2(0.1))),
         SEQ, (4, 2, 5), 2 * (3 * 5 + 5 * 5 + 5)),
    ],
    "RNN": [
        (lambda: ndnx.cells.RNN(ndnx.cells.LeakyRateCell(4, dt=50.0, seed=3)), SEQ, (4, 4), 3 * 4 + 4 * 4 + 4),
        (lambda: ndnx.cells.RNN(ndnx.cells.LeakyRateCell(4, dt=50.0, activation="softplus", replicas=2, seed=3),
                                return_sequences=True),
         SEQ_R2, (4, 6, 2, 4), 2 * (3 * 4 + 4 * 4 + 4), 2),
    ],
    "Dropout": [
        (lambda: ndnx.layers.Dropout(0.3, seed=4), FEATURES, (4, 6), 0),
        (lambda: ndnx.layers.Dropout(0.5, replicas=2, seed=[1, 2]), FEATURES_R2, (4, 2, 6), 0, 1),
        (lambda: ndnx.layers.Dropout(0.5, noise_shape=(None, 1), replicas=3, seed=7, per_replica_input=False),
         FEATURES, (4, 3, 6), 0),
    ],
}
