"""A float64 NumPy reference of Naumann et al. 2022's test loop, written from the equations of spec §2–3.

It reads the original's arrays in PyTorch's layout (weight_ih (4H, inputs), gates i, f, g, o; two
biases) and steps: y_t = f(x_t; M_{t−1}) → LSTM on [x_t, y_t] → O_t → M_t = M_{t−1} + (g(O_t) − M_{t−1})/τ.
"""

import numpy as np


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def random_norm_contexts(n, seed):
    """n row-stochastic 2×2 contexts with |det| > 0.2, drawn here independently of ndnx."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        A = rng.uniform(0, 1, (2, 2))
        A /= A.sum(axis=1, keepdims=True)
        if abs(np.linalg.det(A)) > 0.2:
            out.append(A)
    return np.array(out)


def simulate(kind, attributes, arrays, x):
    """y (T, 2) and the modulation M (T, ·) (ModulationNet: W flattened; SpatialNet: M) and z (SpatialNet)."""
    a = {k: np.asarray(v, dtype="float64") for k, v in arrays.items()}
    w_ih, w_hh = a["rec_net.weight_ih_l0"], a["rec_net.weight_hh_l0"]
    b = a["rec_net.bias_ih_l0"] + a["rec_net.bias_hh_l0"]
    w_out, b_out = a["hidden2out.weight"], a["hidden2out.bias"]
    H = w_hh.shape[1]
    tau = float(attributes["tau"])
    h, c = np.zeros(H), np.zeros(H)
    M = np.zeros(a["Wm"].shape[0] if kind == "SpatialNet" else 4)
    ys, Ms, zs = [], [], []
    for x_t in np.asarray(x, dtype="float64"):
        if kind == "SpatialNet":
            z = M * (a["w0"] @ x_t)
            y = a["Wro"] @ z
            zs.append(z)
        else:
            y = M.reshape(2, 2) @ x_t
        gates = w_ih @ np.concatenate([x_t, y]) + w_hh @ h + b
        i, f, g, o = np.split(gates, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out = w_out @ h + b_out
        target = a["Wm"] @ out if kind == "SpatialNet" else a["w0"].reshape(-1) * out
        M = M + (target - M) / tau
        ys.append(y)
        Ms.append(M)
    return np.array(ys), np.array(Ms), (np.array(zs) if zs else None)
