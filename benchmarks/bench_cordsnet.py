"""CordsNet throughput: R8 inference at 224 px (100 blank + 100 stimulus steps) and R2 training steps.

Figures (benchmarks/results/cordsnet.json):

- r8_images_per_s_b1, r8_images_per_s_b8: images per second of `model(images)` as a user's repeated
  calls see it (the blank phase cached, so each call runs the stem and the 100 stimulus steps), best
  of the timed calls; *_cpu the same from the process CPU time (all threads; on a machine shared with
  other jobs the wall figure moves with their load, the CPU figure much less: 2 cores → cpu ≈ wall/2);
- r8_first_call_s_b1: the first call of a fresh model: tracing, XLA compilation and the blank phase;
- r8_blank_phase_s: recomputing the blank phase alone (after a weight change), batch 1;
- r2_train_step_s: one `train_on_batch` of CordsNet-R2 on 28×28×1 inputs, batch 8, 10 classes, the
  three-phase loss (100 blank without gradient + 100 stimulus + 100 blank with gradient, checkpointed
  every 10 steps), AdamW; best of the timed steps;
- quick: with --quick the protocols are 10 steps per phase and the figures are scaled to 100
  (per-step cost × 100; the cached blank phase is free either way);
- load_average_1min: the machine's load when the script started.

The original (PyTorch, 2-core CPU): 11.5 s per image, 0.087 images/s at batch 1 (stem recomputed per
area and step, blank phase per batch). Floor: ≥ 3× faster, 0.26 images/s.

Last full run (2026-12-02 23:45, 2-core AMD EPYC, quiet: load 1.1; benchmarks/results/cordsnet.json):
R8, 224 px, batch 1: 2.18 s per image (21.8 ms per stimulus step, both cores, ≈ 73 GMAC/s for
≈ 1.6 GMAC per step) → 0.459 images/s, 5.3× the original (floor 3×); batch 8: 0.514 images/s; first
call 8.8 s; the blank phase alone after a weight change 2.2 s; R2 training step 0.70 s (first 22 s).

Under load:
- 2026-12-02 18:05, load 5.6: R8 batch 1 7.8 s per image (78 ms per step on about one core) → 0.128
  images/s wall, 0.130 from CPU time; batch 8 0.148 wall; first call 30 s; blank phase 7.1 s.
- An earlier run under heavier load (6.2, with this package's tests alongside): 15.2 s per image at
  batch 1 (0.066 wall, 0.143 CPU), 0.069 / 0.153 at batch 8, first call 70 s.
- R2, 28 px, batch 8, three-phase training step (100 + 100 + 100 steps, chunks of 10 recomputed):
  2.2 s (2.2 CPU-s); first step 46 s (tracing and compiling forward and backward). With the chunks
  unrolled in Python instead of while loops it was 4.5 s and 127 s to compile.
- Tried: Winograd F(2×2, 3×3) for the large areas (`winograd_min_size`): 2.25× fewer multiply-adds,
  but under XLA on this CPU the same CPU time per step as direct convolution (~100 ms at batch 1, R8,
  load 6) and a longer compile, so it is off by default; an uncompiled loop (`jit_loop=False`, the step
  still XLA-compiled) costs about the same per step. Re-measured at load ~1.5 (20-step phases, batch 1,
  CPU time per step): direct 46.8 ms, Winograd for areas ≥ 28 px 40.7 ms (−13 %), for all areas
  47.2 ms; no XLA at all (oneDNN convolutions) 46.1 ms. At ≈ 73 GMAC/s the direct convolutions are
  near the two cores' FMA peak, so what remains is fewer multiply-adds (Winograd, which pays only
  for the large areas) rather than a faster loop.

    python benchmarks/bench_cordsnet.py [--quick]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import machine_info, print_table, timed, write_results  # noqa: E402

ORIGINAL_IMAGES_PER_S = 1.0 / 11.5
FLOOR_IMAGES_PER_S = 3.0 * ORIGINAL_IMAGES_PER_S


def bench_inference(steps, batches, repeats):
    import ndnx

    net = ndnx.models.cordsnet_r8(num_classes=1000, image_size=224, channels=3, blank_steps=steps,
                                  stimulus_steps=steps, seed=0)
    rng = np.random.default_rng(0)
    out = {}
    scale = 100.0 / steps
    for batch in batches:
        images = rng.normal(size=(batch, 224, 224, 3)).astype("float32")
        t0 = time.perf_counter()
        np.asarray(net(images))
        first = time.perf_counter() - t0
        if batch == batches[0]:
            out["r8_first_call_s_b1"] = first * scale
        wall, cpu = timed(lambda: np.asarray(net(images)), repeats)
        out[f"r8_images_per_s_b{batch}"] = batch / (wall * scale)
        out[f"r8_images_per_s_b{batch}_cpu"] = batch / (cpu * scale)
        out[f"r8_step_ms_b{batch}"] = 1e3 * wall / steps
        print(f"R8 batch {batch}: first call {first:.1f} s, then {wall:.2f} s per call ({steps} stimulus steps)",
              flush=True)
    g = net.cell.readout.g
    g.assign(g * 1.0001)  # any weight change invalidates the cached blank phase
    t0 = time.perf_counter()
    net.spontaneous_state()
    out["r8_blank_phase_s"] = (time.perf_counter() - t0) * scale
    return out


def bench_training(steps, repeats):
    import keras
    import ndnx

    net = ndnx.models.cordsnet_r2(num_classes=10, image_size=28, channels=1, blank_steps=steps,
                                  stimulus_steps=steps, ramp_steps=min(30, steps), spontaneous_steps=min(10, steps),
                                  checkpoint_every=10, seed=0)
    net.compile(keras.optimizers.AdamW(1e-5, clipnorm=1e-4), jit_compile=False)
    rng = np.random.default_rng(1)
    images = rng.normal(size=(8, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 10, size=8)
    t0 = time.perf_counter()
    net.train_on_batch(images, labels)
    first = time.perf_counter() - t0
    wall, cpu = timed(lambda: net.train_on_batch(images, labels), repeats)
    print(f"R2 training step: first {first:.1f} s, then {wall:.3f} s", flush=True)
    scale = 100.0 / steps
    return {"r2_train_step_s": wall * scale, "r2_train_step_s_cpu": cpu * scale, "r2_train_first_step_s": first}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 steps per phase, figures scaled to 100")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    steps = 10 if args.quick else 100
    results = {"quick": bool(args.quick), "load_average_1min": load, **machine_info()}
    results.update(bench_inference(steps, (1, 8), repeats=3 if args.quick else 2))
    results.update(bench_training(steps, repeats=3))
    results["original_images_per_s_b1"] = ORIGINAL_IMAGES_PER_S
    results["floor_images_per_s_b1"] = FLOOR_IMAGES_PER_S
    path = write_results("cordsnet", results)
    rows = [(k, v) for k, v in sorted(results.items()) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    print_table(rows)
    verdict = "meets" if results["r8_images_per_s_b1"] >= FLOOR_IMAGES_PER_S else "misses"
    print(f"R8 batch 1: {results['r8_images_per_s_b1']:.3f} images/s {verdict} the floor "
          f"{FLOOR_IMAGES_PER_S:.3f} (original {ORIGINAL_IMAGES_PER_S:.3f}); written to {path}")


if __name__ == "__main__":
    main()
