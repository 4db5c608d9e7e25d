"""Contract cases of the CordsNet family (see tests/test_contract.py).

Weight-normed conv (stride 2, symmetric padding 1) and dense layers; the cell inside
`keras.layers.RNN` on 4 frames of 12×12×1 images (areas 0, 1 at 3×3); CordsNet-R2 on
12×12×1 images with 2 blank + 3 stimulus steps, final and all-step readouts (the latter
with PReLU; Winograd convolutions are checked against the NumPy reference in
tests/cells/test_cordsnet_cell.py, not here, where they only slowed tracing).
"""

import keras
import numpy as np

import ndnx
from ndnx.cells.cordsnet import cordsnet_parameter_count

RNG = np.random.default_rng(21)
IMAGES = RNG.normal(size=(3, 9, 9, 2)).astype("float32")
FEATURES = RNG.normal(size=(3, 5)).astype("float32")
MOVIE = RNG.normal(size=(2, 4, 12, 12, 1)).astype("float32")
SMALL = RNG.normal(size=(2, 12, 12, 1)).astype("float32")
R2_COUNT = cordsnet_parameter_count(2, num_classes=3, image_size=12, channels=1) + 1  # + the PReLU slope


def _net(**kwargs):
    return ndnx.models.cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=2, stimulus_steps=3,
                                   seed=4, **kwargs)


LAYER_CASES = {
    "WeightNormConv2D": [
        (lambda: ndnx.layers.WeightNormConv2D(4, 3, strides=2, padding=1, seed=1), IMAGES, (3, 5, 5, 4),
         3 * 3 * 2 * 4 + 4),
        (lambda: ndnx.layers.WeightNormConv2D(4, 3, padding="same", weight_norm=False, seed=1), IMAGES,
         (3, 9, 9, 4), 3 * 3 * 2 * 4),
    ],
    "WeightNormDense": [
        (lambda: ndnx.layers.WeightNormDense(3, seed=2), FEATURES, (3, 3), 5 * 3 + 3 + 3),
    ],
    "CordsNetCell": [
        (lambda: keras.layers.RNN(ndnx.cells.CordsNetCell(2, 12, 1, 3, seed=3), return_sequences=True), MOVIE,
         (2, 4, 3), R2_COUNT),
    ],
    "CordsNet": [
        (lambda: _net(), SMALL, (2, 3), R2_COUNT),
        (lambda: _net(readout="all", nonlinearity="prelu", prelu_slope=0.5), SMALL, (2, 3, 3),
         R2_COUNT),
    ],
}
