"""Contract cases of the foundation's V1 objects (see tests/test_contract.py)."""

import numpy as np

import ndnx

RNG = np.random.default_rng(0)
IMAGES = RNG.normal(size=(4, 15, 15, 1)).astype("float32")
FEATURES = RNG.normal(size=(4, 6)).astype("float32")

LAYER_CASES = {
    "DifferenceOfGaussians": [
        (lambda: ndnx.layers.DifferenceOfGaussians(3, seed=1), IMAGES, (4, 3), 6 * 3 + 3),
        (lambda: ndnx.layers.DifferenceOfGaussians(3, replicas=2, seed=[1, 2], activation="softplus"),
         IMAGES, (4, 2, 3), 2 * (6 * 3 + 3)),
    ],
    "Dense": [
        (lambda: ndnx.layers.Dense(5, activation="softplus", seed=3,
                                   kernel_regularizer=ndnx.regularizers.L2(0.1)), FEATURES, (4, 5), 6 * 5 + 5),
        (lambda: ndnx.layers.Dense(5, replicas=3, seed=3), FEATURES, (4, 3, 5), 3 * (6 * 5 + 5)),
        (lambda: ndnx.layers.Dense(5, normalize="l2", kernel_regularizer=ndnx.regularizers.L1(0.1), replicas=2,
                                   seed=[3, 4]), FEATURES, (4, 2, 5), 2 * (6 * 5 + 5)),
    ],
}

OTHER_CASES = {
    "L1": lambda: ndnx.regularizers.L1(0.3, convention="ndnt"),
    "L2": lambda: ndnx.regularizers.L2(0.2),
    "DoGInitializer": lambda: ndnx.layers.DoGInitializer(15, 15, (1.0, 12.0), seed=4),
    "PoissonLoss": lambda: ndnx.losses.PoissonLoss(unit_norm=[0.5, 1.0, 2.0]),
    "PearsonCorrelation": lambda: ndnx.metrics.PearsonCorrelation(units=3),
}
