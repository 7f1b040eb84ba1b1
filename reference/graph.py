"""Keras' functional API over the reference layers: ``x = Input((32, 32, 3))``, layers called on
symbolic tensors, merges on lists of them, and ``Model(x, y)`` for the graph from ``x`` to ``y``.

A ``Model`` is a :class:`~.model.Network` like ``Sequential``: the same naming, weights,
``count_params``, ``init/forward/backward/loss`` and ``to_torch``; its summary adds the "Connected
to" column of Keras. Each layer object is used once (no weight sharing). Layers run in the order
they were called, which is always an order in which every input comes first. The spec format of
graphs is :func:`parse_graph_spec` (``GRAPH_SPEC_HELP``).
"""

from __future__ import annotations

import itertools
import textwrap
import re
from dataclasses import dataclass

import numpy as np

from . import blocks as B
from . import layers as L
from . import model as M

_calls = itertools.count()


class Tensor:
    """A symbolic tensor: the output of ``layer`` (an :class:`InputLayer` for an ``Input``) whose
    shape (without batch) is ``shape`` in the model's convention."""

    def __init__(self, layer: M.Layer, internal_shape: tuple, channels: str):
        self.layer, self.internal_shape, self.channels = layer, tuple(internal_shape), channels

    @property
    def shape(self) -> tuple:
        return M.to_user_shape(self.internal_shape, self.channels)

    def __repr__(self):
        return f"Tensor(shape={self.shape}, from={self.layer.name or self.layer.type})"


class InputLayer(M.Layer):
    """Where a graph starts; holds the input shape."""

    keras_name = "input_layer"

    def forward(self, x, training=False):
        return x

    def backward(self, dout):
        return dout


def Input(shape, channels="last", name=None) -> Tensor:
    """A graph's input of ``shape`` without the batch axis (``(H, W, C)`` with ``channels='last'``,
    ``(C, H, W)`` with ``'first'``)."""
    if channels not in ("last", "first"):
        raise ValueError(f"channels must be 'last' or 'first', got channels={channels!r}")
    shape = M._tuple("shape", tuple(shape), len(tuple(shape)))
    layer = InputLayer(name)
    layer.inbound, layer.order, layer.channels = [], next(_calls), channels
    layer.input_shape = layer.output_shape = M.to_internal_shape(shape, channels)
    layer.output_tensor = Tensor(layer, layer.output_shape, channels)
    return layer.output_tensor


def call_layer(layer: M.Layer, inputs) -> Tensor:
    """``layer(inputs)``: build ``layer`` on the symbolic input(s) and return its output tensor."""
    merge = getattr(layer, "multi_input", False)
    tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    what = f"'{layer.name}' ({layer.type})" if layer.name else layer.type
    if not all(isinstance(t, Tensor) for t in tensors):
        raise M.ModelError(f"{what} is called on symbolic tensors from Input(...) or another layer, got {inputs!r}",
                           layer)
    if merge and not isinstance(inputs, (list, tuple)):
        raise M.ModelError(f"{what} joins several tensors: call it on a list, {layer.type}()([a, b])", layer)
    if not merge and len(tensors) != 1:
        raise M.ModelError(f"{what} takes one tensor, got {len(tensors)}", layer)
    if getattr(layer, "inbound", None) is not None:
        raise M.ModelError(f"{what} was already called: a graph uses each layer once (make a new layer)", layer)
    channels = tensors[0].channels
    if any(t.channels != channels for t in tensors):
        raise M.ModelError(f"{what}: its inputs come from graphs of different channel conventions", layer)
    shapes = [t.internal_shape for t in tensors]
    try:
        out = layer.build_merge(shapes, channels) if merge else layer.build(shapes[0], channels)
    except M.ModelError as exc:  # from inside a residual block
        raise M.ModelError(f"{what}, {exc}", exc.layer) from None
    except ValueError as exc:
        shown = ", ".join(str(t.shape) for t in tensors)
        raise M.ModelError(f"{what} on input shape {shown}: {exc}", layer) from None
    layer.inbound, layer.order = tensors, next(_calls)
    layer.output_tensor = Tensor(layer, out, channels)
    return layer.output_tensor


@dataclass
class GraphRow(M.Row):
    """A summary row of a graph: ``connected_to`` names the layers whose outputs it takes."""

    connected_to: tuple = ()


