"""ReplayBuffer: persistent negative-phase chains held on the device (NRF-LV's sample buffer).

Spec energy_sampling_nrflv.md §2.3 and §7 item 11: a FIFO ring of at most `capacity` full state tuples
(one variable (capacity, ...) per state layer). For a negative phase of B chains, ⌊reuse·B⌋ chains
are drawn with replacement from the stored ones (121 of 128 at reuse 0.95) and the rest are fresh;
an empty buffer gives all-fresh chains. After the phase all B final states are pushed, evicting the
oldest. Everything stays on the device: indices come from `keras.random`, writes are scatters.
Optionally the chains' momenta are stored too (`with_momentum`), so a replayed chain continues its
Hamiltonian trajectory instead of restarting at p = 0.

The buffer is a component of `ndnx.models.NRFLV` (saved and restored with it); memory is
capacity × units × 4 bytes (1.5 GB for the thesis model at 10,000 — pick the capacity to fit).

Example:
    >>> import numpy as np
    >>> from ndnx.energy.replay_buffer import ReplayBuffer
    >>> buffer = ReplayBuffer([(2,)], capacity=300, reuse=0.95, seed=0)
    >>> buffer.replayed(128), 128 - buffer.replayed(128)
    (121, 7)
"""

import math

import keras
import tensorflow as tf

__all__ = ["ReplayBuffer"]


class ReplayBuffer(keras.layers.Layer):
    """Args: shapes (one per state layer), capacity, reuse (fraction replayed), with_momentum, seed."""

    def __init__(self, shapes, capacity=10_000, reuse=0.95, with_momentum=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"{self.name}: capacity must be a positive int, got {capacity!r}")
        if not (isinstance(reuse, (int, float)) and 0.0 <= reuse <= 1.0):
            raise ValueError(f"{self.name}: reuse must be a number in [0, 1], got {reuse!r}")
        self.shapes = [tuple(int(d) for d in s) for s in shapes]
        self.capacity, self.reuse, self.with_momentum = capacity, float(reuse), bool(with_momentum)
        self.generator = keras.random.SeedGenerator(seed)
        self.seed = seed

    def build(self, input_shape=None):
        copies = 2 if self.with_momentum else 1
        # Under tf.distribute each device keeps its own chains (on-read variables, never all-reduced);
        # checkpoints store the first device's buffer.
        def local(name, shape, dtype):
            return keras.Variable("zeros", shape=shape, dtype=dtype, trainable=False, synchronization="on_read",
                                  aggregation="only_first_replica", name=name)

        self.slots = [local(f"chains{k}_{i}", (self.capacity,) + s, self.variable_dtype)
                      for k in range(copies) for i, s in enumerate(self.shapes)]
        for k, slot in enumerate(self.slots):  # one attribute each: TF checkpoints do not look inside the list
            setattr(self, f"slot{k}", slot)
        self.count = local("count", (), "int32")
        self.head = local("head", (), "int32")
        self.built = True

    def replayed(self, batch):
        """How many of `batch` chains come from the buffer once it holds any: ⌊reuse·batch⌋."""
        return int(math.floor(self.reuse * batch + 1e-9))

    def sample(self, fresh, fresh_momentum=None):
        """The chains of a negative phase: rows 0..k−1 replayed (when stored chains exist), the rest `fresh`.

        Returns the states (and momenta when `with_momentum`, zeros for fresh chains).
        """
        if not self.built:
            self.build()
        batch = tf.shape(fresh[0])[0]  # dynamic under model.fit
        k = tf.cast(tf.floor(self.reuse * tf.cast(batch, tf.float64) + 1e-9), tf.int32)
        count = tf.convert_to_tensor(self.count.value)
        idx = keras.random.randint((batch,), 0, tf.maximum(count, 1), seed=self.generator, dtype="int32")
        use = tf.logical_and(tf.range(batch) < k, count > 0)
        pieces = list(fresh) + (list(fresh_momentum if fresh_momentum is not None else [tf.zeros_like(f) for f in fresh])
                                if self.with_momentum else [])
        out = []
        for slot, f in zip(self.slots, pieces):
            stored = tf.gather(slot.value, idx)
            out.append(tf.where(tf.reshape(use, [-1] + [1] * (f.shape.rank - 1)), stored, f))
        n = len(self.shapes)
        return (out[:n], out[n:]) if self.with_momentum else out

    def push(self, states, momenta=None):
        """Store all chains of a phase, evicting the oldest (FIFO)."""
        if not self.built:
            self.build()
        batch = tf.shape(states[0])[0]
        rows = (tf.convert_to_tensor(self.head.value) + tf.range(batch)) % self.capacity
        pieces = list(states) + (list(momenta) if self.with_momentum else [])
        distributed = tf.distribute.has_strategy() and tf.distribute.in_cross_replica_context() is False
        for slot, x in zip(self.slots, pieces):
            if distributed:  # a device-local variable takes no scatter there: rewrite it (O(capacity))
                slot.assign(tf.tensor_scatter_nd_update(slot.value, rows[:, None], tf.cast(x, slot.dtype)))
            else:
                slot.value.scatter_nd_update(rows[:, None], tf.cast(x, slot.dtype))
        self.head.assign((self.head + batch) % self.capacity)
        self.count.assign(tf.minimum(self.count + batch, self.capacity))
