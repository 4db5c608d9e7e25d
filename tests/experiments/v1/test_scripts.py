"""Every V1 experiment script: its grid (the thesis table's runs) and, for each kind of run, a model
that is what its configuration says.

The data are replaced by a small synthetic stand-in (15×15 images, 12 neurons); each distinct
model configuration of a grid is built with two replicas and checked against quantities computed
here from the configuration and the specs alone (spec = specs/v1_system_identification.md):
the number of trainable parameters (layer by layer, §2–§3), the hidden units int(fraction·N) (§2.2),
the dropout rate (a rate, not NDN3's keep probability, §10), every layer's penalty recomputed in
NumPy from its weights and the configured λ in the NDN3 convention (§5.1: sums; l2 = λ·½Σw², d2x with
the 5-point Laplacian and a zero boundary), and the loss of one training step against the NDN3 loss
of the model's own predictions in that step (§5.1: Poisson −Σ(y log(ŷ + 1e-6) − ŷ)/(T·r̄ₙ) summed
over neurons, r̄ₙ the training mean; Gaussian Σ(y − ŷ)²/T; NaN targets contribute 0; replicas sum).
"""

import glob
import math
import os

import keras
import numpy as np
import pytest

import ndnx
import ndnx.data.v1_splits
from ndnx.experiment import load_experiment
from ndnx.models.v1 import from_config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))  # tests/experiments/v1 → root
SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "experiments", "v1", "*.py")))

# Runs per experiment: the thesis table's grids (spec v1_system_identification.md §2.2).
RUNS = {"baseline1": 1, "baseline2": 1, "baseline3": 1, "baseline4": 1, "hsm_search": 1, "inputs_outputs": 4,
        "noise": 2, "bias_init": 2, "learning_rate": 5, "batch_size": 9, "dropout": 15, "penalties": 44,
        "l2_grid": 16, "dog_softplus": 2, "lin_scale": 4, "lnln": 20, "ln": 8, "conv_readout": 180,
        "conv_dog": 54, "what_where": 6, "pooled": 36, "multeval": 15, "conv_gaussian": 3, "original_hsm": 1}

# Keys that change the data, the optimiser or the pipeline, not the model or its loss.
NOT_STRUCTURAL = {"lr", "epochs", "batch_size", "log_every", "seeds", "normalization", "output_normalization",
                  "region", "regions", "bias_init", "data_dir", "shuffle_seed", "ensemble"}

NEURONS, IMAGE = 12, (15, 15, 1)
REPLICAS = 2


def fake_splits(regions=1, *args, **kwargs):
    rng = np.random.default_rng(0)
    n_regions = 1 if isinstance(regions, int) else len(regions)
    x = rng.normal(size=(40 * n_regions, 15, 15, 1)).astype("float32")
    y = rng.poisson(1.0, size=(40 * n_regions, 12)).astype("float32")
    if n_regions > 1:  # pooled: region k records neurons of its block only
        for k in range(n_regions):
            cols = np.array_split(np.arange(12), n_regions)
            y[40 * k:40 * (k + 1)][:, np.setdiff1d(np.arange(12), cols[k])] = np.nan
    return {"train": (x[:32 * n_regions], y[:32 * n_regions]), "validation": (x[-8:], y[-8:])}


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(ndnx.data.v1_splits, "experiment_splits", fake_splits)


def test_every_script_is_listed():
    assert {os.path.basename(p)[:-3] for p in SCRIPTS} == set(RUNS)


# --- what a configuration says, computed from the configuration and the spec alone --------------

def _penalties(*pairs):
    """{penalty: λ} of (name, λ) pairs, without unnamed or zero ones; repeated names add up."""
    out = {}
    for key, lam in pairs:
        if key and lam:
            out[key] = out.get(key, 0.0) + float(lam)
    return out


