"""experiments/ei/dpa_training.py at N = 100: the stratified split and labels by hand, and the logged scores
equal DualLoss / dual_accuracy recomputed from the saved model on the validation trials."""

import glob
import os

import keras
import numpy as np
import pytest

from ndnx.connectivity import odor_vectors
from ndnx.experiment import load_experiment
from ndnx.losses import DualLoss
from tests.experiments.ei.helpers import script

# init_std 0: every call starts from the same state, so the saved model reproduces the logged scores exactly
TINY = dict(N_NEURON=100, K=10, trials_per_condition=5, validation_fraction=0.4, epochs=1, batch_size=12,
            init_std=0.0)


def test_split_is_stratified_and_labels_are_sample_equals_test():
    exp = load_experiment(script("dpa_training"))
    config = exp.runs(TINY)[0].config
    splits = exp.data(config)
    odors = odor_vectors(80, seed=config["odor_seed"])  # N_E = 0.8·100
    for name, per_condition in (("train", 3), ("validation", 2)):
        x, y = splits[name]
        assert x["patterns"].shape == (4 * per_condition, 5, 80)   # 4 conditions, 5 stimuli, N_E = 80
        # NeuroFlame's odors: stimulus k is odors[k] for a + sign, odors[5 + k] for a − sign (spec §5)
        sample = np.where(np.abs(x["patterns"][:, 0] - odors[0]).max(-1) < 1e-5, 1.0, np.nan)
        sample[np.abs(x["patterns"][:, 0] - odors[5]).max(-1) < 1e-5] = -1.0
        test = np.where(np.abs(x["patterns"][:, 4] - odors[4]).max(-1) < 1e-5, 1.0, np.nan)
        test[np.abs(x["patterns"][:, 4] - odors[9]).max(-1) < 1e-5] = -1.0
        assert np.isfinite(sample).all() and np.isfinite(test).all()
        conditions, counts = np.unique(np.stack([sample, test], 1), axis=0, return_counts=True)
        assert len(conditions) == 4 and set(counts) == {per_condition}
        label = np.nanmax(np.where(y[..., 1] > 0, y[..., 0], np.nan), axis=1)
        np.testing.assert_array_equal(label, (sample == test).astype(float))
        # the DPA window is test onset → end: from the onset index 7/T_WINDOW = 70 (spec §10.3 item 7) to the
        # last of the 111 frames (0 … 110)
        np.testing.assert_array_equal(np.flatnonzero(y[0, :, 1]), np.arange(70, 111))


