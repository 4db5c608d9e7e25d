"""An experiment's configuration: `--set` overrides checked against the defaults, grids, runs.

A run is one point of the grid: the defaults, the fixed overrides and the grid's values for this
point. A grid axis is one key with a list of values, or a tuple of keys whose values are tuples
(one joint axis: e.g. batch size and epochs scaled together).
"""

import dataclasses
import itertools

import yaml

__all__ = ["Run", "parse_overrides", "check_grid", "expand_grid"]


@dataclasses.dataclass(frozen=True)
class Run:
    """One point of an experiment's grid: its index, name, resolved config and varied keys."""

    index: int
    name: str
    config: dict
    varied: dict


def _coerce(experiment, key, value, default):
    """Check a --set value against the type of its default."""
    if default is None or value is None:
        return value
    if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
        # YAML 1.1 reads "5e-4" (no dot) as a string.
        try:
            value = float(value) if isinstance(default, float) or not value.lstrip("+-").isdigit() else int(value)
        except ValueError:
            pass
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        return str(value)
    elif isinstance(default, (list, tuple)):
        if isinstance(value, (list, tuple)):
            return list(value)
    else:
        return value
    raise ValueError(
        f"{experiment}: --set {key} expects a {type(default).__name__} (default {default!r}), got {value!r}"
    )


def parse_overrides(experiment, assignments, defaults):
    """`["lr=1e-3", "region=2"]` → {"lr": 0.001, "region": 2}, each checked against the defaults.

    A value may be a list in YAML syntax (`l2=[0, 0.1]`), which turns the key into a grid axis.
    """
    out = {}
    for item in assignments or ():
        if "=" not in item:
            raise ValueError(f"{experiment}: --set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in defaults:
            raise ValueError(
                f"{experiment}: unknown --set key {key!r}; known keys: {', '.join(sorted(defaults))}"
            )
        value = yaml.safe_load(text) if text.strip() else ""
        if isinstance(value, str) and text.strip().lower() in ("none", "null"):
            value = None
        if isinstance(value, list) and not isinstance(defaults[key], (list, tuple)):
            out[key] = [_coerce(experiment, key, v, defaults[key]) for v in value]
        else:
            out[key] = _coerce(experiment, key, value, defaults[key])
    return out


def check_grid(experiment, grid, defaults):
    """The grid as {axis: [values]}, every key known and every joint value a tuple of the right size."""
    grid = {k: list(v) for k, v in (grid or {}).items()}
    for axis, values in grid.items():
        keys = axis if isinstance(axis, tuple) else (axis,)
        unknown = [k for k in keys if k not in defaults]
        if unknown:
            raise ValueError(f"Experiment {experiment}: grid keys {unknown} have no default")
        if isinstance(axis, tuple) and any(not isinstance(v, (list, tuple)) or len(v) != len(axis)
                                           for v in values):
            raise ValueError(f"Experiment {experiment}: the joint grid axis {axis} expects values that are "
                             f"tuples of {len(axis)}, got {values!r}")
    return grid


def _without_key(grid, key):
    """`grid` with `key` taken out of its axes (a joint axis keeps its other keys)."""
    out = {}
    for axis, values in grid.items():
        if axis == key:
            continue
        if isinstance(axis, tuple) and key in axis:
            keep = [j for j, k in enumerate(axis) if k != key]
            rest = []
            for v in values:
                part = tuple(v[j] for j in keep)
                if part not in rest:
                    rest.append(part)
            if len(keep) == 1:
                out[axis[keep[0]]] = [p[0] for p in rest]
            elif keep:
                out[tuple(axis[j] for j in keep)] = rest
            continue
        out[axis] = values
    return out


def expand_grid(defaults, grid, overrides=None):
    """The runs of `grid` over `defaults` with `overrides` applied (a list value makes or replaces an axis)."""
    overrides = dict(overrides or {})
    grid = dict(grid)
    fixed = {}
    for k, v in overrides.items():
        grid = _without_key(grid, k)
        if isinstance(v, list) and not isinstance(defaults.get(k), (list, tuple)):
            grid[k] = v
        else:
            fixed[k] = v
    axes = list(grid)
    runs = []
    for i, values in enumerate(itertools.product(*(grid[a] for a in axes))):
        varied = {}
        for axis, value in zip(axes, values):
            varied.update(zip(axis, value) if isinstance(axis, tuple) else [(axis, value)])
        config = {**defaults, **fixed, **varied}
        runs.append(Run(i, f"run{i}", config, varied))
    return runs
