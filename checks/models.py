"""Random valid ``Sequential`` models and graphs, the torch export of graphs, and the comparisons
of a model with its torch export.

``models()`` builds a model one layer at a time from the shape reached so far, choosing each
layer's hyper-parameters so that it fits (a kernel no larger than the padded input, a pool padding
at most half the window, groups dividing the channels, a residual body that keeps the shape or a
projection shortcut), so every draw is valid and nothing is filtered. The comparisons raise
``AssertionError`` with messages that say what was seen, what was expected, and where.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from hypothesis import strategies as st

from torch import nn

from convcheck.reference import blocks as B
from convcheck.reference import graph as G
from convcheck.reference import model as M

from . import export as E
from .export import activation_shapes, row_param_counts, to_torch, torch_grads
from .tolerances import tolerance

_CONV = {1: M.Conv1D, 2: M.Conv2D}
_TCONV = {1: M.Conv1DTranspose, 2: M.Conv2DTranspose}
_POOL = {("max", 1): M.MaxPool1D, ("max", 2): M.MaxPool2D, ("avg", 1): M.AvgPool1D, ("avg", 2): M.AvgPool2D}
_GPOOL = {("max", 1): M.GlobalMaxPool1D, ("max", 2): M.GlobalMaxPool2D, ("avg", 1): M.GlobalAvgPool1D,
          ("avg", 2): M.GlobalAvgPool2D}
ACTS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid")
MAX_SPATIAL = 12  # keeps every activation small: the comparisons run torch and NumPy on each example


# --- layer strategies, each from the current (channels-first) shape outward -------------------------

@st.composite
def conv_layers(draw, shape):
    """A convolution that fits ``shape = (C, *n)``: 'same' with any small kernel, or 'valid'/int
    padding with a dilated kernel no larger than the padded input."""
    c, *n = shape
    nd = len(n)
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))
    filters = groups * draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["same", "valid", "int"]))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation, kernel, padding = [], [], []
    for n_i in n:
        d = draw(st.integers(1, 2))
        p = draw(st.integers(0, 2)) if mode == "int" else 0
        room = n_i + 2 * p if mode != "same" else 7
        k = draw(st.integers(1, max(1, min(4, (room - 1) // d + 1))))
        if d * (k - 1) + 1 > room:  # only when room < 1 + d: fall back to an undilated kernel
            d = 1
        dilation.append(d), kernel.append(k), padding.append(p)
    pad = mode if mode != "int" else tuple(padding)
    return _CONV[nd](filters, tuple(kernel), strides=strides, padding=pad, dilation_rate=tuple(dilation),
                     groups=groups, activation=draw(st.sampled_from(ACTS)), use_bias=draw(st.booleans()))


@st.composite
def conv_transpose_layers(draw, shape):
    c, *n = shape
    nd = len(n)
    groups = draw(st.sampled_from([g for g in (1, 2) if c % g == 0]))
    kernel, strides, pads, outpads, dilation = [], [], [], [], []
    for _ in n:
        k, s, d = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
        p = draw(st.integers(0, d * (k - 1) // 2))  # keeps the output at least the input size
        kernel.append(k), strides.append(s), dilation.append(d), pads.append(p)
        outpads.append(draw(st.integers(0, max(s, d) - 1)))
    return _TCONV[nd](groups * draw(st.integers(1, 2)), tuple(kernel), strides=tuple(strides), padding=tuple(pads),
                      output_padding=tuple(outpads), dilation_rate=tuple(dilation), groups=groups,
                      activation=draw(st.sampled_from(ACTS)), use_bias=draw(st.booleans()))


@st.composite
def pool_layers(draw, shape):
    """Max or average pooling: Keras 'same' (any window), or int padding ``p ≤ k/2`` with the
    window no larger than the padded input."""
    _, *n = shape
    nd = len(n)
    kind = draw(st.sampled_from(["max", "avg"]))
    if draw(st.booleans()):
        k = tuple(draw(st.integers(1, 3)) for _ in n)
        s = tuple(draw(st.integers(1, 3)) for _ in n)
        return _POOL[kind, nd](k, strides=s, padding="same")
    p = draw(st.integers(0, 1))
    k = tuple(draw(st.integers(max(1, 2 * p), max(2 * p, min(3, n_i + 2 * p)))) for n_i in n)
    s = tuple(draw(st.integers(1, 3)) for _ in n)
    return _POOL[kind, nd](k, strides=s, padding=p if p else "valid")


@st.composite
def residual_layers(draw, shape):
    """A residual block: a 'same' body that keeps the shape (identity shortcut), or one that
    changes channels/stride (projection shortcut)."""
    c, *n = shape
    nd = len(n)
    project = draw(st.booleans())
    stride = draw(st.integers(1, 2)) if project else 1
    filters = draw(st.integers(1, 3)) if project else c
    k = draw(st.sampled_from([1, 3]))
    body = [_CONV[nd](filters, k, strides=stride, padding="same", activation=draw(st.sampled_from(ACTS)))]
    if draw(st.booleans()):
        body.append(M.BatchNorm())
    if draw(st.booleans()):
        body.append(_CONV[nd](filters, k, padding="same", use_bias=draw(st.booleans())))
    return M.Residual(body, shortcut="projection" if project else None)


@st.composite
def models(draw, max_layers=4, ndims=(1, 2), channels=("last", "first"), dropout=True, residual=True,
           transpose=True, head=None):
    """A random valid ``Sequential``: 1-D or 2-D input, 1–3 channels, sizes up to 9, then up to
    ``max_layers`` spatial layers (conv, transposed conv, pool, batch norm, activation, residual),
    then an optional head (``head``: None = drawn; ``'dense'`` forces a flat classifier output)."""
    nd = draw(st.sampled_from(ndims))
    chan = draw(st.sampled_from(channels))
    shape = (draw(st.integers(1, 3)),) + tuple(draw(st.integers(2, 9)) for _ in range(nd))
    layers = []
    kinds = ["conv", "conv", "pool", "batchnorm", "activation"] + (["residual"] if residual else []) + \
        (["transpose"] if transpose else [])
    for _ in range(draw(st.integers(1, max_layers))):
        kind = draw(st.sampled_from(kinds))
        if kind == "transpose" and max(shape[1:]) > MAX_SPATIAL // 2:
            kind = "conv"
        if kind == "conv":
            layer = draw(conv_layers(shape))
        elif kind == "transpose":
            layer = draw(conv_transpose_layers(shape))
        elif kind == "pool":
            layer = draw(pool_layers(shape))
        elif kind == "batchnorm":
            layer = M.BatchNorm()
        elif kind == "activation":
            layer = M.Activation(draw(st.sampled_from(ACTS[1:])))
        else:
            layer = draw(residual_layers(shape))
        layers.append(layer)
        # Build incrementally to learn the shape reached (the strategies only construct valid layers).
        shape = M.build_layer(layer, shape, chan, f"layer {len(layers) - 1}")
    choice = head or draw(st.sampled_from(["none", "dense", "dense"]))
    if choice == "dense":
        if draw(st.booleans()):
            layers.append(M.Flatten())
        else:
            layers.append(_GPOOL[draw(st.sampled_from(["max", "avg"])), nd]())
        if dropout and draw(st.booleans()):
            layers.append(M.Dropout(draw(st.sampled_from([0.25, 0.5]))))
        if draw(st.booleans()):
            layers.append(M.Dense(draw(st.integers(2, 6)), activation=draw(st.sampled_from(ACTS))))
            if draw(st.booleans()):
                layers.append(M.BatchNorm())
        layers.append(M.Dense(draw(st.integers(2, 5)), activation=draw(st.sampled_from(["linear", "softmax"]))))
    return _rebuild(layers, chan)


def _rebuild(layers, chan):
    first = layers[0]
    return M.Sequential([_fresh(layer) for layer in layers],
                        input_shape=M.to_user_shape(first.input_shape, chan), channels=chan)


def _fresh(layer):
    """A copy of a built layer with no name, so that Sequential names it; residual projections are
    rebuilt by the block itself."""
    clone = copy.deepcopy(layer)
    for sub in [clone] + clone.sublayers():
        sub.name = None
    if isinstance(clone, M.Residual) and clone.shortcut_spec == "projection":
        clone.shortcut = []
    return clone


# --- weights and inputs ------------------------------------------------------------------------------

def randomize(model: M.Sequential, seed: int = 0) -> M.Sequential:
    """Give every parameter and running statistic random float64 values (biases and β nonzero too,
    so that an export that drops one is caught); running variances stay in [0.5, 1.5]."""
    if model.dtype is None:
        model.init(seed)
    rng = np.random.default_rng(seed)
    values = {}
    for key, v in model.params.items():
        fan_in = int(np.prod(v.shape[1:])) if v.ndim > 1 else 1
        values[key] = rng.uniform(-1, 1, v.shape) * (1.0 if v.ndim == 1 else np.sqrt(3.0 / fan_in))
    for key, v in model.state.items():
        values[key] = rng.uniform(0.5, 1.5, v.shape) if key.endswith("running_var") else rng.uniform(-0.5, 0.5, v.shape)
    model.set_params(values)
    return model


def random_input(model: M.Sequential, batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + 1).standard_normal((batch, *model.input_shape))


def reduction_length(model: M.Sequential) -> int:
    """A bound on how many products feed one value: the sum over layers of their fan-in."""
    total = 1
    for layer in model.all_layers():
        if isinstance(layer, M._Conv):
            total += layer.in_channels * int(np.prod(layer.kernel_size))
        elif isinstance(layer, B.SeparableConv2D):
            total += int(np.prod(layer.kernel_size)) + layer.mid
        elif isinstance(layer, M.Dense):
            total += layer.in_features
        elif layer.input_shape is not None:
            total += int(np.prod(layer.input_shape[1:] or (1,)))
    return total


def _describe(model: M.Sequential) -> str:
    return " → ".join(f"{l.name}" for l in model.layers) + f" on {model.input_shape} (channels={model.channels!r})"


def assert_close(name: str, got: np.ndarray, expected: np.ndarray, tol, where: str) -> None:
    """Equal shapes and values within ``atol + rtol·|e|`` (atol scaled by the largest |e|)."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        raise AssertionError(f"{name}.shape={got.shape}, but should be {expected.shape} [{where}]")
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    bound = tol.atol * scale + tol.rtol * np.abs(expected)
    bad = np.abs(got - expected) > bound
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        g, e = got[idx], expected[idx]
        raise AssertionError(f"{name} differs at {list(idx)}: got {g!r}, expected {e!r} "
                             f"(|Δ|={abs(g - e):.3g} > atol+rtol·|e|={bound[idx]:.3g}) [{where}]")


