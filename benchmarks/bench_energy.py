"""NRF-LV sampler throughput on the thesis architecture (32×32×3 images), positive and negative phase.

Figures (benchmarks/results/energy.json):

- sampler_steps_per_s_b8, sampler_steps_per_s_b32: SGHMC steps per second of the negative phase (every
  layer free, the thesis's sampler settings: faithful variance clamp, 100-step burn-in, the original's
  inverse mass on SL1 and SL2), best of the timed runs; *_cpu the same from the process CPU time;
- positive_steps_per_s_b8, positive_steps_per_s_b32: the positive phase (image clamped, its gradient
  not computed);
- flops_per_step_b8, flops_per_step_b32: multiply-adds × 2 of one step, counted from the graph: every
  convolution and dense layer once forward and once for the gradient with respect to its input
  (the weights' gradients are not needed while sampling);
- conv_flops_per_s: what the machine reaches on the same convolutions (same shapes, batch 32) in a
  plain compiled Keras/TF forward + input-gradient pass (at TF's default threads); fraction_of_conv_throughput: the negative
  phase's FLOP/s at batch 32 over it;
- speedup_vs_original_b8, speedup_vs_original_b32: against the original's 0.090 / 0.317 s per sampler
  step at batch 8 / 32 on this 2-core machine (floors: ≥ 3×, and ≥ 0.6 of the conv throughput);
- original_flops_per_step_b8/_b32: the original's step recounted from the spec's architecture (it
  convolves SL1→SL2 at 32×32 before subsampling); original_implied_flops_per_s_b8/_b32: that over its
  0.090 / 0.317 s; floor_needs_flops_per_s_b8/_b32: ndnx's FLOPs at a third of the original's time;
- matmul_flops_per_s: a compiled chain of 2048² float32 matmuls; best_step_s_b32_at_conv_throughput:
  flops_per_step_b32 over conv_flops_per_s;
- load_average_1min: the machine's load when the script started (it shares 2 cores with other jobs).

Last run (2026-12-03 11:07, load 1.3, full run, `--fft-min-kernel 7 --intra-op-threads 1`, the
defaults, with DFTs as matrix products from batch 16 on and Box–Muller noise): negative phase 41 ms per
step at batch 8 (24.6 steps/s, 12.8 from CPU time) and 156 ms at batch 32 (6.42 / 3.24); positive
phase 33 / 153 ms; the plain direct convolutions reached 129 GFLOP/s on both cores at that moment (150
at 08:44), GEMM 128; fraction 1.66 — above 1 because the 7×7 and 11×11 edges run in the Fourier domain
while the FLOPs are counted as direct convolutions. Against the original: 2.21× (batch 8) and 2.04×
(batch 32). At 10:47 (before the noise change, the conv reference at 120 GFLOP/s): 45 / 152 ms, 2.01×
/ 2.09×. The run at 08:44 (load 1.7, FFTs at every batch, TF's own normal noise): 38 / 172 ms, 2.39×
/ 1.85×; with `--intra-op-threads 0` (TF's default, one thread per core within each op) the minute
before: 46 / 180 ms. Full runs of the same code within the hour vary by ±15–20 % (the conv reference
itself 116–197 GFLOP/s: the two cores are shared), so changes are measured in interleaved runs in one
process: the DFTs gave 140–165 instead of 153–182 ms at batch 32, 291–301 instead of 331–355 at batch
64 and 635–645 instead of 800–821 at batch 128 (the thesis's training batch); the Box–Muller noise 280
instead of 295 CPU-ms per batch-32 step. The code before the kernel spectra were cached and the FFT
size cut to H + p (05:50, load 0.7, 11×11 only through FFT, default threads): 61 / 213 ms, 1.47× /
1.49×.

Why the 3× floor (30 / 106 ms per step) is still out of reach: inside the compiled loop at batch 32 (with
FFTs) the energy and its state gradient took about 150 ms (f₀ 40 ms and f₁ 61 ms for forward and input gradient,
f₂ 10 ms; the rest is the energy terms, the activations and their gradients), SGHMC's update and noise
about 30 ms. Tried and dropped (load ≈ 1.5): XLA for each FFT correlation (CPU-ms per correlation 17.6
instead of 26.1 at 7×7, but no wall-time gain in the loop, where both cores are already busy: 167 vs 173
ms at batch 32, 43 vs 41 at batch 8), an XLA-fused SGHMC update (5 instead of 10 ms per step for SL1 at
batch 32, inside the step's noise), the whole loop under XLA (`--jit`: 53 / 227 ms per step, XLA's CPU
convolutions). Recounted from the spec, the original's step is 39.6 GFLOP at batch 32 (9.9 at batch 8):
forward f₀ 123 M, f₁ 379 M (the 11×11 lateral edge 254 M), f₂ 116 M (103 M the SL1→SL2 convolution at
full size) per example, doubled by the state gradient; at 0.317 s that is 125 GFLOP/s (110 at batch 8)
of direct convolutions, more than this machine's reach per core (84–107 GFLOP per CPU-second). Checked
for wasted work (op-level profile of the compiled loop): every edge is one convolution (`operations`
lists them), the energy value adds only reductions to the forward pass its gradient needs anyway, no
weight gradients are taken while sampling, float32 throughout with no casts, clamped layers get no
gradient. Summing per-input 1×1 convolutions instead of concatenating gains nothing (461 vs 467 CPU-ms
at load 5.9).

    python benchmarks/bench_energy.py [--quick] [--jit] [--fft-min-kernel K] [--intra-op-threads N]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import machine_info, print_table, timed, write_results  # noqa: E402

ORIGINAL_S_PER_STEP = {8: 0.090, 32: 0.317}
THESIS = "NRFLV_CIFAR_4SL_small_densebackw_wideSL1base"
SAMPLER = dict(step_size=0.1, friction=0.1, noise="faithful", min_sq_sigma=9e-5, max_sq_sigma=1e-4, burn_in=100,
               inverse_mass="faithful")


def operations(graph):
    """[(kind, input shape (H, W, C) or (D,), kernel (k, k, C_in, C_out) or (D_in, D_out), stride, padding)]
    of every convolution and dense layer of the graph, per example."""
    ops = []
    for network, shape in zip(graph.networks, graph.shapes):
        if network is None:
            continue
        h, w = shape[0], shape[1] if len(shape) == 3 else (None, None)
        channels = 0
        for conv, (_, src, *_rest) in zip(network.base, network.conv_edges):
            ops.append(("conv", tuple(src), (conv.kernel_size, conv.kernel_size, src[-1], conv.filters),
                        conv.stride, conv.padding))
            channels += conv.filters
        if network.mix is not None:
            ops.append(("conv", (h, w, channels), (1, 1, channels, network.mix.filters), 1, 0))
            k = network.out.kernel_size
            ops.append(("conv", (h, w, network.mix.filters), (k, k, network.mix.filters, network.out.filters), 1,
                        network.out.padding))
        features = sum(int(np.prod(s)) for _, s in network.dense_edges)
        for layer in network.fc:
            ops.append(("dense", (features,), (features, layer.units), 1, 0))
            features = layer.units
    return ops


def op_flops(op):
    kind, shape, kernel, stride, padding = op
    if kind == "dense":
        return 2 * kernel[0] * kernel[1]
    k = kernel[0]
    out = [(n + 2 * padding - k) // stride + 1 for n in shape[:2]]
    return 2 * out[0] * out[1] * k * k * kernel[2] * kernel[3]


def original_flops(ops):
    """FLOPs per example of the original's forward pass: like `op_flops`, but it convolves at the source's
    full size before the nearest subsampling that ndnx fuses into a strided convolution (spec §1.2)."""
    return sum(op_flops(op[:3] + (1,) + op[4:]) for op in ops)


def matmul_reference(repeats, n=2048, chain=5):
    """FLOP/s of a compiled chain of n×n float32 matmuls (the machine's GEMM throughput)."""
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), seed=(0, 0))

    @tf.function(jit_compile=False)
    def run(x):
        for _ in range(chain):
            x = tf.matmul(x, a) * (1.0 / n)
        return x

    run(a)
    wall, cpu = timed(lambda: run(a).numpy(), repeats)
    return chain * 2 * n ** 3 / wall, chain * 2 * n ** 3 / cpu


