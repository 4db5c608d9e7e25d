"""NDN3/NDNT penalties: golden numbers of spec §8 tests 3–4, closed forms under both conventions,
binding to layers, errors instead of silent zeros (spec §7) and the replica/normalisation semantics."""

import json

import numpy as np
import keras
import pytest
import tensorflow as tf
from keras import ops

import ndnx
from ndnx.regularizers import (
    L1, L2, D2X, D2T, D2XT, Max, MaxFilt, MaxSpace, Center, Local, GLocal, Orth, Norm2, Combined,
    bind_regularizer, from_reg_vals,
)

W = np.array([1.0, 2.0, 2.0], "float32")
RNG = np.random.default_rng(0)


def impulse(y, x, shape=(31, 31, 1), c=0, value=1.0):
    h, w, ch = shape
    k = np.zeros((h * w * ch, 1), "float32")
    k[(y * w + x) * ch + c] = value
    return k


def value(reg, w):
    return float(reg(np.asarray(w, "float32")))


def quad(t, w):
    """Σ_n ‖T w_n‖² in float64."""
    return float(np.sum((t @ np.asarray(w, float)) ** 2))


# ------------------------------------------------------------------------------------------------
# L1 / L2 (spec §8 test 4)


def test_l2_conventions():
    assert float(L2(1.0)(W)) == pytest.approx(4.5)
    assert float(L2(1.0, convention="ndnt")(W)) == pytest.approx(3.0)


def test_l1_conventions():
    assert float(L1(1.0)(W)) == pytest.approx(5.0)
    assert float(L1(1.0, convention="ndnt")(W)) == pytest.approx(5.0 / 3.0)


def test_unknown_convention():
    with pytest.raises(ValueError, match="convention must be one of"):
        L2(1.0, convention="keras")
    with pytest.raises(ValueError, match="convention must be one of"):
        D2X(1.0, convention="NDN3")


def test_per_unit_lambda_l1_l2():
    w = np.array([[1.0, -2.0], [3.0, 0.5]], "float32")
    lam = [0.5, 2.0]
    # column 0: |1| + |3| = 4, ½(1 + 9) = 5; column 1: 2.5, ½(4 + .25) = 2.125
    assert value(L1(lam), w) == pytest.approx(0.5 * 4 + 2.0 * 2.5)
    assert value(L1(lam, convention="ndnt"), w) == pytest.approx((0.5 * 4 + 2.0 * 2.5) / 4)
    assert value(L2(lam), w) == pytest.approx(0.5 * 5 + 2.0 * 2.125)
    assert value(L2(lam, convention="ndnt"), w) == pytest.approx((0.5 * 10 + 2.0 * 4.25) / 4)
    # a per-unit λ also weights a bias (units,)
    assert value(L2(lam), np.array([2.0, 1.0])) == pytest.approx(0.5 * 0.5 * 4 + 2.0 * 0.5 * 1)
    assert L1(lam).get_config() == {"l1": [0.5, 2.0], "convention": "ndn3"}


# ------------------------------------------------------------------------------------------------
# d2x golden numbers (spec §8 test 3)

POSITIONS = [(15, 15), (1, 1), (0, 15), (0, 0)]


def test_d2x_ndn3_zero_boundary_golden():
    reg = D2X(1.0, filter_shape=(31, 31, 1))
    assert reg.boundary == "zero"  # the thesis' NDN3 fork is the default
    assert [value(reg, impulse(*p)) for p in POSITIONS] == [20.0, 20.0, 19.0, 18.0]
    assert value(reg, np.ones((961, 1))) == pytest.approx(132.0)


def test_d2x_ndn3_free_boundary_golden():
    reg = D2X(1.0, boundary="free", filter_shape=(31, 31, 1))
    assert [value(reg, impulse(*p)) for p in POSITIONS] == [20.0, 18.0, 7.0, 2.0]
    assert value(reg, np.ones((961, 1))) == 0.0
    assert value(reg, 3.7 * np.ones((961, 1))) == pytest.approx(0.0, abs=1e-6)


