"""Writes playgrounds/v1_system_identification.ipynb (run from the repository root).

The notebook is generated so its cells stay reviewable as plain Python here; the test suite
executes the written notebook at a small size (NDNX_PLAYGROUND_SMALL=1).
"""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    new_markdown_cell("""# V1 system identification playground

Fit models of mouse V1 neurons to natural-image responses (Antolík et al. 2016, PLoS Comput Biol
12(6): e1004927) with ndnx: the hierarchical structural model (HSM: difference-of-Gaussians units →
softplus hidden layer → softplus outputs) and a convolutional core with a separable readout,
several seeds each, trained as one ensemble.

Without the real recordings (set `NDNX_DATA` to the folder holding `region1/`), a synthetic region in
the same file format is generated from a ground-truth HSM, so the fit can also be compared with the
truth. `NDNX_PLAYGROUND_SMALL=1` runs everything at a toy size (the test suite does)."""),
    new_code_cell("""%matplotlib inline
import os, tempfile
import numpy as np
import keras
import ndnx
from ndnx.data import antolik, synthetic_v1
from ndnx.losses import PoissonLoss, poisson_unit_norm
from ndnx.training import train, extract_replica
from ndnx.metrics import pearson_per_neuron
from ndnx import plotting

SMALL = os.environ.get("NDNX_PLAYGROUND_SMALL") == "1"
SEEDS = 2 if SMALL else 5
EPOCHS = 3 if SMALL else 400
ndnx.set_seed(0)"""),
    new_markdown_cell("## Data: a recorded region, or a synthetic one with a known ground truth"),
    new_code_cell("""data_dir = os.environ.get("NDNX_DATA")
if not data_dir:
    data_dir = tempfile.mkdtemp(prefix="ndnx-v1-")
    sizes = dict(neurons=20, train=200, val=50, repeats=4) if SMALL else {}
    synthetic_v1.write_synthetic_region(data_dir, seed=0, **sizes)
region = antolik.load_region(1, data_dir)
print(region)
truth = None
if os.path.exists(os.path.join(antolik.region_dir(1, data_dir), "ground_truth.npz")):
    truth = synthetic_v1.read_ground_truth(antolik.region_dir(1, data_dir))"""),
    new_markdown_cell("""## The HSM (baseline 4 of the thesis experiments)

Adam 1e-3, batch 16, NDN3 l2 = 0.1 on the output layer, Poisson loss normalised by each neuron's mean
training rate. `replicas=SEEDS` builds the seeds as one model: replica r is exactly the model one
would get alone with seed r."""),
    new_code_cell("""x, y = region.x_train, region.y_train
hsm = ndnx.models.v1.hsm(region.num_neurons, l2_output=0.1, seed=0, replicas=SEEDS)
hsm.compile(keras.optimizers.Adam(1e-3), PoissonLoss(poisson_unit_norm(y)), jit_compile=True)
train(hsm, (x, y), (region.x_val, region.y_val), epochs=EPOCHS, batch_size=16, progress=not SMALL)
hsm_pred = hsm.predict(region.x_val, verbose=0)            # (images, seeds, neurons)
hsm_r = pearson_per_neuron(hsm_pred, region.y_val)         # (seeds, neurons)
print("HSM validation correlation per seed:", hsm_r.mean(axis=1).round(3))"""),
    new_code_cell("""best = int(np.argmax(hsm_r.mean(axis=1)))
single = extract_replica(hsm, best)
plotting.plot_dog_filters(single.get_layer("dog"))"""),
    new_code_cell("""if truth is not None:
    gt_kernels = np.einsum("jh,jyx->hyx", truth["W1"], synthetic_v1.dog_kernels(truth["dog_params"]))
    noiseless = pearson_per_neuron(hsm_pred, truth["rates_val"]).mean(axis=1)
    print("correlation with the noiseless rates per seed:", noiseless.round(3))
    fig = plotting.plot_effective_hidden_kernels(single, truth=gt_kernels)
else:
    fig = plotting.plot_effective_hidden_kernels(single)
fig"""),
    new_markdown_cell("## Compare: per-neuron correlation of each seed"),
    new_code_cell("""plotting.plot_correlation_histogram([hsm_r[best]], labels=[f"HSM seed {best}"])"""),
]


def main():
    nb = new_notebook(cells=CELLS, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.write(nb, "playgrounds/v1_system_identification.ipynb")


if __name__ == "__main__":
    main()
