"""Quiz variants in the formats learning platforms import: Moodle XML, GIFT, and plain JSON.

Moodle XML: integer answers are ``numerical`` questions with tolerance 0 (a memory answer asked "in
MiB, to one decimal" has the rounded value and a tolerance of half the last decimal); height × width
answers are ``cloze`` questions with one NUMERICAL field (tolerance 0) per size; multiple-choice items
are ``multichoice`` with one right answer and shuffled options. GIFT has no cloze, so sizes become
short-answer questions listing the usual spellings (``14x14``, ``14 × 14``, ``(14, 14)``...), channels
last. Feedback names the right option by its text: an LMS letters options in its own order.
"""

from __future__ import annotations

import html
import json
import random
import xml.etree.ElementTree as ET

from .bank import TEMPLATES, Question, Template

FORMATS = ("moodle-xml", "gift", "json")
CATEGORY = "$course$/top/convcheck"


def variants(n: int, seed: int = 0, templates: list[Template] | None = None) -> list[Question]:
    """``n`` variants of every numeric template (distinct seeds drawn from ``seed``) and one of every
    conceptual item (their variants differ only in the order of the choices), each with its options
    in a drawn order, so the right one is anywhere."""
    if n < 1:
        raise ValueError(f"the number of variants must be positive, got {n}")
    rng = random.Random(f"export:{seed}")
    out = []
    for template in templates if templates is not None else TEMPLATES.values():
        if template.topic == "concepts":
            out.append(template.make(rng.randrange(1, 10_000)))
        else:
            out += [template.make(s) for s in sorted(rng.sample(range(1, 10_000), n))]
    return out


def _html(text: str) -> str:
    """Plain question text as HTML: paragraphs, with indented lines (a layer list) kept in <pre>."""
    parts, pre = [], []
    for line in text.split("\n"):
        if line.startswith("  "):
            pre.append(html.escape(line[2:], quote=False))
            continue
        if pre:
            parts.append("<pre>" + "\n".join(pre) + "</pre>")
            pre = []
        parts.append(f"<p>{html.escape(line, quote=False)}</p>")
    if pre:
        parts.append("<pre>" + "\n".join(pre) + "</pre>")
    return "".join(parts)


def _explanation_html(q: Question) -> str:
    answer = html.escape(q.answer.display() if not q.is_choice else q.answer.text(q.choices), quote=False)
    body = "<br>".join(html.escape(line, quote=False) for line in q.explanation.split("\n"))
    return f"<p>Answer: {answer}</p><p>{body}</p>"


def numeric_key(q: Question) -> tuple[str, str]:
    """(value, tolerance) of a one-number answer as an LMS takes it: exact, or rounded as asked."""
    if q.answer.rounding:
        unit, decimals = q.answer.rounding
        return q.answer.rounded().split()[0], f"{0.5 * 10 ** -decimals:g}"
    return str(q.answer.value), "0"


# --- Moodle XML ----------------------------------------------------------------------------------

def _text(parent, tag: str, value: str, fmt: str | None = "html"):
    el = ET.SubElement(parent, tag, {"format": fmt} if fmt else {})
    ET.SubElement(el, "text").text = value
    return el


def _common(el, q: Question, questiontext: str):
    name = ET.SubElement(el, "name")
    ET.SubElement(name, "text").text = q.id
    _text(el, "questiontext", questiontext)
    _text(el, "generalfeedback", _explanation_html(q))
    ET.SubElement(el, "defaultgrade").text = "1"
    ET.SubElement(el, "penalty").text = "0"
    ET.SubElement(el, "hidden").text = "0"
    ET.SubElement(el, "idnumber").text = q.id