def test_d2x_ndnt_golden():
    reg = D2X(1.0, convention="ndnt", filter_shape=(31, 31, 1))
    assert value(reg, impulse(15, 15)) == pytest.approx(10.25 / 961, rel=1e-6)
    # corner: the kernel's centre and 3 of its 8 neighbours remain: (9 + .25 + .25 + .0625) / 961
    assert value(reg, impulse(0, 0)) == pytest.approx((9 + 0.25 + 0.25 + 0.0625) / 961, rel=1e-6)


def test_ndn3_interior_row_of_the_operator():
    t = D2X(1.0, filter_shape=(5, 5, 1)).operator()
    row = t[2 * 5 + 2].reshape(5, 5)
    expected = np.zeros((5, 5))
    expected[2, 2], expected[1, 2], expected[3, 2], expected[2, 1], expected[2, 3] = -4, 1, 1, 1, 1
    np.testing.assert_array_equal(row, expected)


def test_d2x_flat_layout_is_nhwc():
    # Zero boundary on a non-square 3×5 filter: interior 20, edge 19, corner 18. Under a transposed
    # (5×3) reading the same flat indices would be an edge (8 → (2, 2)) and an interior pixel
    # (4 → (1, 1)).
    reg = D2X(1.0, filter_shape=(3, 5, 1))
    assert value(reg, impulse(1, 3, (3, 5, 1))) == 20.0
    assert value(reg, impulse(0, 4, (3, 5, 1))) == 18.0
    assert value(reg, impulse(1, 4, (3, 5, 1))) == 19.0
    # Channels are fastest and are penalised independently (block structure over C).
    reg2 = D2X(1.0, filter_shape=(3, 5, 2))
    assert value(reg2, impulse(1, 3, (3, 5, 2), c=1)) == 20.0
    assert value(reg2, impulse(0, 4, (3, 5, 2), c=1)) == 18.0
    both = impulse(1, 3, (3, 5, 2), c=0) + impulse(1, 3, (3, 5, 2), c=1)
    assert value(reg2, both) == 40.0
    # Free boundary, 4×6: pixel (1, 4) keeps −4 and two neighbours (row 2, column 3) → 18.
    assert value(D2X(1.0, boundary="free", filter_shape=(4, 6, 1)), impulse(1, 4, (4, 6, 1))) == 18.0


@pytest.mark.parametrize("cls", [D2X, D2T, D2XT])
@pytest.mark.parametrize("convention,boundary", [("ndn3", "zero"), ("ndn3", "free"), ("ndnt", "zero")])
@pytest.mark.parametrize("shape", [(4, 5, 3), (1, 6, 3), (5, 1, 4)])
def test_laplacians_match_their_operator(cls, convention, boundary, shape):
    reg = cls(1.0, convention=convention, boundary=boundary, filter_shape=shape)
    w = RNG.normal(size=(int(np.prod(shape)), 3))
    expected = quad(reg.operator(), w)
    if convention == "ndnt":
        expected /= w.size
    assert float(reg(w)) == pytest.approx(expected, rel=1e-10)  # float64 weights


def test_d1_filters_use_one_dimensional_second_differences():
    # An axis of length 1 is not spatial: a 1×N filter costs the 1-D Laplacian.
    w = np.zeros((5, 1))
    w[2] = 1.0
    assert value(D2X(1.0, filter_shape=(1, 5, 1)), w) == 6.0  # (−2)² + 1 + 1
    assert value(D2X(1.0, filter_shape=(5, 1, 1)), w) == 6.0
    assert value(D2X(1.0, convention="ndnt", filter_shape=(1, 5, 1)), w) == pytest.approx(6.0 / 5)


# ------------------------------------------------------------------------------------------------
# d2t / d2xt


def test_d2t_closed_forms():
    w = np.array([[0.0], [1.0], [0.0], [0.0]])  # lags on the channel axis of a 1-pixel filter
    assert value(D2T(1.0, filter_shape=(1, 1, 4)), w) == 6.0  # [1, −2, 1, 0]
    assert value(D2T(1.0, boundary="free", filter_shape=(1, 1, 4)), w) == 5.0  # [0, −2, 1, 0]
    assert value(D2T(1.0, convention="ndnt", filter_shape=(1, 1, 4)), w) == pytest.approx(6.0 / 4)
    # a linear ramp over lags costs nothing under the free boundary, only its ends under zero
    ramp = np.arange(4.0)[:, None]
    assert value(D2T(1.0, boundary="free", filter_shape=(1, 1, 4)), ramp) == 0.0
    assert value(D2T(1.0, filter_shape=(1, 1, 4)), ramp) == pytest.approx(1.0 + 16.0)  # [1, 0, 0, −4]
    # d2t acts per pixel, independently of the spatial neighbours
    two = np.zeros((2 * 3, 1))
    two[[1, 4]] = 1.0  # lag 1 at both pixels of a (1, 2, 3) filter
    assert value(D2T(1.0, filter_shape=(1, 2, 3)), two) == 12.0