def conv_reference(ops, batch, repeats, dtype="float32"):
    """FLOP/s of the graph's convolutions and dense layers alone: compiled forward + input gradient."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    inputs = [tf.constant(rng.normal(size=(batch,) + op[1]).astype("float32"), dtype) for op in ops]
    kernels = [tf.constant(rng.normal(size=op[2]).astype("float32") * 0.05, dtype) for op in ops]

    @tf.function(jit_compile=False)
    def step(xs):
        with tf.GradientTape() as tape:
            tape.watch(xs)
            total = 0.0
            for (kind, _, _, stride, padding), x, kernel in zip(ops, xs, kernels):
                if kind == "dense":
                    y = tf.matmul(x, kernel)
                else:
                    xp = tf.pad(x, [[0, 0], [padding, padding], [padding, padding], [0, 0]]) if padding else x
                    y = tf.nn.conv2d(xp, kernel, strides=stride, padding="VALID")
                total += tf.reduce_sum(tf.cast(y, tf.float32))
        return tape.gradient(total, xs)

    step(inputs)
    wall, cpu = timed(lambda: [g.numpy() for g in step(inputs)], repeats)
    flops = 2 * batch * sum(op_flops(op) for op in ops)
    return flops / wall, flops / cpu


def cpu_has_bf16():
    """Whether the CPU has AVX512_BF16 (oneDNN's fast bfloat16 kernels; elsewhere bfloat16 is emulated)."""
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512_bf16" in f.read()
    except OSError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    parser.add_argument("--jit", action="store_true", help="XLA-compile the sampler loop (slow on a CPU)")
    parser.add_argument("--fft-min-kernel", type=int, default=7, help="FFT convolutions from this kernel size (0: none)")
    parser.add_argument("--intra-op-threads", type=int, default=1,
                        help="TensorFlow's threads within one op for the sampler (0: TF's default, one per core); "
                             "the plain-convolution and GEMM references always run with TF's default")
    parser.add_argument("--dtypes", default="float32,mixed_bfloat16",
                        help="Keras dtype policies of the graph to time, comma-separated (the first one gives the "
                             "unsuffixed keys)")
    parser.add_argument("--references-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.fft_min_kernel = args.fft_min_kernel or None
    load = os.getloadavg()[0]
    import tensorflow as tf

    # before TensorFlow's first op: its thread pools are made then
    tf.config.threading.set_intra_op_parallelism_threads(0 if args.references_only else args.intra_op_threads)
    import ndnx
    from ndnx.energy import SGHMC

    steps, repeats = (5, 2) if args.quick else (20, 3)
    graph = ndnx.energy.nrflv_graph(THESIS, fft_min_kernel=args.fft_min_kernel, seed=0)
    graph.build()
    ops = operations(graph)
    if args.references_only:
        print(json.dumps(dict(zip(("conv_wall", "conv_cpu", "matmul_wall", "matmul_cpu", "conv_bf16_wall"),
                                  conv_reference(ops, 32, repeats) + matmul_reference(repeats)
                                  + conv_reference(ops, 32, repeats, "bfloat16")[:1]))))
        return
    per_example = 2 * sum(op_flops(op) for op in ops)  # forward + input gradient
    results = {"load_average_1min": load, "steps_timed": steps, "jit_compile": args.jit,
               "fft_min_kernel": args.fft_min_kernel, "intra_op_threads": args.intra_op_threads,
               "cpu_has_avx512_bf16": cpu_has_bf16()}
    dtypes = args.dtypes.split(",")
    rng = np.random.default_rng(0)
    for batch in (8, 32):
        states = [rng.uniform(-1, 1, size=(batch,) + s).astype("float32") for s in graph.shapes]
        for dtype in dtypes:
            timed_graph = graph if dtype == "float32" else ndnx.energy.nrflv_graph(
                THESIS, fft_min_kernel=args.fft_min_kernel, seed=0, dtype=dtype)
            suffix = "" if dtype == dtypes[0] else f"_{dtype}"
            for phase, free in (("negative", None), ("positive", (False, True, True, True))):
                sampler = SGHMC(**SAMPLER, jit_compile=args.jit, seed=1)
                t0 = time.perf_counter()
                sampler.run(timed_graph, states, 1, free=free)[0][0].numpy()
                first = time.perf_counter() - t0
                wall, cpu = timed(lambda: sampler.run(timed_graph, states, steps, free=free)[0][0].numpy(), repeats)
                key = "sampler" if phase == "negative" else "positive"
                results[f"{key}_steps_per_s_b{batch}{suffix}"] = steps / wall
                results[f"{key}_steps_per_s_b{batch}{suffix}_cpu"] = steps / cpu
                print(f"{dtype}, {phase} phase, batch {batch}: first call {first:.1f} s, {wall / steps * 1e3:.0f} ms "
                      f"per step ({cpu / steps * 1e3:.0f} CPU-ms)", flush=True)
            results[f"speedup_vs_original_b{batch}{suffix}"] = (results[f"sampler_steps_per_s_b{batch}{suffix}"]
                                                                 * ORIGINAL_S_PER_STEP[batch])
        results[f"flops_per_step_b{batch}"] = per_example * batch
        results[f"original_flops_per_step_b{batch}"] = 2 * original_flops(ops) * batch
        results[f"original_implied_flops_per_s_b{batch}"] = (results[f"original_flops_per_step_b{batch}"]
                                                             / ORIGINAL_S_PER_STEP[batch])
        results[f"floor_needs_flops_per_s_b{batch}"] = per_example * batch * 3 / ORIGINAL_S_PER_STEP[batch]
    if args.intra_op_threads:  # the references at TF's default threads: a process of their own
        command = [sys.executable, os.path.abspath(__file__), "--references-only"] + (["--quick"] if args.quick else [])
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        refs = json.loads(done.stdout.strip().splitlines()[-1])
        conv_wall, conv_cpu = refs["conv_wall"], refs["conv_cpu"]
        results["matmul_flops_per_s"], results["matmul_flops_per_s_cpu"] = refs["matmul_wall"], refs["matmul_cpu"]
        conv_bf16 = refs["conv_bf16_wall"]
    else:
        conv_wall, conv_cpu = conv_reference(ops, 32, repeats)
        results["matmul_flops_per_s"], results["matmul_flops_per_s_cpu"] = matmul_reference(repeats)
        conv_bf16 = conv_reference(ops, 32, repeats, "bfloat16")[0]
    results["conv_flops_per_s"] = conv_wall
    results["conv_flops_per_s_cpu"] = conv_cpu
    results["best_step_s_b32_at_conv_throughput"] = results["flops_per_step_b32"] / conv_wall
    achieved = results["sampler_steps_per_s_b32"] * results["flops_per_step_b32"]
    results["sampler_flops_per_s_b32"] = achieved
    results["fraction_of_conv_throughput"] = achieved / conv_wall
    results["fraction_of_conv_throughput_cpu"] = (results["sampler_steps_per_s_b32_cpu"] * results["flops_per_step_b32"]
                                                  / conv_cpu)
    results["conv_flops_per_s_bfloat16"] = conv_bf16
    if "mixed_bfloat16" in dtypes[1:]:
        results["fraction_of_conv_throughput_mixed_bfloat16"] = (
            results["sampler_steps_per_s_b32_mixed_bfloat16"] * results["flops_per_step_b32"] / conv_bf16)
    results.update(machine_info())
    print_table(sorted(results.items()))
    if not args.quick:
        print("wrote", write_results("energy", results))


if __name__ == "__main__":
    main()
