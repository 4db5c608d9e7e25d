"""Parameter grids for parallel simulations: n1 × n2 × … values laid out as B batch rows, and back.

NeuroFlame's "parallel simulations" are plain batching (spec ei_networks_neuroflame.md §1.6): one
weight matrix, and a scalar parameter replaced by a (B, 1) tensor that broadcasts against the
(B, N) state — J_STP, USE, TAU_FAC, ... — or Ja0 by a (B, N_POP, 1) tensor. A grid such as
J_STP × J_E0 (§1.6 (e): 200–400 simulations) is the Cartesian product of the axes' values in
B = n1·n2 rows, and what is decoded per row is reshaped back to (n1, n2).

`grid(config, axes=None, **named)` builds a `ParameterGrid`. An axis is a key ("J_STP") or one
entry of a list key ("Ja0[0]", the E drive J_E0; "USE[1]", the U of the second STP block). Rows
follow NumPy's ``meshgrid(..., indexing="ij")``: the first axis varies slowest, so row
b = i1·n2 + i2 — as NeuroFlame's expand-and-reshape lays them out.

Each axis value is checked with the rest of the configuration when the grid is built (one
`replace` per value); `ParameterGrid.config(b)` checks the whole row.

Example:
    >>> import numpy as np
    >>> from ndnx.models.ei_config import load_config, grid
    >>> g = grid(load_config("config_ringEI"), {"Ja0[0]": [1.0, 1.5, 2.0]}, J_STP=[5.0, 10.0])
    >>> g.shape, g.size
    ((3, 2), 6)
    >>> g.batched("J_STP")[:, 0]                    # (B, 1) for the cell
    array([ 5., 10.,  5., 10.,  5., 10.], dtype=float32)
    >>> g.batched("Ja0")[:, :, 0]                   # (B, N_POP, 1)
    array([[1. , 1. ],
           [1. , 1. ],
           [1.5, 1. ],
           [1.5, 1. ],
           [2. , 1. ],
           [2. , 1. ]], dtype=float32)
    >>> g.reshape(np.arange(6) * 10)                # one decoded number per row → (n1, n2)
    array([[ 0, 10],
           [20, 30],
           [40, 50]])
"""

import math
import numbers
import re
import warnings

import numpy as np

from ndnx.models.ei_config.config import EIConfig, EIConfigWarning
from ndnx.models.ei_config.keys import KEYS

__all__ = ["ParameterGrid", "grid"]

_AXIS = re.compile(r"^([A-Za-z_][A-Za-z_0-9]*)(?:\[(\d+)\])?$")


