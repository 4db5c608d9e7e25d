"""The dual-task curriculum of NeuroFlame's train_dual (spec ei_networks_neuroflame.md §6): DPA, then Go/NoGo with
the first rank component held, then the dual task — one network carried through three training stages.

Each stage is a step of an `ndnx.experiment.Chain` and trains as experiments/ei/dpa_training.py does
(same network, loss, optimiser, stopping rule and scores; that script's data, build and evaluation are
reused). A stage starts from the weights the previous one finished with (V, U, J_STP), with a fresh
optimiser:

| step | task | trials per condition | rank components held | readout column |
|---|---|---|---|---|
| dpa | DPA, 4 conditions | 256 | none | 0 |
| gng | Go/NoGo, 2 conditions | 512 | the first (`gng.lr_frozen=1`) | 1 |
| dual | dual task, 12 conditions | 64 | none | 0 (DPA) and 1 (Go/NoGo) |

Every key of dpa_training.py is a key here; "<step>.<key>" sets it for one step (`--set gng.epochs=3`).
Each step resumes on its own after a kill; its model is saved under training_data/models/.../steps/.
About an hour on 2 CPU cores at the reference size; a quick look:
`--set N_NEURON=400 --set K=40 --set trials_per_condition=32 --set gng.trials_per_condition=64
--set dual.trials_per_condition=8 --set epochs=2`.

    ndnx run experiments/ei/dual_curriculum.py
    ndnx summarize ei/dual_curriculum
"""

import os

from ndnx.experiment import Chain, Epochs, Experiment, Step, load_experiment

single = load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "dpa_training.py"))


def next_stage(config, seed, replicas, previous):
    """The stage's model (its task's optimiser schedule and readout columns) with the previous stage's weights."""
    model = single.build(config, seed, replicas)
    model.set_weights(previous.get_weights())
    return model


experiment = Experiment(
    "ei/dual_curriculum",
    defaults={**{k: v for k, v in single.defaults.items() if k not in ("task", "trials_per_condition")},
              "task": "dpa", "trials_per_condition": 256,
              "gng.task": "go_nogo", "gng.trials_per_condition": 512, "gng.lr_frozen": 1,
              "dual.task": "dual", "dual.trials_per_condition": 64},
    data=single.data,
    build=single.build,
    fit=Chain([Step("dpa", Epochs()), Step("gng", Epochs(), build=next_stage),
               Step("dual", Epochs(), build=next_stage)]),
    evaluate=single.evaluate,
    objective=("validation", "dual/choice_accuracy", "max"),
    callbacks=single.callbacks,
    checks=single.checks,
    seeds=1,
    description="DPA → Go/NoGo → dual task curriculum of a low-rank + STP network (spec §6)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
