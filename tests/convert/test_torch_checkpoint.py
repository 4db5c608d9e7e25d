"""The torch-free checkpoint reader against archives written in torch's zip layout (tests/convert/_torch_zip.py).

Expected values are the arrays written; the real-file test uses the shapes and values of
specs/feedback_modulation_naumann22.md §6.
"""

import collections
import io
import os
import pathlib
import pickle
import struct

import numpy as np
import pytest

from ndnx.convert import load_torch_pickle, module_tensors, read_torch_checkpoint
from tests.convert import _torch_zip as tz

REFERENCE = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "naumann22"


def _state_dict():
    """Tensors of several dtypes and layouts, with the arrays each must read back as."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    shared = rng.standard_normal(20).astype(np.float32)
    base = rng.standard_normal((2, 3, 5)).astype(np.float64)
    sd = collections.OrderedDict()
    expected = {}
    sd["conv.weight"], expected["conv.weight"] = tz.tensor(a, 0), a
    h = rng.standard_normal(7).astype(np.float16)
    sd["half"], expected["half"] = tz.tensor(h, 1), h
    n = np.array([-(2 ** 40), 3, 7], np.int64)
    sd["bn.num_batches_tracked"], expected["bn.num_batches_tracked"] = tz.tensor(n, 2), n
    # a transposed view: size (5, 3, 2), strides of the (2, 3, 5) contiguous base reversed
    sd["transposed"] = tz.Tensor(tz.Storage(base, 3), 0, (5, 3, 2), (1, 5, 15))
    expected["transposed"] = base.transpose(2, 1, 0)
    # two tensors in one storage, the second at an offset (what .view / slicing of one buffer saves)
    storage = tz.Storage(shared, 4)
    sd["first"], expected["first"] = tz.Tensor(storage, 0, (2, 4), (4, 1)), shared[:8].reshape(2, 4)
    sd["second"], expected["second"] = tz.Tensor(storage, 10, (3, 2), (1, 3)), shared[10:16].reshape(2, 3).T
    sd["scalar"], expected["scalar"] = tz.Tensor(tz.Storage(np.array([2.5], np.float32), 5), 0, (), ()), np.float32(2.5)
    flags = np.array([True, False, True])
    sd["mask"], expected["mask"] = tz.tensor(flags, 6), flags
    sd["tagged"] = tz.Tensor(tz.Storage(a.ravel(), 8), 2, (2, 5), (5, 1), typed=True)
    expected["tagged"] = a.ravel()[2:12].reshape(2, 5)
    sd["empty"], expected["empty"] = tz.Tensor(tz.Storage(np.zeros(0, np.float32), 7), 0, (0, 3), (3, 1)), \
        np.zeros((0, 3), np.float32)
    sd._metadata = collections.OrderedDict({"": {"version": 1}, "conv": {"version": 1}})
    return sd, expected


def _assert_same(got, expected):
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert got[key].dtype == np.asarray(value).dtype, key
        assert got[key].shape == np.shape(value), key
        np.testing.assert_array_equal(got[key], value, err_msg=key)
        assert got[key].flags["C_CONTIGUOUS"], key


@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
@pytest.mark.parametrize("prefix", ["archive", "cordsnetr8"])
def test_round_trip_exact(tmp_path, compress, prefix):
    sd, expected = _state_dict()
    path = tmp_path / f"{prefix}.pth"
    tz.save(sd, path, prefix=prefix, compress=compress)
    _assert_same(read_torch_checkpoint(path), expected)


def test_shared_storage_and_big_endian(tmp_path):
    sd, expected = _state_dict()
    tz.save(sd, tmp_path / "big.pth", byteorder="big")
    _assert_same(read_torch_checkpoint(tmp_path / "big.pth"), expected)


def test_module_prefix_nesting_and_parameters(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.0, -1.0], np.float32)
    inner = collections.OrderedDict([("module.fc.weight", tz.tensor(w, 0)),
                                     ("module.fc.bias", tz.Tensor(tz.Storage(b, 1), 0, (2,), (1,), parameter=True))])
    tz.save({"state_dict": inner, "epoch": 12}, tmp_path / "ddp.pth")
    got = read_torch_checkpoint(tmp_path / "ddp.pth")
    assert list(got) == ["fc.weight", "fc.bias"]
    np.testing.assert_array_equal(got["fc.weight"], w)
    np.testing.assert_array_equal(got["fc.bias"], b)


def test_bfloat16_read_as_float32(tmp_path):
    # bfloat16 is the top half of a float32: 0x3F80 = 1.0, 0xC000 = -2.0, 0x3F00 = 0.5, 0x4049 = 3.140625
    bits = np.array([0x3F80, 0xC000, 0x3F00, 0x4049], np.uint16)
    storage = tz.Storage(bits, 0, bfloat16=True)
    tz.save({"x": tz.Tensor(storage, 0, (4,), (1,))}, tmp_path / "bf16.pth")
    got = read_torch_checkpoint(tmp_path / "bf16.pth")["x"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [1.0, -2.0, 0.5, 3.140625])


def test_npz(tmp_path):
    w = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    np.savez(tmp_path / "sd.npz", **{"module.a.weight": w})
    got = read_torch_checkpoint(tmp_path / "sd.npz")
    assert list(got) == ["a.weight"]
    np.testing.assert_array_equal(got["a.weight"], w)


def _pickle_calling(module, name, argument):
    return (b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X" + struct.pack("<I", len(argument))
            + argument.encode() + b"\x85R.")


@pytest.mark.parametrize("module,name", [("os", "system"), ("builtins", "eval"), ("torch", "load")])
def test_forbidden_global_refused(tmp_path, module, name):
    path = tmp_path / "evil.pth"
    tz.save({}, path, pickle_bytes=_pickle_calling(module, name, "true"))
    with pytest.raises(ValueError) as error:
        read_torch_checkpoint(path)
    message = str(error.value)
    assert "\n" not in message and f"'{module}.{name}'" in message and "refusing" in message


def test_bad_archives(tmp_path):
    (tmp_path / "legacy.pth").write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(ValueError, match="not a zip archive"):
        read_torch_checkpoint(tmp_path / "legacy.pth")
    with pytest.raises(ValueError, match="no such file"):
        read_torch_checkpoint(tmp_path / "missing.pth")
    # a stride that would read past the end of its 6-element storage must not reach as_strided
    out_of_bounds = {"x": tz.Tensor(tz.Storage(np.zeros(6, np.float32), 0), 0, (3, 3), (3, 1))}
    tz.save(out_of_bounds, tmp_path / "oob.pth")
    with pytest.raises(ValueError, match="reaches element 8 of a storage with 6 elements"):
        read_torch_checkpoint(tmp_path / "oob.pth")
    # a zero stride legally repeats one element (torch's expand()); reading it must not allocate 2^42 bytes
    expanded = {"x": tz.Tensor(tz.Storage(np.ones(1, np.float32), 0), 0, (2**20, 2**20), (0, 0))}
    tz.save(expanded, tmp_path / "expanded.pth")
    with pytest.raises(ValueError, match=r"size \(1048576, 1048576\), stride \(0, 0\) would take 4096.0 GiB"):
        read_torch_checkpoint(tmp_path / "expanded.pth")
    small = {"x": tz.Tensor(tz.Storage(np.full(1, 2.5, np.float32), 0), 0, (2, 3), (0, 0))}
    tz.save(small, tmp_path / "small.pth")
    np.testing.assert_array_equal(read_torch_checkpoint(tmp_path / "small.pth")["x"], np.full((2, 3), 2.5))
    tz.save([tz.tensor(np.zeros(2, np.float32), 0)], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="expected a state dict"):
        read_torch_checkpoint(tmp_path / "list.pth")


def test_stubbed_module_pickle(tmp_path):
    """A whole pickled nn.Module, as the feedback-modulation checkpoints are, through inert stubs."""
    class Module:
        def __reduce__(self):
            state = {"training": True, "_parameters": collections.OrderedDict(
                weight=tz.Tensor(tz.Storage(np.eye(2, dtype=np.float32), 0), 0, (2, 2), (2, 1), parameter=True)),
                "_buffers": collections.OrderedDict(), "_modules": collections.OrderedDict(), "tau": 100,
                "w0": tz.tensor(np.full(3, 0.5, np.float32), 1)}
            return tz.Global("model_base", "Net"), (), state

    tz.save(Module(), tmp_path / "module.pt")
    with pytest.raises(ValueError, match="refusing to unpickle the global 'model_base.Net'"):
        load_torch_pickle(tmp_path / "module.pt")
    net = load_torch_pickle(tmp_path / "module.pt", stubs="model_base.*")
    assert net.qualname == "model_base.Net" and net.state["tau"] == 100
    tensors = module_tensors(net)
    assert sorted(tensors) == ["w0", "weight"]
    np.testing.assert_array_equal(tensors["weight"], np.eye(2))
    np.testing.assert_array_equal(tensors["w0"], [0.5, 0.5, 0.5])


NAUMANN_SHAPES = {"rec_net.weight_ih_l0": (400, 4), "rec_net.weight_hh_l0": (400, 100), "rec_net.bias_ih_l0": (400,),
                  "rec_net.bias_hh_l0": (400,), "hidden2out.weight": (4, 100), "hidden2out.bias": (4,)}


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"the feedback-modulation reference checkpoints are not at "
                                                   f"{os.path.normpath(REFERENCE)}")
def test_real_torch_files():
    """Files written by torch itself (spec feedback_modulation_naumann22.md §6: shapes, w0 in 0.9990–1.0001)."""
    net = load_torch_pickle(REFERENCE / "trained_modulation_net_10000batch.pt",
                            stubs=("model_base.*", "torch.nn.modules.*"))
    tensors = module_tensors(net)
    assert net.qualname == "model_base.ModulationNet" and net.state["tau"] == 1 and net.state["hidden_dim"] == 100
    assert {k: tensors[k].shape for k in NAUMANN_SHAPES} == NAUMANN_SHAPES
    assert tensors["w0"].shape == (2, 2) and 0.9990 <= tensors["w0"].min() and tensors["w0"].max() <= 1.0001
    spatial = module_tensors(load_torch_pickle(REFERENCE / "trained_spatial_net_sines_10000batch.pt",
                                               stubs=("model_base.*", "torch.nn.modules.*")))
    assert (spatial["w0"].shape, spatial["Wro"].shape, spatial["Wm"].shape) == ((100, 2), (2, 100), (100, 4))
    # LSTM's flat weight list holds the same tensors as its named parameters
    np.testing.assert_array_equal(spatial["rec_net._flat_weights.1"], spatial["rec_net.weight_hh_l0"])
