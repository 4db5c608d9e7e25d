"""An experiment's configuration: `--set` overrides, value checks, grids, runs and their names.

A run is one point of the grid: the defaults, the fixed overrides and the grid's values for this
point. A grid axis is one key with a list of values, or a tuple of keys whose values are tuples
(one joint axis: e.g. batch size and epochs scaled together).

A run *is* its resolved configuration. Its name is readable values plus a hash of the whole
configuration, `lr=0.05,region=2-3f9a1c2b` (`run_name`): the same configuration always gets the
same name, however it was asked for, and two configurations never share one. Every key enters the
hash (`config_hash`): each one either changes what is computed (model, data, recipe; `log_every`
changes the logged curves and when checkpoints are taken; `shuffle_seed` the batches) or what the
run folder holds (`seeds`: how many repetitions; `ensemble`: whether they trained as one replicated
model, which is not bit-identical to seeds trained one by one). How and where a run is executed —
the runner, the root, the strategy, jobs per run — is not configuration and does not enter it.

Values are checked against the rules an experiment and its fit declare (`Experiment(...,
checks={"lr": positive, "noise": one_of("poisson", "gaussian")})`): small reusable `Check`s —
`positive`, `non_negative`, `finite`, `number(...)`, `integer(...)`, `one_of(...)`, `boolean`,
`text`, `each(...)`, `optional(...)` — each saying what it expects, so a bad value is refused in one
line before anything is written (`check_values`).
"""

import dataclasses
import hashlib
import itertools
import json
import math
import numbers

import yaml

__all__ = ["Run", "parse_overrides", "check_grid", "expand_grid", "run_name", "config_hash", "same_value",
           "config_differences", "Check", "check_values", "positive", "non_negative", "finite", "number",
           "integer", "one_of", "boolean", "text", "each", "optional"]


@dataclasses.dataclass(frozen=True)
class Run:
    """One point of an experiment's grid: its index, name, resolved config and varied keys.

    `name` is `run_name(config, ...)`: readable values and the hash of the configuration.
    """

    index: int
    name: str
    config: dict
    varied: dict

    @property
    def hash(self):
        return self.name.rsplit("-", 1)[-1]


# --- checks --------------------------------------------------------------------------------------

class Check:
    """A rule a configuration value must follow: `test(value) → bool`, and what it `expects`.

    `expects` completes the error message "expected ...", e.g. "a finite number > 0". A test that
    raises TypeError or ValueError fails. `a & b` needs both, `a | b` either.

        Check("an odd integer", lambda v: isinstance(v, int) and v % 2 == 1)
    """

    def __init__(self, expects, test):
        if not isinstance(expects, str) or not expects or not callable(test):
            raise ValueError(f"Check: expected a description and a test function, got {expects!r}, {test!r}")
        self.expects = expects
        self.test = test

    def __call__(self, value):
        try:
            return bool(self.test(value))
        except (TypeError, ValueError, ArithmeticError):
            return False

    def __and__(self, other):
        other = as_check(other)
        return Check(f"{self.expects} and {other.expects}", lambda v: self(v) and other(v))

    def __or__(self, other):
        other = as_check(other)
        return Check(f"{self.expects} or {other.expects}", lambda v: self(v) or other(v))

    def __repr__(self):
        return f"Check({self.expects!r})"


def as_check(check):
    """A `Check`, or a plain function value → bool (its name says what it expects)."""
    if isinstance(check, Check):
        return check
    if callable(check):
        return Check(f"a value for which {getattr(check, '__name__', 'the check')}(value) is true", check)
    raise ValueError(f"expected a Check or a function value → bool, got {check!r}")


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _bounds_text(minimum, maximum, low_open, high_open):
    if minimum is not None and maximum is not None:
        return f" in {'(' if low_open else '['}{minimum:g}, {maximum:g}{')' if high_open else ']'}"
    if minimum is not None:
        return f" {'>' if low_open else '>='} {minimum:g}"
    if maximum is not None:
        return f" {'<' if high_open else '<='} {maximum:g}"
    return ""


def _within(value, minimum, maximum, low_open, high_open):
    if minimum is not None and (value <= minimum if low_open else value < minimum):
        return False
    if maximum is not None and (value >= maximum if high_open else value > maximum):
        return False
    return True


def number(minimum=None, maximum=None, low_open=False, high_open=False):
    """A finite number (int or float, not bool) within the bounds: `number(0, 1, low_open=True)` is (0, 1]."""
    return Check("a finite number" + _bounds_text(minimum, maximum, low_open, high_open),
                 lambda v: _is_number(v) and math.isfinite(v) and _within(v, minimum, maximum, low_open, high_open))


def integer(minimum=None, maximum=None):
    """An integer (not bool) within [minimum, maximum]: `integer(1)` for a count of at least one."""
    return Check("an integer" + _bounds_text(minimum, maximum, False, False),
                 lambda v: _is_integer(v) and _within(v, minimum, maximum, False, False))


def one_of(*values):
    """One of `values` (compared by value: 1 and 1.0 are the same)."""
    if len(values) == 1 and isinstance(values[0], (list, tuple, set, frozenset)):
        values = tuple(values[0])
    return Check("one of " + ", ".join(repr(v) for v in values),
                 lambda v: any(same_value(v, allowed) for allowed in values))


def each(check):
    """A list (or tuple) of which every item passes `check`."""
    check = as_check(check)
    return Check(f"a list of {check.expects} each",
                 lambda v: isinstance(v, (list, tuple)) and all(check(item) for item in v))


