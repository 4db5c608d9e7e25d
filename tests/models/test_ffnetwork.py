"""ffnetwork (ndnx.models.ffnetwork): NDN3 per-layer lists read key for key; errors name the problem."""

import keras
import numpy as np
import pytest

from ndnx.models.ffnetwork import ffnetwork


def test_normal_layer_normalization_is_ndn3_normalize_weights():
    model = ffnetwork((15, 15, 1), ["normal", "normal"], [3, 2], normalization=[1, -1], seed=0)
    assert [model.get_layer(n).normalize for n in ("layer0", "output")] == ["l2", "max_norm"]
    kernel = model.get_layer("layer0").effective_kernel().numpy()
    np.testing.assert_allclose(np.linalg.norm(kernel, axis=0), 1.0, rtol=1e-5)


def test_ffnetwork_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown layer types \\['readout'\\]"):
        ffnetwork((15, 15, 1), ["readout"], [3])
    with pytest.raises(ValueError, match="keep probability"):
        ffnetwork((15, 15, 1), ["normal"], [3], reg_list={"dropout": [0.5]})
    with pytest.raises(ValueError, match="layer_sizes has 1 entries for 2 layers"):
        ffnetwork((15, 15, 1), ["normal", "normal"], [3])
    with pytest.raises(ValueError, match="dog: a diff_of_gaussians layer takes no penalty"):
        ffnetwork((15, 15, 1), ["diff_of_gaussians"], [3], reg_list={"l2": [0.1]}, layer_names=["dog"])
    with pytest.raises(ValueError, match="reg keys \\['max'\\] do not apply to a separable layer"):
        ffnetwork((15, 15, 1), ["conv", "sep"], [2, 3], conv_filter_widths=[3, None], reg_list={"max": [None, 0.1]})
    with pytest.raises(ValueError, match="needs conv_filter_widths"):
        ffnetwork((15, 15, 1), ["conv"], [2])
    with pytest.raises(ValueError, match=r"normalization\[0\] of the 'normal' layer layer0 must be one of \[-1, 0, 1\]"):
        ffnetwork((15, 15, 1), ["normal", "normal"], [3, 2], normalization=[2, 0])


# --------------------------------------------------------------------------------------------------
# 'sep' layers as NDN3 builds them (SepLayer / SepRegularization): the weights are the stacked factors
# [kt; ks] of shape (C + H·W, units); normalization 0 L2-normalises kt, 1 ks, 2 both (tf.nn.l2_normalize:
# w / sqrt(max(Σw², 1e-12))); every penalty acts on the normalised factors. The expected values below are
# NDN3's formulas written out in NumPy on the layer's raw variables.

def _l2_normalize(w):
    return w / np.sqrt(np.maximum((w ** 2).sum(axis=0, keepdims=True), 1e-12))


def _ndn3_sep_factors(layer, normalization):
    kt = layer.features.numpy().astype("float64")
    ks = layer.mask.numpy().astype("float64")
    if normalization in (0, 2):
        kt = _l2_normalize(kt)
    if normalization in (1, 2):
        ks = _l2_normalize(ks)
    return kt, ks


def _max_coupling(w):
    """Σ_n Σ_{i≠j} w_in² w_jn² (NDN3 'max' matrix 1 − I)."""
    a = w ** 2
    return float(np.sum(a.sum(axis=0) ** 2 - (a ** 2).sum(axis=0)))


def _laplacian_zero_boundary(ks, h, w):
    grid = ks.reshape(h, w, -1)
    p = np.pad(grid, ((1, 1), (1, 1), (0, 0)))
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * grid
    return float(np.sum(lap ** 2))


SEP_MAPS = np.random.default_rng(3).normal(size=(5, 6, 6, 1)).astype("float32")


def _conv_sep(reg_list, normalization=0, **kwargs):
    model = ffnetwork((6, 6, 1), ["conv", "sep"], [3, 4], conv_filter_widths=[3, None], act_funcs=["lin", "lin"],
                      reg_list=reg_list, normalization=[0, normalization], seed=2, **kwargs)
    model(SEP_MAPS)
    return model, model.get_layer("output")


