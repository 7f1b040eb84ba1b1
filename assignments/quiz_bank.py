"""The quiz bank's vocabulary: a question, its expected answer, and the registry of templates.

A template turns a seed into one question; the question's ID ``"<template>:<seed>"`` is all it
takes to rebuild it, so a handout only needs to print IDs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Answer:
    """What a question expects.

    ``kind``:
      - ``"int"``: one integer ``value`` (a length, a count, a number of bytes).
      - ``"shape"``: a tuple of spatial sizes ``value`` (height, width); a person may append the
        ``channels`` count (``14 × 14 × 32``), and must when ``channels_required``.
      - ``"choice"``: the index ``value`` of the right one among the question's choices.
    ``unit``: ``"bytes"`` when memory units (KB, MiB, ...) may be typed instead of bytes.
    """

    kind: str
    value: int | tuple[int, ...]
    channels: int | None = None
    channels_required: bool = False
    unit: str | None = None

    def __post_init__(self):
        if self.kind not in ("int", "shape", "choice"):
            raise ValueError(f"Answer.kind must be int, shape or choice, got {self.kind!r}")

    def display(self, choices: tuple[str, ...] = ()) -> str:
        """The answer as a person would write it."""
        if self.kind == "choice":
            return f"{'abcdefgh'[self.value]}) {choices[self.value]}" if choices else "abcdefgh"[self.value]
        if self.kind == "int":
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
            "channels": self.answer.channels, "answer_text": self.answer.display(self.choices),
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


@dataclass(frozen=True)
class Template:
    name: str
    topic: str
    summary: str
    build: Callable[[random.Random, bool], Draft]

    def make(self, seed: int) -> Question:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got seed={seed!r}")
        # A string seed keeps variants stable across templates: the same seed in two templates
        # must not give the same stream of numbers.
        # Seed 0 is the course's own worked example where the template has one.
        draft = self.build(random.Random(f"{self.name}:{seed}"), seed == 0)
        return Question(
            id=f"{self.name}:{seed}", template=self.name, seed=seed, topic=self.topic,
            text=draft.text, answer=draft.answer, explanation=draft.explanation,
            choices=tuple(draft.choices), data=dict(draft.data),
        )


TEMPLATES: dict[str, Template] = {}
TOPICS = ("output-size", "params", "memory", "receptive-field", "concepts")


def register(name: str, topic: str, summary: str):
    """Decorator registering a builder ``(rng, course) -> Draft`` as the template ``name``;
    ``course`` is true for seed 0, which gives the course's worked numbers where there are some."""
    if topic not in TOPICS:
        raise ValueError(f"topic must be one of {TOPICS}, got {topic!r}")

    def decorate(build: Callable[[random.Random, bool], Draft]):
        if name in TEMPLATES:
            raise ValueError(f"template {name!r} registered twice")
        TEMPLATES[name] = Template(name, topic, summary, build)
        return build

    return decorate
