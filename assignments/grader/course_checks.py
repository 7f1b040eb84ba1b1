"""The grader's checks of a course's normalisation, loss and dropout functions, through the declared convention.

``grader.values`` compares the outputs a check names (``outputs = ["dx"]``) with the reference op's;
``grader.dict_after`` compares the param dict entries a function writes (batch norm's running statistics
in ``bn_param``) after the call; the ``grader.dropout_*`` checks grade the one random op by the
properties of ``convcheck.checks.dropout`` (any correct mask satisfies them). Cases come from
``convcheck.checks.norm_cases``' constructions (distinct values: every variance > 0; SVM scores off the
hinge's kink; dropout inputs without zeros). Expected values are computed here, in the grader's process, by
``convcheck.reference`` (``norm``, ``losses``, and ``steps`` for the channels-last course's helpers), and are
never sent to the worker.

Which reference op a function is graded against follows from its spec ``op``:

=============================  ========================================================================
op                             student call (declared) → reference
=============================  ========================================================================
``softmax_loss``, ``svm_loss``  ``(x, y) -> (loss, dx)``
``batchnorm_forward``          train: ``layers.batchnorm_forward`` and ``batchnorm_running_update``;
                               test (``mode = "test"``): ``batchnorm_test_forward``
``batchnorm_backward[_alt]``   the forward in train mode, then ``(dout, cache)`` → ``batchnorm_backward``
``spatial_batchnorm_*``        the same on ``(N, C, H, W)``
``layernorm_*``                ``layernorm_forward/backward`` on ``(N, D)``
``groupnorm_*``                ``groupnorm_forward/backward`` on ``(N, C, H, W)``, G groups
``inverted_dropout_*``         the properties of ``checks.dropout`` (``grader.dropout_*``)
=============================  ========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import numpy as np
from hypothesis import strategies as st

from convcheck import reference as ref
from convcheck.checks import dropout as props
from convcheck.checks.harness import CheckFailure
from convcheck.checks.norm_cases import _running, _shifted
from convcheck.checks.strategies import arrays
from convcheck.checks.tolerances import normalization_tolerance, tolerance

from . import conventions, feedback
from .grader_checks import LARGE_OFFSETS, GraderCheckResult, _needs_usable, describe_error, run_property
from .spec import Assignment, FunctionSpec


@dataclass
class CourseCase:
    """One drawn call: the values by name (inputs, options, ``dout`` for a backward)."""

    values: dict
    notes: str = ""
    shown: tuple = field(default=())

    def to_dict(self):  # the message carries the case; no Case to rebuild
        return None


# --- cases -------------------------------------------------------------------------------------------

#: The op families grader.values and grader.dict_after can draw cases for and compute the reference of.
FAMILIES = ("softmax_loss", "svm_loss", "batchnorm", "spatial_batchnorm", "layernorm", "groupnorm", "zero_pad",
            "conv_single_step", "create_mask_from_window", "distribute_value")


def supports(op: str) -> bool:
    """Whether ``grader.values`` can grade a function of reference op ``op``."""
    return _family(op) in FAMILIES


def supports_mutation_check(op: str) -> bool:
    """Whether ``grader.no_input_mutation`` of a function of op ``op`` draws this module's cases (the
    course's normalisations, losses, helpers and dropout) rather than convcheck.checks' strategies."""
    return supports(op) or _family(op) == "inverted_dropout"


def _family(op: str) -> str:
    for fam in ("spatial_batchnorm", "batchnorm", "layernorm", "groupnorm", "inverted_dropout"):
        if op.startswith(fam):
            return fam
    return op


@st.composite
def course_cases(draw, op: str, mode: str = "train", large_logits: bool = False):
    """A call of ``op``'s family with distinct, well-scaled values. ``large_logits`` (the two losses only)
    moves each row of scores by ±1000 or ±700: both losses and their gradients depend only on differences
    within a row, so the expected values do not change, but an unshifted ``np.exp`` overflows (or a log
    of 0 appears)."""
    fam = _family(op)
    backward = op.endswith(("_backward", "_backward_alt"))
    if fam in ("softmax_loss", "svm_loss"):
        n, c = draw(st.integers(1, 5)), draw(st.integers(2, 5))
        x = draw(arrays((n, c), "float64")) * 0.3 if fam == "svm_loss" else draw(arrays((n, c), "float64", scale=0.25))
        y = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
        if large_logits:
            offsets = draw(st.lists(st.sampled_from(LARGE_OFFSETS), min_size=n, max_size=n))
            return CourseCase({"x": x + np.array(offsets)[:, None], "y": y},
                              notes="each row of scores moved by a large constant", shown=("x", "y"))
        return CourseCase({"x": x, "y": y}, shown=("x", "y"))
    if large_logits:
        raise ValueError(f"large_logits applies to softmax_loss and svm_loss, not op={op!r}")
    if fam == "zero_pad":   # the channels-last course's helpers (conv-step-by-step)
        shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2)))
        return CourseCase({"X": draw(arrays(shape, "float64")), "pad": draw(st.integers(0, 2))}, shown=("X", "pad"))
    if fam == "conv_single_step":
        f, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        return CourseCase({"a_slice_prev": draw(arrays((f, f, c), "float64")), "W": draw(arrays((f, f, c), "float64")),
                           "b": draw(arrays((1, 1, 1), "float64", odd=True))}, shown=("a_slice_prev", "W", "b"))
    if fam == "create_mask_from_window":
        shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        return CourseCase({"x": draw(arrays(shape, "float64"))}, notes="distinct values: one maximum", shown=("x",))
    if fam == "distribute_value":
        shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        return CourseCase({"dz": float(draw(st.integers(-8, 8))) + 0.5, "shape": shape}, shown=("dz", "shape"))
    eps = draw(st.sampled_from([1e-5, 1e-3]))
    if fam in ("batchnorm", "spatial_batchnorm"):
        if fam == "batchnorm":
            shape = (draw(st.integers(2, 5)), draw(st.integers(1, 4)))
        else:
            shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(2, 3)))
        c = shape[1]
        x = draw(_shifted(shape, "float64"))
        gamma, beta = draw(arrays((c,), "float64", scale=0.5)), draw(arrays((c,), "float64", scale=0.5))
        rm, rv = draw(_running(c, "float64"))
        values = {"x": x, "gamma": gamma, "beta": beta, "eps": eps, "mode": mode,
                  "momentum": draw(st.sampled_from([0.9, 0.5, 0.99])), "running_mean": rm, "running_var": rv}
        shown = ("x", "gamma", "beta", "running_mean", "running_var")
    elif fam == "layernorm":
        shape = (draw(st.integers(1, 4)), draw(st.integers(2, 5)))
        x = draw(_shifted(shape, "float64"))
        values = {"x": x, "gamma": draw(arrays(shape[1:], "float64", scale=0.5)),
                  "beta": draw(arrays(shape[1:], "float64", scale=0.5)), "eps": eps}
        shown = ("x", "gamma", "beta")
    elif fam == "groupnorm":
        groups, per = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        shape = (draw(st.integers(1, 2)), groups * per, draw(st.integers(1, 3)), draw(st.integers(2, 3)))
        x = draw(_shifted(shape, "float64"))
        c = shape[1]
        values = {"x": x, "gamma": draw(arrays((c,), "float64", scale=0.5)),
                  "beta": draw(arrays((c,), "float64", scale=0.5)), "groups": groups, "eps": eps}
        shown = ("x", "gamma", "beta", "groups")
    else:
        raise ValueError(f"no course cases for op={op!r}")
    if backward:
        values["dout"] = draw(arrays(values["x"].shape, "float64", scale=0.5))
        shown = ("dout",) + shown
    return CourseCase(values, shown=shown)


def _m(op: str, values: dict) -> int:
    """How many values each statistic of a normalisation is over (its tolerance grows with it)."""
    x = values["x"]
    fam = _family(op)
    if fam == "layernorm":
        return prod(x.shape[1:])
    if fam == "groupnorm":
        return (x.shape[1] // values["groups"]) * prod(x.shape[2:])
    return x.size // x.shape[1]


def expected(op: str, values: dict, mode: str = "train") -> dict:
    """The reference's outputs by name (and the running statistics after a training-mode batch norm)."""
    v = values
    fam = _family(op)
    if fam == "zero_pad":
        return {"out": ref.steps.zero_pad(v["X"], v["pad"])}
    if fam == "conv_single_step":
        return {"Z": np.float64(ref.steps.conv_single_step(v["a_slice_prev"], v["W"], v["b"]))}
    if fam == "create_mask_from_window":
        return {"mask": ref.steps.create_mask_from_window(v["x"])}
    if fam == "distribute_value":
        return {"a": ref.steps.distribute_value(v["dz"], v["shape"])}
    if fam in ("softmax_loss", "svm_loss"):
        loss, dx = ref.OPS[fam](v["x"], v["y"])
        return {"loss": np.float64(loss), "dx": dx}
    if fam in ("batchnorm", "spatial_batchnorm"):
        if op.endswith("_forward"):
            if mode == "test":
                return {"out": ref.batchnorm_test_forward(v["x"], v["gamma"], v["beta"], v["running_mean"],
                                                          v["running_var"], eps=v["eps"]),
                        "running_mean": v["running_mean"], "running_var": v["running_var"]}
            rm, rv = ref.batchnorm_running_update(v["x"], v["running_mean"], v["running_var"], v["momentum"])
            return {"out": ref.batchnorm_forward(v["x"], v["gamma"], v["beta"], eps=v["eps"]),
                    "running_mean": rm, "running_var": rv}
        dx, dg, db = ref.batchnorm_backward(v["dout"], v["x"], v["gamma"], v["beta"], eps=v["eps"])
        return {"dx": dx, "dgamma": dg, "dbeta": db}
    if fam == "layernorm":
        if op.endswith("_forward"):
            return {"out": ref.layernorm_forward(v["x"], v["gamma"], v["beta"], eps=v["eps"])}
        dx, dg, db = ref.layernorm_backward(v["dout"], v["x"], v["gamma"], v["beta"], eps=v["eps"])
        return {"dx": dx, "dgamma": dg, "dbeta": db}
    if fam == "groupnorm":
        if op.endswith("_forward"):
            return {"out": ref.groupnorm_forward(v["x"], v["gamma"], v["beta"], v["groups"], eps=v["eps"])}
        dx, dg, db = ref.groupnorm_backward(v["dout"], v["x"], v["gamma"], v["beta"], v["groups"], eps=v["eps"])
        return {"dx": dx, "dgamma": dg, "dbeta": db}
    raise ValueError(f"no reference for op={op!r}")


