"""Contract cases of CordsNet's pipeline models: the compatibility CNN (step 1) and the inverse fit (step 2),
and the identity-start initializer of the CNN's recurrent convolutions."""

import keras
import numpy as np

import ndnx

from ndnx.models.cordsnet_cnn import CordsNetCNN
from ndnx.models.cordsnet_inverse import CordsNetInverse

IMAGES = np.random.default_rng(5).normal(size=(2, 12, 12, 1)).astype("float32")
# 12 px: stem 6×6, pooled areas 3×3 with 64 channels; 3 classes
CONV64 = 3 * 3 * 64 * 64 + 64              # a 3×3 64→64 weight-normed conv (v and g)
STEM = 7 * 7 * 1 * 64 + 64
READOUT = 64 * 3 + 3 + 3                   # v, g, bias
BN = 4 * 64                                 # gamma, beta, moving mean and variance
MAP = 3 * 3 * 64                            # one (H, W, C) bias map

LAYER_CASES = {
    # stem + BN, inp_skip, 2 areas × (ff + BN1 + rec + BN2), readout
    "CordsNetCNN": [(lambda: CordsNetCNN(depth=2, num_classes=3, image_size=12, channels=1, seed=0), IMAGES, (2, 3),
                     STEM + BN + CONV64 + 2 * (2 * CONV64 + 2 * BN) + READOUT)],
    # frozen: stem, inp_skip, 2 × (ff, rec, ff_bias, bias), readout; trained: 2 × (rec, bias)
    "CordsNetInverse": [(lambda: CordsNetInverse(depth=2, num_classes=3, image_size=12, channels=1, seed=0), IMAGES,
                         (2, 3), STEM + CONV64 + 2 * (2 * CONV64 + 2 * MAP) + READOUT + 2 * (CONV64 + MAP))],
}

OTHER_CASES = {
    "DiracInitializer": lambda: ndnx.layers.DiracInitializer(
        gain=0.5, noise=keras.initializers.RandomNormal(0.0, 0.1), seed=3),
}
