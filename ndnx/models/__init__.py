"""Model builders, one module per family."""

from ndnx.models import v1

__all__ = ["v1"]
