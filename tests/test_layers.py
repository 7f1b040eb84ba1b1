"""Dense, activations, flatten, batch norm, dropout and the losses: torch on fixed inputs, numerical
stability at extreme logits, bad input, dtypes and purity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convcheck import reference as ref
from _layer_helpers import assert_close

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3, 5, 2))
X.setflags(write=False)


def _t(a):
    return torch.tensor(np.array(a), requires_grad=True)


def _compare(name, fwd, bwd, torch_fn, inputs, constants=()):
    """Forward and every gradient of the reference against torch autograd (float64, 1e-12)."""
    ts = [_t(a) for a in inputs]
    ty = torch_fn(*ts)
    dout = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(dout))
    assert_close(fwd(*inputs, *constants), ty.detach().numpy(), "out", f"{name}_forward", rtol=1e-12, atol=1e-12)
    grads = bwd(dout, *inputs, *constants)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for gname, g, t in zip(("dx", "dw", "db"), grads, ts):
        assert_close(g, t.grad.numpy(), gname, f"{name}_backward", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, torch_fn", [
    ("relu", F.relu), ("leaky_relu", F.leaky_relu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid),
    ("softmax", lambda t: F.softmax(t, dim=1)), ("flatten", lambda t: t.flatten(1)),
])
def test_elementwise_ops_match_torch(name, torch_fn):
    _compare(name, getattr(ref, f"{name}_forward"), getattr(ref, f"{name}_backward"), torch_fn, [X])


def test_relu_gradient_at_zero_is_zero_like_torch():
    x = np.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(ref.relu_backward(np.ones((1, 3)), x), [[0, 0, 1]])
    np.testing.assert_array_equal(ref.leaky_relu_backward(np.ones((1, 3)), x), [[0.01, 0.01, 1]])


@pytest.mark.parametrize("with_bias", [True, False])
def test_dense_matches_torch_and_flattens_x(with_bias):
    w, b = RNG.standard_normal((30, 7)), RNG.standard_normal(7)
    if with_bias:
        _compare("dense", ref.dense_forward, ref.dense_backward, lambda x, w, b: x.flatten(1) @ w + b, [X, w, b])
    else:
        _compare("dense", ref.dense_forward, ref.dense_backward, lambda x, w: x.flatten(1) @ w, [X, w])
        assert ref.dense_backward(np.ones((4, 7)), X, w)[2] is None


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (4, 3, 5, 2), (2, 3, 2, 2, 2)])
def test_batchnorm_matches_torch_in_training_mode(shape):
    x, g, b = RNG.standard_normal(shape) * 3 + 1, RNG.standard_normal(3), RNG.standard_normal(3)
    _compare("batchnorm", ref.batchnorm_forward, ref.batchnorm_backward,
             lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True, eps=1e-5), [x, g, b])


def test_dropout_scales_kept_units_like_torch():
    p = 0.3
    mask = RNG.random(X.shape) >= p
    _compare("dropout", ref.dropout_forward, ref.dropout_backward,
             lambda x: x * torch.tensor(mask) / (1 - p), [X], constants=(mask, p))
    # torch's own dropout keeps E[out] = x with the same 1/(1 − p) scale: kept units are x/(1 − p)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        t = F.dropout(torch.tensor(X), p=p, training=True)
    kept = t.numpy() != 0
    np.testing.assert_allclose(ref.dropout_forward(X, kept, p)[kept], t.numpy()[kept], rtol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_softmax_cross_entropy_matches_torch_and_is_stable(scale):
    for shape, lshape in (((5, 4), (5,)), ((3, 4, 2, 2), (3, 2, 2))):
        z = RNG.standard_normal(shape) * scale
        labels = RNG.integers(0, 4, lshape)
        tz = _t(z)
        loss_t = F.cross_entropy(tz, torch.tensor(labels))
        loss_t.backward()
        loss, dz = ref.softmax_cross_entropy(z, labels)
        assert np.isfinite(loss), f"loss={loss} at logits of size {scale}"
        assert_close(loss, loss_t.item(), "loss", "softmax_cross_entropy", rtol=1e-12, atol=1e-12)
        assert_close(dz, tz.grad.numpy(), "dlogits", "softmax_cross_entropy", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_binary_cross_entropy_matches_torch_and_is_stable(scale):
    z, t = RNG.standard_normal((6, 3)) * scale, RNG.random((6, 3))
    tz = _t(z)
    loss_t = F.binary_cross_entropy_with_logits(tz, torch.tensor(t))
    loss_t.backward()
    loss, dz = ref.binary_cross_entropy(z, t)
    assert np.isfinite(loss), f"loss={loss} at logits of size {scale}"
    assert_close(loss, loss_t.item(), "loss", "binary_cross_entropy", rtol=1e-12, atol=1e-12)
    assert_close(dz, tz.grad.numpy(), "dlogits", "binary_cross_entropy", rtol=1e-12, atol=1e-12)


def test_sigmoid_and_softmax_do_not_overflow():
    big = np.array([[-1000.0, 0.0, 1000.0]])
    with np.errstate(over="raise"):
        np.testing.assert_array_equal(ref.sigmoid_forward(big), [[0.0, 0.5, 1.0]])
        np.testing.assert_allclose(ref.softmax_forward(big), [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize("call, match", [
    (lambda: ref.dense_forward(X, np.ones((29, 2))), "w"),
    (lambda: ref.dense_forward(X, np.ones((30, 2)), np.ones(3)), "b"),
    (lambda: ref.dense_forward(np.ones(3), np.ones((3, 2))), "x"),
    (lambda: ref.relu_backward(np.ones((2, 2)), X), "dout.shape"),
    (lambda: ref.softmax_forward(X, axis=4), "axis"),
    (lambda: ref.batchnorm_forward(X, np.ones(2), np.ones(3)), "gamma"),
    (lambda: ref.batchnorm_forward(X, np.ones(3), np.ones(4)), "beta"),
    (lambda: ref.batchnorm_forward(np.ones((1, 3)), np.ones(3), np.ones(3)), "more than one"),
    (lambda: ref.dropout_forward(X, np.ones((2, 2)), 0.5), "mask"),
    (lambda: ref.dropout_forward(X, np.ones(X.shape), 1.0), "p"),
    (lambda: ref.softmax_cross_entropy(np.ones((3, 4)), np.array([0, 1])), "labels"),
    (lambda: ref.softmax_cross_entropy(np.ones((3, 4)), np.array([0, 1, 4])), "labels"),
    (lambda: ref.softmax_cross_entropy(np.ones((3, 4)), np.array([0.0, 1.0, 2.0])), "labels"),
    (lambda: ref.binary_cross_entropy(np.ones((3, 4)), np.ones((3, 3))), "targets"),
    (lambda: ref.binary_cross_entropy(np.ones((3, 4)), np.full((3, 4), 2.0)), "targets"),
    (lambda: ref.flatten_forward(np.ones((0, 3))), "x"),
])
def test_layers_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_float32_stays_float32():
    x = X.astype(np.float32)
    for name in ("relu", "leaky_relu", "tanh", "sigmoid", "softmax", "flatten"):
        out = getattr(ref, f"{name}_forward")(x)
        dx = getattr(ref, f"{name}_backward")(np.ones_like(out), x)
        assert out.dtype == dx.dtype == np.float32, f"{name}: out.dtype={out.dtype}, dx.dtype={dx.dtype}"
    g = np.ones(3, np.float32)
    assert ref.batchnorm_forward(x, g, g).dtype == np.float32
    assert all(a.dtype == np.float32 for a in ref.batchnorm_backward(x, x, g, g))
    loss, dz = ref.softmax_cross_entropy(x[:, :, 0, 0], np.array([0, 1, 2, 0]))
    assert loss.dtype == dz.dtype == np.float32
    loss, dz = ref.binary_cross_entropy(x, np.zeros(x.shape, np.float32))
    assert loss.dtype == dz.dtype == np.float32


def test_ops_lists_every_public_op_of_the_reference():
    """OPS is the registry the checks and the grader look ops up in: nothing public may be missing."""
    import inspect

    from convcheck.reference import conv, layers, params, pool, shapes

    public = {name for module in (conv, pool, layers, shapes, params)
              for name, obj in vars(module).items()
              if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_")}
    helpers = {"as_float_array", "check_batch", "per_dim", "conv_pads", "windows", "im2col", "col2im"}
    missing = public - helpers - set(ref.OPS)
    assert not missing, f"OPS lacks {sorted(missing)}"
    for name, fn in ref.OPS.items():
        assert callable(fn) and fn.__name__ == name, f"OPS[{name!r}] is {fn!r}"
