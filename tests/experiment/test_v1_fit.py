"""The V1 recipe's evaluation: what its correlation is, both summaries over neurons, and the
metrics of repeated trials."""

import os

import numpy as np
import keras
import pytest

from ndnx.experiment.fits.v1 import METRICS, supervised_evaluation
from ndnx.losses import PoissonLoss, poisson_unit_norm
from ndnx.models.v1 import hsm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny_experiment.py")


def data(t=60, n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, 15, 15, 1)).astype("float32")
    rates = np.asarray(hsm(n, input_shape=(15, 15, 1), seed=77)(x))
    return x, rng.poisson(rates).astype("float32"), rates


def ensemble(y, replicas=3):
    model = hsm(y.shape[1], input_shape=(15, 15, 1), seed=0, replicas=replicas)
    model.compile(keras.optimizers.Adam(1e-3), PoissonLoss(poisson_unit_norm(y), replica_axis=1))
    return model


def test_correlation_is_the_mean_over_neurons_and_the_median_is_logged_too():
    x, y, _ = data()
    model = ensemble(y)
    got = supervised_evaluation(model, x, y)
    pred = np.asarray(model.predict(x, verbose=0), dtype="float64")  # (images, seeds, neurons)
    r = np.array([[np.corrcoef(pred[:, s, k], y[:, k])[0, 1] for k in range(y.shape[1])]
                  for s in range(pred.shape[1])])
    np.testing.assert_allclose(got["correlation"], r.mean(axis=1), atol=1e-6)
    np.testing.assert_allclose(got["correlation_median"], np.median(r, axis=1), atol=1e-6)
    assert np.all(np.abs(got["correlation"] - got["correlation_median"]) > 1e-4)  # they differ
    assert METRICS["correlation"] == "mean over neurons of per-neuron Pearson r"
    assert METRICS["correlation_median"] == "median over neurons of per-neuron Pearson r"


def test_the_run_record_says_what_each_metric_is(tmp_path):
    import json

    from ndnx.experiment import load_experiment

    exp = load_experiment(TINY)
    (run,) = exp.runs()
    exp.write_run_info(exp.layout(str(tmp_path)), run)
    info = json.loads((tmp_path / "logs" / "tests" / "tiny" / run.name / "run_info.json").read_text())
    assert info["metrics"]["correlation"] == "mean over neurons of per-neuron Pearson r"
    assert info["metrics"]["correlation_median"] == "median over neurons of per-neuron Pearson r"
    # An experiment with its own evaluation says what its metrics are, or nothing.
    custom = exp.derive("tests/custom", evaluate=lambda model, x, y: {})
    custom.write_run_info(custom.layout(str(tmp_path)), run)
    info = json.loads((tmp_path / "logs" / "tests" / "custom" / run.name / "run_info.json").read_text())
    assert info["metrics"] == {}


# --- what a V1 run logs to TensorBoard --------------------------------------------------------------

def repeats_experiment(name="tests/v1_repeats"):
    """A V1 recipe experiment whose data have repeated validation trials (images, repeats, neurons)."""
    from ndnx.experiment import Experiment, NDN3Fit

    def load(config):
        x, y, rates = data(t=100, n=6, seed=1)
        # Trials with noise half the size of the signal: every neuron has explainable variance.
        rng = np.random.default_rng(5)
        noise = rng.normal(0, 0.5 * rates[80:].std(axis=0), size=(20, 4, 6))
        trials = np.maximum(rates[80:, None, :] + noise, 0).astype("float32")  # (images, repeats, neurons)
        return {"train": (x[:80], y[:80]), "validation": (x[80:], trials.mean(axis=1)),
                "noiseless": (x[80:], rates[80:]), "validation_trials": trials}

    def build(config, seed, replicas):
        model = hsm(6, input_shape=(15, 15, 1), seed=seed, replicas=replicas, l2_output=0.1)
        y = load(config)["train"][1]
        model.compile(keras.optimizers.Adam(config["lr"]), PoissonLoss(poisson_unit_norm(y), replica_axis=replicas and 1),
                      jit_compile=False)
        return model

    return Experiment(name, dict(lr=1e-2, epochs=3, batch_size=16, log_every=2), data=load, build=build,
                      fit=NDN3Fit(), seeds=2)