@dataclass
class GraphSummary(M.Summary):
    """A graph's summary: a Keras-style table with a "Connected to" column; ``note`` (a
    convention, for a zoo model) is printed under the totals."""

    input_name: str = "input_layer"
    note: str = ""
    convention: str = "keras"
    buffers: int = 0

    def to_dict(self) -> dict:
        d = super().to_dict()
        for row, entry in zip(self.rows, d["layers"]):
            entry["connected_to"] = list(row.connected_to)
        d["convention"] = self.convention
        if self.convention == "torchvision":
            d["buffers"] = self.buffers
        if self.note:
            d["note"] = self.note
        return d

    def __str__(self) -> str:
        cells = [("Layer (type)", "Output Shape", "Param #", "Connected to", "Computation")]
        cells.append((f"{self.input_name} (InputLayer)", str(self.input_shape), "0", "", ""))
        for r in self.rows:
            indent = "  " * r.depth + ("shortcut: " if r.branch == "shortcut" else "")
            cells.append((f"{indent}{r.name} ({r.type})", str(r.output_shape), f"{r.params:,}",
                          ", ".join(r.connected_to), r.formula))
        widths = [max(len(row[i]) for row in cells) + 2 for i in range(5)]
        width = sum(widths)

        def line(row):
            return "".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

        out = [f'Model: "{self.name}"', "_" * width, line(cells[0]), "=" * width]
        out += [line(row) for row in cells[1:]]
        out += ["=" * width, f"Total params: {self.total_params:,}", f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}"]
        if self.convention == "torchvision":
            out.append(f"Buffers, not counted (batch-norm running mean and variance): {self.buffers:,}")
        out.append("_" * width)
        if self.note:
            out.append(textwrap.fill(self.note, width=max(80, min(width, 110)), break_on_hyphens=False))
        return "\n".join(out)


