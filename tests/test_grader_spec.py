"""Assignment specs and calling-convention adapters (no sandbox: a fake in-process runner)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from convcheck.assignments.grader import conventions
from convcheck.assignments.grader.spec import SpecError, available_specs, load_spec, parse_spec, unknown_checks

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name, points, seed", [("layers", 195, 231), ("layers-cs231n", 195, 231),
                                                ("arithmetic", 100, 231), ("conv-step-by-step", 88, 2017)])
def test_bundled_specs_load_and_name_only_known_checks(name, points, seed):
    spec = load_spec(name)
    assert spec.name == name
    assert spec.max_score == points   # layers: the first 8 functions' 100 points, then 95 for the other 13
    assert unknown_checks(spec) == []
    assert spec.seed == seed and spec.max_examples > 0


def test_layers_specs_differ_only_in_the_division_contract():
    torch_rules, cs231n_rules = load_spec("layers"), load_spec("layers-cs231n")
    assert not torch_rules.capabilities.exact_division and cs231n_rules.capabilities.exact_division
    assert torch_rules.functions == cs231n_rules.functions
    assert torch_rules.forbidden_imports == ("torch", "tensorflow", "jax", "scipy.signal", "convcheck")
    assert {f.name for f in torch_rules.functions} == {
        "affine_forward", "affine_backward", "relu_forward", "relu_backward", "conv_forward_naive",
        "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive",
        "svm_loss", "softmax_loss", "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
        "dropout_forward", "dropout_backward", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
        "layernorm_forward", "layernorm_backward", "spatial_groupnorm_forward", "spatial_groupnorm_backward"}


@pytest.mark.parametrize("data, words", [
    ({"assignment": {"name": "x", "convention": "cs231n"}}, "declared in the spec"),
    ({"assignment": {"name": "x", "convention": "declared"}, "convention": {"returns": ["out"]}},
     "[convention] 'returns' is not a field"),
    ({"assignment": {"name": "x", "convention": "declared"},
      "functions": [{"name": "f", "op": "conv_forward", "args": ["x", "w", "bias"],
                     "checks": [{"check": "conv_forward.matches_torch", "points": 1}]}]},
     "args entry 'bias' is not an input of conv_forward"),
    ({"assignment": {"name": "x", "convention": "declared"},
      "functions": [{"name": "f", "op": "conv_forward", "layouts": {"x": "CHWN"},
                     "checks": [{"check": "conv_forward.matches_torch", "points": 1}]}]},
     "layouts.x='CHWN'"),
    ({"assignment": {"name": "x", "convention": "declared"},
      "functions": [{"name": "f", "op": "conv_forward",
                     "checks": [{"check": "conv_forward.matches_torch", "points": 1, "edge": "pad0"}]}]},
     "edge='pad0' is not one of [[edges]]"),
    ({"assignment": {"name": "x", "convention": "declared"},
      "functions": [{"name": "f", "op": "relu_forward"},
                    {"name": "g", "op": "relu_backward", "forward": "f", "args": ["dout"],
                     "checks": [{"check": "relu_backward.matches_torch", "points": 1}]}]},
     "must take 'cache'"),
])
def test_declared_conventions_are_validated_with_the_field_named(data, words):
    for f in data.get("functions", []):
        f.setdefault("checks", [{"check": "relu_forward.matches_torch", "points": 1}])
    with pytest.raises(SpecError) as info:
        parse_spec(data, source="t.toml")
    assert words in str(info.value)


def test_available_specs_lists_the_bundled_ones():
    assert {"layers", "layers-cs231n", "arithmetic"} <= set(available_specs())


def test_a_spec_path_loads_like_a_name(tmp_path):
    text = (ROOT / "assignments/specs/arithmetic.toml").read_text().replace('name = "arithmetic"', 'name = "mine"')
    path = tmp_path / "mine.toml"
    path.write_text(text)
    assert load_spec(str(path)).name == "mine"


@pytest.mark.parametrize("data, words", [
    ({"assignment": {"name": "x"}}, "needs 'convention'"),
    ({"assignment": {"name": "x", "convention": "keras"}}, "convention='keras'"),
    ({"assignment": {"name": "x", "convention": "reference"}}, "no [[functions]]"),
    ({"assignment": {"name": "x", "convention": "reference"},
      "functions": [{"name": "f", "op": "conv_params", "checks": [{"check": "grader.nope", "points": 1}]}]},
     "unknown grader check"),
    ({"assignment": {"name": "x", "convention": "declared"},
      "functions": [{"name": "b", "op": "relu_backward", "forward": "a",
                     "checks": [{"check": "relu_backward.matches_torch", "points": 1}]}]},
     "forward='a' is not one of the spec's functions"),
    ({"assignment": {"name": "x", "convention": "reference"}, "contract": {"preset": "NOPE"},
      "functions": [{"name": "f", "op": "conv_params", "checks": [{"check": "conv_params.matches_torch", "points": 1}]}]},
     "preset='NOPE'"),
])
def test_bad_specs_are_refused_with_the_field_named(data, words):
    with pytest.raises(SpecError, match=None) as info:
        parse_spec(data, source="t.toml")
    assert words in str(info.value)


def test_unknown_spec_name_lists_the_bundled_ones():
    with pytest.raises(SpecError, match="bundled: .*layers"):
        load_spec("no-such-assignment")


# --- param expressions --------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, options, value", [
    ("stride", {"stride": 2}, 2),
    ("stride", {"stride": (2, 2)}, 2),
    ("kernel.1", {"kernel": (2, 3)}, 3),
    ("kernel.1", {"kernel": 4}, 4),
    ("stride|kernel", {"stride": None, "kernel": (3, 3)}, 3),
    ("stride|kernel", {"stride": 1, "kernel": (3, 2)}, 1),
])
def test_param_values(expr, options, value):
    assert conventions.param_value(expr, options) == value


@pytest.mark.parametrize("expr, options", [
    ("stride", {"stride": (1, 2)}),               # cs231n has one stride for both dims
    ("stride|kernel", {"stride": None, "kernel": (3, 2)}),  # torch's default stride would be (3, 2)
    ("pad", {"padding": 1}),                      # names an option the op lacks
])
def test_inexpressible_params_raise(expr, options):
    with pytest.raises(conventions.OptionNotExpressible):
        conventions.param_value(expr, options)


def test_unmapped_option_away_from_its_default_is_refused():
    spec = load_spec("layers")
    conv = spec.function("conv_forward_naive")
    assert conventions.param_dict(conv, {"stride": 2, "padding": 1, "dilation": 1, "groups": 1}, "conv_forward") \
        == {"stride": 2, "pad": 1}
    with pytest.raises(conventions.OptionNotExpressible, match="dilation"):
        conventions.param_dict(conv, {"stride": 1, "padding": 0, "dilation": 2, "groups": 1}, "conv_forward")


# --- adapters over an in-process fake runner ------------------------------------------------------------

class FakeRunner:
    """Runs a module's functions in-process and keeps returned values as handles (a test double only)."""

    def __init__(self, module):
        self.module, self.store, self.calls = module, {}, []

    def call(self, name, *args, keep=None):
        self.calls.append(name)
        args = [self.store[a] if isinstance(a, str) and a in self.store else a for a in args]
        value = getattr(self.module, name)(*args)
        if keep:
            value = list(value)
            for i in keep:
                key = f"handle{len(self.store)}"
                self.store[key] = value[i]
                value[i] = key
            value = tuple(value)
        return value


