"""CordsNet's compatibility CNN (spec cordsnet.md §3 step 1) and BN folding (step 1b, spec §8.3 test 3).

The reference is a brute-force NumPy forward written here with PyTorch semantics (symmetric zero
padding, count_include_pad average pool) of the *folded* network with its (H, W, C) bias maps:
the Keras CNN with BatchNorm in inference mode must give the same logits.
"""

import numpy as np
import pytest

from ndnx.models.cordsnet_cnn import CordsNetCNN, StagedWarmup, area_sizes
from ndnx.models.cordsnet_folding import fold_batch_norm

RNG = np.random.default_rng(11)


def conv(x, g, v, stride, pad):
    """Cross-correlation of x (B, H, W, Cin) with g·v/‖v‖ (k, k, Cin, Cout), PyTorch padding, by loops over taps."""
    w = g * v / np.sqrt((v ** 2).sum(axis=tuple(range(v.ndim - 1)), keepdims=True))
    k = w.shape[0]
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    ho, wo = (xp.shape[1] - k) // stride + 1, (xp.shape[2] - k) // stride + 1
    out = np.zeros((x.shape[0], ho, wo, w.shape[-1]))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, i * stride:i * stride + k, j * stride:j * stride + k, :]
            out[:, i, j] = np.einsum("bhwc,hwcd->bd", patch, w)
    return out


def avg_pool_include_pad(x):
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ho, wo = (xp.shape[1] - 3) // 2 + 1, (xp.shape[2] - 3) // 2 + 1
    return np.stack([np.stack([xp[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3].sum(axis=(1, 2)) / 9.0 for j in range(wo)], 1)
                     for i in range(ho)], 1)


def folded_forward(f, x, depth):
    """Spec §3 step 1b: x_j = ReLU(rec_j(ff_j(h_j) + ff_bias_j) + bias_j), stem and skips without bias."""
    inp = avg_pool_include_pad(conv(x, f["stem/g"], f["stem/v"], 2, 3))
    acts = []
    for j in range(depth):
        if j == 0:
            h = inp
        elif j == 1:
            h = acts[0] + conv(inp, f["inp_skip/g"], f["inp_skip/v"], 1, 1)
        elif j % 2 == 0:
            h = acts[j - 1] + acts[j - 2]
        else:
            k = (j - 3) // 2
            h = acts[j - 1] + conv(acts[j - 2], f[f"skip{k}/g"], f[f"skip{k}/v"], 2, 0)
        stride = 2 if j >= 2 and j % 2 == 0 else 1
        y = conv(h, f[f"area{j}/ff/g"], f[f"area{j}/ff/v"], stride, 1) + f[f"area{j}/ff_bias"]
        acts.append(np.maximum(conv(y, f[f"area{j}/rec/g"], f[f"area{j}/rec/v"], 1, 1) + f[f"area{j}/bias"], 0))
    w = f["readout/g"] * f["readout/v"] / np.sqrt((f["readout/v"] ** 2).sum(0, keepdims=True))
    return (acts[-1] + acts[-2]).mean(axis=(1, 2)) @ w + f["readout/bias"]


def random_statistics(parameters):
    """Non-trivial BN statistics and affine parameters (inference mode uses them all)."""
    p = dict(parameters)
    for name in p:
        if name.endswith("/bn/gamma"):
            p[name] = RNG.uniform(0.5, 1.5, p[name].shape)
        elif name.endswith("/bn/beta") or name.endswith("/bn/mean"):
            p[name] = RNG.normal(0.0, 0.5, p[name].shape)
        elif name.endswith("/bn/var"):
            p[name] = RNG.uniform(0.3, 2.0, p[name].shape)
        elif name == "readout/bias":
            p[name] = RNG.normal(0.0, 0.5, p[name].shape)
    return {k: np.asarray(v, "float32") for k, v in p.items()}


def test_area_sizes_follow_pytorch_geometry():
    # spec §8.1: 224 → stem 112 → pool 56, then 28, 14, 7; 28-px MNIST → 14 → 7, then 4
    assert area_sizes(224, 8) == [(56, 56)] * 2 + [(28, 28)] * 2 + [(14, 14)] * 2 + [(7, 7)] * 2
    assert area_sizes(28, 4) == [(7, 7), (7, 7), (4, 4), (4, 4)]


@pytest.mark.parametrize("depth,size", [(4, 15), (2, 12)])
def test_bn_folding_gives_the_cnn_logits_including_borders(depth, size):
    """Spec §8.3 test 3: the CNN with BN in inference mode equals its folded version (odd and even sizes)."""
    cnn = CordsNetCNN(depth=depth, num_classes=5, image_size=size, channels=2, seed=3)
    parameters = random_statistics(cnn.get_parameters())
    cnn.set_parameters(parameters)
    x = RNG.normal(size=(2, size, size, 2)).astype("float32")
    folded = fold_batch_norm(parameters, size)
    expected = folded_forward({k: v.astype("float64") for k, v in folded.items()}, x.astype("float64"), depth)
    got = np.asarray(cnn(x, training=False))
    assert np.abs(expected).max() > 0.5  # logits of size, not a trivially zero network
    np.testing.assert_allclose(got, expected, atol=1e-5 * np.abs(expected).max(), rtol=0)
    # the bias maps really are position dependent (zero padding), so a per-channel bias would not do
    assert np.ptp(folded["area0/ff_bias"][:, :, 0]) > 1e-3 and np.ptp(folded["area1/ff_bias"][:, :, 0]) > 1e-3


