"""Recurrent ndnx cells (one time step of a dynamical system), run by `keras.layers.RNN`.

Each cell is registered with Keras under package "ndnx" and takes `replicas` and `seed` as every
ndnx layer does (`ndnx.layers.replicas`); `RNN` is `keras.layers.RNN` reporting the replica axis
of a replicated cell in its output shapes. The feedback-modulation family (Naumann et al. 2022):
`FeedbackModulator` (LSTM + linear) drives the `ModulatedCell`s `ModulationNetCell`,
`SpatialNetCell` and `DaleRateNetCell`; `DirectDemixCell` is the control without modulation.
"""

from ndnx.cells import stp, transfer
from ndnx.cells.cordsnet import CordsNetCell
from ndnx.cells.dale_rate_net_cell import DaleRateNetCell
from ndnx.cells.direct_demix_cell import DirectDemixCell
from ndnx.cells.ei_rate import EIRateCell
from ndnx.cells.feedback_modulator import FeedbackModulator
from ndnx.cells.leaky_rate import LeakyRateCell
from ndnx.cells.lif import LIFCell, lif_fi_curve, lif_network_scaling, lif_rate
from ndnx.cells.modulated_cell import ModulatedCell
from ndnx.cells.modulation_net_cell import ModulationNetCell
from ndnx.cells.rnn import RNN
from ndnx.cells.spatial_net_cell import SpatialNetCell, modulation_kernel

__all__ = ["CordsNetCell", "DaleRateNetCell", "DirectDemixCell", "EIRateCell", "FeedbackModulator", "LeakyRateCell",
           "LIFCell", "ModulatedCell", "ModulationNetCell", "RNN", "SpatialNetCell", "lif_fi_curve",
           "lif_network_scaling", "lif_rate", "modulation_kernel", "stp", "transfer"]
