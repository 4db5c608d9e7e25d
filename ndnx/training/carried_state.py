"""State carried from one batch to the next: truncated backpropagation through time.

A model trained by truncated BPTT keeps its recurrent state between batches: batch k+1 (the next
window of the same sequences) starts where batch k ended, and no gradient flows back across the
window edge. Keras' `RNN(stateful=True)` does exactly that: it starts each call from its state
variables (read as values, so the gradient stops there) and assigns the final state to them.
Other models may hold such state themselves; they declare it with a `carried_state` attribute (a
list of variables) and may define `reset_carried_state()`.

Those variables are not weights — Keras does not track a stateful RNN's state — so
`ndnx.training.train(..., carry_state=True)` saves them with its resume checkpoints, keeps them
out of evaluations (which run the model on other data) and resets them only where asked.
"""

import contextlib

import keras

from ndnx.layers.replicas import all_layers

__all__ = ["carried_state_variables", "reset_carried_state", "preserved_carried_state"]


def _holders(model):
    yield model
    for layer in all_layers(model):
        yield layer


def carried_state_variables(model):
    """Every variable of `model` that carries state across batches (stateful RNNs, `carried_state`)."""
    found, seen = [], set()
    for holder in _holders(model):
        variables = []
        if isinstance(holder, keras.layers.RNN) and holder.stateful and holder.states is not None:
            variables = keras.tree.flatten(holder.states)
        variables = list(variables) + list(getattr(holder, "carried_state", None) or ())
        for v in variables:
            if id(v) not in seen:
                seen.add(id(v))
                found.append(v)
    return found


def reset_carried_state(model):
    """Back to the initial state: each stateful RNN's `get_initial_state`, `reset_carried_state()` of others."""
    for holder in _holders(model):
        if isinstance(holder, keras.layers.RNN) and holder.stateful and holder.states is not None:
            states = keras.tree.flatten(holder.states)
            batch = int(states[0].shape[0])
            for variable, value in zip(states, keras.tree.flatten(holder.get_initial_state(batch))):
                variable.assign(keras.ops.cast(value, variable.dtype))
        elif hasattr(holder, "reset_carried_state"):
            holder.reset_carried_state()


@contextlib.contextmanager
def preserved_carried_state(model):
    """Run the block (an evaluation on other data) and put the carried state back as it was."""
    variables = carried_state_variables(model)
    saved = [v.numpy() for v in variables]
    try:
        yield
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)
