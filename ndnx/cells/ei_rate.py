"""The E/I rate network of NeuroFlame as one recurrent cell: one call = one recorded window.

Populations A = 0 … P−1 of sizes N_A are stored contiguously, E (A = 0) first. One Euler step of
size DT (spec ei_networks_neuroflame.md §1.2), all batch elements in parallel, in this order:

1. input   ff = √K_E·M0·(Ja0_A + stim(t)) + noise (population A of the neuron; with BUMP_SWITCH_A
           the drive is M0·Ja0_A until the first stimulus), then the optional low-pass
           ff ← ff·e_FF + (1 − e_FF)·ff(t), adaptation ff ← relu(ff − θ_ff) with
           θ_ff ← θ_ff·e + A_FF·relu(ff)·(1 − e), and STP on |ff|/√K_E adding u·x·ff;
2. rates   r ← r + N(0,1)·√VAR_RATE/√K_E when rate noise is on;
3. drive   hid_i = Σ_B J_AB Σ_j C_ij r_j over the static blocks, J_AB = GAIN·Jab_AB/√K_B, plus
           the plastic blocks J^STP_AB Σ_j C_ij u_j x_j r_j (`ndnx.cells.stp`, u/x updated first);
4. fast    s ← s·e_syn + (1 − e_syn)·hid (SYN_DYN) or s = hid;
5. NMDA    n ← n·e_NMDA + R_NMDA·(1 − e_NMDA)·hid^E (hid^E: the drive from E, plastic part
           included) on every postsynaptic population;
6. rates   h = ff + s + n, r ← r·e_τ + (1 − e_τ)·Φ(h; θ) (RATE_DYN) or r = Φ(h; θ)
           (`ndnx.cells.transfer`);
7. adapt   θ_E ← θ_E·e_a + A_ADAPT·r_E·(1 − e_a) (E only, rates detached from the gradient).

e_X = exp(−DT/τ_X) per neuron; τ, τ_syn and τ_NMDA are indexed by the **postsynaptic**
population (NeuroFlame's convention, spec §1.1). `euler="linear"` uses the mid-2024 forms with
DT/τ_X in place of 1 − e_X. The threshold adaptation keeps the THRESH baseline by default
(θ relaxes to THRESH); `keep_thresh_baseline=False` lets it decay to 0 as NeuroFlame does.

Plastic blocks (spec §3.3), `stp_mode`:
- "structured" (mid-2024 semantics, default): block (A←B) keeps its connectivity C_AB, scaled by
  sign(Jab_AB)·W_STP·J_STP·GAIN/√K_B, and replaces the static block;
- "dense" (NeuroFlame HEAD): the E→E plastic block is all-to-all GAIN·W_STP·J_STP·(1 + W_train)/N_E
  with a trainable W_train ~ N(0, lr_ini²) (N_E × N_E), clamped to 1 + W_train ≥ 0 with `clamp`,
  and presynaptic neurons listed or counted by `opto` silenced; other plastic blocks as "structured".
  With `lr_train` (NeuroFlame's LR_TRAIN = 1, spec §6) W_train is the low-rank product instead,

      J_ij ∝ 1 + V_i·U_j   (post i, pre j),   V, U ∈ R^(N_E × rank) trainable, N(0, lr_ini²),

  U starting as a copy of V (`lr_u_eq_v`, LR_UeqV), U ≡ V (the symmetric V·Vᵀ) with
  `lr_separate=False` (LR_MN = 0), V and U each divided by its Frobenius norm with `lr_norm`
  (LR_NORM), V·Uᵀ clamped at ≥ −1 with `lr_clamp` (LR_CLAMP: the E rows of the product), and the
  first `lr_frozen` rank components held out of the gradient (the Go/NoGo stage of the dual
  curriculum). `low_rank_factors()` returns the (V, U) that enter the block; a readout of the
  overlaps rates_E·V/N_E is `ndnx.models.EITaskModel`'s.
Each plastic block has its own u/x over its presynaptic population, always float32. J_STP is a
trainable weight (`train_j_stp`).

Weight blocks are `ndnx.connectivity.Synapses`, one per (post, pre) pair, unscaled (0/1 for
sparse blocks, P/N_B for all-to-all ones; their own `scale` multiplies J_AB); a missing pair is
no connection. They are non-trainable weights of the cell, so a saved model carries its matrices
(a measured connectome too); `get_config` records only each block's shape, layout, k_max and scale,
and `keras.saving.load_model` rebuilds zero variables of those shapes and loads the values.

One call runs `n_window = t_window/DT` sub-steps in a compiled loop and returns the window means
of the rates, so `keras.layers.RNN(cell)` maps a sequence of windows onto NeuroFlame's recorded
frames. A step's input is the stimulus, held over the window (batch, W) or per sub-step
(batch, n_window, W), W = N_E (E only) or N; with `input_mode="stimulus"` it is in units of Ja0
(the cell applies √K_E·M0 and adds the drive), with "total" it is the whole ff.

Parallel simulations (spec §1.6): every parameter named in `BATCHED_PARAMETERS` may be given per
call in `parameters` as one value per batch element ((batch, 1), or (batch, P) for per-population
parameters, (batch, n_stp) for per-block STP parameters, (batch, P, P) or (batch, P²) for Jab),
broadcast against the (batch, N) state with one shared weight matrix. The batched E→E gain of
NeuroFlame (IF_BATCH_J, Jab_batch (B, 1) times a unit E→E matrix) is `parameters={"jab": ...}`
with a batched E→E entry: every block's drive is computed separately and scaled per batch element.

Noise: rate noise N(0,1)·√VAR_RATE/√K_E per sub-step; input noise √K_E·M0·√VAR_FF_A·ξ per
sub-step and neuron (`input_noise="neuroflame"`: times M0 again, NeuroFlame's sequential mode).
With `noise_dt_scaling` the rate noise is a Wiener increment (× √DT) and the input noise a white
current (/ √DT), so their effect does not depend on DT. Draws are seeded (`seed`), never the clock.

Initial state (`initial_state`): s, n ~ N(0, init_std²), r = Φ(ff(0) + N(0, init_std²)), u at rest,
x = 1, θ = THRESH; `init_std=0` gives a deterministic start.

Seeds and replicas: `seed` is the training seed — it draws the trainable weights (W_train or V, U),
the opto silencing, the initial state and the noise; the connectivity is the `synapses` the caller
built (from the configuration's SEED). With `replicas=R` and seeds s_r (`seed` a list, or
derive_seed(seed, r)) the cell is R networks on the same blocks that differ only in what a seed
draws or training changes: J_STP, W_train or V, U are stored (R,) + shape, replica r initialised
as the lone cell with seed s_r; replica r draws the initial state and the noise the lone cell
with seed s_r draws. The replicas are folded into the batch: the state is (batch·R, size), row
b·R + r replica r of simulation b, so the static blocks drive every row at once and only the
plastic E→E block is a per-replica product (R, b, N_E)·(R, N_E, N_E). Batched `parameters` stay
(batch, ...), one row per simulation, shared by its replicas. A replicated cell runs inside
`ndnx.models.EINetwork` (outputs (batch, frames, R, N)), not `keras.layers.RNN`.

Reference: spec ei_networks_neuroflame.md §1–3, §10.2 and §11 (NeuroFlame, GitHub kiriclope/NeuroFlame).
"""

