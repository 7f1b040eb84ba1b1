"""The small ConvNet of the ``model`` assignment: its loss and gradients, composed from the reference ops.

conv(w1, b1; 3×3, stride 1, pad 1) → ReLU → 2×2 max-pool (stride 2) → flatten → dense(w2, b2) →
softmax cross-entropy (mean over the batch). Layout ``N, C, H, W``; x ``(N, C, H, W)``, integer
labels y ``(N,)``, w1 ``(F, C, 3, 3)``, b1 ``(F,)``, w2 ``(F·⌊H/2⌋·⌊W/2⌋, K)``, b2 ``(K,)``.
"""

from __future__ import annotations

from . import conv, layers, pool


def small_convnet_loss(x, y, w1, b1, w2, b2):
    """``(loss, dw1, db1, dw2, db2)`` of the network above: the forward pass, then the chain rule back.

        z1 = conv(x, w1) + b1      a1 = max(0, z1)      p1 = maxpool₂(a1)      f = flatten(p1)
        z2 = f w2 + b2             L = −(1/N) Σ_n log softmax(z2)[n, y_n]

        dz2 = (softmax(z2) − onehot(y)) / N      dw2 = fᵀ dz2      db2 = Σ_n dz2
        df = dz2 w2ᵀ → dp1 (reshaped)      da1 = dp1 routed to each window's maximum
        dz1 = da1 · [z1 > 0]               dw1 = x ⋆ dz1 (padded x)     db1 = Σ_{n,h,w} dz1

    Shape: x ``(N, C, H, W)``, y ``(N,)`` → loss a scalar, each gradient shaped like its parameter.
    The max-pool's gradient is defined only where each window has one maximum, and ReLU's only off
    z1 = 0; the reference takes torch's choice at ties and kinks, checks stay away from both.
    """
    z1 = conv.conv_forward(x, w1, b1, stride=1, padding=1)
    a1 = layers.relu_forward(z1)
    p1 = pool.max_pool_forward(a1, 2)
    f = layers.flatten_forward(p1)
    z2 = layers.dense_forward(f, w2, b2)
    loss, dz2 = layers.softmax_cross_entropy(z2, y)
    df, dw2, db2 = layers.dense_backward(dz2, f, w2, b2)
    dp1 = layers.flatten_backward(df, p1)
    da1 = pool.max_pool_backward(dp1, a1, 2)
    dz1 = layers.relu_backward(da1, z1)
    _dx, dw1, db1 = conv.conv_backward(dz1, x, w1, b1, stride=1, padding=1)
    return loss, dw1, db1, dw2, db2


def pre_activations(x, w1, b1):
    """``z1 = conv(x, w1) + b1``: what ReLU and the max-pool see, for checks that must avoid ties and kinks."""
    return conv.conv_forward(x, w1, b1, stride=1, padding=1)
