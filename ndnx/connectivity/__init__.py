"""Synaptic connectivity: weight blocks and their builders (sparse, fixed-K, structured, all-to-all)."""

from ndnx.connectivity.synapses import LAYOUTS, Synapses, synaptic_drive

__all__ = ["LAYOUTS", "Synapses", "synaptic_drive"]
