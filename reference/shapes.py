"""Output-size arithmetic for convolution, pooling and transposed convolution.

Pure Python integers, no NumPy. Names follow the math: ``n`` is the input length along one spatial
dimension, ``kernel`` the filter length, ``stride``, ``padding`` and ``dilation`` as in PyTorch.

Every size argument is either an int (one spatial dimension; the result is an int) or a
per-dimension tuple (the result is a tuple). ``padding`` is an int (both sides), a pair
``(before, after)`` for one dimension, a tuple with one int or pair per dimension, or one of the
mode strings ``'valid'``, ``'same'``, ``'full'``.

Sources cited in the docstrings:
  [CS231n]  the course rule ``(W − F + 2P)/S + 1`` (course notes 000, "Padding and stride").
  [DV16]    V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning", 2016,
            cited by relationship number.
  [torch]   PyTorch's documented shape formulas (``torch.nn.Conv2d``, ``MaxPool2d``, ``AvgPool2d``,
            ``ConvTranspose2d``), whose floor/ceil rules this module reproduces exactly.
"""

from __future__ import annotations

from numbers import Integral
from typing import NamedTuple, Sequence

MODES = ("valid", "same", "full")


# --- argument normalisation ----------------------------------------------------------------------

def _is_seq(value) -> bool:
    return isinstance(value, (tuple, list))


def _check_int(name: str, value, minimum: int) -> int:
    # numbers.Integral admits NumPy integers (np.int64(2)); bool is an int to Python, not to us
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    value = int(value)
    if value < minimum:
        bound = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {name}={value}")
    return value


def _ndim(*named) -> int | None:
    """The number of spatial dims implied by per-dimension tuples, or None if all are scalars."""
    lengths = {(name, len(v)) for name, v in named if _is_seq(v)}
    sizes = {n for _, n in lengths}
    if len(sizes) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in sorted(lengths))
        raise ValueError(f"per-dimension arguments disagree on the number of dimensions: {detail}")
    return sizes.pop() if sizes else None


def _per_dim(name: str, value, ndim: int, minimum: int) -> tuple[int, ...]:
    if _is_seq(value):
        return tuple(_check_int(f"{name}[{i}]", v, minimum) for i, v in enumerate(value))
    return (_check_int(name, value, minimum),) * ndim


def _padding_ndim(padding) -> int | None:
    """Dims implied by padding alone: a tuple of pairs, or a tuple of ints that is not a lone pair."""
    if _is_seq(padding) and any(_is_seq(p) for p in padding):
        return len(padding)
    return None


def _pads(padding, ndim: int, scalar: bool) -> tuple[tuple[int, int], ...] | str:
    """Normalise explicit padding to one (before, after) pair per dim; mode strings pass through."""
    if isinstance(padding, str):
        if padding not in MODES:
            raise ValueError(f"padding mode must be one of {MODES}, got padding={padding!r}")
        return padding
    if not _is_seq(padding):
        p = _check_int("padding", padding, 0)
        return ((p, p),) * ndim
    if scalar:  # one dimension: a pair is (before, after)
        if len(padding) != 2 or any(_is_seq(p) for p in padding):
            raise ValueError(f"padding for one dimension is an int or a (before, after) pair, got {padding!r}")
        return ((_check_int("padding[0]", padding[0], 0), _check_int("padding[1]", padding[1], 0)),)
    if len(padding) != ndim:
        raise ValueError(f"padding has {len(padding)} entries for {ndim} dimensions: padding={padding!r}")
    pairs = []
    for i, p in enumerate(padding):
        if _is_seq(p):
            if len(p) != 2:
                raise ValueError(f"padding[{i}] must be a (before, after) pair, got {p!r}")
            pairs.append((_check_int(f"padding[{i}][0]", p[0], 0), _check_int(f"padding[{i}][1]", p[1], 0)))
        else:
            q = _check_int(f"padding[{i}]", p, 0)
            pairs.append((q, q))
    return tuple(pairs)


