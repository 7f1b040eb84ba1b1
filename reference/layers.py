"""Dense layer, activations, flatten, batch norm, dropout and the two losses, forward and backward.

Names: ``x`` the input (first axis N, the batch), ``out`` the output, ``dout = ∂L/∂out``; dense
``w`` is ``(in_features, out_features)`` so that ``out = x @ w + b`` (course notes 002, the dense
layer after flatten). Element-wise ops accept any shape; ``softmax`` normalises along ``axis``
(default 1, the channel/class axis); batch norm normalises each channel (axis 1) over every other
axis, as ``BatchNorm*d`` in training mode does. Every backward states its derivative.

Sources: [course] notes 000–002 (ReLU mask, sigmoid with binary cross-entropy); [IS15] Ioffe and
Szegedy, "Batch normalization" (2015), Algorithm 1 and section 3; [torch] the docs of
``torch.nn.functional`` (leaky_relu slope 0.01, batch_norm eps 1e-5, cross_entropy, dropout's
``1/(1 − p)`` scaling, binary_cross_entropy_with_logits).
"""

from __future__ import annotations

import numpy as np

from .conv import as_float_array

__all__ = [
    "dense_forward", "dense_backward", "relu_forward", "relu_backward", "leaky_relu_forward",
    "leaky_relu_backward", "tanh_forward", "tanh_backward", "sigmoid_forward", "sigmoid_backward",
    "softmax_forward", "softmax_backward", "flatten_forward", "flatten_backward", "batchnorm_forward",
    "batchnorm_backward", "dropout_forward", "dropout_backward", "softmax_cross_entropy",
    "binary_cross_entropy",
]


def _check_dout(dout, shape, op):
    dout = as_float_array(dout, "dout")
    if dout.shape != tuple(shape):
        raise ValueError(f"dout.shape={dout.shape}, but should be {tuple(shape)} (the shape of {op}'s out)")
    return dout


def _batch(x, name="x"):
    x = as_float_array(x, name)
    if x.ndim < 1 or 0 in x.shape:
        raise ValueError(f"{name} must be a non-empty array with the batch first, got {name}.shape={x.shape}")
    return x


# --- dense ---------------------------------------------------------------------------------------

def _dense_args(x, w, b):
    x, w = _batch(x), as_float_array(w, "w")
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, ...) with features after N, got x.shape={x.shape}")
    d = int(np.prod(x.shape[1:]))
    if w.ndim != 2 or w.shape[0] != d:
        raise ValueError(f"w must have shape (in_features, out_features) = ({d}, M) for x.shape={x.shape}, "
                         f"got w.shape={w.shape}")
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (w.shape[1],):
            raise ValueError(f"b must have shape ({w.shape[1]},), got b.shape={b.shape}")
    return x, w, b, x.reshape(x.shape[0], d)


def dense_forward(x, w, b=None):
    """Fully connected layer ``out = x̃ @ w + b``, with ``x̃ = x`` flattened after N.

    Shape: x ``(N, d_1, …)`` with ``D = ∏d_i``, w ``(D, M)``, b ``(M,)`` or None → out ``(N, M)``.
    """
    x, w, b, x2 = _dense_args(x, w, b)
    out = x2 @ w
    return out + b if b is not None else out


def dense_backward(dout, x, w, b=None):
    """Gradients ``(dx, dw, db)`` of :func:`dense_forward`:

        dx = dout @ wᵀ (reshaped to x's shape),   dw = x̃ᵀ @ dout,   db = Σ_n dout[n]
    """
    x, w, b, x2 = _dense_args(x, w, b)
    dout = _check_dout(dout, (x.shape[0], w.shape[1]), "dense_forward")
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2.T @ dout
    return dx, dw, (dout.sum(axis=0) if b is not None else None)


# --- element-wise activations --------------------------------------------------------------------

def relu_forward(x):
    """``out = max(0, x)``, element-wise. Shape: any, out like x."""
    x = as_float_array(x, "x")
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu_backward(dout, x):
    """``dx = dout · [x > 0]``: the ReLU mask ([course] notes 002). At the kink x = 0 the
    derivative is taken as 0, as PyTorch does; numerical checks stay off the kink."""
    x = as_float_array(x, "x")
    dout = _check_dout(dout, x.shape, "relu_forward")
    return np.where(x > 0, dout, 0).astype(np.result_type(dout, x), copy=False)


def leaky_relu_forward(x, negative_slope=0.01):
    """``out = x`` where ``x > 0``, else ``negative_slope · x`` ([torch] LeakyReLU, slope 0.01)."""
    x = as_float_array(x, "x")
    return np.where(x > 0, x, negative_slope * x).astype(x.dtype, copy=False)


