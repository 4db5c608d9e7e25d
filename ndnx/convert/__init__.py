"""Torch-free readers of PyTorch checkpoints, mapped onto ndnx models (DESIGN.md: convert/).

`torch_checkpoint` reads ``torch.save`` zip archives (and ``.npz``) into NumPy arrays with a
restricted unpickler; `cordsnet` maps the CordsNet state dict (spec cordsnet.md §8.2) onto the
canonical parameter names of `ndnx.models.CordsNet`; `naumann22` reads the whole pickled modules of
Naumann et al. 2022 (spec feedback_modulation_naumann22.md §6) into `ndnx.models.FeedbackNetwork`.
"""

from ndnx.convert import cordsnet, naumann22, torch_checkpoint
from ndnx.convert.cordsnet import (cordsnet_parameters, count_parameters, load_cordsnet, step1_parameters,
                                   torch_state_dict)
from ndnx.convert.naumann22 import load_naumann22, read_naumann22
from ndnx.convert.torch_checkpoint import (TorchStub, load_torch_pickle, module_tensors, read_torch_checkpoint,
                                           strip_prefix)

__all__ = ["TorchStub", "cordsnet", "cordsnet_parameters", "count_parameters", "load_cordsnet", "load_torch_pickle",
           "load_naumann22", "module_tensors", "naumann22", "read_naumann22", "read_torch_checkpoint", "step1_parameters", "strip_prefix", "torch_checkpoint",
           "torch_state_dict"]