def expected_layers(c, n=NEURONS, shape=IMAGE):
    """{layer: (trainable parameters of one seed, {weight: {penalty: λ}}, image)} of configuration `c`.

    `image` is the (H, W, C) a dense layer's rows flatten (NHWC, spec §5.1), for its spatial penalties.
    """
    height, width, channels = shape
    pixels = height * width * channels
    hidden = int(c["hidden_fraction"] * n)                                   # §2.2: int(0.2·N)
    hidden_pen = _penalties((c["hidden_penalty"], c["hidden_lambda"]))
    output_pen = _penalties((c["output_penalty"], c["output_lambda"]))
    kind = c["model"]
    layers = {}
    if kind in ("hsm", "original_hsm"):
        dogs = c["num_dogs"]
        if kind == "hsm" and c["lin_scale"]:
            layers["lin_scale"] = (2, {}, None)                                # §3.3: one weight, one bias
        # §3.1: 6 parameters per concentric DoG (α1, σ1, μx, μy, α2, σ2) and a bias; the original
        # HSM's DoG units have no threshold (§2.1) and no penalty anywhere (its boxes regularise).
        layers["dog"] = (6 * dogs + (dogs if kind == "hsm" else 0), {}, None)
        original = kind == "original_hsm"
        layers["hidden"] = (dogs * hidden + hidden,
                            {} if original else {"kernel": _penalties(("l2", c["l2_hidden"]), *hidden_pen.items())},
                            None)
        layers["output"] = (hidden * n + n,
                            {} if original else {"kernel": _penalties(("l2", c["l2_output"]), *output_pen.items())},
                            None)
    elif kind == "ln":
        layers["output"] = (pixels * n + n, {"kernel": _penalties(("d2x", c["d2x"]), ("l2", c["l2_output"]))}, shape)
    elif kind == "lnln":
        layers["hidden"] = (pixels * hidden + hidden, {"kernel": _penalties(("d2x", c["d2x"]), ("l2", c["l2_hidden"]))},
                            shape)
        layers["output"] = (hidden * n + n, {"kernel": _penalties(("l2", c["l2_output"]))}, None)
    elif kind in ("conv_readout", "conv_dog"):
        size, filters = c["kernel_size"], c["filters"]
        stride = c["strides"] or (size + 1) // 2                             # §2.2, exp. 2.2.1: (w + 1) // 2
        positions = math.ceil(height / stride) * math.ceil(width / stride)  # SAME padding (§3.2, §5.1 conv)
        if kind == "conv_readout":
            layers["conv"] = (size * size * channels * filters + filters, {"kernel": _penalties(("d2x", c["d2x"]))},
                              None)
        else:
            layers["conv_dog"] = (6 * filters + filters, {}, None)          # §3.2: the DoG parametrisation
        if c["readout"] == "sep":  # §5.1 SepRegularization: l1 / l2 on the spatial and the channel part
            layers["hidden"] = (positions * hidden + filters * hidden + hidden,
                                {"mask": hidden_pen, "features": hidden_pen}, None)
        else:
            layers["hidden"] = (positions * filters * hidden + hidden, {"kernel": hidden_pen}, None)
        layers["output"] = (hidden * n + n, {"kernel": _penalties(("l2", c["l2_output"]))}, None)
    elif kind in ("what_where", "conv_gaussian"):
        maps = c["maps"]
        # what/where: three convs of 13 / 3 / 3 px, the first with stride 2 (§2.2, exp. 2.2.5);
        # the Gaussian-readout core: 13 and 3 px, stride 1 (the builder's documented defaults).
        convs = [(13, 2), (3, 1), (3, 1)] if kind == "what_where" else [(13, 1), (3, 1)]
        conv_pen = _penalties(("d2x", c["d2x"]), (c["conv_penalty"], c["conv_lambda"]))
        side, inputs = height, channels
        for i, (size, stride) in enumerate(convs):
            layers[f"conv{i}"] = (size * size * inputs * maps + maps, {"kernel": conv_pen}, None)
            side, inputs = math.ceil(side / stride), maps
        if kind == "what_where":
            layers["output"] = (side * side * n + maps * n + n, {"mask": output_pen, "features": output_pen}, None)
        else:  # §5.2: per neuron a position (x, y), a full 2×2 σ, channel weights and a bias
            layers["output"] = (n * (2 + 4 + maps + 1), {"features": output_pen}, None)
    return layers


def ndn3_penalty(key, lam, w):
    """NDN3's penalty (§5.1, sums) on the weights of every unit, w of shape (units, C, H, W)."""
    if key == "l1":
        return lam * np.abs(w).sum()
    if key == "l2":
        return lam * 0.5 * np.square(w).sum()                               # tf.nn.l2_loss: the ½
    if key == "d2x":  # 5-point Laplacian per channel, zero (Dirichlet) boundary: impulse 20, corner 18
        p = np.pad(w, ((0, 0), (0, 0), (1, 1), (1, 1)))
        lap = p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:] - 4 * w
        return lam * np.square(lap).sum()
    squares = np.square(w)
    if key == "max":  # Σ_{i≠j} w_i² w_j² over all weights of a unit
        flat = squares.reshape(len(w), -1)
        return lam * (flat.sum(axis=1) ** 2 - np.square(flat).sum(axis=1)).sum()
    if key == "max_filt":  # the same over the channels at one pixel (0 for a one-channel input)
        return lam * (squares.sum(axis=1) ** 2 - np.square(squares).sum(axis=1)).sum()
    raise AssertionError(f"no NumPy reference for penalty {key!r}")


def unit_weights(layer, part, r, image):
    """Weights `part` of replica r as (units, C, H, W), as the layer uses them."""
    w = np.asarray(getattr(layer, part), dtype="float64")[r]
    if part == "kernel" and w.ndim == 4:                                    # conv (kh, kw, C, F)
        return w.transpose(3, 2, 0, 1)
    if part == "kernel":                                                    # dense (P, units), rows NHWC
        return (w.T.reshape((-1,) + tuple(image)).transpose(0, 3, 1, 2) if image
                else w.T[:, None, None, :])
    if part == "mask":                                                      # (H·W, units), square maps
        side = math.isqrt(w.shape[0])
        return w.T.reshape(-1, 1, side, side)
    if getattr(layer, "normalize_features", False):                         # 'sep': kt L2-normalised per unit
        w = w / np.sqrt(np.square(w).sum(axis=0, keepdims=True))
    return w.T[:, :, None, None]                                            # features (C, units)