def _solution():
    spec = importlib.util.spec_from_file_location("layers_solution", ROOT / "solutions/layers_solution.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cs231n_adapter_matches_the_reference_signatures():
    from convcheck.checks.adapters import reference as ref

    runner = FakeRunner(_solution())
    impl = conventions.adapt(load_spec("layers"), runner)
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 5, 7)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
    out = impl["conv_forward"](x, w, b, stride=2, padding=1)
    np.testing.assert_allclose(out, ref.OPS["conv_forward"](x, w, b, stride=2, padding=1))
    dout = rng.normal(size=out.shape)
    for got, want in zip(impl["conv_backward"](dout, x, w, b, stride=2, padding=1),
                         ref.OPS["conv_backward"](dout, x, w, b, stride=2, padding=1)):
        np.testing.assert_allclose(got, want)
    assert runner.calls[-2:] == ["conv_forward_naive", "conv_backward_naive"]  # backward takes its forward's cache
    pooled = impl["max_pool_forward"](x, (2, 3), 2)
    np.testing.assert_allclose(pooled, ref.OPS["max_pool_forward"](x, (2, 3), 2))
    xa = rng.normal(size=(2, 3, 4))
    wa = rng.normal(size=(12, 5))
    np.testing.assert_allclose(impl["dense_forward"](xa, wa, b[:1].repeat(5)),
                               ref.OPS["dense_forward"](xa, wa, b[:1].repeat(5)))


