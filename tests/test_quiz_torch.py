"""Every numeric quiz template's answer equals what PyTorch produces, on many seeded variants.

Shapes are taken on the ``meta`` device (no arithmetic is done, only shape inference), parameter
counts from the modules' ``numel``; receptive fields and connections from autograd on real tensors.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convcheck.assignments import quiz

META = torch.device("meta")
seeds = st.integers(min_value=0, max_value=quiz.SEED_RANGE - 1)


def _answer_tuple(q):
    v = q.answer.value
    return tuple(v) if isinstance(v, tuple) else (v,)


def _tf_same_pads(n, k_eff, s):
    """Keras/TensorFlow 'same' padding, written independently of the reference."""
    out = math.ceil(n / s)
    total = max((out - 1) * s + k_eff - n, 0)
    return total // 2, total - total // 2


@given(seed=seeds)
def test_conv_out_1d_matches_torch(seed):
    q = quiz.question(f"conv-out-1d:{seed}")
    d = q.data
    y = F.conv1d(torch.empty(1, 1, d["n"], device=META), torch.empty(1, 1, d["kernel"], device=META),
                 stride=d["stride"], padding=d["padding"], dilation=d["dilation"])
    assert y.shape[-1] == q.answer.value, f"torch gives {y.shape[-1]}, quiz says {q.answer.value} [{q.id}]"


@given(seed=seeds)
def test_conv_out_2d_matches_torch(seed):
    q = quiz.question(f"conv-out-2d:{seed}")
    d = q.data
    conv = torch.nn.Conv2d(d["in_channels"], d["filters"], tuple(d["kernel"]), d["stride"], d["padding"],
                           d["dilation"], device=META)
    y = conv(torch.empty(1, d["in_channels"], *d["input"], device=META))
    assert tuple(y.shape[2:]) == q.answer.value, f"torch {tuple(y.shape)} vs quiz {q.answer.value} [{q.id}]"
    assert y.shape[1] == q.answer.channels


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@given(seed=seeds)
def test_conv_out_mode_matches_torch(seed):
    q = quiz.question(f"conv-out-mode:{seed}")
    d = q.data
    k, dil, dims = d["kernel"], d["dilation"], d["input"]
    padding = {"valid": 0, "same": "same", "full": dil * (k - 1)}[d["mode"]]
    conv = [F.conv1d, F.conv2d][len(dims) - 1]
    y = conv(torch.empty(1, 1, *dims, device=META), torch.empty(1, 1, *([k] * len(dims)), device=META),
             padding=padding, dilation=dil)
    assert tuple(y.shape[2:]) == _answer_tuple(q), f"torch {tuple(y.shape)} vs quiz {q.answer.value} [{q.id}]"


@given(seed=seeds)
def test_pad_mode_matches_torch(seed):
    q = quiz.question(f"pad-mode:{seed}")
    d = q.data
    n, k, dil, p = d["n"], d["kernel"], d["dilation"], q.answer.value
    x, w = torch.empty(1, 1, n, device=META), torch.empty(1, 1, k, device=META)
    got = F.conv1d(x, w, padding=p, dilation=dil).shape[-1]
    if d["mode"] == "same":
        assert got == n == F.conv1d(x, w, padding="same", dilation=dil).shape[-1], q.id
    else:  # full: every overlap, and one zero less per side loses the outermost overlaps
        assert got == n + dil * (k - 1), q.id
        assert F.conv1d(x, w, padding=p - 1, dilation=dil).shape[-1] == got - 2, q.id


@given(seed=seeds)
def test_effective_kernel_matches_torch(seed):
    q = quiz.question(f"effective-kernel:{seed}")
    k, dil = q.data["kernel"], q.data["dilation"]
    k_eff = _answer_tuple(q)[0]
    w = torch.empty(1, 1, k, device=META)
    # The dilated filter fits exactly once in an input as long as its span, and not in a shorter one.
    assert F.conv1d(torch.empty(1, 1, k_eff, device=META), w, dilation=dil).shape[-1] == 1, q.id
    with pytest.raises(RuntimeError):
        F.conv1d(torch.empty(1, 1, k_eff - 1), torch.ones(1, 1, k), dilation=dil)


@given(seed=seeds)
def test_pool_out_2d_matches_torch(seed):
    q = quiz.question(f"pool-out-2d:{seed}")
    d = q.data
    cls = torch.nn.MaxPool2d if d["kind"] == "max" else torch.nn.AvgPool2d
    y = cls(d["kernel"], d["stride"], d["padding"])(torch.zeros(1, d["channels"], *d["input"]))
    assert tuple(y.shape[2:]) == q.answer.value and y.shape[1] == q.answer.channels, q.id


def _torch_stack_length(n, stack):
    x = torch.zeros(1, 1, n)
    for layer in stack:
        if layer["op"] == "conv":
            k_eff = layer["d"] * (layer["width"] - 1) + 1
            if layer["pad"] == "same":
                x = F.pad(x, _tf_same_pads(x.shape[-1], k_eff, layer["stride"]))
            x = F.conv1d(x, torch.ones(1, 1, layer["width"]), stride=layer["stride"], dilation=layer["d"])
        else:
            if layer["pad"] == "same":
                x = F.pad(x, _tf_same_pads(x.shape[-1], layer["width"], layer["stride"]), value=-math.inf)
            x = F.max_pool1d(x, layer["width"], layer["stride"])
    return x.shape[-1]


@given(seed=seeds)
def test_stack_not_length_matches_torch(seed):
    q = quiz.question(f"stack-not-length:{seed}")
    n, target = q.data["n"], q.data["target"]
    lengths = [_torch_stack_length(n, stack) for stack in q.data["stacks"]]
    odd = [i for i, length in enumerate(lengths) if length != target]
    assert odd == [q.answer.value], f"torch lengths {lengths}, target {target} [{q.id}]"


@given(seed=seeds)
def test_conv_params_matches_torch(seed):
    q = quiz.question(f"conv-params:{seed}")
    d = q.data
    cls = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d}[len(d["kernel"])]
    conv = cls(d["in_channels"], d["filters"], tuple(d["kernel"]), bias=d["bias"], device=META)
    assert sum(p.numel() for p in conv.parameters()) == q.answer.value, q.id


@given(seed=seeds)
def test_dense_params_matches_torch(seed):
    q = quiz.question(f"dense-params:{seed}")
    d = q.data
    dense = torch.nn.Linear(d["in_features"], d["units"], bias=d["bias"], device=META)
    assert sum(p.numel() for p in dense.parameters()) == q.answer.value, q.id


def _torch_model(model):
    """Build the model layer by layer on the meta device; return (modules, shapes as H×W×C or (n,))."""
    h, w, c = model["input"]
    x = torch.empty(1, c, h, w, device=META)
    modules, shapes = [], []
    for layer in model["layers"]:
        if layer["type"] == "conv":
            m = torch.nn.Conv2d(x.shape[1], layer["filters"], layer["kernel"], padding=layer["padding"],
                                device=META)
        elif layer["type"] == "maxpool":
            m = torch.nn.MaxPool2d(layer["size"])
        elif layer["type"] == "flatten":
            m = torch.nn.Flatten()
        else:
            m = torch.nn.Linear(x.shape[1], layer["units"], device=META)
        x = m(x)
        modules.append(m)
        shapes.append((x.shape[2], x.shape[3], x.shape[1]) if x.dim() == 4 else (x.shape[1],))
    return modules, shapes


@given(seed=seeds)
def test_model_params_matches_torch(seed):
    q = quiz.question(f"model-params:{seed}")
    modules, _ = _torch_model(q.data["model"])
    assert sum(p.numel() for m in modules for p in m.parameters()) == q.answer.value, q.id


@given(seed=seeds)
def test_model_shape_matches_torch(seed):
    q = quiz.question(f"model-shape:{seed}")
    _, shapes = _torch_model(q.data["model"])
    expected = shapes[q.data["layer"]]
    if q.answer.kind == "int":
        assert expected == (q.answer.value,), q.id
    else:
        assert expected == q.answer.value + (q.answer.channels,), q.id


@given(seed=seeds)
def test_activation_memory_matches_torch(seed):
    q = quiz.question(f"activation-memory:{seed}")
    d = q.data
    dtype = getattr(torch, d["dtype"])
    conv = torch.nn.Conv2d(d["input"][2], d["filters"], d["kernel"], device=META, dtype=dtype)
    y = conv(torch.empty(1, d["input"][2], d["input"][0], d["input"][1], device=META, dtype=dtype))
    assert y.numel() * y.element_size() == q.answer.value, q.id


@given(seed=seeds)
def test_receptive_field_matches_torch_autograd(seed):
    q = quiz.question(f"receptive-field:{seed}")
    layers = q.data["layers"]
    rf = _answer_tuple(q)[0]
    jump = math.prod(s for _, s, _ in layers)
    x = torch.zeros(1, 1, rf + 3 * jump, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, dil in layers:  # positive weights: no cancellation can hide a connection
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=dil)
    y[0, 0, 0].backward()
    seen = torch.nonzero(x.grad[0, 0]).flatten()
    assert int(seen.max() - seen.min()) + 1 == rf, f"torch span {int(seen.max() - seen.min()) + 1} [{q.id}]"
    if q.answer.kind == "shape":
        assert q.answer.value == (rf, rf)


@given(seed=seeds)
def test_connections_match_torch_jacobian(seed):
    q = quiz.question(f"connections:{seed}")
    d = q.data
    n, k = d["n"], d["kernel"]
    padding = 0 if d["mode"] == "valid" else (k - 1) // 2
    w = torch.ones(1, 1, k, dtype=torch.float64)

    def layer(x):
        return F.conv1d(x.view(1, 1, n), w, stride=d["stride"], padding=padding).flatten()

    jacobian = torch.autograd.functional.jacobian(layer, torch.ones(n, dtype=torch.float64))
    assert int(torch.count_nonzero(jacobian)) == q.answer.value, q.id
    dense = torch.nn.Linear(n, n, bias=False, device=META)
    assert dense.weight.numel() == d["dense"], q.id


@given(seed=seeds)
def test_transposed_out_matches_torch(seed):
    q = quiz.question(f"transposed-out:{seed}")
    d = q.data
    cls = torch.nn.ConvTranspose2d if d["ndim"] == 2 else torch.nn.ConvTranspose1d
    layer = cls(1, 1, d["kernel"], d["stride"], d["padding"], d["output_padding"], dilation=d["dilation"], device=META)
    y = layer(torch.empty(1, 1, *([d["n"]] * d["ndim"]), device=META))
    assert tuple(y.shape[2:]) == _answer_tuple(q), f"torch {tuple(y.shape)} vs quiz {q.answer.value} [{q.id}]"


@given(seed=seeds)
def test_conv_macs_matches_torch(seed):
    """MACs counted from torch: each output value of a conv is one dot product over the weight."""
    q = quiz.question(f"conv-macs:{seed}")
    d = q.data
    h, _, c = d["input"]
    conv = torch.nn.Conv2d(c, d["filters"], d["kernel"], d["stride"], d["padding"], bias=False, device=META)
    y = conv(torch.empty(1, c, h, h, device=META))
    macs = y.numel() * conv.weight[0].numel()
    assert q.answer.value == (2 * macs if d["flops"] else macs), q.id


@given(seed=seeds)
def test_activation_memory_batch_matches_torch(seed):
    q = quiz.question(f"activation-memory-batch:{seed}")
    d = q.data
    dtype = getattr(torch, d["dtype"])
    h, _, c = d["input"]
    conv = torch.nn.Conv2d(c, d["filters"], d["kernel"], d["stride"], d["padding"], device=META, dtype=dtype)
    y = conv(torch.empty(d["batch"], c, h, h, device=META, dtype=dtype))
    assert y.numel() * y.element_size() == q.answer.value, q.id


@given(seed=seeds)
def test_separable_params_matches_torch(seed):
    q = quiz.question(f"separable-params:{seed}")
    d = q.data
    c, f, k, bias = d["in_channels"], d["filters"], d["kernel"], d["bias"]
    block = torch.nn.Sequential(torch.nn.Conv2d(c, c, k, groups=c, bias=bias, device=META),
                                torch.nn.Conv2d(c, f, 1, bias=bias, device=META))
    assert sum(p.numel() for p in block.parameters()) == q.answer.value, q.id


NUMERIC = [t.name for t in quiz.TEMPLATES.values() if t.topic != "concepts"]


def test_every_numeric_template_has_a_torch_test():
    import test_graph_quiz  # the branched-architecture templates are proven there

    tested = {name.removeprefix("test_").split("_match")[0].replace("_", "-")
              for name in [*globals(), *vars(test_graph_quiz)] if name.startswith("test_") and "match" in name}
    assert set(NUMERIC) <= tested, f"templates without a torch test: {sorted(set(NUMERIC) - tested)}"