import math

import numpy as np
import keras
import tensorflow as tf

from ndnx.cells import stp as stp_rules
from ndnx.cells.transfer import transfer_function
from ndnx.connectivity.parallel_drive import parallel_drives, split_rows
from ndnx.connectivity.synapses import LAYOUTS, Synapses, narrow_columns, synaptic_drive, tensor_specs
from ndnx.layers.replicas import ReplicatedLayer
from ndnx.registry import register
from ndnx.seeding import derive_seed

__all__ = ["EIRateCell", "BATCHED_PARAMETERS", "STP_MODES", "EULER_FORMS"]

STP_MODES = ("structured", "dense")
EULER_FORMS = ("exponential", "linear")
INPUT_MODES = ("stimulus", "total")
INPUT_NOISE = ("drive", "neuroflame")

#: parameters that a call may set per batch element, and how wide each is:
#: "scalar" (1), "population" (P), "stp" (one per plastic block), "coupling" (P²).
BATCHED_PARAMETERS = {
    "gain": "scalar", "m0": "scalar", "ja0": "population", "jab": "coupling", "thresh": "population",
    "tau": "population", "tau_syn": "population", "tau_nmda": "population", "r_nmda": "scalar",
    "j_stp": "scalar", "use": "stp", "tau_fac": "stp", "tau_rec": "stp", "w_stp": "stp",
    "var_rate": "scalar", "var_ff": "population", "a_adapt": "scalar", "tau_adapt": "scalar",
}
_POSITIVE = {"tau", "tau_syn", "tau_nmda", "tau_rec", "tau_adapt"}


def _draw_noise(key, kind, t, like):
    """N(0, 1) noise shaped like `like`, from the call's key, the noise kind and the step counter t."""
    seed = tf.random.experimental.stateless_fold_in(key, kind)
    seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(t[0, 0], tf.int64))
    return tf.random.stateless_normal(tf.shape(like), seed=seed, dtype=tf.float32)


_xla_noise = tf.function(_draw_noise, jit_compile=True, autograph=False)


def _is_concrete(value):
    return not tf.is_tensor(value) or hasattr(value, "numpy")


def _steps(owner, name, seconds, dt):
    """A duration as a whole number of DT steps (explicit rounding, not int() truncation)."""
    n = seconds / dt
    if not math.isfinite(n) or abs(n - round(n)) > 1e-6 * max(1.0, abs(n)):
        raise ValueError(f"{owner}: {name} must be a whole number of dt = {dt} steps, got {seconds}")
    return int(round(n))


