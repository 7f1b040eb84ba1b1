"""The functional graph API and its spec format against hand-computed numbers (torch comparisons
are in test_graph_torch.py): summaries with "Connected to", the new layers' counts, Sequential
equivalence, whole-graph numerical gradients, and the errors with their line numbers."""

import json

import numpy as np
import pytest

from convcheck.checks.models import numerical_gradient_check, randomize
from convcheck.cli import main
from convcheck.reference import blocks as B
from convcheck.reference import model as M
from convcheck.reference.graph import Input, Model, is_graph_spec, parse_any_spec, parse_graph_spec

INCEPTION = """\
# one Inception module (GoogLeNet 3a, Szegedy et al. 2015, Table 1) on a 28x28x192 input
input 28x28x192
conv 64 1 relu as b1
from input
conv 96 1 relu
conv 128 3 pad same relu as b2
from input
conv 16 1 relu
conv 32 5 pad same relu as b3
from input
maxpool 3 stride 1 pad same
conv 32 1 relu as b4
concat b1 b2 b3 b4
"""


def test_inception_module_summary_rows_and_total():
    """Paper's Table 1, inception (3a): 64 + 128 + 32 + 32 = 256 channels; parameters by hand:
    (192+1)·64 + (192+1)·96 + (9·96+1)·128 + (192+1)·16 + (25·16+1)·32 + (192+1)·32 = 163,696."""
    model = parse_graph_spec(INCEPTION, name="inception3a")
    s = model.summary()
    assert s.total_params == 163_696 == 12_352 + 18_528 + 110_720 + 3_088 + 12_832 + 6_176
    assert model.output_shape == (28, 28, 256)
    last = s.rows[-1]
    assert (last.type, last.connected_to) == ("Concatenate", ("b1", "b2", "b3", "b4"))
    assert [r.connected_to for r in s.rows[:2]] == [("input",), ("input",)]
    text = str(s)
    assert "Connected to" in text.splitlines()[2] and "b1, b2, b3, b4" in text
    assert "input (InputLayer)" in text


def test_functional_api_builds_the_same_graph_as_the_spec():
    x = Input((28, 28, 192))
    b1 = M.Conv2D(64, 1, activation="relu")(x)
    b2 = M.Conv2D(128, 3, padding="same", activation="relu")(M.Conv2D(96, 1, activation="relu")(x))
    b3 = M.Conv2D(32, 5, padding="same", activation="relu")(M.Conv2D(16, 1, activation="relu")(x))
    b4 = M.Conv2D(32, 1, activation="relu")(M.MaxPool2D(3, strides=1, padding="same")(x))
    model = Model(x, B.Concatenate()([b1, b2, b3, b4]))
    spec = parse_graph_spec(INCEPTION)
    assert [(r.type, r.output_shape, r.params) for r in model.summary().rows] == \
           [(r.type, r.output_shape, r.params) for r in spec.summary().rows]
    assert model.count_params() == 163_696


def test_a_chain_graph_equals_the_sequential_model():
    layers = lambda: [M.Conv2D(4, 3, padding="same", activation="relu"), M.BatchNorm(), M.MaxPool2D(2),  # noqa
                      M.Flatten(), M.Dense(3, activation="softmax")]
    seq = M.Sequential(layers(), input_shape=(6, 6, 2)).init(3)
    x = y = Input((6, 6, 2))
    for layer in layers():
        y = layer(y)
    graph = Model(x, y).init(3)
    assert [(r.name, r.output_shape, r.params) for r in seq.summary().rows] == \
           [(r.name, r.output_shape, r.params) for r in graph.summary().rows]
    data = np.random.default_rng(0).standard_normal((4, 6, 6, 2))
    labels = np.array([0, 1, 2, 0])
    np.testing.assert_allclose(graph.forward(data), seq.forward(data), rtol=0, atol=0)
    ls, gs = seq.loss_and_grads(data, labels)
    lg, gg = graph.loss_and_grads(data, labels)
    assert ls == lg and gs.keys() == gg.keys()
    for k in gs:
        np.testing.assert_array_equal(gs[k], gg[k], err_msg=k)
    np.testing.assert_array_equal(seq.dx, graph.dx)


# --- parameter counts of the new layers, by hand ---------------------------------------------------------

@pytest.mark.parametrize("layer, shape, params", [
    (B.DepthwiseConv2D(3), (8, 8, 16), 3 * 3 * 16 + 16),                            # Howard et al. 2017, eq. 3
    (B.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False), (8, 8, 16), 3 * 3 * 32),
    (B.SeparableConv2D(32, 3), (8, 8, 16), 3 * 3 * 16 + 16 * 32 + 32),             # Keras SeparableConv2D
    (B.SeparableConv2D(32, 3, depth_multiplier=2, use_bias=False), (8, 8, 16), 3 * 3 * 32 + 32 * 32),
    (B.ZeroPadding2D(((1, 2), (0, 3))), (8, 8, 16), 0),
    (B.ChannelShuffle(4), (8, 8, 16), 0),
    (B.HardSwish(), (8, 8, 16), 0),
])
def test_new_layer_counts(layer, shape, params):
    x = Input(shape)
    model = Model(x, layer(x))
    assert model.count_params() == params, f"{layer.type}: {model.count_params()}, by hand {params}"


