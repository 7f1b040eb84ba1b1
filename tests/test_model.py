"""The model builder against the course and the published numbers (torch comparisons are in
test_model_torch.py): summaries, the spec format and its errors, invalid models, and whole-model numerical gradients."""

import json

import numpy as np
import pytest

from convcheck.checks.models import numerical_gradient_check, randomize
from convcheck.cli import main
from convcheck.reference import model as M
from convcheck.reference.model import (
    AvgPool2D, BatchNorm, Conv1D, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ModelError,
    Residual, Sequential, SpecError, load_bundled, parse_spec,
)


def shapes_and_params(model):
    return [(r.output_shape, r.params) for r in model.summary().rows]


# --- published totals and the course's tables --------------------------------------------------------

PUBLISHED = {  # trainable parameters: the course's table, LeCun's LeNet-5, torchvision's models
    "lenet-course": 62_006, "lenet5": 61_706, "alexnet": 61_100_840, "vgg11": 132_863_336,
    "vgg16": 138_357_544, "resnet18": 11_689_512,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_bundled_totals_equal_the_published_numbers(name):
    s = load_bundled(name).summary()
    assert s.trainable_params == PUBLISHED[name], f"{name}: trainable_params={s.trainable_params:,}, " \
                                                  f"but should be {PUBLISHED[name]:,}"
    assert s.total_params == s.trainable_params + s.non_trainable_params


def test_every_bundled_model_is_tested():
    assert sorted(M.bundled_names()) == sorted(PUBLISHED)


def test_resnet18_running_statistics_are_the_only_non_trainable_weights():
    # 20 batch norms over 64·5 + 128·5 + 256·5 + 512·5 = 4,800 channels, 2 running statistics each.
    s = load_bundled("resnet18").summary()
    assert s.non_trainable_params == 9_600
    assert s.total_params == 11_699_112
    assert load_bundled("resnet18").count_params() == 11_699_112  # Keras counts every weight


def test_course_lenet_table_row_by_row():
    rows = load_bundled("lenet-course").summary().rows
    assert [(r.type, r.output_shape, r.params) for r in rows] == [
        ("Conv2D", (28, 28, 6), 456), ("MaxPool2D", (14, 14, 6), 0),
        ("Conv2D", (10, 10, 16), 2416), ("MaxPool2D", (5, 5, 16), 0), ("Flatten", (400,), 0),
        ("Dense", (120,), 48120), ("Dense", (84,), 10164), ("Dense", (10,), 850),
    ]
    # The course table's comment column: (5 x 5 x 3 + 1) x 6, (400 + 1) x 120, ...
    assert [r.formula for r in rows if r.params] == [
        "(5 x 5 x 3 + 1) x 6", "(5 x 5 x 6 + 1) x 16", "(400 + 1) x 120", "(120 + 1) x 84", "(84 + 1) x 10"]


def test_classic_lenet5_rows():
    assert shapes_and_params(load_bundled("lenet5")) == [
        ((28, 28, 6), 156), ((14, 14, 6), 0), ((10, 10, 16), 2416), ((5, 5, 16), 0), ((400,), 0),
        ((120,), 48120), ((84,), 10164), ((10,), 850)]


def test_alexnet_and_vgg_reach_the_classifier_at_6x6_and_7x7():
    # torchvision's adaptive pool is then the identity, so the plain sequence is the same network.
    assert [r.output_shape for r in load_bundled("alexnet").summary().rows if r.type == "Flatten"] == [(9216,)]
    for name in ("vgg11", "vgg16"):
        rows = load_bundled(name).summary().rows
        flatten = [i for i, r in enumerate(rows) if r.type == "Flatten"][0]
        assert rows[flatten - 1].output_shape == (7, 7, 512)


def keras_example(padding, strides=1):
    """The course's Keras padding demos (notes 002): three 3×3 convs of 32 filters on 28×28×1."""
    convs = [Conv2D(32, kernel_size=(3, 3), padding=padding, strides=strides, activation="relu") for _ in range(3)]
    return Sequential(convs + [Flatten(), Dense(128, activation="relu"), Dense(10, activation="softmax")],
                      input_shape=(28, 28, 1))


@pytest.mark.parametrize("padding, strides, sizes, flat", [
    ("valid", 1, [26, 24, 22], 15488),
    ("same", 1, [28, 28, 28], 25088),
    ("same", 2, [14, 7, 4], 512),
])
def test_course_keras_padding_and_stride_examples(padding, strides, sizes, flat):
    got = shapes_and_params(keras_example(padding, strides))
    assert got[:4] == [((sizes[0], sizes[0], 32), 320), ((sizes[1], sizes[1], 32), 9248),
                       ((sizes[2], sizes[2], 32), 9248), ((flat,), 0)]


def test_course_keras_pooling_example():
    model = Sequential([Conv2D(32, (3, 3), activation="relu"), MaxPool2D((2, 2), strides=2, padding="valid"),
                        Conv2D(32, (3, 3), activation="relu"), MaxPool2D((2, 2), strides=2, padding="valid"),
                        Flatten(), Dense(128, activation="relu"), Dense(10, activation="softmax")],
                       input_shape=(28, 28, 1))
    assert shapes_and_params(model)[:5] == [((26, 26, 32), 320), ((13, 13, 32), 0), ((11, 11, 32), 9248),
                                            ((5, 5, 32), 0), ((800,), 0)]


def test_course_parameter_questions():
    # 20 filters of 3×3×3 → 560; 50 of them → 1400, whatever the image size (notes 001, 002).
    for n, filters, expected in ((6, 20, 560), (1080, 50, 1400)):
        model = Sequential([Conv2D(filters, 3)], input_shape=(n, n, 3))
        assert model.count_params() == expected


def test_channels_first_reports_shapes_channels_first():
    model = Sequential([Conv2D(6, 5), MaxPool2D(2)], input_shape=(3, 32, 32), channels="first")
    assert [r.output_shape for r in model.summary().rows] == [(6, 28, 28), (6, 14, 14)]


def test_same_padding_is_asymmetric_like_keras():
    # 28 at stride 2 with a 3×3 kernel: P = (14 − 1)·2 + 3 − 28 = 1, split (0, 1) — the extra at the end.
    conv = Conv2D(1, 3, strides=2, padding="same")
    Sequential([conv], input_shape=(28, 28, 1))
    assert conv.pads == ((0, 1), (0, 1))
    # Same split for the 'same' max pool: 5 → ⌈5/2⌉ = 3 windows, P = 1 → (0, 1).
    pool = MaxPool2D(2, padding="same")
    Sequential([pool], input_shape=(5, 5, 1))
    assert pool.same_pads == ((0, 1), (0, 1))


def test_same_padding_values_match_a_hand_computation():
    # 1×4 input, kernel [1, 1] with 'same' at stride 1: pad (0, 1), so out = [x0+x1, x1+x2, x2+x3, x3].
    model = Sequential([Conv1D(1, 2, padding="same", use_bias=False)], input_shape=(4, 1)).init(0)
    model.set_params({"conv1d.w": np.ones((1, 1, 2))})
    out = model.forward(np.array([[[1.0], [2.0], [3.0], [4.0]]]))
    assert out[0, :, 0].tolist() == [3.0, 5.0, 7.0, 4.0]
    # Keras' 'same' average pool ignores the padding: [1, 2, 3] with window 2 → [1.5, 2.5, 3].
    model = Sequential([M.AvgPool1D(2, strides=1, padding="same")], input_shape=(3, 1)).init(0)
    assert model.forward(np.array([[[1.0], [2.0], [3.0]]]))[0, :, 0].tolist() == [1.5, 2.5, 3.0]


def test_summary_table_and_json():
    s = load_bundled("lenet-course").summary()
    text = str(s)
    for fragment in ("Layer (type)", "conv2d (Conv2D)", "(28, 28, 6)", "48,120", "Total params: 62,006",
                     "Trainable params: 62,006", "Non-trainable params: 0", "(5 x 5 x 3 + 1) x 6"):
        assert fragment in text, f"{fragment!r} missing from the summary table:\n{text}"
    data = json.loads(s.to_json())
    assert data["total_params"] == 62006 and [l["params"] for l in data["layers"]][:3] == [456, 0, 2416]


def test_layer_names_follow_keras():
    names = [r.name for r in load_bundled("lenet-course").summary().rows]
    assert names == ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten", "dense", "dense_1",
                     "dense_2"]


