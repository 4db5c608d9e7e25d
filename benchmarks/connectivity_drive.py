"""Synaptic drive alternatives and large-network construction (ndnx.connectivity), measured.

Not part of `make bench` (the E/I family's headline figures are the whole network step); this
script backs the figures quoted in `ndnx.connectivity.synaptic_drive` and in the connectivity
report, and is what to rerun on another machine:

    python benchmarks/connectivity_drive.py            # drive alternatives, N = 10⁴, K = 500, B = 1 and 10
    python benchmarks/connectivity_drive.py --quick    # fewer repetitions, no scipy/tf.sparse baselines
    python benchmarks/connectivity_drive.py --crossover   # dense vs ELL for N = 500 … 4000
    python benchmarks/connectivity_drive.py --large    # build N = 10⁵, K = 1000 (time and peak RSS)

Every figure is one drive of all four blocks of an E/I network (80 % E), in milliseconds: the CPU
time of the process per call (all threads; robust on a shared machine) and the best wall time.
Results go to benchmarks/results/connectivity_drive.json (connectivity_large.json for --large).
"""

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import ndnx  # noqa: E402,F401  (quiet TensorFlow)
import tensorflow as tf  # noqa: E402
from _common import machine_info, print_table, write_results  # noqa: E402

from ndnx.connectivity import build_network, synaptic_drive  # noqa: E402

J = {(0, 0): 1.0, (0, 1): -1.5, (1, 0): 1.0, (1, 1): -1.0}


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(functions, args, rounds, calls):
    """name → (median CPU ms per call, best wall ms per call), the candidates interleaved."""
    for f in functions.values():
        np.asarray(f(*args))
    cpu = {k: [] for k in functions}
    wall = {k: [] for k in functions}
    for _ in range(rounds):
        for name, f in functions.items():
            c0, t0 = cpu_seconds(), time.perf_counter()
            for _ in range(calls):
                out = f(*args)
            np.asarray(out)
            cpu[name].append((cpu_seconds() - c0) / calls * 1e3)
            wall[name].append((time.perf_counter() - t0) / calls * 1e3)
    return {k: (float(np.median(cpu[k])), float(min(wall[k]))) for k in functions}


def network_step(sizes, drive, tensors, jit=True):
    n_e = sizes[0]

    def step(x):
        pre = (x[:, :n_e], x[:, n_e:])
        return tf.concat([drive(pre[0], tensors[(a, 0)]) * J[(a, 0)] + drive(pre[1], tensors[(a, 1)]) * J[(a, 1)]
                          for a in (0, 1)], axis=1)

    return tf.function(step, jit_compile=jit)


def whole_gather(x, t):
    """XLA's single gather over (batch, n_post, k_max), then a sum."""
    padded = tf.concat([x, tf.zeros_like(x[:, :1])], 1)
    return tf.reduce_sum(tf.gather(padded, tf.transpose(t["columns"]), axis=1), -1)


def transposed_gather(x, t):
    """Rows of the transposed (n_pre + 1, batch) rates gathered at (n_post, k_max), then a sum."""
    xt = tf.concat([tf.transpose(x), tf.zeros_like(tf.transpose(x)[:1])], 0)
    return tf.transpose(tf.reduce_sum(tf.gather(xt, tf.transpose(t["columns"])), 1))


def int16_loop(x, t):
    return synaptic_drive(x, {"columns": t["columns16"]})


