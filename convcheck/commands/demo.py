"""``convcheck demo``: the course LeNet's summary table, then a small CNN trained in NumPy."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from convcheck.reference import filters
from convcheck.reference.model import load_bundled
from convcheck.reference.train import CLASSES, DEMO_SPEC, demo_model, make_patterns, train

NOISE = 0.8  # enough noise that the loss visibly falls over several epochs instead of in one step


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="show the course LeNet's summary and train a small CNN in NumPy",
                       description="Print the course LeNet's layer table (output sizes and parameter counts), then "
                                   "train a small CNN with the NumPy reference on synthetic edge/spot images and "
                                   "save its first-layer filters next to the Sobel filters.")
    p.add_argument("--epochs", type=int, default=6, help="training epochs (default 6)")
    p.add_argument("--train", type=int, default=1600, help="training images (default 1600)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, weights and batches (default 0)")
    p.add_argument("--png", default="out/demo-filters.png",
                   help="where to save the filter picture (default out/demo-filters.png; folders are created)")
    p.add_argument("--no-png", action="store_true", help="do not write the picture")
    p.set_defaults(func=run)


def _similarity(w: np.ndarray, k: np.ndarray) -> float:
    """|cos| between a learned filter and a reference kernel, both centred (sign is arbitrary)."""
    a, b = w - w.mean(), k - k.mean()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return float(abs((a * b).sum()) / denom) if denom else 0.0


def _save_png(path: Path, learned: np.ndarray) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install 'convcheck[plot]'): no picture saved"
    refs = [("Sobel x", filters.SOBEL_X), ("Sobel y", filters.SOBEL_Y),
            ("vertical edge", filters.VERTICAL_EDGE), ("horizontal edge", filters.HORIZONTAL_EDGE)]
    cols = max(len(learned), len(refs))
    fig, axes = plt.subplots(2, cols, figsize=(1.4 * cols, 3.2))
    for ax in axes.ravel():
        ax.axis("off")
    for i, w in enumerate(learned):
        axes[0, i].imshow(w, cmap="gray")
        axes[0, i].set_title(f"filter {i}", fontsize=8)
    for i, (name, k) in enumerate(refs):
        axes[1, i].imshow(k, cmap="gray")
        axes[1, i].set_title(name, fontsize=8)
    fig.suptitle("learned first-layer filters (top) and the classic edge detectors (bottom)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return f"saved {path}"


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    print("1. The course's LeNet (course notes 001, 'Model Summary'): output sizes and parameter counts\n")
    print(load_bundled("lenet-course").summary())

    print("\n2. Training a small CNN with the NumPy reference (SGD with momentum 0.9, lr 0.01, batch 32)\n")
    print("\n".join("   " + line for line in DEMO_SPEC.strip().splitlines()))
    x, y = make_patterns(args.train, noise=NOISE, seed=args.seed)
    x_test, y_test = make_patterns(400, noise=NOISE, seed=args.seed + 1)
    print(f"\n   data: {len(x)} training and {len(x_test)} test images of 16×16, classes: {', '.join(CLASSES)}"
          f" (synthetic, seeded, noise σ={NOISE})")
    model = demo_model(args.seed)
    print(f"   before training: loss {model.loss(x, y, training=False):.4f} (ln 4 = {np.log(4):.4f})\n")

    def report(log):
        print(f"   epoch {log.epoch}/{args.epochs}  loss {log.loss:.4f}"
              f"  train accuracy {100 * log.train_accuracy:5.1f}%  test accuracy {100 * log.test_accuracy:5.1f}%"
              f"  ({log.seconds:.1f} s)")

    train(model, x, y, x_test, y_test, epochs=args.epochs, lr=0.01, momentum=0.9, seed=args.seed, report=report)

    learned = model.params["conv2d.w"][:, 0]  # (8, 3, 3)
    print("\n3. First-layer filters vs the Sobel filters (|cos| of the centred 3×3 kernels):")
    for i, w in enumerate(learned):
        sx, sy = _similarity(w, filters.SOBEL_X), _similarity(w, filters.SOBEL_Y)
        best = "Sobel x (vertical edges)" if sx >= sy else "Sobel y (horizontal edges)"
        print(f"   filter {i}: Sobel x {sx:.2f}, Sobel y {sy:.2f}  → closest: {best}")
    print("   " + ("picture skipped (--no-png)" if args.no_png else _save_png(Path(args.png), learned)))
    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s")
    return 0
