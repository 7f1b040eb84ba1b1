"""What a student reads about a failed check: the shrunk case in their own calling convention,
expected against received, and a hint when the failure looks like a known mistake.

The hints are diagnoses, not guesses: where it is cheap, the suspected mistake is re-enacted with
the reference (a flipped kernel, a missing bias, the last image's weight gradient only) and the
hint is given only when the student's answer equals the re-enacted one.
"""

from __future__ import annotations

import numpy as np

from . import conventions
from .spec import Assignment, FunctionSpec

#: Arrays up to this many values are printed in full; larger ones by shape.
FULL_PRINT = 120


def case_from_dict(d: dict):
    """Rebuild a :class:`convcheck.checks.cases.Case` from ``Case.to_dict()``."""
    from convcheck.checks.cases import Case

    inputs = []
    for item in d.get("inputs", []):
        if "values" in item:
            inputs.append(np.array(item["values"], dtype=item.get("dtype", "float64")).reshape(item["shape"]))
        else:
            inputs.append(item.get("value"))
    options = {k: (tuple(_tuplify(v)) if isinstance(v, list) else v) for k, v in (d.get("options") or {}).items()}
    return Case(d["op"], tuple(inputs), options, d.get("notes", ""))


def _tuplify(v):
    return [tuple(_tuplify(x)) if isinstance(x, list) else x for x in v]


def format_array(a) -> str:
    if a is None:
        return "None"
    if not isinstance(a, np.ndarray):
        return repr(a)
    if a.size <= FULL_PRINT:
        body = np.array2string(a, separator=", ", max_line_width=100, threshold=FULL_PRINT + 1,
                               floatmode="maxprec", suppress_small=True)
        body = "\n".join(line for line in body.splitlines() if line.strip())  # no blank lines between blocks
        return f"{body}  # shape {a.shape}"
    return f"<array of shape {a.shape}, {a.size} values>"


def _names(op: str, n: int) -> list[str]:
    from convcheck.checks.ops import OPS

    if op in OPS:
        return list(OPS[op].inputs)[:n]
    sig = conventions._reference_signature(op)
    return list(sig.parameters)[:n] if sig else [f"arg{i}" for i in range(n)]


def _with_defaults(op: str, options: dict) -> dict:
    merged = dict(conventions._defaults(op))
    merged.update(options)
    return merged


def render_call(assignment: Assignment, fspec: FunctionSpec, case) -> str:
    """The counterexample as the code a student would run to reproduce it: arrays in the layouts the
    spec declares, the calls with the declared arguments (param dicts, literals), the returns named."""
    names = _names(case.op, len(case.inputs))
    lines = []
    indent = " " * 4
    fwd = _forward_of(assignment, fspec)
    shown_in = fwd or fspec
    for name, value in zip(names, case.inputs):
        layout = shown_in.layouts.get(name) if name != "dout" else \
            fspec.layouts.get("dout", shown_in.layouts.get("x"))
        text = format_array(conventions.to_layout(value, layout))
        lines.append(f"{name} = " + text.replace("\n", "\n" + " " * (len(name) + 3)))
    if assignment.convention == "reference":
        args = ", ".join(repr(v) for v in case.inputs if not isinstance(v, np.ndarray))
        opts = ", ".join(f"{k}={v!r}" for k, v in case.options.items())
        return indent + f"{fspec.name}({', '.join(x for x in (args, opts) if x)})"
    values = {**dict(zip(names, case.inputs)), **_with_defaults(case.op, case.options)}
    if fwd is not None:
        fwd_values = {**dict(zip(_names(fwd.op, len(case.inputs) - 1), case.inputs[1:])),
                      **_with_defaults(fwd.op, case.options)}
        lines.append(_call_line(fwd, fwd_values))
        lines.append(_call_line(fspec, {**values, "cache": None}))
    else:
        lines.append(_call_line(fspec, values))
    return "\n".join(indent + line.replace("\n", "\n" + indent) for line in lines)


def _forward_of(assignment: Assignment, fspec: FunctionSpec):
    """The forward whose cache a backward takes (its variant of the same op family), or None."""
    if not fspec.forward:
        return None
    fwd = assignment.function(fspec.forward)
    partner = fspec.op.replace("_backward", "_forward")
    return next((v for v in conventions.variants(fwd) if v.op == partner), fwd)


