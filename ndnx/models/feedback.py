"""Feedforward networks under modulatory feedback (Naumann et al. 2022): the model and its TBPTT training."""

import os

import keras
import numpy as np
import tensorflow as tf

from ndnx.cells.modulated_cell import ModulatedCell
from ndnx.losses.distribution import clip_after_device_sum, scale_loss_for_replicas
from ndnx.models.feedback_gradient import fast_window, supports_fast_gradient
from ndnx.registry import register

__all__ = ["FeedbackNetwork", "GRADIENTS"]

GRADIENTS = ("auto", "fast", "autodiff")
# the fewest contexts worth a part of their own: on 2 cores two parts of 4 still train a batch of 8
# 1.5× faster than one part (ModulationNet, 31–34 against 49–52 ms); below that a part's window is
# mostly its 2,000 loop iterations' fixed cost
MIN_CONTEXTS_PER_PART = 4


class _Carried:
    """Holds the carried-state variables out of Keras' tracking: they are not weights (see
    `ndnx.training.carried_state`), and a replicated model's (batch, R, ·) state has no lone twin."""

    def __init__(self, variables=()):
        self.variables = list(variables)


def huber(error, delta=1.0):
    """PyTorch's SmoothL1Loss (β = delta) elementwise: ½e²/β for |e| < β, |e| − ½β beyond."""
    a = tf.abs(error)
    return tf.where(a < delta, 0.5 * tf.square(error) / delta, a - 0.5 * delta)


