"""A trial of the E/I rate network on NeuroFlame's documented time grid (spec ei_networks_neuroflame.md §1.5).

`EINetwork` wraps an `ndnx.cells.EIRateCell` and simulates one trial:

- a steady period of N_STEADY = T_STEADY/DT steps comes first; stimulus times are measured from
  its end (τ = 0);
- the output has F = DURATION/T_WINDOW + 1 frames of window means, (batch, F, N), E first. Frame
  k ≥ 1 averages the states at τ = (k − 1)·T_WINDOW + DT … k·T_WINDOW; frame 0 is the last window
  of the steady period (τ = −T_WINDOW + DT … 0). Frame k is stamped τ_k = k·T_WINDOW
  (`frame_times`). A step from τ to τ + DT uses the input at τ, so a stimulus switched on at
  T_ON first shows in frame T_ON/T_WINDOW + 1, the frame right after the one stamped T_ON;
- durations are converted to steps by explicit rounding (a duration that is not a whole number of
  steps is an error), not by int() truncation (NeuroFlame: int(0.3/0.1) = 2);
- `first_window="neuroflame"` reproduces NeuroFlame's first frame, a mean of N_WINDOW + 2 samples
  (the running sum starts 2 steps early); the default "exact" averages N_WINDOW samples (fewer
  only when T_STEADY < T_WINDOW; with T_STEADY = 0 frame 0 is the initial rates).

Inputs (`call(inputs, parameters=None, initial_state=None)` or `simulate(...)`):

- a stimulus schedule, {"onsets", "offsets", "patterns"}: float32 (B, S) onset and offset times
  in seconds from the end of T_STEADY, stimulus s being on during [onset, offset) (rounded to
  steps), and (B, S, N_E) or (B, S, N) patterns in units of Ja0 (strength and footprint included,
  the √K_E·M0 factor not: the cell applies it and adds the drive √K_E·M0·Ja0_A);
- or a dense stimulus (B, T, N_E or N) in the same units, over the recorded time after T_STEADY,
  either at DT resolution (T = DURATION/DT, row j is the input at τ = j·DT) or at window
  resolution (T = DURATION/T_WINDOW, row k − 1 held over frame k); zero during the steady period;
- or nothing (the drive alone). `parameters` are the cell's batched parameters
  (`ndnx.cells.ei_rate.BATCHED_PARAMETERS`); `initial_state` a state dict (e.g. the final state
  of a previous trial, `simulate(..., return_state=True)`) to continue from instead of the random
  start (NeuroFlame's IF_INIT=0); its step counter and switch are reset to the new trial's grid.

Outputs: the rates (B, F, N), or, when `record_stp` / `record_recurrent` is set, a dict with
"rates", the window means "u_a_b" / "x_a_b" of every plastic block (a ← b), and "recurrent",
the window mean of the recurrent input s + n of E neurons (B, F, N_E).

Replicas: with a replicated cell (`EIRateCell(replicas=R)`, several training seeds on one
connectivity) the inputs and parameters stay shared (B, ...), every output gets the replica axis
after the frames, (B, F, R, width), and states (`initial_state`, `return_state`) are the cell's
(B·R, size) rows, row b·R + r replica r of simulation b. `record` takes lone networks only.

Long runs: `record(path, ...)` streams the frames to an HDF5 file chunk by chunk, carrying the
state between chunks, instead of holding the trial in memory.

The window loop runs inside one `tf.function` (autograph off); with `jit_loop=True` (default) it
is XLA-compiled. On the 2-core CPU (benchmarks/bench_ei.py: N = 10⁴, K = 500 ELL blocks,
DT = 1 ms) that is 6.6× (batch 1) and 5.6× (batch 10) faster than the uncompiled loop, for about
3 s of compilation per trial shape (figures from before the uint16 columns); the step's time is
then ~95 % the synaptic drive (the ELL gather) and ~0.2–0.4 ms per step the rest of the update.
The cell reads its ELL columns as uint16 (`ndnx.connectivity.narrow_columns`, once per call),
which halved a step at B = 1 (13.2 → 6.0 ms, 1.66·10⁶ neuron-steps/s) and took 27 % off its CPU
time at B = 10. `parallel_drive=True` splits the drives over two cores instead (see the
argument). For short trials of small networks the uncompiled loop (`jit_loop=False`) starts
faster.

From a configuration: `build_ei_network(config, **overrides)` reads NeuroFlame's keys
(`ndnx.models.ei_config`) into `ndnx.connectivity.build_network` + `EIRateCell` + `EINetwork`
(the table is in its docstring), and `ei_network_parameters(grid)` turns a parameter grid of
`ndnx.models.ei_config.grid` into the cell's batched `parameters` (parallel simulations, §1.6).

Reference: spec ei_networks_neuroflame.md §1.5, §10.2, §10.3 item 7 and §11 "Time grid" and
"YAML configuration".
"""

import math

import numpy as np
import keras
import tensorflow as tf

from ndnx.cells.ei_rate import BATCHED_PARAMETERS, EIRateCell, _steps
from ndnx.connectivity import build_network, dual_task_vectors
from ndnx.models import ei_config
from ndnx.registry import register

__all__ = ["EINetwork", "FIRST_WINDOW", "build_ei_network", "ei_network_parameters", "UNIMPLEMENTED_KEYS",
           "CONFIG_PARAMETERS"]