# --- the spec format ------------------------------------------------------------------------------

def test_spec_options_reach_the_layers():
    model = parse_spec("""
        input 3x32x32 channels first   # a comment
        conv 16 5x3 stride 2 pad same dilation 2 groups 1 nobias tanh
        maxpool 3 stride 2 pad 1
        batchnorm momentum 0.2 eps 0.001
        residual
          conv 16 3 pad same
          relu
        end
        avgpool 2 pad same
        globalmaxpool
        dropout 0.5
        dense 10 nobias softmax
    """)
    conv, pool, bn, res, avg, _, drop, dense = model.layers
    assert (conv.filters, conv.kernel_size, conv.strides, conv.padding, conv.dilation_rate, conv.use_bias,
            conv.activation) == (16, (5, 3), (2, 2), "same", (2, 2), False, "tanh")
    assert (pool.pool_size, pool.strides, pool.padding) == ((3, 3), (2, 2), 1)
    assert (bn.momentum, bn.epsilon) == (0.2, 0.001)
    assert isinstance(res, Residual) and res.shortcut == [] and len(res.body) == 2
    assert avg.padding == "same" and drop.rate == 0.5 and dense.activation == "softmax" and not dense.use_bias
    assert model.channels == "first" and model.output_shape == (10,)


def test_spec_1d_input_gives_1d_layers():
    model = parse_spec("input 100x4\nconv 8 5 relu\nmaxpool 2\nglobalavgpool\ndense 3")
    assert [type(l).__name__ for l in model.layers] == ["Conv1D", "MaxPool1D", "GlobalAvgPool1D", "Dense"]
    assert model.summary().rows[0].output_shape == (96, 8)


