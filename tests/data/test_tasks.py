"""Task stimuli, schedules, labels and pipelines (NeuroFlame spec §5, §1.5, §6, §10.3 items 6–7)."""

import collections

import numpy as np
import pytest

from ndnx.analysis.decoding import fourier_moments
from ndnx.data import tasks
from ndnx.data.tasks import (DUAL_OFF, DUAL_ON, cosine_bump, dpa_trials, dual_targets, dual_trials, go_nogo_trials,
                             odr_targets, odr_trials, serial_bias_trials, uniform_cue, vector_pattern,
                             wrapped_gaussian)

RNG = np.random.default_rng(11)


# ---------------------------------------------------------------------------------------------- footprints

@pytest.mark.parametrize("strength, sigma", [(1.0, 0.25), (1.75, 1.0), (0.2, 0.5), (2.0, 0.0)])
def test_odr_stimulus_moments_are_the_spec_values(strength, sigma):
    """Spec §10.3 item 6: for σ ≤ 1, m0 = I0/(1 + σ), m1 = I0·σ/(1 + σ), φ = PHI0."""
    phases = np.array([90.0, 0.0, 200.0, 315.0])
    m0, m1, phi = fourier_moments(cosine_bump(1000, phases, strength, sigma, units="degrees"))
    np.testing.assert_allclose(m0, strength / (1 + sigma), atol=1e-12)
    np.testing.assert_allclose(m1, strength * sigma / (1 + sigma), atol=1e-12)
    if sigma > 0:
        np.testing.assert_allclose(np.degrees(phi), phases, atol=1e-9)  # NeuroFlame decoded 89.99999965° for 90°


def test_cosine_bump_is_the_formula_neuron_by_neuron():
    n, phase, i0, sigma = 12, 2.5, 1.3, 3.0  # σ > 1: the relu cuts the trough
    expected = [i0 * max(1 + sigma * np.cos(2 * np.pi * i / n - phase), 0) / (1 + sigma) for i in range(n)]
    np.testing.assert_allclose(cosine_bump(n, phase, i0, sigma, units="radians"), expected, atol=1e-12)
    assert cosine_bump(n, 0.0, i0, sigma, units="radians").max() == pytest.approx(i0)  # the peak is I0


def test_units_are_explicit_and_never_guessed():
    """Small phases in degrees stay degrees (NeuroFlame converted only if some entry exceeded 2π)."""
    np.testing.assert_allclose(cosine_bump(360, 3.0, units="degrees"),
                               cosine_bump(360, np.radians(3.0), units="radians"))
    _, _, phi = fourier_moments(cosine_bump(360, 3.0, units="degrees"))
    assert np.degrees(phi) == pytest.approx(3.0)


def test_two_populations_get_one_ring_each():
    bump = cosine_bump([8, 4], 90.0, strength=1.0, sigma=1.0)
    np.testing.assert_allclose(bump[:8], cosine_bump(8, 90.0))
    np.testing.assert_allclose(bump[8:], cosine_bump(4, 90.0))


def test_wrapped_gaussian_uses_the_shortest_distance_on_the_circle():
    n, phase, sigma = 10, np.radians(340.0), np.radians(40.0)
    theta = 2 * np.pi * np.arange(n) / n
    distance = np.min(np.abs(theta[:, None] - phase + 2 * np.pi * np.arange(-1, 2)[None, :]), axis=1)
    np.testing.assert_allclose(wrapped_gaussian(n, 340.0, 2.0, 40.0, units="degrees"),
                               2.0 * np.exp(-distance ** 2 / (2 * sigma ** 2)), atol=1e-12)


def test_a_bump_on_a_low_rank_ring_follows_the_given_angles():
    """'dual_rand': the ODR bump laid out on neuron angles atan2(ξ2, ξ0) instead of 2πi/N."""
    xi0, xi2 = RNG.normal(size=(2, 50))
    angles = np.arctan2(xi2, xi0)
    trials = odr_trials(50, 4, seed=0, targets=[30.0, 100.0, 200.0, 300.0], angles=angles, go_strength=None)
    for b, phase in enumerate(np.radians([30.0, 100.0, 200.0, 300.0])):
        np.testing.assert_allclose(trials.patterns[b, 0], np.maximum(1 + np.cos(angles - phase), 0) / 2, atol=1e-6)


