"""How often the default budget (50 examples) catches poolkit.zero_padded (max-pool padded with 0 instead
of −∞), over 20 seeds, per check; each check runs alone (no replayed counterexample between them).

    .venv/bin/python tests/fakelibs/detection_rate.py [--2d]

``--2d`` narrows the capabilities to a numpy-ml-like library (2-D, no dilation, ceil mode, groups or
per-dim arguments).
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from convcheck.checks import Capabilities, list_checks, verify  # noqa: E402
from fakelibs import poolkit  # noqa: E402

SEEDS = range(20)


def main(narrow: bool) -> None:
    impl = dict(poolkit.zero_padded)
    if narrow:
        impl["CAPABILITIES"] = Capabilities(ndims=(2,), dilation=False, ceil_mode=False, groups=False,
                                            per_dim_args=False)
    checks = [s.name for s in list_checks(["max_pool_forward", "max_pool_backward"])]
    caught = {c: [] for c in checks}
    start = time.perf_counter()
    for seed in SEEDS:
        for c in checks:
            r = verify(impl, checks=[c], max_examples=50, seed=seed).results[0]
            if r.status == "failed":
                caught[c].append(r.cases)
    for c, cases in caught.items():
        median = sorted(cases)[len(cases) // 2] if cases else "-"
        print(f"{c:<50} caught {len(cases):2d}/{len(SEEDS)}  first failing case (median): {median}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main("--2d" in sys.argv)
