"""When XLA compilation pays: the decision behind `jit_compile="auto"`.

ndnx sets `jit_compile` explicitly (Keras' own "auto" turns XLA off on every CPU-only machine);
"auto" in ndnx means `xla_helps(model)`, decided here, where training decisions live. Model
builders that offer "auto" (`ndnx.models.v1.compile_recipe`) import this module when they resolve
it, not when they are imported, so models never depend on training at import time.
"""

__all__ = ["xla_helps"]


def xla_helps(model):
    """Whether XLA compilation speeds up training `model` on the devices present.

    On a GPU it does. On the CPU it does for dense, DoG and shared-input conv models (the HSM's
    compiled epochs run 2× faster with it) but not for convolutions over one feature map per
    replica: XLA's host convolutions inside the compiled epoch loop are an order of magnitude
    slower than TensorFlow's (2-core CPU, 10 seeds, batch 16: what/where 6.4 s vs 0.37 s per step,
    conv + Gaussian readout 1.30 s vs 0.17 s).
    """
    import tensorflow as tf

    from ndnx.layers import Conv2D

    if tf.config.list_physical_devices("GPU"):
        return True
    return not any(isinstance(layer, Conv2D) and layer.replicas is not None and not layer._shared_input
                   for layer in model.layers)
