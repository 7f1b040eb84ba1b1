"""Reading what a person types as an answer, and marking it by value.

People write the same shape many ways (``14``, ``14x14``, ``(14, 14)``, ``14 × 14 × 32``,
``[14,14]``); all of those are read, in the order the question states (height × width, channels
last). Text that is not an answer at all, or that could mean two things (``62.006``, ``62 006``,
``mb``), gets a message asking again — it is never marked. Memory answers are compared by value:
``8 MB`` is 8,000,000 bytes, ``8 MiB`` is 8,388,608 and ``8 Mb`` is 1,000,000 (megabits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .bank import BYTE_UNITS, Answer, Question, round_half_up

LETTERS = "abcdefgh"

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([,_']\d{3})+(\.\d+)?$")
# 62.006 (a European thousands point) or 62 006 (a thin or plain space): one number or not?
_AMBIGUOUS_POINT = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")
_AMBIGUOUS_SPACE = re.compile(r"^[+-]?\d{1,3}([ \u00a0\u2009\u202f]\d{3})+$")
_SEPARATORS = re.compile(r"\s*(?:[x×X*,;]|\s)\s*")
_BRACKETS = {"(": ")", "[": "]", "{": "}"}

# Units a memory answer may carry, case-sensitive where case carries meaning (B bytes, b bits).
_BYTE_WORDS = {"B": 1, "byte": 1, "bytes": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9,
               "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
_BIT_WORDS = {"b": 1, "bit": 1, "bits": 1, "kbit": 10**3, "Mbit": 10**6, "Gbit": 10**9, "Mb": 10**6, "Gb": 10**9}
# KB is 1000 or 1024 bytes depending on who writes it; kb, mb, ... are bytes to some and bits to others.
_AMBIGUOUS_UNITS = {"KB", "kb", "Kb", "mb", "mB", "gb", "gB", "kib", "mib", "gib", "Kib", "Mib", "Gib", "kiB", "miB", "giB"}
_PREFIX = {10**3: "10³", 10**6: "10⁶", 10**9: "10⁹", 2**10: "2¹⁰", 2**20: "2²⁰", 2**30: "2³⁰"}

# Words a person may type after a count ("560 parameters"); anything else is not read as a number.
_COUNT_WORDS = re.compile(r"\s*(params?|parameters?|weights?|connections?|values?|features?|"
                          r"MACs?|FLOPs?|multiply-adds?)\s*$", re.I)

# Characters that look alike in option texts: the minus sign, dashes, the multiplication sign, dots.
_LOOKALIKES = str.maketrans({"−": "-", "–": "-", "—": "-", "×": "x", "·": "*", "⋅": "*", "’": "'"})


class Malformed(ValueError):
    """The text could not be read as an answer to this question (the message says why)."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one answer: ``status`` is correct, wrong or malformed."""

    question: Question
    given: str
    status: str
    message: str

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def to_dict(self) -> dict:
        return {"id": self.question.id, "given": self.given, "status": self.status,
                "message": self.message, "answer": self.question.answer.display(self.question.choices),
                "explanation": self.question.explanation}


def _strip_brackets(text: str) -> str:
    text = text.strip()
    while len(text) >= 2 and text[0] in _BRACKETS and text[-1] == _BRACKETS[text[0]]:
        text = text[1:-1].strip()
    return text


def _number(token: str) -> Fraction:
    if not _NUMBER.match(token):
        raise Malformed(f"could not read {token!r} as a number")
    return Fraction(token)


