"""Quiz export: Moodle XML has the structure Moodle's importer reads, GIFT round-trips through an
independent reader, JSON round-trips; multiple choice is shuffled per variant and named by text."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET

import pytest

from convcheck.assignments import quiz
from convcheck.assignments.quiz.export import _html, gift_escape, numeric_key

from _lms_formats import moodle_xml_problems, parse_gift

QUESTIONS = quiz.variants(3, seed=11)


def test_variants_cover_every_template():
    numeric = [t for t in quiz.TEMPLATES.values() if t.topic != "concepts"]
    concepts = [t for t in quiz.TEMPLATES.values() if t.topic == "concepts"]
    assert len(QUESTIONS) == 3 * len(numeric) + len(concepts)
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    assert [q.id for q in quiz.variants(3, seed=11)] == [q.id for q in QUESTIONS]


def test_moodle_xml_is_well_formed_with_the_right_question_types():
    text = quiz.export(QUESTIONS, "moodle-xml")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "quiz"
    questions = [q for q in root.findall("question") if q.get("type") != "category"]
    assert len(questions) == len(QUESTIONS)
    categories = [q.find("category/text").text for q in root.findall("question[@type='category']")]
    assert categories and all(c.startswith("$course$/top/convcheck/") for c in categories)
    by_id = {q.id: q for q in QUESTIONS}
    for el in questions:
        q = by_id[el.find("name/text").text]
        assert el.find("questiontext").get("format") == "html"
        assert el.find("questiontext/text").text
        assert "Answer:" in el.find("generalfeedback/text").text
        kind = el.get("type")
        if q.answer.kind == "int":
            assert kind == "numerical"
            answers = el.findall("answer")
            assert len(answers) == 1 and answers[0].get("fraction") == "100"
            assert (answers[0].find("text").text, answers[0].find("tolerance").text) == numeric_key(q)
        elif q.answer.kind == "shape":
            assert kind == "cloze"
            fields = re.findall(r"\{1:NUMERICAL:=(\d+):0\}", el.find("questiontext/text").text)
            expected = list(q.answer.value) + ([q.answer.channels] if q.answer.channels_required else [])
            assert [int(f) for f in fields] == expected
        else:
            assert kind == "multichoice" and el.find("single").text == "true"
            fractions = [a.get("fraction") for a in el.findall("answer")]
            assert fractions.count("100") == 1 and len(fractions) == len(q.choices)
            right = el.findall("answer")[q.answer.value].find("text").text
            assert html.unescape(re.sub("<[^>]+>", "", right)) == q.choices[q.answer.value]


def test_moodle_question_text_is_html_escaped():
    q = quiz.question("concept-equivariance:0")  # contains no markup; a choice with '<' must be escaped
    text = quiz.export([q], "moodle-xml")
    root = ET.fromstring(text.encode("utf-8"))
    assert "<p>" in root.find("question[@type='multichoice']/questiontext/text").text
    model = quiz.question("model-params:0")
    root = ET.fromstring(quiz.export([model], "moodle-xml").encode("utf-8"))
    body = root.find("question[@type='numerical']/questiontext/text").text
    assert "<pre>" in body and "conv 6 filters 5×5" in body and "&#x27;" not in body


def _gift_unescaped(text: str, chars: str) -> list[int]:
    """Positions of ``chars`` not preceded by a backslash escape."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in chars:
            out.append(i)
        i += 1
    return out


def test_gift_escapes_special_characters():
    assert gift_escape("a{b}c=d~e#f:g\\h") == "a\\{b\\}c\\=d\\~e\\#f\\:g\\\\h"
    assert gift_escape("two\nlines") == "two\\nlines"
    text = quiz.export(QUESTIONS, "gift")
    blocks = [b for b in text.split("\n\n") if b.strip() and not b.startswith("$CATEGORY")]
    assert len(blocks) == len(QUESTIONS)
    for block in blocks:
        comment, body = block.split("\n", 1)
        assert comment.startswith("// ") and "\n" not in body.strip()
        # The title's :: and the answer braces are the only unescaped markup.
        assert body.startswith("::") and _gift_unescaped(body, ":")[:4] == [0, 1] + [
            body.index("::", 2), body.index("::", 2) + 1]
        assert len(_gift_unescaped(body, "{")) == 1 and len(_gift_unescaped(body, "}")) == 1
        assert _gift_unescaped(body, "}")[0] == len(body.rstrip()) - 1


