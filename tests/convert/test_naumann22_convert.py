"""The converted pretrained models of Naumann et al. 2022: spec feedback_modulation_naumann22.md §8 tests A–C.

The pretrained files live in ../shared/reference/naumann22 (relative to the checkout); the tests that
need them skip with the reason when they are absent. The reader's own checks run on synthetic
whole-module pickles written by tests/convert/_torch_zip.py.
"""

import io
import os
import time

import numpy as np
import pytest

import ndnx
import ndnx.convert
from ndnx.analysis import feedback as fa
from ndnx.convert.naumann22 import kernel_width_of, load_naumann22, read_naumann22
from ndnx.data import unmixing
from ndnx.models.feedback_protocol import invariant_subspace, run_contexts
from tests.convert import _torch_zip
from tests.convert._naumann22_reference import random_norm_contexts, simulate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = os.path.join(os.path.dirname(ROOT), "shared", "reference", "naumann22")
FILES = {"modulation": "trained_modulation_net_10000batch.pt", "spatial_chords": "trained_spatial_net_chords_10000batch.pt",
         "spatial_sines": "trained_spatial_net_sines_10000batch.pt"}


def _path(key):
    path = os.path.join(REFERENCE, FILES[key])
    if not os.path.exists(path):
        pytest.skip(f"the pretrained model {FILES[key]} of Naumann et al. 2022 is not at {REFERENCE} "
                    f"(../shared/reference/naumann22 relative to the checkout)")
    return path


_MODELS = {}


def _model(key):
    if key not in _MODELS:
        _MODELS[key] = load_naumann22(_path(key))
    return _MODELS[key]


_RUNS = {}


def _test_run(key):
    """Demo protocol: noise 0.001, 20 fresh random_norm contexts, sources from sample 0."""
    if key not in _RUNS:
        A, _ = unmixing.mixing_matrices(20, seed=7)
        signal = unmixing.sines() if key == "spatial_sines" else unmixing.chords()
        _RUNS[key] = run_contexts(_model(key), signal, A, noise=0.001, seed=7)
    return _RUNS[key]


# --- the reader ------------------------------------------------------------------------------------

def _fake_module(cls="model_base.SpatialNet", extra_records=True, **extra_attributes):
    rng = np.random.default_rng(0)
    H, Nz, Nm = 3, 8, 2
    arrays = {"rec_net.weight_ih_l0": rng.normal(size=(4 * H, 4)), "rec_net.weight_hh_l0": rng.normal(size=(4 * H, H)),
              "rec_net.bias_ih_l0": rng.normal(size=4 * H), "rec_net.bias_hh_l0": rng.normal(size=4 * H),
              "hidden2out.weight": rng.normal(size=(Nm, H)), "hidden2out.bias": rng.normal(size=Nm),
              "w0": rng.normal(size=(Nz, 2)), "Wro": rng.normal(size=(2, Nz)),
              "Wm": ndnx.cells.modulation_kernel(Nz, Nm, 0.5)}
    arrays = {k: v.astype("float32") for k, v in arrays.items()}
    keys = iter(range(100))
    t = {k: _torch_zip.tensor(v, next(keys)) for k, v in arrays.items()}

    def module(name, parameters, **attrs):
        state = {"training": True, "_parameters": parameters, "_buffers": {}, "_modules": {}, **attrs}
        return _torch_zip._Reduced(_torch_zip.Global(*name.rsplit(".", 1)), ()), state

    class Module:
        def __init__(self, name, state):
            self.name, self.state = name, state

        def __reduce__(self):
            return _torch_zip.Global(*self.name.rsplit(".", 1)), (), self.state

    lstm = Module("torch.nn.modules.rnn.LSTM", {"training": True, "_buffers": {}, "_modules": {},
                  "_parameters": {k.split(".")[1]: t[k] for k in arrays if k.startswith("rec_net")},
                  "hidden_size": H, "_forward_hooks_with_kwargs": {}})
    linear = Module("torch.nn.modules.linear.Linear", {"training": True, "_buffers": {}, "_modules": {},
                    "_parameters": {"weight": t["hidden2out.weight"], "bias": t["hidden2out.bias"]}})
    state = {"training": True, "_parameters": {}, "_buffers": {}, "_modules": {"rec_net": lstm, "hidden2out": linear},
             "signal_dim": 2, "x_dim": 2, "input_to_net": "xy", "tau": 10, "add": 0, "Nz": Nz, "Nm": Nm,
             "w0": t["w0"], "Wro": t["Wro"], "Wm": t["Wm"], **extra_attributes}
    buffer = io.BytesIO()
    _torch_zip.save(Module(cls, state), buffer)
    buffer.seek(0)
    return buffer, arrays


def test_whole_module_pickle_of_a_newer_torch_converts():
    buffer, arrays = _fake_module(_state_dict_pre_hooks={}, _forward_hooks_always_called={}, new_option=3)
    model = load_naumann22(buffer)
    cell = model.cell
    assert isinstance(cell, ndnx.cells.SpatialNetCell) and (cell.units, cell.signals, cell.tau) == (8, 2, 10.0)
    assert cell.kernel_width == 0.5
    np.testing.assert_array_equal(cell.modulator.kernel.numpy(), arrays["rec_net.weight_ih_l0"].T)
    np.testing.assert_array_equal(cell.modulator.recurrent_bias.numpy(), arrays["rec_net.bias_hh_l0"])
    np.testing.assert_array_equal(cell.wro.numpy(), arrays["Wro"])
    x = np.random.default_rng(1).normal(size=(60, 2))
    y_ref, M_ref, z_ref = simulate("SpatialNet", {"tau": 10}, arrays, x)
    y, _, rec = model.run(x[None].astype("float32"), record=("modulation", "z"))
    np.testing.assert_allclose(y.numpy()[0, :, 0], y_ref, atol=1e-4)
    np.testing.assert_allclose(rec["z"].numpy()[0, :, 0], z_ref, atol=1e-4)


