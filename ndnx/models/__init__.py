"""Model builders, one module per family."""

from ndnx.models import ei_config, ei_network, v1
from ndnx.models.ei_network import EINetwork

__all__ = ["EINetwork", "ei_config", "ei_network", "v1"]
