"""Numeric quiz templates: output sizes, parameter counts, memory, receptive fields, connections.

Every answer is computed by ``convcheck.reference.shapes`` / ``params`` under the default
:class:`~.bank.Rules`; the explanation repeats the formula with the question's numbers plugged in.
A convention the key depends on is either drawn and written in the question or read from ``rules``
and listed in ``Draft.stated`` (printed under the question). Seed 0 of a template is the course's own
worked example where the course has one (20 filters of 3×3×3 → 560, the LeNet table → 62,006, ...).
"""

from __future__ import annotations

import random
from math import prod

from convcheck.reference.params import activation_bytes, conv_macs, conv_params, dense_params
from convcheck.reference.shapes import (
    conv_output_size, conv_padding, conv_transpose_output_size, effective_kernel_size, pool_output_size,
    receptive_field,
)

from .bank import BYTE_UNITS, DEFAULT_RULES, Answer, Draft, Rules, register

_ITEMSIZE = {"float16": 2, "float32": 4, "float64": 8}


def _x(dims) -> str:
    return "×".join(str(d) for d in dims)


# --- sizes under the conventions in ``rules`` (the reference's own functions for the defaults) -------

def conv_len(n: int, k: int, s: int, p, d: int, rules: Rules) -> int:
    """Conv output length for integer padding ``p`` (or a (before, after) pair) or a mode string."""
    if isinstance(p, str):
        if p == "same" and rules.same == "half":
            p = effective_kernel_size(k, d) // 2
        elif p == "same" or rules.rounding == "floor":
            return conv_output_size(n, k, s, p, d)  # TensorFlow's 'same' is ⌈n/s⌉ either way
        else:
            p = conv_padding(n, k, s, d, p)
    if rules.rounding == "floor":
        return conv_output_size(n, k, s, p, d)
    pb, pa = (p, p) if isinstance(p, int) else p
    span = n + pb + pa - effective_kernel_size(k, d)
    if span < 0:
        raise ValueError(f"the filter ({k}, dilation {d}) does not fit the padded input {n + pb + pa}")
    return -(-span // s) + 1


def pool_len(n: int, k: int, s: int, p: int, rules: Rules) -> int:
    return pool_output_size(n, k, s, p, ceil_mode=rules.rounding == "ceil")


def _each(f, dims, *args):
    return tuple(f(n, *args) for n in dims)


# --- explanations ---------------------------------------------------------------------------------

def _keff_line(k: int, d: int) -> str:
    return f"effective filter size k_eff = d·(k − 1) + 1 = {d}·({k} − 1) + 1 = {effective_kernel_size(k, d)}"


def _conv_line(n: int, k: int, s: int, pads: tuple[int, int], d: int, out: int, what: str = "out",
               sym: str = "W") -> str:
    """The course rule ⌊(W − F + 2P)/S⌋ + 1 with the numbers in (F = k_eff under dilation); ``sym``
    names the input size (W for a width or a length, H for a height)."""
    k_eff = effective_kernel_size(k, d)
    pb, pa = pads
    f_sym = "k_eff" if d > 1 else "F"
    p_sym, p_num = ("2P", f"2·{pb}") if pb == pa else ("P_before + P_after", f"{pb} + {pa}")
    span = n - k_eff + pb + pa
    if s == 1:
        return f"{what} = {sym} − {f_sym} + {p_sym} + 1 = {n} − {k_eff} + {p_num} + 1 = {out}"
    return (f"{what} = ⌊({sym} − {f_sym} + {p_sym}) / S⌋ + 1 = ⌊({n} − {k_eff} + {p_num}) / {s}⌋ + 1 "
            f"= ⌊{span}/{s}⌋ + 1 = {span // s} + 1 = {out}")


def _pool_line(n: int, k: int, s: int, p: int, out: int, what: str = "out", sym: str = "W") -> str:
    span = n + 2 * p - k
    if p:
        return (f"{what} = ⌊({sym} + 2P − F) / S⌋ + 1 = ⌊({n} + 2·{p} − {k}) / {s}⌋ + 1 = ⌊{span}/{s}⌋ + 1 = {out}")
    return f"{what} = ⌊({sym} − F) / S⌋ + 1 = ⌊({n} − {k}) / {s}⌋ + 1 = ⌊{span}/{s}⌋ + 1 = {out}"


def _pad_words(p) -> str:
    return "no padding" if p == 0 else f"zero padding {p} on each side"


def _pool_pad_words(p: int, kind: str) -> str:
    if p == 0:
        return "no padding"
    if kind == "max":  # PyTorch pads max pooling with −∞: a padded position never wins
        return f"padding {p} on each side (−∞, so padding never wins the max)"
    return f"zero padding {p} on each side (counted in the average)"


def _rounding_if(*strides) -> tuple[str, ...]:
    return ("rounding",) if any(s > 1 for s in strides) else ()


# --- output sizes ---------------------------------------------------------------------------------

@register("conv-out-1d", "output-size", "1-D convolution output length (padding, stride, dilation)")
def conv_out_1d(rng: random.Random, course: bool, rules: Rules) -> Draft:
    if course:  # course notes 003: input 5, filter 3, padding 1, stride 2 -> 3
        n, k, s, p, d = 5, 3, 2, 1, 1
    else:
        d = rng.choice([1, 1, 1, 2, 3])
        k = rng.randint(1, 7) if d == 1 else rng.randint(2, 5)
        k_eff = effective_kernel_size(k, d)
        p = rng.randint(0, k_eff // 2)
        s = rng.choice([1, 1, 2, 2, 3])
        n = rng.randint(max(5, k_eff - 2 * p), 40)
    out = conv_len(n, k, s, p, d, rules)
    extra = f", dilation {d}" if d > 1 else ""
    text = (f"A 1-D input of length {n} is convolved with a filter of length {k} "
            f"(stride {s}, {_pad_words(p)}{extra}). How long is the output?")
    lines = ([_keff_line(k, d)] if d > 1 else []) + [_conv_line(n, k, s, (p, p), d, out)]
    return Draft(text, Answer("int", out), "\n".join(lines),
                 data={"n": n, "kernel": k, "stride": s, "padding": p, "dilation": d},
                 stated=_rounding_if(s))


@register("conv-out-2d", "output-size", "2-D convolution output height × width (stride, padding, dilation)")
def conv_out_2d(rng: random.Random, course: bool, rules: Rules) -> Draft:
    if course:  # course notes 002: 28×28×1, 32 filters 3×3, 'same' padding 1, stride 2 -> 14×14
        hw, kk, s, p, d, c, f = (28, 28), (3, 3), 2, 1, 1, 1, 32
    else:
        d = rng.choice([1, 1, 1, 1, 2])
        kh = rng.choice([1, 3, 3, 3, 5, 5, 7, 11]) if d == 1 else rng.choice([2, 3, 3])
        kw = kh if rng.random() < 0.8 else rng.choice([1, 3, 5])
        kk = (kh, kw)
        s = rng.choice([1, 1, 2, 2, 3, 4])
        p = rng.randint(0, max(kh, kw) // 2)
        lo = max(5, max(effective_kernel_size(k, d) for k in kk) - 2 * p)
        h = rng.randint(lo, 64)
        hw = (h, h) if rng.random() < 0.6 else (h, rng.randint(lo, 64))
        c = rng.choice([1, 3, 3, 16, 32, 64])
        f = rng.choice([6, 8, 16, 20, 32, 64, 100])
    out = tuple(conv_len(n, k, s, p, d, rules) for n, k in zip(hw, kk))
    extra = f", dilation {d}" if d > 1 else ""
    text = (f"An input of {hw[0]}×{hw[1]}×{c} (height × width × channels) goes through a conv layer with "
            f"{f} filters of {kk[0]}×{kk[1]}×{c}, stride {s}, {_pad_words(p)}{extra}. "
            f"What is the output's height × width? (You may add the channels last: height × width × channels.)")
    lines = [_keff_line(k, d) + (f" ({'height' if i == 0 else 'width'})" if kk[0] != kk[1] else "")
             for i, k in enumerate(dict.fromkeys(kk))] if d > 1 else []
    if hw[0] == hw[1] and kk[0] == kk[1]:
        lines.append(_conv_line(hw[0], kk[0], s, (p, p), d, out[0], "H' = W'", "H"))
    else:
        lines.append(_conv_line(hw[0], kk[0], s, (p, p), d, out[0], "H'", "H"))
        lines.append(_conv_line(hw[1], kk[1], s, (p, p), d, out[1], "W'", "W"))
    lines.append(f"output: {out[0]}×{out[1]}×{f} (one channel per filter)")
    return Draft(text, Answer("shape", out, channels=f), "\n".join(lines),
                 data={"input": list(hw), "kernel": list(kk), "stride": s, "padding": p, "dilation": d,
                       "in_channels": c, "filters": f}, stated=_rounding_if(s))


@register("conv-out-mode", "output-size", "output size under 'valid', 'same' or 'full' padding (1-D and 2-D)")
def conv_out_mode(rng: random.Random, course: bool, rules: Rules) -> Draft:
    mode = rng.choice(["valid", "same", "full"])
    d = rng.choice([1, 1, 1, 2])
    k = rng.randint(2, 7) if d == 1 else rng.choice([2, 3])
    k_eff = effective_kernel_size(k, d)
    two_d = rng.random() < 0.5
    dims = (rng.randint(max(4, k_eff), 48),)
    if two_d:
        dims += (dims[0] if rng.random() < 0.6 else rng.randint(max(4, k_eff), 48),)
    outs = tuple(conv_len(n, k, 1, mode, d, rules) for n in dims)
    extra = f" at dilation {d}" if d > 1 else ""
    size = f"{dims[0]}×{dims[1]} (height × width)" if two_d else f"length {dims[0]}"
    filt = f"{k}×{k}" if two_d else f"length {k}"
    text = (f"An input of {size} is convolved with a filter of {filt}{extra}, stride 1, padding={mode!r}. "
            f"What is the output's {'height × width' if two_d else 'length'}?")
    lines = [_keff_line(k, d)] if d > 1 else []
    rule = {"valid": "'valid' adds no padding",
            "same": "'same' pads k_eff − 1 in total, the extra zero (if odd) at the end, so out = in",
            "full": "'full' pads k_eff − 1 on each side, so every partial overlap counts: out = in + k_eff − 1"}
    lines.append(rule[mode])
    names = ["H'", "W'"] if two_d else ["out"]
    syms = ["H", "W"] if two_d else ["n"]
    seen = set()
    for name, sym, n, o in zip(names, syms, dims, outs):
        if n in seen:
            continue
        seen.add(n)
        pads = conv_padding(n, k, 1, d, mode)
        lines.append(_conv_line(n, k, 1, pads, d, o, name if len(set(dims)) > 1 else " = ".join(names),
                                sym if len(set(dims)) > 1 else " = ".join(syms)))
    answer = Answer("shape", outs) if two_d else Answer("int", outs[0])
    return Draft(text, answer, "\n".join(lines),
                 data={"input": list(dims), "kernel": k, "dilation": d, "mode": mode},
                 stated=("same",) if mode == "same" else ())


@register("pad-mode", "output-size", "zero padding needed at each end for 'same' or 'full'")
def pad_mode(rng: random.Random, course: bool, rules: Rules) -> Draft:
    mode = rng.choice(["same", "full"])
    d = rng.choice([1, 1, 2, 3])
    k = rng.choice([3, 5, 7, 9, 11]) if d == 1 else rng.choice([3, 5])
    k_eff = effective_kernel_size(k, d)
    n = rng.randint(k_eff, 64)
    p = conv_padding(n, k, 1, d, mode)[0]
    extra = f" at dilation {d}" if d > 1 else ""
    goal = ("so that the output is as long as the input ('same')" if mode == "same"
            else "so that every position where filter and input overlap at all gives an output ('full')")
    text = (f"A 1-D input of length {n} is convolved with a filter of length {k}{extra}, stride 1. "
            f"How many zeros must be added at EACH end of the input {goal}?")
    lines = [_keff_line(k, d)] if d > 1 else []
    f_sym = "k_eff" if d > 1 else "k"
    if mode == "same":
        lines.append(f"'same': P = ({f_sym} − 1)/2 = ({k_eff} − 1)/2 = {p} on each side")
        lines.append(_conv_line(n, k, 1, (p, p), d, n, "check: out"))
    else:
        lines.append(f"'full': P = {f_sym} − 1 = {k_eff} − 1 = {p} on each side")
        lines.append(_conv_line(n, k, 1, (p, p), d, conv_output_size(n, k, 1, p, d), "check: out"))
    return Draft(text, Answer("int", p), "\n".join(lines),
                 data={"n": n, "kernel": k, "dilation": d, "mode": mode})


@register("effective-kernel", "output-size", "effective filter size under dilation")
def effective_kernel(rng: random.Random, course: bool, rules: Rules) -> Draft:
    if course:  # course notes 003: length 7 at dilation 3 -> 19
        k, d, two_d = 7, 3, False
    else:
        k, d, two_d = rng.randint(2, 11), rng.randint(2, 6), rng.random() < 0.3
    k_eff = effective_kernel_size(k, d)
    filt = f"{k}×{k}" if two_d else f"length {k}"
    text = (f"A filter of {filt} is dilated with rate {d} (d − 1 = {d - 1} gap{'s' if d > 2 else ''} "
            f"between taps). What is its effective size{' (height × width)' if two_d else ''}?")
    lines = [_keff_line(k, d).replace("effective filter size ", "")]
    answer = Answer("shape", (k_eff, k_eff)) if two_d else Answer("int", k_eff)
    return Draft(text, answer, "\n".join(lines), data={"kernel": k, "dilation": d, "ndim": 2 if two_d else 1})


@register("pool-out-2d", "output-size", "max/average pooling output height × width")
def pool_out_2d(rng: random.Random, course: bool, rules: Rules) -> Draft:
    kind = rng.choice(["max", "average"])
    k = rng.choice([2, 2, 2, 3, 3, 4])
    s = rng.choice([k, k, 1, 2, 3])
    p = 0 if rng.random() < 0.7 else rng.randint(1, k // 2)
    h = rng.randint(max(k, 4), 64)
    hw = (h, h) if rng.random() < 0.7 else (h, rng.randint(max(k, 4), 64))
    c = rng.choice([3, 6, 16, 32, 64])
    out = tuple(pool_len(n, k, s, p, rules) for n in hw)
    text = (f"A feature map of {hw[0]}×{hw[1]}×{c} (height × width × channels) goes through {kind} pooling "
            f"with a {k}×{k} window, stride {s}, {_pool_pad_words(p, kind)}. What is the output's height × width? "
            f"(You may add the channels last: height × width × channels.)")
    lines = []
    if hw[0] == hw[1]:
        lines.append(_pool_line(hw[0], k, s, p, out[0], "H' = W'", "H"))
    else:
        lines.append(_pool_line(hw[0], k, s, p, out[0], "H'", "H"))
        lines.append(_pool_line(hw[1], k, s, p, out[1], "W'", "W"))
    lines.append(f"pooling works per channel: output {out[0]}×{out[1]}×{c}")
    return Draft(text, Answer("shape", out, channels=c), "\n".join(lines),
                 data={"input": list(hw), "kernel": k, "stride": s, "padding": p, "kind": kind, "channels": c},
                 stated=_rounding_if(s))


@register("transposed-out", "output-size", "transposed convolution output size (stride, padding, output_padding)")
def transposed_out(rng: random.Random, course: bool, rules: Rules) -> Draft:
    while True:
        two_d = rng.random() < 0.5
        k = rng.choice([2, 3, 3, 4, 5])
        s = rng.choice([1, 2, 2, 2, 3])
        d = rng.choice([1, 1, 1, 1, 2])
        p = rng.randint(0, (d * (k - 1)) // 2 + 1)
        op = rng.randint(0, max(s, d) - 1) if rng.random() < 0.6 else 0
        n = rng.randint(2, 32)
        try:
            out = conv_transpose_output_size(n, k, s, p, op, d)
        except ValueError:
            continue
        break
    extra = f", dilation {d}" if d > 1 else ""
    size = f"{n}×{n}×{rng.choice([8, 16, 64])} (height × width × channels)" if two_d else f"length {n}"
    filt = f"{k}×{k}" if two_d else f"length {k}"
    text = (f"A transposed convolution (PyTorch's ConvTranspose{'2' if two_d else '1'}d) with a filter of {filt}, "
            f"stride {s}, padding {p}, output_padding {op}{extra} is applied to an input of {size}. "
            f"What is the output's {'height × width' if two_d else 'length'}?")
    k_eff = effective_kernel_size(k, d)
    lines = [f"out = (n − 1)·s − 2p + d·(k − 1) + output_padding + 1 = ({n} − 1)·{s} − 2·{p} + {d}·({k} − 1) "
             f"+ {op} + 1 = {(n - 1) * s} − {2 * p} + {k_eff - 1} + {op} + 1 = {out}",
             "a conv with the same filter, stride and padding maps this size back to "
             f"{conv_output_size(out, k, s, p, d)}; output_padding picks one of the sizes the conv's floor merges"]
    answer = Answer("shape", (out, out)) if two_d else Answer("int", out)
    return Draft(text, answer, "\n".join(lines),
                 data={"n": n, "kernel": k, "stride": s, "padding": p, "output_padding": op, "dilation": d,
                       "ndim": 2 if two_d else 1})


# --- which stack does not give the length ----------------------------------------------------------

def _layer_length(n: int, layer: dict, rules: Rules = DEFAULT_RULES) -> int | None:
    """Length after one layer of a 1-D stack, or None when the window does not fit."""
    try:
        if layer["op"] == "conv":
            return conv_len(n, layer["width"], layer["stride"], layer["pad"], layer["d"], rules)
        if layer["pad"] == "same":  # a pooling window follows the same arithmetic as a conv's
            return conv_len(n, layer["width"], layer["stride"], "same", 1, rules)
        return pool_len(n, layer["width"], layer["stride"], 0, rules)
    except ValueError:
        return None


def stack_lengths(n: int, stack: list[dict], rules: Rules = DEFAULT_RULES) -> list[int] | None:
    lengths = [n]
    for layer in stack:
        out = _layer_length(lengths[-1], layer, rules)
        if out is None:
            return None
        lengths.append(out)
    return lengths


def describe_layer(layer: dict) -> str:
    if layer["op"] == "conv":
        return f"conv(d={layer['d']}, width={layer['width']}, stride={layer['stride']}, pad={layer['pad']})"
    return f"pool(width={layer['width']}, stride={layer['stride']}, pad={layer['pad']})"


def _random_stack(rng: random.Random) -> list[dict]:
    conv = {"op": "conv", "d": rng.choice([1, 2]), "width": rng.choice([2, 3, 3, 5]),
            "stride": rng.choice([1, 1, 2]), "pad": rng.choice(["valid", "same"])}
    pool = {"op": "pool", "width": rng.choice([2, 3]), "stride": rng.choice([1, 2]),
            "pad": rng.choice(["valid", "same"])}
    return [conv, pool]


_COURSE_STACKS = [  # course notes 003: input 7, target 3; d) gives 2
    [{"op": "conv", "d": 1, "width": 3, "stride": 1, "pad": "same"},
     {"op": "pool", "width": 2, "stride": 2, "pad": "valid"}],
    [{"op": "conv", "d": 1, "width": 3, "stride": 2, "pad": "valid"},
     {"op": "pool", "width": 3, "stride": 1, "pad": "same"}],
    [{"op": "conv", "d": 2, "width": 3, "stride": 1, "pad": "valid"},
     {"op": "pool", "width": 2, "stride": 1, "pad": "same"}],
    [{"op": "conv", "d": 2, "width": 3, "stride": 1, "pad": "valid"},
     {"op": "pool", "width": 2, "stride": 1, "pad": "valid"}],
]


@register("stack-not-length", "output-size", "which conv+pool stack does NOT give a length (multiple choice)")
def stack_not_length(rng: random.Random, course: bool, rules: Rules) -> Draft:
    # The stacks are drawn under the default conventions (the variant is the same under any rules);
    # the key is computed under ``rules``: -1 when not exactly one stack misses the target.
    if course:
        n, target, stacks = 7, 3, _COURSE_STACKS
    else:
        while True:
            n = rng.randint(6, 16)
            by_length: dict[int, list] = {}
            seen = set()
            for _ in range(200):
                stack = _random_stack(rng)
                key = tuple(describe_layer(layer) for layer in stack)
                lengths = stack_lengths(n, stack)
                if lengths is None or key in seen:
                    continue
                seen.add(key)
                by_length.setdefault(lengths[-1], []).append(stack)
            targets = sorted(t for t, group in by_length.items() if len(group) >= 3 and len(by_length) > 1)
            if targets:
                break
        target = rng.choice(targets)
        right = rng.sample(by_length[target], 3)
        others = [s for t, group in sorted(by_length.items()) if t != target for s in group]
        wrong = rng.choice(others)
        odd = rng.randrange(4)  # the right option anywhere
        stacks = right[:odd] + [wrong] + right[odd:]
    all_lengths = [stack_lengths(n, stack, rules) for stack in stacks]
    misses = [i for i, lengths in enumerate(all_lengths) if lengths is None or lengths[-1] != target]
    key = misses[0] if len(misses) == 1 else -1
    choices = tuple(" → ".join(describe_layer(layer) for layer in stack) for stack in stacks)
    text = f"Which of these stacks does NOT turn a 1-D input of length {n} into an output of length {target}?"
    lines = ["'valid': out = ⌊(n − k_eff)/s⌋ + 1 with k_eff = d·(width − 1) + 1; 'same': out = ⌈n/s⌉"]
    for i, (choice, lengths) in enumerate(zip(choices, all_lengths)):
        shown = " → ".join(str(x) for x in lengths) if lengths else "does not fit"
        lines.append(f"{choice}: {shown}" + ("   ← not " + str(target) if i in misses else ""))
    return Draft(text, Answer("choice", key), "\n".join(lines), choices=choices,
                 data={"n": n, "target": target, "stacks": stacks}, stated=("same", "rounding"))


# --- parameter counts ----------------------------------------------------------------------------

@register("conv-params", "params", "parameters of a conv layer (the 20 filters of 3×3×3 question)")
def conv_params_q(rng: random.Random, course: bool, rules: Rules) -> Draft:
    if course:  # course notes 001: 20 filters of 3×3×3 -> 560
        ndim, c, f, kk, bias, image = 2, 3, 20, (3, 3), True, None
    else:
        ndim = 2 if rng.random() < 0.75 else 1
        c = rng.choice([1, 3, 3, 6, 16, 32, 64])
        f = rng.choice([1, 4, 6, 16, 20, 32, 50, 64, 128])
        k = rng.choice([1, 3, 3, 5, 7])
        kk = (k, k) if ndim == 2 else (rng.choice([2, 3, 5, 7]),)
        bias = rng.random() < 0.8
        image = rng.choice([None, 32, 224, 1080]) if ndim == 2 else None
    total = conv_params(c, f, kk, bias=bias)
    shape = "×".join(str(x) for x in kk + (c,))
    where = f"on a {image}×{image}×{c} image " if image else ""
    bias_words = "each with a bias" if bias else "without biases"
    text = (f"A {ndim}-D conv layer {where}has {f} filter{'s' if f > 1 else ''} of {shape} "
            f"(filter size × input channels), {bias_words}. How many learnable parameters does it have?")
    per = prod(kk) * c
    if bias:
        lines = [f"one filter: {' · '.join(str(x) for x in kk + (c,))} = {per} weight{'s' if per > 1 else ''} "
                 f"+ 1 bias = {per + 1}",
                 f"(k·C + 1)·F = ({per} + 1)·{f} = {total}"]
    else:
        lines = [f"one filter: {' · '.join(str(x) for x in kk + (c,))} = {per} weight{'s' if per > 1 else ''}, no bias",
                 f"k·C·F = {per}·{f} = {total}"]
    if image:
        lines.append("the weights are shared across positions, so the image size does not matter")
    return Draft(text, Answer("int", total), "\n".join(lines),
                 data={"in_channels": c, "filters": f, "kernel": list(kk), "bias": bias})


@register("dense-params", "params", "parameters of a dense (fully connected) layer")
def dense_params_q(rng: random.Random, course: bool, rules: Rules) -> Draft:
    if course:  # course notes 001: 5×5×16 = 400 -> 120 units: 48,120
        fmap, n_in, units, bias = (5, 5, 16), 400, 120, True
    else:
        fmap = None
        if rng.random() < 0.5:
            fmap = (rng.randint(2, 8),) * 2 + (rng.choice([8, 16, 32, 64]),)
            n_in = prod(fmap)
        else:
            n_in = rng.choice([10, 64, 84, 120, 128, 256, 512, 784, 1600, 4096])
        units = rng.choice([2, 10, 32, 64, 84, 100, 120, 128, 256, 1000])
        bias = rng.random() < 0.85
    total = dense_params(n_in, units, bias=bias)
    source = (f"a feature map of {_x(fmap)} (height × width × channels), flattened," if fmap
              else f"a vector of {n_in} features")
    text = (f"{source[0].upper() + source[1:]} feeds a dense layer of {units} units "
            f"{'with' if bias else 'without'} biases. How many learnable parameters does the dense layer have?")
    lines = [f"inputs: {' · '.join(map(str, fmap))} = {n_in}"] if fmap else []
    lines.append(f"(in + 1)·out = ({n_in} + 1)·{units} = {total}" if bias else f"in·out = {n_in}·{units} = {total}")
    return Draft(text, Answer("int", total), "\n".join(lines),
                 data={"in_features": n_in, "units": units, "bias": bias})


@register("separable-params", "params", "parameters of a depthwise-separable conv block (depthwise + 1×1)")
def separable_params(rng: random.Random, course: bool, rules: Rules) -> Draft:
    c = rng.choice([3, 16, 32, 64, 128, 256])
    f = rng.choice([16, 32, 64, 128, 256, 512])
    k = rng.choice([3, 3, 5, 7])
    bias = rng.random() < 0.6
    depthwise = conv_params(c, c, (k, k), bias=bias, groups=c, ndim=2)
    pointwise = conv_params(c, f, (1, 1), bias=bias, ndim=2)
    total = depthwise + pointwise
    bias_words = "each conv has a bias per output channel" if bias else "neither conv has biases"
    text = (f"A depthwise-separable block maps {c} channels to {f}: a depthwise {k}×{k} conv (one {k}×{k} filter "
            f"per input channel, groups = {c}) followed by a pointwise 1×1 conv with {f} filters; {bias_words}. "
            "How many learnable parameters does the block have?")
    b = " + 1" if bias else ""
    lines = [f"depthwise: ({k}·{k}{b})·{c} = {depthwise}",
             f"pointwise: ({c}{b})·{f} = {pointwise}",
             f"total: {depthwise} + {pointwise} = {total}",
             f"(a full {k}×{k} conv from {c} to {f} channels would have {conv_params(c, f, (k, k), bias=bias):,})"]
    return Draft(text, Answer("int", total), "\n".join(lines),
                 data={"in_channels": c, "filters": f, "kernel": k, "bias": bias})


# --- whole small models --------------------------------------------------------------------------

_COURSE_LENET = {
    "input": [32, 32, 3],
    "layers": [
        {"type": "conv", "filters": 6, "kernel": 5, "padding": "valid"},
        {"type": "maxpool", "size": 2},
        {"type": "conv", "filters": 16, "kernel": 5, "padding": "valid"},
        {"type": "maxpool", "size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 120},
        {"type": "dense", "units": 84},
        {"type": "dense", "units": 10},
    ],
}


def _random_model(rng: random.Random) -> dict:
    h = rng.choice([28, 32])
    layers = [{"type": "conv", "filters": rng.choice([4, 6, 8, 16]), "kernel": rng.choice([3, 5]),
               "padding": rng.choice(["valid", "valid", "same"])},
              {"type": "maxpool", "size": 2}]
    if rng.random() < 0.7:
        layers += [{"type": "conv", "filters": rng.choice([8, 16, 32]), "kernel": rng.choice([3, 5]),
                    "padding": rng.choice(["valid", "same"])},
                   {"type": "maxpool", "size": 2}]
    layers.append({"type": "flatten"})
    if rng.random() < 0.7:
        layers.append({"type": "dense", "units": rng.choice([32, 64, 84, 120, 128])})
    layers.append({"type": "dense", "units": rng.choice([2, 10])})
    return {"input": [h, h, rng.choice([1, 3])], "layers": layers}


def model_rows(model: dict, rules: Rules = DEFAULT_RULES) -> list[dict]:
    """Name, output shape (H, W, C) or (features,), params and the working of each layer."""
    shape = tuple(model["input"])
    rows, counts = [], {"conv": 0, "maxpool": 0, "dense": 0, "flatten": 0}
    b, plus = (True, " + 1") if rules.bias else (False, "")
    for layer in model["layers"]:
        kind = layer["type"]
        counts[kind] += 1
        name = {"conv": "CONV", "maxpool": "POOL", "dense": "FC", "flatten": "FLATTEN"}[kind]
        name += f" {counts[kind]}" if kind != "flatten" else ""
        if kind == "conv":
            k, f, c = layer["kernel"], layer["filters"], shape[2]
            hw = _each(conv_len, shape[:2], k, 1, layer["padding"], 1, rules)
            params = conv_params(c, f, (k, k), bias=b)
            work = f"({k}·{k}·{c}{plus})·{f} = {params}"
            shape = tuple(hw) + (f,)
        elif kind == "maxpool":
            hw = _each(pool_len, shape[:2], layer["size"], layer["size"], 0, rules)
            params, work = 0, "0 (no learnable parameters)"
            shape = tuple(hw) + (shape[2],)
        elif kind == "flatten":
            params, work = 0, f"{' · '.join(map(str, shape))} = {prod(shape)} features"
            shape = (prod(shape),)
        else:
            params = dense_params(shape[0], layer["units"], bias=b)
            work = f"({shape[0]}{plus})·{layer['units']} = {params}"
            shape = (layer["units"],)
        rows.append({"name": name, "shape": shape, "params": params, "work": work})
    return rows


def describe_model(model: dict) -> str:
    lines = [f"  input {_x(model['input'])} (height × width × channels)"]
    for layer in model["layers"]:
        kind = layer["type"]
        if kind == "conv":
            lines.append(f"  conv {layer['filters']} filters {layer['kernel']}×{layer['kernel']}, stride 1, "
                         f"padding '{layer['padding']}', ReLU")
        elif kind == "maxpool":
            lines.append(f"  maxpool {layer['size']}×{layer['size']}, stride {layer['size']}")
        elif kind == "flatten":
            lines.append("  flatten")
        else:
            lines.append(f"  dense {layer['units']} units")
    return "\n".join(lines)


def _table(rows: list[dict]) -> list[str]:
    return [f"{r['name']:<8} {_x(r['shape']):>10}  {r['work']}" for r in rows]


@register("model-params", "params", "total parameters of a small CNN (the LeNet table)")
def model_params_q(rng: random.Random, course: bool, rules: Rules) -> Draft:
    model = _COURSE_LENET if course else _random_model(rng)
    rows = model_rows(model, rules)
    total = sum(r["params"] for r in rows)
    text = "How many learnable parameters does this model have in total?\n" + describe_model(model)
    lines = _table(rows) + [f"total = {' + '.join(str(r['params']) for r in rows if r['params'])} = {total:,}"]
    return Draft(text, Answer("int", total), "\n".join(lines), data={"model": model},
                 stated=("bias", "rounding"))


@register("model-shape", "params", "output shape after a given layer of a small CNN")
def model_shape_q(rng: random.Random, course: bool, rules: Rules) -> Draft:
    model = _COURSE_LENET if course else _random_model(rng)
    rows = model_rows(model, rules)
    candidates = [i for i, r in enumerate(rows) if not r["name"].startswith("FC")]
    index = 3 if course else rng.choice(candidates)
    row = rows[index]
    if len(row["shape"]) == 1:
        question = f"How many features come out of {row['name']}?"
        answer = Answer("int", row["shape"][0])
    else:
        question = f"What is the output shape (height × width × channels) after {row['name']}?"
        answer = Answer("shape", row["shape"][:2], channels=row["shape"][2], channels_required=True)
    text = (f"{question} Layers are counted from the input: CONV 1, POOL 1, CONV 2, ...\n"
            + describe_model(model))
    return Draft(text, answer, "\n".join(_table(rows[: index + 1])), data={"model": model, "layer": index},
                 stated=("rounding",))


# --- memory, compute, receptive field, connections -----------------------------------------------

@register("activation-memory", "memory", "memory of one layer's activations (the 226×226×100 floats question)")
def activation_memory(rng: random.Random, course: bool, rules: Rules) -> Draft:
    if course:  # course notes 002: 228×228×3 with 100 filters of 3×3 -> 226×226×100 floats
        h, c, f, k, dtype = 228, 3, 100, 3, "float32"
    else:
        h = rng.choice([28, 32, 64, 112, 128, 224, 228, 256])
        c = rng.choice([1, 3, 16, 64])
        f = rng.choice([16, 32, 64, 96, 100, 128, 256])
        k = rng.choice([1, 3, 5, 7])
        dtype = rng.choice(["float32", "float32", "float32", "float16", "float64"])
    hw = conv_output_size((h, h), (k, k))
    shape = tuple(hw) + (f,)
    nbytes = activation_bytes(shape, dtype)
    size = _ITEMSIZE[dtype]
    text = (f"An image of {h}×{h}×{c} goes through a conv layer of {f} filters of {k}×{k}, stride 1, no padding. "
            f"How many bytes does the layer's output take for one image, stored as {dtype} "
            f"({size * 8}-bit, {size} bytes per value)? Answer in bytes, exactly.")
    lines = [_conv_line(h, k, 1, (0, 0), 1, hw[0], "H' = W'", "H"),
             f"values: {hw[0]}·{hw[1]}·{f} = {prod(shape):,}",
             f"bytes: {prod(shape):,} · {size} = {nbytes:,} (≈ {nbytes / 2**20:.2f} MiB, "
             f"{nbytes / 1e6:.2f} MB)"]
    return Draft(text, Answer("int", nbytes, unit="bytes"), "\n".join(lines),
                 data={"input": [h, h, c], "filters": f, "kernel": k, "dtype": dtype})


@register("activation-memory-batch", "memory", "activation memory of a conv layer for a batch (stride, padding)")
def activation_memory_batch(rng: random.Random, course: bool, rules: Rules) -> Draft:
    h = rng.choice([28, 32, 64, 96, 112, 128, 224])
    c = rng.choice([1, 3, 16, 64])
    f = rng.choice([16, 32, 64, 96, 128, 256])
    k = rng.choice([1, 3, 3, 5, 7])
    s = rng.choice([1, 1, 2, 2, 4])
    p = rng.choice([0, k // 2])
    batch = rng.choice([8, 16, 32, 64, 128, 256])
    dtype = rng.choice(["float32", "float32", "float16", "float64"])
    ask = rng.choice([None, ("MiB", 1), ("MB", 1), ("GiB", 2), ("kB", 0)])
    side = conv_len(h, k, s, p, 1, rules)
    size = _ITEMSIZE[dtype]
    values = side * side * f
    nbytes = values * size * batch
    if ask and nbytes < BYTE_UNITS[ask[0]] // 10 ** ask[1] * 20:
        ask = None  # too small to be worth rounding in that unit: ask for the bytes
    how = (f"Answer in {ask[0]}, to {ask[1]} decimal{'s' if ask[1] != 1 else ''} "
           f"(1 {ask[0]} = {BYTE_UNITS[ask[0]]:,} bytes)." if ask else "Answer in bytes, exactly.")
    text = (f"A batch of {batch} images of {h}×{h}×{c} goes through a conv layer of {f} filters of {k}×{k}, "
            f"stride {s}, {_pad_words(p)}. How much memory does the layer's output take for the whole batch "
            f"of {batch}, stored as {dtype} ({size} bytes per value)? {how}")
    lines = [_conv_line(h, k, s, (p, p), 1, side, "H' = W'", "H"),
             f"values per image: {side}·{side}·{f} = {values:,}",
             f"bytes: {values:,} · {size} bytes · {batch} images = {nbytes:,}"]
    answer = Answer("int", nbytes, unit="bytes", rounding=ask)
    if ask:
        lines.append(f"in {ask[0]}: {nbytes:,} / {BYTE_UNITS[ask[0]]:,} ≈ {answer.rounded()}")
    return Draft(text, answer, "\n".join(lines),
                 data={"input": [h, h, c], "filters": f, "kernel": k, "stride": s, "padding": p, "batch": batch,
                       "dtype": dtype, "rounding": list(ask) if ask else None}, stated=_rounding_if(s))


@register("conv-macs", "memory", "multiply-adds (MACs) or FLOPs of a conv layer on one image")
def conv_macs_q(rng: random.Random, course: bool, rules: Rules) -> Draft:
    h = rng.choice([8, 14, 16, 28, 32, 56, 64, 112, 224])
    c = rng.choice([1, 3, 16, 32, 64])
    f = rng.choice([8, 16, 32, 64, 128])
    k = rng.choice([1, 3, 3, 5, 7])
    s = rng.choice([1, 1, 2])
    p = rng.choice([0, k // 2])
    flops = rng.random() < 0.5
    side = conv_len(h, k, s, p, 1, rules)
    macs = f * side * side * c * k * k
    total = macs * rules.flops_per_mac if flops else macs
    what = "FLOPs" if flops else "multiply-adds (MACs)"
    text = (f"A conv layer of {f} filters of {k}×{k}×{c}, stride {s}, {_pad_words(p)} is applied to one image of "
            f"{h}×{h}×{c} (height × width × channels). How many {what} does it take?")
    lines = [_conv_line(h, k, s, (p, p), 1, side, "H' = W'", "H"),
             f"each output value is a dot product of k·k·C = {k}·{k}·{c} = {k * k * c} multiply-adds",
             f"MACs = H'·W'·F·k·k·C = {side}·{side}·{f}·{k * k * c} = {macs:,}"]
    if flops:
        lines.append(f"FLOPs = {rules.flops_per_mac}·MACs = {total:,}")
    stated = _rounding_if(s) + (("flops_per_mac",) if flops else ())
    return Draft(text, Answer("int", total), "\n".join(lines),
                 data={"input": [h, h, c], "filters": f, "kernel": k, "stride": s, "padding": p, "flops": flops},
                 stated=stated)


@register("receptive-field", "receptive-field", "receptive field of a stack of convolutions")
def receptive_field_q(rng: random.Random, course: bool, rules: Rules) -> Draft:
    if course:  # course notes 003 (VGG): three 3×3 convs see 7×7
        layers, two_d = [(3, 1, 1)] * 3, True
    else:
        layers = []
        for _ in range(rng.randint(2, 4)):
            d = rng.choice([1, 1, 1, 2])
            k = rng.choice([1, 2, 3, 3, 3, 5, 7]) if d == 1 else 3
            layers.append((k, rng.choice([1, 1, 2]), d))
        two_d = rng.random() < 0.5
    rf = receptive_field(layers)
    def name(k, s, d):
        size = f"{k}×{k}" if two_d else f"width {k}"
        return f"conv {size}, stride {s}" + (f", dilation {d}" if d > 1 else "")
    text = ("One output unit at the end of this stack of convolutions sees how large a region of the input "
            f"({'height × width' if two_d else 'length'})?\n" + "\n".join(f"  {name(*l)}" for l in layers))
    lines = ["r_0 = 1, j_0 = 1; each layer: r += (k_eff − 1)·j, then j ·= s"]
    r, j = 1, 1
    for i, (k, s, d) in enumerate(layers, 1):
        k_eff = effective_kernel_size(k, d)
        r_new = r + (k_eff - 1) * j
        lines.append(f"layer {i}: r = {r} + ({k_eff} − 1)·{j} = {r_new}, j = {j}·{s} = {j * s}")
        r, j = r_new, j * s
    lines.append(f"receptive field: {rf.size}×{rf.size}" if two_d else f"receptive field: {rf.size}")
    answer = Answer("shape", (rf.size, rf.size)) if two_d else Answer("int", rf.size)
    return Draft(text, answer, "\n".join(lines), data={"layers": [list(l) for l in layers]})


@register("connections", "params", "connections of a conv layer vs a dense layer (local connectivity)")
def connections_q(rng: random.Random, course: bool, rules: Rules) -> Draft:
    if course:  # course notes 003: 5 inputs, width 3, output as long as the input -> 13 (dense: 25)
        n, k, s, mode = 5, 3, 1, "same"
    else:
        mode = rng.choice(["valid", "same"])
        k = rng.choice([3, 3, 5])
        n = rng.randint(k + 1, 12)
        s = 1 if mode == "same" else rng.choice([1, 1, 2])
    dense = dense_params(n, n, bias=False)
    if mode == "valid":
        out = conv_len(n, k, s, 0, 1, rules)
        total = out * k
        how = f"stride {s}, no padding"
        lines = [_conv_line(n, k, s, (0, 0), 1, out, "outputs", "n"),
                 f"each output is connected to {k} inputs: {out}·{k} = {total}"]
    else:
        p = conv_padding(n, k, 1, 1, "same")[0]
        padded = conv_macs(1, 1, k, n, 1, "same")
        total = padded - p * (p + 1)
        how = (f"stride 1, zero padding so the output is as long as the input; links to the padding zeros "
               f"are not connections")
        ends = "2·1" if p == 1 else f"2·(1 + … + {p})"
        lines = [f"{n} outputs · {k} taps = {padded}, minus the taps on padding zeros at the two ends "
                 f"({ends} = {p * (p + 1)}): {padded} − {p * (p + 1)} = {total}"]
    lines.append(f"a dense layer of {n} units would have {n}·{n} = {dense}")
    text = (f"{n} inputs feeding a fully connected layer of {n} units make {dense} connections. How many "
            f"connections does a 1-D conv layer with one filter of width {k} have on the same input ({how})?")
    return Draft(text, Answer("int", total), "\n".join(lines),
                 data={"n": n, "kernel": k, "stride": s, "mode": mode, "dense": dense},
                 stated=_rounding_if(s))
