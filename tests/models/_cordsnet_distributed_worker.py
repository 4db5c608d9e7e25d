"""Helper process of tests/models/test_cordsnet_distributed.py: CordsNet and its inverse-initialisation
model trained with plain SGD (an update proportional to the gradient, unlike Adam's; for
"cordsnet_clipped" with an active global clip; "cnn" the step-1 CNN with synchronized batch norm)
on one device and under MirroredStrategy on two
logical CPUs; JSON on stdout.

Logical devices must be configured before TensorFlow initialises, hence a fresh process.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def data(rows=16, size=12, classes=3, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, size, size, 1)).astype("float32"), rng.integers(0, classes, rows)


def run(kind, strategy=None, epochs=2):
    import keras
    from ndnx.models import CordsNetCNN, CordsNetInverse, cordsnet_r2
    from ndnx.training import train
    from ndnx.training.strategy import build_in_scope

    x, y = data()

    def build():
        if kind.startswith("cordsnet"):
            model = cordsnet_r2(num_classes=3, image_size=12, channels=1, blank_steps=3, stimulus_steps=4,
                                ramp_steps=2, spontaneous_steps=2, checkpoint_every=2, seed=0)
            # "cordsnet_clipped": a global clip far below the gradient norm, active on every step (the
            # pipeline's clip at 10 is active at the measured norms of 30-60)
            model.compile(keras.optimizers.SGD(0.5, global_clipnorm=1e-3 if kind == "cordsnet_clipped" else None))
        elif kind == "cnn":  # step 1: Keras' own train_step, batch norm over the global batch
            model = CordsNetCNN(depth=2, num_classes=3, image_size=12, channels=1, seed=0)
            model.compile(keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        else:
            model = CordsNetInverse(depth=2, num_classes=3, image_size=12, channels=1, seed=0)
            model.compile(keras.optimizers.SGD(1e-10))
        return model

    model = build() if strategy is None else build_in_scope(strategy, build)
    losses = []

    class Losses(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            losses.append(float(logs["loss"]))

    train(model, x if kind == "inverse" else (x, y), epochs=epochs, batch_size=8, shuffle_seed=1,
          progress=False, callbacks=[Losses()], strategy=strategy, jit_compile=False)
    return {"losses": losses, "weights": [w.tolist() for w in model.get_weights()],
            "iterations": int(model.optimizer.iterations.numpy())}


def main():
    from ndnx.training.strategy import logical_cpus, strategy

    s = strategy("mirrored", devices=logical_cpus(2))
    out = {"num_devices": s.num_replicas_in_sync}
    for kind in sys.argv[1].split(","):
        out[kind] = {"single": run(kind), "mirrored": run(kind, s)}
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