@pytest.mark.parametrize("normalization", [0, -1])
def test_sep_max_filt_is_ndn3s_max_penalty_on_the_channel_factor(normalization):
    # NDN3 SepRegularization: max_filt = λ Σ_n Σ_{c≠c'} kt²_cn kt²_c'n (the 'max' matrix over dim-0).
    model, sep = _conv_sep({"max_filt": [None, 0.7]}, normalization)
    kt, _ = _ndn3_sep_factors(sep, normalization)
    expected = 0.7 * _max_coupling(kt)
    assert expected > 1e-4
    assert float(sep.regularizer()) == pytest.approx(expected, rel=1e-5)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)


def test_sep_max_filt_on_one_channel_raises_instead_of_a_silent_zero():
    with pytest.raises(ValueError, match="sep0: MaxFilt couples different channels"):
        ffnetwork((6, 6, 1), ["sep"], [4], reg_list={"max_filt": [0.1]}, layer_names=["sep0"])


@pytest.mark.parametrize("normalization", [0, 1, 2, -1])
def test_sep_norm2_penalises_the_stacked_factors(normalization):
    # NDN3: norm2 = λ (Σ_{i,n} w_in² − units)² with w = [kt; ks] stacked, not one term per factor.
    _, sep = _conv_sep({"norm2": [None, 0.3]}, normalization)
    kt, ks = _ndn3_sep_factors(sep, normalization)
    expected = 0.3 * (np.sum(kt ** 2) + np.sum(ks ** 2) - 4) ** 2
    split = 0.3 * ((np.sum(kt ** 2) - 4) ** 2 + (np.sum(ks ** 2) - 4) ** 2)
    assert abs(expected - split) > 1e-2 * expected
    # float32 sums: Σw² − units cancels to ~1e-1 when a factor is normalised
    assert float(sep.regularizer()) == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_sep_penalties_are_ndn3s_sep_regularization():
    lam = dict(l1=0.01, l2=0.2, norm2=0.05, max_filt=0.3, max_space=0.02, d2x=0.1)
    _, sep = _conv_sep({k: [None, v] for k, v in lam.items()}, normalization=2)
    kt, ks = _ndn3_sep_factors(sep, 2)
    w = np.concatenate([kt, ks])
    expected = (lam["l1"] * np.abs(w).sum() + lam["l2"] * 0.5 * (w ** 2).sum()
                + lam["norm2"] * ((w ** 2).sum() - 4) ** 2 + lam["max_filt"] * _max_coupling(kt)
                + lam["max_space"] * _max_coupling(ks) + lam["d2x"] * _laplacian_zero_boundary(ks, 6, 6))
    assert float(sep.regularizer()) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("normalization", [0, 1, 2, -1])
def test_sep_normalization_is_ndn3s(normalization):
    model, sep = _conv_sep(None, normalization)
    ks = sep.mask.numpy()
    # masks of very different sizes: a small one and one below NDN3's ε (1e-6 on the norm)
    ks[:, 1] *= 1e-4 / np.linalg.norm(ks[:, 1])
    ks[:, 2] *= 1e-8 / np.linalg.norm(ks[:, 2])
    sep.mask.assign(ks)
    kt_n, ks_n = _ndn3_sep_factors(sep, normalization)
    np.testing.assert_allclose(sep.effective_features(), kt_n, rtol=1e-6)
    np.testing.assert_allclose(sep.effective_mask(), ks_n, rtol=1e-6, atol=1e-12)
    if normalization in (1, 2):
        np.testing.assert_allclose(np.linalg.norm(ks_n, axis=0), [1.0, 1.0, 0.01, 1.0], rtol=1e-6)
    # the responses are those of NDN3's dense weight W[s·C + c, n] = kt[c, n]·ks[s, n]
    hidden = np.asarray(keras.Model(model.input, model.get_layer("layer0").output)(SEP_MAPS), "float64")
    c = hidden.shape[-1]
    w = (ks_n[:, None, :] * kt_n[None, :, :]).reshape(-1, 4)       # row s·C + c
    assert w.shape[0] == 36 * c
    expected = hidden.reshape(len(SEP_MAPS), -1) @ w + sep.bias.numpy()
    np.testing.assert_allclose(model(SEP_MAPS), expected, rtol=1e-4, atol=1e-6)


def test_sep_normalization_rejects_unknown_values():
    with pytest.raises(ValueError, match=r"normalization\[1\] of the 'sep' layer output must be one of \[-1, 0, 1, 2\]"):
        ffnetwork((6, 6, 1), ["conv", "sep"], [3, 4], conv_filter_widths=[3, None], normalization=[0, 3])
