"""Correct variant: plain loops everywhere, submitted as a folder (the Gradescope layout).

loses: nothing
"""

import numpy as np


def affine_forward(x, w, b):
    N = x.shape[0]
    D, M = w.shape
    flat = x.reshape(N, D)
    out = np.zeros((N, M))
    for n in range(N):
        for m in range(M):
            out[n, m] = b[m]
            for d in range(D):
                out[n, m] += flat[n, d] * w[d, m]
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    N = x.shape[0]
    D, M = w.shape
    flat = x.reshape(N, D)
    dflat = np.zeros((N, D))
    dw = np.zeros((D, M))
    db = np.zeros(M)
    for n in range(N):
        for m in range(M):
            db[m] += dout[n, m]
            for d in range(D):
                dflat[n, d] += dout[n, m] * w[d, m]
                dw[d, m] += flat[n, d] * dout[n, m]
    return dflat.reshape(x.shape), dw, db


def relu_forward(x):
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        out[idx] = x[idx] if x[idx] > 0 else 0.0
    return out, x


def relu_backward(dout, cache):
    dx = np.zeros_like(dout)
    for idx in np.ndindex(dout.shape):
        if cache[idx] > 0:
            dx[idx] = dout[idx]
    return dx


def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = (H + 2 * p - HH) // s + 1, (W + 2 * p - WW) // s + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    acc = b[f]
                    for c in range(C):
                        for k in range(HH):
                            for l in range(WW):
                                r, q = i * s + k - p, j * s + l - p
                                if 0 <= r < H and 0 <= q < W:
                                    acc += x[n, c, r, q] * w[f, c, k, l]
                    out[n, f, i, j] = acc
    return out, (x, w, b, s, p)


def conv_backward_naive(dout, cache):
    x, w, b, s, p = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, Ho, Wo = dout.shape
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    g = dout[n, f, i, j]
                    db[f] += g
                    for c in range(C):
                        for k in range(HH):
                            for l in range(WW):
                                r, q = i * s + k - p, j * s + l - p
                                if 0 <= r < H and 0 <= q < W:
                                    dx[n, c, r, q] += w[f, c, k, l] * g
                                    dw[f, c, k, l] += x[n, c, r, q] * g
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = (H - ph) // s + 1, (W - pw) // s + 1
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best = -np.inf
                    for k in range(ph):
                        for l in range(pw):
                            best = max(best, x[n, c, i * s + k, j * s + l])
                    out[n, c, i, j] = best
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best, where = -np.inf, None
                    for k in range(ph):
                        for l in range(pw):
                            if x[n, c, i * s + k, j * s + l] > best:
                                best, where = x[n, c, i * s + k, j * s + l], (i * s + k, j * s + l)
                    dx[n, c, where[0], where[1]] += dout[n, c, i, j]
    return dx
