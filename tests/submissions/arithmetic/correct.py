"""A correct arithmetic submission (torch's rules, any number of dimensions).

loses: nothing
"""

import math


def _dims(value, ndim):
    return list(value) if isinstance(value, (tuple, list)) else [value] * ndim


def _ndim(*values):
    for v in values:
        if isinstance(v, (tuple, list)):
            return len(v)
    return None


def _pairs(padding, ndim, scalar):
    if isinstance(padding, (tuple, list)):
        if scalar and len(padding) == 2 and not isinstance(padding[0], (tuple, list)):
            return [tuple(padding)]
        return [tuple(p) if isinstance(p, (tuple, list)) else (p, p) for p in padding]
    return [(padding, padding)] * ndim


def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    pad_dims = None
    if isinstance(padding, (tuple, list)) and padding and isinstance(padding[0], (tuple, list)):
        pad_dims = len(padding)
    elif isinstance(padding, (tuple, list)) and not (len(padding) == 2 and _ndim(n, kernel, stride, dilation) is None):
        pad_dims = len(padding)
    ndim = _ndim(n, kernel, stride, dilation) or pad_dims
    scalar = ndim is None
    ndim = ndim or 1
    ns, ks, ss, ds = (_dims(v, ndim) for v in (n, kernel, stride, dilation))
    out = []
    for i in range(ndim):
        span = ds[i] * (ks[i] - 1) + 1
        if padding == "valid":
            before = after = 0
        elif padding == "full":
            before = after = span - 1
        elif padding == "same":
            total = max((math.ceil(ns[i] / ss[i]) - 1) * ss[i] + span - ns[i], 0)
            before, after = total // 2, total - total // 2
        else:
            before, after = _pairs(padding, ndim, scalar)[i]
        out.append((ns[i] + before + after - span) // ss[i] + 1)
    return out[0] if scalar else tuple(out)


def pool_output_size(n, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    stride = kernel if stride is None else stride
    ndim = _ndim(n, kernel, stride, padding, dilation)
    scalar = ndim is None
    ndim = ndim or 1
    ns, ks, ss, ps, ds = (_dims(v, ndim) for v in (n, kernel, stride, padding, dilation))
    out = []
    for i in range(ndim):
        span = ns[i] + 2 * ps[i] - ds[i] * (ks[i] - 1) - 1
        size = (math.ceil(span / ss[i]) if ceil_mode else span // ss[i]) + 1
        if ceil_mode and (size - 1) * ss[i] >= ns[i] + ps[i]:
            size -= 1
        out.append(size)
    return out[0] if scalar else tuple(out)


def conv_params(in_channels, out_channels, kernel_size, bias=True, groups=1, ndim=1):
    volume = math.prod(kernel_size) if isinstance(kernel_size, (tuple, list)) else kernel_size ** ndim
    return out_channels * (in_channels // groups) * volume + (out_channels if bias else 0)


def dense_params(in_features, out_features, bias=True):
    return in_features * out_features + (out_features if bias else 0)
