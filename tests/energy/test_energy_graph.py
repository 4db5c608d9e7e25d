"""EnergyGraph: the energy definition against NumPy, gradients against finite differences, the thesis
parameter count, the fused subsampling, and bad input (spec energy_sampling_nrflv.md §1, §8 test 5)."""

import numpy as np
import pytest
import tensorflow as tf

import ndnx
from ndnx.energy.cct_conv import CCTConv
from ndnx.energy.layer_network import nearest_resize

RNG = np.random.default_rng(5)


def _tiny(dtype="float64", **kwargs):
    layers = [{"name": "x", "shape": [2]}, {"name": "h", "shape": [3]}]
    edges = [{"source": "h", "target": "x", "kind": "dense"}, {"source": "x", "target": "h", "kind": "dense"}]
    graph = ndnx.energy.EnergyGraph(layers, edges, state_activation="identity", activation="swish", seed=1,
                                    dtype=dtype, **kwargs)
    graph.build()
    for b in graph.biases:
        b.assign(RNG.normal(size=b.shape))
    return graph


def _swish(x):
    return x / (1 + np.exp(-x))


def _numpy_energy(graph, states):
    w = {k: v.numpy() for k, v in graph.weights_by_name().items()}
    f = {}
    for target, source in (("x", 1), ("h", 0)):
        hidden = _swish(states[source] @ w[f"{target}_fc_in/kernel"] + w[f"{target}_fc_in/bias"])
        f[target] = hidden @ w[f"{target}_fc_out/kernel"] + w[f"{target}_fc_out/bias"]
    units = [0.5 * s ** 2 - w[f"bias/{n}"] * s - 0.5 * s * f[n] for n, s in zip(("x", "h"), states)]
    return units, units[0].sum(1) + units[1].sum(1), f


def test_energy_is_the_sum_of_unit_energies_and_matches_numpy():
    graph = _tiny()
    states = [RNG.normal(size=(3, 2)), RNG.normal(size=(3, 3))]
    units, energy, _ = _numpy_energy(graph, states)
    for got, want in zip(graph.unit_energies(states), units):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(graph(states).numpy(), energy, rtol=1e-12)
    np.testing.assert_allclose(graph.total_energy(states).numpy(), energy.mean(), rtol=1e-12)
    summed = ndnx.energy.EnergyGraph.from_config(dict(graph.get_config(), reduction="sum"))
    summed.build()
    for a, b in zip(summed.weights, graph.weights):
        a.assign(b)
    np.testing.assert_allclose(summed.total_energy(states).numpy(), energy.sum(), rtol=1e-12)
    packed = np.concatenate(states, axis=1)
    np.testing.assert_allclose(graph(packed).numpy(), energy, rtol=1e-12)


def test_gradient_matches_finite_differences_and_ff_dynamics_is_the_local_update():
    graph = _tiny()
    states = [RNG.normal(size=(3, 2)), RNG.normal(size=(3, 3))]
    grads = graph.state_gradients(states)
    eps = 1e-6
    for layer in range(2):
        for unit in range(states[layer].shape[1]):
            up = [s.copy() for s in states]
            down = [s.copy() for s in states]
            up[layer][:, unit] += eps
            down[layer][:, unit] -= eps
            numeric = (graph(up).numpy() - graph(down).numpy()) / (2 * eps)
            np.testing.assert_allclose(grads[layer].numpy()[:, unit], numeric, atol=1e-7)
    local = ndnx.energy.EnergyGraph.from_config(dict(graph.get_config(), ff_dynamics=True))
    local.build()
    for a, b in zip(local.weights, graph.weights):
        a.assign(b)
    _, _, f = _numpy_energy(graph, states)
    want = states[0] - graph.biases[0].numpy() - 0.5 * f["x"]
    np.testing.assert_allclose(local.state_gradients(states, [True, False])[0].numpy(), want, rtol=1e-12)
    # a layer that no other layer reads, and that does not read itself: the local update is ∂E/∂s
    one_way = ndnx.energy.EnergyGraph([{"name": "x", "shape": [2]}, {"name": "h", "shape": [3]}],
                                      [{"source": "h", "target": "x", "kind": "dense"}], state_activation="identity",
                                      seed=2, dtype="float64", ff_dynamics=True)
    exact = ndnx.energy.EnergyGraph.from_config(dict(one_way.get_config(), ff_dynamics=False))
    one_way.build(), exact.build()
    for a, b in zip(exact.weights, one_way.weights):
        a.assign(b)
    np.testing.assert_allclose(one_way.state_gradients(states)[0].numpy(), exact.state_gradients(states)[0].numpy(),
                               rtol=1e-12)


