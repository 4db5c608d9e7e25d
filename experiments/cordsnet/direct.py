"""CordsNet trained directly from random initial weights: the control of the five-step pipeline.

Spec cordsnet.md §3 step 5 (Soo, Battista, Radmard, Wang, NeurIPS 2024): the README's "direct"
baseline is step 5's training (σ = ReLU, the three-phase loss: blank, stimulus with the ramped
cross-entropy, blank again with the spontaneous penalty) started without pretrained weights; the
paper compares it with the pipeline at the same wall time. Data, protocol, optimiser and evaluation
are those of experiments/cordsnet/pipeline.py (its keys are the keys here); `epochs` defaults to
the number of CordsNet epochs the pipeline trains (linear 1 + prelu 3 + relu 1, each over 320
digits; `--set epochs=9` matches the pipeline run with `relu.train_size=1600`), and `lr` to
1e-3 — at the pipeline's fine-tuning rate a network starting from random weights barely moves
(`--set lr=1e-4` for the pipeline's value). Measured: 24.5 % held-out after 5 epochs, 31.4 % after 9.

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
# 5 epochs of 2,080 fresh digits = 325 batches of 32: the pipeline's CordsNet budget (linear 50 +
# PReLU 150 + ReLU 125 batches)
DEFAULTS.update(epochs=5, epoch_size=2080, lr=1e-3, data_seed=1, log_every=5)


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