def test_vector_and_uniform_patterns():
    xi = RNG.normal(size=6)
    np.testing.assert_allclose(vector_pattern(xi, strength=[2.0, -2.0], sigma=0.5), [xi, -xi])
    np.testing.assert_array_equal(uniform_cue(5, -10.0), np.full(5, -10.0))


# ---------------------------------------------------------------------------------------------------- ODR

def test_odr_eight_targets_balanced_layout_and_patterns():
    trials = odr_trials(n_neurons=64, n_trials=40, seed=3, cue_strength=1.5, cue_sigma=0.8)
    counts = collections.Counter(np.round(np.degrees(trials.labels["phase"].astype(float)), 3).tolist())  # float32
    assert counts == {45.0 * k: 5 for k in range(8)}  # 8 targets at 0..315°, 5 trials each
    np.testing.assert_array_equal(trials.onsets, np.tile([1.0, 3.0], (40, 1)))
    np.testing.assert_array_equal(trials.offsets, np.tile([2.0, 3.5], (40, 1)))
    assert trials.duration == 4.5 and trials.names == ("cue", "go")
    for b in (0, 17):
        np.testing.assert_allclose(trials.patterns[b, 0], cosine_bump(64, trials.labels["phase"][b], 1.5, 0.8,
                                                                      units="radians"), atol=1e-6)
    np.testing.assert_array_equal(trials.patterns[:, 1], -5.0)  # the erase/go cue
    np.testing.assert_array_equal(trials.windows["memory"], np.tile([2.0, 3.0], (40, 1)))
    assert trials.onsets.dtype == trials.patterns.dtype == np.float32


def test_odr_uniform_random_phases_seeded():
    a = odr_trials(16, 200, seed=5, targets="uniform")
    b = odr_trials(16, 200, seed=5, targets="uniform")
    c = odr_trials(16, 200, seed=6, targets="uniform")
    np.testing.assert_array_equal(a.patterns, b.patterns)
    assert np.abs(a.labels["phase"] - c.labels["phase"]).max() > 0.1
    phases = a.labels["phase"]
    assert phases.min() >= 0 and phases.max() < 2 * np.pi
    assert len(np.unique(phases)) == 200
    # uniform on the circle: the mean resultant length of 200 draws is ~ 1/√200, far below 1
    assert np.abs(np.exp(1j * phases).mean()) < 0.2


def test_odr_phases_given_per_trial_in_degrees():
    trials = odr_trials(36, 3, seed=0, targets=[10.0, 370.0, 180.0], units="degrees")
    np.testing.assert_allclose(np.degrees(trials.labels["phase"]), [10.0, 10.0, 180.0], atol=1e-5)


def test_odr_random_delays_keep_the_first_stimulus_fixed():
    delay_list = [0.0, 2.0, 4.0, 6.0, 8.0]  # train_odr_EI's DELAY_LIST
    trials = odr_trials(8, 400, seed=2, delay_list=delay_list)
    delays = trials.labels["delay"]
    assert set(delays.tolist()) == set(delay_list)
    np.testing.assert_array_equal(trials.onsets[:, 0], 1.0)
    np.testing.assert_allclose(trials.onsets[:, 1], 3.0 + delays)
    np.testing.assert_allclose(trials.offsets[:, 1], 3.5 + delays)
    assert trials.duration == pytest.approx(4.5 + 8.0)  # grows by max − min
    np.testing.assert_allclose(trials.windows["memory"][:, 1], 3.0 + delays)

    ranged = odr_trials(8, 400, seed=2, delay_range=(1.0, 2.0))
    delays = ranged.labels["delay"]
    assert delays.min() >= 1.0 and delays.max() <= 2.0 and np.ptp(delays) > 0.5
    np.testing.assert_array_equal(ranged.onsets[:, 0], 1.0)
    np.testing.assert_allclose(ranged.onsets[:, 1], 3.0 + delays - 1.0, atol=1e-6)
    assert ranged.duration == pytest.approx(4.5 + 1.0)