def test_gift_answers():
    text = quiz.export(QUESTIONS, "gift")
    gift = dict(re.findall(r"^// (\S+)\n(::.*)$", text, flags=re.M))
    assert len(gift) == len(QUESTIONS)
    for q in QUESTIONS:
        block = gift[q.id]
        if q.answer.kind == "int":
            assert "{#%s:%s####" % numeric_key(q) in block
        elif q.answer.kind == "shape":
            assert "=" + "x".join(map(str, q.answer.value)) in block or q.answer.channels_required
        else:
            assert block.count("=[html]") == 1 and block.count("~[html]") == len(q.choices) - 1


def test_json_round_trips():
    data = json.loads(quiz.export(QUESTIONS, "json"))
    assert data["generator"] == "convcheck" and len(data["questions"]) == len(QUESTIONS)
    for item, q in zip(data["questions"], QUESTIONS):
        assert quiz.question(item["id"]).answer == q.answer
        assert quiz.check(item["id"], item["answer_text"]).correct, (item["id"], item["answer_text"])


def test_unknown_format_raises():
    with pytest.raises(ValueError, match="format"):
        quiz.export(QUESTIONS, "docx")


def test_moodle_xml_has_the_structure_moodle_imports():
    assert moodle_xml_problems(quiz.export(QUESTIONS, "moodle-xml")) == []
    broken = quiz.export(QUESTIONS, "moodle-xml").replace("<tolerance>0</tolerance>", "<tolerance>x</tolerance>", 1)
    assert moodle_xml_problems(broken)                      # the validator can fail
    assert moodle_xml_problems(quiz.export(QUESTIONS, "moodle-xml").replace(":NUMERICAL:=", ":NUMERICAL:", 1))


def test_gift_round_trips_through_an_independent_reader():
    parsed = parse_gift(quiz.export(QUESTIONS, "gift"))
    assert [p["title"] for p in parsed] == [q.id for q in QUESTIONS]
    for p, q in zip(parsed, QUESTIONS):
        assert p["format"] == "html" and p["text"] == _html(q.text), q.id
        assert p["category"] == f"$course$/top/convcheck/{q.topic}"
        assert p["feedback"].startswith("<p>Answer: ") and q.explanation.split("\n")[0][:20] in html.unescape(p["feedback"])
        if q.answer.kind == "int":
            value, tolerance = numeric_key(q)
            assert p["kind"] == "numerical" and (p["value"], p["tolerance"]) == (float(value), float(tolerance))
        elif q.answer.kind == "shape":
            assert p["kind"] == "short" and all(m == "=" for m, _ in p["answers"])
            for _, typed in p["answers"]:          # every spelling GIFT accepts, our checker accepts too
                assert quiz.check(q, typed).correct, (q.id, typed)
        else:
            assert p["kind"] == "choice" and [m for m, _ in p["answers"]].count("=") == 1
            texts = [html.unescape(re.sub("<[^>]+>", "", a)) for _, a in p["answers"]]
            assert texts == list(q.choices)
            assert texts[[m for m, _ in p["answers"]].index("=")] == q.choices[q.answer.value]


def test_multiple_choice_is_shuffled_per_variant_and_named_by_text():
    choice = [q for q in quiz.variants(5, seed=3) if q.is_choice]
    positions = {q.answer.value for q in choice}
    assert len(positions) == 4, f"the right option is always at {positions}"    # issue 13: always a)
    xml_root = ET.fromstring(quiz.export(choice, "moodle-xml").encode("utf-8"))
    gift = quiz.export(choice, "gift")
    for q, el in zip(choice, xml_root.findall("question[@type='multichoice']")):
        assert el.find("shuffleanswers").text == "true"
        feedback = html.unescape(el.find("generalfeedback/text").text)
        right = q.choices[q.answer.value]
        assert f"Answer: {right}" in feedback, q.id
        assert not re.search(r"(^|[>\s])[a-h]\) ", feedback), f"{q.id}: feedback cites a letter: {feedback}"
        assert not re.search(r"Answer: [a-h]\)", gift), "GIFT feedback cites a letter"


def test_json_items_have_one_shape():
    data = json.loads(quiz.export(QUESTIONS, "json"))
    types = {"id": str, "template": str, "seed": int, "topic": str, "type": str, "text": str, "choices": list,
             "answer_text": str, "explanation": str, "data": dict}
    for item in data["questions"]:
        assert {k: type(item[k]) for k in types} == types, item["id"]
        assert item["type"] in ("numerical", "shape", "multichoice")
        if item["type"] == "multichoice":
            assert 0 <= item["answer"] < len(item["choices"]) and item["answer_text"] == item["choices"][item["answer"]]
        if item["rounding"]:
            unit, decimals = item["rounding"]
            assert item["unit"] == "bytes" and item["answer_text"].endswith(" " + unit)
