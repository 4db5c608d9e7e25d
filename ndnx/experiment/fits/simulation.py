"""`Simulation`: a run that trains nothing — it runs the model over a protocol and records it.

Parameter sweeps of dynamical systems (an E/I network over a grid of couplings, a recurrent vision
model over a stimulus set) build a model from the configuration, run it, and keep what it did.
`Simulation(simulate)` does that for every job: it builds the model, calls

    simulate(model, data, config, records) -> {metric: per-replica values}

and then

- `records` writes one HDF5 file per seed, `records/<group>/<experiment>/<run>/seed<k>.h5`, with
  the run's configuration as attributes: `records.write(name, array)` stores a whole array,
  `records.append(name, chunk)` grows a dataset chunk by chunk (long simulations stream their
  output instead of holding it), both with the replica axis of a replicated model at
  `replica_axis` (default 1: (batch, R, ...); sequences (batch, time, R, ...) use 2), split off
  per seed. The files are written under temporary names and renamed when the job finished, so a
  killed job leaves no file that looks finished; a run whose files all exist is not simulated
  again.
- the returned metrics are logged as TensorBoard scalars of the split "simulation" (step 0), so
  `ndnx summarize <group>/<experiment> --split simulation` gives their percentiles over seeds
  and `ndnx tune` can optimise one of them (`objective=("simulation", metric, "min")`).

Example:

    def simulate(model, data, config, records):
        rates = model.predict(data["stimulus"], verbose=0)          # (batch, R, time, neurons)
        records.write("rates", rates)
        return {"mean_rate": rates.mean(axis=(0, 2, 3))}

    experiment = Experiment("ei/sweep", defaults=dict(coupling=1.0), data=stimuli, build=build,
                            fit=Simulation(simulate), grid={"coupling": [0.5, 1.0, 2.0]})
"""

import contextlib
import os

import numpy as np
import yaml

from ndnx.experiment.fits.fit import Fit, Objective
from ndnx.files import atomic_path

__all__ = ["Simulation", "Records"]


class Records:
    """What one simulation job records: per seed an HDF5 file, or arrays in memory.

    Args:
        paths: one file per seed (None: keep everything in `arrays`, for a tuner trial).
        replicas: None for a plain model, else the number of replicas (one per path).
        replica_axis: where the replica axis sits in the arrays given.
        attrs: attributes every file gets (the configuration, the seed).
    """

    def __init__(self, paths, replicas=None, replica_axis=1, attrs=None):
        self.replicas = replicas
        self.replica_axis = int(replica_axis)
        self.count = 1 if replicas is None else int(replicas)
        if paths is not None and len(paths) != self.count:
            raise ValueError(f"Records: {len(paths)} files for {self.count} replica(s)")
        self.paths = None if paths is None else [str(p) for p in paths]
        self.attrs = attrs or [{} for _ in range(self.count)]
        self.arrays = [{} for _ in range(self.count)]
        self._files = None
        self._stack = None

    def __enter__(self):
        if self.paths is not None:
            import h5py

            self._files, self._stack = [], contextlib.ExitStack()
            for path, attrs in zip(self.paths, self.attrs):
                handle = h5py.File(self._stack.enter_context(atomic_path(path)), "w")
                for key, value in attrs.items():
                    handle.attrs[key] = value
                self._files.append(handle)
        return self

    def _per_replica(self, name, array):
        array = np.asarray(array)
        if self.replicas is None:
            return [array]
        if array.ndim <= self.replica_axis or array.shape[self.replica_axis] != self.replicas:
            raise ValueError(f"Records: {name!r} has shape {array.shape}; expected {self.replicas} replicas on "
                             f"axis {self.replica_axis}")
        return [np.take(array, r, axis=self.replica_axis) for r in range(self.replicas)]

    def write(self, name, array):
        """Store a whole array (replica axis at `replica_axis` for a replicated model)."""
        for r, part in enumerate(self._per_replica(name, array)):
            if self._files is None:
                self.arrays[r][name] = part
            else:
                if name in self._files[r]:
                    raise ValueError(f"Records: {name!r} was written already")
                self._files[r].create_dataset(name, data=part)

    def append(self, name, chunk, axis=0):
        """Grow the dataset `name` along `axis` (of the per-seed array) by `chunk`."""
        for r, part in enumerate(self._per_replica(name, chunk)):
            if self._files is None:
                previous = self.arrays[r].get(name)
                self.arrays[r][name] = part if previous is None else np.concatenate([previous, part], axis=axis)
                continue
            handle = self._files[r]
            if name not in handle:
                maxshape = list(part.shape)
                maxshape[axis] = None
                handle.create_dataset(name, data=part, maxshape=tuple(maxshape), chunks=True)
                continue
            dataset = handle[name]
            if dataset.ndim != part.ndim or any(a != b for i, (a, b) in enumerate(zip(dataset.shape, part.shape))
                                                if i != axis):
                raise ValueError(f"Records: {name!r} chunks of shape {part.shape} do not extend {dataset.shape} "
                                 f"along axis {axis}")
            start = dataset.shape[axis]
            dataset.resize(start + part.shape[axis], axis=axis)
            index = [slice(None)] * part.ndim
            index[axis] = slice(start, start + part.shape[axis])
            dataset[tuple(index)] = part

    def commit(self):
        """Close the files and give them their final names."""
        if self._files is None:
            return
        for handle in self._files:
            handle.close()
        self._files = None
        self._stack.close()  # each atomic_path publishes its file

    def __exit__(self, kind, value, traceback):
        if self._files is not None:  # not committed: an error or an interruption
            for handle in self._files:
                handle.close()
            self._files = None
            error = value if value is not None else RuntimeError("records not committed")
            self._stack.__exit__(type(error), error, traceback)  # removes the temporaries
        return False


