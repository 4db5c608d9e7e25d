"""Model builders, one module per family."""

from ndnx.models import cordsnet, ei_config, ei_network, ei_training, v1
from ndnx.models.cordsnet import CordsNet, cordsnet_r2, cordsnet_r4, cordsnet_r6, cordsnet_r8
from ndnx.models.ei_network import EINetwork, build_ei_network, ei_network_parameters
from ndnx.models.ei_training import EITaskModel

__all__ = ["CordsNet", "cordsnet", "cordsnet_r2", "cordsnet_r4", "cordsnet_r6", "cordsnet_r8", "EINetwork", "EITaskModel", "build_ei_network", "ei_network_parameters", "ei_config", "ei_network",
           "ei_training", "v1"]