def test_d2t_on_a_single_lag_raises():
    with pytest.raises(ValueError, match="D2T needs more than one lag"):
        D2T(1.0, filter_shape=(31, 31, 1))
    with pytest.raises(ValueError, match="out: D2T needs more than one lag"):
        D2T(1.0).bind((31, 31, 1), "out")
    with pytest.raises(ValueError, match="out: D2T needs a spatial input"):
        D2T(1.0).bind((9,), "out")


def test_d2xt_with_one_lag_is_laplacian_minus_2i():
    shape = (7, 7, 1)
    w = RNG.normal(size=(49, 2))
    lap = D2X(1.0, filter_shape=shape).operator()
    d2xt = D2XT(1.0, filter_shape=shape)
    assert value(d2xt, w) == pytest.approx(quad(lap - 2 * np.eye(49), w), rel=1e-5)
    assert value(d2xt, w) != pytest.approx(value(D2X(1.0, filter_shape=shape), w), rel=1e-2)
    assert value(d2xt, impulse(3, 3, shape)) == 40.0  # (−6)² + 4
    # free boundary: the 1-lag operator is 0, so d2xt = d2x
    free = D2XT(1.0, boundary="free", filter_shape=shape)
    assert value(free, w) == pytest.approx(value(D2X(1.0, boundary="free", filter_shape=shape), w), rel=1e-6)


def test_d2xt_is_one_operator_not_a_sum_of_penalties():
    shape = (3, 3, 3)
    w = RNG.normal(size=(27, 1))
    t = D2X(1.0, filter_shape=shape).operator() + D2T(1.0, filter_shape=shape).operator()
    assert value(D2XT(1.0, filter_shape=shape), w) == pytest.approx(quad(t, w), rel=1e-5)
    # ndnt: the 9-point kernel plus [1, −2, 1] over lags; interior impulse at the middle lag
    reg = D2XT(1.0, convention="ndnt", filter_shape=shape)
    k = impulse(1, 1, shape, c=1)
    assert value(reg, k) == pytest.approx(((-3 - 2) ** 2 + 4 * 0.25 + 4 * 0.0625 + 2 * 1) / 27, rel=1e-6)