# --- comparing -----------------------------------------------------------------------------------------

def _compare(name: str, got, want, tol) -> str | None:
    want = np.asarray(want, dtype=np.float64)
    try:
        got_arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{name} is {type(got).__name__}, but should be an array of shape {want.shape}"
    if want.ndim == 0 and got_arr.size == 1:
        got_arr = got_arr.reshape(())
    if got_arr.shape != want.shape:
        return f"{name}.shape={got_arr.shape}, but should be {want.shape}"
    bad = ~np.isclose(got_arr, want, rtol=tol.rtol, atol=tol.atol)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    where = f" at {list(idx)}" if idx else ""
    return f"{name} differs{where}: got {float(got_arr[idx])!r}, expected {float(want[idx])!r}"


def _render(assignment: Assignment, fspec: FunctionSpec, case: CourseCase, got=None, want=None) -> str:
    lines = ["Smallest failing case (shrunk by Hypothesis):"]
    for name in case.shown:
        lines.append(f"    {name} = " + feedback.format_array(case.values[name]).replace("\n", "\n        "))
    fwd = assignment.function(fspec.forward) if fspec.forward else None
    for f in ([fwd] if fwd else []) + [fspec]:
        try:
            args = conventions.student_args(f, {**case.values, "cache": "cache", "dout": case.values.get("dout")})
        except Exception:
            args = []
        shown = ", ".join(_arg_text(f.args[i], a) for i, a in enumerate(args))
        lines.append(f"    {', '.join(f.returns) if len(f.returns) > 1 else f.returns[0]} = {f.name}({shown})")
    if want is not None:
        lines.append("Expected:\n    " + feedback.format_array(np.asarray(want)).replace("\n", "\n    "))
    if got is not None:
        lines.append("Received:\n    " + feedback.format_array(np.asarray(got) if isinstance(got, np.ndarray)
                                                               else got).replace("\n", "\n    "))
    return "\n".join(lines)


