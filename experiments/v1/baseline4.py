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
recipe (`lr`, `noise=poisson|gaussian`, `batch_size`, `epochs`). `CHECKS` says what each key
accepts; every run's values are checked before anything of it is written (`--set lr=-1` is refused).
"""

from ndnx.activations import get as activation
from ndnx.data.antolik import NORMALIZATIONS
from ndnx.data.v1_splits import OUTPUT_NORMALIZATIONS, experiment_splits
from ndnx.experiment import Experiment, NDN3Fit
from ndnx.experiment.config import Check, boolean, integer, non_negative, number, one_of, positive, text
from ndnx.models.ffnetwork import bias_initializer
from ndnx.models.v1 import CONFIG_DEFAULTS, MODELS, compile_recipe, from_config
from ndnx.regularizers import CONVENTIONS, NDN3_KEYS

REGIONS = (1, 2, 3)
PENALTY = one_of("", *sorted(NDN3_KEYS))  # "" for none, else an NDN3 reg key (l1, l2, d2x, max, ...)

#: What each key accepts (the keys of ndnx.models.v1.CONFIG_DEFAULTS, the data's and the recipe's;
#: the fit checks epochs, batch_size, log_every, early_stop, ...). Derived experiments inherit them.
CHECKS = dict(
    model=one_of(MODELS), num_dogs=integer(1), hidden_fraction=number(0, 1, low_open=True),
    bias_init=Check("'zeros', 'normal', 'trunc_normal' or a Keras initializer name",
                    lambda v: isinstance(v, str) and bias_initializer(v) is not None),
    dog_activation=Check("'lin' or an NDN3 / Keras activation name",
                         lambda v: isinstance(v, str) and (v in ("", "lin") or activation(v) is not None)),
    l2_hidden=non_negative, l2_output=non_negative, hidden_penalty=PENALTY, hidden_lambda=non_negative,
    output_penalty=PENALTY, output_lambda=non_negative, hidden_dropout=number(0, 1, high_open=True),
    lin_scale=boolean, d2x=non_negative, filters=integer(1), kernel_size=integer(1), strides=integer(0),
    readout=one_of("sep", "normal"), maps=integer(1), conv_penalty=PENALTY, conv_lambda=non_negative,
    regularizer_convention=one_of(CONVENTIONS),
    region=one_of(REGIONS),
    regions=Check(f"a list of distinct regions out of {REGIONS} (empty: `region` alone)",
                  lambda v: isinstance(v, (list, tuple)) and len(set(v)) == len(v) and all(r in REGIONS for r in v)
                  and not any(isinstance(r, bool) for r in v)),
    data_dir=text, normalization=one_of(NORMALIZATIONS), output_normalization=one_of(OUTPUT_NORMALIZATIONS),
    noise=one_of("poisson", "gaussian", "poisson_sum"), lr=positive,
)


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
    checks=CHECKS,
    description="HSM, N(0,1) inputs, Adam 1e-3, N(0,0.1²) biases, l2 0.1 on the output layer",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