class Simulation(Fit):
    """No training: build the model, run `simulate(model, data, config, records)`, record and log.

    Args:
        simulate: (model, data, config, records) → {metric: per-replica values} (see the module
            docstring); `records` is a `Records`.
        split: the name its metrics are logged under (default "simulation").
        replica_axis: where the replica axis of the recorded arrays sits (default 1).
        save_model: also save every seed's model (its random connectivity, say) as
            models/.../seed<k>.keras.
        objective: what a tuner optimises by default (none: the experiment must name one).
    """

    keys = {}
    needs_optimizer = False

    def __init__(self, simulate, split="simulation", replica_axis=1, save_model=False, objective=None):
        if not callable(simulate):
            raise ValueError(f"Simulation: simulate must be a function (model, data, config, records) → "
                             f"{{metric: values}}, got {type(simulate).__name__}")
        self.simulate = simulate
        self.split = split
        self.replica_axis = replica_axis
        self.save_model = bool(save_model)
        self.objective = Objective.parse(objective)

    def product(self, layout, run, seed):
        return layout.records(run, seed)

    def _simulate(self, model, job, paths):
        attrs = [{"experiment": job.experiment.name, "run": job.run.name, "seed": seed,
                  "config": yaml.safe_dump(job.run.config, sort_keys=True)} for seed in job.seeds]
        records = Records(paths, job.replicas, self.replica_axis, attrs)
        with records:
            metrics = self.simulate(model, job.data, job.config, records) or {}
            values = {}
            for name, per_replica in metrics.items():
                per_replica = np.asarray(per_replica, dtype="float64").reshape(-1)
                if per_replica.size != len(job.seeds):
                    raise ValueError(f"{job.experiment.name}: simulate returned {per_replica.size} value(s) of "
                                     f"{name!r}, expected one per seed ({len(job.seeds)})")
                values[name] = per_replica
            if job.log_dir is not None and job.chief:
                from ndnx.training.callbacks import write_scalars

                write_scalars([os.path.join(job.log_dir, f"seed{s}") for s in job.seeds], self.split, values,
                              step=0, prefix=job.tag_prefix)
            if self.save_model:
                self.save(model, job)
            records.commit()
        return {"final": {(self.split, name): v for name, v in values.items()}, "records": records}

    def run(self, job):
        if self.finished(job):
            return {"final": {}, "skipped": True}
        model = job.build_model()
        return {**self._simulate(model, job, job.record_paths if job.chief else None), "model": model}

    def fit(self, model, job):
        return self._simulate(model, job, job.record_paths)