def test_gradient_of_d2x_is_two_t_transpose_t_w():
    shape = (6, 5, 2)
    reg = D2X(0.3, filter_shape=shape)
    w = tf.Variable(RNG.normal(size=(60, 2)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = reg(w)
    t = reg.operator()
    np.testing.assert_allclose(tape.gradient(loss, w), 0.6 * t.T @ t @ w.numpy(), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------------------
# max family (spec §8 test 4)


def test_max_golden_and_conventions():
    w = np.array([[1.0], [1.0], [0.0]])
    assert value(Max(1.0), w) == 2.0
    assert value(Max(1.0, convention="ndnt"), w) == pytest.approx(2.0 / 3)
    w2 = np.array([[1.0, 0.0], [2.0, 3.0], [0.0, 0.0]])
    assert value(Max([1.0, 5.0]), w2) == 8.0  # column 0: 2·1·4, column 1: one non-zero weight


def test_max_filt_matrix_is_block_diagonal():
    m = MaxFilt(1.0, filter_shape=(1, 2, 2)).matrix()
    block = np.array([[0, 1], [1, 0]])
    np.testing.assert_array_equal(m, np.block([[block, np.zeros((2, 2))], [np.zeros((2, 2)), block]]))
    # couples only the two channels of one pixel
    w = np.array([[1.0], [2.0], [0.0], [0.0]])  # pixel 0: channels 1, 2
    assert value(MaxFilt(1.0, filter_shape=(1, 2, 2)), w) == 8.0
    w = np.array([[1.0], [0.0], [2.0], [0.0]])  # same channel, different pixels
    assert value(MaxFilt(1.0, filter_shape=(1, 2, 2)), w) == 0.0
    assert value(MaxSpace(1.0, filter_shape=(1, 2, 2)), w) == 8.0
    assert value(MaxSpace(1.0, convention="ndnt", filter_shape=(1, 2, 2)), w) == pytest.approx(2.0)


@pytest.mark.parametrize("cls", [MaxFilt, MaxSpace, Local, GLocal])
@pytest.mark.parametrize("convention", ["ndn3", "ndnt"])
def test_quartic_penalties_match_their_matrix(cls, convention):
    shape = (3, 4, 2)
    reg = cls([0.5, 1.0, 2.0], convention=convention, filter_shape=shape)
    w = RNG.normal(size=(24, 3))
    a = w ** 2
    per_unit = np.einsum("in,ij,jn->n", a, reg.matrix(), a)
    expected = np.sum(np.array([0.5, 1.0, 2.0]) * per_unit)
    if convention == "ndnt":
        expected /= w.size
    assert float(reg(w)) == pytest.approx(expected, rel=1e-10)


def test_max_matches_its_matrix():
    w = RNG.normal(size=(5, 2))
    a = w ** 2
    assert float(Max(1.0)(w)) == pytest.approx(np.einsum("in,ij,jn->", a, Max(1.0).matrix(5), a))


def test_max_filt_on_one_channel_raises():
    with pytest.raises(ValueError, match="hidden: MaxFilt .* identically 0 with one channel"):
        MaxFilt(1.0).bind((31, 31, 1), "hidden")
    with pytest.raises(ValueError, match="MaxSpace .* more than one pixel"):
        MaxSpace(1.0, filter_shape=(1, 1, 5))


# ------------------------------------------------------------------------------------------------
# center, local, glocal


def test_center_closed_form():
    reg = Center(1.0, filter_shape=(5, 5, 1))
    assert value(reg, impulse(0, 0, (5, 5, 1))) == pytest.approx(0.08)  # 0.01 · (2² + 2²)
    assert value(reg, impulse(2, 2, (5, 5, 1))) == 0.0
    assert value(reg, impulse(2, 4, (5, 5, 1), value=3.0)) == pytest.approx(0.01 * 4 * 9)
    assert value(Center(1.0, convention="ndnt", filter_shape=(5, 5, 1)), impulse(0, 0, (5, 5, 1))) == \
        pytest.approx(0.08 / 25)
    # even sizes: the centre lies between pixels; every channel of a pixel pays the same
    reg = Center(1.0, filter_shape=(2, 2, 3))
    assert value(reg, np.ones((12, 1))) == pytest.approx(12 * 0.01 * 0.5)
    w = RNG.normal(size=(12, 2))
    assert value(reg, w) == pytest.approx(np.einsum("in,ij,jn->", w, reg.matrix(), w), rel=1e-5)


def test_local_and_glocal_closed_forms():
    ends = np.array([[1.0], [0.0], [1.0]])
    norm = 1.5 ** 2 + 0.5 ** 2  # (W/2)² + (H/2)² for a 1×3 filter
    assert value(Local(1.0, filter_shape=(1, 3, 1)), ends) == pytest.approx(2 * 4 / norm)
    assert value(Local(1.0, convention="ndnt", filter_shape=(1, 3, 1)), ends) == pytest.approx(8 / norm / 3)
    neighbours = np.array([[1.0], [1.0], [0.0]])
    assert value(Local(1.0, filter_shape=(1, 3, 1)), neighbours) == pytest.approx(2 * 1 / norm)
    # Local couples only equal channels; GLocal couples across channels
    split = np.zeros((6, 1))
    split[0] = split[5] = 1.0  # pixel 0 channel 0, pixel 2 channel 1
    assert value(Local(1.0, filter_shape=(1, 3, 2)), split) == 0.0
    assert value(GLocal(1.0, filter_shape=(1, 3, 2)), split) == pytest.approx(2 * 4 / norm)
    # a single pixel costs nothing; a 2-D pair at distance √2
    single = impulse(1, 1, (3, 3, 1), value=5.0)
    assert value(Local(1.0, filter_shape=(3, 3, 1)), single) == 0.0
    diag = impulse(0, 0, (3, 3, 1)) + impulse(1, 1, (3, 3, 1))
    assert value(Local(1.0, filter_shape=(3, 3, 1)), diag) == pytest.approx(2 * 2 / 4.5)


# ------------------------------------------------------------------------------------------------
# orth, norm2


def test_orth_and_norm2_conventions():
    w = np.array([[1.0, 1.0], [0.0, 1.0]])
    assert value(Orth(1.0), w) == 3.0  # WᵀW − I = [[0, 1], [1, 1]]
    assert value(Orth(1.0, convention="ndnt"), w) == pytest.approx(0.75)
    assert value(Orth(1.0), np.eye(3)[:, :2]) == 0.0
    w = np.array([[1.0, 2.0], [1.0, 0.0]])  # squared column norms 2 and 4
    assert value(Norm2(1.0), w) == 16.0  # (6 − 2)²
    assert value(Norm2(1.0, convention="ndnt"), w) == pytest.approx((1 + 9) / 2)
    with pytest.raises(ValueError, match="Orth: lam must be a scalar"):
        Orth([1.0, 2.0])
    with pytest.raises(ValueError, match="Norm2: lam must be a scalar"):
        Norm2([1.0, 2.0])


# ------------------------------------------------------------------------------------------------
# per-unit λ


@pytest.mark.parametrize("make", [
    lambda lam, c: D2X(lam, convention=c, filter_shape=(4, 4, 2)),
    lambda lam, c: D2T(lam, convention=c, filter_shape=(4, 4, 2)),
    lambda lam, c: D2XT(lam, convention=c, filter_shape=(4, 4, 2)),
    lambda lam, c: Max(lam, convention=c),
    lambda lam, c: MaxFilt(lam, convention=c, filter_shape=(4, 4, 2)),
    lambda lam, c: Center(lam, convention=c, filter_shape=(4, 4, 2)),
    lambda lam, c: GLocal(lam, convention=c, filter_shape=(4, 4, 2)),
    lambda lam, c: L1(lam, convention=c),
    lambda lam, c: L2(lam, convention=c),
])
@pytest.mark.parametrize("convention", ["ndn3", "ndnt"])
def test_per_unit_lambda_is_a_weighted_sum_of_columns(make, convention):
    w = RNG.normal(size=(32, 3))
    lam = [0.5, 0.0, 3.0]
    lone = [float(make(1.0, convention)(w[:, [n]])) for n in range(3)]
    expected = sum(l * p for l, p in zip(lam, lone))
    if convention == "ndnt":
        expected /= 3  # a lone column's mean is over its own entries; the layer's over 3 columns too
    assert float(make(lam, convention)(w)) == pytest.approx(expected, rel=1e-8)


def test_per_unit_lambda_length_must_match_units():
    with pytest.raises(ValueError, match="per-unit lam has 2 entries but the kernel has 3 units"):
        D2X([1.0, 2.0], filter_shape=(2, 2, 1))(np.ones((4, 3)))
    with pytest.raises(ValueError, match="per-unit l2 has 2 entries"):
        L2([1.0, 2.0])(np.ones((4, 3)))


def test_invalid_lambda_raises():
    with pytest.raises(ValueError, match="must be finite and ≥ 0"):
        D2X(-1.0)
    with pytest.raises(ValueError, match="must be finite and ≥ 0"):
        Max(float("nan"))
    with pytest.raises(ValueError, match="scalar or a non-empty vector"):
        L1([[1.0]])


# ------------------------------------------------------------------------------------------------
# binding, errors instead of silent zeros


def test_unbound_spatial_penalty_raises():
    with pytest.raises(ValueError, match=r"D2X \(d2x\) needs the filter shape; attach it to an ndnx layer "
                                         r"or pass filter_shape=\(H, W, C\)"):
        D2X(1.0)(np.ones((9, 2), "float32"))
    with pytest.raises(ValueError, match="MaxFilt .* needs the filter shape"):
        MaxFilt(1.0)(np.ones((9, 2), "float32"))


def test_conv_kernel_carries_its_filter_shape():
    k = RNG.normal(size=(3, 4, 2, 5)).astype("float32")  # (kh, kw, C, filters)
    flat = k.reshape(24, 5)
    assert value(D2X(1.0), k) == pytest.approx(value(D2X(1.0, filter_shape=(3, 4, 2)), flat), rel=1e-6)
    assert value(MaxFilt(1.0), k) == pytest.approx(value(MaxFilt(1.0, filter_shape=(3, 4, 2)), flat), rel=1e-6)
    conv = keras.layers.Conv2D(5, 3, kernel_regularizer=D2X(0.5, convention="ndnt"))
    conv(np.zeros((1, 8, 8, 2), "float32"))
    expected = value(D2X(0.5, convention="ndnt", filter_shape=(3, 3, 2)), conv.kernel.numpy().reshape(18, 5))
    assert float(conv.losses[0]) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="D2T needs more than one lag"):
        D2T(1.0)(np.ones((3, 3, 1, 2), "float32"))


def test_filter_shape_mismatch_raises():
    with pytest.raises(ValueError, match=r"filter_shape \(3, 3, 1\) has 9 entries, expected a kernel"):
        D2X(1.0, filter_shape=(3, 3, 1))(np.ones((10, 2), "float32"))
    with pytest.raises(ValueError, match=r"hidden: D2X has filter_shape=\(3, 3, 1\), expected the layer's "
                                         r"filter shape \(9, 1, 1\)"):
        D2X(1.0, filter_shape=(3, 3, 1)).bind((9, 1, 1), "hidden")
    with pytest.raises(ValueError, match="filter_shape must be"):
        D2X(1.0, filter_shape=(3, 3))
    with pytest.raises(ValueError, match="Max: takes no filter_shape"):
        Max(1.0, filter_shape=(3, 3, 1))


def test_boundary_options():
    with pytest.raises(ValueError, match="boundary must be one of"):
        D2X(1.0, boundary="periodic")
    with pytest.raises(ValueError, match="ndnt convention pads with zeros"):
        D2X(1.0, convention="ndnt", boundary="free")
    with pytest.raises(ValueError, match="boundary='free' is identically 0"):
        D2X(1.0, boundary="free", filter_shape=(2, 2, 1))
    with pytest.raises(ValueError, match="boundary='free' is identically 0"):
        D2T(1.0, boundary="free").bind((5, 5, 2), "temporal")


def test_bind_returns_self_or_a_configured_copy():
    reg = D2X([0.1, 0.2], convention="ndnt")
    bound = reg.bind((5, 4, 2), "hidden")
    assert bound is not reg and reg.filter_shape is None
    assert bound.get_config() == {"lam": [0.1, 0.2], "convention": "ndnt", "filter_shape": [5, 4, 2],
                                  "boundary": "zero"}
    assert bound.bind((5, 4, 2), "hidden") is bound
    assert bound.bind((40,), "hidden") is bound  # NDN3-style: an explicit shape on a flat input
    assert bind_regularizer(bound, None, "hidden") is bound
    for plain in (L2(0.1), Max(1.0), Orth(1.0), keras.regularizers.L2(0.1), None):
        assert bind_regularizer(plain, (5, 4, 2), "hidden") is plain
        assert bind_regularizer(plain, (9,), "hidden") is plain
    with pytest.raises(ValueError, match=r"hidden: D2X needs a spatial input \(batch, H, W, C\); "
                                         r"got features of size 9"):
        bind_regularizer(D2X(1.0), (9,), "hidden")
    with pytest.raises(ValueError, match="got a flat input"):
        bind_regularizer(Center(1.0), None, "hidden")


@pytest.mark.parametrize("reg", [
    D2X([0.1, 0.2], convention="ndnt", filter_shape=(2, 3, 1)),
    D2XT(0.5, boundary="free", filter_shape=(3, 1, 2)),
    MaxFilt(1.0, filter_shape=(3, 1, 2)),
    Local(0.25, filter_shape=(2, 3, 1)),
    Combined([D2T(0.1, filter_shape=(1, 1, 6)), L1([0.1, 0.2])]),
])
def test_serialisation_round_trip(reg):
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(keras.saving.serialize_keras_object(reg))))
    assert type(restored) is type(reg) and restored.get_config() == reg.get_config()
    w = RNG.normal(size=(6, 2)).astype("float32")
    assert float(restored(w)) == pytest.approx(float(reg(w)))
    config = reg.get_config()
    assert json.loads(json.dumps(config)) == config  # plain floats, ints, lists