def events(directory):
    from tensorboard.backend.event_processing import event_accumulator as ea

    files = sorted(directory.glob("events.out.tfevents.*"))
    assert files, directory
    return [ea.EventAccumulator(str(f), size_guidance={ea.TENSORS: 0, ea.IMAGES: 0}).Reload() for f in files]


def plugin_content(accumulator, plugin):
    try:
        return accumulator.PluginTagToContent(plugin)
    except KeyError:  # nothing of that plugin in this file
        return {}


def hand_feve(pred, trials):
    """FEVE per neuron (Cadena et al. 2019) with NumPy: 1 − (MSE − σ²_noise) / (σ²_total − σ²_noise)."""
    total = trials.reshape(-1, trials.shape[-1]).var(axis=0, ddof=1)
    noise = trials.var(axis=1, ddof=1).mean(axis=0)
    mse = ((trials - pred[:, None, :]) ** 2).mean(axis=(0, 1))
    return 1 - (mse - noise) / (total - noise)


def test_a_v1_run_logs_feve_oracle_hparams_and_filters(tmp_path):
    import io

    import matplotlib.image
    from tensorboard.util import tensor_util

    from ndnx.analysis.summary import read_scalars
    from ndnx.analysis.v1 import dog_kernels_of
    from ndnx.metrics import oracle_correlation
    from tensorboard.plugins.hparams import metadata as hparams_metadata

    exp = repeats_experiment()
    (run,) = exp.runs()
    exp.run_job(run, [0, 1], root=str(tmp_path), progress=False)
    logs = tmp_path / "logs" / "tests" / "v1_repeats" / run.name
    data_ = exp.load_data(run.config)
    x_val, trials = data_["validation"][0], data_["validation_trials"].astype("float64")
    total = trials.reshape(-1, trials.shape[-1]).var(axis=0, ddof=1)
    assert np.all(total > trials.var(axis=1, ddof=1).mean(axis=0))  # FEVE is defined for every neuron
    for seed in (0, 1):
        model = keras.saving.load_model(str(tmp_path / "models" / "tests" / "v1_repeats" / run.name / f"seed{seed}.keras"))
        pred = np.asarray(model.predict(x_val, verbose=0), dtype="float64")
        validation = read_scalars(logs / f"seed{seed}" / "validation")
        steps, feve = validation["feve"]
        assert steps.tolist() == [0, 1, 2]
        assert feve[-1] == pytest.approx(hand_feve(pred, trials).mean(), rel=1e-5)
        oracle = validation["oracle_correlation"][1]
        np.testing.assert_allclose(oracle, np.mean(oracle_correlation(trials)), atol=1e-6)
        # Only the split with the trials gets them; the noiseless rates share its images.
        noiseless = read_scalars(logs / f"seed{seed}" / "noiseless")
        assert "feve" not in noiseless and {"correlation", "correlation_median", "loss"} <= set(noiseless)

        accumulators = events(logs / f"seed{seed}")
        # The HParams dashboard's session: the run's configuration, the seeds grouped by run.
        sessions = [plugin_content(a, "hparams") for a in accumulators if plugin_content(a, "hparams")]
        assert len(sessions) == 1
        info = hparams_metadata.parse_session_start_info_plugin_data(
            sessions[0][hparams_metadata.SESSION_START_INFO_TAG])
        assert info.group_name == run.name
        assert info.hparams["lr"].number_value == pytest.approx(1e-2) and info.hparams["epochs"].number_value == 3
        # The DoG filters at epoch 0, at every checkpoint (every 2 epochs) and at the end.
        (pictures,) = [a for a in accumulators if "dog/filters" in plugin_content(a, "images")]
        shown = {e.step: tensor_util.make_ndarray(e.tensor_proto) for e in pictures.Tensors("dog/filters")}
        assert sorted(shown) == [0, 1, 2]
        pngs = shown[2][2:]  # width, height, then one PNG per image
        assert len(pngs) == 9  # one image per DoG unit
        kernels = dog_kernels_of(model.get_layer("dog"))
        for png, kernel in zip(pngs, kernels):
            image = matplotlib.image.imread(io.BytesIO(png))
            image = image[..., 0] if image.ndim == 3 else image
            expected = 0.5 + kernel / (2 * np.abs(kernel).max())
            np.testing.assert_allclose(image, expected, atol=1 / 255 + 1e-6)


