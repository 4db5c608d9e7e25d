"""Delayed paired association (DPA), Go/NoGo or the dual task, learned by a low-rank + STP network through
backpropagation through the whole trial (spec ei_networks_neuroflame.md §5, §6; NeuroFlame's train_dual).

The network is the train_dual reference configuration (N = 1000, K = 100, DT = 20 ms, τ = [0.2, 0.1] s,
GAIN 0.75, CLAMP 1) with LR_TRAIN = 1: the E→E block is the dense plastic block
GAIN·J_STP·(1 + V·Uᵀ)/N_E with trainable rank-2 U, V (N(0, 1), U = V at the start) and a trainable
J_STP (`ndnx.models.build_ei_network`). The readout is the overlap of the E rates with V,
z = r_E·V/N_E (`ndnx.models.EITaskModel`); DPA reads column 0, Go/NoGo column 1, the dual task both.

Trials (`ndnx.data.tasks`, the train_dual layout: sample 1–2 s, distractor 3–4 s, cue 5–5.5 s, test
7–8 s, 11 s recorded after a 1 s steady period) carry odor vectors (`ndnx.connectivity.odor_vectors`)
as stimuli; `trials_per_condition` trials of each condition (DPA: 4, Go/NoGo: 2, dual: 12), split
per condition into training and validation (`validation_fraction`, NeuroFlame's stratified 80/20).
Every trial starts from a random state (s, n ~ N(0, init_std²), drawn anew at each call);
`init_std=0` starts every trial from the same deterministic state. `lr_frozen=k` holds the first k
rank components of U and V (the Go/NoGo stage of the curriculum, experiments/ei/dual_curriculum.py).
The loss is `ndnx.losses.DualLoss` — a hinge (margin 2) in the task window (DPA: test → end),
SmoothL1 to 0 outside it — with the negative class "neutral" (g·|z|, g = 0.1; NeuroFlame's
class_bal = 0) by default or hinged too (`negative=hinge`). Adam at lr 0.1 decayed ×0.9 per epoch,
gradient norm clipped at 10 (`ndnx.training.ei_tasks.task_optimizer`), batch 32, training stopped
early once the loss is below `loss_threshold` (`TaskStopping`).

With `sample_readout` (DPA only) readout column 1 also reports the sample (A: z ≥ 2, B: z ≤ −2 with
the hinged negative class) from sample onset to test onset — NeuroFlame's "stim" window — which asks
the network for a memory of the sample through the delay.

Logged per split: the loss, NeuroFlame's accuracy (σ(z) in the window, negatives mirrored) and the
choice accuracy (the window's mean readout above the decision threshold — 1 for the neutral
negative class, 0 for the hinged one — exactly for label 1; `ndnx.metrics.dual_accuracy`), averaged
over the channels, and with several channels each one's as "<score>_z<column>" (dual task: z0 DPA,
z1 Go/NoGo; with `sample_readout`: z0 DPA, z1 the sample).
A readout that ignores the sample, the same on every trial, has choice accuracy 0.5 on the balanced
DPA set; under the neutral negative class it can still bring the loss to ≈ 0.1 (z = 2 on every
trial: 0 on match, 0.1·2 on non-match trials), which is why the accuracy is logged beside the loss.

Seeds: the network (connectivity, odor-independent structure) comes from `network_seed`; a seed
draws the trained weights' initial values (V, U), the initial states and any noise. The seeds of a
run train as one replicated model (`--set seeds=4`: four training seeds of one network in one
model, each with its own optimiser state and gradient clip; `ensemble=false` trains them one by
one, with identical results).

The trained model (V, U, J_STP with the network) is saved per seed under training_data/models/.

Defaults are the spec's reference run (N = 1000, 4 × 256 trials, 5 epochs; NeuroFlame: val loss
1.96 → 0.12 in 4 epochs), about 20 minutes on 2 CPU cores; a quick look:
`--set N_NEURON=400 --set K=40 --set trials_per_condition=32 --set epochs=3`.

    ndnx run experiments/ei/dpa_training.py
    ndnx run experiments/ei/dpa_training.py --set task=dual --set trials_per_condition=64
    ndnx summarize ei/dpa_training
"""

import math

import numpy as np

from ndnx.connectivity import odor_vectors
from ndnx.data.tasks import dpa_trials, dual_targets, dual_trials, go_nogo_trials
from ndnx.experiment import Epochs, Experiment
from ndnx.experiment.config import boolean, integer, number, one_of, positive
from ndnx.layers.replicas import num_replicas
from ndnx.losses import DualLoss
from ndnx.metrics import dual_accuracy
from ndnx.models import EITaskModel, build_ei_network
from ndnx.models.ei_config import derive_quantities, load_config
from ndnx.training import lone_loss
from ndnx.training.ei_tasks import TaskStopping, task_optimizer

#: task → (trial generator, target channels, readout columns, conditions)
TASKS = {"dpa": (dpa_trials, ("dpa",), (0,), 4), "go_nogo": (go_nogo_trials, ("gng",), (1,), 2),
         "dual": (dual_trials, ("dpa", "gng"), (0, 1), 12)}
NETWORK = dict(N_NEURON=1000, K=100)


def ei_config(config):
    return load_config("train_dual", **{k: config[k] for k in NETWORK}, SEED=config["network_seed"])