def parse_numbers(text: str, *, single: bool = False, unit: bool = False) -> tuple[Fraction, ...]:
    """The numbers in ``text``: ``'14'``, ``'14x14'``, ``'(14, 14)'``, ``'14 × 14 × 32'``.

    With ``single``, thousands separators are read as such (``'62,006'`` is one number, since
    the question asks for one); otherwise a comma separates sizes. ``'62.006'`` and ``'62 006'``
    are refused with single: a thousands point or space, or a decimal / two numbers? With ``unit``
    (``36.864 kB``) a point is a decimal point.
    """
    body = _strip_brackets(text)
    if not body:
        raise Malformed("the answer is empty")
    if single and not unit and _AMBIGUOUS_POINT.match(body):
        raise Malformed(f"{body!r} could be a decimal number or {body.replace('.', '')} with a thousands point; "
                        f"type it without the point ({body.replace('.', '')}) or with commas "
                        f"({body.replace('.', ',')})")
    if single and _AMBIGUOUS_SPACE.match(body):
        joined = re.sub(r"\s", "", body)
        raise Malformed(f"{body!r} could be {joined} with a space between thousands or two numbers; "
                        f"this question asks for one: type {joined} or {int(joined):,}")
    if single and _THOUSANDS.match(body):
        return (_number(re.sub(r"[,_']", "", body)),)
    tokens = _SEPARATORS.split(body)
    if not any(tokens):
        raise Malformed(f"no number in {text!r}")
    if not all(tokens):
        raise Malformed(f"a size is missing in {text!r}")
    return tuple(_number(t) for t in tokens)


def _split_unit(text: str) -> tuple[str, int, str, bool]:
    """``'19.5 MiB'`` -> ``('19.5', 2**20, 'MiB', False)``; bits give True; no unit: multiplier 1."""
    match = re.match(r"^(.*?\d\.?)\s*([A-Za-z]+)\s*$", text.strip())
    if not match:
        return text, 1, "", False
    number, unit = match.group(1), match.group(2)
    if unit in _BYTE_WORDS:
        return number, _BYTE_WORDS[unit], unit, False
    if unit in _BIT_WORDS:
        return number, _BIT_WORDS[unit], unit, True
    if unit in _AMBIGUOUS_UNITS:
        raise Malformed(f"{unit!r} means different sizes to different people: write kB, MB, GB (10³, 10⁶, 10⁹ bytes), "
                        "KiB, MiB, GiB (2¹⁰, 2²⁰, 2³⁰ bytes), or Mb for megabits")
    raise Malformed(f"unknown unit {unit!r}; use bytes, kB, MB, GB (powers of 10) or KiB, MiB, GiB (powers of 2)")


def _unit_words(multiplier: int, unit: str, bits: bool) -> str:
    """``'MB is a decimal unit, 10⁶ bytes'``: what the typed unit means."""
    if bits:
        return f"{unit} is {_PREFIX[multiplier]} bits, 8 bits to a byte" if multiplier != 1 else "8 bits to a byte"
    kind = "binary" if multiplier in (2**10, 2**20, 2**30) else "decimal"
    return f"{unit} is a {kind} unit, {_PREFIX[multiplier]} bytes"


def _read_memory(answer: Answer, text: str) -> tuple[bool, str]:
    number, multiplier, unit, bits = _split_unit(text)
    if answer.rounding and not unit:  # "Answer in MiB, to 1 decimal": a bare number is in MiB
        unit = answer.rounding[0]
        multiplier = BYTE_UNITS[unit]
    numbers = parse_numbers(number, single=True, unit=bool(unit))
    if len(numbers) != 1:
        raise Malformed(f"this question asks for one number, got {len(numbers)}")
    value = numbers[0]
    nbytes = value * multiplier / (8 if bits else 1)
    expected = answer.value
    if answer.rounding and unit == answer.rounding[0] and not bits:
        decimals = answer.rounding[1]
        key = round_half_up(Fraction(expected, multiplier), decimals)
        if round_half_up(value, decimals) == key:
            return True, f"read as {number} {unit}; the exact value is {expected:,} bytes"
        return False, f"read as {number} {unit}; to {decimals} decimal{'s' if decimals != 1 else ''} it is {float(key):.{decimals}f} {unit}"
    if nbytes == expected:
        if multiplier == 1 and not bits:
            return True, ""
        return True, f"{number} {unit} is exactly {expected:,} bytes; {_unit_words(multiplier, unit, bits)}"
    shown = f"{float(nbytes):,.0f}" if nbytes.denominator == 1 else f"{float(nbytes):,.3f}"
    note = f"{number} {unit or 'bytes'} is {shown} bytes"
    if multiplier != 1 or bits:
        note += f"; {_unit_words(multiplier, unit, bits)}"
    if answer.rounding and unit != answer.rounding[0]:
        asked = answer.rounding[0]
        note += f"; this question asks for {asked} = {_PREFIX[BYTE_UNITS[asked]]} bytes, or the exact bytes"
    elif not answer.rounding:
        note += "; this question asks for the exact number of bytes"
    return False, note


