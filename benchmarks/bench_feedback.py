"""Feedback-modulation training speed: seconds per TBPTT batch (32 contexts × 1000 steps, forward + backward).

Figures (benchmarks/results/feedback.json):

- modulationnet_s_per_batch, spatialnet_s_per_batch: one `train_on_batch` of `ndnx.models.FeedbackNetwork`
  (ModulationNetCell τ = 1; SpatialNetCell Nz 100, Nm 4, width 0.2, τ = 100; LSTM(100); carried state;
  Huber loss summed over the window; Adam 1e-3 with clipvalue 1; XLA), best of the timed batches;
  *_cpu the process CPU time of that batch (all threads: on a machine shared with other jobs the wall
  figure moves with their load, the CPU figure much less); the defaults: the hand-written window
  gradient of `ndnx.models.feedback_gradient` and the batch cut into `batch_parts="auto"` groups of
  contexts trained side by side (*_parts: how many; 2 on a 2-core machine); *_1_part_* the same as
  one group, *_autodiff_* with `gradient="autodiff"`;
- sequential_ / gathered_matmul_gflop_per_cpu_s: what XLA on this CPU does with the window's matmul
  shapes (1000 dependent 32 × 104 @ 104 × 400 products in a loop; one 104 × 32,000 @ 32,000 × 400),
  matmul_flop_per_window the FLOP of one of the three such matmuls of a batch (forward, backward δ,
  weight gradient);
- *_first_batch_s: the first batch (tracing and XLA compilation of the 1000-step loop and its gradient);
- with --quick the window is 100 steps and the figures are scaled to 1000.

The original (PyTorch 1.10, a Python loop over steps) takes 1.42 s (ModulationNet) and 1.98 s (SpatialNet)
per batch on this 2-core machine; the issue's floor is 1/20 of that (0.071 s and 0.099 s).

Last run (2026-12-04 01:07, 2-core AMD EPYC shared with other virtual machines, load 1.2):
ModulationNet 0.068 s per batch (0.135 CPU-s), SpatialNet 0.077 s (0.150 CPU-s) as two groups; one
group 0.128 s (0.185 CPU-s) and 0.155 s (0.230 CPU-s); autodiff (two groups) 0.126 and 0.153 s;
first batch 2–5 s. 20.7× and 25.9× faster than the original. The figure moves with the
neighbours' load: five runs of the same code between 00:16 and 01:07 gave 0.068–0.082 s
(ModulationNet: within its floor in the two quietest, 0.068 and 0.070 s, 0.4 % above it in a
third) and 0.073–0.085 s
(SpatialNet: always within); ten runs the day before (22:37–22:52) 0.069–0.082 s and
0.075–0.092 s. The three 2.66-GFLOP matmuls of a batch alone take 0.08–0.09 CPU-s, 0.04 s of the
0.071 s with both cores busy (see the README's feedback section). Earlier: 2026-12-03 20:41,
0.103 s (0.201 CPU-s) and 0.114 s (0.222 CPU-s); before the groups (05:45, load 0.6), 0.175 s
and 0.185 s.

    python benchmarks/bench_feedback.py [--quick]
"""

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import machine_info, print_table, write_results  # noqa: E402

ORIGINAL_S_PER_BATCH = {"modulationnet": 1.42, "spatialnet": 1.98}
FLOOR_FRACTION = 1.0 / 20


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench(name, window, repeats, gradient="auto", batch_parts="auto"):
    import ndnx
    from ndnx.data import unmixing

    cell = (ndnx.cells.ModulationNetCell(tau=1.0, seed=0) if name == "modulationnet" else
            ndnx.cells.SpatialNetCell(units=100, signals=4, kernel_width=0.2, tau=100.0, seed=0))
    model = ndnx.models.FeedbackNetwork(cell, batch_size=32, gradient=gradient, batch_parts=batch_parts)
    model.compile(ndnx.models.FeedbackNetwork.optimizer_of_the_paper(), jit_compile=True)
    contexts, _ = unmixing.mixing_matrices(32 * (repeats + 1), seed=0)
    x, s = unmixing.training_batches(unmixing.chords(), contexts, window=window, seed=0)
    t0 = time.perf_counter()
    model.train_on_batch(x[0], s[0])
    first = time.perf_counter() - t0
    best = (float("inf"), float("inf"))
    for k in range(1, repeats + 1):
        t0, c0 = time.perf_counter(), cpu_seconds()
        model.train_on_batch(x[k], s[k])
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        best = min(best, (wall, cpu))
    scale = 1000.0 / window
    key = name if gradient == "auto" else f"{name}_{gradient}"
    key = key if batch_parts == "auto" else f"{key}_{batch_parts}_part{'s' if batch_parts > 1 else ''}"
    print(f"{key}: {model.step_parts()} part(s), first batch {first:.1f} s, then {best[0] * scale:.3f} s per batch "
          f"({best[1] * scale:.3f} CPU-s)", flush=True)
    return {f"{key}_s_per_batch": best[0] * scale, f"{key}_s_per_batch_cpu": best[1] * scale,
            f"{key}_first_batch_s": first, f"{key}_parts": model.step_parts()}


