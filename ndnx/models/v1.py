"""V1 system-identification models: the HSM of Antolík et al. (2016) and the alternatives of the thesis.

Every builder is an NDN3 network description (`ndnx.models.ffnetwork`) with the thesis's
defaults: weights N(0, 0.1²), softplus outputs, penalties in the NDN3 convention (sums) unless
`convention="ndnt"`. Each takes `seed` and `replicas`: replica r of `replicas=R` is the model
built alone with `seed + r`, weight for weight, so the seeds of an experiment train as one model.

| builder        | layers                                                    | thesis exp.  |
|----------------|-----------------------------------------------------------|--------------|
| `hsm`          | DoG (linear) → softplus hidden 0.2·N → softplus outputs    | baselines    |
| `ln`           | one dense softplus layer, d2x                              | 2.1.2        |
| `lnln`         | dense hidden (d2x) → dense output (l2)                     | 2.1.1        |
| `conv_readout` | conv (d2x) → 'sep' or 'normal' hidden → dense output      | 2.2.1, 2.2.2 |
| `conv_dog`     | conv-DoG → 'sep' or 'normal' hidden → dense output        | 2.2.3, 2.2.4 |
| `what_where`   | three convs → separable readout (Klindt et al. 2017)      | 2.2.5        |
| `conv_gaussian`| conv core → Gaussian readout (Lurz et al. 2021)           | (modern)     |

References: Antolík et al. (2016) PLoS Comput Biol 12(6): e1004927; Klindt et al. (2017)
NeurIPS; Lurz et al. (2021) ICLR.
"""

from ndnx.layers.replicas import layer_seeds, num_replicas
from ndnx.models.ffnetwork import ffnetwork, ndn3_normal

__all__ = ["hsm", "ln", "lnln", "conv_readout", "conv_dog", "what_where", "conv_gaussian", "ndn3_normal",
           "layer_seeds", "hidden_units", "from_config", "compile_recipe", "CONFIG_DEFAULTS", "MODELS"]


def hidden_units(num_neurons, hidden_fraction):
    """int(hidden_fraction · N) (20 for region 1's 103 neurons), at least 1."""
    units = int(hidden_fraction * num_neurons)
    if units < 1:
        raise ValueError(f"hidden_fraction={hidden_fraction} of {num_neurons} neurons leaves no hidden unit")
    return units


def _reg(**penalties):
    """{key: λ} without the zero / None entries."""
    return {k: v for k, v in penalties.items() if v}


def _reg_list(per_layer):
    """[{key: λ} per layer] → NDN3's {key: [λ per layer]}."""
    keys = sorted({k for layer in per_layer for k in layer})
    return {k: [layer.get(k) for layer in per_layer] for k in keys}


def _conv_stack_regs(conv_reg, n, input_shape):
    """The same penalties on n stacked conv layers, except max_filt on a one-channel input.

    max_filt couples the channels at one pixel and is identically 0 on a grey-level image (NDN3
    added that 0 silently); the first conv of such an image does not take it.
    """
    regs = [dict(conv_reg or {}) for _ in range(n)]
    if input_shape[-1] == 1:
        regs[0].pop("max_filt", None)
    return regs