def _exporter(model):
    """The torch export of a model: :func:`graph_to_torch` for a graph, ``export.to_torch`` else
    (looked up at call time, so that a test can replace either)."""
    return graph_to_torch if isinstance(model, G.Model) else to_torch


# --- the comparisons ---------------------------------------------------------------------------------

def check_summary_matches_torch(model: M.Sequential, device: str = "cpu") -> None:
    """Every row's output shape equals the torch module's activation shape, and every row's parameter
    count equals torch's ``numel`` (trainable: parameters; non-trainable: running statistics)."""
    exported = _exporter(model)(model, weights=False, device=device)
    x = torch.zeros((2, *model.input_shape), dtype=torch.float64, device=device)
    got = activation_shapes(exported, x)
    rows = model.summary().rows
    if len(rows) != len(exported.rows):
        raise AssertionError(f"{len(exported.rows)} torch row modules for {len(rows)} summary rows "
                             f"[{_describe(model)}]")
    for row, mod, shape in zip(rows, exported.rows, got):
        expected = M.to_internal_shape(row.output_shape, model.channels)
        if shape != expected:
            raise AssertionError(f"{row.name} ({row.type}): torch activation shape (N, *){shape} (channels first), "
                                 f"but the summary says {row.output_shape} = {expected} channels first "
                                 f"[{_describe(model)}]")
        trainable, stats = row_param_counts(mod)
        if (trainable, stats) != (row.trainable, row.non_trainable):
            raise AssertionError(f"{row.name} ({row.type}): torch has {trainable} parameters + {stats} running "
                                 f"statistics, but the summary says {row.trainable} + {row.non_trainable} "
                                 f"[{_describe(model)}]")
    s = model.summary()
    total = sum(p.numel() for p in exported.parameters())
    if total != s.trainable_params:
        raise AssertionError(f"torch numel {total}, but trainable_params={s.trainable_params} [{_describe(model)}]")


