"""Every function returns zeros of the right shape: computes nothing (issue 15: it got 15/100 from the
"not modified" and "fresh cache" checks).

loses: affine_forward, affine_backward, relu_forward, relu_backward, conv_forward_naive, conv_backward_naive, max_pool_forward_naive, max_pool_backward_naive
"""

import numpy as np


def affine_forward(x, w, b):
    return np.zeros((x.shape[0], w.shape[1])), (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    return np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)


def relu_forward(x):
    return np.zeros_like(x), x


def relu_backward(dout, cache):
    return np.zeros_like(cache)


def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    return np.zeros((N, F, 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s)), (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, _ = cache
    return np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    return np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s)), (x, pool_param)


def max_pool_backward_naive(dout, cache):
    return np.zeros_like(cache[0])