def best_cpu_seconds(function, *args, repeats=5):
    function(*args)
    best = float("inf")
    for _ in range(repeats):
        c0 = cpu_seconds()
        function(*args).numpy()
        best = min(best, cpu_seconds() - c0)
    return best


def matmul_throughput(batch=32, steps=1000, inputs=104, gates=400):
    """GFLOP per CPU-second of the batch's two kinds of matmul, compiled by XLA as in training.

    The sequential kind: `steps` dependent (batch × inputs) @ (inputs × gates) products in a
    `tf.while_loop` (the forward's, and the backward's δz Wᵀ); the gathered kind: one
    (inputs × batch·steps) @ (batch·steps × gates) product (the weight gradient).
    """
    import tensorflow as tf

    rng = tf.random.Generator.from_seed(0)
    kernel = rng.normal((inputs, gates)) * 0.1
    xs = rng.normal((steps, batch, inputs - gates // 4))

    @tf.function(jit_compile=True)
    def sequential(xs, kernel):
        def body(t, h):
            return t + 1, tf.tanh(tf.matmul(tf.concat([xs[t], h], -1), kernel)[:, :gates // 4])
        return tf.while_loop(lambda t, _: t < steps, body, (0, tf.zeros((batch, gates // 4))),
                             maximum_iterations=steps)[1]

    @tf.function(jit_compile=True)
    def gathered(a, b):
        return tf.matmul(a, b, transpose_a=True)

    flop = 2.0 * batch * steps * inputs * gates
    rows = rng.normal((batch * steps, inputs)), rng.normal((batch * steps, gates))
    return {"matmul_flop_per_window": flop,
            "sequential_matmul_gflop_per_cpu_s": flop / best_cpu_seconds(sequential, xs, kernel) / 1e9,
            "gathered_matmul_gflop_per_cpu_s": flop / best_cpu_seconds(gathered, *rows) / 1e9}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100-step windows, figures scaled to 1000")
    args = parser.parse_args(argv)
    window = 100 if args.quick else 1000
    results = {"quick": bool(args.quick), "load_average_1min": os.getloadavg()[0], **machine_info()}
    from ndnx.host_memory import retain_freed_memory

    retain_freed_memory()  # as FeedbackNetwork.train_step does; before the throughput figures too
    results.update(matmul_throughput())
    for name in ("modulationnet", "spatialnet"):
        results.update(bench(name, window, repeats=10))
        results.update(bench(name, window, repeats=10, batch_parts=1))
        results.update(bench(name, window, repeats=10, gradient="autodiff"))
        results[f"{name}_original_s_per_batch"] = ORIGINAL_S_PER_BATCH[name]
        results[f"{name}_floor_s_per_batch"] = ORIGINAL_S_PER_BATCH[name] * FLOOR_FRACTION
    path = write_results("feedback", results)
    print_table([(k, v) for k, v in sorted(results.items()) if isinstance(v, (int, float)) and not isinstance(v, bool)])
    for name in ("modulationnet", "spatialnet"):
        got, floor = results[f"{name}_s_per_batch"], results[f"{name}_floor_s_per_batch"]
        print(f"{name}: {got:.3f} s per batch, {ORIGINAL_S_PER_BATCH[name] / got:.1f}× the original; "
              f"{'meets' if got <= floor else 'misses'} the floor {floor:.3f} s")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