def optional(check):
    """None (unset: the fit or model chooses) or a value that passes `check`."""
    check = as_check(check)
    return Check(f"null or {check.expects}", lambda v: v is None or check(v))


positive = number(0, low_open=True)
non_negative = number(0)
finite = number()
boolean = Check("true or false", lambda v: isinstance(v, bool))
text = Check("a string", lambda v: isinstance(v, str))


def check_values(experiment, config, checks, skip_none=False):
    """Raise one-line ValueError for the first key of `config` whose value fails its check.

    `checks`: {key: Check}; keys absent from `config` are skipped (as are None values with
    `skip_none`: defaults a run must still give).
    """
    for key, check in checks.items():
        if key not in config or (skip_none and config[key] is None):
            continue
        check = as_check(check)
        value = config[key]
        if not check(value):
            shown = "null" if value is None else repr(value)
            raise ValueError(f"{experiment}: {key}={shown} is not valid: expected {check.expects}")


# --- identity ------------------------------------------------------------------------------------

def _canonical(value):
    """A JSON-able form in which equal values are equal: 1 == 1.0, (1, 2) == [1, 2]."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if _is_integer(value):
        return int(value)
    if _is_number(value):
        value = float(value)
        if math.isfinite(value) and value.is_integer() and abs(value) < 2 ** 53:
            return int(value)
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    return f"<{type(value).__name__}>{value!r}"


def same_value(a, b):
    """Whether two configuration values are the same (1 == 1.0, a tuple equals the list)."""
    return json.dumps(_canonical(a), sort_keys=True) == json.dumps(_canonical(b), sort_keys=True)


def config_hash(config):
    """8 hex digits of the SHA-256 of the whole configuration in canonical JSON (stable across runs)."""
    text = json.dumps(_canonical(dict(config)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def config_differences(stored, requested):
    """Keys whose values differ between two configurations (a key missing on one side differs)."""
    missing = object()
    keys = sorted(set(stored) | set(requested), key=str)
    return [k for k in keys if (stored.get(k, missing) is missing) != (requested.get(k, missing) is missing)
            or not same_value(stored.get(k), requested.get(k))]


_NAME_LIMIT = 96
_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-=")


def _name_text(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "+".join(_name_text(v) for v in value)
    if _is_number(value):
        value = _canonical(value)  # 20.0 is shown as 20, as it is hashed
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str) and "/" in value.rstrip("/"):
        return value.rstrip("/").rsplit("/", 1)[-1]  # a path is shown by its last part (the hash has it all)
    return str(value)


def _safe(text):
    return "".join(c if c in _SAFE else "_" for c in text)


def run_name(config, defaults, grid=None):
    """The name of the run with configuration `config`: readable values, then the config's hash.

    The values shown are those of the experiment's own single-key grid axes, then every other
    key whose value differs from the experiment's defaults (joint axes' keys included), in that
    order (the rest alphabetically): `lr=0.001,region=2-3f9a1c2b`. A run at the defaults is
    `defaults-3f9a1c2b`. Characters other than letters, digits and `._+-=` become `_`; list values
    are joined by `+`, a path shows its last part; names longer than 96 characters end in `,etc`
    (the hash keeps them apart).
    The name is a function of the experiment and the configuration only, not of the command.
    """
    shown = []
    for axis in (grid or {}):
        for key in (axis if isinstance(axis, tuple) else (axis,)):
            if key in shown or key not in config:
                continue
            if not isinstance(axis, tuple) or not same_value(config[key], defaults.get(key)):
                shown.append(key)
    for key in sorted(config, key=str):
        if key not in shown and (key not in defaults or not same_value(config[key], defaults[key])):
            shown.append(key)
    parts = [f"{_safe(str(k))}={_safe(_name_text(config[k]))}" for k in shown]
    readable = ",".join(parts) or "defaults"
    if len(readable) > _NAME_LIMIT:
        cut = readable.rfind(",", 0, _NAME_LIMIT - 4)
        readable = (readable[:cut] if cut > 0 else readable[:_NAME_LIMIT - 4]) + ",etc"
    return f"{readable}-{config_hash(config)}"


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
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ValueError(f"{experiment}: --set {key}={text} is not a value YAML can read ({problem}); "
                             f"a grid is written [a, b, c]") from None
        if isinstance(value, str) and text.strip().lower() in ("none", "null"):
            value = None
        if isinstance(value, list) and not isinstance(defaults[key], (list, tuple)):
            if not value:
                raise ValueError(f"{experiment}: --set {key}={text} gives a grid axis with no values; "
                                 f"give at least one")
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
        if not values:
            raise ValueError(f"Experiment {experiment}: the grid axis {axis!r} has no values")
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
    """The runs of `grid` over `defaults` with `overrides` applied (a list value makes or replaces an axis).

    Each run is named by `run_name` after the experiment's own grid (not the command's).
    """
    overrides = dict(overrides or {})
    own_grid = dict(grid)
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
    for values in itertools.product(*(grid[a] for a in axes)):
        varied = {}
        for axis, value in zip(axes, values):
            varied.update(zip(axis, value) if isinstance(axis, tuple) else [(axis, value)])
        config = {**defaults, **fixed, **varied}
        name = run_name(config, defaults, own_grid)
        if all(r.name != name for r in runs):  # a grid listing one configuration twice runs it once
            runs.append(Run(len(runs), name, config, varied))
    return runs
