"""Synaptic connectivity of rate networks: weight blocks, probability profiles, connection rules.

- `Synapses`, `synaptic_drive` (synapses.py): a weight block in the dense or ELL layout and the
  drive it gives, fast under XLA.
- `ProbabilityProfile`, `profile_kind` (profiles.py): P_ij — uniform, strong and weak cosine, low
  rank, von Mises, gaussian (specs/ei_networks_neuroflame.md §2).
- `sparse_block`, `fixed_indegree_block`, `all_to_all_block` (rules.py): P → C for one block,
  row-chunked, seeded per row group (row_streams.py).
- `build_network` (network.py): every block of an E/I network, E first, unscaled.
- `dual_task_vectors`, `low_rank_vectors`, `odor_vectors` (low_rank.py): the dual task's vectors.
"""

from ndnx.connectivity.synapses import LAYOUTS, Synapses, narrow_columns, synaptic_drive
from ndnx.connectivity.profiles import PROFILE_KINDS, ProbabilityProfile, profile_kind
from ndnx.connectivity.rules import DEFAULT_CHUNK_BYTES, all_to_all_block, fixed_indegree_block, sparse_block
from ndnx.connectivity.network import CON_TYPES, DENSE_MAX_NEURONS, build_network, con_type_rule
from ndnx.connectivity.low_rank import (DEFAULT_LR_COV, DEFAULT_LR_MEAN, dual_task_vectors, low_rank_vectors,
                                        odor_vectors)

__all__ = ["LAYOUTS", "Synapses", "synaptic_drive", "narrow_columns", "PROFILE_KINDS", "ProbabilityProfile", "profile_kind",
           "DEFAULT_CHUNK_BYTES", "sparse_block", "fixed_indegree_block", "all_to_all_block", "CON_TYPES",
           "DENSE_MAX_NEURONS", "build_network", "con_type_rule", "DEFAULT_LR_COV", "DEFAULT_LR_MEAN",
           "dual_task_vectors", "low_rank_vectors", "odor_vectors"]
