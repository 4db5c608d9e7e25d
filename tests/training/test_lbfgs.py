"""Full-batch L-BFGS (NDN3 learning_alg='lbfgs'): analytic optima, bounds, ensembles, partial fit."""

import numpy as np
import keras
import pytest
from scipy.optimize import nnls

import ndnx
from ndnx.losses import GaussianLoss, PoissonLoss, poisson_unit_norm
from ndnx.models.v1 import hsm
from ndnx.training import box_bounds, fit_lbfgs, train


def regression(rows=80, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype("float32")
    y = (x @ rng.normal(size=(features, 2)) + 0.3 * rng.normal(size=(rows, 2)) + 0.7).astype("float32")
    return x, y


def least_squares(x, y):
    design = np.c_[x.astype("float64"), np.ones(len(x))]
    return np.linalg.lstsq(design, y.astype("float64"), rcond=None)[0]


def dense_model(features, units, replicas=None, seed=0, **kwargs):
    inputs = keras.Input((features,))
    model = keras.Model(inputs, ndnx.layers.Dense(units, replicas=replicas, seed=seed, **kwargs)(inputs))
    model.compile(optimizer="adam", loss=GaussianLoss(replica_axis=None if replicas is None else 1))
    return model


def test_gaussian_loss_reaches_the_least_squares_solution():
    x, y = regression()
    model = dense_model(4, 2)
    result = fit_lbfgs(model, x, y)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(np.r_[kernel, bias[None]], least_squares(x, y), atol=1e-4)
    assert result["loss"] < result["initial_loss"], result


def test_chunked_objective_is_the_full_batch_objective():
    x, y = regression()
    full, chunked = dense_model(4, 2, seed=3), dense_model(4, 2, seed=3)
    fit_lbfgs(full, x, y, maxiter=3)
    fit_lbfgs(chunked, x, y, maxiter=3, batch_size=7)  # 80 rows: 11 chunks of 7 and one of 3
    for a, b in zip(full.get_weights(), chunked.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_every_replica_reaches_its_own_optimum():
    x, y = regression()
    ensemble = dense_model(4, 2, replicas=3, seed=5)
    fit_lbfgs(ensemble, x, y)
    kernel, bias = ensemble.get_weights()  # (3, 4, 2), (3, 2)
    solution = least_squares(x, y)
    for r in range(3):
        np.testing.assert_allclose(np.r_[kernel[r], bias[r][None]], solution, atol=2e-4)


def test_a_positivity_constraint_becomes_bounds_and_gives_the_nnls_solution():
    x, y = regression(seed=2)
    model = dense_model(4, 1, use_bias=False, kernel_constraint=ndnx.constraints.NonNegative())
    fit_lbfgs(model, x, y[:, :1], gtol=1e-8)
    expected, _ = nnls(x.astype("float64"), y[:, 0].astype("float64"))
    assert (expected == 0).any()  # the bound is active for some weight
    np.testing.assert_allclose(model.get_weights()[0][:, 0], expected, atol=1e-4)


def test_sign_mask_bounds_and_non_box_constraints():
    model = dense_model(3, 2, kernel_constraint=ndnx.constraints.SignMask(1))
    lower, upper = box_bounds(model.layers[-1].kernel)
    np.testing.assert_array_equal(lower, [[0, 0], [0, 0], [-np.inf, -np.inf]])
    np.testing.assert_array_equal(upper, [[np.inf, np.inf], [np.inf, np.inf], [0, 0]])
    assert box_bounds(model.layers[-1].bias) is None
    norm = dense_model(3, 2, kernel_constraint=keras.constraints.UnitNorm())
    with pytest.raises(ValueError, match="UnitNorm .* is not a box"):
        fit_lbfgs(norm, np.zeros((4, 3), "float32"), np.zeros((4, 2), "float32"))


def test_frozen_layers_stay_fixed_and_the_fit_lowers_the_poisson_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 31, 31, 1)).astype("float32")
    y = rng.poisson(np.asarray(hsm(8, seed=7)(x))).astype("float32")
    model = hsm(8, seed=1, l2_output=0.1)
    model.compile(optimizer="adam", loss=PoissonLoss(poisson_unit_norm(y)))
    model.get_layer("dog").trainable = False  # NDN3 fit_variables: refit the upper layers only
    dog_before = [w.copy() for w in model.get_layer("dog").get_weights()]
    result = fit_lbfgs(model, x, y)
    for a, b in zip(dog_before, model.get_layer("dog").get_weights()):
        np.testing.assert_array_equal(a, b)
    assert result["iterations"] > 20 and result["loss"] < result["initial_loss"] - 0.1
    # At the optimum of the free weights a fresh start finds (almost) nothing more to gain.
    restart = fit_lbfgs(model, x, y)
    assert restart["initial_loss"] == pytest.approx(result["loss"], rel=1e-6)
    assert restart["initial_loss"] - restart["loss"] < 1e-3 * abs(result["loss"])