def test_breaker_stops_calling_a_function_that_hung():
    class CallTimeout(Exception):
        pass

    class Hangs:
        calls = 0

        def call(self, name, *args, keep=None):
            Hangs.calls += 1
            raise CallTimeout(f"{name} timed out")

    breaker = conventions.Breaker()
    for _ in range(3):
        with pytest.raises(CallTimeout):
            breaker.call(Hangs(), "relu_forward", np.ones(2))
    assert Hangs.calls == 1 and "relu_forward" in breaker.tripped


# --- a function's own contract ----------------------------------------------------------------------------

def _layers_with(tmp_path, function: str, contract_line: str):
    text = (Path(__file__).resolve().parents[1] / "assignments" / "specs" / "layers.toml").read_text(encoding="utf-8")
    anchor = f'[[functions]]\nname = "{function}"\n'
    assert text.count(anchor) == 1
    path = tmp_path / "layers.toml"
    path.write_text(text.replace(anchor, anchor + contract_line + "\n"), encoding="utf-8")
    return load_spec(path)


def test_a_functions_contract_narrows_its_own_checks_only(tmp_path):
    """``contract = { exact_division = true }`` on the conv functions of the floor-rule spec: a forward that
    asserts cs231n's exact division passes there, and the pool functions still draw strides that do not
    divide."""
    from convcheck.assignments import grade

    spec = _layers_with(tmp_path, "conv_forward_naive", "contract = { exact_division = true }")
    caps = spec.capabilities
    assert caps.for_op("conv_forward").exact_division and not caps.for_op("max_pool_forward").exact_division
    mutant = Path(__file__).parent / "submissions" / "layers" / "mutants" / "conv_forward_assumes_exact_division.py"
    narrowed = grade(mutant, spec, seed="practice", max_examples=8)
    plain = grade(mutant, "layers", seed="practice", max_examples=8)
    lost = lambda report: {t.function for t in report.tests if t.status != "passed" and "not defined" not in t.output}
    assert "conv_forward_naive" in lost(plain)
    assert "conv_forward_naive" not in lost(narrowed), [t.output for t in narrowed.tests if t.status != "passed"]


@pytest.mark.parametrize("function, line, words", [
    ("softmax_loss", "contract = { dilation = false }", "graded by the grader's own checks"),
    ("conv_forward_naive", "contract = { dilatoin = false }", "dilatoin"),
    ("conv_forward_naive", 'contract = { layout = "NHWC" }', "belong to [contract]"),
])
def test_a_functions_contract_that_cannot_apply_is_refused(tmp_path, function, line, words):
    with pytest.raises(SpecError) as info:
        _layers_with(tmp_path, function, line)
    assert words in str(info.value), str(info.value)