def _call_line(fspec: FunctionSpec, values: dict) -> str:
    """``out, cache = name(x, w, b, {'stride': 1, 'pad': 0})`` for one declared call."""
    parts = []
    for entry in fspec.args:
        if entry in fspec.dicts:
            items = []
            for key, expr in fspec.dicts[entry].items():
                try:
                    v = conventions._dict_value(expr, values)
                except conventions.ConventionError:
                    v = "?"
                if v is not conventions._MISSING:
                    items.append(f"{key!r}: " + (key if isinstance(v, np.ndarray) else repr(v)))
            parts.append("{" + ", ".join(items) + "}")
        elif "=" in entry:
            expr = entry.split("=", 1)[1].strip()
            try:
                v = conventions._literal(expr) if expr[:1] in "'\"" else conventions.param_value(expr, values)
            except (conventions.ConventionError, ValueError, SyntaxError):
                v = expr
            parts.append(f"{entry.split('=', 1)[0]}={v!r}" if expr[:1] in "'\"" else repr(v))
        else:
            parts.append(entry)
    returns = ", ".join(fspec.returns)
    return f"{returns} = {fspec.name}({', '.join(parts)})"


def _params_text(fspec: FunctionSpec, op: str, options: dict) -> str:
    if not fspec.params:
        return ""
    try:
        params = {k: conventions.param_value(e, _with_defaults(op, options)) for k, e in fspec.params.items()}
    except conventions.ConventionError:
        return f", <options {options!r}>"
    return ", " + repr(params)


def output_name(check: str, op: str) -> str:
    """The output a check compares: ``conv_backward.dw_matches_torch`` → ``dw``; a forward's is ``out``."""
    prop = check.split(".", 1)[-1]
    head = prop.split("_", 1)[0]
    from convcheck.checks.ops import OPS

    spec = OPS.get(op)
    if spec is not None and head in spec.outputs:
        return head
    if spec is not None and len(spec.outputs) == 1:
        return spec.outputs[0]
    return head if head.startswith("d") else "out"


def pick(result, op: str, name: str):
    """The output ``name`` of a reference-convention result (a tuple for several outputs)."""
    from convcheck.checks.ops import OPS

    spec = OPS.get(op)
    if spec is None or len(spec.outputs) == 1 or not isinstance(result, tuple):
        return result
    return result[spec.outputs.index(name)] if name in spec.outputs else result


# --- hints -------------------------------------------------------------------------------------------

def _window_and_input(case):
    """(kernel (kh, kw), stride (sh, sw), spatial (H, W)) of a conv or pool case, or None."""
    opts = case.options
    if len(case.inputs) < 2:
        return None
    x = case.inputs[1] if case.op.endswith("_backward") else case.inputs[0]
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        return None
    if case.op.startswith("conv"):
        w = case.inputs[2] if case.op.endswith("_backward") else case.inputs[1]
        k = tuple(w.shape[2:])
    elif "kernel" in opts:
        kk = opts["kernel"]
        k = tuple(kk) if isinstance(kk, (tuple, list)) else (kk, kk)
    else:
        return None
    s = opts.get("stride")
    if s is None:
        s = k
    s = tuple(s) if isinstance(s, (tuple, list)) else (s, s)
    return k, s, tuple(x.shape[2:])


