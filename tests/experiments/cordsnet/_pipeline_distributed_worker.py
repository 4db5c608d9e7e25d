"""Helper process of test_pipeline_distributed.py: the tiny five-step chain run on one device and
under MirroredStrategy on two logical CPUs (logical devices must be configured before TensorFlow
initialises, hence a fresh process); JSON on stdout: each step's saved weights, per run."""

import glob
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

STEPS = ("cnn", "inverse", "linear", "prelu", "relu")


def main(root, script):
    import keras

    from ndnx.experiment import load_experiment
    from ndnx.training.strategy import logical_cpus, strategy

    s = strategy("mirrored", devices=logical_cpus(2))
    exp = load_experiment(script)
    config = json.loads(sys.argv[3])
    out = {"num_devices": s.num_replicas_in_sync}
    for name, kwargs in (("single", {}), ("mirrored", {"strategy": s})):
        run = exp.runs(config)[0]
        exp.run_job(run, [0], root=os.path.join(root, name), progress=False, **kwargs)
        weights = {}
        for step in STEPS:
            (path,) = glob.glob(os.path.join(root, name, "models", "cordsnet", "pipeline", run.name, "steps", step,
                                             "*.keras"))
            weights[step] = [w.tolist() for w in keras.saving.load_model(path).get_weights()]
        out[name] = weights
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