def test_spec_projection_shortcut():
    model = parse_spec("input 8x8x4\nresidual\nconv 8 3 stride 2 pad same\nshortcut projection\nend")
    block = model.layers[0]
    assert [type(l).__name__ for l in block.shortcut] == ["Conv2D", "BatchNorm"]
    assert block.shortcut[0].strides == (2, 2) and model.output_shape == (4, 4, 8)


@pytest.mark.parametrize("text, line, expected", [
    ("conv 6 5x5", 1, "expected the first line to be 'input HxWxC'"),
    ("input 32x32x3\nconv 6 5y5 relu", 2, "expected a kernel size (a number like 5 or 5x5), got '5y5'"),
    ("input 32x32x3\nconv 6", 2, "expected a kernel size"),
    ("input 32x32x3\nconvolution 6 5", 2, "unknown layer 'convolution'; expected one of: conv,"),
    ("input 32x32x3\nconv 6 5 stride", 2, "expected a stride"),
    ("input 32x32x3\nconv 6 5 pad middle", 2, "expected a padding (valid or same or full or a number"),
    ("input 32x32x3\nconv 6 5 relu relu", 2, "unexpected 'relu'"),
    ("input 32x32x3\nconv 6 5 swish", 2, "unexpected 'swish'; expected one of: dilation, groups, nobias, pad, "
                                         "stride, an activation"),
    ("input 32x32x3\nflatten\ndense", 3, "expected the number of units"),
    ("input 32x32x3\nflatten\ndense 10x2", 3, "expected the number of units (one number)"),
    ("input 32x32x3\ndropout lots", 2, "expected a dropout rate in [0, 1) (a number), got 'lots'"),
    ("input 32x32x3\ndropout 1.5", 2, "rate must be in [0, 1)"),
    ("input 32x32x3\nconv 6 5x5x5", 2, "a kernel size needs 1 or 2 numbers for a 2-D input"),
    ("input 32x32x3\nconv 0 5", 2, "the number of filters must be positive"),
    ("input 32x32x3\nresidual\nconv 3 3 pad same", 2, "never closed with 'end'"),
    ("input 32x32x3\nend", 2, "'end' without an open 'residual' block"),
    ("input 32x32x3\nshortcut", 2, "'shortcut' must follow the body"),
    ("input 32x32x3\nresidual\nend", 3, "expected at least one body layer"),
    ("input 32x32x3\ninput 3x3x3", 2, "'input' may appear only once"),
    ("input 32x32x3 sideways", 1, "expected nothing or 'channels first'"),
])
def test_spec_errors_name_the_line_and_what_was_expected(text, line, expected):
    with pytest.raises(SpecError) as info:
        parse_spec(text, source="net.txt")
    message = str(info.value)
    assert f"net.txt, line {line}:" in message and expected in message, message
    assert info.value.lineno == line


# --- invalid models -------------------------------------------------------------------------------