def test_random_itis_shift_every_stimulus():
    iti_list = [2.0, 4.0, 8.0, 10.0]  # train_odr_EI's ITI_LIST
    trials = odr_trials(8, 64, seed=4, iti_list=iti_list, delay_range=(0.0, 1.0))
    itis, delays = trials.labels["iti"], trials.labels["delay"]
    assert set(itis.tolist()) <= set(iti_list)
    np.testing.assert_allclose(trials.onsets[:, 0], 1.0 + itis - 2.0)
    np.testing.assert_allclose(trials.onsets[:, 1], 3.0 + itis - 2.0 + delays, atol=1e-6)
    assert trials.duration == pytest.approx(4.5 + 8.0 + 1.0)


def test_odr_targets_carry_the_phase_and_the_memory_frames():
    trials = odr_trials(8, 8, seed=0, delay_list=[0.0, 1.0])
    y = odr_targets(trials, t_window=0.1)
    assert y.shape == (8, trials.n_frames(0.1), 2) == (8, 56, 2)  # DURATION/T_WINDOW + 1 frames
    for b in range(8):
        np.testing.assert_allclose(y[b, :, 0], trials.labels["phase"][b], rtol=1e-6)
        go = 30 + int(round(10 * trials.labels["delay"][b]))  # memory [2 s, go onset): frames 20 … go − 1
        np.testing.assert_array_equal(np.flatnonzero(y[b, :, 1]), np.arange(20, go))


# ------------------------------------------------------------------------------------------ dual family

def _odors(n=30):
    odors = RNG.normal(size=(10, n))
    odors[2] = odors[1]  # as NeuroFlame draws them (spec §2)
    return odors