def drive_alternatives(n, k, batches, rounds, calls, baselines):
    sizes = [int(0.8 * n), n - int(0.8 * n)]
    net = build_network(sizes, k, seed=0, layout="ell")
    ell = {key: {"columns": tf.constant(s.tensors()["columns"])} for key, s in net.items()}
    for key, s in net.items():
        if s.shape[1] < 2 ** 15:
            ell[key]["columns16"] = tf.constant(s.tensors()["columns"].astype("int16"))
    # one ELL block per postsynaptic population over concat(J_aE x_E, J_aI x_I)
    merged = {}
    for a in (0, 1):
        e, i = net[(a, 0)].indices, net[(a, 1)].indices
        cols = np.concatenate([np.where(e == sizes[0], n, e), np.where(i == sizes[1], n, i + sizes[0])], 1)
        merged[a] = {"columns": tf.constant(np.ascontiguousarray(cols.T))}

    def merged_step(x):
        return tf.concat([synaptic_drive(tf.concat([J[(a, 0)] * x[:, :sizes[0]], J[(a, 1)] * x[:, sizes[0]:]], 1),
                                         merged[a]) for a in (0, 1)], axis=1)

    rows, cols, vals = [], [], []
    for (a, b), s in net.items():
        r0, c0 = (0, sizes[0])[a], (0, sizes[0])[b]
        w = s.indices
        rr = np.repeat(np.arange(w.shape[0]), w.shape[1])
        keep = w.ravel() < s.shape[1]
        rows.append(r0 + rr[keep])
        cols.append(c0 + w.ravel()[keep])
        vals.append(np.full(keep.sum(), J[(a, b)], "float32"))
    rows, cols, vals = (np.concatenate(v) for v in (rows, cols, vals))
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    nnz = len(rows)
    results, table = {}, []
    for batch in batches:
        x = tf.constant(np.random.default_rng(1).random((batch, n)).astype("float32"))
        candidates = {
            "ndnx column loop (XLA)": network_step(sizes, synaptic_drive, ell),
            "single gather + sum (XLA)": network_step(sizes, whole_gather, ell),
            "transposed row gather + sum (XLA)": network_step(sizes, transposed_gather, ell),
            "merged E+I blocks, column loop (XLA)": tf.function(merged_step, jit_compile=True),
        }
        if all("columns16" in t for t in ell.values()):
            candidates["int16 columns, column loop (XLA)"] = network_step(sizes, int16_loop, ell)
        if n <= 2 * 10 ** 4:
            dense = np.zeros((n, n), "float32")
            dense[rows, cols] = vals
            kernel = tf.constant(dense.T)
            del dense
            candidates["dense matmul (XLA)"] = tf.function(lambda x: tf.matmul(x, kernel), jit_compile=True)
        if baselines:
            sp = tf.sparse.SparseTensor(np.stack([rows, cols], 1).astype("int64"), vals, (n, n))
            candidates["tf.sparse.sparse_dense_matmul (graph)"] = tf.function(
                lambda x: tf.transpose(tf.sparse.sparse_dense_matmul(sp, x, adjoint_b=True)))
            from tensorflow.python.ops.linalg.sparse import sparse_csr_matrix_ops as csr

            matrix = csr.CSRSparseMatrix(sp)
            candidates["CSR tf.linalg.sparse (graph)"] = tf.function(
                lambda x: tf.transpose(csr.matmul(matrix, tf.transpose(x))))
        reference = candidates["ndnx column loop (XLA)"](x).numpy()
        for name, f in candidates.items():
            error = float(np.abs(f(x).numpy() - reference).max())
            if error > 1e-3:
                raise AssertionError(f"{name} differs from the column loop by {error}")
        timed = measure(candidates, (x,), rounds, calls)
        if baselines:
            import scipy.sparse

            a = scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(n, n))
            xn = x.numpy().T.copy()
            c0, t0 = cpu_seconds(), time.perf_counter()
            for _ in range(calls * rounds):
                a @ xn
            timed["scipy.sparse CSR (NumPy)"] = ((cpu_seconds() - c0) / (calls * rounds) * 1e3,
                                                 (time.perf_counter() - t0) / (calls * rounds) * 1e3)
        for name, (cpu, wall) in timed.items():
            table.append((f"B={batch:<3d} {name}", f"{cpu:8.2f} ms CPU  {wall:8.2f} ms wall"))
        results[f"drive_ms_cpu_B{batch}"] = timed["ndnx column loop (XLA)"][0]
        results[f"drive_ms_wall_B{batch}"] = timed["ndnx column loop (XLA)"][1]
        results[f"drive_neuron_steps_per_s_cpu_B{batch}"] = batch * n / (timed["ndnx column loop (XLA)"][0] / 1e3)
    print(f"N = {n} ({sizes[0]} E + {sizes[1]} I), K = {k} per population, nnz = {nnz}")
    print_table(table)
    results.update({"N": n, "K": k, "nnz": nnz})
    return results


def crossover(rounds, calls):
    table = []
    for n in (500, 1000, 2000, 4000):
        sizes, k = [int(0.8 * n), n - int(0.8 * n)], n // 10
        nets = {layout: build_network(sizes, k, seed=0, layout=layout) for layout in ("dense", "ell")}
        for batch in (1, 10, 64):
            x = tf.constant(np.random.default_rng(1).random((batch, n)).astype("float32"))
            steps = {layout: network_step(sizes, synaptic_drive, {key: {name: tf.constant(v) for name, v in
                                                                        s.tensors().items()} for key, s in net.items()})
                     for layout, net in nets.items()}
            timed = measure(steps, (x,), rounds, calls * 4)
            table.append((f"N={n:<5d} K={k:<4d} B={batch:<3d}",
                          f"dense {timed['dense'][0]:7.3f} ms CPU   ell {timed['ell'][0]:7.3f} ms CPU"))
    print_table(table)


def large(n, k):
    sizes = [int(0.8 * n), n - int(0.8 * n)]
    c0, t0 = cpu_seconds(), time.perf_counter()
    net = build_network(sizes, k, seed=0, layout="ell")
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    stored = sum(s.indices.nbytes for s in net.values()) / 2 ** 30
    print_table([("network", f"N = {n}, K = {k}, sparse, ELL"), ("build wall (s)", wall), ("build CPU (s)", cpu),
                 ("peak RSS (GiB)", rss), ("ELL indices (GiB)", stored),
                 ("k_max per block", str({key: s.k_max for key, s in net.items()}))])
    return {"large_N": n, "large_K": k, "large_build_s": wall, "large_build_cpu_s": cpu, "large_peak_rss_gib": rss,
            "large_ell_gib": stored}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no non-XLA baselines")
    parser.add_argument("--crossover", action="store_true", help="dense vs ELL for small networks")
    parser.add_argument("--large", action="store_true", help="build N = 10⁵, K = 1000 and report time and memory")
    args = parser.parse_args(argv)
    results = {"machine": machine_info()}
    if args.large:  # alone: the peak RSS must be the build's own
        results.update(large(10 ** 5, 1000))
    elif args.crossover:
        crossover(rounds=3, calls=5)
    else:
        rounds, calls = (2, 3) if args.quick else (5, 5)
        results.update(drive_alternatives(10 ** 4, 500, (1, 10), rounds, calls, baselines=not args.quick))
    if args.crossover:
        return
    flat = {k: v for k, v in results.items() if k != "machine"}
    flat.update({f"machine_{k}": v for k, v in results["machine"].items()})
    print("wrote", write_results("connectivity_large" if args.large else "connectivity_drive", flat))


if __name__ == "__main__":
    main()