def test_thesis_architecture_parameter_count_and_stable_names():
    graph = ndnx.energy.nrflv_graph("NRFLV_CIFAR_4SL_small_densebackw_wideSL1base")
    graph.build()
    assert graph.count_params() == 1_026_717  # as PyTorch counts the original (weight-norm gains included)
    names = graph.weights_by_name()
    assert names["sl1_from_sl1/conv_v"].shape == (11, 11, 32, 32)  # the wide lateral SL1 base
    assert names["sl2_from_sl1/conv_v"].shape == (7, 7, 32, 32)
    assert names["sl3_fc_in/v"].shape == (32 * 64 + 125, 64)
    assert names["image_out/conv"].shape == (7, 7, 32, 3)
    assert sum(int(np.prod(v.shape)) for k, v in names.items() if k.startswith("bias/")) == 38_013
    assert graph.networks[2].base[0].stride == 4  # 32→8 nearest subsampling fused into the conv


def test_fused_subsampling_and_cct_match_conv_then_nearest():
    x = RNG.normal(size=(2, 32, 32, 3)).astype("float32")
    fused = CCTConv(4, 7, mode="cct", stride=4, seed=3)
    plain = CCTConv(4, 7, mode="cct", seed=3)
    fused.build(x.shape), plain.build(x.shape)
    np.testing.assert_array_equal(fused.get_weights()[0], plain.get_weights()[0])
    np.testing.assert_allclose(fused(x).numpy(), nearest_resize(plain(x), 8, 8).numpy(), atol=1e-5)
    # the transposed half is the stride-1 transposed convolution of PyTorch (kernel (k, k, out, in))
    convt = CCTConv(2, 3, mode="convT", seed=4)
    y = convt(x).numpy()
    w = convt.convt_kernel[0].numpy()
    ref = tf.nn.conv2d_transpose(x, w, (2, 34, 34, 2), strides=1, padding="VALID").numpy()[:, 1:-1, 1:-1]
    np.testing.assert_allclose(y, ref + convt.convt_bias.numpy(), atol=1e-5)


def test_nearest_resize_is_pytorch_nearest():
    x = np.arange(5 * 5).reshape(1, 5, 5, 1).astype("float32")
    out = nearest_resize(tf.constant(x), 3, 3).numpy()[0, :, :, 0]
    rows = np.floor(np.arange(3) * 5 / 3).astype(int)
    np.testing.assert_array_equal(out, x[0, :, :, 0][np.ix_(rows, rows)])


@pytest.mark.parametrize("layers,edges,match", [
    ([{"name": "x", "shape": [2]}], [{"source": "y", "target": "x", "kind": "dense"}], "unknown state layer 'y'"),
    ([{"name": "x", "shape": [2]}], [{"source": "x", "target": "x", "kind": "pool"}], "kind 'pool'"),
    ([{"name": "x", "shape": [2]}], [{"source": "x", "target": "x", "kind": "conv"}], "needs spatial"),
    ([{"name": "x", "shape": [0]}], [], "positive ints"),
])
def test_bad_graphs_give_one_clear_error(layers, edges, match):
    with pytest.raises(ValueError, match=match):
        ndnx.energy.EnergyGraph(layers, edges)


