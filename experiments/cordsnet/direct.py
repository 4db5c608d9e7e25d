"""CordsNet trained directly from random initial weights: the control of the five-step pipeline.

Spec cordsnet.md §3 step 5 (Soo, Battista, Radmard, Wang, NeurIPS 2024): the README's "direct"
baseline is step 5's training (σ = ReLU, the three-phase loss: blank, stimulus with the ramped
cross-entropy, blank again with the spontaneous penalty) started without pretrained weights; the
paper compares it with the pipeline at the same wall time. Data, protocol, optimiser and evaluation
are those of experiments/cordsnet/pipeline.py (its keys are the keys here); the budget is the
pipeline's CordsNet budget, 22,400 digits (linear 1,600 + PReLU 6 × 800 + ReLU 8 × 2,000) as 7
epochs of 3,200 fresh digits, with step 5's random shifts (≤ 2 px) and cosine-decayed learning
rate, and `lr` is 1e-3 — at the pipeline's fine-tuning rate a network starting from random weights
barely moves (`--set lr=3e-4` for the pipeline's value). Measured (seed 0, held-out 1,000 digits):
63.0 % after the first epoch, 93.2 % after 7 (the pipeline: 95.0 %).

    ndnx run experiments/cordsnet/direct.py
    ndnx summarize cordsnet/direct
"""

import importlib.util
import os

from ndnx.experiment import Epochs, Experiment

_spec = importlib.util.spec_from_file_location(
    "cordsnet_pipeline_script", os.path.join(os.path.dirname(os.path.abspath(__file__)), "pipeline.py"))
pipeline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pipeline)

DEFAULTS = {k: v for k, v in pipeline.DEFAULTS.items() if "." not in k}
# 7 epochs of 3,200 fresh digits = 22,400 digits: the pipeline's CordsNet budget (linear 1,600 +
# PReLU 6 × 800 + ReLU 8 × 2,000; 700 batches of 32 here, 704 there), with step 5's shifts and decay
DEFAULTS.update(epochs=7, epoch_size=3200, lr=1e-3, data_seed=1, log_every=7, shift=2, lr_decay="cosine")


def build(config, seed, replicas):
    """CordsNet-R{depth} with ReLU, three-phase loss, random initial weights from `seed`."""
    return pipeline.cordsnet(config, seed, "relu", "three_phase")


experiment = Experiment(
    "cordsnet/direct",
    defaults=DEFAULTS,
    data=pipeline.load,
    build=build,
    fit=Epochs(),
    evaluate=pipeline.accuracy_evaluation,
    objective=("validation", "accuracy", "max"),
    checks={k: v for k, v in pipeline.CHECKS.items() if k in DEFAULTS},
    seeds=1,
    description="CordsNet trained directly (ReLU, three-phase loss) from random weights: the pipeline's control",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
