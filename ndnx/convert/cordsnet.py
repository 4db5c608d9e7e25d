"""Map CordsNet's PyTorch state dict onto the canonical parameter names of `ndnx.models.CordsNet`.

CordsNet (Soo, Battista, Radmard, Wang, NeurIPS 2024) wraps every convolution and its Linear readout
in weight norm, W = g·v/‖v‖, so its state dict holds g/v pairs (spec cordsnet.md §8.2):

=========================================================  ========================  ===========================
PyTorch key (j = 0..depth−1, k = 0..depth/2−2)              shape                     canonical name (transpose)
=========================================================  ========================  ===========================
``inp_conv.parametrizations.weight.original0`` / ``1``      (64,1,1,1) / (64,C,7,7)   ``stem/g`` (64,) / ``stem/v``
``inp_skip.…original0`` / ``original1``                    (64,1,1,1) / (64,64,3,3)  ``inp_skip/g`` / ``inp_skip/v``
``area_area.j.…original0`` / ``original1``                 (C_j,…) / (C_j,C_j−1,3,3) ``area{j}/ff/g`` / ``/v``
``area_conv.j.…original0`` / ``original1``                 (C_j,…) / (C_j,C_j,3,3)   ``area{j}/rec/g`` / ``/v``
``conv_bias.j``                                            (C_j,H_j,W_j)             ``area{j}/bias`` (H_j,W_j,C_j)
``skip_area.k.…original0`` / ``original1``                 (2C,…) / (2C,C,1,1)       ``skip{k}/g`` / ``skip{k}/v``
``out_fc.parametrizations.weight.original0`` / ``1``        (n,1) / (n,C_last)        ``readout/g`` (n,) / (C_last,n)
``out_fc.bias``                                            (n,)                      ``readout/bias``
=========================================================  ========================  ===========================

Convolution kernels go from PyTorch's (out, in, kh, kw) to Keras' (kh, kw, in, out) (both frameworks
cross-correlate, so nothing is flipped); g loses its singleton axes; the bias maps go from (C, H, W) to
(H, W, C). R8 has 53 keys, R6 41, R4 29, R2 17; depth, class count and input channels are read from the
keys and shapes. CordsNet-R8 at 224 px, 1000 classes, RGB, has 12,475,280 parameters counting g
(12,469,416 with weight norm folded into plain kernels; spec §1.5).

Image size: the biases fix the geometry. The stem (7×7/s2, padding 3) then the average pool (3×3/s2,
padding 1) take an image of H px to S0 = ⌊(⌊(H−1)/2⌋)/2⌋ + 1 rows at area 0, so H = 221…224 all give
S0 = 56. `load_cordsnet` takes H = 4·S0 (224 for the released model; the original resizes every
dataset to 224) unless ``image_size`` is given, and checks every bias shape against the geometry.

The step-1 compatibility CNN (spec §3, step 1) is not in the spec's key table; `step1_parameters`
assumes names by analogy with the final model (see its docstring) and takes a ``key_map`` to rename.

Example:
    >>> sizes = area_sizes(224, 8)
    >>> sizes[0], sizes[-1]
    ((56, 56), (7, 7))
    >>> len(torch_key_shapes(depth=8, num_classes=1000, channels=3, image_size=224))
    53
"""

import collections
import os

import numpy as np

from ndnx.convert.torch_checkpoint import read_torch_checkpoint, strip_prefix

__all__ = ["AREA_CHANNELS", "STEP1_KEY_NAMES", "area_sizes", "canonical_shapes", "cordsnet_parameters",
           "count_parameters", "image_size_from_area0", "load_cordsnet", "step1_parameters", "torch_key_shapes",
           "torch_state_dict"]

#: channels of areas 0..7 (spec §1.3); the stem has 64
AREA_CHANNELS = (64, 64, 128, 128, 256, 256, 512, 512)
STEM_CHANNELS = 64
DEPTHS = (2, 4, 6, 8)
WEIGHT_NORM = ".parametrizations.weight.original"

#: the original's module names (weight-normed convs and Linear, plain tensors) ↔ canonical prefixes
_WN_MODULES = {"inp_conv": "stem", "inp_skip": "inp_skip", "area_area": "area{}/ff", "area_conv": "area{}/rec",
               "skip_area": "skip{}", "out_fc": "readout"}