@pytest.mark.parametrize("replicas", [None, 2])
def test_filter_images_of_every_v1_first_layer(replicas):
    from ndnx.analysis.v1 import dog_kernels_of
    from ndnx.experiment.fits.v1 import filter_images
    from ndnx.models import v1

    shape = (15, 15, 1)
    r = replicas or 1
    models = {"hsm": hsm(6, input_shape=shape, replicas=replicas),
              "conv_readout": v1.conv_readout(6, input_shape=shape, filters=4, kernel_size=5, replicas=replicas),
              "conv_dog": v1.conv_dog(6, input_shape=shape, filters=3, kernel_size=5, replicas=replicas),
              "ln": v1.ln(20, input_shape=shape, replicas=replicas)}
    shapes = {"hsm": (r, 9, 15, 15), "conv_readout": (r, 4, 5, 5), "conv_dog": (r, 3, 5, 5), "ln": (r, 16, 15, 15)}
    for name, model in models.items():
        (images,) = filter_images(model).values()
        assert images.shape == shapes[name], name
    # Against each layer's own weights, the last replica.
    dog = models["hsm"].get_layer("dog")
    np.testing.assert_allclose(filter_images(models["hsm"])["dog/filters"][-1],
                               dog_kernels_of(dog, replicas and replicas - 1), rtol=1e-6, atol=1e-7)
    conv = [layer for layer in models["conv_readout"].layers if layer.weights][0]
    kernel = np.asarray(conv.kernel)[-1] if replicas else np.asarray(conv.kernel)  # (kh, kw, 1, filters)
    (images,) = filter_images(models["conv_readout"]).values()
    np.testing.assert_allclose(images[-1], np.moveaxis(kernel[:, :, 0, :], -1, 0), rtol=1e-6)
    dense = [layer for layer in models["ln"].layers if layer.weights][0]
    kernel = np.asarray(dense.kernel)[-1] if replicas else np.asarray(dense.kernel)  # (225, 20)
    (images,) = filter_images(models["ln"]).values()
    np.testing.assert_allclose(images[-1], kernel.T.reshape(20, 15, 15)[:16], rtol=1e-6)


def test_tensorboard_hparams_dashboard_compares_the_runs_of_a_grid(tmp_path):
    """What TensorBoard's HParams plugin makes of the logs of a two-run grid (its own backend)."""
    from tensorboard import context as tb_context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    exp = repeats_experiment()
    runs = exp.runs({"lr": [1e-2, 1e-3], "epochs": 1})
    names = [run.name for run in runs]  # folders named by their configuration (lr=0.01 first)
    for run in runs:
        exp.run_job(run, [0, 1], root=str(tmp_path), progress=False)
    logdir = str(tmp_path / "logs" / "tests" / "v1_repeats")
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    backend = backend_context.Context(base_plugin.TBContext(
        logdir=logdir, multiplexer=multiplexer,
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, logdir)))
    request = tb_context.RequestContext()
    experiment = backend.experiment_from_metadata(request, "", True, backend.hparams_metadata(request, ""),
                                                  backend.hparams_from_data_provider(request, "", None))
    hparams = {h.name: h for h in experiment.hparam_infos}
    assert hparams["lr"].type == api_pb2.DATA_TYPE_FLOAT64 and set(exp.defaults) <= set(hparams)
    metrics = {(m.name.group, m.name.tag) for m in experiment.metric_infos}
    assert {("validation", "correlation"), ("validation", "feve"), ("train", "loss")} <= metrics  # the objective, ...
    groups = list_session_groups.Handler(request, backend, "", api_pb2.ListSessionGroupsRequest(
        experiment_name="", allowed_statuses=[api_pb2.STATUS_UNKNOWN], start_index=0, slice_size=10,
        aggregation_type=api_pb2.AGGREGATION_AVG)).run().session_groups
    assert sorted((g.name, len(g.sessions), round(g.hparams["lr"].number_value, 6)) for g in groups) == (
        sorted([(names[0], 2, 0.01), (names[1], 2, 0.001)]))  # one group per run, its seeds the sessions
    for group in groups:
        assert any((m.name.group, m.name.tag) == ("validation", "correlation") for m in group.metric_values)
