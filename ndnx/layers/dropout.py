"""Dropout with one mask per replica, each drawn as the lone layer with that replica's seed draws it."""

import keras

from ndnx.layers.replicas import ReplicatedLayer
from ndnx.registry import register

__all__ = ["Dropout"]


@register("layer")
class Dropout(ReplicatedLayer):
    """y = x · m / (1 − rate) in training, m ~ Bernoulli(1 − rate) per entry; y = x at inference.

    Alone (replicas=None) it is `keras.layers.Dropout(rate, noise_shape, seed)` draw for draw:
    the same seed gives the same masks. With `replicas=R` replica r's mask is drawn from its own
    generator, seeded as the lone layer with seed `replica_seeds[r]` is, on replica r's slice
    (batch, ...) of the input (batch, R, ...), so replica r drops exactly the entries the lone
    layer drops (Srivastava et al. 2014, JMLR 15: 1929–1958). A `keras.layers.Dropout` on the
    stacked tensor would instead draw one mask over all replicas, and no replica would see the
    masks its lone seed sees.

    Args:
        rate: fraction of the entries to drop, in [0, 1).
        noise_shape: the mask's shape for one replica (as keras.layers.Dropout: a tuple with
            None for the input's own size, 1 to share the mask along an axis), or None.
        replicas: None or the number of replicas.
        seed: int, or one int per replica.
        per_replica_input: with replicas, the input already carries the replica axis
            (batch, R, ...) (default; what every replicated layer outputs). False: the input is
            shared (batch, ...) and the output is (batch, R, ...), one mask per replica.

    Example:
        >>> import numpy as np, ndnx
        >>> x = np.ones((2, 3, 4), "float32")
        >>> y = np.asarray(ndnx.layers.Dropout(0.5, replicas=3, seed=0)(x, training=True))
        >>> sorted(set(y.ravel().tolist()))  # kept entries are scaled by 1 / (1 − rate)
        [0.0, 2.0]
    """

    def __init__(self, rate, noise_shape=None, replicas=None, seed=None, per_replica_input=True, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"{self.name}: rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)
        if noise_shape is not None:
            noise_shape = tuple(noise_shape)
            if not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in noise_shape):
                raise ValueError(f"{self.name}: noise_shape must hold positive ints or None, got {noise_shape!r}")
        self.noise_shape = noise_shape
        self.per_replica_input = bool(per_replica_input)
        self.supports_masking = True
        self._generators = self.add_replica_generators()

    def build(self, input_shape):
        shape = tuple(input_shape)
        per_replica = self.replicas is not None and self.per_replica_input
        if per_replica and (len(shape) < 3 or shape[1] != self.replicas):
            raise ValueError(f"{self.name}: expected input of shape (batch, {self.replicas}, ...), got {shape}")
        if len(shape) < 2:
            raise ValueError(f"{self.name}: expected input of shape (batch, ...), got {shape}")
        lone_rank = len(shape) - 1 if per_replica else len(shape)
        if self.noise_shape is not None and len(self.noise_shape) != lone_rank:
            raise ValueError(f"{self.name}: noise_shape {self.noise_shape} must have the rank {lone_rank} of one "
                             f"replica's input, got input {shape}")

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            if self.replicas is not None and not self.per_replica_input:
                return keras.ops.stack([inputs] * self.replicas, axis=1)
            return inputs

        def drop(r, x):
            return keras.random.dropout(x, self.rate, noise_shape=self.noise_shape, seed=self._generators[r])

        return self.replica_map(drop, inputs, per_replica=self.per_replica_input)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.replicas is None or self.per_replica_input:
            return input_shape
        return self.replicated_shape(input_shape[0], input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update({
            "rate": self.rate,
            "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
            "per_replica_input": self.per_replica_input,
        })
        return config