def hsm(num_neurons, input_shape=(31, 31, 1), num_dogs=9, hidden_fraction=0.2, hidden_units=None,
        dog_activation=None, hidden_activation="softplus", output_activation="softplus",
        bias_initializer="normal", l2_hidden=0.0, l2_output=0.0, hidden_reg=None, output_reg=None,
        hidden_dropout=0.0, lin_scale=False, regularizer_convention="ndn3", sigma_bounds=None,
        faithful_mu_y_offset=False, seed=0, replicas=None, name="hsm"):
    """The hierarchical structural model: DoG → softplus hidden → softplus outputs.

        z = DoG(S) (linear), h = softplus(z W1 + b1), r̂ = softplus(h W2 + b2)

    with `hidden_units = int(hidden_fraction · num_neurons)` (20 for region 1's 103 neurons), the
    NDN3 'normal' N(0, 0.1²) weight initialisation and NDN3 l2 penalties (λ · ½Σw², weights only).
    `bias_initializer="normal"` is N(0, 0.1²) — what msc-neuro's baselines 3–4 call
    'trunc_normal' — and "zeros" is baselines 1–2. Thesis variants: `dog_activation="softplus"`
    (exp. 1.3.4), `hidden_dropout` rate (1.3.1), `hidden_reg` / `output_reg` NDN3 penalty dicts such
    as {"l1": 0.1} (1.3.2), `lin_scale=True` puts a LinScale layer first (1.4.1).

    `replicas=R` builds R independent seeds (seed, seed+1, …) in one model whose output is
    (batch, R, neurons); replica r equals `hsm(..., seed=seed + r)` weight for weight.

    Reference: Antolík et al. (2016), PLoS Comput Biol 12(6): e1004927.

    Example:
        >>> import ndnx
        >>> model = ndnx.models.v1.hsm(103, seed=0, replicas=10)
        >>> model.output_shape
        (None, 10, 103)
    """
    if hidden_units is None:
        if int(hidden_fraction * num_neurons) < 1:
            raise ValueError(f"hsm: hidden_units must be ≥ 1, got {int(hidden_fraction * num_neurons)} "
                             f"(hidden_fraction={hidden_fraction}, num_neurons={num_neurons})")
        hidden_units = int(hidden_fraction * num_neurons)
    regs = [{}, {**_reg(l2=l2_hidden), **(hidden_reg or {})}, {**_reg(l2=l2_output), **(output_reg or {})}]
    types = ["diff_of_gaussians", "normal", "normal"]
    sizes = [num_dogs, hidden_units, num_neurons]
    acts = [dog_activation or "lin", hidden_activation, output_activation]
    names = ["dog", "hidden", "output"]
    options = [{"faithful_mu_y_offset": faithful_mu_y_offset}, None, None]
    dropout = [0.0, hidden_dropout, 0.0]
    if lin_scale:
        types, sizes, acts, names = ["lin_scale"] + types, [None] + sizes, ["lin"] + acts, ["lin_scale"] + names
        regs, options, dropout = [{}] + regs, [None] + options, [0.0] + dropout
    return ffnetwork(input_shape, types, sizes, acts, reg_list=_reg_list(regs), dropout=dropout,
                     biases_initializers=[bias_initializer] * len(types), layer_names=names,
                     convention=regularizer_convention, sigma_bounds=sigma_bounds, layer_options=options,
                     seed=seed, replicas=replicas, name=name)


def original_hsm(num_neurons, input_shape=(31, 31, 1), num_dogs=9, hidden_fraction=0.2, raw_input_scale=1e-6,
                 seed=0, replicas=None, name="original_hsm"):
    """The HSM as Antolík et al. (2016) fitted it (lscsm): every parameter in a box (spec §2.1).

        z = DoG(S), h = softplus(z W1 − θ1), r̂ = softplus(h W2 − θ2)

    The DoG units have no bias; centres μ ∈ [2, size − 2], variances σ_c, σ_s ∈ [1, 25], gains
    α ∈ [0, 10] (ε instead of 0); thresholds ∈ [−20, 20] (stored as biases −θ); hidden → output
    weights ∈ [−4, 4]; DoG → hidden weights ∈ [−20000, 20000] on the original's raw pixel values,
    which is ±20000·raw_input_scale on the inputs given: ±0.02 for the 0–255 grey levels that
    `ndnx.data.antolik` loads (the files hold 10⁻⁶ × grey level). Every parameter starts uniform in
    the middle half of its box. No penalties: the bounds are the only regularisation. The original
    minimised the unnormalised Poisson NLL Σ_t Σ_n [r̂ − y log(r̂ + 1e-19)] with bounded truncated
    Newton over the whole training set; fit this model with `compile_recipe(noise="poisson_sum")`
    and `ndnx.training.fit_lbfgs` (L-BFGS-B with the same bounds), as
    experiments/v1/original_hsm.py does.

    Reference: Antolík et al. (2016), PLoS Comput Biol 12(6): e1004927.

    Example:
        >>> import ndnx
        >>> model = ndnx.models.v1.original_hsm(103, seed=0)
        >>> [int(w.shape[-1]) for w in model.get_layer("output").weights]
        [103, 103]
    """
    import keras

    from ndnx.constraints import Box
    from ndnx.layers import Dense, DifferenceOfGaussians

    if int(hidden_fraction * num_neurons) < 1:
        raise ValueError(f"original_hsm: hidden_fraction · num_neurons must give ≥ 1 hidden unit, got "
                         f"{hidden_fraction} · {num_neurons}")

    def box(bound):
        return dict(kernel_constraint=Box(-bound, bound),
                    kernel_initializer=keras.initializers.RandomUniform(-bound / 2, bound / 2),
                    bias_constraint=Box(-20.0, 20.0), bias_initializer=keras.initializers.RandomUniform(-10.0, 10.0))

    inputs = keras.Input(tuple(input_shape), name="stimulus")
    z = DifferenceOfGaussians(num_dogs, use_bias=False, sigma_bounds=(1.0, 25.0), alpha_max=10.0,
                              constrained=True, middle_half_init=True, replicas=replicas,
                              seed=layer_seeds(seed, replicas, "dog"), name="dog")(inputs)
    h = Dense(int(hidden_fraction * num_neurons), activation="softplus", replicas=replicas,
              seed=layer_seeds(seed, replicas, "hidden"), name="hidden", **box(20000.0 * raw_input_scale))(z)
    y = Dense(num_neurons, activation="softplus", replicas=replicas, seed=layer_seeds(seed, replicas, "output"),
              name="output", **box(4.0))(h)
    return keras.Model(inputs, y, name=name)


