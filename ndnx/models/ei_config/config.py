"""An E/I network configuration: NeuroFlame's YAML keys, merged, checked and frozen (`EIConfig`, `load_config`).

NeuroFlame configures a network by one flat YAML mapping of upper-case keys (spec
ei_networks_neuroflame.md §7). `load_config(name_or_path, **overrides)` merges, in this order,

    the defaults (`keys.KEYS`, NeuroFlame's conf/defaults.yml)
      → a reference configuration shipped with ndnx (`reference_names()`), or a YAML file, or a mapping
      → keyword overrides,

then reads every value by its kind (`values`), checks the values that depend on each other, and
returns an `EIConfig`: an immutable mapping in the table's key order whose keys are also
attributes (``config.GAIN``), with `replace`, `to_dict` and `to_yaml`.

Files in the original's format load unchanged (spec §0 item 1, §10.1):

- ``SEED: None`` (a string to PyYAML) or null → SEED None: "no seed given". The model then uses
  `DerivedQuantities.seed` (documented there), never the clock.
- ``DELAY_LIST`` / ``ITI_LIST: 'rand'`` → None: uniform in [MIN_DELAY, MAX_DELAY] / [MIN_ITI, MAX_ITI].
- USE / TAU_FAC / TAU_REC as one number or a list per STP block (the k-th plastic block of IS_STP
  takes entry k; unused trailing entries are allowed).
- A missing LR_MN stays None while LR_TRAIN is 0 (nothing reads it); with LR_TRAIN 1, where the
  original fails, it becomes 1 (separate U and V) with a warning.
- Legacy keys of older files (`keys.LEGACY_KEYS`) are dropped with one warning; SAVE_PATH is kept.
- FLOAT_PRECISION 32 / 16 / '16b' / 64 → the Keras dtype policy 'float32' / 'mixed_float16' /
  'mixed_bfloat16' / 'float64' (a policy for the model, never a global default dtype).
- DEVICE 'cuda:N' → '/GPU:N', 'cpu' → '/CPU:0'; a name TensorFlow has no equivalent for becomes
  None with a warning, and a device the machine lacks is skipped with a warning by `device_scope`.
- STP_TYPE names the E/I cell does not know are kept, with a warning (the original falls back to
  'markram').

Bad input is one `ValueError` line naming where the value came from, the key, what was expected
and what came: an unknown key with the closest known one ("unknown key 'GIAN'; did you mean
'GAIN'?"), a list of the wrong length, a non-finite or out-of-range number, and the checks across
keys — frac summing to 1, every population non-empty, K ≤ N_B for each presynaptic population of
a sparse network, T_WINDOW a multiple of DT (within rounding), T_STIM_ON ≤ T_STIM_OFF, MIN ≤ MAX
for delays and ITIs, LR_COV of the size of LR_MEAN, enough USE/TAU_FAC/TAU_REC entries for the
plastic blocks, N_OPTO ≤ N_E, V_THRESH > V_REST. A DURATION or T_STEADY that is not a multiple of
T_WINDOW is allowed with a warning (the recording grid is then not aligned, §1.5).

Example:
    >>> from ndnx.models.ei_config import load_config
    >>> config = load_config("config_ringEI", J_STP=7.5)
    >>> config.N_NEURON, config["frac"], config.CON_TYPE, config.J_STP
    (1000, (0.5, 0.5), 'all2all', 7.5)
    >>> load_config(GIAN=1.0)
    Traceback (most recent call last):
    ...
    ValueError: load_config: unknown key 'GIAN'; did you mean 'GAIN'?
"""

import collections.abc
import difflib
import importlib.resources
import os
import sys
import warnings

import yaml

from ndnx.files import atomic_write_text
from ndnx.models.ei_config.keys import KEYS, LEGACY_KEYS, STP_TYPES
from ndnx.models.ei_config.values import NONE_WORDS, Integer, Invalid, entries as _entries, freeze, thaw

__all__ = ["EIConfig", "EIConfigWarning", "load_config", "reference_names", "REFERENCE_PACKAGE"]

