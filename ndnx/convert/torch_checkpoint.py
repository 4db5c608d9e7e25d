"""Read PyTorch checkpoints (``torch.save`` zip archives) into NumPy arrays, without torch.

A checkpoint is untrusted input: unpickling it with the standard ``pickle`` module runs whatever
callables the file names. This reader unpickles ``data.pkl`` with a restricted ``pickle.Unpickler``
whose ``find_class`` resolves only the handful of globals a state dict needs and refuses every other
one with a ``ValueError`` naming it (DESIGN.md: torch checkpoints are read with a small pickle
reader; torch is never required). The CordsNet converter (spec cordsnet.md §8.2) and the
feedback-modulation converter (spec feedback_modulation_naumann22.md §6) both start here.

Supported format (``torch.save`` with the zip serialisation, the default since torch 1.6):

- a zip archive whose members, stored or deflated, sit under one prefix directory of any name
  (``archive/`` when saved to a buffer, the file stem when saved to a path);
- ``<prefix>/data.pkl``: a pickle (torch writes protocol 2) of the saved object. Tensors are
  ``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
  backward_hooks[, metadata])``, parameters ``torch._utils._rebuild_parameter(tensor, requires_grad,
  backward_hooks)`` (or ``_rebuild_parameter_with_state``), either possibly wrapped in
  ``torch._tensor._rebuild_from_type_v2`` (the wrapper's class and attributes are dropped); each storage is a persistent id
  ``('storage', storage_type, key, location, numel)`` whose bytes are ``<prefix>/data/<key>``;
  storage types ``torch.FloatStorage``, ``DoubleStorage``, ``HalfStorage``, ``BFloat16Storage``
  (returned as float32: NumPy has no bfloat16), ``LongStorage``, ``IntStorage``, ``ShortStorage``,
  ``CharStorage``, ``ByteStorage``, ``BoolStorage``, ``ComplexFloatStorage``, ``ComplexDoubleStorage``
  and ``UntypedStorage`` (bytes); torch dtypes by name (``torch.float32``, …) and ``torch.Size``;
- ``<prefix>/byteorder`` (``little`` or ``big``; absent in old files, which are little-endian);
  the other records newer versions write (``version``, ``.format_version``, ``.storage_alignment``,
  ``.data/serialization_id``) are ignored;
- tensors are rebuilt with their storage offset, size and stride (views of a shared storage and
  non-contiguous strides included) and returned as independent, C-contiguous arrays.

Not supported (each refused with a clear error): the legacy pre-1.6 non-zip format, TorchScript
archives (``constants.pkl``, ``code/``), tensors on meta devices, quantised or sparse tensors.

A state dict (an ``OrderedDict`` of tensors, or a dict holding one under ``"state_dict"`` or
``"model"``) comes back from `read_torch_checkpoint` as a plain ``dict`` of arrays with a
DataParallel ``module.`` prefix stripped. ``.npz`` files (written offline, spec cordsnet.md §8.2)
are read the same way. Checkpoints that pickle whole ``nn.Module`` objects need
`load_torch_pickle` with ``stubs``: the named classes become inert `TorchStub` records (nothing is
ever called), and `module_tensors` collects their parameters, buffers and array attributes.

Example:
    >>> import io, pickle, zipfile
    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as archive:
    ...     archive.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
    >>> read_torch_checkpoint(buffer)
    {}
"""

import collections
import fnmatch
import io
import math
import os
import pickle
import zipfile

import numpy as np

__all__ = ["read_torch_checkpoint", "load_torch_pickle", "module_tensors", "strip_prefix", "TorchStub"]

_STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "u2",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?", "ComplexFloatStorage": "c8", "ComplexDoubleStorage": "c16",
    "UntypedStorage": "u1",
}
_TORCH_DTYPES = {
    "float32": "f4", "float": "f4", "float64": "f8", "double": "f8", "float16": "f2", "half": "f2",
    "bfloat16": "u2", "int64": "i8", "long": "i8", "int32": "i4", "int": "i4", "int16": "i2",
    "short": "i2", "int8": "i1", "uint8": "u1", "bool": "?", "complex64": "c8", "complex128": "c16",
}
_STATE_DICT_KEYS = ("state_dict", "model")

#: The largest tensor read (bytes as a NumPy array); a crafted or expanded zero-stride tensor may claim more.
MAX_TENSOR_BYTES = 8 * 2**30


class _StorageType:
    """What a ``torch.<X>Storage`` global unpickles to: the element type of the storage's bytes."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _TorchDtype:
    """What a ``torch.<dtype>`` global unpickles to (newer torch versions pickle dtypes by name)."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_TORCH_DTYPES[name])

    def __repr__(self):
        return f"torch.{self.name}"


