"""What an energy graph has learnt, by sampling it: the three `--viz` modes of NRF-LV (spec energy_sampling_nrflv.md §3.1).

Every layer, the image included, starts from uniform noise in ρ's range and runs `steps` sampler steps;
the image layer is kept every `every` steps.

* `standard`: unconstrained sampling of the full energy (the negative phase, longer);
* `channels_energy`: for a layer l and channel c the sampler descends (it *minimises*; the original's
  help text says "maximise", wrongly) only 0.5 × Σ of the per-unit energies of channel c of layer l
  (`ChannelEnergyTarget`) — "what input does channel c find lowest energy" (thesis Fig. 2.6 right).
  Layers below l whose gradient from that objective is exactly zero (they do not reach channel c)
  follow the full energy's gradient instead;
* `channels_state`: full-energy sampling with layer l held at 0.8 in channel c and 0 elsewhere (the
  original overwrote the state after every step; here the layer is clamped, which is the same) —
  conditioning on channel c being "on".

`ndnx.plotting.energy.plot_samples` draws the results (one row per channel for the channel modes).

Example:
    >>> import numpy as np, ndnx
    >>> from ndnx.energy import SGHMC
    >>> from ndnx.energy.visualisation import visualise
    >>> layers = [{"name": "image", "shape": [4, 4, 1]}, {"name": "h", "shape": [4, 4, 2]}]
    >>> edges = [{"source": "h", "target": "image", "kind": "conv", "kernel": 3},
    ...          {"source": "image", "target": "h", "kind": "conv", "kernel": 3}]
    >>> graph = ndnx.energy.EnergyGraph(layers, edges, base_channels=2, state_activation="hardsig", seed=1)
    >>> out = visualise(graph, "channels_state", SGHMC(0.1, 0.1), steps=6, batch=3, every=3, layer=1)
    >>> sorted(out), out[1].shape  # per channel: (snapshots, batch, H, W, C) of the image layer
    ([0, 1], (2, 3, 4, 4, 1))
"""

import numpy as np
import tensorflow as tf

__all__ = ["ChannelEnergyTarget", "visualise", "MODES"]

MODES = ("standard", "channels_energy", "channels_state")


class ChannelEnergyTarget:
    """0.5 × the summed per-unit energies of channel `channel` of layer `layer` of `graph`, as a sampler target.

    Gradients by autodiff; a layer below `layer` whose gradient is exactly zero gets the full energy's.
    """

    def __init__(self, graph, layer, channel):
        self.graph, self.layer, self.channel = graph, int(layer), int(channel)
        self.ranges = graph.ranges

    def energy(self, states):
        units = self.graph.unit_energies(states)[self.layer][..., self.channel]
        return 0.5 * tf.reduce_sum(tf.reshape(units, (tf.shape(units)[0], -1)), axis=-1)

    def energy_and_gradients(self, states, free=None):
        from ndnx.energy.function_target import autodiff_energy_and_gradients

        states = [tf.convert_to_tensor(s) for s in states]
        free = [True] * len(states) if free is None else list(free)
        e, grads = autodiff_energy_and_gradients(self.energy, states, free)
        below = [k for k in range(self.layer) if free[k]]
        full = self.graph.energy_and_gradients(states, free)[1] if below else None
        for k, g in enumerate(grads):
            if not free[k]:
                continue
            if g is None:  # the objective does not reach layer k at all
                grads[k] = full[k] if k < self.layer else tf.zeros_like(states[k])
            elif k < self.layer:
                grads[k] = tf.cond(tf.reduce_all(tf.equal(g, 0.0)), lambda k=k: full[k], lambda g=g: g)
        return e, grads

    def clamp(self, states):
        return self.graph.clamp(states)


def _noise(graph, batch, seed):
    rng = np.random.default_rng(seed)
    out = []
    for shape, (lo, hi) in zip(graph.shapes, graph.ranges):
        lo = lo if np.isfinite(lo) else 0.0
        hi = hi if np.isfinite(hi) else lo + 1.0
        out.append(rng.uniform(lo, hi, size=(batch,) + tuple(shape)).astype(graph.state_dtype))
    return out


def _images(sampler, target, states, steps, every, free=None):
    snapshots = []
    done = 0
    while done < steps:
        n = min(int(every), steps - done)
        states, _, recorded = sampler.run(target, states, n, free=free, record={"image": ("state", 0, None)})
        snapshots.append(recorded["image"][-1].numpy())
        done += n
    return np.stack(snapshots)


def visualise(graph, mode, sampler, steps, batch=128, every=None, layer=1, channels=None, seed=0):
    """Image-layer samples: (snapshots, batch, ...) for "standard", {channel: that} for the channel modes.

    steps: sampler steps per chain; every: keep the image every that many steps (default: the last only);
    layer: the layer whose channels are visualised; channels: which (default all); seed: the noise start.
    """
    if mode not in MODES:
        raise ValueError(f"visualise: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"visualise: steps must be a positive int, got {steps!r}")
    every = int(steps) if every is None else int(every)
    if not graph.built:
        graph.build()
    if mode == "standard":
        return _images(sampler, graph, _noise(graph, batch, seed), int(steps), every)
    if not 1 <= int(layer) < len(graph.shapes):
        raise ValueError(f"visualise: layer must be a latent layer 1..{len(graph.shapes) - 1}, got {layer!r}")
    layer = int(layer)
    count = graph.shapes[layer][-1]
    channels = range(count) if channels is None else [int(c) for c in channels]
    out, targets = {}, []  # targets kept alive: the sampler caches its compiled loops by the target's id
    for c in channels:
        if not 0 <= c < count:
            raise ValueError(f"visualise: channel must be in 0..{count - 1} for layer {layer}, got {c}")
        states = _noise(graph, batch, seed)
        if mode == "channels_energy":
            targets.append(ChannelEnergyTarget(graph, layer, c))
            out[c] = _images(sampler, targets[-1], states, int(steps), every)
        else:
            on = np.zeros_like(states[layer])
            on[..., c] = 0.8
            states[layer] = on
            free = tuple(k != layer for k in range(len(states)))
            out[c] = _images(sampler, graph, states, int(steps), every, free=free)
    return out