@pytest.mark.parametrize("layers, input_shape, fragments", [
    ([Conv2D(4, 5), Conv2D(4, 5)], (6, 6, 1),
     ["layer 1 'conv2d_1' (Conv2D) on input shape (2, 2, 4)", "kernel is larger than the padded input",
      "effective kernel size 5"]),
    ([Conv2D(4, 3), Dense(10)], (8, 8, 1),
     ["layer 1 'dense' (Dense) on input shape (6, 6, 4)", "add Flatten() or a global pool"]),
    ([Conv2D(4, 3, groups=2)], (8, 8, 3), ["groups=2 must divide the input channels (3)"]),
    ([MaxPool2D(3, padding=2)], (8, 8, 1), ["padding must be at most half the kernel size"]),
    ([Residual([Conv2D(8, 3, padding="same")])], (8, 8, 4),
     ["layer 0 'residual' (Residual)", "the body maps (8, 8, 4) → (8, 8, 8)", "use shortcut='projection'"]),
    ([Conv2D(4, 3, activation="softmax")], (8, 8, 1), ["softmax is applied to flat (features,) outputs only"]),
    ([Conv1D(4, 3)], (8, 8, 1), ["Conv1D needs a 2-D input (L, C), got shape (8, 8, 1)"]),
])
def test_invalid_models_name_the_layer_and_the_shapes(layers, input_shape, fragments):
    with pytest.raises(ModelError) as info:
        Sequential(layers, input_shape=input_shape)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_an_error_inside_a_residual_block_names_the_block_and_the_layer():
    with pytest.raises(ModelError) as info:
        Sequential([Conv2D(2, 3), Residual([Conv2D(2, 9)])], input_shape=(5, 5, 1))
    assert str(info.value).startswith("layer 1 'residual' (Residual), body[0] 'conv2d_1' (Conv2D) on input shape "
                                      "(3, 3, 2): kernel is larger than the padded input")


def test_a_spec_that_parses_but_does_not_fit_names_the_line():
    with pytest.raises(ModelError) as info:
        parse_spec("input 6x6x1\nconv 4 5\n\nconv 4 5 relu\n", source="net.txt")
    assert str(info.value).startswith("net.txt, line 4: layer 1 'conv2d_1' (Conv2D) on input shape (2, 2, 4): ")
    with pytest.raises(ModelError, match=r"net.txt, line 2: layer 0 'residual' .* in a spec: 'shortcut projection'"):
        parse_spec("input 6x6x1\nresidual\nconv 4 3 pad same\nend\n", source="net.txt")


@pytest.mark.parametrize("make, fragment", [
    (lambda: Conv2D(-1, 3), "Conv2D: filters must be a positive int, got filters=-1"),
    (lambda: Conv2D(4, (3, -3)), "kernel_size must be positive ints"),
    (lambda: Dense(0), "Dense: units must be a positive int, got units=0"),
    (lambda: MaxPool2D(2, padding="full"), "padding must be 'valid', 'same' or an int"),
    (lambda: Conv2D(4, 3, activation="swish"), "unknown activation 'swish'"),
    (lambda: Sequential([Flatten()], input_shape=(0, 4, 1)), "input_shape must be positive ints"),
    (lambda: Sequential([Flatten()], input_shape=(4, 4, 1), channels="middle"), "channels must be 'last' or 'first'"),
])
def test_negative_or_unknown_arguments_are_rejected(make, fragment):
    with pytest.raises(ValueError) as info:
        make()
    assert fragment in str(info.value), str(info.value)


def test_forward_checks_the_input_shape():
    model = load_bundled("lenet-course").init(0)
    with pytest.raises(ValueError, match=r"x.shape=\(2, 3, 32, 32\), but should be \(N, 32, 32, 3\)"):
        model.forward(np.zeros((2, 3, 32, 32)))
    with pytest.raises(RuntimeError, match="call model.init"):
        load_bundled("lenet-course").forward(np.zeros((1, 32, 32, 3)))


# --- weights, forward and backward in NumPy --------------------------------------------------------

def test_init_is_seeded_and_uses_he_and_glorot():
    a, b = load_bundled("lenet-course").init(3), load_bundled("lenet-course").init(3)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    w = a.params["dense.w"]  # relu: He normal, std √(2/400)
    assert abs(w.std() - np.sqrt(2 / 400)) < 0.1 * np.sqrt(2 / 400)
    w = a.params["dense_2.w"]  # softmax: Glorot uniform, limit √(6/(84 + 10))
    assert np.abs(w).max() <= np.sqrt(6 / 94) and np.abs(w).max() > 0.9 * np.sqrt(6 / 94)
    assert not a.params["dense.b"].any()


