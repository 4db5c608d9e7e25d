"""Behavioural accuracy of a task readout (dual task, DPA, Go/NoGo; NeuroFlame spec §6 "Losses").

The readout and targets have the layout of `ndnx.losses.DualLoss`: predictions (batch, frames, K)
(or (batch, frames, R, K) with a replica axis), targets (batch, frames, 2C) with C label columns
(NaN: the frame is left out) and C window masks; channel c reads column `read_idx[c]`.

Two scores per channel, each a mean over the trials that carry the channel's label:

- `accuracy` — NeuroFlame's: inside the window, σ(z) for a trial labelled 1 and 1 − σ(z) for a
  trial labelled 0 (negatives mirrored), averaged over the trial's window frames;
- `choice_accuracy` — the trial's decision: its mean readout z̄ over the window, above `threshold`
  for label 1 and not above it for label 0. With both classes hinged (z → ±2) the natural
  threshold is 0; with the neutral negative class (label 0 pushed to z = 0, label 1 to z ≥ 2) it
  is 1, half the margin.

A readout that ignores the trial (the same z̄ on every trial) has a choice accuracy equal to the
fraction of trials of one class — 0.5 on the balanced DPA set — whatever its loss.
"""

import numpy as np

__all__ = ["dual_accuracy"]


def dual_accuracy(y_true, y_pred, read_idx=(0,), threshold=0.0, replica_axis=None):
    """{"accuracy": (C,) or (R, C), "choice_accuracy": same} of a readout (module docstring).

    Args:
        y_true: targets (batch, frames, 2C), the layout of `ndnx.data.tasks.dual_targets`.
        y_pred: readout (batch, frames, K), or (batch, frames, R, K) with `replica_axis=2`.
        read_idx: readout column of each channel.
        threshold: the decision threshold of `choice_accuracy`.
        replica_axis: None, or 2 (predictions carry replicas after the frame axis).

    Example:
        >>> import numpy as np
        >>> from ndnx.metrics.tasks import dual_accuracy
        >>> y_true = np.array([[[1.0, 1.0]], [[0.0, 1.0]]])           # two trials, one frame, in the window
        >>> z = np.array([[[2.0]], [[0.5]]])                          # the second decides wrongly at threshold 0
        >>> {k: np.round(v, 4).tolist() for k, v in dual_accuracy(y_true, z).items()}
        {'accuracy': [0.6292], 'choice_accuracy': [0.5]}
    """
    y_true = np.asarray(y_true, dtype="float64")
    z = np.asarray(y_pred, dtype="float64")
    read_idx = [int(i) for i in np.atleast_1d(read_idx)]
    channels = len(read_idx)
    if replica_axis not in (None, 2):
        raise ValueError(f"dual_accuracy: replica_axis must be None or 2, got {replica_axis!r}")
    rank = 3 if replica_axis is None else 4
    if z.ndim != rank:
        raise ValueError(f"dual_accuracy: predictions must have rank {rank} (batch, frames, "
                         f"{'' if replica_axis is None else 'R, '}K), got shape {z.shape}")
    if y_true.ndim != 3 or y_true.shape[:2] != z.shape[:2] or y_true.shape[-1] != 2 * channels:
        raise ValueError(f"dual_accuracy: targets must have shape ({z.shape[0]}, {z.shape[1]}, {2 * channels}), "
                         f"got {y_true.shape}")
    if max(read_idx) >= z.shape[-1]:
        raise ValueError(f"dual_accuracy: read_idx {read_idx} needs readout columns up to {max(read_idx)}, "
                         f"the predictions have {z.shape[-1]}")
    if replica_axis is None:
        z = z[:, :, None]
    z = z[..., read_idx]                                           # (B, T, R, C)
    label, window = y_true[..., :channels], y_true[..., channels:]
    inside = (np.isfinite(label) & (window > 0))[:, :, None]       # (B, T, 1, C)
    frames = inside.sum(axis=1)                                    # (B, 1, C)
    # a trial's label: its value in the window (−inf where the trial has no scored frame)
    trial_label = np.where(inside[:, :, 0], label, -np.inf).max(axis=1)
    positive = (trial_label > 0.5)[:, None]                        # (B, 1, C)
    sigma = 1.0 / (1.0 + np.exp(-z))
    hit = np.where(positive[:, None], sigma, 1.0 - sigma)
    with np.errstate(invalid="ignore", divide="ignore"):
        soft = np.where(inside, hit, 0.0).sum(axis=1) / frames     # (B, R, C)
        mean_z = np.where(inside, z, 0.0).sum(axis=1) / frames
    scored = np.broadcast_to(frames > 0, soft.shape)
    choice = (mean_z > threshold) == positive
    count = np.maximum(scored.sum(axis=0), 1)
    accuracy = np.where(scored, soft, 0.0).sum(axis=0) / count     # (R, C)
    choice_accuracy = np.where(scored, choice, False).sum(axis=0) / count
    if replica_axis is None:
        return {"accuracy": accuracy[0], "choice_accuracy": choice_accuracy[0]}
    return {"accuracy": accuracy, "choice_accuracy": choice_accuracy}
