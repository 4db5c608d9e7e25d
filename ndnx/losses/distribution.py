"""The loss a custom `train_step` differentiates under `tf.distribute`.

Keras' own `train_step` multiplies each device's mean loss by 1/N (N devices in sync) before the
gradients are all-reduced with SUM, so the update equals the single-device one on the whole
global batch. A model that overrides `train_step` and computes its loss itself (CordsNet's
three-phase loss, contrastive energies, truncated BPTT windows) must do the same, or every update
is N times too large under a strategy. Outside a strategy N = 1 and nothing changes.

Gradient clipping needs more: Keras' optimizer clips each device's partial gradient *before* the
cross-device sum, so clip(g₁) + clip(g₂) replaces clip(g₁ + g₂) wherever a clip is active
(`clip_after_device_sum` restores the single-device update).
"""

import tensorflow as tf

__all__ = ["scale_loss_for_replicas", "clip_after_device_sum"]


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


def clip_after_device_sum(optimizer, grads):
    """Gradients for `optimizer.apply` under a strategy that are clipped as on one device.

    Under N > 1 devices (replica context): the devices' gradients are summed, clipped with the
    optimizer's clipvalue / clipnorm / global_clipnorm, and divided by N. The optimizer's own
    per-device clip then leaves them alone (each is within c/N of zero, inside the bound c) and
    its sum over devices gives back the clipped global gradient. Without a strategy, or an
    optimizer that does not clip, the gradients are returned unchanged.

    Example:
        >>> import keras, tensorflow as tf, ndnx
        >>> g = ndnx.losses.distribution.clip_after_device_sum(keras.optimizers.SGD(clipvalue=1.0), [tf.constant(3.0)])
        >>> float(g[0])  # one device: the optimizer clips as usual
        3.0
    """
    devices = tf.distribute.get_strategy().num_replicas_in_sync
    clipvalue, clipnorm, global_clipnorm = (getattr(optimizer, k, None) for k in ("clipvalue", "clipnorm",
                                                                                   "global_clipnorm"))
    if devices == 1 or not (clipvalue or clipnorm or global_clipnorm):
        return grads
    grads = tf.distribute.get_replica_context().all_reduce("sum", list(grads))
    if clipvalue:
        grads = [tf.clip_by_value(g, -clipvalue, clipvalue) for g in grads]
    if clipnorm:
        grads = [tf.clip_by_norm(g, clipnorm) for g in grads]
    if global_clipnorm:
        grads, _ = tf.clip_by_global_norm(grads, global_clipnorm)
    return [g / devices for g in grads]
