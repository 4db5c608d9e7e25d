"""When XLA compilation pays: the decision behind `jit_compile="auto"`.

ndnx sets `jit_compile` explicitly (Keras' own "auto" turns XLA off on every CPU-only machine);
"auto" in ndnx means `xla_helps(model)`, decided here, where training decisions live. Model
builders that offer "auto" (`ndnx.models.v1.compile_recipe`) import this module when they resolve
it, not when they are imported, so models never depend on training at import time.
"""

__all__ = ["xla_helps", "step_jit_compile", "runs_step_parts"]


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
    return bool(jit_compile) and not runs_step_parts(model, jit_compile)


def runs_step_parts(model, jit_compile):
    """Whether `model` runs its training step as parts it compiles itself (see `step_jit_compile`).

    A trainer then calls the step once per batch from Python instead of looping over the batches
    inside one function: a step of parts is long (tens of milliseconds), and inside a dataset
    reduction or a `tf.while_loop` TensorFlow runs the parts' programs less well side by side
    (FeedbackNetwork, 32 contexts × 1000 steps a batch, 2 cores, medians of 10 epochs: 0.105
    against 0.086 s per batch).

    Example:
        >>> import ndnx
        >>> model = ndnx.models.FeedbackNetwork(ndnx.cells.ModulationNetCell(hidden_units=4, seed=0),
        ...                                     batch_size=4, batch_parts=2)
        >>> runs_step_parts(model, True), runs_step_parts(ndnx.models.FeedbackNetwork(
        ...     ndnx.cells.ModulationNetCell(hidden_units=4, seed=0), batch_size=4, batch_parts=1), True)
        (True, False)
    """
    takes_over = getattr(model, "compiles_step_parts", None)
    return takes_over is not None and bool(takes_over(bool(jit_compile)))


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