def ndn3_data_loss(noise, y, pred, y_train):
    """The NDN3 loss (§5.1) of predictions (T, R, N) against targets (T, N), NaN = not recorded."""
    recorded = ~np.isnan(y)
    y = np.where(recorded, y, 0.0)[:, None, :].astype("float64")
    pred = pred.astype("float64") * recorded[:, None, :]
    if noise == "gaussian":
        terms = np.square(y - pred)
    elif noise == "poisson":
        rate = np.maximum(np.nanmean(y_train.astype("float64"), axis=0), 1e-6)  # r̄ₙ over the training rows
        terms = (pred - y * np.log(pred + 1e-6)) / rate
    else:  # poisson_sum: the original HSM's Σₙ [ŷ − y log(ŷ + 1e-19)] (§2.1), per row
        assert noise == "poisson_sum", noise
        terms = pred - y * np.log(pred + 1e-19)
    return terms.sum(axis=(1, 2)).mean()                                   # Σ over neurons and replicas, mean over T


def check_model(model, config, x, y, y_train):
    label = (config["model"], {k: config[k] for k in sorted(config) if k not in NOT_STRUCTURAL})
    expected = expected_layers(config)
    assert model.output_shape == (None, REPLICAS, NEURONS), label
    counts = {layer.name: sum(int(np.prod(w.shape)) for w in layer.trainable_weights) for layer in model.layers}
    assert {k: v for k, v in counts.items() if v} == {k: REPLICAS * v[0] for k, v in expected.items()}, label
    if "hidden" in expected:
        hidden = model.get_layer("hidden")
        assert hidden.units == int(config["hidden_fraction"] * NEURONS), label
        rate = config["hidden_dropout"] if config["model"] == "hsm" else 0.0
        after = model.layers[model.layers.index(hidden) + 1:]
        dropouts = [layer for layer in model.layers if isinstance(layer, (ndnx.layers.Dropout, keras.layers.Dropout))]
        assert [d.rate for d in dropouts] == ([rate] if rate else []), label
        assert not dropouts or after[0] is dropouts[0], label             # on the hidden layer's output

    # The one training step, against the NDN3 loss of the predictions it made: the random state
    # (dropout masks, the Gaussian readout's samples) is replayed for an eager forward pass.
    state = [v.numpy() for v in model.variables]
    pred = np.asarray(model(x, training=True))
    for v, value in zip(model.variables, state):
        v.assign(value)
    penalty = 0.0
    for name, (_, parts, image) in expected.items():
        layer = model.get_layer(name)
        value = sum(ndn3_penalty(key, lam, unit_weights(layer, part, r, image))
                    for part, pens in parts.items() for key, lam in pens.items() for r in range(REPLICAS))
        assert float(sum(np.asarray(t) for t in layer.losses)) == pytest.approx(value, rel=1e-5, abs=1e-7), \
            (label, name)
        penalty += value
    assert not [layer.name for layer in model.layers if layer.name not in expected and layer.losses], label
    model.jit_compile = False  # one step: compiling it (XLA or a graph) would cost more than it saves
    model.run_eagerly = True
    logs = model.train_on_batch(x, y, return_dict=True)
    data = ndn3_data_loss(config["noise"], y, pred, y_train)
    assert logs["loss"] == pytest.approx(data + penalty, rel=1e-5, abs=1e-5), (label, data, penalty)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: os.path.basename(p)[:-3])
def test_grid_and_models(path, fake_data):
    name = os.path.basename(path)[:-3]
    exp = load_experiment(path)
    assert exp.name == f"v1/{name}"
    runs = exp.runs()
    assert len(runs) == RUNS[name]
    structures = {}
    for run in runs:
        key = tuple(sorted((k, str(v)) for k, v in run.config.items() if k not in NOT_STRUCTURAL))
        structures.setdefault(key, run)
    sample = list(structures.values())
    if len(sample) > 4:  # large grids: the first, the last and two between
        sample = [sample[0], sample[len(sample) // 3], sample[2 * len(sample) // 3], sample[-1]]
    for run in sample:
        model = exp.build(run.config, seed=0, replicas=REPLICAS)
        x, y = exp.load_data(run.config)["train"]
        check_model(model, run.config, x[:16], y[:16], y)


def test_batch_size_grid_keeps_the_number_of_updates():
    exp = load_experiment(os.path.join(ROOT, "experiments", "v1", "batch_size.py"))
    updates = [r.config["epochs"] * math.ceil(1800 / r.config["batch_size"]) for r in exp.runs()]
    assert updates[2] == 200 * 113  # batch 16, the reference
    assert all(abs(u - updates[2]) / updates[2] < 0.01 for u in updates)


def test_hsm_parameter_count_of_region_1():
    # spec §2.2: DoG 9×6 used + 9 biases, hidden 9×20+20, output 20×103+103 ≈ 2.4k
    model = from_config({"model": "hsm"}, num_neurons=103, input_shape=(31, 31, 1))
    assert model.count_params() == 9 * 6 + 9 + 9 * 20 + 20 + 20 * 103 + 103 == 2426
