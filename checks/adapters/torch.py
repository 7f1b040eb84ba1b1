"""PyTorch's own ops behind the reference signatures: NumPy in, NumPy out, gradients by autograd.

The module-level functions run on the CPU; ``make("cuda")`` returns an object with the same
functions on another device. TF32 is disabled so that a CUDA float32 comparison sees float32
arithmetic. Padding the functional ops do not take (per-side pairs, ``'full'``) is applied with
``F.pad`` first, as a torch user would; ``'same'``/``'valid'`` are passed to torch as they are.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

_CONV = (F.conv1d, F.conv2d, F.conv3d)
_CONV_T = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)
_MAX = (F.max_pool1d, F.max_pool2d, F.max_pool3d)
_AVG = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)


def _seq(v) -> bool:
    return isinstance(v, (tuple, list))


def _dims(value, ndim):
    return tuple(value) if _seq(value) else (value,) * ndim


class TorchOps:
    """The reference ops computed by torch on ``device``."""

    def __init__(self, device: str = "cpu"):
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("torch adapter: CUDA was asked for but torch.cuda.is_available() is False")

    # -- conversions -------------------------------------------------------------------------------
    def _t(self, a, grad=False):
        if a is None:
            return None
        t = torch.as_tensor(np.array(a, copy=True), device=self.device)
        return t.requires_grad_(grad) if grad and t.is_floating_point() else t

    @staticmethod
    def _np(t):
        return None if t is None else t.detach().cpu().numpy()

    def _grads(self, forward, dout, inputs, *, wrt=None):
        """Run ``forward`` on tensors of ``inputs`` and backpropagate ``dout``; grads of ``wrt`` (indexes)."""
        wrt = range(len(inputs)) if wrt is None else wrt
        ts = [self._t(a, grad=i in wrt) for i, a in enumerate(inputs)]
        out = forward(*ts)
        out.backward(self._t(dout).to(out.dtype))
        grads = [self._np(ts[i].grad) if ts[i] is not None else None for i in wrt]
        return grads[0] if len(grads) == 1 else tuple(grads)

    # -- convolution -------------------------------------------------------------------------------
    @staticmethod
    def _conv_padding(padding, ks, ds, ndim):
        """(padding for torch's conv, F.pad list or None)."""
        if padding in ("same", "valid"):
            return padding, None
        if padding == "full":
            pairs = [(d * (k - 1),) * 2 for k, d in zip(ks, ds)]
        elif _seq(padding) and (any(_seq(p) for p in padding) or (ndim == 1 and len(padding) == 2)):
            pairs = [tuple(p) for p in padding] if any(_seq(p) for p in padding) else [tuple(padding)]
        else:
            return _dims(padding, ndim), None
        return 0, [v for pair in reversed(pairs) for v in pair]  # F.pad lists the last dim first

    def _conv(self, x, w, b, stride, padding, dilation, groups):
        ndim = x.dim() - 2
        ks = tuple(w.shape[2:])
        ds = _dims(dilation, ndim)
        pad, flat = self._conv_padding(padding, ks, ds, ndim)
        if flat is not None:
            x = F.pad(x, flat)
        with warnings.catch_warnings():  # 'same' with an even kernel pads a copy of x: expected, not news
            warnings.simplefilter("ignore", UserWarning)
            return _CONV[ndim - 1](x, w, b, stride=_dims(stride, ndim), padding=pad, dilation=ds, groups=groups)

    def conv_forward(self, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        with torch.no_grad():
            return self._np(self._conv(self._t(x), self._t(w), self._t(b), stride, padding, dilation, groups))

    def conv_backward(self, dout, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        def forward(x, w, b):
            return self._conv(x, w, b, stride, padding, dilation, groups)
        dx, dw, db = self._grads(forward, dout, (x, w, b))
        return dx, dw, db

    def _conv_t(self, x, w, b, stride, padding, output_padding, dilation, groups):
        ndim = x.dim() - 2
        return _CONV_T[ndim - 1](x, w, b, stride=_dims(stride, ndim), padding=_dims(padding, ndim),
                                 output_padding=_dims(output_padding, ndim), groups=groups,
                                 dilation=_dims(dilation, ndim))

    def conv_transpose_forward(self, x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        with torch.no_grad():
            return self._np(self._conv_t(self._t(x), self._t(w), self._t(b), stride, padding, output_padding,
                                         dilation, groups))

    def conv_transpose_backward(self, dout, x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1,
                                groups=1):
        def forward(x, w, b):
            return self._conv_t(x, w, b, stride, padding, output_padding, dilation, groups)
        return self._grads(forward, dout, (x, w, b))

    # -- pooling -----------------------------------------------------------------------------------
    @staticmethod
    def _max(x, kernel, stride, padding, dilation, ceil_mode):
        ndim = x.dim() - 2
        return _MAX[ndim - 1](x, _dims(kernel, ndim), None if stride is None else _dims(stride, ndim),
                              _dims(padding, ndim), _dims(dilation, ndim), ceil_mode=ceil_mode)

    def max_pool_forward(self, x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
        with torch.no_grad():
            return self._np(self._max(self._t(x), kernel, stride, padding, dilation, ceil_mode))

    def max_pool_backward(self, dout, x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
        return self._grads(lambda x: self._max(x, kernel, stride, padding, dilation, ceil_mode), dout, (x,))

    @staticmethod
    def _avg(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        ndim = x.dim() - 2
        stride = None if stride is None else _dims(stride, ndim)
        if ndim == 1:  # avg_pool1d has no divisor_override: pool a (N, C, 1, L) image with a (1, k) window
            out = F.avg_pool2d(x.unsqueeze(2), (1,) + _dims(kernel, 1), None if stride is None else (1,) + stride,
                               (0,) + _dims(padding, 1), ceil_mode, count_include_pad, divisor_override)
            return out.squeeze(2)
        return _AVG[ndim - 1](x, _dims(kernel, ndim), stride, _dims(padding, ndim), ceil_mode, count_include_pad,
                              divisor_override)

    def avg_pool_forward(self, x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                         divisor_override=None):
        with torch.no_grad():
            return self._np(self._avg(self._t(x), kernel, stride, padding, ceil_mode, count_include_pad,
                                      divisor_override))

    def avg_pool_backward(self, dout, x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                          divisor_override=None):
        return self._grads(lambda x: self._avg(x, kernel, stride, padding, ceil_mode, count_include_pad,
                                               divisor_override), dout, (x,))

    @staticmethod
    def _global(x, kind):
        ndim = x.dim() - 2
        pool = getattr(F, f"adaptive_{kind}_pool{ndim}d")
        return pool(x, 1)

    def global_max_pool_forward(self, x):
        with torch.no_grad():
            return self._np(self._global(self._t(x), "max"))

    def global_max_pool_backward(self, dout, x):
        return self._grads(lambda x: self._global(x, "max"), dout, (x,))

    def global_avg_pool_forward(self, x):
        with torch.no_grad():
            return self._np(self._global(self._t(x), "avg"))

    def global_avg_pool_backward(self, dout, x):
        return self._grads(lambda x: self._global(x, "avg"), dout, (x,))

    # -- dense, activations, normalisation ---------------------------------------------------------
    @staticmethod
    def _dense(x, w, b):
        return F.linear(x.reshape(x.shape[0], -1), w.T, b)

    def dense_forward(self, x, w, b=None):
        with torch.no_grad():
            return self._np(self._dense(self._t(x), self._t(w), self._t(b)))

    def dense_backward(self, dout, x, w, b=None):
        return self._grads(self._dense, dout, (x, w, b))

    def _unary(name, fn):  # noqa: N805 - builds methods at class creation
        def forward(self, x, **options):
            with torch.no_grad():
                return self._np(fn(self._t(x), **options))

        def backward(self, dout, x, **options):
            return self._grads(lambda x: fn(x, **options), dout, (x,))

        forward.__name__, backward.__name__ = f"{name}_forward", f"{name}_backward"
        return forward, backward

    relu_forward, relu_backward = _unary("relu", F.relu)
    leaky_relu_forward, leaky_relu_backward = _unary(
        "leaky_relu", lambda x, negative_slope=0.01: F.leaky_relu(x, negative_slope=negative_slope))
    tanh_forward, tanh_backward = _unary("tanh", torch.tanh)
    sigmoid_forward, sigmoid_backward = _unary("sigmoid", torch.sigmoid)
    softmax_forward, softmax_backward = _unary("softmax", lambda x, axis=1: torch.softmax(x, dim=axis))
    flatten_forward, flatten_backward = _unary("flatten", lambda x: x.reshape(x.shape[0], -1))
    del _unary

    @staticmethod
    def _batchnorm(x, gamma, beta, eps=1e-5):
        return F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)

    def batchnorm_forward(self, x, gamma, beta, eps=1e-5):
        with torch.no_grad():
            return self._np(self._batchnorm(self._t(x), self._t(gamma), self._t(beta), eps))

    def batchnorm_backward(self, dout, x, gamma, beta, eps=1e-5):
        return self._grads(lambda x, g, b: self._batchnorm(x, g, b, eps), dout, (x, gamma, beta))

    @staticmethod
    def _dropout(x, mask, p):
        return x * mask / (1 - p)

    def dropout_forward(self, x, mask, p=0.5):
        with torch.no_grad():
            return self._np(self._dropout(self._t(x), self._t(mask), p))

    def dropout_backward(self, dout, x, mask, p=0.5):
        return self._grads(lambda x, m: self._dropout(x, m, p), dout, (x, mask), wrt=(0,))

    # -- losses: (loss, dlogits), mean reduction ---------------------------------------------------
    def _loss(self, fn, logits, target):
        z = self._t(logits, grad=True)
        loss = fn(z, self._t(target))
        loss.backward()
        return float(loss.detach().cpu()), self._np(z.grad)

    def softmax_cross_entropy(self, logits, labels):
        return self._loss(lambda z, y: F.cross_entropy(z, y.long()), logits, labels)

    def binary_cross_entropy(self, logits, targets):
        return self._loss(lambda z, y: F.binary_cross_entropy_with_logits(z, y.to(z.dtype)), logits, targets)

    # -- issue 14: normalisation, cs231n's losses, inverted dropout --------------------------------
    # Same signatures as convcheck.reference.norm / losses / dropout; see their docstrings for the maths
    # and for how torch's conventions map onto cs231n's (momentum, unbiased variance, SVM's 1/C).
    def batchnorm_running_update(self, x, running_mean, running_var, momentum=0.9, unbiased=False):
        """torch's own running-statistics update (``F.batch_norm(training=True)`` on buffers, with
        torch's momentum ``1 − momentum``), then, for cs231n's biased variance, torch's unbiased batch
        variance scaled back by (m − 1)/m: ``rv = momentum·rv + (rv_torch − momentum·rv)·(m − 1)/m``."""
        xt = self._t(x)
        rm, rv = self._t(running_mean).clone(), self._t(running_var).clone()
        with torch.no_grad():
            F.batch_norm(xt, rm, rv, None, None, training=True, momentum=1 - momentum)
        if not unbiased:
            m = xt.numel() // xt.shape[1]
            old = momentum * self._t(running_var)
            rv = old + (rv - old) * ((m - 1) / m)
        return self._np(rm), self._np(rv)

    @staticmethod
    def _bn_test(x, gamma, beta, running_mean, running_var, eps):
        return F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=eps)

    def batchnorm_test_forward(self, x, gamma, beta, running_mean, running_var, eps=1e-5):
        with torch.no_grad():
            return self._np(self._bn_test(self._t(x), self._t(gamma), self._t(beta), self._t(running_mean),
                                          self._t(running_var), eps))

    def batchnorm_test_backward(self, dout, x, gamma, beta, running_mean, running_var, eps=1e-5):
        return self._grads(lambda x, g, b, rm, rv: self._bn_test(x, g, b, rm, rv, eps), dout,
                           (x, gamma, beta, running_mean, running_var), wrt=(0, 1, 2))

    def batchnorm_backward_alt(self, dout, x, gamma, beta, eps=1e-5):
        return self.batchnorm_backward(dout, x, gamma, beta, eps)

    def spatial_batchnorm_forward(self, x, gamma, beta, eps=1e-5):
        return self.batchnorm_forward(x, gamma, beta, eps)

    def spatial_batchnorm_backward(self, dout, x, gamma, beta, eps=1e-5):
        return self.batchnorm_backward(dout, x, gamma, beta, eps)

    @staticmethod
    def _layernorm(x, gamma, beta, eps):
        return F.layer_norm(x, tuple(x.shape[1:]), gamma, beta, eps=eps)

    def layernorm_forward(self, x, gamma, beta, eps=1e-5):
        with torch.no_grad():
            return self._np(self._layernorm(self._t(x), self._t(gamma), self._t(beta), eps))

    def layernorm_backward(self, dout, x, gamma, beta, eps=1e-5):
        return self._grads(lambda x, g, b: self._layernorm(x, g, b, eps), dout, (x, gamma, beta))

    def groupnorm_forward(self, x, gamma, beta, groups, eps=1e-5):
        with torch.no_grad():
            return self._np(F.group_norm(self._t(x), groups, self._t(gamma), self._t(beta), eps=eps))

    def groupnorm_backward(self, dout, x, gamma, beta, groups, eps=1e-5):
        return self._grads(lambda x, g, b: F.group_norm(x, groups, g, b, eps=eps), dout, (x, gamma, beta))

    def svm_loss(self, x, y):
        """``F.multi_margin_loss(margin=1)`` averages over N and C; cs231n's hinge loss over N only: × C."""
        return self._loss(lambda z, y: F.multi_margin_loss(z, y.long(), p=1, margin=1.0) * z.shape[1], x, y)

    def softmax_loss(self, x, y):
        return self.softmax_cross_entropy(x, y)

    def inverted_dropout_forward(self, x, p=0.5, seed=None, mode="train"):
        """torch has no dropout with a given mask: the course's mask (reference.dropout) applied with torch
        arithmetic, ``x · mask / p``. Random ops are graded by properties (checks.dropout), not by this."""
        if mode == "test":
            return np.array(x, copy=True)
        from convcheck.reference.dropout import inverted_dropout_mask
        with torch.no_grad():
            mask = self._t(inverted_dropout_mask(np.shape(x), p, seed))
            return self._np(self._t(x) * mask / p)

    def inverted_dropout_backward(self, dout, x, p=0.5, seed=None, mode="train"):
        if mode == "test":
            return np.array(dout, copy=True)
        from convcheck.reference.dropout import inverted_dropout_mask
        mask = self._t(inverted_dropout_mask(np.shape(x), p, seed))
        return self._grads(lambda x: x * mask / p, dout, (x,))

    def __repr__(self):
        return f"convcheck.checks.adapters.torch.make({str(self.device)!r})"


def make(device: str = "cpu") -> TorchOps:
    """torch's ops on ``device`` ('cpu', 'cuda', 'cuda:1', ...) behind the reference signatures."""
    return TorchOps(device)


_CPU = TorchOps("cpu")
OP_NAMES = tuple(name for name in dir(TorchOps) if not name.startswith("_") and callable(getattr(TorchOps, name)))
globals().update({name: getattr(_CPU, name) for name in OP_NAMES})
__all__ = ["make", "TorchOps", *OP_NAMES]
