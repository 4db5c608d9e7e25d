"""experiments/nrflv/train.py: the data it trains on and the models it builds (spec energy_sampling_nrflv.md §1.4, §7 item 6)."""

import numpy as np

from tests.experiments.nrflv.helpers import script


def _script():
    return script("train")


def test_data_share_the_state_range_and_the_models_match_their_datasets():
    script = _script()
    config = dict(script.DEFAULTS, dataset="patches", train_size=6, test_size=2)
    data = script.load(config)
    x = np.concatenate([data["train"], data["validation"]])
    assert data["train"].shape == (6, 32, 32, 1) and x.min() == 0.0 and x.max() == 1.0  # hardsig's range
    model = script.build(config, 0, None)
    assert model.graph.shapes == [(32, 32, 1), (32, 32, 16), (8, 8, 16), (5, 5, 5)]
    assert model.graph.ranges[0] == (0.0, 1.0)
    thesis = script.build(dict(script.DEFAULTS, dataset="cifar10"), 0, None)
    thesis.graph.build()
    assert thesis.graph.count_params() == 1_026_717
    # --set precision=mixed_bfloat16: the networks in bfloat16, weights float32, the same parameters
    mixed = script.build(dict(script.DEFAULTS, dataset="cifar10", precision="mixed_bfloat16"), 0, None)
    mixed.graph.build()
    assert mixed.graph.count_params() == 1_026_717
    assert mixed.graph.compute_dtype == "bfloat16" and mixed.graph.state_dtype == "float32"
    assert {w.dtype for w in mixed.graph.weights} == {"float32"}
