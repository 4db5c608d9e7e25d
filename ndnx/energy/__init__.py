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
from ndnx.energy.function_target import FunctionTarget
from ndnx.energy.sampler import Sampler
from ndnx.energy.sghmc import SGHMC
from ndnx.energy.langevin import ULA
from ndnx.energy.mala import MALA
from ndnx.energy.inverse_mass import circulant_inverse_mass, faithful_inverse_mass

__all__ += ["FunctionTarget", "Sampler", "SGHMC", "ULA", "MALA", "circulant_inverse_mass", "faithful_inverse_mass"]
from ndnx.energy.adaptive_negative_steps import AdaptiveNegativeSteps

__all__ += ["AdaptiveNegativeSteps"]
