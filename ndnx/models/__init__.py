"""Model builders, one module per family."""

from ndnx.models import ei_config, ei_network, ei_training, v1
from ndnx.models.ei_network import EINetwork, build_ei_network, ei_network_parameters
from ndnx.models.ei_training import EITaskModel

__all__ = ["EINetwork", "EITaskModel", "build_ei_network", "ei_network_parameters", "ei_config", "ei_network",
           "ei_training", "v1"]