class _Storage:
    """One storage of the archive: a flat array of its elements (bfloat16 kept as raw uint16)."""

    def __init__(self, array, bfloat16):
        self.array = array
        self.bfloat16 = bfloat16


class TorchStub:
    """An inert record of a pickled object whose class was allowed as a stub by `load_torch_pickle`.

    ``qualname`` is the pickled class ("module.Name"), ``args`` the constructor arguments the pickle
    gave, ``state`` what the pickle set on it (for an ``nn.Module``: its ``__dict__``, holding
    ``_parameters``, ``_buffers``, ``_modules`` and plain attributes). Nothing of the original class runs.

    Example:
        >>> stub = TorchStub.subclass("model_base.Net")()
        >>> stub.__setstate__({"tau": 100})
        >>> stub.qualname, stub.state["tau"]
        ('model_base.Net', 100)
    """

    qualname = "?"

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self.args, self.state = args, {}
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        # (dict_state, slots_state) pairs come from classes with __slots__
        if isinstance(state, tuple) and len(state) == 2 and all(s is None or isinstance(s, dict) for s in state):
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = state if isinstance(state, dict) else {"state": state}

    def __repr__(self):
        return f"<TorchStub {self.qualname}>"

    @classmethod
    def subclass(cls, qualname):
        return type(qualname.rsplit(".", 1)[-1], (cls,), {"qualname": qualname})


def _checkpoint_error(source, message):
    return ValueError(f"read_torch_checkpoint: {source}: {message}")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, _Storage):
        raise ValueError(f"read_torch_checkpoint: a tensor's storage must be a storage record, got "
                         f"{type(storage).__name__}")
    size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(storage_offset)
    if len(size) != len(stride) or offset < 0 or min(size, default=0) < 0 or min(stride, default=0) < 0:
        raise ValueError(f"read_torch_checkpoint: a tensor must have size and stride of equal length, "
                         f"non-negative, and a non-negative offset; got size {size}, stride {stride}, "
                         f"offset {offset}")
    flat = storage.array
    nbytes = math.prod(size) * flat.itemsize
    if nbytes > MAX_TENSOR_BYTES:
        # a zero stride repeats storage elements (torch's expand()); the copy must not exhaust memory
        raise ValueError(f"read_torch_checkpoint: a tensor of size {size}, stride {stride} would take "
                         f"{nbytes / 2**30:.1f} GiB as an array; at most {MAX_TENSOR_BYTES / 2**30:.0f} GiB is read "
                         f"(ndnx.convert.torch_checkpoint.MAX_TENSOR_BYTES)")
    if 0 in size:
        array = np.zeros(size, flat.dtype)
    else:
        # bounds are checked before as_strided: a crafted stride must never read outside the storage
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:
            raise ValueError(f"read_torch_checkpoint: a tensor of size {size}, stride {stride}, offset {offset} "
                             f"reaches element {last} of a storage with {flat.size} elements")
        view = np.lib.stride_tricks.as_strided(flat[offset:], shape=size,
                                               strides=tuple(s * flat.itemsize for s in stride), writeable=False)
        array = np.array(view, copy=True, order="C")
    if storage.bfloat16:
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    return data


def _torch_size(*args):
    return tuple(*args)


def _rebuild_from_type_v2(func, new_type, args, state):
    # torch wraps tensors of a subclass or with Python attributes this way; the class and state are dropped
    if func not in (_rebuild_tensor_v2, _rebuild_parameter) or not isinstance(new_type, _TensorType):
        raise ValueError(f"read_torch_checkpoint: _rebuild_from_type_v2 may only rebuild a torch Tensor or "
                         f"Parameter, got {func!r} for {new_type!r}")
    return func(*args)


