"""Quiz templates on branched architectures: Inception and Fire module parameters, what a ResNet
bottleneck saves, and how much cheaper a depthwise-separable convolution is.

Every answer is read off a model built with ``convcheck.reference.graph`` (the summary's count, or
the multiply-accumulates of its layers from :func:`params.conv_macs`), never re-derived here; the
explanation shows the same arithmetic by hand. Seed 0 is the paper's own example (GoogLeNet's
inception (3a), SqueezeNet's fire2, ResNet-50's 256-channel bottleneck, MobileNet's 3×3 on 512).

Importing this module registers its templates in the bank (``TEMPLATE_MODULES`` in ``quiz/__init__.py``).
Each builder here returns a plain :class:`Built`; registration wraps it in the bank's ``Draft``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from convcheck.reference import blocks as B
from convcheck.reference import model as M
from convcheck.reference.graph import Input, Model
from convcheck.reference.params import conv_macs


@dataclass(frozen=True)
class Built:
    """One question before the bank's types: text, integer answer, explanation, configuration."""

    text: str
    answer: int
    explanation: str
    data: dict = field(default_factory=dict)


def _conv_line(k: int, c: int, f: int, bias: bool = True) -> str:
    """``(k·k·C + 1)·F``, the conv count of params.conv_params, with the numbers in."""
    return f"({k}·{k}·{c} + 1)·{f} = {(k * k * c + 1) * f:,}" if bias else f"{k}·{k}·{c}·{f} = {k * k * c * f:,}"


# --- Inception module (Szegedy et al. 2015, Fig. 2b and Table 1) --------------------------------------

INCEPTION_3A = (192, 64, 96, 128, 16, 32, 32)


def inception_module(c_in, c1, c3r, c3, c5r, c5, pool_proj, size=28) -> Model:
    """GoogLeNet's module as in the paper: four branches (1×1; 1×1 → 3×3; 1×1 → 5×5; 3×3 max pool
    → 1×1), every conv with bias and ReLU, joined on channels."""
    x = Input((size, size, c_in))
    b1 = M.Conv2D(c1, 1, activation="relu")(x)
    b2 = M.Conv2D(c3, 3, padding="same", activation="relu")(M.Conv2D(c3r, 1, activation="relu")(x))
    b3 = M.Conv2D(c5, 5, padding="same", activation="relu")(M.Conv2D(c5r, 1, activation="relu")(x))
    b4 = M.Conv2D(pool_proj, 1, activation="relu")(M.MaxPool2D(3, strides=1, padding="same")(x))
    return Model(x, B.Concatenate()([b1, b2, b3, b4]), name="inception")


def inception_params(rng: random.Random, course: bool) -> Built:
    if course:
        cfg = INCEPTION_3A
    else:
        c_in = rng.choice([64, 128, 192, 256, 480, 512])
        c3r, c5r = rng.choice([32, 64, 96, 128]), rng.choice([8, 16, 24, 32])
        cfg = (c_in, rng.choice([32, 64, 128, 192]), c3r, rng.choice([c3r, 2 * c3r, 128, 208]), c5r,
               rng.choice([c5r, 2 * c5r, 3 * c5r, 48]), rng.choice([16, 32, 64]))
    c_in, c1, c3r, c3, c5r, c5, pp = cfg
    model = inception_module(*cfg)
    total = model.summary().total_params
    text = (f"An Inception module (GoogLeNet) takes a {c_in}-channel input. Its branches: {c1} 1×1 filters; "
            f"{c3r} 1×1 filters then {c3} 3×3 filters; {c5r} 1×1 filters then {c5} 5×5 filters; a 3×3 max pool "
            f"(stride 1) then {pp} 1×1 filters. Every convolution has a bias. How many parameters does the "
            f"module have?")
    lines = [f"1×1 branch: {_conv_line(1, c_in, c1)}",
             f"3×3 branch: {_conv_line(1, c_in, c3r)} and {_conv_line(3, c3r, c3)}",
             f"5×5 branch: {_conv_line(1, c_in, c5r)} and {_conv_line(5, c5r, c5)}",
             f"pool branch: the pool has none; {_conv_line(1, c_in, pp)}",
             f"total = {total:,} (output {c1 + c3 + c5 + pp} channels: {c1} + {c3} + {c5} + {pp})"]
    return Built(text, total, "\n".join(lines), data={"config": list(cfg)})