def test_channels_last_and_first_compute_the_same_function():
    """The same weights in both conventions give transposed outputs (no Flatten: its order differs)."""
    layers = lambda: [Conv2D(3, 3, strides=2, padding="same", activation="relu"), BatchNorm(),
                      AvgPool2D(2, padding="same"), Conv2D(2, 2)]
    last = randomize(Sequential(layers(), input_shape=(7, 6, 2)), seed=1)
    first = Sequential(layers(), input_shape=(2, 7, 6), channels="first").init(0)
    first.set_params({**last.params, **last.state})
    x = np.random.default_rng(0).standard_normal((3, 7, 6, 2))
    for training in (False, True):
        out_last = last.forward(x, training=training)
        out_first = first.forward(np.moveaxis(x, -1, 1), training=training)
        np.testing.assert_allclose(np.moveaxis(out_first, 1, -1), out_last, rtol=1e-12, atol=1e-12)


def test_flatten_with_channels_last_uses_keras_order():
    model = Sequential([Flatten()], input_shape=(2, 2, 3)).init(0)
    x = np.arange(12.0).reshape(1, 2, 2, 3)
    assert model.forward(x)[0].tolist() == list(range(12))


def test_loss_and_grads_agree_with_loss_and_start_near_log_k():
    model = load_bundled("lenet-course").init(0)
    x = np.random.default_rng(0).standard_normal((4, 32, 32, 3)) * 0.1
    y = np.array([0, 1, 2, 3])
    loss, grads = model.loss_and_grads(x, y)
    assert loss == pytest.approx(model.loss(x, y), rel=1e-12)
    assert abs(loss - np.log(10)) < 0.5
    assert set(grads) == set(model.params) and all(grads[k].shape == model.params[k].shape for k in grads)


SMALL_MODELS = {
    "lenet-like (tanh, avg pool, softmax)": lambda: parse_spec(
        "input 8x8x2\nconv 3 3 tanh\navgpool 2\nconv 4 2 sigmoid\nflatten\ndense 5 tanh\ndense 3 softmax"),
    "residual, batch norm, 'same' pools, channels first": lambda: parse_spec(
        "input 2x7x6 channels first\nconv 3 3 stride 2 pad same leakyrelu\nbatchnorm\nmaxpool 2 pad same\n"
        "residual\nconv 4 3 pad same tanh\nbatchnorm\nshortcut projection\nend\nglobalavgpool\ndense 3"),
    "1-D, dilation, groups, transposed conv": lambda: parse_spec(
        "input 9x2\nconv 4 3 dilation 2 groups 2 tanh\ndeconv 3 2 stride 2 sigmoid\nglobalmaxpool\n"
        "batchnorm\ndense 3 softmax"),
}


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("name", sorted(SMALL_MODELS))
def test_whole_model_gradient_equals_central_differences(name, training):
    model = randomize(SMALL_MODELS[name](), seed=4)
    x = np.random.default_rng(1).standard_normal((3, *model.input_shape))
    y = np.array([0, 2, 1])
    err = numerical_gradient_check(model, x, y, training=training)
    assert err < 1e-6


def test_dropout_masks_are_seeded_and_scaled():
    model = Sequential([Flatten(), Dropout(0.5)], input_shape=(100, 1)).init(7)
    x = np.ones((2, 100, 1))
    out = model.forward(x, training=True)
    assert set(np.unique(out)) <= {0.0, 2.0} and 0.3 < (out == 0).mean() < 0.7
    assert np.array_equal(model.forward(x), x.reshape(2, 100))  # inference: identity
    again = Sequential([Flatten(), Dropout(0.5)], input_shape=(100, 1)).init(7)
    assert np.array_equal(again.forward(x, training=True), out)


# --- the command line --------------------------------------------------------------------------------

def test_cli_summary_prints_the_course_table(capsys):
    assert main(["summary", "lenet-course"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 62,006" in out and "(10, 10, 16)" in out and "2,416" in out


def test_cli_summary_json_and_file(tmp_path, capsys):
    spec = tmp_path / "tiny.txt"
    spec.write_text("input 28x28x1\nconv 32 3 relu\nconv 32 3 relu\nconv 32 3 relu\nflatten\n")
    assert main(["summary", str(spec), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "tiny" and [l["params"] for l in data["layers"]] == [320, 9248, 9248, 0]
    assert data["layers"][-1]["output_shape"] == [15488]


def test_cli_summary_reports_errors(tmp_path, capsys):
    spec = tmp_path / "bad.txt"
    spec.write_text("input 28x28x1\nconv 32 3 relu\nmaxpool two\n")
    assert main(["summary", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "expected a pool size" in err
    assert main(["summary", "no-such-model"]) == 2
    assert "bundled: alexnet" in capsys.readouterr().err
