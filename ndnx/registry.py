"""The registry of every public ndnx object.

`register(kind)` is `keras.saving.register_keras_serializable(package="ndnx")` plus an entry in
`PUBLIC[kind]`, which the contract test walks: an object that is registered here and has no
entry in the contract test's table fails the suite, so nothing public escapes the contract.
"""

import keras

__all__ = ["register", "PUBLIC", "KINDS"]

KINDS = ("layer", "cell", "regularizer", "constraint", "initializer", "loss", "metric")
PUBLIC = {kind: {} for kind in KINDS}


def register(kind):
    if kind not in PUBLIC:
        raise ValueError(f"register: kind must be one of {KINDS}, got {kind!r}")

    def decorate(cls):
        cls = keras.saving.register_keras_serializable(package="ndnx")(cls)
        PUBLIC[kind][cls.__name__] = cls
        return cls

    return decorate
