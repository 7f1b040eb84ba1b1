"""verify(): statuses, messages, shrunk counterexamples, hints, layout, and the report's renderings."""

import json

import numpy as np
import pytest

from convcheck.checks import CheckResult, Capabilities, Report, list_checks, verify
from convcheck.checks.adapters import broken, example_nhwc, reference
from convcheck.checks.cases import Case
from convcheck.checks.harness import CheckFailure, compare
from convcheck.checks.report import VerificationError

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")
FEW = 15


def _statuses(report):
    return {r.name: r.status for r in report.results}


def _failed(report):
    return {r.name for r in report.results if r.status == "failed"}


def test_list_checks_names_and_requirements():
    specs = list_checks("conv_backward")
    names = [s.name for s in specs]
    assert "conv_backward.dx_matches_torch" in names and "conv_backward.db_is_sum_of_dout" in names
    numeric = next(s for s in specs if s.property == "matches_central_differences")
    assert numeric.requires == ("conv_backward", "conv_forward")
    assert all(s.name == f"{s.op}.{s.property}" for s in list_checks())
    with pytest.raises(ValueError, match="unknown op"):
        list_checks(["conv_fwd"])


def test_missing_ops_are_not_provided_never_passed_or_failed():
    report = verify({"relu_forward": reference.relu_forward}, max_examples=FEW)
    statuses = _statuses(report)
    assert statuses["relu_forward.matches_reference"] == "passed"
    assert statuses["conv_forward.matches_torch"] == "not provided"
    assert report.ok
    missing = report["relu_backward.matches_central_differences"]
    assert missing.status == "not provided" and "relu_backward" in missing.message


def test_flipped_kernel_fails_with_a_shrunk_counterexample_and_a_diagnosis():
    report = verify(broken.flipped_kernel, ["conv_forward"], max_examples=50)
    assert _failed(report) == {"conv_forward.matches_reference", "conv_forward.matches_torch"}
    r = report["conv_forward.matches_torch"]
    assert r.message.startswith("out differs at [")
    assert "torch gives" in r.message and "[conv_forward(" in r.message
    assert "flipped" in r.hint
    ce = r.counterexample
    assert ce["input_names"] == ["x", "w", "b"]
    x, w = (np.array(a["values"]) for a in ce["inputs"][:2])
    assert x.size <= 4 and w.size <= 4, f"counterexample not shrunk: x{x.shape} w{w.shape}"
    # the counterexample reproduces the failure on its own
    args = [np.array(a["values"], dtype=a["dtype"]) if "values" in a else a["value"] for a in ce["inputs"]]
    assert not np.allclose(broken.flipped_kernel["conv_forward"](*args, **ce["options"]),
                           reference.conv_forward(*args, **ce["options"]))


def test_shape_mismatch_message_has_the_issue_form():
    report = verify(broken.ignores_dilation, checks=["conv_forward.matches_reference"], max_examples=50)
    r = report.results[0]
    assert r.status == "failed"
    assert "out.shape=(" in r.message and "), but should be (" in r.message and "dilation=" in r.message
    assert "dilation is ignored" in r.hint


def test_max_pool_gradient_spread_is_diagnosed():
    report = verify(broken.max_pool_spreads_gradient, ["max_pool_backward"], max_examples=FEW)
    assert "max_pool_backward.matches_torch" in _failed(report)
    assert "spread evenly" in report["max_pool_backward.matches_torch"].hint


def test_overwritten_gradients_fail_the_dx_checks_only():
    checks = ["conv_backward.dx_matches_reference", "conv_backward.dw_matches_reference",
              "conv_backward.db_is_sum_of_dout"]
    report = verify(broken.dx_not_accumulated, checks=checks, max_examples=25)
    assert _failed(report) == {"conv_backward.dx_matches_reference"}
    assert "accumulates" in report["conv_backward.dx_matches_reference"].hint