#: The package folder that holds the shipped reference configurations (``<name>.yml``).
REFERENCE_PACKAGE = "ndnx.models.ei_config"
_REFERENCE_DIR = "reference"
_STEP_TOLERANCE = 1e-6  # |t/DT − round(t/DT)| allowed for "a multiple of DT" (float division noise)


class EIConfigWarning(UserWarning):
    """A configuration value ndnx read but changed or ignored (legacy keys, DEVICE, LR_MN, ...)."""


def _warn(message):
    """Warn at the first caller outside this package (whatever the depth of the call)."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(0), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, EIConfigWarning, stacklevel=level)


def _show(value):
    """A value as YAML would write it, on one line: null, [1.0, 2.0], 'text'."""
    if value is None:
        return "null"
    return repr(thaw(value))


def _bad(origin, key, value, expects, detail=None):
    extra = f" ({detail})" if detail else ""
    return ValueError(f"{origin}: {key}={_show(value)} is not valid: expected {expects}{extra}")


def _closest(key, candidates):
    """The candidate spelled most like `key` (case first, then difflib), or None."""
    by_upper = {c.upper(): c for c in candidates}
    if str(key).upper() in by_upper:
        return by_upper[str(key).upper()]
    close = difflib.get_close_matches(str(key).upper(), list(by_upper), n=1, cutoff=0.6)
    return by_upper[close[0]] if close else None


# --- reference configurations -----------------------------------------------------------------------------

def _reference_folder():
    return importlib.resources.files(REFERENCE_PACKAGE).joinpath(_REFERENCE_DIR)


def reference_names():
    """The names of the reference configurations shipped with ndnx, sorted.

    Example:
        >>> from ndnx.models.ei_config import reference_names
        >>> "config_EI" in reference_names() and "train_vanilla" in reference_names()
        True
    """
    return tuple(sorted(entry.name[:-len(".yml")] for entry in _reference_folder().iterdir()
                        if entry.name.endswith(".yml")))


def _read_yaml(text, label):
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{label}: not valid YAML{where}: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"{label}: expected a mapping of configuration keys to values, got {type(raw).__name__}")
    return raw


def _file_layer(name_or_path):
    """(label, source, raw mapping) of a YAML file path or a reference name."""
    try:
        text = os.fspath(name_or_path)
    except TypeError:
        raise ValueError(f"load_config: expected a reference name, a YAML path or a mapping, "
                         f"got {type(name_or_path).__name__}") from None
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if os.path.isfile(text):
        try:
            with open(text, encoding="utf-8") as f:
                content = f.read()
        except OSError as exc:
            raise ValueError(f"load_config: cannot read {text}: {exc.strerror}") from None
        label = os.path.basename(text)
        return label, text, _read_yaml(content, label)
    stem = text
    for suffix in (".yml", ".yaml"):
        if stem.endswith(suffix):
            stem = stem[:-len(suffix)]
    names = reference_names()
    if os.sep not in text and stem in names:
        content = _reference_folder().joinpath(f"{stem}.yml").read_text(encoding="utf-8")
        return f"{stem}.yml", stem, _read_yaml(content, f"{stem}.yml")
    close = _closest(stem, names)
    hint = f"; did you mean {close!r}?" if close else ""
    raise ValueError(f"load_config: {text!r} is neither a file nor a reference configuration{hint} "
                     f"(references: {', '.join(names)})")


# --- merging and checking ---------------------------------------------------------------------------------

def _known_keys(raw, label):
    """The mapping without legacy keys (reported by one warning); an unknown key is an error."""
    kept, legacy = {}, []
    for key, value in raw.items():
        if key in KEYS:
            kept[key] = value
        elif key in LEGACY_KEYS:
            legacy.append(key)
        else:
            close = _closest(key, list(KEYS) + list(LEGACY_KEYS))
            hint = f"; did you mean {close!r}?" if close else f" (known keys: see {__name__.rsplit('.', 1)[0]}.keys)"
            raise ValueError(f"{label}: unknown key {key!r}{hint}")
    if legacy:
        _warn(f"{label}: legacy keys ignored: {', '.join(legacy)} (NeuroFlame keys of older files, no longer read)")
    return kept


def _read_values(merged, origin):
    """Every key read by its kind, then the checks across keys; returns {key: normal value}."""
    try:
        n_pop = Integer(1).read(merged["N_POP"], 0)
    except Invalid:
        raise _bad(origin["N_POP"], "N_POP", merged["N_POP"], Integer(1).expects(0)) from None
    values = {}
    for key, spec in KEYS.items():
        try:
            values[key] = spec.kind.read(merged[key], n_pop)
        except Invalid as exc:
            raise _bad(origin[key], key, merged[key], spec.kind.expects(n_pop), exc.detail) from None
    raw_device = merged["DEVICE"]
    if values["DEVICE"] is None and isinstance(raw_device, str) and raw_device.strip() not in NONE_WORDS:
        _warn(f"{origin['DEVICE']}: DEVICE={raw_device!r} has no TensorFlow equivalent; ignored "
              f"(TensorFlow places the operations)")
    if values["LR_MN"] is None and values["LR_TRAIN"] == 1:
        _warn(f"{origin['LR_TRAIN']}: LR_TRAIN=1 without LR_MN; using LR_MN=1 (separate U and V)")
        values["LR_MN"] = 1
    if values["STP_TYPE"] not in STP_TYPES:
        _warn(f"{origin['STP_TYPE']}: STP_TYPE={values['STP_TYPE']!r} is not one of {', '.join(STP_TYPES)}; "
              f"NeuroFlame treats it as 'markram'")
    _check_together(values, origin)
    return values


def _is_multiple(time, dt):
    ratio = time / dt
    return abs(ratio - round(ratio)) <= _STEP_TOLERANCE


def _check_together(c, origin):
    """The checks that involve more than one key (see the module docstring)."""
    def bad(key, expects, detail=None, value=None):
        return _bad(origin[key], key, c[key] if value is None else value, expects, detail)

    total = sum(c["frac"])
    if abs(total - 1.0) > 1e-6:
        raise bad("frac", "fractions that sum to 1", f"sum {total:.6g}")
    sizes = [int(c["N_NEURON"] * f + 1e-9) for f in c["frac"]]
    if min(sizes) < 1:
        raise bad("N_NEURON", "at least one neuron in every population", f"int(N_NEURON·frac) = {sizes}")
    if "all2all" not in c["CON_TYPE"]:
        for b, (size, fraction) in enumerate(zip(sizes, c["frac"])):
            in_degree = c["K"] * fraction if c["FRAC_K"] else c["K"]
            if in_degree > size:
                raise bad("K", f"K ≤ N_B for every presynaptic population of a {c['CON_TYPE']!r} network",
                          f"population {b} has N={size} neurons and K={in_degree:g}")
    if not _is_multiple(c["T_WINDOW"], c["DT"]) or round(c["T_WINDOW"] / c["DT"]) < 1:
        raise bad("T_WINDOW", f"a multiple of DT={c['DT']:g}", f"T_WINDOW/DT = {c['T_WINDOW'] / c['DT']:.6g}")
    for key in ("DURATION", "T_STEADY"):
        if not _is_multiple(c[key], c["T_WINDOW"]):
            _warn(f"{origin[key]}: {key}={c[key]:g} is not a multiple of T_WINDOW={c['T_WINDOW']:g}; "
                  f"the recording windows are not aligned with it")
    if len(c["T_STIM_ON"]) != len(c["T_STIM_OFF"]):
        raise bad("T_STIM_OFF", f"one offset per onset ({len(c['T_STIM_ON'])} in T_STIM_ON)",
                  _entries(len(c["T_STIM_OFF"])))
    for k, (on, off) in enumerate(zip(c["T_STIM_ON"], c["T_STIM_OFF"])):
        if off < on:
            raise bad("T_STIM_OFF", "every offset ≥ its onset (T_STIM_ON)", f"stimulus {k}: on {on:g}, off {off:g}")
    for low, high in (("MIN_DELAY", "MAX_DELAY"), ("MIN_ITI", "MAX_ITI")):
        if c[low] > c[high]:
            raise bad(high, f"{high} ≥ {low}={c[low]:g}")
    if len(c["LR_COV"]) != len(c["LR_MEAN"]):
        raise bad("LR_COV", f"a {len(c['LR_MEAN'])}×{len(c['LR_MEAN'])} matrix (one row per LR_MEAN entry)",
                  f"{len(c['LR_COV'])}×{len(c['LR_COV'])}")
    plastic = sum(c["IS_STP"])
    if c["IF_STP"]:
        for key in ("USE", "TAU_FAC", "TAU_REC"):
            if isinstance(c[key], tuple) and len(c[key]) < plastic:
                raise bad(key, f"one number, or a list of at least {plastic} (one per plastic block of IS_STP)",
                          _entries(len(c[key])))
    if c["IF_OPTO"] and c["N_OPTO"] > sizes[0]:
        raise bad("N_OPTO", f"at most N_E={sizes[0]} silenced E neurons")
    if c["V_THRESH"] <= c["V_REST"]:
        raise bad("V_THRESH", f"V_THRESH > V_REST={c['V_REST']:g}")


_DEFAULTS = {}


def _default_values():
    """The defaults in their normal form (computed once)."""
    if not _DEFAULTS:
        raw = {key: spec.default for key, spec in KEYS.items()}
        _DEFAULTS.update(_read_values(raw, {key: "defaults" for key in KEYS}))
    return _DEFAULTS


def load_config(name_or_path=None, **overrides):
    """A validated `EIConfig`: defaults → reference name, YAML path or mapping → keyword overrides.

    Args:
        name_or_path: None (the defaults), the name of a reference configuration shipped with
            ndnx (`reference_names()`: 'config_EI', 'config_2pop', ...; '.yml' optional), the path
            of a YAML file in NeuroFlame's format (an existing file wins over a reference name),
            or a mapping of keys (an `EIConfig` included: its values are the base).
        **overrides: keys and values applied last, e.g. ``N_BATCH=16, Ja0=[1.5, 1.0]``.

    Returns an immutable `EIConfig`. Raises a one-line ValueError for an unknown key, a value of
    the wrong kind or length, or values that contradict each other (see the module docstring);
    warns (`EIConfigWarning`) about legacy keys, DEVICE names without TensorFlow equivalent, a
    missing LR_MN with LR_TRAIN 1, unknown STP types and unaligned recording windows.

    Example:
        >>> from ndnx.models.ei_config import load_config
        >>> config = load_config("config_EI", N_BATCH=4)
        >>> config.N_NEURON, config.K, config.Ja0, config.FLOAT_PRECISION, config.N_BATCH
        (2500, 250.0, (1.3, 1.0), 'mixed_float16', 4)
        >>> load_config(frac=[0.7, 0.2])
        Traceback (most recent call last):
        ...
        ValueError: load_config: frac=[0.7, 0.2] is not valid: expected fractions that sum to 1 (sum 0.9)
    """
    layers = []
    if name_or_path is None:
        source = "defaults"
    elif isinstance(name_or_path, collections.abc.Mapping):
        source = name_or_path.source if isinstance(name_or_path, EIConfig) else "mapping"
        layers.append((source, dict(name_or_path.to_dict() if isinstance(name_or_path, EIConfig) else name_or_path)))
    else:
        label, source, raw = _file_layer(name_or_path)
        layers.append((label, raw))
    if overrides:
        layers.append(("load_config", overrides))
    merged = {key: spec.default for key, spec in KEYS.items()}
    origin = {key: "defaults" for key in KEYS}
    for label, raw in layers:
        for key, value in _known_keys(raw, label).items():
            merged[key], origin[key] = value, label
    if not layers:
        return EIConfig._make(dict(_default_values()), source)
    return EIConfig._make(_read_values(merged, origin), source)


# --- the configuration ------------------------------------------------------------------------------------

def _restore(values, source):
    return EIConfig._make({key: freeze(value) for key, value in values.items()}, source)


class EIConfig(collections.abc.Mapping):
    """An immutable, validated configuration of the E/I rate-network family (spec §7).

    A mapping from NeuroFlame's key names (in the order of `keys.KEYS`) to values in their normal
    form: numbers float, counts int, 0/1 flags int, lists tuples; every key is also an attribute
    (``config.GAIN``, as NeuroFlame makes every key a model attribute). Build one with
    `load_config(...)`, or ``EIConfig(mapping_or_name, **overrides)``, which is the same.

    - `replace(**overrides)` → a new, validated configuration;
    - `to_dict()` → a plain dict of plain values (lists), loadable again;
    - `to_yaml(path=None, changed_only=False)` → the YAML text, or written atomically to `path`;
    - `changed()` → the keys that differ from the defaults;
    - `source` → where it came from ('defaults', a reference name, a path, 'mapping').

    Example:
        >>> from ndnx.models.ei_config import EIConfig
        >>> config = EIConfig("config_2pop")
        >>> config.replace(M0=0.3)
        EIConfig('config_2pop', DT=0.00025, N_NEURON=10000, K=500.0, frac=[0.5, 0.5], TAU=[0.04, 0.02],
                 TAU_SYN=[0.004, 0.002], IF_NMDA=0, M0=0.3, GAIN=1.0)
        >>> config.GAIN = 2.0
        Traceback (most recent call last):
        ...
        AttributeError: EIConfig is immutable; use config.replace(GAIN=...)
    """

    __slots__ = ("_values", "_source")

    def __init__(self, values=None, **overrides):
        config = load_config(values, **overrides)
        object.__setattr__(self, "_values", config._values)
        object.__setattr__(self, "_source", config._source)

    @classmethod
    def _make(cls, values, source):
        config = object.__new__(cls)
        object.__setattr__(config, "_values", {key: values[key] for key in KEYS})
        object.__setattr__(config, "_source", str(source))
        return config

    @property
    def source(self):
        return self._source

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            close = _closest(name, list(KEYS))
            hint = f"; did you mean {close!r}?" if close else ""
            raise AttributeError(f"EIConfig has no key {name!r}{hint}") from None

    def __setattr__(self, name, value):
        raise AttributeError(f"EIConfig is immutable; use config.replace({name}=...)")

    def __delattr__(self, name):
        raise AttributeError(f"EIConfig is immutable; use config.replace({name}=...)")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(KEYS))

    def __reduce__(self):
        return _restore, (self.to_dict(), self._source)

    def __repr__(self):
        changed = ", ".join(f"{key}={value!r}" for key, value in self.changed().items())
        return f"EIConfig({self._source!r}{', ' if changed else ''}{changed})"

    def replace(self, **overrides):
        """A new configuration with `overrides` applied and checked (the source is kept)."""
        return load_config(self, **overrides)

    def to_dict(self):
        """A plain dict (lists, not tuples) of every key, in the table's order; `load_config` reads it back."""
        return {key: thaw(value) for key, value in self._values.items()}

    def changed(self):
        """The keys whose values differ from the defaults, as plain values."""
        defaults = _default_values()
        return {key: thaw(value) for key, value in self._values.items() if value != defaults[key]}

    def to_yaml(self, path=None, changed_only=False):
        """The configuration as NeuroFlame-style YAML; written atomically to `path` when given.

        Every key is written (or, with `changed_only`, those that differ from the defaults), in the
        table's order, lists in flow style. Returns the text, or the absolute path written.
        `load_config(path)` reads back an equal configuration.
        """
        values = self.changed() if changed_only else self.to_dict()
        header = f"# E/I network configuration (ndnx.models.ei_config), from {self._source}\n"
        text = header + yaml.safe_dump(values, sort_keys=False, default_flow_style=None, allow_unicode=True,
                                       width=120)
        if path is None:
            return text
        return atomic_write_text(path, text)
