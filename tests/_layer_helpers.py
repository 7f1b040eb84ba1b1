"""Helpers of the reference's own tests: central-difference gradients and messages in the house style."""

from __future__ import annotations

import numpy as np

# Central differences in float64 with step h: truncation error O(h²·f''') and cancellation error
# O(ε·|f|/h). With h = 1e-6 and |f| ≲ 1e3 both stay below 1e-6 relative to the gradient's scale,
# so 1e-5 is a bound that a wrong gradient (off by a term) cannot meet. This is the error of the
# numerical method, not of an implementation's summation order (that is checks/tolerances.py).
FD_STEP = 1e-6
FD_RTOL = 1e-5


def call(op, options) -> str:
    opts = ", ".join(f"{k}={v!r}" for k, v in options.items())
    return f"{op}({opts})"


def assert_close(got, expected, name, where, rtol=FD_RTOL, atol=None):
    """``name`` ≈ ``expected``; on failure a message giving the first bad index and both values."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{name}.shape={got.shape}, but should be {expected.shape} [{where}]"
    if atol is None:
        atol = rtol * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        g, e = float(got[idx]), float(expected[idx])
        raise AssertionError(
            f"{name} differs at {list(idx)}: got {g!r}, expected {e!r} "
            f"(|Δ|={abs(g - e):.3g} > atol+rtol·|e|={atol + rtol * abs(e):.3g}) [{where}]")


def numerical_gradient(f, inputs, i, dout, h=FD_STEP):
    """∂/∂inputs[i] of ``L = Σ f(*inputs) · dout`` by central differences, one element at a time."""
    inputs = [None if a is None else np.array(a, dtype=np.float64) for a in inputs]
    a = inputs[i]
    grad = np.zeros_like(a)

    def loss():
        out = np.asarray(f(*inputs))
        # a max-pool window made only of padding is −∞ whatever the input: it carries no gradient
        return np.sum(np.where(np.isfinite(out), out * dout, 0.0))

    for idx in np.ndindex(*a.shape):
        orig = a[idx]
        a[idx] = orig + h
        plus = loss()
        a[idx] = orig - h
        minus = loss()
        a[idx] = orig
        grad[idx] = (plus - minus) / (2 * h)
    return grad
