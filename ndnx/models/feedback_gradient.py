"""A hand-written backward pass for a whole TBPTT window of a modulated cell (the fast training path).

Autodiff of `FeedbackNetwork.run`'s `tf.while_loop` differentiates every step op by op and
accumulates the weight gradients inside the reverse loop, one small (inputs × 4H) outer product
per step. Here the window is one `tf.custom_gradient` function. The forward loop keeps, per step,
h_t, y_t, the modulation, the feedback and one row of the step's local derivatives
[g·i(1−i), c_{t−1}·f(1−f), i(1−g²), tanh c_t·o(1−o), f, o(1−tanh² c_t)], so the reverse step is a
few multiply-adds, with no transcendental and no gate slicing. The reverse loop carries only the
state gradients (δh, δc, δM); it runs in chunks of about 25 steps, and after each chunk the
modulator's weight gradients are gathered in one matmul over the chunk's batch × time rows,
δ[K; R] += Σ_t [u_t, h_{t−1}]ᵀ δz_t (a ((I + H) × 25·B) @ (25·B × 4H) product whose rows are still
in cache). The input columns u_t are rebuilt from x and y after the loop; the readout's gradient
Σ_t h_tᵀ δO_t is one matmul over the window. The pathway (`feedforward`, `update` of the cell) is
small and is differentiated per step by a local tape, so every `ModulatedCell` that keeps the base
class's step order is covered.

XLA:CPU makes each expensive value with several users, and each concatenation of 128 or more
along the last axis, a kernel of its own, at about half a microsecond of fixed cost per kernel and
step; the step is written so that these are few (one kernel for all four gates, with
σ(z) = (1 + tanh(z/2)) / 2; the feedback's δO W_outᵀ by `ndnx.cells.replica_matvec`).

Backward of one step t, with M_t = update(M_{t−1}, O_t), O_t = h_t W_out + b_out,
y_t = feedforward(x_t, M_{t−1}), u_t = [x_t, y_t] (or x_t, or y_t):

    δM_{t−1}, δO_t  ← vjp of update at δM_t;        δO_t += δO_t(record);
    δh_t = δh_t(next) + δO_t W_outᵀ;   δc_t = δc_t(next) + δh_t ⊙ o ⊙ (1 − tanh² c_t);
    δz_t = [δc ⊙ g ⊙ i(1−i), δc ⊙ c_{t−1} ⊙ f(1−f), δc ⊙ i ⊙ (1−g²), δh ⊙ tanh c_t ⊙ o(1−o)];
    [δu_t, δh_{t−1}] = δz_t [K; R]ᵀ;   δc_{t−1} = δc_t ⊙ f;
    δy_t = δy_t(loss) + δu_t's y part;   δM_{t−1} += vjp of feedforward at δy_t.

The inputs x get no gradient (they are data), and the feedback-freezing mask is not supported
(training never freezes): `FeedbackNetwork` uses autodiff for those.
"""

import tensorflow as tf

from ndnx.cells.replica_matvec import replica_matvec

__all__ = ["fast_window", "supports_fast_gradient"]


def supports_fast_gradient(cell):
    """Whether the cell's step is `ModulatedCell.step`'s order (with extra records at most).

    `DirectDemixCell` (its own step: the LSTM's output is y) is not covered.

    Example:
        >>> import ndnx
        >>> supports_fast_gradient(ndnx.cells.SpatialNetCell(hidden_units=4, seed=0))
        True
        >>> supports_fast_gradient(ndnx.cells.DirectDemixCell(hidden_units=4, seed=0))
        False
    """
    return bool(getattr(cell, "standard_step", False))


def _lstm_gates(stacked, bias, u, h):
    """The pre-activations of the modulator's LSTM as `FeedbackModulator.step` computes them."""
    if stacked.shape[0] == 1:  # the lone cell's plain matmul, as FeedbackModulator.step
        return tf.matmul(tf.concat([u[:, 0], h[:, 0]], axis=-1), stacked[0])[:, None] + bias[None]
    return tf.einsum("bri,rij->brj", tf.concat([u, h], axis=-1), stacked) + bias[None]


def _readout(h, out_kernel, out_bias):
    if out_kernel.shape[0] == 1:
        return (tf.matmul(h[:, 0], out_kernel[0]) + out_bias)[:, None]
    return tf.einsum("brh,rho->bro", h, out_kernel) + out_bias[None]


def _times(a, w):
    """a (batch, R, j) @ w (R, j, i) → (batch, R, i)."""
    if w.shape[0] == 1:
        return tf.matmul(a[:, 0], w[0])[:, None]
    return tf.einsum("brj,rji->bri", a, w)


def _rows_product(a, b):
    """Σ over every leading row of a (…, R, i) and b (…, R, j): (R, i, j), one large matmul per replica."""
    replicas = a.shape[-2]
    a = tf.reshape(a, (-1, replicas, a.shape[-1]))
    b = tf.reshape(b, (-1, replicas, b.shape[-1]))
    if replicas == 1:
        return tf.matmul(a[:, 0], b[:, 0], transpose_a=True)[None]
    return tf.matmul(tf.transpose(a, (1, 2, 0)), tf.transpose(b, (1, 0, 2)))


