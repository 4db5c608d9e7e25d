"""Helper process of tests/training/test_distributed.py: train the HSM, report JSON on stdout.

    python _distributed_worker.py mirrored CONFIG   # 2 logical CPUs: one device vs MirroredStrategy, per case
    python _distributed_worker.py mwms CONFIG       # one worker of a MultiWorkerMirroredStrategy (TF_CONFIG)

CONFIG (JSON): {"cases": [{"t": rows, "batch_size": .., "replicas": null|R, "l2_output": ..}, ...],
"epochs": .., "log_dir": .., "checkpoint_dir": ..}. The result is the last stdout line.
Logical devices must be configured before TensorFlow initialises, hence a fresh process; the
test process imports `region` and `run` for its single-device references.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def region(t, n=12, seed=0):
    """Random-normal images (t, 31, 31, 1) and Poisson counts of a ground-truth HSM (float32)."""
    import numpy as np
    from ndnx.models.v1 import hsm

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, 31, 31, 1)).astype("float32")
    rates = np.asarray(hsm(n, seed=77)(x))
    return x, rng.poisson(rates).astype("float32")


def run(case, epochs, strategy=None, log_dir=None, checkpoint_dir=None, local_eval=False):
    """Train hsm(12, seed=0) through ndnx.training.train; per-epoch losses, final weights, logs."""
    import keras
    from ndnx.losses import PoissonLoss, poisson_unit_norm
    from ndnx.models.v1 import hsm
    from ndnx.experiment.fits.v1 import supervised_evaluation
    from ndnx.training import train
    from ndnx.training.distributed import local_evaluation
    from ndnx.training.strategy import build_in_scope

    x, y = region(case["t"])
    unit_norm = poisson_unit_norm(y)

    def build():
        model = hsm(12, seed=0, replicas=case.get("replicas"), l2_output=case.get("l2_output", 0.0))
        axis = None if case.get("replicas") is None else 1
        model.compile(keras.optimizers.Adam(1e-3), PoissonLoss(unit_norm=unit_norm, replica_axis=axis),
                      jit_compile=False)
        return model

    class Losses(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.values = []

        def on_epoch_end(self, epoch, logs=None):
            self.values.append(float(logs["loss"]))

    if strategy is None:
        model = build()
    else:
        model = build_in_scope(strategy, build)
    losses = Losses()
    result = train(model, (x, y), epochs=epochs, batch_size=case["batch_size"], shuffle_seed=3,
                   progress=False, callbacks=[losses], strategy=strategy, jit_compile=False,
                   log_dir=log_dir, checkpoint_dir=checkpoint_dir, log_every=1,
                   evaluate=local_evaluation(supervised_evaluation) if local_eval else None)
    return {"losses": losses.values, "weights": [w.tolist() for w in model.get_weights()],
            "iterations": int(model.optimizer.iterations.numpy()),
            "final": {f"{split}/{name}": v.tolist() for (split, name), v in result["final"].items()}}


def refuses_custom_train_step(strategy):
    """An overridden train_step with batches that do not split evenly: the clear ValueError."""
    import keras
    import numpy as np
    from ndnx.training.distributed import DistributedEpochs

    class Custom(keras.Model):
        def train_step(self, data):
            return super().train_step(data)

    with strategy.scope():
        inputs = keras.Input((3,))
        model = Custom(inputs, keras.layers.Dense(1)(inputs))
        model.compile(keras.optimizers.SGD(0.1), "mse")
    x = np.zeros((10, 3), "float32")
    y = np.zeros((10, 1), "float32")
    try:
        DistributedEpochs(model, x, y, batch_size=5, strategy=strategy)
    except ValueError as e:
        return str(e)
    return None


def main():
    mode, config = sys.argv[1], json.loads(sys.argv[2])
    epochs = config["epochs"]
    if mode == "mirrored":
        from ndnx.training.strategy import logical_cpus, strategy

        devices = logical_cpus(2)
        s = strategy("mirrored", devices=devices)
        out = {"num_devices": s.num_replicas_in_sync, "runs": [], "refusal": refuses_custom_train_step(s)}
        for i, case in enumerate(config["cases"]):
            logs = (lambda kind: os.path.join(config["log_dir"], f"case{i}_{kind}")) if config.get("log_dir") \
                else (lambda kind: None)
            out["runs"].append({"case": case, "single": run(case, epochs, log_dir=logs("single")),
                                "distributed": run(case, epochs, s, log_dir=logs("mirrored"))})
    elif mode == "mwms":
        import tensorflow as tf
        from ndnx.training.strategy import is_chief, strategy

        s = strategy("auto")
        out = {"num_devices": s.num_replicas_in_sync, "chief": is_chief(s),
               "multi_worker": isinstance(s, tf.distribute.MultiWorkerMirroredStrategy),
               "pid": os.getpid(),
               "run": run(config["cases"][0], epochs, s, log_dir=config.get("log_dir"),
                          checkpoint_dir=config.get("checkpoint_dir"), local_eval=True)}
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