@register("layer")
class FeedbackNetwork(keras.Model):
    """A modulated cell run over whole windows in one compiled loop, trained by truncated BPTT.

    `call(x)` maps mixtures x (batch, time, sensors) to outputs y (batch, time, sources) — with a
    replicated cell (batch, time, R, sources) — from the zero state (`ModulatedCell.step` per
    step, inside one `tf.while_loop`). `run` also takes an initial state and a freeze mask and
    returns the final state and per-step records (the modulation, z, the feedback).

    Training (`train_step`, so `model.fit`, `ndnx.training.train` and `ndnx run` drive it), as
    the original's Runner.train (spec §3): each batch (x, s) is one window of `batch_size`
    contexts; the loss is the Huber (smooth L1, β = 1) error mean over batch × sources, **summed**
    over the window's steps, plus `activity_penalty` · Σ_{t,b}|O_t| on the feedback, summed over
    replicas. With `batch_size` set the final state is carried to the next batch with the
    gradient stopped at the window edge (`carried_state`; `ndnx.training.train(carry_state=True)`
    saves it with its checkpoints); without it every batch starts from zero. Compile with
    `keras.optimizers.Adam(1e-3, clipvalue=1.0)` for the original's elementwise clipping at 1
    (`FeedbackNetwork.optimizer_of_the_paper()`); the summed loss keeps the clip active, so the
    window mean is not equivalent.

    The training gradient is by default (`gradient="auto"`) the hand-written backward pass of
    `ndnx.models.feedback_gradient` for every cell with `ModulatedCell`'s step order
    (ModulationNetCell, SpatialNetCell, DaleRateNetCell: equal to autodiff's to 1e-5, tests/models/
    test_feedback_gradient.py); `DirectDemixCell` falls back to autodiff of the loop.
    `gradient="autodiff"` differentiates the `tf.while_loop` of `run` for every cell. Training
    also asks glibc to keep freed host memory (`ndnx.host_memory`): a window's per-step
    records are tens of MB, which would otherwise page-fault afresh every batch.

    The window's 1000 steps are sequential, and one step of 32 contexts is too small to share
    between cores, so on the CPU a batch is cut into `batch_parts` contiguous groups of contexts
    whose windows (forward and backward, each one XLA program) run side by side on the cores;
    their gradients, loss terms (each part's batch mean weighted by its share of the contexts)
    and final states are summed and joined, so a step is the unsplit step up to float32 rounding
    (tests/models/test_feedback_model.py). XLA:CPU would run the parts of one program one after
    the other, so while it splits the model compiles the parts itself and the function around
    its step is left uncompiled (`compiles_step_parts`; Keras' `fit` and `ndnx.training` ask).

    Reference: Naumann L. B., Keijser J., Sprekeler H. (2022). Invariant neural subspaces maintained
    by feedback modulation. eLife 11:e76096 (spec feedback_modulation_naumann22.md §2–3).

    Args:
        cell: an `ndnx.cells.ModulatedCell` (or its serialised config).
        batch_size: contexts per batch for the carried state (None: no carried state).
        activity_penalty: λ of the feedback activity penalty (the original's lambda_reg, e.g. 1e-5).
        huber_delta: β of the smooth L1 loss.
        gradient: "auto" (the fast window gradient where the cell supports it, else autodiff),
            "fast" (an error for a cell it does not cover) or "autodiff".
        batch_parts: groups of contexts trained side by side (needs `batch_size`; not under a
            tf.distribute strategy, which splits the batch itself): "auto" — on a machine
            without GPU as many as there are CPU cores, at most one per 4 contexts and a divisor
            of `batch_size` (2 for 32 contexts on 2 cores; 1 on a GPU) — or a positive int.

    Example:
        >>> import numpy as np, ndnx
        >>> model = ndnx.models.FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=8, seed=0), batch_size=4)
        >>> model.compile(ndnx.models.FeedbackNetwork.optimizer_of_the_paper(), jit_compile=False)
        >>> x = np.ones((4, 20, 2), "float32")
        >>> tuple(model(x).shape), [tuple(v.shape) for v in model.carried_state]
        ((4, 20, 2), [(4, 1, 8), (4, 1, 8), (4, 1, 4)])
        >>> logs = model.fit(x, x, batch_size=4, epochs=1, shuffle=False, verbose=0)
        >>> bool(np.abs(model.carried_state[2].numpy()).sum() > 0)  # the state after the window is kept
        True
    """

    def __init__(self, cell, batch_size=None, activity_penalty=0.0, huber_delta=1.0, gradient="auto",
                 batch_parts="auto", **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if not isinstance(cell, ModulatedCell):
            raise ValueError(f"{self.name}: cell must be an ndnx.cells.ModulatedCell (ModulationNetCell, "
                             f"SpatialNetCell, DaleRateNetCell, DirectDemixCell), got {type(cell).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                       or batch_size < 1):
            raise ValueError(f"{self.name}: batch_size must be a positive int or None, got {batch_size!r}")
        if gradient not in GRADIENTS:
            raise ValueError(f"{self.name}: gradient must be one of {GRADIENTS}, got {gradient!r}")
        if gradient == "fast" and not supports_fast_gradient(cell):
            raise ValueError(f"{self.name}: gradient='fast' needs a cell with ModulatedCell's step order, got "
                             f"{type(cell).__name__} (use gradient='autodiff')")
        if batch_parts != "auto" and (isinstance(batch_parts, bool) or not isinstance(batch_parts, (int, np.integer))
                                      or batch_parts < 1):
            raise ValueError(f"{self.name}: batch_parts must be 'auto' or a positive int, got {batch_parts!r}")
        self.gradient = gradient
        self.batch_parts = batch_parts if batch_parts == "auto" else int(batch_parts)
        self._xla_parts = None
        self._part_function = None
        self.cell = cell
        self.batch_size = None if batch_size is None else int(batch_size)
        self.activity_penalty = float(activity_penalty)
        self.huber_delta = float(huber_delta)
        self._carried = _Carried()
        self._loss_tracker = keras.metrics.Mean(name="loss")
        self.build((self.batch_size, None, cell.sensors))

    @staticmethod
    def optimizer_of_the_paper(learning_rate=1e-3):
        """Adam(1e-3) with elementwise gradient clipping at 1 (PyTorch's clip_grad_value_)."""
        return keras.optimizers.Adam(learning_rate, clipvalue=1.0)

    @property
    def replicas(self):
        return self.cell.replicas

    def build(self, input_shape=None):
        if self.built:
            return
        if not self.cell.built:
            self.cell.build((None, self.cell.sensors))
        if self.batch_size is not None:
            # "only_first_replica": under tf.distribute every device assigns the same gathered state
            self._carried.variables = [
                keras.Variable(s, trainable=False, name=f"carried_state_{i}", aggregation="only_first_replica")
                for i, s in enumerate(self._with_axis(self.cell.get_initial_state(self.batch_size)))]
        self.built = True

    def build_from_config(self, config):
        self.build(None)

    @property
    def carried_state(self):
        """The variables carried from batch to batch (h, c, modulation …; replica axis always present)."""
        return self._carried.variables

    def reset_carried_state(self):
        for variable, value in zip(self.carried_state, self._with_axis(self.cell.get_initial_state(self.batch_size))):
            variable.assign(value)

    def _with_axis(self, states):
        return [s if self.replicas is not None else tf.expand_dims(s, 1) for s in states]

    def initial_state(self, batch):
        """The zero state (a random initial gain for DaleRateNetCell), replica axis always present."""
        return self._with_axis(self.cell.get_initial_state(batch))

    def _checked_mixtures(self, x):
        x = tf.convert_to_tensor(x, self.compute_dtype)
        if len(x.shape) != 3 or x.shape[-1] != self.cell.sensors:
            raise ValueError(f"{self.name}: expected mixtures of shape (batch, time, {self.cell.sensors}), got "
                             f"{tuple(x.shape)}")
        return x

    def run(self, x, initial_state=None, freeze=None, record=()):
        """Run the cell over x (batch, time, sensors) in one `tf.while_loop`.

        `initial_state`: list of (batch, R, ·) tensors (R = 1 for a lone cell; default
        `initial_state`); `freeze`: (batch, time) mask holding the modulation (the LSTM keeps
        running); `record`: names of step records to keep ("modulation", "z", "feedback", …).
        Returns (y (batch, time, R, sources), final state, {name: (batch, time, R, ·)}).
        """
        x = self._checked_mixtures(x)
        batch = tf.shape(x)[0]
        # a static length lets XLA bound the loop and its gradient accumulators
        steps = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
        states = list(initial_state) if initial_state is not None else self.initial_state(batch)
        weights = self.cell.step_weights()
        xs = tf.transpose(x, (1, 0, 2))
        frozen = None if freeze is None else tf.transpose(tf.cast(freeze, "bool"), (1, 0))
        arrays = {name: tf.TensorArray(self.compute_dtype, size=steps) for name in ("y",) + tuple(record)}

        def body(t, states, arrays):
            y, states, records = self.cell.step(self.cell.step_input(xs[t]), states,
                                                None if frozen is None else frozen[t], weights)
            records = dict(records, y=y)
            return t + 1, states, {k: a.write(t, records[k]) for k, a in arrays.items()}

        _, states, arrays = tf.while_loop(lambda t, *_: t < steps, body, (tf.constant(0), states, arrays),
                                          maximum_iterations=steps)
        # every step record is (batch, R, ·): stacked (time, batch, R, ·)
        outputs = {k: tf.transpose(a.stack(), (1, 0, 2, 3)) for k, a in arrays.items()}
        y = outputs.pop("y")
        return y, states, outputs

    @property
    def uses_fast_gradient(self):
        """Whether training takes the hand-written window gradient (`ndnx.models.feedback_gradient`)."""
        return self.gradient == "fast" or (self.gradient == "auto" and supports_fast_gradient(self.cell))

    def run_for_training(self, x, initial_state=None, record=()):
        """`run` (without freezing) whose gradient is the hand-written one where `uses_fast_gradient`.

        Records: "feedback" only on the fast path. The inputs get no gradient on the fast path, and
        it needs a window length known when the step is traced (else "auto" uses autodiff).
        """
        x = self._checked_mixtures(x)
        # the hand-written backward loop needs the window length at trace time; "auto" falls back
        if not self.uses_fast_gradient or (x.shape[1] is None and self.gradient == "auto"):
            return self.run(x, initial_state, record=record)
        if set(record) - {"feedback"}:
            raise ValueError(f"{self.name}: the fast gradient path records only 'feedback', got {tuple(record)}")
        states = list(initial_state) if initial_state is not None else self.initial_state(tf.shape(x)[0])
        modulator_weights, pathway = self.cell.step_weights()
        # the time-major input with its replica axis, as `step_input` gives it step by step
        xs = tf.repeat(tf.transpose(x, (1, 0, 2))[:, :, None], self.replicas or 1, axis=2)
        trainable_pathway = len(self.cell.trainable_weights) > len(self.cell.modulator.trainable_weights)
        ys, final, feedback = fast_window(self.cell, xs, states, modulator_weights, pathway,
                                          record_feedback="feedback" in record, pathway_gradients=trainable_pathway)
        records = {} if feedback is None else {"feedback": tf.transpose(feedback, (1, 0, 2, 3))}
        return tf.transpose(ys, (1, 0, 2, 3)), final, records

    def _lone(self, y):
        return y if self.replicas is not None else tf.squeeze(y, 2)

    def call(self, x, training=None):
        return self._lone(self.run(x)[0])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:2]) + (() if self.replicas is None else (self.replicas,)) + (self.cell.sources,)

    def window_loss(self, s, y, feedback=None):
        """Σ_t mean_{b,i} Huber(y − s) (+ λ Σ_{t,b}|O|), summed over replicas; y (batch, time, R, n)."""
        s = tf.cast(s, y.dtype)
        if len(s.shape) == 3:
            s = s[:, :, None]
        loss = tf.reduce_sum(tf.reduce_mean(huber(y - s, self.huber_delta), axis=(0, 3)))
        if feedback is not None and self.activity_penalty:
            loss = loss + self.feedback_penalty(feedback)
        return loss

    def feedback_penalty(self, feedback):
        """λ Σ_{t,b}|O| over the recorded feedback O (time and batch in any order)."""
        return self.activity_penalty * tf.reduce_sum(tf.abs(feedback))

    def step_parts(self):
        """How many groups of contexts a training step runs side by side (see `batch_parts`)."""
        if self.batch_size is None or tf.distribute.has_strategy():
            return 1
        if self.batch_parts != "auto":
            return min(self.batch_parts, self.batch_size)
        if tf.config.list_physical_devices("GPU") or tf.config.threading.get_inter_op_parallelism_threads() == 1:
            return 1
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        limit = max(1, min(cores, self.batch_size // MIN_CONTEXTS_PER_PART))
        # equal parts: one shape, so one compiled program for all of them
        return max(p for p in range(1, limit + 1) if self.batch_size % p == 0)

    def compiles_step_parts(self, jit_compile):
        """Told whether the step is to be XLA-compiled; True when the model compiles its parts itself.

        A trainer that wraps `train_step` in a function then leaves that function uncompiled, so
        TensorFlow's executor can run the parts' programs side by side.
        """
        if self._xla_parts is not None and self._xla_parts != bool(jit_compile):
            self._part_function = None  # compiled the other way: made afresh at the next trace
        self._xla_parts = bool(jit_compile)
        return self.step_parts() > 1

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        self._xla_parts, self._part_function = None, None

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function
        jit_compile = self.jit_compile
        takes_over = self.compiles_step_parts(jit_compile)
        if not (jit_compile and takes_over):
            return super().make_train_function(force)
        self.jit_compile = False  # for Keras' wrapper only: the parts are XLA-compiled by the model
        try:
            return super().make_train_function(force)
        finally:
            self.jit_compile = jit_compile

    def _part_gradients(self, x, s, initial, share):
        """One part's (share · batch-mean fit, feedback penalty, gradients, final state)."""
        record = ("feedback",) if self.activity_penalty else ()
        with tf.GradientTape() as tape:
            y, final, records = self.run_for_training(x, initial, record=record)
            fit = self.window_loss(s, y) * share
            penalty = self.feedback_penalty(records["feedback"]) if record else tf.zeros_like(fit)
            total = fit + penalty
        grads = tape.gradient(total, self.trainable_weights)
        return fit, penalty, grads, final

    def _split_window(self, x, s, initial, parts):
        """The step's loss terms, gradients and final state from `parts` groups of contexts run side by side."""
        if self._part_function is None:
            xla = self._xla_parts if self._xla_parts is not None else bool(self.jit_compile)
            self._part_function = tf.function(self._part_gradients, jit_compile=xla, reduce_retracing=True)
        rows = self.batch_size
        edges = np.linspace(0, rows, parts + 1).round().astype(int)
        results = [self._part_function(x[a:b], s[a:b], [v[a:b] for v in initial],
                                       tf.constant((b - a) / rows, self.compute_dtype))
                   for a, b in zip(edges[:-1], edges[1:])]
        fits, penalties, grads, finals = zip(*results)
        grads = [None if all(g is None for g in gs) else tf.add_n([g for g in gs if g is not None])
                 for gs in zip(*grads)]
        return tf.add_n(fits), tf.add_n(penalties), grads, [tf.concat(f, axis=0) for f in zip(*finals)]

    def _window(self, data, train):
        x, s = data[0], data[1]
        carried = self.carried_state
        devices = tf.distribute.get_strategy().num_replicas_in_sync
        rows = None if not carried else self._rows_per_device(devices)
        if carried and x.shape[0] is not None and x.shape[0] != rows:
            raise ValueError(f"{self.name}: the carried state holds {self.batch_size} contexts, got a batch of "
                             f"{x.shape[0] * devices} (every TBPTT batch must have batch_size rows)")
        initial = None
        if carried:
            # under tf.distribute each device continues its own rows of the global batch: the
            # strategy hands device d the rows [d·n, (d+1)·n) of every batch
            start = tf.distribute.get_replica_context().replica_id_in_sync_group * rows
            initial = [tf.stop_gradient(v.value[start:start + rows] if devices > 1 else v.value) for v in carried]
        record = ("feedback",) if self.activity_penalty else ()
        parts = self.step_parts() if train else 1  # 1 without carried state and under a strategy
        if parts > 1:
            fit, penalty, grads, final = self._split_window(x, s, initial, parts)
            loss = fit + penalty
        else:
            with tf.GradientTape() as tape:
                # an evaluation needs no gradient: the plain loop, without the fast path's per-step records
                run = self.run_for_training if train else self.run
                y, final, records = run(x, initial, record=record)
                fit = self.window_loss(s, y)
                loss = self.window_loss(s, y, records.get("feedback"))
                # under tf.distribute the batch mean needs 1/N before the gradients are summed over devices;
                # the penalty, a sum over the batch, is already the global sum once summed
                scaled = scale_loss_for_replicas(fit) + (loss - fit)
            if train:
                grads = tape.gradient(scaled, self.trainable_weights)
        if train:
            # Keras clips each device's part before the sum; the paper's clip at 1 is of the whole gradient
            self.optimizer.apply(clip_after_device_sum(self.optimizer, grads), self.trainable_weights)
        if devices > 1 and carried:
            # every device gathers the whole batch's final state, so the mirrored copies stay equal
            final = [tf.distribute.get_replica_context().all_gather(f, axis=0) for f in final]
        for variable, value in zip(carried, final):
            variable.assign(value)
        # the loss tracker averages the devices' values: N × the device's penalty makes that the global sum
        reported = fit + (loss - fit) * devices
        self._loss_tracker.update_state(reported)
        # "loss" is Keras' running mean over the epoch; "window_loss" this batch's own (this device's
        # under a strategy)
        return {"loss": self._loss_tracker.result(), "window_loss": reported}

    def _rows_per_device(self, devices):
        if self.batch_size % devices:
            raise ValueError(f"{self.name}: the carried state of {self.batch_size} contexts does not split over "
                             f"{devices} devices (batch_size must be a multiple of the number of devices)")
        return self.batch_size // devices

    def train_step(self, data):
        from ndnx.host_memory import retain_freed_memory

        retain_freed_memory()  # once, when the step is traced (see the class docstring)
        return self._window(data, train=True)

    def test_step(self, data):
        return self._window(data, train=False)

    @property
    def metrics(self):
        return [self._loss_tracker]

    def get_config(self):
        config = super().get_config()
        config.update({"cell": keras.saving.serialize_keras_object(self.cell), "batch_size": self.batch_size,
                       "activity_penalty": self.activity_penalty, "huber_delta": self.huber_delta,
                       "gradient": self.gradient, "batch_parts": self.batch_parts})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
