"""Strategies and torch oracles for the CNN arithmetic: output sizes and parameter counts.

``valid_cases(op)`` draws configurations that PyTorch accepts, built constructively (kernel first,
then an input at least as large as the dilated kernel minus the padding); ``invalid_cases(op)``
draws configurations that PyTorch rejects, one kind of mistake at a time. ``torch_answer(case)``
computes the answer by building the matching torch op and reading the shape (or ``numel``) it
produces, so the reference is compared with what PyTorch does, not with a second copy of a formula.
"""

from __future__ import annotations

import warnings
from math import prod

from hypothesis import strategies as st

from .capabilities import Capabilities
from .cases import Case

ALL = Capabilities()

ARITHMETIC_OPS = (
    "conv_output_size", "conv_padding", "pool_output_size", "conv_transpose_output_size",
    "effective_kernel_size", "conv_output_is_exact", "receptive_field",
    "conv_params", "conv_transpose_params", "dense_params", "batchnorm_params", "conv_macs",
    "activation_bytes",
)

MAX_N = 24  # inputs stay small: torch builds a tensor of this size per dimension


# --- helpers ---------------------------------------------------------------------------------------

def _pack(values: list, scalar: bool):
    return values[0] if scalar else tuple(values)


@st.composite
def _dims(draw, caps: Capabilities):
    """None for scalar arguments (one dimension), else the number of spatial dims."""
    return draw(st.sampled_from([None] + (list(caps.ndims) if caps.per_dim_args else [])))


@st.composite
def _conv_dim(draw, caps: Capabilities, mode: str | None, stride_one: bool):
    """One spatial dimension of a valid conv: (n, kernel, stride, (pad_before, pad_after), dilation)."""
    k = draw(st.integers(1, 5))
    d = draw(st.integers(1, 3)) if caps.dilation else 1
    s = 1 if stride_one else draw(st.integers(1, 4))
    if mode is None:
        pb = draw(st.integers(0, 3))
        pa = draw(st.sampled_from([pb, draw(st.integers(0, 3))])) if caps.asymmetric_padding else pb
    else:
        pb = pa = 0  # resolved by the mode
    k_eff = d * (k - 1) + 1
    lo = k_eff if mode == "valid" else max(1, k_eff - pb - pa) if mode is None else 1
    n = draw(st.integers(lo, max(lo, MAX_N)))
    return n, k, s, (pb, pa), d


# --- valid configurations --------------------------------------------------------------------------

@st.composite
def conv_size_cases(draw, caps: Capabilities = ALL, torch_compatible: bool = True, ndim=0):
    """Valid ``conv_output_size`` calls inside ``caps``. With ``torch_compatible``, 'same' comes with
    stride 1 only (PyTorch refuses 'same' for strided convolutions; the reference follows Keras).
    ``ndim`` fixes the number of spatial dims (None: scalar arguments; 0: drawn)."""
    ndim = draw(_dims(caps)) if ndim == 0 else ndim
    mode = draw(st.sampled_from([None, "valid", "same", "full"])) if caps.padding_modes else None
    stride_one = mode == "same" and torch_compatible
    dims = [draw(_conv_dim(caps, mode, stride_one)) for _ in range(ndim or 1)]
    scalar = ndim is None
    n, k, s, pads, d = (list(col) for col in zip(*dims))
    if mode is not None:
        padding = mode
    elif all(pb == pa for pb, pa in pads) and (not caps.asymmetric_padding or draw(st.booleans())):
        padding = _pack([pb for pb, _ in pads], scalar)
    else:
        padding = pads[0] if scalar else tuple(pads)
    return Case("conv_output_size", (), dict(
        n=_pack(n, scalar), kernel=_pack(k, scalar), stride=_pack(s, scalar), padding=padding,
        dilation=_pack(d, scalar)))


