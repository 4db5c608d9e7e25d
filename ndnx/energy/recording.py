"""Stream sampler trajectories of chosen layers and slices to HDF5, chunk by chunk.

Spec energy_sampling_nrflv.md §3.3 and §7 item 13: the original wrote ~67 MB per step as one .npy file
per step and quantity. Here the compiled loop (`Sampler.run`) records only the requested slices (e.g.
SL1's centre patch) for `chunk_steps` steps on the device, and each chunk is appended to one chunked,
resizable HDF5 dataset per recording (optionally float16). The chain state carries over between
chunks, so a recording in chunks is the same run as one without them; `record_protocol` also saves
the chain after every chunk, so a killed recording resumes from its last complete chunk.

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
import tensorflow as tf

__all__ = ["record_to_hdf5", "record_protocol"]


def _append(f, recordings, offset, chunk_steps, dtype):
    """Write one chunk's recordings at step `offset` of their datasets (created on first use)."""
    for key, values in recordings.items():
        values = np.asarray(values).astype(dtype)
        if key not in f:
            f.create_dataset(key, shape=(0,) + values.shape[1:], maxshape=(None,) + values.shape[1:],
                             chunks=(min(int(chunk_steps), 256),) + values.shape[1:], dtype=dtype)
        data = f[key]
        data.resize(offset + len(values), axis=0)
        data[offset:offset + len(values)] = values


def _check_chunking(owner, chunk_steps, record):
    if isinstance(chunk_steps, bool) or int(chunk_steps) != chunk_steps or int(chunk_steps) < 1:
        raise ValueError(f"{owner}: chunk_steps must be a positive int, got {chunk_steps!r}")
    if not record:
        raise ValueError(f"{owner}: record must name at least one quantity, got nothing")


def record_to_hdf5(path, sampler, target, states, num_steps, record, chunk_steps=100, free=None, chain=None,
                   dtype="float32", attrs=None, append=False):
    """Run `sampler` for `num_steps` steps, appending `record` (as in `Sampler.run`) to HDF5 at `path`.

    Returns (states, chain) at the end; `attrs` are written on the file (e.g. the stimulus protocol).
    `append=True` continues the datasets of an existing file instead of starting a new one.
    """
    _check_chunking("record_to_hdf5", chunk_steps, record)
    done = 0
    with h5py.File(path, "a" if append else "w") as f:
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        offset = max((f[key].shape[0] for key in record if key in f), default=0)
        while done < num_steps:
            steps = min(int(chunk_steps), num_steps - done)
            states, chain, recordings = sampler.run(target, states, steps, free=free, chain=chain, record=record)
            _append(f, recordings, offset + done, chunk_steps, dtype)
            done += steps
    return states, chain


def _save_snapshot(f, states, chain, done, slot):
    """The chain after `done` steps into slot 0 or 1; the file's "resume" attribute names it only once it is
    complete, so a kill while writing leaves the previous snapshot in force."""
    group = f.require_group(f"resume/{slot}")
    for name, values in [(f"state{k}", s) for k, s in enumerate(states)] + \
            [(f"chain{k}", c) for k, c in enumerate(tf.nest.flatten(chain))]:
        values = np.asarray(values)
        if name in group and group[name].shape == values.shape and group[name].dtype == values.dtype:
            group[name][...] = values
        else:
            if name in group:
                del group[name]
            group.create_dataset(name, data=values)
    f.attrs["resume"] = np.array([done, slot], dtype="int64")
    f.flush()


def _load_snapshot(f, sampler, free):
    done, slot = (int(v) for v in f.attrs["resume"])
    group = f[f"resume/{slot}"]
    states = [tf.convert_to_tensor(group[f"state{k}"][()]) for k in range(len(free))]
    structure = sampler.init_chain(states, free)
    flat = [tf.convert_to_tensor(group[f"chain{k}"][()]) for k in range(len(tf.nest.flatten(structure)))]
    return done, slot, states, tf.nest.pack_sequence_as(structure, flat)


def record_protocol(path, sampler, target, latents, phases, record, chunk_steps=100, dtype="float32", attrs=None,
                    resume=False):
    """A clamped-stimulus recording (spec §3.3): the image layer clamped to each phase's images in turn.

    latents: the starting latent states (e.g. the initter's, for a natural-image batch); phases: a list
    of (images, steps), e.g. [(cifar_batch, 100), (blank, 1000), (gabors, 1000), (blank, 600)]. One
    chain runs through all phases (the sampler state, burn-in adaptation included, is created once, as
    in the original), each phase appended to the same datasets; the file's attribute "phase_steps"
    lists the phase lengths, `attrs` adds others. After every chunk the chain (states, momenta,
    adaptation, random key) is saved in the file, so with `resume=True` a recording that was killed
    continues from its last complete chunk and ends identical to an uninterrupted one (a finished
    recording is left as it is). Returns (states, chain), or None when a finished file was found.
    """
    _check_chunking("record_protocol", chunk_steps, record)
    lengths = [int(steps) for _, steps in phases]
    free = (False,) + (True,) * len(latents)
    chain, states, done, slot = None, None, 0, 1
    with h5py.File(path, "a" if resume else "w") as f:
        if resume and "resume" in f.attrs:
            recorded = [int(n) for n in f.attrs.get("phase_steps", [])]
            if recorded != lengths:
                raise ValueError(f"record_protocol: {path} was recorded with phases {recorded}, "
                                 f"asked to resume with {lengths}")
            done, slot, states, chain = _load_snapshot(f, sampler, free)
            if done == sum(lengths):
                return None
            for key in record:  # steps written after the snapshot are recorded again
                if key in f:
                    f[key].resize(done, axis=0)
        for key, value in dict(attrs or {}, phase_steps=lengths).items():
            f.attrs[key] = value
        start = 0
        for images, steps in phases:
            position = max(done - start, 0)
            if position < steps:
                latent_states = list(latents) if states is None else list(states[1:])
                states = [tf.convert_to_tensor(np.asarray(images, dtype=np.asarray(latent_states[0]).dtype))]
                states += [tf.convert_to_tensor(s) for s in latent_states]
            while position < steps:
                n = min(int(chunk_steps), steps - position)
                states, chain, recordings = sampler.run(target, states, n, free=free, chain=chain, record=record)
                _append(f, recordings, start + position, chunk_steps, dtype)
                position += n
                slot = 1 - slot
                _save_snapshot(f, states, chain, start + position, slot)
            start += steps
    return states, chain
