"""Feedback modulation, proof of concept (Naumann et al. 2022, Fig. 1; the original's demo_proof_of_concept).

A ModulationNet (τ = 1: the feedback sets each readout weight W[i, j] = W0[i, j]·M[i, j]) learns to
demix two chords under contexts that switch every 1000 steps: truncated BPTT over 1000-step windows,
the final state carried to the next batch under a stopped gradient, 32 contexts per batch, the
Huber loss summed over the window, Adam 1e-3 with elementwise clipping at 1 (spec §3). An epoch is
`batches` batches of fresh contexts (seeded by data_seed and the epoch); `epochs` × `batches` is
the number of optimiser steps (the paper: 10,000; the README's reproduction: 3000).

Every `log_every` epochs each seed is evaluated on `n_test` held-out contexts by the test protocol
(contexts back to back, sources from sample 0, noise 0.001): signal clarity of y ("clarity", spec
§3), steady-state per-source correlation ("source_corr", min over contexts and sources) and the
steady-state SNR in dB. Every other experiment of this group is this one with other defaults:
`cell` ("modulation", "spatial", "dale", "direct"), `source` ("chords", "sines", "ica_style"), `tau`,
`signals` (Nm), `kernel_width`, `mod_target`, `lower_units`, `inh_frac`, `activity_penalty`.

    ndnx run experiments/feedback/proof_of_concept.py
    ndnx summarize feedback/proof_of_concept
"""

import numpy as np

from ndnx.experiment import Epochs, Experiment
from ndnx.experiment.config import integer, one_of, positive

DEFAULTS = dict(cell="modulation", source="chords", tau=1.0, hidden=100, units=100, signals=4, kernel_width=0.2,
                mod_target="output", lower_units=40, inh_frac=1.0, activity_penalty=0.0, window=1000, batches=100, epochs=30, batch_size=32,
                lr=1e-3, clip=1.0, noise=0.001, n_test=20, data_seed=0, log_every=5, seeds=1)
CHECKS = dict(cell=one_of("modulation", "spatial", "dale", "direct"), source=one_of("chords", "sines", "ica_style"),
              tau=positive, hidden=integer(1), units=integer(1), signals=integer(1), window=integer(2),
              batches=integer(1), n_test=integer(2), lr=positive, clip=positive)


def _signals(config):
    from ndnx.data import unmixing

    return unmixing.sources(config["source"])


def load(config):
    """"train": epoch → the epoch's TBPTT batches; "validation": (held-out contexts (n_test, n, n), the run's
    protocol settings) — the evaluation reads both."""
    from ndnx.data import unmixing

    signals = _signals(config)
    n = signals.shape[1]

    def train(epoch):
        contexts, _ = unmixing.mixing_matrices(config["batches"] * config["batch_size"], mat_size=(n, n),
                                               seed=[config["data_seed"], 1, int(epoch)])
        return unmixing.training_windows(signals, contexts, window=config["window"], batch_size=config["batch_size"],
                                         noise=config["noise"], seed=[config["data_seed"], 2, int(epoch)])

    test, _ = unmixing.mixing_matrices(config["n_test"], mat_size=(n, n), seed=[config["data_seed"], 3])
    protocol = {k: config[k] for k in ("source", "window", "noise", "data_seed")}
    return {"train": train, "validation": (test, protocol)}


def make_cell(config, seed, replicas):
    import ndnx

    seeds = seed if replicas is None else [seed + r for r in range(replicas)]
    n = _signals(config).shape[1]
    common = dict(sources=n, hidden_units=config["hidden"], replicas=replicas, seed=seeds)
    if config["cell"] == "direct":
        return ndnx.cells.DirectDemixCell(**common)
    common["tau"] = config["tau"]
    if config["cell"] == "modulation":
        return ndnx.cells.ModulationNetCell(**common)
    if config["cell"] == "spatial":
        return ndnx.cells.SpatialNetCell(units=config["units"], signals=config["signals"],
                                         kernel_width=config["kernel_width"], **common)
    return ndnx.cells.DaleRateNetCell(units=config["units"], lower_units=config["lower_units"],
                                      inh_frac=config["inh_frac"], signals=config["signals"],
                                      kernel_width=config["kernel_width"], mod_target=config["mod_target"], **common)


def build(config, seed, replicas):
    import keras
    import ndnx

    model = ndnx.models.FeedbackNetwork(make_cell(config, seed, replicas), batch_size=config["batch_size"],
                                        activity_penalty=config["activity_penalty"])
    model.compile(keras.optimizers.Adam(config["lr"], clipvalue=config["clip"]), jit_compile=True)
    return model


def window_losses(model, data):
    """Per seed: the mean summed window loss over the batches of `data`, run from the initial state in order."""
    import tensorflow as tf

    # no Python control flow to convert (model.run builds its tf.while_loop itself), and AutoGraph
    # cannot read this file's source when it is loaded by spec, as the other feedback experiments
    # load it: it would warn on every evaluation
    run = tf.function(lambda x, state: model.run(x, state)[:2], jit_compile=True, autograph=False)
    state, losses = model.initial_state(int(model.batch_size)), []
    for x, s in data:
        y, state = run(x, state)
        losses.append([float(model.window_loss(s, y[:, :, r:r + 1])) for r in range(y.shape[2])])
    return {"loss": np.mean(losses, axis=0)}


def evaluate(model, contexts, config=None):
    """Per seed: mean clarity of y, min steady-state |corr(y_i, s_i)|, steady-state SNR (dB) on the
    held-out contexts; on the training batches (a pipeline, no settings) the window loss."""
    from ndnx.analysis import feedback as fa
    from ndnx.models.feedback_protocol import run_contexts

    if config is None:
        return window_losses(model, contexts)
    run = run_contexts(model, _signals(config), contexts, context_length=config["window"], noise=config["noise"],
                       seed=config["data_seed"], record=("modulation",))
    y = run["y"] if run["y"].ndim == 3 else run["y"][:, None]
    steady = config["window"] // 2
    out = {"clarity": [], "source_corr": [], "snr_db": []}
    for r in range(y.shape[1]):
        out["clarity"].append(fa.signal_clarity(run["s"], y[:, r], config["window"]).mean())
        out["source_corr"].append(fa.source_correlation(run["s"], y[:, r], config["window"], steady).min())
        out["snr_db"].append(fa.snr_db(run["s"], y[:, r], config["window"], steady))
    return {k: np.asarray(v) for k, v in out.items()}


def make_experiment(name, description, defaults=None, grid=None):
    config_defaults = dict(DEFAULTS, **(defaults or {}))
    return Experiment(
        name,
        defaults=config_defaults,
        data=load,
        build=build,
        fit=Epochs(carry_state=True),
        evaluate=evaluate,
        objective=("validation", "clarity", "max"),
        grid=grid,
        checks=CHECKS,
        seeds=config_defaults["seeds"],
        description=description,
    )


experiment = make_experiment("feedback/proof_of_concept",
                             "ModulationNet (τ = 1) demixing chords under switching contexts (Fig. 1)")

if __name__ == "__main__":
    raise SystemExit(experiment.main())
