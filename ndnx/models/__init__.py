"""Model builders, one module per family."""

from ndnx.models import ei_config, ei_network, v1
from ndnx.models.ei_network import EINetwork, build_ei_network, ei_network_parameters

__all__ = ["EINetwork", "build_ei_network", "ei_network_parameters", "ei_config", "ei_network", "v1"]