class _TensorType:
    """What ``torch.Tensor`` / ``torch.nn.parameter.Parameter`` unpickle to: a name, never the class."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


_TENSOR_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): _torch_size,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): _TensorType("torch.Tensor"),
    ("torch.nn.parameter", "Parameter"): _TensorType("torch.nn.parameter.Parameter"),
}
# harmless containers a pickled module's attributes use; only with stubs
_CONTAINER_GLOBALS = {
    ("builtins", "set"): set, ("__builtin__", "set"): set, ("builtins", "frozenset"): frozenset,
    ("__builtin__", "frozenset"): frozenset,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals a torch state dict needs (plus caller-approved stubs); refuses the rest."""

    def __init__(self, file, archive, prefix, source, byteorder, stubs):
        super().__init__(file)
        self._archive, self._prefix, self._source = archive, prefix, source
        self._byteorder, self._stubs = byteorder, tuple(stubs)
        self._storages = {}
        self._stub_classes = {}

    def find_class(self, module, name):
        if (module, name) in _TENSOR_GLOBALS:
            return _TENSOR_GLOBALS[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch" and name in _TORCH_DTYPES:
            return _TorchDtype(name)
        qualname = f"{module}.{name}"
        if self._stubs and (module, name) in _CONTAINER_GLOBALS:
            return _CONTAINER_GLOBALS[(module, name)]
        if any(fnmatch.fnmatchcase(qualname, pattern) for pattern in self._stubs):
            if qualname not in self._stub_classes:
                self._stub_classes[qualname] = TorchStub.subclass(qualname)
            return self._stub_classes[qualname]
        raise _checkpoint_error(self._source, f"refusing to unpickle the global {qualname!r}: a checkpoint may only "
                                              f"name tensors, storages and OrderedDict (untrusted input)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise _checkpoint_error(self._source, f"expected a persistent id ('storage', type, key, location, numel), "
                                                  f"got {pid!r}")
        _, storage_type, key, location, numel = pid
        if not isinstance(storage_type, (_StorageType, _TorchDtype)):
            raise _checkpoint_error(self._source, f"storage {key!r} has an unknown type {storage_type!r}")
        if str(location).startswith("meta"):
            raise _checkpoint_error(self._source, f"storage {key!r} is on the meta device: it holds no data")
        key = str(key)
        if key not in self._storages:
            member = f"{self._prefix}data/{key}"
            try:
                raw = self._archive.read(member)
            except KeyError:
                raise _checkpoint_error(self._source, f"the archive has no record {member!r}") from None
            dtype = storage_type.dtype.newbyteorder("<" if self._byteorder == "little" else ">")
            if not isinstance(numel, int) or numel < 0 or len(raw) < numel * dtype.itemsize:
                raise _checkpoint_error(self._source, f"record {member!r} holds {len(raw)} bytes, expected "
                                                      f"{int(numel)} elements of {dtype.itemsize} bytes")
            array = np.frombuffer(raw, dtype=dtype, count=int(numel)).astype(dtype.newbyteorder("="))
            self._storages[key] = _Storage(array, bfloat16=storage_type.name in ("bfloat16", "BFloat16Storage"))
        return self._storages[key]


def _open_archive(path):
    source = os.fspath(path) if isinstance(path, (str, os.PathLike)) else type(path).__name__
    try:
        return zipfile.ZipFile(path), source
    except zipfile.BadZipFile:
        raise _checkpoint_error(source, "not a zip archive: only the zip format torch.save writes since torch 1.6 "
                                        "is supported (re-save the file with a current torch, or convert it offline "
                                        "to .npz with utils/cordsnet_pth_to_npz.py)") from None


def _archive_prefix(archive, source):
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") <= 1]
    if any(n.endswith("constants.pkl") for n in names) or any("/code/" in n for n in names):
        raise _checkpoint_error(source, "this is a TorchScript archive (torch.jit.save); save the state_dict instead")
    if len(pickles) != 1:
        raise _checkpoint_error(source, f"expected one '<prefix>/data.pkl' record, found {len(pickles)} among "
                                        f"{names[:5]}")
    return pickles[0][: -len("data.pkl")]


def load_torch_pickle(path, stubs=()):
    """The object a ``torch.save`` zip archive holds, tensors as NumPy arrays, read without torch.

    ``path`` is a file path or a binary file object. ``stubs`` are fnmatch patterns of class names
    ("model_base.*", "torch.nn.modules.*") to rebuild as inert `TorchStub` records; any other global
    but the tensor machinery is refused with a ``ValueError``.

    Example:
        >>> import io, pickle, zipfile
        >>> buffer = io.BytesIO()
        >>> with zipfile.ZipFile(buffer, "w") as archive:
        ...     archive.writestr("net/data.pkl", pickle.dumps([1, 2], protocol=2))
        >>> load_torch_pickle(buffer)
        [1, 2]
    """
    if isinstance(stubs, str):
        stubs = (stubs,)
    archive, source = _open_archive(path)
    with archive:
        prefix = _archive_prefix(archive, source)
        byteorder = "little"
        if f"{prefix}byteorder" in archive.namelist():
            byteorder = archive.read(f"{prefix}byteorder").decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                raise _checkpoint_error(source, f"byteorder record must be 'little' or 'big', got {byteorder!r}")
        unpickler = _RestrictedUnpickler(io.BytesIO(archive.read(f"{prefix}data.pkl")), archive, prefix, source,
                                         byteorder, stubs)
        try:
            return unpickler.load()
        except ValueError:
            raise
        except Exception as error:  # a malformed pickle surfaces as one line, not a traceback into pickle
            raise _checkpoint_error(source, f"data.pkl could not be read: {type(error).__name__}: {error}") from None


def strip_prefix(state_dict, prefix="module."):
    """The state dict with ``prefix`` removed from every key that has it (DataParallel writes ``module.``).

    Example:
        >>> strip_prefix({"module.fc.bias": 1, "fc.weight": 2})
        {'fc.bias': 1, 'fc.weight': 2}
    """
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state_dict.items()}