def _arg_text(entry: str, value) -> str:
    if entry == "cache":
        return "cache"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: " + (f"<{k}>" if isinstance(v, np.ndarray) else repr(v))
                               for k, v in value.items()) + "}"
    if isinstance(value, np.ndarray):
        return entry.split("=")[0]
    return repr(value)


# --- calling -------------------------------------------------------------------------------------------

def _backward_values(assignment, fspec, runner, breaker, values) -> dict:
    """A backward's call values: its forward called first (train mode; the cache stays in the worker as a
    Handle) and ``dout`` in the layout the student's arrays have."""
    fwd = assignment.function(fspec.forward)
    named, _ = conventions.call_declared(runner, breaker, fwd, {**values, "mode": "train"}, keep_cache=True)
    dout = conventions.to_layout(values["dout"], fspec.layouts.get("dout", fwd.layouts.get("x")))
    return {**values, "dout": dout, "cache": named.get("cache")}


def _call(assignment, fspec, runner, breaker, values, dicts_after=False):
    """The named returns of ``fspec`` (a backward: after its forward in train mode) and the dicts after."""
    if fspec.forward:
        return conventions.call_declared(runner, breaker, fspec,
                                         _backward_values(assignment, fspec, runner, breaker, values),
                                         keep_cache=False)
    return conventions.call_declared(runner, breaker, fspec, values, keep_cache=True, dicts_after=dicts_after)


