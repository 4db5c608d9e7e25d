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

__all__ = ["record_to_hdf5"]


def record_to_hdf5(path, sampler, target, states, num_steps, record, chunk_steps=100, free=None, chain=None,
                   dtype="float32", attrs=None):
    """Run `sampler` for `num_steps` steps, appending `record` (as in `Sampler.run`) to HDF5 at `path`.

    Returns (states, chain) at the end; `attrs` are written on the file (e.g. the stimulus protocol).
    """
    if int(chunk_steps) < 1:
        raise ValueError(f"record_to_hdf5: chunk_steps must be a positive int, got {chunk_steps!r}")
    if not record:
        raise ValueError("record_to_hdf5: record must name at least one quantity, got nothing")
    done = 0
    with h5py.File(path, "w") as f:
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        while done < num_steps:
            steps = min(int(chunk_steps), num_steps - done)
            states, chain, recordings = sampler.run(target, states, steps, free=free, chain=chain, record=record)
            for key, values in recordings.items():
                values = np.asarray(values).astype(dtype)
                if key not in f:
                    f.create_dataset(key, shape=(0,) + values.shape[1:], maxshape=(None,) + values.shape[1:],
                                     chunks=(min(int(chunk_steps), 256),) + values.shape[1:], dtype=dtype)
                data = f[key]
                data.resize(done + steps, axis=0)
                data[done:done + steps] = values
            done += steps
    return states, chain