def test_a_pickle_that_is_not_a_known_module_gives_one_line():
    buffer, _ = _fake_module(cls="model_base.DaleRateNet")
    with pytest.raises(ValueError, match=r"^load_naumann22: .*expected a pickled ModulationNet / SpatialNet / "
                                         r"UnmixingModel of Naumann et al. 2022; refusing .*DaleRateNet"):
        read_naumann22(buffer)
    state_dict = io.BytesIO()
    _torch_zip.save({"w": _torch_zip.tensor(np.zeros(2, "float32"), 0)}, state_dict)
    state_dict.seek(0)
    with pytest.raises(ValueError, match="expected a pickled ModulationNet / SpatialNet / UnmixingModel module, got "
                                         "OrderedDict|got dict"):
        read_naumann22(state_dict)


def test_kernel_width_is_read_off_the_kernel():
    for width in (0.0, 0.2, 1.0, 10.0):
        assert kernel_width_of(ndnx.cells.modulation_kernel(100, 4, width)) == width
    with pytest.raises(ValueError, match="not a box, flat or von Mises kernel"):
        kernel_width_of(np.random.default_rng(0).uniform(0.1, 0.9, (10, 2)))


# --- test A: trajectories against the float64 reference ---------------------------------------------

@pytest.mark.parametrize("key", ["modulation", "spatial_chords"])
def test_a_trajectories_match_the_float64_reference(key):
    kind, attributes, arrays = read_naumann22(_path(key))
    assert (kind, attributes["tau"]) == (("ModulationNet", 1) if key == "modulation" else ("SpatialNet", 100))
    A = random_norm_contexts(20, seed=2022)
    x, s, _ = unmixing.context_sequence(unmixing.chords(), A, 1000, noise=0.0)
    start = time.process_time()
    y_ref, M_ref, z_ref = simulate(kind, attributes, arrays, x)
    run = run_contexts(_model(key), unmixing.chords(), A, noise=0.0)
    error_y = np.abs(run["y"] - y_ref).max()
    error_M = np.abs(run["modulation"] - M_ref).max()
    print(f"{key}: max |y − y_ref| = {error_y:.2e}, max |M − M_ref| = {error_M:.2e} over 20,000 steps "
          f"({time.process_time() - start:.1f} s CPU)")
    assert error_y < 1e-4 and error_M < 1e-4
    if z_ref is not None:
        assert np.abs(run["z"] - z_ref).max() < 1e-4


# --- test B: metrics of the demos -----------------------------------------------------------------

@pytest.mark.parametrize("key,floor", [("modulation", 0.95), ("spatial_chords", 0.93), ("spatial_sines", 0.96)])
def test_b_clarity_and_steady_state_correlation(key, floor):
    run = _test_run(key)
    clarity_y, clarity_x = fa.signal_clarity(run["s"], run["y"]), fa.signal_clarity(run["s"], run["x"])
    corr = fa.source_correlation(run["s"], run["y"])
    print(f"{key}: clarity y {clarity_y.mean():.3f} (min {clarity_y.min():.3f}), x {clarity_x.mean():.3f}; "
          f"steady |corr(y_i, s_i)| min {corr.min():.4f}; SNR {fa.snr_db(run['s'], run['y']):.1f} / "
          f"{fa.snr_db(run['s'], run['y'], 1000, 500):.1f} dB")
    assert clarity_y.mean() >= floor
    assert 0.5 <= clarity_x.mean() <= 0.6
    assert corr.min() >= 0.99


def test_b_invariance_at_the_population_level():
    run = _test_run("spatial_sines")
    r2 = {k: fa.decoding_r2(run[k], run["s"], 10).mean() for k in ("x", "z", "y")}
    units = fa.unit_clarity(run["s"], run["z"])
    print(f"spatial_sines: R² x {r2['x']:.3f}, z {r2['z']:.3f}, y {r2['y']:.3f}; per-unit clarity z {units.mean():.3f}")
    assert r2["z"] >= 0.95 and r2["y"] >= 0.95 and r2["x"] < 0.6
    assert units.mean() < 0.6


# --- test C: the invariant subspace under the freeze protocol -----------------------------------------

def test_c_freezing_keeps_the_activity_plane_and_feedback_reorients_it():
    model = _model("spatial_sines")
    pairs = unmixing.mixing_matrices(40, seed=11)[0].reshape(20, 2, 2, 2)
    test_run = _test_run("spatial_sines")
    checked = 0
    for A1, A2 in pairs:
        if np.linalg.norm(A1 - A2) <= 0.3:
            continue
        r = invariant_subspace(model, unmixing.sines(), None, A1, A2, test_run=test_run)
        print(f"‖A1 − A2‖ {r['context_distance']:.2f}: plane angle frozen {r['angle_frozen']:.1f}°, unfrozen "
              f"{r['angle_unfrozen']:.1f}°; principal {r['principal_frozen']:.1f}° / {r['principal_unfrozen']:.1f}°; "
              f"‖s − y‖ {r['error_original']:.3f} / {r['error_frozen']:.3f} / {r['error_unfrozen']:.3f}; "
              f"recovered in {r['recovery_steps']} steps")
        assert r["angle_frozen"] < 10 and r["angle_unfrozen"] > r["angle_frozen"]
        assert r["error_frozen"] >= 5 * r["error_unfrozen"]
        assert 0 <= r["recovery_steps"] <= 150
        checked += 1
        if checked == 4:
            break
    assert checked == 4
