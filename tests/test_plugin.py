"""The pytest plugin, run through pytester: items per (op, property), passing on the reference and
torch adapters, failing exactly the right items on broken adapters with the shrunk counterexample,
skipping what a partial adapter lacks; inert and cheap without an implementation."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from convcheck.checks import list_checks
# pytester's in-process runs drop the modules imported during a run afterwards; torch cannot be
# imported twice in one process, so everything the inner runs need is imported here, once
from convcheck.checks import runner  # noqa: F401
from convcheck.checks.adapters import broken, example_nhwc, reference, torch as torch_adapter  # noqa: F401

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True, scope="module")
def _torch_lazy_imports_happen_outside_pytester():
    """torch imports some modules on first use (flop counting registers operator libraries); done
    inside an in-process run they would be dropped and re-registered later, which torch refuses."""
    from convcheck.checks import verify

    verify(reference, checks=[s.name for s in list_checks() if s.property == "matches_torch"], max_examples=1)

ADAPTERS = "convcheck.checks.adapters"
N_CHECKS = len(list_checks())


def _run(pytester, *args):
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist", "-W", "ignore::UserWarning", *args)


def _failed_ids(result):
    return {line.split(" ")[1] for line in result.outlines if line.startswith("FAILED convcheck[")}


def test_inert_without_an_implementation(pytester, monkeypatch):
    monkeypatch.delenv("CONVCHECK_IMPL", raising=False)
    pytester.makepyfile("def test_one():\n    assert True\n")
    result = _run(pytester)
    result.assert_outcomes(passed=1)
    assert "convcheck[" not in result.stdout.str()


def test_importing_the_plugin_imports_neither_torch_nor_the_checks():
    code = ("import sys, convcheck.checks.plugin; "
            "print(sorted(m for m in ('torch', 'numpy', 'hypothesis', 'convcheck.checks.runner') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_items_have_readable_ids(pytester):
    result = _run(pytester, f"--convcheck-impl={ADAPTERS}.reference", "--collect-only", "-q")
    ids = [line for line in result.outlines if line.startswith("convcheck[")]
    assert len(ids) == N_CHECKS
    assert "convcheck[conv_backward.dx_matches_torch]" in ids
    assert "convcheck[max_pool_backward.ties_match_torch]" in ids


@pytest.mark.parametrize("adapter", ["reference", "torch"])
def test_the_suite_passes_on_the_shipped_adapters(pytester, adapter):
    result = _run(pytester, f"--convcheck-impl={ADAPTERS}.{adapter}", "--convcheck-examples=3", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0, result.stdout.str()
    if adapter == "reference":
        assert outcomes["passed"] == N_CHECKS
    else:  # torch has no arithmetic functions: those checks are skipped as not provided
        assert outcomes["passed"] + outcomes["skipped"] == N_CHECKS and outcomes["passed"] > 100
        assert "not provided: conv_output_size" in result.stdout.str()


def test_ignored_dilation_fails_exactly_the_right_items(pytester):
    result = _run(pytester, f"--convcheck-impl={ADAPTERS}.broken:ignores_dilation", "--convcheck-examples=10",
                  "-k", "conv_forward or conv_backward or conv_transpose_forward")
    assert _failed_ids(result) == {
        "convcheck[conv_forward.matches_reference]", "convcheck[conv_forward.matches_torch]",
        "convcheck[conv_forward.delta_kernel_is_identity]", "convcheck[conv_backward.matches_central_differences]",
        "convcheck[conv_transpose_forward.adjoint_of_conv]",
    }
    out = result.stdout.str()
    assert "out.shape=(1, 1, 2), but should be (1, 1, 1) [conv_forward(stride=1, padding=1, dilation=2)]" in out
    assert "hint: looks like dilation is ignored" in out
    assert "shrunk counterexample" in out and "x = np.array([[[0.]]], dtype='float64')" in out
    assert "Falsifying example" not in out and "Traceback" not in out and "hypothesis/core.py" not in out


def test_spread_max_pool_gradient_fails_exactly_the_max_pool_backward_items(pytester):
    result = _run(pytester, f"--convcheck-impl={ADAPTERS}.broken:max_pool_spreads_gradient",
                  "--convcheck-examples=10", "-k", "max_pool and not global")
    assert _failed_ids(result) == {f"convcheck[max_pool_backward.{p}]" for p in (
        "matches_reference", "matches_torch", "matches_central_differences", "ties_match_torch")}
    assert "spread evenly over the window" in result.stdout.str()
    assert result.parseoutcomes()["passed"] == 3  # max_pool_forward.matches_reference / matches_torch / shift_commutes


def test_transposed_kernel_fails_conv_forward_differentials(pytester):
    result = _run(pytester, f"--convcheck-impl={ADAPTERS}.broken:transposed_kernel", "--convcheck-examples=50",
                  "-k", "conv_forward and matches")
    assert _failed_ids(result) == {"convcheck[conv_forward.matches_reference]", "convcheck[conv_forward.matches_torch]"}
    assert "kernel's spatial axes are swapped" in result.stdout.str()


def test_a_partial_adapter_skips_what_it_lacks(pytester):
    result = _run(pytester, f"--convcheck-impl={ADAPTERS}.broken:partial", "--convcheck-examples=3", "-rs")
    outcomes = result.parseoutcomes()
    provided = [s for s in list_checks() if set(s.requires) <= {"conv_forward", "conv_backward"}]
    assert outcomes["passed"] == len(provided)
    assert outcomes["skipped"] == N_CHECKS - len(provided)
    assert "failed" not in outcomes
    assert "not provided: max_pool_forward" in result.stdout.str()


def test_keyword_selection_junitxml_and_env_variable(pytester, monkeypatch):
    monkeypatch.setenv("CONVCHECK_IMPL", f"{ADAPTERS}.broken:flipped_kernel")
    xml = pytester.path / "out.xml"
    result = _run(pytester, "--convcheck-examples=20", "-k", "conv_forward and matches", f"--junitxml={xml}")
    assert _failed_ids(result) == {"convcheck[conv_forward.matches_reference]", "convcheck[conv_forward.matches_torch]"}
    cases = ET.parse(xml).getroot().iter("testcase")
    by_name = {c.get("name"): c for c in cases}
    assert set(by_name) == {"convcheck[conv_forward.matches_reference]", "convcheck[conv_forward.matches_torch]"}
    failure = by_name["convcheck[conv_forward.matches_torch]"].find("failure")
    assert failure is not None and "flipped" in (failure.get("message", "") + (failure.text or ""))


def test_the_fixture_verifies_inside_a_project_test(pytester):
    pytester.makepyfile("""
        from convcheck.checks.adapters import broken, reference

        def test_good(convcheck):
            convcheck.verify({"conv_forward": reference.conv_forward}, max_examples=5).raise_if_failed()

        def test_bad(convcheck):
            convcheck.verify(broken.flipped_kernel, ["conv_forward"], max_examples=20).raise_if_failed()
    """)
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    assert "hint: looks like the kernel is flipped" in result.stdout.str()


def test_xdist_runs_the_items_on_two_workers(pytester):
    pytest.importorskip("xdist")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-W", "ignore::UserWarning",
                                           f"--convcheck-impl={ADAPTERS}.reference", "--convcheck-examples=3",
                                           "-k", "conv_forward")
    result.assert_outcomes(passed=len(list_checks("conv_forward")))


# --- issue 11: known differences, exclusions, declined cases, file paths, entry points -----------------------

FAKES = Path(__file__).parent / "fakelibs"


def test_known_differences_are_strict_xfails_with_their_reason(pytester):
    result = _run(pytester, f"--convcheck-impl={FAKES / 'poolkit.py'}:tie_splitting", "--convcheck-examples=20",
                  "-k", "max_pool_backward", "-rxX")
    outcomes = result.parseoutcomes()
    assert outcomes.get("xfailed") == 1 and outcomes.get("passed") == 3 and "failed" not in outcomes
    assert "splits the gradient among tied maxima" in result.stdout.str()


def test_a_known_difference_that_passes_fails_as_a_strict_xpass(pytester):
    result = _run(pytester, f"--convcheck-impl={FAKES / 'poolkit.py'}:stale_difference", "--convcheck-examples=10",
                  "-k", "ties_match_torch", "-rX")
    assert result.parseoutcomes().get("failed") == 1
    assert "XPASS(strict)" in result.stdout.str() and "it is gone" in result.stdout.str()


def test_exclude_deselects_items(pytester):
    result = _run(pytester, f"--convcheck-impl={FAKES / 'poolkit.py'}:tie_splitting_undeclared",
                  "--convcheck-examples=5", "-k", "max_pool and not global",
                  "--convcheck-exclude=max_pool_backward.ties_*",
                  "--convcheck-exclude=max_pool_forward.shift*,*central*")
    outcomes = result.parseoutcomes()
    assert "failed" not in outcomes and outcomes["passed"] == 4
    assert outcomes["deselected"] == N_CHECKS - 4


def test_an_all_declined_check_is_skipped_with_the_reason(pytester):
    result = _run(pytester, f"--convcheck-impl={FAKES / 'poolkit.py'}:declining_all", "--convcheck-examples=5",
                  "-k", "max_pool_forward and not global", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes["skipped"] == 3 and "passed" not in outcomes
    assert "every case was declined" in result.stdout.str() and "GPU build" in result.stdout.str()


def _declined_section(out: str) -> str:
    assert "convcheck: declined cases" in out, out[-3000:]
    return out.split("convcheck: declined cases", 1)[1].split("\n=", 1)[0]


def test_declined_cases_are_summed_up_at_the_end_of_the_run(pytester):
    """The dots of passed items hide the cases the adapter declined: the summary names them, per reason."""
    result = _run(pytester, f"--convcheck-impl={FAKES / 'poolkit.py'}:declining", "--convcheck-examples=10",
                  "-k", "max_pool_forward and not global")
    assert result.parseoutcomes() == {"passed": 3, "deselected": N_CHECKS - 3}
    section = _declined_section(result.stdout.str())
    assert "cases declined: ceil_mode — max_pool_forward (3 checks)" in section, section
    assert "every case declined" not in section
    clean = _run(pytester, f"--convcheck-impl={ADAPTERS}.reference", "--convcheck-examples=3", "-k", "relu_forward")
    assert "convcheck: declined cases" not in clean.stdout.str()


def test_checks_whose_every_case_was_declined_are_named_in_the_summary(pytester):
    result = _run(pytester, f"--convcheck-impl={FAKES / 'poolkit.py'}:declining_all", "--convcheck-examples=5",
                  "-k", "max_pool_forward.matches")
    section = _declined_section(result.stdout.str())
    assert "cases declined: poolkit runs only on its GPU build — max_pool_forward (2 checks)" in section
    assert ("every case declined (skipped, nothing checked): max_pool_forward.matches_reference, "
            "max_pool_forward.matches_torch") in section


def test_the_declined_summary_counts_the_items_of_xdist_workers(pytester):
    pytest.importorskip("xdist")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-W", "ignore::UserWarning",
                                           f"--convcheck-impl={FAKES / 'poolkit.py'}:declining",
                                           "--convcheck-examples=10", "-k", "max_pool_forward and not global")
    result.assert_outcomes(passed=3)
    section = _declined_section(result.stdout.str())
    assert "cases declined: ceil_mode — max_pool_forward (3 checks)" in section, section


def test_one_shrink_and_one_environment_error_across_items(pytester):
    result = _run(pytester, f"--convcheck-impl={FAKES / 'poolkit.py'}:zero_padded",
                  "-k", "max_pool_forward and not global")
    out = result.stdout.str()
    assert result.parseoutcomes()["failed"] == 3
    assert "replayed max_pool_forward.matches_reference's counterexample (not shrunk again)" in out
    assert "padded with 0 instead of −∞" in out
    env = _run(pytester, f"--convcheck-impl={FAKES / 'poolkit.py'}:missing_backend",
               "-k", "max_pool_forward and not global")
    assert env.stdout.str().count("the same as in convcheck") == 0  # names checks, not node ids
    # counted in the failures' bodies (the short summary repeats messages in full when CI is set)
    bodies = [line for line in env.stdout.lines if not line.startswith("FAILED")]
    assert sum("environment error, the same as in max_pool_forward.matches_reference" in line
               for line in bodies) == 2


ADAPTER_IN_ITS_FOLDER = '''
from convcheck.checks.adapters.reference import relu_forward, relu_backward
'''


@pytest.mark.parametrize("how", ["module", "file"])
def test_the_pytest_entry_point_finds_an_adapter_in_the_current_folder(tmp_path, how):
    """``pytest --convcheck-impl=my_adapter`` from the adapter's folder (the ``pytest`` script, whose
    sys.path does not start with the current folder) used to fail with No module named 'my_adapter'."""
    (tmp_path / "my_adapter.py").write_text(ADAPTER_IN_ITS_FOLDER)
    impl = "my_adapter" if how == "module" else str(tmp_path / "my_adapter.py")
    pytest_script = Path(sys.executable).parent / "pytest"
    proc = subprocess.run([str(pytest_script), "-p", "no:cacheprovider", "-p", "no:randomly", "-q",
                           f"--convcheck-impl={impl}", "--convcheck-only", "--convcheck-examples=3", "-k", "relu"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "5 passed" in proc.stdout