def _spatial(n, kernel, stride, padding, dilation, *, stride_default=1):
    """Broadcast the arguments to per-dimension tuples; returns (scalar, ndim, n, k, s, pads, d)."""
    ndim = _ndim(("n", n), ("kernel", kernel), ("stride", stride), ("dilation", dilation))
    if ndim is None:
        ndim = _padding_ndim(padding)
    if ndim == 0:  # before `ndim or 1`, which would turn an empty tuple into one dimension
        raise ValueError("per-dimension arguments must have at least one dimension")
    scalar = ndim is None
    ndim = ndim or 1
    ns = _per_dim("n", n, ndim, 1)
    ks = _per_dim("kernel", kernel, ndim, 1)
    ss = _per_dim("stride", stride if stride is not None else stride_default, ndim, 1)
    ds = _per_dim("dilation", dilation, ndim, 1)
    return scalar, ndim, ns, ks, ss, _pads(padding, ndim, scalar), ds


def _result(scalar: bool, values: Sequence[int]):
    return values[0] if scalar else tuple(values)


# --- the formulas, one dimension at a time --------------------------------------------------------

def effective_kernel_size(kernel, dilation=1):
    """Span of a dilated kernel: ``k_eff = d·(k − 1) + 1``.

    [DV16] relationship 15 (dilated convolution), e.g. a length-7 filter at dilation 3 spans 19.
    """
    ndim = _ndim(("kernel", kernel), ("dilation", dilation))
    if ndim == 0:
        raise ValueError("per-dimension arguments must have at least one dimension")
    ks = _per_dim("kernel", kernel, ndim or 1, 1)
    ds = _per_dim("dilation", dilation, ndim or 1, 1)
    return _result(ndim is None, [d * (k - 1) + 1 for k, d in zip(ks, ds)])


