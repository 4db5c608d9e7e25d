"""Model builders, one module per family."""

from ndnx.models import ei_config, v1

__all__ = ["ei_config", "v1"]