def test_state_of_the_wrong_shape_is_refused():
    graph = _tiny()
    with pytest.raises(ValueError, match=r"state 'h' must have shape \(batch, 3\), got \(3, 4\)"):
        graph([np.zeros((3, 2)), np.zeros((3, 4))])


# batch 1 takes the FFT way, batch 16 the DFT way (cct_conv.DFT_MIN_BATCH)
@pytest.mark.parametrize("batch", [1, 16])
def test_fft_convolutions_give_the_same_energy_and_gradients(batch):
    layers = [{"name": "image", "shape": [12, 12, 2]}, {"name": "h", "shape": [12, 12, 4], "final_kernel": 7}]
    edges = [{"source": "h", "target": "image", "kind": "cct", "kernel": 11},
             {"source": "image", "target": "h", "kind": "conv", "kernel": 7},
             {"source": "h", "target": "h", "kind": "convT", "kernel": 11}]
    direct = ndnx.energy.EnergyGraph(layers, edges, base_channels=4, activation="swish", seed=5)
    fft = ndnx.energy.EnergyGraph.from_config(dict(direct.get_config(), fft_min_kernel=7))
    direct.build(), fft.build()
    for a, b in zip(fft.weights, direct.weights):
        a.assign(b)
    assert fft.networks[0].base[0].fft and fft.networks[1].out.fft and not direct.networks[1].out.fft
    states = [RNG.uniform(-1, 1, size=(batch,) + s).astype("float32") for s in direct.shapes]
    e_direct, g_direct = direct.energy_and_gradients(states)
    e_fft, g_fft = fft.energy_and_gradients(states)
    np.testing.assert_allclose(e_fft.numpy(), e_direct.numpy(), rtol=1e-5)
    for a, b in zip(g_fft, g_direct):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5 * float(np.abs(b).max()))
    # the weight gradients of training (the FFT path has its own input and kernel gradients)
    import tensorflow as tf

    grads = []
    for graph in (direct, fft):
        with tf.GradientTape() as tape:
            total = graph.total_energy(states)
        grads.append(tape.gradient(total, graph.trainable_weights))
    for a, b in zip(*grads):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-5 * float(np.abs(a).max()))
    # inside constant_weights() (a sampler's loop) the kernels and spectra are reused: same energy, same
    # state gradients, and the weights still get their gradients
    with tf.GradientTape() as tape, fft.constant_weights():
        assert fft.networks[1].base[1]._constant_halves()[0][3] is not None  # the 11×11 lateral edge's spectra
        e_cached, g_cached = fft.energy_and_gradients(states)
        total = fft.total_energy(states)
    np.testing.assert_allclose(e_cached.numpy(), e_direct.numpy(), rtol=1e-5)
    for a, b in zip(g_cached, g_direct):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5 * float(np.abs(b).max()))
    for a, b in zip(grads[0], tape.gradient(total, fft.trainable_weights)):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-5 * float(np.abs(a).max()))
    assert fft.networks[1].base[1]._constant_halves() is None
    # a sampler enters constant_weights() around its loop: the same chain as on the direct graph
    sampler = ndnx.energy.SGHMC(0.05, 0.1, temperature=0.5, seed=3)
    runs = [sampler.run(graph, states, 6)[0] for graph in (direct, fft)]
    for a, b in zip(*runs):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="fft_min_kernel must be None or a positive int, got 0"):
        ndnx.energy.EnergyGraph(layers, edges, fft_min_kernel=0)


def test_fft_size_is_the_smallest_seven_smooth_size_without_wrap_around():
    from ndnx.energy.cct_conv import fft_size

    # H + p points suffice: 32 + 3 = 35 = 5·7; 32 + 5 = 37 (prime), 38 = 2·19, 39 = 3·13, 40 = 2³·5
    assert [fft_size(32, 3), fft_size(32, 5), fft_size(8, 2), fft_size(13, 2), fft_size(9, 2)] == [35, 40, 10, 15, 12]


