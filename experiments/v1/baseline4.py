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

Every V1 experiment derives from this one (`baseline4.derive(...)`): its configuration names the
model (`model=hsm|ln|lnln|conv_readout|conv_dog|what_where|conv_gaussian`, keys of
`ndnx.models.v1.CONFIG_DEFAULTS`), the data (`region`, or `regions=[1, 2]` pooled) and the
recipe (`lr`, `noise=poisson|gaussian`, `batch_size`, `epochs`).
"""

from ndnx.data.v1_splits import experiment_splits
from ndnx.experiment import Experiment, NDN3Fit
from ndnx.models.v1 import CONFIG_DEFAULTS, compile_recipe, from_config


def load(config):
    return experiment_splits(config["regions"] or config["region"], config["data_dir"],
                             normalization=config["normalization"],
                             output_normalization=config["output_normalization"])


def build(config, seed, replicas):
    x, y = experiment.load_data(config)["train"]
    model = from_config(config, num_neurons=y.shape[1], input_shape=x.shape[1:], seed=seed, replicas=replicas)
    return compile_recipe(model, y, lr=config["lr"], noise=config["noise"])


experiment = Experiment(
    "v1/baseline4",
    defaults=dict(CONFIG_DEFAULTS, region=1, regions=[], data_dir="", normalization="train",
                  output_normalization="none", noise="poisson", bias_init="normal", l2_output=0.1, lr=1e-3,
                  batch_size=16, epochs=1000, log_every=50),
    data=load,
    build=build,
    fit=NDN3Fit(),
    seeds=10,
    description="HSM, N(0,1) inputs, Adam 1e-3, N(0,0.1²) biases, l2 0.1 on the output layer",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
