"""The parts of the ``model`` notebook that its spec cannot grade yet, and their self-checks.

Three sections: build the course LeNet with ``convcheck.reference.model``; state its output shapes
and parameter counts; write a small ConvNet's loss and gradients (conv → ReLU → max-pool → flatten →
dense → softmax cross-entropy). These use convcheck's own layers, which the grader's sandbox
withholds from submissions, so each self-check runs the student's functions in a fresh Python
process with a time limit instead, and compares with the reference computed here.
"""

from __future__ import annotations

import sys
import types

import numpy as np

#: What the student's code may use in these sections, imported at the top of the worker's source.
HEADER = """import numpy as np
from convcheck.reference.model import Sequential, Conv2D, MaxPool2D, AvgPool2D, Flatten, Dense, ReLU, Activation
from convcheck.reference.conv import conv_forward, conv_backward
from convcheck.reference.pool import max_pool_forward, max_pool_backward
from convcheck.reference.layers import relu_forward, relu_backward, dense_forward, dense_backward
"""
TIMEOUT = 15.0  # one process runs every case; importing NumPy and the reference is part of it

BUILD_LENET = '''def build_lenet():
    """The course's LeNet for 32×32×3 images, built with convcheck.reference.model (channels last).

    conv 6 filters 5×5 (ReLU) → max-pool 2 → conv 16 filters 5×5 (ReLU) → max-pool 2 → flatten →
    dense 120 (ReLU) → dense 84 (ReLU) → dense 10 (softmax). Returns the Sequential model.
    """
    # TODO: Sequential([...], input_shape=(32, 32, 3))
    raise NotImplementedError("build_lenet is not implemented yet")
'''

LENET_NUMBERS = '''def lenet_shapes():
    """The output shape of each of the LeNet's 8 layers, without the batch axis, channels last:
    (H, W, C) after a conv or pool layer, (n,) after flatten and dense layers."""
    # TODO: work them out with the output-size rule, by hand (no builder)
    raise NotImplementedError("lenet_shapes is not implemented yet")


def lenet_params():
    """The number of learnable parameters of each of the LeNet's 8 layers (0 for pool and flatten)."""
    # TODO: (k·k·C + 1)·F for a conv, (in + 1)·out for a dense layer
    raise NotImplementedError("lenet_params is not implemented yet")
'''

SMALL_CONVNET = '''def small_convnet_loss(x, y, w1, b1, w2, b2):
    """Loss and gradients of conv(w1, b1; stride 1, pad 1) → ReLU → 2×2 max-pool (stride 2) → flatten
    → dense(w2, b2) → softmax cross-entropy, for x (N, C, H, W), integer labels y (N,).

    Returns (loss, dw1, db1, dw2, db2). Use your softmax_cross_entropy and flatten functions, and the
    reference layers imported above (conv_forward/backward, relu_*, max_pool_*, dense_*).
    """
    # TODO: forward pass keeping what the backward needs, then the chain rule from the loss back
    raise NotImplementedError("small_convnet_loss is not implemented yet")
'''


