"""CordsNet checkpoint conversion (specs/cordsnet.md §8.2, §8.3 test 7).

The synthetic state dicts are built here from the spec's key table (§8.2) and sizes (§1.3); parameter
counts are the spec's (§1.5); the numerical round trip compares the Keras model with the NumPy
reference of the original equations in tests/convert/_cordsnet_reference.py.
"""

import collections
import itertools
import os
import pathlib

import numpy as np
import pytest

from ndnx.convert import cordsnet as cc
from ndnx.convert import read_torch_checkpoint
from tests.convert import _cordsnet_reference as ref
from tests.convert import _torch_zip as tz

WN = ".parametrizations.weight.original"
# the released checkpoint is not distributed (spec §8, no license): NDNX_CORDSNET_CHECKPOINT or the shared reference
RELEASED = pathlib.Path(os.environ.get("NDNX_CORDSNET_CHECKPOINT") or pathlib.Path(__file__).resolve().parents[2]
                        / ".." / "shared" / "reference" / "cordsnet" / "cordsnetr8.pth")
CHANNELS = [64, 64, 128, 128, 256, 256, 512, 512]
SIZES_224 = [56, 56, 28, 28, 14, 14, 7, 7]  # spec §1.3
SIZES_32 = [8, 8, 4, 4, 2, 2, 1, 1]  # 32 px: stem 7×7/s2/p3 → 16, pool 3×3/s2/p1 → 8, then halved


def spec_key_shapes(depth, num_classes, channels, sizes):
    """The original's state-dict keys and shapes, written from the table of spec §8.2."""
    shapes = collections.OrderedDict()
    shapes[f"inp_conv{WN}0"], shapes[f"inp_conv{WN}1"] = (64, 1, 1, 1), (64, channels, 7, 7)
    shapes[f"inp_skip{WN}0"], shapes[f"inp_skip{WN}1"] = (64, 1, 1, 1), (64, 64, 3, 3)
    for i in range(depth):
        c, c_in = CHANNELS[i], ([64] + CHANNELS)[i]
        shapes[f"area_conv.{i}{WN}0"], shapes[f"area_conv.{i}{WN}1"] = (c, 1, 1, 1), (c, c, 3, 3)
        shapes[f"area_area.{i}{WN}0"], shapes[f"area_area.{i}{WN}1"] = (c, 1, 1, 1), (c, c_in, 3, 3)
        shapes[f"conv_bias.{i}"] = (c, sizes[i], sizes[i])
    for k in range(depth // 2 - 1):
        c = [64, 128, 256][k]
        shapes[f"skip_area.{k}{WN}0"], shapes[f"skip_area.{k}{WN}1"] = (2 * c, 1, 1, 1), (2 * c, c, 1, 1)
    shapes["out_fc.bias"] = (num_classes,)
    shapes[f"out_fc{WN}0"], shapes[f"out_fc{WN}1"] = (num_classes, 1), (num_classes, CHANNELS[depth - 1])
    return shapes


def synthetic_state_dict(shapes, seed=0, g_range=(0.3, 0.8)):
    """Random v, positive g (not ‖v‖), random biases; float32 as in the released checkpoint."""
    rng = np.random.default_rng(seed)
    sd = collections.OrderedDict()
    for key, shape in shapes.items():
        if key.endswith(WN + "0"):
            sd[key] = rng.uniform(*g_range, size=shape).astype(np.float32)
        elif key.startswith("conv_bias"):
            sd[key] = (0.3 * rng.standard_normal(shape)).astype(np.float32)
        else:
            sd[key] = rng.standard_normal(shape).astype(np.float32)
    return sd


# ---------------------------------------------------------------------------------------------------- reference


def test_reference_average_pool_border_weights():
    """count_include_pad: a constant map pools to 4/9 at the top-left corner, 6/9 on the top/left edges (spec §3)."""
    pooled = ref.avg_pool_3x3_s2_p1(np.ones((1, 1, 8, 8)))
    assert pooled.shape == (1, 1, 4, 4)
    np.testing.assert_allclose(pooled[0, 0, 0, 0], 4 / 9)
    np.testing.assert_allclose(pooled[0, 0, 0, 1:], 6 / 9)
    np.testing.assert_allclose(pooled[0, 0, 1:, 0], 6 / 9)
    np.testing.assert_allclose(pooled[0, 0, 1:, 1:], 1.0)


def test_reference_conv_matches_brute_force():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 2, 9, 7)), rng.standard_normal((3, 2, 3, 3))
    out = ref.conv2d(x, w, stride=2, padding=1)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    brute = np.array([[[sum(w[o, c, u, v] * xp[0, c, 2 * i + u, 2 * j + v]
                            for c, u, v in itertools.product(range(2), range(3), range(3)))
                        for j in range(4)] for i in range(5)] for o in range(3)])
    np.testing.assert_allclose(out[0], brute, rtol=1e-12)