def _as_state_dict(obj, source):
    if isinstance(obj, dict) and not all(isinstance(v, np.ndarray) for v in obj.values()):
        for key in _STATE_DICT_KEYS:
            if isinstance(obj.get(key), dict):
                return _as_state_dict(obj[key], source)
    if not isinstance(obj, dict):
        raise _checkpoint_error(source, f"expected a state dict (a dict of tensors), got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not (isinstance(k, str) and isinstance(v, np.ndarray))]
    if bad:
        raise _checkpoint_error(source, f"expected a state dict of tensors (or one under {_STATE_DICT_KEYS}); "
                                        f"entry {bad[0]!r} is a {type(obj[bad[0]]).__name__}")
    return strip_prefix(dict(obj))


def read_torch_checkpoint(path):
    """The state dict in a PyTorch checkpoint (zip format) or ``.npz`` file, as a dict of NumPy arrays.

    ``path``: a ``.pth``/``.pt`` zip archive, an ``.npz`` archive, or a binary file object of either.
    Accepts an ``OrderedDict`` state dict or a dict holding one under ``"state_dict"`` or ``"model"``;
    a ``module.`` prefix (DataParallel) is stripped. Keys keep their order.

    Example:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> np.savez(buffer, **{"module.fc.bias": np.zeros(3, np.float32)})
        >>> _ = buffer.seek(0)
        >>> read_torch_checkpoint(buffer)
        {'fc.bias': array([0., 0., 0.], dtype=float32)}
    """
    source = os.fspath(path) if isinstance(path, (str, os.PathLike)) else type(path).__name__
    if isinstance(path, (str, os.PathLike)) and not os.path.exists(path):
        raise _checkpoint_error(source, "no such file")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            is_npz = all(n.endswith(".npy") for n in archive.namelist()) and archive.namelist()
        if hasattr(path, "seek"):
            path.seek(0)
        if is_npz:
            with np.load(path, allow_pickle=False) as npz:
                return _as_state_dict({k: npz[k] for k in npz.files}, source)
        return _as_state_dict(load_torch_pickle(path), source)
    if hasattr(path, "seek"):
        path.seek(0)
    raise _checkpoint_error(source, "not a zip archive: expected a torch.save zip checkpoint (torch >= 1.6) "
                                    "or an .npz file")


def module_tensors(obj, prefix=""):
    """Every array in a tree of `TorchStub` modules, keyed by dotted path as in a state dict.

    For an ``nn.Module`` stub: its ``_parameters`` and ``_buffers`` (as ``state_dict`` would name
    them), then the arrays among its plain attributes (which ``state_dict`` leaves out), then its
    ``_modules`` recursively. Dicts and lists are walked with their keys and indices.

    Example:
        >>> net = TorchStub.subclass("m.Net")()
        >>> net.__setstate__({"_parameters": {"w": np.ones(2)}, "_buffers": {}, "_modules": {}, "w0": np.zeros(1)})
        >>> sorted(module_tensors(net))
        ['w', 'w0']
    """
    found = {}
    dotted = (lambda key: f"{prefix}.{key}" if prefix else str(key))
    if isinstance(obj, np.ndarray):
        found[prefix] = obj
    elif isinstance(obj, TorchStub):
        state = obj.state
        for group in ("_parameters", "_buffers"):
            for key, value in (state.get(group) or {}).items():
                if isinstance(value, np.ndarray):
                    found[dotted(key)] = value
        for key, value in state.items():
            if key not in ("_parameters", "_buffers", "_modules"):
                found.update(module_tensors(value, dotted(key)) if not isinstance(value, TorchStub) else {})
        for key, value in (state.get("_modules") or {}).items():
            if value is not None:
                found.update(module_tensors(value, dotted(key)))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            found.update(module_tensors(value, dotted(key)))
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            found.update(module_tensors(value, dotted(index)))
    return found