# epochs 0: the scores of the model as built (fast); 1: one epoch of BPTT through `ndnx run` first (slow, budget)
@pytest.mark.parametrize("epochs", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_logged_scores_match_the_saved_model(tmp_path, epochs):
    exp = load_experiment(script("dpa_training"))
    run = exp.runs(dict(TINY, epochs=epochs))[0]
    result = exp.run_job(run, [0], root=str(tmp_path), progress=False)
    job = next(v for v in result.values() if isinstance(v, dict) and "final" in v)
    (path,) = glob.glob(os.path.join(str(tmp_path), "models", "ei", "dpa_training", run.name, "seed0.keras"))
    model = keras.saving.load_model(path)
    x, y = exp.data(run.config)["validation"]
    z = model.predict(x, verbose=0)
    assert job["final"][("validation", "loss")][0] == pytest.approx(float(np.mean(DualLoss(negative="neutral")(y, z))),
                                                                    rel=1e-5)
    # choice at threshold 1 (half the hinge margin, neutral negatives), by hand
    window = y[..., 1] > 0
    mean_z = np.array([z[i, window[i], 0].mean() for i in range(len(z))])
    label = y[:, -1, 0]
    assert job["final"][("validation", "choice_accuracy")][0] == pytest.approx(np.mean((mean_z > 1.0) == (label > 0.5)))
    sigma = 1.0 / (1.0 + np.exp(-z[..., 0]))
    soft = np.where(label[:, None] > 0.5, sigma, 1.0 - sigma)
    assert job["final"][("validation", "accuracy")][0] == pytest.approx(
        np.mean([soft[i, window[i]].mean() for i in range(len(z))]), rel=1e-5)


@pytest.mark.slow
def test_dpa_hinge_loss_falls_below_0_2_within_5_epochs(tmp_path):
    """Spec §10.3 item 9: train_dual (N = 1000, K = 100, DT = 20 ms), DPA 4 × 256 trials split 80/20, Adam lr
    0.1: the loss falls below 0.2 within about 5 epochs (NeuroFlame's reference run: val 1.96 → 0.12 in 4).

    The loss is NeuroFlame's (neutral negative class), which a readout blind to the sample brings to ≈ 0.1;
    the choice accuracy printed beside it says whether the sample was remembered (0.5: it was not).
    """
    import time

    exp = load_experiment(script("dpa_training"))
    run = exp.runs({})[0]
    start = time.time()
    result = exp.run_job(run, [0], root=str(tmp_path), progress=False)
    job = next(v for v in result.values() if isinstance(v, dict) and "final" in v)
    final = {metric: float(v[0]) for (split, metric), v in job["final"].items() if split == "validation"}
    print(f"DPA train_dual N=1000: validation {final} after {job.get('epochs_done')} epochs, "
          f"{time.time() - start:.0f} s")
    assert job.get("epochs_done", 5) <= 5 and final["loss"] < 0.2


@pytest.mark.slow
def test_curriculum_holds_the_first_rank_component_in_the_go_nogo_stage(tmp_path):
    """experiments/ei/dual_curriculum.py: each stage starts from the previous one's V, U, J_STP; the Go/NoGo
    stage leaves the first rank component exactly as DPA left it (spec §6) and moves the second."""
    exp = load_experiment(script("dual_curriculum"))
    run = exp.runs(dict(N_NEURON=100, K=10, trials_per_condition=3, **{"gng.trials_per_condition": 3},
                        **{"dual.trials_per_condition": 2}, epochs=1, batch_size=16, init_std=0.0))[0]
    exp.run_job(run, [0], root=str(tmp_path), progress=False)
    steps = os.path.join(str(tmp_path), "models", "ei", "dual_curriculum", run.name, "steps")
    cells = {}
    for step in ("dpa", "gng", "dual"):
        (path,) = glob.glob(os.path.join(steps, step, "*.keras"))
        cells[step] = keras.saving.load_model(path).network.cell
    for name in ("lr_v", "lr_u"):
        dpa, gng, dual = (getattr(cells[s], name).numpy() for s in ("dpa", "gng", "dual"))
        np.testing.assert_array_equal(gng[:, 0], dpa[:, 0])
        assert np.abs(gng[:, 1] - dpa[:, 1]).max() > 1e-3  # Adam at lr 0.1 moves every free entry
        assert np.abs(dual[:, 0] - gng[:, 0]).max() > 1e-3


@pytest.mark.slow  # family budget; replica = lone model is checked fast in tests/models/test_ei_replicas.py
def test_seeds_as_one_replicated_model_equal_lone_runs(tmp_path):
    """seeds=2 in one model: each replica's scores are those of the lone run with its seed (epochs=0: the
    networks as built, V and U drawn from each seed, the connectivity from network_seed)."""
    exp = load_experiment(script("dpa_training"))
    config = dict(TINY, epochs=0, trials_per_condition=3, validation_fraction=0.34)
    run = exp.runs(dict(config, seeds=2))[0]
    both = exp.run_job(run, [0, 1], root=str(tmp_path / "ensemble"), progress=False)
    ensemble = next(v for v in both.values() if isinstance(v, dict) and "final" in v)["final"]
    for seed in (0, 1):
        alone = exp.run_job(exp.runs(config)[0], [seed], root=str(tmp_path / f"seed{seed}"), progress=False)
        final = next(v for v in alone.values() if isinstance(v, dict) and "final" in v)["final"]
        for key in (("validation", "loss"), ("validation", "accuracy"), ("train", "loss")):
            assert ensemble[key][seed] == pytest.approx(final[key][0], rel=1e-5), (seed, key)
    assert abs(ensemble[("validation", "loss")][0] - ensemble[("validation", "loss")][1]) > 1e-4  # seeds differ
