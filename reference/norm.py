"""Normalisation layers beyond training-mode batch norm: batch norm's running statistics and test
mode, the simplified batch-norm backward, spatial batch norm, layer norm and group norm.

Names: ``x`` the input with the batch first; ``gamma``/``beta`` (γ, β) the learned scale and shift;
``x̂`` the normalised input; ``μ``, ``σ²`` the mean and biased variance of the m values a statistic is
taken over; ``ε`` (``eps``) added to σ² before the square root; ``dout = ∂L/∂out``. Layouts:

* batch norm (``layers.batchnorm_*``, ``batchnorm_test_*``, ``batchnorm_backward_alt``): x
  ``(N, C, *spatial)``, one statistic per channel c over the m = N·∏spatial values of axes
  (N, *spatial); γ, β, running mean and variance ``(C,)``. cs231n's ``(N, D)`` is the case spatial = ().
* spatial batch norm: x ``(N, C, H, W)`` normalised as batch norm of the ``(N·H·W, C)`` matrix of its
  pixels (cs231n assignment 2, "Spatial batch normalization"); γ, β ``(C,)``.
* layer norm: x ``(N, *F)``, one statistic per sample over its m = ∏F features; γ, β of shape F
  (cs231n: x ``(N, D)``, γ ``(D,)``; torch ``F.layer_norm`` with ``normalized_shape = x.shape[1:]``).
* group norm: x ``(N, C, *spatial)``, the C channels split into G = ``groups`` consecutive groups,
  one statistic per (sample, group) over its m = (C/G)·∏spatial values; γ, β ``(C,)``, per channel
  (cs231n's ``spatial_groupnorm_*`` take γ as ``(1, C, 1, 1)``: the same numbers).

Every backward here uses the one identity of a normalisation over m values with x̂ = (x − μ)/√(σ² + ε):

    dx = (1/√(σ² + ε)) · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)),   dx̂ = γ · dout

with the means over the same m values as the statistic ([IS15] §3, rearranged).

Running statistics (batch norm, train mode). Two conventions of the same exponential average:

* cs231n (assignment 2, ``batchnorm_forward``): ``running = momentum · running + (1 − momentum) · batch``
  with momentum 0.9 by default and the *biased* batch variance σ² (the one that normalised x);
* torch (``BatchNorm*d``, ``F.batch_norm``): ``running = (1 − momentum) · running + momentum · batch``
  with momentum 0.1 by default and the *unbiased* variance ``σ² · m/(m − 1)`` for running_var.

So cs231n's momentum m_c is torch's ``1 − m_c``, and the variances differ by the factor m/(m − 1).
:func:`batchnorm_running_update` follows cs231n (biased, cs231n's momentum) and takes
``unbiased=True`` for torch's variance.

Sources: [cs231n] CS231n assignment 2, ``layers.py`` (batchnorm_forward/backward/backward_alt,
spatial_batchnorm_*, layernorm_*, spatial_groupnorm_*); [IS15] Ioffe and Szegedy, "Batch
normalization" (2015), Algorithm 1 (train) and Algorithm 2 (inference, where the variance of the
population is estimated with m/(m − 1)); [BKH16] Ba, Kiros and Hinton, "Layer normalization" (2016),
eq. 4; [WH18] Wu and He, "Group normalization" (2018), eq. 1–3 and Figure 3; [torch] the docs of
``torch.nn.BatchNorm2d`` (momentum, unbiased running_var), ``F.layer_norm``, ``F.group_norm``.
"""

from __future__ import annotations

import numpy as np

from .conv import as_float_array
from .layers import _batch, _bn_args, _check_dout, batchnorm_backward, batchnorm_forward

__all__ = [
    "batchnorm_running_update", "batchnorm_test_forward", "batchnorm_test_backward", "batchnorm_backward_alt",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward", "layernorm_forward", "layernorm_backward",
    "groupnorm_forward", "groupnorm_backward",
]


def _normalized_backward(dx_hat, x_hat, inv_std, axes):
    """``dx = (1/√(σ² + ε)) · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))`` with the means over ``axes``."""
    return inv_std * (dx_hat - dx_hat.mean(axis=axes, keepdims=True)
                      - x_hat * (dx_hat * x_hat).mean(axis=axes, keepdims=True))


