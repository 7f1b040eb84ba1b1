"""Export a reference ``Sequential`` to a PyTorch ``nn.Module`` that computes the same function.

One torch module per summary row (``exported.rows[i]`` ↔ ``model.summary().rows[i]``), holding the
model's weights: conv weights as they are, dense weights transposed (torch's ``Linear`` stores
``(out, in)``), batch-norm γ, β and running statistics. Keras' asymmetric 'same' padding, which
torch's ``padding=`` cannot express, is an explicit ``F.pad`` in front (zeros for a conv, −∞ for a
max pool; a 'same' average pool divides by the count of real elements, as Keras does). The module
takes and returns tensors in the model's convention (NHWC when ``channels='last'``) and works in
NCHW inside, like the reference. With ``weights=False`` on the ``'meta'`` device nothing is
allocated, which is how the bundled VGG/AlexNet are compared cheaply.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from convcheck.reference import model as M

_ACT = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def _activation(name: str) -> nn.Module:
    if name == "linear":
        return nn.Identity()
    if name == "leaky_relu":
        return nn.LeakyReLU(M.LEAKY_SLOPE)
    if name == "softmax":
        return nn.Softmax(dim=1)  # flat (N, features) only: the model rejects softmax elsewhere
    return _ACT[name]()


class Pad(nn.Module):
    """``F.pad`` with one ``(before, after)`` pair per spatial dim, in the reference's order."""

    def __init__(self, pads, value=0.0):
        super().__init__()
        self.pads, self.value = tuple(tuple(p) for p in pads), value
        # F.pad lists the last dimension first.
        self.flat = tuple(v for pair in reversed(self.pads) for v in pair)

    def forward(self, x):
        return F.pad(x, self.flat, value=self.value)

    def extra_repr(self):
        return f"pads={self.pads}, value={self.value}"


class SameAvgPool(nn.Module):
    """Keras' 'same' average pooling: zero-pad asymmetrically, average, rescale by ∏k / count."""

    def __init__(self, ndim, kernel, stride, pads, spatial):
        super().__init__()
        self.pad = Pad(pads)
        self.pool = [nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d][ndim - 1](kernel, stride)
        with torch.no_grad():
            ones = self.pad(torch.ones((1, 1) + tuple(spatial), dtype=torch.float64))
            count = self.pool(ones) * float(np.prod(kernel))
        self.register_buffer("scale", float(np.prod(kernel)) / count, persistent=False)

    def forward(self, x):
        return self.pool(self.pad(x)) * self.scale.to(x.dtype)


class FlattenLast(nn.Module):
    """Keras' Flatten of a channels-last tensor: move C last, then flatten (order H, W, C)."""

    def forward(self, x):
        return torch.flatten(x.movedim(1, -1), 1) if x.dim() > 2 else torch.flatten(x, 1)


class Residual(nn.Module):
    """``body(x) + shortcut(x)``; an empty shortcut is the identity."""

    def __init__(self, body, shortcut):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*shortcut)

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


class Exported(nn.Module):
    """The exported model: converts the input convention, runs the layers, converts back."""

    def __init__(self, layers, channels):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.channels = channels

    def forward(self, x):
        if self.channels == "last" and x.dim() >= 3:
            x = x.movedim(-1, 1)
        for layer in self.layers:
            x = layer(x)
        if self.channels == "last" and x.dim() >= 3:
            x = x.movedim(1, -1)
        return x


def _nd(classes, ndim):
    return classes[ndim - 1]


def _conv_module(layer: M._Conv, tensors: dict) -> nn.Module:
    nd = layer.ndim
    pads = layer.pads
    symmetric = all(pb == pa for pb, pa in pads)
    kwargs = dict(stride=layer.strides, dilation=layer.dilation_rate, groups=layer.groups, bias=layer.use_bias)
    if isinstance(layer, M._ConvTranspose):
        conv = _nd([nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d], nd)(
            layer.in_channels, layer.filters, layer.kernel_size, padding=tuple(p for p, _ in pads),
            output_padding=layer.output_padding, **kwargs)
        parts = [conv]
    else:
        conv = _nd([nn.Conv1d, nn.Conv2d, nn.Conv3d], nd)(
            layer.in_channels, layer.filters, layer.kernel_size,
            padding=tuple(p for p, _ in pads) if symmetric else 0, **kwargs)
        parts = [conv] if symmetric else [Pad(pads), conv]
    tensors[f"{layer.name}.w"] = (conv, "weight", False)
    if layer.use_bias:
        tensors[f"{layer.name}.b"] = (conv, "bias", False)
    return nn.Sequential(*parts, _activation(layer.activation))


def _pool_module(layer: M._Pool) -> nn.Module:
    nd, n = layer.ndim, layer.input_shape[1:]
    if layer.padding == "same":
        if layer.kind == "max":
            pool = _nd([nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d], nd)(layer.pool_size, layer.strides)
            return nn.Sequential(Pad(layer.same_pads, value=float("-inf")), pool)
        return SameAvgPool(nd, layer.pool_size, layer.strides, layer.same_pads, n)
    cls = [nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d] if layer.kind == "max" else \
        [nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d]
    return _nd(cls, nd)(layer.pool_size, layer.strides, layer.int_pad)


