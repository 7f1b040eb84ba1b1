"""The quiz bank: seeded question variants on CNN arithmetic and concepts, checked and explained.

>>> q = question("conv-params:0")          # the course's 20 filters of 3×3×3
>>> check("conv-params:0", "560").status
'correct'

The package: ``bank`` (questions, answers, conventions, the registry), ``numeric`` (templates whose
answers ``convcheck.reference`` computes), ``concepts`` (multiple choice), ``answers`` (reading and
marking what a person types), ``export`` (Moodle XML, GIFT, JSON).
"""

from __future__ import annotations

import importlib
import random

from .answers import Malformed, Verdict, check_answer, parse_numbers
from .bank import DEFAULT_RULES, OTHER_RULES, TEMPLATES, TOPICS, Answer, Question, Rules, Template, register
from .export import FORMATS, export, variants

#: The modules whose import registers templates, in the order ``convcheck quiz list`` shows them.
#: REGISTRATION POINT for more templates: write a module whose builders use
#: ``@convcheck.assignments.quiz.bank.register(name, topic, summary)`` (builder signature
#: ``(rng, course, rules) -> Draft``; see ``bank.Rules`` for the conventions a key may read and must
#: then list in ``Draft.stated``) and add its absolute name here, e.g.
#: ``"convcheck.assignments.quiz.graph"``. The tests then cover it: IDs rebuild, answers
#: check, every unstated convention is caught, and exports validate.
TEMPLATE_MODULES: tuple[str, ...] = (
    "convcheck.assignments.quiz.numeric",
    "convcheck.assignments.quiz.concepts",
    "convcheck.assignments.quiz.graph",
)

for _module in TEMPLATE_MODULES:
    importlib.import_module(_module)

__all__ = ["Answer", "Question", "Template", "Verdict", "Malformed", "TEMPLATES", "TOPICS", "Rules",
           "DEFAULT_RULES", "OTHER_RULES", "TEMPLATE_MODULES", "register",
           "templates", "question", "check", "sample", "parse_id", "parse_numbers", "select",
           "FORMATS", "export", "variants"]

SEED_RANGE = 10_000  # variant seeds drawn by sample(): short IDs that fit on a handout


def templates(topic: str | None = None) -> list[Template]:
    """Registered templates, optionally only those selected by ``topic`` (see :func:`select`)."""
    return select(topic)


def select(topic: str | None) -> list[Template]:
    """Templates matching a comma-separated list of topics and/or template names (None: all)."""
    if not topic:
        return list(TEMPLATES.values())
    chosen: dict[str, Template] = {}
    for part in (p.strip() for p in topic.split(",") if p.strip()):
        if part in TEMPLATES:
            chosen[part] = TEMPLATES[part]
        elif part in TOPICS:
            chosen.update({t.name: t for t in TEMPLATES.values() if t.topic == part})
        else:
            raise ValueError(f"unknown topic or template {part!r}; topics: {', '.join(TOPICS)}; "
                             f"templates: {', '.join(TEMPLATES)}")
    return list(chosen.values())


def parse_id(qid: str) -> tuple[Template, int]:
    """``'conv-out-2d:1234'`` -> (template, 1234); ValueError naming what is wrong."""
    name, sep, seed = str(qid).strip().rpartition(":")
    if not sep or not name:
        raise ValueError(f"a question ID is TEMPLATE:SEED (e.g. conv-out-2d:1234), got {qid!r}")
    if name not in TEMPLATES:
        raise ValueError(f"unknown template {name!r} in {qid!r}; templates: {', '.join(TEMPLATES)}")
    if not seed.isdigit():
        raise ValueError(f"the seed in {qid!r} must be a non-negative integer, got {seed!r}")
    return TEMPLATES[name], int(seed)


def question(qid: str, rules: Rules = DEFAULT_RULES) -> Question:
    """Rebuild the question with this ID (``rules``: see :class:`~.bank.Rules`; tests only)."""
    template, seed = parse_id(qid)
    return template.make(seed, rules)


def check(qid: str | Question, answer: str) -> Verdict:
    """Mark ``answer`` (as typed) for the question ``qid``."""
    q = qid if isinstance(qid, Question) else question(qid)
    return check_answer(q, answer)


def sample(n: int, seed: int = 0, topic: str | None = None) -> list[Question]:
    """``n`` questions drawn reproducibly from ``seed``: topics in turn, templates within a topic
    without repeats until all were used, variant seeds in ``1 … SEED_RANGE − 1``."""
    if n < 1:
        raise ValueError(f"n must be positive, got n={n}")
    rng = random.Random(f"sample:{seed}")
    pool = select(topic)
    by_topic: dict[str, list[Template]] = {}
    for t in pool:
        by_topic.setdefault(t.topic, []).append(t)
    order = list(by_topic)
    rng.shuffle(order)
    queues: dict[str, list[Template]] = {name: [] for name in order}
    out = []
    for i in range(n):
        name = order[i % len(order)]
        if not queues[name]:
            queues[name] = rng.sample(by_topic[name], len(by_topic[name]))
        out.append(queues[name].pop().make(rng.randrange(1, SEED_RANGE)))
    return out
