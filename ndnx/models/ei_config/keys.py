"""Every configuration key of the E/I rate-network family: its default, its kind and what it means.

This table is the one place the keys are defined (spec ei_networks_neuroflame.md §7, "Configuration
keys"). Names are NeuroFlame's (N_NEURON, K, frac, Jab, Ja0, GAIN, M0, DT, ...): the network model,
tasks and experiments read a configuration by these names. Defaults are those of NeuroFlame's
``conf/defaults.yml`` as the spec lists them, with these documented differences:

- DEVICE defaults to None (TensorFlow places operations) instead of 'cuda:1', which fails on a
  machine with fewer than two GPUs (§7).
- FLOAT_PRECISION 32 is read as the Keras dtype policy name 'float32' (see `values.Precision`).
- DELAY_LIST / ITI_LIST 'rand' are read as None: uniform in [MIN_DELAY, MAX_DELAY] / [MIN_ITI, MAX_ITI].
- Keys the spec lists without a default get one that means "not given": W_STP None (every STP
  block multiplier 1), N_OPTO 0, LR_MN None (see `config.load_config`), LR_EVAL_WIN None, and the
  flow-field ranges GRID_X_RANGE / GRID_Y_RANGE None (needed by 'dual_flow', absent from
  defaults.yml, §5).

Per-population lists have length N_POP (E first); per-block lists have length N_POP², post × pre,
row-major: [EE, EI, IE, II] for two populations (block (A←B) is entry B + A·N_POP). Times are in
seconds, rates in Hz. "(unused)" marks keys NeuroFlame's HEAD never reads; they are kept so that
its files load unchanged.

`LEGACY_KEYS` are keys of older NeuroFlame files (config_bump, config_dual, config_I); a file that
has them loads, and they are dropped with a warning. SAVE_PATH, also old, is a key of the table
(the training utilities use it).

Example:
    >>> from ndnx.models.ei_config.keys import KEYS
    >>> KEYS["Jab"].default, KEYS["GAIN"].default
    ([1.0, -1.5, 1.0, -1.0], 0.5)
    >>> KEYS["TAU_SYN"].meaning
    'fast recurrent-current time constants (s), indexed by the *postsynaptic* population'
"""

import dataclasses

from ndnx.models.ei_config.values import (BLOCK, POP, Device, Flag, Flags, Integer, Kind, Matrix, Number,
                                          NumberArray, NumberOrNumbers, Numbers, Optional, Precision, RandomOrList,
                                          Text, Texts)

__all__ = ["Key", "KEYS", "LEGACY_KEYS", "STP_TYPES"]


@dataclasses.dataclass(frozen=True)
class Key:
    """One configuration key: `name`, `default` (as a file would write it), `kind` (how it is read), `meaning`."""

    name: str
    default: object
    kind: Kind
    meaning: str


#: STP models the E/I cell knows (§3.1); 'hansel', found in old files, is 'markram' at HEAD.
STP_TYPES = ("markram", "markram_exp", "mato", "hansel")

_POSITIVE = Number(0, low_open=True)
_NON_NEGATIVE = Number(0)
_FRACTION = Number(0, 1)


def _table(*rows):
    return {row[0]: Key(*row) for row in rows}