def cells(nbf) -> list:
    """The notebook cells of the three sections."""
    def code(src, tags):
        cell = nbf.new_code_cell(src)
        cell.metadata["tags"] = tags
        return cell

    md = nbf.new_markdown_cell
    return [
        md("## A. The course LeNet with the model builder (self-checked, not graded by the spec)\n\n"
           f"Sections A–C use convcheck's own layers, so their self-checks run your functions in a fresh "
           f"Python process (time limit {TIMEOUT:g} s for all the cases together) rather than the grader's "
           "sandbox.\n\n"
           "The course's table: CONV 1 $(5\\cdot5\\cdot3+1)\\cdot6 = 456$, POOL 1, CONV 2 "
           "$(5\\cdot5\\cdot6+1)\\cdot16 = 2416$, POOL 2, FC 1 $(400+1)\\cdot120$, FC 2 $(120+1)\\cdot84$, "
           "output $(84+1)\\cdot10$. Build it with the layer classes of `convcheck.reference.model` "
           "(`Conv2D(filters, kernel_size, activation='relu')`, `MaxPool2D(2)`, `Flatten()`, "
           "`Dense(units, activation=...)`) and compare `model.summary()` with the table."),
        code(HEADER.replace("import numpy as np\n", "")
             + "from convcheck.assignments.notebooks_model import check_lenet, check_lenet_numbers, "
             "check_small_convnet", ["setup"]),
        code(BUILD_LENET, ["stub", "function:build_lenet"]),
        code("check_lenet(build_lenet)", ["self-check", "extra"]),
        md("## B. Its shapes and counts, by hand\n\n"
           "$$H' = \\left\\lfloor \\frac{H + 2P - F}{S} \\right\\rfloor + 1, \\qquad "
           "P_{\\text{conv}} = (F_h F_w C + 1)\\,K, \\qquad P_{\\text{dense}} = (n_{\\text{in}} + 1)\\, n_{\\text{out}}$$\n\n"
           "Return plain numbers: the self-check does not accept an answer computed with the builder."),
        code(LENET_NUMBERS, ["stub", "function:lenet_shapes", "function:lenet_params"]),
        code("check_lenet_numbers(lenet_shapes, lenet_params)", ["self-check", "extra"]),
        md("## C. A small ConvNet's loss and gradients\n\n"
           "Forward: $z_1 = \\operatorname{conv}(x, W_1) + b_1$, $a_1 = \\max(0, z_1)$, "
           "$p_1 = \\operatorname{maxpool}(a_1)$, $f = \\operatorname{flatten}(p_1)$, $z_2 = f W_2 + b_2$, "
           "$L = \\operatorname{CE}(\\operatorname{softmax}(z_2), y)$.\n\n"
           "Backward, by the chain rule: $\\partial L/\\partial z_2 = (\\operatorname{softmax}(z_2) - "
           "\\operatorname{onehot}(y))/N$; $dW_2 = f^\\top\\, dz_2$, $db_2 = \\sum_n dz_2$; $df = dz_2 W_2^\\top$ "
           "reshaped like $p_1$; max-pool routes each gradient to its window's maximum; ReLU masks with "
           "$[z_1 > 0]$; then $db_1 = \\sum dz_1$ and $dW_1 = x \\star dz_1$."),
        code(SMALL_CONVNET, ["stub", "function:small_convnet_loss"]),
        code("check_small_convnet(small_convnet_loss)", ["self-check", "extra"]),
    ]


# --- gathering the student's code --------------------------------------------------------------------

def notebook_sources(functions, extra: str = "") -> str:
    """The header, then the source of ``functions`` and of the notebook functions they call."""
    import inspect

    todo, seen = list(functions), {}
    while todo:
        fn = todo.pop(0)
        if not isinstance(fn, types.FunctionType) or fn.__name__ in seen:
            continue
        if fn.__module__ not in ("__main__", None) and fn not in functions:
            continue  # a library function (the reference layers): the header imports it
        seen[fn.__name__] = inspect.getsource(fn)
        for name in fn.__code__.co_names:
            other = fn.__globals__.get(name)
            if isinstance(other, types.FunctionType):
                todo.append(other)
    return HEADER + "\n\n" + "\n\n".join(seen.values()) + ("\n\n" + extra if extra else "")


RUNNER = """

def _convcheck_main():
    import json
    import numpy as _np
    data = _np.load("in.npz")
    count = int(data["count"])
    results = {}
    for i in range(count):
        args = [data[f"c{i}_{j}"] for j in range(int(data[f"n{i}"]))]
        value = NAME(*args)
        if KIND == "json":
            json.dump(value, open("out.json", "w"), default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
            return
        if not isinstance(value, (tuple, list)):
            value = (value,)
        results[f"n{i}"] = _np.asarray(len(value))
        for j, v in enumerate(value):
            results[f"c{i}_{j}"] = _np.asarray(v, dtype=float)
    _np.savez("out.npz", **results)


_convcheck_main()
"""