def test_shapes_of_the_new_layers():
    x = Input((7, 9, 6))
    assert B.ZeroPadding2D(((1, 2), (0, 3)))(x).shape == (10, 12, 6)
    assert B.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=3)(x).shape == (4, 5, 18)
    assert B.SeparableConv2D(5, 3)(x).shape == (5, 7, 5)
    assert B.ChannelSlice(2, 5)(x).shape == (7, 9, 3)
    assert B.CeilMaxPool2D(2, 2)(x).shape == (4, 5, 6)       # ⌈(7 − 2)/2⌉ + 1 = 4, floor would give 3
    assert M.MaxPool2D(2)(x).shape == (3, 4, 6)
    assert B.Reshape((1, 1, 6))(M.GlobalAvgPool2D()(x)).shape == (1, 1, 6)


def test_channel_shuffle_permutes_as_shufflenet():
    """Zhang et al. 2018 Fig. 1: with 2 groups of 3, channels (0 1 2 | 3 4 5) → (0 3 1 4 2 5)."""
    x = np.arange(6, dtype=float).reshape(1, 6, 1, 1)
    layer = B.ChannelShuffle(2)
    layer.build((6, 1, 1), "first")
    assert layer.forward(x).ravel().tolist() == [0, 3, 1, 4, 2, 5]
    assert layer.backward(layer.forward(x)).ravel().tolist() == list(range(6))


@pytest.mark.parametrize("act", [B.ReLU6, B.HardSwish, B.HardSigmoid, B.SiLU, B.GELU])
def test_activation_derivatives_equal_central_differences(act):
    z = np.linspace(-7.3, 7.1, 97)  # avoids the kinks at −3, 0, 3, 6
    h = 1e-6
    numeric = (act.f(z + h) - act.f(z - h)) / (2 * h)
    np.testing.assert_allclose(act.df(z), numeric, atol=1e-7, err_msg=act.__name__)


def test_activation_values():
    z = np.array([-4.0, -1.0, 0.0, 1.0, 7.0])
    np.testing.assert_allclose(B.ReLU6.f(z), [0, 0, 0, 1, 6])
    np.testing.assert_allclose(B.HardSigmoid.f(z), [0, 2 / 6, 0.5, 4 / 6, 1])
    np.testing.assert_allclose(B.HardSwish.f(z), [0, -2 / 6, 0, 4 / 6, 7])
    np.testing.assert_allclose(B.GELU.f(np.array([1.0])), [0.8413447460685429])  # Φ(1)
    np.testing.assert_allclose(B.SiLU.f(np.array([1.0])), [1 / (1 + np.exp(-1))])


# --- whole-graph gradients -----------------------------------------------------------------------------

def _se_residual_graph():
    x = Input((5, 5, 4))
    y = M.Conv2D(4, 3, padding="same", activation="tanh")(x)
    y = B.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(y)
    y = B.SiLU()(M.BatchNorm()(y))
    g = B.Reshape((1, 1, 8))(M.GlobalAvgPool2D()(y))
    g = B.HardSigmoid()(M.Conv2D(8, 1)(M.Conv2D(2, 1, activation="tanh")(g)))
    y = B.Multiply()([y, g])
    y = B.Add()([M.Conv2D(4, 1)(y), x])
    y = B.Concatenate()([y, B.SeparableConv2D(3, 3, padding="same")(B.ZeroPadding2D(0)(x))])
    y = B.ChannelShuffle(7)(y)
    return Model(x, M.Dense(3, activation="softmax")(M.GlobalAvgPool2D()(B.GELU()(y))))


@pytest.mark.parametrize("training", [False, True])
def test_graph_gradients_equal_central_differences(training):
    model = randomize(_se_residual_graph(), seed=1)
    x = np.random.default_rng(2).standard_normal((3, 5, 5, 4))
    err = numerical_gradient_check(model, x, np.array([0, 2, 1]), training=training, max_per_param=6)
    assert err < 1e-6


def test_a_tensor_used_twice_gets_the_sum_of_its_gradients():
    """y = x + x: ∂L/∂x = 2·dout (the multivariate chain rule)."""
    x = Input((2, 2, 1))
    model = Model(x, B.Add()([x, x])).init(0)
    model.forward(np.ones((1, 2, 2, 1)))
    model.backward(np.full((1, 2, 2, 1), 3.0))
    np.testing.assert_array_equal(model.dx, np.full((1, 2, 2, 1), 6.0))


# --- errors ---------------------------------------------------------------------------------------------