class Model(M.Network):
    """The layers between one ``Input`` tensor and one output tensor (Keras' functional ``Model``).

    ``convention`` says how the summary counts batch-norm running statistics: ``'keras'`` (as
    ``Sequential`` and Keras' ``model.summary()``: non-trainable parameters, in the total) or
    ``'torchvision'`` (buffers, not parameters: the total is ``sum(p.numel() for p in
    net.parameters())``, and the statistics are reported on a line of their own). The zoo uses
    ``'torchvision'``; the rows hold both numbers either way.

    ``forward`` runs the layers in call order, keeping every tensor; ``backward`` runs them in
    reverse and adds up the gradients of a tensor that feeds several layers (the multivariate
    chain rule: ``∂L/∂x = Σ_k ∂L/∂y_k · ∂y_k/∂x``)."""

    def __init__(self, inputs, outputs, name="model", convention="keras"):
        inputs = inputs[0] if isinstance(inputs, (list, tuple)) and len(inputs) == 1 else inputs
        outputs = outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 else outputs
        if not isinstance(inputs, Tensor) or not isinstance(inputs.layer, InputLayer):
            raise M.ModelError(f"Model takes one Input(...) tensor as inputs, got {inputs!r}")
        if not isinstance(outputs, Tensor):
            raise M.ModelError(f"Model takes one output tensor, got {outputs!r}")
        reached, stack = {}, [outputs.layer]
        while stack:
            layer = stack.pop()
            if id(layer) in reached:
                continue
            reached[id(layer)] = layer
            stack += [t.layer for t in layer.inbound]
        sources = [layer for layer in reached.values() if isinstance(layer, InputLayer)]
        if sources != [inputs.layer]:
            raise M.ModelError("the output does not depend on the given Input alone" if sources else
                               "the output does not depend on the given Input")
        self.input_layer = inputs.layer
        self.layers = sorted((layer for layer in reached.values() if layer is not inputs.layer),
                             key=lambda layer: layer.order)
        if not self.layers:
            raise M.ModelError("a Model needs at least one layer between its input and output")
        self.name, self.channels = name, inputs.channels
        self.input_shape, self.output_shape = inputs.shape, outputs.shape
        self.output_tensor = outputs
        if convention not in ("keras", "torchvision"):
            raise ValueError(f"convention must be 'keras' or 'torchvision', got convention={convention!r}")
        self.dtype, self.dx, self.note, self.convention = None, None, "", convention
        self._name_layers()
        self.input_layer.name = self.input_layer.name or "input_layer"

    def _source(self, tensor: Tensor) -> str:
        return tensor.layer.name

    # --- summary ---

    def summary(self) -> GraphSummary:
        rows: list[GraphRow] = []

        def visit(layer, depth, branch, connected):
            c = layer.count()
            shown = c.trainable if self.convention == "torchvision" else c.total
            rows.append(GraphRow(layer.name, layer.type, M.to_user_shape(layer.output_shape, self.channels), shown,
                                 c.trainable, c.non_trainable, layer.formula(), depth, branch, connected))
            if isinstance(layer, M.Residual):
                for sub in layer.body:
                    visit(sub, depth + 1, "body", ())
                for sub in layer.shortcut:
                    visit(sub, depth + 1, "shortcut", ())

        for layer in self.layers:
            visit(layer, 0, "", tuple(self._source(t) for t in layer.inbound))
        counts = [layer.count() for layer in self.layers]
        trainable = sum(c.trainable for c in counts)
        non_trainable = sum(c.non_trainable for c in counts)
        if self.convention == "torchvision":
            return GraphSummary(self.name, self.input_shape, rows, trainable, trainable, 0, self.channels,
                                input_name=self.input_layer.name, note=self.note, convention=self.convention,
                                buffers=non_trainable)
        return GraphSummary(self.name, self.input_shape, rows, trainable + non_trainable, trainable, non_trainable,
                            self.channels, input_name=self.input_layer.name, note=self.note)

    def count_params(self) -> int:
        """The summary's total: every weight (``'keras'``) or the trainable ones (``'torchvision'``)."""
        return self.summary().total_params

    # --- forward and backward ---

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Run every layer on ``x`` of shape ``(N, *input_shape)``, each on its inputs' values."""
        self._require_weights()
        x = np.asarray(x)
        if x.ndim != len(self.input_shape) + 1 or x.shape[1:] != self.input_shape:
            raise ValueError(f"x.shape={x.shape}, but should be (N, {', '.join(map(str, self.input_shape))}) "
                             f"[{self.name}.forward(channels={self.channels!r})]")
        values = {id(self.input_layer.output_tensor): M._to_first(x.astype(self.dtype, copy=False), self.channels)}
        for layer in self.layers:
            xs = [values[id(t)] for t in layer.inbound]
            y = layer.forward(xs if getattr(layer, "multi_input", False) else xs[0], training)
            values[id(layer.output_tensor)] = y
        return M._to_last(values[id(self.output_tensor)], self.channels)

    def _backward(self, d_out: np.ndarray, logits: bool = False) -> None:
        grads = {id(self.output_tensor): d_out}
        last = self.output_tensor.layer
        for layer in reversed(self.layers):
            d = grads.pop(id(layer.output_tensor))
            if logits and layer is last:
                dxs = self._backward_without_softmax(layer, d)
            else:
                dxs = layer.backward(d)
            if not getattr(layer, "multi_input", False):
                dxs = [dxs]
            for t, dx in zip(layer.inbound, dxs):
                key = id(t)
                grads[key] = grads[key] + dx if key in grads else dx
        self.dx = M._to_last(grads[id(self.input_layer.output_tensor)], self.channels)

    def backward(self, dout: np.ndarray) -> dict[str, np.ndarray]:
        """Back-propagate ``dout = ∂L/∂y``: returns ``{"<layer>.<param>": ∂L/∂param}`` and sets
        ``self.dx = ∂L/∂x``."""
        dout = np.asarray(dout)
        if dout.ndim != len(self.output_shape) + 1 or dout.shape[1:] != self.output_shape:
            raise ValueError(f"dout.shape={dout.shape}, but should be (N, {', '.join(map(str, self.output_shape))}) "
                             f"[{self.name}.backward]")
        self._backward(M._to_first(dout.astype(self.dtype, copy=False), self.channels))
        return self.grads

    def _softmax_output(self) -> bool:
        return getattr(self.output_tensor.layer, "activation", None) == "softmax"

    def loss(self, x, y, training=True) -> float:
        """Mean softmax cross-entropy (see :meth:`loss_and_grads`), without the backward pass."""
        out = self.forward(x, training)
        last = self.output_tensor.layer
        if self._softmax_output():
            out = last._cache if isinstance(last, M.Activation) else last._cache[1]
        return float(L.softmax_cross_entropy(out, np.asarray(y))[0])

    def loss_and_grads(self, x, y, training=True) -> tuple[float, dict[str, np.ndarray]]:
        """As ``Sequential.loss_and_grads``: mean softmax cross-entropy for integer labels ``y``
        and its gradient per parameter, the softmax of a last softmax layer folded into the loss."""
        out = self.forward(x, training)
        last = self.output_tensor.layer
        if self._softmax_output():
            logits = last._cache if isinstance(last, M.Activation) else last._cache[1]
            loss, dlogits = L.softmax_cross_entropy(logits, np.asarray(y))
            self._backward(dlogits, logits=True)
            return float(loss), self.grads
        if out.ndim != 2:
            raise M.ModelError(f"softmax cross-entropy needs (N, classes) outputs, got {out.shape}")
        loss, dlogits = L.softmax_cross_entropy(out, np.asarray(y))
        return float(loss), self.backward(dlogits)

    def to_torch(self, dtype=None, device="cpu", weights=True):
        """An ``nn.Module`` computing the same function with the same weights (``checks.models``)."""
        from convcheck.checks.models import graph_to_torch
        return graph_to_torch(self, dtype=dtype, device=device, weights=weights)

    def __repr__(self):
        return f"Model(name={self.name!r}, {len(self.layers)} layers, input_shape={self.input_shape}, " \
               f"channels={self.channels!r})"


