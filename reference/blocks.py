"""The layers that branched models need beyond Sequential's: merges (``Add``, ``Concatenate``,
``Multiply``), depthwise and separable convolutions, padding, channel shuffle and slicing,
reshape, ceil-mode max pooling, and the activations of MobileNet/EfficientNet.

Same conventions as :mod:`.model`: shapes are channels-first without the batch axis inside,
``build`` returns the output shape or raises ``ValueError``, ``forward`` caches what ``backward``
needs. A merge layer takes a list of inputs: ``build_merge(shapes, channels)``, ``forward(xs)``,
and ``backward(dout)`` returns one gradient per input.
"""

from __future__ import annotations

import math
from math import prod

import numpy as np

from . import conv, pool
from . import params as P
from . import shapes as S
from .model import Conv2D, Layer, _activation, _act_backward, _act_forward, _explicit_pads, _init_kernel, \
    _positive, _to_first, _to_last, _tuple, to_internal_shape, to_user_shape


# --- merges -----------------------------------------------------------------------------------------

class Merge(Layer):
    """Base of the layers that join several tensors; no parameters."""

    multi_input = True

    def build(self, input_shape, channels):
        raise ValueError(f"{self.type} joins several tensors: call it on a list, {self.type}()([a, b])")

    def build_merge(self, shapes: list[tuple], channels: str) -> tuple:
        if len(shapes) < 2:
            raise ValueError(f"{self.type} needs at least 2 inputs, got {len(shapes)}")
        self.input_shapes, self.channels = [tuple(s) for s in shapes], channels
        self.input_shape = self.input_shapes[0]
        self.output_shape = tuple(self._merge(self.input_shapes))
        return self.output_shape

    def _shapes_text(self, shapes):
        return ", ".join(str(self._user(s)) for s in shapes)


class Add(Merge):
    """Element-wise sum of equal-shape tensors, ``y = Σ xᵢ`` (a residual connection, He et al.
    2016, eq. 1); ``∂y/∂xᵢ = 1``, so each input receives ``dout`` unchanged."""

    keras_name = "add"

    def _merge(self, shapes):
        if any(s != shapes[0] for s in shapes):
            raise ValueError(f"Add needs inputs of one shape, got {self._shapes_text(shapes)}")
        return shapes[0]

    def forward(self, xs, training=False):
        return sum(xs[1:], xs[0].copy())

    def backward(self, dout):
        return [dout] * len(self.input_shapes)


class Multiply(Merge):
    """Element-wise product ``y = ∏ xᵢ``; an input whose spatial sizes are all 1 (``(C, 1, 1)``, a
    squeeze-and-excitation gate, Hu et al. 2018, eq. 4) is broadcast over the others' positions.
    ``∂y/∂xᵢ = ∏_{j≠i} xⱼ``, summed over the axes where ``xᵢ`` was broadcast."""

    keras_name = "multiply"

    def _merge(self, shapes):
        full = max(shapes, key=prod)
        for s in shapes:
            if s != full and not (len(s) == len(full) and s[0] == full[0] and all(n == 1 for n in s[1:])):
                raise ValueError(f"Multiply needs inputs of one shape (or (C, 1, 1) gates), got {self._shapes_text(shapes)}")
        return full

    def forward(self, xs, training=False):
        self._cache = xs
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y

    def backward(self, dout):
        xs, out = self._cache, []
        for i, x in enumerate(xs):
            d = dout
            for j, other in enumerate(xs):
                if j != i:
                    d = d * other
            axes = tuple(a for a in range(1, d.ndim) if x.shape[a] == 1 and d.shape[a] != 1)
            out.append(d.sum(axis=axes, keepdims=True) if axes else d)
        return out


