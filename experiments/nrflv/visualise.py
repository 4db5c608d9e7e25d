"""NRF-LV visualisation: what a trained energy model's channels stand for, by sampling (spec energy_sampling_nrflv.md §3.1).

`mode` is one of `ndnx.energy.visualisation.MODES`:

* standard: unconstrained sampling of the full energy from uniform noise;
* channels_energy: per channel c of `layer`, sampling that descends 0.5 × the channel's summed per-unit
  energies only (the input channel c finds lowest in energy);
* channels_state: full-energy sampling with `layer` held at 0.8 in channel c and 0 elsewhere.

`batch` chains (128 in the thesis) of `steps` SGHMC steps with the model's sampler settings; the image
layer is kept every `every` steps. The samples go to the run's records (seed<k>.h5: "samples" for
standard, "channel<c>" for the channel modes, (snapshots, batch, H, W, C)) and PNGs of the last
snapshot (the first 16 samples; one row per channel for the channel modes) beside them, and a GIF of
the same panels snapshot by snapshot (<mode>.gif). The model is
`model=<path>` of a model saved by experiments/nrflv/train.py or, without one, a small one trained
here first on the offline data (as experiments/nrflv/record.py does).

    ndnx run experiments/nrflv/visualise.py --set model=training_data/models/nrflv/train/<run>/seed0.keras \\
        --set mode=channels_energy --set steps=500
"""

import importlib.util
import os
import tempfile

import numpy as np

from ndnx.experiment import Experiment, Simulation
from ndnx.experiment.config import integer, one_of

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("nrflv_record_script", os.path.join(HERE, "record.py"))
recording = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recording)  # its build, data and trained_model: the same model choice as a recording
record, train = recording.experiment, recording.train

VISUALISATION = dict(model="", train_epochs=1, mode="standard", steps=500, every=100, batch=128, layer=1,
                     channels=16)
CHECKS = dict(train.checks, model=record.checks["model"], train_epochs=integer(0),
              mode=one_of("standard", "channels_energy", "channels_state"), steps=integer(1), every=integer(1),
              batch=integer(1), layer=integer(1), channels=integer(1))


def simulate(model, data, config, records):
    from ndnx.energy import SGHMC
    from ndnx.energy.visualisation import visualise
    from ndnx.plotting.energy import plot_samples, write_sample_movie
    from ndnx.seeding import derive_seed

    seed = int(records.attrs[0].get("seed", 0))
    folder = (os.path.splitext(records.paths[0])[0] if records.paths is not None
              else tempfile.mkdtemp(prefix="nrflv-visualise-"))
    os.makedirs(folder, exist_ok=True)
    if not config["model"]:
        model = recording.trained_model(model, data, config, os.path.join(folder, "trained.keras"))
    sampler = SGHMC(**dict(model.sampler_config, seed=derive_seed(seed, "visualise")))
    count = model.graph.shapes[config["layer"]][-1] if config["layer"] < len(model.graph.shapes) else 0
    channels = range(min(config["channels"], count)) if config["mode"] != "standard" else None
    out = visualise(model.graph, config["mode"], sampler, config["steps"], batch=config["batch"],
                    every=config["every"], layer=config["layer"], channels=channels, seed=seed)
    image_range = model.graph.ranges[0]
    if config["mode"] == "standard":
        records.write("samples", out)
        plot_samples(out[-1][:16], title="standard", path=os.path.join(folder, "standard.png"))
        write_sample_movie(out[:, :16], os.path.join(folder, "standard.gif"), value_range=image_range)
        return {"image_mean": float(out[-1].mean())}
    for c, samples in out.items():
        records.write(f"channel{c}", samples)
    rows = np.concatenate([samples[-1][:16] for samples in out.values()])
    plot_samples(rows, ncols=min(16, config["batch"]), title=config["mode"],
                 path=os.path.join(folder, f"{config['mode']}.png"))
    # one row per channel, a frame per snapshot
    write_sample_movie(np.concatenate([samples[:, :16] for samples in out.values()], axis=1),
                       os.path.join(folder, f"{config['mode']}.gif"), value_range=image_range,
                       ncols=min(16, config["batch"]))
    return {"image_mean": float(rows.mean())}


experiment = Experiment(
    "nrflv/visualise",
    defaults=dict(train.defaults, **VISUALISATION),
    data=record.data,
    build=record.build,
    fit=Simulation(simulate),
    checks=CHECKS,
    seeds=1,
    description="NRF-LV samples: standard, per-channel energy minima, per-channel clamped states (spec §3.1)",
)

if __name__ == "__main__":
    raise SystemExit(experiment.main())
