"""A correct solution of the ``model`` assignment (NumPy only: the grader's worker forbids convcheck)."""

import numpy as np


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) and its gradient (softmax − onehot) / N."""
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(n), labels].mean()
    dlogits = np.exp(log_p)
    dlogits[np.arange(n), labels] -= 1
    return loss, dlogits / n


def flatten_forward(x):
    """(N, C, H, W) -> (N, C·H·W)."""
    return x.reshape(x.shape[0], -1)


def flatten_backward(dout, x):
    """Undo the reshape."""
    return dout.reshape(x.shape)


def lenet_spec():
    """The course LeNet in the model builder's spec format (channels last)."""
    return """input 32x32x3
conv 6 5x5 relu
maxpool 2
conv 16 5x5 relu
maxpool 2
flatten
dense 120 relu
dense 84 relu
dense 10 softmax
"""


def lenet_shapes():
    """32 −5+1 = 28, /2 = 14, −5+1 = 10, /2 = 5; 5·5·16 = 400."""
    return [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16), (400,), (120,), (84,), (10,)]


def lenet_params():
    """(5·5·3+1)·6, 0, (5·5·6+1)·16, 0, 0, (400+1)·120, (120+1)·84, (84+1)·10."""
    return [456, 0, 2416, 0, 0, 48120, 10164, 850]


def small_convnet_loss(x, y, w1, b1, w2, b2):
    """conv 3×3 (pad 1) → ReLU → 2×2 max-pool → flatten → dense → softmax cross-entropy, and the chain
    rule back: (loss, dw1, db1, dw2, db2). Loops over the 3×3 taps; the pool by reshaping into windows."""
    n, c, h, w = x.shape
    f = w1.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    z1 = np.zeros((n, f, h, w)) + b1[None, :, None, None]
    for i in range(3):
        for j in range(3):
            z1 += np.einsum("nchw,fc->nfhw", xp[:, :, i:i + h, j:j + w], w1[:, :, i, j])
    a1 = np.maximum(z1, 0)
    ho, wo = h // 2, w // 2
    windows = a1[:, :, :2 * ho, :2 * wo].reshape(n, f, ho, 2, wo, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, f, ho, wo, 4)
    p1 = windows.max(axis=-1)
    loss, dz2 = softmax_cross_entropy(p1.reshape(n, -1) @ w2 + b2, y)
    dw2, db2 = flatten_forward(p1).T @ dz2, dz2.sum(axis=0)
    dp1 = flatten_backward(dz2 @ w2.T, p1)
    dwin = (np.arange(4) == windows.argmax(axis=-1)[..., None]) * dp1[..., None]   # to each window's maximum
    da1 = np.zeros_like(a1)
    da1[:, :, :2 * ho, :2 * wo] = dwin.reshape(n, f, ho, wo, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, f, 2 * ho, 2 * wo)
    dz1 = da1 * (z1 > 0)
    db1 = dz1.sum(axis=(0, 2, 3))
    dw1 = np.zeros_like(w1)
    for i in range(3):
        for j in range(3):
            dw1[:, :, i, j] = np.einsum("nchw,nfhw->fc", xp[:, :, i:i + h, j:j + w], dz1)
    return loss, dw1, db1, dw2, db2