def test_train_with_lbfgs_only_and_after_adam(tmp_path):
    x, y = regression()
    only = dense_model(4, 2)
    outcome = train(only, (x, y), (x, y), epochs=0, batch_size=16, lbfgs={}, log_dir=tmp_path / "logs",
                    progress=False)
    np.testing.assert_allclose(np.r_[only.get_weights()[0], only.get_weights()[1][None]], least_squares(x, y),
                               atol=1e-4)
    assert outcome["epochs_done"] == 0 and outcome["lbfgs"]["iterations"] > 1
    assert outcome["final"][("validation", "loss")][0] == pytest.approx(
        np.sum((x @ only.get_weights()[0] + only.get_weights()[1] - y) ** 2) / len(x), rel=1e-5)

    # Adam first, then the polish; a rerun with the same checkpoint does not polish twice.
    polished = dense_model(4, 2, seed=1)
    ckpt = tmp_path / "ckpt"
    train(polished, (x, y), epochs=5, batch_size=16, lbfgs={}, checkpoint_dir=ckpt, progress=False)
    weights = polished.get_weights()
    again = dense_model(4, 2, seed=9)
    outcome = train(again, (x, y), epochs=5, batch_size=16, lbfgs={}, checkpoint_dir=ckpt, progress=False)
    assert outcome["lbfgs"] is None and outcome["initial_epoch"] == 5
    for a, b in zip(weights, again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_without_a_compiled_loss_is_a_clear_error():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ValueError, match="has no compiled loss"):
        fit_lbfgs(model, np.zeros((4, 3)), np.zeros((4, 1)))


def test_progress_lines_report_the_accepted_objective():
    import io

    from ndnx.training.callbacks import LBFGSProgress

    x, y = regression()
    model = dense_model(4, 2)
    stream = io.StringIO()
    result = fit_lbfgs(model, x, y, maxiter=20, callback=LBFGSProgress(20, "fit", stream=stream, every_seconds=0))
    lines = stream.getvalue().splitlines()
    assert len(lines) == result["iterations"] and lines[0].startswith("fit L-BFGS 1/20 iterations")
    assert float(lines[-1].split("objective=")[1]) == pytest.approx(result["loss"], rel=1e-5)


def test_rounds_restart_from_where_the_last_stopped():
    x, y = regression()
    once, thrice = dense_model(4, 2, seed=2), dense_model(4, 2, seed=2)
    first = fit_lbfgs(once, x, y, maxiter=2)
    again = fit_lbfgs(thrice, x, y, maxiter=2, rounds=3)
    assert first["rounds"] == 1 and again["rounds"] == 3 and again["iterations"] == 6
    assert again["loss"] < first["loss"]
    # three rounds of 2 equal one round of 2, then two more rounds started from its result
    fit_lbfgs(once, x, y, maxiter=2, rounds=2)
    for a, b in zip(once.get_weights(), thrice.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="rounds must be ≥ 1"):
        fit_lbfgs(once, x, y, rounds=0)