def _quiet_replace(config, key, value):
    """`config.replace(key=value)` without repeating the base configuration's warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EIConfigWarning)
        return config.replace(**{key: value})


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class ParameterGrid:
    """The rows of a Cartesian grid of parameter values over one base configuration.

    Attributes:
        config_base: the `EIConfig` every row starts from.
        names: the axis names, e.g. ('J_STP', 'Ja0[0]'); values: one 1-D array per axis.
        shape: (n1, n2, ...); size: B = n1·n2·… rows.

    Methods: `column(name)` → (B,) values of an axis; `point(b)` → {axis: value} of row b;
    `batched(key)` → the key's value per row as (B, 1) (a number) or (B, L, 1) (a list, e.g. Ja0);
    `config(b)` → the validated `EIConfig` of row b; `reshape(results)` → (B, ...) → (n1, n2, ..., ...);
    `flatten(results)` → the inverse.
    """

    def __init__(self, config, axes):
        if not isinstance(config, EIConfig):
            raise ValueError(f"ParameterGrid: expected an EIConfig (ndnx.models.ei_config.load_config), "
                             f"got {type(config).__name__}")
        if not axes:
            raise ValueError("ParameterGrid: expected at least one axis, e.g. grid(config, J_STP=[5.0, 10.0])")
        self.config_base = config
        self._parsed = []
        values = []
        for name, axis_values in axes:
            key, index = self._parse(name)
            array = self._axis_values(name, axis_values)
            for v in array:
                self._with(config, key, index, float(v), check=True)
            self._parsed.append((name, key, index))
            values.append(array)
        self.names = tuple(name for name, _, _ in self._parsed)
        self.values = tuple(values)
        self.shape = tuple(len(v) for v in values)
        self.size = math.prod(self.shape)
        self._columns = {name: mesh.ravel() for name, mesh in
                         zip(self.names, np.meshgrid(*self.values, indexing="ij"))}

    def __repr__(self):
        axes = ", ".join(f"{name}×{len(v)}" for name, v in zip(self.names, self.values))
        return f"ParameterGrid({self.config_base.source!r}, {axes}: {self.size} rows)"

    def _parse(self, name):
        match = _AXIS.match(name) if isinstance(name, str) else None
        if match is None:
            raise ValueError(f"grid: axis {name!r} is not valid: expected a key ('J_STP') or a key and an index "
                             f"('Ja0[0]')")
        key, index = match.group(1), match.group(2)
        if key not in KEYS:
            raise ValueError(f"grid: axis {name!r} is not valid: {key!r} is not a configuration key")
        base = self.config_base[key]
        if index is None:
            if not _is_number(base):
                kind = "a list; name one entry, e.g. " + f"'{key}[0]'" if isinstance(base, tuple) else repr(base)
                raise ValueError(f"grid: axis {name!r} is not valid: expected a numeric key, {key} is {kind}")
            return key, None
        index = int(index)
        if not isinstance(base, tuple) or not all(_is_number(v) for v in base):
            raise ValueError(f"grid: axis {name!r} is not valid: {key}={base!r} is not a list of numbers")
        if index >= len(base):
            raise ValueError(f"grid: axis {name!r} is not valid: {key} has {len(base)} entries")
        return key, index

    @staticmethod
    def _axis_values(name, axis_values):
        try:
            array = np.asarray(axis_values, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"grid: values of axis {name!r} must be numbers, got {axis_values!r}") from None
        if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
            raise ValueError(f"grid: values of axis {name!r} must be a non-empty 1-D list of finite numbers, "
                             f"got {axis_values!r}")
        return array

    @staticmethod
    def _with(config, key, index, value, check=False):
        """The configuration with key (or key[index]) set; checked (a new EIConfig) with `check`."""
        if index is None:
            new = value
        else:
            entries = list(config[key])
            entries[index] = value
            new = entries
        return _quiet_replace(config, key, new) if check else new

    def column(self, name):
        """The (B,) values of axis `name` in every row."""
        if name not in self._columns:
            raise ValueError(f"ParameterGrid.column: no axis {name!r}; axes are {list(self.names)}")
        return self._columns[name].copy()

    def point(self, b):
        """{axis name: value} of row `b`."""
        b = self._row(b)
        return {name: float(self._columns[name][b]) for name in self.names}

    def _row(self, b):
        if isinstance(b, bool) or not isinstance(b, numbers.Integral) or not -self.size <= b < self.size:
            raise ValueError(f"ParameterGrid: row must be an integer in [0, {self.size}), got {b!r}")
        return int(b) % self.size

    def batched(self, key, dtype="float32"):
        """The value of `key` in every row: (B, 1) for a number, (B, L, 1) for a list of L numbers (Ja0).

        A key no axis varies is its configured value repeated; this is what the E/I cell takes for
        a "parallel" parameter (§1.6 (b)–(c)).
        """
        if key not in KEYS:
            raise ValueError(f"ParameterGrid.batched: {key!r} is not a configuration key")
        base = self.config_base[key]
        if _is_number(base):
            out = np.full((self.size, 1), float(base))
        elif isinstance(base, tuple) and base and all(_is_number(v) for v in base):
            out = np.tile(np.asarray(base, dtype=float)[None, :, None], (self.size, 1, 1))
        else:
            raise ValueError(f"ParameterGrid.batched: {key}={base!r} is not a number or a list of numbers")
        for name, axis_key, index in self._parsed:
            if axis_key == key:
                if index is None:
                    out[:, 0] = self._columns[name]
                else:
                    out[:, index, 0] = self._columns[name]
        return out.astype(dtype)

    def config(self, b):
        """The validated `EIConfig` of row `b` (every axis value set at once)."""
        b = self._row(b)
        overrides = {}
        for name, key, index in self._parsed:
            value = float(self._columns[name][b])
            if index is None:
                overrides[key] = value
            else:
                entries = list(overrides.get(key, self.config_base[key]))
                entries[index] = value
                overrides[key] = entries
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EIConfigWarning)
            return self.config_base.replace(**overrides)

    def reshape(self, results):
        """Results with a leading axis of B rows → (n1, n2, ..., *rest), as NumPy."""
        array = np.asarray(results)
        if array.ndim == 0 or array.shape[0] != self.size:
            raise ValueError(f"ParameterGrid.reshape: expected a leading axis of B={self.size} rows, "
                             f"got shape {array.shape}")
        return array.reshape(self.shape + array.shape[1:])

    def flatten(self, results):
        """Results of shape (n1, n2, ..., *rest) → (B, *rest), the inverse of `reshape`."""
        array = np.asarray(results)
        if array.shape[:len(self.shape)] != self.shape:
            raise ValueError(f"ParameterGrid.flatten: expected leading axes {self.shape}, got shape {array.shape}")
        return array.reshape((self.size,) + array.shape[len(self.shape):])


def grid(config, axes=None, **named):
    """A `ParameterGrid`: the Cartesian product of the axes' values over `config`, as B batch rows.

    Args:
        config: the base `EIConfig`.
        axes: a mapping {axis name: values}, for names that are not Python identifiers ("Ja0[0]").
        **named: more axes, {key: values} (J_STP=[5, 10, 15]).

    Axes keep their order (`axes` first, then the keywords); the first varies slowest.

    Example:
        >>> from ndnx.models.ei_config import load_config, grid
        >>> g = grid(load_config(), J_STP=[5.0, 10.0], GAIN=[0.5, 1.0, 1.5])
        >>> g
        ParameterGrid('defaults', J_STP×2, GAIN×3: 6 rows)
        >>> g.point(4), g.config(4).GAIN
        ({'J_STP': 10.0, 'GAIN': 1.0}, 1.0)
    """
    items = list((axes or {}).items()) + list(named.items())
    names = [name for name, _ in items]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"grid: axes {repeated} are given twice")
    return ParameterGrid(config, items)
