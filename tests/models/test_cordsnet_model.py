"""CordsNet model: parameter counts, latency, cached blank phase, training loss, checkpointing, record.

Spec cordsnet.md §1.5 (counts), §2.3 (latencies), §2.5 (training forward), §8.3 tests 5 and 6.
"""

import numpy as np
import pytest
import tensorflow as tf

import ndnx
from ndnx.cells.cordsnet import cordsnet_geometry, cordsnet_parameter_count, cordsnet_parameter_shapes
from tests import cordsnet_reference as ref


@pytest.mark.parametrize("depth,count,keys", [(2, 661_520, 17), (4, 1_451_152, 29), (6, 3_777_936, 41),
                                              (8, 12_475_280, 53)])
def test_parameter_counts_of_spec_section_1_5(depth, count, keys):
    assert cordsnet_parameter_count(depth, 1000, 224, 3) == count
    assert len(cordsnet_parameter_shapes(depth, 1000, 224, 3)) == keys  # the state-dict keys


def test_r8_counts_folded_and_with_fewer_classes():
    assert cordsnet_parameter_count(8, 1000, 224, 3, weight_norm=False) == 12_469_416
    assert cordsnet_parameter_count(8, 10, 224, 3) == 11_966_420
    assert cordsnet_parameter_count(8, 100, 224, 3) == 12_012_680
    shapes = cordsnet_parameter_shapes(8, 1000, 224, 3)
    assert shapes["area6/bias"] == (7, 7, 512) and shapes["skip2/v"] == (1, 1, 256, 512)
    assert sum(np.prod(s) for n, s in shapes.items() if n.endswith("rec/v")) == 6_266_880
    assert sum(np.prod(s) for n, s in shapes.items() if n.endswith("/bias") and n != "readout/bias") == 752_640


def test_model_parameters_are_the_canonical_dict():
    net = ndnx.models.cordsnet_r4(num_classes=7, image_size=20, channels=2, blank_steps=1, stimulus_steps=1, seed=0)
    params = net.get_parameters()
    assert {n: p.shape for n, p in params.items()} == cordsnet_parameter_shapes(4, 7, 20, 2)
    assert net.count_params() == cordsnet_parameter_count(4, 7, 20, 2) + 1  # + the shared PReLU slope
    bad = dict(params, **{"area1/bias": np.zeros((3, 3, 64), "float32")})
    del bad["readout/g"]
    with pytest.raises(ValueError, match=r"missing \['readout/g'\].*area1/bias \(3, 3, 64\) \(expected \(5, 5, 64\)\)"):
        net.set_parameters(bad)


def _positive_r8():
    net = ndnx.models.cordsnet_r8(num_classes=3, image_size=32, channels=1, blank_steps=10, stimulus_steps=6,
                                  weight_norm=False, jit_loop=False, seed=0)
    rng = np.random.default_rng(0)
    params = {}
    for name, shape in net.parameter_shapes().items():
        fan_in = int(np.prod(shape[:-1])) if name.endswith("kernel") else 1
        params[name] = (rng.uniform(0.2, 1.0, size=shape) * 0.5 / fan_in).astype("float32")
    net.set_parameters(params)
    return net


def test_latencies_follow_the_synchronous_update():
    # Test 5: positive weights, so no ReLU masks a change; a Gauss–Seidel update would give [1]*8.
    net = _positive_r8()
    image = np.random.default_rng(1).uniform(0.5, 1.0, size=(1, 32, 32, 1)).astype("float32")
    on = net.simulate(image, return_states=True)
    off = net.simulate(np.zeros_like(image), return_states=True)
    first = [int(np.argmax(np.any(a[0] != b[0], axis=(1, 2, 3)))) + 1 for a, b in zip(on["states"], off["states"])]
    assert first == [1, 1, 2, 2, 3, 3, 4, 4]
    assert int(np.argmax(np.any(on["logits"][0] != off["logits"][0], axis=1))) + 1 == 4


