"""Shared helpers of the benchmark scripts: machine description and atomic JSON results."""

import json
import os
import platform
import resource
import time


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


def cpu_seconds():
    """CPU seconds of this process so far (user + system, all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn, repeats):
    """(best wall seconds, CPU seconds of that call) over `repeats` calls of fn()."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), cpu_seconds()
        fn()
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        if wall < best[0]:
            best = (wall, cpu)
    return best