def _tol(fspec, values, name):
    if _family(fspec.op) not in ("batchnorm", "spatial_batchnorm", "layernorm", "groupnorm"):
        sizes = [v.size for v in values.values() if isinstance(v, np.ndarray)]
        return tolerance("float64", max([1] + sizes))
    return normalization_tolerance("float64", _m(fspec.op, values))


def values(assignment: Assignment, fspec: FunctionSpec, runner, breaker, *, max_examples: int, seed: int,
           item=None):
    """The outputs named by the check's ``outputs`` equal the reference's (``mode`` = train | test;
    ``large_logits = true``: the losses' scores moved row by row far from 0, see :func:`course_cases`)."""
    opts = item.options if item is not None else {}
    mode = opts.get("mode", "train")
    large = bool(opts.get("large_logits", False))
    names = list(opts.get("outputs") or [n for n in fspec.returns if n != "cache"])
    usable = [0]

    def prop(case):
        want = expected(fspec.op, case.values, mode)
        try:
            named, _ = _call(assignment, fspec, runner, breaker, case.values)
        except conventions.OptionNotExpressible:
            raise
        except Exception as exc:
            if conventions._is_fatal(exc) or isinstance(exc, conventions.BudgetSpent):
                return describe_error(exc)
            return f"{describe_error(exc)}\n" + _render(assignment, fspec, case)
        usable[0] += 1
        for name in names:
            msg = _compare(name, named.get(name), want[name], _tol(fspec, case.values, name))
            if msg:
                if large:
                    msg += " — with scores this large, subtract each row's maximum before np.exp"
                return msg + "\n" + _render(assignment, fspec, case, named.get(name), want[name])
        return None

    result = run_property(course_cases(fspec.op, mode, large), prop, max_examples=max_examples, seed=seed)
    return _needs_usable(result, usable[0], fspec.name)


def dict_after(assignment: Assignment, fspec: FunctionSpec, runner, breaker, *, max_examples: int, seed: int,
               item=None):
    """After the call, the param dict's entries named by ``keys`` hold the reference's values (running
    statistics updated in train mode, unchanged in test mode)."""
    opts = item.options if item is not None else {}
    mode = opts.get("mode", "train")
    keys = list(opts.get("keys") or ["running_mean", "running_var"])
    dict_name = opts.get("dict") or next(iter(fspec.dicts))
    usable = [0]

    def prop(case):
        want = expected(fspec.op, case.values, mode)
        try:
            _named, after = _call(assignment, fspec, runner, breaker, {**case.values, "mode": mode}, dicts_after=True)
        except Exception as exc:
            if conventions._is_fatal(exc) or isinstance(exc, conventions.BudgetSpent):
                return describe_error(exc)
            return None   # a call that raises is the values check's failure
        usable[0] += 1
        d = after.get(dict_name)
        if not isinstance(d, dict):
            return f"{dict_name} could not be read back after the call to {fspec.name}"
        tol = tolerance("float64", case.values["x"].size)
        for key in keys:
            if key not in d:
                return (f"{dict_name}[{key!r}] is missing after {fspec.name} returned: store the running "
                        f"statistics in {dict_name}\n" + _render(assignment, fspec, case))
            msg = _compare(f"{dict_name}[{key!r}]", d[key], want[key], tol)
            if msg:
                return (msg + " after the call" + _dict_hint(key, d[key], case.values, mode) + "\n"
                        + _render(assignment, fspec, case, d[key], want[key]))
        return None

    result = run_property(course_cases(fspec.op, mode), prop, max_examples=max_examples, seed=seed)
    return _needs_usable(result, usable[0], fspec.name)


