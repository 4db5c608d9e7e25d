"""How one configuration value of the E/I family is read: its kind, what it expects, its normal form.

A kind turns a value read from YAML (or passed as a keyword) into its normal, immutable form —
numbers as float, counts as int, 0/1 flags as int, lists as tuples — or raises `Invalid`. It knows
nothing about other keys except N_POP, which sets the length of per-population lists (N_POP) and
per-block lists (N_POP², post × pre: [EE, EI, IE, II] for two populations, spec
ei_networks_neuroflame.md §7).

YAML as PyYAML reads it (YAML 1.1) has traps the original's files fall into, and every kind here
accepts them: ``None`` is the *string* 'None' (only ``null`` or ``~`` is None), ``1e-3`` without a
dot is a string, ``yes``/``no`` are booleans. So a numeric kind reads numeric strings, an optional
kind reads 'None', 'null' and '' as None, and a 0/1 flag reads true/false.

The error text of `Invalid` is composed by the caller from `Kind.expects(n_pop)`:
"config_EI.yml: DT=-0.01 is not valid: expected a finite number > 0".
"""

import math
import numbers

__all__ = ["Invalid", "Kind", "Number", "Integer", "Flag", "Text", "Numbers", "Flags", "Texts", "NumberOrNumbers",
           "NumberArray", "Matrix", "Optional", "RandomOrList", "Precision", "Device",
           "NONE_WORDS", "PRECISIONS", "POP", "BLOCK", "entries", "freeze", "thaw"]

#: Strings that mean "no value" in the original's files ('None' is what PyYAML makes of ``None``).
NONE_WORDS = ("None", "none", "null", "Null", "NULL", "~", "")

#: ``.yml`` lists of a block key are post × pre, row-major; length N_POP² (see the module docstring).
POP, BLOCK = "pop", "block"


class Invalid(Exception):
    """A value that does not fit its kind; `detail` (optional) says what exactly is wrong."""

    def __init__(self, detail=None):
        super().__init__(detail)
        self.detail = detail


def freeze(value):
    """The immutable form of a YAML value: lists and tuples → tuples, dicts → sorted item tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    return value


def thaw(value):
    """The YAML-writable form of a frozen value: tuples → lists (recursively)."""
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def _bounds(minimum, maximum, low_open, high_open):
    if minimum is not None and maximum is not None:
        return f" in {'(' if low_open else '['}{minimum:g}, {maximum:g}{')' if high_open else ']'}"
    if minimum is not None:
        return f" {'>' if low_open else '≥'} {minimum:g}"
    if maximum is not None:
        return f" {'<' if high_open else '≤'} {maximum:g}"
    return ""


def _real(value):
    """A finite float from a number or a numeric string; Invalid for booleans, text, inf and nan."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise Invalid()
    if isinstance(value, numbers.Real):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise Invalid() from None
    else:
        raise Invalid()
    if not math.isfinite(number):
        raise Invalid("not finite")
    return number


def entries(count):
    """'1 entry', '3 entries': the length of a list, for error details."""
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def _length_text(length, n_pop):
    if length == POP:
        return f"N_POP={n_pop} "
    if length == BLOCK:
        return f"N_POP²={n_pop * n_pop} (post × pre) "
    return ""


def _expected_length(length, n_pop):
    return {POP: n_pop, BLOCK: n_pop * n_pop}.get(length)


def _as_list(value, length, n_pop):
    """A list of items: a block list may also be given nested, N_POP rows of N_POP (post × pre)."""
    if not isinstance(value, (list, tuple)):
        raise Invalid()
    items = list(value)
    if length == BLOCK and len(items) == n_pop and all(isinstance(row, (list, tuple)) for row in items):
        if not all(len(row) == n_pop for row in items):
            raise Invalid()
        items = [v for row in items for v in row]
    expected = _expected_length(length, n_pop)
    if expected is not None and len(items) != expected:
        raise Invalid(entries(len(items)))
    return items


class Kind:
    """How a value is read. `read(value, n_pop)` → normal form, or `Invalid`; `expects(n_pop)` → text."""

    def expects(self, n_pop):
        raise NotImplementedError

    def read(self, value, n_pop):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.expects(2)!r})"


class Number(Kind):
    """A finite number within the bounds, read as float: `Number(0, low_open=True)` is > 0."""

    def __init__(self, minimum=None, maximum=None, low_open=False, high_open=False):
        self.minimum, self.maximum, self.low_open, self.high_open = minimum, maximum, low_open, high_open

    def expects(self, n_pop):
        return "a finite number" + _bounds(self.minimum, self.maximum, self.low_open, self.high_open)

    def check(self, number):
        if self.minimum is not None and (number <= self.minimum if self.low_open else number < self.minimum):
            raise Invalid()
        if self.maximum is not None and (number >= self.maximum if self.high_open else number > self.maximum):
            raise Invalid()
        return number

    def read(self, value, n_pop):
        return self.check(_real(value))