def test_blank_phase_is_shared_cached_and_invalidated_by_weight_changes():
    # Test 6 with the NumPy reference of the blank phase (zero image, batch 1).
    rng = np.random.default_rng(2)
    net = ndnx.models.cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=5, stimulus_steps=2,
                                  nonlinearity="prelu", prelu_slope=0.5, jit_loop=False, seed=1)
    _, areas = cordsnet_geometry(2, 12)
    params = net.get_parameters()
    for j in range(2):
        params[f"area{j}/bias"] = rng.normal(size=params[f"area{j}/bias"].shape).astype("float32")
    net.set_parameters(params)

    def expected(p, slope):
        states, _, _ = ref.run(p, np.zeros((1, 12, 12, 1)), ref.zero_states(areas, 1), 5, depth=2,
                               nonlinearity="prelu", slope=slope)
        return states

    def check(p, slope):
        for got, want in zip(net.spontaneous_state(), expected(p, slope)):
            np.testing.assert_allclose(got, want, atol=1e-5 * np.abs(want).max())

    check(params, 0.5)
    # Different images in one batch: every record of the blank steps is the same, and it is the cache.
    images = rng.normal(size=(3, 12, 12, 1)).astype("float32")
    recorded = net.record(images, layers=(0, 1), stimulus_steps=1)
    for j in (0, 1):
        np.testing.assert_array_equal(recorded[j][4], np.repeat(net.spontaneous_state()[j], 3, axis=0))
    assert bool(net._cache.valid(5))
    # Every way of changing a weight invalidates the cache.
    params["area1/bias"] = params["area1/bias"] + 0.25
    net.set_parameters(params)
    check(params, 0.5)
    net.cell.rec[0].g.assign(net.cell.rec[0].g * 0.5)
    params["area0/rec/g"] = net.cell.rec[0].g.numpy()
    check(params, 0.5)
    net.prelu_slope.assign(0.1)
    check(params, 0.1)
    # and the stimulus then starts from the new blank state
    _, _, logits = ref.run(params, images, [np.repeat(s, 3, axis=0) for s in expected(params, 0.1)], 2, depth=2,
                           nonlinearity="prelu", slope=0.1)
    np.testing.assert_allclose(np.asarray(net(images)), logits[-1], atol=1e-5 * np.abs(logits).max())


def _reference_loss(params, images, labels, protocol, blank, stimulus, ramp_steps, spont_steps, depth, areas):
    ramp = np.logspace(-3, 0, ramp_steps)
    batch = len(images)
    if protocol == "three_phase":
        baseline, _, _ = ref.run(params, np.zeros((1,) + images.shape[1:]), ref.zero_states(areas, 1), blank,
                                 depth=depth)
        baseline = [np.repeat(b, batch, axis=0) for b in baseline]
    else:
        baseline = ref.zero_states(areas, batch)
    states, _, logits = ref.run(params, images, baseline, stimulus, depth=depth)
    ce = np.mean([w * ref.cross_entropy(labels, lg) for w, lg in zip(ramp, logits[stimulus - ramp_steps:])])
    spontaneous = 0.0
    if protocol == "three_phase":
        _, trajectory, _ = ref.run(params, np.zeros_like(images), states, blank, depth=depth)
        for t in trajectory[blank - spont_steps:]:
            spontaneous += sum(np.mean((r - b) ** 2) for r, b in zip(t, baseline)) / (depth * spont_steps)
    return ce, spontaneous


@pytest.mark.parametrize("protocol,soft", [("three_phase", False), ("stimulus_only", True)])
def test_training_loss_is_the_spec_loss(protocol, soft):
    rng = np.random.default_rng(3)
    net = ndnx.models.cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=4, stimulus_steps=5,
                                  ramp_steps=3, spontaneous_steps=2, protocol=protocol, checkpoint_every=2,
                                  jit_loop=False, seed=2)
    params = net.get_parameters()
    for j in range(2):
        params[f"area{j}/bias"] = rng.normal(size=params[f"area{j}/bias"].shape).astype("float32")
    net.set_parameters(params)
    images = rng.normal(size=(2, 12, 12, 1)).astype("float32")
    labels = rng.dirichlet(np.ones(3), size=2).astype("float32") if soft else np.array([2, 0])
    total, details = net.training_loss(images, labels, return_details=True)
    _, areas = cordsnet_geometry(2, 12)
    ce, spontaneous = _reference_loss(params, images, labels, protocol, 4, 5, 3, 2, 2, areas)
    assert float(details["cross_entropy"]) == pytest.approx(ce, rel=1e-5)
    assert float(details["spontaneous"]) == pytest.approx(spontaneous, rel=1e-4, abs=1e-12)
    assert float(total) == pytest.approx(ce + 1e-3 * spontaneous, rel=1e-5)
    if protocol == "three_phase":
        assert spontaneous > 0


