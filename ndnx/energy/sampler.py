"""Sampler: the compiled sampling loop every ndnx energy sampler shares.

Spec energy_sampling_nrflv.md §7 items 1 and 10: every sampler descends E with one sign convention and
runs as one compiled loop (`tf.while_loop` inside `tf.function`, optionally XLA) with no per-step
Python, printing or host copies. A sampler is a stateless step function plus an explicit chain state
(`init_chain`, `step`); `run` loops `step` for `num_steps`, keeps clamped layers bit-identical (their
gradient is not even computed), clamps free states to the target's range after every step, and can
record chosen quantities of chosen layers (a slice each) at every step. Passing the returned chain
state back into `run` continues the same chains (momentum, mass adaptation and random stream
persist); `ndnx.energy.recording` streams such recordings to HDF5 in chunks. The weights cannot change
inside the loop, so a target with a `constant_weights()` context (`EnergyGraph`: kernel spectra of its
FFT convolutions, weight-normalised kernels) computes its weight-derived tensors once, before the loop.

Subclasses implement `init_chain(states, free, seed)` and `step(target, states, chain, free)`.
"""

import contextlib
import math

import numpy as np
import tensorflow as tf

from ndnx.host_memory import retain_freed_memory

__all__ = ["Sampler", "per_layer", "check_finite"]

QUANTITIES = ("state", "gradient", "momentum", "energy", "unit_energy")


def check_finite(owner, name, value, minimum=None, strict=False):
    """`value` (a number or a list of them) checked finite (and ≥ / > minimum); one clear error line."""
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        ok = isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and math.isfinite(v)
        if ok and minimum is not None:
            ok = v > minimum if strict else v >= minimum
        if not ok:
            bound = "" if minimum is None else f" {'>' if strict else '≥'} {minimum}"
            raise ValueError(f"{owner}: {name} must be a finite number{bound}, got {v!r}")
    return list(values) if isinstance(value, (list, tuple)) else float(value)


def per_layer(owner, name, value, layers):
    """A scalar broadcast to every layer, or a list with one value per layer."""
    if isinstance(value, (list, tuple)):
        if len(value) != layers:
            raise ValueError(f"{owner}: {name} needs one value per state layer ({layers}), got {len(value)}")
        return list(value)
    return [value] * layers


class Sampler:
    """Base class: the compiled loop, clamping and recording (module docstring).

    Args:
        jit_compile: compile the loop with XLA.
        seed: int; the chain's random stream starts from it unless `init_chain` gets another.
    """

    name = "Sampler"

    def __init__(self, jit_compile=False, seed=0):
        self.jit_compile = bool(jit_compile)
        self.seed = int(seed)
        self._compiled = {}

    # --- to implement --------------------------------------------------------------------------------
    def init_chain(self, states, free=None, seed=None):
        raise NotImplementedError

    def step(self, target, states, chain, free):
        """One step: (new states, new chain, energy per example at the old states, gradients used)."""
        raise NotImplementedError

    # --- shared ----------------------------------------------------------------------------------------
    def _key(self, seed):
        return tf.constant([self.seed if seed is None else int(seed), 0], dtype=tf.int64)

    @staticmethod
    def _free(states, free):
        return tuple(True for _ in states) if free is None else tuple(bool(k) for k in free)

    def run(self, target, states, num_steps, free=None, chain=None, record=None):
        """Run `num_steps` steps from `states`; returns (states, chain[, recordings]).

        free: one boolean per layer (False = clamped, e.g. the image in the positive phase).
        chain: a chain state from `init_chain` or a previous `run` (default: a fresh one).
        record: {key: (quantity, layer, index)} with quantity in state/gradient/momentum/energy/unit_energy
        and index a tuple of slices (None: the whole tensor); recordings are {key: (num_steps, ...)}.
        "energy" is the energy per example at the states the step started from; "unit_energy" the
        per-unit energies of the layer after the step (targets with `unit_energies`, e.g. `EnergyGraph`).
        """
        free = self._free(states, free)
        states = [tf.convert_to_tensor(s) for s in states]
        if chain is None:
            chain = self.init_chain(states, free)
        record = dict(record or {})
        for key, (quantity, layer, _) in record.items():
            if quantity not in QUANTITIES:
                raise ValueError(f"{self.name}: record {key!r} asks for {quantity!r}; expected one of {QUANTITIES}")
            if quantity == "gradient" and not free[layer]:
                raise ValueError(f"{self.name}: record {key!r} asks for the gradient of clamped layer {layer}")
            if quantity == "unit_energy" and not hasattr(target, "unit_energies"):
                raise ValueError(f"{self.name}: record {key!r} asks for per-unit energies; the target "
                                 f"{type(target).__name__} has no unit_energies(states)")
        spec = tuple((k, q, l, None if i is None else tuple((s.start, s.stop, s.step) for s in i))
                     for k, (q, l, i) in sorted(record.items()))
        cache_key = (id(target), free, spec)
        if cache_key not in self._compiled:
            retain_freed_memory()  # the loop's large per-step buffers: reused, not page-faulted afresh
            self._compiled[cache_key] = tf.function(self._loop(target, free, spec), jit_compile=self.jit_compile,
                                                    reduce_retracing=True)
        out = self._compiled[cache_key](states, chain, tf.convert_to_tensor(num_steps, tf.int32))
        if record:
            return out[0], out[1], out[2]
        return out[0], out[1]

    def _loop(self, target, free, spec):
        def pick(tensor, index):
            return tensor if index is None else tensor[tuple(slice(*i) for i in index)]

        def loop(states, chain, num_steps):
            arrays = [tf.TensorArray(states[0].dtype, size=num_steps) for _ in spec]

            def body(t, states, chain, arrays):
                new_states, new_chain, energy, grads = self.step(target, states, chain, free)
                new_states = target.clamp(new_states)
                new_states = [n if k else s for n, s, k in zip(new_states, states, free)]
                written = []
                for array, (_, quantity, layer, index) in zip(arrays, spec):
                    value = {"state": lambda: new_states[layer], "gradient": lambda: grads[layer],
                             "momentum": lambda: self.momentum_of(new_chain)[layer],
                             "energy": lambda: energy,
                             # after the step, like the state: one extra energy pass, only when recorded
                             "unit_energy": lambda: target.unit_energies(new_states)[layer]}[quantity]()
                    written.append(array.write(t, pick(value, index) if quantity != "energy" else value))
                return t + 1, new_states, new_chain, written

            # the weights cannot change inside the loop: a target may compute its weight-derived tensors once
            constant = getattr(target, "constant_weights", None)
            with constant() if constant is not None else contextlib.nullcontext():
                _, states, chain, arrays = tf.while_loop(
                    lambda t, *_: t < num_steps, body, (tf.constant(0), list(states), chain, arrays))
            recordings = {key: array.stack() for array, (key, *_rest) in zip(arrays, spec)}
            return states, chain, recordings

        return loop

    def momentum_of(self, chain):
        raise ValueError(f"{self.name}: has no momentum to record")
