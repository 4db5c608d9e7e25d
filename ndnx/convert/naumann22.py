"""Naumann et al. 2022's pretrained models (whole pickled PyTorch modules) as ndnx models, without torch.

The original saves `torch.save(model)`: the whole `nn.Module`, not a state dict (spec
feedback_modulation_naumann22.md §6). Its fixed random matrices (W0, Wro, Wm) are plain
attributes that a state dict would lose. `read_naumann22` unpickles the file with
`ndnx.convert.torch_checkpoint.load_torch_pickle`, the model's class and torch's LSTM and Linear
as inert stubs (nothing of the original runs), and returns the class, its attributes and arrays;
`load_naumann22` builds the equivalent `ndnx.models.FeedbackNetwork`:

    LSTM:    kernel = weight_ih_l0ᵀ, recurrent_kernel = weight_hh_l0ᵀ, bias = bias_ih_l0,
             recurrent_bias = bias_hh_l0 (gate order i, f, g, o in both);
    readout: out_kernel = hidden2out.weightᵀ, out_bias = hidden2out.bias;
    ModulationNet: W0 (2, 2) flattened row-major (W[i, j] = O[2i + j]); add → mode, tau;
    SpatialNet:    W0 (Nz, 2), Wro (2, Nz), Wm (Nz, Nm), tau, Nz, Nm; the kernel width is read off
                   Wm (box, flat or the von Mises width that reproduces it).

Attributes and zip records a newer torch adds are ignored; a pickle of another class, or one that
lacks a needed array, is refused with one line saying what was expected.

Example:
    >>> import io, pickle, zipfile
    >>> state_dict = io.BytesIO()  # a zip whose pickle is not a module
    >>> with zipfile.ZipFile(state_dict, "w") as archive:
    ...     archive.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
    >>> try:
    ...     read_naumann22(state_dict)
    ... except ValueError as error:
    ...     print(error)
    load_naumann22: <_io.BytesIO object at ...>: expected a pickled ModulationNet / SpatialNet / UnmixingModel module, got dict
"""

import numpy as np

from ndnx.convert.torch_checkpoint import TorchStub, load_torch_pickle, module_tensors

__all__ = ["KNOWN_CLASSES", "read_naumann22", "load_naumann22", "kernel_width_of"]

KNOWN_CLASSES = ("ModulationNet", "SpatialNet", "UnmixingModel")
_STUBS = tuple(f"*.{name}" for name in KNOWN_CLASSES) + ("torch.nn.modules.rnn.LSTM", "torch.nn.modules.linear.Linear")
_LSTM = ("rec_net.weight_ih_l0", "rec_net.weight_hh_l0", "rec_net.bias_ih_l0", "rec_net.bias_hh_l0",
         "hidden2out.weight", "hidden2out.bias")
_NEEDS = {"ModulationNet": _LSTM + ("w0",), "SpatialNet": _LSTM + ("w0", "Wro", "Wm"), "UnmixingModel": _LSTM}


def _error(source, message):
    return ValueError(f"load_naumann22: {source}: {message}")


def read_naumann22(path):
    """(class name, attributes, arrays) of a pickled ModulationNet / SpatialNet / UnmixingModel.

    Attributes are the module's plain (non-array) attributes (tau, add, Nz, Nm, input_to_net, …);
    arrays are keyed as in a state dict plus the attribute arrays (w0, Wro, Wm).
    """
    source = str(path)
    try:
        obj = load_torch_pickle(path, stubs=_STUBS)
    except ValueError as error:
        if "refusing to unpickle the global" in str(error):
            raise _error(source, f"expected a pickled {' / '.join(KNOWN_CLASSES)} of Naumann et al. 2022; "
                                 f"{str(error).split(': ', 2)[-1]}") from None
        raise
    name = type(obj).__name__ if isinstance(obj, TorchStub) else None
    if name not in KNOWN_CLASSES:
        raise _error(source, f"expected a pickled {' / '.join(KNOWN_CLASSES)} module, got "
                             f"{getattr(obj, 'qualname', type(obj).__name__)}")
    arrays = {k: np.asarray(v) for k, v in module_tensors(obj).items() if "_flat_weights" not in k}
    missing = [k for k in _NEEDS[name] if k not in arrays]
    if missing:
        raise _error(source, f"a pickled {name} must hold {list(_NEEDS[name])}; missing {missing}")
    attributes = {k: v for k, v in obj.state.items()
                  if not k.startswith("_") and isinstance(v, (bool, int, float, str, tuple, type(None)))}
    return name, attributes, arrays


