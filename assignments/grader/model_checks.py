"""The grader's checks of the ``model`` assignment: a model in the builder's spec format, the shapes
and parameter counts of a bundled model stated by hand, and a small ConvNet's loss and gradients.

The submission only ever returns plain data (a ``str``, lists of numbers, arrays) from the worker:
parsing the spec text with ``convcheck.reference.model`` happens here, in the grader, because text is
data — the student uses the builder's format without importing convcheck in the sandbox. The model
the answers are compared with is named by the spec (``[model] reference = "lenet-course"``). Exposed
to the spec as ``grader.*`` checks through :mod:`convcheck.assignments.grader.grader_checks`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

#: A spec text longer than this is refused before parsing (a real model takes a few hundred characters).
MAX_SPEC_CHARS = 20_000


def _result(status, message="", examples=1):
    from .grader_checks import GraderCheckResult

    return GraderCheckResult(status, message, None, examples)


def _call(runner, breaker, fspec, *args):
    """``(value, None)`` or ``(None, message)`` — the student's error in the student's terms."""
    from .grader_checks import describe_error

    try:
        return breaker.call(runner, fspec.name, *args), None
    except Exception as exc:
        said = describe_error(exc)
        return None, said[len("StudentException: "):] if said.startswith("StudentException: ") else said


# --- the reference model -------------------------------------------------------------------------------

def reference_name(assignment) -> str:
    """The bundled model the spec's answers are compared with (``[model] reference``)."""
    return (assignment.extra.get("model") or {}).get("reference", "lenet-course")


def summary_rows(summary: dict) -> list[dict]:
    """The rows of a summary that a hand-written table has: layers that hold parameters or change
    the shape (a separate ReLU line and a fused ``relu`` give the same rows), flatten always."""
    rows, previous = [], tuple(summary["input_shape"])
    for layer in summary["layers"]:
        shape = tuple(layer["output_shape"])
        if layer.get("depth", 0) == 0 and (layer["params"] or shape != previous or layer["type"] == "Flatten"):
            rows.append({"name": layer["name"], "type": layer["type"], "shape": shape, "params": int(layer["params"])})
        previous = shape
    return rows


def reference_summary(assignment) -> dict:
    from convcheck.reference.model import load_bundled

    return load_bundled(reference_name(assignment)).summary().to_dict()


def _parts(rows: list[dict]) -> tuple[range, range]:
    """Row indices of the convolutional part (before the first Flatten) and of the rest."""
    split = next((i for i, r in enumerate(rows) if r["type"] == "Flatten"), len(rows))
    return range(0, split), range(split, len(rows))


def _shape(shape) -> str:
    return str(tuple(shape))


# --- lenet_spec() -> str --------------------------------------------------------------------------------

def _parsed(assignment, fspec, runner, breaker):
    """``(summary, None)`` of the student's spec text, or ``(None, message)``."""
    from convcheck.reference.model import ModelError, SpecError, parse_spec

    text, problem = _call(runner, breaker, fspec)
    if problem:
        return None, problem
    if type(text) is not str:
        return None, f"{fspec.name}() returned {type(text).__name__}, but should return the model spec as a str"
    if len(text) > MAX_SPEC_CHARS:
        return None, f"{fspec.name}() returned {len(text):,} characters; a model spec takes a few hundred"
    try:
        model = parse_spec(text, name="submission", source=f"{fspec.name}()")
        summary = model.summary().to_dict()
    except (SpecError, ModelError) as exc:
        return None, f"the spec does not parse: {exc}"
    except Exception as exc:  # the builder's own limits (a size that overflows, …): still the text's fault
        return None, f"the spec does not build a model: {type(exc).__name__}: {exc}"
    return summary, None


def model_spec_parses(assignment, fspec, runner, breaker, *, max_examples: int, seed: int):
    """The returned text parses with the builder's ``parse_spec`` and has the reference's input shape."""
    summary, problem = _parsed(assignment, fspec, runner, breaker)
    if problem:
        return _result("failed", problem)
    want = reference_summary(assignment)
    got_in, want_in = tuple(summary["input_shape"]), tuple(want["input_shape"])
    if got_in != want_in or summary["channels"] != want["channels"]:
        return _result("failed", f"input shape {_shape(got_in)} (channels {summary['channels']}), but should be "
                                 f"{_shape(want_in)} (channels {want['channels']}): the first line is 'input "
                                 f"{'x'.join(str(d) for d in want_in)}'")
    return _result("passed")