# --- the spec format of graphs -----------------------------------------------------------------------

GRAPH_SPEC_HELP = """\
Graphs: every line of the Sequential format, applied to the current tensor, and:
  LAYER ... as NAME       name the line's output and its layer (the input is named 'input')
  from NAME               make a named tensor the current one again (start a branch)
  add A B ...   concat A B ...   multiply A B ...   [as NAME]   join named tensors
  depthwise K [stride S] [pad P] [multiplier M] [nobias]         separable F K [stride S] [pad P] [multiplier M] [nobias] [ACT]
  zeropad P | PxQ    shuffle G    slice START STOP    reshape AxBxC    maxpool K stride S [pad P] ceil
  relu6 | hardswish | hardsigmoid | silu | swish | gelu         (activation layers)
A spec that uses none of these is a Sequential model; 'residual' blocks belong to that form."""

_GRAPH_WORDS = {"as", "from", "add", "concat", "multiply", "depthwise", "separable", "zeropad", "shuffle", "slice",
                "reshape", "ceil"} | set(B.ACTIVATION_LAYERS)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def is_graph_spec(text: str) -> bool:
    """Whether a spec uses the graph forms (then :func:`parse_graph_spec` reads it)."""
    for raw in text.splitlines():
        tokens = [t.lower() for t in raw.split("#", 1)[0].split()]
        if tokens and (tokens[0] in _GRAPH_WORDS or "as" in tokens[1:] or "ceil" in tokens[1:]):
            return True
    return False


def parse_graph_spec(text: str, name: str = "model", source: str = "spec") -> Model:
    """Build a :class:`Model` from the graph spec format (``GRAPH_SPEC_HELP``).

    Errors are :class:`~.model.SpecError` naming the line and what was expected (an unknown or
    reused name, a join of fewer than two tensors), or :class:`~.model.ModelError` with the line
    number for a layer that does not fit its input.
    """
    lines = [M._Line(i, raw, source) for i, raw in enumerate(text.splitlines(), start=1)]
    lines = [ln for ln in lines if ln.tokens]
    if not lines or lines[0].tokens[0].lower() != "input":
        first = lines[0] if lines else M._Line(1, "", source)
        raise first.error("expected the first line to be 'input HxWxC' (e.g. input 32x32x3)")
    head = lines[0]
    dims = head.sizes("the input shape (e.g. 32x32x3)")
    dims = (dims,) if isinstance(dims, int) else dims
    rest = [t.lower() for t in head.tokens[head.pos:]]
    channels = "first" if rest in (["channels", "first"], ["channels-first"], ["channels_first"]) else "last"
    if rest and rest not in (["channels", "first"], ["channels-first"], ["channels_first"], ["channels", "last"],
                             ["channels-last"], ["channels_last"]):
        raise head.error(f"unexpected {' '.join(head.tokens[head.pos:])!r}; expected nothing or 'channels first'")
    spatial = max(len(dims) - 1, 0)
    current = Input(dims, channels=channels, name="input")
    named = {"input": current}

    def lookup(line, key):
        if key not in named:
            raise line.error(f"unknown tensor {key!r}; named so far: {', '.join(named)}")
        return named[key]

    for line in lines[1:]:
        label = None
        low = [t.lower() for t in line.tokens]
        if "as" in low[1:]:
            i = low.index("as", 1)
            if i != len(low) - 2 or not _NAME.match(line.tokens[-1]):
                raise line.error("expected 'as NAME' at the end of the line (a name like b1 or stage2.out)")
            label = line.tokens[-1]
            if label in named:
                raise line.error(f"the name {label!r} is already taken (line names must be unique)")
            line.tokens = line.tokens[:i]
        word = line.tokens[0].lower()
        if word == "input":
            raise line.error("'input' may appear only once, on the first line")
        if word in ("residual", "shortcut", "end"):
            raise line.error(f"'{word}' blocks belong to Sequential specs; in a graph, branch with 'from' and join "
                             f"with 'add'")
        if word == "from":
            if len(line.tokens) != 2 or label:
                raise line.error("expected 'from NAME'")
            current = lookup(line, line.tokens[1])
            continue
        try:
            if word in ("add", "concat", "multiply"):
                if len(line.tokens) < 3:
                    raise line.error(f"'{word}' joins at least two named tensors, e.g. '{word} a b'")
                ins = [lookup(line, key) for key in line.tokens[1:]]
                layer = {"add": B.Add, "concat": B.Concatenate, "multiply": B.Multiply}[word]()
                current = layer(ins)
            else:
                current = _graph_layer(line, word, spatial)(current)
        except M.ModelError as exc:
            raise M.ModelError(f"{source}, line {line.lineno}: {exc}", exc.layer) from None
        if label:  # the name is also the layer's, so that the summary's "Connected to" shows it
            named[label] = current
            current.layer.name = label
    return Model(named["input"], current, name=name)