@st.composite
def pool_size_cases(draw, caps: Capabilities = ALL, kind: str | None = None):
    """Valid ``pool_output_size`` calls: padding ≤ kernel//2, output ≥ 1, ceil mode either way.
    ``kind`` 'avg' draws no dilation (torch's AvgPool has none)."""
    kind = kind or draw(st.sampled_from(["max", "avg"]))
    ndim = draw(_dims(caps))
    scalar = ndim is None
    n, k, s, p, d = [], [], [], [], []
    for _ in range(ndim or 1):
        k_i = draw(st.integers(1, 5))
        d_i = draw(st.integers(1, 3)) if kind == "max" and caps.dilation else 1
        p_i = draw(st.integers(0, k_i // 2)) if caps.pool_padding else 0
        k_eff = d_i * (k_i - 1) + 1
        # torch's AvgPool3d alone also wants the unpadded input to hold the kernel
        lo = k_i if kind == "avg" and ndim == 3 else max(1, k_eff - 2 * p_i)
        n_i = draw(st.integers(lo, max(lo, MAX_N)))
        k.append(k_i), d.append(d_i), p.append(p_i), n.append(n_i)
        s.append(draw(st.integers(1, 4)))
    stride = None if draw(st.booleans()) else _pack(s, scalar)
    options = dict(n=_pack(n, scalar), kernel=_pack(k, scalar), stride=stride, padding=_pack(p, scalar),
                   dilation=_pack(d, scalar), ceil_mode=draw(st.booleans()) if caps.ceil_mode else False)
    return Case("pool_output_size", (), options, notes=f"{kind} pooling")


@st.composite
def conv_transpose_size_cases(draw, caps: Capabilities = ALL):
    """Valid ``conv_transpose_output_size`` calls: output_padding < max(stride, dilation), output ≥ 1."""
    ndim = draw(_dims(caps))
    scalar = ndim is None
    cols = {name: [] for name in ("n", "kernel", "stride", "padding", "output_padding", "dilation")}
    for _ in range(ndim or 1):
        k, s = draw(st.integers(1, 5)), draw(st.integers(1, 4))
        d = draw(st.integers(1, 3)) if caps.dilation else 1
        op = draw(st.integers(0, max(s, d) - 1))
        n = draw(st.integers(1, 12))
        full = (n - 1) * s + d * (k - 1) + op + 1  # output with no padding; padding must leave ≥ 1
        p = draw(st.integers(0, min(4, (full - 1) // 2)))
        for name, v in zip(cols, (n, k, s, p, op, d)):
            cols[name].append(v)
    return Case("conv_transpose_output_size", (), {name: _pack(v, scalar) for name, v in cols.items()})


@st.composite
def conv_params_cases(draw, caps: Capabilities = ALL, transpose: bool = False):
    """Valid ``conv_params`` / ``conv_transpose_params`` calls, grouped and depthwise included."""
    groups = draw(st.integers(1, 4)) if caps.groups else 1
    in_channels = groups * draw(st.integers(1, 4))
    out_channels = groups * draw(st.integers(1, 4))
    ndim = draw(st.sampled_from(caps.ndims))
    kernel = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    op = "conv_transpose_params" if transpose else "conv_params"
    options = dict(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel, bias=draw(st.booleans()))
    if caps.groups:
        options["groups"] = groups
    return Case(op, (), options)


@st.composite
def dense_params_cases(draw, caps: Capabilities = ALL):
    return Case("dense_params", (), dict(in_features=draw(st.integers(1, 300)),
                                         out_features=draw(st.integers(1, 300)), bias=draw(st.booleans())))


@st.composite
def receptive_field_cases(draw, caps: Capabilities = ALL):
    dilation = st.integers(1, 2) if caps.dilation else st.just(1)
    layers = draw(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), dilation), min_size=1, max_size=4))
    return Case("receptive_field", (), dict(layers=layers))


@st.composite
def conv_macs_cases(draw, caps: Capabilities = ALL):
    caps = caps.narrowed(padding_modes=False, asymmetric_padding=False, per_dim_args=True)
    o = draw(conv_size_cases(caps, ndim=draw(st.sampled_from([d for d in caps.ndims if d < 3] or [1])))).options
    groups = draw(st.integers(1, 3)) if caps.groups else 1
    return Case("conv_macs", (), dict(
        in_channels=groups * draw(st.integers(1, 3)), out_channels=groups * draw(st.integers(1, 3)),
        kernel_size=o["kernel"], input_size=o["n"], stride=o["stride"], padding=o["padding"],
        dilation=o["dilation"], groups=groups))


_VALID = {
    "conv_output_size": conv_size_cases,
    "pool_output_size": pool_size_cases,
    "conv_transpose_output_size": conv_transpose_size_cases,
    "conv_params": conv_params_cases,
    "conv_transpose_params": lambda caps: conv_params_cases(caps, transpose=True),
    "dense_params": dense_params_cases,
    "receptive_field": receptive_field_cases,
    "conv_macs": conv_macs_cases,
}


def valid_cases(op: str, capabilities: Capabilities | None = None):
    """A strategy of valid calls of the arithmetic function ``op``, inside ``capabilities`` (default:
    everything the reference supports; e.g. ``per_dim_args=False`` draws plain ints only,
    ``padding_modes=False`` no 'same'/'valid'/'full', ``dilation=False`` dilation 1)."""
    if op not in _VALID:
        raise ValueError(f"no valid-case strategy for {op!r}; known: {sorted(_VALID)}")
    return _VALID[op](capabilities or ALL)


# --- invalid configurations: one mistake each -------------------------------------------------------

@st.composite
def invalid_conv_size_cases(draw):
    """``conv_output_size`` calls torch rejects: dilated kernel larger than the padded input, a
    non-positive size, a zero stride, or negative padding."""
    kind = draw(st.sampled_from(["kernel_too_large", "n_zero", "stride_zero", "negative_padding"]))
    k, d, p = draw(st.integers(2, 6)), draw(st.integers(1, 3)), draw(st.integers(0, 2))
    k_eff = d * (k - 1) + 1
    opts = dict(n=draw(st.integers(1, 8)), kernel=k, stride=1, padding=p, dilation=d)
    if kind == "kernel_too_large":
        opts["n"] = draw(st.integers(1, max(1, k_eff - 2 * p - 1))) if k_eff - 2 * p > 1 else 1
        if k_eff <= opts["n"] + 2 * p:  # padding covered it; drop the padding
            opts["padding"], opts["n"] = 0, max(1, k_eff - 1)
            if k_eff <= opts["n"]:
                opts["kernel"], opts["dilation"] = opts["n"] + 1, 1
    elif kind == "n_zero":
        opts["n"] = draw(st.integers(-3, 0))
    elif kind == "stride_zero":
        opts["stride"] = draw(st.integers(-2, 0))
    else:
        opts["padding"] = draw(st.integers(-3, -1))
    return Case("conv_output_size", (), opts, notes=kind)


@st.composite
def invalid_pool_size_cases(draw):
    """``pool_output_size`` calls torch rejects: padding above kernel//2, or an empty output."""
    kind = draw(st.sampled_from(["padding_too_large", "empty_output"]))
    k = draw(st.integers(1, 9))
    if kind == "padding_too_large":
        opts = dict(n=draw(st.integers(k, 30)), kernel=k, padding=draw(st.integers(k // 2 + 1, k // 2 + 5)),
                    stride=draw(st.integers(1, 4)))
    else:
        p = draw(st.integers(0, k // 2))
        d = draw(st.integers(1, 3))
        k_eff = d * (k - 1) + 1
        if k_eff - 2 * p <= 1:
            k, p, d, k_eff = 3, 0, 1, 3
        opts = dict(n=draw(st.integers(1, k_eff - 2 * p - 1)), kernel=k, padding=p, dilation=d,
                    stride=draw(st.integers(1, 4)))
    # ceil mode can keep one window that overhangs a too-small input (torch returns size 1 then)
    opts["ceil_mode"] = draw(st.booleans()) if kind == "padding_too_large" else False
    return Case("pool_output_size", (), opts, notes=kind)


@st.composite
def invalid_conv_transpose_size_cases(draw):
    """``conv_transpose_output_size`` calls torch rejects: output_padding ≥ max(stride, dilation),
    or padding that leaves no output."""
    kind = draw(st.sampled_from(["output_padding", "empty_output"]))
    k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n = draw(st.integers(1, 6))
    if kind == "output_padding":
        opts = dict(n=n, kernel=k, stride=s, padding=0, output_padding=draw(st.integers(max(s, d), max(s, d) + 2)),
                    dilation=d)
    else:
        full = (n - 1) * s + d * (k - 1) + 1
        opts = dict(n=n, kernel=k, stride=s, padding=draw(st.integers((full + 1) // 2, full + 2)), output_padding=0,
                    dilation=d)
    return Case("conv_transpose_output_size", (), opts, notes=kind)


@st.composite
def invalid_conv_params_cases(draw):
    """``conv_params`` calls torch rejects: groups that do not divide the channels. (The reference is
    stricter than torch in one more place: it refuses zero channels, which torch builds as an empty
    module.)"""
    groups = draw(st.integers(2, 6))
    in_c = groups * draw(st.integers(1, 5)) + draw(st.integers(1, groups - 1))
    out_c = groups * draw(st.integers(1, 5))
    if draw(st.booleans()):
        in_c, out_c = out_c, in_c
    kernel = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    return Case("conv_params", (), dict(in_channels=in_c, out_channels=out_c, kernel_size=kernel, groups=groups,
                                        bias=draw(st.booleans())), notes="groups")


_INVALID = {
    "conv_output_size": lambda: invalid_conv_size_cases(),
    "pool_output_size": lambda: invalid_pool_size_cases(),
    "conv_transpose_output_size": lambda: invalid_conv_transpose_size_cases(),
    "conv_params": lambda: invalid_conv_params_cases(),
}


def invalid_cases(op: str):
    """A strategy of calls of ``op`` that PyTorch rejects (the reference must raise ValueError)."""
    if op not in _INVALID:
        raise ValueError(f"no invalid-case strategy for {op!r}; known: {sorted(_INVALID)}")
    return _INVALID[op]()


# --- torch oracles -----------------------------------------------------------------------------------

def _per_dim(value, ndim):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * ndim


def _ndim_of(options, keys) -> tuple[int, bool]:
    for key in keys:
        v = options.get(key)
        if isinstance(v, (tuple, list)) and not (key == "padding" and any(isinstance(p, (tuple, list)) for p in v)):
            return len(v), False
    pad = options.get("padding")
    if isinstance(pad, (tuple, list)) and any(isinstance(p, (tuple, list)) for p in pad):
        return len(pad), False
    return 1, True


def _pairs(padding, ndim, scalar):
    if scalar and isinstance(padding, (tuple, list)):
        return [tuple(padding)]
    return [tuple(p) if isinstance(p, (tuple, list)) else (p, p) for p in _per_dim(padding, ndim)]


def _torch_conv_shape(o, device):
    import torch
    import torch.nn.functional as F

    ndim, scalar = _ndim_of(o, ("n", "kernel", "stride", "dilation"))
    n, k, s, d = (_per_dim(o[key], ndim) for key in ("n", "kernel", "stride", "dilation"))
    conv = (F.conv1d, F.conv2d, F.conv3d)[ndim - 1]
    x = torch.zeros((1, 1, *n), dtype=torch.float64, device=device)
    w = torch.zeros((1, 1, *k), dtype=torch.float64, device=device)
    padding = o["padding"]
    pairs = None
    if padding == "full":
        pairs = [(di * (ki - 1),) * 2 for ki, di in zip(k, d)]
    elif not isinstance(padding, str):
        pairs = _pairs(padding, ndim, scalar)
    if pairs is None:  # 'same' or 'valid': torch's own modes
        with warnings.catch_warnings():  # torch warns that 'same' with an even kernel pads unevenly
            warnings.simplefilter("ignore", UserWarning)
            out = conv(x, w, stride=s, padding=padding, dilation=d)
    elif all(pb == pa for pb, pa in pairs):  # torch's own symmetric padding (it rejects negatives)
        out = conv(x, w, stride=s, padding=tuple(pb for pb, _ in pairs), dilation=d)
    else:  # torch convs pad symmetrically; pad the input first for (before, after) pairs
        if any(v < 0 for pair in pairs for v in pair):
            raise ValueError(f"negative padding {pairs}")  # F.pad would crop instead
        flat = [v for pair in reversed(pairs) for v in pair]  # F.pad wants the last dim first
        out = conv(F.pad(x, flat), w, stride=s, dilation=d)
    return _pack(list(out.shape[2:]), scalar)


def _torch_pool_shape(o, device, kind):
    import torch
    import torch.nn.functional as F

    ndim, scalar = _ndim_of(o, ("n", "kernel", "stride", "padding", "dilation"))
    n = _per_dim(o["n"], ndim)
    x = torch.zeros((1, 1, *n), dtype=torch.float64, device=device)
    kw = dict(kernel_size=_per_dim(o["kernel"], ndim), padding=_per_dim(o["padding"], ndim),
              ceil_mode=o.get("ceil_mode", False))
    if o.get("stride") is not None:
        kw["stride"] = _per_dim(o["stride"], ndim)
    if kind == "avg":
        out = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[ndim - 1](x, **kw)
    else:
        out = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[ndim - 1](x, dilation=_per_dim(o.get("dilation", 1), ndim), **kw)
    return _pack(list(out.shape[2:]), scalar)


def _torch_transpose_shape(o, device):
    import torch
    import torch.nn.functional as F

    ndim, scalar = _ndim_of(o, ("n", "kernel", "stride", "dilation", "output_padding", "padding"))
    n, k, s, p, op, d = (_per_dim(o[key], ndim) for key in
                         ("n", "kernel", "stride", "padding", "output_padding", "dilation"))
    x = torch.zeros((1, 1, *n), dtype=torch.float64, device=device)
    w = torch.zeros((1, 1, *k), dtype=torch.float64, device=device)
    conv_t = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[ndim - 1]
    out = conv_t(x, w, stride=s, padding=p, output_padding=op, dilation=d)
    return _pack(list(out.shape[2:]), scalar)


def _torch_conv_module(o, transpose):
    import torch

    ndim = len(o["kernel_size"]) if isinstance(o["kernel_size"], (tuple, list)) else o.get("ndim", 1)
    cls = [torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d,
           torch.nn.ConvTranspose3d][ndim - 1 + 3 * transpose]
    with torch.device("meta"):
        return cls(o["in_channels"], o["out_channels"], o["kernel_size"], groups=o.get("groups", 1),
                   bias=o.get("bias", True))


def _torch_receptive_field(o, device):
    """Size: the extent of the input that gets gradient from one output unit of a stack of all-ones
    convolutions; jump: the distance between the windows of two neighbouring output units."""
    import torch
    import torch.nn.functional as F

    layers = [tuple(layer) + (1,) * (3 - len(layer)) for layer in o["layers"]]
    length = 2
    for k, s, d in reversed(layers):
        length = (length - 1) * s + d * (k - 1) + 1
    x = torch.zeros((1, 1, length), dtype=torch.float64, device=device, requires_grad=True)
    y = x
    for k, s, d in layers:
        y = F.conv1d(y, torch.ones((1, 1, k), dtype=torch.float64, device=device), stride=s, dilation=d)
    starts, sizes = [], []
    for unit in (0, 1):
        (g,) = torch.autograd.grad(y[0, 0, unit], x, retain_graph=True)
        nz = torch.nonzero(g[0, 0]).flatten()
        starts.append(int(nz[0]))
        sizes.append(int(nz[-1] - nz[0] + 1))
    return (sizes[0], starts[1] - starts[0])


def _torch_conv_macs(o, device):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    ndim = len(o["input_size"])
    x = torch.zeros((1, o["in_channels"], *o["input_size"]), dtype=torch.float64, device=device)
    w = torch.zeros((o["out_channels"], o["in_channels"] // o["groups"], *o["kernel_size"]), dtype=torch.float64,
                    device=device)
    pairs = _pairs(o["padding"], ndim, False)
    x = torch.nn.functional.pad(x, [v for pair in reversed(pairs) for v in pair])
    conv = (torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d)[ndim - 1]
    with FlopCounterMode(display=False) as counter:
        conv(x, w, stride=o["stride"], dilation=o["dilation"], groups=o["groups"])
    return counter.get_total_flops() // 2  # torch counts a multiply-accumulate as 2 flops


def torch_answer(case: Case, device: str = "cpu"):
    """What PyTorch says the answer of an arithmetic ``case`` is (raises what torch raises)."""
    o = case.options
    if case.op == "conv_output_size":
        return _torch_conv_shape(o, device)
    if case.op == "pool_output_size":
        return _torch_pool_shape(o, device, "avg" if case.notes.startswith("avg") else "max")
    if case.op == "conv_transpose_output_size":
        return _torch_transpose_shape(o, device)
    if case.op in ("conv_params", "conv_transpose_params"):
        return sum(p.numel() for p in _torch_conv_module(o, case.op == "conv_transpose_params").parameters())
    if case.op == "dense_params":
        import torch

        with torch.device("meta"):
            m = torch.nn.Linear(o["in_features"], o["out_features"], bias=o.get("bias", True))
        return sum(p.numel() for p in m.parameters())
    if case.op == "receptive_field":
        return _torch_receptive_field(o, device)
    if case.op == "conv_macs":
        return _torch_conv_macs(o, device)
    raise ValueError(f"no torch oracle for {case.op!r}")


def torch_rejects(case: Case, device: str = "cpu") -> bool:
    """Whether PyTorch refuses the configuration of ``case`` (raises while building or running it)."""
    try:
        torch_answer(case, device)
    except (RuntimeError, ValueError, TypeError):
        return True
    return False


def volume(shape) -> int:
    return prod(shape) if isinstance(shape, (tuple, list)) else shape
