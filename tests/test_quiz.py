"""The quiz bank: IDs, the course's worked numbers at seed 0, explanations, and reading answers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcheck.assignments import quiz
from convcheck.assignments.quiz.bank import Answer, Question

ALL = list(quiz.TEMPLATES)
NUMERIC = [t.name for t in quiz.TEMPLATES.values() if t.topic != "concepts"]
CONCEPTS = [t.name for t in quiz.TEMPLATES.values() if t.topic == "concepts"]


def test_the_bank_covers_the_course_topics():
    for name in ["transposed-out", "conv-macs", "activation-memory-batch", "separable-params",
                 "conv-out-1d", "conv-out-2d", "conv-out-mode", "pad-mode", "effective-kernel",
                 "pool-out-2d", "stack-not-length", "conv-params", "dense-params", "model-params",
                 "model-shape", "activation-memory", "receptive-field", "connections",
                 "concept-equivariance", "concept-not-conv-property", "concept-pool-params"]:
        assert name in quiz.TEMPLATES, name
    assert set(quiz.TOPICS) == {t.topic for t in quiz.TEMPLATES.values()}


@pytest.mark.parametrize("qid, typed", [
    ("conv-params:0", "560"),                 # 20 filters of 3×3×3
    ("dense-params:0", "48,120"),             # FC 1 of the LeNet table
    ("model-params:0", "62006"),              # the LeNet table's total
    ("model-shape:0", "5x5x16"),              # after POOL 2
    ("activation-memory:0", "20430400"),      # 226×226×100 float32
    ("effective-kernel:0", "19"),             # length 7 at dilation 3
    ("conv-out-1d:0", "3"),                   # 5, filter 3, pad 1, stride 2
    ("conv-out-2d:0", "14x14"),               # 28, 3×3, pad 1, stride 2
    ("connections:0", "13"),                  # 5 inputs, width 3 (dense: 25)
    ("stack-not-length:0", "d"),              # the course's stack question
    ("receptive-field:0", "7x7"),             # three 3×3 convs (VGG)
    ("concept-not-conv-property:0", "a"),     # translation invariance
    ("concept-equivariance:0", "f(g(x)) = g(f(x))"),
    ("activation-memory:4425", "8 MiB"),      # 1,048,576 float64 values: exactly 8,388,608 bytes
])
def test_seed_zero_is_the_course_example(qid, typed):
    verdict = quiz.check(qid, typed)
    assert verdict.status == "correct", f"{qid}: {verdict.message}"


@pytest.mark.parametrize("name", ALL)
@given(seed=st.integers(0, 9999))
def test_ids_rebuild_the_same_question(name, seed):
    q = quiz.question(f"{name}:{seed}")
    assert q.id == f"{name}:{seed}" and q.template == name and q.seed == seed
    again = quiz.question(q.id)
    assert (again.text, again.answer, again.explanation, again.choices) == (q.text, q.answer, q.explanation, q.choices)
    assert quiz.check(q, q.answer.text(q.choices)).correct, q.id
    if q.is_choice:
        assert quiz.check(q, q.answer.display(q.choices).split(")")[0]).correct, q.id


@pytest.mark.parametrize("name", NUMERIC)
@given(seed=st.integers(0, 9999))
def test_explanations_end_with_the_answer(name, seed):
    q = quiz.question(f"{name}:{seed}")
    last_numbers = re.findall(r"\d+(?:,\d{3})*", q.explanation.replace("×", " "))
    if q.answer.kind == "int":
        assert f"{q.answer.value:,}" in q.explanation or str(q.answer.value) in q.explanation, q.id
    elif q.answer.kind == "shape":
        assert str(q.answer.value[0]) in last_numbers, q.id
    assert "=" in q.explanation, f"{q.id}: the explanation should show the formula"


@pytest.mark.parametrize("name", [n for n in NUMERIC if n != "stack-not-length"])
def test_variants_differ(name):
    answers = {quiz.question(f"{name}:{seed}").answer.value for seed in range(1, 40)}
    assert len(answers) >= 3, f"{name}: only {answers} over 39 seeds"


@pytest.mark.parametrize("name", CONCEPTS)
def test_concept_seeds_only_shuffle(name):
    base = quiz.question(f"{name}:0")
    right = base.choices[base.answer.value]
    orders = set()
    for seed in range(1, 12):
        q = quiz.question(f"{name}:{seed}")
        assert sorted(q.choices) == sorted(base.choices) and q.choices[q.answer.value] == right
        orders.add(q.choices)
    assert len(orders) > 1


def test_sample_is_reproducible_and_mixes_topics():
    a, b = quiz.sample(8, seed=3), quiz.sample(8, seed=3)
    assert [q.id for q in a] == [q.id for q in b]
    assert len({q.topic for q in a}) == len(quiz.TOPICS)
    assert [q.id for q in quiz.sample(8, seed=4)] != [q.id for q in a]
    assert {q.topic for q in quiz.sample(6, seed=1, topic="params")} == {"params"}
    assert {q.template for q in quiz.sample(4, seed=1, topic="conv-out-2d")} == {"conv-out-2d"}


@pytest.mark.parametrize("bad", ["conv-out-2d", "nope:3", "conv-out-2d:x", ":3", "conv-out-2d:-1"])
def test_bad_ids_raise_naming_the_problem(bad):
    with pytest.raises(ValueError, match="ID|template|seed"):
        quiz.question(bad)


def test_unknown_topic_raises():
    with pytest.raises(ValueError, match="unknown topic"):
        quiz.sample(3, topic="pooling-magic")


# --- reading answers -------------------------------------------------------------------------------

def _q(answer: Answer, choices=()) -> Question:
    return Question("t:1", "t", 1, "output-size", "?", answer, "because", tuple(choices))


SQUARE = _q(Answer("shape", (14, 14), channels=32))
RECT = _q(Answer("shape", (14, 13), channels=32))
COUNT = _q(Answer("int", 62006))
BYTES = _q(Answer("int", 20430400, unit="bytes"))
CHOICE = _q(Answer("choice", 2), ["n + k + 1", "n + k − 1", "n − k + 1", "n − k − 1"])
VOLUME = _q(Answer("shape", (5, 5), channels=16, channels_required=True))


@pytest.mark.parametrize("typed", ["14", "14x14", "14 x 14", "14X14", "14×14", "14 × 14", "(14, 14)",
                                   "[14,14]", "14,14", "14 14", "14 × 14 × 32", "14x14x32", "(14, 14, 32)",
                                   " 14 ", "14.0"])
def test_shape_spellings_are_accepted(typed):
    assert quiz.check(SQUARE, typed).status == "correct", typed


@pytest.mark.parametrize("typed", ["13", "14x13x31", "12x12", "14x14x16", "6.5"])
def test_wrong_shapes_are_marked_wrong(typed):
    verdict = quiz.check(SQUARE, typed)
    assert verdict.status == "wrong" and "14 × 14" in verdict.message, typed


def test_non_square_needs_both_sizes():
    assert quiz.check(RECT, "14x13").correct
    assert quiz.check(RECT, "14").status == "wrong"
    assert quiz.check(RECT, "13x14").status == "wrong"
    assert quiz.check(RECT, "(14, 13, 32)").correct


@pytest.mark.parametrize("spatial, channels, typed", [
    ((16, 6), 16, "16x16x6"),      # issue 13: passed for 16×6 with 16 channels
    ((7, 32), 32, "32x7x32"),      # issue 13: passed for 7×32 with 32 channels
    ((14, 14), 32, "(32, 14, 14)"),
])
def test_channels_first_is_wrong_and_says_so(spatial, channels, typed):
    verdict = quiz.check(_q(Answer("shape", spatial, channels=channels)), typed)
    assert verdict.status == "wrong", verdict.message
    assert "channels-first" in verdict.message and "H × W × C" in verdict.message


@pytest.mark.parametrize("typed", ["", "abc", "fourteen", "14x", "14 x y", "14x14x14x14", "()", "1/2"])
def test_malformed_shapes_get_a_message_not_a_mark(typed):
    verdict = quiz.check(SQUARE, typed)
    assert verdict.status == "malformed" and not verdict.correct, typed
    assert "try again" in verdict.message


def test_fractional_size_is_wrong_with_a_hint():
    verdict = quiz.check(SQUARE, "14.5")
    assert verdict.status == "wrong" and "whole numbers" in verdict.message


def test_volume_questions_need_the_channels_last():
    assert quiz.check(VOLUME, "5x5x16").correct
    assert quiz.check(VOLUME, "(16, 5, 5)").status == "wrong"
    assert quiz.check(VOLUME, "5x5").status == "malformed"
    assert quiz.check(VOLUME, "5x5x6").status == "wrong"


@pytest.mark.parametrize("typed", ["62006", "62,006", "62_006", "(62006)", "[62006]", "62006.0", "+62006",
                                   "62006 parameters", "62,006 params"])
def test_count_spellings(typed):
    assert quiz.check(COUNT, typed).correct, typed


@pytest.mark.parametrize("typed, status", [("62005", "wrong"), ("62,06", "malformed"), ("62006 apples", "malformed"),
                                           ("62x62", "malformed"), ("6200.6", "wrong"), ("lots", "malformed")])
def test_count_mistakes(typed, status):
    assert quiz.check(COUNT, typed).status == status, typed


@pytest.mark.parametrize("typed, reason", [
    ("62.006", "thousands point"),       # issue 13: was marked wrong (a European thousands separator)
    ("62 006", "space between thousands"),  # issue 13: was "asks for one number, got 2"
    ("62\u202f006", "space between thousands"),
])
def test_ambiguous_counts_are_asked_again(typed, reason):
    verdict = quiz.check(COUNT, typed)
    assert verdict.status == "malformed" and reason in verdict.message and "try again" in verdict.message


# Memory answers are right only by value: exact bytes, or the rounding the question asks for.
@pytest.mark.parametrize("nbytes, typed, status", [
    (20430400, "20430400", "correct"), (20430400, "20,430,400 bytes", "correct"), (20430400, "20430400 B", "correct"),
    (20430400, "20.4304 MB", "correct"), (20430400, "19.48 MiB", "wrong"), (20430400, "19 MiB", "wrong"),
    (20430400, "20 MB", "wrong"), (20430400, "81721600", "wrong"), (20430400, "20 parsecs", "malformed"),
    # issue 13's quoted cases, each accepted before
    (8388608, "0 GB", "wrong"), (8388608, "0 GiB", "wrong"), (3211264, "0 GB", "wrong"), (36864, "0 MB", "wrong"),
    (8388608, "8 MB", "wrong"), (8388608, "8.4 MB", "wrong"), (8388608, "8 Mb", "wrong"),
    (25000000, "24 MiB", "wrong"), (36864, "37 kB", "wrong"),
    # and the right ones in other units, exactly
    (8388608, "8 MiB", "correct"), (8388608, "8192 KiB", "correct"), (8388608, "8,388,608 bytes", "correct"),
    (25000000, "25 MB", "correct"), (36864, "36 KiB", "correct"), (36864, "36.864 kB", "correct"),
    (1000000, "8 Mb", "correct"), (1000000, "8000000 bits", "correct"),
    # units that mean two things are asked again
    (8388608, "8 mb", "malformed"), (8388608, "8 KB", "malformed"), (8388608, "8 gib", "malformed"),
])
def test_memory_answers_by_value(nbytes, typed, status):
    verdict = quiz.check(_q(Answer("int", nbytes, unit="bytes")), typed)
    assert verdict.status == status, (typed, verdict.message)


def test_memory_feedback_explains_prefixes_and_bits():
    eight_mib = _q(Answer("int", 8388608, unit="bytes"))
    mb = quiz.check(eight_mib, "8 MB").message
    assert "8,000,000 bytes" in mb and "decimal" in mb and "10⁶" in mb
    mbit = quiz.check(eight_mib, "8 Mb").message
    assert "1,000,000 bytes" in mbit and "bits" in mbit and "8 bits to a byte" in mbit
    assert "binary" in quiz.check(_q(Answer("int", 25000000, unit="bytes")), "24 MiB").message
    assert "exactly 8,388,608 bytes" in quiz.check(eight_mib, "8 MiB").message


ROUNDED = _q(Answer("int", 20430400, unit="bytes", rounding=("MiB", 1)))  # "in MiB, to one decimal"


@pytest.mark.parametrize("typed, status", [("19.5 MiB", "correct"), ("19.48 MiB", "correct"), ("19.5", "correct"),
                                           ("20430400 B", "correct"), ("20,430,400 bytes", "correct"),
                                           ("19.4 MiB", "wrong"), ("19 MiB", "wrong"), ("20.4 MB", "wrong"),
                                           ("19.5 MB", "wrong"), ("20430400", "wrong"), ("19.5 Mb", "wrong")])
def test_memory_rounded_to_the_asked_unit(typed, status):
    verdict = quiz.check(ROUNDED, typed)
    assert verdict.status == status, (typed, verdict.message)
    assert ROUNDED.answer.display() == "19.5 MiB (20,430,400 bytes)"


def test_rounding_goes_half_up_as_taught():
    quarter = _q(Answer("int", 2**18, unit="bytes", rounding=("MiB", 1)))        # 0.25 MiB
    assert quarter.answer.rounded() == "0.3 MiB"                                 # round() would say 0.2
    assert quiz.check(quarter, "0.3 MiB").correct and quiz.check(quarter, "0.2 MiB").status == "wrong"


def test_wrong_unit_for_a_rounded_answer_says_which_unit():
    message = quiz.check(ROUNDED, "20.4 MB").message
    assert "asks for MiB" in message and "2²⁰" in message


@pytest.mark.parametrize("typed", ["c", "C", "c)", "(c)", "c.", " c ", "n − k + 1", "N − K + 1",
                                   "n - k + 1", "n-k+1", "c) n − k + 1", "c) n - k + 1"])
def test_choice_spellings(typed):
    assert quiz.check(CHOICE, typed).correct, typed


@pytest.mark.parametrize("typed, status", [("a", "wrong"), ("d", "wrong"), ("e", "malformed"), ("3", "malformed"),
                                           ("", "malformed"), ("n-k+1 maybe", "malformed"),
                                           ("a) n − k + 1", "malformed"), ("n – k – 1", "wrong")])
def test_choice_mistakes(typed, status):
    assert quiz.check(CHOICE, typed).status == status, typed


def test_ascii_hyphen_matches_the_minus_sign_in_an_option():
    q = quiz.question("concept-same-padding:0")          # option "(k − 1)/2" with U+2212
    assert "(k − 1)/2" in q.choices and quiz.check(q, "(k - 1)/2").correct   # issue 13: did not match


@pytest.mark.parametrize("name", CONCEPTS + ["stack-not-length"])
def test_the_exports_answer_text_is_accepted(name):
    for seed in (0, 3, 7):
        q = quiz.question(f"{name}:{seed}")
        assert quiz.check(q, q.to_dict()["answer_text"]).correct, q.id
        assert quiz.check(q, q.answer.display(q.choices)).correct, q.id    # "d) (k − 1)/2" (issue 13: malformed)


def test_parse_numbers():
    assert quiz.parse_numbers("(14, 14)") == (14, 14)
    assert quiz.parse_numbers("14 × 14 × 32") == (14, 14, 32)
    assert quiz.parse_numbers("62,006", single=True) == (62006,)
    assert quiz.parse_numbers("62,006") == (62, 6)
    with pytest.raises(quiz.Malformed):
        quiz.parse_numbers("  ")
