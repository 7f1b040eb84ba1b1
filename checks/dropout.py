"""Properties of inverted dropout, the one random op: an implementation is graded by what any correct
mask satisfies, not by its values (its random stream need not be ours).

Each check calls the implementation in the reference's signature — ``forward(x, p=, seed=, mode=)
-> out`` and ``backward(dout, x, p=, seed=, mode=) -> dx`` (``convcheck.reference.dropout``) — and
raises :class:`~convcheck.checks.harness.CheckFailure` with a message saying what was seen, what was
expected and the call. ``p`` is the probability of *keeping* a unit (cs231n since 2017); a submission
that treats it as the probability of dropping one (earlier course years, torch's ``F.dropout``) is
recognised and told so (:data:`DROP_MEANING`).

The kept-fraction check is statistical: with K kept of n units, it fails when
``|K/n − p| > Z·√(p(1 − p)/n)`` with Z = 6 — a correct implementation fails it with probability
below 2·10⁻⁹ (normal tail of the binomial), while p read as the drop probability (K/n ≈ 1 − p)
fails it whenever |1 − 2p| > 12·√(p(1 − p)/n): for n = 10 000 any p outside (0.47, 0.53).
At p = 0.5 the two meanings of p give the same distribution and the same scale 1/p = 1/(1 − p):
a grader that wants to tell them apart must use some p ≠ 0.5 (0.25, 0.75, 0.9).
"""

from __future__ import annotations

import math

import numpy as np

from .harness import CheckFailure

Z = 6.0
DROP_MEANING = ("this submission treats p as the probability of DROPPING a unit (cs231n before 2017, torch's "
                "F.dropout); in this assignment p is the probability of KEEPING one: mask = (rand < p), out = x·mask/p")
#: the same hint for an assignment that declares p the probability of dropping (a spec's ``p = "1-p"``)
KEEP_MEANING = ("this submission treats p as the probability of KEEPING a unit (cs231n since 2017); in this "
                "assignment p is the probability of DROPPING one: mask = (rand >= p), out = x·mask/(1 − p)")


def _call(op, p, seed, mode):
    return f"{op}(p={p!r}, seed={seed!r}, mode={mode!r})"


def _train(forward, x, p, seed):
    out = np.asarray(forward(x.copy(), p=p, seed=seed, mode="train"), dtype=np.float64)
    if out.shape != x.shape:
        raise CheckFailure(f"out.shape={out.shape}, but should be x.shape={x.shape} "
                           f"[{_call('dropout_forward', p, seed, 'train')}]")
    return out


def large_input(n: int = 10_000, dtype="float64") -> np.ndarray:
    """A ``(100, n/100)`` input with no zeros and distinct values (kept units are recognisable)."""
    return (np.arange(n, dtype=np.float64) + 1).reshape(100, -1).astype(dtype)


def identity_in_test_mode(forward, x, p, seed=0):
    """``forward(x, mode='test') == x`` exactly: inverted dropout scales at train time only."""
    call = _call("dropout_forward", p, seed, "test")
    out = np.asarray(forward(x.copy(), p=p, seed=seed, mode="test"), dtype=np.float64)
    if out.shape != x.shape:
        raise CheckFailure(f"out.shape={out.shape}, but should be x.shape={x.shape} [{call}]")
    if not np.array_equal(out, x):
        idx = tuple(int(i) for i in np.argwhere(out != x)[0])
        hint = None
        if np.allclose(out, x * p) or np.allclose(out, x / p):
            hint = "test mode scales x: with inverted dropout the 1/p scaling happens at train time only"
        elif np.allclose(out, x * (1 - p)) or np.allclose(out, x / (1 - p)):
            hint = "test mode scales x (by 1 − p): inverted dropout is the identity at test time"
        elif (out == 0).any():
            hint = "test mode drops units: no mask is applied at test time"
        raise CheckFailure(f"out differs at {list(idx)}: got {out[idx]!r}, but test mode should return x "
                           f"({x[idx]!r}) [{call}]", hint=hint)


