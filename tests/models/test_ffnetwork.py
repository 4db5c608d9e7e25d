"""ffnetwork (ndnx.models.ffnetwork): NDN3 per-layer lists read key for key; errors name the problem."""

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
