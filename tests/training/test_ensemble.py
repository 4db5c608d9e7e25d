"""Seeds as one model: elementwise optimizers only; extract_replica through RNN cells, nested and subclassed models."""

import numpy as np
import keras
import pytest

import ndnx
from ndnx.cells import LeakyRateCell
from ndnx.layers import Dense, Dropout
from ndnx.layers.replicas import child_seeds, normalize_replica_seeds
from ndnx.losses import GaussianLoss
from ndnx.training import CompiledEpochs, check_replica_optimizer, extract_replica, num_replicas, train
from ndnx.training.ensemble import all_layers

RNG = np.random.default_rng(0)
O = keras.optimizers

ELEMENTWISE = {
    "SGD+nesterov": lambda: O.SGD(0.1, momentum=0.9, nesterov=True),
    "Adam": lambda: O.Adam(0.1),
    "AdamW": lambda: O.AdamW(0.1),
    "Adamax": lambda: O.Adamax(0.1),
    "Nadam": lambda: O.Nadam(0.1),
    "RMSprop": lambda: O.RMSprop(0.1),
    "Adagrad": lambda: O.Adagrad(0.1),
    "Adadelta": lambda: O.Adadelta(1.0),
    "Ftrl": lambda: O.Ftrl(0.1),
    "Lion": lambda: O.Lion(0.1),
    "SGD+clipvalue": lambda: O.SGD(0.1, clipvalue=0.5),
    "LossScale(Adam)": lambda: O.LossScaleOptimizer(O.Adam(0.1)),
}
MIXING = {
    "Lamb": (lambda: O.Lamb(0.1), "Lamb scales each weight's step by a trust ratio"),
    "Adafactor": (lambda: O.Adafactor(0.1), "Adafactor factors the second moments"),
    "Muon": (lambda: O.Muon(0.1), "Muon orthogonalises"),
    "SGD+clipnorm": (lambda: O.SGD(0.1, clipnorm=1.0), "SGD has clipnorm=1.0"),
    "Adam+global_clipnorm": (lambda: O.Adam(0.1, global_clipnorm=1.0), "Adam has global_clipnorm=1.0"),
    "LossScale(Lamb)": (lambda: O.LossScaleOptimizer(O.Lamb(0.1)), "its inner optimizer: Lamb"),
}


def seed0_step(make, grad_of_seed1):
    """Replica 0's weights after two steps of a (2, 5) weight whose replica 1 gets `grad_of_seed1`."""
    w = keras.Variable(np.ones((2, 5), "float32"), name="kernel")
    grad = np.stack([np.linspace(-1.0, 2.0, 5), grad_of_seed1]).astype("float32")
    optimizer = make()
    for _ in range(2):
        optimizer.apply([keras.ops.convert_to_tensor(grad)], [w])
    return w.numpy()[0]


def replicated_model(optimizer):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, Dense(3, replicas=2, seed=0)(inputs))
    model.compile(optimizer, GaussianLoss(replica_axis=1))
    return model


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_optimizers_keep_seeds_apart_and_pass(name):
    small, large = np.full(5, 0.1), np.linspace(-30.0, 50.0, 5)
    np.testing.assert_array_equal(seed0_step(ELEMENTWISE[name], small), seed0_step(ELEMENTWISE[name], large))
    check_replica_optimizer(replicated_model(ELEMENTWISE[name]()))


@pytest.mark.parametrize("name", sorted(MIXING))
def test_optimizers_that_mix_seeds_are_refused(name):
    make, reason = MIXING[name]
    small, large = np.full(5, 0.1), np.linspace(-30.0, 50.0, 5)
    # seed 1's gradient changes seed 0's update: the seeds are no longer independent
    assert np.abs(seed0_step(make, small) - seed0_step(make, large)).max() > 1e-4
    with pytest.raises(ValueError, match=f"needs an elementwise optimizer.*{reason}"):
        check_replica_optimizer(replicated_model(make()))


def test_the_training_loops_refuse_clipnorm_and_plain_models_pass():
    x, y = RNG.normal(size=(8, 4)).astype("float32"), RNG.normal(size=(8, 3)).astype("float32")
    model = replicated_model(O.SGD(0.1, clipnorm=1.0))
    with pytest.raises(ValueError, match="clipnorm=1.0, a norm over every seed's entries"):
        train(model, (x, y), epochs=1, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="clipnorm"):
        CompiledEpochs(model, x, y, batch_size=4)
    assert model.optimizer.iterations.numpy() == 0
    inputs = keras.Input((4,))
    plain = keras.Model(inputs, Dense(3, seed=0)(inputs))
    plain.compile(O.SGD(0.1, clipnorm=1.0), GaussianLoss())
    check_replica_optimizer(plain)  # one seed: nothing to keep apart
    train(plain, (x, y), epochs=1, batch_size=4, progress=False)
    assert plain.optimizer.iterations.numpy() == 2


def test_unknown_optimizers_pass_only_when_they_declare_elementwise():
    class Halving(O.SGD):
        pass

    class DeclaredHalving(O.SGD):
        elementwise = True

    with pytest.raises(ValueError, match="Halving is not known to be elementwise"):
        check_replica_optimizer(replicated_model(Halving(0.1)))
    check_replica_optimizer(replicated_model(DeclaredHalving(0.1)))


# --- extract_replica -----------------------------------------------------------------------------
X_SEQ = RNG.normal(size=(3, 6, 4)).astype("float32")


