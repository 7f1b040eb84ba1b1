"""Reading what a person types as an answer, and marking it.

People write the same shape many ways (``14``, ``14x14``, ``(14, 14)``, ``14 × 14 × 32``,
``[14,14]``); all of those are read. Text that is not an answer at all (a typo, a word, the wrong
number of sizes) gets a message asking again — it is never marked wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .quiz_bank import Answer, Question

LETTERS = "abcdefgh"

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([,_']\d{3})+(\.\d+)?$")
_SEPARATORS = re.compile(r"\s*(?:[x×X*,;]|\s)\s*")
_BRACKETS = {"(": ")", "[": "]", "{": "}"}
# Memory units: bytes, and the decimal and binary multiples a person may type instead.
_UNITS = {"b": 1, "byte": 1, "bytes": 1,
          "kb": 10**3, "mb": 10**6, "gb": 10**9,
          "kib": 2**10, "mib": 2**20, "gib": 2**30}


# Words a person may type after a count ("560 parameters"); anything else is not read as a number.
_COUNT_WORDS = re.compile(r"\s*(params?|parameters?|weights?|connections?|values?|features?)\s*$", re.I)


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


def parse_numbers(text: str, *, single: bool = False) -> tuple[Fraction, ...]:
    """The numbers in ``text``: ``'14'``, ``'14x14'``, ``'(14, 14)'``, ``'14 × 14 × 32'``.

    With ``single``, thousands separators are read as such (``'62,006'`` is one number, since
    the question asks for one); otherwise a comma separates sizes.
    """
    body = _strip_brackets(text)
    if not body:
        raise Malformed("the answer is empty")
    if single and _THOUSANDS.match(body):
        return (_number(re.sub(r"[,_']", "", body)),)
    tokens = _SEPARATORS.split(body)
    if not any(tokens):
        raise Malformed(f"no number in {text!r}")
    if not all(tokens):
        raise Malformed(f"a size is missing in {text!r}")
    return tuple(_number(t) for t in tokens)


def _split_unit(text: str) -> tuple[str, int, str]:
    """``'19.5 MiB'`` -> ``('19.5', 2**20, 'MiB')``; no unit -> multiplier 1."""
    match = re.match(r"^(.*?)\s*([A-Za-z]+)\s*$", text.strip())
    if match and match.group(2).lower() in _UNITS:
        return match.group(1), _UNITS[match.group(2).lower()], match.group(2)
    return text, 1, ""


def _decimals(text: str) -> int:
    match = re.search(r"\.(\d+)", text)
    return len(match.group(1)) if match else 0


def _read_int(answer: Answer, text: str) -> tuple[bool, str]:
    multiplier, unit = 1, ""
    if answer.unit == "bytes":
        text, multiplier, unit = _split_unit(text)
    else:
        text = _COUNT_WORDS.sub("", text)
        if re.search(r"[A-Za-z]{2,}", text):
            raise Malformed("type only the number")
    numbers = parse_numbers(text, single=True)
    if len(numbers) != 1:
        raise Malformed(f"this question asks for one number, got {len(numbers)}")
    value = numbers[0]
    expected = answer.value
    if multiplier == 1:
        if value.denominator != 1:
            return False, f"{float(value):g} is not a whole number; the answer is a count"
        return value == expected, ""
    # In KB/MiB/...: right when the exact answer rounds to what was typed at the typed precision.
    decimals = _decimals(text)
    exact = Fraction(expected, multiplier)
    return round(exact, decimals) == round(value, decimals), f"read as {float(value):g} {unit}"


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
        return False, "sizes are whole numbers: the formula floors"
    given = tuple(int(n) for n in numbers)
    if len(given) == 1:
        return given[0] == spatial[0] and len(set(spatial)) == 1, ""
    if len(given) == len(spatial):
        return given == spatial, ""
    # Channels last as the course writes (28 × 28 × 6); channels first as PyTorch prints is fine too.
    return given in (spatial + (c,), (c,) + spatial), ""


def _read_choice(question: Question, text: str) -> tuple[bool, str]:
    body = text.strip().lower()
    match = re.match(r"^\(?([a-h])[).:]?$", body)
    n = len(question.choices)
    if match:
        index = LETTERS.index(match.group(1))
        if index >= n:
            raise Malformed(f"answer with a letter from a to {LETTERS[n - 1]}")
        return index == question.answer.value, ""
    normalized = " ".join(body.split())
    for index, choice in enumerate(question.choices):
        if normalized == " ".join(choice.lower().split()):
            return index == question.answer.value, ""
    raise Malformed(f"answer with a letter from a to {LETTERS[n - 1]}")


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
