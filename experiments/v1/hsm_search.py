"""Hyper-parameter search around baseline 4: the HSM's learning rate, hidden layer size and output l2.

Data, normalisation and the training recipe are baseline 4's (experiments/v1/baseline4.py: Adam,
batch 16, N(0, 0.1²) weights and biases, Poisson loss normalised by the mean training rate,
XLA-compiled epochs). The search space:

    lr               log-uniform 1e-4 … 1e-2
    hidden_fraction  0.1 … 0.5 in steps of 0.05 (hidden units = int(fraction · neurons))
    l2_output_on     whether the output layer has an l2 penalty at all (False: l2 = 0)
    l2_output        log-uniform 1e-3 … 1 (NDN3 convention λ·½Σw²), only when l2_output_on

Each trial trains `seeds` seeds (0, 1, …) as one replicated model for `epochs` epochs and is scored
by the validation correlation averaged over them; every trial starts from the same seeds, so trials
differ only by their hyper-parameters. The names match baseline 4's keys, so the best values can be
passed on directly: `ndnx run experiments/v1/baseline4.py --set lr=... --set hidden_fraction=...
--set l2_output=...` (l2_output=0 when the best trial has l2_output_on=False).

    ndnx tune experiments/v1/hsm_search.py --tuner bayesian --max-trials 30
    ndnx tune experiments/v1/hsm_search.py --tuner hyperband --max-trials 60 --set epochs=600
    ndnx tune experiments/v1/hsm_search.py --max-trials 20 --set epochs=1000 --seeds 5

Distributed (one chief that hands out trials, any number of workers sharing training_data/):

    ndnx tune experiments/v1/hsm_search.py --max-trials 40 --role chief --oracle-address 10.0.0.1:8000
    ndnx tune experiments/v1/hsm_search.py --max-trials 40 --role worker --oracle-address 10.0.0.1:8000 --worker-id w1

Rerunning the same command resumes the search. Results: training_data/tuning/v1/hsm_search/<tuner>/.
"""

import importlib.util
import os

import keras_tuner

from ndnx.experiment import Experiment, NDN3Fit
from ndnx.experiment.config import integer
from ndnx.models.v1 import compile_recipe, from_config


def _load_baseline4():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline4.py")
    spec = importlib.util.spec_from_file_location("ndnx_experiment_v1_baseline4", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


baseline4 = _load_baseline4()


def build_hsm(config, lr, hidden_fraction, l2_output, seed, replicas):
    """Baseline 4's compiled HSM with the three searched values replaced."""
    x, y = experiment.load_data(config)["train"]
    config = {**config, "model": "hsm", "hidden_fraction": hidden_fraction, "l2_output": l2_output}
    model = from_config(config, num_neurons=y.shape[1], input_shape=x.shape[1:], seed=seed, replicas=replicas)
    return compile_recipe(model, y, lr=lr, noise=config["noise"])


def build(config, seed, replicas):
    """`ndnx run` of this script trains the configured values (baseline 4 with its own epochs)."""
    return build_hsm(config, config["lr"], config["hidden_fraction"], config["l2_output"], seed, replicas)


class HSMSearch(keras_tuner.HyperModel):
    """The search space; `config` is the resolved experiment configuration."""

    def __init__(self, config):
        super().__init__(name="hsm_search")
        self.config = dict(config)

    def build(self, hp):
        lr = hp.Float("lr", 1e-4, 1e-2, sampling="log", default=1e-3)
        hidden_fraction = hp.Float("hidden_fraction", 0.1, 0.5, step=0.05, default=0.2)
        l2_output = 0.0
        if hp.Boolean("l2_output_on", default=True):
            with hp.conditional_scope("l2_output_on", [True]):
                l2_output = hp.Float("l2_output", 1e-3, 1.0, sampling="log", default=0.1)
        seeds = int(self.config["seeds"])
        return build_hsm(self.config, lr, hidden_fraction, l2_output, seed=0,
                         replicas=seeds if seeds > 1 else None)


experiment = Experiment(
    "v1/hsm_search",
    defaults={**baseline4.experiment.defaults, "epochs": 200, "seeds": 3, "tuner_seed": 1},
    data=baseline4.experiment.data,
    build=build,
    fit=NDN3Fit(),
    seeds=3,
    hypermodel=HSMSearch,
    checks={**baseline4.experiment.checks, "tuner_seed": integer()},
    description="keras-tuner search over the HSM's lr, hidden fraction and output l2 (baseline 4 recipe)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
