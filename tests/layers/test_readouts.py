"""Readouts: separable (NDN3 'sep' / factorised), Gaussian (FullGaussian2d semantics), fixed-point."""

import numpy as np
import keras
import pytest
import tensorflow as tf

import ndnx
from ndnx.layers import Dense, GaussianReadout, PointReadout, SeparableReadout
from ndnx.regularizers import D2X, L1, L2

RNG = np.random.default_rng(0)
H, W, C, N = 5, 4, 3, 6
MAPS = RNG.normal(size=(7, H, W, C)).astype("float32")


def _sep_dense_weight(kt, ks):
    """NDN3 'sep' implied weight, row s·C + c, built element by element."""
    c_, n_ = kt.shape
    s_ = ks.shape[0]
    w = np.zeros((s_ * c_, n_))
    for s in range(s_):
        for c in range(c_):
            w[s * c_ + c] = kt[c] * ks[s]
    return w


# --------------------------------------------------------------------------------------------------
# SeparableReadout


def test_separable_equals_explicit_dense_weight():
    layer = SeparableReadout(N, activation="softplus", seed=3)
    y = layer(MAPS)
    kt, ks, b = layer.features.numpy(), layer.mask.numpy(), layer.bias.numpy()
    assert kt.shape == (C, N) and ks.shape == (H * W, N)
    b[:] = RNG.normal(size=N)
    layer.bias.assign(b)
    wd = _sep_dense_weight(kt, ks)
    expected = np.logaddexp(0.0, MAPS.reshape(7, -1) @ wd + b)
    np.testing.assert_allclose(layer(MAPS), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.kernel(), wd, rtol=1e-6, atol=1e-7)
    # the same weight in ndnx.layers.Dense (NHWC flattening): identical responses
    dense = Dense(N, activation="softplus")
    dense(MAPS)
    dense.kernel.assign(wd.astype("float32"))
    dense.bias.assign(b)
    np.testing.assert_allclose(layer(MAPS), dense(MAPS), rtol=1e-5, atol=1e-5)
    # explicit index check: input entry (y, x, c) meets kt[c]·ks[y·W + x]
    x = np.zeros((1, H, W, C), "float32")
    x[0, 3, 1, 2] = 1.0
    no_bias = SeparableReadout(N, use_bias=False, seed=3)
    no_bias(x)
    np.testing.assert_allclose(no_bias(x)[0], kt[2] * ks[3 * W + 1], rtol=1e-6)
    assert y.shape == (7, N)


