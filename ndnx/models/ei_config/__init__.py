"""YAML configuration of the E/I rate-network family (NeuroFlame's keys; spec ei_networks_neuroflame.md §7, §11).

A configuration is one flat mapping of NeuroFlame's keys (N_NEURON, K, frac, Jab, Ja0, GAIN, M0,
DT, DURATION, T_STEADY, T_WINDOW, TASK, T_STIM_ON, ...), which the E/I network model, the tasks and
the experiments read by name.

- `keys.KEYS`: every key with its default (NeuroFlame's conf/defaults.yml), kind and meaning — the
  one table of keys; `keys.LEGACY_KEYS`: keys of older files, accepted and dropped.
- `load_config(name_or_path=None, **overrides)` → `EIConfig`: defaults → a reference configuration
  (`reference_names()`) or a YAML file or a mapping → keyword overrides, validated and immutable
  (`to_dict`, `to_yaml`, `replace`). Files in the original's format load unchanged.
- `derive_quantities(config, truncate=False)` → `DerivedQuantities`: neurons and in-degree per
  population, step counts of the time grid (rounded, or truncated as NeuroFlame's int()), stimulus
  steps, STP blocks, the seed.
- `grid(config, {"Ja0[0]": ...}, J_STP=...)` → `ParameterGrid`: n1 × n2 parameter values as B batch
  rows for parallel simulations, and decoded results back to (n1, n2).
- `device_scope(config)`: DEVICE as a TensorFlow device scope, skipped with a warning when absent.

Nothing here imports TensorFlow when the package is imported (`device_scope` does, when called).

Reference configurations (``reference/<name>.yml``, shipped as package data): config_2pop,
config_EI, config_ringEI, config_SB, config_bal_ring, config_sparse, train_dual, config_train,
train_odr_EI, train_vanilla — written from the spec's tables; each file says where each value comes
from.

Example:
    >>> from ndnx.models.ei_config import load_config, derive_quantities
    >>> config = load_config("config_bal_ring")
    >>> d = derive_quantities(config)
    >>> config.K, d.N, d.N_STEPS
    (125.0, (2000, 500), 7100)
"""

from ndnx.models.ei_config.config import EIConfig, EIConfigWarning, load_config, reference_names
from ndnx.models.ei_config.derived import NO_SEED, DerivedQuantities, STPBlock, derive_quantities, time_steps
from ndnx.models.ei_config.grid import ParameterGrid, grid
from ndnx.models.ei_config.keys import KEYS, LEGACY_KEYS
from ndnx.models.ei_config.placement import available_devices, device_scope

__all__ = ["EIConfig", "EIConfigWarning", "load_config", "reference_names", "KEYS", "LEGACY_KEYS",
           "DerivedQuantities", "STPBlock", "derive_quantities", "time_steps", "NO_SEED", "ParameterGrid", "grid",
           "device_scope", "available_devices"]
