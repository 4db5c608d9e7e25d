"""E/I configuration (ndnx.models.ei_config) against the spec's tables (ei_networks_neuroflame.md §7, §10.3).

The expected values are written here from the spec: the defaults of §7's key table, the non-default
values of §7's reference configurations, the oracles of §10.3 (computed in NumPy from a loaded
configuration), the step counts of §1.5/§6, and step counts worked out by hand.
"""

import ast
import os
import pickle
import warnings

import numpy as np
import pytest

from ndnx.models import ei_config
from ndnx.models.ei_config import (KEYS, NO_SEED, EIConfig, EIConfigWarning, available_devices, derive_quantities,
                                   device_scope, grid, load_config, reference_names)

# --- §7: the key table's defaults, as the spec lists them ------------------------------------------------------

SPEC_DEFAULTS = {
    "VERBOSE": 0, "N_BATCH": 1, "DT": 0.01, "DURATION": 6, "T_STEADY": 1.0, "T_WINDOW": 0.1, "TASK": "dual",
    "T_STIM_ON": [1, 3, 5], "T_STIM_OFF": [2, 4, 6], "I0": [0.2, 0, 0], "PHI0": [180, 90, 0], "PHI1": [180, 90, 0],
    "SIGMA0": [1, 1, 1], "N_POP": 2, "N_NEURON": 2000, "K": 200, "FRAC_K": 0, "frac": [0.8, 0.2], "V_THRESH": -50,
    "V_REST": -70, "TF_TYPE": "relu", "THRESH": [1, 1], "RATE_DYN": 0, "TAU": [0.04, 0.04], "RATE_NOISE": 0,
    "VAR_RATE": 1, "SYN_DYN": 1, "TAU_SYN": [0.2, 0.1], "IF_NMDA": 1, "R_NMDA": 1.0, "TAU_NMDA": [0.4, 0.4],
    "IF_ADAPT": 0, "A_ADAPT": 0.01, "TAU_ADAPT": 50, "IF_STP": 0, "IS_STP": [1, 0, 0, 0], "USE": 0.03,
    "TAU_FAC": 1.0, "TAU_REC": 0.2, "J_STP": 10.0, "STP_TYPE": "markram", "IF_FF_STP": 0, "FF_USE": 0.3,
    "TAU_FF_FAC": 0.2, "TAU_FF_REC": 1.0, "TEST_I_STP": 0, "LIVE_FF_UPDATE": 0, "Ja0": [2, 1], "M0": 2.0,
    "VAR_FF": [0, 0], "BUMP_SWITCH": [0, 0], "IF_FF_ADAPT": 0, "A_FF_ADAPT": 0.1, "TAU_FF_ADAPT": 150,
    "IF_FF_DYN": 0, "TAU_FF": 0.2, "GAIN": 0.5, "Jab": [1, -1.5, 1, -1], "IF_BATCH_J": 0, "SPARSE": "None",
    "SEED": 1, "CON_TYPE": "sparse", "PROBA_TYPE": ["None"] * 4, "SIGMA": [0] * 4, "KAPPA": [0] * 4, "PHASE": 0.0,
    "RANK": 2, "LR_MEAN": [0] * 4, "LR_TRAIN": 0, "LR_READOUT": 0, "LR_TYPE": "rand_full", "LR_INI": 1.0,
    "LR_UeqV": 1, "LR_NORM": 0, "LR_CLAMP": 0, "LR_KAPPA": 0, "LR_FIX_READ": 0, "LR_GAUSS": 0, "LR_MASK": 0,
    "LR_CLASS": 1, "LR_BIAS": 1, "DROP_RATE": 0.0, "TRAIN_SCALE": "all", "GRID_SIZE": 30, "GRID_RANGE": 5,
    "GRID_TEST": 0, "GRID_INPUT": 0, "IF_RL": 0, "RWD": -1, "ODR_TRAIN": 0, "CLAMP": 0, "TRAIN_EI": 0,
    "IS_TRAIN": [0] * 4, "RANDOM_DELAY": 0, "MIN_DELAY": 1, "MAX_DELAY": 2, "RANDOM_ITI": 0, "MIN_ITI": 1,
    "MAX_ITI": 2, "IF_OPTO": 0, "REP_BIAS": 0.0, "REP_VAR": 1.0, "TRAINING": 0, "IF_HEBB": 0, "IS_HEBB": [1] * 4,
    "HEBB_FRAC": 0.3, "TAU_HEBB": 1.0, "T_HEBB": 0, "ETA": 0.1, "HEBB_TYPE": "bcm", "STIM_EI": 0,
}
# Keys whose spec default is given in another form, or not at all, and how ndnx reads them (keys.py docstring).
SPEC_DEFAULTS_READ = {"FLOAT_PRECISION": "float32", "DELAY_LIST": None, "ITI_LIST": None, "DEVICE": None,
                      "W_STP": None, "N_OPTO": 0, "LR_MN": None, "LR_EVAL_WIN": None, "SAVE_PATH": None,
                      "GRID_X_RANGE": None, "GRID_Y_RANGE": None}
