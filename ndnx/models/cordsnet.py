"""CordsNet: a continuous-time recurrent convolutional network run over a blank + stimulus protocol.

Soo, Battista, Radmard, Wang (NeurIPS 2024); spec cordsnet.md §1–2, §7, §8. The dynamics of one step
are `ndnx.cells.CordsNetCell`; this model runs them:

1. blank ("spontaneous") phase: `blank_steps` steps from r = 0 with a zero image. It does not depend
   on the image, so it runs once at batch 1 and is broadcast; the result is cached and reused until
   any weight changes (the cache compares a copy of every weight, so no change goes unseen);
2. stimulus phase: `stimulus_steps` steps with the image held on; the stem and the constant drives of
   areas 0 and 1 are computed once per image and every weight norm is folded once per call;
3. readout "final" (last step's logits, (B, n_classes)), "all" (B, stimulus_steps, n_classes) or
   ("window", first) (B, stimulus_steps − first, n_classes).

Training (spec §2.5, `training_loss`, used by `train_step` so `model.fit` works): "three_phase" = blank
without gradient (its last state is the baseline), stimulus with a cross-entropy on each of the last
`ramp_steps` steps weighted by logspace(ramp_log10) and averaged, then a blank phase WITH gradient whose
last `spontaneous_steps` steps add spontaneous_weight · Σ_j mean((r_j − baseline_j)²)/(depth·steps);
"stimulus_only" (step 3, linear stage) starts from r = 0 with the image on and has no penalty. BPTT
recomputes the forward pass chunk by chunk (`checkpoint_every` steps, `tf.recompute_grad`), holding
only the states at chunk edges.

Throughput (benchmarks/bench_cordsnet.py, 2-core CPU shared with other jobs at load 5.6, 224 px,
100 + 100 steps, blank phase cached): R8 7.8 s per image at batch 1 (78 ms per step), 6.8 s at batch 8;
details and history in that script's docstring.
"""

import numpy as np
import keras
import tensorflow as tf
from keras import ops

from ndnx.cells.cordsnet import CordsNetCell, cordsnet_parameter_shapes
from ndnx.losses.distribution import clip_after_device_sum, scale_loss_for_replicas
from ndnx.registry import register

__all__ = ["CordsNet", "cordsnet_r2", "cordsnet_r4", "cordsnet_r6", "cordsnet_r8", "PROTOCOLS", "ramp_weights"]

PROTOCOLS = ("three_phase", "stimulus_only")


def ramp_weights(ramp_steps=30, ramp_log10=(-3.0, 0.0)):
    """logspace(ramp_log10[0], ramp_log10[1], ramp_steps): the readout-step weights of spec §2.5.

    Example:
        >>> [round(float(w), 6) for w in ramp_weights(3, (-2, 0))]
        [0.01, 0.1, 1.0]
    """
    return np.logspace(float(ramp_log10[0]), float(ramp_log10[1]), int(ramp_steps)).astype("float32")


def _readout_mode(owner, readout, stimulus_steps):
    if readout in ("final", "all"):
        return readout
    if (isinstance(readout, (list, tuple)) and len(readout) == 2 and readout[0] == "window"
            and isinstance(readout[1], (int, np.integer)) and not isinstance(readout[1], bool)
            and 0 <= readout[1] < stimulus_steps):
        return ("window", int(readout[1]))
    raise ValueError(f"{owner}: readout must be 'final', 'all' or ('window', first) with 0 ≤ first < "
                     f"stimulus_steps = {stimulus_steps}, got {readout!r}")


