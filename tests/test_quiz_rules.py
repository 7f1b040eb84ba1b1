"""A reader who knows only the question text gets the key's answer: every convention (floor or ceil,
which 'same', biases, FLOPs per multiply-add) that changes a key is stated in the question.

Each template is rebuilt under the other choice of each convention in ``quiz.OTHER_RULES``; when the
key changes, the question must list that convention (and print its phrase). Seeds 0 … N − 1 with N
the Hypothesis profile's ``max_examples`` (dev 30, ci 25, thorough 2,000).
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import settings

from convcheck.assignments import quiz
from convcheck.assignments.quiz.bank import RULE_PHRASES, Answer, Draft, Template
from convcheck.assignments.quiz.numeric import conv_len


def unstated(q_id: str, template: Template | None = None) -> list[str]:
    """The conventions whose other choice changes the key of ``q_id`` but that its text does not state."""
    name, seed = q_id.rsplit(":", 1)
    template = template or quiz.TEMPLATES[name]
    q = template.make(int(seed))
    missing = []
    for rule, other in quiz.OTHER_RULES.items():
        alt = template.make(int(seed), replace(quiz.DEFAULT_RULES, **{rule: other}))
        assert alt.text.split("\nConventions:")[0] == q.text.split("\nConventions:")[0] or rule in q.data["stated"], \
            f"{q_id}: the variant itself changed under {rule}={other!r}"
        if alt.answer != q.answer:
            phrase = RULE_PHRASES[rule][getattr(quiz.DEFAULT_RULES, rule)]
            if rule not in q.data["stated"] or phrase not in q.text:
                missing.append(f"{rule} (key {q.answer.value} → {alt.answer.value} under {rule}={other!r})")
    return missing


@pytest.mark.parametrize("name", [t.name for t in quiz.TEMPLATES.values()])
def test_every_convention_that_changes_a_key_is_stated(name):
    n = settings().max_examples
    failures = {f"{name}:{seed}": m for seed in range(n) if (m := unstated(f"{name}:{seed}"))}
    assert not failures, f"{len(failures)} of {n} variants depend on an unstated convention: " + \
        "; ".join(f"{k}: {', '.join(v)}" for k, v in list(failures.items())[:5])


def _pool_question(state: bool):
    def build(rng: random.Random, course: bool, rules) -> Draft:
        n = rng.randint(5, 40)
        out = conv_len(n, 2, 2, 0, 1, rules)
        return Draft(f"Length {n}, window 2, stride 2: output?", Answer("int", out), "…",
                     stated=("rounding",) if state else ())
    return Template("fake", "output-size", "a fake", build)


def test_the_check_catches_a_template_that_does_not_state_its_rounding():
    silent, honest = _pool_question(False), _pool_question(True)
    caught = [s for s in range(40) if unstated(f"fake:{s}", silent)]
    assert caught and all("rounding" in unstated(f"fake:{s}", silent)[0] for s in caught)
    assert not any(unstated(f"fake:{s}", honest) for s in range(40))
    assert "sizes round down" in honest.make(1).text


@pytest.mark.parametrize("name, seeds, rule", [
    ("pool-out-2d", range(200), "rounding"), ("model-params", range(200), "rounding"),
    ("model-shape", range(200), "rounding"), ("stack-not-length", range(200), "same"),
    ("model-params", range(50), "bias"),
])
def test_the_conventions_issue_13_found_unstated_do_change_keys(name, seeds, rule):
    """The property above is not vacuous: these conventions change many keys (issue 13: ceil changes
    393 of 1,000 pool-out-2d keys, 'same' = k//2 changes 156 of 1,000 stack-not-length keys)."""
    other = replace(quiz.DEFAULT_RULES, **{rule: quiz.OTHER_RULES[rule]})
    changed = [s for s in seeds if quiz.question(f"{name}:{s}").answer != quiz.question(f"{name}:{s}", other).answer]
    assert len(changed) >= len(seeds) // 20, f"{name}: {rule} changes only {len(changed)} keys"
    assert all(rule in quiz.question(f"{name}:{s}").data["stated"] for s in changed)
