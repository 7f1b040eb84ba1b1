"""Running the suite on real-library-like adapters (tests/fakelibs): known differences, tolerance
overrides, exclusions, declined cases, environment errors, one shrink per failure, sharper max-pool
checks and their hints, backward checks that look at the forward's shape first, and float32 dtypes."""

import pytest

from convcheck.checks import Capabilities, Session, Unsupported, list_checks, verify
from convcheck.checks.adapters import reference
from fakelibs import poolkit

MAX_POOL = ["max_pool_forward", "max_pool_backward"]


def _statuses(report):
    return {r.name: r.status for r in report.results if r.status != "not provided"}


# --- known differences, tolerances, exclusions -----------------------------------------------------------

def test_a_known_difference_is_reported_as_such_with_its_reason():
    report = verify(poolkit.tie_splitting, ["max_pool_backward"])
    r = report["max_pool_backward.ties_match_torch"]
    assert r.status == "known difference" and r.ok and report.ok
    assert "splits the gradient among tied maxima" in r.message and r.counterexample is not None
    assert "XFAIL" in report.to_text() and "1 known difference" in report.summary()
    assert report["max_pool_backward.matches_torch"].status == "passed"  # only the named check is excused


def test_a_known_difference_that_is_gone_fails_the_run():
    report = verify(poolkit.stale_difference, checks=["max_pool_backward.ties_match_torch"])
    r = report.results[0]
    assert r.status == "difference gone" and not report.ok
    assert "the difference is gone" in r.message and "remove the entry" in r.message


def test_known_differences_must_name_a_check_op_or_family_and_give_a_reason():
    with pytest.raises(ValueError, match="no such check"):
        verify(poolkit.OPS, known_differences={"max_pool_backward.ties": "x"}, checks=[])
    with pytest.raises(ValueError, match="non-empty string"):
        verify(poolkit.OPS, known_differences={"max_pool": ""}, checks=[])


def test_a_tolerance_override_applies_to_its_op_with_its_reason_shown():
    strict = verify(poolkit.float32_sums_strict, ["avg_pool_forward"])
    assert _statuses(strict)["avg_pool_forward.matches_reference"] == "failed"
    loose = verify(poolkit.float32_sums, ["avg_pool_forward"])
    r = loose["avg_pool_forward.matches_reference"]
    assert r.status == "passed" and "poolkit sums in float32" in r.note and "rtol=1e-06" in r.note
    assert "poolkit sums in float32" in loose.to_text()
    other = verify(poolkit.float32_sums, ["max_pool_forward"], max_examples=5)
    assert all(not r.note for r in other.results)  # only avg_pool's checks are loosened


def test_a_tolerance_override_without_a_reason_is_refused():
    with pytest.raises(ValueError, match="non-empty 'reason'"):
        verify(poolkit.OPS, tolerances={"avg_pool": {"rtol": 1e-3, "atol": 1e-3}}, checks=[])


def test_exclude_by_check_name_or_op_pattern():
    report = verify(poolkit.tie_splitting_undeclared, MAX_POOL, max_examples=5,
                    exclude=["max_pool_backward.ties_*", "max_pool_forward"])
    statuses = _statuses(report)
    assert statuses["max_pool_backward.ties_match_torch"] == "excluded"
    assert statuses["max_pool_forward.matches_torch"] == "excluded"
    assert statuses["max_pool_backward.matches_torch"] == "passed" and report.ok


# --- declining cases ------------------------------------------------------------------------------------------

def test_declined_cases_are_counted_with_their_reason_and_shown():
    report = verify(poolkit.declining, ["max_pool_forward"])
    r = report["max_pool_forward.matches_reference"]
    assert r.status == "passed" and r.cases == 50 and r.declined["ceil_mode"] > 0
    text = report.to_text()
    assert f"{r.declined['ceil_mode']} declined: ceil_mode" in text and "cases declined: ceil_mode" in text


def test_a_check_whose_every_case_was_declined_is_not_passed():
    report = verify(poolkit.declining_all, ["max_pool_forward"])
    assert set(_statuses(report).values()) == {"declined"}
    r = report["max_pool_forward.matches_reference"]
    assert "every case was declined" in r.message and "GPU build" in r.message and r.cases == 0
    assert "passed" not in report.summary()


def _declining_bias(op):
    """The reference's ``op``, declining every case with a bias (a library whose op has none)."""
    fn = getattr(reference, op)
    at = 3 if op.endswith("_backward") else 2  # b follows (dout,) x, w

    def declining(*args, **options):
        if args[at] is not None:
            raise Unsupported("this library's op has no bias")
        return fn(*args, **options)
    return declining


@pytest.mark.parametrize("family", ["dense", "conv", "conv_transpose"])
def test_db_checks_of_an_adapter_declining_every_bias_are_declined_not_passed(family):
    """db is compared only when b is given: a db check drawing b=None compared nothing, and passed."""
    ops = {op: _declining_bias(op) for op in (f"{family}_forward", f"{family}_backward")}
    report = verify(ops, list(ops), max_examples=10)
    statuses = _statuses(report)
    db_checks = {name for name in statuses if ".db_" in name}
    assert db_checks and {statuses[name] for name in db_checks} == {"declined"}, statuses
    for name in db_checks:
        assert "every case was declined" in report[name].message and "has no bias" in report[name].message
        assert report[name].cases == 0
    assert {statuses[name] for name in set(statuses) - db_checks} <= {"passed", "not provided"}, statuses
    assert "passed" in statuses.values()