def train_values_are_zero_or_scaled(forward, x, p, seed):
    """In train mode every element of out is 0 or ``x/p`` (x has no zeros)."""
    call = _call("dropout_forward", p, seed, "train")
    out = _train(forward, x, p, seed)
    kept = out != 0
    bad = kept & ~np.isclose(out, x / p, rtol=1e-12, atol=0)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        hint = None
        if p < 1 and np.allclose(out[kept], x[kept] / (1 - p)):
            hint = DROP_MEANING
        elif np.allclose(out[kept], x[kept]):
            hint = "kept units are not scaled: inverted dropout divides them by p at train time"
        elif np.allclose(out[kept], x[kept] * p):
            hint = "kept units are multiplied by p; inverted dropout divides them by p"
        raise CheckFailure(f"out[{', '.join(map(str, idx))}] = {out[idx]!r}, but each element should be 0 or "
                           f"x/p = {x[idx] / p!r} [{call}]", hint=hint)


def kept_fraction_near_p(forward, p, seed, n: int = 10_000, z: float = Z):
    """On a large input, the fraction of kept units is within ``z`` binomial standard deviations of p."""
    x = large_input(n)
    call = _call("dropout_forward", p, seed, "train") + f" on x of shape {x.shape}"
    kept = float((_train(forward, x, p, seed) != 0).mean())
    bound = z * math.sqrt(p * (1 - p) / x.size)
    if abs(kept - p) > bound:
        near_drop = abs(kept - (1 - p)) <= z * math.sqrt(p * (1 - p) / x.size)
        raise CheckFailure(f"kept fraction {kept:.4f}, but should be p = {p} (± {bound:.4f}) [{call}]",
                           hint=DROP_MEANING if near_drop else None)


def same_seed_same_mask(forward, x, p, seed):
    """Two train-mode calls with the same seed give the same out (the seed fixes the mask)."""
    first, second = _train(forward, x, p, seed), _train(forward, x, p, seed)
    if not np.array_equal(first != 0, second != 0):
        idx = tuple(int(i) for i in np.argwhere((first != 0) != (second != 0))[0])
        raise CheckFailure(f"two calls with seed={seed} keep different units (first at {list(idx)}) "
                           f"[{_call('dropout_forward', p, seed, 'train')}]",
                           hint="seed the generator with dropout_param['seed'] before drawing the mask "
                                "(np.random.seed(seed))")


def backward_reuses_mask(forward, backward, x, dout, p, seed, mode="train"):
    """At train time ``dx = dout · (out / x)``: the forward's own mask *and scale*, whatever they are
    (a forward that is wrong is graded on the forward, not again here; x has no zeros); at test
    time ``dx = dout``."""
    call = _call("dropout_backward", p, seed, mode)
    if mode == "test":
        expected = dout
    else:
        expected = dout * (_train(forward, x, p, seed) / x)
    dx = np.asarray(backward(dout.copy(), x.copy(), p=p, seed=seed, mode=mode), dtype=np.float64)
    if dx.shape != x.shape:
        raise CheckFailure(f"dx.shape={dx.shape}, but should be x.shape={x.shape} [{call}]")
    bad = ~np.isclose(dx, expected, rtol=1e-12, atol=0)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        hint = None
        if mode == "train" and not np.array_equal(dx != 0, expected != 0):
            hint = "dx uses another mask than the forward's: reuse the mask stored in the cache"
        elif mode == "test":
            hint = "at test time dropout is the identity: dx = dout"
        rule = "dout·out/x: the forward's mask and scale" if mode == "train" else "dout"
        raise CheckFailure(f"dx differs at {list(idx)}: got {dx[idx]!r}, expected {expected[idx]!r} ({rule}) "
                           f"[{call}]", hint=hint)


#: every property by name, for a grader's spec (backward_reuses_mask also takes the backward)
PROPERTIES = {
    "identity_in_test_mode": identity_in_test_mode,
    "train_values_are_zero_or_scaled": train_values_are_zero_or_scaled,
    "kept_fraction_near_p": kept_fraction_near_p,
    "same_seed_same_mask": same_seed_same_mask,
    "backward_reuses_mask": backward_reuses_mask,
}
