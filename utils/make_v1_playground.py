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
softplus hidden layer → softplus outputs), a convolutional core with a separable readout
(Klindt et al. 2017) and a convolutional core with a Gaussian readout (Lurz et al. 2021), several
seeds each, trained as one ensemble; then compares them and looks inside the fitted models.

Without the real recordings (set `NDNX_DATA` to the folder holding `region1/`), a synthetic region in
the same file format is generated from a ground-truth HSM, so the fit can also be compared with the
truth. `NDNX_PLAYGROUND_SMALL=1` runs everything at a toy size (the test suite does).

**Time.** At the default sizes (region 1: 103 neurons, 1800 training images; 5 seeds) the notebook
runs in about 5 minutes on a 2-core CPU: 400 epochs of the HSM take about 25 s, 100 epochs of the
conv + separable model and 20 epochs of the conv + Gaussian readout (5 s an epoch at full
resolution) about 1.5 minutes each. Those two are short of converged; 400 epochs of each, as for
the HSM (`EPOCHS` below), take about 45 minutes."""),
    new_code_cell("""%matplotlib inline
import ndnx  # first: TensorFlow then loads without its start-up chatter
import os, tempfile
import numpy as np
import keras
from ndnx.data import antolik, synthetic_v1
from ndnx.losses import PoissonLoss, poisson_unit_norm
from ndnx.training import train, extract_replica
from ndnx.metrics import pearson_per_neuron
from ndnx import plotting

SMALL = os.environ.get("NDNX_PLAYGROUND_SMALL") == "1"
SEEDS = 2 if SMALL else 5
# Epochs of each model: about 5 minutes on 2 cores in all (400 each: about 45 minutes).
EPOCHS = dict.fromkeys(["HSM", "conv + sep readout", "conv + Gaussian readout"], 3) if SMALL else \
    {"HSM": 400, "conv + sep readout": 100, "conv + Gaussian readout": 20}
SEED = ndnx.set_seed(0)"""),
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
hsm.compile(keras.optimizers.Adam(1e-3), PoissonLoss(poisson_unit_norm(y), replica_axis=1), jit_compile=True)
train(hsm, (x, y), (region.x_val, region.y_val), epochs=EPOCHS["HSM"], batch_size=16, progress=not SMALL)
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
    new_markdown_cell("""### Polishing with full-batch L-BFGS

NDN3 could also fit with L-BFGS on the whole training set (`learning_alg='lbfgs'`). Starting from the
Adam fit, `fit_lbfgs` drives the training objective to its optimum; whether that helps is for the
validation set to say (with noisy responses it can fit the noise). In an experiment the same is
`--set lbfgs_maxiter=500`; `--set early_stop=200` instead stops every seed at its best validation
loss."""),
    new_code_cell("""polished = extract_replica(hsm, best)
def val_r(model):
    return pearson_per_neuron(model.predict(region.x_val, verbose=0), region.y_val).mean()
before = val_r(polished)
result = ndnx.training.fit_lbfgs(polished, x, y, maxiter=30 if SMALL else 500)
print(f"training objective {result['initial_loss']:.3f} → {result['loss']:.3f} in {result['iterations']} iterations")
print(f"validation correlation {before:.3f} → {val_r(polished):.3f}")"""),
    new_markdown_cell("""## A convolutional core with a separable readout: *what* and *where*

Instead of a few DoG subunits, a convolutional layer learns `FILTERS` filters shared over the whole
image, giving one feature map per filter. Klindt et al. (2017, NeurIPS) read such a core out with a
weight that *factorises* into a spatial mask ("where" the receptive field is, one value per feature-map
position) times a feature vector ("what" it responds to, one value per filter): H'·W' + C weights
per unit instead of H'·W'·C. The thesis (exp. 2.2.1) puts this separable layer (`readout="sep"`) as
the hidden layer of the HSM: conv (d2x-smoothed filters) → separable hidden units (l1) → softplus
outputs (l2 0.1). Same recipe, same `train` call as the HSM."""),
    new_code_cell("""input_shape = region.x_train.shape[1:]
FILTERS, KERNEL = (4, 7) if SMALL else (30, 7)
conv_sep = ndnx.models.v1.conv_readout(
    region.num_neurons, input_shape=input_shape, filters=FILTERS, kernel_size=KERNEL, readout="sep",
    d2x_conv=0.1, hidden_reg={"l1": 0.1}, l2_output=0.1, seed=0, replicas=SEEDS)
ndnx.models.v1.compile_recipe(conv_sep, y, lr=1e-3)
train(conv_sep, (x, y), (region.x_val, region.y_val), epochs=EPOCHS["conv + sep readout"], batch_size=16,
      progress=not SMALL)
print("conv + separable readout:", conv_sep.get_layer("conv").output.shape, "→",
      conv_sep.get_layer("hidden").output.shape, "→", conv_sep.output.shape)"""),
    new_markdown_cell("""## A convolutional core with a Gaussian readout

Lurz et al. (2021, ICLR) replaced the spatial mask by a single learned *position* per neuron: the
neuron reads the core's feature vector at (μx, μy) ∈ [-1, 1]² by bilinear interpolation, times its own
feature weights. During training the position is sampled from a Gaussian around μ (which lets the
gradient find the receptive field), at evaluation it is read at μ. Two weights per neuron locate it,
however large the feature map, so the core can keep full resolution (stride 1 here)."""),
    new_code_cell("""MAPS = 4 if SMALL else 16