def ln(num_neurons, input_shape=(31, 31, 1), activation="softplus", d2x=0.0, l2=0.0, bias_initializer="normal",
       regularizer_convention="ndn3", seed=0, replicas=None, name="ln"):
    """Linear–nonlinear model: r̂ = softplus(S·w_n + b_n), one smooth filter per neuron (thesis 2.1.2).

    `d2x` is the Laplacian smoothness penalty on each neuron's filter (the regularised LN model of
    Antolík et al. 2016, rLN).

    Example:
        >>> import ndnx
        >>> ndnx.models.v1.ln(103, d2x=10.0).output_shape
        (None, 103)
    """
    return ffnetwork(input_shape, ["normal"], [num_neurons], [activation],
                     reg_list=_reg_list([_reg(d2x=d2x, l2=l2)]), biases_initializers=[bias_initializer],
                     layer_names=["output"], convention=regularizer_convention, seed=seed, replicas=replicas,
                     name=name)


def lnln(num_neurons, input_shape=(31, 31, 1), hidden_fraction=0.2, d2x_hidden=0.0, l2_hidden=0.0,
         l2_output=0.1, activation="softplus", bias_initializer="normal", regularizer_convention="ndn3",
         seed=0, replicas=None, name="lnln"):
    """Two dense layers: smooth subunit filters (d2x) → softplus outputs (l2) (thesis 2.1.1).

    Example:
        >>> import ndnx
        >>> ndnx.models.v1.lnln(103, d2x_hidden=0.1).get_layer("hidden").units
        20
    """
    regs = [_reg(d2x=d2x_hidden, l2=l2_hidden), _reg(l2=l2_output)]
    return ffnetwork(input_shape, ["normal", "normal"], [hidden_units(num_neurons, hidden_fraction), num_neurons],
                     [activation, activation], reg_list=_reg_list(regs),
                     biases_initializers=[bias_initializer] * 2, layer_names=["hidden", "output"],
                     convention=regularizer_convention, seed=seed, replicas=replicas, name=name)


def conv_readout(num_neurons, input_shape=(31, 31, 1), filters=9, kernel_size=7, strides=None, readout="sep",
                 hidden_fraction=0.2, d2x_conv=0.0, hidden_reg=None, l2_output=0.1, activation="softplus",
                 bias_initializer="normal", regularizer_convention="ndn3", seed=0, replicas=None,
                 name="conv_readout"):
    """conv → 'sep' (separable) or 'normal' (dense) hidden layer → dense outputs (thesis 2.2.1/2.2.2).

    Stride (shift spacing) defaults to (kernel_size + 1) // 2 as in the thesis grid; `hidden_reg`
    is an NDN3 penalty dict on the hidden layer, e.g. {"max": 0.1} or {"l1": 0.1}.

    Example:
        >>> import ndnx
        >>> ndnx.models.v1.conv_readout(103, filters=30, kernel_size=15, d2x_conv=0.01).output_shape
        (None, 103)
    """
    if readout not in ("sep", "normal"):
        raise ValueError(f"conv_readout: readout must be 'sep' or 'normal', got {readout!r}")
    strides = (kernel_size + 1) // 2 if strides is None else strides
    regs = [_reg(d2x=d2x_conv), dict(hidden_reg or {}), _reg(l2=l2_output)]
    return ffnetwork(input_shape, ["conv", readout, "normal"],
                     [filters, hidden_units(num_neurons, hidden_fraction), num_neurons],
                     [activation] * 3, reg_list=_reg_list(regs), conv_filter_widths=[kernel_size, None, None],
                     shift_spacing=[strides, None, None], biases_initializers=[bias_initializer] * 3,
                     layer_names=["conv", "hidden", "output"], convention=regularizer_convention, seed=seed,
                     replicas=replicas, name=name)