def check_forward_backward_matches_torch(model: M.Sequential, seed: int = 0, training: bool = False,
                                         batch: int = 2, device: str = "cpu") -> None:
    """``forward`` equals the export's forward, and ``backward`` (every parameter gradient and dx)
    equals torch autograd for a random upstream gradient, in float64 on the same weights. With
    ``training=True`` batch norm uses batch statistics, and the updated running statistics must
    agree too; dropout is compared only at inference (its masks are random on both sides)."""
    randomize(model, seed)
    exported = _exporter(model)(model, device=device)
    exported.train(training)
    x = random_input(model, batch, seed)
    where = f"{_describe(model)}; training={training}"
    tol = tolerance("float64", reduction_length(model))
    xt = torch.tensor(x, dtype=torch.float64, device=device, requires_grad=True)
    out_t = exported(xt)
    out = model.forward(x, training=training)
    assert_close("out", out, out_t.detach().cpu().numpy(), tol, where)
    dout = np.random.default_rng(seed + 2).standard_normal(out.shape)
    out_t.backward(torch.tensor(dout, dtype=torch.float64, device=device))
    grads = model.backward(dout)
    expected = torch_grads(exported)
    if set(grads) != set(expected):
        raise AssertionError(f"gradient keys {sorted(grads)}, but torch has {sorted(expected)} [{where}]")
    for key in sorted(grads):
        assert_close(f"d[{key}]", grads[key], expected[key], tol, where)
    assert_close("dx", model.dx, xt.grad.cpu().numpy(), tol, where)
    if training:
        for key, (mod, attr, _) in exported.tensors.items():
            if key in model.state:
                assert_close(key, model.state[key], getattr(mod, attr).detach().cpu().numpy(), tol, where)