def test_stem_bias_reaches_area_0_with_count_include_pad_weights_6_9_and_4_9():
    """A constant stem bias β through the 3×3/s2/p1 pool: corner 4/9 β, top and left borders 6/9 β, else β."""
    size, beta = 16, 0.7
    cnn = CordsNetCNN(depth=2, num_classes=3, image_size=size, channels=1, seed=0)
    p = cnn.get_parameters()
    for name in ("stem", "area0/ff"):  # BN that only shifts: γ = 1, μ = 0, σ² + ε = 1
        p[f"{name}/bn/gamma"], p[f"{name}/bn/mean"] = np.ones(64, "float32"), np.zeros(64, "float32")
        p[f"{name}/bn/var"] = np.full(64, 1.0 - 1e-5, "float32")
        p[f"{name}/bn/beta"] = np.zeros(64, "float32")
    p["stem/bn/beta"] = np.full(64, beta, "float32")
    dirac = np.zeros((3, 3, 64, 64), "float32")
    dirac[1, 1] = np.eye(64)
    p["area0/ff/v"], p["area0/ff/g"] = dirac, np.ones(64, "float32")  # area 0's ff conv is the identity
    pooled = fold_batch_norm(p, size)["area0/ff_bias"][:, :, 0]
    assert pooled.shape == (4, 4)  # 16 → stem 8 → pool 4
    expected = np.full((4, 4), beta)
    expected[0, :] = expected[:, 0] = 6 / 9 * beta
    expected[0, 0] = 4 / 9 * beta
    np.testing.assert_allclose(pooled, expected, rtol=1e-6)


def test_staged_warmup_is_linear_from_a_third_within_each_stage():
    s = StagedWarmup(rates=(0.1, 0.01, 0.001), stage_steps=300, warmup_steps=100)
    steps = np.array([0, 25, 99, 100, 299, 300, 350, 600, 700, 5000])
    base = np.array([0.1] * 5 + [0.01] * 2 + [0.001] * 3)
    into = np.array([0, 25, 99, 100, 299, 0, 50, 0, 100, 4400])
    expected = base * (1 / 3 + 2 / 3 * np.minimum(into, 100) / 100)  # PyTorch LinearLR(1/3, total_iters=100)
    np.testing.assert_allclose([float(s(t)) for t in steps], expected, rtol=1e-6)


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ValueError, match="CordsNetCNN: depth must be one of"):
        CordsNetCNN(depth=3)
    with pytest.raises(ValueError, match="CordsNetCNN: image_size must be an integer >= 5, got 4"):
        CordsNetCNN(depth=8, image_size=4)
    with pytest.raises(ValueError, match="rec_init must be"):
        CordsNetCNN(rec_init="zeros")
    cnn = CordsNetCNN(depth=2, num_classes=3, image_size=12, channels=1)
    p = cnn.get_parameters()
    p["area0/ff/v"] = np.zeros((3, 3, 64, 32))
    with pytest.raises(ValueError, match=r"area0/ff/v must have shape \(3, 3, 64, 64\)"):
        cnn.set_parameters(p)


def test_recurrent_convs_start_at_the_identity_and_only_unnormalised_gains_train():
    """rec_init="identity": v = δ + N(0, 0.01·2/fan_in), g = ‖v‖; g trains only where no BN follows."""
    cnn = CordsNetCNN(depth=2, num_classes=3, image_size=12, channels=1, seed=0)
    p = cnn.get_parameters()
    dirac = np.zeros((3, 3, 64, 64))
    dirac[1, 1] = np.eye(64)
    noise = p["area0/rec/v"] - dirac
    assert abs(noise.std() - 0.1 * np.sqrt(2 / (9 * 64))) < 0.05 * 0.1 * np.sqrt(2 / (9 * 64))  # 36,864 draws
    np.testing.assert_allclose(p["area0/rec/g"], np.sqrt((p["area0/rec/v"] ** 2).sum(axis=(0, 1, 2))), rtol=1e-6)
    random = CordsNetCNN(depth=2, num_classes=3, image_size=12, channels=1, rec_init="random", seed=0)
    assert abs(random.get_parameters()["area0/rec/v"].std() - np.sqrt(2 / (9 * 64))) < 0.05 * np.sqrt(2 / (9 * 64))
    trained_g = sorted(name for name, layer, _ in cnn._named_layers() if layer.g.trainable)
    assert trained_g == ["inp_skip", "readout"]
