"""The contract every public ndnx object keeps (DESIGN.md "Tests").

For each entry of `ndnx.registry.PUBLIC` (everything registered with Keras under package "ndnx")
there is a case below; an object registered without a case fails `test_every_public_object_has_a_case`.

Layers and cells (cells inside `keras.layers.RNN` / `ndnx.cells.RNN`): build and output shape,
weight count, get_config round trip, `.keras` save and reload in a fresh process (only
`import ndnx`, no custom_objects) with identical outputs, one training step that changes every
trainable weight with finite gradients, seeds that matter (the same seed gives the same weights
and training-mode outputs, another seed other ones), and for replicated objects the replica
protocol (`ndnx.layers.replicas`): replica k is, weight slice for weight slice and in training-mode
outputs (dropout masks, sampled positions), the lone object built with seed k. A replicated object
may share non-trainable weights its config does not carry (an E/I network's connectivity): they
are the weights it does not record as replicated, and the lone object is given their values.
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
from ndnx.layers.replicas import num_replicas, replicated_variable_ids
from ndnx.registry import PUBLIC
from ndnx.seeding import derive_seed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = np.random.default_rng(0)


def _gather_cases():
    """Cases live in tests/contract_cases/<topic>.py: LAYER_CASES and OTHER_CASES dicts.

    LAYER_CASES: name → list of (constructor, input array, output shape, number of weight scalars
    [, replica axis of the input: 1 for (batch, R, ...), 2 for sequences (batch, time, R, ...),
    None (default) for a shared input]);
    OTHER_CASES: name → constructor (regularizers, initializers, constraints, losses, metrics), or
    (constructor, y_true, y_pred) for a loss or metric whose inputs are not (batch, units) arrays
    (the task losses of whole trials).
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
            layers[name] = [tuple(case) + (None,) * (5 - len(case)) for case in cases]
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
    make, x, _, _, _ = LAYER_CASES[name][i]
    inputs = keras.Input(shape=x.shape[1:])
    return keras.Model(inputs, make()(inputs)), x


@pytest.mark.parametrize("name,i", LAYER_PARAMS)
def test_layer_shape_weights_config(name, i):
    make, x, shape, count, _ = LAYER_CASES[name][i]
    layer = make()
    y = layer(x)
    assert tuple(y.shape) == shape
    assert tuple(layer.compute_output_shape(x.shape)) == shape
    assert sum(int(np.prod(w.shape)) for w in layer.weights) == count
    config = layer.get_config()
    clone = layer.__class__.from_config(dict(config))  # keras.layers.RNN.from_config pops "cell"
    assert clone.get_config() == config
    json.dumps(keras.saving.serialize_keras_object(layer))  # JSON-serialisable


# Layers whose weights and outputs do not depend on their seed (kept for a uniform signature).
SEED_FREE = {"LinScale"}


def _rewrite(config, entry):
    """`config` (nested dicts and lists) with `entry(d)` in place of every dict d that has `replicas`."""
    if isinstance(config, list):
        return [_rewrite(c, entry) for c in config]
    if not isinstance(config, dict):
        return config
    out = {k: _rewrite(v, entry) for k, v in config.items() if k != "build_config"}
    return entry(out) if "replicas" in out else out


def _rebuilt(layer, entry):
    return layer.__class__.from_config(_rewrite(layer.get_config(), entry))


def _trained_output(layer, x):
    """Two training-mode calls (random draws advance between them), as NumPy."""
    return [np.asarray(layer(x, training=True)) for _ in range(2)]


def _replica_seed(seed, replicas, k):
    # The documented rule: one seed per replica as given, or derive_seed(seed, k) from an int.
    if seed is None:
        return None
    return seed[k] if isinstance(seed, list) else derive_seed(seed, k)


@pytest.mark.parametrize("name,i", LAYER_PARAMS)
def test_layer_seed_decides_weights_and_draws(name, i):
    make, x, _, _, _ = LAYER_CASES[name][i]
    a, b = make(), make()
    out_a, out_b = _trained_output(a, x), _trained_output(b, x)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())
    for ya, yb in zip(out_a, out_b):
        np.testing.assert_array_equal(ya, yb)
    seeds = []

    def another_seed(entry):
        seed = entry["seed"]
        seeds.append(seed)
        if seed is None:
            return entry
        return dict(entry, seed=[s + 1 for s in seed] if isinstance(seed, list) else seed + 1)

    other = _rebuilt(make(), another_seed)
    out_other = _trained_output(other, x)
    if name in SEED_FREE:
        np.testing.assert_array_equal(out_other[0], out_a[0])
        return
    assert seeds and all(s is not None for s in seeds), f"{name} case {i} is not seeded"
    differ = [np.abs(wa.numpy() - wo.numpy()).max() for wa, wo in zip(a.weights, other.weights)]
    differ += [np.abs(ya - yo).max() for ya, yo in zip(out_a, out_other)]
    assert max(differ) > 1e-4, f"{name} case {i}: another seed gives the same weights and draws"


REPLICATED_PARAMS = [(name, i) for name, i in LAYER_PARAMS if num_replicas(LAYER_CASES[name][i][0]()) is not None]


