"""The mutation engine (convcheck.mutation): each operator makes the mistake it names, and the
mutants are valid, distinct, deterministic and keep their IDs across unrelated edits."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from convcheck.mutation import OPERATORS, generate, sample, stale_equivalents

SAMPLE = '''\
"""A docstring with 1 + 2 in it."""


def f(a, b, x, axes, n=1, flag=True):
    total = 0
    for i, j in zip(a, b):
        total += a[i, j] * 2
    if n < 3 and flag:
        total = total - b[1:n]
    s = x.sum(axis=0) + x.sum(axis=(0, 2, 3)) + x.mean(axis=axes)
    return total // n + s


def g(k: int = 3) -> tuple[int, int]:
    if k > 9:
        raise ValueError(f"k={k + 1} is too large")
    return [slice(k, k + 2) for _ in range(k)]
'''


def changed_lines(mutant) -> list[str]:
    """The lines of the mutated module that the original does not have, stripped."""
    old = SAMPLE.splitlines()
    return [line.strip() for i, line in enumerate(mutant.source.splitlines()) if i >= len(old) or line != old[i]]


@pytest.mark.parametrize("operator, expected", [
    ("binop-swap", "return total / n + s"),                 # // → /
    ("binop-swap", "total -= a[i, j] * 2"),
    ("binop-swap", "total += a[i, j] / 2"),
    ("compare-swap", "if n <= 3 and flag:"),
    ("compare-swap", "if k >= 9:"),
    ("boolop-swap", "if n < 3 or flag:"),
    ("const-off-by-one", "total = 1"),
    ("const-off-by-one", "total += a[i, j] * 1"),
    ("slice-bound", "total = total - b[:n]"),
    ("slice-bound", "total = total - b[2:n]"),
    ("slice-bound", "total = total - b[1:n + 1]"),
    ("slice-bound", "total = total - b[1:]"),
    ("slice-bound", "return [slice(k, k + 3) for _ in range(k)]"),
    ("slice-bound", "return [slice(k - 1, k + 2) for _ in range(k)]"),
    ("swap-index", "total += a[j, i] * 2"),
    ("swap-loop-var", "for j, i in zip(a, b):"),
    ("swap-loop-var", "total += a[j, j] * 2"),
    ("augassign-to-assign", "total = a[i, j] * 2"),
    ("reduction-axis", "s = x.sum(axis=1) + x.sum(axis=(0, 2, 3)) + x.mean(axis=axes)"),
    ("reduction-axis", "s = x.sum(axis=0) + x.sum(axis=(0, 3)) + x.mean(axis=axes)"),
    ("reduction-axis", "s = x.sum(axis=0) + x.sum(axis=(0, 2, 3)) + x.mean()"),
    ("drop-term", "total = total"),
    ("drop-term", "return total // n"),
    ("drop-term", "return s"),
    ("default-arg", "def f(a, b, x, axes, n=2, flag=True):"),
    ("default-arg", "def f(a, b, x, axes, n=1, flag=False):"),
    ("default-arg", "def g(k: int = 4) -> tuple[int, int]:"),
])
def test_each_operator_makes_its_mistake(operator, expected):
    mutants = generate(SAMPLE, operators=[operator])
    made = [changed_lines(m) for m in mutants]
    assert [expected] in made, f"{operator} did not produce {expected!r}; it made {made}"
    assert all(m.operator == operator for m in mutants)


def test_every_operator_fires_on_the_sample():
    fired = {m.operator for m in generate(SAMPLE)}
    assert fired == set(OPERATORS), f"operators that made no mutant: {set(OPERATORS) - fired}"


def test_mutants_parse_differ_from_the_original_and_from_each_other():
    original = ast.dump(ast.parse(SAMPLE))
    mutants = generate(SAMPLE)
    for m in mutants:
        assert ast.dump(ast.parse(m.source)) != original, f"{m.id} ({m.description}) is the original"
    assert len({m.source for m in mutants}) == len(mutants), "two mutants have the same text"
    assert len({m.id for m in mutants}) == len(mutants), "two mutants have the same ID"


def test_messages_annotations_and_docstrings_are_left_alone():
    kept = ['"""A docstring with 1 + 2 in it."""', 'raise ValueError(f"k={k + 1} is too large")',
            "-> tuple[int, int]:", "def g(k: int ="]
    for m in generate(SAMPLE):
        for text in kept:
            assert text in m.source, f"{m.id} ({m.description}) changed {text!r}"


def test_mutant_fields_and_a_one_line_diff():
    [m] = [m for m in generate(SAMPLE, operators=["boolop-swap"])]
    assert (m.function, m.lineno, m.operator) == ("f", 8, "boolop-swap")
    assert m.id.startswith("f:boolop-swap:")
    assert "`n < 3 and flag` → `n < 3 or flag`" in m.description
    minus = [l for l in m.diff.splitlines() if l.startswith("-") and not l.startswith("---")]
    plus = [l for l in m.diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
    assert minus == ["-    if n < 3 and flag:"] and plus == ["+    if n < 3 or flag:"], m.diff


def test_generation_is_deterministic_and_sampling_follows_the_seed():
    a, b = generate(SAMPLE, per_function=3, seed=1), generate(SAMPLE, per_function=3, seed=1)
    assert [m.id for m in a] == [m.id for m in b]
    everything = generate(SAMPLE)
    picks = {seed: [m.id for m in sample(everything, 6, seed)] for seed in range(5)}
    assert picks[0] == [m.id for m in sample(everything, 6, 0)]
    assert len(set(map(tuple, picks.values()))) > 1, "the seed does not change the sample"


def test_sampling_is_spread_over_functions():
    everything = generate(SAMPLE)
    assert sum(m.function == "g" for m in everything) < sum(m.function == "f" for m in everything)
    chosen = sample(everything, 8, seed=0)
    assert len(chosen) == 8
    assert sum(m.function == "g" for m in chosen) == 4, [m.function for m in chosen]
    per = generate(SAMPLE, per_function=2)
    assert sorted(m.function for m in per) == ["f", "f", "g", "g"]


def test_functions_filter():
    assert {m.function for m in generate(SAMPLE, functions=["g"])} == {"g"}
    with pytest.raises(ValueError, match="unknown mutation operators"):
        generate(SAMPLE, operators=["no-such-op"])


def test_ids_survive_unrelated_edits():
    edited = ("import math\n\n\ndef h(y):\n    return y * 2 + 1\n\n\n"
              + SAMPLE.replace("    total = 0\n", "    # start from nothing\n    total = 0\n"))
    before = {m.id: m.description for m in generate(SAMPLE)}
    after = {m.id: m.description for m in generate(edited) if m.function != "h"}
    assert before == after


def test_ids_change_when_the_mutated_code_changes():
    before = {m.id for m in generate(SAMPLE, functions=["g"])}
    after = {m.id for m in generate(SAMPLE.replace("k > 9", "k > 8"), functions=["g"])}
    assert before != after and before & after, "only the ids of the edited statement change"


def test_equivalents_are_marked_and_stale_ones_reported():
    mutants = generate(SAMPLE)
    table = {mutants[0].id: "same result", "f:drop-term:deadbeef": "gone"}
    marked = generate(SAMPLE, equivalents=table)
    assert marked[0].equivalent == "same result"
    assert all(m.equivalent is None for m in marked[1:])
    assert stale_equivalents(marked, table) == ["f:drop-term:deadbeef"]


def test_methods_and_module_level_code_are_named():
    src = "X = {'a': 1}\n\n\nclass C:\n    def m(self, v):\n        return v + 1\n"
    names = {m.function for m in generate(src)}
    assert names == {"<module>", "C.m"}


def test_every_mutant_of_a_reference_module_is_valid():
    src = (Path(__file__).parent.parent / "reference" / "pool.py").read_text()
    original = ast.dump(ast.parse(src))
    mutants = generate(src)
    assert len(mutants) > 100
    for m in mutants:
        assert ast.dump(ast.parse(m.source)) != original
        assert m.diff.count("\n-") >= 1 and m.diff.startswith("--- a/"), m.id
