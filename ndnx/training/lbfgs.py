"""Full-batch L-BFGS fitting: NDN3's `learning_alg='lbfgs'`, and a polish after Adam.

NDN3 fitted with `tf.contrib.opt.ScipyOptimizerInterface` (SciPy's L-BFGS-B on the whole training
set: maxiter 500, gtol 1e-5, ftol 2.22e-9; spec v1_system_identification.md §5.1). `fit_lbfgs` does
the same on a Keras model: the objective is the model's compiled loss on every training row plus
its penalties (`model.compute_loss`), evaluated in inference mode so that it is deterministic
(L-BFGS's line search needs one function, not a noisy estimate; dropout, input noise and sampled
readout positions are off). A replicated model is fitted as one problem: its seeds do not
interact, so the joint optimum is every seed's optimum.

Keras constraints become L-BFGS-B bounds. A constraint that is a projection onto a box
(`ndnx.constraints.NonNegative`, `SignMask`, `keras.constraints.NonNeg`) is read off by projecting
±∞; any other constraint cannot be expressed and raises.

Layers with `trainable = False` stay fixed (NDN3's `fit_variables` / partial fit).
"""

import numpy as np
import scipy.optimize
import tensorflow as tf

__all__ = ["fit_lbfgs", "box_bounds"]

_BIG = 1e30


def box_bounds(variable):
    """(lower, upper) arrays of `variable`'s constraint as a box, or None when unconstrained.

    Raises ValueError when the constraint is not a projection onto a box.
    """
    constraint = getattr(variable, "constraint", None)
    if constraint is None:
        return None
    shape = tuple(variable.shape)
    lower = np.asarray(constraint(tf.fill(shape, tf.constant(-_BIG, variable.dtype))), "float64")
    upper = np.asarray(constraint(tf.fill(shape, tf.constant(_BIG, variable.dtype))), "float64")
    probe = np.random.default_rng(0).normal(0.0, 1.0, shape)
    projected = np.asarray(constraint(tf.constant(probe, variable.dtype)), "float64")
    if not np.allclose(projected, np.clip(probe, lower, upper), atol=1e-6):
        raise ValueError(
            f"fit_lbfgs: the constraint {type(constraint).__name__} of {variable.path} is not a box "
            "(lower/upper bounds per weight), which is all L-BFGS-B can enforce")
    lower = np.where(lower <= -_BIG / 2, -np.inf, lower)
    upper = np.where(upper >= _BIG / 2, np.inf, upper)
    return lower, upper


def _chunks(num_rows, batch_size):
    size = num_rows if batch_size is None else max(1, min(int(batch_size), num_rows))
    return [(start, min(start + size, num_rows)) for start in range(0, num_rows, size)]