def _graph_layer(line: M._Line, word: str, spatial: int) -> M.Layer:
    """A layer of a graph spec line: the graph-only words here, the rest as in Sequential specs."""
    if word in B.ACTIVATION_LAYERS:
        line.options({})
        return M._construct(line, B.ACTIVATION_LAYERS[word])
    if word == "depthwise":
        k = line.sizes("a kernel size", 2)
        opts, act = line.options({"stride": lambda ln: ln.sizes("a stride", 2), "pad": M._pad_value,
                                  "multiplier": lambda ln: ln.sizes("a depth multiplier"), "nobias": M._flag},
                                 activation=True)
        return M._construct(line, B.DepthwiseConv2D, k, strides=opts.get("stride", 1), padding=opts.get("pad", "valid"),
                            depth_multiplier=opts.get("multiplier", 1), activation=act, use_bias="nobias" not in opts)
    if word == "separable":
        f = line.sizes("the number of filters")
        k = line.sizes("a kernel size", 2)
        opts, act = line.options({"stride": lambda ln: ln.sizes("a stride", 2), "pad": M._pad_value,
                                  "multiplier": lambda ln: ln.sizes("a depth multiplier"), "nobias": M._flag},
                                 activation=True)
        return M._construct(line, B.SeparableConv2D, f, k, strides=opts.get("stride", 1),
                            padding=opts.get("pad", "valid"), depth_multiplier=opts.get("multiplier", 1),
                            activation=act, use_bias="nobias" not in opts)
    if word == "zeropad":
        p = line.sizes("a padding", 2, allow_zero=True)
        line.options({})
        return M._construct(line, B.ZeroPadding2D, p)
    if word == "shuffle":
        g = line.sizes("the number of groups")
        line.options({})
        return M._construct(line, B.ChannelShuffle, g)
    if word == "slice":
        start = line.sizes("the first channel", allow_zero=True)
        stop = line.sizes("the channel after the last")
        line.options({})
        return M._construct(line, B.ChannelSlice, start, stop)
    if word == "reshape":
        shape = line.sizes("a shape like 1x1x64")
        line.options({})
        return M._construct(line, B.Reshape, (shape,) if isinstance(shape, int) else shape)
    if word == "maxpool" and "ceil" in [t.lower() for t in line.tokens]:
        line.tokens = [t for t in line.tokens if t.lower() != "ceil"]
        k = line.sizes("a pool size", 2)
        opts, _ = line.options({"stride": lambda ln: ln.sizes("a stride", 2),
                                "pad": lambda ln: ln.sizes("a padding", 2, allow_zero=True)})
        return M._construct(line, B.CeilMaxPool2D, k, strides=opts.get("stride"), padding=opts.get("pad", 0))
    return M._parse_layer(line, word, spatial)


def parse_any_spec(text: str, name: str = "model", source: str = "spec"):
    """A ``Sequential`` for a plain spec, a :class:`Model` when the spec uses the graph forms."""
    if is_graph_spec(text):
        return parse_graph_spec(text, name=name, source=source)
    return M.parse_spec(text, name=name, source=source)