def model_spec_matches(assignment, fspec, runner, breaker, *, max_examples: int, seed: int):
    """The parsed model's summary equals the reference's, row by row: type, output shape, parameters."""
    summary, problem = _parsed(assignment, fspec, runner, breaker)
    if problem:
        return _result("failed", f"could not be compared: {problem}")
    want = reference_summary(assignment)
    got, expected = summary_rows(summary), summary_rows(want)
    for i, (g, e) in enumerate(zip(got, expected), 1):
        where = f"row {i} ({g['name']})"
        if g["type"] != e["type"]:
            return _result("failed", f"{where}: a {g['type']} layer, but should be a {e['type']} layer "
                                     f"(output shape {_shape(e['shape'])})")
        if g["shape"] != e["shape"]:
            return _result("failed", f"{where}: output shape {_shape(g['shape'])}, but should be {_shape(e['shape'])}")
        if g["params"] != e["params"]:
            return _result("failed", f"{where}: {g['params']:,} parameters, but should be {e['params']:,}")
    if len(got) != len(expected):
        if len(got) < len(expected):
            e = expected[len(got)]
            return _result("failed", f"the model has {len(got)} rows, but should have {len(expected)}: row "
                                     f"{len(got) + 1} ({e['type']}, output shape {_shape(e['shape'])}) is missing")
        g = got[len(expected)]
        return _result("failed", f"the model has {len(got)} rows, but should have {len(expected)}: row "
                                 f"{len(expected) + 1} ({g['name']}, output shape {_shape(g['shape'])}) is extra")
    if summary["total_params"] != want["total_params"]:  # rows agree, so only hidden layers can differ
        return _result("failed", f"{summary['total_params']:,} parameters in all, but should be {want['total_params']:,}")
    return _result("passed")


# --- lenet_shapes() -> list, lenet_params() -> list[int] -------------------------------------------------

def _as_shape(item):
    if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
        return (int(item),)  # a flat layer's n for (n,)
    if isinstance(item, (tuple, list, np.ndarray)) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in item):
        return tuple(int(v) for v in item)
    raise TypeError(item)


def _as_count(item):
    if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
        return int(item)
    raise TypeError(item)


def _stated(assignment, fspec, runner, breaker, what: str, part: int):
    """Compare the rows of one part (0: conv/pool, 1: flatten/dense) of the stated list with the reference."""
    expected = summary_rows(reference_summary(assignment))
    value, problem = _call(runner, breaker, fspec)
    if problem:
        return _result("failed", problem)
    convert, kind = (_as_shape, "tuples (H, W, C) or (n,)") if what == "shape" else (_as_count, "ints")
    try:
        stated = [convert(item) for item in value]
    except TypeError:
        return _result("failed", f"{fspec.name}() returned {value!r:.200}, but should return a list of "
                                 f"{len(expected)} {kind}, one per layer")
    if len(stated) != len(expected):
        names = ", ".join(f"{r['type']}" for r in expected)
        return _result("failed", f"{fspec.name}() returned {len(stated)} values, but the model has "
                                 f"{len(expected)} layers ({names}): one value per layer")
    rows = _parts(expected)[part]
    for i in rows:
        want = expected[i]["shape"] if what == "shape" else expected[i]["params"]
        if stated[i] != want:
            shown = (_shape(stated[i]), _shape(want)) if what == "shape" else (f"{stated[i]:,}", f"{want:,}")
            return _result("failed", f"row {i + 1} ({expected[i]['name']}, {expected[i]['type']}): {what} "
                                     f"{shown[0]}, but should be {shown[1]}")
    return _result("passed")


def model_shapes_conv(assignment, fspec, runner, breaker, *, max_examples: int, seed: int):
    """Stated output shapes of the conv and pool layers (the rows before flatten) are the reference's."""
    return _stated(assignment, fspec, runner, breaker, "shape", 0)


def model_shapes_dense(assignment, fspec, runner, breaker, *, max_examples: int, seed: int):
    """Stated output shapes of flatten and the dense layers are the reference's."""
    return _stated(assignment, fspec, runner, breaker, "shape", 1)