def test_edge_kernel_is_the_plain_convolution_the_edge_applies():
    import tensorflow as tf

    graph = ndnx.energy.EnergyGraph([{"name": "image", "shape": [8, 8, 3]}, {"name": "h", "shape": [8, 8, 4]}],
                                    [{"source": "image", "target": "h", "kind": "cct", "kernel": 3},
                                     {"source": "h", "target": "image", "kind": "conv", "kernel": 3}],
                                    base_channels=4, weight_norm=True, seed=1)
    graph.build()
    layer = {l.name: l for n in graph.networks if n is not None for l in n._flatten_layers(include_self=False)}[
        "h_from_image"]
    for pair in (layer.conv_kernel, layer.convt_kernel):  # gains away from ‖v‖, so that folding matters
        pair[1].assign(pair[1] * 1.7)
    kernel = graph.edge_kernel("image", "h")
    assert kernel.shape == (3, 3, 3, 4)
    x = RNG.normal(size=(2, 8, 8, 3)).astype("float32")
    bias = tf.concat([layer.conv_bias, layer.convT_bias if hasattr(layer, "convT_bias") else layer.convt_bias], 0)
    np.testing.assert_allclose(tf.nn.conv2d(x, kernel, 1, "SAME").numpy() + bias.numpy(), layer(x).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="edge_kernel expects a conv edge.*h→image, image→h; got h→h"):
        graph.edge_kernel("h", "h")


# both input-gradient branches; 8×13 maps with a 5×5 kernel transform at exactly H + p = 10 and W + p = 15
# points, the fewest without wrap-around into the kept rows and columns (by FFTs at batch 2, by DFTs as
# matrix products at batch 16, where both sizes are exact)
@pytest.mark.parametrize("batch", [2, 16])
@pytest.mark.parametrize("c_in, hw", [(3, (9, 9)), (16, (9, 9)), (4, (8, 13))])
def test_same_conv_gradients_equal_autodiff_of_conv2d(c_in, hw, batch):
    import tensorflow as tf

    from ndnx.energy.cct_conv import fft_conv_same, same_conv

    x = tf.constant(RNG.normal(size=(batch,) + hw + (c_in,)).astype("float32"))
    kernel = tf.constant(RNG.normal(size=(5, 5, c_in, 6)).astype("float32"))
    weights = tf.constant(RNG.normal(size=(batch,) + hw + (6,)).astype("float32"))
    grads, outputs = [], []
    for conv in (lambda a, b: tf.nn.conv2d(a, b, 1, "SAME"), same_conv, fft_conv_same):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            outputs.append(conv(x, kernel))
            loss = tf.reduce_sum(weights * outputs[-1])
        grads.append(tape.gradient(loss, [x, kernel]))
    for got, out in zip(grads[1:], outputs[1:]):
        np.testing.assert_allclose(out.numpy(), outputs[0].numpy(), atol=1e-5 * float(np.abs(outputs[0]).max()))
        for a, b in zip(got, grads[0]):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5 * float(np.abs(b).max()))


def test_the_batch_picks_ffts_or_dfts_as_matrix_products():
    import tensorflow as tf

    from ndnx.energy.cct_conv import DFT_MIN_BATCH, _dft_matrices, fft_conv_same

    kernel = tf.constant(RNG.normal(size=(5, 5, 4, 6)).astype("float32"))

    def op_types(batch):
        spec = tf.TensorSpec((batch, 8, 13, 4), tf.float32)
        graph = tf.function(lambda x: fft_conv_same(x, kernel)).get_concrete_function(spec).graph
        return {op.type for op in graph.get_operations()}

    assert DFT_MIN_BATCH == 2
    assert {"RFFT2D", "IRFFT2D"} <= op_types(1)
    for batch in (None, 2, 64):
        types = op_types(batch)
        assert "BatchMatMulV2" in types and not types & {"RFFT2D", "IRFFT2D", "Pad"}
    # float64 maps take the DFT way in float64
    x64 = tf.constant(RNG.normal(size=(16, 8, 13, 4)))
    np.testing.assert_allclose(fft_conv_same(x64, tf.cast(kernel, tf.float64)).numpy(),
                               tf.nn.conv2d(x64, tf.cast(kernel, tf.float64), 1, "SAME").numpy(), atol=1e-10)
    # N = H + p = 10 and W + p = 15 points: 10 // 2 + 1 = 6 frequencies along H, 15 along W, each re and im
    along_h, along_w, back_w, back_h, phase_h, phase_w = _dft_matrices(8, 13, 5)
    assert (along_h.shape, along_w.shape, back_w.shape, back_h.shape) == ((12, 8), (30, 26), (26, 30), (8, 12))
    assert (phase_h.shape, phase_w.shape) == ((6, 5), (15, 5))


