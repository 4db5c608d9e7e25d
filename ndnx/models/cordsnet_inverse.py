"""Step 2 of CordsNet's pipeline, "inverse": fit each area's recurrence so its fixed point is the CNN's block.

Spec cordsnet.md §3 step 2 (Soo, Battista, Radmard, Wang, NeurIPS 2024). A linear area
r' = (1 − α) r + α (W_rec r + b + W1 h) with h held has the fixed point r* = (I − W_rec)⁻¹ (b + W1 h);
the folded CNN's block gives z = W2 (W1 h + a) + c. Matching them needs (I − W_rec)⁻¹ ≈ W2, i.e.
W_rec ≈ I − W2⁻¹, which is not a 3×3 convolution, so it is fitted: the inverse is the 4-term
Neumann series

    s = Σ_{k=0..3} W_rec^k (b + W1 h)          (3 fixed-point iterations from b + W1 h)

and each area minimises  mean((z − s)²) + 10 · mean((W_rec³ (b + W1 h))²);  the tail term keeps the
truncated remainder small, which keeps the recurrence contracting on the data. h and z are
teacher-forced from the frozen folded CNN on the training images; areas are independent (the
loss is their sum and no parameter is shared); only W_rec (weight-normed g, v) and b train.
The original trains with AdamW lr 1e-4 and gradient-norm clipping 1e-3 (`inverse_optimizer`).

`objective="residual"` fits the fixed-point equation itself instead of its truncated series,

    mean((z − (W_rec z + b + W1 h))²)      (plus tail_weight × the same tail term),

which vanishes exactly when z is the area's fixed point. It needs no spectral radius below 1 (only
Euler stability, |1 − α + αλ| < 1): a block whose W2 shrinks its input (BN scales below 1 make
W_rec ≈ I − W2⁻¹ have eigenvalues below −1) has no convergent Neumann series, yet a stable
recurrent area reproduces it.

Initial values (`init`): "first_order" (default) expands W2 around its centre tap K_c (a C×C
matrix) with the off-centre taps N as a perturbation: W2⁻¹ ≈ K_c⁻¹ − K_c⁻¹ N K_c⁻¹, so

    W_rec ≈ I − K_c⁻¹ (centre tap) + K_c⁻¹ N_ab K_c⁻¹ (tap ab),

exact when W2 is a 1×1 convolution (spec §8.3 test 2); "random": v ~ N(0, 2/fan_in) from the seed
with g = `init_gain`·‖v‖ (a weak recurrence). Either way b = (I − W_rec)(W2 a + c), the bias that is
exact for the series' limit at h = 0.
"""

import keras
import numpy as np
from keras import ops

from ndnx.losses.distribution import clip_after_device_sum, scale_loss_for_replicas
from ndnx.models.cordsnet_cnn import area_channels, area_sizes, check_architecture
from ndnx.models.cordsnet_folding import conv_map, effective_kernel, folded_cnn_activations
from ndnx.registry import register

__all__ = ["CordsNetInverse", "inverse_optimizer", "folded_names", "first_order_inverse"]


