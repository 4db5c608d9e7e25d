"""NRF-LV sampler throughput on the thesis architecture (32×32×3 images), positive and negative phase.

Figures (benchmarks/results/energy.json):

- sampler_steps_per_s_b8, sampler_steps_per_s_b32: SGHMC steps per second of the negative phase (every
  layer free, the thesis's sampler settings: faithful variance clamp, 100-step burn-in, the original's
  inverse mass on SL1 and SL2), float32, best of the timed runs; *_cpu the same from the process CPU time;
  the same keys with `_mixed_bfloat16` for the graph under the mixed_bfloat16 policy (networks in
  bfloat16, states and energy float32);
- positive_steps_per_s_b8, positive_steps_per_s_b32: the positive phase (image clamped, its gradient
  not computed);
- flops_per_step_b8, flops_per_step_b32: multiply-adds × 2 of one step, counted from the graph: every
  convolution and dense layer once forward and once for the gradient with respect to its input
  (the weights' gradients are not needed while sampling);
- conv_flops_per_s: what the machine reaches on the same convolutions (same shapes, batch 32) in a
  plain compiled Keras/TF forward + input-gradient pass (at TF's default threads);
  fraction_of_conv_throughput: the negative phase's FLOP/s at batch 32 over it; conv_flops_per_s_bfloat16
  and fraction_of_conv_throughput_mixed_bfloat16 the same in bfloat16;
- speedup_vs_original_b8, speedup_vs_original_b32 (and *_mixed_bfloat16): against the original's 0.090 /
  0.317 s per sampler step at batch 8 / 32 on this 2-core machine (floors: ≥ 3×, and ≥ 0.6 of the conv
  throughput);
- original_flops_per_step_b8/_b32: the original's step recounted from the spec's architecture (it
  convolves SL1→SL2 at 32×32 before subsampling); original_implied_flops_per_s_b8/_b32: that over its
  0.090 / 0.317 s; floor_needs_flops_per_s_b8/_b32: ndnx's FLOPs at a third of the original's time;
- matmul_flops_per_s: a compiled chain of 2048² float32 matmuls; best_step_s_b32_at_conv_throughput:
  flops_per_step_b32 over conv_flops_per_s; cpu_has_avx512_bf16: whether bfloat16 runs natively;
- load_average_1min: the machine's load when the script started (it shares 2 cores with other jobs).

Last run (2026-12-03 18:56, load 0.9, full run, the defaults): float32 23 ms per step at batch 8 (43.5
steps/s, 22.3 from CPU time) and 98 ms at batch 32 (10.2 / 5.18): 3.91× and 3.23× the original;
mixed_bfloat16 18 / 66 ms (55.8 / 15.1 steps/s): 5.03× / 4.78×. Positive phase 22 / 95 ms (float32),
19 / 60 ms (bfloat16). The plain convolutions reached 310 GFLOP/s in float32 and 567 in bfloat16, GEMM
206; fraction of the conv throughput 1.10 (float32) and 0.89 (bfloat16 against bfloat16's) — above 1
in float32 because the 7×7 and 11×11 edges run in the Fourier domain while the FLOPs are counted as
direct convolutions. Both floors are met in both precisions. Other full runs within the hour: float32
22 / 90 ms (18:21, load 1.3: 4.16× / 3.54×) and 23 / 93 ms (18:43, load 0.2). Earlier the same day,
before DFTs from batch 2 on and before mixed precision: 41 / 156 ms (2.21× / 2.04×). Full runs of the
same code vary by ±15–25 % with the other jobs on the shared cores, so changes are measured in
interleaved runs in one process (README, "NRF-LV" benchmark: what made it fast, where a step's time
goes, what was tried and dropped).

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
    graphs = {dtype: graph if dtype == "float32" else ndnx.energy.nrflv_graph(
        THESIS, fft_min_kernel=args.fft_min_kernel, seed=0, dtype=dtype) for dtype in dtypes}
    rng = np.random.default_rng(0)
    for batch in (8, 32):
        states = [rng.uniform(-1, 1, size=(batch,) + s).astype("float32") for s in graph.shapes]
        for dtype, timed_graph in graphs.items():
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
