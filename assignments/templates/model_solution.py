"""A correct solution of the ``model`` assignment (the graded functions use NumPy only; the
notebook-only parts import the reference layers inside the functions that need them)."""

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


def build_lenet():
    """The course LeNet for 32×32×3 images."""
    from convcheck.reference.model import Conv2D, Dense, Flatten, MaxPool2D, Sequential

    return Sequential([Conv2D(6, 5, activation="relu"), MaxPool2D(2), Conv2D(16, 5, activation="relu"),
                       MaxPool2D(2), Flatten(), Dense(120, activation="relu"), Dense(84, activation="relu"),
                       Dense(10, activation="softmax")], input_shape=(32, 32, 3))


def lenet_shapes():
    """32 −5+1 = 28, /2 = 14, −5+1 = 10, /2 = 5; 5·5·16 = 400."""
    return [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16), (400,), (120,), (84,), (10,)]


def lenet_params():
    """(5·5·3+1)·6, 0, (5·5·6+1)·16, 0, 0, (400+1)·120, (120+1)·84, (84+1)·10."""
    return [456, 0, 2416, 0, 0, 48120, 10164, 850]


def small_convnet_loss(x, y, w1, b1, w2, b2):
    """conv → ReLU → max-pool → flatten → dense → softmax cross-entropy, and the chain rule back."""
    from convcheck.reference.conv import conv_backward, conv_forward
    from convcheck.reference.layers import dense_backward, dense_forward, relu_backward, relu_forward
    from convcheck.reference.pool import max_pool_backward, max_pool_forward

    z1 = conv_forward(x, w1, b1, stride=1, padding=1)
    a1 = relu_forward(z1)
    p1 = max_pool_forward(a1, 2)
    f = flatten_forward(p1)
    z2 = dense_forward(f, w2, b2)
    loss, dz2 = softmax_cross_entropy(z2, y)
    df, dw2, db2 = dense_backward(dz2, f, w2, b2)
    da1 = max_pool_backward(flatten_backward(df, p1), a1, 2)
    _dx, dw1, db1 = conv_backward(relu_backward(da1, z1), x, w1, b1, stride=1, padding=1)
    return loss, dw1, db1, dw2, db2