def _eps(eps):
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps >= 0:
        raise ValueError(f"eps must be a number ≥ 0, got eps={eps!r}")
    return float(eps)


# --- batch norm: running statistics and test mode ------------------------------------------------

def _per_channel(v, c, name):
    v = as_float_array(v, name)
    if v.shape != (c,):
        raise ValueError(f"{name} must have shape ({c},) (one per channel), got {name}.shape={v.shape}")
    return v


def batchnorm_running_update(x, running_mean, running_var, momentum=0.9, unbiased=False):
    """The running statistics after one training-mode batch-norm call: ``(running_mean, running_var)``.

        running_mean ← momentum · running_mean + (1 − momentum) · μ
        running_var  ← momentum · running_var  + (1 − momentum) · σ²       (σ² biased: [cs231n])
        running_var  ← momentum · running_var  + (1 − momentum) · σ² · m/(m − 1)   (unbiased=True)

    μ, σ² per channel over the m values of axes (N, *spatial). ``momentum`` is cs231n's (0.9 keeps
    90% of the old value); torch's ``F.batch_norm(..., momentum=1 − momentum)`` gives the
    ``unbiased=True`` line (see the module docstring). Shape: x ``(N, C, *)``, running stats ``(C,)``.
    New arrays are returned; the inputs are not modified.
    """
    x = _batch(x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, C, ...), got x.shape={x.shape}")
    c = x.shape[1]
    rm, rv = _per_channel(running_mean, c, "running_mean"), _per_channel(running_var, c, "running_var")
    if not isinstance(momentum, (int, float)) or isinstance(momentum, bool) or not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be in [0, 1], got momentum={momentum!r}")
    axes = (0, *range(2, x.ndim))
    m = x.size // c
    if m < 2:
        raise ValueError(f"batch norm needs more than one value per channel, got x.shape={x.shape}")
    mu, var = x.mean(axis=axes), x.var(axis=axes)
    if unbiased:
        var = var * (m / (m - 1))
    dtype = np.result_type(x, rm, rv)
    return ((momentum * rm + (1 - momentum) * mu).astype(dtype, copy=False),
            (momentum * rv + (1 - momentum) * var).astype(dtype, copy=False))


def _bn_test_args(x, gamma, beta, running_mean, running_var):
    # not layers._bn_args: test mode takes any batch, one sample included (no batch statistics)
    x = _batch(x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, C, ...), got x.shape={x.shape}")
    shape = (1, -1) + (1,) * (x.ndim - 2)
    c = x.shape[1]
    g = _per_channel(gamma, c, "gamma").reshape(shape)
    b = _per_channel(beta, c, "beta").reshape(shape)
    axes = (0, *range(2, x.ndim))
    rm = _per_channel(running_mean, c, "running_mean").reshape(shape)
    rv = _per_channel(running_var, c, "running_var").reshape(shape)
    if (rv < 0).any():
        raise ValueError(f"running_var must be ≥ 0, got min {rv.min()}")
    return x, g, b, rm, rv, axes


def batchnorm_test_forward(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Batch norm in test mode: the running statistics take the place of the batch's ([IS15] Alg. 2):

        out = γ · (x − running_mean) / √(running_var + ε) + β

    Each sample is transformed on its own (an affine map per channel). Shape: x ``(N, C, *)``,
    γ, β, running stats ``(C,)``; out like x. ([torch] ``F.batch_norm(training=False)``.)
    """
    x, g, b, rm, rv, _ = _bn_test_args(x, gamma, beta, running_mean, running_var)
    return g * (x - rm) / np.sqrt(rv + _eps(eps)) + b


def batchnorm_test_backward(dout, x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Gradients ``(dx, dgamma, dbeta)`` of :func:`batchnorm_test_forward` (the running statistics
    are constants):

        dx = γ · dout / √(running_var + ε),   dγ = Σ dout · x̂,   dβ = Σ dout

    with x̂ = (x − running_mean)/√(running_var + ε) and the sums over (N, *spatial).
    """
    x, g, _, rm, rv, axes = _bn_test_args(x, gamma, beta, running_mean, running_var)
    dout = _check_dout(dout, x.shape, "batchnorm_test_forward")
    inv_std = 1 / np.sqrt(rv + _eps(eps))
    x_hat = (x - rm) * inv_std
    return g * inv_std * dout, (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)


def batchnorm_backward_alt(dout, x, gamma, beta, eps=1e-5):
    """Gradients ``(dx, dgamma, dbeta)`` of training-mode batch norm (``layers.batchnorm_forward``) in
    the single-expression form [cs231n] asks for after the staged computational-graph one:

        dx = (γ / (m · √(σ² + ε))) · (m · dout − Σ dout − x̂ · Σ dout · x̂),
        dγ = Σ dout · x̂,   dβ = Σ dout

    sums over the m values of axes (N, *spatial) per channel. Equal to ``layers.batchnorm_backward``
    (which divides by m inside the means); written out separately because it is graded separately.
    """
    x, g, _, axes = _bn_args(x, gamma, beta)
    dout = _check_dout(dout, x.shape, "batchnorm_forward")
    m = x.size // x.shape[1]
    mu = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + _eps(eps))
    x_hat = (x - mu) * inv_std
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx = (g * inv_std / m) * (m * dout - dout.sum(axis=axes, keepdims=True)
                              - x_hat * (dout * x_hat).sum(axis=axes, keepdims=True))
    return dx, dgamma, dbeta