class Integer(Kind):
    """An integer ≥ `minimum` (an integral float or numeric string is read as one), as int."""

    def __init__(self, minimum=None):
        self.minimum = minimum

    def expects(self, n_pop):
        return "an integer" + ("" if self.minimum is None else f" ≥ {self.minimum}")

    def read(self, value, n_pop):
        number = _real(value)
        if not number.is_integer() or (self.minimum is not None and number < self.minimum):
            raise Invalid()
        return int(number)


class Flag(Kind):
    """A 0/1 switch (true/false accepted), as int 0 or 1 — the original's flags are ints."""

    def expects(self, n_pop):
        return "0 or 1"

    def read(self, value, n_pop):
        if isinstance(value, bool):
            return int(value)
        number = _real(value)
        if number not in (0.0, 1.0):
            raise Invalid()
        return int(number)


class Text(Kind):
    """A string; null reads as the original's 'None' string (e.g. TASK: 'None')."""

    def __init__(self, choices=None):
        self.choices = tuple(choices) if choices else None

    def expects(self, n_pop):
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return "a string"

    def read(self, value, n_pop):
        if value is None:
            value = "None"
        if not isinstance(value, str) or (self.choices and value not in self.choices):
            raise Invalid()
        return value


class Numbers(Kind):
    """A list of numbers (each read by `item`): per population, per block, or of any length."""

    def __init__(self, length=None, item=None, what="numbers"):
        self.length, self.item, self.what = length, item or Number(), what

    def expects(self, n_pop):
        bounds = self.item.expects(n_pop)[len("a finite number"):] if isinstance(self.item, Number) else ""
        return f"a list of {_length_text(self.length, n_pop)}{self.what}{bounds}"

    def read(self, value, n_pop):
        return tuple(self.item.read(v, n_pop) for v in _as_list(value, self.length, n_pop))


class Flags(Numbers):
    """A list of 0/1 flags per population or per block (IS_STP, IS_TRAIN, BUMP_SWITCH, ...)."""

    def __init__(self, length):
        super().__init__(length, Flag(), "0/1 flags")


class Texts(Kind):
    """A list of strings per block (PROBA_TYPE); null entries read as 'None'."""

    def __init__(self, length):
        self.length = length

    def expects(self, n_pop):
        return f"a list of {_length_text(self.length, n_pop)}strings"

    def read(self, value, n_pop):
        return tuple(Text().read(v, n_pop) for v in _as_list(value, self.length, n_pop))


class NumberOrNumbers(Kind):
    """One number for every STP block, or a list with one number per STP block (USE, TAU_FAC, TAU_REC).

    The list is indexed by the plastic blocks in the order IS_STP lists them (the k-th 1 of IS_STP
    takes entry k); entries beyond the number of plastic blocks are unused, as in HEAD's
    train_odr_EI (USE [.03, .5] with E→E the only plastic block). The count is checked with IS_STP.
    """

    def __init__(self, item):
        self.item = item

    def expects(self, n_pop):
        return f"{self.item.expects(n_pop)}, or a list of those (one per STP block)"

    def read(self, value, n_pop):
        if isinstance(value, (list, tuple)):
            if not value:
                raise Invalid("empty list")
            return tuple(self.item.read(v, n_pop) for v in value)
        return self.item.read(value, n_pop)


class NumberArray(Kind):
    """A number or a (nested) list of finite numbers of any shape (PHI0 per stimulus, or (B, N_STIM, 1))."""

    def expects(self, n_pop):
        return "a list of finite numbers (nested lists allowed)"

    def read(self, value, n_pop):
        if isinstance(value, (list, tuple)):
            return tuple(self.read(v, n_pop) for v in value)
        return _real(value)


class Matrix(Kind):
    """A square symmetric positive semi-definite matrix as a list of rows (LR_COV, a covariance)."""

    def expects(self, n_pop):
        return "a square, symmetric, positive semi-definite matrix (a list of rows)"

    def read(self, value, n_pop):
        if not isinstance(value, (list, tuple)) or not value:
            raise Invalid()
        rows = tuple(Numbers().read(row, n_pop) for row in value)
        size = len(rows)
        if any(len(row) != size for row in rows):
            raise Invalid("not square")
        if any(abs(rows[i][j] - rows[j][i]) > 1e-9 * max(1.0, abs(rows[i][j])) for i in range(size) for j in range(i)):
            raise Invalid("not symmetric")
        import numpy as np  # lazy: only matrices need it

        eigenvalues = np.linalg.eigvalsh(np.array(rows, dtype=float))
        if eigenvalues.min() < -1e-9 * max(1.0, abs(eigenvalues).max()):
            raise Invalid(f"smallest eigenvalue {eigenvalues.min():.3g}")
        return rows