def _read_int(answer: Answer, text: str) -> tuple[bool, str]:
    if answer.unit == "bytes":
        return _read_memory(answer, text)
    text = _COUNT_WORDS.sub("", text)
    if re.search(r"[A-Za-z]{2,}", text):
        raise Malformed("type only the number")
    numbers = parse_numbers(text, single=True)
    if len(numbers) != 1:
        raise Malformed(f"this question asks for one number, got {len(numbers)}")
    value = numbers[0]
    if value.denominator != 1:
        return False, f"{float(value):g} is not a whole number; the answer is a count"
    return value == answer.value, ""


def _read_shape(answer: Answer, text: str) -> tuple[bool, str]:
    if re.search(r"[A-WYZa-wyz]{2,}", text):
        raise Malformed("type only the sizes, e.g. 14x14 or (14, 14)")
    numbers = parse_numbers(text)
    spatial = tuple(answer.value)
    c = answer.channels
    forms = {len(spatial) + 1: "height × width × channels"} if c is not None else {}
    if not answer.channels_required:
        forms[len(spatial)] = " × ".join(["height", "width", "depth"][: len(spatial)])
        forms.setdefault(1, "one number when all sizes are equal")
    if len(numbers) not in forms:
        wanted = " or ".join(f"{n} number{'s' if n > 1 else ''} ({what})" for n, what in sorted(forms.items()))
        raise Malformed(f"expected {wanted}, got {len(numbers)}")
    if any(n.denominator != 1 for n in numbers):
        return False, "sizes are whole numbers: the formula rounds"
    given = tuple(int(n) for n in numbers)
    if len(given) == 1:
        return given[0] == spatial[0] and len(set(spatial)) == 1, ""
    if len(given) == len(spatial):
        return given == spatial, ""
    # The layout is part of the question: height × width × channels, channels last.
    if given == spatial + (c,):
        return True, ""
    if given == (c,) + spatial:
        dims = " × ".join(map(str, given))
        return False, f"{dims} is channels-first (C × H × W); this question asks for H × W × C"
    return False, ""


def _normal(text: str) -> str:
    return "".join(text.translate(_LOOKALIKES).lower().split())


def _read_choice(question: Question, text: str) -> tuple[bool, str]:
    body = text.strip()
    n = len(question.choices)
    match = re.match(r"^\(?([a-hA-H])[).:]?$", body)
    if match:
        index = LETTERS.index(match.group(1).lower())
        if index >= n:
            raise Malformed(f"answer with a letter from a to {LETTERS[n - 1]}")
        return index == question.answer.value, ""
    by_text = {_normal(choice): index for index, choice in enumerate(question.choices)}
    if _normal(body) in by_text:
        return by_text[_normal(body)] == question.answer.value, ""
    # "d) (k − 1)/2": a letter and the option's text, as the JSON export's answer_text may read
    match = re.match(r"^\(?([a-hA-H])[).:]\s*(.+)$", body)
    if match and _normal(match.group(2)) in by_text:
        index, named = LETTERS.index(match.group(1).lower()), by_text[_normal(match.group(2))]
        if index != named:
            raise Malformed(f"the letter {match.group(1)} and the text {match.group(2)!r} name different options")
        return index == question.answer.value, ""
    raise Malformed(f"answer with a letter from a to {LETTERS[n - 1]} or an option's text")


def check_answer(question: Question, text: str) -> Verdict:
    """Mark ``text`` as an answer to ``question``."""
    text = "" if text is None else str(text)
    try:
        if question.answer.kind == "choice":
            ok, note = _read_choice(question, text)
        elif question.answer.kind == "int":
            ok, note = _read_int(question.answer, text)
        else:
            ok, note = _read_shape(question.answer, text)
    except Malformed as exc:
        return Verdict(question, text, "malformed", f"{exc} — try again")
    expected = question.answer.display(question.choices)
    if ok:
        return Verdict(question, text, "correct", "correct" + (f" ({note})" if note else ""))
    message = f"not quite: the answer is {expected}"
    return Verdict(question, text, "wrong", message + (f" ({note})" if note else ""))
