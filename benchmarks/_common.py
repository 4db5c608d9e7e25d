"""Shared helpers of the benchmark scripts: machine description and atomic JSON results."""

import json
import os
import platform


def machine_info():
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


def write_results(name, results):
    """Write benchmarks/results/<name>.json (one flat object) atomically; return its path."""
    from ndnx.files import atomic_open

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"{name}.json")
    with atomic_open(path, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
        f.write("\n")
    return path


def print_table(rows):
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {text}")