def folded_names(depth, num_classes, channels):
    """{canonical name: shape} of the frozen folded CNN, without the bias maps (their sizes need the image)."""
    c = area_channels(depth)
    shapes = {"stem/g": (64,), "stem/v": (7, 7, channels, 64), "inp_skip/g": (64,), "inp_skip/v": (3, 3, 64, 64)}
    for j in range(depth):
        c_in = 64 if j == 0 else c[j - 1]
        shapes.update({f"area{j}/ff/g": (c[j],), f"area{j}/ff/v": (3, 3, c_in, c[j]),
                       f"area{j}/rec/g": (c[j],), f"area{j}/rec/v": (3, 3, c[j], c[j])})
    for k in range(depth // 2 - 1):
        cs = c[2 * k + 1]
        shapes.update({f"skip{k}/g": (2 * cs,), f"skip{k}/v": (1, 1, cs, 2 * cs)})
    shapes.update({"readout/g": (num_classes,), "readout/v": (c[-1], num_classes), "readout/bias": (num_classes,)})
    return shapes


def _key(name):
    return name.replace("/", "__")  # Keras variable names cannot hold "/"


@register("layer")
class CordsNetInverse(keras.Model):
    """The frozen folded CNN and each area's trainable recurrence, fitted by the Neumann loss (step 2).

    `call(images)` gives the logits of the CNN whose blocks are replaced by the 4-term series,
    x_j = ReLU(Σ_k W_rec^k (b + W1 h_j)) — the linear CordsNet's fixed point up to the truncation
    (objective "residual": by Euler steps);
    `train_step` / `test_step` fit and score the teacher-forced per-area loss (module docstring) and
    report `loss`, `fit_error` (Σ_j mean((z − s)²)) and `tail` (Σ_j mean((W_rec³ u)²)).

    Args:
        depth, num_classes, image_size, channels: the architecture (as `CordsNetCNN`).
        neumann_terms: terms of the series (4).
        tail_weight: weight of the tail penalty (10).
        objective: "neumann" (the original's series fit) or "residual" (the fixed-point equation).
        settle_steps: with "residual", `call` finds each area's fixed point by this many Euler steps
            (α = 0.2) instead of the series.
        init: "first_order" or "random" initial W_rec (module docstring), set by `set_folded`.
        init_gain: with init "random", ‖W_rec‖ per output channel relative to a N(0, 2/fan_in) kernel.
        replicas: must be None (the model is not replicated).
        seed: seed of the initial recurrent kernels.

    Example:
        >>> import numpy as np
        >>> from ndnx.models.cordsnet_cnn import CordsNetCNN
        >>> from ndnx.models.cordsnet_folding import fold_batch_norm
        >>> from ndnx.models.cordsnet_inverse import CordsNetInverse
        >>> inverse = CordsNetInverse(depth=2, num_classes=10, image_size=16, channels=1, seed=0)
        >>> inverse.set_folded(fold_batch_norm(CordsNetCNN(2, 10, 16, 1, seed=0).get_parameters(), 16))
        >>> tuple(inverse(np.zeros((1, 16, 16, 1), "float32")).shape), inverse.get_parameters()["area1/bias"].shape
        ((1, 10), (4, 4, 64))
    """

    def __init__(self, depth=2, num_classes=10, image_size=28, channels=1, neumann_terms=4, tail_weight=10.0,
                 objective="neumann", settle_steps=60, init="first_order", init_gain=0.1, replicas=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if replicas is not None:
            raise ValueError(f"CordsNetInverse: replicas must be None (one seed per model), got {replicas!r}")
        self.replicas = None
        check_architecture("CordsNetInverse", depth, num_classes, image_size, channels)
        if isinstance(neumann_terms, bool) or not isinstance(neumann_terms, int) or neumann_terms < 1:
            raise ValueError(f"CordsNetInverse: neumann_terms must be an integer >= 1, got {neumann_terms!r}")
        for name, value in (("tail_weight", tail_weight), ("init_gain", init_gain)):
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
                    and value >= 0):
                raise ValueError(f"CordsNetInverse: {name} must be a finite number >= 0, got {value!r}")
        if init not in ("first_order", "random"):
            raise ValueError(f"CordsNetInverse: init must be 'first_order' or 'random', got {init!r}")
        self.init = init
        if objective not in ("neumann", "residual"):
            raise ValueError(f"CordsNetInverse: objective must be 'neumann' or 'residual', got {objective!r}")
        self.objective = objective
        self.settle_steps = int(settle_steps)
        self.depth, self.num_classes = int(depth), int(num_classes)
        self.image_size, self.channels = int(image_size), int(channels)
        self.neumann_terms, self.tail_weight = int(neumann_terms), float(tail_weight)
        self.init_gain, self.seed = float(init_gain), seed
        sizes, c = area_sizes(self.image_size, self.depth), area_channels(self.depth)
        shapes = folded_names(self.depth, self.num_classes, self.channels)
        shapes.update({f"area{j}/ff_bias": (*sizes[j], c[j]) for j in range(self.depth)})
        shapes.update({f"area{j}/bias": (*sizes[j], c[j]) for j in range(self.depth)})
        # ones (not zeros) until set_folded: a g·v/‖v‖ kernel of v = 0 would be 0/0
        self.frozen = {name: self.add_weight(shape=shape, initializer="zeros" if name.endswith("bias") else "ones",
                                             trainable=False, name=f"cnn__{_key(name)}")
                       for name, shape in shapes.items()}
        self.rec_g, self.rec_v, self.bias = [], [], []
        for j in range(self.depth):
            fan_in = 9 * c[j]
            init = keras.initializers.RandomNormal(0.0, float(np.sqrt(2.0 / fan_in)),
                                                   seed=None if seed is None else int(seed) * 100 + j)
            v = self.add_weight(shape=(3, 3, c[j], c[j]), initializer=init, name=f"area{j}__rec__v")
            g = self.add_weight(shape=(c[j],), initializer="ones", name=f"area{j}__rec__g")
            g.assign(self.init_gain * ops.sqrt(ops.sum(ops.square(v), axis=(0, 1, 2))))
            self.rec_v.append(v)
            self.rec_g.append(g)
            self.bias.append(self.add_weight(shape=(*sizes[j], c[j]), initializer="zeros", name=f"area{j}__bias"))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.fit_tracker = keras.metrics.Mean(name="fit_error")
        self.tail_tracker = keras.metrics.Mean(name="tail")
        self.built = True

    # --- parameters ------------------------------------------------------------------------------------

    def set_folded(self, folded, initialise=True):
        """Load the folded CNN (`fold_batch_norm`'s dict); with `initialise`, set W_rec (`init`) and
        b = (I − W_rec)(W2 a + c)."""
        missing = sorted(set(self.frozen) - set(folded))
        if missing:
            raise ValueError(f"CordsNetInverse.set_folded: the folded dict lacks {missing[:4]}")
        for name, variable in self.frozen.items():
            value = np.asarray(folded[name], "float32")
            if value.shape != tuple(variable.shape):
                raise ValueError(f"CordsNetInverse.set_folded: {name} must have shape {tuple(variable.shape)}, "
                                 f"got {value.shape}")
            variable.assign(value)
        if initialise:
            for j in range(self.depth):
                w2 = effective_kernel(folded[f"area{j}/rec/g"], folded[f"area{j}/rec/v"])
                if self.init == "first_order":
                    w = first_order_inverse(w2)
                    self.rec_v[j].assign(w.astype("float32"))
                    self.rec_g[j].assign(np.sqrt(np.sum(w ** 2, axis=(0, 1, 2))).astype("float32"))
                constant = conv_map(folded[f"area{j}/ff_bias"], w2) + folded[f"area{j}/bias"]
                w_rec = effective_kernel(self.rec_g[j].numpy(), self.rec_v[j].numpy())
                self.bias[j].assign((constant - conv_map(constant, w_rec)).astype("float32"))

    def solve_residual(self, images, batch_size=250, ridge=1e-6):
        """Set every area's W_rec and b to the least-squares minimum of the residual objective.

        mean((z − W_rec z − b − W1 h)²) is linear in (W_rec, b): with φ the 3×3 patches of z (9C
        features) and t = z − W1 h, per-position centring removes b, W_rec solves the 9C × 9C normal
        equations (ridge × their mean diagonal added), and b = mean_p(t) − mean_p(φ) W_rec. Exact for
        the given images; float64 sums over batches of `batch_size`.
        """
        import tensorflow as tf

        images = np.asarray(images, "float32")
        sums = None
        for start in range(0, len(images), batch_size):
            _, areas = folded_cnn_activations(self.frozen, images[start:start + batch_size], self.depth)
            if sums is None:
                sums = [dict(n=0, phi=0.0, t=0.0, pp=0.0, pt=0.0) for _ in areas]
            for j, (h, z) in enumerate(areas):
                c = int(z.shape[-1])
                phi = tf.image.extract_patches(z, [1, 3, 3, 1], [1, 1, 1, 1], [1, 1, 1, 1], "SAME").numpy()
                t = (z - self._ff(j, h)).numpy()
                acc = sums[j]
                acc["n"] += len(phi)
                acc["phi"] = acc["phi"] + phi.astype("float64").sum(0)
                acc["t"] = acc["t"] + t.astype("float64").sum(0)
                flat_phi, flat_t = phi.reshape(-1, 9 * c).astype("float64"), t.reshape(-1, c).astype("float64")
                acc["pp"] = acc["pp"] + flat_phi.T @ flat_phi
                acc["pt"] = acc["pt"] + flat_phi.T @ flat_t
        for j, acc in enumerate(sums):
            n, c = acc["n"], int(self.bias[j].shape[-1])
            mean_phi, mean_t = acc["phi"] / n, acc["t"] / n  # (H, W, 9C), (H, W, C)
            flat_mp, flat_mt = mean_phi.reshape(-1, 9 * c), mean_t.reshape(-1, c)
            gram = acc["pp"] - n * flat_mp.T @ flat_mp
            cross = acc["pt"] - n * flat_mp.T @ flat_mt
            gram += ridge * np.mean(np.diag(gram)) * np.eye(9 * c)
            w = np.linalg.solve(gram, cross)
            self.rec_v[j].assign(w.reshape(3, 3, c, c).astype("float32"))
            self.rec_g[j].assign(np.sqrt(np.sum(w ** 2, axis=0)).astype("float32"))
            self.bias[j].assign((mean_t - (flat_mp @ w).reshape(mean_t.shape)).astype("float32"))

    def rec_kernel(self, j):
        v = self.rec_v[j]
        return self.rec_g[j] * v / ops.sqrt(ops.sum(ops.square(v), axis=(0, 1, 2), keepdims=True))

    def get_parameters(self):
        """The canonical CordsNet dict: the CNN's stem, inp_skip, ff, skips and readout; the fitted rec and bias."""
        out = {name: np.asarray(v.numpy()) for name, v in self.frozen.items()
               if not name.endswith("bias") or name == "readout/bias"}
        for name in [n for n in out if n.startswith("area") and "/rec/" in n]:
            del out[name]
        for j in range(self.depth):
            out[f"area{j}/rec/g"] = np.asarray(self.rec_g[j].numpy())
            out[f"area{j}/rec/v"] = np.asarray(self.rec_v[j].numpy())
            out[f"area{j}/bias"] = np.asarray(self.bias[j].numpy())
        return out

    # --- the series ---------------------------------------------------------------------------------

    def _series(self, j, drive):
        """(s, tail): Σ_{k<K} W^k u and W^{K−1} u for u = b_j + drive."""
        kernel = self.rec_kernel(j)
        term = self.bias[j] + drive
        total = term
        for _ in range(self.neumann_terms - 1):
            term = ops.conv(term, kernel, strides=1, padding="same")
            total = total + term
        return total, term

    def _settle(self, j, drive):
        """The area's fixed point: the series (neumann), or `settle_steps` Euler steps at α = 0.2 from 0."""
        if self.objective == "neumann":
            return self._series(j, drive)[0]
        kernel, u, r = self.rec_kernel(j), self.bias[j] + drive, ops.zeros_like(drive)
        for _ in range(self.settle_steps):
            r = 0.8 * r + 0.2 * (ops.conv(r, kernel, 1, "same") + u)
        return r

    def _ff(self, j, h):
        g, v = self.frozen[f"area{j}/ff/g"], self.frozen[f"area{j}/ff/v"]
        kernel = g * v / ops.sqrt(ops.sum(ops.square(v), axis=(0, 1, 2), keepdims=True))
        if j >= 2 and j % 2 == 0:
            return ops.conv(ops.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0))), kernel, strides=2, padding="valid")
        return ops.conv(h, kernel, strides=1, padding="same")

    def area_losses(self, images):
        """(loss, fit_error, tail) summed over areas, with h and z teacher-forced from the folded CNN."""
        _, areas = folded_cnn_activations(self.frozen, images, self.depth)
        fit, tail = 0.0, 0.0
        for j, (h, z) in enumerate(areas):
            drive, z = self._ff(j, ops.stop_gradient(h)), ops.stop_gradient(z)
            if self.objective == "residual":
                fit = fit + ops.mean(ops.square(z - ops.conv(z, self.rec_kernel(j), 1, "same") - self.bias[j] - drive))
                if self.tail_weight:
                    tail = tail + ops.mean(ops.square(self._series(j, drive)[1]))
                continue
            s, last = self._series(j, drive)
            fit = fit + ops.mean(ops.square(z - s))
            tail = tail + ops.mean(ops.square(last))
        return fit + self.tail_weight * tail, fit, tail

    def call(self, images, training=False):
        p = self.frozen
        stem = ops.conv(ops.pad(images, ((0, 0), (3, 3), (3, 3), (0, 0))), _wn(p, "stem"), strides=2,
                        padding="valid")
        inp = ops.average_pool(ops.pad(stem, ((0, 0), (1, 1), (1, 1), (0, 0))), 3, 2, padding="valid")
        x = []
        for j in range(self.depth):
            if j == 0:
                h = inp
            elif j == 1:
                h = x[0] + ops.conv(inp, _wn(p, "inp_skip"), strides=1, padding="same")
            elif j % 2 == 0:
                h = x[j - 1] + x[j - 2]
            else:
                h = x[j - 1] + ops.conv(x[j - 2], _wn(p, f"skip{(j - 3) // 2}"), strides=2, padding="valid")
            x.append(ops.relu(self._settle(j, self._ff(j, h))))
        return ops.matmul(ops.mean(x[-1] + x[-2], axis=(1, 2)), _wn(p, "readout")) + p["readout/bias"]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    # --- training ---------------------------------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker, self.fit_tracker, self.tail_tracker]

    def _record(self, loss, fit, tail):
        self.loss_tracker.update_state(loss)
        self.fit_tracker.update_state(fit)
        self.tail_tracker.update_state(tail)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        import tensorflow as tf

        images = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            loss, fit, tail = self.area_losses(images)
            scaled = scale_loss_for_replicas(loss)
        variables = self.trainable_variables
        gradients = clip_after_device_sum(self.optimizer, tape.gradient(scaled, variables))
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._record(loss, fit, tail)

    def test_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        return self._record(*self.area_losses(images))

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, "num_classes": self.num_classes,
                "image_size": self.image_size, "channels": self.channels, "neumann_terms": self.neumann_terms,
                "tail_weight": self.tail_weight, "objective": self.objective, "settle_steps": self.settle_steps,
                "init": self.init, "init_gain": self.init_gain, "replicas": None, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def first_order_inverse(w2):
    """I − W2⁻¹ to first order in W2's off-centre taps: a 3×3 kernel (Keras layout, x ↦ x @ K[a, b])."""
    k = w2.shape[0] // 2
    inv = np.linalg.inv(np.asarray(w2[k, k], "float64"))
    w = np.einsum("ij,abjk,kl->abil", inv, np.asarray(w2, "float64"), inv)
    w[k, k] = np.eye(inv.shape[0]) - inv
    return w


def _wn(p, name):
    g, v = p[f"{name}/g"], p[f"{name}/v"]
    axes = tuple(range(len(v.shape) - 1))
    return g * v / ops.sqrt(ops.sum(ops.square(v), axis=axes, keepdims=True))


def inverse_optimizer(learning_rate=1e-4, clipnorm=1e-3, weight_decay=0.01):
    """AdamW (lr 1e-4) with the gradient's global norm clipped at 1e-3 — the original's step-2 settings."""
    return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, global_clipnorm=clipnorm)
