"""Recurrent ndnx cells (one time step of a dynamical system), run by `keras.layers.RNN`.

Each cell is registered with Keras under package "ndnx" and takes `replicas` and `seed` as every
ndnx layer does (`ndnx.layers.replicas`); `RNN` is `keras.layers.RNN` reporting the replica axis
of a replicated cell in its output shapes.
"""

from ndnx.cells import stp, transfer
from ndnx.cells.cordsnet import CordsNetCell
from ndnx.cells.ei_rate import EIRateCell
from ndnx.cells.leaky_rate import LeakyRateCell
from ndnx.cells.lif import LIFCell, lif_fi_curve, lif_network_scaling, lif_rate
from ndnx.cells.rnn import RNN

__all__ = ["CordsNetCell", "EIRateCell", "LeakyRateCell", "LIFCell", "RNN", "lif_fi_curve", "lif_network_scaling", "lif_rate",
           "stp", "transfer"]
