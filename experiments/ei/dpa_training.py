"""DPA training of the low-rank + STP E/I network (NeuroFlame's train_dual, spec ei_networks_neuroflame.md §6).

The network of the `train_dual` reference configuration (N = 1000, K = 100, GAIN 0.75, DT = 20 ms,
τ [0.2, 0.1] s, J_STP 1, CLAMP, RANK 2; spec §7) with NeuroFlame HEAD's dense E→E plastic block
made low-rank and trainable (J_ij ∝ 1 + V_i·U_j, `EIRateCell(stp_mode="dense", lr_train=True)`),
trained by BPTT through the whole 11 s trial on delayed paired association: 4 conditions (sample
A/B × test A/B) along odor vectors, the DPA label (sample == test) read from the overlap
r_E·V₀/N_E in the reward window (test onset → end), `DualLoss` (hinge 2, SmoothL1 to 0 elsewhere).
Adam lr 0.1 ×0.9 per epoch, global-norm clip 10, stopping on NaN or < 1e-2 improvement of the
validation loss over 5 epochs (`ndnx.training.ei_tasks`). Train and validation sets are balanced
(per condition: `trials_per_condition` and `val_per_condition`, NeuroFlame's stratified 80/20 of
4 × 256).

Spec §10.3 item 9: the DPA hinge loss falls below 0.2 within about 5 epochs (reference notebook:
val 1.96 → 0.12 in 4 epochs, 3 min 51 s on its hardware).

Seeds are separate runs (the E/I cell runs parallel simulations on its batch axis and has no
replica axis), hence `ensemble=False`; seed s draws the connectivity, V, U and the initial state.

    ndnx run experiments/ei/dpa_training.py --set epochs=5 --jobs 1
    ndnx summarize ei/dpa_training
"""

import math

import numpy as np

from ndnx.experiment import Epochs, Experiment
from ndnx.experiment.config import integer, optional, positive

N_E_FRACTION = 0.8
T_WINDOW = 0.1


def _reference():
    from ndnx.models.ei_config import load_config

    return load_config("train_dual")


def _sizes(config):
    n_e = int(config["n_neuron"] * N_E_FRACTION)
    return [n_e, config["n_neuron"] - n_e]


def data(config):
    from ndnx.connectivity import odor_vectors
    from ndnx.data.tasks import dpa_trials, dual_targets

    odors = odor_vectors(_sizes(config)[0], seed=config["odor_seed"])
    splits = {}
    for split, per, seed in (("train", config["trials_per_condition"], config["data_seed"]),
                             ("validation", config["val_per_condition"], config["data_seed"] + 1)):
        trials = dpa_trials(per, seed=seed, odors=odors)
        splits[split] = trials.to_dataset(dual_targets(trials, T_WINDOW), config["batch_size"], seed=seed,
                                          shuffle=split == "train")
    return splits


def build(config, seed, replicas=None):
    """The train_dual network (spec §7) with a trainable low-rank E→E block, compiled for DPA."""
    import ndnx
    from ndnx.connectivity import build_network
    from ndnx.training.ei_tasks import task_optimizer

    if replicas is not None:
        raise ValueError(f"ei/dpa_training: seeds are separate runs (ensemble=False), got replicas={replicas}")
    ref = _reference()
    sizes = _sizes(config)
    k = config["in_degree"]
    blocks = build_network(sizes, in_degree=k, seed=seed)
    blocks.pop((0, 0))  # replaced by the dense plastic E→E block
    cell = ndnx.cells.EIRateCell(
        sizes, blocks, jab=ref["Jab"], gain=ref["GAIN"], in_degree=k, m0=ref["M0"], ja0=ref["Ja0"], dt=ref["DT"],
        t_window=T_WINDOW, tau=ref["TAU"], rate_dynamics=bool(ref["RATE_DYN"]), tau_syn=ref["TAU_SYN"],
        r_nmda=ref["R_NMDA"], tau_nmda=ref["TAU_NMDA"], stp_blocks=[(0, 0)], stp_mode="dense",
        use=ref["USE"], tau_fac=ref["TAU_FAC"], tau_rec=ref["TAU_REC"], j_stp=ref["J_STP"],
        clamp=bool(ref["CLAMP"]), lr_ini=ref["LR_INI"], lr_train=True, rank=ref["RANK"],
        lr_separate=bool(ref["LR_MN"]), lr_u_eq_v=bool(ref["LR_UeqV"]), lr_norm=bool(ref["LR_NORM"]),
        lr_clamp=bool(ref["LR_CLAMP"]), seed=seed)
    network = ndnx.models.EINetwork(cell, duration=10.0, t_steady=ref["T_STEADY"], jit_loop=False)
    model = ndnx.models.EITaskModel(network, seed=seed)
    steps = math.ceil(4 * config["trials_per_condition"] / config["batch_size"])
    model.compile(optimizer=task_optimizer(steps, config["lr"], config["lr_decay"], config["clip_norm"]),
                  loss=ndnx.losses.DualLoss(read_idx=(0,), negative=config["negative"]), jit_compile=False)
    model.build(None)
    return model


def callbacks(config):
    from ndnx.training.ei_tasks import TaskStopping

    return [TaskStopping(loss_threshold=config["stop_loss"], min_delta=1e-2, patience=5)]


experiment = Experiment(
    "ei/dpa_training",
    defaults=dict(epochs=15, batch_size=32, n_neuron=1000, in_degree=100, trials_per_condition=205,
                  val_per_condition=51, data_seed=0, odor_seed=1, lr=0.1, lr_decay=0.9, clip_norm=10.0,
                  negative="hinge", stop_loss=None, log_every=1, seeds=3, ensemble=False),
    data=data, build=build, fit=Epochs(jit_compile=False), callbacks=callbacks,
    objective=("validation", "loss", "min"),
    checks={"n_neuron": integer(10), "in_degree": positive, "trials_per_condition": integer(1),
            "val_per_condition": integer(1), "data_seed": integer(0), "odor_seed": integer(0), "lr": positive,
            "lr_decay": positive, "clip_norm": optional(positive), "stop_loss": optional(positive)},
    description="DPA by BPTT on the train_dual low-rank + STP network (spec §6, §10.3 item 9)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