class Optional(Kind):
    """None (also 'None', 'null', '' in a file) or a value of `kind`."""

    def __init__(self, kind):
        self.kind = kind

    def expects(self, n_pop):
        return f"null or {self.kind.expects(n_pop)}"

    def read(self, value, n_pop):
        if value is None or (isinstance(value, str) and value.strip() in NONE_WORDS):
            return None
        return self.kind.read(value, n_pop)


class RandomOrList(Kind):
    """'rand' or null — uniform in [MIN, MAX] — or a list of values ≥ 0 to draw from (DELAY_LIST, ITI_LIST).

    Read as None for 'rand' (the original's default string, which HEAD indexes as if it were a
    list, spec §0 item 1) and as a tuple of floats for a list.
    """

    def expects(self, n_pop):
        return "'rand', null, or a non-empty list of numbers ≥ 0 (seconds)"

    def read(self, value, n_pop):
        if value is None or (isinstance(value, str) and value.strip() in NONE_WORDS + ("rand", "random")):
            return None
        if isinstance(value, (list, tuple)) and value:
            return Numbers(item=Number(0)).read(value, n_pop)
        raise Invalid()


#: FLOAT_PRECISION as the original writes it → the Keras dtype policy ndnx uses instead of a global
#: default dtype. Mixed policies keep variables (and, in the E/I cell, the STP state) in float32.
PRECISIONS = {
    "32": "float32", "float32": "float32",
    "16": "mixed_float16", "float16": "mixed_float16", "fp16": "mixed_float16", "mixed_float16": "mixed_float16",
    "16b": "mixed_bfloat16", "bf16": "mixed_bfloat16", "bfloat16": "mixed_bfloat16",
    "mixed_bfloat16": "mixed_bfloat16",
    "64": "float64", "float64": "float64",
}


class Precision(Kind):
    """FLOAT_PRECISION: 32, 16, '16b' or 64 (the original's values) or a Keras dtype policy name.

    Read as the policy name: 32 → 'float32', 16 → 'mixed_float16', '16b' → 'mixed_bfloat16',
    64 → 'float64'. (The original sets torch's global default dtype and, for 32, the 'medium'
    float32 matmul precision — TensorFlow's TF32 execution, on by default on GPUs that have it.)
    """

    def expects(self, n_pop):
        return "32, 16, '16b' or 64, or one of 'float32', 'mixed_float16', 'mixed_bfloat16', 'float64'"

    def read(self, value, n_pop):
        if isinstance(value, bool):
            raise Invalid()
        if isinstance(value, numbers.Real):
            if not math.isfinite(float(value)) or not float(value).is_integer():
                raise Invalid()
            value = str(int(value))
        if not isinstance(value, str) or value.strip() not in PRECISIONS:
            raise Invalid()
        return PRECISIONS[value.strip()]


class Device(Kind):
    """DEVICE: a torch device name ('cuda:1', 'cuda', 'cpu') or a TensorFlow one ('/GPU:1'), or null.

    Read as a TensorFlow device string: 'cuda:N' / 'gpu:N' → '/GPU:N', 'cuda' → '/GPU:0',
    'cpu' → '/CPU:0'; a string starting with '/' is kept. Anything else (e.g. torch's 'mps') has no
    TensorFlow equivalent and reads as None, which the loader reports with a warning: placement is
    a preference, never a reason to fail. Whether the device exists is checked where it is used
    (`ndnx.models.ei_config.device_scope`), not when a file is read.
    """

    def expects(self, n_pop):
        return "a device name such as 'cuda:0', 'cpu' or '/GPU:0', or null"

    def read(self, value, n_pop):
        if value is None:
            return None
        if not isinstance(value, str):
            raise Invalid()
        text = value.strip()
        if text in NONE_WORDS:
            return None
        if text.startswith("/"):
            return text
        kind, _, index = text.lower().partition(":")
        if index and not index.isdigit():
            return None
        index = int(index) if index else 0
        if kind in ("cuda", "gpu"):
            return f"/GPU:{index}"
        if kind == "cpu":
            return f"/CPU:{index}"
        return None