# --- spatial batch norm --------------------------------------------------------------------------

def _pixels(x, name="x"):
    """``(N, C, H, W)`` → ``(N·H·W, C)``: one row per pixel, one column per channel."""
    x = as_float_array(x, name)
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got {name}.shape={x.shape}")
    n, c, h, w = x.shape
    return x.transpose(0, 2, 3, 1).reshape(n * h * w, c)


def _unpixels(a, shape):
    n, c, h, w = shape
    return a.reshape(n, h, w, c).transpose(0, 3, 1, 2).copy()


def spatial_batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Spatial batch norm: batch norm of the ``(N·H·W, C)`` matrix of x's pixels ([cs231n]):

        out[n, c, h, w] = γ_c · (x[n, c, h, w] − μ_c) / √(σ²_c + ε) + β_c,
        μ_c, σ²_c over the m = N·H·W values of channel c

    Shape: x ``(N, C, H, W)``, γ, β ``(C,)``; out like x. Equal to ``F.batch_norm`` on the 4-D x ([torch]).
    """
    x = as_float_array(x, "x")
    return _unpixels(batchnorm_forward(_pixels(x), gamma, beta, eps=_eps(eps)), x.shape)


def spatial_batchnorm_backward(dout, x, gamma, beta, eps=1e-5):
    """Gradients ``(dx, dgamma, dbeta)`` of :func:`spatial_batchnorm_forward`: batch norm's backward on
    the pixel matrices, ``dx = (γ/√(σ² + ε)) · (dout − mean(dout) − x̂ · mean(dout · x̂))``,
    ``dγ = Σ dout · x̂``, ``dβ = Σ dout``, sums and means over (N, H, W); dx reshaped back.
    """
    x = as_float_array(x, "x")
    rows = _pixels(x)
    dout = _check_dout(dout, x.shape, "spatial_batchnorm_forward")
    dx, dgamma, dbeta = batchnorm_backward(_pixels(dout, "dout"), rows, gamma, beta, eps=_eps(eps))
    return _unpixels(dx, x.shape), dgamma, dbeta


# --- layer norm ----------------------------------------------------------------------------------

def _ln_args(x, gamma, beta):
    x = _batch(x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, D, ...), got x.shape={x.shape}")
    features = x.shape[1:]
    gamma, beta = as_float_array(gamma, "gamma"), as_float_array(beta, "beta")
    for name, v in (("gamma", gamma), ("beta", beta)):
        if v.shape != features:
            raise ValueError(f"{name} must have shape {features} (one per feature), got {name}.shape={v.shape}")
    if int(np.prod(features)) < 2:
        raise ValueError(f"layer norm needs more than one feature per sample, got x.shape={x.shape}")
    return x, gamma, beta, tuple(range(1, x.ndim))


def _ln_stats(x, axes, eps):
    mu = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + _eps(eps))
    return (x - mu) * inv_std, inv_std


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer normalisation: each sample normalised over its own m features ([BKH16] eq. 4):

        μ_n = (1/m) Σ_f x[n, f],   σ²_n = (1/m) Σ_f (x[n, f] − μ_n)²,
        out[n, f] = γ_f · (x[n, f] − μ_n) / √(σ²_n + ε) + β_f

    The same in train and test mode (no running statistics). Shape: x ``(N, *F)``, γ, β of shape F;
    out like x. ([cs231n] layernorm_forward, x ``(N, D)``; [torch] ``F.layer_norm(x, x.shape[1:])``.)
    """
    x, g, b, axes = _ln_args(x, gamma, beta)
    x_hat, _ = _ln_stats(x, axes, eps)
    return g * x_hat + b