def test_merge_shape_errors_name_the_layer_and_shapes():
    x = Input((8, 8, 3))
    a, b = M.Conv2D(4, 3)(x), M.Conv2D(4, 1)(x)
    with pytest.raises(M.ModelError, match=r"Add on input shape \(6, 6, 4\), \(8, 8, 4\): Add needs inputs of one "
                                           r"shape, got \(6, 6, 4\), \(8, 8, 4\)"):
        B.Add()([a, b])
    with pytest.raises(M.ModelError, match=r"Concatenate needs equal sizes on every axis but channels"):
        B.Concatenate()([a, b])
    with pytest.raises(M.ModelError, match=r"call it on a list"):
        B.Add()(a)
    with pytest.raises(M.ModelError, match=r"at least 2 inputs"):
        B.Add()([a])


def test_graph_misuse_errors():
    x = Input((8, 8, 3))
    conv = M.Conv2D(4, 3)
    conv(x)
    with pytest.raises(M.ModelError, match=r"already called: a graph uses each layer once"):
        conv(x)
    with pytest.raises(M.ModelError, match=r"Model takes one Input\(...\) tensor"):
        Model(conv.output_tensor, conv.output_tensor)
    other = Input((8, 8, 3))
    with pytest.raises(M.ModelError, match=r"does not depend on the given Input"):
        Model(x, M.ReLU()(other))
    with pytest.raises(M.ModelError, match=r"symbolic tensors"):
        M.ReLU()(np.zeros((1, 8, 8, 3)))
    with pytest.raises(M.ModelError, match=r"Dense on input shape \(6, 6, 4\): Dense needs a flat input"):
        M.Dense(3)(conv.output_tensor)


SPEC_ERRORS = [
    ("input 8x8x3\nconv 4 3 as a\nadd a b\n", r"spec, line 3: 'add a b': unknown tensor 'b'; named so far: input, a"),
    ("input 8x8x3\nconv 4 3 as a\nconv 4 3 as a\n", r"line 3: .*the name 'a' is already taken"),
    ("input 8x8x3\nconv 4 3 as a\nconcat a\n", r"line 3: .*'concat' joins at least two named tensors"),
    ("input 8x8x3\nfrom nowhere\n", r"line 2: 'from nowhere': unknown tensor 'nowhere'"),
    ("input 8x8x3\nconv 4 3 as\n", r"line 2: .*expected 'as NAME' at the end of the line"),
    ("input 8x8x3\nrelu6\nresidual\n", r"line 3: 'residual': 'residual' blocks belong to Sequential specs"),
    ("input 8x8x3\nshuffle 2\n", r"line 2: ChannelShuffle on input shape \(8, 8, 3\).*divides"),
    ("input 8x8x3\nconv 4 3 as a\nfrom input\nconv 4 1 as b\nadd a b\n",
     r"spec, line 5: Add on input shape \(6, 6, 4\), \(8, 8, 4\)"),
    ("input 8x8x3\n\n# comment\ndepthwise 3 multiplier x\n", r"line 4: .*expected a depth multiplier"),
]


@pytest.mark.parametrize("text, message", SPEC_ERRORS)
def test_graph_spec_errors_are_line_numbered(text, message):
    with pytest.raises((M.SpecError, M.ModelError), match=message):
        parse_graph_spec(text)


def test_graph_spec_of_every_new_layer():
    text = """\
input 16x16x8
zeropad 1
depthwise 3 stride 2 multiplier 2 nobias as d
separable 8 3 pad same relu
hardswish
relu6 as r
from d
hardsigmoid
silu
gelu
swish
multiply r . as m
""".replace("multiply r . as m", "shuffle 4\nslice 0 8 as s\nmultiply r s as m\nmaxpool 3 stride 2 ceil\nreshape 1x1x128")
    model = parse_graph_spec(text)
    assert [r.type for r in model.summary().rows] == [
        "ZeroPadding2D", "DepthwiseConv2D", "SeparableConv2D", "HardSwish", "ReLU6", "HardSigmoid", "SiLU", "GELU",
        "SiLU", "ChannelShuffle", "ChannelSlice", "Multiply", "CeilMaxPool2D", "Reshape"]
    assert model.output_shape == (1, 1, 128)


def test_plain_specs_stay_sequential():
    plain = "input 28x28x1\nconv 32 3x3 relu\nmaxpool 2\n"
    assert not is_graph_spec(plain) and isinstance(parse_any_spec(plain), M.Sequential)
    assert is_graph_spec(INCEPTION) and isinstance(parse_any_spec(INCEPTION), Model)


def test_cli_summary_reads_a_graph_spec(tmp_path, capsys):
    path = tmp_path / "inception.txt"
    path.write_text(INCEPTION)
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Total params: 163,696" in out and "b1, b2, b3, b4" in out
    assert main(["summary", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["layers"][-1]["connected_to"] == ["b1", "b2", "b3", "b4"] and d["convention"] == "keras"
    path.write_text("input 8x8x3\nconv 4 3 as a\nadd a zz\n")
    assert main(["summary", str(path)]) == 2
    assert f"{path}, line 3: 'add a zz': unknown tensor 'zz'" in capsys.readouterr().err
