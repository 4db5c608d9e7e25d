"""NRF-LV's architectures as named energy graphs.

Spec energy_sampling_nrflv.md §1.4. The original defines 40 architectures as hand-written
dictionaries; here each is a short list of latent layers put through one connection rule, the
"densebackw" pattern of the thesis model:

* the image (layer 0) reads every higher layer (conv edges from spatial latents, a dense edge from
  the fully connected top layer);
* latent layer i reads layer i−1 (conv, or dense next to the top), itself (conv with kernel 11 for
  SL1 when "wide SL1 base", 7 otherwise; dense for the top) and layer i+1 (conv, or dense from the
  top);
* the top layer is fully connected only; optional extra skip edges (both directions).

The thesis model `NRFLV_CIFAR_4SL_small_densebackw_wideSL1base` (SL1 32×32×32, SL2 8×8×32,
SL3 5×5×5; swish inside f_i, hardtanh states, weight norm) has 1,026,717 parameters counted as
PyTorch counts them (weight-norm gains included), which `EnergyGraph.count_params()` reproduces.
The other CIFAR presets take their layer shapes from the spec's table; where the spec states no
edge detail, they follow the thesis pattern above. The MNIST-shaped architectures are not provided:
the spec gives their shapes but not their connections, and four of them do not run as shipped.

Example:
    >>> import ndnx
    >>> graph = ndnx.energy.nrflv_graph("NRFLV_CIFAR_4SL_small_densebackw_wideSL1base")
    >>> graph.build(); graph.count_params()
    1026717
"""

__all__ = ["NRFLV_ARCHITECTURES", "nrflv_architecture", "nrflv_graph", "densebackw_graph"]

CIFAR_IMAGE = (32, 32, 3)


def densebackw_graph(latents, image_shape=CIFAR_IMAGE, wide_first=True, kernels=None, skips=(), final_kernels=None):
    """(layers, edges) of the densebackw pattern (module docstring).

    latents: (H, W, C) per latent layer, the last one fully connected; kernels: {layer index: kernel of
    the conv edges into it} (default 7); final_kernels: {layer index: final conv kernel} (default 7);
    skips: pairs (i, j) of extra conv edges i↔j.
    """
    kernels, final_kernels = dict(kernels or {}), dict(final_kernels or {})
    shapes = [tuple(image_shape)] + [tuple(s) for s in latents]
    names = ["image"] + [f"sl{i}" for i in range(1, len(shapes))]
    top = len(shapes) - 1
    layers = [{"name": n, "shape": list(s), "final_kernel": final_kernels.get(i, 7), "depth": 0}
              for i, (n, s) in enumerate(zip(names, shapes))]
    edges = []

    def edge(src, dst, kernel=None):
        dense = top in (src, dst)
        edges.append({"source": names[src], "target": names[dst], "kind": "dense" if dense else "conv",
                      "kernel": None if dense else (kernel or kernels.get(dst, 7)), "padding": None})

    for j in range(1, len(shapes)):  # the image reads every higher layer
        edge(j, 0)
    for i in range(1, len(shapes)):
        edge(i - 1, i)
        edge(i, i, 11 if (i == 1 and wide_first and i != top) else None)
        if i + 1 <= top:
            edge(i + 1, i)
    for i, j in skips:
        edge(i, j)
        edge(j, i)
    return layers, edges


_CIFAR = {
    "NRFLV_CIFAR_4SL_small_densebackw_wideSL1base": dict(latents=[(32, 32, 32), (8, 8, 32), (5, 5, 5)]),
    "NRFLV_CIFAR_4SL_smaller_densebackw_wideSL1base": dict(latents=[(32, 32, 32), (8, 8, 16), (5, 5, 5)],
                                                           kernels={2: 3}, final_kernels={2: 3}),
    "NRFLV_CIFAR_3SL_densebackw_small_with_wideSL1base": dict(latents=[(32, 32, 32), (5, 5, 5)]),
    "NRFLV_CIFAR_3SL_densebackw_verysmall_with_wideSL1base": dict(latents=[(32, 32, 16), (5, 5, 5)]),
    "NRFLV_CIFAR_4SL_vanilla_densebackw_skip1_4_truncated_with_wideSL1base":
        dict(latents=[(32, 32, 32), (16, 16, 32), (5, 5, 5)]),
    "NRFLV_CIFAR_6SL_vanilla_densebackw_skip1_4": dict(
        latents=[(32, 32, 32), (16, 16, 32), (8, 8, 32), (8, 8, 16), (5, 5, 5)], wide_first=False, skips=[(1, 4)]),
    "NRFLV_CIFAR_6SL_vanilla_densebackw_skip1_4_withwideSL1base": dict(
        latents=[(32, 32, 32), (16, 16, 32), (8, 8, 32), (8, 8, 16), (5, 5, 5)], skips=[(1, 4)]),
}
NRFLV_ARCHITECTURES = tuple(_CIFAR)
THESIS_SETTINGS = dict(base_channels=32, growth_rate=8, state_activation="hardtanh", activation="swish",
                       weight_norm=True)


def nrflv_architecture(name, **overrides):
    """The EnergyGraph keyword arguments of a named NRF-LV architecture (thesis settings), with overrides."""
    if name not in _CIFAR:
        raise ValueError(f"nrflv_architecture: unknown architecture {name!r}; expected one of "
                         f"{', '.join(NRFLV_ARCHITECTURES)}")
    layers, edges = densebackw_graph(**_CIFAR[name])
    return dict(THESIS_SETTINGS, layers=layers, edges=edges, **overrides)


def nrflv_graph(name, **overrides):
    """An `EnergyGraph` of a named NRF-LV architecture."""
    from ndnx.energy.energy_graph import EnergyGraph

    return EnergyGraph(**nrflv_architecture(name, **overrides))