def test_from_reg_vals_maps_ndn_keys_and_rejects_silent_ones():
    reg = from_reg_vals({"d2x": 0.1, "l1": 0.01, "l2": None}, convention="ndnt", filter_shape=(3, 3, 1))
    assert isinstance(reg, Combined)
    assert [type(r).__name__ for r in reg.regularizers] == ["D2X", "L1"]
    assert reg.regularizers[0].filter_shape == (3, 3, 1) and reg.regularizers[0].convention == "ndnt"
    single = from_reg_vals({"max": 2.0})
    assert isinstance(single, Max) and single.lam == 2.0
    assert from_reg_vals({"l1": None}) is None
    assert from_reg_vals({"d2x": 1.0}, boundary="free").boundary == "free"
    for key in ("norm2_filt", "norm2_space"):
        with pytest.raises(ValueError, match=f"layer1: reg key '{key}' is not supported: NDN3 defines it only "
                                             "for separable"):
            from_reg_vals({key: 0.1}, layer_name="layer1")
    with pytest.raises(ValueError, match="'dropout' is not supported: it is not a penalty"):
        from_reg_vals({"dropout": 0.5})
    with pytest.raises(ValueError, match="unknown reg key 'd2y'"):
        from_reg_vals({"d2y": 0.5})
    with pytest.raises(ValueError, match="hidden: MaxFilt"):
        from_reg_vals({"max_filt": 1.0}, filter_shape=(5, 5, 1), layer_name="hidden")


