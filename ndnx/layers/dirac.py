"""The identity convolution as an initializer, optionally plus a random part."""

import keras
import numpy as np
from keras import ops

from ndnx.layers.replicas import seeded_initializer
from ndnx.registry import register

__all__ = ["DiracInitializer"]


@register("initializer")
class DiracInitializer(keras.initializers.Initializer):
    """K = gain · δ + N: the identity kernel (PyTorch's `nn.init.dirac_`) plus optional noise N.

        K[u, v, c, f] = gain · [u = ⌊kh/2⌋] [v = ⌊kw/2⌋] [c = f] + N[u, v, c, f],   N ~ `noise`

    for a conv kernel (kh, kw, C, F) — a "same" convolution with it passes channel c to output c
    unchanged (the first min(C, F) channels) — and K = gain · I + N for a dense kernel (in, out).
    A block whose second convolution starts here starts as its first one and stays invertible,
    which CordsNet's inverse initialisation needs (Soo et al., NeurIPS 2024; spec cordsnet.md §3
    step 2: W_rec ≈ I − W⁻¹).

    Args:
        gain: the value of the identity taps.
        noise: None or any Keras initializer (name, config dict or object) added to the identity.
        seed: int or None, handed to `noise` (so a seeded layer seeds it).

    Example:
        >>> from ndnx.layers import DiracInitializer
        >>> k = DiracInitializer(gain=2.0)((3, 3, 2, 2))
        >>> [[float(k[1, 1, c, f]) for f in range(2)] for c in range(2)], float(k[0, 1, 0, 0])
        ([[2.0, 0.0], [0.0, 2.0]], 0.0)
    """

    def __init__(self, gain=1.0, noise=None, seed=None):
        try:
            self.gain = float(gain)
        except (TypeError, ValueError):
            raise ValueError(f"DiracInitializer: gain must be a number, got {gain!r}") from None
        self.noise = None if noise is None else keras.initializers.get(noise)
        if isinstance(seed, bool) or not (seed is None or isinstance(seed, (int, np.integer))):
            raise ValueError(f"DiracInitializer: seed must be an int or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(int(s) for s in shape)
        if len(shape) < 2:
            raise ValueError(f"DiracInitializer: expected a kernel of rank ≥ 2 (…, in, out), got shape {shape}")
        dtype = dtype or keras.backend.floatx()
        eye = np.zeros(shape, "float64")
        n = np.arange(min(shape[-2], shape[-1]))
        eye[tuple(k // 2 for k in shape[:-2]) + (n, n)] = self.gain
        kernel = ops.convert_to_tensor(eye.astype(dtype))
        if self.noise is None:
            return kernel
        return kernel + seeded_initializer(self.noise, self.seed)(shape, dtype=dtype)

    def get_config(self):
        return {"gain": self.gain,
                "noise": None if self.noise is None else keras.initializers.serialize(self.noise),
                "seed": self.seed}
