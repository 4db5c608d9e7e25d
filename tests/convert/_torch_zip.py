"""A torch-free writer of PyTorch's zip checkpoint format, for testing the reader without torch.

It pickles with protocol 2 through stand-ins whose reductions emit the GLOBAL opcodes torch emits
('torch._utils _rebuild_tensor_v2', 'torch._utils _rebuild_parameter', 'torch FloatStorage', ...),
storages as persistent ids ('storage', storage_type, key, location, numel), and writes the records in
the layout of torch >= 2.x: <prefix>/data.pkl, .format_version, .storage_alignment, byteorder,
data/<key> (payload aligned to 64 bytes by an 'FB' extra field, as torch's writer does), version,
.data/serialization_id.
"""

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

STORAGE_TYPES = {np.dtype("float32"): "FloatStorage", np.dtype("float64"): "DoubleStorage",
                 np.dtype("float16"): "HalfStorage", np.dtype("int64"): "LongStorage",
                 np.dtype("int32"): "IntStorage", np.dtype("uint8"): "ByteStorage", np.dtype("bool"): "BoolStorage"}


class Global:
    """A reference that pickles as GLOBAL '<module> <name>' (torch's modules need not exist here)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle's save_reduce only checks that the function is callable
        raise TypeError("a stand-in")


class Storage:
    """A flat storage: its elements are written to data/<key>."""

    def __init__(self, flat, key, bfloat16=False):
        self.flat, self.key, self.bfloat16 = np.ascontiguousarray(flat).ravel(), str(key), bfloat16

    def persistent_id(self):
        name = "BFloat16Storage" if self.bfloat16 else STORAGE_TYPES[self.flat.dtype]
        return ("storage", Global("torch", name), self.key, "cpu", self.flat.size)


class Tensor:
    """A view of a storage: torch pickles it as _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage, offset, size, stride, parameter=False, typed=False):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)
        self.parameter, self.typed = parameter, typed

    def __reduce__(self):
        args = (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict())
        rebuilt = (Global("torch._utils", "_rebuild_tensor_v2"), args)
        if self.typed:  # what torch writes for a tensor carrying Python attributes
            return Global("torch._tensor", "_rebuild_from_type_v2"), (rebuilt[0], Global("torch", "Tensor"), args,
                                                                      {"tag": 1})
        if not self.parameter:
            return rebuilt
        return Global("torch._utils", "_rebuild_parameter"), (_Reduced(*rebuilt), True, collections.OrderedDict())


class _Reduced:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def tensor(array, key):
    """A contiguous tensor holding `array` in a storage of its own."""
    array = np.ascontiguousarray(array)
    strides = tuple(s // array.itemsize for s in array.strides) if array.size else (0,) * array.ndim
    return Tensor(Storage(array, key), 0, array.shape, strides)


class _Pickler(pickle._Pickler):
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
            self.memoize(obj)
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        self.storages[obj.key] = obj
        return obj.persistent_id()


def _aligned_info(name, offset, compress):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    if not compress:
        # torch pads each record with an 'FB' extra field so the payload starts on a 64-byte boundary
        pad = (-(offset + 30 + len(name.encode()) + 4)) % 64
        info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
    return info


def save(obj, file, prefix="archive", compress=False, byteorder="little", pickle_bytes=None):
    """Write `obj` (dicts, lists, Tensors, numbers) as torch.save would; returns the pickled bytes."""
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, protocol=2)
    pickler.storages = {}
    pickler.dump(obj)
    data_pkl = buffer.getvalue() if pickle_bytes is None else pickle_bytes
    order = "<" if byteorder == "little" else ">"
    records = [("data.pkl", data_pkl), (".format_version", b"1"), (".storage_alignment", b"64"),
               ("byteorder", byteorder.encode())]
    for key, storage in sorted(pickler.storages.items(), key=lambda item: int(item[0])):
        flat = storage.flat
        records.append((f"data/{key}", flat.astype(flat.dtype.newbyteorder(order)).tobytes()))
    records += [("version", b"3\n"), (".data/serialization_id", b"1234567890123456789012345678901234567890")]
    with zipfile.ZipFile(file, "w") as archive:
        for name, payload in records:
            offset = archive.fp.tell()
            archive.writestr(_aligned_info(f"{prefix}/{name}", offset, compress), payload)
    return data_pkl
