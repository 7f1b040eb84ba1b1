"""Time the NumPy reference against torch CPU, in the same run: conv and max-pool, forward + backward.

    .venv/bin/python benchmarks/run.py [--repeats 5] [--threads N] [--dtype float32 ...] [--case vgg ...]

Each row times one forward + backward of the reference (``conv_forward`` then ``conv_backward``,
or the max-pool pair) and of ``torch.nn.functional`` with autograd, on the same arrays. The two
are timed alternately, so that both see the same machine load, and the table gives the median of
``--repeats`` runs after one warm-up, and the ratio reference / torch (lower is better), for wall time and for CPU time. Targets
(issue 3): conv within 2× of torch on the VGG-like case in float32, max pooling within 3×.

Both libraries run on one thread by default (``--threads 1``), a per-core comparison. With the
libraries' own thread pools on a small shared machine, OpenBLAS threads that wait on busy cores
made the reference's matrix products several times slower than single-threaded (measured: conv
backward 1.35 s with 2 threads vs 0.14 s with 1), which says nothing about the reference itself;
``--threads 0`` still measures that setting.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="timed runs per row (median reported); default 5")
    p.add_argument("--threads", type=int, default=1,
                   help="threads for both NumPy's BLAS and torch (default 1: one core each, like for like; "
                        "0 leaves each library's own default)")
    p.add_argument("--dtype", action="append", choices=["float32", "float64"],
                   help="dtype(s) to time; default both")
    p.add_argument("--case", action="append", help="case name(s) to time (default all); see --list")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    return p.parse_args(argv)


# name, kind, shapes and options. Conv: x (N, C, H, W), w (F, C/g, kh, kw).
CASES = [
    ("lenet-conv", "conv", dict(x=(64, 3, 32, 32), w=(6, 3, 5, 5))),
    ("vgg-conv", "conv", dict(x=(16, 64, 56, 56), w=(64, 64, 3, 3), padding=1)),
    ("strided-conv", "conv", dict(x=(16, 32, 56, 56), w=(64, 32, 3, 3), stride=2, padding=1)),
    ("dilated-conv", "conv", dict(x=(16, 32, 56, 56), w=(32, 32, 3, 3), padding=2, dilation=2)),
    ("depthwise-conv", "conv", dict(x=(16, 64, 56, 56), w=(64, 1, 3, 3), padding=1, groups=64)),
    ("lenet-maxpool", "pool", dict(x=(64, 6, 28, 28), kernel=2)),
    ("vgg-maxpool", "pool", dict(x=(16, 64, 56, 56), kernel=2)),
    ("overlap-maxpool", "pool", dict(x=(16, 64, 56, 56), kernel=3, stride=2, padding=1)),
]


def _median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _runners(kind, spec, dtype, np, torch, ref):
    """(reference fn, torch fn) each doing one forward + backward on the same data."""
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    x = rng.standard_normal(spec["x"]).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    if kind == "conv":
        opts = {k: spec.get(k, d) for k, d in (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1))}
        w = rng.standard_normal(spec["w"]).astype(dtype)
        b = rng.standard_normal(spec["w"][0]).astype(dtype)
        dout = rng.standard_normal(ref.conv_forward(x, w, b, **opts).shape).astype(dtype)
        tw, tb, tdout = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True), torch.tensor(dout)

        def reference():
            ref.conv_forward(x, w, b, **opts)
            ref.conv_backward(dout, x, w, b, **opts)

        def oracle():
            tx.grad = tw.grad = tb.grad = None
            F.conv2d(tx, tw, tb, **opts).backward(tdout)
    else:
        opts = {k: spec.get(k, d) for k, d in (("stride", None), ("padding", 0))}
        k = spec["kernel"]
        dout = rng.standard_normal(ref.max_pool_forward(x, k, **opts).shape).astype(dtype)
        tdout = torch.tensor(dout)

        def reference():
            ref.max_pool_forward(x, k, **opts)
            ref.max_pool_backward(dout, x, k, **opts)

        def oracle():
            tx.grad = None
            F.max_pool2d(tx, k, **opts).backward(tdout)
    return reference, oracle


def _time(fns, repeats):
    """Median wall and CPU seconds of each fn, run alternately after one warm-up each.

    CPU time (``time.process_time``, all threads of this process) is reported next to wall time:
    on a shared machine it is far less sensitive to other processes than wall time is.
    """
    wall = [[] for _ in fns]
    cpu = [[] for _ in fns]
    for fn in fns:
        fn()
    for _ in range(repeats):
        for fn, w, c in zip(fns, wall, cpu):
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            w.append(time.perf_counter() - w0)
            c.append(time.process_time() - c0)
    return [(_median(w), _median(c)) for w, c in zip(wall, cpu)]


def main(argv=None) -> int:
    args = _parse(argv)
    if args.list:
        for name, kind, spec in CASES:
            print(f"{name:16s} {kind:5s} {spec}")
        return 0
    if args.threads:
        # must happen before NumPy loads its BLAS
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    import numpy as np
    import torch

    import convcheck.reference as ref

    if args.threads:
        torch.set_num_threads(args.threads)
    cases = [c for c in CASES if not args.case or c[0] in args.case]
    if args.case and len(cases) != len(args.case):
        known = ", ".join(c[0] for c in CASES)
        print(f"unknown case in {args.case}; known: {known}", file=sys.stderr)
        return 2
    dtypes = args.dtype or ["float32", "float64"]
    print(f"numpy {np.__version__}, torch {torch.__version__} (threads {torch.get_num_threads()}), "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; median of {args.repeats}")
    header = (f"{'case':16s} {'dtype':8s} {'ref ms':>8s} {'torch ms':>9s} {'ratio':>6s}   "
              f"{'ref cpu':>8s} {'torch cpu':>9s} {'ratio':>6s}  target (wall ratio)")
    print(header)
    print("-" * len(header))
    for name, kind, spec in cases:
        for dtype in dtypes:
            reference, oracle = _runners(kind, spec, dtype, np, torch, ref)
            (w_ref, c_ref), (w_torch, c_torch) = _time([reference, oracle], args.repeats)
            ratio = w_ref / w_torch
            target = ""
            if dtype == "float32" and (name == "vgg-conv" or kind == "pool"):
                limit = 2.0 if kind == "conv" else 3.0
                target = f"≤{limit:.0f}× {'met' if ratio <= limit else 'MISSED'}"
            print(f"{name:16s} {dtype:8s} {w_ref * 1e3:8.1f} {w_torch * 1e3:9.1f} {ratio:6.2f}   "
                  f"{c_ref * 1e3:8.1f} {c_torch * 1e3:9.1f} {c_ref / c_torch:6.2f}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