def _chunk_length(steps):
    """The reverse loop's chunk: the divisor of `steps` in [8, 64] nearest 25 (rows that stay in cache), else all."""
    divisors = [d for d in range(min(8, steps), min(64, steps) + 1) if steps % d == 0]
    return min(divisors, key=lambda d: abs(d - 25)) if divisors else steps


def _vjp(function, primals, cotangents):
    """Gradients of Σ cotangent · function(primals) with respect to each primal (zeros where unconnected)."""
    with tf.GradientTape() as tape:
        tape.watch(primals)
        outputs = function(*primals)
    return tape.gradient(outputs, primals, output_gradients=cotangents,
                         unconnected_gradients=tf.UnconnectedGradients.ZERO)


def fast_window(cell, xs, states, modulator_weights, pathway_weights, record_feedback=False,
                pathway_gradients=True):
    """Run a `ModulatedCell` over xs (time, batch, R, sensors) from `states` with a hand-written gradient.

    Returns (ys (time, batch, R, sources), final states, feedback (time, batch, R, outputs) or None),
    the same numbers as `FeedbackNetwork.run`'s loop. Gradients flow to the states, the modulator
    weights (`FeedbackModulator._weights_with_axis()`) and, with `pathway_gradients`, the pathway
    weights (accumulated per step; without it they get none, which saves the fixed matrices' work).
    """
    steps = xs.shape[0]
    if steps is None:
        raise ValueError("fast_window: the window length must be static (got an unknown number of steps)")
    hidden = cell.hidden_units
    n_states, n_modulator = len(states), len(modulator_weights)
    sensors = cell.sensors

    def split(flat):
        states = list(flat[:n_states])
        modulator = list(flat[n_states:n_states + n_modulator])
        return states, modulator, tuple(flat[n_states + n_modulator:])

    def modulator_input(x, y):
        return {"xy": lambda: tf.concat([x, y], axis=-1), "x": lambda: x, "y": lambda: y}[cell.input_to_net]()

    @tf.custom_gradient
    def window(xs, *flat):
        (h0, c0, *m0), (stacked, bias, out_kernel, out_bias), pathway = split(flat)
        dtype = xs.dtype
        names = ("y", "local", "h", "feedback") + tuple(f"m{k}" for k in range(len(m0)))
        arrays = {name: tf.TensorArray(dtype, size=steps) for name in names}
        gate_scale = tf.constant([0.5] * (2 * hidden) + [1.0] * hidden + [0.5] * hidden, dtype)

        def body(t, h, c, modulation, arrays):
            x = xs[t]
            y, _ = cell.feedforward(x, modulation, pathway)
            u = modulator_input(x, y)
            # all four gates in one kernel: σ(z) = (1 + tanh(z/2)) / 2 on the i, f, o blocks
            z = _lstm_gates(stacked, bias, u, h)
            i, f, g, o = tf.split(tf.tanh(z * gate_scale) * gate_scale + (1.0 - gate_scale), 4, axis=-1)
            c_new = f * c + i * g
            tanh_c = tf.tanh(c_new)
            h = o * tanh_c
            feedback = _readout(h, out_kernel, out_bias)
            new = cell.update(modulation, feedback, pathway)
            # the step's local derivatives, one row, so that the reverse step is a few multiply-adds with
            # no transcendental: δz = [δc, δc, δc, δh] ⊙ slopes, δc += δh ⊙ o(1 − tanh² c), δc_{t−1} = δc ⊙ f
            local = tf.concat([g * i * (1.0 - i), c * f * (1.0 - f), i * (1.0 - tf.square(g)),
                               tanh_c * o * (1.0 - o), f, o * (1.0 - tf.square(tanh_c))], axis=-1)
            records = {"y": y, "local": local, "h": h, "feedback": feedback,
                       **{f"m{k}": m for k, m in enumerate(new)}}
            c = c_new
            return t + 1, h, c, list(new), {k: a.write(t, records[k]) for k, a in arrays.items()}

        _, h, c, modulation, arrays = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), h0, c0, list(m0), arrays), maximum_iterations=steps)
        stored = {k: a.stack() for k, a in arrays.items()}
        # the state each step starts from: the initial state, then the stored ones shifted by a step
        before = {k: tf.concat([first[None], stored[k][:-1]], axis=0)
                  for k, first in [("h", h0)] + [(f"m{k}", m) for k, m in enumerate(m0)]}
        outputs = (stored["y"], h, c, *modulation) + ((stored["feedback"],) if record_feedback else ())

        def grad(dys, dh, dc, *rest):
            dms, dfeedback = (rest[:-1], rest[-1]) if record_feedback else (rest, None)

            def zero_if_none(d, like):
                return tf.zeros_like(like) if d is None else d

            dys = zero_if_none(dys, stored["y"])
            dh, dc = zero_if_none(dh, h0), zero_if_none(dc, c0)
            dms = [zero_if_none(d, m) for d, m in zip(dms, m0)]
            if record_feedback:
                dfeedback = zero_if_none(dfeedback, stored["feedback"])
            zero_pathway = [tf.zeros_like(w) for w in pathway] if pathway_gradients else []
            wrt_pathway = pathway if pathway_gradients else ()

            stacked_t = tf.transpose(stacked, (0, 2, 1))

            def reverse(t, dh, dc, dms, dpathway):
                previous = [before[f"m{j}"][t] for j in range(len(m0))]
                feedback = stored["feedback"][t]
                # M_t = update(M_{t−1}, O_t)
                dms_prev, dfb, dpath_update = _vjp(lambda m, o, w: cell.update(list(m), o, w or pathway),
                                                   (previous, feedback, wrt_pathway), list(dms))
                if record_feedback:
                    dfb = dfb + dfeedback[t]
                dh = dh + replica_matvec(out_kernel, dfb)  # δO W_outᵀ, fused for a small W_out
                local = stored["local"][t]
                dc = dc + dh * local[..., 5 * hidden:]
                dz = tf.concat([dc, dc, dc, dh], axis=-1) * local[..., :4 * hidden]
                duh = _times(dz, stacked_t)
                du, dh_prev = duh[..., :-hidden], duh[..., -hidden:]
                dy = dys[t] + {"xy": lambda: du[..., sensors:], "y": lambda: du,
                               "x": lambda: tf.zeros_like(dys[t])}[cell.input_to_net]()
                # y_t = feedforward(x_t, M_{t−1})
                dms_ff, dpath_ff = _vjp(lambda m, w: cell.feedforward(xs[t], list(m), w or pathway)[0],
                                        (previous, wrt_pathway), dy)
                dms_prev = [a + b for a, b in zip(dms_prev, dms_ff)]
                dpathway = [d + a + b for d, a, b in zip(dpathway, dpath_update, dpath_ff)]
                return dh_prev, dc * local[..., 4 * hidden:5 * hidden], dms_prev, dpathway, dz, dfb

            # The weight gradients are gathered chunk by chunk of the reverse loop, e.g.
            # δ[K; R] += Σ_{t in chunk} [u_t, h_{t−1}]ᵀ δz_t as one (I + H) × (chunk · batch) matmul, so
            # δz never fills a whole-window array: a chunk's rows stay in cache for their matmul.
            chunk = _chunk_length(steps)
            rows = tf.concat([modulator_input(xs, stored["y"]), before["h"]], axis=-1)

            def window_rows(array, start):
                return tf.slice(array, [start] + [0] * (len(array.shape) - 1),
                                tf.concat([[chunk], tf.shape(array)[1:]], axis=0))

            def reverse_chunk(n, dh, dc, dms, dpathway, dfbs, gradients):
                end = steps - n * chunk

                def step(j, dh, dc, dms, dpathway, dzs, dfbs):
                    t = end - 1 - j
                    dh, dc, dms, dpathway, dz, dfb = reverse(t, dh, dc, dms, dpathway)
                    return j + 1, dh, dc, dms, dpathway, dzs.write(chunk - 1 - j, dz), dfbs.write(t, dfb)

                _, dh, dc, dms, dpathway, dzs, dfbs = tf.while_loop(
                    lambda j, *_: j < chunk, step,
                    (tf.constant(0), dh, dc, dms, dpathway, tf.TensorArray(dtype, size=chunk), dfbs),
                    maximum_iterations=chunk)
                dz = dzs.stack()
                dstacked, dbias = gradients
                gradients = (dstacked + _rows_product(window_rows(rows, end - chunk), dz),
                             dbias + tf.reduce_sum(tf.reshape(dz, (-1,) + tuple(dz.shape[-2:])), axis=0))
                return n + 1, dh, dc, dms, dpathway, dfbs, gradients

            chunks = steps // chunk
            zero_gradients = (tf.zeros_like(stacked), tf.zeros_like(bias))
            _, dh0, dc0, dm0, dpathway, dfbs, (dstacked, dbias) = tf.while_loop(
                lambda n, *_: n < chunks, reverse_chunk,
                (tf.constant(0), dh, dc, dms, zero_pathway, tf.TensorArray(dtype, size=steps), zero_gradients),
                maximum_iterations=chunks)
            # the readout's (H × outputs) gradient is small: one matmul over the whole window
            dfb = dfbs.stack()
            dout_kernel = _rows_product(stored["h"], dfb)
            dout_bias = tf.reduce_sum(tf.reshape(dfb, (-1,) + tuple(dfb.shape[-2:])), axis=0)
            return (None, dh0, dc0, *dm0, dstacked, dbias, dout_kernel, dout_bias,
                    *(dpathway if pathway_gradients else [None] * len(pathway)))

        return outputs, grad

    outputs = window(xs, *states, *modulator_weights, *pathway_weights)
    ys, final = outputs[0], list(outputs[1:1 + n_states])
    return ys, final, (outputs[-1] if record_feedback else None)
