"""Contract cases of the conv layers, LinScale and the constraints (see tests/test_contract.py)."""

import numpy as np

import ndnx

RNG = np.random.default_rng(3)
IMAGES = RNG.normal(size=(4, 9, 9, 2)).astype("float32")
PER_REPLICA = RNG.normal(size=(4, 2, 9, 9, 2)).astype("float32")

LAYER_CASES = {
    "Conv2D": [
        (lambda: ndnx.layers.Conv2D(3, 3, strides=2, activation="softplus", seed=1,
                                    kernel_regularizer=ndnx.regularizers.D2X(0.1)),
         IMAGES, (4, 5, 5, 3), 3 * 3 * 2 * 3 + 3),
        (lambda: ndnx.layers.Conv2D(3, 3, replicas=2, seed=[1, 2], kernel_constraint=ndnx.constraints.SignMask(1)),
         PER_REPLICA, (4, 2, 9, 9, 3), 2 * (3 * 3 * 2 * 3 + 3), 1),
    ],
    "ConvDifferenceOfGaussians": [
        (lambda: ndnx.layers.ConvDifferenceOfGaussians(3, 5, seed=1), IMAGES, (4, 9, 9, 3), 6 * 3 + 3),
        (lambda: ndnx.layers.ConvDifferenceOfGaussians(3, 5, strides=2, replicas=2, seed=[1, 2],
                                                       activation="softplus"),
         IMAGES, (4, 2, 5, 5, 3), 2 * (6 * 3 + 3)),
    ],
    "LinScale": [
        (lambda: ndnx.layers.LinScale(activation="softplus"), IMAGES, (4, 9, 9, 2), 2),
        (lambda: ndnx.layers.LinScale(replicas=3, seed=0), IMAGES, (4, 3, 9, 9, 2), 6),
    ],
}

OTHER_CASES = {
    "NonNegative": lambda: ndnx.constraints.NonNegative(),
    "Box": lambda: ndnx.constraints.Box([0.0, None, -1.0], [1.0, 2.0, None]),
    "SignMask": lambda: ndnx.constraints.SignMask(1, channels=2),
}
