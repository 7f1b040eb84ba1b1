"""Correct variant: caches are dicts, ReLU caches its output, loops over kernel offsets.

loses: nothing
"""

import numpy as np


def affine_forward(x, w, b):
    N = x.shape[0]
    out = np.dot(x.reshape(N, np.prod(x.shape[1:])), w) + b
    return out, {"x_shape": x.shape, "x_flat": x.reshape(N, -1).copy(), "w": w}


def affine_backward(dout, cache):
    dx = np.dot(dout, cache["w"].T).reshape(cache["x_shape"])
    dw = np.dot(cache["x_flat"].T, dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = x.copy()
    out[out < 0] = 0
    return out, {"out": out}


def relu_backward(dout, cache):
    dx = dout.copy()
    dx[cache["out"] <= 0] = 0
    return dx


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    xp[:, :, pad:pad + H, pad:pad + W] = x
    out = np.zeros((N, F, Ho, Wo)) + b.reshape(1, F, 1, 1)
    # one kernel offset at a time: out += w[:, :, k, l] applied to the shifted, strided input
    for k in range(HH):
        for l in range(WW):
            patch = xp[:, :, k:k + stride * (Ho - 1) + 1:stride, l:l + stride * (Wo - 1) + 1:stride]
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, k, l])
    cache = {"xp": xp, "w": w, "stride": stride, "pad": pad, "H": H, "W": W}
    return out, cache


def conv_backward_naive(dout, cache):
    xp, w, stride, pad = cache["xp"], cache["w"], cache["stride"], cache["pad"]
    F, C, HH, WW = w.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for k in range(HH):
        for l in range(WW):
            hs = slice(k, k + stride * (Ho - 1) + 1, stride)
            ws = slice(l, l + stride * (Wo - 1) + 1, stride)
            dw[:, :, k, l] = np.einsum("nchw,nfhw->fc", xp[:, :, hs, ws], dout)
            dxp[:, :, hs, ws] += np.einsum("nfhw,fc->nchw", dout, w[:, :, k, l])
    db = dout.sum(axis=0).sum(axis=-1).sum(axis=-1)
    dx = dxp[:, :, pad:pad + cache["H"], pad:pad + cache["W"]]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = (H - ph) // s + 1, (W - pw) // s + 1
    out = np.empty((N, C, Ho, Wo))
    argmax = np.empty((N, C, Ho, Wo), dtype=int)
    for i in range(Ho):
        for j in range(Wo):
            win = x[:, :, i * s:i * s + ph, j * s:j * s + pw].reshape(N, C, -1)
            argmax[:, :, i, j] = win.argmax(axis=2)
            out[:, :, i, j] = win.max(axis=2)
    return out, {"shape": x.shape, "argmax": argmax, "ph": ph, "pw": pw, "s": s}


def max_pool_backward_naive(dout, cache):
    dx = np.zeros(cache["shape"])
    pw, s = cache["pw"], cache["s"]
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    k, l = divmod(cache["argmax"][n, c, i, j], pw)
                    dx[n, c, i * s + k, j * s + l] += dout[n, c, i, j]
    return dx