def conv_dog(num_neurons, input_shape=(31, 31, 1), filters=9, kernel_size=7, strides=None, dog_activation=None,
             readout="normal", hidden_fraction=0.2, hidden_reg=None, l2_output=0.1, activation="softplus",
             bias_initializer="normal", sigma_bounds=None, regularizer_convention="ndn3", seed=0, replicas=None,
             name="conv_dog"):
    """conv-DoG (linear by default, thesis 2.2.4; softplus 2.2.3) → hidden ('normal' or 'sep') → outputs.

    Example:
        >>> import ndnx
        >>> ndnx.models.v1.conv_dog(103, filters=9, kernel_size=7, hidden_reg={"l1": 0.1}).output_shape
        (None, 103)
    """
    if readout not in ("sep", "normal"):
        raise ValueError(f"conv_dog: readout must be 'sep' or 'normal', got {readout!r}")
    strides = (kernel_size + 1) // 2 if strides is None else strides
    regs = [{}, dict(hidden_reg or {}), _reg(l2=l2_output)]
    return ffnetwork(input_shape, ["conv_diff_of_gaussians", readout, "normal"],
                     [filters, hidden_units(num_neurons, hidden_fraction), num_neurons],
                     [dog_activation or "lin", activation, activation], reg_list=_reg_list(regs),
                     conv_filter_widths=[kernel_size, None, None], shift_spacing=[strides, None, None],
                     biases_initializers=[bias_initializer] * 3, layer_names=["conv_dog", "hidden", "output"],
                     convention=regularizer_convention, sigma_bounds=sigma_bounds, seed=seed, replicas=replicas,
                     name=name)


def what_where(num_neurons, input_shape=(31, 31, 1), maps=48, kernel_sizes=(13, 3, 3), strides=(2, 1, 1),
               conv_reg=None, readout_reg=None, activation="softplus", bias_initializer="normal",
               regularizer_convention="ndn3", seed=0, replicas=None, name="what_where"):
    """Klindt et al. (2017)'s "what/where" model as the thesis re-implemented it (exp. 2.2.5).

    Three conv layers of `maps` feature maps (13 / 3 / 3 px) → separable readout: each neuron's
    weight is a spatial mask ("where") times a feature vector ("what"). `conv_reg` is a penalty
    dict for every conv layer, e.g. {"d2x": 0.1, "max_filt": 0.01} (max_filt, identically 0 on a
    one-channel image, is left off the first layer then); `readout_reg` for the readout, e.g.
    {"l1": 0.01}.

    Reference: Klindt, Ecker, Euler, Bethge (2017), Neural system identification for large
    populations separating "what" and "where", NeurIPS.

    Example:
        >>> import ndnx
        >>> ndnx.models.v1.what_where(103, maps=8).output_shape
        (None, 103)
    """
    if len(kernel_sizes) != len(strides):
        raise ValueError(f"what_where: {len(kernel_sizes)} kernel sizes but {len(strides)} strides")
    n = len(kernel_sizes)
    regs = _conv_stack_regs(conv_reg, n, input_shape) + [dict(readout_reg or {})]
    return ffnetwork(input_shape, ["conv"] * n + ["sep"], [maps] * n + [num_neurons], [activation] * (n + 1),
                     reg_list=_reg_list(regs), conv_filter_widths=list(kernel_sizes) + [None],
                     shift_spacing=list(strides) + [None], biases_initializers=[bias_initializer] * (n + 1),
                     layer_names=[f"conv{i}" for i in range(n)] + ["output"], convention=regularizer_convention,
                     seed=seed, replicas=replicas, name=name)