class Concatenate(Merge):
    """Join along the channel axis (Keras' ``axis=-1`` under channels-last, torch's ``dim=1``):
    ``(C₁, *n), (C₂, *n), … → (ΣCᵢ, *n)``; the gradient is ``dout`` split back at the same
    offsets (Szegedy et al. 2015, Fig. 2: "filter concatenation")."""

    keras_name = "concatenate"

    def _merge(self, shapes):
        if any(len(s) != len(shapes[0]) or s[1:] != shapes[0][1:] for s in shapes):
            raise ValueError(f"Concatenate needs equal sizes on every axis but channels, got {self._shapes_text(shapes)}")
        return (sum(s[0] for s in shapes), *shapes[0][1:])

    def forward(self, xs, training=False):
        return np.concatenate(xs, axis=1)

    def backward(self, dout):
        cuts = np.cumsum([s[0] for s in self.input_shapes])[:-1]
        return np.split(dout, cuts, axis=1)


# --- convolutions -------------------------------------------------------------------------------------

class DepthwiseConv2D(Conv2D):
    """Depthwise convolution: each input channel convolved with its own ``depth_multiplier``
    filters, i.e. a grouped convolution with ``groups = C`` and ``F = C·depth_multiplier``
    (Howard et al. 2017, MobileNets §3.1, eq. 3; Keras ``DepthwiseConv2D``; torch ``Conv2d(groups=C)``).

    Shape and padding as :class:`~.model.Conv2D`. Parameters ``w (C·m, 1, kh, kw)``, ``b (C·m,)``:
    ``kh·kw·C·m + C·m`` (:func:`params.conv_params` with ``groups = C``).
    """

    keras_name = "depthwise_conv2d"

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, dilation_rate=1,
                 activation=None, use_bias=True, name=None):
        super().__init__(1, kernel_size, strides, padding, dilation_rate, 1, activation, use_bias, name)
        self.depth_multiplier = _positive(self.type, "depth_multiplier", depth_multiplier)

    def _infer(self, shape):
        if len(shape) == 3:
            self.groups, self.filters = shape[0], shape[0] * self.depth_multiplier
        return super()._infer(shape)


