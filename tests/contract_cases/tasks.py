"""Contract cases of the E/I task losses, on whole trials: (batch, frames, ...) predictions and targets."""

import numpy as np

import ndnx

_RNG = np.random.default_rng(3)
_FRAMES = 5
_WINDOW = np.array([0, 1, 1, 0, 1], "float32")


def _dual_case():
    readout = _RNG.normal(0, 2, size=(4, _FRAMES, 3)).astype("float32")
    labels = np.broadcast_to(np.array([1, 0, 1, 0], "float32")[:, None, None], (4, _FRAMES, 2))
    masks = np.broadcast_to(_WINDOW[None, :, None], (4, _FRAMES, 2))
    return np.concatenate([labels, masks], axis=-1), readout


def _angular_case():
    theta = 2 * np.pi * np.arange(12) / 12
    target = _RNG.uniform(0, 2 * np.pi, size=(4, 1))
    rates = 1.0 + _RNG.uniform(0.2, 1.0, size=(4, _FRAMES, 1)) * np.cos(theta - _RNG.uniform(0, 6.3, (4, _FRAMES, 1)))
    y_true = np.stack(np.broadcast_arrays(target, _WINDOW[None, :]), axis=-1)
    return y_true.astype("float32"), rates.astype("float32")


OTHER_CASES = {
    "DualLoss": (lambda: ndnx.losses.DualLoss(read_idx=[2, 0], negative="neutral"), *_dual_case()),
    "AngularErrorLoss": (lambda: ndnx.losses.AngularErrorLoss(), *_angular_case()),
}
