"""Stream sampler trajectories of chosen layers and slices to HDF5, chunk by chunk.

Spec energy_sampling_nrflv.md §3.3 and §7 item 13: the original wrote ~67 MB per step as one .npy file
per step and quantity. Here the compiled loop (`Sampler.run`) records only the requested slices (e.g.
SL1's centre patch) for `chunk_steps` steps on the device, and each chunk is appended to one chunked,
resizable HDF5 dataset per recording (optionally float16). The chain state carries over between
chunks, so a recording in chunks is the same run as one without them.

Example:
    >>> import os, tempfile, h5py, numpy as np
    >>> from ndnx.energy import SGHMC, FunctionTarget
    >>> from ndnx.energy.recording import record_to_hdf5
    >>> target = FunctionTarget(lambda s: 0.5 * np.float32(100.0) * s[0][:, 0] ** 2)
    >>> path = os.path.join(tempfile.mkdtemp(), "run.h5")
    >>> _ = record_to_hdf5(path, SGHMC(temperature=0.0), target, [np.full((1, 1), 0.5, "float32")], 7,
    ...                    {"s": ("state", 0, None)}, chunk_steps=3)
    >>> with h5py.File(path) as f:
    ...     [round(float(x), 4) for x in f["s"][:4, 0, 0]]
    [0.0, -0.45, -0.405, 0.0405]
"""

import h5py
import numpy as np

__all__ = ["record_to_hdf5", "record_protocol"]


def record_to_hdf5(path, sampler, target, states, num_steps, record, chunk_steps=100, free=None, chain=None,
                   dtype="float32", attrs=None, append=False):
    """Run `sampler` for `num_steps` steps, appending `record` (as in `Sampler.run`) to HDF5 at `path`.

    Returns (states, chain) at the end; `attrs` are written on the file (e.g. the stimulus protocol).
    `append=True` continues the datasets of an existing file instead of starting a new one.
    """
    if int(chunk_steps) < 1:
        raise ValueError(f"record_to_hdf5: chunk_steps must be a positive int, got {chunk_steps!r}")
    if not record:
        raise ValueError("record_to_hdf5: record must name at least one quantity, got nothing")
    done = 0
    with h5py.File(path, "a" if append else "w") as f:
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        offset = max((f[key].shape[0] for key in record if key in f), default=0)
        while done < num_steps:
            steps = min(int(chunk_steps), num_steps - done)
            states, chain, recordings = sampler.run(target, states, steps, free=free, chain=chain, record=record)
            for key, values in recordings.items():
                values = np.asarray(values).astype(dtype)
                if key not in f:
                    f.create_dataset(key, shape=(0,) + values.shape[1:], maxshape=(None,) + values.shape[1:],
                                     chunks=(min(int(chunk_steps), 256),) + values.shape[1:], dtype=dtype)
                data = f[key]
                data.resize(offset + done + steps, axis=0)
                data[offset + done:offset + done + steps] = values
            done += steps
    return states, chain


def record_protocol(path, sampler, target, latents, phases, record, chunk_steps=100, dtype="float32"):
    """A clamped-stimulus recording (spec §3.3): the image layer clamped to each phase's images in turn.

    latents: the starting latent states (e.g. the initter's, for a natural-image batch); phases: a list
    of (images, steps), e.g. [(cifar_batch, 100), (blank, 1000), (gabors, 1000), (blank, 600)]. One
    chain runs through all phases (the sampler state, burn-in adaptation included, is created once, as
    in the original), each phase appended to the same datasets; the file's attribute "phase_steps"
    lists the phase lengths. Returns (states, chain).
    """
    chain, states = None, None
    for k, (images, steps) in enumerate(phases):
        latent_states = list(latents) if states is None else states[1:]
        states = [np.asarray(images, dtype=np.asarray(latent_states[0]).dtype)] + list(latent_states)
        states, chain = record_to_hdf5(path, sampler, target, states, int(steps), record, chunk_steps=chunk_steps,
                                       free=(False,) + (True,) * (len(states) - 1), chain=chain, dtype=dtype,
                                       attrs={"phase_steps": [int(s) for _, s in phases]}, append=k > 0)
    return states, chain