class SeparableConv2D(Layer):
    """Depthwise-separable convolution: a depthwise ``k×k`` convolution (no bias) then a pointwise
    ``1×1`` convolution with bias (Chollet 2017, Xception §2; Keras ``SeparableConv2D``).

    Shape as :class:`~.model.Conv2D` (strides, padding and dilation apply to the depthwise step).
    Parameters ``w_depthwise (C·m, 1, kh, kw)``, ``w_pointwise (F, C·m, 1, 1)``, ``b (F,)``:
    ``kh·kw·C·m + C·m·F + F``. Its multiply-adds are ``1/F + 1/(kh·kw)`` of a full convolution's
    (Howard et al. 2017, eq. 5), the ratio the quiz asks about.
    """

    keras_name = "separable_conv2d"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", depth_multiplier=1, dilation_rate=1,
                 activation=None, use_bias=True, name=None):
        super().__init__(name)
        self.depthwise = DepthwiseConv2D(kernel_size, strides, padding, depth_multiplier, dilation_rate,
                                         use_bias=False)
        self.filters = _positive(self.type, "filters", filters)
        self.activation = _activation(self.type, activation)
        self.use_bias = bool(use_bias)
        self.kernel_size, self.strides = self.depthwise.kernel_size, self.depthwise.strides
        self.padding, self.dilation_rate = padding, self.depthwise.dilation_rate
        self.depth_multiplier = self.depthwise.depth_multiplier

    def _infer(self, shape):
        mid = self.depthwise.build(shape, self.channels)
        self.in_channels, self.pads, self.mid = shape[0], self.depthwise.pads, mid[0]
        return (self.filters, *mid[1:])

    def count(self):
        return P.ParamCount(P.conv_params(self.in_channels, self.mid, self.kernel_size, False, self.in_channels)
                            + P.conv_params(self.mid, self.filters, (1, 1), self.use_bias), 0)

    def formula(self):
        k = " x ".join(map(str, self.kernel_size))
        point = f"({self.mid} + 1) x {self.filters}" if self.use_bias else f"{self.mid} x {self.filters}"
        return f"{k} x {self.mid} + {point}"

    def param_shapes(self):
        shapes = {"w_depthwise": (self.mid, 1, *self.kernel_size), "w_pointwise": (self.filters, self.mid, 1, 1)}
        if self.use_bias:
            shapes["b"] = (self.filters,)
        return shapes

    def init(self, rng, dtype):
        k = prod(self.kernel_size)
        shapes = self.param_shapes()
        self.params = {
            "w_depthwise": _init_kernel(rng, shapes["w_depthwise"], k, k * self.depth_multiplier, "linear", dtype),
            "w_pointwise": _init_kernel(rng, shapes["w_pointwise"], self.mid, self.filters, self.activation, dtype),
        }
        if self.use_bias:
            self.params["b"] = np.zeros(self.filters, dtype)

    def forward(self, x, training=False):
        h = conv.conv_forward(x, self.params["w_depthwise"], None, stride=self.strides, padding=self.pads,
                              dilation=self.dilation_rate, groups=self.in_channels)
        z = conv.conv_forward(h, self.params["w_pointwise"], self.params.get("b"))
        self._cache = (x, h, z)
        return _act_forward(self.activation, z)

    def backward(self, dout):
        x, h, z = self._cache
        dz = _act_backward(self.activation, dout, z)
        dh, dwp, db = conv.conv_backward(dz, h, self.params["w_pointwise"], self.params.get("b"))
        dx, dwd, _ = conv.conv_backward(dh, x, self.params["w_depthwise"], None, stride=self.strides,
                                        padding=self.pads, dilation=self.dilation_rate, groups=self.in_channels)
        self.grads = {"w_depthwise": dwd, "w_pointwise": dwp}
        if self.use_bias:
            self.grads["b"] = db
        return dx


# --- reshaping layers ---------------------------------------------------------------------------------

class ZeroPadding2D(Layer):
    """Pad height and width with zeros (Keras ``ZeroPadding2D``): ``padding`` is an int, ``(ph, pw)``
    or ``((top, bottom), (left, right))``. Shape ``(C, H, W) → (C, H + t + b, W + l + r)``; the
    gradient is ``dout`` cropped back. No parameters."""

    keras_name = "zero_padding2d"

    def __init__(self, padding=1, name=None):
        super().__init__(name)
        self.pads = _explicit_pads(padding, 2)

    def _infer(self, shape):
        if len(shape) != 3:
            raise ValueError(f"ZeroPadding2D needs a 3-D input (H, W, C), got shape {self._user(shape)}")
        c, h, w = shape
        (t, b), (l, r) = self.pads
        return (c, h + t + b, w + l + r)

    def forward(self, x, training=False):
        return np.pad(x, ((0, 0), (0, 0)) + self.pads)

    def backward(self, dout):
        (t, b), (l, r) = self.pads
        return dout[:, :, t:dout.shape[2] - b, l:dout.shape[3] - r]