@pytest.mark.slow
def test_gradient_checkpointing_gives_the_same_gradients():
    rng = np.random.default_rng(4)
    net = ndnx.models.cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=4, stimulus_steps=5,
                                  ramp_steps=3, spontaneous_steps=2, spontaneous_weight=1.0, jit_loop=False, seed=3)
    images = rng.normal(size=(2, 12, 12, 1)).astype("float32")
    labels = np.array([1, 2])
    grads = []
    for every in (0, 2):
        with tf.GradientTape() as tape:
            loss = net.training_loss(images, labels, checkpoint_every=every)
        grads.append([np.asarray(g) for g in tape.gradient(loss, net.trainable_variables)])
    worst = max(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12) for a, b in zip(*grads))
    print(f"checkpointed vs plain BPTT gradients: largest difference {worst:.2e} of the gradient's scale")
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(np.abs(a).max(), 1e-12))


def test_hdf5_record_equals_the_simulated_states(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(5)
    net = ndnx.models.cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=4, stimulus_steps=4,
                                  jit_loop=False, seed=4)
    images = rng.normal(size=(2, 12, 12, 1)).astype("float32")
    path = net.record(images, layers=(0, 1), path=str(tmp_path / "states.h5"), chunk_steps=2)
    states = net.simulate(images, return_states=True)["states"]
    with h5py.File(path, "r") as f:
        for j in (0, 1):
            data = f[f"area{j}"][...]
            assert data.shape == (8, 2) + states[j].shape[2:]
            np.testing.assert_allclose(data[4:], np.swapaxes(states[j], 0, 1), rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(data[3], np.repeat(net.spontaneous_state()[j], 2, axis=0), rtol=1e-6,
                                       atol=1e-6)


@pytest.mark.slow
def test_window_readout_is_the_tail_of_the_per_step_logits():
    rng = np.random.default_rng(6)
    images = rng.normal(size=(2, 20, 20, 1)).astype("float32")
    nets = [ndnx.models.cordsnet_r4(num_classes=3, image_size=20, channels=1, blank_steps=3, stimulus_steps=4,
                                    readout=readout, seed=4) for readout in ("all", ("window", 2), "final")]
    every = np.asarray(nets[0](images))
    assert every.shape == (2, 4, 3)
    np.testing.assert_allclose(np.asarray(nets[1](images)), every[:, 2:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(nets[2](images)), every[:, -1], rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # ~25 s: traces two training steps; the contract test round-trips the model itself
def test_saved_model_comes_back_compiled_with_its_optimizer_state(tmp_path):
    import warnings

    import keras

    net = ndnx.models.cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=2, stimulus_steps=3,
                                  ramp_steps=2, spontaneous_steps=2, seed=0)
    net.compile(keras.optimizers.Adam(2e-3))
    images, labels = np.ones((2, 12, 12, 1), "float32"), np.array([0, 1])
    net.train_on_batch(images, labels)
    net.save(tmp_path / "net.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # Keras warns when a custom compile() is skipped
        loaded = keras.saving.load_model(tmp_path / "net.keras")
    assert int(loaded.optimizer.iterations.numpy()) == 1
    np.testing.assert_allclose(float(loaded.optimizer.learning_rate), 2e-3, rtol=1e-6)
    for a, b in zip(net.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # the next step continues identically
    np.testing.assert_allclose(loaded.train_on_batch(images, labels), net.train_on_batch(images, labels), rtol=1e-6)