def _dict_hint(key: str, got, v: dict, mode: str) -> str:
    """Name the known mistake a received running statistic equals (re-enacted with the reference)."""
    try:
        got = np.asarray(got, dtype=np.float64)
        old = v[key]
        if np.allclose(got, old):
            return " — it is unchanged: update the running statistics in train mode"
        momentum = v["momentum"]
        for unbiased, inverted, what in ((True, False, "the unbiased variance (÷ (m − 1)); use the biased one (÷ m)"),
                                         (False, True, "momentum inverted: running = momentum · running + "
                                                       "(1 − momentum) · batch statistic")):
            rm, rv = ref.batchnorm_running_update(v["x"], v["running_mean"], v["running_var"],
                                                  1 - momentum if inverted else momentum, unbiased=unbiased)
            if np.allclose(got, rm if key == "running_mean" else rv):
                return f" — it looks like {what}"
    except Exception:
        return ""
    return ""


# --- inputs left alone ----------------------------------------------------------------------------------

def no_input_mutation(assignment: Assignment, fspec: FunctionSpec, runner, breaker, *, max_examples: int, seed: int,
                      item=None):
    """A course function leaves the caller's arrays as they were: every array argument and every array in
    a param dict, except the entries the function is meant to write — ``writes = [...]`` in the check, by
    default the keys its ``grader.dict_after`` checks read (batch norm's running statistics). A backward
    runs after its forward (train mode; the cache stays in the worker) and must not modify ``dout``.
    Dropout (any op whose cases :func:`course_cases` cannot draw) uses the dropout checks' cases. The
    worker compares each array with its snapshot (:func:`conventions.mutated_arguments`), so like
    ``grader.no_input_mutation`` this check can only cost points (the grader counts it only when the
    function's value checks pass); examples on which the function raises prove nothing either way."""
    opts = item.options if item is not None else {}
    mode = opts.get("mode", "train")
    writes = opts.get("writes")
    if writes is None:
        writes = [k for c in fspec.checks if c.check == "grader.dict_after"
                  for k in (c.options.get("keys") or ["running_mean", "running_var"])]
    allowed = {f"[{k!r}]" for k in writes}
    dropout = _family(fspec.op) == "inverted_dropout"
    strategy = _dropout_cases() if dropout else course_cases(fspec.op, mode)
    usable = [0]

    def prop(case):
        values = {**case.values, "mode": mode}
        try:
            if fspec.forward:
                values = _backward_values(assignment, fspec, runner, breaker, values)
            args = conventions.student_args(fspec, values)
            keep = (fspec.returns.index("cache"),) if "cache" in fspec.returns else ()
            mutated = conventions.mutated_arguments(runner, breaker, fspec.name, args, keep=keep)
        except conventions.OptionNotExpressible:
            raise
        except Exception as exc:
            if conventions._is_fatal(exc) or isinstance(exc, conventions.BudgetSpent):
                return describe_error(exc)
            return None   # a call that raises is the value checks' failure
        usable[0] += 1
        mutated = [m for m in mutated if not any(m.endswith(a) for a in allowed)]
        if mutated:
            return (f"{fspec.name} modified its input {', '.join(mutated)} in place — the caller's arrays must be "
                    "left as they were\n" + _render(assignment, fspec, case))
        return None

    result = run_property(strategy, prop, max_examples=max_examples, seed=seed)
    return _needs_usable(result, usable[0], fspec.name)


