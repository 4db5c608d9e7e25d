"""Convert a PyTorch state-dict checkpoint (e.g. CordsNet's ``cordsnetr8.pth``) to ``.npz``, keyed by the PyTorch keys.

Spec cordsnet.md §8.2 suggests converting offline so nothing downstream needs torch. With torch
installed the file is loaded by torch itself (``weights_only=True``: tensors and containers only);
without it, by ndnx's torch-free reader (``ndnx.convert.read_torch_checkpoint``), which reads the
zip format torch has written since 1.6. A ``module.`` prefix is stripped; the arrays keep their
PyTorch layout and dtype. Load the result with ``ndnx.convert.cordsnet.load_cordsnet("x.npz")``.

Usage (from the repository root):
    python utils/cordsnet_pth_to_npz.py cordsnetr8.pth [cordsnetr8.npz] [--reader torch|ndnx]
"""

import argparse
import importlib.util
import os
import sys

import numpy as np


def _read_with_torch(path):
    import torch

    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"cordsnet_pth_to_npz: {path}: expected a state dict, got {type(obj).__name__}")
    out = {}
    for key, value in obj.items():
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()  # NumPy has no bfloat16
        out[key[len("module."):] if key.startswith("module.") else key] = value.numpy()
    return out


def _read_with_ndnx(path):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from ndnx.convert.torch_checkpoint import read_torch_checkpoint

    return read_torch_checkpoint(path)


def convert(source, target=None, reader=None):
    """Write ``target`` (default: ``source`` with ``.npz``) and return it with the number of arrays written."""
    if reader is None:
        reader = "torch" if importlib.util.find_spec("torch") is not None else "ndnx"
    if reader not in ("torch", "ndnx"):
        raise ValueError(f"cordsnet_pth_to_npz: reader must be 'torch' or 'ndnx', got {reader!r}")
    state_dict = _read_with_torch(source) if reader == "torch" else _read_with_ndnx(source)
    target = target or os.path.splitext(source)[0] + ".npz"
    np.savez(target, **state_dict)
    return target, len(state_dict)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="the .pth/.pt checkpoint")
    parser.add_argument("target", nargs="?", help="the .npz to write (default: next to the source)")
    parser.add_argument("--reader", choices=("torch", "ndnx"), help="default: torch when installed, else ndnx")
    args = parser.parse_args(argv)
    target, count = convert(args.source, args.target, args.reader)
    print(f"wrote {count} arrays to {target}")


if __name__ == "__main__":
    main()