SPEC_LEGACY = {"IF_W_BLOCKS", "SAVE_DATA", "REC_LAST_ONLY", "T_STIM", "T_DIST", "T_CUE", "T_TEST", "I1", "SIGMA1",
               "FF_DYN", "THRESH_DYN", "TAU_THRESH", "CONNECTIVITY", "STRUCTURE", "WELLS", "DPHI", "IF_LEARNING",
               "IF_LOAD_MAT", "IF_SAVE_MAT"}


def test_the_key_table_has_every_key_of_the_spec_with_its_default():
    defaults = load_config().to_dict()
    assert set(KEYS) == set(SPEC_DEFAULTS) | set(SPEC_DEFAULTS_READ) | {"LR_COV"}
    assert {key: defaults[key] for key in SPEC_DEFAULTS} == SPEC_DEFAULTS
    assert {key: defaults[key] for key in SPEC_DEFAULTS_READ} == SPEC_DEFAULTS_READ
    cov = np.array(defaults["LR_COV"])  # §7 "pairwise 0.9": within (0, 1) and within (2, 3)
    np.testing.assert_array_equal(cov, [[1, .9, 0, 0], [.9, 1, 0, 0], [0, 0, 1, .9], [0, 0, .9, 1]])
    assert set(ei_config.LEGACY_KEYS) == SPEC_LEGACY


# --- §7: the reference configurations -------------------------------------------------------------------------