# --- dropout -------------------------------------------------------------------------------------------

def _dropout_impl(assignment, fspec, runner, breaker):
    """Reference-signature forward/backward over the student's declared dropout functions."""
    if fspec.forward:
        fwd, bwd = assignment.function(fspec.forward), fspec
    else:
        fwd = fspec
        bwd = next((f for f in assignment.functions if f.forward == fspec.name), None)

    def forward(x, p=0.5, seed=None, mode="train"):
        named, _ = conventions.call_declared(runner, breaker, fwd, {"x": x, "p": p, "seed": seed, "mode": mode})
        return named["out"]

    def backward(dout, x, p=0.5, seed=None, mode="train"):
        named, _ = conventions.call_declared(runner, breaker, fwd, {"x": x, "p": p, "seed": seed, "mode": mode})
        grads, _ = conventions.call_declared(runner, breaker, bwd, {"dout": dout, "cache": named.get("cache")},
                                             keep_cache=False)
        return grads["dx"]

    return forward, backward


@st.composite
def _dropout_cases(draw, large=False):
    shape = (100, 100) if large else (draw(st.integers(1, 3)), draw(st.integers(1, 6)))
    x = draw(arrays(shape, "float64", odd=True)) if not large else props.large_input()
    p = draw(st.sampled_from([0.25, 0.75, 0.9, 0.4]))
    return CourseCase({"x": x, "p": p, "seed": draw(st.integers(0, 2**31 - 1)),
                       "dout": draw(arrays(shape, "float64", odd=True)) if not large else None},
                      shown=("x",))


def _drops(assignment, fspec) -> str | None:
    """``"dropout_param['p']"`` when the spec declares p the probability of DROPPING (``p = "1-p"``: the
    student's function receives one minus the reference's keep probability), else None."""
    fwd = assignment.function(fspec.forward) if fspec.forward else fspec
    for dict_name, keys in fwd.dicts.items():
        for key, expr in keys.items():
            if conventions.complement(expr)[0] and conventions._option_name(expr) == "p":
                return f"{dict_name}[{key!r}]"
    return None


def _dropout_check(prop_name, large=False):
    def check(assignment, fspec, runner, breaker, *, max_examples, seed, item=None):
        forward, backward = _dropout_impl(assignment, fspec, runner, breaker)
        mode = (item.options.get("mode") if item is not None else None) or "train"
        drops = _drops(assignment, fspec)

        def prop(case):
            v = case.values
            try:
                if prop_name == "identity_in_test_mode":
                    props.identity_in_test_mode(forward, v["x"], v["p"], v["seed"])
                elif prop_name == "kept_fraction_near_p":
                    props.kept_fraction_near_p(forward, v["p"], v["seed"])
                elif prop_name == "backward_reuses_mask":
                    props.backward_reuses_mask(forward, backward, v["x"], v["dout"], v["p"], v["seed"], mode)
                else:
                    props.PROPERTIES[prop_name](forward, v["x"], v["p"], v["seed"])
            except CheckFailure as exc:
                hint = getattr(exc, "hint", None)
                text = str(exc)
                if drops:   # the messages speak of the reference's keep probability: say what the student got
                    hint = props.KEEP_MEANING if hint == props.DROP_MEANING else hint
                    text += (f" (p = {v['p']!r} here is the probability of keeping; {fspec.name} received "
                             f"{drops} = 1 − p = {1 - v['p']!r}, the probability of dropping)")
                return text + (f"\nHint: {hint}" if hint else "") + (
                    "" if large else "\n    x = " + feedback.format_array(v["x"]).replace("\n", "\n        "))
            except Exception as exc:
                return describe_error(exc) + f" [p={v['p']}, seed={v['seed']}]"
            return None

        budget = max(3, max_examples // 5) if large else max_examples
        return run_property(_dropout_cases(large), prop, max_examples=budget, seed=seed)
    return check


dropout_test_identity = _dropout_check("identity_in_test_mode")
dropout_train_values = _dropout_check("train_values_are_zero_or_scaled")
dropout_kept_fraction = _dropout_check("kept_fraction_near_p", large=True)
dropout_same_seed = _dropout_check("same_seed_same_mask")
dropout_backward_mask = _dropout_check("backward_reuses_mask")