def training_seeds(seed, replicas):
    """The cell's seed: the job's seed, or one per replica (replica r is the lone model with seed + r)."""
    return int(seed) if replicas is None else [int(seed) + r for r in range(replicas)]


def held_out(config):
    """Validation trials per condition (at least 1, leaving at least 1 to train on)."""
    total = config["trials_per_condition"]
    held = max(1, int(round(config["validation_fraction"] * total)))
    if held >= total:
        raise ValueError(f"ei/dpa_training: validation_fraction {config['validation_fraction']} of "
                         f"{total} trials per condition leaves none to train on")
    return held


def split_trials(config):
    """(train, validation) `TaskTrials`: per condition, the first part for training, the rest held out."""
    generate = TASKS[config["task"]][0]
    c = ei_config(config)
    n_e = derive_quantities(c).N_E
    odors = odor_vectors(n_e, seed=config["odor_seed"])
    total, held = config["trials_per_condition"], held_out(config)
    # Two seeds of the generator: the conditions are laid out the same way, the trials drawn apart.
    kwargs = dict(odors=odors, stim_on=tuple(c.T_STIM_ON), stim_off=tuple(c.T_STIM_OFF),
                  tail=float(c.DURATION) - float(c.T_STIM_OFF[-1]))
    return (generate(total - held, seed=config["task_seed"], **kwargs),
            generate(held, seed=config["task_seed"] + 1, **kwargs))


def channels_of(config):
    """(target channels, readout columns): the task's, and with `sample_readout` the sample on column 1."""
    _, channels, read_idx, _ = TASKS[config["task"]]
    if config["sample_readout"]:
        if config["task"] != "dpa":
            raise ValueError(f"ei/dpa_training: sample_readout reads the sample on readout column 1, which "
                             f"{config['task']!r} uses already; it needs task=dpa")
        return channels + ("sample",), read_idx + (1,)
    return channels, read_idx


def data(config):
    channels = channels_of(config)[0]
    t_window = ei_config(config).T_WINDOW
    out = {}
    for name, trials in zip(("train", "validation"), split_trials(config)):
        out[name] = (trials.inputs(), dual_targets(trials, t_window, channels=channels))
    return out


def loss_of(config, replicas=None):
    return DualLoss(read_idx=channels_of(config)[1], negative=config["negative"],
                    replica_axis=None if replicas is None else 2)


def build(config, seed, replicas):
    seeds = training_seeds(seed, replicas)
    network = build_ei_network(ei_config(config), cell_options={
        "init_std": config["init_std"], "lr_frozen": config["lr_frozen"], "replicas": replicas, "seed": seeds})
    model = EITaskModel(network, replicas=replicas, seed=seeds)
    model.build(None)  # the weights exist before the optimizer is built on them
    conditions = TASKS[config["task"]][3]
    steps = math.ceil(conditions * (config["trials_per_condition"] - held_out(config)) / config["batch_size"])
    model.compile(optimizer=task_optimizer(steps, learning_rate=config["lr"], decay=config["lr_decay"],
                                           clip_norm=config["clip_norm"], replicas=replicas),
                  loss=loss_of(config, replicas), jit_compile=False)
    return model


def evaluate(model, x, y):
    """Per seed (replica): loss, NeuroFlame's accuracy and the choice accuracy of one split (the compiled
    DualLoss says how)."""
    loss = lone_loss(model.loss)  # one seed's
    z = model.predict(x, batch_size=256, verbose=0)
    if num_replicas(model) is None:
        z = z[:, :, None]
    threshold = 1.0 if loss.negative == "neutral" else 0.0
    scores = dual_accuracy(y, z, read_idx=loss.read_idx, threshold=threshold, replica_axis=2)   # (R, C)
    out = {"loss": np.array([float(np.mean(loss(y, z[:, :, r]))) for r in range(z.shape[2])])}
    for name, values in scores.items():
        out[name] = values.mean(axis=1)
        if values.shape[1] > 1:
            out.update({f"{name}_z{column}": values[:, c] for c, column in enumerate(loss.read_idx)})
    return out


def callbacks(config):
    return [TaskStopping(loss_threshold=config["loss_threshold"], monitor="loss")]


experiment = Experiment(
    "ei/dpa_training",
    defaults=dict(NETWORK, task="dpa", trials_per_condition=256, validation_fraction=0.2, negative="neutral",
                  epochs=5, batch_size=32, lr=0.1, lr_decay=0.9, clip_norm=10.0, loss_threshold=0.2,
                  odor_seed=1, task_seed=0, init_std=1.0, lr_frozen=0, sample_readout=False, network_seed=0,
                  log_every=1, seeds=1),
    data=data,
    build=build,
    fit=Epochs(),
    evaluate=evaluate,
    objective=("validation", "choice_accuracy", "max"),
    callbacks=callbacks,
    checks={"task": one_of(*TASKS), "negative": one_of("neutral", "hinge"), "N_NEURON": integer(10),
            "K": positive, "trials_per_condition": integer(2), "validation_fraction": number(0, 1, True, True),
            "lr": positive, "lr_decay": positive, "clip_norm": positive, "loss_threshold": positive,
            "odor_seed": integer(0), "task_seed": integer(0), "init_std": number(0), "lr_frozen": integer(0),
            "sample_readout": boolean, "network_seed": integer(0)},
    seeds=1,
    description="DPA / Go-NoGo / dual task learned by BPTT in a low-rank + STP network (spec §6)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
