"""The graph quiz templates (assignments/quiz/graph.py): registered in the bank, their seed-0 answers are the papers' examples, and on many seeds each answer
equals what plain torch modules built independently give (``numel``; FLOPs from torch's own
counter, two per multiply-add)."""

import random

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from convcheck.assignments import quiz
from convcheck.assignments.quiz import bank as quiz_bank
from convcheck.assignments.quiz import graph as QG

seeds = st.integers(min_value=0, max_value=9_999)
META = torch.device("meta")


@pytest.fixture
def bank():
    """The graph templates as the bank holds them."""
    return {name: quiz.TEMPLATES[name] for name, *_ in QG.TEMPLATES}


def numel(*modules):
    return sum(p.numel() for m in modules for p in m.parameters())


def test_registration_adds_four_templates_to_the_bank(bank):
    assert sorted(bank) == ["bottleneck-savings", "fire-params", "inception-params", "separable-cost-ratio"]
    assert all(t.topic in quiz_bank.TOPICS for t in bank.values())
    q = bank["fire-params"].make(0)
    assert q.id == "fire-params:0" and q.answer.kind == "int" and "squeeze" in q.explanation


def test_seed_zero_is_the_papers_example(bank):
    assert bank["inception-params"].make(0).answer.value == 163_696      # GoogLeNet inception (3a), with biases
    assert bank["fire-params"].make(0).answer.value == 11_920            # SqueezeNet Table 1, fire2
    assert bank["bottleneck-savings"].make(0).answer.value == 2 * 9 * 256 * 256 - (256 * 64 * 2 + 9 * 64 * 64)
    assert bank["separable-cost-ratio"].make(0).answer.value == 9        # 1 / (1/512 + 1/9) = 8.84


@given(seed=seeds)
def test_inception_params_matches_torch(seed):
    q = QG.inception_params(random.Random(f"inception-params:{seed}"), seed == 0)
    c_in, c1, c3r, c3, c5r, c5, pp = q.data["config"]
    with torch.device(META):
        mods = [nn.Conv2d(c_in, c1, 1), nn.Conv2d(c_in, c3r, 1), nn.Conv2d(c3r, c3, 3, padding=1),
                nn.Conv2d(c_in, c5r, 1), nn.Conv2d(c5r, c5, 5, padding=2), nn.MaxPool2d(3, 1, 1),
                nn.Conv2d(c_in, pp, 1)]
    assert numel(*mods) == q.answer, f"torch {numel(*mods):,}, quiz {q.answer:,} [{q.data}]"


@given(seed=seeds)
def test_fire_params_matches_torch(seed):
    q = QG.fire_params(random.Random(f"fire-params:{seed}"), seed == 0)
    c_in, s, e1, e3 = q.data["config"]
    with torch.device(META):
        total = numel(nn.Conv2d(c_in, s, 1), nn.Conv2d(s, e1, 1), nn.Conv2d(s, e3, 3, padding=1))
    assert total == q.answer, f"torch {total:,}, quiz {q.answer:,} [{q.data}]"


@given(seed=seeds)
def test_bottleneck_savings_matches_torch(seed):
    q = QG.bottleneck_savings(random.Random(f"bottleneck-savings:{seed}"), seed == 0)
    c, w = q.data["channels"], q.data["width"]
    with torch.device(META):
        plain = numel(nn.Conv2d(c, c, 3, bias=False), nn.Conv2d(c, c, 3, bias=False))
        neck = numel(nn.Conv2d(c, w, 1, bias=False), nn.Conv2d(w, w, 3, bias=False), nn.Conv2d(w, c, 1, bias=False))
    assert plain - neck == q.answer, f"torch saves {plain - neck:,}, quiz {q.answer:,} [{q.data}]"


def _flops(module, x):
    with FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops()


@given(seed=seeds)
def test_separable_cost_ratio_matches_torch_flop_counts(seed):
    q = QG.separable_cost_ratio(random.Random(f"separable-cost-ratio:{seed}"), seed == 0)
    d = q.data
    c, f, k, n = d["in_channels"], d["filters"], d["kernel"], d["size"]
    with torch.device(META):
        x = torch.empty(1, c, n, n)
        std = _flops(nn.Conv2d(c, f, k, padding=k // 2, bias=False), x)
        sep = _flops(nn.Sequential(nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False),
                                   nn.Conv2d(c, f, 1, bias=False)), x)
    assert (std // 2, sep // 2) == (d["standard_macs"], d["separable_macs"]), f"torch MACs {std // 2:,}/{sep // 2:,}"
    assert round(std / sep) == q.answer


def test_templates_answers_come_from_the_builder(monkeypatch):
    """The answer is the builder's count: a builder made wrong changes the answer (and the torch
    tests above would catch it)."""
    right = QG.fire_params(random.Random("fire-params:5"), False).answer
    real = QG.fire_module
    monkeypatch.setattr(QG, "fire_module", lambda c, s, e1, e3: real(c, s, e1, e3 + 1))
    assert QG.fire_params(random.Random("fire-params:5"), False).answer != right
