"""The model builder against PyTorch: random valid models and the bundled ones, exported with the
same weights — row shapes and parameter counts, forward, and backward (float64 autograd)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from convcheck.checks import models as CM
from convcheck.checks.export import activation_shapes, to_torch, torch_grads
from convcheck.checks.profiles import examples
from convcheck.checks.tolerances import tolerance
from convcheck.reference.model import Conv2D, Dense, Flatten, Sequential, load_bundled

CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                         reason="no CUDA device")])


@pytest.fixture(autouse=True)
def _no_tf32():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


@given(CM.models())
def test_random_models_summary_rows_equal_torch_shapes_and_numel(model):
    CM.check_summary_matches_torch(model)


@given(CM.models())
def test_random_models_forward_and_backward_equal_torch_at_inference(model):
    CM.check_forward_backward_matches_torch(model, seed=1, training=False)


@given(CM.models(dropout=False))
def test_random_models_forward_and_backward_equal_torch_in_training(model):
    """Batch norm on batch statistics, and the running statistics updated the same way."""
    CM.check_forward_backward_matches_torch(model, seed=2, training=True)


@settings(max_examples=examples(10))
@given(CM.models(head="dense", dropout=False))
def test_random_classifiers_loss_gradient_equals_torch_cross_entropy(model):
    """``loss_and_grads`` (softmax folded into the loss) equals torch's cross-entropy autograd."""
    CM.randomize(model, seed=3)
    exported = to_torch(model)
    x = CM.random_input(model, batch=3, seed=3)
    y = np.arange(3) % model.output_shape[0]
    loss, grads = model.loss_and_grads(x, y, training=False)
    exported.eval()
    out = exported(torch.tensor(x))
    if isinstance(exported.layers[-1][-1], torch.nn.Softmax):
        out = torch.log(out)  # cross-entropy of probabilities: NLL of their log
        loss_t = torch.nn.functional.nll_loss(out, torch.tensor(y))
    else:
        loss_t = torch.nn.functional.cross_entropy(out, torch.tensor(y))
    loss_t.backward()
    tol = tolerance("float64", CM.reduction_length(model))
    CM.assert_close("loss", np.array(loss), np.array(loss_t.item()), tol, "loss_and_grads")
    expected = torch_grads(exported)
    for key in grads:
        CM.assert_close(f"d[{key}]", grads[key], expected[key], tol, "loss_and_grads")


@pytest.mark.parametrize("name", ["lenet-course", "lenet5", "alexnet", "vgg11", "vgg16", "resnet18"])
def test_bundled_summaries_equal_torch_on_the_meta_device(name):
    """Shapes and counts of every row against torch modules that allocate nothing."""
    CM.check_summary_matches_torch(load_bundled(name), device="meta")


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("training", [False, True])
def test_course_lenet_forward_and_backward_equal_torch(device, training):
    CM.check_forward_backward_matches_torch(load_bundled("lenet-course"), seed=5, training=training, batch=4,
                                            device=device)


def test_resnet_block_forward_and_backward_equal_torch():
    """The first stages of ResNet-18 (stem, an identity block, a projection block) on a small input."""
    from convcheck.reference.model import parse_spec, bundled_text
    lines = bundled_text("resnet18").splitlines()
    cut = [i for i, line in enumerate(lines) if line.startswith("# layer2.1")][0]
    spec = "\n".join(lines[:cut]).replace("input 224x224x3", "input 32x32x3") + "\nglobalavgpool\ndense 4\n"
    model = parse_spec(spec)
    for training in (False, True):
        CM.check_forward_backward_matches_torch(model, seed=6, training=training)


def test_keras_same_padding_is_reproduced_with_an_explicit_pad():
    """Stride-2 'same' on an even size pads (0, 1): torch's symmetric padding cannot, F.pad can."""
    model = Sequential([Conv2D(2, 3, strides=2, padding="same")], input_shape=(6, 6, 1))
    exported = to_torch(model.init(0))
    pad, conv = exported.layers[0][0], exported.layers[0][1]
    assert pad.flat == (0, 1, 0, 1) and conv.padding == (0, 0)
    CM.check_forward_backward_matches_torch(model, seed=7)


def test_a_wrong_export_is_caught(monkeypatch):
    """The comparison is not vacuous: one perturbed weight in the torch module fails it."""
    real = CM.to_torch

    def broken(model, **kwargs):
        exported = real(model, **kwargs)
        with torch.no_grad():
            exported.layers[-1][0].weight[0, 0] += 0.5
        return exported

    monkeypatch.setattr(CM, "to_torch", broken)
    model = Sequential([Conv2D(2, 3), Flatten(), Dense(3)], input_shape=(5, 5, 1))
    with pytest.raises(AssertionError, match=r"out differs at \[\d+, 0\]"):
        CM.check_forward_backward_matches_torch(model)


def test_a_wrong_summary_is_caught(monkeypatch):
    model = Sequential([Conv2D(2, 3), Flatten(), Dense(3)], input_shape=(5, 5, 1))
    model.layers[0].output_shape = (2, 4, 4)  # the truth is (2, 3, 3)
    with pytest.raises(AssertionError, match=r"conv2d \(Conv2D\): torch activation shape \(N, \*\)\(2, 3, 3\)"):
        CM.check_summary_matches_torch(model)


def test_exported_weights_are_the_models():
    model = CM.randomize(load_bundled("lenet-course"), seed=8)
    exported = model.to_torch()
    assert np.array_equal(exported.layers[5][0].weight.detach().numpy(), model.params["dense.w"].T)
    assert np.array_equal(exported.layers[0][0].weight.detach().numpy(), model.params["conv2d.w"])
    assert activation_shapes(exported, torch.zeros((1, 32, 32, 3), dtype=torch.float64))[-1] == (10,)