def test_combined_binds_every_part():
    reg = Combined([D2X(1.0), L2(1.0)])
    bound = reg.bind((3, 3, 1), "hidden")
    assert bound is not reg and bound.regularizers[0].filter_shape == (3, 3, 1)
    assert bound.regularizers[1] is reg.regularizers[1]
    w = impulse(1, 1, (3, 3, 1))
    assert value(bound, w) == pytest.approx(20.0 + 0.5)
    with pytest.raises(ValueError, match="Combined: expected at least one"):
        Combined([])


# ------------------------------------------------------------------------------------------------
# layers


def test_dense_binds_spatial_penalties_and_rejects_flat_input():
    x = RNG.normal(size=(2, 5, 4, 3)).astype("float32")
    reg = D2X(0.2)
    layer = ndnx.layers.Dense(2, kernel_regularizer=reg, seed=1)
    layer(x)
    expected = value(D2X(0.2, filter_shape=(5, 4, 3)), layer.kernel.numpy())
    assert float(layer.losses[0]) == pytest.approx(expected, rel=1e-6)
    assert layer.get_config()["kernel_regularizer"]["config"]["filter_shape"] is None  # config as given
    with pytest.raises(ValueError, match=r"hidden: D2X needs a spatial input \(batch, H, W, C\); got features "
                                         r"of size 9"):
        ndnx.layers.Dense(2, kernel_regularizer=D2X(1.0), name="hidden")(np.ones((2, 9), "float32"))
    with pytest.raises(ValueError, match="hidden: MaxFilt"):
        ndnx.layers.Dense(2, kernel_regularizer=MaxFilt(1.0), name="hidden")(np.ones((2, 3, 3, 1), "float32"))
    with pytest.raises(ValueError, match="hidden: D2T needs more than one lag"):
        ndnx.layers.Dense(2, kernel_regularizer=D2T(1.0), name="hidden")(np.ones((2, 3, 3, 1), "float32"))
    with pytest.raises(ValueError, match=r"hidden \(bias_regularizer\): Center needs a spatial input"):
        ndnx.layers.Dense(2, bias_regularizer=Center(1.0), name="hidden")(np.ones((2, 3, 3, 1), "float32"))
    # NDN3 style: a flat input with the filter shape given explicitly
    flat = ndnx.layers.Dense(2, kernel_regularizer=D2X(0.2, filter_shape=(5, 4, 3)), seed=1)
    flat(x.reshape(2, -1))
    assert float(flat.losses[0]) == pytest.approx(expected, rel=1e-6)