# ---------------------------------------------------------------------------------------------- key mapping


@pytest.mark.parametrize("depth,keys,params", [(2, 17, 661_520), (4, 29, 1_451_152), (6, 41, 3_777_936),
                                               (8, 53, 12_475_280)])
def test_key_counts_and_parameter_counts(depth, keys, params):
    """Spec §1.5: keys and parameters (incl. g) of R2/R4/R6/R8 at 224 px, 1000 classes, RGB."""
    shapes = spec_key_shapes(depth, 1000, 3, SIZES_224)
    assert len(shapes) == keys
    assert dict(cc.torch_key_shapes(depth, 1000, 3, 224)) == dict(shapes)
    sd = {k: np.zeros(s, np.float32) for k, s in shapes.items()}
    canonical, info = cc.cordsnet_parameters(sd)
    assert (info["depth"], info["num_classes"], info["channels"], info["image_size"]) == (depth, 1000, 3, (224, 224))
    assert [s[0] for s in info["area_sizes"]] == SIZES_224[:depth]
    assert cc.count_parameters(canonical) == params
    if depth == 8:
        assert cc.count_parameters(canonical, folded=True) == 12_469_416


@pytest.mark.parametrize("num_classes,params", [(10, 11_966_420), (100, 12_012_680)])
def test_parameter_counts_other_class_counts(num_classes, params):
    shapes = cc.canonical_shapes(8, num_classes, 3, 224)
    assert cc.count_parameters({n: np.zeros(s) for n, s in shapes.items()}) == params


def test_r8_mapping_transposes():
    """Full-size synthetic R8: every canonical array is the spec's transpose of its PyTorch tensor."""
    sd = synthetic_state_dict(spec_key_shapes(8, 1000, 3, SIZES_224))
    canonical, _ = cc.cordsnet_parameters({"module." + k: v for k, v in sd.items()})
    assert len(canonical) == 53
    np.testing.assert_array_equal(canonical["stem/g"], sd[f"inp_conv{WN}0"][:, 0, 0, 0])
    np.testing.assert_array_equal(canonical["stem/v"], sd[f"inp_conv{WN}1"].transpose(2, 3, 1, 0))
    assert canonical["stem/v"].shape == (7, 7, 3, 64)
    np.testing.assert_array_equal(canonical["inp_skip/v"], sd[f"inp_skip{WN}1"].transpose(2, 3, 1, 0))
    for j in range(8):
        np.testing.assert_array_equal(canonical[f"area{j}/ff/v"], sd[f"area_area.{j}{WN}1"].transpose(2, 3, 1, 0))
        np.testing.assert_array_equal(canonical[f"area{j}/ff/g"], sd[f"area_area.{j}{WN}0"].ravel())
        np.testing.assert_array_equal(canonical[f"area{j}/rec/v"], sd[f"area_conv.{j}{WN}1"].transpose(2, 3, 1, 0))
        np.testing.assert_array_equal(canonical[f"area{j}/rec/g"], sd[f"area_conv.{j}{WN}0"].ravel())
        np.testing.assert_array_equal(canonical[f"area{j}/bias"], sd[f"conv_bias.{j}"].transpose(1, 2, 0))
    assert canonical["area2/ff/v"].shape == (3, 3, 64, 128) and canonical["area7/bias"].shape == (7, 7, 512)
    for k in range(3):
        np.testing.assert_array_equal(canonical[f"skip{k}/v"][0, 0], sd[f"skip_area.{k}{WN}1"][:, :, 0, 0].T)
        np.testing.assert_array_equal(canonical[f"skip{k}/g"], sd[f"skip_area.{k}{WN}0"].ravel())
    np.testing.assert_array_equal(canonical["readout/v"], sd[f"out_fc{WN}1"].T)
    np.testing.assert_array_equal(canonical["readout/g"], sd[f"out_fc{WN}0"].ravel())
    np.testing.assert_array_equal(canonical["readout/bias"], sd["out_fc.bias"])
    # one element by explicit index: Keras (u, v, in, out) = PyTorch (out, in, u, v)
    assert canonical["area5/ff/v"][2, 0, 17, 200] == sd[f"area_area.5{WN}1"][200, 17, 2, 0]
    back = cc.torch_state_dict(canonical)
    assert list(back) == list(cc.torch_key_shapes(8, 1000, 3, 224))
    for key, value in sd.items():
        np.testing.assert_array_equal(back[key], value)


