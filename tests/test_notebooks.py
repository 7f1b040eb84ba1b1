"""Student notebooks and stubs generated from the specs, their self-checks, and ``convcheck assignment``.

The execution tests run each generated notebook end to end in a Python kernel (nbclient): with the
bundled solution pasted into the stubs it reports full marks; with the stubs as shipped it reports
"not implemented" for every function, and the kernel never crashes. Each run takes 5–25 s.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from convcheck.assignments import notebooks
from convcheck.assignments.grader.spec import load_spec
from convcheck.cli import main

ASSIGNMENTS = ["arithmetic", "layers", "model", "conv-step-by-step"]


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_notebook_has_instructions_stubs_and_self_checks(name):
    spec = load_spec(name)
    nb = notebooks.build_notebook(name)
    nbformat.validate(nb)
    stubs = {t.split(":", 1)[1]: c for c in nb.cells for t in _tags(c) if t.startswith("function:")}
    assert {f.name for f in spec.functions} <= set(stubs)
    for fname, cell in stubs.items():
        namespace: dict = {}
        exec(compile(cell.source, f"<stub {fname}>", "exec"), namespace)
        assert "TODO" in cell.source
        with pytest.raises(NotImplementedError):
            fn = namespace[fname]
            fn(*[None] * fn.__code__.co_argcount)
    checks = [c for c in nb.cells if "self-check" in _tags(c)]
    final = [c for c in checks if "final" in _tags(c)]
    assert len(final) == 1 and all(f.name in final[0].source for f in spec.functions)
    assert len(checks) >= len(notebooks.groups(spec)) + 1
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "$$" in markdown and spec.title in markdown
    assert f"{notebooks.SELF_CHECK_EXAMPLES} examples per check" in markdown


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_py_stub_variant(name):
    spec = load_spec(name)
    source = notebooks.build_stub_module(name)
    tree = ast.parse(source)
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert defined == [f.name for f in spec.functions]
    assert "convcheck assignment self-check" in ast.get_docstring(tree)
    assert "import convcheck" not in source and "from convcheck" not in source  # nothing the grader forbids
    namespace: dict = {}
    exec(compile(source, f"{name}.py", "exec"), namespace)
    for fname in defined:
        fn = namespace[fname]
        with pytest.raises(NotImplementedError):
            fn(*[None] * fn.__code__.co_argcount)


def test_groups_put_a_backward_with_its_forward():
    names = [[f.name for f in g] for g in notebooks.groups(load_spec("layers"))]
    assert ["conv_forward_naive", "conv_backward_naive"] in names and len(names) == 11
    assert ["batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt"] in names
    assert [[f.name for f in g] for g in notebooks.groups(load_spec("model"))] == [
        ["softmax_cross_entropy"], ["flatten_forward", "flatten_backward"], ["lenet_spec"], ["lenet_shapes"],
        ["lenet_params"], ["small_convnet_loss"]]


def test_model_notebook_self_checks_every_part_through_the_grader():
    """Sections A–C of the model notebook are graded functions now: their self-check cells call the
    grader's checks in the sandbox (self_check_cell), and nothing in the notebook imports convcheck's
    layers (the sandbox forbids them)."""
    nb = notebooks.build_notebook("model")
    checks = [c.source for c in nb.cells if "self-check" in _tags(c)]
    for fname in ["lenet_spec", "lenet_shapes", "lenet_params", "small_convnet_loss"]:
        assert f"self_check_cell('model', [{fname}])" in checks
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "convcheck.reference" not in code and "notebooks_model" not in code
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "input HxWxC" in markdown and "16 filters of 5×5" in markdown and "2416" not in markdown


def test_export_command_writes_student_and_instructor_files(tmp_path, capsys):
    assert main(["assignment", "export", "layers", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for rel in ["student/layers.ipynb", "student/layers.py", "instructor/layers.toml", "instructor/README-layers.md",
                "instructor/layers_solution.py"]:
        assert (tmp_path / rel).is_file() and rel.split("/")[-1] in out
    nbformat.validate(nbformat.read(tmp_path / "student/layers.ipynb", as_version=4))
    readme = (tmp_path / "instructor/README-layers.md").read_text()
    assert "convcheck gradescope-bundle --assignment layers -o autograder.zip" in readme
    assert load_spec(tmp_path / "instructor/layers.toml").max_score == load_spec("layers").max_score
    assert main(["assignment", "export", "no-such-assignment", "-o", str(tmp_path)]) == 2


# --- running the notebooks --------------------------------------------------------------------------

def _execute(nb, cwd) -> str:
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"a cell raised: {errors[0]['ename']}: {errors[0]['evalue']}"
    return "\n".join(o.get("text", "") for c in nb.cells if "self-check" in _tags(c) for o in c.outputs)


def _with_solution(name):
    nb = notebooks.build_notebook(name)
    solution = notebooks.solution_functions(name)
    stubbed = {t.split(":", 1)[1] for c in nb.cells for t in _tags(c) if t.startswith("function:")}
    for cell in nb.cells:
        names = [t.split(":", 1)[1] for t in _tags(cell) if t.startswith("function:")]
        if names:
            cell.source = "\n\n\n".join(solution[n] for n in names)
    helpers = [src for fname, src in solution.items() if fname not in stubbed]
    setup = next(c for c in nb.cells if "setup" in _tags(c))
    setup.source += "\n\n\n" + "\n\n\n".join(helpers)
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_notebook_with_the_solution_reports_full_marks(name, tmp_path):
    spec = load_spec(name)
    text = _execute(_with_solution(name), tmp_path)
    assert f"Total: {spec.max_score:g}/{spec.max_score:g} — full marks on the self-check" in text, text
    assert "✗" not in text and "not implemented" not in text and "could not run" not in text, text
    for f in spec.functions:
        assert re.search(rf"✓ {f.name}\s+{f.max_score:g}/{f.max_score:g}", text), f.name


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_notebook_as_shipped_reports_not_implemented(name, tmp_path):
    spec = load_spec(name)
    text = _execute(notebooks.build_notebook(name), tmp_path)
    assert f"Total: 0/{spec.max_score:g}" in text and "could not run" not in text, text
    assert "✗" not in text and "✓" not in text, text
    for f in spec.functions:
        assert re.search(rf"… {f.name}\s+not (implemented|checked) yet", text), f.name


BUGGY = '''
import numpy as np


def relu_forward(x):
    while True:  # a student's infinite loop
        pass


def relu_backward(dout, cache):
    return dout * (cache > 0)


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, w = x.shape
    out = np.zeros((n, c, 1 + (h - ph) // s, 1 + (w - pw) // s))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for n in range(dout.shape[0]):
        for c in range(dout.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    k, l = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * s + k, j * s + l] = dout[n, c, i, j]  # overwrites where windows overlap
    return dx
'''


@pytest.mark.slow
def test_self_check_shows_the_shrunk_counterexample_and_survives_an_infinite_loop(tmp_path, monkeypatch):
    import io
    import sys

    (tmp_path / "buggy_layers.py").write_text(BUGGY)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("buggy_layers", None)
    import buggy_layers as b

    out = io.StringIO()
    notebooks.self_check_cell("layers", [b.max_pool_forward_naive, b.max_pool_backward_naive], file=out)
    text = out.getvalue()
    assert re.search(r"✓ max_pool_forward_naive\s+12/12", text)
    assert "✗ max_pool_backward_naive" in text and "Smallest failing case (shrunk by Hypothesis)" in text
    assert "Expected dx" in text and "Received dx" in text
    out = io.StringIO()
    notebooks.self_check_cell("layers", [b.relu_forward, b.relu_backward], file=out)
    text = out.getvalue()
    assert "✗ relu_forward" in text and f"did not finish within {notebooks.SELF_CHECK_TIMEOUT:g} s" in text
    assert "Total: 0/10" in text


# --- handouts hold no graded answers (issue 15) -----------------------------------------------------------

def _handout_texts(name) -> dict[str, str]:
    nb = notebooks.build_notebook(name)
    return {f"{name}.ipynb": "\n".join(c.source for c in nb.cells), f"{name}.py": notebooks.build_stub_module(name)}


def _graded_values(name) -> list[tuple[str, str]]:
    """(what, regex) for every fixed value the assignment grades: the reference model's output shapes and
    parameter counts, and the lines of the solution (the model-spec text's layer lines, code lines)."""
    import textwrap

    spec = load_spec(name)
    found = []
    if any(item.check.startswith("grader.model_") for f in spec.functions for item in f.checks):
        from convcheck.assignments.grader.model_checks import reference_summary, summary_rows

        for row in summary_rows(reference_summary(spec)):
            shape = [int(v) for v in row["shape"]]
            if len(shape) == 3:
                h, w, c = shape
                found.append((f"shape {shape}", rf"\b{h}\s*(?:x|×|,|\\times)\s*{w}\s*(?:x|×|,|\\times)\s*{c}\b"))
            elif len(shape) == 1 and row["type"] == "Flatten":   # a dense layer's is its unit count: the task
                found.append((f"shape {shape}", rf"(?<![\d,.]){shape[0]}(?![\d,.])"))
            params = int(row.get("params", 0))
            if params:
                found.append((f"params {params}", rf"(?<![\d,.{{]){params}(?![\d])|{params // 1000}\{{,\}}{params % 1000:03d}"))
    solution = notebooks.solution_functions(name)
    for fname, source in solution.items():
        for line in textwrap.dedent(source).splitlines():
            line = line.strip()
            if (len(line) >= 12 and not line.startswith(("def ", "#", '"""', "r\"\"\"", "return (", "import "))
                    and not line.startswith("input ")):
                found.append((f"solution line of {fname}", re.escape(line)))
    return found


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_handouts_hold_no_graded_answers(name):
    values = _graded_values(name)
    assert values, "the test must know the assignment's graded values"
    leaks = [f"{where}: {what}" for where, text in _handout_texts(name).items() for what, pattern in values
             if re.search(pattern, text)]
    assert leaks == [], leaks


def test_the_handout_check_catches_the_old_lenet_table():
    values = _graded_values("model")
    old = "| CONV 1: 6 filters 5×5, ReLU | 28×28×6 | $(5\\cdot5\\cdot3+1)\\cdot6 = 456$ |\nconv 6 5x5 relu\n"
    assert [what for what, pattern in values if re.search(pattern, old)]


# --- notebooks graded as students see them (issue 15) ---------------------------------------------------

def _graded_notebook(nb, tmp_path, name="layers", **overrides):
    import dataclasses

    from convcheck.assignments import grade
    from convcheck.checks.profiles import examples

    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    spec = dataclasses.replace(load_spec(name), **overrides)
    return grade(path, spec, max_examples=examples(5))


def test_a_correct_exported_notebook_gets_full_marks_and_no_warnings(tmp_path):
    report = _graded_notebook(_with_solution("layers"), tmp_path)
    assert report.score == report.max_score and report.messages == [], report.messages
    assert "forbidden" not in report.to_text(color=False)


def test_a_hanging_scratch_cell_costs_only_what_needs_it(tmp_path):
    nb = _with_solution("layers")
    # a scratch cell after the conv section: it hangs, and it (re)defines nothing the grader needs
    where = next(i for i, c in enumerate(nb.cells) if "function:conv_backward_naive" in _tags(c)) + 1
    nb.cells.insert(where, nbformat.v4.new_code_cell("# trying things out\nwhile True:\n    pass\n"))
    # a failing cell that defines the ReLU backward after its error: that function alone is lost
    relu = next(c for c in nb.cells if "function:relu_backward" in _tags(c))
    relu.source = "raise RuntimeError('scratch')\n" + relu.source
    report = _graded_notebook(nb, tmp_path, load_timeout=4.0)
    lost = {f.name for f in report.functions if f.score < f.max_score}
    assert lost == {"relu_backward"}, report.to_text(color=False)
    said = "\n".join(report.messages)
    assert f"[cell {where + 1}: # trying things out]" in said and "did not finish within" in said
    assert "[cell" in said and "RuntimeError: scratch" in said