def test_dual_task_layout_conditions_and_labels():
    odors = _odors()
    trials = dual_trials(trials_per_condition=3, seed=1, odors=odors)
    assert trials.n_trials == 36 and trials.duration == 10.0
    np.testing.assert_array_equal(trials.onsets, np.tile([1, 3, 5, 5.5, 7], (36, 1)))
    np.testing.assert_array_equal(trials.offsets, np.tile([2, 4, 5.5, 6, 8], (36, 1)))
    sample, distractor, test = (trials.labels[k] for k in ("sample", "distractor", "test"))
    conditions = collections.Counter(zip(sample.tolist(), distractor.tolist(), test.tolist()))
    assert len(conditions) == 12 and set(conditions.values()) == {3}
    np.testing.assert_array_equal(trials.labels["dpa"], (sample == test).astype(float))
    np.testing.assert_array_equal(trials.labels["gng"], np.sign(distractor))
    np.testing.assert_array_equal(trials.labels["cue"], distractor != 0)
    for b in range(36):
        for k, sign in ((0, sample[b]), (1, distractor[b]), (4, test[b])):
            expected = 0.0 if sign == 0 else odors[k] if sign > 0 else odors[5 + k]
            np.testing.assert_allclose(trials.patterns[b, k], expected, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(trials.patterns[b, 2], odors[2] if distractor[b] else 0.0, rtol=1e-6)
        np.testing.assert_array_equal(trials.patterns[b, 3], 0.0)  # reward: I0 = 0 by default


def test_dpa_and_go_nogo_conditions():
    odors = _odors()
    dpa = dpa_trials(trials_per_condition=256, seed=0, odors=odors)  # the curriculum's DPA stage, 4 × 256
    pairs = collections.Counter(zip(dpa.labels["sample"].tolist(), dpa.labels["test"].tolist()))
    assert pairs == {(1.0, 1.0): 256, (1.0, -1.0): 256, (-1.0, 1.0): 256, (-1.0, -1.0): 256}
    assert np.nansum(dpa.labels["dpa"]) == 512
    np.testing.assert_array_equal(dpa.patterns[:, 1:4], 0.0)  # no distractor, cue or reward
    gng = go_nogo_trials(trials_per_condition=512, seed=0, odors=odors)  # 2 × 512
    assert collections.Counter(gng.labels["gng"].tolist()) == {1.0: 512, -1.0: 512}
    np.testing.assert_array_equal(gng.patterns[:, [0, 4]], 0.0)  # no sample, no test
    assert np.isnan(gng.labels["dpa"]).all()


def test_untrained_network_stimuli_lie_along_the_low_rank_vectors():
    xi1, xi3 = RNG.normal(size=(2, 20))
    trials = dual_trials(1, seed=0, vectors=(xi1, xi3), strengths=[0.5, 2.0, 1.0, 0.0, 0.5], sigmas=[2, 1, 1, 1, 2])
    for b in range(12):
        s, d, t = (trials.labels[k][b] for k in ("sample", "distractor", "test"))
        np.testing.assert_allclose(trials.patterns[b, 0], s * 0.5 * 2 * xi1, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(trials.patterns[b, 1], d * 2.0 * xi3, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(trials.patterns[b, 4], t * 0.5 * 2 * xi1, rtol=1e-6, atol=1e-7)


def test_dual_random_delays_move_only_the_last_stimulus():
    trials = dual_trials(4, seed=3, odors=_odors(), delay_range=(0.5, 1.5))
    delays = trials.labels["delay"]
    assert delays.min() >= 0.5 and delays.max() <= 1.5
    np.testing.assert_array_equal(trials.onsets[:, :4], np.tile(DUAL_ON[:4], (48, 1)))
    np.testing.assert_array_equal(trials.offsets[:, :4], np.tile(DUAL_OFF[:4], (48, 1)))
    np.testing.assert_allclose(trials.onsets[:, 4], 7.0 + delays - 0.5, atol=1e-6)
    assert trials.duration == pytest.approx(11.0)


def test_dual_targets_windows_on_the_frame_grid():
    trials = dual_trials(2, seed=0, odors=_odors())
    y = dual_targets(trials, t_window=0.1)
    assert y.shape == (24, 101, 4)  # 10 s at T_WINDOW 0.1: 101 frames; (dpa, gng) labels then masks
    for b in range(24):
        np.testing.assert_array_equal(y[b, :, 0], trials.labels["dpa"][b])
        np.testing.assert_array_equal(y[b, :, 1], float(trials.labels["distractor"][b] > 0))
        np.testing.assert_array_equal(np.flatnonzero(y[b, :, 2]), np.arange(70, 101))  # rwd: test (7 s) → end
        gng = np.arange(30, 55) if trials.labels["distractor"][b] else []  # distractor (3 s) → cue off (5.5 s)
        np.testing.assert_array_equal(np.flatnonzero(y[b, :, 3]), gng)
    sample = dual_targets(trials, t_window=0.5, channels=["sample"])
    np.testing.assert_array_equal(np.flatnonzero(sample[0, :, 1]), np.arange(2, 14))  # stim: 1 s → 7 s


def test_serial_bias_protocol():
    trials = serial_bias_trials(n_neurons=100, n_batch=6, seed=9)
    assert trials.duration == 36.0 and trials.patterns.shape == (6, 20, 100)
    np.testing.assert_allclose(trials.onsets[0, ::2], 0.5 + 3.6 * np.arange(10), atol=1e-5)
    np.testing.assert_allclose(trials.offsets[0, ::2] - trials.onsets[0, ::2], 1.0, atol=1e-5)  # 1 s cues
    m0, m1, phi = fourier_moments(trials.patterns[:, ::2])
    np.testing.assert_allclose(m0, 1.75 / 2, atol=1e-6)  # I0 = 1.75, σ = 1: m0 = m1 = I0/2
    np.testing.assert_allclose(m1, 1.75 / 2, atol=1e-6)
    np.testing.assert_allclose(np.cos(phi - trials.labels["phase"]), 1.0, atol=1e-9)
    np.testing.assert_array_equal(trials.patterns[:, 1::2], -5.0)  # erase cues
    np.testing.assert_array_equal(trials.labels["previous_phase"][:, 1:], trials.labels["phase"][:, :-1])
    assert np.isnan(trials.labels["previous_phase"][:, 0]).all()
    mask = trials.frame_mask("delay", 0.1)
    np.testing.assert_array_equal(np.flatnonzero(mask[0])[:10], np.arange(15, 25))  # 1.5 s → 2.5 s


# ------------------------------------------------------------------------------------------- pipelines

def test_datasets_are_seeded_and_cover_every_trial_once():
    trials = odr_trials(8, 24, seed=0)
    y = odr_targets(trials, 0.5)

    def phases(seed):
        return np.concatenate([batch[1][:, 0, 0].numpy() for batch in trials.to_dataset(y, 5, seed=seed)])

    first = phases(1)
    np.testing.assert_array_equal(first, phases(1))
    assert not np.array_equal(first, phases(2))
    np.testing.assert_allclose(np.sort(first), np.sort(trials.labels["phase"]))
    inputs, targets = next(iter(trials.to_dataset(y, 5, seed=1)))
    assert {k: tuple(v.shape) for k, v in inputs.items()} == {"onsets": (5, 2), "offsets": (5, 2),
                                                              "patterns": (5, 2, 8)}
    assert tuple(targets.shape) == (5, 10, 2)


def test_generators_reproduce_with_a_seed_and_differ_with_another():
    odors = _odors()
    a, b, c = (dual_trials(2, seed=s, odors=odors, delay_range=(0, 1)) for s in (4, 4, 5))
    np.testing.assert_array_equal(a.onsets, b.onsets)
    np.testing.assert_array_equal(a.patterns, b.patterns)
    assert not np.array_equal(a.labels["sample"], c.labels["sample"])
    assert not np.array_equal(a.onsets, c.onsets)


# ------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, words", [
    (lambda: odr_trials(8, 10, seed=None), "odr_trials: seed must be an int"),
    (lambda: odr_trials(8, 10, seed=0), r"odr_trials: n_trials \(10\) must be a multiple of the 8 targets"),
    (lambda: odr_trials(8, 8, seed=0, units="deg"), "odr_trials: units must be one of"),
    (lambda: odr_trials(8, 8, seed=0, delay_list=[1], delay_range=(0, 1)), "odr_trials: give delay_list or"),
    (lambda: odr_trials(8, 8, seed=0, footprint="box"), "odr_trials: footprint must be one of"),
    (lambda: cosine_bump(0, 0.0), "cosine_bump: n_neurons must be a positive int"),
    (lambda: cosine_bump(4, 0.0, angles=np.zeros(5)), "cosine_bump: angles must be one angle"),
    (lambda: dual_trials(1, seed=0), "dual_trials: give exactly one of vectors"),
    (lambda: dpa_trials(1, seed=0, odors=np.ones((9, 4))), r"dpa_trials: odors must be 10 vectors \(10, N\)"),
    (lambda: dual_trials(1, seed=0, odors=np.ones((10, 4)), stim_on=[1, 2]), "dual_trials: stim_on and stim_off"),
    (lambda: dual_targets(dpa_trials(1, 0, odors=np.ones((10, 4))), 0.1, channels=["rwd"]), "dual_targets: channels"),
    (lambda: odr_trials(8, 8, seed=0).frame_mask("delay", 0.1), "TaskTrials.frame_mask: odr trials have the"),
    (lambda: serial_bias_trials(8, 2, seed=0, erase_onset=3.5), "serial_bias_trials: each trial needs cue"),
])
def test_bad_input_is_one_clear_line(call, words):
    with pytest.raises(ValueError, match=words) as error:
        call()
    assert "\n" not in str(error.value)


def test_data_module_imports_nothing_else_from_ndnx():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(tasks))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert [m for m in imported if m.startswith("ndnx")] == []