KEYS = _table(
    # --- run, device and precision -------------------------------------------------------------------------
    ("VERBOSE", 0, Integer(0), "print per-window population means"),
    ("DEVICE", None, Device(), "device: 'cuda:N' → '/GPU:N', 'cpu' → '/CPU:0' (original default 'cuda:1')"),
    ("FLOAT_PRECISION", 32, Precision(),
     "32, 16 (fp16) or '16b' (bf16), 64; read as the Keras dtype policy name (STP state stays float32)"),
    ("N_BATCH", 1, Integer(1), "parallel simulations (the batch)"),
    ("SEED", 1, Optional(Integer(0)),
     "connectivity and low-rank vector seed; null = not given (see DerivedQuantities.seed), never the clock"),
    ("TRAINING", 0, Flag(), "0 = save the last state for continuation (IF_INIT=0)"),
    # --- time grid ------------------------------------------------------------------------------------------
    ("DT", 0.01, _POSITIVE, "Euler time step (s)"),
    ("DURATION", 6.0, _POSITIVE, "recorded duration after T_STEADY (s)"),
    ("T_STEADY", 1.0, _NON_NEGATIVE, "transient before recording (s); also the origin of stimulus times"),
    ("T_WINDOW", 0.1, _POSITIVE, "averaging/recording window (s), a multiple of DT"),
    # --- task and stimuli -----------------------------------------------------------------------------------
    ("TASK", "dual", Text(), "'None', 'odr', 'odr_rand', '...gauss...', 'dual', 'dual_rand', 'dual_flow' (substring tests)"),
    ("T_STIM_ON", [1.0, 3.0, 5.0], Numbers(item=_NON_NEGATIVE), "stimulus onsets (s, from the end of T_STEADY)"),
    ("T_STIM_OFF", [2.0, 4.0, 6.0], Numbers(item=_NON_NEGATIVE), "stimulus offsets (s, from the end of T_STEADY)"),
    ("I0", [0.2, 0.0, 0.0], Numbers(), "stimulus strengths; the sign is the identity in 'dual'"),
    ("PHI0", [180.0, 90.0, 0.0], NumberArray(), "ODR stimulus locations (degrees), per stimulus or (B, N_STIM, 1)"),
    ("PHI1", [180.0, 90.0, 0.0], NumberArray(), "(unused)"),
    ("SIGMA0", [1.0, 1.0, 1.0], Numbers(), "footprint: cosine depth (odr), σ (gauss), scale (dual)"),
    ("STIM_EI", 0, Flag(), "also stimulate the I population"),
    ("LIVE_FF_UPDATE", 0, Flag(), "build inputs on the fly, (B, N) instead of (B, T, N)"),
    ("ODR_TRAIN", 0, Flag(), "add a time axis to stimuli (training input builder)"),
    ("RANDOM_DELAY", 0, Flag(), "random delay per trial"),
    ("DELAY_LIST", "rand", RandomOrList(), "delays to draw from (s); 'rand'/null = uniform in [MIN_DELAY, MAX_DELAY]"),
    ("MIN_DELAY", 1.0, _NON_NEGATIVE, "shortest random delay (s)"),
    ("MAX_DELAY", 2.0, _NON_NEGATIVE, "longest random delay (s)"),
    ("RANDOM_ITI", 0, Flag(), "random pre-trial steady period"),
    ("ITI_LIST", "rand", RandomOrList(), "ITIs to draw from (s); 'rand'/null = uniform in [MIN_ITI, MAX_ITI]"),
    ("MIN_ITI", 1.0, _NON_NEGATIVE, "shortest random ITI (s)"),
    ("MAX_ITI", 2.0, _NON_NEGATIVE, "longest random ITI (s)"),
    ("REP_BIAS", 0.0, Number(), "repulsive input-phase bias (code commented out in the original)"),
    ("REP_VAR", 1.0, _NON_NEGATIVE, "variance of the repulsive bias (code commented out in the original)"),
    # --- populations ----------------------------------------------------------------------------------------
    ("N_POP", 2, Integer(1), "number of populations (E first)"),
    ("N_NEURON", 2000, Integer(1), "total number of neurons; N_a = int(N_NEURON·frac[a])"),
    ("K", 200.0, _POSITIVE, "mean in-degree per presynaptic population (forced to 1 for all2all)"),
    ("FRAC_K", 0, Flag(), "1: K_a = K·frac[a]"),
    ("frac", [0.8, 0.2], Numbers(POP, Number(0, 1, low_open=True), "fractions"), "population fractions, summing to 1"),
    ("V_THRESH", -50.0, Number(), "LIF spike threshold (LIF only)"),
    ("V_REST", -70.0, Number(), "LIF reset potential (LIF only)"),
    # --- single-neuron dynamics ---------------------------------------------------------------------------
    ("TF_TYPE", "relu", Text(), "'relu', 'erf', 'sqrt' (Brunel); anything else = THRESH·Φ_gauss"),
    ("THRESH", [1.0, 1.0], Numbers(POP), "threshold per population (amplitude for the sigmoid branch)"),
    ("RATE_DYN", 0, Flag(), "1 = low-pass rates with TAU"),
    ("TAU", [0.04, 0.04], Numbers(POP, _POSITIVE), "rate time constants (s)"),
    ("RATE_NOISE", 0, Flag(), "additive rate noise, std √VAR_RATE/√K_E per step"),
    ("VAR_RATE", 1.0, _NON_NEGATIVE, "variance of the rate noise"),
    ("SYN_DYN", 1, Flag(), "1 = low-pass recurrent current with TAU_SYN"),
    ("TAU_SYN", [0.2, 0.1], Numbers(POP, _POSITIVE),
     "fast recurrent-current time constants (s), indexed by the *postsynaptic* population"),
    ("IF_NMDA", 1, Flag(), "extra slow E-driven (NMDA) current"),
    ("R_NMDA", 1.0, _NON_NEGATIVE, "NMDA / fast current ratio"),
    ("TAU_NMDA", [0.4, 0.4], Numbers(POP, _POSITIVE), "NMDA time constants (s), by postsynaptic population"),
    ("IF_ADAPT", 0, Flag(), "E threshold adaptation"),
    ("A_ADAPT", 0.01, _NON_NEGATIVE, "threshold adaptation strength"),
    ("TAU_ADAPT", 50.0, _POSITIVE, "threshold adaptation time constant (s)"),
    # --- short-term plasticity ------------------------------------------------------------------------------
    ("IF_STP", 0, Flag(), "enable STP"),
    ("IS_STP", [1, 0, 0, 0], Flags(BLOCK), "which blocks are plastic (post × pre)"),
    ("USE", 0.03, NumberOrNumbers(_FRACTION), "STP U, one value or one per STP block"),
    ("TAU_FAC", 1.0, NumberOrNumbers(_NON_NEGATIVE), "STP facilitation τ_fac (s), one value or one per STP block"),
    ("TAU_REC", 0.2, NumberOrNumbers(_POSITIVE), "STP recovery τ_rec (s), one value or one per STP block"),
    ("J_STP", 10.0, Number(), "plastic E→E strength (trainable)"),
    ("STP_TYPE", "markram", Text(), "'markram', 'markram_exp', 'mato' ('hansel' and unknown names = 'markram')"),
    ("W_STP", None, Optional(Numbers(BLOCK)), "per-block multipliers of non-EE STP blocks; null = all 1"),
    ("IF_OPTO", 0, Flag(), "silence N_OPTO presynaptic E rows of the STP matrix"),
    ("N_OPTO", 0, Integer(0), "number of silenced E neurons (IF_OPTO)"),
    ("TEST_I_STP", 0, Flag(), "(unused)"),
    ("IF_FF_STP", 0, Flag(), "STP on the feedforward input"),
    ("FF_USE", 0.3, _FRACTION, "feedforward STP U"),
    ("TAU_FF_FAC", 0.2, _NON_NEGATIVE, "feedforward STP τ_fac (s)"),
    ("TAU_FF_REC", 1.0, _POSITIVE, "feedforward STP τ_rec (s)"),
    # --- external input -------------------------------------------------------------------------------------
    ("Ja0", [2.0, 1.0], Numbers(POP), "external input per population (× √K_E·M0)"),
    ("M0", 2.0, _NON_NEGATIVE, "external rate scale (also multiplies the noise std)"),
    ("VAR_FF", [0.0, 0.0], Numbers(POP, _NON_NEGATIVE), "input noise variance per population"),
    ("BUMP_SWITCH", [0, 0], Flags(POP), "silence a population's drive to O(1) before the first stimulus"),
    ("IF_FF_ADAPT", 0, Flag(), "adaptive threshold on the feedforward input"),
    ("A_FF_ADAPT", 0.1, _NON_NEGATIVE, "feedforward adaptation strength"),
    ("TAU_FF_ADAPT", 150.0, _POSITIVE, "feedforward adaptation time constant (s)"),
    ("IF_FF_DYN", 0, Flag(), "low-pass the feedforward input"),
    ("TAU_FF", 0.2, _POSITIVE, "feedforward low-pass time constant (s)"),
    # --- connectivity ---------------------------------------------------------------------------------------
    ("GAIN", 0.5, Number(), "global multiplier on Jab (and J_STP)"),
    ("Jab", [1.0, -1.5, 1.0, -1.0], Numbers(BLOCK), "couplings before /√K_B (post × pre)"),
    ("IF_BATCH_J", 0, Flag(), "batched E→E gain Jab_batch (B, 1) times a shared unit E→E matrix"),
    ("SPARSE", "None", Text(("None", "full", "semi")), "'full' (COO) / 'semi' (2:4) in the original; removed from HEAD"),
    ("CON_TYPE", "sparse", Text(), "'sparse' (Bernoulli K_B/N_B·P) or 'all2all' (P/N_B)"),
    ("PROBA_TYPE", ["None", "None", "None", "None"], Texts(BLOCK),
     "per block: 'None', 'cosine', 'cosine_spec', 'lr', 'von_mises', 'gaussian' (+ 'dense')"),
    ("SIGMA", [0.0, 0.0, 0.0, 0.0], Numbers(BLOCK), "heterogeneity (unused)"),
    ("KAPPA", [0.0, 0.0, 0.0, 0.0], Numbers(BLOCK), "structure strength κ per block"),
    ("PHASE", 0.0, Number(), "cosine phase offset (degrees)"),
    # --- low-rank vectors and training ------------------------------------------------------------------
    ("RANK", 2, Integer(1), "rank of the trainable U, V"),
    ("LR_MEAN", [0.0, 0.0, 0.0, 0.0], Numbers(), "mean of the low-rank vectors (dual)"),
    ("LR_COV", [[1.0, 0.9, 0.0, 0.0], [0.9, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.9], [0.0, 0.0, 0.9, 1.0]], Matrix(),
     "covariance of the low-rank vectors (dual); LR_COV[0][0] == LR_COV[0][1] is the Hopfield-like branch"),
    ("LR_TRAIN", 0, Flag(), "1 = train low-rank U, V; 0 = full Wab_train"),
    ("LR_READOUT", 0, Flag(), "add a Linear(N_E → 1) readout"),
    ("LR_TYPE", "rand_full", Text(), "'full' sets non-EE STP blocks to 1/N_B"),
    ("LR_INI", 1.0, _NON_NEGATIVE, "init std of the trainable weights"),
    ("LR_MN", None, Optional(Flag()), "1 = separate U, V; 0 = V·Vᵀ; not in defaults.yml (see load_config)"),
    ("LR_UeqV", 1, Flag(), "initialise U = V"),
    ("LR_NORM", 0, Flag(), "Frobenius normalisation of U, V"),
    ("LR_CLAMP", 0, Flag(), "clamp E rows ≥ −1"),
    ("LR_KAPPA", 0, Flag(), "train an lr_kappa (legacy; gone at HEAD)"),
    ("LR_FIX_READ", 0, Flag(), "RL input uses fixed U rather than the trained linear weight"),
    ("LR_GAUSS", 0, Flag(), "(unused)"),
    ("LR_MASK", 0, Flag(), "(unused)"),
    ("LR_CLASS", 1, Flag(), "(unused)"),
    ("LR_BIAS", 1, Flag(), "(unused)"),
    ("DROP_RATE", 0.0, Number(0, 1, high_open=True), "(unused)"),
    ("TRAIN_SCALE", "all", Text(), "(unused)"),
    ("LR_EVAL_WIN", None, Optional(NumberArray()), "readout window (s) of older files (legacy)"),
    ("CLAMP", 0, Flag(), "Dale clamp on trained matrices"),
    ("TRAIN_EI", 0, Flag(), "full-matrix training on the blocks IS_TRAIN marks"),
    ("IS_TRAIN", [0, 0, 0, 0], Flags(BLOCK), "which blocks TRAIN_EI trains (post × pre)"),
    ("IF_RL", 0, Flag(), "reward-input variant"),
    ("RWD", -1, Integer(), "index of the reward stimulus"),
    ("SAVE_PATH", None, Optional(Text()), "where the training utilities save (legacy key, kept)"),
    # --- flow-field grid ('dual_flow') -----------------------------------------------------------------
    ("GRID_SIZE", 30, Integer(1), "flow-field grid points per axis"),
    ("GRID_RANGE", 5.0, Number(), "(unused)"),
    ("GRID_TEST", 0, Number(), "flow-field test input"),
    ("GRID_INPUT", 0, Number(), "flow-field grid input"),
    ("GRID_X_RANGE", None, Optional(Numbers()), "flow-field x range [min, max] (needed by 'dual_flow')"),
    ("GRID_Y_RANGE", None, Optional(Numbers()), "flow-field y range [min, max] (needed by 'dual_flow')"),
    # --- Hebbian plasticity (§3.4) ----------------------------------------------------------------------
    ("IF_HEBB", 0, Flag(), "Hebbian plasticity"),
    ("IS_HEBB", [1, 1, 1, 1], Flags(BLOCK), "which blocks are Hebbian (post × pre)"),
    ("HEBB_FRAC", 0.3, _FRACTION, "smoothing window of 'corr' as a fraction of N"),
    ("TAU_HEBB", 1.0, _POSITIVE, "time constant of the running averages (s)"),
    ("T_HEBB", 0.0, _NON_NEGATIVE, "Hebbian period after T_STEADY, before recording (s); adds N_HEBB steps"),
    ("ETA", 0.1, Number(), "Hebbian learning rate"),
    ("HEBB_TYPE", "bcm", Text(), "'bcm', 'cov' or 'corr'; other names = the outer product"),
)

#: Keys of older NeuroFlame files: read, dropped, reported by one warning (§7, last row).
LEGACY_KEYS = ("IF_W_BLOCKS", "SAVE_DATA", "REC_LAST_ONLY", "T_STIM", "T_DIST", "T_CUE", "T_TEST", "I1", "SIGMA1",
               "FF_DYN", "THRESH_DYN", "TAU_THRESH", "CONNECTIVITY", "STRUCTURE", "WELLS", "DPHI", "IF_LEARNING",
               "IF_LOAD_MAT", "IF_SAVE_MAT")