#: assumed module names of the original's step-1 CNN (spec §3 names the layers, not the keys)
STEP1_KEY_NAMES = {"stem": "inp_conv", "stem/bn": "inp_bn", "inp_skip": "inp_skip", "area{j}/ff": "area_area.{j}",
                   "area{j}/ff/bn": "area_bn1.{j}", "area{j}/rec": "area_conv.{j}", "area{j}/rec/bn": "area_bn2.{j}",
                   "skip{k}": "skip_area.{k}", "skip{k}/bn": "skip_bn.{k}", "readout": "out_fc"}
_BN_FIELDS = {"gamma": "weight", "beta": "bias", "mean": "running_mean", "var": "running_var"}


def _conv_length(length, kernel, stride, padding):
    return (length + 2 * padding - kernel) // stride + 1


def _pair(name, value):
    if isinstance(value, (int, np.integer)) and value > 0:
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, np.integer)) and v > 0
                                                                     for v in value):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{name}: image_size must be a positive int or a pair (H, W), got {value!r}")


def _check_depth(name, depth):
    if depth not in DEPTHS:
        raise ValueError(f"{name}: depth must be one of {DEPTHS}, got {depth!r}")


def area_sizes(image_size, depth=8):
    """(H_j, W_j) of areas 0..depth−1 for an input of ``image_size`` px (int or (H, W)); spec §1.3.

    Stem 7×7/s2/p3, average pool 3×3/s2/p1 → areas 0, 1; each 3×3/s2/p1 ff conv of areas 2, 4, 6
    halves the size (rounding up), areas 3, 5, 7 keep it.

    Example:
        >>> area_sizes(32, 8)
        [(8, 8), (8, 8), (4, 4), (4, 4), (2, 2), (2, 2), (1, 1), (1, 1)]
    """
    _check_depth("area_sizes", depth)
    size = _pair("area_sizes", image_size)
    size = tuple(_conv_length(_conv_length(n, 7, 2, 3), 3, 2, 1) for n in size)
    if min(size) < 1:
        raise ValueError(f"area_sizes: image_size must leave at least one pixel after the stem, got {image_size!r}")
    sizes = []
    for j in range(depth):
        if j >= 2 and j % 2 == 0:
            size = tuple(_conv_length(n, 3, 2, 1) for n in size)
        sizes.append(size)
    return sizes


def image_size_from_area0(area0_size):
    """The input size 4·S0 taken for an area-0 size S0 (int or (H, W)): 56 → 224 (221…224 all give 56).

    Example:
        >>> image_size_from_area0((56, 56))
        (224, 224)
    """
    return tuple(4 * n for n in _pair("image_size_from_area0", area0_size))


