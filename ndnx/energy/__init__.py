"""Energy-based latent-variable models sampled with Hamiltonian dynamics (NRF-LV).

The energy (`EnergyGraph`, its NRF-LV architectures in `presets`), the samplers (SGHMC with an
explicit temperature or the original's variance clamp, burn-in mass adaptation, circulant inverse
mass; ULA; MALA), and the on-device replay buffer of persistent chains. Spec
energy_sampling_nrflv.md.
"""

from ndnx.energy.energy_graph import EnergyGraph
from ndnx.energy import presets
from ndnx.energy.presets import NRFLV_ARCHITECTURES, nrflv_architecture, nrflv_graph

__all__ = ["EnergyGraph", "presets", "nrflv_architecture", "nrflv_graph", "NRFLV_ARCHITECTURES"]