def conv_gaussian(num_neurons, input_shape=(31, 31, 1), maps=16, kernel_sizes=(13, 3), strides=(1, 1),
                  conv_reg=None, feature_reg=None, init_sigma=0.2, init_mu_range=0.1, activation="softplus",
                  bias_initializer="normal", regularizer_convention="ndn3", seed=0, replicas=None,
                  name="conv_gaussian"):
    """A conv core → Gaussian readout: each neuron reads the core's features at one learned position.

    The readout samples its position around the learned mean during training and reads at the mean
    at evaluation (Lurz et al. 2021; neuralpredictors' FullGaussian2d; NDNT's readout).

    Reference: Lurz et al. (2021), Generalization in data-driven models of primary visual cortex, ICLR.

    Example:
        >>> import ndnx
        >>> ndnx.models.v1.conv_gaussian(103, maps=8).output_shape
        (None, 103)
    """
    if len(kernel_sizes) != len(strides):
        raise ValueError(f"conv_gaussian: {len(kernel_sizes)} kernel sizes but {len(strides)} strides")
    n = len(kernel_sizes)
    regs = _conv_stack_regs(conv_reg, n, input_shape) + [dict(feature_reg or {})]
    options = [None] * n + [{"init_sigma": init_sigma, "init_mu_range": init_mu_range}]
    return ffnetwork(input_shape, ["conv"] * n + ["gaussian_readout"], [maps] * n + [num_neurons],
                     [activation] * (n + 1), reg_list=_reg_list(regs), conv_filter_widths=list(kernel_sizes) + [None],
                     shift_spacing=list(strides) + [None], biases_initializers=[bias_initializer] * (n + 1),
                     layer_names=[f"conv{i}" for i in range(n)] + ["output"], convention=regularizer_convention,
                     layer_options=options, seed=seed, replicas=replicas, name=name)


# --- experiment configurations ------------------------------------------------------------------

MODELS = ("hsm", "original_hsm", "ln", "lnln", "conv_readout", "conv_dog", "what_where", "conv_gaussian")

#: Every key `from_config` reads, with its default (the thesis's baseline 4 for the HSM). An
#: experiment's defaults start from these, so `--set key=value` works for every model.
CONFIG_DEFAULTS = dict(
    model="hsm", num_dogs=9, hidden_fraction=0.2, bias_init="normal", dog_activation="lin",
    l2_hidden=0.0, l2_output=0.1, hidden_penalty="", hidden_lambda=0.0, output_penalty="", output_lambda=0.0,
    hidden_dropout=0.0, lin_scale=False, d2x=0.0, filters=9, kernel_size=7, strides=0, readout="normal",
    maps=48, conv_penalty="", conv_lambda=0.0, regularizer_convention="ndn3",
)


def _penalty(kind, lam):
    if not kind or not lam:
        return {}
    return {kind: float(lam)}


