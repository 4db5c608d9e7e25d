"""When XLA compilation pays: the decision behind `jit_compile="auto"`.

ndnx sets `jit_compile` explicitly (Keras' own "auto" turns XLA off on every CPU-only machine);
"auto" in ndnx means `xla_helps(model)`, decided here, where training decisions live. Model
builders that offer "auto" (`ndnx.models.v1.compile_recipe`) import this module when they resolve
it, not when they are imported, so models never depend on training at import time.
"""

__all__ = ["xla_helps", "step_jit_compile"]


def step_jit_compile(model, jit_compile):
    """Whether the function a trainer wraps around `model.train_step` is XLA-compiled.

    A model whose step runs independent parts side by side (`ndnx.models.FeedbackNetwork` cuts a
    batch into groups of contexts, one per core) compiles each part itself: XLA:CPU runs the parts
    of one program one after the other, TensorFlow's executor runs separate programs at once. Such
    a model has `compiles_step_parts(jit_compile) -> bool`; it is told the trainer's wish and
    answers whether it takes the compilation over, and then the wrapping function stays plain.

    Example:
        >>> import ndnx
        >>> model = ndnx.models.FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=4, seed=0),
        ...                                     batch_size=4, batch_parts=2)
        >>> step_jit_compile(model, True), model.step_parts()
        (False, 2)
    """
    takes_over = getattr(model, "compiles_step_parts", None)
    if takes_over is not None and takes_over(bool(jit_compile)):
        return False
    return bool(jit_compile)


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