def test_an_exception_of_the_implementation_is_a_failed_check_not_a_crash():
    report = verify(broken.no_groups, checks=["conv_forward.matches_torch"], max_examples=FEW)
    r = report.results[0]
    assert r.status == "failed"
    assert r.message.startswith("conv_forward raised NotImplementedError: groups > 1")
    assert r.counterexample["options"]["groups"] > 1


def test_input_mutation_is_detected_and_the_counterexample_keeps_the_original_input():
    report = verify(broken.relu_in_place, checks=["relu_forward.matches_reference"], max_examples=FEW)
    r = report.results[0]
    assert r.status == "failed" and "modified its input x in place" in r.message
    assert np.min(r.counterexample["inputs"][0]["values"]) < 0, "the counterexample shows the mutated array"


def test_wrong_arity_is_reported():
    def conv_backward(dout, x, w, b=None, **options):
        return reference.conv_backward(dout, x, w, b, **options)[:2]
    report = verify({"conv_backward": conv_backward}, checks=["conv_backward.dx_matches_reference"],
                    max_examples=FEW)
    assert "should return 3 results (dx, dw, db)" in report.results[0].message


def test_nhwc_layout_is_transposed_for_the_implementation():
    report = verify(example_nhwc, max_examples=FEW)  # declares CAPABILITIES(layout="NHWC", ndims=(2,))
    assert report.layout == "NHWC"
    assert _statuses(report)["conv_forward.matches_torch"] == "passed"
    assert _statuses(report)["max_pool_forward.matches_reference"] == "passed"
    assert report.ok, report.to_text()
    # an NCHW implementation declared NHWC is caught
    nchw_as_nhwc = verify({"conv_forward": reference.conv_forward}, checks=["conv_forward.matches_reference"],
                          capabilities=Capabilities(layout="NHWC", ndims=(2,)), max_examples=FEW)
    assert nchw_as_nhwc.results[0].status == "failed"


def test_fixed_seed_is_reproducible_and_database_none_by_default():
    a = verify(broken.flipped_kernel, checks=["conv_forward.matches_reference"], max_examples=30, seed=3)
    b = verify(broken.flipped_kernel, checks=["conv_forward.matches_reference"], max_examples=30, seed=3)
    assert a.results[0].counterexample == b.results[0].counterexample
    assert a.results[0].message == b.results[0].message


def test_checks_filter_and_unknown_names():
    report = verify(reference, checks=["dense_forward.matches_torch"], max_examples=5)
    assert [r.name for r in report.results] == ["dense_forward.matches_torch"]
    with pytest.raises(ValueError, match="unknown check"):
        verify(reference, checks=["dense_forward.matches_tf"])


def test_arithmetic_checks_catch_a_missing_floor():
    def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
        out = reference.conv_output_size(n, kernel, stride, padding, dilation)
        return out  # correct
    def pool_output_size(n, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
        return reference.pool_output_size(n, kernel, stride, padding, dilation, not ceil_mode)  # mode flipped
    report = verify({"conv_output_size": conv_output_size, "pool_output_size": pool_output_size},
                    max_examples=FEW)
    assert _statuses(report)["conv_output_size.matches_torch"] == "passed"
    assert _statuses(report)["conv_output_size.rejects_invalid"] == "passed"
    assert "pool_output_size.matches_torch" in _failed(report)


def test_report_renders_as_text_and_json():
    report = verify(broken.flipped_kernel, ["conv_forward"], max_examples=FEW)
    text = report.to_text()
    assert "FAIL     conv_forward.matches_torch" in text and "shrunk counterexample" in text
    assert "x = np.array(" in text and "hint: looks like the kernel is flipped" in text
    data = json.loads(report.to_json())
    assert data["ok"] is False and data["counts"]["failed"] == 2
    failed = [r for r in data["results"] if r["status"] == "failed"]
    assert failed[0]["counterexample"]["call"].startswith("conv_forward(x, w, b")
    with pytest.raises(VerificationError, match="conv_forward.matches_torch"):
        report.raise_if_failed()


def test_compare_messages():
    case = Case("conv_backward", (np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3)), None),
                {"stride": 2, "padding": 1})
    with pytest.raises(CheckFailure) as exc:
        compare("dx", np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), case, "float64")
    assert exc.value.message == "dx.shape=(1, 1, 4, 4), but should be (1, 1, 3, 3) [conv_backward(stride=2, padding=1)]"
    got, expected = np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3))
    got[0, 0, 1, 2], expected[0, 0, 1, 2] = 3.0, 4.0
    with pytest.raises(CheckFailure) as exc:
        compare("dw", got, expected, case, "float64")
    assert exc.value.message.startswith("dw differs at [0, 0, 1, 2]: got 3.0, expected 4.0 (|Δ|=1 > atol+rtol·|e|=")
    compare("dw", expected + 1e-13, expected, case, "float64")  # within tolerance


