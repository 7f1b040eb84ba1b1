"""The quiz bank's vocabulary: a question, its expected answer, the conventions an answer may
depend on, and the registry of templates.

A template turns a seed into one question; the question's ID ``"<template>:<seed>"`` is all it
takes to rebuild it, so a handout only needs to print IDs.

Registering templates: a module defines builders ``(rng, course, rules) -> Draft`` decorated with
:func:`register`, and is listed in ``TEMPLATE_MODULES`` of ``convcheck.assignments.quiz`` (the one
place that imports template modules; see there).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

#: Byte units a memory answer may be written in: decimal (SI) and binary (IEC) prefixes.
BYTE_UNITS = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def round_half_up(x: Fraction, decimals: int) -> Fraction:
    """``x`` rounded to ``decimals`` places, halves away from zero as taught (Python's round() goes
    to even: round(0.25, 1) is 0.2)."""
    scale = 10 ** decimals
    sign = -1 if x < 0 else 1
    return sign * Fraction(int(abs(x) * scale + Fraction(1, 2)), scale)


# --- conventions ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rules:
    """Conventions a key can depend on. A template either fixes a convention in its own words
    ("without biases", "stored as float16", "for a batch of 32") or reads it from here; whatever it
    reads it must list in :attr:`Draft.stated`, which prints the convention under the question.

    ``rounding``: output sizes of strided conv/pool windows round down (floor; PyTorch, TensorFlow)
    or up (ceil; ``ceil_mode=True``, Caffe's pooling).
    ``same``: ``'same'`` padding pads k_eff − 1 in total with the odd zero at the end, giving
    ⌈n/s⌉ (``"split"``: TensorFlow, PyTorch at stride 1), or ⌊k_eff/2⌋ on each side (``"half"``).
    ``bias``: layers the question does not qualify have a bias per output.
    ``flops_per_mac``: one multiply-add counted as 2 FLOPs, or as 1.
    """

    rounding: str = "floor"
    same: str = "split"
    bias: bool = True
    flops_per_mac: int = 2


DEFAULT_RULES = Rules()
#: The other choice of each convention: a property test rebuilds every template under each and
#: requires the question to state every convention that changes its key.
OTHER_RULES = {"rounding": "ceil", "same": "half", "bias": False, "flops_per_mac": 1}

RULE_PHRASES = {
    "rounding": {"floor": "sizes round down (⌊·⌋, as in PyTorch and TensorFlow; ceil_mode=False)",
                 "ceil": "sizes round up (⌈·⌉, ceil_mode=True)"},
    "same": {"split": "'same' pads k_eff − 1 zeros in total, the odd one at the end (TensorFlow's rule: "
                      "out = ⌈n/s⌉)",
             "half": "'same' pads ⌊k_eff/2⌋ zeros on each side"},
    "bias": {True: "every conv and dense layer has biases", False: "no layer has biases"},
    "flops_per_mac": {2: "a multiply-add counts as 2 FLOPs; bias additions are not counted",
                      1: "a multiply-add counts as 1 FLOP; bias additions are not counted"},
}


def rules_line(rules: Rules, names) -> str:
    """The sentence printed under a question for the conventions ``names`` it reads."""
    return "Conventions: " + "; ".join(RULE_PHRASES[n][getattr(rules, n)] for n in names) + "."


@dataclass(frozen=True)
class Answer:
    """What a question expects.

    ``kind``:
      - ``"int"``: one integer ``value`` (a length, a count, a number of bytes).
      - ``"shape"``: a tuple of spatial sizes ``value`` (height, width); a person may append the
        ``channels`` count (``14 × 14 × 32``), and must when ``channels_required``.
      - ``"choice"``: the index ``value`` of the right one among the question's choices.
    ``unit``: ``"bytes"`` when memory units (kB, MiB, ...) may be typed instead of bytes; such an
    answer is right only when it equals ``value`` bytes exactly, or, when ``rounding`` is
    ``(unit, decimals)`` ("in MiB, to one decimal"), when it is written in that unit and rounds to
    the same value at that many decimals.
    Sizes are always read in the order the question states: height × width (× channels, last).
    """

    kind: str
    value: int | tuple[int, ...]
    channels: int | None = None
    channels_required: bool = False
    unit: str | None = None
    rounding: tuple[str, int] | None = None

    def __post_init__(self):
        if self.kind not in ("int", "shape", "choice"):
            raise ValueError(f"Answer.kind must be int, shape or choice, got {self.kind!r}")
        if self.rounding is not None and (self.unit != "bytes" or self.rounding[0] not in BYTE_UNITS):
            raise ValueError(f"rounding needs unit='bytes' and a unit of {sorted(BYTE_UNITS)}, got {self.rounding!r}")

    def rounded(self) -> str:
        """The key in the unit the question asks for, at the asked precision (``'19.5 MiB'``)."""
        unit, decimals = self.rounding
        return f"{float(round_half_up(Fraction(self.value, BYTE_UNITS[unit]), decimals)):.{decimals}f} {unit}"

    def text(self, choices: tuple[str, ...] = ()) -> str:
        """The answer as it may be typed, without a letter (an LMS may put the options in any order)
        and in the unit the question asks for (``'19.5 MiB'``)."""
        if self.kind == "choice":
            return choices[self.value]
        return self.rounded() if self.rounding else self.display()

    def display(self, choices: tuple[str, ...] = ()) -> str:
        """The answer as a person would write it (a choice with its letter in the printed order)."""
        if self.kind == "choice":
            return f"{'abcdefgh'[self.value]}) {choices[self.value]}" if choices else "abcdefgh"[self.value]
        if self.kind == "int":
            if self.rounding:
                return f"{self.rounded()} ({self.value:,} bytes)"
            return f"{self.value:,}" + (" bytes" if self.unit == "bytes" else "")
        dims = list(self.value) + ([self.channels] if self.channels_required else [])
        return " × ".join(str(d) for d in dims)


@dataclass(frozen=True)
class Question:
    """One quiz question. ``data`` holds the configuration behind the numbers (what the tests
    rebuild in torch, and what JSON export carries)."""

    id: str
    template: str
    seed: int
    topic: str
    text: str
    answer: Answer
    explanation: str
    choices: tuple[str, ...] = ()
    data: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_choice(self) -> bool:
        return self.answer.kind == "choice"

    def prompt(self) -> str:
        """The question text with its lettered choices, as printed in a terminal or a handout."""
        lines = [self.text]
        lines += [f"  {'abcdefgh'[i]}) {c}" for i, c in enumerate(self.choices)]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "template": self.template, "seed": self.seed, "topic": self.topic,
            "type": {"int": "numerical", "shape": "shape", "choice": "multichoice"}[self.answer.kind],
            "text": self.text, "choices": list(self.choices),
            "answer": (list(self.answer.value) if isinstance(self.answer.value, tuple) else self.answer.value),
            "channels": self.answer.channels, "answer_text": self.answer.text(self.choices),
            "unit": self.answer.unit, "rounding": list(self.answer.rounding) if self.answer.rounding else None,
            "explanation": self.explanation, "data": self.data,
        }


@dataclass(frozen=True)
class Draft:
    """What a template's builder returns; the bank adds the ID, seed and topic."""

    text: str
    answer: Answer
    explanation: str
    choices: tuple[str, ...] = ()
    data: dict = field(default_factory=dict)
    #: the :class:`Rules` fields this question's key was computed with (printed under the question)
    stated: tuple[str, ...] = ()


@dataclass(frozen=True)
class Template:
    name: str
    topic: str
    summary: str
    build: Callable[[random.Random, bool, Rules], Draft]

    def make(self, seed: int, rules: Rules = DEFAULT_RULES) -> Question:
        """The variant ``seed``; ``rules`` other than the defaults only serve the test that every
        convention a key depends on is stated."""
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got seed={seed!r}")
        # A string seed keeps variants stable across templates: the same seed in two templates
        # must not give the same stream of numbers.
        # Seed 0 is the course's own worked example where the template has one.
        draft = self.build(random.Random(f"{self.name}:{seed}"), seed == 0, rules)
        text = draft.text + ("\n" + rules_line(rules, draft.stated) if draft.stated else "")
        return Question(
            id=f"{self.name}:{seed}", template=self.name, seed=seed, topic=self.topic,
            text=text, answer=draft.answer, explanation=draft.explanation,
            choices=tuple(draft.choices), data=dict(draft.data, stated=list(draft.stated)),
        )


TEMPLATES: dict[str, Template] = {}
TOPICS = ("output-size", "params", "memory", "receptive-field", "concepts")


def register(name: str, topic: str, summary: str):
    """Decorator registering a builder ``(rng, course, rules) -> Draft`` as the template ``name``;
    ``course`` is true for seed 0, which gives the course's worked numbers where there are some;
    ``rules`` (:class:`Rules`) holds the conventions the builder may read (and must then state)."""
    if topic not in TOPICS:
        raise ValueError(f"topic must be one of {TOPICS}, got {topic!r}")

    def decorate(build: Callable[[random.Random, bool], Draft]):
        if name in TEMPLATES:
            raise ValueError(f"template {name!r} registered twice")
        TEMPLATES[name] = Template(name, topic, summary, build)
        return build

    return decorate