@pytest.mark.parametrize("name,i", REPLICATED_PARAMS)
def test_replica_k_is_the_lone_object_with_seed_k(name, i):
    make, x, _, _, input_axis = LAYER_CASES[name][i]
    layer = make()
    replicas = num_replicas(layer)
    outputs = _trained_output(layer, x)
    recorded = replicated_variable_ids(layer)
    shared = [w for w in layer.weights if id(w) not in recorded]
    assert not any(w.trainable for w in shared), "every trainable weight of a replicated object carries the axis"
    lone_outputs = []
    for k in range(replicas):
        lone = _rebuilt(make(), lambda d: dict(d, replicas=None, seed=_replica_seed(d["seed"], d["replicas"], k)))
        assert num_replicas(lone) is None
        if shared:  # built without a call (a call would draw), then given the shared values
            lone.build(np.take(x, k, axis=input_axis).shape if input_axis is not None else x.shape)
            for w, w_lone in zip(layer.weights, lone.weights):
                if id(w) not in recorded:
                    w_lone.assign(w.numpy())
        lone_outputs.append(_trained_output(lone, x if input_axis is None else np.take(x, k, axis=input_axis)))
        assert len(lone.weights) == len(layer.weights)
        for w, w_lone in zip(layer.weights, lone.weights):
            value = w.numpy()[k] if id(w) in recorded else w.numpy()
            np.testing.assert_array_equal(value, w_lone.numpy(), err_msg=f"{w.path}, replica {k}")
    shape = outputs[0].shape
    # the output's replica axis: the first axis of length R whose removal leaves the lone shape
    axis = next(a for a in range(1, len(shape)) if shape[a] == replicas
                and shape[:a] + shape[a + 1:] == lone_outputs[0][0].shape)
    for k in range(replicas):
        for y, y_lone in zip(outputs, lone_outputs[k]):
            np.testing.assert_allclose(np.take(y, k, axis=axis), y_lone, rtol=1e-5, atol=1e-6)
    if recorded and name not in SEED_FREE:  # the replicas are independent seeds
        assert max(np.abs(w.numpy()[0] - w.numpy()[1]).max() for w in layer.weights if id(w) in recorded) > 1e-4


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
    make, y_true, y_pred = OTHER_CASES[name] if isinstance(OTHER_CASES[name], tuple) else (OTHER_CASES[name],
                                                                                            None, None)
    obj = make()
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
        y, p = (y, np.abs(w) + 0.1) if y_true is None else (y_true, y_pred)
        assert float(restored(y, p)) == pytest.approx(float(obj(y, p)))
    else:
        y, w = (y, w) if y_true is None else (y_true, y_pred)
        obj.update_state(y, w)
        restored.update_state(y, w)
        assert float(restored.result()) == pytest.approx(float(obj.result()))


FRESH_PROCESS = r"""
import json, sys
import numpy as np
import ndnx, keras
out = {}
for path, xpath, compiled in json.loads(sys.argv[1]):
    model = keras.saving.load_model(path)
    x = np.load(xpath)
    out[path] = np.asarray(model.predict(x, verbose=0) if compiled else model(x, training=False)).tolist()
print(json.dumps(out))
"""


def test_keras_round_trip_in_a_fresh_process(tmp_path):
    cases, expected = [], {}
    for name, i in LAYER_PARAMS:
        model, x = _model(name, i)
        path, xpath = str(tmp_path / f"{name}{i}.keras"), str(tmp_path / f"{name}{i}.npy")
        model.save(path)
        np.save(xpath, x)
        # a direct call: the same numbers on both sides without tracing a predict function per model (a
        # minute of this test); the compiled path is checked by the two models below
        cases.append((path, xpath, False))
        expected[path] = np.asarray(model(x, training=False))
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
    cases.append((path, xpath, True))
    expected[path] = model.predict(FEATURES, verbose=0)
    # A replicated cell inside keras.layers.RNN itself, stateful and returning its state.
    sequences = RNG.normal(size=(4, 6, 3)).astype("float32")
    inputs = keras.Input(batch_shape=(4, 6, 3))
    rnn = keras.layers.RNN(ndnx.cells.LeakyRateCell(5, replicas=2, seed=[1, 2]), stateful=True, return_state=True)
    stateful = keras.Model(inputs, list(rnn(inputs)))
    rnn_path, rnn_xpath = str(tmp_path / "stateful_rnn.keras"), str(tmp_path / "stateful_rnn.npy")
    expected[rnn_path] = np.asarray(stateful.predict(sequences, verbose=0))  # from the zero state
    assert expected[rnn_path].shape == (2, 4, 2, 5)  # last output and final state, (batch, R, units)
    stateful.save(rnn_path)
    np.save(rnn_xpath, sequences)
    cases.append((rnn_path, rnn_xpath, True))

    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, "-c", FRESH_PROCESS, json.dumps(cases)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    for case_path, value in expected.items():
        np.testing.assert_array_equal(np.asarray(got[case_path], dtype=value.dtype), value, err_msg=case_path)

    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.loss, ndnx.losses.PoissonLoss)
    np.testing.assert_allclose(reloaded.loss.unit_norm, [0.5, 1.0, 2.0])