def from_config(config, num_neurons, input_shape, seed=0, replicas=None):
    """The model an experiment configuration names (`config["model"]`, keys of CONFIG_DEFAULTS).

    Key meanings per model: `d2x` is the Laplacian penalty of the first (filter) layer of ln,
    lnln, conv_readout and what_where; `hidden_penalty`/`hidden_lambda` (e.g. "l1", 0.1) and
    `output_penalty`/`output_lambda` add an NDN3 penalty to the hidden / output layer;
    `conv_penalty`/`conv_lambda` (with `d2x`) to every conv layer of what_where and conv_gaussian,
    whose output penalty is their readout's; `strides=0` means the thesis default (w + 1) // 2.
    """
    c = {**CONFIG_DEFAULTS, **config}
    kind = c["model"]
    if kind not in MODELS:
        raise ValueError(f"from_config: unknown model {kind!r}; expected one of {MODELS}")
    common = dict(input_shape=tuple(input_shape), bias_initializer=c["bias_init"],
                  regularizer_convention=c["regularizer_convention"], seed=seed, replicas=replicas)
    hidden_reg = _penalty(c["hidden_penalty"], c["hidden_lambda"])
    output_reg = _penalty(c["output_penalty"], c["output_lambda"])
    conv_reg = {**_penalty("d2x", c["d2x"]), **_penalty(c["conv_penalty"], c["conv_lambda"])}
    strides = c["strides"] or None
    dog_activation = None if c["dog_activation"] in ("lin", "", None) else c["dog_activation"]
    if kind == "hsm":
        return hsm(num_neurons, num_dogs=c["num_dogs"], hidden_fraction=c["hidden_fraction"],
                   dog_activation=dog_activation, l2_hidden=c["l2_hidden"], l2_output=c["l2_output"],
                   hidden_reg=hidden_reg, output_reg=output_reg, hidden_dropout=c["hidden_dropout"],
                   lin_scale=c["lin_scale"], **common)
    if kind == "original_hsm":
        return original_hsm(num_neurons, input_shape=tuple(input_shape), num_dogs=c["num_dogs"],
                            hidden_fraction=c["hidden_fraction"], seed=seed, replicas=replicas)
    if kind == "ln":
        model = ln(num_neurons, d2x=c["d2x"], l2=c["l2_output"], **common)
    elif kind == "lnln":
        model = lnln(num_neurons, hidden_fraction=c["hidden_fraction"], d2x_hidden=c["d2x"],
                     l2_hidden=c["l2_hidden"], l2_output=c["l2_output"], **common)
    elif kind == "conv_readout":
        model = conv_readout(num_neurons, filters=c["filters"], kernel_size=c["kernel_size"], strides=strides,
                             readout=c["readout"], hidden_fraction=c["hidden_fraction"], d2x_conv=c["d2x"],
                             hidden_reg=hidden_reg, l2_output=c["l2_output"], **common)
    elif kind == "conv_dog":
        model = conv_dog(num_neurons, filters=c["filters"], kernel_size=c["kernel_size"], strides=strides,
                         dog_activation=dog_activation, readout=c["readout"], hidden_fraction=c["hidden_fraction"],
                         hidden_reg=hidden_reg, l2_output=c["l2_output"], **common)
    elif kind == "what_where":
        model = what_where(num_neurons, maps=c["maps"], conv_reg=conv_reg, readout_reg=output_reg, **common)
    else:
        model = conv_gaussian(num_neurons, maps=c["maps"], conv_reg=conv_reg, feature_reg=output_reg, **common)
    if output_reg and kind in ("ln", "lnln", "conv_readout", "conv_dog"):
        raise ValueError(f"from_config: output_penalty applies to hsm, what_where and conv_gaussian; "
                         f"{kind} takes l2_output")
    return model


def compile_recipe(model, y_train, lr=1e-3, noise="poisson", jit_compile="auto"):
    """Compile with the thesis recipe: Adam (β 0.9 / 0.999, ε 1e-8 as NDN3) and the NDN3 loss.

    noise: "poisson" — Poisson loss normalised by each neuron's mean training rate (NaN entries of
    `y_train` are unrecorded and left out); "gaussian" — the NDN3 Gaussian loss Σ(y − ŷ)²/T;
    "poisson_sum" — the original HSM's unnormalised Σₙ [ŷ − y log(ŷ + 1e-19)] (per row: the
    original's sum over rows divided by T, the same minimiser).
    jit_compile: "auto" — XLA where it helps on the devices present (`ndnx.training.xla.xla_helps`),
    or a bool.
    A replicated model gets the loss with `replica_axis=1` (its predictions are (batch, R, neurons)
    against shared targets), the sum of its seeds' losses.
    """
    import keras

    if jit_compile == "auto":
        # Resolved here, at call time: a model module does not import ndnx.training when it is imported.
        from ndnx.training.xla import xla_helps

        jit_compile = xla_helps(model)
    elif not isinstance(jit_compile, bool):
        raise ValueError(f"compile_recipe: jit_compile must be 'auto', True or False, got {jit_compile!r}")

    from ndnx.losses import GaussianLoss, PoissonLoss, poisson_unit_norm

    axis = None if num_replicas(model) is None else 1
    if noise == "poisson":
        loss = PoissonLoss(unit_norm=poisson_unit_norm(y_train), replica_axis=axis)
    elif noise == "gaussian":
        loss = GaussianLoss(replica_axis=axis)
    elif noise == "poisson_sum":
        loss = PoissonLoss(epsilon=1e-19, replica_axis=axis)
    else:
        raise ValueError(f"compile_recipe: noise must be 'poisson', 'poisson_sum' or 'gaussian', got {noise!r}")
    model.compile(optimizer=keras.optimizers.Adam(lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8), loss=loss,
                  jit_compile=jit_compile)
    return model


def __getattr__(name):
    # `ndnx.models.v1.xla_helps` moved to ndnx.training.xla; the old name resolves lazily, on first
    # use, so importing this module still does not import ndnx.training.
    if name == "xla_helps":
        from ndnx.training.xla import xla_helps

        return xla_helps
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