@register("cell")
class EIRateCell(ReplicatedLayer):
    """The E/I rate network of NeuroFlame, one recorded window per call (module docstring: equations).

    Args:
        sizes: population sizes, E first.
        synapses: {(post, pre): Synapses} (or the block descriptions of a saved config).
        jab: couplings Jab, flat row-major post×pre ([EE, EI, IE, II]) or nested.
        gain: GAIN. in_degree: K_B, one value or one per population (K of E sets the input scale).
        m0, ja0: external rate scale and per-population drive. bump_switch: per population 0/1.
        dt, t_window: Euler step and window (s); t_window a whole number of steps.
        transfer: "relu", "erf", "sqrt" or "gaussian_cdf". thresh: per-population θ.
        rate_dynamics, tau: RATE_DYN and τ. synaptic_dynamics, tau_syn: SYN_DYN and τ_syn.
        euler: "exponential" or "linear" (mid-2024). nmda, r_nmda, tau_nmda: the NMDA current.
        stp_blocks: plastic (post, pre) blocks. stp_rule: "markram", "markram_exp" or "mongillo".
        stp_mode: "structured" or "dense". use, tau_fac, tau_rec, w_stp: one value or one per block.
        j_stp, train_j_stp: J_STP and whether it is trained. clamp, opto, lr_ini: "dense" mode options.
        lr_train, rank, lr_separate, lr_u_eq_v, lr_norm, lr_clamp, lr_frozen: the low-rank trainable
            E→E block of the "dense" mode (module docstring; LR_TRAIN, RANK, LR_MN, LR_UeqV,
            LR_NORM, LR_CLAMP).
        adaptation, a_adapt, tau_adapt, keep_thresh_baseline: threshold adaptation of E.
        ff_lowpass, tau_ff; ff_adaptation, a_ff_adapt, tau_ff_adapt; ff_stp, ff_use, tau_ff_fac,
            tau_ff_rec: the feedforward filters.
        rate_noise, var_rate; var_ff, input_noise, noise_dt_scaling: noise.
        input_mode: "stimulus" or "total". init_std: spread of the initial state.
        seed: the training seed (W_train or V, U, opto, initial state, noise; not the connectivity):
            an int, or one int per replica. replicas: None or R (module docstring, "Seeds and replicas").

    Example:
        >>> import numpy as np, keras, ndnx
        >>> from ndnx.connectivity import Synapses
        >>> rng = np.random.default_rng(0)
        >>> blocks = {(a, b): Synapses.from_dense(rng.random((n, m)) < 0.5)
        ...           for a, n in enumerate([8, 2]) for b, m in enumerate([8, 2])}
        >>> cell = ndnx.cells.EIRateCell([8, 2], blocks, in_degree=4, dt=0.01, t_window=0.05,
        ...                              stp_blocks=[(0, 0)], seed=0)
        >>> cell.n_window, cell.state_names
        (5, ['t', 'r', 's', 'n', 'u_0_0', 'x_0_0'])
        >>> rnn = keras.layers.RNN(cell, return_sequences=True)
        >>> tuple(rnn(np.zeros((3, 4, 8), "float32")).shape)  # 4 windows of 3 simulations, N = 10
        (3, 4, 10)
    """

    def __init__(self, sizes, synapses=None, jab=(1.0, -1.5, 1.0, -1.0), gain=0.5, in_degree=200, m0=2.0,
                 ja0=(2.0, 1.0), bump_switch=0, dt=0.01, t_window=0.1, transfer="relu", thresh=1.0,
                 rate_dynamics=False, tau=0.04, synaptic_dynamics=True, tau_syn=(0.2, 0.1), euler="exponential",
                 nmda=True, r_nmda=1.0, tau_nmda=0.4,
                 stp_blocks=(), stp_rule="markram", stp_mode="structured", use=0.03, tau_fac=1.0, tau_rec=0.2,
                 j_stp=10.0, train_j_stp=True, w_stp=1.0, clamp=False, opto=None, lr_ini=1.0,
                 lr_train=False, rank=2, lr_separate=True, lr_u_eq_v=True, lr_norm=False, lr_clamp=False,
                 lr_frozen=0,
                 adaptation=False, a_adapt=0.01, tau_adapt=50.0, keep_thresh_baseline=True,
                 ff_lowpass=False, tau_ff=0.2, ff_adaptation=False, a_ff_adapt=0.1, tau_ff_adapt=150.0,
                 ff_stp=False, ff_use=0.3, tau_ff_fac=0.2, tau_ff_rec=1.0,
                 rate_noise=False, var_rate=1.0, var_ff=0.0, input_noise="drive", noise_dt_scaling=False,
                 input_mode="stimulus", init_std=1.0, replicas=None, seed=0, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        name = self.name
        if isinstance(sizes, (int, np.integer)) or not len(sizes) or not all(
                isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in sizes):
            raise ValueError(f"{name}: sizes must be a list of positive ints (E first), got {sizes!r}")
        self.sizes = [int(n) for n in sizes]
        P = self.n_populations = len(self.sizes)
        self.n_neurons = sum(self.sizes)
        self.offsets = [int(o) for o in np.cumsum([0] + self.sizes[:-1])]

        def choice(arg, value, options):
            if value not in options:
                raise ValueError(f"{name}: {arg} must be one of {options}, got {value!r}")
            return value

        self.transfer = transfer
        self._phi = transfer_function(transfer, owner=name)
        self.euler = choice("euler", euler, EULER_FORMS)
        self.stp_rule = stp_rules.check_rule(stp_rule, owner=name)
        self.stp_mode = choice("stp_mode", stp_mode, STP_MODES)
        self.input_mode = choice("input_mode", input_mode, INPUT_MODES)
        self.input_noise = choice("input_noise", input_noise, INPUT_NOISE)

        self.dt = self._float("dt", dt, positive=True)
        self.t_window = self._float("t_window", t_window, positive=True)
        self.n_window = _steps(name, "t_window", self.t_window, self.dt)
        if self.n_window < 1:
            raise ValueError(f"{name}: t_window must be at least one dt step, got {t_window}")

        jab = np.asarray(jab, dtype="float64")
        if jab.size != P * P or jab.ndim not in (1, 2):
            raise ValueError(f"{name}: jab must hold {P}×{P} = {P * P} couplings (post×pre), got shape {jab.shape}")
        self.jab = self._floats("jab", jab.ravel().tolist(), P * P)
        self.gain = self._float("gain", gain)
        self.in_degree = self._floats("in_degree", in_degree, P, positive=True)
        self.m0 = self._float("m0", m0)
        self.ja0 = self._floats("ja0", ja0, P)
        self.bump_switch = [int(bool(v)) for v in self._floats("bump_switch", bump_switch, P)]
        self.thresh = self._floats("thresh", thresh, P)
        self.rate_dynamics, self.synaptic_dynamics, self.nmda = bool(rate_dynamics), bool(synaptic_dynamics), bool(nmda)
        self.tau = self._floats("tau", tau, P, positive=True)
        self.tau_syn = self._floats("tau_syn", tau_syn, P, positive=True)
        self.r_nmda = self._float("r_nmda", r_nmda)
        self.tau_nmda = self._floats("tau_nmda", tau_nmda, P, positive=True)

        blocks = [tuple(int(i) for i in blk) for blk in stp_blocks]
        if len(set(blocks)) != len(blocks) or not all(len(blk) == 2 and 0 <= blk[0] < P and 0 <= blk[1] < P
                                                      for blk in blocks):
            raise ValueError(f"{name}: stp_blocks must be distinct (post, pre) pairs in [0, {P}), got {stp_blocks!r}")
        self.stp_blocks = blocks
        n_stp = len(blocks)
        self.use = self._floats("use", use, n_stp)
        if any(not 0.0 < u <= 1.0 for u in self.use):
            raise ValueError(f"{name}: use must lie in (0, 1], got {self.use}")
        self.tau_fac = self._floats("tau_fac", tau_fac, n_stp, nonnegative=True)
        self.tau_rec = self._floats("tau_rec", tau_rec, n_stp, positive=True)
        self.w_stp = self._floats("w_stp", w_stp, n_stp)
        self.j_stp = self._float("j_stp", j_stp)
        self.train_j_stp, self.clamp = bool(train_j_stp), bool(clamp)
        self.lr_ini = self._float("lr_ini", lr_ini, nonnegative=True)
        self._dense_ee = self.stp_mode == "dense" and (0, 0) in blocks
        self.opto = self._opto(opto)
        self._low_rank_options(lr_train, rank, lr_separate, lr_u_eq_v, lr_norm, lr_clamp, lr_frozen)

        self.adaptation, self.keep_thresh_baseline = bool(adaptation), bool(keep_thresh_baseline)
        self.a_adapt = self._float("a_adapt", a_adapt)
        self.tau_adapt = self._float("tau_adapt", tau_adapt, positive=True)
        self.ff_lowpass, self.ff_adaptation, self.ff_stp = bool(ff_lowpass), bool(ff_adaptation), bool(ff_stp)
        self.tau_ff = self._float("tau_ff", tau_ff, positive=True)
        self.a_ff_adapt = self._float("a_ff_adapt", a_ff_adapt)
        self.tau_ff_adapt = self._float("tau_ff_adapt", tau_ff_adapt, positive=True)
        self.ff_use = self._float("ff_use", ff_use, positive=True)
        self.tau_ff_fac = self._float("tau_ff_fac", tau_ff_fac, nonnegative=True)
        self.tau_ff_rec = self._float("tau_ff_rec", tau_ff_rec, positive=True)
        self.rate_noise = bool(rate_noise)
        self.var_rate = self._float("var_rate", var_rate, nonnegative=True)
        self.var_ff = self._floats("var_ff", var_ff, P, nonnegative=True)
        self.noise_dt_scaling = bool(noise_dt_scaling)
        self.init_std = self._float("init_std", init_std, nonnegative=True)

        self._blocks = self._read_synapses(synapses)
        for k, blk in enumerate(blocks):
            if blk not in self._blocks and not (self._dense_ee and blk == (0, 0)):
                raise ValueError(f"{name}: plastic block {blk} needs its connectivity in synapses[{blk}]")

        self.state_names, sizes_ = zip(*self._state_layout())
        self.state_names = list(self.state_names)
        self.state_size = list(sizes_)
        self.output_size = self.n_neurons
        self._init_generators = self.add_replica_generators("initial_state")
        self._noise_generators = self.add_replica_generators("noise")

    # ---- argument checks ---------------------------------------------------------------------
    def _float(self, arg, value, positive=False, nonnegative=False):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: {arg} must be a number, got {value!r}") from None
        if not math.isfinite(value) or (positive and value <= 0) or (nonnegative and value < 0):
            want = "finite and > 0" if positive else "finite and ≥ 0" if nonnegative else "finite"
            raise ValueError(f"{self.name}: {arg} must be {want}, got {value}")
        return value

    def _floats(self, arg, value, width, positive=False, nonnegative=False):
        values = np.asarray(value, dtype="object").ravel().tolist()
        if width == 0:  # per-block values without plastic blocks: kept (configs carry them), unused
            return [self._float(arg, v, positive, nonnegative) for v in values]
        if len(values) == 1:
            values = values * width
        if len(values) != width:
            raise ValueError(f"{self.name}: {arg} must be one value or {width} values, got {len(values)}")
        return [self._float(arg, v, positive, nonnegative) for v in values]

    def _opto(self, opto):
        if opto is None:
            return None
        if not self._dense_ee:
            raise ValueError(f"{self.name}: opto silences the dense E→E plastic block (stp_mode='dense' with "
                             f"(0, 0) in stp_blocks), got opto={opto!r} without it")
        if isinstance(opto, (int, np.integer)) and not isinstance(opto, bool):
            if not 0 <= opto <= self.sizes[0]:
                raise ValueError(f"{self.name}: opto must count 0 … {self.sizes[0]} E neurons, got {opto}")
            return int(opto)
        idx = [int(i) for i in opto]
        if any(not 0 <= i < self.sizes[0] for i in idx):
            raise ValueError(f"{self.name}: opto indices must lie in [0, {self.sizes[0]}), got {idx}")
        return idx

    def _low_rank_options(self, lr_train, rank, lr_separate, lr_u_eq_v, lr_norm, lr_clamp, lr_frozen):
        self.lr_train = bool(lr_train)
        if self.lr_train and not self._dense_ee:
            raise ValueError(f"{self.name}: lr_train makes the dense E→E plastic block low-rank (stp_mode='dense' "
                             f"with (0, 0) in stp_blocks), got stp_mode={self.stp_mode!r}, "
                             f"stp_blocks={self.stp_blocks}")
        for arg, value, low in (("rank", rank, 1), ("lr_frozen", lr_frozen, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{self.name}: {arg} must be an int ≥ {low}, got {value!r}")
        if lr_frozen > rank:
            raise ValueError(f"{self.name}: lr_frozen must be at most rank = {rank}, got {lr_frozen}")
        self.rank, self.lr_frozen = int(rank), int(lr_frozen)
        self.lr_separate, self.lr_u_eq_v = bool(lr_separate), bool(lr_u_eq_v)
        self.lr_norm, self.lr_clamp = bool(lr_norm), bool(lr_clamp)

    def low_rank_factors(self):
        """(V, U), float32 (N_E, rank), as they enter the E→E block J_ij ∝ 1 + V_i·U_j (lr_train only).

        Frozen leading components are cut from the gradient; with `lr_separate=False` U is V; with
        `lr_norm` each is divided by its Frobenius norm. Replicated: (R, N_E, rank), replica by replica.
        """
        if not self.lr_train:
            raise ValueError(f"{self.name}: low_rank_factors needs lr_train=True")
        if not self.built:
            self.build(None)

        def held(w):
            w = tf.cast(w, tf.float32)
            if self.lr_frozen:
                w = tf.concat([tf.stop_gradient(w[..., :self.lr_frozen]), w[..., self.lr_frozen:]], axis=-1)
            if self.lr_norm:
                w = w / tf.norm(w, axis=(-2, -1), keepdims=True)
            return w

        v = held(self.lr_v)
        return v, (held(self.lr_u) if self.lr_separate else v)

    def _read_synapses(self, synapses):
        """{(a, b): description} from Synapses objects or saved descriptions; arrays kept for build."""
        out = {}
        self._arrays = {}
        if synapses is None:
            return out
        items = synapses.items() if isinstance(synapses, dict) else [((d["post"], d["pre"]), d) for d in synapses]
        P = self.n_populations
        for key, value in items:
            try:
                a, b = (int(i) for i in key)
            except (TypeError, ValueError):
                raise ValueError(f"{self.name}: synapses keys must be (post, pre) pairs, got {key!r}") from None
            if not (0 <= a < P and 0 <= b < P):
                raise ValueError(f"{self.name}: synapses key {(a, b)} outside the {P} populations")
            want = (self.sizes[a], self.sizes[b])
            if isinstance(value, Synapses):
                desc = {"post": a, "pre": b, "shape": list(value.shape), "layout": value.layout,
                        "k_max": value.k_max, "valued": value.layout == "ell" and value.values is not None,
                        "scale": float(value.scale)}
                self._arrays[(a, b)] = value.tensors()
            elif isinstance(value, dict) and {"shape", "layout"} <= set(value):
                desc = dict(value, post=a, pre=b)
            else:
                raise ValueError(f"{self.name}: synapses[{(a, b)}] must be an ndnx.connectivity.Synapses, "
                                 f"got {type(value).__name__}")
            if tuple(desc["shape"]) != want:
                raise ValueError(f"{self.name}: synapses[{(a, b)}] must have shape {want} (post × pre), "
                                 f"got {tuple(desc['shape'])}")
            if desc["layout"] not in LAYOUTS:
                raise ValueError(f"{self.name}: synapses[{(a, b)}] layout must be one of {LAYOUTS}, got {desc['layout']!r}")
            if not math.isfinite(float(desc["scale"])):
                raise ValueError(f"{self.name}: synapses[{(a, b)}] scale must be finite, got {desc['scale']}")
            out[(a, b)] = desc
        return dict(sorted(out.items()))

    def _state_layout(self):
        N, NE = self.n_neurons, self.sizes[0]
        layout = [("t", 1), ("r", N), ("s", N)]
        if self.nmda:
            layout.append(("n", N))
        if self.adaptation:
            layout.append(("theta", NE))
        for a, b in self.stp_blocks:
            layout += [(f"u_{a}_{b}", self.sizes[b]), (f"x_{a}_{b}", self.sizes[b])]
        if self.ff_lowpass:
            layout.append(("ff", N))
        if self.ff_adaptation:
            layout.append(("theta_ff", N))
        if self.ff_stp:
            layout += [("u_ff", N), ("x_ff", N)]
        if any(self.bump_switch):
            layout.append(("switched", 1))
        return layout

    # ---- weights -----------------------------------------------------------------------------
    def build(self, input_shape=None):
        if input_shape is not None:
            width = input_shape[-1]
            if width is not None and width not in (self.sizes[0], self.n_neurons):
                raise ValueError(f"{self.name}: expected a step input of width N_E = {self.sizes[0]} or "
                                 f"N = {self.n_neurons}, got shape {tuple(input_shape)}")
            if len(input_shape) == 3 and input_shape[1] not in (None, self.n_window):
                raise ValueError(f"{self.name}: a per-sub-step input must be (batch, n_window = {self.n_window}, "
                                 f"width), got {tuple(input_shape)}")
        self._synapse_weights = {}
        for (a, b), desc in self._blocks.items():
            arrays = self._arrays.get((a, b))
            n_post, n_pre = desc["shape"]
            specs = tensor_specs((n_post, n_pre), desc["layout"], desc.get("k_max"), desc.get("valued", False))
            weights = {}
            for part, (shape, dtype) in specs.items():
                value = None if arrays is None else arrays[part]
                init = "zeros" if value is None else (lambda shape, dtype=None, v=value: v)
                weights[part] = self.add_weight(name=f"synapses_{a}_{b}_{part}", shape=shape, dtype=dtype,
                                                initializer=init, trainable=False)
            self._synapse_weights[(a, b)] = weights
        self._arrays = {}  # the variables hold them now
        # What training changes and what a seed draws carries the replica axis (R,) + shape, replica
        # r seeded as the lone cell with seed seeds[r] seeds it (derive_seed(seeds[r], name)).
        if self.stp_blocks:
            self.j_stp_weight = self.add_replica_weight("j_stp", (), keras.initializers.Constant(self.j_stp),
                                                        trainable=self.train_j_stp)
        normal = keras.initializers.RandomNormal(0.0, self.lr_ini)
        if self._dense_ee and self.lr_train:
            shape = (self.sizes[0], self.rank)
            self.lr_v = self.add_replica_weight("lr_v", shape, normal, trainable=True)
            if self.lr_separate:
                if self.lr_u_eq_v:  # LR_UeqV: U starts as a copy of V, then trains on its own
                    init = lambda shape, dtype=None, v=self.lr_v: tf.identity(v)  # noqa: E731
                    self.lr_u = self.add_weight(name="lr_u", shape=tuple(self.lr_v.shape), trainable=True,
                                                initializer=init)
                    if self.replicas is not None:
                        self._replica_weight_ids.add(id(self.lr_u))
                else:
                    self.lr_u = self.add_replica_weight("lr_u", shape, normal, trainable=True)
        elif self._dense_ee:
            # stored transposed (pre × post) so the drive is one matmul
            self.w_train = self.add_replica_weight("w_train", (self.sizes[0], self.sizes[0]), normal, trainable=True)
        if self._dense_ee:
            masks = []
            for base in self.replica_seeds or [None] * (self.replicas or 1):
                mask = np.ones(self.sizes[0], "float32")
                if isinstance(self.opto, int):
                    seed = 0 if base is None else derive_seed(base, "opto")
                    mask[np.random.default_rng(seed).choice(self.sizes[0], self.opto, replace=False)] = 0.0
                elif self.opto is not None:
                    mask[self.opto] = 0.0
                masks.append(mask[:, None])
            self._opto_mask = masks[0] if self.replicas is None else np.stack(masks)
        self.built = True

    @property
    def drive_parts_allowed(self):
        """Whether `resolve(drive_parts > 1)` applies: every block sparse, no dense plastic block, no replicas."""
        return (not self._dense_ee and self.replicas is None
                and all(d["layout"] == "ell" for d in self._blocks.values()))

    # ---- per-call parameters -----------------------------------------------------------------
    def _width(self, kind):
        return {"scalar": 1, "population": self.n_populations, "stp": len(self.stp_blocks),
                "coupling": self.n_populations ** 2}[kind]

    def _parameter(self, name, parameters, batch):
        """(1 or batch, width) float32 tensor of parameter `name` (a call override or the default)."""
        kind = BATCHED_PARAMETERS[name]
        width = self._width(kind)
        if parameters is not None and name in parameters:
            value = parameters[name]
            if _is_concrete(value):
                array = np.asarray(value, dtype="float64")
                if not np.all(np.isfinite(array)):
                    raise ValueError(f"{self.name}: parameters[{name!r}] must be finite, got {array.ravel()[:6]}")
                if name in _POSITIVE and np.any(array <= 0):
                    raise ValueError(f"{self.name}: parameters[{name!r}] must be > 0")
            v = tf.cast(value, tf.float32)
            shape = tuple(v.shape)
            if len(shape) == 3 and shape[2] == 1:
                v, shape = v[..., 0], shape[:2]
            if len(shape) == 3 and kind == "coupling":
                v, shape = tf.reshape(v, (-1, shape[1] * shape[2])), (shape[0], shape[1] * shape[2])
            if len(shape) == 0:
                v = tf.reshape(v, (1, 1))
            elif len(shape) == 1:
                v = tf.reshape(v, (1, width) if shape[0] == width else (-1, 1))
            elif len(shape) != 2:
                v = None
            if v is None or v.shape[1] not in (1, width):
                raise ValueError(f"{self.name}: parameters[{name!r}] must be (batch, {width}), (batch, 1) or "
                                 f"{width} values, got shape {shape}")
            rows = v.shape[0]
            if rows is not None and batch is not None and rows not in (1, batch):
                raise ValueError(f"{self.name}: parameters[{name!r}] has {rows} rows but the batch has {batch} "
                                 f"simulations")
            if v.shape[1] != width:
                v = tf.tile(v, (1, width))
            return self._replica_rows(v)
        if name == "j_stp":
            if self.replicas is not None:  # per replica, applied by `_plastic_drive`
                return tf.ones((1, 1), tf.float32)
            return tf.reshape(tf.cast(self.j_stp_weight, tf.float32), (1, 1))
        default = getattr(self, name)
        return tf.constant(np.reshape(np.asarray(default, "float32"), (1, width)))

    def _replica_rows(self, value):
        """A per-simulation (batch, ...) tensor on the rows of a replicated state (batch·R, ...):
        every simulation's row repeated R times (one row broadcasts as it is)."""
        if self.replicas is None or value.shape[0] == 1:
            return value
        if value.shape[0] is not None:
            return tf.repeat(value, self.replicas, axis=0)
        return tf.repeat(value, tf.where(tf.shape(value)[0] > 1, self.replicas, 1), axis=0)

    def _per_neuron(self, per_population, populations=None):
        """(rows, P) → (rows, N) (or over the given populations only)."""
        pops = range(self.n_populations) if populations is None else populations
        return tf.concat([tf.repeat(per_population[:, a:a + 1], self.sizes[a], axis=1) for a in pops], axis=1)

    def _filter(self, tau):
        """(decay, gain) of a low-pass with time constant τ: (e, 1 − e) or (e, DT/τ)."""
        decay = tf.exp(-self.dt / tau)
        return decay, (1.0 - decay if self.euler == "exponential" else self.dt / tau)

    @tf.autograph.experimental.do_not_convert
    def resolve(self, parameters=None, batch=None, drive_parts=1):
        """Every per-call constant of the dynamics, from the defaults and `parameters` (see class doc).

        Returned once per call and handed to `run_steps`; tensors are (1 or batch, ...). With
        `drive_parts` > 1 the step computes the synaptic drives as that many XLA-compiled row
        ranges (`ndnx.connectivity.parallel_drive`), for a step loop that is not compiled itself
        (`ndnx.models.EINetwork`'s parallel drive); every block must then be sparse ("ell") and
        `stp_mode` not "dense".
        """
        if parameters is not None:
            unknown = sorted(set(parameters) - set(BATCHED_PARAMETERS))
            if unknown:
                raise ValueError(f"{self.name}: unknown parameters {unknown}; batched parameters are "
                                 f"{sorted(BATCHED_PARAMETERS)}")
            if "j_stp" in parameters or any(k in parameters for k in ("use", "tau_fac", "tau_rec", "w_stp")):
                if not self.stp_blocks:
                    raise ValueError(f"{self.name}: STP parameters given but stp_blocks is empty")
        if not self.built:
            self.build(None)
        p = lambda name: self._parameter(name, parameters, batch)  # noqa: E731
        P, sizes = self.n_populations, self.sizes
        sqrt_k = [math.sqrt(k) for k in self.in_degree]
        gain, m0, jab = p("gain"), p("m0"), p("jab")
        res = {}
        ja0 = self._per_neuron(p("ja0"))
        res["stim_scale"] = sqrt_k[0] * m0
        res["drive"] = sqrt_k[0] * m0 * ja0
        if any(self.bump_switch):
            switch = tf.constant(np.repeat(np.asarray(self.bump_switch, "float32"), sizes)[None])
            res["drive_before"] = res["drive"] * (1.0 - switch) + m0 * ja0 * switch
        res["thresh"] = self._per_neuron(p("thresh"))
        res["rate"] = self._filter(self._per_neuron(p("tau")))
        res["syn"] = self._filter(self._per_neuron(p("tau_syn")))
        if self.nmda:
            decay, g = self._filter(self._per_neuron(p("tau_nmda")))
            res["nmda"] = (decay, p("r_nmda") * g)
        res["static"] = {(a, b): gain * jab[:, a * P + b:a * P + b + 1] * (desc["scale"] / sqrt_k[b])
                         for (a, b), desc in self._blocks.items() if (a, b) not in self.stp_blocks}
        # once per call, outside the step loop: the drive streams narrow columns faster
        res["synapses"] = {block: narrow_columns(w, sizes[block[1]]) for block, w in self._synapse_weights.items()}
        if drive_parts > 1:
            if not self.drive_parts_allowed:
                raise ValueError(f"{self.name}: drive_parts > 1 needs every block in the 'ell' layout and stp_mode "
                                 f"other than 'dense', got layouts {sorted({d['layout'] for d in self._blocks.values()})} "
                                 f"and stp_mode {self.stp_mode!r}")
            res["synapses"] = {block: split_rows(t, drive_parts) for block, t in res["synapses"].items()}
            res["drive_parts"] = drive_parts
        if self.stp_blocks:
            j_stp, w_stp = p("j_stp"), p("w_stp")
            use, tau_fac, tau_rec = p("use"), p("tau_fac"), p("tau_rec")
            res["stp"] = {}
            for k, (a, b) in enumerate(self.stp_blocks):
                sign = -1.0 if self.jab[a * P + b] < 0 else 1.0
                if self._dense_ee and (a, b) == (0, 0):
                    if self.lr_train:
                        v, u = self.low_rank_factors()
                        product = tf.matmul(u, v, transpose_b=True)  # pre × post: U_j·V_i (per replica)
                        if self.lr_clamp:
                            product = tf.maximum(product, -1.0)
                        matrix = 1.0 + product
                    else:
                        matrix = 1.0 + tf.cast(self.w_train, tf.float32)
                    if self.clamp:
                        matrix = tf.nn.relu(matrix)
                    if self.opto is not None:
                        matrix = matrix * self._opto_mask
                    scale = gain * j_stp * w_stp[:, k:k + 1] * (sign / sizes[0])
                    coupling = {"kernel": matrix} if self.replicas is None else {"replica_kernel": matrix}
                else:
                    scale = gain * j_stp * w_stp[:, k:k + 1] * (sign * self._blocks[(a, b)]["scale"] / sqrt_k[b])
                    coupling = res["synapses"][(a, b)]
                if self.replicas is not None and "j_stp" not in (parameters or {}):
                    coupling = dict(coupling, replica_gain=tf.cast(self.j_stp_weight, tf.float32))
                res["stp"][(a, b)] = (scale, coupling, use[:, k:k + 1], tau_fac[:, k:k + 1], tau_rec[:, k:k + 1])
        if self.adaptation:
            res["adapt"] = (self._filter(p("tau_adapt")), p("a_adapt"))
        if self.ff_lowpass:
            res["ff_lowpass"] = self._filter(tf.constant(self.tau_ff))
        if self.ff_adaptation:
            res["ff_adapt"] = self._filter(tf.constant(self.tau_ff_adapt))
        if self.rate_noise:
            std = tf.sqrt(p("var_rate")) / sqrt_k[0]
            res["rate_noise"] = std * math.sqrt(self.dt) if self.noise_dt_scaling else std
        var_ff_given = parameters is not None and "var_ff" in parameters
        if var_ff_given or any(v > 0 for v in self.var_ff):
            std = sqrt_k[0] * m0 * tf.sqrt(self._per_neuron(p("var_ff")))
            if self.input_noise == "neuroflame":
                std = std * m0
            res["ff_noise"] = std / math.sqrt(self.dt) if self.noise_dt_scaling else std
        return res

    # ---- state -------------------------------------------------------------------------------
    def initial_state(self, batch_size, parameters=None, resolved=None, t0=0.0):
        """The documented random start as a dict of (batch, size) float32 tensors.

        s, n ~ N(0, init_std²); r = Φ(ff(0) + N(0, init_std²)) with ff(0) the drive before any
        stimulus; u at rest, x = 1; θ = THRESH; the step counter t = t0.
        """
        res = resolved if resolved is not None else self.resolve(parameters, batch_size)
        N = self.n_neurons
        std = self.init_std

        rows = batch_size if self.replicas is None else batch_size * self.replicas

        def draws(generator):
            return [keras.random.normal((batch_size, N), seed=generator, dtype="float32") * std for _ in range(3)]

        per_replica = [draws(g) for g in self._init_generators]  # s, n, z of every replica
        s, n, z = (per_replica[0][i] if self.replicas is None else
                   tf.reshape(tf.stack([d[i] for d in per_replica], axis=1), (-1, N)) for i in range(3))

        zeros = tf.zeros((rows, N), tf.float32)
        drive = zeros if self.input_mode == "total" else res.get("drive_before", res["drive"]) + zeros
        thresh = res["thresh"] + zeros
        state = {"t": tf.fill((rows, 1), tf.cast(t0, tf.float32)), "s": s,
                 "r": self._phi(drive + z, thresh)}
        if self.nmda:
            state["n"] = n
        if self.adaptation:
            state["theta"] = thresh[:, :self.sizes[0]]
        for a, b in self.stp_blocks:
            use = res["stp"][(a, b)][2]
            state[f"u_{a}_{b}"] = stp_rules.resting_u(self.stp_rule, use + tf.zeros((rows, self.sizes[b])))
            state[f"x_{a}_{b}"] = tf.ones((rows, self.sizes[b]), tf.float32)
        if self.ff_lowpass:
            state["ff"] = drive
        if self.ff_adaptation:
            state["theta_ff"] = zeros
        if self.ff_stp:
            state["u_ff"] = stp_rules.resting_u(self.stp_rule, self.ff_use + zeros)
            state["x_ff"] = zeros + 1.0
        if any(self.bump_switch):
            state["switched"] = tf.zeros((rows, 1), tf.float32)
        return state

    def _refuse_rnn(self):
        if self.replicas is not None:
            raise ValueError(f"{self.name}: a replicated cell runs inside ndnx.models.EINetwork (its state folds the "
                             f"replicas into the batch), not keras.layers.RNN; got replicas={self.replicas}")

    def get_initial_state(self, batch_size=None):
        self._refuse_rnn()
        state = self.initial_state(batch_size)
        return [state[k] for k in self.state_names]

    def check_state(self, state, batch=None):
        """`state` (a dict or a list in `state_names` order) as a dict of float32 tensors, checked."""
        if not isinstance(state, dict):
            state = list(state)
            if len(state) != len(self.state_names):
                raise ValueError(f"{self.name}: expected {len(self.state_names)} state tensors {self.state_names}, "
                                 f"got {len(state)}")
            state = dict(zip(self.state_names, state))
        missing = sorted(set(self.state_names) - set(state))
        if missing:
            raise ValueError(f"{self.name}: the state lacks {missing} (state names: {self.state_names})")
        out = {}
        for name, size in zip(self.state_names, self.state_size):
            v = tf.cast(state[name], tf.float32)
            if v.shape.rank != 2 or v.shape[1] != size or (batch is not None and v.shape[0] not in (None, batch)):
                raise ValueError(f"{self.name}: state[{name!r}] must be (batch{'' if batch is None else ' = ' + str(batch)}, "
                                 f"{size}), got {tuple(v.shape)}")
            out[name] = v
        return out

    # ---- dynamics ----------------------------------------------------------------------------
    def _noise(self, key, kind, t, like, res):
        # TF's and XLA's kernels of stateless_normal draw different numbers from one seed: a step
        # loop left uncompiled for the parallel drive draws inside XLA, as the compiled loop does
        draw = _xla_noise if res.get("drive_parts", 1) > 1 else _draw_noise
        kind = tf.constant(kind, tf.int64)
        if self.replicas is None:
            return draw(key, kind, t, like)
        # replica r draws, from its own key, the (batch, N) noise of the lone cell with seed seeds[r]
        width = like.shape[-1]
        lone = tf.reshape(like, (-1, self.replicas, width))[:, 0]
        return tf.reshape(tf.stack([draw(key[r], kind, t, lone) for r in range(self.replicas)], axis=1), (-1, width))

    def _pad(self, stim):
        width = stim.shape[-1]
        if width == self.n_neurons:
            return stim
        return tf.pad(stim, [[0, 0]] * (stim.shape.rank - 1) + [[0, self.n_neurons - width]])

    @tf.autograph.experimental.do_not_convert
    def step(self, state, res, stim=None, active=None, key=None):
        """One Euler sub-step (class doc, items 1–7): returns the new state dict.

        `stim` is this step's stimulus (batch, N) or None, `active` (batch, 1) whether a stimulus is
        on (for BUMP_SWITCH), `key` the call's noise key (needed when noise is on).
        """
        new = dict(state)
        t = state["t"]
        batch = tf.shape(state["r"])[0]
        N, sizes, offsets = self.n_neurons, self.sizes, self.offsets
        # 1. input
        if self.input_mode == "total":
            ff = stim if stim is not None else tf.zeros_like(state["r"])
        else:
            drive = res["drive"]
            if any(self.bump_switch):
                switched = state["switched"] if active is None else tf.maximum(state["switched"], active)
                new["switched"] = switched
                drive = tf.where(switched > 0, drive, res["drive_before"])
            ff = drive if stim is None else drive + res["stim_scale"] * stim
            ff = ff + tf.zeros_like(state["r"])
        if "ff_noise" in res:
            ff = ff + res["ff_noise"] * self._noise(key, 0, t, state["r"], res)
        if self.ff_lowpass:
            decay, g = res["ff_lowpass"]
            ff = state["ff"] * decay + g * ff
            new["ff"] = ff
        if self.ff_adaptation:
            (decay, g), theta_ff = res["ff_adapt"], state["theta_ff"]
            new["theta_ff"] = theta_ff * decay + self.a_ff_adapt * tf.nn.relu(ff) * g
            ff = tf.nn.relu(ff - theta_ff)
        if self.ff_stp:
            sqrt_ke = math.sqrt(self.in_degree[0])
            u, x, out = stp_rules.stp_step(self.stp_rule, state["u_ff"], state["x_ff"], tf.abs(ff) / sqrt_ke,
                                           self.dt, self.ff_use, self.tau_ff_fac, self.tau_ff_rec)
            new["u_ff"], new["x_ff"] = u, x
            ff = ff + sqrt_ke * tf.sign(ff) * out
        # 2. rate noise
        r = state["r"]
        if "rate_noise" in res:
            r = r + res["rate_noise"] * self._noise(key, 1, t, state["r"], res)
        # 3. recurrent drive, per postsynaptic population: from E (for NMDA) and from the others
        pre = [r[:, o:o + n] for o, n in zip(offsets, sizes)]
        from_e = [None] * len(sizes)
        from_rest = [None] * len(sizes)

        def add(a, b, d):
            d = tf.cast(d, tf.float32)
            target = from_e if b == 0 else from_rest
            target[a] = d if target[a] is None else target[a] + d

        cdt = self.compute_dtype
        jobs = [(a, b, tf.cast(pre[b], cdt), res["synapses"][(a, b)], scale) for (a, b), scale in res["static"].items()]
        for (a, b), (scale, coupling, use, tau_fac, tau_rec) in res.get("stp", {}).items():
            u, x, transmitted = stp_rules.stp_step(self.stp_rule, state[f"u_{a}_{b}"], state[f"x_{a}_{b}"], pre[b],
                                                   self.dt, use, tau_fac, tau_rec)
            new[f"u_{a}_{b}"], new[f"x_{a}_{b}"] = u, x
            if self.replicas is None:
                jobs.append((a, b, tf.cast(transmitted, cdt), coupling, scale))
            else:  # per-replica kernels and J_STP
                add(a, b, self._plastic_drive(tf.cast(transmitted, cdt), coupling, scale))
        if res.get("drive_parts", 1) > 1:  # row ranges on the cores (resolve(drive_parts=...))
            drives = parallel_drives([j[2] for j in jobs], [j[3] for j in jobs], [j[4] for j in jobs])
        else:
            drives = [synaptic_drive(x, tensors, scale) for _, _, x, tensors, scale in jobs]
        for (a, b, *_), d in zip(jobs, drives):
            add(a, b, d)

        def join(parts):
            return tf.concat([p if p is not None else tf.zeros((batch, n)) for p, n in zip(parts, sizes)], axis=1)

        hid_e, hid_rest = join(from_e), join(from_rest)
        # 4. fast synapse, 5. NMDA
        decay, g = res["syn"]
        hid = hid_e + hid_rest
        s = state["s"] * decay + g * hid if self.synaptic_dynamics else hid
        new["s"] = s
        h = ff + s
        if self.nmda:
            decay, g = res["nmda"]
            n = state["n"] * decay + g * hid_e
            new["n"] = n
            h = h + n
        # 6. rates
        theta = res["thresh"]
        if self.adaptation:
            theta = tf.concat([state["theta"], theta[:, sizes[0]:] + tf.zeros((batch, N - sizes[0]))], axis=1)
        phi = self._phi(h, theta)
        if self.rate_dynamics:
            decay, g = res["rate"]
            new["r"] = r * decay + g * phi
        else:
            new["r"] = phi + tf.zeros_like(r)
        # 7. threshold adaptation of E, on detached rates
        if self.adaptation:
            (decay, g), a_adapt = res["adapt"]
            r_e = tf.stop_gradient(new["r"][:, :sizes[0]])
            base = res["thresh"][:, :sizes[0]] if self.keep_thresh_baseline else 0.0
            new["theta"] = base + (state["theta"] - base) * decay + a_adapt * r_e * g
        new["t"] = t + 1.0
        return new

    def _plastic_drive(self, x, coupling, scale):
        """The drive of a plastic block; replicated, rows b·R + r use replica r's kernel and J_STP."""
        if self.replicas is None:
            return synaptic_drive(x, coupling, scale)
        coupling = dict(coupling)
        gain, kernels = coupling.pop("replica_gain", None), coupling.pop("replica_kernel", None)
        R = self.replicas
        if kernels is None:
            d = synaptic_drive(x, coupling, scale)
        else:
            d = tf.einsum("brn,rnm->brm", tf.reshape(x, (-1, R, x.shape[-1])), tf.cast(kernels, x.dtype))
            d = tf.reshape(d, (-1, d.shape[-1])) * tf.cast(scale, x.dtype)
        if gain is None:
            return d
        n = d.shape[-1]
        return tf.reshape(tf.reshape(d, (-1, R, n)) * tf.cast(gain, d.dtype)[:, None], (-1, n))

    def _stimulus_at(self, stimulus, i, t):
        """(stim (batch, N) or None, active (batch, 1) or None) at sub-step i with counter t."""
        if stimulus is None:
            return None, None
        kind = stimulus[0]
        if kind == "schedule":
            _, on_steps, off_steps, patterns = stimulus
            on = tf.cast((t >= on_steps) & (t < off_steps), tf.float32)  # (batch, S)
            stim = self._pad(tf.einsum("bs,bsn->bn", on, patterns))
            active = tf.reduce_max(tf.concat([on, tf.zeros_like(t)], axis=1), axis=1, keepdims=True)
            return stim, active
        stim = stimulus[1] if kind == "window" else stimulus[1][:, i]
        stim = self._pad(tf.cast(stim, tf.float32))
        active = tf.cast(tf.reduce_any(tf.not_equal(stim, 0.0), axis=1, keepdims=True), tf.float32)
        return stim, active

    @tf.autograph.experimental.do_not_convert
    def run_steps(self, state, n_steps, res, key=None, stimulus=None, record=("r",)):
        """`n_steps` sub-steps in a `tf.while_loop`; returns (state, {name: window mean}).

        stimulus: None, ("window", (batch, W)) held over the steps, ("steps", (batch, n_steps, W))
        or ("schedule", onset steps (batch, S), offset steps (batch, S), patterns (batch, S, W)),
        a stimulus s being on while onset ≤ t < offset for the step counter t. `record` names the
        means to return: "r", any u_/x_ state, or "recurrent" (s + n of E).
        """
        if key is None:
            key = self.noise_key()
        names = list(state)

        def measured(st):
            out = []
            for name in record:
                if name == "recurrent":
                    cur = st["s"] + st["n"] if self.nmda else st["s"]
                    out.append(cur[:, :self.sizes[0]])
                else:
                    out.append(st[name])
            return out

        def body(i, values, sums):
            st = dict(zip(names, values))
            stim, active = self._stimulus_at(stimulus, i, st["t"])
            st = self.step(st, res, stim, active, key)
            return i + 1, [st[k] for k in names], [a + b for a, b in zip(sums, measured(st))]

        sums0 = [tf.zeros_like(v) for v in measured(state)]
        _, values, sums = tf.while_loop(lambda i, *_: i < n_steps, body, (tf.constant(0), [state[k] for k in names],
                                                                           sums0), maximum_iterations=n_steps)
        scale = 1.0 / tf.cast(tf.maximum(n_steps, 1), tf.float32)
        return dict(zip(names, values)), {name: v * scale for name, v in zip(record, sums)}

    def noise_key(self):
        """A fresh (2,) key for this call's noise (from the cell's seeded generator); (R, 2) replicated."""
        if self.replicas is None:
            return self._noise_generators[0].next()
        return tf.stack([g.next() for g in self._noise_generators])

    @tf.autograph.experimental.do_not_convert
    def call(self, inputs, states, training=None):
        self._refuse_rnn()
        state = self.check_state(states)
        x = tf.cast(inputs, tf.float32)
        res = self.resolve(None, x.shape[0])
        kind = "steps" if x.shape.rank == 3 else "window"
        state, means = self.run_steps(state, self.n_window, res, self.noise_key(), (kind, x))
        new_states = [state[k] for k in self.state_names]
        return means["r"], new_states if isinstance(states, (list, tuple)) else new_states[0]

    def get_config(self):
        config = super().get_config()
        config.update({
            "sizes": list(self.sizes),
            "synapses": [{"post": int(d["post"]), "pre": int(d["pre"]), "shape": [int(n) for n in d["shape"]],
                          "layout": str(d["layout"]), "k_max": None if d.get("k_max") is None else int(d["k_max"]),
                          "valued": bool(d.get("valued")), "scale": float(d["scale"])} for d in self._blocks.values()],
            "jab": list(self.jab), "gain": self.gain, "in_degree": list(self.in_degree), "m0": self.m0,
            "ja0": list(self.ja0), "bump_switch": list(self.bump_switch), "dt": self.dt, "t_window": self.t_window,
            "transfer": self.transfer, "thresh": list(self.thresh), "rate_dynamics": self.rate_dynamics,
            "tau": list(self.tau), "synaptic_dynamics": self.synaptic_dynamics, "tau_syn": list(self.tau_syn),
            "euler": self.euler, "nmda": self.nmda, "r_nmda": self.r_nmda, "tau_nmda": list(self.tau_nmda),
            "stp_blocks": [list(b) for b in self.stp_blocks], "stp_rule": self.stp_rule, "stp_mode": self.stp_mode,
            "use": list(self.use), "tau_fac": list(self.tau_fac), "tau_rec": list(self.tau_rec),
            "j_stp": self.j_stp, "train_j_stp": self.train_j_stp, "w_stp": list(self.w_stp), "clamp": self.clamp,
            "opto": list(self.opto) if isinstance(self.opto, list) else self.opto, "lr_ini": self.lr_ini,
            "lr_train": self.lr_train, "rank": self.rank, "lr_separate": self.lr_separate,
            "lr_u_eq_v": self.lr_u_eq_v, "lr_norm": self.lr_norm, "lr_clamp": self.lr_clamp,
            "lr_frozen": self.lr_frozen, "adaptation": self.adaptation, "a_adapt": self.a_adapt,
            "tau_adapt": self.tau_adapt, "keep_thresh_baseline": self.keep_thresh_baseline,
            "ff_lowpass": self.ff_lowpass, "tau_ff": self.tau_ff, "ff_adaptation": self.ff_adaptation,
            "a_ff_adapt": self.a_ff_adapt, "tau_ff_adapt": self.tau_ff_adapt, "ff_stp": self.ff_stp,
            "ff_use": self.ff_use, "tau_ff_fac": self.tau_ff_fac, "tau_ff_rec": self.tau_ff_rec,
            "rate_noise": self.rate_noise, "var_rate": self.var_rate, "var_ff": list(self.var_ff),
            "input_noise": self.input_noise, "noise_dt_scaling": self.noise_dt_scaling,
            "input_mode": self.input_mode, "init_std": self.init_std,
        })
        return config