# bfloat16 keeps 8 significant bits: a unit roundoff of u = 2⁻⁸ per rounding
BF16_U = 2.0 ** -8


def _conv_graph(dtype):
    layers = [{"name": "image", "shape": [12, 12, 3]}, {"name": "h", "shape": [12, 12, 4], "final_kernel": 7},
              {"name": "top", "shape": [5]}]
    edges = [{"source": "h", "target": "image", "kind": "conv", "kernel": 7},
             {"source": "image", "target": "h", "kind": "cct", "kernel": 11},
             {"source": "h", "target": "h", "kind": "conv", "kernel": 3},
             {"source": "top", "target": "h", "kind": "dense"}, {"source": "h", "target": "top", "kind": "dense"}]
    graph = ndnx.energy.EnergyGraph(layers, edges, base_channels=8, activation="swish", weight_norm=True,
                                    fft_min_kernel=7, seed=2, dtype=dtype)
    graph.build()
    return graph


@pytest.mark.parametrize("batch", [1, 4])
def test_mixed_bfloat16_computes_the_networks_in_bfloat16_and_keeps_states_and_energy_float32(batch):
    exact, mixed = _conv_graph("float64"), _conv_graph("mixed_bfloat16")
    for a, b in zip(mixed.weights, exact.weights):
        assert a.dtype == "float32"
        a.assign(tf.cast(b, tf.float32))
    assert mixed.state_dtype == "float32" and mixed.networks[1].base[0].compute_dtype == "bfloat16"
    states = [RNG.uniform(-1, 1, size=(batch,) + s) for s in exact.shapes]
    e64, g64 = exact.energy_and_gradients(states)
    f64 = exact.interactions(exact.check_states(states))
    with mixed.constant_weights():  # as inside a sampler: the cached (DFT-way) kernel spectra in bfloat16
        e, grads = mixed.energy_and_gradients(states)
        f = mixed.interactions(mixed.check_states(states))
    assert e.dtype == tf.float32 and all(g.dtype == tf.float32 for g in grads)
    # each f_i to a few bfloat16 roundoffs (inputs, weights, spectra, layer outputs rounded; float32
    # accumulation), and measurably worse than float32 would be: the networks do run in bfloat16
    for fi, want in zip(f[1:], f64[1:]):
        err = np.linalg.norm(fi.numpy() - want.numpy()) / np.linalg.norm(want.numpy())
        assert 1e-5 < err < 4 * BF16_U, err
    for g, want in zip(grads, g64):
        err = np.linalg.norm(g.numpy() - want.numpy()) / np.linalg.norm(want.numpy())
        assert err < 4 * BF16_U, err
    np.testing.assert_allclose(e.numpy(), e64.numpy(), rtol=4 * BF16_U)