class ChannelShuffle(Layer):
    """ShuffleNet's channel shuffle (Zhang et al. 2018, §3.1; torchvision ``channel_shuffle``):
    view the ``C`` channels as ``(g, C/g)``, transpose to ``(C/g, g)``, flatten. A permutation, so
    the gradient is ``dout`` permuted back. No parameters."""

    keras_name = "channel_shuffle"

    def __init__(self, groups=2, name=None):
        super().__init__(name)
        self.groups = _positive(self.type, "groups", groups)

    def _infer(self, shape):
        if len(shape) < 2 or shape[0] % self.groups:
            raise ValueError(f"ChannelShuffle(groups={self.groups}) needs spatial input whose channels it divides, "
                             f"got shape {self._user(shape)}")
        return shape

    def _permute(self, x, g1, g2):
        n, c, *sp = x.shape
        return x.reshape(n, g1, g2, *sp).swapaxes(1, 2).reshape(n, c, *sp)

    def forward(self, x, training=False):
        return self._permute(x, self.groups, x.shape[1] // self.groups)

    def backward(self, dout):
        return self._permute(dout, dout.shape[1] // self.groups, self.groups)


class ChannelSlice(Layer):
    """Channels ``start:stop`` of the input (torch's ``x.chunk(2, dim=1)`` halves in ShuffleNet v2);
    the gradient is ``dout`` placed back in those channels, zero elsewhere. No parameters."""

    keras_name = "channel_slice"

    def __init__(self, start, stop, name=None):
        super().__init__(name)
        self.start, self.stop = _tuple("start", start, 1, 0)[0], _positive(self.type, "stop", stop)
        if self.stop <= self.start:
            raise ValueError(f"ChannelSlice needs start < stop, got {start}:{stop}")

    def _infer(self, shape):
        if self.stop > shape[0]:
            raise ValueError(f"ChannelSlice {self.start}:{self.stop} is outside the {shape[0]} channels")
        return (self.stop - self.start, *shape[1:])

    def forward(self, x, training=False):
        return x[:, self.start:self.stop]

    def backward(self, dout):
        dx = np.zeros((dout.shape[0], *self.input_shape), dout.dtype)
        dx[:, self.start:self.stop] = dout
        return dx


class Reshape(Layer):
    """Keras' ``Reshape(target_shape)``: the element order is that of the input's convention (with
    channels-last, ``(C,) → (1, 1, C)`` makes a squeeze-and-excitation gate). No parameters."""

    keras_name = "reshape"

    def __init__(self, target_shape, name=None):
        super().__init__(name)
        self.target_shape = _tuple("target_shape", tuple(target_shape), len(tuple(target_shape)))

    def _infer(self, shape):
        if prod(self.target_shape) != prod(shape):
            raise ValueError(f"Reshape to {self.target_shape} needs {prod(self.target_shape)} values, the input "
                             f"{self._user(shape)} has {prod(shape)}")
        return to_internal_shape(self.target_shape, self.channels)

    def forward(self, x, training=False):
        y = _to_last(x, self.channels).reshape((x.shape[0], *self.target_shape))
        return _to_first(y, self.channels)

    def backward(self, dout):
        d = _to_last(dout, self.channels).reshape((dout.shape[0], *to_user_shape(self.input_shape, self.channels)))
        return _to_first(d, self.channels)


class CeilMaxPool2D(Layer):
    """2-D max pooling with PyTorch's ``ceil_mode=True`` (GoogLeNet's and SqueezeNet's pools):
    ``out = ⌈(n + 2p − k)/s⌉ + 1``, less one if the last window would start in the right padding
    (:func:`shapes.pool_output_size`, PyTorch ``MaxPool2d`` Shape notes). Keras has no such
    option; here the extra right/bottom rows are −∞ so that they never win a max. No parameters."""

    keras_name = "max_pooling2d"

    def __init__(self, pool_size=2, strides=None, padding=0, name=None):
        super().__init__(name)
        self.pool_size = _tuple("pool_size", pool_size, 2)
        self.strides = self.pool_size if strides is None else _tuple("strides", strides, 2)
        self.int_pad = _tuple("padding", padding, 2, 0)
        if any(2 * p > k for p, k in zip(self.int_pad, self.pool_size)):
            raise ValueError(f"CeilMaxPool2D: padding must be at most half the window, got padding={padding!r}")

    def _infer(self, shape):
        if len(shape) != 3:
            raise ValueError(f"CeilMaxPool2D needs a 3-D input, got shape {self._user(shape)}")
        c, *n = shape
        return (c, *S.pool_output_size(tuple(n), self.pool_size, self.strides, self.int_pad, ceil_mode=True))

    def forward(self, x, training=False):
        self._cache = x
        return pool.max_pool_forward(x, self.pool_size, stride=self.strides, padding=self.int_pad, ceil_mode=True)

    def backward(self, dout):
        return pool.max_pool_backward(dout, self._cache, self.pool_size, stride=self.strides, padding=self.int_pad,
                                      ceil_mode=True)


# --- activations ----------------------------------------------------------------------------------------

class Elementwise(Layer):
    """An element-wise activation layer with no parameters; subclasses give ``f`` and ``df``."""

    def forward(self, x, training=False):
        self._cache = x
        return self.f(x)

    def backward(self, dout):
        return dout * self.df(self._cache)


class ReLU6(Elementwise):
    """``min(max(x, 0), 6)`` (Howard et al. 2017/Sandler et al. 2018; torch ``ReLU6``);
    derivative 1 on ``0 < x < 6``, else 0 (torch's ``hardtanh_backward``)."""

    keras_name = "relu6"

    @staticmethod
    def f(x):
        return np.clip(x, 0.0, 6.0)

    @staticmethod
    def df(x):
        return ((x > 0) & (x < 6)).astype(x.dtype)


class HardSigmoid(Elementwise):
    """``relu6(x + 3)/6`` (Howard et al. 2019, MobileNetV3 §5.2; torch ``Hardsigmoid``, Keras 3
    ``hard_sigmoid``); derivative ``1/6`` on ``−3 < x < 3``, else 0."""

    keras_name = "hard_sigmoid"

    @staticmethod
    def f(x):
        return np.clip(x + 3.0, 0.0, 6.0) / 6.0

    @staticmethod
    def df(x):
        return ((x > -3) & (x < 3)).astype(x.dtype) / 6.0


class HardSwish(Elementwise):
    """``x·relu6(x + 3)/6`` (Howard et al. 2019, eq. "h-swish"; torch ``Hardswish``); derivative 0
    for ``x < −3``, ``(2x + 3)/6`` on ``[−3, 3]``, 1 above (torch's ``hardswish_backward``)."""

    keras_name = "hard_swish"

    @staticmethod
    def f(x):
        return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0

    @staticmethod
    def df(x):
        return np.where(x < -3, 0.0, np.where(x <= 3, (2.0 * x + 3.0) / 6.0, 1.0)).astype(x.dtype)


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class SiLU(Elementwise):
    """Swish/SiLU ``x·σ(x)`` (Ramachandran et al. 2017; Hendrycks & Gimpel 2016); derivative
    ``σ(x)·(1 + x·(1 − σ(x)))``."""

    keras_name = "silu"

    @staticmethod
    def f(x):
        return x * _sigmoid(x)

    @staticmethod
    def df(x):
        s = _sigmoid(x)
        return s * (1.0 + x * (1.0 - s))


Swish = SiLU

_erf = np.frompyfunc(math.erf, 1, 1)


class GELU(Elementwise):
    """``x·Φ(x) = x·(1 + erf(x/√2))/2``, the exact form (Hendrycks & Gimpel 2016, eq. 1; torch
    ``GELU(approximate='none')``); derivative ``Φ(x) + x·φ(x)``."""

    keras_name = "gelu"

    @staticmethod
    def _cdf(x):
        return 0.5 * (1.0 + _erf(x / math.sqrt(2.0)).astype(x.dtype))

    @classmethod
    def f(cls, x):
        return x * cls._cdf(x)

    @classmethod
    def df(cls, x):
        return cls._cdf(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


#: The activation layers by the names the spec format and ``activation_layer`` use.
ACTIVATION_LAYERS = {"relu6": ReLU6, "hardswish": HardSwish, "hard_swish": HardSwish, "hardsigmoid": HardSigmoid,
                     "hard_sigmoid": HardSigmoid, "silu": SiLU, "swish": SiLU, "gelu": GELU}