def test_unsupported_is_public_and_carries_its_reason():
    assert Unsupported("output_padding tuple").reason == "output_padding tuple"


# --- sharper max-pool checks and hints ----------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_a_zero_padded_max_pool_is_caught_at_the_default_budget(seed):
    report = verify(poolkit.zero_padded, ["max_pool_forward"], seed=seed)  # 50 examples: the default
    for name in ("max_pool_forward.matches_reference", "max_pool_forward.shift_commutes"):
        r = report[name]
        assert r.status == "failed", name
        assert "padded with 0 instead of −∞" in r.hint


def test_a_narrow_2d_library_is_caught_too():
    caps = Capabilities(ndims=(2,), dilation=False, ceil_mode=False, groups=False, per_dim_args=False)
    report = verify({**poolkit.zero_padded, "CAPABILITIES": caps}, checks=["max_pool_forward.matches_reference"])
    assert report.results[0].status == "failed" and report.results[0].cases <= 5


def test_max_pool_shift_check_passes_on_the_reference_and_names_the_relation():
    spec = next(s for s in list_checks("max_pool_forward") if s.property == "shift_commutes")
    assert "max_pool(x + c) = max_pool(x) + c" in spec.description
    assert verify(reference, checks=[spec.name], max_examples=30).ok


def test_tie_splitting_gets_its_own_hint_not_avg_pools():
    r = verify(poolkit.tie_splitting_undeclared, checks=["max_pool_backward.ties_match_torch"]).results[0]
    assert r.status == "failed"
    assert "split among tied maxima" in r.hint and "tinygrad" in r.hint and "spread evenly" not in r.hint


def test_a_backward_whose_forward_has_another_shape_says_so_first():
    report = verify(poolkit.floor_only, ["max_pool_backward"])
    r = report["max_pool_backward.matches_torch"]
    assert r.status == "failed"
    assert r.message.startswith("max_pool_forward gives out.shape=") and "but dout has shape" in r.message
    assert "ceil_mode=True" in r.message and "was not called" in r.message
    assert "the configuration is valid for the reference" not in (r.hint or "")


def test_a_float32_run_checks_the_output_dtype():
    r = verify(poolkit.upcasting, checks=["max_pool_forward.matches_torch"], dtype="float32").results[0]
    assert r.status == "failed" and "out has dtype float64, but should be float32" in r.message
    assert verify(poolkit, checks=["max_pool_forward.matches_torch"], dtype="float32", max_examples=10).ok


# --- one failure, one shrink; environment errors; counts ---------------------------------------------------

def test_related_checks_replay_the_shrunk_counterexample_instead_of_shrinking_again():
    report = verify(poolkit.zero_padded, ["max_pool_forward"])
    first, second = report["max_pool_forward.matches_reference"], report["max_pool_forward.matches_torch"]
    assert first.status == second.status == "failed"
    assert second.replayed_from == first.name and second.shrink_steps == 0 and second.cases == 1
    assert second.counterexample["inputs"] == first.counterexample["inputs"]
    assert "replayed max_pool_forward.matches_reference's counterexample (not shrunk again)" in report.to_text()


def test_a_session_carries_the_shrunk_counterexample_across_verify_calls():
    session = Session()
    verify(poolkit.zero_padded, checks=["max_pool_forward.matches_reference"], session=session)
    again = verify(poolkit.zero_padded, checks=["max_pool_forward.matches_torch"], session=session).results[0]
    alone = verify(poolkit.zero_padded, checks=["max_pool_forward.matches_torch"]).results[0]
    assert again.replayed_from and again.examples == 1
    assert alone.replayed_from is None and alone.examples > 1


def test_an_identical_environment_error_is_reported_once():
    report = verify(poolkit.missing_backend)
    ran = [r for r in report.results if r.status != "not provided"]
    assert all(r.status == "error" and r.environment for r in ran)
    assert "libpoolkit.so" in ran[0].environment and "environment error" in ran[0].message
    assert all(f"the same as in {ran[0].name}" in r.message for r in ran[1:])
    text = report.to_text(verbose=False)
    assert text.count("cannot open shared object file") == 2  # the first error in full, then one summary line
    assert f"in {len(ran) - 1} more checks" in text


def test_a_case_independent_value_error_stays_a_failure():
    def always(x, kernel, **kw):
        raise ValueError("bad reshape")
    r = verify({"max_pool_forward": always}, checks=["max_pool_forward.matches_reference"]).results[0]
    assert r.status == "failed" and r.environment is None


def test_the_report_says_what_its_columns_count():
    report = verify(poolkit.zero_padded, ["max_pool_forward"], max_examples=20)
    text = report.to_text()
    assert "up to 20 generated cases per check" in text and "examples per check" not in text
    r = report["max_pool_forward.shift_commutes"]
    assert f"failed at case {r.cases}, {r.shrink_steps} shrink steps" in text
    assert r.examples == r.cases + r.shrink_steps
    ok = verify(poolkit, ["max_pool_forward"], max_examples=20)
    assert "  20 cases" in ok.to_text()