def numerical_gradient_check(model: M.Sequential, x: np.ndarray, y: np.ndarray, h: float = 1e-6,
                             training: bool = False, max_per_param: int | None = None, seed: int = 0) -> float:
    """Central differences ``(L(θ + h) − L(θ − h)) / 2h`` of ``model.loss`` against
    ``model.loss_and_grads`` for every parameter entry (or ``max_per_param`` random ones), float64.
    Returns the largest error relative to the largest gradient entry; raises AssertionError above 1e-6."""
    _, grads = model.loss_and_grads(x, y, training=training)
    grads = {k: v.copy() for k, v in grads.items()}
    rng = np.random.default_rng(seed)
    worst = 0.0
    for key, p in model.params.items():
        indices = list(np.ndindex(p.shape))
        if max_per_param is not None and len(indices) > max_per_param:
            indices = [indices[i] for i in rng.choice(len(indices), max_per_param, replace=False)]
        numeric = np.zeros(len(indices))
        for j, idx in enumerate(indices):
            old = p[idx]
            p[idx] = old + h
            plus = model.loss(x, y, training=training)
            p[idx] = old - h
            minus = model.loss(x, y, training=training)
            p[idx] = old
            numeric[j] = (plus - minus) / (2 * h)
        analytic = np.array([grads[key][idx] for idx in indices])
        scale = max(float(np.max(np.abs(analytic))), float(np.max(np.abs(numeric))), 1e-3)
        err = float(np.max(np.abs(numeric - analytic))) / scale
        if err > 1e-6:
            j = int(np.argmax(np.abs(numeric - analytic)))
            raise AssertionError(f"d[{key}] differs at {list(indices[j])}: backward gives {analytic[j]!r}, central "
                                 f"differences {numeric[j]!r} (relative error {err:.2g} > 1e-6) [{_describe(model)}]")
        worst = max(worst, err)
    return worst