SPEC_REFERENCES = {
    "config_EI": dict(N_NEURON=2500, K=250, GAIN=1.5, Ja0=[1.3, 1], M0=2, DT=0.005, T_STEADY=5, DURATION=10,
                      RATE_DYN=1, TAU=[0.04, 0.02], SYN_DYN=0, TAU_NMDA=[0.3, 0.3], IF_STP=1, USE=0.03, TAU_FAC=1,
                      TAU_REC=0.2, J_STP=10, FLOAT_PRECISION="mixed_float16"),
    "config_2pop": dict(N_NEURON=10_000, K=500, frac=[0.5, 0.5], DT=0.00025, TAU=[0.04, 0.02],
                        TAU_SYN=[0.004, 0.002], M0=0.15, GAIN=1, IF_NMDA=0),
    "config_ringEI": dict(N_NEURON=1000, frac=[0.5, 0.5], CON_TYPE="all2all", KAPPA=[1, 0.25, 1, 0.25],
                          Ja0=[1.58, 1], TAU_FAC=0.65, RATE_NOISE=1, IF_STP=0, IF_NMDA=1, M0=2),
    "config_SB": dict(N_NEURON=1000, frac=[0.5, 0.5], CON_TYPE="all2all", KAPPA=[1, 0.25, 1, 0.25], Ja0=[1.58, 1],
                      IF_STP=1, TAU_FAC=1, J_STP=7.5, RATE_NOISE=1, IF_ADAPT=1, A_ADAPT=5, TAU_ADAPT=0.1),
    "config_bal_ring": dict(N_NEURON=2500, K=125, CON_TYPE="sparse", KAPPA=[1, 0.5, 1, 1], IF_STP=1,
                            Ja0=[1.33, 1], DT=0.001),
    "config_sparse": dict(N_NEURON=30720, K=1024, SPARSE="semi", FLOAT_PRECISION="mixed_float16", DT=0.001),
    "train_dual": dict(N_NEURON=1000, K=100, DT=0.02, TAU=[0.2, 0.1], LR_TRAIN=1, RANK=2, J_STP=1, GAIN=0.75,
                       CLAMP=1, IF_STP=1, T_STIM_ON=[1, 3, 5, 5.5, 7], T_STIM_OFF=[2, 4, 5.5, 6, 8]),
    "config_train": dict(N_NEURON=2000, K=200, DT=0.02, TAU=[0.2, 0.1], LR_TRAIN=1, RANK=2, J_STP=7, GAIN=0.75,
                         CLAMP=0, IF_STP=1, T_STIM_ON=[1, 3, 5, 5.5, 7], T_STIM_OFF=[2, 4, 5.5, 6, 8]),
    "train_odr_EI": dict(N_NEURON=1000, K=250, frac=[0.75, 0.25], DT=0.02, IF_STP=1, IS_STP=[1, 0, 0, 0],
                         USE=[0.03, 0.5], TAU_FAC=[2, 0.001], STP_TYPE="markram_exp", W_STP=[1, 7, 6, 1],
                         DELAY_LIST=[0, 2, 4, 6, 8], ITI_LIST=[2, 4, 8, 10]),
    "train_vanilla": dict(N_NEURON=1000, K=250, frac=[0.75, 0.25], DT=0.02, CON_TYPE="all2all", IF_STP=0,
                          TRAIN_EI=1, IS_TRAIN=[1, 1, 1, 1], DELAY_LIST=[0, 2, 4, 6, 8], ITI_LIST=[2, 4, 8, 10]),
}


def test_the_reference_configurations_are_those_of_the_spec():
    assert set(reference_names()) == set(SPEC_REFERENCES)