def _steps(owner, arg, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{owner}: {arg} must be an int ≥ {minimum}, got {value!r}")
    return int(value)


class _BlankCache:
    """The cached blank-phase state and a copy of the weights it was computed with.

    Plain tf.Variables in a plain object, so Keras neither counts nor saves them.
    """

    def __init__(self, weights, area_shapes):
        with tf.init_scope():
            self.weights = list(weights)
            self.copies = [tf.Variable(tf.zeros(w.shape, w.dtype), trainable=False) for w in self.weights]
            self.states = [tf.Variable(tf.zeros((1,) + tuple(s)), trainable=False) for s in area_shapes]
            self.steps = tf.Variable(-1, dtype=tf.int64, trainable=False)

    def valid(self, steps):
        same = tf.equal(self.steps, tf.cast(steps, tf.int64))
        for w, c in zip(self.weights, self.copies):
            same = tf.logical_and(same, tf.reduce_all(tf.equal(tf.convert_to_tensor(w), c)))
        return same

    def store(self, steps, states):
        updates = [c.assign(tf.convert_to_tensor(w)) for w, c in zip(self.weights, self.copies)]
        updates += [v.assign(s) for v, s in zip(self.states, states)]
        updates.append(self.steps.assign(tf.cast(steps, tf.int64)))
        with tf.control_dependencies(updates):
            return [tf.identity(s) for s in states]


@register("layer")
class CordsNet(keras.Model):
    """CordsNet-R{depth}: blank phase, stimulus phase, readout (module docstring; spec §1–2, §7).

    Args:
        depth: 2, 4, 6 or 8 areas.
        num_classes: readout units.
        image_size: input height and width (int or pair); bias maps follow (224 → areas at 56, 28, 14, 7).
        channels: image channels.
        alpha: Euler step dt/τ (0.2: dt = 2 ms, τ = 10 ms).
        blank_steps, stimulus_steps: protocol lengths (100 + 100).
        readout: "final", "all" or ("window", first_step).
        nonlinearity: "relu", "linear" or "prelu"; prelu_slope: initial shared slope (`model.prelu_slope`).
        weight_norm: g/v parametrisation of every kernel (False: plain kernels).
        protocol: training forward, "three_phase" (steps 4–5) or "stimulus_only" (step 3).
        ramp_steps, ramp_log10: ramped cross-entropy on the last ramp_steps stimulus steps.
        spontaneous_weight, spontaneous_steps: the return-to-baseline penalty of "three_phase".
        checkpoint_every: steps per gradient-checkpointed chunk (None or 0: no recomputation).
        jit_loop: XLA-compile the inference loops.
        winograd_min_size: None, or areas at least this many pixels a side use Winograd 3×3
            convolutions (`ndnx.cells.CordsNetCell`; 0 for all areas).
        replicas: must be None. seed: int or None (initial weights).

    Example:
        >>> import numpy as np, ndnx
        >>> net = ndnx.models.cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=2,
        ...                               stimulus_steps=3, readout="all", seed=0)
        >>> tuple(net(np.ones((2, 12, 12, 1), "float32")).shape)
        (2, 3, 3)
    """

    def __init__(self, depth=8, num_classes=1000, image_size=224, channels=3, alpha=0.2, blank_steps=100,
                 stimulus_steps=100, readout="final", nonlinearity="relu", prelu_slope=0.0, weight_norm=True,
                 protocol="three_phase", ramp_steps=30, ramp_log10=(-3.0, 0.0), spontaneous_weight=1e-3,
                 spontaneous_steps=10, checkpoint_every=10, jit_loop=True, winograd_min_size=None, replicas=None,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        if replicas is not None:
            raise ValueError(f"{self.name}: replicas must be None (CordsNet is not replicated), got {replicas!r}")
        self.replicas = None
        self.seed = seed
        self.cell = CordsNetCell(depth, image_size, channels, num_classes, alpha=alpha, nonlinearity=nonlinearity,
                                 prelu_slope=prelu_slope, weight_norm=weight_norm,
                                 winograd_min_size=winograd_min_size, seed=seed, name="cell")
        self.blank_steps = _steps(self.name, "blank_steps", blank_steps, 0)
        self.stimulus_steps = _steps(self.name, "stimulus_steps", stimulus_steps, 1)
        self.readout = _readout_mode(self.name, readout, self.stimulus_steps)
        if protocol not in PROTOCOLS:
            raise ValueError(f"{self.name}: protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.protocol = protocol
        self.ramp_steps = _steps(self.name, "ramp_steps", ramp_steps, 1)
        if len(tuple(ramp_log10)) != 2:
            raise ValueError(f"{self.name}: ramp_log10 must be a pair (first, last), got {ramp_log10!r}")
        self.ramp_log10 = tuple(float(v) for v in ramp_log10)
        self.spontaneous_weight = float(spontaneous_weight)
        self.spontaneous_steps = _steps(self.name, "spontaneous_steps", spontaneous_steps, 1)
        self.checkpoint_every = 0 if checkpoint_every is None else _steps(self.name, "checkpoint_every",
                                                                          checkpoint_every, 0)
        self.jit_loop = bool(jit_loop)
        self.depth = self.cell.depth
        self.num_classes = self.cell.num_classes
        self.image_size = self.cell.image_size
        self.channels = self.cell.channels
        self.alpha = self.cell.alpha
        self.nonlinearity = self.cell.nonlinearity
        self.weight_norm = self.cell.weight_norm
        self.cell.build()
        self._cache = _BlankCache(self.cell.weights, self.cell.area_shapes)
        self._functions = {}
        self._loss_tracker = keras.metrics.Mean(name="loss")
        self._accuracy_tracker = keras.metrics.Mean(name="accuracy")
        # The loops compile themselves (jit_loop); an XLA-compiled Keras step around them is opt-in.
        self.jit_compile = False
        self.build((None,) + self.image_size + (self.channels,))

    def build(self, input_shape=None):
        self.built = True

    # --- parameters ----------------------------------------------------------------------------------
    @property
    def prelu_slope(self):
        """The shared PReLU slope a, a non-trainable scalar variable (assign it between epochs)."""
        return self.cell.prelu_slope

    def get_parameters(self):
        """{canonical name: NumPy array} (names and Keras layouts of the shared contract, spec §8.2)."""
        return {name: np.asarray(v.numpy()) for name, v in self.cell.canonical_variables().items()}

    def set_parameters(self, parameters):
        """Assign every canonical parameter; names and shapes must match exactly (one ValueError line)."""
        variables = self.cell.canonical_variables()
        given = {name: np.asarray(value) for name, value in dict(parameters).items()}
        missing = [n for n in variables if n not in given]
        unexpected = [n for n in given if n not in variables]
        wrong = [f"{n} {given[n].shape} (expected {tuple(variables[n].shape)})" for n in variables
                 if n in given and given[n].shape != tuple(variables[n].shape)]
        if missing or unexpected or wrong:
            raise ValueError(f"{self.name}.set_parameters: expected the {len(variables)} canonical parameters of "
                             f"CordsNet-R{self.depth}; missing {missing}, unexpected {unexpected}, wrong shapes "
                             f"{wrong}")
        for name, variable in variables.items():
            variable.assign(given[name].astype(variable.dtype))

    def parameter_shapes(self):
        """The canonical names and shapes this model has (`ndnx.cells.cordsnet.cordsnet_parameter_shapes`)."""
        return cordsnet_parameter_shapes(self.depth, self.num_classes, self.image_size, self.channels,
                                         self.weight_norm)

    # --- loops ---------------------------------------------------------------------------------------
    def _step_impl(self, k, drive0, drive1, states, baseline):
        new = self.cell.step(k, drive0, drive1, states)
        deviation = (tf.add_n([tf.reduce_mean(tf.square(r - b)) for r, b in zip(new, baseline)]) if baseline
                     else tf.constant(0.0))
        return new, self.cell.logits(k, new), deviation

    def _step(self, k, drive0, drive1, states, baseline=()):
        """One step as its own XLA computation: new states, their logits, Σ_j mean((r_j − baseline_j)²).

        Compiled even inside uncompiled loops: TF's graph optimiser turns the step's sums into
        temporary-variable accumulators that collide between calls of a large uncompiled while loop.
        """
        return self._function("step", self._step_impl, True)(k, drive0, drive1, tuple(states), tuple(baseline))

    def _integrate(self, k, drive0, drive1, states, steps, logits=False, areas=()):
        """`steps` synchronous steps (a Python int); per-step logits (T, B, n) and chosen areas' states."""
        cell = self.cell
        batch = tf.shape(states[0])[0]
        drive0 = tf.broadcast_to(drive0, tf.concat([[batch], tf.shape(drive0)[1:]], 0))
        drive1 = tf.broadcast_to(drive1, tf.concat([[batch], tf.shape(drive1)[1:]], 0))
        arrays = []
        if logits:
            arrays.append(tf.TensorArray(tf.float32, size=steps, element_shape=(None, self.num_classes)))
        arrays += [tf.TensorArray(tf.float32, size=steps, element_shape=(None,) + tuple(cell.area_shapes[j]))
                   for j in areas]

        def body(i, states, arrays):
            new, step_logits, _ = self._step(k, drive0, drive1, states)
            out = []
            if logits:
                out.append(arrays[0].write(i, step_logits))
            out += [a.write(i, new[j]) for a, j in zip(arrays[len(out):], areas)]
            return i + 1, new, out

        if isinstance(steps, int) and steps == 0:
            return tuple(states), [a.stack() for a in arrays]
        _, states, arrays = tf.while_loop(lambda i, s, a: i < steps, body, (tf.constant(0), tuple(states), arrays),
                                          maximum_iterations=steps)
        return tuple(states), [a.stack() for a in arrays]

    def _blank_impl(self, steps):
        k = self.cell.folded_weights()
        zeros = [tf.zeros((1,) + tuple(s)) for s in self.cell.area_shapes]
        drive = tf.zeros((1,) + tuple(self.cell.area_shapes[0][:2]) + (64,))
        states, _ = self._integrate(k, drive, drive, zeros, steps)
        return list(states)

    def _stimulus_impl(self, images, states, steps, logits, areas):
        k = self.cell.folded_weights()
        drive0, drive1 = self.cell.drives(images, k)
        states, stacked = self._integrate(k, drive0, drive1, states, steps, logits=logits, areas=areas)
        final = self.cell.logits(k, states)
        return states, final, stacked

    def _function(self, name, fn, jit):
        key = (name, jit)
        if key not in self._functions:
            self._functions[key] = tf.function(fn, jit_compile=jit, reduce_retracing=True)
        return self._functions[key]

    @staticmethod
    def _steps_argument(steps, jit):
        """A Python int for XLA (static loop and array sizes), else a tensor: one trace for every length."""
        return int(steps) if jit else tf.constant(int(steps), tf.int32)

    def _cached_blank_impl(self, steps, jit):
        blank = self._function("blank", self._blank_impl, jit)
        return tf.cond(self._cache.valid(steps), lambda: [tf.convert_to_tensor(v) for v in self._cache.states],
                       lambda: self._cache.store(steps, blank(self._steps_argument(steps, jit))))

    def _blank_state(self, steps, batch=None, jit=None):
        """The blank-phase state at batch 1 (cached), broadcast to `batch` when given.

        jit=False under an eager gradient tape: TF cannot record an XLA-compiled loop there.
        """
        jit = self.jit_loop if jit is None else (jit and self.jit_loop)
        states = self._function("cached_blank", self._cached_blank_impl, False)(steps, jit)
        states = [tf.stop_gradient(s) for s in states]
        if batch is None:
            return tuple(states)
        return tuple(tf.broadcast_to(s, tf.concat([[batch], tf.shape(s)[1:]], 0)) for s in states)

    def _check_images(self, images):
        images = tf.convert_to_tensor(images, dtype=tf.float32)
        self.cell._check_images(images.shape)
        return images

    def spontaneous_state(self):
        """The blank-phase state (a tuple of `depth` arrays (1, H_j, W_j, C_j)), cached until a weight changes.

        Example:
            >>> import ndnx
            >>> net = ndnx.models.cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=2, seed=0)
            >>> [s.shape for s in net.spontaneous_state()]
            [(1, 3, 3, 64), (1, 3, 3, 64)]
        """
        return tuple(np.asarray(s) for s in self._blank_state(self.blank_steps))

    def call(self, images, training=None):
        images = self._check_images(images)
        jit = self.jit_loop and not training  # TF cannot take gradients through an XLA-compiled loop
        states = self._blank_state(self.blank_steps, tf.shape(images)[0], jit=jit)
        logits = self.readout != "final"
        run = self._function("stimulus", self._stimulus_impl, jit)
        _, final, stacked = run(images, states, self._steps_argument(self.stimulus_steps, jit), logits, ())
        if self.readout == "final":
            return final
        sequence = tf.transpose(stacked[0], (1, 0, 2))
        return sequence if self.readout == "all" else sequence[:, self.readout[1]:]

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        if self.readout == "final":
            return (batch, self.num_classes)
        first = 0 if self.readout == "all" else self.readout[1]
        return (batch, self.stimulus_steps - first, self.num_classes)

    def simulate(self, images, blank_steps=None, stimulus_steps=None, initial_state=None, return_states=False):
        """Run the protocol; {"logits": (B, T, n), "states": tuple of (B, T, H_j, W_j, C_j) if asked}.

        T = stimulus_steps (default the model's). The stimulus starts from `initial_state` (a tuple of
        `depth` arrays, batch 1 or B) or from the cached blank phase of `blank_steps` steps.

        Example:
            >>> import numpy as np, ndnx
            >>> net = ndnx.models.cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=2, seed=0)
            >>> out = net.simulate(np.ones((2, 12, 12, 1), "float32"), stimulus_steps=4, return_states=True)
            >>> out["logits"].shape, out["states"][1].shape
            ((2, 4, 3), (2, 4, 3, 3, 64))
        """
        images = self._check_images(images)
        batch = int(images.shape[0])
        steps = self.stimulus_steps if stimulus_steps is None else _steps(self.name, "stimulus_steps",
                                                                          stimulus_steps, 1)
        states = self._initial(initial_state, blank_steps, batch)
        areas = tuple(range(self.depth)) if return_states else ()
        run = self._function("stimulus", self._stimulus_impl, self.jit_loop)
        _, _, stacked = run(images, states, self._steps_argument(steps, self.jit_loop), True, areas)
        out = {"logits": np.transpose(np.asarray(stacked[0]), (1, 0, 2))}
        if return_states:
            out["states"] = tuple(np.swapaxes(np.asarray(s), 0, 1) for s in stacked[1:])
        return out

    def _initial(self, initial_state, blank_steps, batch):
        if initial_state is None:
            steps = self.blank_steps if blank_steps is None else _steps(self.name, "blank_steps", blank_steps, 0)
            return self._blank_state(steps, batch)
        initial_state = tuple(initial_state)
        shapes = [tuple(s) for s in self.cell.area_shapes]
        if len(initial_state) != self.depth or any(
                tuple(np.shape(s)[1:]) != shape or np.shape(s)[0] not in (1, batch)
                for s, shape in zip(initial_state, shapes)):
            raise ValueError(f"{self.name}: initial_state must be {self.depth} arrays of shapes (1 or {batch}, H, W, C) "
                             f"{shapes}, got {[tuple(np.shape(s)) for s in initial_state]}")
        return tuple(tf.broadcast_to(tf.convert_to_tensor(s, tf.float32), (batch,) + shape)
                     for s, shape in zip(initial_state, shapes))

    def record(self, images, layers=(6, 7), path=None, blank_steps=None, stimulus_steps=None, chunk_steps=10):
        """States of the chosen areas at every step: blank steps first, then stimulus steps (spec §2.4).

        Returns {area: array (T, B, H, W, C)} with T = blank_steps + stimulus_steps, or, with `path`, writes
        HDF5 datasets "area<j>" of that shape chunk by chunk (`chunk_steps` steps held at a time) and
        returns the path. Blank steps run at batch 1 and are broadcast to the batch.

        Example:
            >>> import numpy as np, ndnx
            >>> net = ndnx.models.cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=2,
            ...                               stimulus_steps=3, seed=0)
            >>> net.record(np.ones((2, 12, 12, 1), "float32"), layers=(1,))[1].shape
            (5, 2, 3, 3, 64)
        """
        images = self._check_images(images)
        batch = int(images.shape[0])
        layers = tuple(int(j) for j in layers)
        if not layers or any(j < 0 or j >= self.depth for j in layers):
            raise ValueError(f"{self.name}.record: layers must be area indices in 0..{self.depth - 1}, got {layers!r}")
        blank = self.blank_steps if blank_steps is None else _steps(self.name, "blank_steps", blank_steps, 0)
        stimulus = self.stimulus_steps if stimulus_steps is None else _steps(self.name, "stimulus_steps",
                                                                             stimulus_steps, 1)
        chunk_steps = _steps(self.name, "chunk_steps", chunk_steps, 1)
        total = blank + stimulus
        shapes = {j: tuple(self.cell.area_shapes[j]) for j in layers}
        if path is None:
            out = {j: np.zeros((total, batch) + shapes[j], "float32") for j in layers}
            sink = out
        else:
            import h5py

            handle = h5py.File(path, "w")
            sink = {j: handle.create_dataset(f"area{j}", shape=(total, batch) + shapes[j], dtype="float32",
                                             chunks=(1, batch) + shapes[j]) for j in layers}
            handle.attrs["blank_steps"] = blank
            handle.attrs["stimulus_steps"] = stimulus
        try:
            run = self._function("stimulus", self._stimulus_impl, self.jit_loop)
            zeros_image = tf.zeros((1,) + tuple(images.shape[1:]))
            states = tuple(tf.zeros((1,) + tuple(s)) for s in self.cell.area_shapes)
            t = 0
            for phase_steps, image in ((blank, zeros_image), (stimulus, images)):
                if image is images:
                    states = tuple(tf.broadcast_to(s, (batch,) + tuple(s.shape[1:])) for s in states)
                done = 0
                while done < phase_steps:
                    n = min(chunk_steps, phase_steps - done)
                    states, _, stacked = run(image, states, self._steps_argument(n, self.jit_loop), False, layers)
                    for j, values in zip(layers, stacked):
                        values = np.asarray(values)
                        sink[j][t:t + n] = np.broadcast_to(values, (n, batch) + shapes[j])
                    done += n
                    t += n
        finally:
            if path is not None:
                handle.close()
        return out if path is None else path

    # --- training ------------------------------------------------------------------------------------
    def _chunk(self, k, drive0, drive1, states, baseline, steps, spontaneous):
        """`steps` steps; per-step logits (T, B, n) and, if `spontaneous`, Σ_j mean((r_j − baseline_j)²) (T,)."""
        shape = () if spontaneous else (None, self.num_classes)
        outputs = tf.TensorArray(tf.float32, size=steps, element_shape=shape)

        def body(i, states, outputs):
            new, step_logits, deviation = self._step(k, drive0, drive1, states, baseline)
            return i + 1, new, outputs.write(i, deviation if spontaneous else step_logits)

        _, states, outputs = tf.while_loop(lambda i, s, o: i < steps, body, (tf.constant(0), tuple(states), outputs),
                                           maximum_iterations=steps)
        return states, outputs.stack()

    def _phase(self, k, drive0, drive1, states, steps, baseline=None):
        """A phase with gradients, in checkpointed chunks; returns (states, per-step outputs (T, ...))."""
        flat = tf.nest.flatten(k)
        structure = k
        spontaneous = baseline is not None
        chunk = self.checkpoint_every or steps
        outputs = []
        done = 0
        while done < steps:
            n = min(chunk, steps - done)
            base = tuple(baseline) if spontaneous else ()

            def run(*args, n=n, depth=self.depth, nb=len(base), nf=len(flat)):
                f = tf.nest.pack_sequence_as(structure, list(args[:nf]))
                d0, d1 = args[nf], args[nf + 1]
                s = tuple(args[nf + 2:nf + 2 + depth])
                b = tuple(args[nf + 2 + depth:nf + 2 + depth + nb])
                new, out = self._chunk(f, d0, d1, s, b, n, spontaneous)
                return tuple(new) + (out,)

            fn = tf.recompute_grad(run) if self.checkpoint_every else run
            result = fn(*flat, drive0, drive1, *states, *base)
            states, out = tuple(result[:self.depth]), result[self.depth]
            outputs.append(out)
            done += n
        return states, tf.concat(outputs, axis=0)

    def _cross_entropy(self, labels, logits):
        """Σ_batch CE / batch for integer labels (B,) or soft labels (B, n)."""
        labels = tf.convert_to_tensor(labels)
        if labels.shape.rank == 2 and labels.shape[-1] == self.num_classes and labels.shape[-1] != 1:
            probabilities = tf.cast(labels, logits.dtype)
            return tf.reduce_mean(-tf.reduce_sum(probabilities * tf.nn.log_softmax(logits), axis=-1))
        labels = tf.reshape(tf.cast(labels, tf.int32), (-1,))
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))

    def training_loss(self, images, labels, protocol=None, ramp_steps=None, ramp_log10=None,
                      spontaneous_weight=None, spontaneous_steps=None, checkpoint_every=None, return_details=False):
        """The training loss of spec §2.5 (three_phase) or §3 step 3 (stimulus_only); defaults from the model.

        total = mean_k(ramp_k · CE_k) over the last ramp_steps stimulus steps
                + spontaneous_weight · Σ_{last spontaneous_steps blank steps} Σ_j mean((r_j − baseline_j)²)/(depth·steps).
        With return_details: (total, {"cross_entropy", "spontaneous", "logits" (final stimulus step)}).

        Example:
            >>> import numpy as np, ndnx
            >>> net = ndnx.models.cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=2,
            ...                               stimulus_steps=3, ramp_steps=2, spontaneous_steps=2, seed=0)
            >>> float(net.training_loss(np.ones((2, 12, 12, 1), "float32"), np.array([0, 2]))) > 0
            True
        """
        protocol = self.protocol if protocol is None else protocol
        if protocol not in PROTOCOLS:
            raise ValueError(f"{self.name}.training_loss: protocol must be one of {PROTOCOLS}, got {protocol!r}")
        ramp_steps = self.ramp_steps if ramp_steps is None else _steps(self.name, "ramp_steps", ramp_steps, 1)
        if ramp_steps > self.stimulus_steps:
            raise ValueError(f"{self.name}.training_loss: ramp_steps must be ≤ stimulus_steps = "
                             f"{self.stimulus_steps}, got {ramp_steps}")
        ramp_log10 = self.ramp_log10 if ramp_log10 is None else ramp_log10
        weight = self.spontaneous_weight if spontaneous_weight is None else float(spontaneous_weight)
        spont_steps = self.spontaneous_steps if spontaneous_steps is None else _steps(
            self.name, "spontaneous_steps", spontaneous_steps, 1)
        saved = self.checkpoint_every
        if checkpoint_every is not None:
            self.checkpoint_every = _steps(self.name, "checkpoint_every", checkpoint_every, 0)
        try:
            images = self._check_images(images)
            batch = tf.shape(images)[0]
            k = self.cell.folded_weights()
            drive0, drive1 = self.cell.drives(images, k)
            if protocol == "three_phase":
                baseline = self._blank_state(self.blank_steps, batch, jit=not tf.executing_eagerly())
            else:
                baseline = tuple(tf.zeros(tf.concat([[batch], s], 0)) for s in self.cell.area_shapes)
            states, logits = self._phase(k, drive0, drive1, baseline, self.stimulus_steps)
            window = logits[self.stimulus_steps - ramp_steps:]
            ramp = tf.constant(ramp_weights(ramp_steps, ramp_log10))
            ce = tf.map_fn(lambda lg: self._cross_entropy(labels, lg), window)
            cross_entropy = tf.reduce_mean(ramp * ce)
            spontaneous = tf.constant(0.0)
            if protocol == "three_phase":
                if spont_steps > self.blank_steps:
                    raise ValueError(f"{self.name}.training_loss: spontaneous_steps must be ≤ blank_steps = "
                                     f"{self.blank_steps}, got {spont_steps}")
                zeros = tf.zeros_like(drive0[:1])
                _, deviations = self._phase(k, zeros, zeros, states, self.blank_steps, baseline=baseline)
                spontaneous = tf.reduce_sum(deviations[self.blank_steps - spont_steps:]) / (self.depth * spont_steps)
            total = cross_entropy + weight * spontaneous
        finally:
            self.checkpoint_every = saved
        if return_details:
            return total, {"cross_entropy": cross_entropy, "spontaneous": spontaneous, "logits": logits[-1]}
        return total

    def _accuracy(self, labels, logits):
        labels = tf.convert_to_tensor(labels)
        if labels.shape.rank == 2 and labels.shape[-1] == self.num_classes and labels.shape[-1] != 1:
            labels = tf.argmax(labels, axis=-1)
        labels = tf.reshape(tf.cast(labels, tf.int64), (-1,))
        return tf.cast(tf.equal(tf.argmax(logits, axis=-1), labels), tf.float32)

    @property
    def metrics(self):
        return [self._loss_tracker, self._accuracy_tracker]

    def train_step(self, data):
        images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, details = self.training_loss(images, labels, return_details=True)
            scaled = scale_loss_for_replicas(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(clip_after_device_sum(self.optimizer, gradients), variables)
        self._loss_tracker.update_state(loss)
        self._accuracy_tracker.update_state(self._accuracy(labels, details["logits"]))
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        loss, details = self.training_loss(images, labels, return_details=True)
        self._loss_tracker.update_state(loss)
        self._accuracy_tracker.update_state(self._accuracy(labels, details["logits"]))
        return {m.name: m.result() for m in self.metrics}

    def compile(self, optimizer="adam", jit_compile=False, **kwargs):
        """keras.Model.compile with jit_compile False unless asked (the loss comes from `training_loss`)."""
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        """Recompile a loaded model with its saved optimizer (state restored by Keras afterwards)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        config = super().get_config()
        config.update({
            "depth": self.depth,
            "num_classes": self.num_classes,
            "image_size": list(self.image_size),
            "channels": self.channels,
            "alpha": self.alpha,
            "blank_steps": self.blank_steps,
            "stimulus_steps": self.stimulus_steps,
            "readout": self.readout if isinstance(self.readout, str) else list(self.readout),
            "nonlinearity": self.nonlinearity,
            "prelu_slope": self.cell.initial_prelu_slope,
            "weight_norm": self.weight_norm,
            "protocol": self.protocol,
            "ramp_steps": self.ramp_steps,
            "ramp_log10": list(self.ramp_log10),
            "spontaneous_weight": self.spontaneous_weight,
            "spontaneous_steps": self.spontaneous_steps,
            "checkpoint_every": self.checkpoint_every,
            "jit_loop": self.jit_loop,
            "winograd_min_size": self.cell.winograd_min_size,
            "replicas": self.replicas,
            "seed": self.seed,
        })
        return config


def _builder(depth):
    def build(num_classes=1000, image_size=224, channels=3, **kwargs):
        return CordsNet(depth=depth, num_classes=num_classes, image_size=image_size, channels=channels, **kwargs)

    build.__name__ = f"cordsnet_r{depth}"
    build.__qualname__ = build.__name__
    build.__doc__ = (f"CordsNet-R{depth} ({depth} areas; spec cordsnet.md §1.4): `CordsNet(depth={depth}, ...)`.\n\n"
                     f"    Example:\n"
                     f"        >>> import ndnx\n"
                     f"        >>> ndnx.models.cordsnet_r{depth}(num_classes=10, image_size=28, channels=1).depth\n"
                     f"        {depth}\n")
    return build


cordsnet_r2 = _builder(2)
cordsnet_r4 = _builder(4)
cordsnet_r6 = _builder(6)
cordsnet_r8 = _builder(8)