# --- graphs: the torch export ---------------------------------------------------------------------------

class _Merge(nn.Module):
    """``Add``/``Multiply``/``Concatenate`` of several tensors (``torch.cat`` on dim 1)."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def forward(self, *xs):
        if self.kind == "cat":
            return torch.cat(xs, dim=1)
        y = xs[0]
        for x in xs[1:]:
            y = y + x if self.kind == "add" else y * x
        return y

    def extra_repr(self):
        return self.kind


class _ChannelShuffle(nn.Module):
    """torchvision's ``channel_shuffle``: view as (N, g, C/g, ...), transpose, flatten."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c, *sp = x.shape
        return x.view(n, self.groups, c // self.groups, *sp).transpose(1, 2).reshape(n, c, *sp)


class _ChannelSlice(nn.Module):
    def __init__(self, start, stop):
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x):
        return x[:, self.start:self.stop]


class _Reshape(nn.Module):
    """Keras' Reshape: in the model's convention (channels-last moves C last first)."""

    def __init__(self, target, channels):
        super().__init__()
        self.target, self.last = tuple(target), channels == "last"

    def forward(self, x):
        if self.last and x.dim() >= 3:
            x = x.movedim(1, -1)
        y = x.reshape((x.shape[0], *self.target))
        return y.movedim(-1, 1) if self.last and y.dim() >= 3 else y


class HardSigmoid(nn.Module):
    """``relu6(x + 3)/6``: ``nn.Hardsigmoid``'s forward exactly, but with an exact float64 backward.
    torch's own backward multiplies by the float32 constant ``1.0f/6.0f`` (0.1666666716…, a 3e-8
    relative error that a float64 comparison catches; see tests/test_graph_torch.py)."""

    def forward(self, x):
        return torch.nn.functional.relu6(x + 3.0) / 6.0


_ELEMENTWISE = {B.ReLU6: nn.ReLU6, B.HardSwish: nn.Hardswish, B.HardSigmoid: HardSigmoid, B.SiLU: nn.SiLU,
                B.GELU: nn.GELU}


def _graph_module(layer: M.Layer, channels: str, tensors: dict) -> tuple[nn.Module, list]:
    """The torch module of one graph layer and its summary-row modules (``export._module`` for the
    layers Sequential models have)."""
    if isinstance(layer, B.Merge):
        mod = _Merge({B.Add: "add", B.Multiply: "mul", B.Concatenate: "cat"}[type(layer)])
    elif isinstance(layer, B.SeparableConv2D):
        symmetric = all(pb == pa for pb, pa in layer.pads)
        dw = nn.Conv2d(layer.in_channels, layer.mid, layer.kernel_size, layer.strides,
                       tuple(p for p, _ in layer.pads) if symmetric else 0, layer.dilation_rate,
                       groups=layer.in_channels, bias=False)
        pw = nn.Conv2d(layer.mid, layer.filters, 1, bias=layer.use_bias)
        tensors[f"{layer.name}.w_depthwise"] = (dw, "weight", False)
        tensors[f"{layer.name}.w_pointwise"] = (pw, "weight", False)
        if layer.use_bias:
            tensors[f"{layer.name}.b"] = (pw, "bias", False)
        mod = nn.Sequential(*([] if symmetric else [E.Pad(layer.pads)]), dw, pw, E._activation(layer.activation))
    elif isinstance(layer, B.ZeroPadding2D):
        mod = E.Pad(layer.pads)
    elif type(layer) in _ELEMENTWISE:
        mod = _ELEMENTWISE[type(layer)]()
    elif isinstance(layer, B.ChannelShuffle):
        mod = _ChannelShuffle(layer.groups)
    elif isinstance(layer, B.ChannelSlice):
        mod = _ChannelSlice(layer.start, layer.stop)
    elif isinstance(layer, B.Reshape):
        mod = _Reshape(layer.target_shape, channels)
    elif isinstance(layer, B.CeilMaxPool2D):
        mod = nn.MaxPool2d(layer.pool_size, layer.strides, layer.int_pad, ceil_mode=True)
    else:
        return E._module(layer, channels, tensors)
    return mod, [mod]