@pytest.mark.parametrize("name", sorted(SPEC_REFERENCES))
def test_a_reference_configuration_has_the_spec_values(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", EIConfigWarning)  # a shipped file loads without complaint
        config = load_config(name).to_dict()
    assert {key: config[key] for key in SPEC_REFERENCES[name]} == SPEC_REFERENCES[name]


def test_config_EI_has_a_low_rank_E_to_E_ring_with_a_hopfield_like_covariance():
    config = load_config("config_EI")
    assert config.PROBA_TYPE[0] == "lr" and config.KAPPA[0] == 3.0                 # §7: PROBA ['lr', …], κ_EE 3
    assert config.LR_COV[0][0] == config.LR_COV[0][1]                             # §2: the Hopfield-like branch


def _ring_matrices(config):
    """G·J̃ (E columns × (1 + R_NMDA) with NMDA on) and the first-Fourier-mode matrix M1 = G·J̃·κ/2 (§10.3)."""
    jab = np.array(config.Jab).reshape(2, 2)
    nmda = np.array([1.0 + config.R_NMDA * config.IF_NMDA, 1.0])
    gj = config.GAIN * jab * nmda[None, :]
    return gj, gj * np.array(config.KAPPA).reshape(2, 2) / 2


def test_config_ringEI_reproduces_the_linear_fixed_point_and_ring_modes_of_the_spec():
    config = load_config("config_ringEI")
    gj, m1 = _ring_matrices(config)
    rates = np.linalg.solve(np.eye(2) - gj, config.M0 * np.array(config.Ja0) - np.array(config.THRESH))
    np.testing.assert_allclose(rates, [2.82, 3.32], atol=5e-3)                      # §10.3 item 1
    np.testing.assert_allclose(sorted(np.linalg.eigvals(m1).real, reverse=True), [0.797, 0.078], atol=1e-3)  # item 5
    # Item 5: the linearised 6-D system (r, s, n for E and I) has its slowest mode at τ = 0.533 s.
    tau_r, tau_s, tau_n = (np.array(config[k]) for k in ("TAU", "TAU_SYN", "TAU_NMDA"))
    a = np.zeros((6, 6))
    for p in range(2):
        a[p, p], a[p, 2 + p], a[p, 4 + p] = -1 / tau_r[p], 1 / tau_r[p], 1 / tau_r[p]
        a[2 + p, 2 + p], a[2 + p, :2] = -1 / tau_s[p], config.GAIN * np.array(config.Jab).reshape(2, 2)[p] \
            * np.array(config.KAPPA).reshape(2, 2)[p] / 2 / tau_s[p]
        a[4 + p, 4 + p] = -1 / tau_n[p]
        a[4 + p, 0] = config.R_NMDA * config.GAIN * config.Jab[2 * p] * config.KAPPA[2 * p] / 2 / tau_n[p]
    assert max(-1 / np.linalg.eigvals(a).real) == pytest.approx(0.533, abs=1e-3)


def test_the_training_configurations_have_the_step_counts_of_the_reported_runs():
    assert derive_quantities(load_config("train_dual")).N_STEPS == 605                     # §6: DT 20 ms, 605 steps
    assert derive_quantities(load_config("train_odr_EI", RANDOM_DELAY=0)).N_STEPS == 355  # §6: ODR, 355 steps


# --- files in the original's format ---------------------------------------------------------------------------

ORIGINAL_FILE = """\
# as NeuroFlame writes it
DEVICE: 'cuda:1'
FLOAT_PRECISION: 16
SEED: None
DELAY_LIST: 'rand'
ITI_LIST: rand
IF_STP: 1
USE: [0.03, 0.5]
TAU_FAC: [2, 0.001]
DT: 1e-3
I1: [0.1, 0.2]
FF_DYN: 0
CONNECTIVITY: cos
SAVE_PATH: ../data/simul
"""


def test_a_file_in_the_original_format_loads_with_the_documented_mapping(tmp_path):
    path = tmp_path / "config_old.yml"
    path.write_text(ORIGINAL_FILE)
    with pytest.warns(EIConfigWarning, match=r"config_old.yml: legacy keys ignored: I1, FF_DYN, CONNECTIVITY"):
        config = load_config(path)
    assert config.DEVICE == "/GPU:1" and config.FLOAT_PRECISION == "mixed_float16"
    assert config.SEED is None and derive_quantities(config).seed == NO_SEED == 0
    assert config.DELAY_LIST is None and config.ITI_LIST is None
    assert config.USE == (0.03, 0.5) and config.DT == 0.001 and config.SAVE_PATH == "../data/simul"
    assert config.LR_MN is None  # not given, and nothing reads it without LR_TRAIN
    (block,) = derive_quantities(config).stp_blocks                     # E→E only: entry 0 of each list
    assert (block.post, block.pre, block.USE, block.TAU_FAC, block.TAU_REC) == (0, 0, 0.03, 2.0, 0.2)
    if ("GPU", 1) not in available_devices():
        with pytest.warns(EIConfigWarning, match=r"DEVICE='/GPU:1' is not a device of this machine"):
            with device_scope(config):
                pass


@pytest.mark.parametrize("written, policy", [(32, "float32"), (16, "mixed_float16"), ("16b", "mixed_bfloat16"),
                                             (64, "float64"), ("mixed_bfloat16", "mixed_bfloat16")])
def test_float_precision_is_read_as_a_keras_dtype_policy(written, policy):
    assert load_config(FLOAT_PRECISION=written).FLOAT_PRECISION == policy


def test_device_names_are_read_as_tensorflow_devices_and_unknown_ones_ignored():
    assert load_config(DEVICE="cuda").DEVICE == "/GPU:0" and load_config(DEVICE="cpu").DEVICE == "/CPU:0"
    with pytest.warns(EIConfigWarning, match=r"DEVICE='mps' has no TensorFlow equivalent; ignored"):
        assert load_config(DEVICE="mps").DEVICE is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", EIConfigWarning)
        with device_scope(load_config(DEVICE="cpu")):  # present on every machine: no warning
            pass


def test_lr_train_without_lr_mn_uses_separate_u_and_v_with_a_warning():
    with pytest.warns(EIConfigWarning, match=r"LR_TRAIN=1 without LR_MN; using LR_MN=1"):
        assert load_config(LR_TRAIN=1).LR_MN == 1


# --- derived quantities (§1.1, §1.5), worked out by hand ------------------------------------------------------

def test_population_sizes_and_in_degrees():
    d = derive_quantities(load_config(N_NEURON=1000, K=100, FRAC_K=1))
    assert d.N == (800, 200) and d.slices == ((0, 800), (800, 1000)) and d.N_E == 800
    assert d.K == pytest.approx((80.0, 20.0)) and d.K_E == pytest.approx(80.0)
    assert derive_quantities(load_config(CON_TYPE="all2all", K=500)).K == (1.0, 1.0)  # all2all forces K = 1
    # 100·0.29 = 28.999999999999996 in floating point: int() gives 28, ndnx counts 29.
    assert derive_quantities(load_config(N_NEURON=100, frac=[0.29, 0.71], K=20)).N == (29, 71)
    assert derive_quantities(load_config(N_NEURON=100, frac=[0.29, 0.71], K=20), truncate=True).N == (28, 71)


def test_step_counts_round_and_truncate_as_documented():
    config = load_config(DT=0.1, T_STEADY=0.3, T_WINDOW=0.1, DURATION=2.0, T_STIM_ON=[0.3], T_STIM_OFF=[0.7])
    rounded, truncated = derive_quantities(config), derive_quantities(config, truncate=True)
    # 0.3/0.1 = 2.9999999999999996: 3 steps by rounding, int() = 2; 0.7/0.1 = 6.999999999999999 likewise.
    assert (rounded.N_STEADY, rounded.N_WINDOW, rounded.N_DURATION, rounded.N_STEPS) == (3, 1, 20, 24)
    assert (truncated.N_STEADY, truncated.N_WINDOW, truncated.N_DURATION, truncated.N_STEPS) == (2, 1, 20, 23)
    assert (rounded.N_STIM_ON, rounded.N_STIM_OFF) == ((6,), (10,))    # measured from the end of T_STEADY
    assert (truncated.N_STIM_ON, truncated.N_STIM_OFF) == ((4,), (8,))
    assert rounded.N_FRAMES == truncated.N_FRAMES == 21                 # §10.3 item 7: 2 s at T_WINDOW 0.1


def test_frames_of_an_unaligned_duration_and_random_delay_growth():
    with pytest.warns(EIConfigWarning, match="DURATION=1.05 is not a multiple of T_WINDOW=0.1"):
        config = load_config(DT=0.01, DURATION=1.05)
    # Recording from step 100 to N_STEPS = 105 + 10 + 100 = 215: NeuroFlame appends at steps 100, 110, ..., 210
    # (12 frames); ndnx records whole windows only, 105 // 10 + 1 = 11.
    assert derive_quantities(config).N_FRAMES == 11 and derive_quantities(config, truncate=True).N_FRAMES == 12
    assert derive_quantities(load_config(RANDOM_DELAY=1)).N_DELAY == 100                 # (MAX 2 − MIN 1)/DT 0.01
    assert derive_quantities(load_config(RANDOM_DELAY=1, DELAY_LIST=[0, 2, 4])).N_DELAY == 400
    assert derive_quantities(load_config(SEED=7)).seed == 7


def test_stp_parameters_per_plastic_block():
    config = load_config(IF_STP=1, IS_STP=[1, 0, 1, 0], USE=[0.03, 0.5], TAU_FAC=1.0, W_STP=[1, 7, 6, 1])
    blocks = derive_quantities(config).stp_blocks
    assert [(b.post, b.pre, b.USE, b.TAU_FAC, b.W_STP) for b in blocks] == [(0, 0, 0.03, 1.0, 1.0),
                                                                            (1, 0, 0.5, 1.0, 6.0)]


# --- parameter grids (§1.6 (e)) -------------------------------------------------------------------------------

def test_a_grid_lays_out_the_cartesian_product_in_rows_and_back():
    base = load_config("config_ringEI")
    j_stp, j_e0 = [5.0, 7.5, 10.0, 12.5], [1.0, 1.58, 2.0]
    g = grid(base, {"Ja0[0]": j_e0}, J_STP=j_stp)
    assert g.shape == (3, 4) and g.size == 12
    stp, ja0 = g.batched("J_STP"), g.batched("Ja0")
    assert stp.shape == (12, 1) and ja0.shape == (12, 2, 1)
    # Row b = i·4 + j holds (J_E0[i], J_STP[j]), as torch's expand-and-reshape lays them out.
    np.testing.assert_allclose(stp[:, 0], np.tile(j_stp, 3))
    np.testing.assert_allclose(ja0[:, 0, 0], np.repeat(j_e0, 4))
    np.testing.assert_allclose(ja0[:, 1, 0], 1.0)
    decoded = ja0[:, 0, 0] * 100 + stp[:, 0]                            # one number per simulation
    np.testing.assert_allclose(g.reshape(decoded), np.add.outer(np.array(j_e0) * 100, j_stp))
    np.testing.assert_array_equal(g.flatten(g.reshape(decoded)), decoded)
    frames = np.arange(12 * 5 * 2).reshape(12, 5, 2)                     # (B, frames, neurons) → (3, 4, 5, 2)
    assert g.reshape(frames).shape == (3, 4, 5, 2) and g.reshape(frames)[1, 2, 3, 1] == frames[6, 3, 1]
    assert g.point(6) == {"Ja0[0]": 1.58, "J_STP": 10.0}
    assert g.config(6) == load_config("config_ringEI", Ja0=[1.58, 1.0], J_STP=10.0)


# --- errors: one line, naming the key, what was expected and what came ------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    (dict(GIAN=1.0), "load_config: unknown key 'GIAN'; did you mean 'GAIN'?"),
    (dict(FRAC=[0.5, 0.5]), "unknown key 'FRAC'; did you mean 'frac'?"),
    (dict(Jab=[1, -1.5, 1]), "Jab=[1, -1.5, 1] is not valid: expected a list of N_POP²=4 (post × pre) numbers (3 entries)"),
    (dict(TAU=[0.04]), "TAU=[0.04] is not valid: expected a list of N_POP=2 numbers > 0 (1 entry)"),
    (dict(frac=[0.7, 0.2]), "frac=[0.7, 0.2] is not valid: expected fractions that sum to 1 (sum 0.9)"),
    (dict(DT=float("nan")), "DT=nan is not valid: expected a finite number > 0"),
    (dict(DT=-0.01), "DT=-0.01 is not valid: expected a finite number > 0"),
    (dict(T_WINDOW=0.015), "T_WINDOW=0.015 is not valid: expected a multiple of DT=0.01 (T_WINDOW/DT = 1.5)"),
    (dict(K=500), "K=500.0 is not valid: expected K ≤ N_B for every presynaptic population of a 'sparse' network "
                  "(population 1 has N=400 neurons and K=500)"),
    (dict(N_NEURON=3), "N_NEURON=3 is not valid: expected at least one neuron in every population"),
    (dict(T_STIM_OFF=[0.5, 4, 6]), "T_STIM_OFF=[0.5, 4.0, 6.0] is not valid: expected every offset ≥ its onset"),
    (dict(MIN_DELAY=3), "MAX_DELAY=2.0 is not valid: expected MAX_DELAY ≥ MIN_DELAY=3"),
    (dict(LR_COV=[[1, 2], [2, 1]]), "LR_COV=[[1, 2], [2, 1]] is not valid: expected a square, symmetric, positive"),
    (dict(FLOAT_PRECISION=8), "FLOAT_PRECISION=8 is not valid: expected 32, 16, '16b' or 64"),
    (dict(SEED=-1), "SEED=-1 is not valid: expected null or an integer ≥ 0"),
    (dict(IF_STP=1, IS_STP=[1, 1, 0, 0], USE=[0.1]), "USE=[0.1] is not valid: expected one number, or a list of at "
                                                     "least 2 (one per plastic block of IS_STP)"),
    (dict(IF_OPTO=1, N_OPTO=2000), "N_OPTO=2000 is not valid: expected at most N_E=1600 silenced E neurons"),
    (dict(IF_STP=2), "IF_STP=2 is not valid: expected 0 or 1"),
])
def test_bad_values_are_one_line_errors_naming_key_expectation_and_value(overrides, message):
    with pytest.raises(ValueError) as error:
        load_config(**overrides)
    text = str(error.value)
    assert message in text and "\n" not in text


