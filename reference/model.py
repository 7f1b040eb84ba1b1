"""Keras-like ``Sequential`` CNNs built from the reference ops: shapes, parameter counts, a summary
table, forward and backward in NumPy, and a plain-text spec format.

Conventions
-----------
- ``channels='last'`` (Keras' default): ``input_shape`` is ``(H, W, C)`` (``(L, C)`` in 1-D) and
  :meth:`Sequential.forward` takes ``x`` as ``(N, H, W, C)``. ``channels='first'`` (PyTorch):
  ``(C, H, W)`` and ``(N, C, H, W)``.
- Inside, every tensor is channels-first, ``(N, C, *spatial)``, because the reference ops are:
  ``forward`` moves the channel axis of ``x`` to position 1 once on the way in, and moves it back
  on the way out (only if the output still has spatial axes); ``backward`` does the same to
  ``dout`` and to the input gradient. Summary shapes and error messages are given in the input's
  convention. The one place where the convention changes the arithmetic is :class:`Flatten`: with
  ``channels='last'`` it flattens in ``(H, W, C)`` order, as Keras does, so a ``Dense`` weight
  means the same thing here and in Keras.
- Weights are stored in the reference layouts: conv ``w`` is ``(F, C/groups, *kernel)``, transposed
  conv ``w`` is ``(C, F/groups, *kernel)``, dense ``w`` is ``(in, out)`` (``y = x @ w + b``).
  Parameters are named ``"<layer>.<w|b|gamma|beta>"``; batch-norm running statistics
  (``.running_mean``, ``.running_var``) are state, not parameters (Keras' "non-trainable").
- Output sizes come from :mod:`.shapes` and parameter counts from :mod:`.params`; nothing here
  re-derives a formula.

``parse_spec(text)`` reads the spec format (see :func:`parse_spec`); ``load_bundled(name)`` the
specs shipped in ``reference/specs/``. :class:`Network` holds what every model has whatever its
wiring (naming, weights, counts, the loss); the branched models of the functional API are
``graph.Model``, their extra layers in :mod:`.blocks`, torchvision's architectures in :mod:`.zoo`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from math import prod
from pathlib import Path

import numpy as np

from . import conv, pool
from . import layers as L
from . import params as P
from . import shapes as S

ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "softmax")
LEAKY_SLOPE = 0.01  # PyTorch's default negative slope (Keras' LeakyReLU default differs)


class ModelError(ValueError):
    """An invalid model: the message names the layer and the shapes involved; ``.layer`` is the
    innermost layer that did not fit (None when the model as a whole is wrong)."""

    def __init__(self, message: str, layer: "Layer | None" = None):
        super().__init__(message)
        self.layer = layer


# --- small helpers --------------------------------------------------------------------------------

def _tuple(name: str, value, ndim: int, minimum: int = 1) -> tuple[int, ...]:
    """An int or a per-dimension tuple → a tuple of ``ndim`` ints ≥ ``minimum``."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * ndim
    if len(values) != ndim:
        raise ValueError(f"{name} needs {ndim} value(s), got {name}={value!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
            bound = "positive ints" if minimum == 1 else f"ints >= {minimum}"
            raise ValueError(f"{name} must be {bound}, got {name}={value!r}")
    return tuple(int(v) for v in values)


def _explicit_pads(padding, ndim: int) -> tuple[tuple[int, int], ...]:
    """An int, one int per dimension, or one ``(before, after)`` pair per dimension → pairs."""
    if not isinstance(padding, (tuple, list)):
        p = _tuple("padding", padding, 1, 0)[0]
        return ((p, p),) * ndim
    if len(padding) != ndim:
        raise ValueError(f"padding needs one int or (before, after) pair per dimension ({ndim}), got {padding!r}")
    pairs = []
    for p in padding:
        pair = tuple(p) if isinstance(p, (tuple, list)) else (p, p)
        if len(pair) != 2:
            raise ValueError(f"padding entries are ints or (before, after) pairs, got {p!r} in padding={padding!r}")
        pairs.append(_tuple("padding", pair, 2, 0))
    return tuple(pairs)


def _positive(cls: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{cls}: {name} must be a positive int, got {name}={value!r}")
    return int(value)


def _activation(cls: str, activation) -> str:
    name = "linear" if activation is None else str(activation).lower().replace("leakyrelu", "leaky_relu")
    if name not in ACTIVATIONS:
        raise ValueError(f"{cls}: unknown activation {activation!r}; use one of {ACTIVATIONS} or None")
    return name


def to_user_shape(shape: tuple, channels: str) -> tuple:
    """Channels-first shape (no batch) → the shape in the model's convention."""
    if channels == "last" and len(shape) >= 2:
        return tuple(shape[1:]) + (shape[0],)
    return tuple(shape)


def to_internal_shape(shape: tuple, channels: str) -> tuple:
    """Shape in the model's convention (no batch) → channels-first."""
    if channels == "last" and len(shape) >= 2:
        return (shape[-1],) + tuple(shape[:-1])
    return tuple(shape)


def _to_first(x: np.ndarray, channels: str) -> np.ndarray:
    return np.moveaxis(x, -1, 1) if channels == "last" and x.ndim >= 3 else x


def _to_last(x: np.ndarray, channels: str) -> np.ndarray:
    return np.moveaxis(x, 1, -1) if channels == "last" and x.ndim >= 3 else x


def _dims(ns) -> str:
    return "×".join(str(n) for n in ns)


def _act_forward(name: str, z: np.ndarray) -> np.ndarray:
    if name == "linear":
        return z
    if name == "leaky_relu":
        return L.leaky_relu_forward(z, negative_slope=LEAKY_SLOPE)
    return getattr(L, f"{name}_forward")(z)


def _act_backward(name: str, dout: np.ndarray, z: np.ndarray) -> np.ndarray:
    if name == "linear":
        return dout
    if name == "leaky_relu":
        return L.leaky_relu_backward(dout, z, negative_slope=LEAKY_SLOPE)
    return getattr(L, f"{name}_backward")(dout, z)


def _check_softmax_rank(cls: str, activation: str, out_shape: tuple, channels: str) -> None:
    if activation == "softmax" and len(out_shape) != 1:
        raise ValueError(f"{cls}: softmax is applied to flat (features,) outputs only, got output shape "
                         f"{to_user_shape(out_shape, channels)}")


# --- layers ---------------------------------------------------------------------------------------

class Layer:
    """A layer: shape inference (``build``), parameter counts, forward and backward.

    Shapes passed to ``build`` are channels-first and without the batch axis; ``build`` returns the
    output shape and raises ``ValueError`` when the input does not fit (``Sequential`` adds the
    layer's name and position). ``forward`` caches what ``backward`` needs; ``backward`` returns
    ``dx`` and fills ``self.grads`` (same keys as ``self.params``).
    """

    keras_name = "layer"

    def __init__(self, name: str | None = None):
        self.name = name
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.input_shape: tuple | None = None
        self.output_shape: tuple | None = None
        self.channels = "last"
        self._cache = None

    @property
    def type(self) -> str:
        return type(self).__name__

    def build(self, input_shape: tuple, channels: str) -> tuple:
        self.input_shape, self.channels = tuple(input_shape), channels
        self.output_shape = tuple(self._infer(self.input_shape))
        return self.output_shape

    def _infer(self, shape: tuple) -> tuple:
        return shape

    def count(self) -> P.ParamCount:
        return P.ParamCount(0, 0)

    def formula(self) -> str:
        return ""

    def param_shapes(self) -> dict[str, tuple]:
        return {}

    def state_shapes(self) -> dict[str, tuple]:
        return {}

    def sublayers(self) -> list["Layer"]:
        return []

    def init(self, rng: np.random.Generator, dtype) -> None:
        pass

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _user(self, shape) -> tuple:
        return to_user_shape(shape, self.channels)

    def __call__(self, inputs):
        """Apply the layer to a symbolic tensor (or a list of them, for a merge) of the functional
        API: ``y = Conv2D(8, 3)(Input((32, 32, 3)))``. See :mod:`.graph`."""
        from .graph import call_layer
        return call_layer(self, inputs)


def _glorot_uniform(rng, shape, fan_in, fan_out, dtype):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def _he_normal(rng, shape, fan_in, dtype):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def _init_kernel(rng, shape, fan_in, fan_out, activation, dtype):
    """He normal before ReLU-like activations (He et al. 2015), Glorot uniform otherwise (Keras' default)."""
    if activation in ("relu", "leaky_relu"):
        return _he_normal(rng, shape, fan_in, dtype)
    return _glorot_uniform(rng, shape, fan_in, fan_out, dtype)


class _Conv(Layer):
    """N-D convolution (cross-correlation) + bias + activation, Keras arguments.

    Shape (channels-first): ``(C, *n) → (filters, *out)`` with
    ``out = ⌊(n + p_before + p_after − d·(k − 1) − 1)/s⌋ + 1`` (:func:`shapes.conv_output_size`);
    ``padding='same'`` is Keras' split ``(⌊P/2⌋, ⌈P/2⌉)`` from :func:`shapes.conv_padding`.
    Parameters ``w (F, C/g, *k)``, ``b (F,)``: ``F·(C/g)·∏k + F`` (:func:`params.conv_params`).
    """

    ndim = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, groups=1,
                 activation=None, use_bias=True, name=None):
        super().__init__(name)
        cls = self.type
        self.filters = _positive(cls, "filters", filters)
        self.kernel_size = _tuple("kernel_size", kernel_size, self.ndim)
        self.strides = _tuple("strides", strides, self.ndim)
        self.dilation_rate = _tuple("dilation_rate", dilation_rate, self.ndim)
        self.groups = _positive(cls, "groups", groups)
        if isinstance(padding, str):
            if padding not in S.MODES:
                raise ValueError(f"{cls}: padding must be one of {S.MODES} or ints, got padding={padding!r}")
        else:
            _explicit_pads(padding, self.ndim)  # validates
        self.padding = padding
        self.activation = _activation(cls, activation)
        self.use_bias = bool(use_bias)
        self.pads: tuple | None = None

    def _resolve_pads(self, n: tuple) -> tuple:
        if isinstance(self.padding, str):
            return S.conv_padding(n, self.kernel_size, self.strides, self.dilation_rate, self.padding)
        return _explicit_pads(self.padding, self.ndim)

    def _infer(self, shape):
        if len(shape) != self.ndim + 1:
            want = "(L, C)" if self.ndim == 1 else "(H, W, C)" if self.ndim == 2 else "(D, H, W, C)"
            if self.channels == "first":
                want = "(C, " + want[1:-4] + ")"
            raise ValueError(f"{self.type} needs a {self.ndim + 1}-D input {want}, got shape {self._user(shape)}")
        c, *n = shape
        if c % self.groups or self.filters % self.groups:
            raise ValueError(f"groups={self.groups} must divide the input channels ({c}) and filters ({self.filters})")
        self.in_channels = c
        self.pads = self._resolve_pads(tuple(n))
        out = S.conv_output_size(tuple(n), self.kernel_size, self.strides, self.pads, self.dilation_rate)
        out_shape = (self.filters, *out)
        _check_softmax_rank(self.type, self.activation, out_shape, self.channels)
        return out_shape

    def count(self):
        return P.ParamCount(P.conv_params(self.in_channels, self.filters, self.kernel_size, self.use_bias,
                                          self.groups), 0)

    def formula(self):
        terms = " x ".join(str(k) for k in self.kernel_size) + f" x {self.in_channels // self.groups}"
        return f"({terms} + 1) x {self.filters}" if self.use_bias else f"{terms} x {self.filters}"

    def param_shapes(self):
        shapes = {"w": (self.filters, self.in_channels // self.groups, *self.kernel_size)}
        if self.use_bias:
            shapes["b"] = (self.filters,)
        return shapes

    def init(self, rng, dtype):
        k = prod(self.kernel_size)
        fan_in, fan_out = self.in_channels // self.groups * k, self.filters // self.groups * k
        shape = self.param_shapes()["w"]
        self.params = {"w": _init_kernel(rng, shape, fan_in, fan_out, self.activation, dtype)}
        if self.use_bias:
            self.params["b"] = np.zeros(self.filters, dtype)

    def _options(self):
        return dict(stride=self.strides, padding=self.pads, dilation=self.dilation_rate, groups=self.groups)

    _forward_op = staticmethod(conv.conv_forward)
    _backward_op = staticmethod(conv.conv_backward)

    def forward(self, x, training=False):
        z = self._forward_op(x, self.params["w"], self.params.get("b"), **self._options())
        self._cache = (x, z)
        return _act_forward(self.activation, z)

    def backward(self, dout):
        x, z = self._cache
        dz = _act_backward(self.activation, dout, z)
        dx, dw, db = self._backward_op(dz, x, self.params["w"], self.params.get("b"), **self._options())
        self.grads = {"w": dw}
        if self.use_bias:
            self.grads["b"] = db
        return dx


class Conv1D(_Conv):
    __doc__ = _Conv.__doc__
    keras_name = "conv1d"
    ndim = 1


class Conv2D(_Conv):
    __doc__ = _Conv.__doc__
    keras_name = "conv2d"
    ndim = 2


class Conv3D(_Conv):
    __doc__ = _Conv.__doc__
    keras_name = "conv3d"
    ndim = 3


class _ConvTranspose(_Conv):
    """N-D transposed convolution + bias + activation (PyTorch's ``ConvTranspose`` arithmetic).

    Shape: ``(C, *n) → (filters, *out)``, ``out = (n − 1)·s − 2p + d·(k − 1) + output_padding + 1``
    (:func:`shapes.conv_transpose_output_size`). ``padding`` is ``'valid'`` (0) or ints.
    Parameters ``w (C, F/g, *k)``, ``b (F,)``: ``C·(F/g)·∏k + F`` (:func:`params.conv_transpose_params`).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=0, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, name=None):
        if isinstance(padding, str) and padding != "valid":
            raise ValueError(f"{type(self).__name__}: padding must be 'valid' or ints (PyTorch's transposed "
                             f"convolution arithmetic), got padding={padding!r}")
        super().__init__(filters, kernel_size, strides, 0 if padding == "valid" else padding, dilation_rate,
                         groups, activation, use_bias, name)
        self.output_padding = _tuple("output_padding", output_padding, self.ndim, 0)

    def _infer(self, shape):
        if len(shape) != self.ndim + 1:
            raise ValueError(f"{self.type} needs a {self.ndim + 1}-D input, got shape {self._user(shape)}")
        c, *n = shape
        if c % self.groups or self.filters % self.groups:
            raise ValueError(f"groups={self.groups} must divide the input channels ({c}) and filters ({self.filters})")
        self.in_channels = c
        self.pads = self._resolve_pads(tuple(n))
        if any(pb != pa for pb, pa in self.pads):
            raise ValueError(f"{self.type} takes symmetric padding (one int per dimension), got {self.padding!r}")
        out = S.conv_transpose_output_size(tuple(n), self.kernel_size, self.strides, self.pads,
                                           self.output_padding, self.dilation_rate)
        out_shape = (self.filters, *out)
        _check_softmax_rank(self.type, self.activation, out_shape, self.channels)
        return out_shape

    def count(self):
        return P.ParamCount(P.conv_transpose_params(self.in_channels, self.filters, self.kernel_size,
                                                    self.use_bias, self.groups), 0)

    def formula(self):
        terms = " x ".join(str(k) for k in self.kernel_size) + f" x {self.in_channels} x {self.filters // self.groups}"
        return f"{terms} + {self.filters}" if self.use_bias else terms

    def param_shapes(self):
        shapes = {"w": (self.in_channels, self.filters // self.groups, *self.kernel_size)}
        if self.use_bias:
            shapes["b"] = (self.filters,)
        return shapes

    # init is _Conv's: the fans are the same, only param_shapes() orders w differently

    def _options(self):
        return dict(stride=self.strides, padding=self.pads, output_padding=self.output_padding,
                    dilation=self.dilation_rate, groups=self.groups)

    # forward/backward are _Conv's, run with the transposed ops
    _forward_op = staticmethod(conv.conv_transpose_forward)
    _backward_op = staticmethod(conv.conv_transpose_backward)


class Conv1DTranspose(_ConvTranspose):
    __doc__ = _ConvTranspose.__doc__
    keras_name = "conv1d_transpose"
    ndim = 1


class Conv2DTranspose(_ConvTranspose):
    __doc__ = _ConvTranspose.__doc__
    keras_name = "conv2d_transpose"
    ndim = 2


class _Pool(Layer):
    """N-D max or average pooling, Keras arguments; no parameters (:func:`params.pool_params`).

    Shape: ``(C, *n) → (C, *out)``. ``padding='valid'`` or an int (PyTorch: ``p ≤ k/2``, max pads
    with −∞, average counts the zeros) gives ``out`` from :func:`shapes.pool_output_size`;
    ``padding='same'`` is Keras': ``out = ⌈n/s⌉``, padded ``(⌊P/2⌋, ⌈P/2⌉)`` as a conv would be, with
    the padding never winning a max and never counted in an average.
    """

    ndim = 2
    kind = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", name=None):
        super().__init__(name)
        self.pool_size = _tuple("pool_size", pool_size, self.ndim)
        self.strides = self.pool_size if strides is None else _tuple("strides", strides, self.ndim)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{self.type}: padding must be 'valid', 'same' or an int, got padding={padding!r}")
        else:
            _tuple("padding", padding, self.ndim, 0)
        self.padding = padding

    def _infer(self, shape):
        if len(shape) != self.ndim + 1:
            raise ValueError(f"{self.type} needs a {self.ndim + 1}-D input, got shape {self._user(shape)}")
        c, *n = shape
        n = tuple(n)
        if self.padding == "same":
            self.same_pads = S.conv_padding(n, self.pool_size, self.strides, 1, "same")
            padded = tuple(m + pb + pa for m, (pb, pa) in zip(n, self.same_pads))
            out = S.pool_output_size(padded, self.pool_size, self.strides, 0)
        else:
            pad = 0 if self.padding == "valid" else self.padding
            self.int_pad = _tuple("padding", pad, self.ndim, 0)
            out = S.pool_output_size(n, self.pool_size, self.strides, self.int_pad)
        return (c, *out)

    def _pad_width(self):
        return ((0, 0), (0, 0)) + tuple(self.same_pads)

    def _crop(self, dxp):
        index = (slice(None), slice(None)) + tuple(slice(pb, dxp.shape[2 + i] - pa)
                                                   for i, (pb, pa) in enumerate(self.same_pads))
        return dxp[index]

    def forward(self, x, training=False):
        if self.padding != "same":
            fn = pool.max_pool_forward if self.kind == "max" else pool.avg_pool_forward
            self._cache = x
            return fn(x, self.pool_size, stride=self.strides, padding=self.int_pad)
        if self.kind == "max":
            # −∞ never wins a max, and every 'same' window holds at least one real input element.
            xp = np.pad(x, self._pad_width(), constant_values=-np.inf)
            self._cache = xp
            return pool.max_pool_forward(xp, self.pool_size, stride=self.strides)
        # Keras averages over the real elements only: rescale the zero-padded average by ∏k / count.
        xp = np.pad(x, self._pad_width())
        ones = np.pad(np.ones((1, 1) + x.shape[2:], x.dtype), self._pad_width())
        count = pool.avg_pool_forward(ones, self.pool_size, stride=self.strides) * prod(self.pool_size)
        self._scale = prod(self.pool_size) / count
        self._cache = xp
        return pool.avg_pool_forward(xp, self.pool_size, stride=self.strides) * self._scale

    def backward(self, dout):
        if self.padding != "same":
            fn = pool.max_pool_backward if self.kind == "max" else pool.avg_pool_backward
            return fn(dout, self._cache, self.pool_size, stride=self.strides, padding=self.int_pad)
        xp = self._cache
        if self.kind == "max":
            return self._crop(pool.max_pool_backward(dout, xp, self.pool_size, stride=self.strides))
        return self._crop(pool.avg_pool_backward(dout * self._scale, xp, self.pool_size, stride=self.strides))


class MaxPool1D(_Pool):
    __doc__ = _Pool.__doc__
    keras_name, ndim, kind = "max_pooling1d", 1, "max"


class MaxPool2D(_Pool):
    __doc__ = _Pool.__doc__
    keras_name, ndim, kind = "max_pooling2d", 2, "max"


class AvgPool1D(_Pool):
    __doc__ = _Pool.__doc__
    keras_name, ndim, kind = "average_pooling1d", 1, "avg"


class AvgPool2D(_Pool):
    __doc__ = _Pool.__doc__
    keras_name, ndim, kind = "average_pooling2d", 2, "avg"


MaxPooling2D, AveragePooling2D, MaxPooling1D, AveragePooling1D = MaxPool2D, AvgPool2D, MaxPool1D, AvgPool1D


class _GlobalPool(Layer):
    """Global max/average pooling over all spatial axes: ``(C, *n) → (C,)``, no parameters."""

    kind = "avg"

    def _infer(self, shape):
        if len(shape) < 2:
            raise ValueError(f"{self.type} needs an input with spatial axes, got shape {self._user(shape)}")
        return (shape[0],)

    def _fns(self):
        return getattr(pool, f"global_{self.kind}_pool_forward"), getattr(pool, f"global_{self.kind}_pool_backward")

    def forward(self, x, training=False):
        fwd, _ = self._fns()
        y = fwd(x)
        self._cache = (x, y.shape)
        return y.reshape(x.shape[:2])

    def backward(self, dout):
        _, bwd = self._fns()
        x, y_shape = self._cache
        return bwd(dout.reshape(y_shape), x)


class GlobalAvgPool2D(_GlobalPool):
    __doc__ = _GlobalPool.__doc__
    keras_name, kind = "global_average_pooling2d", "avg"


class GlobalMaxPool2D(_GlobalPool):
    __doc__ = _GlobalPool.__doc__
    keras_name, kind = "global_max_pooling2d", "max"


class GlobalAvgPool1D(_GlobalPool):
    __doc__ = _GlobalPool.__doc__
    keras_name, kind = "global_average_pooling1d", "avg"


class GlobalMaxPool1D(_GlobalPool):
    __doc__ = _GlobalPool.__doc__
    keras_name, kind = "global_max_pooling1d", "max"


GlobalAveragePooling2D, GlobalMaxPooling2D = GlobalAvgPool2D, GlobalMaxPool2D


class Flatten(Layer):
    """Reshape to ``(N, ∏shape)``, no parameters. With ``channels='last'`` the order is ``(H, W, C)``
    as in Keras (the internal ``(N, C, H, W)`` is moved to channels-last first)."""

    keras_name = "flatten"

    def _infer(self, shape):
        return (prod(shape),)

    def forward(self, x, training=False):
        x_user = _to_last(x, self.channels)
        self._cache = x_user
        return L.flatten_forward(x_user)

    def backward(self, dout):
        return _to_first(L.flatten_backward(dout, self._cache), self.channels)


class Dense(Layer):
    """Fully connected layer ``y = act(x @ w + b)`` on a flat input: ``(in,) → (units,)``.

    Parameters ``w (in, units)``, ``b (units,)``: ``in·units + units`` (:func:`params.dense_params`).
    A spatial input is an error here (Keras would apply the layer along the last axis): add
    ``Flatten()`` or a global pool first.
    """

    keras_name = "dense"

    def __init__(self, units, activation=None, use_bias=True, name=None):
        super().__init__(name)
        self.units = _positive("Dense", "units", units)
        self.activation = _activation("Dense", activation)
        self.use_bias = bool(use_bias)

    def _infer(self, shape):
        if len(shape) != 1:
            raise ValueError(f"Dense needs a flat input (features,), got shape {self._user(shape)}; "
                             f"add Flatten() or a global pool before it")
        self.in_features = shape[0]
        return (self.units,)

    def count(self):
        return P.ParamCount(P.dense_params(self.in_features, self.units, self.use_bias), 0)

    def formula(self):
        return f"({self.in_features} + 1) x {self.units}" if self.use_bias else f"{self.in_features} x {self.units}"

    def param_shapes(self):
        shapes = {"w": (self.in_features, self.units)}
        if self.use_bias:
            shapes["b"] = (self.units,)
        return shapes

    def init(self, rng, dtype):
        self.params = {"w": _init_kernel(rng, (self.in_features, self.units), self.in_features, self.units,
                                         self.activation, dtype)}
        if self.use_bias:
            self.params["b"] = np.zeros(self.units, dtype)

    def forward(self, x, training=False):
        z = L.dense_forward(x, self.params["w"], self.params.get("b"))
        self._cache = (x, z)
        return _act_forward(self.activation, z)

    def backward(self, dout):
        x, z = self._cache
        dz = _act_backward(self.activation, dout, z)
        dx, dw, db = L.dense_backward(dz, x, self.params["w"], self.params.get("b"))
        self.grads = {"w": dw}
        if self.use_bias:
            self.grads["b"] = db
        return dx


class Activation(Layer):
    """Element-wise activation (``'relu'``, ``'leaky_relu'``, ``'tanh'``, ``'sigmoid'``, ``'softmax'``
    over the features of a flat input, ``'linear'``); no parameters."""

    keras_name = "activation"

    def __init__(self, activation, name=None):
        super().__init__(name)
        self.activation = _activation(self.type, activation)

    def _infer(self, shape):
        _check_softmax_rank(self.type, self.activation, shape, self.channels)
        return shape

    def forward(self, x, training=False):
        self._cache = x
        return _act_forward(self.activation, x)

    def backward(self, dout):
        return _act_backward(self.activation, dout, self._cache)


class ReLU(Activation):
    """``max(x, 0)``, element-wise; no parameters."""

    keras_name = "re_lu"

    def __init__(self, name=None):
        super().__init__("relu", name)


class LeakyReLU(Activation):
    """``x if x > 0 else 0.01·x`` (PyTorch's slope), element-wise; no parameters."""

    keras_name = "leaky_re_lu"

    def __init__(self, name=None):
        super().__init__("leaky_relu", name)


class BatchNorm(Layer):
    """Batch normalization over the channel axis (features of a flat input), PyTorch defaults.

    Training: ``y = γ·(x − μ_B)/√(σ²_B + ε) + β`` with batch statistics over every axis but the
    channel (Ioffe & Szegedy 2015, Algorithm 1), and the running statistics move by ``momentum``
    (``r ← (1 − m)·r + m·stat``, the variance unbiased, as PyTorch). Inference: the running
    statistics replace the batch ones. Parameters ``γ, β (C,)``: 2C trainable, plus 2C running
    statistics counted as non-trainable (:func:`params.batchnorm_params`; Keras reports them so,
    PyTorch keeps them as buffers).
    """

    keras_name = "batch_normalization"

    def __init__(self, momentum=0.1, epsilon=1e-5, name=None):
        super().__init__(name)
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got momentum={momentum!r}")
        if not float(epsilon) > 0:
            raise ValueError(f"BatchNorm: epsilon must be positive, got epsilon={epsilon!r}")
        self.momentum, self.epsilon = float(momentum), float(epsilon)

    def _infer(self, shape):
        self.num_features = shape[0]
        return shape

    def count(self):
        return P.batchnorm_params(self.num_features)

    def formula(self):
        return f"2 x {self.num_features} (+ 2 x {self.num_features} running)"

    def param_shapes(self):
        return {"gamma": (self.num_features,), "beta": (self.num_features,)}

    def state_shapes(self):
        return {"running_mean": (self.num_features,), "running_var": (self.num_features,)}

    def init(self, rng, dtype):
        c = self.num_features
        self.params = {"gamma": np.ones(c, dtype), "beta": np.zeros(c, dtype)}
        self.state = {"running_mean": np.zeros(c, dtype), "running_var": np.ones(c, dtype)}

    def _bshape(self, x):
        return (1, -1) + (1,) * (x.ndim - 2)

    def forward(self, x, training=False):
        gamma, beta = self.params["gamma"], self.params["beta"]
        if training:
            axes = (0,) + tuple(range(2, x.ndim))
            m = x.size // x.shape[1]
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            mom = self.momentum
            self.state["running_mean"] = (1 - mom) * self.state["running_mean"] + mom * mean
            self.state["running_var"] = (1 - mom) * self.state["running_var"] + mom * var * m / max(m - 1, 1)
            self._cache = (x, True)
            return L.batchnorm_forward(x, gamma, beta, eps=self.epsilon)
        inv_std = 1.0 / np.sqrt(self.state["running_var"] + self.epsilon)
        x_hat = (x - self.state["running_mean"].reshape(self._bshape(x))) * inv_std.reshape(self._bshape(x))
        self._cache = (x_hat, False)
        return gamma.reshape(self._bshape(x)) * x_hat + beta.reshape(self._bshape(x))

    def backward(self, dout):
        saved, training = self._cache
        gamma, beta = self.params["gamma"], self.params["beta"]
        if training:
            dx, dgamma, dbeta = L.batchnorm_backward(dout, saved, gamma, beta, eps=self.epsilon)
        else:
            # Inference is affine in x: dx = dy·γ/√(r_var + ε), dγ = Σ dy·x̂, dβ = Σ dy.
            x_hat, axes = saved, (0,) + tuple(range(2, dout.ndim))
            inv_std = 1.0 / np.sqrt(self.state["running_var"] + self.epsilon)
            dx = dout * (gamma * inv_std).reshape(self._bshape(dout))
            dgamma, dbeta = (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)
        self.grads = {"gamma": dgamma, "beta": dbeta}
        return dx


BatchNormalization = BatchNorm


class Dropout(Layer):
    """Inverted dropout: in training ``y = x·mask/(1 − rate)`` with ``mask ~ Bernoulli(1 − rate)``
    drawn from the model's generator; identity at inference. No parameters."""

    keras_name = "dropout"

    def __init__(self, rate, name=None):
        super().__init__(name)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got rate={rate!r}")
        self.rate = float(rate)
        self.rng = np.random.default_rng(0)

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._cache = None
            return x
        mask = self.rng.random(x.shape) >= self.rate
        self._cache = (x, mask)
        return L.dropout_forward(x, mask, p=self.rate)

    def backward(self, dout):
        if self._cache is None:
            return dout
        x, mask = self._cache
        return L.dropout_backward(dout, x, mask, p=self.rate)


class Residual(Layer):
    """A residual block ``y = body(x) + shortcut(x)`` (He et al. 2016, eq. 1–2).

    ``layers``: the body, a list of layers. ``shortcut``: ``None`` — the identity, so the body must
    keep the shape; ``'projection'`` — a 1×1 convolution without bias (stride chosen to match the
    body's output size) followed by ``BatchNorm``, ResNet's option B; or a list of layers. Put an
    activation after the block as its own layer (ResNet: ``Residual(...)`` then ``ReLU()``).
    Parameters: those of the body and the shortcut.
    """

    keras_name = "residual"

    def __init__(self, layers, shortcut=None, name=None):
        super().__init__(name)
        if not layers:
            raise ValueError("Residual: the body needs at least one layer")
        self.body = list(layers)
        if shortcut is not None and shortcut != "projection" and not isinstance(shortcut, (list, tuple)):
            raise ValueError(f"Residual: shortcut must be None, 'projection' or a list of layers, got {shortcut!r}")
        self.shortcut_spec = shortcut
        self.shortcut: list[Layer] = list(shortcut) if isinstance(shortcut, (list, tuple)) else []

    def sublayers(self):
        return self.body + self.shortcut

    def _projection(self, shape, out_shape) -> list[Layer]:
        c, *n = shape
        f, *m = out_shape
        strides = []
        for n_i, m_i in zip(n, m):
            s = max(1, -(-n_i // m_i))
            if (n_i - 1) // s + 1 != m_i:
                raise ValueError(f"no 1×1 projection stride maps {_dims(n)} to {_dims(m)}")
            strides.append(s)
        conv = {1: Conv1D, 2: Conv2D, 3: Conv3D}[len(n)](f, 1, strides=tuple(strides), use_bias=False)
        return [conv, BatchNorm()]

    def build(self, input_shape, channels):
        # Sequential names the sublayers before building, see Sequential._name_layers.
        self.input_shape, self.channels = tuple(input_shape), channels
        shape = self.input_shape
        for i, layer in enumerate(self.body):
            shape = build_layer(layer, shape, channels, f"body[{i}]")
        if self.shortcut_spec == "projection" and not self.shortcut:
            if len(shape) < 2 or len(shape) != len(input_shape):
                raise ValueError(f"a projection shortcut needs spatial input and output, got "
                                 f"{self._user(input_shape)} → {self._user(shape)}")
            self.shortcut = self._projection(input_shape, shape)
            if self.name:
                self.shortcut[0].name, self.shortcut[1].name = f"{self.name}_proj", f"{self.name}_proj_bn"
        short = self.input_shape
        for i, layer in enumerate(self.shortcut):
            short = build_layer(layer, short, channels, f"shortcut[{i}]")
        if short != shape:
            what = "the identity shortcut" if not self.shortcut else "the shortcut"
            hint = "" if self.shortcut else " (use shortcut='projection'; in a spec: 'shortcut projection')"
            raise ValueError(f"the body maps {self._user(input_shape)} → {self._user(shape)} but {what} gives "
                             f"{self._user(short)}; the sum needs equal shapes{hint}")
        self.output_shape = shape
        return shape

    def count(self):
        counts = [layer.count() for layer in self.sublayers()]
        return P.ParamCount(sum(c.trainable for c in counts), sum(c.non_trainable for c in counts))

    def formula(self):
        return "body + shortcut" if self.shortcut else "body + identity"

    def init(self, rng, dtype):
        for layer in self.sublayers():
            layer.init(rng, dtype)

    def forward(self, x, training=False):
        y = x
        for layer in self.body:
            y = layer.forward(y, training)
        s = x
        for layer in self.shortcut:
            s = layer.forward(s, training)
        return y + s

    def backward(self, dout):
        d_body = dout
        for layer in reversed(self.body):
            d_body = layer.backward(d_body)
        d_short = dout
        for layer in reversed(self.shortcut):
            d_short = layer.backward(d_short)
        return d_body + d_short


def build_layer(layer: Layer, shape: tuple, channels: str, where: str) -> tuple:
    """Build one layer, turning its ValueError into a ModelError naming the layer and the input shape."""
    if not isinstance(layer, Layer):
        raise ModelError(f"{where}: expected a layer (Conv2D, Dense, ...), got {layer!r}")
    try:
        return layer.build(shape, channels)
    except ModelError as exc:  # from inside a residual block: say which block
        raise ModelError(f"{where} '{layer.name}' ({layer.type}), {exc}", exc.layer) from None
    except ValueError as exc:
        raise ModelError(f"{where} '{layer.name}' ({layer.type}) on input shape "
                         f"{to_user_shape(shape, channels)}: {exc}", layer) from None


# --- the model ------------------------------------------------------------------------------------

@dataclass
class Row:
    """One line of a summary: a layer, its output shape (no batch axis, in the input's convention)
    and its parameter count (``params = trainable + non_trainable``). ``depth`` > 0 marks a layer
    inside a residual block, already counted in the block's row."""

    name: str
    type: str
    output_shape: tuple
    params: int
    trainable: int
    non_trainable: int
    formula: str = ""
    depth: int = 0
    branch: str = ""  # inside a residual block: "body" or "shortcut"


@dataclass
class Summary:
    """What ``model.summary()`` returns: rows and totals; ``str()`` is a Keras-style table."""

    name: str
    input_shape: tuple
    rows: list[Row]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    channels: str = "last"

    def to_dict(self) -> dict:
        return {
            "name": self.name, "input_shape": list(self.input_shape), "channels": self.channels,
            "layers": [{"name": r.name, "type": r.type, "output_shape": list(r.output_shape), "params": r.params,
                        "trainable": r.trainable, "non_trainable": r.non_trainable, "formula": r.formula,
                        "depth": r.depth, "branch": r.branch} for r in self.rows],
            "total_params": self.total_params, "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        cells = [("Layer (type)", "Output Shape", "Param #", "Computation")]
        cells.append(("input (InputLayer)", str(self.input_shape), "0", ""))
        for r in self.rows:
            indent = "  " * r.depth + ("shortcut: " if r.branch == "shortcut" else "")
            cells.append((f"{indent}{r.name} ({r.type})", str(r.output_shape), f"{r.params:,}", r.formula))
        widths = [max(len(row[i]) for row in cells) + 2 for i in range(4)]
        width = sum(widths)

        def line(row):
            return "".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

        out = [f'Model: "{self.name}"', "_" * width, line(cells[0]), "=" * width]
        out += [line(row) for row in cells[1:]]
        out += ["=" * width, f"Total params: {self.total_params:,}", f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}", "_" * width]
        return "\n".join(out)


class Network:
    """What a model holds whatever its wiring (:class:`Sequential` here, ``graph.Model``): layers
    named Keras' way, their weights, parameter counts, and the loss. A subclass supplies
    ``__init__``, ``summary``, ``forward``, ``backward`` and ``loss_and_grads``."""

    layers: list
    name: str

    def _name_layers(self) -> None:
        seen: dict[str, int] = {}
        taken = {layer.name for layer in self.all_layers() if layer.name}

        def visit(layer):
            if not layer.name:
                while True:
                    k = seen.get(layer.keras_name, 0)
                    seen[layer.keras_name] = k + 1
                    name = layer.keras_name if k == 0 else f"{layer.keras_name}_{k}"
                    if name not in taken:
                        break
                layer.name = name
                taken.add(name)
            for sub in layer.sublayers():
                visit(sub)

        for layer in self.layers:
            visit(layer)
        names = [layer.name for layer in self.all_layers()]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ModelError(f"layer names must be unique, repeated: {duplicates}")

    def all_layers(self) -> list[Layer]:
        """Every layer, residual blocks followed by their body and shortcut layers (summary order)."""
        out: list[Layer] = []

        def visit(layer):
            out.append(layer)
            for sub in layer.sublayers():
                visit(sub)

        for layer in self.layers:
            visit(layer)
        return out

    def count_params(self) -> int:
        """All weights, trainable and not (Keras' ``count_params``)."""
        return sum(layer.count().total for layer in self.layers)

    # --- weights ---

    def init(self, seed=0, dtype=np.float64) -> "Sequential":
        """Fresh weights: kernels He-normal before ReLU-like activations and Glorot-uniform otherwise,
        biases and β zero, γ one, running mean 0 and variance 1; dropout masks seeded too."""
        rng = np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        for layer in self.all_layers():
            if layer.sublayers():
                continue
            layer.init(rng, self.dtype)
            if isinstance(layer, Dropout):
                layer.rng = np.random.default_rng(rng.integers(2**63))
            layer.grads = {}
        return self

    @property
    def params(self) -> dict[str, np.ndarray]:
        """``{"<layer>.<name>": array}`` — the layers' own arrays (assigning into them changes the model)."""
        return {f"{l.name}.{k}": v for l in self.all_layers() for k, v in l.params.items()}

    @property
    def state(self) -> dict[str, np.ndarray]:
        """Non-trainable state (batch-norm running statistics), keyed like :attr:`params`."""
        return {f"{l.name}.{k}": v for l in self.all_layers() for k, v in l.state.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{l.name}.{k}": v for l in self.all_layers() for k, v in l.grads.items()}

    def set_params(self, values: dict[str, np.ndarray]) -> None:
        """Replace parameters or state by key (shapes must match)."""
        by_name = {l.name: l for l in self.all_layers()}
        for key, value in values.items():
            layer_name, _, pname = key.rpartition(".")
            layer = by_name.get(layer_name)
            store = None if layer is None else layer.params if pname in layer.params else \
                layer.state if pname in layer.state else None
            if store is None:
                raise KeyError(f"no parameter {key!r}; known: {sorted(self.params) + sorted(self.state)}")
            value = np.asarray(value, dtype=store[pname].dtype)
            if value.shape != store[pname].shape:
                raise ValueError(f"{key}.shape={value.shape}, but should be {store[pname].shape}")
            store[pname] = value.copy()

    def _require_weights(self):
        if self.dtype is None:
            raise RuntimeError("the model has no weights yet: call model.init(seed) first")

    def _softmax_output(self) -> bool:
        last = self.layers[-1]
        return getattr(last, "activation", None) == "softmax"

    @staticmethod
    def _backward_without_softmax(layer: Layer, dlogits: np.ndarray) -> np.ndarray:
        if isinstance(layer, Activation):
            return dlogits
        saved = layer.activation
        layer.activation = "linear"
        try:
            return layer.backward(dlogits)
        finally:
            layer.activation = saved

    def loss(self, x, y, training=True) -> float:
        """Mean softmax cross-entropy (see :meth:`loss_and_grads`), without the backward pass."""
        out = self.forward(x, training)
        if self._softmax_output():
            last = self.layers[-1]
            logits = last._cache if isinstance(last, Activation) else last._cache[1]
        else:
            logits = out
        return float(L.softmax_cross_entropy(logits, np.asarray(y))[0])

    def predict(self, x) -> np.ndarray:
        return self.forward(x, training=False)



class Sequential(Network):
    """A stack of layers applied in order, with Keras' ``summary()`` / ``count_params()`` and NumPy
    ``init`` / ``forward`` / ``backward`` / ``loss``. See the module docstring for the conventions."""

    def __init__(self, layers, input_shape, channels="last", name="sequential"):
        if channels not in ("last", "first"):
            raise ValueError(f"channels must be 'last' or 'first', got channels={channels!r}")
        if not layers:
            raise ModelError("a Sequential model needs at least one layer")
        self.layers: list[Layer] = list(layers)
        self.channels, self.name = channels, name
        self.input_shape = _tuple("input_shape", tuple(input_shape), len(tuple(input_shape)))
        self.dtype = None
        self.dx: np.ndarray | None = None
        self._name_layers()
        shape = to_internal_shape(self.input_shape, channels)
        for i, layer in enumerate(self.layers):
            shape = build_layer(layer, shape, channels, f"layer {i}")
        self.output_shape = to_user_shape(shape, channels)

    # --- summary ---

    def summary(self) -> Summary:
        rows: list[Row] = []

        def visit(layer, depth, branch):
            c = layer.count()
            rows.append(Row(layer.name, layer.type, to_user_shape(layer.output_shape, self.channels), c.total,
                            c.trainable, c.non_trainable, layer.formula(), depth, branch))
            if isinstance(layer, Residual):
                for sub in layer.body:
                    visit(sub, depth + 1, "body")
                for sub in layer.shortcut:
                    visit(sub, depth + 1, "shortcut")

        for layer in self.layers:
            visit(layer, 0, "")
        counts = [layer.count() for layer in self.layers]
        trainable = sum(c.trainable for c in counts)
        non_trainable = sum(c.non_trainable for c in counts)
        return Summary(self.name, self.input_shape, rows, trainable + non_trainable, trainable, non_trainable,
                       self.channels)

    # --- forward and backward ---

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Run the layers on ``x`` of shape ``(N, *input_shape)``. ``training=True`` uses batch
        statistics in BatchNorm (and updates the running ones) and draws dropout masks."""
        self._require_weights()
        x = np.asarray(x)
        if x.ndim != len(self.input_shape) + 1 or x.shape[1:] != self.input_shape:
            raise ValueError(f"x.shape={x.shape}, but should be (N, {', '.join(map(str, self.input_shape))}) "
                             f"[{self.name}.forward(channels={self.channels!r})]")
        y = _to_first(x.astype(self.dtype, copy=False), self.channels)
        for layer in self.layers:
            y = layer.forward(y, training)
        return _to_last(y, self.channels)

    def backward(self, dout: np.ndarray) -> dict[str, np.ndarray]:
        """Back-propagate ``dout = ∂L/∂y`` (shape of the last forward's output) through every layer:
        returns ``{"<layer>.<param>": ∂L/∂param}`` and sets ``self.dx = ∂L/∂x`` (shape of x)."""
        dout = np.asarray(dout)
        expected = (None, *self.output_shape)
        if dout.ndim != len(expected) or dout.shape[1:] != self.output_shape:
            raise ValueError(f"dout.shape={dout.shape}, but should be (N, {', '.join(map(str, self.output_shape))}) "
                             f"[{self.name}.backward]")
        d = _to_first(dout.astype(self.dtype, copy=False), self.channels)
        for layer in reversed(self.layers):
            d = layer.backward(d)
        self.dx = _to_last(d, self.channels)
        return self.grads

    def loss_and_grads(self, x, y, training=True) -> tuple[float, dict[str, np.ndarray]]:
        """Mean softmax cross-entropy of the model's output for integer labels ``y``, and its gradient
        per parameter. When the last layer ends in softmax, its input is taken as the logits
        (``∂L/∂z = p − onehot(y)``), as Keras' ``from_logits`` handling does."""
        out = self.forward(x, training)
        last = self.layers[-1]
        if self._softmax_output():
            logits = last._cache if isinstance(last, Activation) else last._cache[1]
            loss, dlogits = L.softmax_cross_entropy(logits, np.asarray(y))
            d = dlogits
            for layer in reversed(self.layers):
                if layer is last:
                    d = self._backward_without_softmax(last, dlogits)
                else:
                    d = layer.backward(d)
            self.dx = _to_last(d, self.channels)
            return float(loss), self.grads
        if out.ndim != 2:
            raise ModelError(f"softmax cross-entropy needs (N, classes) outputs, got {out.shape}")
        loss, dlogits = L.softmax_cross_entropy(out, np.asarray(y))
        return float(loss), self.backward(dlogits)

    def to_torch(self, dtype=None, device="cpu", weights=True):
        """An ``nn.Module`` computing the same function with the same weights (``checks.export``)."""
        from convcheck.checks.export import to_torch
        return to_torch(self, dtype=dtype, device=device, weights=weights)

    def __repr__(self):
        return f"Sequential(name={self.name!r}, {len(self.layers)} layers, input_shape={self.input_shape}, " \
               f"channels={self.channels!r})"


# --- the spec format ------------------------------------------------------------------------------

class SpecError(ValueError):
    """A line of a model spec that does not parse; the message names the line and what was expected."""

    def __init__(self, lineno: int, line: str, expected: str, source: str = "spec"):
        self.lineno, self.line, self.expected = lineno, line, expected
        super().__init__(f"{source}, line {lineno}: {line.strip()!r}: {expected}")


SPEC_HELP = """\
One layer per line; '#' starts a comment; sizes are N or NxM; an activation name may end a layer line.
  input 32x32x3 [channels first]    input shape (H x W x C, or C x H x W with 'channels first'; L x C in 1-D)
  conv F K [stride S] [pad valid|same|full|P] [dilation D] [groups G] [nobias] [ACT]
  deconv F K [stride S] [pad P] [outpad P] [dilation D] [groups G] [nobias] [ACT]
  maxpool K [stride S] [pad valid|same|P]      avgpool K [stride S] [pad valid|same|P]
  globalavgpool | globalmaxpool | flatten
  dense N [nobias] [ACT]
  relu | leakyrelu | tanh | sigmoid | softmax | linear      (activation layers)
  batchnorm [momentum M] [eps E]      dropout RATE
  residual ... [shortcut [projection]] ... end     (a residual block: body lines, then optional shortcut lines)
ACT is one of relu, leakyrelu, tanh, sigmoid, softmax, linear. Options follow the sizes in any order;
sizes may be written 3x3 or 3×3. Example:
  input 28x28x1
  conv 32 3x3 pad same stride 2 relu
  maxpool 2
  flatten
  dense 10 softmax"""

_INT = re.compile(r"^\d+(x\d+)*$")


def _sizes_token(token: str) -> str:
    """``5x5``, ``5X5`` and ``5×5`` (as the quiz and the course print sizes) all read as ``5x5``."""
    return token.lower().replace("×", "x")
_ACT_WORDS = {"relu": "relu", "leakyrelu": "leaky_relu", "leaky_relu": "leaky_relu", "tanh": "tanh",
              "sigmoid": "sigmoid", "softmax": "softmax", "linear": "linear"}


class _Line:
    """Tokens of one spec line, consumed left to right, raising SpecError with what was expected."""

    def __init__(self, lineno, text, source):
        self.lineno, self.text, self.source = lineno, text, source
        self.tokens = text.split("#", 1)[0].split()
        self.pos = 1

    def error(self, expected):
        return SpecError(self.lineno, self.text, expected, self.source)

    def sizes(self, what, ndim=None, allow_zero=False):
        if self.pos >= len(self.tokens):
            raise self.error(f"expected {what} (a number like 5 or 5x5) after {self.tokens[self.pos - 1]!r}")
        tok = _sizes_token(self.tokens[self.pos])
        if not _INT.match(tok):
            raise self.error(f"expected {what} (a number like 5 or 5x5), got {self.tokens[self.pos]!r}")
        values = tuple(int(v) for v in tok.split("x"))
        if not allow_zero and 0 in values:
            raise self.error(f"{what} must be positive, got {tok!r}")
        if ndim is not None and len(values) not in (1, ndim):
            wanted = "one number" if ndim == 1 else f"1 or {ndim} numbers"
            hint = ("; the input line ends with the channel count: 'input 28x28x1' is a 28×28 image with "
                    "1 channel, 'input 28x28' a signal of length 28 with 28 channels") if len(values) > ndim else ""
            raise self.error(f"{what} needs {wanted} for a {ndim}-D input, got {tok!r}{hint}")
        self.pos += 1
        return values[0] if len(values) == 1 else values

    def number(self, what):
        if self.pos >= len(self.tokens):
            raise self.error(f"expected {what} after {self.tokens[self.pos - 1]!r}")
        tok = self.tokens[self.pos]
        try:
            value = float(tok)
        except ValueError:
            raise self.error(f"expected {what} (a number), got {tok!r}") from None
        self.pos += 1
        return value

    def options(self, allowed: dict, activation=False):
        """Parse ``key value`` pairs and flags; returns (options dict, activation or None)."""
        opts, act = {}, None
        while self.pos < len(self.tokens):
            tok = self.tokens[self.pos].lower()
            if activation and tok in _ACT_WORDS and act is None:
                act = _ACT_WORDS[tok]
                self.pos += 1
                continue
            if tok not in allowed:
                names = sorted(allowed) + (["an activation"] if activation else [])
                raise self.error(f"unexpected {self.tokens[self.pos]!r}; expected one of: {', '.join(names)}")
            self.pos += 1
            opts[tok] = allowed[tok](self)
        return opts, act


def _pad_value(line: _Line, modes=("valid", "same", "full")):
    if line.pos < len(line.tokens) and line.tokens[line.pos].lower() in modes:
        line.pos += 1
        return line.tokens[line.pos - 1].lower()
    if line.pos < len(line.tokens) and not _INT.match(_sizes_token(line.tokens[line.pos])):
        raise line.error(f"expected a padding ({' or '.join(modes)} or a number like 1 or 1x2), "
                         f"got {line.tokens[line.pos]!r}")
    return line.sizes("a padding", allow_zero=True)


def _flag(line):
    return True


def parse_spec(text: str, name: str = "model", source: str = "spec") -> Sequential:
    """Build a :class:`Sequential` from the spec format (``SPEC_HELP`` lists every line form).

    Convolutions and pools take their dimension from the input (``conv 6 5`` on a 2-D image is a
    5×5 ``Conv2D``; on a 1-D signal a ``Conv1D``); ``5x3`` gives a per-dimension size. Errors are
    :class:`SpecError` naming the line and what was expected, or :class:`ModelError` for a model
    that parses but does not fit together.
    """
    lines = [_Line(i, raw, source) for i, raw in enumerate(text.splitlines(), start=1)]
    lines = [ln for ln in lines if ln.tokens]
    if not lines or lines[0].tokens[0].lower() != "input":
        first = lines[0] if lines else _Line(1, "", source)
        raise first.error("expected the first line to be 'input HxWxC' (e.g. input 32x32x3)")
    head = lines[0]
    dims = head.sizes("the input shape (e.g. 32x32x3)")
    dims = (dims,) if isinstance(dims, int) else dims
    channels = "last"
    rest = [t.lower() for t in head.tokens[head.pos:]]
    if rest in (["channels", "first"], ["channels-first"], ["channels_first"]):
        channels = "first"
    elif rest in (["channels", "last"], ["channels-last"], ["channels_last"]):
        channels = "last"
    elif rest:
        raise head.error(f"unexpected {' '.join(head.tokens[head.pos:])!r}; expected nothing or 'channels first'")
    spatial = max(len(dims) - 1, 0)
    windowed = [ln for ln in lines[1:] if ln.tokens[0].lower() in ("conv", "deconv", "maxpool", "avgpool")]
    if spatial == 0 and windowed:
        raise head.error(f"the input {head.tokens[1]!r} has no channel count, which a "
                         f"{windowed[0].tokens[0].lower()} layer needs: the last size is the channels "
                         f"(input {dims[0]}x1 is a signal of length {dims[0]} with 1 channel, "
                         f"input {dims[0]}x{dims[0]}x1 a {dims[0]}×{dims[0]} image with 1 channel)")

    stack: list[tuple[list, list | None, _Line]] = []  # open residual blocks: (body, shortcut, line)
    line_of: dict[int, _Line] = {}  # id(layer) -> its line, to place a ModelError in the file
    top: list[Layer] = []

    def target():
        if not stack:
            return top
        body, shortcut, _ = stack[-1]
        return shortcut if shortcut is not None else body

    for line in lines[1:]:
        word = line.tokens[0].lower()
        if word == "input":
            raise line.error("'input' may appear only once, on the first line")
        if word == "residual":
            if line.pos < len(line.tokens):
                raise line.error(f"unexpected {line.tokens[line.pos]!r} after 'residual'")
            stack.append(([], None, line))
            continue
        if word == "shortcut":
            if not stack or stack[-1][1] is not None:
                raise line.error("'shortcut' must follow the body of an open 'residual' block")
            body, _, opened = stack.pop()
            if not body:
                raise line.error("expected at least one body layer between 'residual' and 'shortcut'")
            extra = [t.lower() for t in line.tokens[1:]]
            if extra == ["projection"]:
                stack.append((body, "projection", opened))
            elif extra:
                raise line.error(f"expected 'shortcut' or 'shortcut projection', got {line.text.strip()!r}")
            else:
                stack.append((body, [], opened))
            continue
        if word == "end":
            if not stack:
                raise line.error("'end' without an open 'residual' block")
            body, shortcut, opened = stack.pop()
            if not body:
                raise line.error("expected at least one body layer in the residual block")
            if isinstance(shortcut, list) and not shortcut:
                raise line.error("expected shortcut layers after 'shortcut' (or write 'shortcut projection')")
            block = Residual(body, shortcut=shortcut or None)
            line_of[id(block)] = opened
            target().append(block)
            continue
        if isinstance(stack[-1][1] if stack else None, str):
            raise line.error("'shortcut projection' takes no layers; expected 'end'")
        layer = _parse_layer(line, word, spatial)
        line_of[id(layer)] = line
        target().append(layer)
    if stack:
        raise SpecError(stack[-1][2].lineno, stack[-1][2].text, "this 'residual' block is never closed with 'end'",
                        source)
    try:
        return Sequential(top, input_shape=dims, channels=channels, name=name)
    except ModelError as exc:
        line = line_of.get(id(exc.layer))
        where = f"{source}, line {line.lineno}: " if line else f"{source}: "
        raise ModelError(where + str(exc), exc.layer) from None


def _parse_layer(line: _Line, word: str, spatial: int) -> Layer:
    nd = max(spatial, 1)

    def sizes(what, zero=False):
        return lambda ln: ln.sizes(what, nd, allow_zero=zero)

    if word in ("conv", "deconv"):
        filters = line.sizes("the number of filters")
        if not isinstance(filters, int):
            raise line.error(f"expected the number of filters (one number), got {line.tokens[1]!r}")
        kernel = line.sizes("a kernel size", nd)
        allowed = {"stride": sizes("a stride"), "dilation": sizes("a dilation"),
                   "groups": lambda ln: ln.sizes("the number of groups"), "nobias": _flag}
        if word == "conv":
            allowed["pad"] = _pad_value
        else:
            allowed["pad"] = lambda ln: _pad_value(ln, modes=("valid",))
            allowed["outpad"] = sizes("an output padding", zero=True)
        opts, act = line.options(allowed, activation=True)
        kwargs = dict(strides=opts.get("stride", 1), padding=opts.get("pad", "valid"),
                      dilation_rate=opts.get("dilation", 1), groups=opts.get("groups", 1), activation=act,
                      use_bias="nobias" not in opts)
        if word == "conv":
            cls = {1: Conv1D, 2: Conv2D, 3: Conv3D}.get(nd)
        else:
            cls = {1: Conv1DTranspose, 2: Conv2DTranspose}.get(nd)
            kwargs["output_padding"] = opts.get("outpad", 0)
        if cls is None:
            raise line.error(f"no {word} layer for a {nd}-D input")
        return _construct(line, cls, filters, kernel, **kwargs)
    if word in ("maxpool", "avgpool"):
        k = line.sizes("a pool size", nd)
        opts, _ = line.options({"stride": sizes("a stride"),
                                "pad": lambda ln: _pad_value(ln, modes=("valid", "same"))})
        cls = {("max", 1): MaxPool1D, ("max", 2): MaxPool2D, ("avg", 1): AvgPool1D, ("avg", 2): AvgPool2D}.get(
            (word[:3], nd))
        if cls is None:
            raise line.error(f"no {word} layer for a {nd}-D input")
        return _construct(line, cls, k, strides=opts.get("stride"), padding=opts.get("pad", "valid"))
    simple = {"flatten": Flatten, "globalavgpool": GlobalAvgPool2D if nd != 1 else GlobalAvgPool1D,
              "globalmaxpool": GlobalMaxPool2D if nd != 1 else GlobalMaxPool1D, "relu": ReLU,
              "leakyrelu": LeakyReLU}
    if word in simple:
        line.options({})
        return _construct(line, simple[word])
    if word in ("tanh", "sigmoid", "softmax", "linear"):
        line.options({})
        return _construct(line, Activation, word)
    if word == "dense":
        units = line.sizes("the number of units")
        if not isinstance(units, int):
            raise line.error(f"expected the number of units (one number), got {line.tokens[1]!r}")
        opts, act = line.options({"nobias": _flag}, activation=True)
        return _construct(line, Dense, units, activation=act, use_bias="nobias" not in opts)
    if word == "batchnorm":
        opts, _ = line.options({"momentum": lambda ln: ln.number("a momentum"),
                                "eps": lambda ln: ln.number("an epsilon")})
        return _construct(line, BatchNorm, momentum=opts.get("momentum", 0.1), epsilon=opts.get("eps", 1e-5))
    if word == "dropout":
        rate = line.number("a dropout rate in [0, 1)")
        line.options({})
        return _construct(line, Dropout, rate)
    raise line.error(f"unknown layer {line.tokens[0]!r}; expected one of: conv, deconv, maxpool, avgpool, "
                     f"globalavgpool, globalmaxpool, flatten, dense, relu, leakyrelu, tanh, sigmoid, softmax, "
                     f"linear, batchnorm, dropout, residual, shortcut, end")


def _construct(line: _Line, cls, *args, **kwargs) -> Layer:
    try:
        return cls(*args, **kwargs)
    except ValueError as exc:
        raise line.error(str(exc)) from None


# --- bundled specs --------------------------------------------------------------------------------

def bundled_names() -> list[str]:
    """Names of the specs shipped in ``reference/specs/`` (``lenet-course``, ``lenet5``, ...)."""
    folder = resources.files("convcheck.reference") / "specs"
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt"))


def bundled_text(name: str) -> str:
    folder = resources.files("convcheck.reference") / "specs"
    path = folder / f"{name}.txt"
    if not path.is_file():
        raise ValueError(f"no bundled model {name!r}; bundled: {', '.join(bundled_names())}")
    return path.read_text(encoding="utf-8")


def load_bundled(name: str) -> Sequential:
    """The bundled model ``name`` (see :func:`bundled_names`), parsed from its spec."""
    return parse_spec(bundled_text(name), name=name, source=f"{name}.txt")


def load_spec(file_or_name: str) -> Sequential:
    """A spec file's model, or a bundled model when no such file exists."""
    path = Path(file_or_name)
    if path.is_file():
        return parse_spec(path.read_text(encoding="utf-8"), name=path.stem, source=str(path))
    if file_or_name in bundled_names():
        return load_bundled(file_or_name)
    raise ValueError(f"{file_or_name!r} is neither a spec file nor a bundled model "
                     f"(bundled: {', '.join(bundled_names())})")
