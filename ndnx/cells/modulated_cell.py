"""The common step of Naumann et al.'s networks: a feedforward pathway whose weights or gains feedback sets."""

import numpy as np
import keras
from keras import ops

from ndnx.cells.feedback_modulator import FeedbackModulator, replica_axis_in, replica_axis_out
from ndnx.layers.replicas import ReplicatedLayer

__all__ = ["ModulatedCell", "INPUTS_TO_NET"]

INPUTS_TO_NET = ("xy", "x", "y")


def positive_int(owner, arg, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {arg} must be a positive int, got {value!r}")
    return int(value)


class ModulatedCell(ReplicatedLayer):
    """Base of the modulated cells: the step order of spec §2, shared by every variant.

    With carried state (h, c) of the modulator and the modulation state M, one step is

        1. y_t = f(x_t; M_{t−1})                     feedforward with the previous modulation
                                                     (the one-step feedback delay);
        2. u_t = [x_t, y_t] (or x_t, or y_t)         what the modulator reads (`input_to_net`);
        3. O_t, (h_t, c_t) = modulator(u_t, (h, c)_{t−1});
        4. M_t = g(M_{t−1}, O_t)                     leaky integration with timescale τ.

    A subclass passes `feedback_signals` (the modulator's outputs) and `modulation_sizes` (the sizes
    of M's parts) to this constructor and defines the pathway: `build_pathway(sensors)`,
    `pathway_weights()`, `feedforward(x, modulation, weights)` → (y, record) and
    `update(modulation, O, weights)` → new modulation. `step` (used by `ndnx.models.FeedbackNetwork`'s
    compiled loop) works on tensors with a replica axis (batch, R, ...) always; `call` is the
    `keras.layers.RNN` interface. `freeze` (a (batch,) mask) holds M for the frozen batch entries
    while the modulator keeps running (the feedback-blocking protocol).

    Args (shared by the subclasses):
        sources: n, the number of outputs y (one per source).
        sensors: the number of inputs x (default `sources`; more sensors than sources is the
            non-square mixing of the paper's Fig. 2).
        hidden_units: LSTM size of the modulator (100).
        input_to_net: "xy" (default), "x" or "y".
        tau: timescale τ ≥ 1 of the modulation (Euler step dt = 1).
        torch_init: PyTorch's U(−1/√H, 1/√H) initialisation of the modulator.
        replicas, seed: as every ndnx layer.

    `standard_step` (class attribute, True here) declares that a subclass keeps this step order
    with its `feedforward` and `update` (extra records allowed): `ndnx.models.FeedbackNetwork`
    then trains it with the hand-written window gradient of `ndnx.models.feedback_gradient`.
    """

    standard_step = True

    def __init__(self, feedback_signals, modulation_sizes, sources=2, sensors=None, hidden_units=100,
                 input_to_net="xy", tau=1.0, torch_init=True, replicas=None, seed=None, **kwargs):
        super().__init__(replicas=replicas, seed=seed, **kwargs)
        self.feedback_signals = positive_int(self.name, "feedback_signals", feedback_signals)
        self.modulation_sizes = tuple(positive_int(self.name, "modulation size", m) for m in modulation_sizes)
        self.sources = positive_int(self.name, "sources", sources)
        self.sensors = self.sources if sensors is None else positive_int(self.name, "sensors", sensors)
        self.hidden_units = positive_int(self.name, "hidden_units", hidden_units)
        if input_to_net not in INPUTS_TO_NET:
            raise ValueError(f"{self.name}: input_to_net must be one of {INPUTS_TO_NET}, got {input_to_net!r}")
        self.input_to_net = input_to_net
        tau = float(tau)
        if not 1.0 <= tau < float("inf"):
            raise ValueError(f"{self.name}: tau must be finite and ≥ 1 (Euler step dt = 1), got {tau}")
        self.tau = tau
        self.torch_init = bool(torch_init)
        self.modulator = FeedbackModulator(self.feedback_signals, self.hidden_units, torch_init=self.torch_init,
                                           replicas=replicas, seed=self.sublayer_seed("modulator"), name="modulator")
        self.state_size = [self.hidden_units, self.hidden_units] + list(self.modulation_sizes)
        self.output_size = self.sources

    # --- what a subclass defines -------------------------------------------------------------------
    def build_pathway(self, sensors):
        pass

    def pathway_weights(self):
        return ()

    def feedforward(self, x, modulation, weights):
        raise NotImplementedError

    def update(self, modulation, feedback, weights):
        raise NotImplementedError

    def initial_modulation(self, batch_size):
        return [ops.zeros(self.replicated_shape(batch_size, (size,)), dtype=self.compute_dtype)
                for size in self.modulation_sizes]

    # --- the step ------------------------------------------------------------------------------------
    @property
    def modulator_inputs(self):
        return {"xy": self.sensors + self.sources, "x": self.sensors, "y": self.sources}[self.input_to_net]

    def build(self, input_shape):
        _, (features,) = self.split_replica_input(input_shape, {1: "sensors"}, what="step inputs of shape")
        if features != self.sensors:
            raise ValueError(f"{self.name}: expected {self.sensors} sensor inputs per step, got {features} "
                             f"(input {tuple(input_shape)})")
        self.modulator.build((None, self.modulator_inputs))
        self.build_pathway(self.sensors)

    def replica_weight(self, weight):
        """A weight with the replica axis first, R = 1 for a lone cell, in the compute dtype."""
        weight = ops.cast(weight, self.compute_dtype)
        return weight if self.replicas is not None else ops.expand_dims(weight, 0)

    def step_weights(self):
        """Everything a step reads, computed once per sequence (outside the time loop)."""
        return self.modulator._weights_with_axis(), tuple(self.pathway_weights())

    def step_input(self, x):
        """A step's x as (batch, R, sensors)."""
        x = ops.convert_to_tensor(x, dtype=self.compute_dtype)
        if len(x.shape) == 2:
            return ops.repeat(ops.expand_dims(x, 1), self.replicas or 1, axis=1)
        return x

    def step(self, x, states, freeze=None, weights=None):
        """(y_t, new states, record) for x (batch, R, sensors) and states (batch, R, ·).

        `record` holds the step's feedback O_t ("feedback"), the new modulation ("modulation")
        and what the pathway reports (e.g. "z", the modulated population).
        """
        modulator_weights, own = weights or self.step_weights()
        h, c, *modulation = states
        y, record = self.feedforward(x, modulation, own)
        u = {"xy": lambda: ops.concatenate([x, y], axis=-1), "x": lambda: x, "y": lambda: y}[self.input_to_net]()
        feedback, h, c = self.modulator.step(u, h, c, modulator_weights)
        new = self.update(modulation, feedback, own)
        if freeze is not None:
            held = ops.reshape(ops.cast(freeze, "bool"), (-1, 1, 1))
            new = [ops.where(held, old, value) for old, value in zip(modulation, new)]
        record = dict(record, feedback=feedback, modulation=new[0])
        return y, [h, c, *new], record

    def call(self, inputs, states, training=None):
        replicated = self.replicas is not None
        states = [replica_axis_in(s, replicated) for s in states]
        y, states, _ = self.step(self.step_input(inputs), states)
        return replica_axis_out(y, replicated), [replica_axis_out(s, replicated) for s in states]

    def get_initial_state(self, batch_size=None):
        return self.modulator.get_initial_state(batch_size) + self.initial_modulation(batch_size)

    def get_config(self):
        config = super().get_config()
        config.update({"sources": self.sources, "sensors": self.sensors, "hidden_units": self.hidden_units,
                       "input_to_net": self.input_to_net, "tau": self.tau, "torch_init": self.torch_init})
        return config
