"""Epochs under tf.distribute strategies (placeholder until the distributed module lands)."""

__all__ = ["DistributedEpochs"]


class DistributedEpochs:
    def __init__(self, model, x, y, batch_size, strategy, shuffle_seed=0, jit_compile=False):
        raise RuntimeError("DistributedEpochs: not available yet")