def test_bad_state_dicts_one_clear_line():
    sd = {k: np.zeros(s, np.float32) for k, s in spec_key_shapes(4, 10, 1, SIZES_224).items()}
    cases = [
        ({k: v for k, v in sd.items() if k != f"area_conv.2{WN}1"},
         f"state dict has no key 'area_conv.2{WN}1' (expected shape (128, 128, 3, 3)"),
        ({**sd, f"skip_area.0{WN}1": np.zeros((128, 64, 3, 3))},
         f"skip_area.0{WN}1 must have shape (128, 64, 1, 1), got (128, 64, 3, 3)"),
        ({**sd, "area_bias.0": np.zeros((64, 56, 56))}, "unexpected key 'area_bias.0'"),
        ({k: v for k, v in sd.items() if k != "conv_bias.3"}, "expected conv_bias.0"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError) as error:
            cc.cordsnet_parameters(bad)
        assert str(error.value).startswith("cordsnet_parameters: ") and "\n" not in str(error.value)
        assert message in str(error.value)


def test_image_size_inference():
    """Area 0 at S0 = 56 ⇔ inputs 221…224 px (stem and pool round down); 4·S0 = 224 is taken unless given."""
    sd = {k: np.zeros(s, np.float32) for k, s in spec_key_shapes(2, 10, 3, SIZES_224).items()}
    assert cc.cordsnet_parameters(sd)[1]["image_size"] == (224, 224)
    assert cc.cordsnet_parameters(sd, image_size=221)[1]["image_size"] == (221, 221)
    with pytest.raises(ValueError, match=r"image_size \(220, 220\) gives area 0 of size \(55, 55\)"):
        cc.cordsnet_parameters(sd, image_size=220)
    assert [cc.area_sizes(n, 8)[0][0] for n in (217, 220, 221, 224, 225)] == [55, 55, 56, 56, 57]


# -------------------------------------------------------------------------------------------------- step 1


def step1_state_dict(depth, num_classes, names, seed=0, plain=False):
    """A step-1 CNN state dict under the names of `names` (assumed module name → the file's)."""
    rng = np.random.default_rng(seed)
    sd = {}

    def conv(module, shape):
        if plain:
            sd[f"{names(module)}.weight"] = rng.standard_normal(shape).astype(np.float32)
        else:
            sd[f"{names(module)}{WN}0"] = rng.uniform(0.5, 1.5, (shape[0],) + (1,) * (len(shape) - 1)).astype(np.float32)
            sd[f"{names(module)}{WN}1"] = rng.standard_normal(shape).astype(np.float32)

    def bn(module, c):
        for field in ("weight", "bias", "running_mean"):
            sd[f"{names(module)}.{field}"] = rng.standard_normal(c).astype(np.float32)
        sd[f"{names(module)}.running_var"] = rng.uniform(0.5, 2, c).astype(np.float32)
        sd[f"{names(module)}.num_batches_tracked"] = np.array(7, np.int64)

    conv("inp_conv", (64, 3, 7, 7)), bn("inp_bn", 64), conv("inp_skip", (64, 64, 3, 3))
    for j in range(depth):
        c, c_in = CHANNELS[j], ([64] + CHANNELS)[j]
        conv(f"area_area.{j}", (c, c_in, 3, 3)), bn(f"area_bn1.{j}", c)
        conv(f"area_conv.{j}", (c, c, 3, 3)), bn(f"area_bn2.{j}", c)
        sd[f"{names(f'area_bias.{j}')}"] = rng.standard_normal(c).astype(np.float32)  # declared, unused (spec §3)
    for k in range(depth // 2 - 1):
        c = [64, 128, 256][k]
        conv(f"skip_area.{k}", (2 * c, c, 1, 1)), bn(f"skip_bn.{k}", 2 * c)
    conv("out_fc", (num_classes, CHANNELS[depth - 1]))
    sd[f"{names('out_fc')}.bias"] = rng.standard_normal(num_classes).astype(np.float32)
    return sd


def test_step1_mapping_and_key_map():
    sd = step1_state_dict(4, 10, names=lambda m: m)
    canonical, info = cc.step1_parameters(sd)
    assert info == {"depth": 4, "num_classes": 10, "channels": 3}
    np.testing.assert_array_equal(canonical["area3/rec/v"], sd[f"area_conv.3{WN}1"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(canonical["area1/ff/bn/var"], sd["area_bn1.1.running_var"])
    np.testing.assert_array_equal(canonical["area2/rec/bn/gamma"], sd["area_bn2.2.weight"])
    np.testing.assert_array_equal(canonical["skip0/bn/beta"], sd["skip_bn.0.bias"])
    np.testing.assert_array_equal(canonical["stem/bn/mean"], sd["inp_bn.running_mean"])
    assert "inp_skip/bn/gamma" not in canonical and canonical["readout/v"].shape == (128, 10)
    # 4 × (g, v, 4 BN) per area conv pair ×2, stem (g, v, 4 BN), inp_skip (g, v), 1 skip (g, v, 4 BN), readout 3
    assert len(canonical) == 4 * 2 * 6 + 6 + 2 + 6 + 3

    renamed = {"area_bn1": "bn1", "area_bn2": "bn2", "inp_bn": "stem_bn", "area_area.0": "first.conv"}
    sd2 = step1_state_dict(4, 10, names=lambda m: renamed.get(m, renamed.get(m.split(".")[0], m.split(".")[0])
                                                                + m[len(m.split(".")[0]):]))
    canonical2, _ = cc.step1_parameters(sd2, key_map=renamed)
    for name, value in canonical.items():
        np.testing.assert_array_equal(canonical2[name], value, err_msg=name)
    partial = {"area_area.0": "first.conv", "inp_bn": "stem_bn"}
    with pytest.raises(ValueError, match=r"step1_parameters: state dict has no key 'area_bn1.0.weight' "
                                         r"\(batch norm of area0/ff; rename with key_map\)$"):
        cc.step1_parameters(sd2, key_map=partial)


def test_step1_plain_weights_keep_the_kernel():
    """A conv saved without weight norm reads as g = ‖weight‖, v = weight: g·v/‖v‖ is the weight itself."""
    sd = step1_state_dict(2, 5, names=lambda m: m, plain=True)
    canonical, _ = cc.step1_parameters(sd)
    v, g = canonical["area1/ff/v"], canonical["area1/ff/g"]
    kernel = g * v / np.sqrt(np.sum(v.astype(np.float64) ** 2, axis=(0, 1, 2)))
    np.testing.assert_allclose(kernel, sd["area_area.1.weight"].transpose(2, 3, 1, 0), rtol=1e-6)


# ------------------------------------------------------------------------------------ round trip (§8.3 test 7)

BLANK, STIMULUS, CLASSES = 10, 10, 5


@pytest.fixture(scope="module")
def small_r8():
    """A synthetic 53-key R8 at 32 px (areas 8, 8, 4, 4, 2, 2, 1, 1), its images and the reference run."""
    sd = synthetic_state_dict(spec_key_shapes(8, CLASSES, 3, SIZES_32), seed=3)
    images = 3.0 * np.random.default_rng(4).standard_normal((2, 3, 32, 32))
    logits, states = ref.run(sd, images, BLANK, STIMULUS)
    return sd, images, logits, states


def _assert_close(got, expected, what):
    """Within 1e-4 of the reference, relative to its largest magnitude (spec §8.3 test 7: ≈1e-4 relative)."""
    error = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
    assert error < 1e-4, f"{what}: max error {error:.2e} of the largest reference value"


def test_round_trip_through_torch_zip(small_r8, tmp_path):
    """Synthetic R8 → torch zip → load_cordsnet → Keras logits and states = NumPy reference of the original."""
    sd, images, logits, states = small_r8
    tensors = collections.OrderedDict(("module." + k, tz.tensor(v, i)) for i, (k, v) in enumerate(sd.items()))
    tz.save(tensors, tmp_path / "cordsnetr8.pth", prefix="cordsnetr8", compress=True)
    # jit_loop=False: XLA compilation would triple this test's time and the numbers do not depend on it
    model = cc.load_cordsnet(tmp_path / "cordsnetr8.pth", blank_steps=BLANK, stimulus_steps=STIMULUS,
                             jit_loop=False)
    assert (model.depth, model.num_classes, model.channels, model.image_size) == (8, CLASSES, 3, (32, 32))
    assert {n: tuple(s) for n, s in model.parameter_shapes().items()} == dict(cc.canonical_shapes(8, CLASSES, 3, 32))
    out = model.simulate(images.transpose(0, 2, 3, 1).astype(np.float32), return_states=True)
    # the image reaches the readout at stimulus step 4 (spec §2.3), so the last logits carry it
    assert np.max(np.abs(logits[0, -1] - logits[1, -1])) > 1e-3
    _assert_close(np.asarray(out["logits"]), logits, "logits")
    for j, state in enumerate(states):
        _assert_close(np.asarray(out["states"][j][:, -1]), state.transpose(0, 2, 3, 1), f"area {j} state")
    back = cc.torch_state_dict(model.get_parameters())
    for key, value in sd.items():
        np.testing.assert_array_equal(back[key], value, err_msg=key)


def test_offline_npz_script(small_r8, tmp_path):
    import importlib.util

    sd = small_r8[0]
    tensors = collections.OrderedDict((k, tz.tensor(v, i)) for i, (k, v) in enumerate(sd.items()))
    tz.save(tensors, tmp_path / "cordsnetr8.pth", prefix="archive")
    script = pathlib.Path(__file__).resolve().parents[2] / "utils" / "cordsnet_pth_to_npz.py"
    spec = importlib.util.spec_from_file_location("cordsnet_pth_to_npz", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    target, count = module.convert(str(tmp_path / "cordsnetr8.pth"), reader="ndnx")
    assert count == 53 and target.endswith("cordsnetr8.npz")
    with np.load(target) as npz:
        assert sorted(npz.files) == sorted(sd)
        for key, value in sd.items():
            np.testing.assert_array_equal(npz[key], value, err_msg=key)
    from_npz, _ = cc.cordsnet_parameters(read_torch_checkpoint(target))
    np.testing.assert_array_equal(from_npz["area6/ff/v"], sd[f"area_area.6{WN}1"].transpose(2, 3, 1, 0))


@pytest.mark.skipif(not RELEASED.is_file(), reason=f"the released cordsnetr8.pth is not at {os.path.normpath(RELEASED)} "
                                                   f"(set NDNX_CORDSNET_CHECKPOINT to its path)")
def test_released_checkpoint():
    """The published R8 (spec §1.5, §8.2): 53 keys, 12,475,280 parameters, ImageNet geometry."""
    state_dict = read_torch_checkpoint(RELEASED)
    assert len(state_dict) == 53
    canonical, info = cc.cordsnet_parameters(state_dict)
    assert (info["depth"], info["num_classes"], info["channels"], info["image_size"]) == (8, 1000, 3, (224, 224))
    assert cc.count_parameters(canonical) == 12_475_280
    assert cc.count_parameters(canonical, folded=True) == 12_469_416
    assert all(np.all(np.isfinite(value)) for value in canonical.values())
