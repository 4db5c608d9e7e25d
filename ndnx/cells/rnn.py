"""`keras.layers.RNN` with output shapes that keep a replicated cell's replica axis."""

import keras

from ndnx.registry import register

__all__ = ["RNN"]


@register("layer")
class RNN(keras.layers.RNN):
    """`keras.layers.RNN` whose shapes carry the replica axis of a replicated cell.

    Keras 3's RNN takes its symbolic output shape from the cell's integer `output_size` and
    `state_size`, (batch, [time,] units), while a cell with `replicas=R` returns
    (batch, [time,] R, units) (sequences as `ndnx.layers.replicas` writes them down). Running
    it is the same either way; this subclass only reports the shapes with the replica axis
    (`compute_output_shape`, as Keras' own ConvLSTM does for its cells), so the layers after it
    in a functional model are built for what it returns. For a cell without replicas it is
    `keras.layers.RNN` exactly. Arguments are those of `keras.layers.RNN`.

    Example:
        >>> import numpy as np, ndnx
        >>> rnn = ndnx.cells.RNN(ndnx.cells.LeakyRateCell(8, replicas=3, seed=0), return_state=True)
        >>> [tuple(s) for s in rnn.compute_output_shape((2, 5, 4))]  # last output, final state
        [(2, 3, 8), (2, 3, 8)]
    """

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        replicas = getattr(self.cell, "replicas", None)
        if replicas is None:
            return super().compute_output_shape(sequences_shape, initial_state_shape)
        batch, length = sequences_shape[0], sequences_shape[1]
        output_size = getattr(self.cell, "output_size", None) or self.state_size[0]
        output = (batch, length, replicas, output_size) if self.return_sequences else (batch, replicas, output_size)
        if not self.return_state:
            return output
        return (output, *[(batch, replicas, size) for size in self.state_size])
