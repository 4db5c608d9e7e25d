"""Where an E/I simulation runs: DEVICE as a TensorFlow device scope that never fails.

NeuroFlame's DEVICE default 'cuda:1' stops a run on a machine with fewer than two GPUs (spec
ei_networks_neuroflame.md §7). ndnx reads DEVICE as a TensorFlow device string ('/GPU:1', see
`values.Device`) and treats it as a preference: `device_scope(config)` is ``tf.device(DEVICE)``
when the machine has that device, and otherwise a scope that does nothing, with a warning (an
`EIConfigWarning`) — TensorFlow then places the operations itself. DEVICE null is no scope and
no warning. TensorFlow is imported when the scope is asked for, never when a file is read.

Example:
    >>> from ndnx.models.ei_config import load_config, device_scope
    >>> with device_scope(load_config(DEVICE="cpu")):
    ...     pass
"""

import contextlib
import re

from ndnx.models.ei_config.config import _warn

__all__ = ["device_scope", "available_devices"]

_DEVICE = re.compile(r"(?:^|/)(?:device:)?([A-Za-z_]+):(\d+)$")


def available_devices():
    """The (type, index) pairs of this machine's logical devices, e.g. {('CPU', 0), ('GPU', 0)}."""
    import tensorflow as tf  # lazy: reading a configuration does not need TensorFlow

    found = set()
    for device in tf.config.list_logical_devices():
        match = _DEVICE.search(device.name)
        if match:
            found.add((match.group(1).upper(), int(match.group(2))))
    return found


def device_scope(config):
    """``tf.device(config.DEVICE)`` if this machine has that device; else a no-op scope (warning when DEVICE is set).

    Args:
        config: an `EIConfig`, or a DEVICE value as it reads ('/GPU:1') or None.

    Example:
        >>> from ndnx.models.ei_config import device_scope
        >>> with device_scope("/CPU:0"):   # every machine has it: no warning
        ...     pass
    """
    device = config["DEVICE"] if hasattr(config, "keys") else config
    if device is None:
        return contextlib.nullcontext()
    match = _DEVICE.search(device)
    wanted = (match.group(1).upper(), int(match.group(2))) if match else None
    if wanted is None or wanted not in available_devices():
        _warn(f"device_scope: DEVICE={device!r} is not a device of this machine; ignored "
              f"(TensorFlow places the operations)")
        return contextlib.nullcontext()
    import tensorflow as tf

    return tf.device(device)
