"""Model builders, one module per family."""

from ndnx.models import ei_config, ei_network, ei_training, v1
from ndnx.models.ei_network import EINetwork
from ndnx.models.ei_training import EITaskModel

__all__ = ["EINetwork", "EITaskModel", "ei_config", "ei_network", "ei_training", "v1"]