def canonical_shapes(depth=8, num_classes=1000, channels=3, image_size=224):
    """Canonical name → shape (Keras layout) of a CordsNet, in the order of the contract.

    Example:
        >>> canonical_shapes(2, 10, 1, 32)["area1/bias"]
        (8, 8, 64)
    """
    _check_depth("canonical_shapes", depth)
    sizes = area_sizes(image_size, depth)
    shapes = collections.OrderedDict()
    shapes["stem/g"], shapes["stem/v"] = (STEM_CHANNELS,), (7, 7, channels, STEM_CHANNELS)
    shapes["inp_skip/g"], shapes["inp_skip/v"] = (STEM_CHANNELS,), (3, 3, STEM_CHANNELS, STEM_CHANNELS)
    for j in range(depth):
        c_in, c = (AREA_CHANNELS[j - 1] if j else STEM_CHANNELS), AREA_CHANNELS[j]
        shapes[f"area{j}/ff/g"], shapes[f"area{j}/ff/v"] = (c,), (3, 3, c_in, c)
        shapes[f"area{j}/rec/g"], shapes[f"area{j}/rec/v"] = (c,), (3, 3, c, c)
        shapes[f"area{j}/bias"] = (*sizes[j], c)
    for k in range(depth // 2 - 1):
        c = AREA_CHANNELS[2 * k + 1]
        shapes[f"skip{k}/g"], shapes[f"skip{k}/v"] = (2 * c,), (1, 1, c, 2 * c)
    c_last = AREA_CHANNELS[depth - 1]
    shapes["readout/g"], shapes["readout/v"], shapes["readout/bias"] = (num_classes,), (c_last, num_classes), \
        (num_classes,)
    return shapes


def _torch_name(canonical_name):
    """PyTorch key of a canonical name (the inverse of the table in the module docstring)."""
    parts = canonical_name.split("/")
    if parts[-1] == "bias" and parts[0].startswith("area"):
        return f"conv_bias.{parts[0][4:]}"
    if canonical_name == "readout/bias":
        return "out_fc.bias"
    module = "/".join(parts[:-1])
    index = "".join(ch for ch in parts[0] if ch.isdigit())
    for torch_module, pattern in _WN_MODULES.items():
        if pattern.format(index) == module:
            suffix = "0" if parts[-1] == "g" else "1"
            return f"{torch_module}{'.' + index if '{}' in pattern else ''}{WEIGHT_NORM}{suffix}"
    raise ValueError(f"torch_state_dict: no PyTorch key for the canonical name {canonical_name!r}")


def _torch_shape(canonical_name, shape):
    kind = canonical_name.rsplit("/", 1)[-1]
    if kind == "g":
        return (shape[0], 1) if canonical_name.startswith("readout") else (shape[0], 1, 1, 1)
    if kind == "v":
        return (shape[1], shape[0]) if len(shape) == 2 else (shape[3], shape[2], shape[0], shape[1])
    if len(shape) == 3:
        return (shape[2], shape[0], shape[1])
    return tuple(shape)


def torch_key_shapes(depth=8, num_classes=1000, channels=3, image_size=224):
    """PyTorch key → shape of the original's state dict (spec §8.2), in the canonical order.

    Example:
        >>> torch_key_shapes(8, 1000, 3, 224)["conv_bias.7"]
        (512, 7, 7)
    """
    return collections.OrderedDict((_torch_name(name), _torch_shape(name, shape))
                                   for name, shape in canonical_shapes(depth, num_classes, channels, image_size).items())


def _to_keras(canonical_name, array):
    kind = canonical_name.rsplit("/", 1)[-1]
    if kind == "g":
        return array.reshape(array.shape[0])
    if kind == "v":
        return array.T if array.ndim == 2 else array.transpose(2, 3, 1, 0)
    if array.ndim == 3:
        return array.transpose(1, 2, 0)
    return array


def _to_torch(canonical_name, array):
    kind = canonical_name.rsplit("/", 1)[-1]
    if kind == "g":
        return array.reshape(_torch_shape(canonical_name, array.shape))
    if kind == "v":
        return array.T if array.ndim == 2 else array.transpose(3, 2, 0, 1)
    if array.ndim == 3:
        return array.transpose(2, 0, 1)
    return array


def _geometry(state_dict, name):
    """depth, num_classes, input channels and area-0 size read from the keys and shapes."""
    bias_keys = sorted(k for k in state_dict if k.startswith("conv_bias."))
    depth = len(bias_keys)
    if depth not in DEPTHS or bias_keys != sorted(f"conv_bias.{j}" for j in range(depth)):
        raise ValueError(f"{name}: expected conv_bias.0 … conv_bias.{{1,3,5,7}} (depth 2, 4, 6 or 8), got "
                         f"{bias_keys or 'no conv_bias keys'}")
    needed = {"inp_conv" + WEIGHT_NORM + "1": 4, "out_fc.bias": 1, "conv_bias.0": 3}
    for key, ndim in needed.items():
        if key not in state_dict:
            raise ValueError(f"{name}: state dict has no key {key!r} (a CordsNet state dict has it)")
        if np.ndim(state_dict[key]) != ndim:
            raise ValueError(f"{name}: {key} must have {ndim} axes, got shape {np.shape(state_dict[key])}")
    channels = int(state_dict["inp_conv" + WEIGHT_NORM + "1"].shape[1])
    num_classes = int(state_dict["out_fc.bias"].shape[0])
    area0 = tuple(int(n) for n in state_dict["conv_bias.0"].shape[1:])
    return depth, num_classes, channels, area0


def _check_keys_and_shapes(state_dict, expected, name, depth):
    missing = [k for k in expected if k not in state_dict]
    if missing:
        raise ValueError(f"{name}: state dict has no key {missing[0]!r} (expected shape {expected[missing[0]]}; "
                         f"{len(missing)} of {len(expected)} expected keys missing)")
    extra = [k for k in state_dict if k not in expected]
    if extra:
        raise ValueError(f"{name}: unexpected key {extra[0]!r} with shape {np.shape(state_dict[extra[0]])} "
                         f"({len(extra)} unexpected; a CordsNet-R{depth} state dict has {len(expected)} keys)")
    for key, shape in expected.items():
        if tuple(np.shape(state_dict[key])) != tuple(shape):
            raise ValueError(f"{name}: {key} must have shape {tuple(shape)}, got {tuple(np.shape(state_dict[key]))}")


def cordsnet_parameters(state_dict, image_size=None):
    """Canonical parameters of a CordsNet from the original's state dict, and what was inferred.

    ``state_dict``: PyTorch key → array (a ``module.`` prefix is stripped). Returns
    ``(canonical, info)``: canonical name → float32 array in Keras layout, and a dict with depth,
    num_classes, channels, image_size ((H, W): 4·S0 unless given) and area_sizes. A missing,
    unexpected or misshapen key raises one ``ValueError`` line naming it, the expected and the
    given shape.

    Example:
        >>> shapes = torch_key_shapes(depth=2, num_classes=10, channels=1, image_size=32)
        >>> sd = {key: np.ones(shape, np.float32) for key, shape in shapes.items()}
        >>> canonical, info = cordsnet_parameters(sd)
        >>> info["depth"], info["image_size"], canonical["area0/ff/v"].shape, canonical["readout/v"].shape
        (2, (32, 32), (3, 3, 64, 64), (64, 10))
    """
    name = "cordsnet_parameters"
    if not isinstance(state_dict, dict):
        raise ValueError(f"{name}: state_dict must be a dict of arrays, got {type(state_dict).__name__}")
    state_dict = strip_prefix(state_dict)
    depth, num_classes, channels, area0 = _geometry(state_dict, name)
    if image_size is None:
        image_size = image_size_from_area0(area0)
    image_size = _pair(name, image_size)
    if area_sizes(image_size, depth)[0] != area0:
        raise ValueError(f"{name}: image_size {image_size} gives area 0 of size {area_sizes(image_size, depth)[0]}, "
                         f"but conv_bias.0 has size {area0}")
    shapes = canonical_shapes(depth, num_classes, channels, image_size)
    expected = collections.OrderedDict((_torch_name(n), _torch_shape(n, s)) for n, s in shapes.items())
    _check_keys_and_shapes(state_dict, expected, name, depth)
    canonical = collections.OrderedDict(
        (n, np.ascontiguousarray(_to_keras(n, np.asarray(state_dict[_torch_name(n)], np.float32)))) for n in shapes)
    info = {"depth": depth, "num_classes": num_classes, "channels": channels, "image_size": image_size,
            "area_sizes": area_sizes(image_size, depth)}
    return canonical, info


def torch_state_dict(canonical):
    """The original's state dict (PyTorch keys and layout) of canonical CordsNet parameters.

    The inverse of `cordsnet_parameters`, e.g. to write an ``.npz`` the original code can load
    after ``torch.from_numpy``.

    Example:
        >>> shapes = canonical_shapes(2, 10, 1, 32)
        >>> sd = torch_state_dict({n: np.zeros(s, np.float32) for n, s in shapes.items()})
        >>> sd["conv_bias.1"].shape, sd["out_fc.parametrizations.weight.original1"].shape
        ((64, 8, 8), (10, 64))
    """
    return collections.OrderedDict((_torch_name(n), np.ascontiguousarray(_to_torch(n, np.asarray(a))))
                                   for n, a in canonical.items())


def count_parameters(canonical, folded=False):
    """The number of parameters in a canonical dict; ``folded``: with weight norm folded (no g's).

    Folding W = g·v/‖v‖ into one kernel drops the g's and keeps one kernel the size of v. Batch-norm
    statistics of a step-1 dict count like any other entry.

    Example:
        >>> shapes = canonical_shapes(8, 1000, 3, 224)
        >>> params = {n: np.zeros(s, np.float32) for n, s in shapes.items()}
        >>> count_parameters(params), count_parameters(params, folded=True)
        (12475280, 12469416)
    """
    return int(sum(np.size(a) for n, a in canonical.items() if not (folded and n.endswith("/g"))))


def _read_source(source, name):
    if isinstance(source, dict):
        return strip_prefix(source)
    if isinstance(source, (str, os.PathLike)) or hasattr(source, "read"):
        return read_torch_checkpoint(source)
    raise ValueError(f"{name}: expected a checkpoint path, a file object or a state dict, got {type(source).__name__}")


def load_cordsnet(source, image_size=None, **kwargs):
    """A built `ndnx.models.CordsNet` holding the weights of an original CordsNet checkpoint.

    ``source``: a ``.pth`` (torch zip format, read without torch), an ``.npz`` keyed by the PyTorch
    keys, or a state dict. Depth, class count and input channels come from the keys and shapes; the
    image size is 4·S0 from the area-0 bias size S0 (224 for the released model) unless
    ``image_size`` is given. ``kwargs`` go to ``CordsNet`` (alpha, blank_steps, stimulus_steps,
    readout, nonlinearity, ...).

    Example:
        >>> shapes = torch_key_shapes(depth=2, num_classes=3, channels=1, image_size=16)
        >>> sd = {key: np.full(shape, 0.1, np.float32) for key, shape in shapes.items()}
        >>> model = load_cordsnet(sd, blank_steps=1, stimulus_steps=1)
        >>> model.depth, model.num_classes
        (2, 3)
    """
    from ndnx.models import CordsNet  # convert may import models (DESIGN.md dependency order)

    canonical, info = cordsnet_parameters(_read_source(source, "load_cordsnet"), image_size)
    height, width = info["image_size"]
    model = CordsNet(depth=info["depth"], num_classes=info["num_classes"],
                     image_size=height if height == width else (height, width), channels=info["channels"], **kwargs)
    model.set_parameters(canonical)
    return model


def _module_path(template, key_map, j=None, k=None):
    path = template.format(j=j, k=k)
    if path in key_map:
        return key_map[path]
    family, dot, index = path.partition(".")
    return key_map[family] + dot + index if family in key_map else path


def _weight_normed(state_dict, module, kind, name):
    """(g, v) in Keras layout of a weight-normed (g/v) or plain (.weight, then g = ‖weight‖) module."""
    g_key, v_key, w_key = f"{module}{WEIGHT_NORM}0", f"{module}{WEIGHT_NORM}1", f"{module}.weight"
    if v_key in state_dict and g_key in state_dict:
        v, g = np.asarray(state_dict[v_key], np.float32), np.asarray(state_dict[g_key], np.float32)
        g = g.reshape(g.shape[0])
    elif w_key in state_dict:
        v = np.asarray(state_dict[w_key], np.float32)
        g = np.sqrt(np.sum(np.square(v.astype(np.float64)).reshape(v.shape[0], -1), axis=1)).astype(np.float32)
    else:
        raise ValueError(f"{name}: state dict has neither {v_key!r} nor {w_key!r} (the {kind}; rename with key_map)")
    if v.ndim not in (2, 4) or g.shape != (v.shape[0],):
        raise ValueError(f"{name}: {module} must hold a (out, in[, kh, kw]) weight and an (out, ...) g, got "
                         f"v {v.shape} and g {g.shape}")
    return g, (v.T if v.ndim == 2 else v.transpose(2, 3, 1, 0))


def step1_parameters(state_dict, key_map=None):
    """Canonical step-1 CNN parameters (weight-normed convs with batch norm; spec §3 step 1).

    The spec describes the step-1 network (``x_j = ReLU(BN2(Conv_rec(BN1(Conv_ff(h_j)))))``, stem
    ``AvgPool(BN(Conv7x7))``, BN after each 1×1 skip, none after ``inp_skip``) but not its key names.
    Assumed, by analogy with the final model (`STEP1_KEY_NAMES`): ``inp_conv``, ``inp_bn``,
    ``inp_skip``, ``area_area.j``, ``area_bn1.j``, ``area_conv.j``, ``area_bn2.j``, ``skip_area.k``,
    ``skip_bn.k``, ``out_fc``. A conv may be weight-normed (``….parametrizations.weight.original0/1``)
    or plain (``….weight``, read as g = ‖weight‖, v = weight: the same kernel). A BN module holds
    ``weight``, ``bias``, ``running_mean``, ``running_var`` (``num_batches_tracked`` and the unused
    ``area_bias.j`` are ignored). ``key_map`` renames: assumed module name → the file's, per family
    (``{"area_bn1": "bn1"}``) or per module (``{"area_bn1.0": "block0.bn"}``).

    Returns ``(canonical, info)`` with ``<name>/g``, ``<name>/v``, ``<name>/bn/{gamma,beta,mean,var}``
    for name in stem, area{j}/ff, area{j}/rec, skip{k}, plus inp_skip/g, inp_skip/v, readout/g,
    readout/v, readout/bias; info has depth, num_classes and channels.

    Example:
        >>> sd = {"inp_conv.weight": np.ones((64, 1, 7, 7), np.float32)}
        >>> step1_parameters(sd)
        Traceback (most recent call last):
        ValueError: step1_parameters: expected area_area.0 … area_area.{1,3,5,7} (depth 2, 4, 6 or 8), got none
    """
    name = "step1_parameters"
    if not isinstance(state_dict, dict):
        raise ValueError(f"{name}: state_dict must be a dict of arrays, got {type(state_dict).__name__}")
    key_map = dict(key_map or {})
    unknown = [k for k in key_map if k.split(".")[0] not in {t.split(".")[0] for t in STEP1_KEY_NAMES.values()}]
    if unknown:
        raise ValueError(f"{name}: key_map renames the assumed module names "
                         f"{sorted({t.split('.')[0] for t in STEP1_KEY_NAMES.values()})}, got {unknown[0]!r}")
    state_dict = strip_prefix(state_dict)
    ff_family = _module_path("area_area", key_map)
    depth = 0
    while any(k.startswith(f"{_module_path('area_area.{j}', key_map, j=depth)}.") for k in state_dict):
        depth += 1
    if depth not in DEPTHS:
        raise ValueError(f"{name}: expected {ff_family}.0 … {ff_family}.{{1,3,5,7}} (depth 2, 4, 6 or 8), got "
                         f"{depth or 'none'}")
    canonical = collections.OrderedDict()

    def conv(canonical_name, template, j=None, k=None, bn=None, kind="conv"):
        module = _module_path(template, key_map, j, k)
        canonical[f"{canonical_name}/g"], canonical[f"{canonical_name}/v"] = _weight_normed(state_dict, module, kind,
                                                                                             name)
        if bn is not None:
            bn_module = _module_path(bn, key_map, j, k)
            for field, torch_field in _BN_FIELDS.items():
                key = f"{bn_module}.{torch_field}"
                if key not in state_dict:
                    raise ValueError(f"{name}: state dict has no key {key!r} (batch norm of {canonical_name}; "
                                     f"rename with key_map)")
                value = np.asarray(state_dict[key], np.float32)
                if value.shape != (canonical[f"{canonical_name}/v"].shape[-1],):
                    raise ValueError(f"{name}: {key} must have shape ({canonical[f'{canonical_name}/v'].shape[-1]},), "
                                     f"got {value.shape}")
                canonical[f"{canonical_name}/bn/{field}"] = value

    conv("stem", STEP1_KEY_NAMES["stem"], bn=STEP1_KEY_NAMES["stem/bn"], kind="7×7 stem conv")
    conv("inp_skip", STEP1_KEY_NAMES["inp_skip"], kind="3×3 input skip conv")
    for j in range(depth):
        conv(f"area{j}/ff", STEP1_KEY_NAMES["area{j}/ff"], j=j, bn=STEP1_KEY_NAMES["area{j}/ff/bn"],
             kind=f"feedforward conv of area {j}")
        conv(f"area{j}/rec", STEP1_KEY_NAMES["area{j}/rec"], j=j, bn=STEP1_KEY_NAMES["area{j}/rec/bn"],
             kind=f"second conv of area {j}")
    for k in range(depth // 2 - 1):
        conv(f"skip{k}", STEP1_KEY_NAMES["skip{k}"], k=k, bn=STEP1_KEY_NAMES["skip{k}/bn"], kind=f"1×1 skip {k}")
    conv("readout", STEP1_KEY_NAMES["readout"], kind="readout Linear")
    bias_key = f"{_module_path('out_fc', key_map)}.bias"
    if bias_key not in state_dict:
        raise ValueError(f"{name}: state dict has no key {bias_key!r} (readout bias)")
    canonical["readout/bias"] = np.asarray(state_dict[bias_key], np.float32)
    channels, num_classes = canonical["stem/v"].shape[2], canonical["readout/v"].shape[1]
    expected = canonical_shapes(depth, num_classes, channels, 224)
    for key, value in canonical.items():
        if "/bn/" in key:
            continue
        if key in expected and value.shape != expected[key]:
            raise ValueError(f"{name}: {key} must have shape {expected[key]} in Keras layout, got {value.shape}")
    return canonical, {"depth": depth, "num_classes": int(num_classes), "channels": int(channels)}
