"""ndnx: TensorFlow 2 / Keras 3 layers, models and experiments for computational neuroscience.

Importing ndnx registers every public layer, loss, metric, regularizer and constraint with Keras
(package "ndnx"), so `keras.saving.load_model("model.keras")` works without `custom_objects`.
"""

__version__ = "0.1.0"

from ndnx._quiet import import_tensorflow_quietly as _import_tensorflow_quietly  # noqa: E402

_import_tensorflow_quietly()

from ndnx.seeding import derive_seed, set_seed  # noqa: E402
from ndnx import activations, cells, constraints, energy, layers, losses, metrics, models, regularizers  # noqa: E402,F401

__all__ = ["__version__", "set_seed", "derive_seed", "activations", "cells", "constraints", "energy", "layers", "losses", "metrics", "models"]