def test_separable_normalisation_and_positivity():
    layer = SeparableReadout(N, normalize_features=True, normalize_mask=True, seed=0)
    layer(MAPS)
    kt, ks = layer.features.numpy(), layer.mask.numpy()
    ktn = kt / np.linalg.norm(kt, axis=0)
    ksn = ks / (np.linalg.norm(ks, axis=0) + 1e-6)
    np.testing.assert_allclose(layer.effective_features(), ktn, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(layer.effective_features(), axis=0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(layer.effective_mask(), ksn, rtol=1e-5)
    np.testing.assert_allclose(layer(MAPS), MAPS.reshape(7, -1) @ _sep_dense_weight(ktn, ksn), rtol=1e-4, atol=1e-5)
    # scaling the raw weights changes nothing
    layer.features.assign(3.0 * kt)
    layer.mask.assign(0.5 * ks)
    np.testing.assert_allclose(layer(MAPS), MAPS.reshape(7, -1) @ _sep_dense_weight(ktn, ksn), rtol=1e-4, atol=1e-4)

    pos = SeparableReadout(N, positive=True, seed=0)
    pos(MAPS)
    assert np.all(pos.features.numpy() >= 0) and np.all(pos.mask.numpy() >= 0)
    kt = pos.features.numpy()
    kt[0, 0] = -1.0
    pos.features.assign(kt)
    assert float(pos.effective_features()[0, 0]) == 0.0
    assert float(pos.features.constraint(pos.features)[0, 0]) == 0.0


def test_separable_penalty_closed_form_on_normalised_weights():
    lam = 0.3
    layer = SeparableReadout(N, normalize_features=True, normalize_mask=True, mask_feature_l1=lam,
                             feature_regularizer=L2(0.2), mask_regularizer=D2X(0.1), seed=5)
    layer(MAPS)
    kt, ks = layer.features.numpy().astype(float), layer.mask.numpy().astype(float)
    ktn = kt / np.linalg.norm(kt, axis=0)
    ksn = ks / (np.linalg.norm(ks, axis=0) + 1e-6)
    product = lam * np.sum(np.abs(ksn).sum(0) * np.abs(ktn).sum(0))
    l2 = 0.2 * 0.5 * np.sum(ktn ** 2)
    d2x = float(D2X(0.1, filter_shape=(H, W, 1))(ksn.astype("float32")))
    # d2x by hand: zero-boundary 5-point Laplacian on each (H, W) mask
    grid = ksn.reshape(H, W, N)
    p = np.pad(grid, ((1, 1), (1, 1), (0, 0)))
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * grid
    assert d2x == pytest.approx(0.1 * np.sum(lap ** 2), rel=1e-5)
    assert float(layer.regularizer()) == pytest.approx(product + l2 + d2x, rel=1e-5)
    assert len(layer.losses) == 1
    assert float(layer.losses[0]) == pytest.approx(product + l2 + d2x, rel=1e-5)
    # un-normalised: the penalty uses the raw weights
    raw = SeparableReadout(N, mask_feature_l1=lam, seed=5)
    raw(MAPS)
    assert float(raw.regularizer()) == pytest.approx(lam * np.sum(np.abs(ks).sum(0) * np.abs(kt).sum(0)), rel=1e-5)
    # and a model's losses carry it (functional model, fit)
    inputs = keras.Input((H, W, C))
    model = keras.Model(inputs, SeparableReadout(N, mask_feature_l1=lam, seed=5)(inputs))
    model(MAPS)
    assert float(sum(model.losses)) == pytest.approx(float(raw.regularizer()), rel=1e-5)
    # no penalty configured: nothing added
    plain = SeparableReadout(N, seed=5)
    plain(MAPS)
    assert plain.losses == [] and float(plain.regularizer()) == 0.0


def test_separable_spatial_penalty_on_features_raises():
    with pytest.raises(ValueError, match="feature_regularizer"):
        SeparableReadout(N, feature_regularizer=D2X(0.1), name="sep")(MAPS)


def test_separable_ndn3_mask_normalisation_puts_epsilon_under_the_root():
    # NDN3 (tf.nn.l2_normalize): S / sqrt(max(ΣS², 1e-12)); neuralpredictors: S / (‖S‖ + 1e-6).
    ks = RNG.normal(size=(H * W, N))
    for n, norm in enumerate([0.5, 1e-4, 1e-8]):
        ks[:, n] *= norm / np.linalg.norm(ks[:, n])
    ks[:, 3] = 0.0
    ndn3 = ks / np.sqrt(np.maximum((ks ** 2).sum(axis=0), 1e-12))
    neuralpredictors = ks / (np.linalg.norm(ks, axis=0) + 1e-6)
    np.testing.assert_allclose(np.linalg.norm(ndn3, axis=0)[:4], [1.0, 1.0, 0.01, 0.0], rtol=1e-12)
    layers = {}
    for form in ("ndn3", True, "neuralpredictors"):
        layers[form] = SeparableReadout(N, normalize_mask=form, seed=0)
        layers[form](MAPS)
        layers[form].mask.assign(ks.astype("float32"))
    np.testing.assert_allclose(layers["ndn3"].effective_mask(), ndn3, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(layers[True].effective_mask(), neuralpredictors, rtol=1e-5, atol=1e-12)
    np.testing.assert_array_equal(layers["neuralpredictors"].effective_mask(), layers[True].effective_mask())
    assert abs(np.linalg.norm(neuralpredictors[:, 1]) - 1.0) > 5e-3          # the two forms differ
    kt = layers["ndn3"].features.numpy()
    np.testing.assert_allclose(layers["ndn3"](MAPS), MAPS.reshape(7, -1) @ _sep_dense_weight(kt, ndn3),
                               rtol=1e-4, atol=1e-5)
    # the default neuralpredictors form is still stored as True; "ndn3" as itself
    assert layers["neuralpredictors"].get_config()["normalize_mask"] is True
    assert layers["ndn3"].get_config()["normalize_mask"] == "ndn3"
    assert SeparableReadout.from_config(layers["ndn3"].get_config()).normalize_mask == "ndn3"
    with pytest.raises(ValueError, match="sep: normalize_mask must be one of"):
        SeparableReadout(N, normalize_mask="l2", name="sep")


def test_separable_stacked_regularizer_acts_on_the_stacked_factors():
    # NDN3 SepLayer's weight is [kt; ks] (C + H·W, units); norm2 there is λ(Σkt² + Σks² − units)².
    layer = SeparableReadout(N, normalize_features=True, normalize_mask="ndn3",
                             stacked_regularizer=ndnx.regularizers.Combined([ndnx.regularizers.Norm2(0.3), L1(0.01)]),
                             seed=4)
    layer(MAPS)
    kt, ks = layer.features.numpy().astype(float), layer.mask.numpy().astype(float)
    ktn, ksn = kt / np.linalg.norm(kt, axis=0), ks / np.linalg.norm(ks, axis=0)
    w = np.concatenate([ktn, ksn])
    expected = 0.3 * ((w ** 2).sum() - N) ** 2 + 0.01 * np.abs(w).sum()
    assert float(layer.regularizer()) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert float(layer.losses[0]) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    raw = SeparableReadout(N, stacked_regularizer=ndnx.regularizers.Norm2(0.3), seed=4)
    raw(MAPS)
    assert float(raw.regularizer()) == pytest.approx(0.3 * ((kt ** 2).sum() + (ks ** 2).sum() - N) ** 2, rel=1e-5)
    with pytest.raises(ValueError, match=r"sep \(stacked_regularizer\): D2X needs a spatial input"):
        SeparableReadout(N, stacked_regularizer=D2X(0.1), name="sep")(MAPS)
    rep = _check_replicas(lambda **k: SeparableReadout(N, normalize_mask="ndn3",
                                                       stacked_regularizer=ndnx.regularizers.Norm2(0.3), **k), MAPS)
    lone = [SeparableReadout(N, normalize_mask="ndn3", stacked_regularizer=ndnx.regularizers.Norm2(0.3), seed=s)
            for s in (11, 12, 13)]
    for one in lone:
        one(MAPS)
    assert float(rep.regularizer()) == pytest.approx(sum(float(one.regularizer()) for one in lone), rel=1e-5)


def _check_replicas(make, maps, train=False, **kwargs):
    seeds = [11, 12, 13]
    rep = make(replicas=3, seed=seeds, **kwargs)
    y = rep(maps, training=train)
    assert tuple(y.shape) == (maps.shape[0], 3, rep.units)
    for r, s in enumerate(seeds):
        np.testing.assert_allclose(y[:, r], make(seed=s, **kwargs)(maps, training=train), rtol=1e-6, atol=1e-6)
    per_replica = np.stack([maps, -maps, 2 * maps], axis=1)
    rep2 = make(replicas=3, seed=seeds, **kwargs)
    y = rep2(per_replica, training=train)
    for r, s in enumerate(seeds):
        np.testing.assert_allclose(y[:, r], make(seed=s, **kwargs)(per_replica[:, r], training=train),
                                   rtol=1e-6, atol=1e-6)
    return rep


def test_separable_replicas_equal_lone_layers():
    rep = _check_replicas(lambda **k: SeparableReadout(N, activation="softplus", normalize_features=True,
                                                       mask_feature_l1=0.1, **k), MAPS)
    lone = [SeparableReadout(N, normalize_features=True, mask_feature_l1=0.1, seed=s) for s in (11, 12, 13)]
    for layer in lone:
        layer(MAPS)
    assert float(rep.regularizer()) == pytest.approx(sum(float(layer.regularizer()) for layer in lone), rel=1e-5)
    assert rep.features.shape == (3, C, N) and rep.mask.shape == (3, H * W, N)


@pytest.mark.parametrize("make", [
    lambda: SeparableReadout(3, name="sep_readout"),
    lambda: GaussianReadout(3, name="sep_readout"),
    lambda: PointReadout(1, [[0, 0]], name="sep_readout"),
])
def test_bad_shape_error(make):
    with pytest.raises(ValueError, match=r"^sep_readout: expected a feature map \(batch, H, W, C\), "
                                         r"got \(None, 20\)$"):
        make().compute_output_shape((None, 20))
    with pytest.raises(ValueError, match=r"sep_readout: expected a feature map \(batch, H, W, C\), got \(2, 20\)"):
        make()(np.ones((2, 20), "float32"))
    with pytest.raises(ValueError, match=r"expected 2 replicas on axis 1, got 3"):
        layer = make()
        layer.__init__(**dict(layer.get_config(), replicas=2, name="sep_readout"))
        layer(np.ones((2, 3, 5, 4, 2), "float32"))


def test_constructor_arguments_round_trip():
    for layer in (SeparableReadout(N, positive=True, normalize_mask=True, mask_feature_l1=0.2,
                                   mask_regularizer=D2X(0.1), feature_regularizer=L1(0.1), replicas=2, seed=1),
                  GaussianReadout(N, gauss_type="uncorrelated", align_corners=False, learn_sigma=False, seed=2),
                  PointReadout(2, [[1, 2], [0, 3]], positive=True, seed=3)):
        config = layer.get_config()
        clone = layer.__class__.from_config(config)
        assert clone.get_config() == config
        np.testing.assert_array_equal(layer(MAPS), clone(MAPS))


# --------------------------------------------------------------------------------------------------
# GaussianReadout


def _gaussian(mu, align_corners=True, maps=MAPS, **kwargs):
    mu = np.asarray(mu, "float32")
    layer = GaussianReadout(len(mu), align_corners=align_corners, use_bias=False, seed=0, **kwargs)
    layer(maps)
    layer.mu.assign(mu)
    return layer


def _grid(col, row, align_corners):
    """Grid coordinate of pixel (row, col) centre."""
    if align_corners:
        return np.array([2 * col / (W - 1) - 1, 2 * row / (H - 1) - 1], "float32")
    return np.array([(2 * col + 1) / W - 1, (2 * row + 1) / H - 1], "float32")


@pytest.mark.parametrize("align_corners", [True, False])
def test_gaussian_pixel_centre_and_midpoint(align_corners):
    cases = [(0, 0), (3, 2), (W - 1, H - 1), (1, 4)]
    layer = _gaussian([_grid(c, r, align_corners) for c, r in cases], align_corners)
    w = layer.features.numpy()
    expected = np.stack([MAPS[:, r, c] @ w[:, n] for n, (c, r) in enumerate(cases)], axis=1)
    np.testing.assert_allclose(layer(MAPS), expected, rtol=1e-5, atol=1e-6)
    # midway between (row 2, col 1) and (row 2, col 2), and between four pixels
    mid = (_grid(1, 2, align_corners) + _grid(2, 2, align_corners)) / 2
    quad = (_grid(1, 2, align_corners) + _grid(2, 3, align_corners)) / 2
    layer = _gaussian([mid, quad], align_corners)
    w = layer.features.numpy()
    f_mid = (MAPS[:, 2, 1] + MAPS[:, 2, 2]) / 2
    f_quad = (MAPS[:, 2, 1] + MAPS[:, 2, 2] + MAPS[:, 3, 1] + MAPS[:, 3, 2]) / 4
    np.testing.assert_allclose(layer(MAPS), np.stack([f_mid @ w[:, 0], f_quad @ w[:, 1]], 1), rtol=1e-5, atol=1e-6)


def test_gaussian_x_moves_along_columns():
    ramp = np.broadcast_to(np.arange(W, dtype="float32")[None, None, :, None], (1, H, W, 1)).copy()
    layer = GaussianReadout(3, use_bias=False, seed=0)
    layer(ramp)
    layer.features.assign(np.ones((1, 3), "float32"))
    layer.mu.assign(np.array([[-1, 0.3], [0, -0.7], [1, 0.9]], "float32"))
    np.testing.assert_allclose(layer(ramp)[0], [0.0, (W - 1) / 2, W - 1], rtol=1e-5, atol=1e-6)


def _numpy_bilinear(fmap, x, y, align_corners):
    hh, ww, _ = fmap.shape
    if align_corners:
        px, py = (x + 1) / 2 * (ww - 1), (y + 1) / 2 * (hh - 1)
    else:
        px, py = ((x + 1) * ww - 1) / 2, ((y + 1) * hh - 1) / 2
    out = 0.0
    x0, y0 = int(np.floor(px)), int(np.floor(py))
    for xi in (x0, x0 + 1):
        for yi in (y0, y0 + 1):
            if 0 <= xi < ww and 0 <= yi < hh:
                out = out + (1 - abs(px - xi)) * (1 - abs(py - yi)) * fmap[yi, xi]
    return out


@pytest.mark.parametrize("align_corners", [True, False])
def test_gaussian_random_positions_against_numpy(align_corners):
    mu = RNG.uniform(-1, 1, size=(8, 2)).astype("float32")
    mu[0] = [1.0, -1.0]  # a corner: with align_corners=False half the neighbours are padding
    layer = _gaussian(mu, align_corners)
    w = layer.features.numpy()
    expected = np.array([[_numpy_bilinear(MAPS[b], mu[n, 0], mu[n, 1], align_corners) @ w[:, n]
                          for n in range(8)] for b in range(len(MAPS))])
    np.testing.assert_allclose(layer(MAPS), expected, rtol=1e-5, atol=1e-5)


def test_gaussian_clamps_positions():
    layer = _gaussian([[1.5, -3.0], [0.2, 2.0]])
    ref = _gaussian([[1.0, -1.0], [0.2, 1.0]])
    ref.features.assign(layer.features)
    np.testing.assert_allclose(layer(MAPS), ref(MAPS), rtol=1e-6)
    np.testing.assert_allclose(layer.positions(), [[1.0, -1.0], [0.2, 1.0]], rtol=1e-6)
    assert np.all(layer.mu.constraint(layer.mu).numpy() <= 1.0)


@pytest.mark.parametrize("gauss_type", ["full", "uncorrelated", "isotropic"])
def test_gaussian_training_samples_evaluation_is_deterministic(gauss_type):
    layer = GaussianReadout(N, gauss_type=gauss_type, init_sigma=0.5, seed=4)
    y0 = layer(MAPS)
    np.testing.assert_array_equal(layer(MAPS, training=False), y0)
    t1, t2 = layer(MAPS, training=True), layer(MAPS, training=True)
    assert np.abs(t1 - y0).max() > 1e-4 and np.abs(t1 - t2).max() > 1e-4
    assert layer.sigma.shape == {"full": (N, 2, 2), "uncorrelated": (N, 2), "isotropic": (N, 1)}[gauss_type]
    # sigma = 0: training equals evaluation
    layer.sigma.assign(np.zeros(layer.sigma.shape, "float32"))
    np.testing.assert_allclose(layer(MAPS, training=True), y0, rtol=1e-6)
    # seeded: the same samples from a fresh layer with the same seed
    a, b = GaussianReadout(N, seed=9), GaussianReadout(N, seed=9)
    np.testing.assert_array_equal(a(MAPS, training=True), b(MAPS, training=True))


def test_gaussian_full_sample_is_mu_plus_sigma_eps():
    # one neuron, a feature map whose single channel is the column coordinate (align_corners: linear in x)
    ramp = np.broadcast_to(np.linspace(-1, 1, W, dtype="float32")[None, None, :, None], (4000, H, W, 1)).copy()
    layer = GaussianReadout(1, use_bias=False, init_sigma=0.0, seed=0)
    layer(ramp[:1])
    layer.features.assign(np.ones((1, 1), "float32"))
    layer.mu.assign(np.zeros((1, 2), "float32"))
    layer.sigma.assign(np.array([[[0.1, 0.05], [0.0, 0.2]]], "float32"))
    x = layer(ramp, training=True).numpy()[:, 0]  # the sampled x = 0.1 ε1 + 0.05 ε2
    assert np.mean(x) == pytest.approx(0.0, abs=0.01)
    assert np.std(x) == pytest.approx(np.sqrt(0.1 ** 2 + 0.05 ** 2), rel=0.05)


def test_gaussian_gradients():
    layer = GaussianReadout(N, init_sigma=0.2, seed=1)
    layer(MAPS)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.square(layer(MAPS)))
    g_mu = tape.gradient(y, layer.mu)
    assert np.all(np.isfinite(g_mu)) and np.all(np.abs(g_mu.numpy()).sum(-1) > 0)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.square(layer(MAPS, training=True)))
    g_sigma = tape.gradient(y, layer.sigma)
    assert np.all(np.isfinite(g_sigma)) and np.abs(g_sigma.numpy()).max() > 0
    fixed = GaussianReadout(N, learn_sigma=False, seed=1)
    fixed(MAPS)
    assert not fixed.sigma.trainable
    assert all(w is not fixed.sigma for w in fixed.trainable_weights)


def test_gaussian_replicas_equal_lone_layers():
    _check_replicas(lambda **k: GaussianReadout(N, init_mu_range=0.8, activation="softplus", **k), MAPS)
    # training-time samples too: replica r draws from seeds[r] as the lone layer does
    _check_replicas(lambda **k: GaussianReadout(N, gauss_type="isotropic", init_sigma=0.3, **k), MAPS, train=True)
    rep = GaussianReadout(N, replicas=2, seed=0)
    rep(MAPS)
    assert rep.positions().shape == (2, N, 2)


def test_gaussian_feature_penalty_and_positive():
    layer = GaussianReadout(N, positive=True, feature_regularizer=L1(0.5), seed=2)
    layer(MAPS)
    f = layer.features.numpy()
    assert np.all(f >= 0)
    assert float(layer.regularizer()) == pytest.approx(0.5 * np.abs(f).sum(), rel=1e-5)
    assert float(layer.losses[0]) == pytest.approx(0.5 * np.abs(f).sum(), rel=1e-5)


def test_gaussian_rejects_unknown_gauss_type():
    with pytest.raises(ValueError, match="gauss_type must be one of"):
        GaussianReadout(3, gauss_type="diagonal")


# --------------------------------------------------------------------------------------------------
# PointReadout


def test_point_readout_against_numpy_indexing():
    pos = np.array([[0, 0], [4, 3], [2, 1], [2, 1]])
    layer = PointReadout(4, pos, activation="relu", seed=0)
    y = layer(MAPS)
    w, b = layer.features.numpy(), layer.bias.numpy()
    expected = np.maximum(np.einsum("bnc,cn->bn", MAPS[:, pos[:, 0], pos[:, 1]], w) + b, 0)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert layer.trainable_weights == [layer.features, layer.bias]


def test_point_readout_replicas_and_position_errors():
    _check_replicas(lambda **k: PointReadout(3, [[0, 1], [4, 3], [1, 2]], **k), MAPS)
    with pytest.raises(ValueError, match=r"pts: position of neuron 1 \(row 5, col 0\) is outside the 5×4 feature map"):
        PointReadout(2, [[0, 0], [5, 0]], name="pts")(MAPS)
    with pytest.raises(ValueError, match=r"pts: positions must be integer \(row, col\) pairs of shape \(2, 2\)"):
        PointReadout(2, [[0, 0]], name="pts")
    with pytest.raises(ValueError, match="positions must be integer"):
        PointReadout(1, [[0.5, 0]], name="pts")


def test_readouts_in_a_saved_model(tmp_path):
    inputs = keras.Input((H, W, C))
    x = SeparableReadout(N, normalize_mask=True, mask_regularizer=D2X(0.1), seed=0)(inputs)
    model = keras.Model(inputs, x)
    model.compile("adam", loss="mse", jit_compile=True)
    model.fit(MAPS, np.ones((7, N), "float32"), epochs=1, verbose=0)
    path = str(tmp_path / "sep.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(MAPS, verbose=0), model.predict(MAPS, verbose=0))
    reloaded(MAPS)
    model(MAPS)
    assert float(sum(reloaded.losses)) == pytest.approx(float(sum(model.losses)), rel=1e-6)
    # the Gaussian readout trains under jit_compile with its sampling
    inputs = keras.Input((H, W, C))
    model = keras.Model(inputs, GaussianReadout(N, seed=0)(inputs))
    model.compile("adam", loss="mse", jit_compile=True)
    model.fit(MAPS, np.ones((7, N), "float32"), epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(model.predict(MAPS, verbose=0)))


def test_separable_saved_before_the_ndn3_options_loads_unchanged(tmp_path):
    # A file written before normalize_mask="ndn3" and stacked_regularizer existed: normalize_mask is a
    # bool and there is no stacked_regularizer entry; it loads with the numbers it was saved with.
    import json
    import zipfile

    inputs = keras.Input((H, W, C))
    model = keras.Model(inputs, SeparableReadout(N, normalize_mask=True, normalize_features=True,
                                                 mask_regularizer=D2X(0.1), seed=0, name="sep")(inputs))
    expected, penalty = model.predict(MAPS, verbose=0), float(model.get_layer("sep").regularizer())
    saved, legacy = tmp_path / "new.keras", tmp_path / "legacy.keras"
    model.save(saved)
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(legacy, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                (layer,) = [lay for lay in config["config"]["layers"] if lay["config"]["name"] == "sep"]
                assert layer["config"].pop("stacked_regularizer") is None
                assert layer["config"]["normalize_mask"] is True
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    reloaded = keras.saving.load_model(legacy)
    np.testing.assert_array_equal(reloaded.predict(MAPS, verbose=0), expected)
    assert float(reloaded.get_layer("sep").regularizer()) == pytest.approx(penalty, rel=1e-7)
    assert reloaded.get_layer("sep").normalize_mask is True


@pytest.mark.parametrize("align_corners", [True, False])
def test_gaussian_shift_moves_every_read_position(align_corners):
    cases = [(1, 2), (3, 0), (W - 2, H - 1)]
    layer = _gaussian([_grid(c, r, align_corners) for c, r in cases], align_corners)
    w = layer.features.numpy()
    # one pixel to the right and one row up, in grid units, for every image of the batch
    step = _grid(1, 0, align_corners) - _grid(0, 1, align_corners)
    shift = np.tile(step, (len(MAPS), 1))
    expected = np.stack([MAPS[:, r - 1, c + 1] @ w[:, n] if r >= 1 else np.zeros(len(MAPS))
                         for n, (c, r) in enumerate(cases)], axis=1)
    np.testing.assert_allclose(layer(MAPS, shift=shift), expected, rtol=1e-5, atol=1e-6)
    # a per-image shift: image b moved by b mod W pixels to the right reads column b mod W
    per_image = np.stack([_grid(b % W, 0, align_corners) - _grid(0, 0, align_corners) for b in range(len(MAPS))])
    layer = _gaussian([_grid(0, 2, align_corners)], align_corners)
    got = np.asarray(layer(MAPS, shift=per_image))[:, 0]
    want = [MAPS[b, 2, b % W] @ layer.features.numpy()[:, 0] for b in range(len(MAPS))]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_gaussian_shift_per_replica_and_bad_shapes():
    rep = GaussianReadout(N, init_mu_range=0.5, replicas=2, seed=[3, 4])
    rep(MAPS)
    shifts = RNG.uniform(-0.3, 0.3, size=(len(MAPS), 2, 2)).astype("float32")
    together = np.asarray(rep(MAPS, shift=shifts))
    for r in range(2):
        alone = GaussianReadout(N, init_mu_range=0.5, seed=[3, 4][r])
        alone(MAPS)
        np.testing.assert_allclose(together[:, r], alone(MAPS, shift=shifts[:, r]), rtol=1e-5, atol=1e-6)
    shared = np.asarray(rep(MAPS, shift=shifts[:, 0]))
    np.testing.assert_allclose(shared[:, 0], together[:, 0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"shift must have shape \(batch, 2\) or \(batch, 2, 2\), got \(4, 3\)"):
        rep(MAPS, shift=np.zeros((4, 3), "float32"))


def test_mlp_shifter_against_numpy_and_in_a_model_with_the_readout(tmp_path):
    eyes = RNG.normal(size=(len(MAPS), 2)).astype("float32")
    shifter = ndnx.layers.MLPShifter(hidden_units=3, num_layers=2, seed=0)
    out = np.asarray(shifter(eyes))
    (w1, b1), (w2, b2) = [(l.kernel.numpy(), l.bias.numpy()) for l in shifter.mlp]
    np.testing.assert_allclose(out, np.tanh(np.tanh(eyes @ w1 + b1) @ w2 + b2), rtol=1e-5, atol=1e-6)
    rep = ndnx.layers.MLPShifter(hidden_units=3, num_layers=2, replicas=2, seed=[0, 5])
    both = np.asarray(rep(eyes))
    np.testing.assert_allclose(both[:, 0], out, rtol=1e-5, atol=1e-6)
    assert np.abs(both[:, 0] - both[:, 1]).max() > 1e-3
    # core features + eye positions → shifted Gaussian readout; saved and reloaded
    maps_in, eyes_in = keras.Input(MAPS.shape[1:]), keras.Input((2,))
    shift = ndnx.layers.MLPShifter(seed=1, name="shifter")(eyes_in)
    y = GaussianReadout(N, seed=2, name="readout")(maps_in, shift=shift)
    model = keras.Model([maps_in, eyes_in], y)
    eyes4 = eyes
    expected = np.asarray(model.get_layer("readout")(MAPS, shift=model.get_layer("shifter")(eyes4)))
    np.testing.assert_allclose(model([MAPS, eyes4]), expected, rtol=1e-6)
    model.save(tmp_path / "shifted.keras")
    again = keras.saving.load_model(tmp_path / "shifted.keras")
    np.testing.assert_allclose(again([MAPS, eyes4]), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="expected eye positions of shape"):
        ndnx.layers.MLPShifter(seed=0)(np.zeros((2, 2, 2), "float32"))


def test_grid_mean_predictor_positions_are_a_function_of_the_cortical_grid():
    grid = RNG.uniform(-1, 1, size=(N, 2))
    layer = GaussianReadout(N, grid_mean_predictor={"hidden_layers": 0}, source_grid=grid, use_bias=False, seed=0)
    layer(MAPS)
    assert not any("mu" in w.path for w in layer.weights)
    w, b = np.array([[0.5, -0.2], [0.1, 0.7]], "float32"), np.array([0.05, -0.1], "float32")
    kernel, bias = layer.grid_layers[0]
    kernel.assign(w)
    bias.assign(b)
    expected = np.tanh(grid @ w + b)
    np.testing.assert_allclose(layer.positions(), expected, rtol=1e-5, atol=1e-6)
    # the readout reads the feature map at those positions (evaluation mode)
    feats = layer.features.numpy()
    want = np.stack([[_numpy_bilinear(MAPS[i], *expected[n], True) @ feats[:, n] for n in range(N)]
                     for i in range(len(MAPS))])
    np.testing.assert_allclose(layer(MAPS), want, rtol=1e-4, atol=1e-5)
    # one hidden ELU layer, no final tanh: clamped instead
    deep = GaussianReadout(N, grid_mean_predictor={"hidden_layers": 1, "hidden_features": 3, "final_tanh": False},
                           source_grid=grid, seed=1)
    deep(MAPS)
    (k0, b0), (k1, b1) = [(k.numpy(), c.numpy()) for k, c in deep.grid_layers]
    hidden = grid @ k0 + b0
    hidden = np.where(hidden > 0, hidden, np.expm1(hidden))
    np.testing.assert_allclose(deep.positions(), np.clip(hidden @ k1 + b1, -1, 1), rtol=1e-5, atol=1e-6)


def test_grid_mean_predictor_replicas_config_and_errors():
    grid = RNG.uniform(-1, 1, size=(N, 3))
    options = dict(grid_mean_predictor={"hidden_features": 4}, source_grid=grid)
    _check_replicas(lambda **k: GaussianReadout(N, **options, **k), MAPS)
    layer = GaussianReadout(N, **options, seed=2)
    layer(MAPS)
    again = GaussianReadout.from_config(layer.get_config())
    again(MAPS)
    again.set_weights(layer.get_weights())
    np.testing.assert_allclose(again.positions(), layer.positions(), rtol=1e-6)
    with pytest.raises(ValueError, match="grid_mean_predictor and source_grid go together; got only source_grid"):
        GaussianReadout(N, source_grid=grid)
    with pytest.raises(ValueError, match=r"source_grid must be finite cortical positions of shape \(6, d\), got shape \(5, 3\)"):
        GaussianReadout(N, grid_mean_predictor={}, source_grid=grid[:5])
    with pytest.raises(ValueError, match=r"unknown grid_mean_predictor keys \['layers'\]"):
        GaussianReadout(N, grid_mean_predictor={"layers": 2}, source_grid=grid)