def rnn_model(seed, replicas):
    inputs = keras.Input((6, 4))
    cell = LeakyRateCell(5, tau=50.0, dt=10.0, activation="tanh", replicas=replicas, seed=seed)
    return keras.Model(inputs, keras.layers.RNN(cell, return_sequences=True)(inputs))


def test_replica_of_an_rnn_cell_model_is_the_lone_cell_with_its_seed():
    ensemble = rnn_model([11, 12, 13], replicas=3)
    assert num_replicas(ensemble) == 3
    assert any(isinstance(layer, LeakyRateCell) for layer in all_layers(ensemble))
    y = ensemble.predict(X_SEQ, verbose=0)  # (batch, time, R, units)
    assert y.shape == (3, 6, 3, 5)
    for r in range(3):
        single = extract_replica(ensemble, r)
        assert num_replicas(single) is None
        np.testing.assert_allclose(single.predict(X_SEQ, verbose=0), y[:, :, r], atol=1e-6)
        np.testing.assert_allclose(rnn_model(11 + r, None).predict(X_SEQ, verbose=0), y[:, :, r], atol=1e-6)


def test_replica_of_a_cell_with_a_replicated_readout():
    def build(seed, replicas):
        inputs = keras.Input((6, 4))
        h = ndnx.cells.RNN(LeakyRateCell(5, replicas=replicas, seed=child_seeds(seed, replicas, "cell")))(inputs)
        return keras.Model(inputs, Dense(2, replicas=replicas, seed=child_seeds(seed, replicas, "readout"))(h))

    seeds = [3, 4]
    ensemble = build(seeds, 2)
    assert ensemble.output_shape == (None, 2, 2)
    y = ensemble.predict(X_SEQ, verbose=0)
    for r in range(2):
        np.testing.assert_allclose(extract_replica(ensemble, r).predict(X_SEQ, verbose=0), y[:, r], atol=1e-6)
        np.testing.assert_allclose(build([seeds[r]], None).predict(X_SEQ, verbose=0), y[:, r], atol=1e-6)


def test_replica_of_a_model_nested_in_a_functional_model():
    def build(seeds, replicas):
        def seed(name):
            return child_seeds(seeds, replicas, name)

        inner_in = keras.Input((4,))
        core = Dropout(0.25, replicas=replicas, seed=seed("drop"))(
            Dense(6, activation="softplus", replicas=replicas, seed=seed("core"))(inner_in))
        inner = keras.Model(inner_in, core, name="core")
        inputs = keras.Input((4,))
        return keras.Model(inputs, Dense(3, replicas=replicas, seed=seed("readout"))(inner(inputs)))

    x = RNG.normal(size=(5, 4)).astype("float32")
    seeds = normalize_replica_seeds("test", 8, 3)
    ensemble = build(seeds, 3)
    y = ensemble.predict(x, verbose=0)
    for r in range(3):
        single = extract_replica(ensemble, r)
        np.testing.assert_allclose(single.predict(x, verbose=0), y[:, r], atol=1e-6)
        lone = build([seeds[r]], None)
        for a, b in zip(single.get_weights(), lone.get_weights()):
            np.testing.assert_array_equal(a, b)
    # the dropout generators travel with their replica: the next training draws agree too
    ensemble(x, training=True)
    single = extract_replica(ensemble, 1)
    np.testing.assert_allclose(single(x, training=True), ensemble(x, training=True)[:, 1], atol=1e-6)


@keras.saving.register_keras_serializable(package="ndnx_tests")
class TwoLayer(keras.Model):
    """A subclassed model taking replicas and seed like an ndnx layer (replica r: seed replica_seeds[r])."""

    def __init__(self, units=4, replicas=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.replicas, self.seed = units, replicas, seed
        seeds = normalize_replica_seeds(self.name, seed, replicas)
        self.hidden = Dense(units, activation="tanh", replicas=replicas, seed=child_seeds(seeds, replicas, "hidden"))
        self.out = Dense(2, replicas=replicas, seed=child_seeds(seeds, replicas, "out"))

    def call(self, x):
        return self.out(self.hidden(x))

    def get_config(self):
        return {"name": self.name, "units": self.units, "replicas": self.replicas, "seed": self.seed}


def test_replica_of_a_subclassed_model_is_the_model_built_with_its_seed():
    x = RNG.normal(size=(5, 3)).astype("float32")
    ensemble = TwoLayer(4, replicas=3, seed=21)
    ensemble(x)
    ensemble.compile(O.Adam(0.01), GaussianLoss(replica_axis=1))
    y = ensemble.predict(x, verbose=0)
    seeds = normalize_replica_seeds("test", 21, 3)
    for r in range(3):
        single = extract_replica(ensemble, r)
        assert isinstance(single, TwoLayer) and single.replicas is None and single.seed == seeds[r]
        np.testing.assert_allclose(single.predict(x, verbose=0), y[:, r], atol=1e-6)
        lone = TwoLayer(4, seed=seeds[r])
        np.testing.assert_allclose(lone.predict(x, verbose=0), y[:, r], atol=1e-6)
    # compiled: the same loss without the replica axis, a fresh optimizer of the same configuration
    assert single.loss.replica_axis is None and isinstance(single.loss, GaussianLoss)
    assert single.optimizer.get_config() == ensemble.optimizer.get_config()
    assert single.optimizer is not ensemble.optimizer


def test_extract_replica_errors():
    with pytest.raises(ValueError, match="not a replicated model"):
        extract_replica(rnn_model(1, None), 0)
    with pytest.raises(ValueError, match=r"replica index must be in \[0, 3\), got 3"):
        extract_replica(rnn_model(1, 3), 3)