def _module(layer: M.Layer, channels: str, tensors: dict) -> tuple[nn.Module, list]:
    """The torch module of one layer, and the row modules (itself, then its sublayers')."""
    if isinstance(layer, M._Conv):
        mod = _conv_module(layer, tensors)
    elif isinstance(layer, M._Pool):
        mod = _pool_module(layer)
    elif isinstance(layer, M._GlobalPool):
        nd = len(layer.input_shape) - 1
        cls = [nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d] if layer.kind == "avg" else \
            [nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d]
        mod = nn.Sequential(_nd(cls, nd)(1), nn.Flatten())
    elif isinstance(layer, M.Flatten):
        mod = FlattenLast() if channels == "last" else nn.Flatten()
    elif isinstance(layer, M.Dense):
        linear = nn.Linear(layer.in_features, layer.units, bias=layer.use_bias)
        tensors[f"{layer.name}.w"] = (linear, "weight", True)
        if layer.use_bias:
            tensors[f"{layer.name}.b"] = (linear, "bias", False)
        mod = nn.Sequential(linear, _activation(layer.activation))
    elif isinstance(layer, M.Activation):
        mod = _activation(layer.activation)
    elif isinstance(layer, M.BatchNorm):
        nd = len(layer.input_shape) - 1
        cls = [nn.BatchNorm1d, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d][nd]
        mod = cls(layer.num_features, eps=layer.epsilon, momentum=layer.momentum)
        for key, attr in (("gamma", "weight"), ("beta", "bias"), ("running_mean", "running_mean"),
                          ("running_var", "running_var")):
            tensors[f"{layer.name}.{key}"] = (mod, attr, False)
    elif isinstance(layer, M.Dropout):
        mod = nn.Dropout(layer.rate)
    elif isinstance(layer, M.Residual):
        body, short, rows = [], [], []
        for sub in layer.body:
            m, r = _module(sub, channels, tensors)
            body.append(m)
            rows += r
        for sub in layer.shortcut:
            m, r = _module(sub, channels, tensors)
            short.append(m)
            rows += r
        mod = Residual(body, short)
        return mod, [mod] + rows
    else:
        raise TypeError(f"no torch export for layer {layer.name!r} ({layer.type})")
    return mod, [mod]


def to_torch(model: M.Sequential, dtype=None, device="cpu", weights=True) -> Exported:
    """An ``nn.Module`` that computes ``model.forward`` (same layout in and out).

    ``dtype`` defaults to the model's weight dtype (float64 before ``init``). With ``weights=True``
    the model must have been initialised and its weights are copied; ``weights=False`` keeps torch's
    own initialisation (or nothing at all on ``device='meta'``). Attributes of the result:
    ``rows`` — the module of each summary row, in order; ``tensors`` — ``{"<layer>.<param>":
    (module, attribute, transposed)}`` for reading gradients back (see :func:`torch_grads`).
    """
    if dtype is None:
        dtype = getattr(torch, str(model.dtype or np.dtype("float64")))
    tensors: dict = {}
    mods, rows = [], []
    with torch.device(device):
        for layer in model.layers:
            m, r = _module(layer, model.channels, tensors)
            mods.append(m)
            rows += r
        exported = Exported(mods, model.channels)
    exported.to(dtype=dtype)
    exported.rows = rows
    exported.tensors = tensors
    if weights:
        if model.dtype is None:
            raise RuntimeError("the model has no weights: call model.init(seed) first, or pass weights=False")
        values = {**model.params, **model.state}
        with torch.no_grad():
            for key, t, transposed in _tensors(exported):
                v = values[key].T if transposed else values[key]
                t.copy_(torch.as_tensor(np.ascontiguousarray(v), dtype=t.dtype, device=t.device))
    return exported


def _tensors(exported: Exported):
    """``(key, tensor, transposed)`` for every exported weight (looked up now: ``.to()`` rebinds buffers)."""
    for key, (mod, attr, transposed) in exported.tensors.items():
        yield key, getattr(mod, attr), transposed


def torch_grads(exported: Exported) -> dict[str, np.ndarray]:
    """The ``.grad`` of every exported parameter, in the reference's layout and keys."""
    out = {}
    for key, t, transposed in _tensors(exported):
        if isinstance(t, nn.Parameter) and t.grad is not None:
            g = t.grad.detach().cpu().numpy()
            out[key] = g.T if transposed else g
    return out


def row_param_counts(module: nn.Module) -> tuple[int, int]:
    """``(trainable, non_trainable)`` of one row module: parameter numel and running statistics."""
    trainable = sum(p.numel() for p in module.parameters())
    stats = sum(b.numel() for name, b in module.named_buffers()
                if name.rsplit(".", 1)[-1] in ("running_mean", "running_var"))
    return trainable, stats


def activation_shapes(exported: Exported, x: torch.Tensor) -> list[tuple]:
    """Each row module's output shape (without the batch axis, torch's NCHW) for input ``x``.

    Runs in eval mode (restored afterwards), so running statistics are left untouched."""
    shapes: list = [None] * len(exported.rows)
    was_training = exported.training
    exported.eval()
    hooks = [m.register_forward_hook(lambda _m, _i, out, i=i: shapes.__setitem__(i, tuple(out.shape[1:])))
             for i, m in enumerate(exported.rows)]
    try:
        with torch.no_grad():
            exported(x)
    finally:
        for h in hooks:
            h.remove()
        exported.train(was_training)
    return shapes
