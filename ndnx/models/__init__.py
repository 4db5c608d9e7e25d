"""Model builders, one module per family."""

from ndnx.models import cordsnet, ei_config, ei_network, ei_training, v1
from ndnx.models.cordsnet import CordsNet, cordsnet_r2, cordsnet_r4, cordsnet_r6, cordsnet_r8
from ndnx.models.ei_network import EINetwork, build_ei_network, ei_network_parameters
from ndnx.models.ei_training import EITaskModel
from ndnx.models import feedback, feedback_protocol
from ndnx.models.feedback import FeedbackNetwork
# CordsNet's training pipeline (steps 1, 1b, 2): imported so that `import ndnx` registers its Keras objects
from ndnx.models import cordsnet_cnn, cordsnet_folding, cordsnet_inverse
from ndnx.models.cordsnet_cnn import CordsNetCNN
from ndnx.models.cordsnet_folding import fold_batch_norm
from ndnx.models.cordsnet_inverse import CordsNetInverse
from ndnx.models import nrflv
from ndnx.models.nrflv import NRFLV

__all__ = ["CordsNet", "cordsnet", "cordsnet_r2", "cordsnet_r4", "cordsnet_r6", "cordsnet_r8", "EINetwork", "EITaskModel", "build_ei_network", "ei_network_parameters", "ei_config", "ei_network",
           "ei_training", "v1", "CordsNetCNN", "CordsNetInverse", "fold_batch_norm", "cordsnet_cnn",
           "cordsnet_folding", "cordsnet_inverse", "FeedbackNetwork", "feedback", "feedback_protocol",
           "NRFLV", "nrflv"]
