"""NRF-LV recording experiment: a trained energy model looks at Gabor stimuli (spec energy_sampling_nrflv.md §3.2, §3.3).

For every stimulus set named in `stimuli` (comma-separated: contrast_and_angle, just_angle,
just_angle_few_angles, long_just_fewangles, fewlocs_and_fewerangles — the double Gabor, whose mobile
sites up to 10 units from the centre need `patch=21` or `patch=0` for its synchrony analysis; the long
bar's likewise), one chain per image: the initter starts the latent states
from a batch of test images, then the image layer is clamped to

    [lead_in × the test images, blank × the mean training image, stimulus × the Gabor set, after × blank]

(spec defaults 100 / 1000 / 1000 / 600 = 2,700 steps), with a fresh SGHMC of the model's settings whose
burn-in mass adaptation (`record_burn_in` steps, 100 as in the thesis) happens on the natural images.
Only the requested slices are recorded: `quantities` (state, momentum, gradient — dE/ds —, unit_energy
— the per-unit energies —, energy — the energy per example) of `layers` (comma-separated layer indices, 1 = SL1), each cut to the centre
patch of `patch` × `patch` units (the thesis's rows and columns 15–17 of a 32 × 32 layer; 0: the
whole layer), streamed in chunks of `chunk_steps` steps to one HDF5 file per set (float16 with
`float16=true`):

    training_data/records/nrflv/record/<run>/seed<k>/<set>.h5   datasets "<quantity>_<layer>" (time, images, ...)

with the stimulus parameters ("contrast", "angle", ... per image), the phase lengths and the recorded
patch's first row and column ("patch_origin", in layer units; SL1 has the image's size) as attributes. A
killed recording continues from its last complete chunk when the run is started again (`ndnx run`
resumes it). Each set's file is analysed once recorded (experiments/nrflv/analyse.py: active
units, orientation tuning, LFP spectrum, state–momentum lag, synchrony) and the run's seed<k>.h5 gets
the summary (with the orientation preferences of the just_angle recording when it is among the sets,
as in the thesis); its scalars ("<set>/active_fraction", "<set>/lfp_peak_hz", ...) go to TensorBoard, so
`ndnx summarize nrflv/record --split simulation` lists them.

The model: `model=<path>` loads a model saved by experiments/nrflv/train.py (e.g.
training_data/models/nrflv/train/<run>/seed0.keras); without one, a small model is trained here first
on the offline data (train.py's defaults, `train_epochs` epochs) and saved beside the recordings
(seed<k>/trained.keras, reused when a killed run resumes) and with the run. `images`
takes that many stimuli, evenly spaced, from each set's 128 (the whole set by default). The dataset
keys (dataset, source, data_seed, test_size, ...) are train.py's: they choose the test images and the
mean image, and must match the model's image shape.

    ndnx run experiments/nrflv/record.py --set stimuli=just_angle --set images=16 --set blank=200 \\
        --set stimulus=300 --set after=100
    ndnx run experiments/nrflv/record.py --set model=training_data/models/nrflv/train/<run>/seed0.keras
    python experiments/nrflv/analyse.py training_data/records/nrflv/record/<run>/seed0/just_angle.h5
"""

import importlib.util
import os
import tempfile

import numpy as np

from ndnx.experiment import Experiment, Simulation, load_experiment
from ndnx.experiment.config import Check, boolean, integer, text

HERE = os.path.dirname(os.path.abspath(__file__))
train = load_experiment(os.path.join(HERE, "train.py"))
_spec = importlib.util.spec_from_file_location("nrflv_analyse", os.path.join(HERE, "analyse.py"))
analyse = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(analyse)

QUANTITIES = ("state", "momentum", "gradient", "unit_energy", "energy")
SETS = ("contrast_and_angle", "just_angle", "just_angle_few_angles", "long_just_fewangles", "fewlocs_and_fewerangles")

RECORDING = dict(model="", train_epochs=1, stimuli="contrast_and_angle", images=128, lead_in=100, blank=1000,
                 stimulus=1000, after=600, record_burn_in=100, layers="1", patch=3, quantities="state,momentum",
                 float16=False, chunk_steps=100)


def _names(value, allowed):
    names = [v.strip() for v in str(value).split(",") if v.strip()]
    return bool(names) and all(n in allowed for n in names)


CHECKS = dict(train.checks, model=text, train_epochs=integer(0), images=integer(1, 128), lead_in=integer(0),
              blank=integer(1), stimulus=integer(2), after=integer(0), record_burn_in=integer(0), patch=integer(0),
              chunk_steps=integer(1), float16=boolean,
              stimuli=Check(f"comma-separated stimulus sets among {', '.join(SETS)}", lambda v: _names(v, SETS)),
              quantities=Check(f"comma-separated quantities among {', '.join(QUANTITIES)}",
                               lambda v: _names(v, QUANTITIES)),
              layers=Check("comma-separated latent layer indices ≥ 1, e.g. '1'",
                           lambda v: all(p.strip().isdigit() and int(p) >= 1 for p in str(v).split(","))))


def load(config):
    """train.py's data: the training images give the mean ("blank") image, the validation ones the lead-in."""
    return train.data(config)


def build(config, seed, replicas):
    """The model saved at `model`, or a fresh one of train.py's configuration (trained in `simulate`)."""
    if not config["model"]:
        return train.build(config, seed, replicas)
    import keras

    if not os.path.exists(config["model"]):
        raise ValueError(f"nrflv/record: model must be the path of a saved NRF-LV model (.keras), got "
                         f"{config['model']!r}, which does not exist")
    return keras.saving.load_model(config["model"])


