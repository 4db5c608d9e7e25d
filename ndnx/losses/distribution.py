"""The loss a custom `train_step` differentiates under `tf.distribute`.

Keras' own `train_step` multiplies each device's mean loss by 1/N (N devices in sync) before the
gradients are all-reduced with SUM, so the update equals the single-device one on the whole
global batch. A model that overrides `train_step` and computes its loss itself (CordsNet's
three-phase loss, contrastive energies, truncated BPTT windows) must do the same, or every update
is N times too large under a strategy. Outside a strategy N = 1 and nothing changes.
"""

import tensorflow as tf

__all__ = ["scale_loss_for_replicas"]


def scale_loss_for_replicas(loss):
    """loss / N, N = the current strategy's replicas in sync (1 without a strategy).

    Differentiate the scaled loss; report (track) the unscaled one.

    Example:
        >>> import ndnx
        >>> float(ndnx.losses.scale_loss_for_replicas(3.0))
        3.0
    """
    loss = tf.convert_to_tensor(loss)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas == 1:
        return loss
    return loss / tf.cast(replicas, loss.dtype)
