"""Load an experiments/nrflv script as a module (its functions and defaults, without running it)."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def script(name):
    """experiments/nrflv/<name>.py as a fresh module."""
    spec = importlib.util.spec_from_file_location(f"nrflv_{name}_script", os.path.join(ROOT, "experiments", "nrflv",
                                                                                       f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
