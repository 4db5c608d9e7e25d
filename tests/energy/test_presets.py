"""NRF-LV presets and the initter against the spec's tables (energy_sampling_nrflv.md §1.4, §1.5)."""

import numpy as np
import pytest

import ndnx
from ndnx.energy.initter import Initter


def _conv(cin, cout, k):
    return cin * cout * k * k + cout


def _cct(cin, cout, k):  # conv and transposed conv in parallel, half the output channels each
    return 2 * _conv(cin, cout // 2, k)


def test_thesis_initter_count_follows_section_1_5():
    # §1.5 for image 3×32×32 and latents SL1 32×32×32, SL2 32×8×8, SL3 5×5×5: 5 dense blocks (1×1 conv to 32,
    # cct k7 to 32) → 163 channels; per latent: first block 163 → max(32, 2C) k7 (conv-only, padding 0 when the
    # latent is smaller than the image, else cct), second cct → max(32, C) k7, 1×1 conv → C. Weight-norm gains
    # excluded, as the spec's own counts.
    encoder = sum(_conv(3 + 32 * b, 32, 1) + _cct(32, 32, 7) for b in range(5))
    heads = [_cct(163, 64, 7) + _cct(64, 32, 7) + _conv(32, 32, 1),
             _conv(163, 64, 7) + _cct(64, 32, 7) + _conv(32, 32, 1),
             _conv(163, 32, 7) + _cct(32, 32, 7) + _conv(32, 5, 1)]
    assert (encoder, heads) == (261_920, [612_672, 612_672, 305_989])
    initter = Initter((32, 32, 3), [(32, 32, 32), (8, 8, 32), (5, 5, 5)], channels=32, kernel=7, activation="swish")
    initter.build()
    assert initter.count_params() == encoder + sum(heads) == 1_793_253
    per_head = {}
    for w in initter.weights:
        part = w.path.split("/")[-2].split("_")[0]
        per_head[part] = per_head.get(part, 0) + int(np.prod(w.shape))
    assert [per_head[f"head{i}"] for i in range(3)] == heads


# §1.4's table, (C, H, W) per latent layer
SPEC_TABLE = {
    "NRFLV_CIFAR_6SL_vanilla_densebackw_skip1_4": [(32, 32, 32), (32, 16, 16), (32, 8, 8), (16, 8, 8), (5, 5, 5)],
    "NRFLV_CIFAR_6SL_vanilla_densebackw_skip1_4_withwideSL1base":
        [(32, 32, 32), (32, 16, 16), (32, 8, 8), (16, 8, 8), (5, 5, 5)],
    "NRFLV_CIFAR_4SL_vanilla_densebackw_skip1_4_truncated_with_wideSL1base": [(32, 32, 32), (32, 16, 16), (5, 5, 5)],
    "NRFLV_CIFAR_3SL_densebackw_verysmall_with_wideSL1base": [(16, 32, 32), (5, 5, 5)],
    "NRFLV_CIFAR_3SL_densebackw_small_with_wideSL1base": [(32, 32, 32), (5, 5, 5)],
    "NRFLV_CIFAR_4SL_small_densebackw_wideSL1base": [(32, 32, 32), (32, 8, 8), (5, 5, 5)],
    "NRFLV_CIFAR_4SL_smaller_densebackw_wideSL1base": [(32, 32, 32), (16, 8, 8), (5, 5, 5)],
}


@pytest.mark.parametrize("name", sorted(SPEC_TABLE))
def test_cifar_presets_match_the_spec_table(name):
    kwargs = ndnx.energy.presets.nrflv_architecture(name)
    shapes = [tuple(layer["shape"]) for layer in kwargs["layers"]]
    assert shapes == [(32, 32, 3)] + [(h, w, c) for c, h, w in SPEC_TABLE[name]]
    edges = {(e["source"], e["target"]): e for e in kwargs["edges"]}
    top = f"sl{len(shapes) - 1}"
    # densebackw: the image reads every latent; the top layer is fully connected only
    assert all((f"sl{i}", "image") in edges for i in range(1, len(shapes)))
    assert all(e["kind"] == "dense" for (s, t), e in edges.items() if top in (s, t))
    assert all(e["kind"] == "conv" for (s, t), e in edges.items() if top not in (s, t))
    wide = "wideSL1base" in name or "withwideSL1base" in name
    assert edges[("sl1", "sl1")]["kernel"] == (11 if wide else 7)
    assert (("sl1", "sl4") in edges and ("sl4", "sl1") in edges) == name.startswith("NRFLV_CIFAR_6SL")
    if "smaller" in name:  # "SL2 3x3 kernels"
        assert {e["kernel"] for (s, t), e in edges.items() if t == "sl2" and e["kind"] == "conv"} == {3}
        assert kwargs["layers"][2]["final_kernel"] == 3
