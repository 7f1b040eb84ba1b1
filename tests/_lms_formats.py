"""Independent readers of the two LMS formats the quiz writes, for round-trip tests.

``moodle_xml_problems``: the structure Moodle's XML import (``question/format/xml/format.php``:
``import_headers``, ``import_numerical``, ``import_multichoice``, ``import_multianswer``) reads, and
the Cloze syntax of embedded answers (``{1:NUMERICAL:=14:0}``). ``parse_gift``: a GIFT reader after
Moodle's GIFT format documentation (``::title::``, ``[html]``, ``{=right ~wrong #feedback}``,
``{#value:tolerance}``, ``####general feedback``, backslash escapes, ``$CATEGORY:``, ``//`` comments).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

ANSWERNUMBERING = {"abc", "ABCD", "123", "iii", "IIII", "none"}
_CLOZE = re.compile(r"\{(\d*):(NUMERICAL|NM):=([^:}]+):([^}#]+)\}")


def _float(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def moodle_xml_problems(text: str) -> list[str]:
    """What Moodle's XML import would reject or misread; empty when the file is well formed."""
    problems = []
    root = ET.fromstring(text.encode("utf-8"))
    if root.tag != "quiz":
        return [f"root element is <{root.tag}>, not <quiz>"]
    for i, q in enumerate(root):
        where = f"question {i} ({q.findtext('name/text')})"
        if q.tag != "question":
            problems.append(f"{where}: <{q.tag}> directly under <quiz>")
            continue
        kind = q.get("type")
        if kind == "category":
            if not (q.findtext("category/text") or "").startswith("$course$/"):
                problems.append(f"{where}: category without a $course$/ path")
            continue
        if kind not in ("numerical", "multichoice", "cloze"):
            problems.append(f"{where}: unexpected type {kind!r}")
            continue
        for path in ("name/text", "questiontext/text", "generalfeedback/text"):
            if not (q.findtext(path) or "").strip():
                problems.append(f"{where}: empty <{path}>")
        if q.find("questiontext").get("format") not in ("html", "plain_text", "moodle_auto_format", "markdown"):
            problems.append(f"{where}: questiontext format {q.find('questiontext').get('format')!r}")
        for tag in ("defaultgrade", "penalty"):
            if _float(q.findtext(tag)) is None:
                problems.append(f"{where}: <{tag}> is not a number")
        if q.findtext("hidden") not in ("0", "1"):
            problems.append(f"{where}: <hidden> is not 0 or 1")
        answers = q.findall("answer")
        if kind == "numerical":
            if not answers:
                problems.append(f"{where}: numerical without an answer")
            for a in answers:
                tolerance = _float(a.findtext("tolerance"))
                if _float(a.get("fraction")) is None or _float(a.findtext("text")) is None \
                        or tolerance is None or tolerance < 0:
                    problems.append(f"{where}: numerical answer needs a fraction, a number and a tolerance ≥ 0")
            if not any(a.get("fraction") == "100" for a in answers):
                problems.append(f"{where}: no answer worth 100%")
        elif kind == "multichoice":
            if q.findtext("single") not in ("true", "false", "1", "0"):
                problems.append(f"{where}: <single> is {q.findtext('single')!r}")
            if q.findtext("shuffleanswers") not in ("true", "false", "1", "0"):
                problems.append(f"{where}: <shuffleanswers> is {q.findtext('shuffleanswers')!r}")
            if q.findtext("answernumbering") not in ANSWERNUMBERING:
                problems.append(f"{where}: <answernumbering> is {q.findtext('answernumbering')!r}")
            fractions = [_float(a.get("fraction")) for a in answers]
            if len(answers) < 2 or None in fractions or fractions.count(100.0) != 1:
                problems.append(f"{where}: multichoice needs ≥ 2 answers and exactly one worth 100%")
            if any(not (a.findtext("text") or "").strip() for a in answers):
                problems.append(f"{where}: an empty option")
        else:
            body = q.findtext("questiontext/text")
            fields = _CLOZE.findall(body)
            stray = _CLOZE.sub("", body)
            if not fields or "{" in stray or "}" in stray:
                problems.append(f"{where}: cloze needs embedded answers and no other braces")
            if any(_float(v) is None or _float(t) is None for _, _, v, t in fields):
                problems.append(f"{where}: a NUMERICAL field without a number and a tolerance")
    return problems


# --- GIFT ----------------------------------------------------------------------------------------

def _split_unescaped(text: str, chars: str) -> list[tuple[str, str]]:
    """``text`` cut before each unescaped char of ``chars``: [(mark, piece), ...]."""
    out, mark, buf, i = [], "", [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i:i + 2])
            i += 2
            continue
        if ch in chars:
            out.append((mark, "".join(buf)))
            mark, buf = ch, []
        else:
            buf.append(ch)
        i += 1
    out.append((mark, "".join(buf)))
    return out


def gift_unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _find_unescaped(text: str, ch: str, start: int = 0) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == ch:
            return i
        i += 1
    return -1


def parse_gift(text: str) -> list[dict]:
    """The questions of a GIFT file: title, text, kind (numerical / choice / short), answers, feedback."""
    questions, category = [], None
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.split("\n") if ln.strip() and not ln.lstrip().startswith("//")]
        if not lines:
            continue
        if lines[0].startswith("$CATEGORY:"):
            category = lines[0].split(":", 1)[1].strip()
            continue
        body = " ".join(lines)
        assert body.startswith("::"), f"no title: {body[:60]!r}"
        end = body.index("::", 2)
        title = gift_unescape(body[2:end])
        rest = body[end + 2:]
        open_ = _find_unescaped(rest, "{")
        close = _find_unescaped(rest, "}", open_)
        assert open_ >= 0 and close == len(rest.rstrip()) - 1, f"{title}: the answer block must end the question"
        qtext = rest[:open_]
        fmt = "html" if qtext.startswith("[html]") else "moodle"
        qtext = gift_unescape(qtext.removeprefix("[html]"))
        inside = rest[open_ + 1:close]
        general = None
        cut = inside.find("####")
        while cut > 0 and inside[cut - 1] == "\\":
            cut = inside.find("####", cut + 1)
        if cut >= 0:
            general = gift_unescape(inside[cut + 4:])
            inside = inside[:cut]
        if inside.startswith("#"):
            value, _, tolerance = inside[1:].partition(":")
            questions.append({"title": title, "category": category, "format": fmt, "text": qtext,
                              "kind": "numerical", "value": float(value), "tolerance": float(tolerance or 0),
                              "feedback": general})
            continue
        parts = [(m, gift_unescape(p).strip()) for m, p in _split_unescaped(inside, "=~") if m]
        answers = [(m, p.removeprefix("[html]")) for m, p in parts]
        kind = "choice" if any(m == "~" for m, _ in answers) else "short"
        questions.append({"title": title, "category": category, "format": fmt, "text": qtext, "kind": kind,
                          "answers": answers, "feedback": general})
    return questions
