"""Mutant conv_forward_assumes_exact_division: asserts that the stride divides H + 2·pad − HH (cs231n's own contract), rejecting what torch accepts.

loses: conv_forward_naive, conv_backward_naive (the forward raises on some inputs, and a backward example whose forward raises fails: issue 15)
note: full marks under layers-cs231n, whose contract is exactly this assumption
"""

import numpy as np


def affine_forward(x, w, b):
    """out = x.reshape(N, D) @ w + b, for x of any rank >= 2 (D = product of x's trailing dims)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """dx = dout @ wᵀ (reshaped like x), dw = x_flatᵀ @ dout, db = Σ_n dout."""
    x, w, b = cache
    x_flat = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x_flat.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """out = max(0, x)."""
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    """dx = dout · [x > 0]."""
    x = cache
    return dout * (x > 0)


def conv_forward_naive(x, w, b, conv_param):
    """out[n, f, i, j] = b[f] + Σ_{c,k,l} x_pad[n, c, i·s + k, j·s + l] · w[f, c, k, l]."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    assert (H + 2 * pad - HH) % stride == 0, 'width'
    assert (W + 2 * pad - WW) % stride == 0, 'height'
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """db = Σ dout,  dw = x_pad ⋆ dout,  dx = the padded-input gradient, cropped back to H × W.

    Windows overlap when stride < kernel, so dx_pad accumulates (+=) every window's share.
    """
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    dw[f] += x_pad[n, :, hs:hs + HH, ws:ws + WW] * dout[n, f, i, j]
                    dx_pad[n, :, hs:hs + HH, ws:ws + WW] += w[f] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """out[n, c, i, j] = max over the pool_height × pool_width window at (i·s, j·s)."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """dx routes each dout[n, c, i, j] to the (first) argmax of its window; overlapping windows add."""
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    window = x[n, c, hs:hs + ph, ws:ws + pw]
                    k, l = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, hs + k, ws + l] += dout[n, c, i, j]
    return dx