def _run(source: str, name: str, cases: list[tuple], kind: str = "arrays"):
    """Run ``name(*case)`` for every case in a fresh Python process with a time limit.

    The student's own notebook code, so no sandbox policy is needed; what matters is that a hang
    or a crash stays out of the kernel. Returns ``(results, None)`` or ``(None, message)``.
    """
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        arrays = {"count": np.asarray(len(cases))}
        for i, case in enumerate(cases):
            arrays[f"n{i}"] = np.asarray(len(case))
            arrays.update({f"c{i}_{j}": np.asarray(a) for j, a in enumerate(case)})
        np.savez(Path(tmp) / "in.npz", **arrays)
        script = source + RUNNER.replace("NAME", name).replace("KIND", repr(kind))
        (Path(tmp) / "self_check.py").write_text(script, encoding="utf-8")
        try:
            done = subprocess.run([sys.executable, "self_check.py"], cwd=tmp, capture_output=True, text=True,
                                  timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return None, f"{name} did not finish within {TIMEOUT:g} s (an infinite loop?); it was stopped"
        if done.returncode != 0:
            err = done.stderr.strip().splitlines()
            last = err[-1] if err else f"exit status {done.returncode}"
            if last.startswith("NotImplementedError"):
                return None, "not implemented"
            where = [line.strip() for line in err if line.strip().startswith('File "self_check.py"')]
            return None, f"{last}" + (f" ({where[-1]})" if where else "")
        if kind == "json":
            import json

            return json.loads((Path(tmp) / "out.json").read_text()), None
        data = np.load(Path(tmp) / "out.npz")
        return [tuple(data[f"c{i}_{j}"] for j in range(int(data[f"n{i}"]))) for i in range(len(cases))], None


def _report(name: str, problem: str | None, out) -> bool:
    if problem is None:
        print(f"  ✓ {name}", file=out)
    elif problem == "not implemented":
        print(f"  … {name}  not implemented yet (it raises NotImplementedError)", file=out)
    else:
        print(f"  ✗ {name}\n" + "\n".join("      " + line for line in problem.splitlines()), file=out)
    return problem is None


# --- A and B: the LeNet -------------------------------------------------------------------------

def _course_rows() -> list[tuple[tuple, int]]:
    from convcheck.reference.model import load_bundled

    return _layer_rows(load_bundled("lenet-course").summary().to_dict())


def _layer_rows(summary: dict) -> list[tuple[tuple, int]]:
    """(output shape, params) of the layers that change the shape or hold parameters (a separate
    ReLU layer or a fused activation give the same rows)."""
    rows, previous = [], tuple(summary["input_shape"])
    for layer in summary["layers"]:
        shape = tuple(layer["output_shape"])
        if layer.get("depth", 0) == 0 and (layer["params"] or shape != previous or layer["type"] == "Flatten"):
            rows.append((shape, int(layer["params"])))
        previous = shape
    return rows


def check_lenet(build_lenet, file=None) -> None:
    out = file or sys.stdout
    print("Self-check of build_lenet (in a separate process):", file=out)
    wrapper = "def _convcheck_summary():\n    return build_lenet().summary().to_dict()\n"
    summary, problem = _run(notebook_sources([build_lenet], wrapper), "_convcheck_summary", [()], "json")
    if problem is None:
        expected, got = _course_rows(), _layer_rows(summary)
        if tuple(summary["input_shape"]) != (32, 32, 3):
            problem = f"input_shape={tuple(summary['input_shape'])}, but should be (32, 32, 3)"
        elif len(got) != len(expected):
            problem = f"the model has {len(got)} layers with weights or a new shape, but the course's has {len(expected)}"
        else:
            for i, ((g_shape, g_params), (e_shape, e_params)) in enumerate(zip(got, expected), 1):
                if g_shape != e_shape or g_params != e_params:
                    problem = (f"layer {i}: output shape {g_shape} with {g_params:,} parameters, but the course's "
                               f"is {e_shape} with {e_params:,}")
                    break
        if problem is None:
            print(f"    total {summary['total_params']:,} parameters, as in the course's table", file=out)
    _report("build_lenet", problem, out)


def check_lenet_numbers(lenet_shapes, lenet_params, file=None) -> None:
    out = file or sys.stdout
    print("Self-check of lenet_shapes and lenet_params (in a separate process):", file=out)
    expected = _course_rows()
    for fn, index, what in ((lenet_shapes, 0, "shape"), (lenet_params, 1, "params")):
        value, problem = _run(notebook_sources([fn]), fn.__name__, [()], "json")
        if problem is None:
            want = [row[index] for row in expected]
            try:
                got = [tuple(int(v) for v in item) for item in value] if index == 0 else [int(v) for v in value]
            except (TypeError, ValueError):
                got = None
            if got is None or len(got) != len(want):
                problem = f"expected a list of {len(want)} {'tuples' if index == 0 else 'ints'}, got {value!r}"
            else:
                wrong = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
                if wrong:
                    i = wrong[0]
                    problem = f"layer {i + 1}: {what} {got[i]}, but should be {want[i]}"
        _report(fn.__name__, problem, out)


# --- C: the small ConvNet -----------------------------------------------------------------------------

def small_convnet_reference(x, y, w1, b1, w2, b2):
    """The reference's loss and gradients of the section's ConvNet: (loss, dw1, db1, dw2, db2)."""
    from convcheck.reference import conv, layers, pool

    z1 = conv.conv_forward(x, w1, b1, stride=1, padding=1)
    a1 = layers.relu_forward(z1)
    p1 = pool.max_pool_forward(a1, 2)
    f = layers.flatten_forward(p1)
    z2 = layers.dense_forward(f, w2, b2)
    loss, dz2 = layers.softmax_cross_entropy(z2, y)
    df, dw2, db2 = layers.dense_backward(dz2, f, w2, b2)
    dp1 = layers.flatten_backward(df, p1)
    da1 = pool.max_pool_backward(dp1, a1, 2)
    dz1 = layers.relu_backward(da1, z1)
    _dx, dw1, db1 = conv.conv_backward(dz1, x, w1, b1, stride=1, padding=1)
    return loss, dw1, db1, dw2, db2


def small_convnet_cases(count: int = 5, seed: int = 0) -> list[tuple]:
    """Random cases, smallest first (so the first failure shown is the smallest one)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        n, c, f, k = 1 + i // 2, 1 + i % 2, 1 + i % 3, 2 + i % 3
        h, w = 2 + 2 * (i // 2), 2 + 2 * ((i + 1) // 2)
        x = rng.standard_normal((n, c, h, w))
        y = rng.integers(0, k, size=n)
        w1, b1 = rng.standard_normal((f, c, 3, 3)), rng.standard_normal(f)
        w2, b2 = rng.standard_normal((f * (h // 2) * (w // 2), k)), rng.standard_normal(k)
        cases.append((x, y, w1, b1, w2, b2))
    return cases


def check_small_convnet(small_convnet_loss, file=None) -> None:
    from convcheck.checks.tolerances import tolerance

    out = file or sys.stdout
    print("Self-check of small_convnet_loss (in a separate process, against the reference layers):", file=out)
    source = notebook_sources([small_convnet_loss])
    names = ("loss", "dw1", "db1", "dw2", "db2")
    problem = None
    cases = small_convnet_cases()
    values, problem = _run(source, "small_convnet_loss", cases)
    for case, value in zip(cases, values or []):
        expected = small_convnet_reference(*case)
        if len(value) != 5:
            problem = "small_convnet_loss must return (loss, dw1, db1, dw2, db2)"
            break
        shapes = ", ".join(f"{n}.shape={a.shape}" for n, a in zip(("x", "y", "w1", "b1", "w2", "b2"), case))
        for name, got, want in zip(names, value, expected):
            got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
            if got.shape != want.shape:
                problem = f"{name}.shape={got.shape}, but should be {want.shape} [{shapes}]"
                break
            tol = tolerance("float64", case[0][0].size * 9)
            close = np.isclose(got, want, rtol=tol.rtol, atol=tol.atol)
            if not close.all():
                where = tuple(int(i) for i in np.argwhere(~close)[0])
                problem = (f"{name} differs at {list(where)}: got {got[where]:.6g}, expected {want[where]:.6g} "
                           f"[{shapes}]")
                break
        if problem is not None:
            break
    _report("small_convnet_loss", problem, out)