def test_penalty_of_replicated_layer_is_sum_of_lone_penalties():
    x = np.ones((2, 4), "float32")
    seeds = [3, 4]
    for reg in (L2(0.7), L2(0.7, convention="ndnt"), L1(0.2, convention="ndnt")):
        stacked = ndnx.layers.Dense(3, replicas=2, seed=seeds, kernel_regularizer=reg)
        stacked(x)
        lone = []
        for s in seeds:
            layer = ndnx.layers.Dense(3, seed=s, kernel_regularizer=reg)
            layer(x)
            lone.append(float(layer.losses[0]))
        assert float(stacked.losses[0]) == pytest.approx(sum(lone), rel=1e-6)


@pytest.mark.parametrize("reg", [
    D2X(0.7), D2X([0.1, 0.2, 0.3], convention="ndnt"), D2XT(0.4, boundary="free"),
    Combined([MaxFilt(0.3, convention="ndnt"), Local(0.2), Center(1.0)]),
])
@pytest.mark.parametrize("shared", [True, False])
def test_replicated_spatial_penalty_is_sum_of_lone_penalties(reg, shared):
    seeds = [3, 4]
    x = RNG.normal(size=(2, 4, 3, 2)).astype("float32")
    stacked = ndnx.layers.Dense(3, replicas=2, seed=seeds, kernel_regularizer=reg)
    stacked(x if shared else np.stack([x, 2 * x], axis=1))
    lone = []
    for s in seeds:
        layer = ndnx.layers.Dense(3, seed=s, kernel_regularizer=reg)
        layer(x)
        lone.append(float(layer.losses[0]))
    assert float(stacked.losses[0]) == pytest.approx(sum(lone), rel=1e-6)