def centre_patch(shape, patch):
    """The index (batch, rows, cols, channels) of the centre `patch` × `patch` units of a (H, W, C) layer."""
    if patch == 0:
        return None
    if patch > min(shape[0], shape[1]):
        raise ValueError(f"nrflv/record: patch must be at most the layer's size {shape[:2]}, got {patch}")
    rows, cols = (slice(n // 2 - (patch - 1) // 2, n // 2 - (patch - 1) // 2 + patch) for n in shape[:2])
    return (slice(None), rows, cols, slice(None))


def trained_model(model, data, config, path):
    """The model trained on the offline data, saved at `path` before anything is recorded so that a resumed
    recording continues with the very same weights (loaded from there)."""
    import keras

    from ndnx.files import atomic_path

    if os.path.exists(path):  # the run's own model object keeps them (it is the one saved with the run)
        model.set_weights(keras.saving.load_model(path).get_weights())
        return model
    if config["train_epochs"]:
        model.fit(data["train"], batch_size=config["batch_size"], epochs=config["train_epochs"], verbose=0)
    with atomic_path(path, suffix=".keras") as partial:
        model.save(partial)
    return model


def record_spec(model, config):
    """{dataset name: (quantity, layer, index)} of what is recorded."""
    shapes = model.graph.shapes
    spec = {}
    for layer in (int(p) for p in str(config["layers"]).split(",")):
        if layer >= len(shapes) or len(shapes[layer]) != 3:
            raise ValueError(f"nrflv/record: layers must name (H, W, C) latent layers 1..{len(shapes) - 1}, "
                             f"got {layer} (shape {shapes[layer] if layer < len(shapes) else 'none'})")
        for quantity in str(config["quantities"]).split(","):
            quantity = quantity.strip()
            if quantity == "energy":
                spec["energy"] = ("energy", layer, None)
            else:
                spec[f"{quantity}_{layer}"] = (quantity, layer, centre_patch(shapes[layer], config["patch"]))
    return spec


def patch_origin(model, record):
    """(row, col) of the first recorded unit of the first recorded layer (0, 0 for a whole layer)."""
    index = next((i for q, _, i in record.values() if q != "energy"), None)
    return [0, 0] if index is None else [index[1].start, index[2].start]


def stimuli(name, base, count):
    """(images, {"contrast", "angle"}) of `count` evenly spaced images of a 128-image Gabor set."""
    from ndnx.data.gabor import stimulus_set

    centre = (base.shape[0] // 2, base.shape[1] // 2)
    images, params = stimulus_set(name, base, centre)
    rows = np.unique(np.linspace(0, len(images) - 1, count).round().astype(int))
    return images[rows], {k: v[rows] for k, v in params.items()}


def simulate(model, data, config, records):
    from ndnx.energy import SGHMC
    from ndnx.energy.recording import record_protocol
    from ndnx.seeding import derive_seed

    seed = int(records.attrs[0].get("seed", 0))
    image_shape = tuple(model.graph.shapes[0])
    if tuple(data["train"].shape[1:]) != image_shape:
        raise ValueError(f"nrflv/record: the model's images are {image_shape}, the dataset "
                         f"{config['dataset']!r} gives {tuple(data['train'].shape[1:])}")
    folder = (os.path.splitext(records.paths[0])[0] if records.paths is not None
              else tempfile.mkdtemp(prefix="nrflv-record-"))
    os.makedirs(folder, exist_ok=True)
    if not config["model"]:
        model = trained_model(model, data, config, os.path.join(folder, "trained.keras"))
    base = data["train"].mean(axis=0)
    record = record_spec(model, config)
    metrics, tuning = {}, None
    names = [n.strip() for n in config["stimuli"].split(",")]
    for name in sorted(set(names), key=lambda n: (n != "just_angle", names.index(n))):  # preferences first
        images, params = stimuli(name, base, config["images"])
        lead = data["validation"][np.arange(len(images)) % len(data["validation"])]
        blank = np.broadcast_to(base, images.shape)
        phases = [(lead, config["lead_in"]), (blank, config["blank"]), (images, config["stimulus"]),
                  (blank, config["after"])]
        sampler = SGHMC(**dict(model.sampler_config, burn_in=config["record_burn_in"],
                               seed=derive_seed(seed, "record", name)))
        latents = [s.numpy() for s in model.initial_latents(lead)]
        path = os.path.join(folder, f"{name}.h5")
        record_protocol(path, sampler, model.graph, latents, [(np.asarray(x, "float32"), n) for x, n in phases],
                        record, chunk_steps=config["chunk_steps"], dtype="float16" if config["float16"] else "float32",
                        attrs={"set": name, **params, "patch_origin": patch_origin(model, record),
                               "stimulus_start": config["lead_in"] + config["blank"],
                               "stimulus_end": config["lead_in"] + config["blank"] + config["stimulus"]},
                        resume=True)
        summary = analyse.summarise(path, tuning=tuning)
        if name == "just_angle" and "preferred" in summary["arrays"]:
            tuning = {k: summary["arrays"][k] for k in ("preferred", "tuned")}
        for key, value in summary["scalars"].items():
            metrics[f"{name}/{key}"] = value
        for key, value in summary["arrays"].items():
            records.write(f"{name}/{key}", value)
    return metrics


experiment = Experiment(
    "nrflv/record",
    defaults=dict(train.defaults, **RECORDING),
    data=load,
    build=build,
    fit=Simulation(simulate, save_model=True),
    checks=CHECKS,
    seeds=1,
    description="NRF-LV model recorded under clamped Gabor stimuli (blank / stimulus / blank), analysed per set",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
