"""Contract cases of the readout layers (see tests/test_contract.py)."""

import numpy as np

import ndnx

RNG = np.random.default_rng(0)
MAPS = RNG.normal(size=(4, 6, 6, 3)).astype("float32")
MAPS_R2 = RNG.normal(size=(4, 2, 6, 6, 3)).astype("float32")
POSITIONS = [[0, 0], [2, 3], [5, 5], [4, 1], [1, 5]]

EYES = RNG.normal(size=(4, 2)).astype("float32")
CORTEX = RNG.uniform(-1, 1, (5, 2)).round(3).tolist()

LAYER_CASES = {
    "MLPShifter": [
        (lambda: ndnx.layers.MLPShifter(hidden_units=4, num_layers=2, seed=1), EYES, (4, 2), 2 * 4 + 4 + 4 * 2 + 2),
        (lambda: ndnx.layers.MLPShifter(num_layers=1, replicas=2, seed=[1, 2]), EYES, (4, 2, 2), 2 * (2 * 2 + 2)),
    ],
    "SeparableReadout": [
        (lambda: ndnx.layers.SeparableReadout(
            5, activation="softplus", normalize_features=True, normalize_mask=True, mask_feature_l1=0.01,
            mask_regularizer=ndnx.regularizers.D2X(0.1), feature_regularizer=ndnx.regularizers.L2(0.1),
            seed=1), MAPS, (4, 5), 3 * 5 + 36 * 5 + 5),
        (lambda: ndnx.layers.SeparableReadout(5, positive=True, mask_feature_l1=0.01, replicas=2, seed=[1, 2]),
         MAPS_R2, (4, 2, 5), 2 * (3 * 5 + 36 * 5 + 5), 1),
        # NDN3's SepLayer as ffnetwork builds it: both factors l2_normalize'd, norm2 on the stacked factors
        (lambda: ndnx.layers.SeparableReadout(
            5, normalize_features=True, normalize_mask="ndn3", stacked_regularizer=ndnx.regularizers.Norm2(0.1),
            feature_regularizer=ndnx.regularizers.MaxFilt(0.1, filter_shape=(1, 1, 3)), replicas=2, seed=[1, 2]),
         MAPS, (4, 2, 5), 2 * (3 * 5 + 36 * 5 + 5)),
    ],
    "GaussianReadout": [
        (lambda: ndnx.layers.GaussianReadout(5, init_sigma=0.3, activation="softplus",
                                             feature_regularizer=ndnx.regularizers.L1(0.01), seed=1),
         MAPS, (4, 5), 5 * 2 + 5 * 4 + 3 * 5 + 5),
        (lambda: ndnx.layers.GaussianReadout(5, gauss_type="isotropic", init_sigma=0.3, align_corners=False,
                                             replicas=2, seed=[1, 2]),
         MAPS, (4, 2, 5), 2 * (5 * 2 + 5 + 3 * 5 + 5)),
        # positions from the cortical grid: 2→4 ELU→2 tanh replaces the 5×2 free positions
        (lambda: ndnx.layers.GaussianReadout(5, grid_mean_predictor={"hidden_features": 4},
                                             source_grid=CORTEX,
                                             replicas=2, seed=[1, 2]),
         MAPS, (4, 2, 5), 2 * ((2 * 4 + 4) + (4 * 2 + 2) + 5 * 4 + 3 * 5 + 5)),
    ],
    "PointReadout": [
        (lambda: ndnx.layers.PointReadout(5, POSITIONS, activation="softplus",
                                          feature_regularizer=ndnx.regularizers.L2(0.1), seed=1),
         MAPS, (4, 5), 3 * 5 + 5),
        (lambda: ndnx.layers.PointReadout(5, POSITIONS, replicas=2, seed=[1, 2]), MAPS_R2, (4, 2, 5),
         2 * (3 * 5 + 5), 1),
    ],
}
