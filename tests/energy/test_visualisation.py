"""ndnx.energy.visualisation: the channel objective and the channel clamp of the --viz modes (spec §3.1)."""

import numpy as np
import pytest
import tensorflow as tf

import ndnx
from ndnx.energy import SGHMC
from ndnx.energy.visualisation import ChannelEnergyTarget, visualise


def _graph():
    layers = [{"name": "image", "shape": [4, 4, 1]}, {"name": "h1", "shape": [4, 4, 2]}, {"name": "h2", "shape": [4, 4, 2]}]
    edges = [{"source": "h1", "target": "image", "kind": "conv", "kernel": 3},
             {"source": "image", "target": "h1", "kind": "conv", "kernel": 3},
             {"source": "h2", "target": "h1", "kind": "conv", "kernel": 3},
             {"source": "h1", "target": "h2", "kind": "conv", "kernel": 3}]
    graph = ndnx.energy.EnergyGraph(layers, edges, base_channels=2, state_activation="hardsig", seed=2)
    graph.build()
    return graph


def _states(graph, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return [tf.constant(rng.uniform(0, 1, size=(batch,) + tuple(s)).astype("float32")) for s in graph.shapes]


def test_channel_objective_is_half_the_channels_unit_energies_with_full_gradient_where_it_does_not_reach():
    graph = _graph()
    states = _states(graph)
    target = ChannelEnergyTarget(graph, layer=2, channel=1)
    e, grads = target.energy_and_gradients(states)
    units = graph.unit_energies(states)[2].numpy()[..., 1]
    np.testing.assert_allclose(e.numpy(), 0.5 * units.reshape(2, -1).sum(axis=1), rtol=1e-6)
    _, full = graph.energy_and_gradients(states)
    # channel 1 of h2 reads h1 only: the image gets the full energy's gradient, h1 and h2 the objective's
    np.testing.assert_allclose(grads[0].numpy(), full[0].numpy(), rtol=1e-6)
    with tf.GradientTape() as tape:
        tape.watch(states[1])
        objective = tf.reduce_sum(0.5 * graph.unit_energies(states)[2][..., 1])
    np.testing.assert_allclose(grads[1].numpy(), tape.gradient(objective, states[1]).numpy(), rtol=1e-5, atol=1e-7)
    assert not np.allclose(grads[1].numpy(), full[1].numpy())


def test_channels_state_holds_the_channel_on_and_standard_moves_every_layer():
    graph = _graph()
    sampler = SGHMC(0.1, 0.1, temperature=0.0)
    out = visualise(graph, "channels_state", sampler, steps=4, batch=2, every=2, layer=2, channels=[1])
    assert sorted(out) == [1] and out[1].shape == (2, 2, 4, 4, 1)
    start = np.random.default_rng(0).uniform(0, 1, size=(2, 4, 4, 1))    # the image's noise start (seed 0)
    assert not np.allclose(out[1][-1], start)
    low = visualise(graph, "channels_energy", sampler, steps=2, batch=2, layer=2, channels=[0])
    assert sorted(low) == [0] and low[0].shape == (1, 2, 4, 4, 1) and np.all((low[0] >= 0) & (low[0] <= 1))
    with pytest.raises(ValueError, match="mode must be one of standard, channels_energy, channels_state, got 'max'"):
        visualise(graph, "max", sampler, steps=1)
    # the clamp itself: the sampler keeps a clamped layer bit-identical
    states = _states(graph)
    on = np.zeros((2, 4, 4, 2), "float32")
    on[..., 1] = 0.8
    states[2] = tf.constant(on)
    after, _ = sampler.run(graph, states, 3, free=(True, True, False))
    np.testing.assert_array_equal(after[2].numpy(), on)
