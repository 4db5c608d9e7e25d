"""Helper process of tests/models/test_feedback_distributed.py: FeedbackNetwork trained by truncated BPTT
(carried state, SGD or Adam) on one device and under MirroredStrategy on two logical CPUs, from a
tf.data pipeline (the experiments' input) and from in-memory arrays; JSON on stdout.

Logical devices must be configured before TensorFlow initialises, hence a fresh process.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BATCH, WINDOW, BATCHES, EPOCHS = 4, 30, 3, 2


def pipeline(epoch):
    from ndnx.data import unmixing

    contexts, _ = unmixing.mixing_matrices(BATCHES * BATCH, seed=[0, 1, int(epoch)])
    return unmixing.training_windows(unmixing.chords(), contexts, window=WINDOW, batch_size=BATCH, seed=[0, 2, epoch])


def arrays():
    import numpy as np

    batches = list(pipeline(0))
    return (np.concatenate([b[0].numpy() for b in batches]), np.concatenate([b[1].numpy() for b in batches]))


def run(data, optimizer, strategy=None):
    import numpy as np
    import keras
    import ndnx
    from ndnx.training import train
    from ndnx.training.strategy import build_in_scope

    def build():
        cell = ndnx.cells.SpatialNetCell(hidden_units=16, units=12, signals=2, tau=3.0, seed=0)
        model = ndnx.models.FeedbackNetwork(cell, batch_size=BATCH, activity_penalty=1e-3)
        model.compile(keras.optimizers.SGD(1e-3) if optimizer == "sgd" else keras.optimizers.Adam(1e-3, clipvalue=1.0),
                      jit_compile=False)
        return model

    model = build() if strategy is None else build_in_scope(strategy, build)
    history = keras.callbacks.History()

    def evaluate(model, x, y):
        # Keras' evaluate batches arrays by 32; the carried state holds BATCH contexts
        return {"loss": np.atleast_1d(model.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)["loss"])}

    train_data = pipeline if data == "pipeline" else arrays()
    train(model, train_data, epochs=EPOCHS, batch_size=None if data == "pipeline" else BATCH, shuffle=False,
          carry_state=True, progress=False, callbacks=[history], strategy=strategy, jit_compile=False,
          evaluate=None if data == "pipeline" else evaluate)
    return {"losses": [float(v) for v in history.history["loss"]], "weights": [w.tolist() for w in model.get_weights()],
            "carried": [v.numpy().tolist() for v in model.carried_state],
            "iterations": int(model.optimizer.iterations.numpy())}


def uneven_batches(strategy):
    """The one-line error of a pipeline whose batches do not split over the devices (a plain Dense model)."""
    import keras
    import numpy as np
    import tensorflow as tf
    from ndnx.training.distributed import DistributedDatasetEpochs
    from ndnx.training.strategy import build_in_scope

    def build():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.1), loss="mse")
        return model

    model = build_in_scope(strategy, build)
    data = tf.data.Dataset.from_tensor_slices((np.ones((6, 2), "float32"), np.ones((6, 1), "float32"))).batch(3)
    try:
        DistributedDatasetEpochs(model, data, strategy).run_epoch(0)
    except tf.errors.InvalidArgumentError as error:
        return [line for line in str(error).splitlines() if "DistributedDatasetEpochs" in line][:1]
    return []


def main():
    from ndnx.training.strategy import logical_cpus, strategy

    s = strategy("mirrored", devices=logical_cpus(2))
    out = {"num_devices": s.num_replicas_in_sync, "uneven": uneven_batches(s)}
    for case in sys.argv[1].split(","):
        data, optimizer = case.split(":")
        out[case] = {"single": run(data, optimizer), "mirrored": run(data, optimizer, s)}
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