class _ColumnNormalisedDense(keras.layers.Layer):
    """Test-local: a layer with weight normalisation applies its penalty to the normalised kernel."""

    def __init__(self, units, penalty, **kwargs):
        super().__init__(**kwargs)
        self.units, self.penalty = units, penalty

    def build(self, input_shape):
        self.penalty = bind_regularizer(self.penalty, tuple(input_shape[1:]), self.name)
        fan_in = int(np.prod(input_shape[1:]))
        self.kernel = self.add_weight(shape=(fan_in, self.units),
                                      initializer=keras.initializers.RandomNormal(stddev=3.0, seed=0))

    def normalised(self):
        return self.kernel / ops.sqrt(ops.sum(ops.square(self.kernel), axis=0, keepdims=True))

    def call(self, x):
        w = self.normalised()
        self.add_loss(self.penalty(w))
        return ops.matmul(ops.reshape(x, (-1, w.shape[0])), w)


def test_penalty_of_a_normalised_layer_acts_on_normalised_weights():
    layer = _ColumnNormalisedDense(2, Combined([D2X(1.0), L2(1.0)]))
    layer(np.ones((1, 4, 4, 1), "float32"))
    w = layer.normalised().numpy()
    raw = layer.kernel.numpy()
    expected = value(D2X(1.0, filter_shape=(4, 4, 1)), w) + 0.5 * 2  # ½ Σ over two unit columns
    assert float(layer.losses[0]) == pytest.approx(expected, rel=1e-5)
    raw_value = value(D2X(1.0, filter_shape=(4, 4, 1)), raw) + 0.5 * np.sum(raw ** 2)
    assert abs(raw_value - expected) > 1.0


def test_penalties_train_inside_an_xla_compiled_step():
    reg = Combined([D2X(0.1), D2T(0.1, convention="ndnt"), MaxFilt(0.1), MaxSpace(0.1), Center(0.1),
                    Local(0.1), GLocal(0.1), Max(0.1), Orth(0.1), Norm2(0.1), L1(0.1), L2([0.1, 0.2])])
    inputs = keras.Input((5, 4, 3))
    model = keras.Model(inputs, ndnx.layers.Dense(2, kernel_regularizer=reg, seed=0)(inputs))
    model.compile(keras.optimizers.SGD(0.01), loss="mse", jit_compile=True)
    x = RNG.normal(size=(8, 5, 4, 3)).astype("float32")
    history = model.fit(x, np.zeros((8, 2), "float32"), epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][1] < history.history["loss"][0]