def test_check_result_and_report_types():
    r = CheckResult("a.b", "a", "b", "not provided")
    assert r.ok and Report([r]).ok and Report([r]).summary() == "1 not provided"


def test_every_check_stays_inside_the_declared_capabilities():
    """A cs231n-style implementation that asserts its contract on every call never trips it:
    metamorphic and gradient strategies honour the capabilities as well as the differential ones."""
    from convcheck.checks import CS231N
    from convcheck.reference import shapes

    caps = CS231N.narrowed(exact_division=True)
    seen = []

    def contract(op):
        def fn(*args, **options):
            x = args[1] if op.endswith("backward") else args[0]
            assert x.ndim == 4 and x.dtype == np.float64, f"{op}: x.shape={x.shape}"
            assert all(isinstance(v, int) or (k == "stride" and v is None)
                       for k, v in options.items() if k in ("stride", "padding", "kernel")), options
            assert options.get("dilation", 1) == 1 and options.get("groups", 1) == 1, options
            if op.startswith("conv"):
                w, b = args[-2], args[-1]
                assert b is not None, f"{op} called without a bias"
                exact = shapes.conv_output_is_exact(x.shape[2:], w.shape[2:], options["stride"], options["padding"])
                assert exact == (True, True), f"{op}: stride does not divide: {x.shape} {w.shape} {options}"
            seen.append(op)
            return reference.OPS[op](*args, **options)
        return fn

    ops = ["conv_forward", "conv_backward", "max_pool_forward", "max_pool_backward"]
    report = verify({op: contract(op) for op in ops}, ops, capabilities=caps, max_examples=FEW)
    assert report.ok, report.to_text()
    assert set(seen) == set(ops)


def test_an_example_database_replays_a_failure_per_check():
    from hypothesis.database import InMemoryExampleDatabase

    db = InMemoryExampleDatabase()
    first = verify(broken.flipped_kernel, checks=["conv_forward.matches_torch"], max_examples=50, database=db)
    assert first.results[0].status == "failed" and db.data, "the failing example was not saved"
    again = verify(broken.flipped_kernel, checks=["conv_forward.matches_torch"], max_examples=50, database=db,
                   seed=12345)
    assert again.results[0].status == "failed"
    assert again.results[0].counterexample["inputs"] == first.results[0].counterexample["inputs"]
    assert again.results[0].examples < first.results[0].examples, "the saved example was not replayed first"


def test_a_nondeterministic_implementation_fails_with_a_clear_message():
    calls = []

    def relu_forward(x):
        calls.append(1)
        out = reference.relu_forward(x)
        return out + 1 if len(calls) % 7 == 0 else out  # wrong every 7th call

    report = verify({"relu_forward": relu_forward}, checks=["relu_forward.matches_reference"], max_examples=50)
    r = report.results[0]
    assert r.status == "failed", r.message
    assert "differs" in r.message and "not deterministic" in r.message