# --- Fire module (Iandola et al. 2016, §3.2, Table 1) ---------------------------------------------------

FIRE2 = (96, 16, 64, 64)


def fire_module(c_in, squeeze, e1, e3, size=55) -> Model:
    """SqueezeNet's Fire module: 1×1 squeeze (ReLU), then 1×1 and 3×3 expand (ReLU) joined on channels."""
    x = Input((size, size, c_in))
    s = M.Conv2D(squeeze, 1, activation="relu")(x)
    y = B.Concatenate()([M.Conv2D(e1, 1, activation="relu")(s), M.Conv2D(e3, 3, padding="same", activation="relu")(s)])
    return Model(x, y, name="fire")


def fire_params(rng: random.Random, course: bool) -> Built:
    if course:
        cfg = FIRE2
    else:
        s = rng.choice([16, 32, 48, 64])
        e = rng.choice([4, 8]) * s
        cfg = (rng.choice([64, 96, 128, 256, 384, 512]), s, e, rng.choice([e, e, e // 2]))
    c_in, s, e1, e3 = cfg
    total = fire_module(*cfg).summary().total_params
    text = (f"A SqueezeNet Fire module takes a {c_in}-channel input: a squeeze layer of {s} 1×1 filters, then an "
            f"expand layer of {e1} 1×1 and {e3} 3×3 filters whose outputs are concatenated. All convolutions have "
            f"biases. How many parameters does the module have?")
    lines = [f"squeeze: {_conv_line(1, c_in, s)}", f"expand 1×1: {_conv_line(1, s, e1)}",
             f"expand 3×3: {_conv_line(3, s, e3)}", f"total = {total:,}"]
    return Built(text, total, "\n".join(lines), data={"config": list(cfg)})


# --- bottleneck savings (He et al. 2016, §4.1 "Deeper Bottleneck Architectures", Fig. 5) ----------------

def basic_pair(c: int, size=14) -> Model:
    """Two 3×3 convolutions ``c → c`` without bias (each followed by batch norm in ResNet; not counted)."""
    x = Input((size, size, c))
    return Model(x, M.Conv2D(c, 3, padding="same", use_bias=False)(M.Conv2D(c, 3, padding="same", use_bias=False)(x)))


def bottleneck(c: int, width: int, size=14) -> Model:
    """1×1 ``c → width``, 3×3 ``width → width``, 1×1 ``width → c``, without bias."""
    x = Input((size, size, c))
    y = M.Conv2D(width, 1, use_bias=False)(x)
    y = M.Conv2D(width, 3, padding="same", use_bias=False)(y)
    return Model(x, M.Conv2D(c, 1, use_bias=False)(y))


def bottleneck_savings(rng: random.Random, course: bool) -> Built:
    if course:
        c, width = 256, 64
    else:
        width = rng.choice([16, 32, 64, 128, 256])
        c = width * rng.choice([2, 4, 4, 8])
    plain = basic_pair(c).summary().total_params
    neck = bottleneck(c, width).summary().total_params
    text = (f"A residual block on {c} channels could be two 3×3 convolutions {c} → {c}, or a bottleneck: 1×1 "
            f"{c} → {width}, 3×3 {width} → {width}, 1×1 {width} → {c}. No convolution has a bias (batch norm "
            f"follows each; leave it out). How many parameters does the bottleneck save?")
    lines = [f"two 3×3: 2·{_conv_line(3, c, c, False)} → {plain:,}",
             f"bottleneck: {_conv_line(1, c, width, False)} + {_conv_line(3, width, width, False)} + "
             f"{_conv_line(1, width, c, False)} → {neck:,}",
             f"saved = {plain:,} − {neck:,} = {plain - neck:,} ({plain / neck:.1f}× fewer)"]
    return Built(text, plain - neck, "\n".join(lines), data={"channels": c, "width": width})


# --- depthwise-separable cost (Howard et al. 2017, MobileNets §3.1, eq. 4–5) ----------------------------

def standard_conv(c: int, f: int, k: int, size: int) -> Model:
    x = Input((size, size, c))
    return Model(x, M.Conv2D(f, k, padding="same", use_bias=False)(x))


def separable_conv(c: int, f: int, k: int, size: int) -> Model:
    """MobileNet's factorisation: depthwise k×k (one filter per channel), then pointwise 1×1."""
    x = Input((size, size, c))
    return Model(x, M.Conv2D(f, 1, use_bias=False)(B.DepthwiseConv2D(k, padding="same", use_bias=False)(x)))


def model_macs(model: Model) -> int:
    """Multiply-accumulates of a graph's convolutions on one input (:func:`params.conv_macs`)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, M._Conv):
            total += conv_macs(layer.in_channels, layer.filters, layer.kernel_size, layer.input_shape[1:],
                               layer.strides, layer.pads, layer.dilation_rate, layer.groups)
    return total


def separable_cost_ratio(rng: random.Random, course: bool) -> Built:
    if course:
        c, f, k, n = 512, 512, 3, 14
    else:
        c, f = rng.choice([32, 64, 128, 256, 512]), rng.choice([32, 64, 128, 256, 512, 1024])
        k, n = rng.choice([3, 3, 5, 7]), rng.choice([7, 14, 28, 56])
    std = model_macs(standard_conv(c, f, k, n))
    sep = model_macs(separable_conv(c, f, k, n))
    ratio = round(std / sep)
    text = (f"A {k}×{k} convolution maps a {n}×{n}×{c} input to {n}×{n}×{f} ('same' padding, stride 1, no bias). "
            f"MobileNet replaces it by a {k}×{k} depthwise convolution followed by a 1×1 pointwise one. How many "
            f"times more multiply-adds does the standard convolution need? (Round to the nearest integer.)")
    lines = [f"standard: D_K²·M·N·D_F² = {k}²·{c}·{f}·{n}² = {std:,}",
             f"separable: D_K²·M·D_F² + M·N·D_F² = {k}²·{c}·{n}² + {c}·{f}·{n}² = {sep:,}",
             f"ratio = {std:,} / {sep:,} = {std / sep:.2f} ≈ {ratio} (= 1 / (1/N + 1/D_K²) = "
             f"1 / (1/{f} + 1/{k * k}))"]
    return Built(text, ratio, "\n".join(lines), data={"in_channels": c, "filters": f, "kernel": k, "size": n,
                                                      "standard_macs": std, "separable_macs": sep})


#: (name, topic, one-line summary, builder): what :func:`register_templates` adds to the bank.
TEMPLATES = [
    ("inception-params", "params", "parameters of an Inception module (GoogLeNet's four branches)", inception_params),
    ("fire-params", "params", "parameters of a SqueezeNet Fire module (squeeze, then two expands)", fire_params),
    ("bottleneck-savings", "params", "parameters a ResNet bottleneck saves over two 3×3 convolutions",
     bottleneck_savings),
    ("separable-cost-ratio", "params", "how many times cheaper a depthwise-separable convolution is (MobileNet)",
     separable_cost_ratio),
]


# --- registration in the bank ------------------------------------------------------------------------

def _register_all():
    """Each builder answers with an integer read off the builder; the conventions its key depends on (biases
    counted, the module's layout) are written into its own text, so it reads no :class:`Rules`."""
    from . import bank

    for name, topic, summary, build in TEMPLATES:
        def draft(rng, course, rules, build=build):
            q = build(rng, course)
            return bank.Draft(q.text, bank.Answer("int", q.answer), q.explanation, data=q.data)
        bank.register(name, topic, summary)(draft)


_register_all()