FIRST_WINDOW = ("exact", "neuroflame")


@register("layer")
class EINetwork(keras.Model):
    """One trial of an `EIRateCell` network on the documented time grid (module docstring).

    Args:
        cell: an `ndnx.cells.EIRateCell` (or its serialised config).
        duration: recorded time DURATION after T_STEADY (s), a whole number of windows.
        t_steady: steady period T_STEADY before recording (s), a whole number of steps.
        first_window: "exact" or "neuroflame" (frame 0 of N_WINDOW + 2 samples).
        record_stp: also return the window means of u and x of every plastic block.
        record_recurrent: also return the window mean of the recurrent input of E.
        jit_loop: XLA-compile the simulation loop (not in training-mode calls, whose gradient TF
            cannot take through a compiled loop from outside; compile the train step with
            jit_compile=True for that).
        parallel_drive: run the step loop uncompiled with the synaptic drives as two XLA-compiled
            halves of the postsynaptic rows, which TensorFlow's inter-op pool runs on two cores
            (`ndnx.connectivity.parallel_drive`; the same rates to float32 rounding, ≤ 1e-6 of
            their maximum). Only with a free second core: it costs ~1.4 ms more CPU per step
            (benchmarks/bench_ei.py), and in training-mode calls the loop stays as `jit_loop` says.
            Needs every block in the "ell" layout and stp_mode other than "dense".

    Example:
        >>> import numpy as np, ndnx
        >>> from ndnx.connectivity import Synapses
        >>> ones = lambda n, m: Synapses.from_dense(np.full((n, m), 1.0 / m))  # all-to-all P/N_B
        >>> cell = ndnx.cells.EIRateCell([4, 4], {(a, b): ones(4, 4) for a in (0, 1) for b in (0, 1)},
        ...                              in_degree=1, gain=1.0, m0=2.0, ja0=(1.58, 1.0), dt=0.01,
        ...                              rate_dynamics=True, init_std=0.0, seed=0)
        >>> net = ndnx.models.EINetwork(cell, duration=2.0, t_steady=1.0)
        >>> out = net.simulate(batch_size=1)
        >>> out["rates"].shape  # 2 s at T_WINDOW 0.1: 21 frames
        (1, 21, 8)
    """

    def __init__(self, cell, duration=6.0, t_steady=1.0, first_window="exact", record_stp=False,
                 record_recurrent=False, jit_loop=True, parallel_drive=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if not isinstance(cell, EIRateCell):
            raise ValueError(f"{self.name}: cell must be an ndnx.cells.EIRateCell, got {type(cell).__name__}")
        if first_window not in FIRST_WINDOW:
            raise ValueError(f"{self.name}: first_window must be one of {FIRST_WINDOW}, got {first_window!r}")
        self.cell = cell
        self.duration = float(duration)
        self.t_steady = float(t_steady)
        if not (math.isfinite(self.duration) and self.duration > 0):
            raise ValueError(f"{self.name}: duration must be finite and > 0, got {duration}")
        if not (math.isfinite(self.t_steady) and self.t_steady >= 0):
            raise ValueError(f"{self.name}: t_steady must be finite and ≥ 0, got {t_steady}")
        self.n_frames = _steps(self.name, "duration", self.duration, cell.t_window)
        self.n_steady = _steps(self.name, "t_steady", self.t_steady, cell.dt)
        self.first_window = first_window
        n_window = cell.n_window
        if first_window == "neuroflame":
            if self.n_steady < n_window + 2:
                raise ValueError(f"{self.name}: first_window='neuroflame' needs t_steady ≥ t_window + 2·dt "
                                 f"({n_window + 2} steps), got {self.n_steady} steps")
            self.n_first = n_window + 2
        else:
            self.n_first = min(n_window, self.n_steady)
        self.record_stp, self.record_recurrent = bool(record_stp), bool(record_recurrent)
        self.jit_loop = bool(jit_loop)
        if not isinstance(parallel_drive, (bool, np.bool_)):
            raise ValueError(f"{self.name}: parallel_drive must be True or False, got {parallel_drive!r}")
        parallel_drive = bool(parallel_drive)
        if parallel_drive and not cell.drive_parts_allowed:
            raise ValueError(f"{self.name}: parallel_drive=True needs every block of the cell in the 'ell' layout, "
                             f"stp_mode other than 'dense' and no replicas, got stp_mode={cell.stp_mode!r}, "
                             f"replicas={cell.replicas}")
        self.parallel_drive = parallel_drive
        self._records = ["r"]
        if self.record_stp:
            self._records += [f"{ux}_{a}_{b}" for a, b in cell.stp_blocks for ux in ("u", "x")]
        if self.record_recurrent:
            self._records.append("recurrent")
        self._functions = {}

    # ---- grid --------------------------------------------------------------------------------
    @property
    def frames(self):
        """F = DURATION/T_WINDOW + 1."""
        return self.n_frames + 1

    def frame_times(self):
        """The stamp τ_k = k·T_WINDOW of frame k (s from the end of T_STEADY; the window ends there)."""
        return np.arange(self.frames) * self.cell.t_window

    def build(self, input_shape=None):
        if not self.cell.built:
            self.cell.build(None)
        self.built = True

    def build_from_config(self, config):
        self.build(None)

    def compute_output_shape(self, input_shape=None):
        batch = None
        if input_shape is not None and not isinstance(input_shape, dict):
            batch = input_shape[0]
        replicas = () if self.cell.replicas is None else (self.cell.replicas,)
        shapes = {"rates": (batch, self.frames) + replicas + (self.cell.n_neurons,)}
        if not self._dict_output:
            return shapes["rates"]
        for name in self._records[1:]:
            width = self.cell.sizes[0] if name == "recurrent" else self.cell.sizes[int(name.split("_")[2])]
            shapes[name] = (batch, self.frames) + replicas + (width,)
        return shapes

    @property
    def _dict_output(self):
        return len(self._records) > 1

    # ---- inputs ------------------------------------------------------------------------------
    def _stimulus(self, inputs):
        """("schedule", on steps, off steps, patterns), ("dense", stimulus, per_step) or None; batch."""
        cell = self.cell
        if inputs is None:
            return None, None
        if not isinstance(inputs, dict):
            inputs = {"stimulus": inputs}
        unknown = sorted(set(inputs) - {"stimulus", "onsets", "offsets", "patterns"})
        if unknown:
            raise ValueError(f"{self.name}: unknown inputs {unknown}; expected 'stimulus' or 'onsets', 'offsets' "
                             f"and 'patterns'")
        widths = (cell.sizes[0], cell.n_neurons)
        if "stimulus" in inputs:
            if len(inputs) > 1:
                raise ValueError(f"{self.name}: give either a dense 'stimulus' or a schedule, got {sorted(inputs)}")
            stim = tf.cast(inputs["stimulus"], tf.float32)
            per_step, per_window = self.n_frames * cell.n_window, self.n_frames
            if stim.shape.rank != 3 or stim.shape[1] not in (per_step, per_window) or stim.shape[2] not in widths:
                raise ValueError(f"{self.name}: a dense stimulus must be (batch, {per_step} steps or {per_window} "
                                 f"windows, {widths[0]} or {widths[1]}), got {tuple(stim.shape)}")
            return ("dense", stim, stim.shape[1] == per_step and cell.n_window > 1), self._batch_size(stim)
        if set(inputs) != {"onsets", "offsets", "patterns"}:
            raise ValueError(f"{self.name}: a schedule needs 'onsets', 'offsets' and 'patterns', got {sorted(inputs)}")
        for key in ("onsets", "offsets"):
            value = inputs[key]
            if not tf.is_tensor(value) or hasattr(value, "numpy"):
                if not np.all(np.isfinite(np.asarray(value, dtype="float64"))):
                    raise ValueError(f"{self.name}: {key} must be finite times in seconds")
        onsets, offsets = tf.cast(inputs["onsets"], tf.float32), tf.cast(inputs["offsets"], tf.float32)
        patterns = tf.cast(inputs["patterns"], tf.float32)
        if onsets.shape.rank != 2 or offsets.shape != onsets.shape or patterns.shape.rank != 3 \
                or tuple(patterns.shape[:2]) != tuple(onsets.shape) or patterns.shape[2] not in widths:
            raise ValueError(f"{self.name}: a schedule needs onsets and offsets (batch, S) and patterns "
                             f"(batch, S, {widths[0]} or {widths[1]}), got {tuple(onsets.shape)}, "
                             f"{tuple(offsets.shape)}, {tuple(patterns.shape)}")
        dt = cell.dt
        return ("schedule", tf.round(onsets / dt), tf.round(offsets / dt), patterns), self._batch_size(onsets)

    @staticmethod
    def _batch_size(tensor):
        """The static batch size, or the dynamic one when a traced input leaves it open (model.fit)."""
        return tensor.shape[0] if tensor.shape[0] is not None else tf.shape(tensor)[0]

    def _batch_of(self, parameters, initial_state):
        for source, per in ((initial_state or {}, self.cell.replicas or 1), (parameters or {}, 1)):
            for value in source.values():
                shape = np.shape(value) if not tf.is_tensor(value) else tuple(value.shape)
                if len(shape) >= 2 and shape[0] is not None:
                    return int(shape[0]) // per  # a replicated state has batch·R rows
        return 1

    # ---- simulation --------------------------------------------------------------------------
    def _window_stimulus(self, stimulus, frame):
        """The cell's stimulus argument for recorded frame `frame` ≥ 1 (a tensor index)."""
        if stimulus is None or stimulus[0] == "schedule":
            return stimulus
        _, stim, per_step = stimulus
        n = self.cell.n_window
        if per_step:
            return ("steps", tf.gather(stim, (frame - 1) * n + tf.range(n), axis=1))
        return ("window", tf.gather(stim, frame - 1, axis=1))

    def _prologue(self, state, res, key, stimulus):
        """The steady period: unrecorded steps, then frame 0. Returns (state, frame-0 means)."""
        cell = self.cell
        steady = stimulus if stimulus is not None and stimulus[0] == "schedule" else None
        state, _ = cell.run_steps(state, self.n_steady - self.n_first, res, key, steady, record=())
        if self.n_first == 0:
            return state, self._means_of(state)
        return cell.run_steps(state, self.n_first, res, key, steady, record=self._records)

    def _means_of(self, state):
        out = {}
        for name in self._records:
            if name == "recurrent":
                cur = state["s"] + state["n"] if self.cell.nmda else state["s"]
                out[name] = cur[:, :self.cell.sizes[0]]
            else:
                out[name] = state[name]
        return out

    def _frames(self, state, res, key, stimulus, first_frame, n_frames):
        """Frames first_frame … first_frame + n_frames − 1; returns (state, {name: (B, n, width)})."""
        cell = self.cell
        names = list(state)
        arrays = [tf.TensorArray(tf.float32, size=n_frames, element_shape=None) for _ in self._records]

        def body(k, values, arrays):
            st = dict(zip(names, values))
            st, means = cell.run_steps(st, cell.n_window, res, key,
                                       self._window_stimulus(stimulus, first_frame + k), record=self._records)
            arrays = [a.write(k, means[name]) for a, name in zip(arrays, self._records)]
            return k + 1, [st[n] for n in names], arrays

        _, values, arrays = tf.while_loop(lambda k, *_: k < n_frames, body,
                                          (tf.constant(0), [state[n] for n in names], arrays),
                                          maximum_iterations=n_frames)
        return dict(zip(names, values)), {name: tf.transpose(a.stack(), (1, 0, 2))
                                          for a, name in zip(arrays, self._records)}

    def _drive_parts(self, jit):
        """2 when the drives run as two parallel halves (`parallel_drive` in a compiled call), else 1."""
        return 2 if jit and self.parallel_drive else 1

    def _function(self, kind, n_frames=None, jit=None, drive_parts=1):
        """The (compiled) graph function of a trial or a piece of it, traced once per kind and size.

        Autograph is off: the loops are explicit `tf.while_loop`s and every Python branch is static,
        and converting the step's code would cost seconds of tracing. With drive_parts > 1 the loop
        is not compiled, its drives are (`parallel_drive`).
        """
        jit = self.jit_loop if jit is None else jit
        name = (kind, n_frames, jit, drive_parts)
        if name not in self._functions:
            def prologue(state, key, stimulus, parameters):
                res = self.cell.resolve(parameters, None, drive_parts=drive_parts)
                return self._prologue(state, res, key, stimulus)

            def frames(state, key, stimulus, parameters, first_frame):
                res = self.cell.resolve(parameters, None, drive_parts=drive_parts)
                return self._frames(state, res, key, stimulus, first_frame, n_frames)

            def trial(state, key, stimulus, parameters):
                res = self.cell.resolve(parameters, None, drive_parts=drive_parts)
                state, first = self._prologue(state, res, key, stimulus)
                state, rest = self._frames(state, res, key, stimulus, 1, self.n_frames)
                return state, {name: tf.concat([first[name][:, None], rest[name]], axis=1) for name in self._records}

            fn = {"prologue": prologue, "frames": frames, "trial": trial}[kind]
            self._functions[name] = tf.function(fn, jit_compile=jit and drive_parts == 1, reduce_retracing=True,
                                                autograph=False)
        return self._functions[name]

    def _start(self, inputs, parameters, initial_state):
        cell = self.cell
        if not self.built:
            self.build(None)
        stimulus, batch = self._stimulus(inputs)
        if batch is None:
            batch = self._batch_of(parameters, initial_state)
        parameters = dict(parameters or {})
        known = None if tf.is_tensor(batch) else batch  # a traced batch is not checked against
        res = cell.resolve(parameters, known)  # checks the parameters once, outside the compiled loop
        t0 = float(-self.n_steady)
        # A replicated cell's state has batch·R rows (row b·R + r: replica r of simulation b), so the
        # shared stimulus is repeated R times on the batch axis.
        rows = batch if cell.replicas is None else batch * cell.replicas
        if cell.replicas is not None and stimulus is not None:
            stimulus = tuple(tf.repeat(v, cell.replicas, axis=0) if tf.is_tensor(v) and v.shape.rank else v
                             for v in stimulus)
        if initial_state is None:
            state = cell.initial_state(batch, resolved=res, t0=t0)
        else:
            given = dict(initial_state)
            given["t"] = tf.fill((rows, 1), t0)
            if any(cell.bump_switch):
                given["switched"] = tf.zeros((rows, 1))
            state = cell.check_state(given, None if known is None else rows)
        return stimulus, parameters, state

    def _simulate(self, inputs, parameters, initial_state, training=False):
        stimulus, parameters, state = self._start(inputs, parameters, initial_state)
        # TF cannot differentiate an XLA-compiled while loop from outside (its TensorLists do not
        # cross the XLA boundary): training runs the loop uncompiled, or inside the caller's own
        # XLA-compiled train step (compile(jit_compile=True)).
        jit = self.jit_loop and not training
        parts = self._drive_parts(jit)
        state, out = self._function("trial", jit=jit, drive_parts=parts)(state, self.cell.noise_key(), stimulus,
                                                                          parameters)
        out = dict(out)
        out["rates"] = out.pop("r")
        replicas = self.cell.replicas
        if replicas is not None:  # rows b·R + r → (batch, frames, R, width)
            out = {k: tf.transpose(tf.reshape(v, (-1, replicas, v.shape[1], v.shape[2])), (0, 2, 1, 3))
                   for k, v in out.items()}
        return out, state

    def call(self, inputs=None, parameters=None, initial_state=None, training=None):
        out, _ = self._simulate(inputs, parameters, initial_state, training=bool(training))
        return out if self._dict_output else out["rates"]

    def simulate(self, batch_size=None, onsets=None, offsets=None, patterns=None, stimulus=None, parameters=None,
                 initial_state=None, return_state=False):
        """Run one trial eagerly; NumPy outputs (dict with "rates" and the records), and the final state.

        Give either `stimulus` or `onsets`/`offsets`/`patterns` (or neither); `batch_size` is needed
        only when nothing else tells the batch.
        """
        inputs = self._inputs(onsets, offsets, patterns, stimulus)
        if inputs is None and batch_size is not None:
            inputs = {"onsets": np.zeros((batch_size, 0), "float32"), "offsets": np.zeros((batch_size, 0), "float32"),
                      "patterns": np.zeros((batch_size, 0, self.cell.sizes[0]), "float32")}
        out, state = self._simulate(inputs, parameters, initial_state)
        out = {k: np.asarray(v) for k, v in out.items()}
        if return_state:
            return out, {k: np.asarray(v) for k, v in state.items()}
        return out

    def _inputs(self, onsets, offsets, patterns, stimulus):
        schedule = [v is not None for v in (onsets, offsets, patterns)]
        if stimulus is not None and any(schedule):
            raise ValueError(f"{self.name}: give either a dense stimulus or a schedule, not both")
        if any(schedule) and not all(schedule):
            raise ValueError(f"{self.name}: a schedule needs onsets, offsets and patterns together")
        if stimulus is not None:
            return {"stimulus": stimulus}
        if all(schedule):
            return {"onsets": onsets, "offsets": offsets, "patterns": patterns}
        return None

    def record(self, path, batch_size=None, onsets=None, offsets=None, patterns=None, stimulus=None,
               parameters=None, initial_state=None, chunk_frames=100):
        """Simulate one trial and stream its frames to the HDF5 file `path`, `chunk_frames` at a time.

        Datasets: "rates" (B, F, N) and every record of the model (as `call` returns them),
        "frame_times" (F,); attributes dt, t_window, duration, t_steady, sizes. Only one chunk
        of frames is in memory at a time. Returns `path`.
        """
        import h5py

        if not (isinstance(chunk_frames, (int, np.integer)) and chunk_frames >= 1):
            raise ValueError(f"{self.name}: chunk_frames must be a positive int, got {chunk_frames!r}")
        if self.cell.replicas is not None:
            raise ValueError(f"{self.name}: record streams one network's frames; the cell must have replicas=None, "
                             f"got replicas={self.cell.replicas} (extract a replica first)")
        inputs = self._inputs(onsets, offsets, patterns, stimulus)
        if inputs is None and batch_size is not None:
            inputs = {"onsets": np.zeros((batch_size, 0), "float32"), "offsets": np.zeros((batch_size, 0), "float32"),
                      "patterns": np.zeros((batch_size, 0, self.cell.sizes[0]), "float32")}
        stimulus, parameters, state = self._start(inputs, parameters, initial_state)
        key = self.cell.noise_key()
        batch = int(state["r"].shape[0])
        cell = self.cell
        with h5py.File(path, "w") as f:
            for attr, value in (("dt", cell.dt), ("t_window", cell.t_window), ("duration", self.duration),
                                ("t_steady", self.t_steady), ("sizes", list(cell.sizes))):
                f.attrs[attr] = value
            f["frame_times"] = self.frame_times()
            parts = self._drive_parts(self.jit_loop)
            state, first = self._function("prologue", drive_parts=parts)(state, key, stimulus, parameters)
            sets = {}
            for name, value in first.items():
                label = "rates" if name == "r" else name
                width = value.shape[-1]
                sets[name] = f.create_dataset(label, shape=(batch, self.frames, width), dtype="float32",
                                              chunks=(batch, min(chunk_frames, self.frames), width))
                sets[name][:, 0] = np.asarray(value)
            done = 0
            while done < self.n_frames:
                n = min(chunk_frames, self.n_frames - done)
                state, rest = self._function("frames", n, drive_parts=parts)(state, key, stimulus, parameters,
                                                                            tf.constant(1 + done))
                for name, value in rest.items():
                    sets[name][:, 1 + done:1 + done + n] = np.asarray(value)
                done += n
        return path

    def get_config(self):
        config = super().get_config()
        config.update({
            "cell": keras.saving.serialize_keras_object(self.cell),
            "duration": self.duration, "t_steady": self.t_steady, "first_window": self.first_window,
            "record_stp": self.record_stp, "record_recurrent": self.record_recurrent, "jit_loop": self.jit_loop,
            "parallel_drive": self.parallel_drive,
        })
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# ---- from a configuration ----------------------------------------------------------------------------

#: Keys whose feature the port does not implement yet: switched on, `build_ei_network` refuses them.
UNIMPLEMENTED_KEYS = {
    "IF_HEBB": "Hebbian plasticity (spec §3.4)",
    "TRAIN_EI": "full trainable weight blocks (spec §6)",
}

#: Configuration key → batched parameter of `EIRateCell` (parallel simulations, spec §1.6).
CONFIG_PARAMETERS = {
    "GAIN": "gain", "M0": "m0", "Ja0": "ja0", "Jab": "jab", "THRESH": "thresh", "TAU": "tau",
    "TAU_SYN": "tau_syn", "TAU_NMDA": "tau_nmda", "R_NMDA": "r_nmda", "J_STP": "j_stp", "USE": "use",
    "TAU_FAC": "tau_fac", "TAU_REC": "tau_rec", "W_STP": "w_stp", "VAR_RATE": "var_rate", "VAR_FF": "var_ff",
    "A_ADAPT": "a_adapt", "TAU_ADAPT": "tau_adapt",
}
assert set(CONFIG_PARAMETERS.values()) == set(BATCHED_PARAMETERS)

_TRANSFERS = ("relu", "erf", "sqrt", "gaussian_cdf")
_STP_RULES = {"markram": "markram", "markram_exp": "markram_exp", "hansel": "markram", "mongillo": "mongillo"}


def _config_of(config, overrides):
    if isinstance(config, ei_config.EIConfig) and not overrides:
        return config
    return ei_config.load_config(config, **overrides)


def _refuse_unimplemented(c):
    for key, what in UNIMPLEMENTED_KEYS.items():
        if c[key]:
            raise ValueError(f"build_ei_network: {key}={c[key]} asks for {what}, which ndnx does not implement yet; "
                             f"set {key}=0")
    if c["IF_STP"] and c["STP_TYPE"] == "mato":
        raise ValueError("build_ei_network: STP_TYPE='mato' is the per-spike rule of spiking networks, which the "
                         "rate cell does not implement; use 'markram', 'markram_exp' or 'mongillo'")


def _low_rank(c, d, low_rank_vectors):
    """The vectors of the 'lr' blocks: the caller's, or the dual task's four vectors on E→E."""
    n_pop = c["N_POP"]
    lr_blocks = [(k // n_pop, k % n_pop) for k, name in enumerate(c["PROBA_TYPE"]) if name == "lr"]
    if not lr_blocks or low_rank_vectors is not None:
        return low_rank_vectors
    if lr_blocks != [(0, 0)] or "dual" not in c["TASK"]:
        raise ValueError(f"build_ei_network: PROBA_TYPE 'lr' on blocks {lr_blocks} with TASK={c['TASK']!r}: the "
                         f"configuration gives low-rank vectors only for the E→E block of a 'dual' task (spec §2); "
                         f"pass low_rank_vectors=")
    return dual_task_vectors(d.N_E, c["LR_MEAN"], c["LR_COV"], seed=d.seed)


def _low_rank_training(c, stp):
    """Cell options of LR_TRAIN = 1: the dense E→E plastic block made of trainable U, V (spec §6)."""
    if not any((b.post, b.pre) == (0, 0) for b in stp):
        raise ValueError(f"build_ei_network: LR_TRAIN=1 trains U, V of the plastic E→E block; it needs IF_STP=1 "
                         f"with E→E in IS_STP, got IF_STP={c['IF_STP']}, IS_STP={list(c['IS_STP'])}")
    return dict(stp_mode="dense", lr_train=True, rank=c["RANK"], lr_separate=bool(c["LR_MN"]),
                lr_u_eq_v=bool(c["LR_UeqV"]), lr_norm=bool(c["LR_NORM"]), lr_clamp=bool(c["LR_CLAMP"]))


def build_ei_network(config=None, *, layout="auto", blocks=None, low_rank_vectors=None, cell_options=None,
                     network_options=None, **overrides):
    """An `EINetwork` built from a NeuroFlame configuration (spec ei_networks_neuroflame.md §1, §2, §3, §7).

    Args:
        config: an `ndnx.models.ei_config.EIConfig`, a reference name ('config_ringEI', ...), a YAML
            path, a mapping of keys, or None (the defaults).
        layout: "auto", "dense" or "ell" for the weight blocks (`ndnx.connectivity.build_network`;
            "auto" with SPARSE 'full' or 'semi' stores ELL blocks — ndnx has no lossy 2:4 format).
        blocks: the user's own blocks {(post, pre): Synapses or array}, used instead of generated ones.
        low_rank_vectors: vectors of the 'lr' blocks (default: the dual task's, from LR_MEAN/LR_COV).
        cell_options: more `EIRateCell` arguments that have no configuration key (input_noise,
            noise_dt_scaling, euler, stp_mode, init_std, keep_thresh_baseline, train_j_stp, ...).
        network_options: more `EINetwork` arguments (first_window, record_stp, record_recurrent, jit_loop).
        **overrides: configuration keys applied last (N_NEURON=200, J_STP=7.5, ...).

    How the keys are read (`derive_quantities` gives sizes, in-degrees and steps):

    | keys | becomes |
    |---|---|
    | N_NEURON, frac, N_POP | population sizes int(N_NEURON·frac) (E first) |
    | K, FRAC_K, CON_TYPE | in-degree K_B (K·frac_B with FRAC_K; 1 for all2all) and the connection rule |
    | PROBA_TYPE, KAPPA, PHASE, SEED | profiles of `build_network`; 'lr' takes the dual-task vectors (LR_MEAN, LR_COV, SEED; Hopfield-like branch when LR_COV[0][0] == LR_COV[0][1]) |
    | Jab, GAIN | J_AB = GAIN·Jab_AB/√K_B |
    | M0, Ja0, BUMP_SWITCH | drive √K_E·M0·Ja0_A (M0·Ja0_A before the first stimulus where switched) |
    | TF_TYPE, THRESH | transfer 'relu', 'erf', 'sqrt'; any other name is NeuroFlame's sigmoid branch 'gaussian_cdf' (THRESH the amplitude, §1.3) |
    | RATE_DYN, TAU, SYN_DYN, TAU_SYN, IF_NMDA, R_NMDA, TAU_NMDA | rate, fast and NMDA dynamics |
    | IF_STP, IS_STP, USE, TAU_FAC, TAU_REC, J_STP, STP_TYPE, W_STP | plastic blocks (mid-2024 "structured" semantics by default); 'hansel' and unknown names → 'markram' |
    | CLAMP, LR_INI, IF_OPTO, N_OPTO | options of the dense plastic E→E block (cell_options stp_mode='dense') |
    | LR_TRAIN, RANK, LR_MN, LR_UeqV, LR_NORM, LR_CLAMP | LR_TRAIN 1: the dense plastic E→E block with trainable U, V (stp_mode 'dense', lr_train; needs IF_STP with E→E plastic); LR_READOUT is `ndnx.models.build_ei_task_model`'s |
    | IF_ADAPT, A_ADAPT, TAU_ADAPT | threshold adaptation of E |
    | IF_FF_DYN, TAU_FF, IF_FF_ADAPT, A_FF_ADAPT, TAU_FF_ADAPT, IF_FF_STP, FF_USE, TAU_FF_FAC, TAU_FF_REC | feedforward filters |
    | RATE_NOISE, VAR_RATE, VAR_FF | rate and input noise |
    | DT, T_WINDOW, DURATION, T_STEADY, T_HEBB, RANDOM_DELAY | the time grid: recorded duration DURATION plus the random-delay growth, steady period T_STEADY + T_HEBB |
    | SEED | connectivity, low-rank vectors, initial state and noise (null → `ei_config.NO_SEED`) |
    | FLOAT_PRECISION | the cell's Keras dtype policy (the STP state stays float32) |

    Keys that describe stimuli (TASK, T_STIM_*, I0, PHI0, SIGMA0, STIM_EI, delays and ITIs) are read by
    `ndnx.data.tasks`; N_BATCH is the batch of `simulate`; DEVICE is `ei_config.device_scope(config)`;
    IF_BATCH_J is `parameters={"jab": ...}` at call time. Keys of features ndnx does not implement
    (`UNIMPLEMENTED_KEYS`: IF_HEBB, TRAIN_EI) raise a ValueError when switched on.

    Example:
        >>> import numpy as np
        >>> from ndnx.models import build_ei_network
        >>> net = build_ei_network("config_ringEI", N_NEURON=40, RATE_NOISE=0, DURATION=0.2, T_STEADY=0.1,
        ...                        network_options={"jit_loop": False})
        >>> net.cell.sizes, net.cell.in_degree, net.frames
        ([20, 20], [1.0, 1.0], 3)
        >>> net.simulate(batch_size=2)["rates"].shape
        (2, 3, 40)
        >>> build_ei_network(IF_HEBB=1)
        Traceback (most recent call last):
        ...
        ValueError: build_ei_network: IF_HEBB=1 asks for Hebbian plasticity (spec §3.4), which ndnx does not implement yet; set IF_HEBB=0
    """
    c = _config_of(config, overrides)
    _refuse_unimplemented(c)
    d = ei_config.derive_quantities(c)
    if layout == "auto" and c["SPARSE"] in ("full", "semi"):
        layout = "ell"
    synapses = build_network(list(d.N), list(d.K), con_type=c["CON_TYPE"], profiles=list(c["PROBA_TYPE"]),
                             kappa=list(c["KAPPA"]), phase=c["PHASE"], low_rank_vectors=_low_rank(c, d, low_rank_vectors),
                             seed=d.seed, layout=layout, blocks=blocks)
    stp = d.stp_blocks
    options = dict(cell_options or {})
    if c["LR_TRAIN"]:
        options = {**_low_rank_training(c, stp), **options}
    if c["LR_READOUT"] and not c["LR_TRAIN"]:
        raise ValueError("build_ei_network: LR_READOUT=1 reads the rates of a low-rank trained network; it needs "
                         "LR_TRAIN=1, got LR_TRAIN=0")
    stp_mode = options.get("stp_mode", "structured")
    opto = None
    if c["IF_OPTO"]:
        if not (stp_mode == "dense" and any((b.post, b.pre) == (0, 0) for b in stp)):
            raise ValueError("build_ei_network: IF_OPTO silences the dense plastic E→E block; it needs IF_STP=1 "
                             "with E→E in IS_STP and cell_options={'stp_mode': 'dense'}")
        opto = c["N_OPTO"]
    transfer = c["TF_TYPE"] if c["TF_TYPE"] in _TRANSFERS else "gaussian_cdf"
    arguments = dict(
        jab=list(c["Jab"]), gain=c["GAIN"], in_degree=list(d.K), m0=c["M0"], ja0=list(c["Ja0"]),
        bump_switch=list(c["BUMP_SWITCH"]), dt=c["DT"], t_window=c["T_WINDOW"], transfer=transfer,
        thresh=list(c["THRESH"]), rate_dynamics=bool(c["RATE_DYN"]), tau=list(c["TAU"]),
        synaptic_dynamics=bool(c["SYN_DYN"]), tau_syn=list(c["TAU_SYN"]), nmda=bool(c["IF_NMDA"]),
        r_nmda=c["R_NMDA"], tau_nmda=list(c["TAU_NMDA"]),
        stp_blocks=[(b.post, b.pre) for b in stp], stp_rule=_STP_RULES.get(c["STP_TYPE"], "markram"),
        use=[b.USE for b in stp] or 0.03, tau_fac=[b.TAU_FAC for b in stp] or 1.0,
        tau_rec=[b.TAU_REC for b in stp] or 0.2, w_stp=[b.W_STP for b in stp] or 1.0, j_stp=c["J_STP"],
        clamp=bool(c["CLAMP"]), opto=opto, lr_ini=c["LR_INI"],
        adaptation=bool(c["IF_ADAPT"]), a_adapt=c["A_ADAPT"], tau_adapt=c["TAU_ADAPT"],
        ff_lowpass=bool(c["IF_FF_DYN"]), tau_ff=c["TAU_FF"], ff_adaptation=bool(c["IF_FF_ADAPT"]),
        a_ff_adapt=c["A_FF_ADAPT"], tau_ff_adapt=c["TAU_FF_ADAPT"], ff_stp=bool(c["IF_FF_STP"]),
        ff_use=c["FF_USE"], tau_ff_fac=c["TAU_FF_FAC"], tau_ff_rec=c["TAU_FF_REC"],
        rate_noise=bool(c["RATE_NOISE"]), var_rate=c["VAR_RATE"], var_ff=list(c["VAR_FF"]),
        seed=d.seed, dtype=c["FLOAT_PRECISION"])
    arguments.update(options)
    cell = EIRateCell(list(d.N), synapses, **arguments)
    dt = c["DT"]
    return EINetwork(cell, duration=(d.N_DURATION + d.N_DELAY) * dt, t_steady=(d.N_STEADY + d.N_HEBB) * dt,
                     **dict(network_options or {}))


def ei_network_parameters(grid_or_values, config=None):
    """The batched `parameters` of `EIRateCell` / `EINetwork` for a parameter grid (spec §1.6).

    Args:
        grid_or_values: an `ndnx.models.ei_config.ParameterGrid` (every key an axis varies becomes
            one value per row), or a mapping {configuration key: per-row values} in the cell's shapes.
        config: the configuration the network was built from, needed only for per-block STP lists
            (USE, TAU_FAC, TAU_REC, W_STP) given as a mapping; a grid carries its own.

    Keys map by `CONFIG_PARAMETERS` (Ja0 → ja0 as (B, P), J_STP → j_stp as (B, 1), ...); list keys
    of STP blocks keep the entries of the plastic blocks (the k-th plastic block's USE is entry k,
    its W_STP the entry of its flat post×pre index). A key that changes the network's structure
    (K, KAPPA, N_NEURON, ...) is not a batched parameter: build one network per value instead.

    Example:
        >>> from ndnx.models import build_ei_network, ei_network_parameters
        >>> from ndnx.models.ei_config import load_config, grid
        >>> config = load_config("config_ringEI", N_NEURON=40, IF_STP=1)
        >>> g = grid(config, {"Ja0[0]": [1.0, 2.0]}, J_STP=[5.0, 10.0])
        >>> p = ei_network_parameters(g)
        >>> sorted(p), p["ja0"].shape, p["j_stp"][:, 0].tolist()
        (['j_stp', 'ja0'], (4, 2), [5.0, 10.0, 5.0, 10.0])
    """
    if isinstance(grid_or_values, ei_config.ParameterGrid):
        g = grid_or_values
        config = g.config_base
        keys = list(dict.fromkeys(name.split("[")[0] for name in g.names))
        values = {}
        for key in keys:
            if key not in CONFIG_PARAMETERS:
                raise ValueError(f"ei_network_parameters: the grid varies {key}, which is not a batched parameter of "
                                 f"the cell ({sorted(CONFIG_PARAMETERS)}); build one network per value of {key}")
            values[key] = g.batched(key)
    elif isinstance(grid_or_values, dict):
        values = dict(grid_or_values)
        for key in values:
            if key not in CONFIG_PARAMETERS:
                raise ValueError(f"ei_network_parameters: {key!r} is not a batched parameter; expected keys among "
                                 f"{sorted(CONFIG_PARAMETERS)}")
    else:
        raise ValueError(f"ei_network_parameters: expected a ParameterGrid or a mapping of keys, got "
                         f"{type(grid_or_values).__name__}")
    out = {}
    for key, value in values.items():
        array = np.asarray(value, dtype="float32")
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[..., 0]
        if key in ("USE", "TAU_FAC", "TAU_REC", "W_STP") and array.ndim == 2 and array.shape[1] > 1:
            if config is None:
                raise ValueError(f"ei_network_parameters: {key} as a list needs config= to find the plastic blocks")
            plastic = [k for k, on in enumerate(config["IS_STP"]) if on] if config["IF_STP"] else []
            if key == "W_STP":
                array = array[:, plastic]
            else:
                array = array[:, :len(plastic)]
        out[CONFIG_PARAMETERS[key]] = array
    return out
