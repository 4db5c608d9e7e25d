"""ndnx.energy.recording: a killed protocol recording resumes from its last complete chunk (spec §3.3, §7 item 13)."""

import h5py
import numpy as np
import pytest

import ndnx
from ndnx.energy import SGHMC
from ndnx.energy.recording import record_protocol, record_to_hdf5


def _setup():
    layers = [{"name": "image", "shape": [4, 4, 1]}, {"name": "h", "shape": [4, 4, 2]}]
    edges = [{"source": "h", "target": "image", "kind": "conv", "kernel": 3},
             {"source": "image", "target": "h", "kind": "conv", "kernel": 3}]
    graph = ndnx.energy.EnergyGraph(layers, edges, base_channels=2, seed=1)
    rng = np.random.default_rng(4)
    blank = np.zeros((2, 4, 4, 1), "float32")
    stimulus = rng.uniform(-1, 1, size=(2, 4, 4, 1)).astype("float32")
    latents = [rng.uniform(-1, 1, size=(2, 4, 4, 2)).astype("float32")]
    record = {"h": ("state", 1, (slice(None), slice(1, 3), slice(1, 3), slice(None))), "p": ("momentum", 1, None),
              "g": ("gradient", 1, None)}
    return graph, latents, [(blank, 7), (stimulus, 5), (blank, 4)], record


class _Killed(Exception):
    pass


def test_a_killed_recording_resumes_to_the_uninterrupted_one(tmp_path, monkeypatch):
    graph, latents, phases, record = _setup()
    whole = str(tmp_path / "whole.h5")
    record_protocol(whole, SGHMC(0.1, 0.1, temperature=0.5, burn_in=5, seed=3), graph, latents, phases, record,
                    chunk_steps=3)
    part = str(tmp_path / "part.h5")
    sampler = SGHMC(0.1, 0.1, temperature=0.5, burn_in=5, seed=3)
    run, calls = sampler.run, []

    def dies_on_the_fifth_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise _Killed
        return run(*args, **kwargs)

    monkeypatch.setattr(sampler, "run", dies_on_the_fifth_chunk)
    with pytest.raises(_Killed):
        record_protocol(part, sampler, graph, latents, phases, record, chunk_steps=3)
    with h5py.File(part, "a") as f:
        # chunks 3+3+1 (phase 1) and 3 (phase 2) were done: 10 steps, and the snapshot says so
        assert f["h"].shape[0] == 10 and list(f.attrs["resume"])[0] == 10
        f["h"].resize(12, axis=0)  # rows written after the last snapshot are recorded again
        f["h"][10:] = 99.0
    monkeypatch.setattr(sampler, "run", run)
    fresh = SGHMC(0.1, 0.1, temperature=0.5, burn_in=5, seed=3)  # a new process: nothing kept in memory
    record_protocol(part, fresh, graph, latents, phases, record, chunk_steps=3, resume=True)
    with h5py.File(whole) as a, h5py.File(part) as b:
        for key in record:
            assert a[key].shape[0] == 16
            np.testing.assert_array_equal(a[key][:], b[key][:])
    assert record_protocol(part, fresh, graph, latents, phases, record, chunk_steps=3, resume=True) is None
    with pytest.raises(ValueError, match=r"recorded with phases \[7, 5, 4\], asked to resume with \[7, 5, 5\]"):
        record_protocol(part, fresh, graph, latents, phases[:2] + [(phases[2][0], 5)], record, resume=True)


def test_recorded_protocol_is_one_chain_through_its_phases(tmp_path):
    graph, latents, phases, record = _setup()
    record = dict(record, image=("state", 0, None))
    (blank, _), (stimulus, _), _ = phases
    sampler = SGHMC(0.1, 0.1, temperature=0.5, burn_in=5, seed=3)
    record_protocol(str(tmp_path / "p.h5"), sampler, graph, latents, phases, record, chunk_steps=3)
    with h5py.File(tmp_path / "p.h5") as f:
        assert f["h"].shape == (16, 2, 2, 2, 2) and list(f.attrs["phase_steps"]) == [7, 5, 4]
        np.testing.assert_array_equal(f["image"][7:12], np.broadcast_to(stimulus, (5,) + stimulus.shape))
        np.testing.assert_array_equal(f["image"][:7], 0.0)
        phased = f["h"][:7]
    # the first phase is the same run as one uninterrupted recording of it
    record_to_hdf5(str(tmp_path / "one.h5"), sampler, graph, [blank] + latents, 7, record, chunk_steps=7,
                   free=(False, True))
    with h5py.File(tmp_path / "one.h5") as f:
        np.testing.assert_array_equal(f["h"][:], phased)


def test_recorded_unit_energies_sum_to_the_next_steps_energy(tmp_path):
    graph, latents, phases, _ = _setup()
    record = {"e": ("energy", 0, None), "u0": ("unit_energy", 0, None), "u1": ("unit_energy", 1, None)}
    record_protocol(str(tmp_path / "u.h5"), SGHMC(0.1, 0.1, temperature=0.5, seed=3), graph, latents, phases[:1],
                    record, chunk_steps=4)
    with h5py.File(tmp_path / "u.h5") as f:
        e, u0, u1 = f["e"][()], f["u0"][()], f["u1"][()]
    # "energy" is E at the states a step starts from, "unit_energy" the units' energies after it
    summed = u0.reshape(7, 2, -1).sum(-1) + u1.reshape(7, 2, -1).sum(-1)
    np.testing.assert_allclose(summed[:-1], e[1:], rtol=1e-5)
    with pytest.raises(ValueError, match="asks for per-unit energies; the target FunctionTarget has no"):
        SGHMC().run(ndnx.energy.FunctionTarget(lambda s: s[0][:, 0] ** 2), [np.zeros((1, 1), "float32")], 1,
                    record={"u": ("unit_energy", 0, None)})
