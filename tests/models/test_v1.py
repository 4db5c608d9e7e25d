"""The V1 model zoo (ndnx.models.v1): replicas equal lone seeds, the NDN3 description of baseline 4,
configuration errors, the original HSM's bounded fit."""

import numpy as np
import pytest

from ndnx.models import v1
from ndnx.models.ffnetwork import ffnetwork

X = np.random.default_rng(0).normal(size=(5, 15, 15, 1)).astype("float32")

BUILDERS = {
    "hsm": lambda **kw: v1.hsm(6, input_shape=(15, 15, 1), **kw),
    "hsm_lin_scale": lambda **kw: v1.hsm(6, input_shape=(15, 15, 1), lin_scale=True, dog_activation="softplus",
                                         hidden_reg={"l1": 0.1}, **kw),
    "ln": lambda **kw: v1.ln(6, input_shape=(15, 15, 1), d2x=1.0, **kw),
    "lnln": lambda **kw: v1.lnln(6, input_shape=(15, 15, 1), hidden_fraction=0.5, d2x_hidden=0.1, **kw),
    "conv_sep": lambda **kw: v1.conv_readout(6, input_shape=(15, 15, 1), filters=3, kernel_size=5, readout="sep",
                                             hidden_fraction=0.5, d2x_conv=0.1, hidden_reg={"l1": 0.1}, **kw),
    "conv_dense": lambda **kw: v1.conv_readout(6, input_shape=(15, 15, 1), filters=3, kernel_size=5,
                                               readout="normal", hidden_fraction=0.5, hidden_reg={"max": 0.1}, **kw),
    "conv_dog": lambda **kw: v1.conv_dog(6, input_shape=(15, 15, 1), filters=3, kernel_size=7, readout="sep",
                                         hidden_fraction=0.5, **kw),
    "what_where": lambda **kw: v1.what_where(6, input_shape=(15, 15, 1), maps=4, kernel_sizes=(5, 3, 3),
                                             conv_reg={"d2x": 0.1, "max_filt": 0.01}, readout_reg={"l1": 0.01}, **kw),
    "conv_gaussian": lambda **kw: v1.conv_gaussian(6, input_shape=(15, 15, 1), maps=4, kernel_sizes=(5,),
                                                   strides=(1,), **kw),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_replica_r_equals_the_model_built_with_seed_plus_r(name):
    ensemble = BUILDERS[name](seed=3, replicas=2)
    y = np.asarray(ensemble(X, training=False))
    assert y.shape == (5, 2, 6) and np.all(np.isfinite(y))
    for r in range(2):
        lone = BUILDERS[name](seed=3 + r)
        np.testing.assert_allclose(y[:, r], np.asarray(lone(X, training=False)), rtol=1e-5, atol=1e-6)


def test_penalty_of_an_ensemble_is_the_sum_of_its_seeds():
    def penalty(model):
        model(X)
        return float(sum(np.asarray(t) for t in model.losses))

    for name in ("lnln", "conv_sep", "what_where"):
        both = penalty(BUILDERS[name](seed=1, replicas=2))
        alone = penalty(BUILDERS[name](seed=1)) + penalty(BUILDERS[name](seed=2))
        assert both == pytest.approx(alone, rel=1e-5) and both > 0, name


def test_hsm_is_the_ndn3_description_of_baseline_4():
    # NDNutils.ffnetwork_params of msc-neuro's bl4, read key for key
    a = ffnetwork((15, 15, 1), ["diff_of_gaussians", "normal", "normal"], [9, 2, 12], ["lin", "softplus", "softplus"],
                  reg_list={"l2": [None, 0.0, 0.1]}, biases_initializers=["trunc_normal"] * 3,
                  layer_names=["dog", "hidden", "output"], seed=4)
    b = v1.hsm(12, input_shape=(15, 15, 1), l2_output=0.1, seed=4)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    a(X), b(X)
    assert float(sum(a.losses)) == pytest.approx(float(sum(b.losses)))
    # NDN3's l2 is λ·½Σw² on the output weights only
    w = b.get_layer("output").kernel.numpy()
    assert float(sum(b.losses)) == pytest.approx(0.1 * 0.5 * float(np.sum(w ** 2)), rel=1e-5)


def test_from_config_names_an_unknown_model():
    with pytest.raises(ValueError, match="unknown model 'cnn'"):
        v1.from_config({"model": "cnn"}, 3, (15, 15, 1))


def test_original_hsm_bounds_initialisation_and_bounded_fit():
    from ndnx.training import box_bounds, fit_lbfgs

    model = v1.original_hsm(6, input_shape=(15, 15, 1), hidden_fraction=0.5, seed=1)
    expected = {  # lscsm bounds (spec §2.1); W1 scaled from raw pixels to grey levels by 1e-6
        "hidden/kernel": (-0.02, 0.02), "hidden/bias": (-20, 20), "output/kernel": (-4, 4), "output/bias": (-20, 20)}
    for w in model.trainable_weights:
        lower, upper = box_bounds(w)
        value = w.numpy()
        if w.path in expected:
            lo, hi = expected[w.path]
            assert np.allclose(lower, lo, rtol=1e-6) and np.allclose(upper, hi, rtol=1e-6), w.path
            # middle half of the box
            assert np.all(value >= lo + (hi - lo) / 4) and np.all(value <= hi - (hi - lo) / 4), w.path
        else:  # the DoG rows: α ∈ [ε, 10], σ ∈ [1, 25] (clipped by the 15-px box to ≤ 25), μ ∈ [2, 13]
            assert w.path == "dog/dog"
            np.testing.assert_allclose(upper[:, 0], [10, 25, 13, 13, 10, 25])
            np.testing.assert_allclose(lower[1:4, 0], [1, 2, 2])
            assert np.all(value[1] >= 7) and np.all(value[1] <= 19)                 # σ: middle of [1, 25]
            assert np.all(value[2] >= 4.75) and np.all(value[2] <= 10.25)           # μx: middle of [2, 13]
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(60, 15, 15, 1)).astype("float32")
    y = rng.poisson(2.0, size=(60, 6)).astype("float32")
    v1.compile_recipe(model, y, noise="poisson_sum", jit_compile=False)
    result = fit_lbfgs(model, x, y, maxiter=40)
    assert result["loss"] < result["initial_loss"]
    for w in model.trainable_weights:
        lower, upper = box_bounds(w)
        assert np.all(w.numpy() >= lower - 1e-6) and np.all(w.numpy() <= upper + 1e-6), w.path