def fit_lbfgs(model, x, y, sample_weight=None, *, maxiter=500, gtol=1e-5, ftol=2.22e-9, maxcor=10,
              batch_size=None, jit_compile=False, callback=None, rounds=1):
    """Minimise the compiled loss plus penalties of `model` over all of (x, y) with L-BFGS-B.

    The defaults are NDN3's. The compiled loss must average over rows (the Keras default and
    every ndnx loss); with `batch_size` the rows are taken in chunks of that size, each chunk's
    data loss weighted by its share of the rows, so memory stays bounded and the objective
    is the full-batch one.

    Args:
        model: a compiled Keras model with a supervised loss.
        x, y: the training inputs and targets (arrays or nested structures of arrays).
        sample_weight: optional per-row weights, passed to the loss.
        maxiter, gtol, ftol, maxcor: SciPy L-BFGS-B options (NDN3: 500, 1e-5, 2.22e-9, 10).
        batch_size: rows per chunk of the objective (None: all at once).
        jit_compile: XLA-compile the objective and its gradient.
        callback: optional f(iteration, loss) after every L-BFGS iteration (the loss of the
            last point evaluated, normally the accepted one).
        rounds: run L-BFGS-B up to this many times in a row, each from where the last one
            stopped (with a fresh curvature memory), `maxiter` iterations each, until a round no
            longer lowers the objective by a relative `ftol`. The original HSM fit ran its
            bounded optimiser 100 times this way; on a float32 objective a single run often stops
            early, when rounding makes one line search's gain look negligible.

    Returns:
        dict: "loss" (final objective), "initial_loss", "iterations", "evaluations",
        "converged" (SciPy's success flag) and "message".

    Example:
        >>> import numpy as np, keras, ndnx
        >>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
        >>> y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(loss="mse")
        >>> round(ndnx.training.fit_lbfgs(model, x, y)["loss"], 6)
        0.0
    """
    if getattr(model, "_compile_loss", None) is None:
        raise ValueError(f"fit_lbfgs: {model.name} has no compiled loss; compile it with a loss first")
    variables = list(model.trainable_variables)
    if not variables:
        raise ValueError(f"fit_lbfgs: {model.name} has no trainable weights (every layer frozen?)")
    rows = {int(np.shape(a)[0]) for a in tf.nest.flatten((x, y))}
    if len(rows) != 1:
        raise ValueError(f"fit_lbfgs: inputs and targets must have the same number of rows, got {sorted(rows)}")
    num_rows = rows.pop()
    data = tf.nest.map_structure(tf.convert_to_tensor, (x, y))
    weights = None if sample_weight is None else tf.convert_to_tensor(sample_weight)
    chunks = _chunks(num_rows, batch_size)

    lowers, uppers = [], []
    for v in variables:
        box = box_bounds(v)
        shape = tuple(v.shape)
        lower, upper = box if box is not None else (np.full(shape, -np.inf), np.full(shape, np.inf))
        lowers.append(np.ravel(lower))
        uppers.append(np.ravel(upper))
    lower, upper = np.concatenate(lowers), np.concatenate(uppers)
    has_bounds = bool(np.isfinite(lower).any() or np.isfinite(upper).any())
    bounds = scipy.optimize.Bounds(lower, upper) if has_bounds else None

    def chunk_loss(start, stop):
        if len(chunks) == 1:
            (xs, ys), sw = data, weights
        else:
            xs, ys = tf.nest.map_structure(lambda a: a[start:stop], data)
            sw = None if weights is None else weights[start:stop]
        pred = model(xs, training=False)
        total = model.compute_loss(x=xs, y=ys, y_pred=pred, sample_weight=sw, training=False)
        penalty = tf.add_n([tf.cast(l, total.dtype) for l in model.losses]) if model.losses else 0.0
        return total - penalty, penalty

    def objective_and_gradients():
        with tf.GradientTape() as tape:
            data_loss, penalty = 0.0, 0.0
            for start, stop in chunks:
                part, penalty = chunk_loss(start, stop)
                data_loss += part * ((stop - start) / num_rows)
            loss = data_loss + penalty
        grads = tape.gradient(loss, variables)
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for v, g in zip(variables, grads)]
        return loss, tf.concat([tf.reshape(tf.cast(g, tf.float64), [-1]) for g in grads], 0)

    shapes = [tuple(v.shape) for v in variables]
    sizes = [int(np.prod(s)) for s in shapes]

    def assign(theta):
        for v, part, shape in zip(variables, tf.split(theta, sizes), shapes):
            v.assign(tf.cast(tf.reshape(part, shape), v.dtype))

    def evaluate(theta):
        # One call per L-BFGS evaluation: set the weights, then loss and gradient.
        assign(theta)
        return objective_and_gradients()

    compiled = tf.function(evaluate, jit_compile=jit_compile)

    history = {"iteration": 0, "loss": None}

    def fun(theta):
        loss, grad = compiled(tf.constant(theta, tf.float64))
        history["loss"] = float(loss)
        return history["loss"], grad.numpy()

    theta0 = np.concatenate([np.asarray(v.numpy(), "float64").ravel() for v in variables])
    if has_bounds:
        theta0 = np.clip(theta0, lower, upper)
    initial_loss = fun(theta0)[0]

    def on_iteration(theta):
        history["iteration"] += 1
        if callback is not None:
            # SciPy accepts the last point its line search evaluated: its loss, no new evaluation
            callback(history["iteration"], history["loss"])

    if int(rounds) < 1:
        raise ValueError(f"fit_lbfgs: rounds must be ≥ 1, got {rounds!r}")
    theta, loss, iterations, evaluations, done = theta0, initial_loss, 0, 1, 0
    for _ in range(int(rounds)):
        result = scipy.optimize.minimize(
            fun, theta, jac=True, method="L-BFGS-B", bounds=bounds,
            callback=on_iteration, options={"maxiter": int(maxiter), "gtol": float(gtol),
                                            "ftol": float(ftol), "maxcor": int(maxcor)})
        iterations, evaluations, done = iterations + int(result.nit), evaluations + int(result.nfev), done + 1
        gain = (loss - float(result.fun)) / max(abs(loss), abs(float(result.fun)), 1.0)
        if float(result.fun) <= loss:
            theta, loss = result.x, float(result.fun)
        if gain <= ftol:
            break
    final_loss = fun(theta)[0]  # leaves the model at the solution
    return {"loss": float(final_loss), "initial_loss": float(initial_loss),
            "iterations": iterations, "evaluations": evaluations + 1, "rounds": done,
            "converged": bool(result.success), "message": str(result.message)}