def _moodle_question(q: Question) -> ET.Element:
    kind = q.answer.kind
    if kind == "int":
        el = ET.Element("question", {"type": "numerical"})
        _common(el, q, _html(q.text))
        value, tolerance = numeric_key(q)
        answer = ET.SubElement(el, "answer", {"fraction": "100", "format": "moodle_auto_format"})
        ET.SubElement(answer, "text").text = value
        _text(answer, "feedback", "<p>Correct.</p>")
        ET.SubElement(answer, "tolerance").text = tolerance
        return el
    if kind == "shape":
        el = ET.Element("question", {"type": "cloze"})
        dims = list(q.answer.value) + ([q.answer.channels] if q.answer.channels_required else [])
        fields = " × ".join(f"{{1:NUMERICAL:={d}:0}}" for d in dims)
        _common(el, q, _html(q.text) + f"<p>{fields}</p>")
        return el
    el = ET.Element("question", {"type": "multichoice"})
    _common(el, q, _html(q.text))
    ET.SubElement(el, "single").text = "true"
    # Feedback names options by their text, so Moodle may letter them in any order.
    ET.SubElement(el, "shuffleanswers").text = "true"
    ET.SubElement(el, "answernumbering").text = "abc"
    for i, choice in enumerate(q.choices):
        right = i == q.answer.value
        answer = ET.SubElement(el, "answer", {"fraction": "100" if right else "0", "format": "html"})
        ET.SubElement(answer, "text").text = f"<p>{html.escape(choice, quote=False)}</p>"
        _text(answer, "feedback", "<p>Correct.</p>" if right else "<p>Not this one.</p>")
    return el


def to_moodle_xml(questions: list[Question]) -> str:
    quiz = ET.Element("quiz")
    topic = None
    for q in questions:
        if q.topic != topic:
            topic = q.topic
            cat = ET.SubElement(quiz, "question", {"type": "category"})
            c = ET.SubElement(cat, "category")
            ET.SubElement(c, "text").text = f"{CATEGORY}/{topic}"
        quiz.append(_moodle_question(q))
    ET.indent(quiz)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, encoding="unicode") + "\n"


# --- GIFT ----------------------------------------------------------------------------------------

_GIFT_SPECIAL = "\\~=#{}:"


def gift_escape(text: str) -> str:
    """Backslash the characters GIFT gives a meaning to, and keep each question on one line."""
    out = "".join("\\" + ch if ch in _GIFT_SPECIAL else ch for ch in text)
    return out.replace("\n", "\\n")


def _spellings(dims: list[int]) -> list[str]:
    forms = ["x".join(map(str, dims)), " x ".join(map(str, dims)), "×".join(map(str, dims)),
             " × ".join(map(str, dims)), "(" + ", ".join(map(str, dims)) + ")",
             "(" + ",".join(map(str, dims)) + ")", ", ".join(map(str, dims)), ",".join(map(str, dims))]
    return list(dict.fromkeys(forms))


def _gift_question(q: Question) -> str:
    title = f"::{gift_escape(q.id)}::"
    text = "[html]" + gift_escape(_html(q.text))
    feedback = "####" + gift_escape(_explanation_html(q))
    kind = q.answer.kind
    if kind == "int":
        value, tolerance = numeric_key(q)
        body = f"{{#{value}:{tolerance}{feedback}}}"
    elif kind == "shape":
        spatial = list(q.answer.value)
        accepted = [] if q.answer.channels_required else _spellings(spatial)
        if not q.answer.channels_required and len(set(spatial)) == 1:
            accepted.append(str(spatial[0]))
        if q.answer.channels is not None:
            accepted += _spellings(spatial + [q.answer.channels])  # channels last, as the question says
        body = "{" + " ".join("=" + gift_escape(a) for a in accepted) + feedback + "}"
    else:
        marks = [("=" if i == q.answer.value else "~") + "[html]" + gift_escape(f"<p>{html.escape(c, quote=False)}</p>")
                 for i, c in enumerate(q.choices)]
        body = "{" + " ".join(marks) + feedback + "}"
    return f"// {q.id}\n{title}{text}{body}\n"


def to_gift(questions: list[Question]) -> str:
    chunks, topic = [], None
    for q in questions:
        if q.topic != topic:
            topic = q.topic
            chunks.append(f"$CATEGORY: {CATEGORY}/{topic}\n")
        chunks.append(_gift_question(q))
    return "\n".join(chunks)


def to_json(questions: list[Question]) -> str:
    return json.dumps({"generator": "convcheck", "questions": [q.to_dict() for q in questions]},
                      indent=2, ensure_ascii=False) + "\n"


def export(questions: list[Question], fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return {"moodle-xml": to_moodle_xml, "gift": to_gift, "json": to_json}[fmt](questions)