def model_params_conv(assignment, fspec, runner, breaker, *, max_examples: int, seed: int):
    """Stated parameter counts of the conv and pool layers are the reference's."""
    return _stated(assignment, fspec, runner, breaker, "params", 0)


def model_params_dense(assignment, fspec, runner, breaker, *, max_examples: int, seed: int):
    """Stated parameter counts of flatten and the dense layers are the reference's."""
    return _stated(assignment, fspec, runner, breaker, "params", 1)


# --- small_convnet_loss(x, y, w1, b1, w2, b2) -> (loss, dw1, db1, dw2, db2) --------------------------------

OUTPUTS = ("loss", "dw1", "db1", "dw2", "db2")
INPUTS = ("x", "y", "w1", "b1", "w2", "b2")


def _ints(draw, shape, lo, hi):
    return draw(hnp.arrays(np.int64, shape, elements=st.integers(lo, hi))).astype(np.float64)


def tie_free(z1: np.ndarray) -> bool:
    """No 2×2 pool window of relu(z1) has two equal positive values (zeros tie harmlessly: ReLU's mask
    sends their gradient to 0 whichever one the pool picks)."""
    n, f, h, w = z1.shape
    windows = z1[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, f, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    v = windows.reshape(-1, 4)
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    return not any(((v[:, i] == v[:, j]) & (v[:, i] > 0)).any() for i, j in pairs)


@st.composite
def small_convnet_cases(draw):
    """Inputs of the small ConvNet, small and exact: integer x and w1, so z1 = conv(x, w1) + b1 is exact;
    b1 is a half-integer, so z1 is never 0 (off the ReLU kink by 0.5); and no pool window holds two
    equal positive z1 (tie-free max-pool). w2, b2 are multiples of 1/2; y < K.

    Shapes are chosen first (N, C, F, K, then H, W ≥ 2 so the pool has a window; odd sizes drop the
    last row or column, as torch's floor does), then the arrays. The tie-free filter is the one
    ``assume``: it needs the convolution's output, which no construction of the inputs controls.
    """
    from convcheck.checks.cases import Case
    from convcheck.reference.small_convnet import pre_activations

    n, c, f, k = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(2, 3))
    h, w = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    x = _ints(draw, (n, c, h, w), -3, 3)
    w1 = _ints(draw, (f, c, 3, 3), -2, 2)
    b1 = _ints(draw, (f,), -2, 2) - 0.5      # shrinks to −0.5: an all-negative z1, the simplest tie-free case
    w2 = _ints(draw, (f * (h // 2) * (w // 2), k), -2, 2) / 2
    b2 = _ints(draw, (k,), -2, 2) / 2
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    assume(tie_free(pre_activations(x, w1, b1)))
    return Case("small_convnet_loss", (x, y, w1, b1, w2, b2), {}, notes="tie-free max-pool; off the ReLU kink")


#: The smallest input there is (one 2×2 image, z1 = −0.5 everywhere): tried first, so a stub is
#: reported at once instead of after shrinking.
SMALLEST = (np.zeros((1, 1, 2, 2)), np.zeros(1, dtype=np.int64), np.zeros((1, 1, 3, 3)), np.full(1, -0.5),
            np.zeros((1, 2)), np.zeros(2))


def _signature(case) -> str:
    shapes = ", ".join(f"{name}.shape={a.shape}" for name, a in zip(INPUTS, case.inputs))
    return f"small_convnet_loss({shapes})"


def _render(fspec, case, name, received, expected) -> str:
    from .feedback import format_array

    lines = ["Smallest failing case (shrunk by Hypothesis; inputs tie-free for the max-pool, off the ReLU kink):"]
    for arg, value in zip(INPUTS, case.inputs):
        lines.append(f"    {arg} = " + format_array(value).replace("\n", "\n" + " " * (len(arg) + 7)))
    lines.append(f"    {fspec.name}({', '.join(INPUTS)})")
    lines.append(f"Expected {name}:\n    " + format_array(np.asarray(expected)).replace("\n", "\n    "))
    if received is not None:
        lines.append(f"Received {name}:\n    " + format_array(np.asarray(received)).replace("\n", "\n    "))
    return "\n".join(lines)


def _whole_window_gradients(x, y, w1, b1, w2, b2):
    """The mistake re-enacted: (dw1, db1) when the max-pool's backward sends each window's gradient
    to all of its elements instead of to its maximum only."""
    from convcheck.reference import conv, layers, pool

    z1 = conv.conv_forward(x, w1, b1, stride=1, padding=1)
    a1 = layers.relu_forward(z1)
    p1 = pool.max_pool_forward(a1, 2)
    _loss, dz2 = layers.softmax_cross_entropy(layers.dense_forward(layers.flatten_forward(p1), w2, b2), y)
    dp1 = (dz2 @ w2.T).reshape(p1.shape)
    da1 = np.zeros_like(a1)
    ho, wo = p1.shape[2], p1.shape[3]
    da1[:, :, :2 * ho, :2 * wo] = np.repeat(np.repeat(dp1, 2, axis=2), 2, axis=3)
    _dx, dw1, db1 = conv.conv_backward(layers.relu_backward(da1, z1), x, w1, b1, stride=1, padding=1)
    return {"dw1": dw1, "db1": db1}


def _hint(name, received, expected, case) -> str | None:
    """A diagnosis only when the received value equals the re-enacted mistake."""
    if received is None:
        return None
    n = case.inputs[0].shape[0]
    got, want = np.asarray(received, dtype=float), np.asarray(expected, dtype=float)
    if got.shape != want.shape:
        return None
    if n > 1 and np.any(want != 0) and np.allclose(got, want * n, rtol=1e-6, atol=1e-9):
        what = "the loss" if name == "loss" else f"{name} (the gradient of the summed loss)"
        return (f"It looks like {what} is summed over the batch instead of averaged: it is exactly N={n} times "
                "the expected value — divide by N (dz2 = (softmax(z2) − onehot(y)) / N).")
    if name in ("dw1", "db1") and np.allclose(got, _whole_window_gradients(*case.inputs)[name], rtol=1e-6, atol=1e-9):
        return ("It looks like the max-pool's backward sends each window's gradient to all of its elements: "
                "only the window's maximum (where the forward took its value from) gets it, the others get 0.")
    return None


def _small_convnet_check(index: int):
    name = OUTPUTS[index]

    def check(assignment, fspec, runner, breaker, *, max_examples: int, seed: int):
        from convcheck.reference.small_convnet import small_convnet_loss as reference

        from .grader_checks import GraderCheckResult, compare, run_property

        _value, problem = _call(runner, breaker, fspec, *SMALLEST)
        if problem and "NotImplementedError" in problem:  # a stub: nothing to shrink
            return GraderCheckResult("failed", f"{problem} [{fspec.name}]", None, 1)
        last: list = []   # (case, received, expected) of each failure; the last one is the shrunk one

        def prop(case):
            value, problem = _call(runner, breaker, fspec, *case.inputs)
            call = _signature(case)
            expected = reference(*case.inputs)[index]
            if problem:
                last.append((case, None, expected))
                return f"{problem} [{call}]"
            if not isinstance(value, (tuple, list)) or len(value) != len(OUTPUTS):
                kind = type(value).__name__ + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else "")
                last.append((case, None, expected))
                return f"{fspec.name} must return (loss, dw1, db1, dw2, db2), but returned {kind} [{call}]"
            message = compare(name, value[index], expected, call)
            if message:
                last.append((case, value[index], expected))
            return message

        result = run_property(small_convnet_cases(), prop, max_examples=max_examples, seed=seed)
        if result.status == "passed" or not last or result.counterexample is None:
            return result
        case, got, expected = last[-1]
        text = result.message + "\n" + _render(fspec, case, name, got, expected)
        hint = _hint(name, got, expected, case)
        text += f"\nHint: {hint}" if hint else ""
        return GraderCheckResult("failed", text, None, result.examples)

    check.__name__ = f"small_convnet_{name}"
    check.__doc__ = f"{name} of the student's small_convnet_loss equals the reference composition's."
    return check


small_convnet_loss = _small_convnet_check(0)
small_convnet_dw1 = _small_convnet_check(1)
small_convnet_db1 = _small_convnet_check(2)
small_convnet_dw2 = _small_convnet_check(3)
small_convnet_db2 = _small_convnet_check(4)
