"""The contract every public ndnx object keeps (DESIGN.md "Tests").

For each entry of `ndnx.registry.PUBLIC` (everything registered with Keras under package "ndnx")
there is a case below; an object registered without a case fails `test_every_public_object_has_a_case`.

Layers: build and output shape, weight count, get_config round trip, `.keras` save and reload in
a fresh process (only `import ndnx`, no custom_objects) with identical outputs, one training step
that changes every trainable weight with finite gradients, seeded determinism.
Regularizers, initializers, losses, metrics: serialisation round trip with identical values, and
a `.keras` round trip inside a compiled model in the same fresh process.
"""

import json
import os
import subprocess
import sys

import numpy as np
import keras
import pytest
import tensorflow as tf

import ndnx
from ndnx.registry import PUBLIC

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = np.random.default_rng(0)


def _gather_cases():
    """Cases live in tests/contract_cases/<topic>.py: LAYER_CASES and OTHER_CASES dicts.

    LAYER_CASES: name → list of (constructor, input array, output shape, number of weight scalars);
    OTHER_CASES: name → constructor (regularizers, initializers, constraints, losses, metrics).
    """
    import importlib.util
    import pathlib

    layers, others = {}, {}
    for path in sorted(pathlib.Path(__file__).parent.joinpath("contract_cases").glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"contract_cases_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, cases in getattr(module, "LAYER_CASES", {}).items():
            assert name not in layers, f"{name} has contract cases in two files"
            layers[name] = cases
        for name, make in getattr(module, "OTHER_CASES", {}).items():
            assert name not in others, f"{name} has contract cases in two files"
            others[name] = make
    return layers, others


LAYER_CASES, OTHER_CASES = _gather_cases()
FEATURES = RNG.normal(size=(4, 6)).astype("float32")


def test_every_public_object_has_a_case():
    registered = {name for kind in PUBLIC.values() for name in kind}
    covered = set(LAYER_CASES) | set(OTHER_CASES)
    assert registered - covered == set(), f"public objects without a contract case: {registered - covered}"
    assert covered - registered == set()


LAYER_PARAMS = [(name, i) for name, cases in LAYER_CASES.items() for i in range(len(cases))]


def _model(name, i):
    make, x, _, _ = LAYER_CASES[name][i]
    inputs = keras.Input(shape=x.shape[1:])
    return keras.Model(inputs, make()(inputs)), x


@pytest.mark.parametrize("name,i", LAYER_PARAMS)
def test_layer_shape_weights_config(name, i):
    make, x, shape, count = LAYER_CASES[name][i]
    layer = make()
    y = layer(x)
    assert tuple(y.shape) == shape
    assert tuple(layer.compute_output_shape(x.shape)) == shape
    assert sum(int(np.prod(w.shape)) for w in layer.weights) == count
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    json.dumps(keras.saving.serialize_keras_object(layer))  # JSON-serialisable


@pytest.mark.parametrize("name,i", LAYER_PARAMS)
def test_layer_seeded_determinism(name, i):
    make, x, _, _ = LAYER_CASES[name][i]
    np.testing.assert_array_equal(make()(x), make()(x))


@pytest.mark.parametrize("name,i", LAYER_PARAMS)
def test_layer_training_step_changes_every_weight(name, i):
    model, x = _model(name, i)
    before = [w.numpy().copy() for w in model.trainable_weights]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(x, training=True))) + sum(model.losses)
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
    keras.optimizers.SGD(0.01).apply(grads, model.trainable_weights)
    for b, w in zip(before, model.trainable_weights):
        assert np.abs(w.numpy() - b).max() > 0, w.name


@pytest.mark.parametrize("name", sorted(OTHER_CASES))
def test_object_config_round_trip(name):
    obj = OTHER_CASES[name]()
    restored = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(obj))))
    assert type(restored) is type(obj) and restored.get_config() == obj.get_config()
    w = RNG.normal(size=(4, 3)).astype("float32")
    y = RNG.poisson(1.0, size=(4, 3)).astype("float32")
    if isinstance(obj, keras.regularizers.Regularizer):
        assert float(restored(w)) == pytest.approx(float(obj(w)))
    elif isinstance(obj, keras.constraints.Constraint):
        np.testing.assert_array_equal(restored(w), obj(w))
    elif isinstance(obj, keras.initializers.Initializer):
        np.testing.assert_array_equal(restored((6, 5)), obj((6, 5)))
    elif isinstance(obj, keras.losses.Loss):
        assert float(restored(y, np.abs(w) + 0.1)) == pytest.approx(float(obj(y, np.abs(w) + 0.1)))
    else:
        obj.update_state(y, w)
        restored.update_state(y, w)
        assert float(restored.result()) == pytest.approx(float(obj.result()))


FRESH_PROCESS = r"""
import json, sys
import numpy as np
import ndnx, keras
out = {}
for path, xpath in json.loads(sys.argv[1]):
    model = keras.saving.load_model(path)
    out[path] = np.asarray(model.predict(np.load(xpath), verbose=0)).tolist()
print(json.dumps(out))
"""


def test_keras_round_trip_in_a_fresh_process(tmp_path):
    cases, expected = [], {}
    for name, i in LAYER_PARAMS:
        model, x = _model(name, i)
        path, xpath = str(tmp_path / f"{name}{i}.keras"), str(tmp_path / f"{name}{i}.npy")
        model.save(path)
        np.save(xpath, x)
        cases.append((path, xpath))
        expected[path] = model.predict(x, verbose=0)
    # Losses, metrics, regularizers, initializers inside one compiled model.
    inputs = keras.Input(shape=(6,))
    dense = ndnx.layers.Dense(3, activation="softplus", kernel_regularizer=ndnx.regularizers.L2(0.2),
                              bias_regularizer=ndnx.regularizers.L1(0.3, convention="ndnt"), seed=0)
    model = keras.Model(inputs, dense(inputs))
    model.compile("adam", loss=ndnx.losses.PoissonLoss(unit_norm=[0.5, 1.0, 2.0]),
                  metrics=[ndnx.metrics.PearsonCorrelation(units=3)])
    model.fit(FEATURES, np.ones((4, 3), "float32"), epochs=1, verbose=0)
    path, xpath = str(tmp_path / "compiled.keras"), str(tmp_path / "compiled.npy")
    model.save(path)
    np.save(xpath, FEATURES)
    cases.append((path, xpath))
    expected[path] = model.predict(FEATURES, verbose=0)

    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, "-c", FRESH_PROCESS, json.dumps(cases)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    for path, value in expected.items():
        np.testing.assert_array_equal(np.asarray(got[path], dtype=value.dtype), value, err_msg=path)

    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.loss, ndnx.losses.PoissonLoss)
    np.testing.assert_allclose(reloaded.loss.unit_norm, [0.5, 1.0, 2.0])