conv_gauss = ndnx.models.v1.conv_gaussian(
    region.num_neurons, input_shape=input_shape, maps=MAPS, kernel_sizes=(13, 3), strides=(1, 1),
    seed=0, replicas=SEEDS)
ndnx.models.v1.compile_recipe(conv_gauss, y, lr=1e-3)
train(conv_gauss, (x, y), (region.x_val, region.y_val), epochs=EPOCHS["conv + Gaussian readout"],
      batch_size=16, progress=not SMALL)
print("conv + Gaussian readout:", conv_gauss.get_layer("conv1").output.shape, "→", conv_gauss.output.shape)"""),
    new_markdown_cell("""## Compare the models

Validation correlation (mean over neurons of the per-neuron Pearson r between prediction and the
trial-averaged response) per seed, summarised as the thesis does: 50th / 90th / 10th percentile over
seeds. On a synthetic region the predictions are also correlated with the noiseless ground-truth
rates — the best a model could do, free of the trial-to-trial noise the recorded responses carry."""),
    new_code_cell("""models = {"HSM": hsm, "conv + sep readout": conv_sep, "conv + Gaussian readout": conv_gauss}
per_neuron, rows = {}, []
for label, model in models.items():
    pred = model.predict(region.x_val, verbose=0)                 # (images, seeds, neurons)
    per_neuron[label] = pearson_per_neuron(pred, region.y_val)    # (seeds, neurons)
    corr = per_neuron[label].mean(axis=1)                         # (seeds,): as ndnx.experiment.fits.v1.supervised_evaluation
    row = [label, *np.percentile(corr, [50, 90, 10])]
    if truth is not None:
        row += list(np.percentile(pearson_per_neuron(pred, truth["rates_val"]).mean(axis=1), [50, 90, 10]))
    rows.append(row)

header = ["model", "val r p50", "p90", "p10"] + (["truth r p50", "p90", "p10"] if truth is not None else [])
print(f"{header[0]:<26}" + "".join(f"{h:>12}" for h in header[1:]))
for row in rows:
    print(f"{row[0]:<26}" + "".join(f"{v:>12.3f}" for v in row[1:]))
print(f"({SEEDS} seeds, {region.num_neurons} neurons; epochs: "
      + ", ".join(f"{label} {n}" for label, n in EPOCHS.items()) + ")")"""),
    new_markdown_cell("""Per-neuron correlations of each model's best seed (by mean validation correlation): whether a
model wins on every neuron or only on a few."""),
    new_code_cell("""best_seed = {label: int(np.argmax(r.mean(axis=1))) for label, r in per_neuron.items()}
plotting.plot_correlation_histogram([per_neuron[label][s] for label, s in best_seed.items()],
                                    labels=[f"{label} (seed {s})" for label, s in best_seed.items()])"""),
    new_markdown_cell("""## Inside the convolutional models

The first-layer filters of the conv + separable model (d2x keeps them smooth; with enough data they
become Gabor-like or centre-surround), and each separable hidden unit's spatial mask over the
H'×W' feature map: the "where" of that subunit, a localised blob when the fit has found a receptive
field."""),
    new_code_cell("""s = best_seed["conv + sep readout"]
conv_kernel = np.asarray(conv_sep.get_layer("conv").kernel)[s]                      # (kh, kw, 1, filters)
plotting.plot_kernels(np.transpose(conv_kernel[:, :, 0, :], (2, 0, 1)),
                      titles=[f"filter {k}" for k in range(conv_kernel.shape[-1])],
                      suptitle=f"conv + sep readout, seed {s}: first-layer filters")"""),
    new_code_cell("""sep = conv_sep.get_layer("hidden")
mask = np.asarray(sep.effective_mask())[s]                                          # (H'·W', units)
masks = np.transpose(mask.reshape(sep.height, sep.width, sep.units), (2, 0, 1))     # (units, H', W')
features = np.asarray(sep.effective_features())[s]                                  # (filters, units)
print("feature weights ('what') per hidden unit (rows: filters):")
print(np.array2string(features, precision=2, suppress_small=True))
plotting.plot_readout_masks(masks, titles=[f"hidden {u}" for u in range(sep.units)],
                            suptitle="separable layer: spatial masks (where)")"""),
    new_markdown_cell("""The Gaussian readout's learned positions μ of every neuron over the core's last feature map
(background: the mean absolute activity of that map over the validation images, averaged over
features; x runs along columns, y along rows, (-1, -1) is the top-left pixel centre)."""),
    new_code_cell("""g = best_seed["conv + Gaussian readout"]
mu = np.asarray(conv_gauss.get_layer("output").positions())[g]                      # (neurons, 2): (x, y)
core = keras.Model(conv_gauss.inputs, conv_gauss.get_layer("conv1").output)
activity = np.abs(core.predict(region.x_val, verbose=0)[:, g]).mean(axis=(0, -1))   # (H, W)
plotting.plot_readout_positions(mu, activity, title=f"Gaussian readout positions, seed {g}")"""),
]


def main():
    nb = new_notebook(cells=CELLS, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.write(nb, "playgrounds/v1_system_identification.ipynb")


if __name__ == "__main__":
    main()