def test_bad_files_and_names_are_one_line_errors(tmp_path):
    (tmp_path / "typo.yml").write_text("GIAN: 1.0\n")
    (tmp_path / "list.yml").write_text("- GAIN\n")
    (tmp_path / "broken.yml").write_text("GAIN: [1.0\n")
    cases = [("typo.yml", "typo.yml: unknown key 'GIAN'; did you mean 'GAIN'?"),
             ("list.yml", "list.yml: expected a mapping of configuration keys to values, got list"),
             ("broken.yml", "broken.yml: not valid YAML at line 2")]
    for name, message in cases:
        with pytest.raises(ValueError) as error:
            load_config(tmp_path / name)
        assert message in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(ValueError, match=r"'config_ei' is neither a file nor a reference configuration; "
                                         r"did you mean 'config_EI'\?"):
        load_config("config_ei")
    with pytest.raises(AttributeError, match=r"EIConfig is immutable; use config.replace\(GAIN=...\)"):
        load_config().GAIN = 1.0
    with pytest.raises(ValueError, match=r"grid: axis 'Ja0\[2\]' is not valid: Ja0 has 2 entries"):
        grid(load_config(), {"Ja0[2]": [1.0]})
    with pytest.raises(ValueError, match=r"load_config: K=3000.0 is not valid"):
        grid(load_config(), K=[100, 3000])


# --- round trips, and no TensorFlow at import -------------------------------------------------------------------

def test_yaml_dict_and_pickle_round_trips(tmp_path):
    config = load_config("train_odr_EI", N_BATCH=3, SEED=None, DEVICE="cuda:0")
    path = config.to_yaml(tmp_path / "out" / "config.yml")
    assert os.path.isfile(path) and os.listdir(tmp_path / "out") == ["config.yml"]  # atomic: no temporary left
    assert load_config(path) == config
    changed = tmp_path / "changed.yml"
    config.to_yaml(changed, changed_only=True)
    assert load_config(changed) == config and load_config(config.to_dict()) == config
    assert EIConfig(config.to_dict()) == config and pickle.loads(pickle.dumps(config)) == config


def test_the_package_does_not_import_tensorflow_at_module_level():
    folder = os.path.dirname(ei_config.__file__)
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
            imported = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
                        for alias in node.names}
            imported |= {node.module.split(".")[0] for node in tree.body
                         if isinstance(node, ast.ImportFrom) and node.module}
            assert not imported & {"tensorflow", "keras"}, f"{name} imports {imported & {'tensorflow', 'keras'}}"