def _same_pads(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    out = -(-n // s)  # ceil(n / s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def _mode_pads(mode: str, n: int, k: int, s: int, d: int) -> tuple[int, int]:
    if mode == "valid":
        return 0, 0
    if mode == "same":
        return _same_pads(n, k, s, d)
    full = d * (k - 1)
    return full, full


def conv_padding(n, kernel, stride=1, dilation=1, mode="same"):
    """The (before, after) padding that a mode string stands for.

    - ``'valid'``: no padding, ``(0, 0)``.
    - ``'same'``: the least total padding ``P = max((⌈n/s⌉ − 1)·s + k_eff − n, 0)`` giving
      ``out = ⌈n / s⌉``, split ``(⌊P/2⌋, ⌈P/2⌉)`` with the extra unit at the end, as Keras/TensorFlow
      and PyTorch (stride 1) do. [DV16] relationship 2 ("half padding") for odd kernels at stride 1.
    - ``'full'``: ``k_eff − 1`` on each side, so every partial overlap is computed. [DV16] relationship 3.

    Returns a pair for scalar arguments, a tuple of pairs for per-dimension ones.
    """
    if mode not in MODES:
        raise ValueError(f"padding mode must be one of {MODES}, got mode={mode!r}")
    scalar, _, ns, ks, ss, _, ds = _spatial(n, kernel, stride, 0, dilation)
    pairs = [_mode_pads(mode, *args) for args in zip(ns, ks, ss, ds)]
    return _result(scalar, pairs)


def _resolve_pads(pads, ns, ks, ss, ds):
    if isinstance(pads, str):
        return [_mode_pads(pads, *args) for args in zip(ns, ks, ss, ds)]
    return list(pads)


def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    """Output length of a convolution (cross-correlation) along each spatial dimension.

    ``out = ⌊(n + p_before + p_after − d·(k − 1) − 1) / s⌋ + 1``

    This is the course rule ``(W − F + 2P)/S + 1`` [CS231n] with the floor PyTorch applies when the
    stride does not divide (course notes 002: "whenever decimal take floor"), generalised to dilation
    and asymmetric padding: [DV16] relationship 6 (and 15 with dilation); [torch] ``Conv2d`` Shape.

    Raises ``ValueError`` when the dilated kernel is larger than the padded input.

    Examples (course notes): 6×6 with 3×3 → 4; 5 with 3, pad 1 → 5; 5 with 3, pad 1, stride 2 → 3;
    6 rows × 7 columns with 3×3 at stride 2 → ``conv_output_size((6, 7), 3, 2) == (2, 3)`` (floor).
    """
    scalar, _, ns, ks, ss, pads, ds = _spatial(n, kernel, stride, padding, dilation)
    out = []
    for i, (n_i, k, s, (pb, pa), d) in enumerate(zip(ns, ks, ss, _resolve_pads(pads, ns, ks, ss, ds), ds)):
        k_eff = d * (k - 1) + 1
        padded = n_i + pb + pa
        if k_eff > padded:
            where = "" if scalar else f" in dimension {i}"
            raise ValueError(
                f"kernel is larger than the padded input{where}: effective kernel size "
                f"{k_eff} (kernel={k}, dilation={d}) > padded input {padded} (n={n_i}, padding=({pb}, {pa}))"
            )
        out.append((padded - k_eff) // s + 1)
    return _result(scalar, out)


def conv_output_is_exact(n, kernel, stride, padding, dilation=1):
    """Whether the stride divides ``n + p_before + p_after − k_eff`` exactly.

    The course's rule that ``(W − F + 2P)/S`` "should be an integer" [CS231n]; when it is not, the
    last rows/columns of the input are never covered and the output size is floored. Returns a bool,
    or a tuple of bools for per-dimension arguments.
    """
    scalar, _, ns, ks, ss, pads, ds = _spatial(n, kernel, stride, padding, dilation)
    conv_output_size(n, kernel, stride, padding, dilation)  # validates
    pads = _resolve_pads(pads, ns, ks, ss, ds)
    exact = [(n_i + pb + pa - (d * (k - 1) + 1)) % s == 0 for n_i, k, s, (pb, pa), d in zip(ns, ks, ss, pads, ds)]
    return _result(scalar, exact)


def pool_output_size(n, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Output length of max/average pooling along each spatial dimension, PyTorch semantics.

    ``out = ⌊(n + 2p − d·(k − 1) − 1 + (s − 1 if ceil_mode else 0)) / s⌋ + 1``, and in ceil mode the
    last window must start inside the input or the left padding: if ``(out − 1)·s ≥ n + p`` then
    ``out −= 1``. ``stride=None`` means ``stride = kernel``. [torch] ``MaxPool2d`` Shape and
    ``pooling_output_shape``; [DV16] relationship 7 (no padding, floor mode).

    PyTorch also requires ``p ≤ k/2`` (integer division) and the output to be at least 1; both raise
    ``ValueError`` here. Padding must be symmetric (one int per dimension), as in PyTorch. In ceil
    mode a single window may overhang an input smaller than the kernel (``n=1, k=3`` gives 1), as in
    PyTorch. (PyTorch's ``AvgPool3d`` alone further insists that the unpadded input holds the kernel.)
    """
    if stride is None:
        stride = kernel
    if isinstance(padding, str):
        raise ValueError(f"pooling takes integer padding, not a mode string: padding={padding!r}")
    scalar, _, ns, ks, ss, pads, ds = _spatial(n, kernel, stride, padding, dilation)
    out = []
    for i, (n_i, k, s, (pb, pa), d) in enumerate(zip(ns, ks, ss, pads, ds)):
        where = "" if scalar else f" in dimension {i}"
        if pb != pa:
            raise ValueError(f"pooling padding must be symmetric{where}, got padding=({pb}, {pa})")
        if pb > k // 2:
            raise ValueError(
                f"pooling padding must be at most half the kernel size{where}: padding={pb} > kernel//2={k // 2}"
            )
        span = n_i + 2 * pb - d * (k - 1) - 1
        o = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n_i + pb:
            o -= 1
        if o < 1:
            raise ValueError(
                f"pooling output is empty{where}: n={n_i}, padding={pb}, kernel={k}, dilation={d} "
                f"(effective kernel {d * (k - 1) + 1} > padded input {n_i + 2 * pb})"
            )
        out.append(o)
    return _result(scalar, out)


def conv_transpose_output_size(n, kernel, stride=1, padding=0, output_padding=0, dilation=1):
    """Output length of a transposed convolution along each spatial dimension.

    ``out = (n − 1)·s − p_before − p_after + d·(k − 1) + output_padding + 1``

    The inverse of the conv rule: a conv with the same (k, s, p, d) maps ``out`` back to ``n``;
    ``output_padding`` picks among the ``s`` input sizes that the floor in the conv rule merges.
    [DV16] relationships 8–14; [torch] ``ConvTranspose2d`` Shape. PyTorch requires
    ``output_padding < max(stride, dilation)``.
    """
    if isinstance(padding, str):
        raise ValueError(f"transposed convolution takes integer padding, not a mode string: padding={padding!r}")
    ndim = _ndim(("n", n), ("kernel", kernel), ("stride", stride), ("dilation", dilation),
                 ("output_padding", output_padding))
    if ndim is None:
        ndim = _padding_ndim(padding)
    scalar = ndim is None
    ns = _per_dim("n", n, ndim or 1, 1)
    _, _, _, ks, ss, pads, ds = _spatial(ns if not scalar else n, kernel, stride, padding, dilation)
    ops = _per_dim("output_padding", output_padding, ndim or 1, 0)
    out = []
    for i, (n_i, k, s, (pb, pa), d, op) in enumerate(zip(ns, ks, ss, pads, ds, ops)):
        where = "" if scalar else f" in dimension {i}"
        if op >= max(s, d):
            raise ValueError(
                f"output_padding must be smaller than stride or dilation{where}: "
                f"output_padding={op}, stride={s}, dilation={d}"
            )
        o = (n_i - 1) * s - pb - pa + d * (k - 1) + op + 1
        if o < 1:
            raise ValueError(
                f"transposed convolution output is empty{where}: size {o} from n={n_i}, kernel={k}, "
                f"stride={s}, padding=({pb}, {pa}), dilation={d}, output_padding={op}"
            )
        out.append(o)
    return _result(scalar, out)


class ReceptiveField(NamedTuple):
    """Receptive field ``size`` of one unit of the last layer, and its ``jump`` (stride product)."""

    size: int
    jump: int


def receptive_field(layers) -> ReceptiveField:
    """Receptive field of a stack of layers given as ``(kernel, stride[, dilation])`` tuples.

    ``r_0 = 1, j_0 = 1``; for each layer ``r_l = r_{l−1} + (k_eff − 1)·j_{l−1}``, ``j_l = j_{l−1}·s_l``.
    (Araujo, Norris and Sim, "Computing receptive fields of convolutional neural networks",
    Distill 2019, eq. 1–2.) E.g. three 3×3 stride-1 convs see 7×7; 3×3/s2 then 3×3/s1 sees 7.
    """
    size, jump = 1, 1
    for i, layer in enumerate(layers):
        if not _is_seq(layer) or len(layer) not in (2, 3):
            raise ValueError(f"layer {i} must be (kernel, stride) or (kernel, stride, dilation), got {layer!r}")
        k = _check_int(f"layers[{i}].kernel", layer[0], 1)
        s = _check_int(f"layers[{i}].stride", layer[1], 1)
        d = _check_int(f"layers[{i}].dilation", layer[2], 1) if len(layer) == 3 else 1
        size += d * (k - 1) * jump
        jump *= s
    return ReceptiveField(size, jump)