def hints(fspec: FunctionSpec, check: str, case, message: str, received=None, expected=None, *,
          reenact: bool = True) -> list[str]:
    """Hints for the common mistakes that this failure matches (most specific first)."""
    out: list[str] = []
    msg = message or ""
    if "cannot be interpreted as an integer" in msg or "float" in msg and ("integer" in msg or "index" in msg):
        out.append("A size computed with / is a float in Python 3; use // for output sizes "
                   "(H' = 1 + (H + 2·pad − HH) // stride).")
    if check == "grader.fresh_cache":
        out.append("Read everything the backward needs from its cache argument; a global or attribute set by "
                   "the forward holds the LAST call's input, not the one this cache belongs to.")
    if check == "grader.no_input_mutation":
        if fspec.op.startswith("relu"):
            out.append("The caller's x must stay as it was: write `out = np.maximum(0, x)` or work on `x.copy()` "
                       "rather than assigning into x.")
        else:
            out.append("In-place operators (x -= mean, x *= mask, dout[...] = 0) and slice assignment change the "
                       "caller's array: write xc = x - mean, or work on a .copy().")
    if case is None:
        return out
    geometry = _window_and_input(case)
    padding = case.options.get("padding", None)
    if (isinstance(received, np.ndarray) and 0 in received.shape and padding in (0, (0, 0))
            and fspec.op.endswith("_backward")):
        out.append("dx_pad[:, :, pad:-pad, pad:-pad] is empty when pad = 0 (−0 is 0); crop with "
                   "dx_pad[:, :, pad:pad + H, pad:pad + W].")
    if "AssertionError" in msg and geometry and fspec.op.startswith("conv"):
        out.append("This assignment uses torch's floor rule: a stride need not divide H + 2·pad − HH; "
                   "the rows and columns that don't fit a whole window are dropped.")
    if geometry and check not in ("grader.fresh_cache", "grader.no_input_mutation"):
        (kh, kw), (sh, sw), (h, w) = geometry
        overlap = (fspec.op.endswith("_backward") and (sh < kh or sw < kw) and output_name(check, fspec.op) == "dx"
                   and " raised " not in msg)
        if overlap:
            out.append(f"Windows overlap in this case (stride {sh} < window {kh}×{kw}): where they overlap, "
                       "each window's share of the gradient must be added (+=), not assigned (=).")
        # a wrong shape or an exception points at mixed-up dimensions more than a wrong value does
        broke = not isinstance(received, np.ndarray) or (isinstance(expected, np.ndarray)
                                                          and received.shape != expected.shape) \
            or any(word in msg for word in ("shape", "broadcast", "index", "Error"))
        if kh != kw and fspec.op.startswith("max_pool") and (broke or not overlap):
            out.append(f"The failing window is not square ({kh}×{kw}): check that pool_height and pool_width "
                       "are not swapped or mixed up (divmod by pool_width when unravelling an argmax).")
        elif h != w and broke:
            out.append(f"The failing input is not square ({h}×{w}): check that H and W (and HH and WW) are not "
                       "mixed up.")
    if isinstance(expected, np.ndarray) and isinstance(received, np.ndarray):
        if expected.ndim == 1 and received.ndim >= 1 and received.shape != expected.shape and output_name(check, fspec.op) == "db":
            out.append("db has one value per output unit: sum dout over every axis except that one "
                       "(axis 0 for affine; axes 0, 2 and 3 for conv).")
        if output_name(check, fspec.op) == "dx" and received.size == expected.size and received.shape != expected.shape:
            out.append(f"dx must have x's shape {expected.shape}: reshape the (N, D) gradient back.")
    if reenact:
        out.extend(_reenacted(fspec, check, case, received))
    if fspec.op == "dense_forward" and ("align" in msg or "shapes" in msg or "matmul" in msg):
        out.append("x may have any rank ≥ 2: flatten it to (N, D) with x.reshape(x.shape[0], -1) first.")
    return list(dict.fromkeys(out))


def _close(a, b) -> bool:
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and np.allclose(a, b)


def _reenacted(fspec: FunctionSpec, check: str, case, received) -> list[str]:
    """Re-enact known mistakes with the reference; a hint only when the received value matches one."""
    if not isinstance(received, np.ndarray) or check.startswith("grader."):
        return []
    from convcheck.checks.adapters import reference as ref

    out = []
    try:
        if fspec.op == "conv_forward":
            x, w, b = case.inputs
            if _close(received, ref.OPS["conv_forward"](x, w[..., ::-1, ::-1].copy(), b, **case.options)):
                out.append("Your output is the convolution with the kernel flipped: the layer computes a "
                           "cross-correlation, x_pad[..., i·s + k, j·s + l] · w[f, c, k, l], without flipping w.")
            elif _close(received, ref.OPS["conv_forward"](x, w, None, **case.options)):
                out.append("Your output is right except for the bias: add b[f] to every output of filter f.")
        elif fspec.op == "conv_backward" and output_name(check, fspec.op) == "dw":
            dout, x, w, b = case.inputs
            if x.shape[0] > 1:
                last = ref.OPS["conv_backward"](dout[-1:], x[-1:], w, b, **case.options)[1]
                if _close(received, last):
                    out.append("Your dw is the last image's share only: dw sums over every example n of the batch.")
        elif fspec.op == "relu_backward":
            dout, x = case.inputs
            if _close(received, dout):
                out.append("Your dx passes dout through everywhere: the mask must be x > 0 (out >= 0 is always "
                           "true after a ReLU).")
            elif _close(received, np.where(dout > 0, dout, 0.0)):
                out.append("Your dx is gated on the sign of dout; ReLU's gradient is gated on the sign of x.")
    except Exception:  # a hint is optional; a reference error here must not hide the real message
        return out
    return out
