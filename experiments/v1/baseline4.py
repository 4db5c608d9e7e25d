"""Baseline 4 of the V1 thesis experiments (msc-neuro bl4): the HSM with l2 on the output layer.

Recipe (spec v1_system_identification.md §2.2): inputs normalised to N(0, 1) with the training
statistics, 9 linear DoG units → softplus hidden (0.2·N) → softplus outputs, Adam (lr 1e-3,
β 0.9/0.999, ε 1e-8), batch 16 with the last partial batch kept, weights N(0, 0.1²), biases
N(0, 0.1²) (msc-neuro's 'trunc_normal'), NDN3 l2 = 0.1 (λ·½Σw²) on the output weights, Poisson
loss normalised by the mean training rate of each neuron. The thesis reports, on region 1 after
35k epochs over 25 seeds, a validation correlation of 0.514 / 0.531 / 0.498 (50th/90th/10th).

Data: the Antolík et al. 2016 region named by `region` from `data_dir` (or $NDNX_DATA); without
them, a synthetic region in the same format is generated once under training_data/data/. On a
synthetic region the correlation with the ground truth's noiseless rates is logged as the split
"noiseless" (`ndnx summarize v1/baseline4 --split noiseless`).

    ndnx run experiments/v1/baseline4.py --set epochs=5000 --seeds 25
    python experiments/v1/baseline4.py --set region=2
"""

import os
import sys

import keras

from ndnx.data import antolik, synthetic_v1
from ndnx.experiment import Experiment, default_root
from ndnx.losses import PoissonLoss, poisson_unit_norm
from ndnx.models.v1 import hsm


def load(config):
    data_dir = config["data_dir"] or os.environ.get("NDNX_DATA")
    if not data_dir:
        data_dir = os.path.join(default_root(), "data")
        _, generated = synthetic_v1.ensure_default_region(data_dir, region=config["region"])
        state = "generated" if generated else "cached"
        print(f"no Antolík et al. 2016 data given (NDNX_DATA or --set data_dir=...); using the "
              f"synthetic region {state} in {data_dir}", file=sys.stderr)
    region = antolik.load_region(config["region"], data_dir, normalization=config["normalization"])
    splits = {"train": (region.x_train, region.y_train), "validation": (region.x_val, region.y_val)}
    directory = antolik.region_dir(config["region"], data_dir)
    if os.path.exists(os.path.join(directory, "ground_truth.npz")):
        # A synthetic region: also score against the noiseless rates of the ground-truth model.
        truth = synthetic_v1.read_ground_truth(directory)
        splits["noiseless"] = (region.x_val, truth["rates_val"].astype(region.y_val.dtype))
    return splits


def build(config, seed, replicas):
    data = experiment.load_data(config)
    x, y = data["train"]
    model = hsm(y.shape[1], input_shape=x.shape[1:], num_dogs=config["num_dogs"],
                hidden_fraction=config["hidden_fraction"], bias_initializer=config["bias_init"],
                l2_output=config["l2_output"], l2_hidden=config["l2_hidden"], seed=seed,
                replicas=replicas)
    model.compile(optimizer=keras.optimizers.Adam(config["lr"], beta_1=0.9, beta_2=0.999, epsilon=1e-8),
                  loss=PoissonLoss(unit_norm=poisson_unit_norm(y)), jit_compile=True)
    return model


experiment = Experiment(
    "v1/baseline4",
    defaults=dict(region=1, data_dir="", normalization="train", num_dogs=9, hidden_fraction=0.2,
                  bias_init="normal", l2_output=0.1, l2_hidden=0.0, lr=1e-3, batch_size=16,
                  epochs=1000, log_every=50),
    data=load,
    build=build,
    seeds=10,
    description="HSM, N(0,1) inputs, Adam 1e-3, N(0,0.1²) biases, l2 0.1 on the output layer",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