def test_mixed_bfloat16_sampler_steps_add_float32_increments():
    # one noise-free SGHMC step from rest moves s by −η²·∇ (m = 1): increments of ~1e-4 that bfloat16
    # states (spacing 2⁻⁸ … 2⁻⁷ on [0.5, 1]) would round away
    graph = _conv_graph("mixed_bfloat16")
    states = [RNG.uniform(0.5, 1, size=(2,) + s).astype("float32") for s in graph.shapes]
    eta = 0.01
    moved, _, rec = ndnx.energy.SGHMC(eta, 0.1, temperature=0.0).run(
        graph, states, 1, record={i: ("gradient", i, None) for i in range(3)})
    grads = [rec[i][0] for i in range(3)]  # the gradients the step used
    for s, g, new in zip(states, grads, moved):
        assert new.dtype == tf.float32
        # to a few float32 ulps (6e-8 on [0.5, 1)), where bfloat16 states would be off by up to 2⁻⁸
        np.testing.assert_allclose(new.numpy(), np.clip(s - np.float32(eta ** 2) * g.numpy(), -1, 1), rtol=0,
                                   atol=3e-7)
        assert np.abs(new.numpy() - s).max() < 2.0 ** -9 < np.abs(new.numpy() - s).max() * 1e3


def test_mixed_bfloat16_sghmc_samples_the_gaussian_of_a_linear_graph():
    # identity states and linear f_i make E quadratic, E = ½sᵀHs − (c + b)ᵀs, with H and c read off the weights
    # in NumPy; the biases b put the mean at ½ and T = 0.01 keeps the chains (std ≈ 0.1) inside the [0, 1]
    # clamp, so the chains must sample N(½, T·H⁻¹) (spec §8 test 2's tolerances: mean, covariance 10 %)
    layers = [{"name": "x", "shape": [2]}, {"name": "h", "shape": [2]}]
    edges = [{"source": "h", "target": "x", "kind": "dense"}, {"source": "x", "target": "h", "kind": "dense"}]
    graph = ndnx.energy.EnergyGraph(layers, edges, state_activation="identity", activation="linear", seed=4,
                                    dtype="mixed_bfloat16")
    graph.build()
    w = {k: v.numpy().astype("float64") for k, v in graph.weights_by_name().items()}
    lin, off = {}, {}
    for target in ("x", "h"):
        lin[target] = w[f"{target}_fc_in/kernel"] @ w[f"{target}_fc_out/kernel"]  # f(s) = s·lin + off
        off[target] = w[f"{target}_fc_in/bias"] @ w[f"{target}_fc_out/kernel"] + w[f"{target}_fc_out/bias"]
    coupling = np.zeros((4, 4))
    coupling[2:, :2], coupling[:2, 2:] = lin["x"], lin["h"]  # ⟨x, f_x(h)⟩ + ⟨h, f_h(x)⟩ = sᵀBs + off·s
    hessian = np.eye(4) - 0.5 * (coupling + coupling.T)
    assert np.linalg.eigvalsh(hessian).min() > 0.3
    bias = hessian @ np.full(4, 0.5) - 0.5 * np.concatenate([off["x"], off["h"]])
    graph.biases[0].assign(bias[:2]), graph.biases[1].assign(bias[2:])
    temperature = 0.01
    sampler = ndnx.energy.SGHMC(0.3, 0.1, temperature=temperature, seed=8)
    start = [np.full((512, 2), 0.5, "float32"), np.full((512, 2), 0.5, "float32")]
    states, chain = sampler.run(graph, start, 300)
    _, _, rec = sampler.run(graph, states, 1200, chain=chain,
                            record={"x": ("state", 0, None), "h": ("state", 1, None)})
    samples = np.concatenate([rec["x"].numpy(), rec["h"].numpy()], -1).reshape(-1, 4).astype("float64")
    cov = temperature * np.linalg.inv(hessian)
    print("mixed bfloat16 linear graph: mean", samples.mean(0), "var", np.diag(np.cov(samples.T)), "want",
          np.diag(cov))
    np.testing.assert_allclose(samples.mean(0), 0.5, atol=0.005)
    np.testing.assert_allclose(np.cov(samples.T), cov, atol=0.1 * np.abs(cov).max())
