"""Contract cases of the energy family (see tests/test_contract.py).

EnergyGraph on states packed as one (batch, units) tensor: a 6×6×1 image, a 6×6×4 latent layer
(cct and convT edges, a self edge, weight norm, one dense block) and a 3-unit dense top layer;
and a purely dense two-layer graph with the batch-summed reduction and swish states; the first graph
again under the mixed_bfloat16 policy.
"""

import numpy as np

import ndnx

RNG = np.random.default_rng(17)


def _conv_graph(dtype=None):
    layers = [{"name": "image", "shape": [6, 6, 1]}, {"name": "h", "shape": [6, 6, 4], "depth": 1, "final_kernel": 3},
              {"name": "top", "shape": [3]}]
    edges = [{"source": "h", "target": "image", "kind": "cct", "kernel": 3},
             {"source": "top", "target": "image", "kind": "dense"},
             {"source": "image", "target": "h", "kind": "convT", "kernel": 3},
             {"source": "h", "target": "h", "kind": "conv", "kernel": 5},
             {"source": "h", "target": "top", "kind": "dense"}]
    return ndnx.energy.EnergyGraph(layers, edges, base_channels=4, growth_rate=2, weight_norm=True,
                                   activation="swish", seed=3, dtype=dtype)


def _mixed_conv_graph():
    return _conv_graph("mixed_bfloat16")


def _dense_graph():
    layers = [{"name": "x", "shape": [2]}, {"name": "h", "shape": [5]}]
    edges = [{"source": "h", "target": "x", "kind": "dense"}, {"source": "x", "target": "h", "kind": "dense"},
             {"source": "h", "target": "h", "kind": "dense"}]
    return ndnx.energy.EnergyGraph(layers, edges, state_activation="swish", reduction="sum", seed=4)


def _count(make):
    graph = make()
    graph.build()
    return graph.count_params()


CONV_STATES = RNG.uniform(-1, 1, size=(3, 36 + 144 + 3)).astype("float32")
DENSE_STATES = RNG.uniform(0, 1, size=(4, 7)).astype("float32")

LAYER_CASES = {
    "EnergyGraph": [
        (_conv_graph, CONV_STATES, (3,), _count(_conv_graph)),
        (_dense_graph, DENSE_STATES, (4,), _count(_dense_graph)),
        (_mixed_conv_graph, CONV_STATES, (3,), _count(_conv_graph)),
    ],
}


def _model():
    layers = [{"name": "image", "shape": [6, 6, 1]}, {"name": "h", "shape": [6, 6, 4]}, {"name": "top", "shape": [3]}]
    edges = [{"source": "h", "target": "image", "kind": "conv", "kernel": 3},
             {"source": "image", "target": "h", "kind": "conv", "kernel": 3},
             {"source": "top", "target": "h", "kind": "dense"}, {"source": "h", "target": "top", "kind": "dense"}]
    graph = dict(layers=layers, edges=edges, base_channels=4, activation="swish")
    return ndnx.models.NRFLV(graph, positive_steps=2, negative_steps=2, initter_channels=4, buffer_capacity=8, seed=5)


def _model_count():
    model = _model()
    model.build()
    return sum(int(np.prod(w.shape)) for w in model.weights)


LAYER_CASES["NRFLV"] = [(_model, RNG.uniform(0, 1, size=(3, 6, 6, 1)).astype("float32"), (3,), _model_count())]
