"""Worked example: an adapter for a library whose backward comes from its own autograd (forward + vjp).

Libraries like JAX, tinygrad or PyTorch have no ``conv_backward``: they differentiate the forward. The
adapter defines each forward once, and each backward as the vector-Jacobian product of that forward
at the given inputs, applied to ``dout``. Here the library is PyTorch used as a third party would:
``torch.func.vjp(f, *primals) -> (out, pullback)``, the same contract as ``jax.vjp``; with JAX, replace
``_tensor``/``_numpy`` by ``jnp.asarray``/``np.asarray`` and ``vjp`` by ``jax.vjp``.

What the adapter does not translate is declared, per op where it is per op:
- padding strings and (before, after) pairs: torch's conv takes neither 'full' nor pairs;
- ``divisor_override`` for average pooling: ``avg_pool1d`` has no such argument.

    convcheck verify convcheck.checks.adapters.example_vjp --ops conv_forward conv_backward
    pytest --convcheck-impl=convcheck.checks.adapters.example_vjp
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import vjp

from convcheck.checks import Capabilities

CAPABILITIES = Capabilities(padding_modes=False, asymmetric_padding=False,
                            ops={"avg_pool": {"divisor_override": False}})


def _tensor(a):
    return None if a is None else torch.from_numpy(np.array(a, copy=True))


def _numpy(t):
    return None if t is None else t.detach().numpy()


def _dims(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


# --- forwards: the library's ops behind the reference signatures (tensors in, tensor out) ------------------

def _conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    nd = x.dim() - 2
    fn = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    return fn(x, w, b, stride=_dims(stride, nd), padding=_dims(padding, nd), dilation=_dims(dilation, nd),
              groups=groups)


def _max_pool(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    nd = x.dim() - 2
    fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1]
    return fn(x, _dims(kernel, nd), None if stride is None else _dims(stride, nd), _dims(padding, nd),
              _dims(dilation, nd), ceil_mode=ceil_mode)


def _avg_pool(x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    nd = x.dim() - 2
    fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1]
    extra = {} if nd == 1 else {"divisor_override": divisor_override}
    return fn(x, _dims(kernel, nd), None if stride is None else _dims(stride, nd), _dims(padding, nd),
              ceil_mode=ceil_mode, count_include_pad=count_include_pad, **extra)


def _dense(x, w, b=None):
    out = x.reshape(x.shape[0], -1) @ w  # the reference's dense weight is (in, out)
    return out if b is None else out + b


def _relu(x):
    return torch.relu(x)


# --- the adapter: forward = the op on tensors; backward = vjp of that forward, applied to dout -------------

def _forward(op):
    def forward(*arrays, **options):
        with torch.no_grad():
            return _numpy(op(*(_tensor(a) for a in arrays), **options))
    return forward


def _backward(op):
    def backward(dout, *arrays, **options):
        present = [i for i, a in enumerate(arrays) if a is not None]  # b=None: no gradient to take

        def f(*primals):
            full = [None] * len(arrays)
            for i, p in zip(present, primals):
                full[i] = p
            return op(*full, **options)

        out, pullback = vjp(f, *(_tensor(arrays[i]) for i in present))
        grads = pullback(_tensor(dout).to(out.dtype))
        result = [None] * len(arrays)
        for i, g in zip(present, grads):
            result[i] = _numpy(g)
        return result[0] if len(arrays) == 1 else tuple(result)
    return backward


conv_forward, conv_backward = _forward(_conv), _backward(_conv)
max_pool_forward, max_pool_backward = _forward(_max_pool), _backward(_max_pool)
avg_pool_forward, avg_pool_backward = _forward(_avg_pool), _backward(_avg_pool)
dense_forward, dense_backward = _forward(_dense), _backward(_dense)
relu_forward, relu_backward = _forward(_relu), _backward(_relu)