def layernorm_backward(dout, x, gamma, beta, eps=1e-5):
    """Gradients ``(dx, dgamma, dbeta)`` of :func:`layernorm_forward`:

        dx̂ = γ · dout,   dx = (1/√(σ²_n + ε)) · (dx̂ − mean_f(dx̂) − x̂ · mean_f(dx̂ · x̂)),
        dγ = Σ_n dout · x̂,   dβ = Σ_n dout

    (batch norm's backward with the roles of the axes swapped: statistics over features, the
    parameters' sums over the batch).
    """
    x, g, _, axes = _ln_args(x, gamma, beta)
    dout = _check_dout(dout, x.shape, "layernorm_forward")
    x_hat, inv_std = _ln_stats(x, axes, eps)
    dx = _normalized_backward(g * dout, x_hat, inv_std, axes)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


# --- group norm ----------------------------------------------------------------------------------

def _gn_args(x, gamma, beta, groups):
    x = _batch(x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, C, ...), got x.shape={x.shape}")
    c = x.shape[1]
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1 or c % groups:
        raise ValueError(f"groups must be a positive divisor of C={c}, got groups={groups!r}")
    g, b = _per_channel(gamma, c, "gamma"), _per_channel(beta, c, "beta")
    if (c // groups) * int(np.prod(x.shape[2:])) < 2:
        raise ValueError(f"group norm needs more than one value per group, got x.shape={x.shape}, groups={groups}")
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return x, g.reshape(shape), b.reshape(shape), (x.shape[0], int(groups), -1)


def groupnorm_forward(x, gamma, beta, groups, eps=1e-5):
    """Group normalisation ([WH18] eq. 1–3): the channels of each sample in G = ``groups`` groups of
    C/G consecutive channels, each group normalised over its m = (C/G)·∏spatial values:

        x̂[n, c, …] = (x[n, c, …] − μ_{n,g}) / √(σ²_{n,g} + ε)   for c in group g,
        out[n, c, …] = γ_c · x̂[n, c, …] + β_c

    G = 1 is layer norm over (C, *spatial) with per-channel γ, β; G = C is instance norm. Shape: x
    ``(N, C, *spatial)``, γ, β ``(C,)``, C divisible by G; out like x. ([cs231n]
    spatial_groupnorm_forward with γ ``(1, C, 1, 1)``; [torch] ``F.group_norm(x, G, γ, β, eps)``.)
    """
    x, g, b, grouped = _gn_args(x, gamma, beta, groups)
    x_hat, _ = _ln_stats(x.reshape(grouped), (2,), eps)
    return g * x_hat.reshape(x.shape) + b


def groupnorm_backward(dout, x, gamma, beta, groups, eps=1e-5):
    """Gradients ``(dx, dgamma, dbeta)`` of :func:`groupnorm_forward`:

        dx̂ = γ_c · dout,   dx = (1/√(σ²_{n,g} + ε)) · (dx̂ − mean_g(dx̂) − x̂ · mean_g(dx̂ · x̂)),
        dγ_c = Σ_{n, spatial} dout · x̂,   dβ_c = Σ_{n, spatial} dout

    with mean_g over the m values of each (sample, group).
    """
    x, g, _, grouped = _gn_args(x, gamma, beta, groups)
    dout = _check_dout(dout, x.shape, "groupnorm_forward")
    x_hat, inv_std = _ln_stats(x.reshape(grouped), (2,), eps)
    dx = _normalized_backward((g * dout).reshape(grouped), x_hat, inv_std, (2,)).reshape(x.shape)
    axes = (0, *range(2, x.ndim))
    return dx, (dout * x_hat.reshape(x.shape)).sum(axis=axes), dout.sum(axis=axes)
