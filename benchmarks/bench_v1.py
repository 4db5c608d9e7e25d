"""V1 training throughput: seeds trained as one ensemble vs one seed at a time.

Region-1 size (1800 31×31 images, 103 neurons, batch 16, the HSM of baseline 4). Figures:

- ensemble_10x1000_seconds: wall time of 10 seeds × 1000 epochs trained as one replicated model
  with ndnx's compiled epochs (target ≤ 300 s on the 2-core machine); measured in full, or
  extrapolated from the measured rate with --quick (then `ensemble_extrapolated` is true);
- ensemble_seed_epochs_per_s: seed-epochs per second of that ensemble;
- single_seed_epochs_per_s: epochs per second of one seed alone (compiled epochs);
- keras_fit_seed_epochs_per_s: the same ensemble under plain `model.fit` (steps_per_execution =
  one epoch, jit_compile=True), for comparison;
- ensemble_25_seed_epochs_per_s: 25 seeds (the thesis' baseline count) in one model.

Conv + readout models (issue 9), region-1 size, 10 seeds as one ensemble: for each of the thesis's
conv + separable readout (30 filters of 15 px, stride 8), linear conv-DoG (9 filters of 7 px),
what/where (3 convs of 48 maps, 13/3/3 px) and a conv core + Gaussian readout (16 maps):
`<model>_train_seed_samples_per_s` (seed·images per second of compiled training epochs) and
`<model>_inference_samples_per_s` (images per second of one seed's predictions, batch 256).

Full-batch L-BFGS (NDN3's learning_alg='lbfgs', `ndnx.training.fit_lbfgs`) on the same HSM:
`lbfgs_single_evaluations_per_s` (loss-and-gradient evaluations of one seed per second),
`lbfgs_ensemble10_seed_evaluations_per_s` (10 seeds fitted as one problem, seed·evaluations per
second) and `lbfgs_ensemble10_loss_excess` (after 500 iterations, the mean over seeds of the
relative excess of the joint fit's loss over each seed fitted alone with 500 iterations: what
fitting the seeds as one problem costs in convergence).

Peers (specs/ecosystem_and_peers.md §4): PyTorch one seed at a time 4.5–7.5 seed-epochs/s,
torch.func.vmap over 10 seeds 14–15, a bare Keras replica stack 24–76.

    python benchmarks/bench_v1.py [--quick] [--only hsm|conv|lbfgs]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ndnx  # noqa: E402  (first: it loads TensorFlow without its start-up chatter)
import keras  # noqa: E402
from ndnx.losses import PoissonLoss, poisson_unit_norm  # noqa: E402
from ndnx.models import v1  # noqa: E402
from ndnx.models.v1 import compile_recipe, hsm  # noqa: E402
from ndnx.training import CompiledEpochs, extract_replica, fit_lbfgs  # noqa: E402

from _common import machine_info, print_table, write_results  # noqa: E402


def region1_like(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1800, 31, 31, 1)).astype("float32")
    y = rng.poisson(1.0, size=(1800, 103)).astype("float32")
    return x, y


def model_for(replicas, y):
    model = hsm(103, seed=0, replicas=replicas, l2_output=0.1)
    axis = None if replicas is None else 1
    model.compile(keras.optimizers.Adam(1e-3), PoissonLoss(poisson_unit_norm(y), replica_axis=axis), jit_compile=True,
                  steps_per_execution=113)
    return model


def compiled_rate(replicas, epochs, x, y):
    """(seed-epochs per second, seconds) of `epochs` epochs after a warm-up epoch."""
    model = model_for(replicas, y)
    runner = CompiledEpochs(model, x, y, batch_size=16)
    runner.run_epoch(0)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        runner.run_epoch(epoch)
    seconds = time.perf_counter() - start
    return (replicas or 1) * epochs / seconds, seconds


def keras_fit_rate(replicas, epochs, x, y):
    model = model_for(replicas, y)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return (replicas or 1) * epochs / (time.perf_counter() - start)


CONV_MODELS = {
    "conv_sep": lambda r: v1.conv_readout(103, filters=30, kernel_size=15, readout="sep", d2x_conv=0.01,
                                          hidden_reg={"l1": 0.1}, seed=0, replicas=r),
    "conv_dog": lambda r: v1.conv_dog(103, filters=9, kernel_size=7, hidden_reg={"l1": 0.1}, seed=0, replicas=r),
    "what_where": lambda r: v1.what_where(103, conv_reg={"d2x": 0.1, "max_filt": 0.01}, readout_reg={"l1": 0.01},
                                          seed=0, replicas=r),
    "conv_gaussian": lambda r: v1.conv_gaussian(103, maps=16, seed=0, replicas=r),
}


def conv_rates(name, epochs, x, y, replicas=10):
    """(training seed·samples/s of a `replicas` ensemble, inference samples/s of one seed)."""
    model = compile_recipe(CONV_MODELS[name](replicas), y)
    runner = CompiledEpochs(model, x, y, batch_size=16, jit_compile=model.jit_compile is True)
    runner.run_epoch(0)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        runner.run_epoch(epoch)
    train = replicas * epochs * x.shape[0] / (time.perf_counter() - start)
    lone = CONV_MODELS[name](None)
    lone.predict(x[:256], batch_size=256, verbose=0)
    start = time.perf_counter()
    for _ in range(3):
        lone.predict(x, batch_size=256, verbose=0)
    inference = 3 * x.shape[0] / (time.perf_counter() - start)
    return train, inference


def lbfgs_figures(iterations, x, y, replicas=10):
    """(single-seed evaluations/s, ensemble seed·evaluations/s, mean relative loss excess)."""
    ensemble = model_for(replicas, y)
    start = time.perf_counter()
    joint = fit_lbfgs(ensemble, x, y, maxiter=iterations, gtol=0.0, ftol=0.0)
    ensemble_rate = replicas * joint["evaluations"] / (time.perf_counter() - start)
    excess, rates = [], []
    for r in range(replicas):
        alone = extract_replica(model_for(replicas, y), r)  # seed r's starting point in the joint fit
        start = time.perf_counter()
        result = fit_lbfgs(alone, x, y, maxiter=iterations, gtol=0.0, ftol=0.0)
        rates.append(result["evaluations"] / (time.perf_counter() - start))
        fitted = extract_replica(ensemble, r)
        joint_loss = float(fitted.compute_loss(x=x, y=y, y_pred=fitted(x, training=False)))
        excess.append((joint_loss - result["loss"]) / abs(result["loss"]))
    return float(np.median(rates)), ensemble_rate, float(np.mean(excess))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs; the 10×1000 figure is extrapolated")
    parser.add_argument("--only", choices=("hsm", "conv", "lbfgs"), help="run only one part")
    args = parser.parse_args(argv)
    ndnx.set_seed(0)
    x, y = region1_like()
    results = {}
    previous = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "v1.json")
    if args.only and os.path.exists(previous):  # keep the other part's figures
        import json
        with open(previous) as f:
            results.update(json.load(f))
    if args.only in (None, "hsm"):
        ensemble_epochs = 50 if args.quick else 1000
        rate10, seconds10 = compiled_rate(10, ensemble_epochs, x, y)
        results.update({
            "ensemble_seed_epochs_per_s": rate10,
            "ensemble_10x1000_seconds": seconds10 * 1000 / ensemble_epochs,
            "ensemble_extrapolated": bool(args.quick),
            "single_seed_epochs_per_s": compiled_rate(None, 20 if args.quick else 100, x, y)[0],
            "keras_fit_seed_epochs_per_s": keras_fit_rate(10, 5 if args.quick else 20, x, y),
            "ensemble_25_seed_epochs_per_s": compiled_rate(25, 10 if args.quick else 40, x, y)[0],
            "target_ensemble_10x1000_seconds": 300.0,
        })
    if args.only in (None, "lbfgs"):
        single, joint, excess = lbfgs_figures(50 if args.quick else 500, x, y)
        results.update({"lbfgs_single_evaluations_per_s": single,
                        "lbfgs_ensemble10_seed_evaluations_per_s": joint,
                        "lbfgs_ensemble10_loss_excess": excess})
    if args.only in (None, "conv"):
        for name in CONV_MODELS:
            train, inference = conv_rates(name, 1 if args.quick else 3, x, y)
            results[f"{name}_train_seed_samples_per_s"] = train
            results[f"{name}_inference_samples_per_s"] = inference
    results.update({f"machine_{k}": v for k, v in machine_info().items()})
    print_table([(k, v) for k, v in results.items() if not k.startswith("machine_")])
    print(f"wrote {write_results('v1', results)}")


if __name__ == "__main__":
    main()