def leaky_relu_backward(dout, x, negative_slope=0.01):
    """``dx = dout · (1 if x > 0 else negative_slope)``; at x = 0 the slope side, as PyTorch."""
    x = as_float_array(x, "x")
    dout = _check_dout(dout, x.shape, "leaky_relu_forward")
    return np.where(x > 0, dout, negative_slope * dout).astype(np.result_type(dout, x), copy=False)


def tanh_forward(x):
    """``out = tanh(x)``, element-wise."""
    return np.tanh(as_float_array(x, "x"))


def tanh_backward(dout, x):
    """``dx = dout · (1 − tanh²(x))``."""
    x = as_float_array(x, "x")
    dout = _check_dout(dout, x.shape, "tanh_forward")
    t = np.tanh(x)
    return dout * (1 - t * t)


def _sigmoid(z):
    # exp of a non-positive number only: no overflow for large |z|
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def sigmoid_forward(x):
    """``out = σ(x) = 1 / (1 + e^{−x})``, computed without overflow."""
    return _sigmoid(as_float_array(x, "x"))


def sigmoid_backward(dout, x):
    """``dx = dout · σ(x)·(1 − σ(x))`` ([course] notes 002)."""
    x = as_float_array(x, "x")
    dout = _check_dout(dout, x.shape, "sigmoid_forward")
    s = _sigmoid(x)
    return dout * s * (1 - s)


def _axis(x, axis):
    if not isinstance(axis, int) or isinstance(axis, bool) or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must be an int in [-{x.ndim}, {x.ndim}) for x.shape={x.shape}, got axis={axis!r}")
    return axis


def softmax_forward(x, axis=1):
    """``out_i = e^{x_i − m} / Σ_j e^{x_j − m}`` along ``axis``, with ``m = max_j x_j`` (stable)."""
    x = _batch(x)
    axis = _axis(x, axis)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(dout, x, axis=1):
    """``dx = y ⊙ (dout − Σ_j dout_j y_j)`` with ``y = softmax(x)``: the Jacobian
    ``∂y_i/∂x_j = y_i(δ_ij − y_j)`` applied to dout."""
    x = _batch(x)
    axis = _axis(x, axis)
    dout = _check_dout(dout, x.shape, "softmax_forward")
    y = softmax_forward(x, axis)
    return y * (dout - (dout * y).sum(axis=axis, keepdims=True))


# --- flatten -------------------------------------------------------------------------------------

def flatten_forward(x):
    """Keep the batch axis, join the rest: ``(N, d_1, …) → (N, ∏d_i)`` in C order ([course] "Flatten")."""
    x = _batch(x)
    return x.reshape(x.shape[0], -1).copy()


def flatten_backward(dout, x):
    """``dx = dout`` reshaped back to x's shape (flatten only moves values)."""
    x = _batch(x)
    dout = _check_dout(dout, (x.shape[0], int(np.prod(x.shape[1:]))), "flatten_forward")
    return dout.reshape(x.shape).copy()


# --- batch normalisation (training mode) ----------------------------------------------------------