def kernel_width_of(wm):
    """The `kernel_width` of `ndnx.cells.modulation_kernel` that gives the kernel `wm` (units × signals).

    Example:
        >>> from ndnx.cells import modulation_kernel
        >>> [kernel_width_of(modulation_kernel(100, 4, w)) for w in (0.0, 0.2, 10.0)]
        [0.0, 0.2, 10.0]
    """
    from ndnx.cells.spatial_net_cell import modulation_kernel

    wm = np.asarray(wm, dtype="float64")
    units, signals = wm.shape
    if np.all(wm == 1.0):
        return 10.0
    if np.all((wm == 0.0) | (wm == 1.0)):
        return 0.0
    # column 0 peaks at neuron 0: wm[k, 0] = exp((cos θ_k − 1)/width); neuron 1 is the best-conditioned
    width = float((np.cos(2 * np.pi / units) - 1.0) / np.log(wm[1, 0]))
    width = float(np.round(width, 6))
    if not np.allclose(modulation_kernel(units, signals, width), wm, atol=1e-5):
        raise ValueError(f"kernel_width_of: Wm ({units}×{signals}) is not a box, flat or von Mises kernel")
    return width


def load_naumann22(path, batch_size=None):
    """The `ndnx.models.FeedbackNetwork` equivalent to a pretrained file of the original.

    `batch_size` sets the model's carried TBPTT state (None: none), for training on from the
    pretrained weights.
    """
    from ndnx.cells import ModulationNetCell, SpatialNetCell
    from ndnx.models.feedback import FeedbackNetwork

    name, attributes, arrays = read_naumann22(path)
    w_ih = arrays["rec_net.weight_ih_l0"]
    hidden = w_ih.shape[0] // 4
    sources = int(attributes.get("signal_dim", 2))
    common = dict(sources=sources, sensors=int(attributes.get("x_dim", sources)), hidden_units=hidden,
                  input_to_net=str(attributes.get("input_to_net", "xy")), tau=float(attributes.get("tau", 1)))
    if name == "SpatialNet":
        units, signals = arrays["Wm"].shape
        cell = SpatialNetCell(units=units, signals=signals, kernel_width=kernel_width_of(arrays["Wm"]),
                              learn_baseline=bool(attributes.get("learn_baseline", False)),
                              learn_readout=bool(attributes.get("learn_ro", False)), **common)
        own = {"w0": arrays["w0"], "wro": arrays["Wro"], "wm": arrays["Wm"]}
    else:
        mode = "direct" if name == "UnmixingModel" else ("additive" if attributes.get("add", 0) else "multiplicative")
        if mode == "direct":
            common["tau"] = 1.0
        cell = ModulationNetCell(mode=mode, **common)
        own = {"w0": arrays["w0"].reshape(-1)} if "w0" in arrays else {}
    model = FeedbackNetwork(cell, batch_size=batch_size, name=f"naumann22_{name.lower()}")
    expected = cell.modulator_inputs
    if w_ih.shape != (4 * hidden, expected):
        raise _error(path, f"rec_net.weight_ih_l0 must be ({4 * hidden}, {expected}) for input_to_net "
                           f"{common['input_to_net']!r}, got {w_ih.shape}")
    values = {"kernel": w_ih.T, "recurrent_kernel": arrays["rec_net.weight_hh_l0"].T,
              "bias": arrays["rec_net.bias_ih_l0"], "recurrent_bias": arrays["rec_net.bias_hh_l0"],
              "out_kernel": arrays["hidden2out.weight"].T, "out_bias": arrays["hidden2out.bias"]}
    for key, value in values.items():
        _assign(path, getattr(cell.modulator, key), value, f"modulator.{key}")
    for key, value in own.items():
        _assign(path, getattr(cell, key), value, key)
    return model


def _assign(path, variable, value, what):
    if tuple(variable.shape) != tuple(value.shape):
        raise _error(path, f"{what} must have shape {tuple(variable.shape)}, got {tuple(value.shape)}")
    variable.assign(np.asarray(value, dtype="float32"))