class GraphExported(nn.Module):
    """An exported graph: value 0 is the input, value ``i + 1`` the output of layer ``i``; each
    layer's module takes the values its inputs name (in the model's layout in and out)."""

    def __init__(self, mods, inbound, merges, channels):
        super().__init__()
        self.layers = nn.ModuleList(mods)
        self.inbound, self.merges, self.channels = inbound, merges, channels

    def forward(self, x):
        if self.channels == "last" and x.dim() >= 3:
            x = x.movedim(-1, 1)
        values = [x]
        for mod, ins, merge in zip(self.layers, self.inbound, self.merges):
            values.append(mod(*[values[j] for j in ins]) if merge else mod(values[ins[0]]))
        y = values[-1]
        return y.movedim(1, -1) if self.channels == "last" and y.dim() >= 3 else y


def graph_to_torch(model: G.Model, dtype=None, device="cpu", weights=True) -> GraphExported:
    """A graph's ``nn.Module``, as ``export.to_torch`` makes one for a ``Sequential``: same weights,
    ``rows`` aligned with the summary rows, ``tensors`` for reading gradients back."""
    if dtype is None:
        dtype = getattr(torch, str(model.dtype or np.dtype("float64")))
    index = {id(model.input_layer.output_tensor): 0}
    tensors, mods, rows, inbound, merges = {}, [], [], [], []
    with torch.device(device):
        for i, layer in enumerate(model.layers):
            m, r = _graph_module(layer, model.channels, tensors)
            mods.append(m)
            rows += r
            inbound.append([index[id(t)] for t in layer.inbound])
            merges.append(getattr(layer, "multi_input", False))
            index[id(layer.output_tensor)] = i + 1
        exported = GraphExported(mods, inbound, merges, model.channels)
    exported.to(dtype=dtype)
    exported.rows, exported.tensors = rows, tensors
    if weights:
        if model.dtype is None:
            raise RuntimeError("the model has no weights: call model.init(seed) first, or pass weights=False")
        values = {**model.params, **model.state}
        with torch.no_grad():
            for key, t, transposed in E._tensors(exported):
                v = values[key].T if transposed else values[key]
                t.copy_(torch.as_tensor(np.ascontiguousarray(v), dtype=t.dtype, device=t.device))
    return exported


# --- graphs: random small ones -------------------------------------------------------------------------

GRAPH_ACTS = (B.ReLU6, B.HardSwish, B.HardSigmoid, B.SiLU, B.GELU)