def _bn_args(x, gamma, beta):
    x = _batch(x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, C, ...), got x.shape={x.shape}")
    gamma, beta = as_float_array(gamma, "gamma"), as_float_array(beta, "beta")
    for name, v in (("gamma", gamma), ("beta", beta)):
        if v.shape != (x.shape[1],):
            raise ValueError(f"{name} must have shape ({x.shape[1]},) (one per channel), got {name}.shape={v.shape}")
    axes = (0, *range(2, x.ndim))
    if int(np.prod([x.shape[a] for a in axes])) < 2:
        raise ValueError(f"batch norm needs more than one value per channel, got x.shape={x.shape}")
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return x, gamma.reshape(shape), beta.reshape(shape), axes


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Batch normalisation in training mode, per channel c over the m values of axes (N, *spatial):

        μ = (1/m) Σ x,   σ² = (1/m) Σ (x − μ)²  (biased),   x̂ = (x − μ)/√(σ² + ε),   out = γ x̂ + β

    ([IS15] Algorithm 1; [torch] batch_norm, eps 1e-5). Shape: x ``(N, C, *)``, γ and β ``(C,)``.
    """
    x, g, b, axes = _bn_args(x, gamma, beta)
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return g * (x - mu) / np.sqrt(var + eps) + b


def batchnorm_backward(dout, x, gamma, beta, eps=1e-5):
    """Gradients ``(dx, dgamma, dbeta)`` of :func:`batchnorm_forward` (the compact form of [IS15] §3):

        dβ = Σ dout,   dγ = Σ dout · x̂,
        dx = (γ / √(σ² + ε)) · (dout − mean(dout) − x̂ · mean(dout · x̂))

    with the sums and means over (N, *spatial) for each channel.
    """
    x, g, _, axes = _bn_args(x, gamma, beta)
    dout = _check_dout(dout, x.shape, "batchnorm_forward")
    mu = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    x_hat = (x - mu) * inv_std
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx = g * inv_std * (dout - dout.mean(axis=axes, keepdims=True)
                        - x_hat * (dout * x_hat).mean(axis=axes, keepdims=True))
    return dx, dgamma, dbeta


# --- dropout -------------------------------------------------------------------------------------

def _dropout_args(x, mask, p):
    x = as_float_array(x, "x")
    mask = np.asarray(mask)
    if mask.shape != x.shape:
        raise ValueError(f"mask must have x's shape {x.shape}, got mask.shape={mask.shape}")
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p < 1:
        raise ValueError(f"p (the drop probability) must be in [0, 1), got p={p!r}")
    return x, mask.astype(x.dtype), p


def dropout_forward(x, mask, p=0.5):
    """Inverted dropout with an explicit keep-mask: ``out = x · mask / (1 − p)``.

    ``mask`` holds 1 where a unit is kept and 0 where it is dropped (drawn by the caller, e.g.
    ``rng.random(x.shape) >= p``); scaling by ``1/(1 − p)`` keeps ``E[out] = x`` ([torch] dropout).
    The mask is a constant, not an input that receives a gradient.
    """
    x, mask, p = _dropout_args(x, mask, p)
    return x * mask / (1 - p)


def dropout_backward(dout, x, mask, p=0.5):
    """``dx = dout · mask / (1 − p)``: the same scaling, applied to the gradient."""
    x, mask, p = _dropout_args(x, mask, p)
    dout = _check_dout(dout, x.shape, "dropout_forward")
    return dout * mask / (1 - p)


# --- losses --------------------------------------------------------------------------------------

def softmax_cross_entropy(logits, labels):
    """Mean softmax cross-entropy and its gradient: ``(loss, dlogits)``.

        loss = −(1/M) Σ log softmax(z)[label]      dz = (softmax(z) − onehot(label)) / M

    ``logits`` ``(N, K)`` or ``(N, K, d_1, …)`` with the classes on axis 1, ``labels`` integers
    ``(N,)`` or ``(N, d_1, …)`` in ``[0, K)``; M is the number of labels ([torch] cross_entropy with
    mean reduction). ``log softmax`` is computed as ``z − m − log Σ e^{z − m}`` (stable).
    """
    z = _batch(logits, "logits")
    if z.ndim < 2:
        raise ValueError(f"logits must have shape (N, K, ...), got logits.shape={z.shape}")
    labels = np.asarray(labels)
    if labels.shape != z.shape[:1] + z.shape[2:]:
        raise ValueError(f"labels.shape={labels.shape}, but should be {z.shape[:1] + z.shape[2:]} for "
                         f"logits.shape={z.shape}")
    if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= z.shape[1]:
        raise ValueError(f"labels must be integers in [0, {z.shape[1]}), got dtype {labels.dtype}, "
                         f"range [{labels.min()}, {labels.max()}]")
    shifted = z - z.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_sum
    picked = np.take_along_axis(log_p, labels[:, None], axis=1)
    m = labels.size
    loss = -picked.sum() / m
    dz = np.exp(log_p)
    np.put_along_axis(dz, labels[:, None], np.take_along_axis(dz, labels[:, None], axis=1) - 1, axis=1)
    return z.dtype.type(loss), dz / m


def binary_cross_entropy(logits, targets):
    """Mean binary cross-entropy of ``σ(z)`` against targets t, and its gradient: ``(loss, dlogits)``.

        loss = (1/M) Σ [max(z, 0) − z·t + log(1 + e^{−|z|})]      dz = (σ(z) − t) / M

    which equals ``−(1/M) Σ [t log σ(z) + (1 − t) log(1 − σ(z))]`` without overflow ([course] notes
    002, sigmoid + BCE; [torch] binary_cross_entropy_with_logits). Shape: logits and targets alike,
    targets in [0, 1]; M is the number of elements.
    """
    z = _batch(logits, "logits")
    t = as_float_array(targets, "targets")
    if t.shape != z.shape:
        raise ValueError(f"targets.shape={t.shape}, but should be logits.shape={z.shape}")
    if t.size and (t.min() < 0 or t.max() > 1):
        raise ValueError(f"targets must lie in [0, 1], got range [{t.min()}, {t.max()}]")
    m = z.size
    loss = (np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))).sum() / m
    return z.dtype.type(loss), (_sigmoid(z) - t) / m
