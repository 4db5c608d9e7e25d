"""The test protocol of Naumann et al. 2022: contexts back to back, feedback freezing, the invariant subspace.

Spec feedback_modulation_naumann22.md §3 (`Runner.test`) and §4 (demo 3). `run_contexts` plays the
sources from sample 0 through a list of contexts, each for `context_length` steps, batch 1, from
the zero state and without any reset; `freeze_after=k` holds the modulation during the first
`freeze_steps` steps of every context with index ≥ k (the feedback is blocked, the modulator
keeps running). `invariant_subspace` is demo 3's freeze experiment: a PCA (3 components,
whitened) of z over a test run, then two new contexts (the second frozen for its first half),
and planes fitted to (y₁, y₂, PC₁) in each phase.

Example:
    >>> import numpy as np, ndnx
    >>> from ndnx.data import unmixing
    >>> model = ndnx.models.FeedbackNetwork(ndnx.cells.SpatialNetCell(hidden_units=8, units=10, signals=2, seed=0))
    >>> A, _ = unmixing.mixing_matrices(2, seed=0)
    >>> run = run_contexts(model, unmixing.chords(), A, context_length=50, freeze_after=1, freeze_steps=20)
    >>> run["y"].shape, run["z"].shape, bool(np.all(run["modulation"][50:70] == run["modulation"][49]))
    ((100, 2), (100, 10), True)
"""

import numpy as np
import tensorflow as tf

from ndnx.analysis.feedback import plane_angle, plane_normal, principal_angles
from ndnx.data.unmixing import check_contexts, context_sequence

__all__ = ["run_contexts", "freeze_mask", "invariant_subspace"]


def freeze_mask(n_contexts, context_length, freeze_after=None, freeze_steps=500):
    """(T,) bool: True where the modulation is held (first `freeze_steps` of each context ≥ freeze_after)."""
    mask = np.zeros((n_contexts, context_length), bool)
    if freeze_after is not None:
        mask[int(freeze_after):, :int(freeze_steps)] = True
    return mask.reshape(-1)


def _compiled_run(model, record):
    key = ("_protocol_run", record)
    cache = model.__dict__.setdefault("_protocol_functions", {})
    if key not in cache:
        def run(x, freeze):
            y, _, records = model.run(x, freeze=freeze, record=record)
            return y, records
        cache[key] = tf.function(run, jit_compile=True, reduce_retracing=True)
    return cache[key]


def run_contexts(model, signals, contexts, context_length=1000, noise=0.001, seed=0, freeze_after=None,
                 freeze_steps=500, record=None):
    """Run `model` (an `ndnx.models.FeedbackNetwork`) through `contexts` back to back; NumPy records.

    Returns a dict of (T, ·) float arrays: "s", "x", "y", "w_target" (pinv(A) per step, flattened),
    "modulation" (the modulation state after each step: W for ModulationNet, M for SpatialNet, m for
    DaleRateNet), "feedback" (O), and "z" (SpatialNet, DaleRateNet) — replica r of a replicated
    model under axis 1 of each model record, (T, R, ·).
    """
    cell = model.cell
    A = check_contexts(contexts, cell.sources)
    if A.shape[1] != cell.sensors:
        raise ValueError(f"run_contexts: the model reads {cell.sensors} sensors; the contexts mix into {A.shape[1]}")
    x, s, w = context_sequence(signals, A, context_length, noise=noise, seed=seed, signal_dim=cell.sources)
    if record is None:
        record = ("modulation", "feedback") + (("z",) if hasattr(cell, "units") else ())
    mask = freeze_mask(A.shape[0], context_length, freeze_after, freeze_steps)[None]
    y, records = _compiled_run(model, tuple(record))(tf.constant(x[None]), tf.constant(mask))
    squeeze = (lambda a: a[0, :, 0]) if cell.replicas is None else (lambda a: a[0])
    out = {"s": s, "x": x, "w_target": w, "y": squeeze(y.numpy())}
    out.update({k: squeeze(v.numpy()) for k, v in records.items()})
    return out


def invariant_subspace(model, signals, test_contexts, context1, context2, context_length=1000, noise=0.001,
                       seed=0, test_run=None):
    """Demo 3's freeze experiment on a SpatialNet-like model (one with a population z).

    A whitened 3-component PCA is fitted to z over a run through `test_contexts` (or `test_run`, a
    `run_contexts` result); then context 1 for `context_length` steps and context 2 for as long,
    frozen for its first half. Planes are fitted to (y₁, y₂, PC₁) in the second half of context 1
    ("original"), the frozen half and the unfrozen half of context 2.

    Returns a dict: "angle_frozen", "angle_unfrozen" (degrees, original vs frozen / unfrozen),
    "principal_frozen", "principal_unfrozen" (largest principal angle between the 2-D z planes),
    "error_original", "error_frozen", "error_unfrozen" (mean ‖s − y‖₂ per step), "recovery_steps"
    (steps after the release until the moving mean of ‖s − y‖ over the last 20 steps first falls
    within 2× the steady error of context 1; −1 if it never does), "context_distance" ‖A₁ − A₂‖_F, "same_side" (sign(a − b) agrees) and the run.
    """
    from sklearn.decomposition import PCA

    if test_run is None:
        test_run = run_contexts(model, signals, test_contexts, context_length, noise, seed)
    pca = PCA(3, whiten=True).fit(test_run["z"])
    half = context_length // 2
    run = run_contexts(model, signals, np.stack([context1, context2]), context_length, noise, seed,
                       freeze_after=1, freeze_steps=half)
    pc1 = pca.transform(run["z"])[:, 0]
    embedding = np.c_[run["y"][:, :2], pc1]
    phases = {"original": slice(half, context_length), "frozen": slice(context_length, context_length + half),
              "unfrozen": slice(context_length + half, 2 * context_length)}
    normals = {k: plane_normal(embedding[p]) for k, p in phases.items()}
    error = np.linalg.norm(run["s"] - run["y"], axis=1)
    steady = error[phases["original"]].mean()
    smooth = np.convolve(error, np.ones(20) / 20, mode="full")[:len(error)]  # causal moving mean
    after = smooth[context_length + half:]
    recovered = np.flatnonzero(after <= 2 * steady)
    A1, A2 = np.asarray(context1, "float64"), np.asarray(context2, "float64")
    return {
        "angle_frozen": plane_angle(normals["original"], normals["frozen"]),
        "angle_unfrozen": plane_angle(normals["original"], normals["unfrozen"]),
        "principal_frozen": float(principal_angles(run["z"][phases["original"]], run["z"][phases["frozen"]])[-1]),
        "principal_unfrozen": float(principal_angles(run["z"][phases["original"]],
                                                     run["z"][phases["unfrozen"]])[-1]),
        "error_original": float(steady), "error_frozen": float(error[phases["frozen"]].mean()),
        "error_unfrozen": float(error[phases["unfrozen"]][half // 2:].mean()),
        "recovery_steps": int(recovered[0]) if recovered.size else -1,
        "context_distance": float(np.linalg.norm(A1 - A2)),
        "same_side": bool(np.sign(A1[0, 0] - A1[1, 0]) == np.sign(A2[0, 0] - A2[1, 0])),
        "run": run,
    }