@st.composite
def _graph_layer(draw, shape):
    """One single-input layer that fits ``shape = (C, H, W)``, graph-only layers favoured."""
    c, h, w = shape
    kind = draw(st.sampled_from(["conv", "depthwise", "separable", "zeropad", "act", "act", "shuffle", "slice",
                                 "ceilpool", "batchnorm", "pool", "residual"]))
    if kind == "conv":
        return draw(conv_layers(shape))
    if kind == "residual":
        return draw(residual_layers(shape))
    if kind == "pool":
        return draw(pool_layers(shape))
    if kind == "batchnorm":
        return M.BatchNorm()
    if kind == "act":
        return draw(st.sampled_from(GRAPH_ACTS))()
    if kind in ("depthwise", "separable"):
        mode = draw(st.sampled_from(["same", "valid", "int"]))
        k = draw(st.integers(1, 3)) if mode == "same" else draw(st.integers(1, min(3, h, w)))
        pad = mode if mode != "int" else draw(st.integers(0, k // 2))
        s = draw(st.integers(1, 2))
        mult = draw(st.integers(1, 2))
        act = draw(st.sampled_from(ACTS))
        if kind == "depthwise":
            return B.DepthwiseConv2D(k, s, pad, depth_multiplier=mult, activation=act, use_bias=draw(st.booleans()))
        return B.SeparableConv2D(draw(st.integers(1, 4)), k, s, pad, depth_multiplier=mult, activation=act,
                                 use_bias=draw(st.booleans()))
    if kind == "zeropad":
        return B.ZeroPadding2D(((draw(st.integers(0, 2)), draw(st.integers(0, 2))),
                                (draw(st.integers(0, 2)), draw(st.integers(0, 2)))))
    if kind == "shuffle":
        return B.ChannelShuffle(draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0])))
    if kind == "slice":
        start = draw(st.integers(0, c - 1))
        return B.ChannelSlice(start, draw(st.integers(start + 1, c)))
    k = draw(st.integers(1, min(3, h, w)))
    return B.CeilMaxPool2D(k, draw(st.integers(1, 2)), draw(st.integers(0, k // 2)))


@st.composite
def graphs(draw, max_layers=5, channels=("last", "first"), head=None):
    """A random valid 2-D ``Model``: each step applies a layer to a tensor drawn from those made so
    far (a branch), or joins tensors — ``Add``/``Multiply`` of two tensors made equal-shaped by a
    'same' 1×1 convolution, a squeeze-and-excitation gate, or a ``Concatenate`` of tensors with
    equal spatial sizes — and the last tensor made is the output (with an optional dense head)."""
    chan = draw(st.sampled_from(channels))
    x = G.Input((draw(st.integers(3, 8)), draw(st.integers(3, 8)), draw(st.integers(1, 4))) if chan == "last"
                else (draw(st.integers(1, 4)), draw(st.integers(3, 8)), draw(st.integers(3, 8))), channels=chan)
    made = [x]
    for _ in range(draw(st.integers(1, max_layers))):
        t = draw(st.sampled_from(made))
        if max(t.internal_shape[1:]) > MAX_SPATIAL:
            t = made[0]
        kind = draw(st.sampled_from(["layer", "layer", "add", "multiply", "concat", "gate"]))
        if kind == "layer":
            y = draw(_graph_layer(t.internal_shape))(t)
        elif kind in ("add", "multiply"):
            other = M.Conv2D(t.internal_shape[0], 1, activation=draw(st.sampled_from(ACTS)))(t)
            y = (B.Add() if kind == "add" else B.Multiply())([t, other])
        elif kind == "gate":  # squeeze-and-excitation: pool, two 1x1 convs, hard sigmoid, scale
            c = t.internal_shape[0]
            g = M.GlobalAvgPool2D()(t)
            g = B.Reshape((1, 1, c) if chan == "last" else (c, 1, 1))(g)
            g = M.Conv2D(draw(st.integers(1, 3)), 1, activation="relu")(g)
            g = B.HardSigmoid()(M.Conv2D(c, 1)(g))
            y = B.Multiply()([t, g])
        else:
            same = [u for u in made if u.internal_shape[1:] == t.internal_shape[1:]]
            partner = draw(st.sampled_from(same))
            branch = draw(_graph_layer(partner.internal_shape))
            z = branch(partner)
            y = B.Concatenate()([t, z]) if z.internal_shape[1:] == t.internal_shape[1:] else z
        made.append(y)
    out = made[-1]
    if (head or draw(st.sampled_from(["none", "dense"]))) == "dense":
        out = M.Dense(draw(st.integers(2, 5)), activation=draw(st.sampled_from(["linear", "softmax"])))(
            M.GlobalAvgPool2D()(out))
    return G.Model(x, out)
