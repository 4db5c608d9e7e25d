"""E/I rate network simulation throughput (EIRateCell inside EINetwork), in neuron-steps per second.

Network: N = 10⁴ (8000 E, 2000 I), K = 500 presynaptic partners per neuron and population, binary
ELL blocks drawn here (fixed in-degree, no duplicates), config_2pop-like dynamics (rate and
synaptic low-pass, no NMDA, no STP), 1 s at DT = 1 ms (1000 steps, T_STEADY = 0). Figures:

- neuron_steps_per_s_b1 / _b10: B·N·steps / wall time of a trial after compilation, batch 1 and 10
  (targets on the 2-core CPU: ≥ 1.55e6 and ≥ 6.4e6);
- the same without XLA (`jit_loop=False`): *_nojit;
- drive_only_seconds_b1 / _b10: the four `synaptic_drive` calls per step alone, in the same
  compiled loop (where the step's time goes: the rest is the elementwise update);
- stp_neuron_steps_per_s_b1: with structured STP on E→E (one more u/x update per step);
- compile_seconds_b1: the first call's extra time (tracing + XLA).

    python benchmarks/bench_ei_network.py [--quick]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import machine_info, print_table, write_results  # noqa: E402

SIZES = [8000, 2000]
K = 500


def blocks(seed=0):
    from ndnx.connectivity import Synapses

    rng = np.random.default_rng(seed)
    out = {}
    for a, n_post in enumerate(SIZES):
        for b, n_pre in enumerate(SIZES):
            idx = np.empty((n_post, K), "int32")
            for start in range(0, n_post, 500):
                stop = min(start + 500, n_post)
                idx[start:stop] = np.argpartition(rng.random((stop - start, n_pre)), K, axis=1)[:, :K]
            out[(a, b)] = Synapses((n_post, n_pre), "ell", indices=np.sort(idx, axis=1))
    return out


def make_net(syn, jit=True, stp=False, duration=1.0):
    import ndnx

    cell = ndnx.cells.EIRateCell(SIZES, syn, jab=(1.0, -1.5, 1.0, -1.0), gain=1.0, in_degree=K, m0=0.15,
                                 ja0=(2.0, 1.0), dt=1e-3, t_window=0.1, rate_dynamics=True, tau=(0.04, 0.02),
                                 tau_syn=(0.004, 0.002), nmda=False, stp_blocks=[(0, 0)] if stp else [],
                                 j_stp=1.0, seed=0)
    return ndnx.models.EINetwork(cell, duration=duration, t_steady=0.0, jit_loop=jit)


def trial_seconds(net, batch, repeats):
    t0 = time.perf_counter()
    net.simulate(batch_size=batch)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        net.simulate(batch_size=batch)
        times.append(time.perf_counter() - t0)
    return min(times), first - min(times)


def drive_seconds(net, batch, steps):
    """The four synaptic drives of a step alone, `steps` times in one compiled loop."""
    import tensorflow as tf

    from ndnx.connectivity import synaptic_drive

    cell = net.cell
    weights = cell._synapse_weights
    offsets = cell.offsets

    @tf.function(jit_compile=True, autograph=False)
    def run(r):
        def body(i, r):
            parts = [r[:, o:o + n] for o, n in zip(offsets, SIZES)]
            hid = [sum(synaptic_drive(parts[b], weights[(a, b)], 0.01) for b in range(2)) for a in range(2)]
            return i + 1, r * 0.999 + 0.001 * tf.concat(hid, axis=1)

        return tf.while_loop(lambda i, r: i < steps, body, (0, r))[1]

    r = tf.random.uniform((batch, sum(SIZES)))
    run(r)
    t0 = time.perf_counter()
    np.asarray(run(r))
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat and 0.3 s trials")
    args = parser.parse_args()
    import ndnx  # noqa: F401

    duration = 0.3 if args.quick else 1.0
    repeats = 1 if args.quick else 2
    steps = int(round(duration / 1e-3))
    n = sum(SIZES)
    syn = blocks()
    results = {"n_neurons": n, "k": K, "steps": steps, "quick": args.quick}
    net = make_net(syn, duration=duration)
    for batch in (1, 10):
        seconds, compile_s = trial_seconds(net, batch, repeats)
        results[f"neuron_steps_per_s_b{batch}"] = batch * n * steps / seconds
        results[f"trial_seconds_b{batch}"] = seconds
        if batch == 1:
            results["compile_seconds_b1"] = compile_s
        results[f"drive_only_seconds_b{batch}"] = drive_seconds(net, batch, steps)
    nojit = make_net(syn, jit=False, duration=duration)
    for batch in (1, 10):
        seconds, _ = trial_seconds(nojit, batch, repeats)
        results[f"neuron_steps_per_s_b{batch}_nojit"] = batch * n * steps / seconds
    seconds, _ = trial_seconds(make_net(syn, stp=True, duration=duration), 1, repeats)
    results["stp_neuron_steps_per_s_b1"] = n * steps / seconds
    results.update(machine_info())
    print_table(sorted(results.items()))
    print("written", write_results("ei_network", results))


if __name__ == "__main__":
    main()
