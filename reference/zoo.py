"""The classic ImageNet CNNs as torchvision defines them, built with the graph API and no weights:
``build("resnet50").summary()`` gives torchvision's parameter count, layer by layer.

Every builder follows torchvision's source (``torchvision/models/<family>.py``), not the papers
where the two differ, and says so (GoogLeNet's "5×5" branch is 3×3 there). Counting convention:
torchvision's (see :data:`CONVENTION`): a convolution followed by batch norm has no bias, and the
batch-norm running statistics are buffers, reported beside the total but not in it. Input
224×224×3, channels last; batch-norm epsilons as torchvision's (they change no count).
"""

from __future__ import annotations

from . import blocks as B
from . import graph as G
from . import model as M

CONVENTION = (
    "Convention: torchvision's. Total params = trainable = sum(p.numel() for p in net.parameters()); batch-norm "
    "running mean and variance are buffers there, not parameters. Keras' model.summary() counts them as "
    "non-trainable params inside 'Total params': {keras_total:,} here.")
RESNET_BIAS = (
    " keras.applications' ResNets also keep a bias on each convolution that batch norm follows (+{biases:,}; "
    "batch norm's beta makes it redundant, and torchvision drops it): {keras_resnet:,} in Keras' count.")


def keras_counts(model: G.Model) -> dict:
    """The same model counted Keras' way: ``keras_total`` = trainable + running statistics;
    ``biases`` = the channels of convolutions that batch norm follows (a bias each in
    keras.applications' ResNets); ``keras_resnet`` = both."""
    s = model.summary()
    biases = sum(t.layer.filters for layer in model.layers if isinstance(layer, M.BatchNorm)
                 for t in layer.inbound if isinstance(t.layer, M._Conv) and not t.layer.use_bias)
    total = s.trainable_params + s.buffers
    return {"keras_total": total, "biases": biases, "keras_resnet": total + biases}


def _make_divisible(v: float, divisor: int = 8) -> int:
    """Round channels to a multiple of 8, not below 90% of ``v`` (torchvision ``_make_divisible``,
    from the TensorFlow MobileNet reference)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _conv_bn(x, filters, kernel, stride=1, pad=None, groups=1, act=M.ReLU, eps=1e-5):
    """Conv (no bias) → BatchNorm → activation: torchvision's ``Conv2dNormActivation`` and
    ``BasicConv2d``; ``pad`` defaults to ``(k − 1)/2``. A depthwise conv when ``groups`` is the
    input's channel count."""
    pad = (kernel - 1) // 2 if pad is None else pad
    if groups == x.internal_shape[0] and groups == filters and groups > 1:
        x = B.DepthwiseConv2D(kernel, strides=stride, padding=pad, use_bias=False)(x)
    else:
        x = M.Conv2D(filters, kernel, strides=stride, padding=pad, groups=groups, use_bias=False)(x)
    x = M.BatchNorm(epsilon=eps)(x)
    return act()(x) if act else x


def _head(x, classes=1000, dropout=None):
    x = M.GlobalAvgPool2D()(x)
    if dropout:
        x = M.Dropout(dropout)(x)
    return M.Dense(classes)(x)


def _model(x, y, name):
    model = G.Model(x, y, name=name, convention="torchvision")
    counts = keras_counts(model)
    model.note = CONVENTION.format(**counts) + (RESNET_BIAS.format(**counts) if name.startswith("resnet") else "")
    return model


# --- ResNet, ResNeXt, Wide ResNet (He et al. 2016; Xie et al. 2017; Zagoruyko & Komodakis 2016) ------

def _basic(x, planes, stride):
    """torchvision ``BasicBlock``: 3×3 → 3×3, identity or 1×1 projection shortcut, add, ReLU."""
    y = _conv_bn(x, planes, 3, stride)
    y = _conv_bn(y, planes, 3, act=None)
    if stride != 1 or x.internal_shape[0] != planes:
        x = _conv_bn(x, planes, 1, stride, act=None)
    return M.ReLU()(B.Add()([y, x]))


def _bottleneck(x, planes, stride, groups=1, width_per_group=64):
    """torchvision ``Bottleneck`` (ResNet v1.5: the stride on the 3×3): 1×1 reduce to
    ``width = planes·w/64·g``, 3×3 grouped, 1×1 expand to ``4·planes``; projection when needed."""
    width = int(planes * (width_per_group / 64.0)) * groups
    y = _conv_bn(x, width, 1)
    y = _conv_bn(y, width, 3, stride, groups=groups)
    y = _conv_bn(y, planes * 4, 1, act=None)
    if stride != 1 or x.internal_shape[0] != planes * 4:
        x = _conv_bn(x, planes * 4, 1, stride, act=None)
    return M.ReLU()(B.Add()([y, x]))


def resnet(name, blocks, bottleneck=True, groups=1, width_per_group=64, size=224):
    x = inp = G.Input((size, size, 3))
    x = _conv_bn(x, 64, 7, 2, 3)
    x = M.MaxPool2D(3, strides=2, padding=1)(x)
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks)):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            x = _bottleneck(x, planes, stride, groups, width_per_group) if bottleneck else _basic(x, planes, stride)
    return _model(inp, _head(x), name)


# --- VGG (Simonyan & Zisserman 2015, Table 1 configurations A, B, D, E) --------------------------------

_VGG = {"vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
        "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
        "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
        "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512,
                  "M"]}


def vgg(name, bn=False, size=224):
    """3×3 convs with bias (and batch norm in the ``_bn`` variants), 2×2 max pools, then three dense
    layers; torchvision's adaptive 7×7 pool is the identity at 224×224."""
    x = inp = G.Input((size, size, 3))
    for v in _VGG[name]:
        if v == "M":
            x = M.MaxPool2D(2)(x)
        elif bn:
            x = M.ReLU()(M.BatchNorm()(M.Conv2D(v, 3, padding=1)(x)))
        else:
            x = M.Conv2D(v, 3, padding=1, activation="relu")(x)
    x = M.Flatten()(x)
    for _ in range(2):
        x = M.Dropout(0.5)(M.Dense(4096, activation="relu")(x))
    return _model(inp, M.Dense(1000)(x), name + ("_bn" if bn else ""))


# --- GoogLeNet (Szegedy et al. 2015, Table 1), without the auxiliary heads ------------------------------

def _inception(x, c1, c3r, c3, c5r, c5, pool_proj):
    """Four branches joined on channels: 1×1; 1×1 → 3×3; 1×1 → "5×5" (3×3 in torchvision, a bug
    kept for its weights); 3×3 max pool → 1×1. Parameters are the sum of the branches'."""
    conv = lambda t, f, k: _conv_bn(t, f, k, eps=1e-3)  # noqa: E731  torchvision BasicConv2d
    b1 = conv(x, c1, 1)
    b2 = conv(conv(x, c3r, 1), c3, 3)
    b3 = conv(conv(x, c5r, 1), c5, 3)
    b4 = conv(B.CeilMaxPool2D(3, 1, 1)(x), pool_proj, 1)
    return B.Concatenate()([b1, b2, b3, b4])


def googlenet(name="googlenet", size=224):
    x = inp = G.Input((size, size, 3))
    x = _conv_bn(x, 64, 7, 2, 3, eps=1e-3)
    x = B.CeilMaxPool2D(3, 2)(x)
    x = _conv_bn(x, 64, 1, eps=1e-3)
    x = _conv_bn(x, 192, 3, eps=1e-3)
    x = B.CeilMaxPool2D(3, 2)(x)
    x = _inception(x, 64, 96, 128, 16, 32, 32)
    x = _inception(x, 128, 128, 192, 32, 96, 64)
    x = B.CeilMaxPool2D(3, 2)(x)
    for cfg in ((192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
                (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128)):
        x = _inception(x, *cfg)
    x = B.CeilMaxPool2D(2, 2)(x)
    x = _inception(x, 256, 160, 320, 32, 128, 128)
    x = _inception(x, 384, 192, 384, 48, 128, 128)
    return _model(inp, _head(x, dropout=0.2), name)


# --- SqueezeNet (Iandola et al. 2016, Table 1; v1.1 from the authors' repository) ----------------------

def _fire(x, squeeze, e1, e3):
    """Fire module: 1×1 squeeze, then 1×1 and 3×3 expand branches joined on channels, all with
    bias and ReLU (Iandola et al. 2016, §3.2)."""
    s = M.Conv2D(squeeze, 1, activation="relu")(x)
    return B.Concatenate()([M.Conv2D(e1, 1, activation="relu")(s), M.Conv2D(e3, 3, padding=1, activation="relu")(s)])


def squeezenet(name, size=224):
    x = inp = G.Input((size, size, 3))
    if name == "squeezenet1_0":
        x = B.CeilMaxPool2D(3, 2)(M.Conv2D(96, 7, strides=2, activation="relu")(x))
        fires = [(16, 64, 64), (16, 64, 64), (32, 128, 128), "M", (32, 128, 128), (48, 192, 192), (48, 192, 192),
                 (64, 256, 256), "M", (64, 256, 256)]
    else:
        x = B.CeilMaxPool2D(3, 2)(M.Conv2D(64, 3, strides=2, activation="relu")(x))
        fires = [(16, 64, 64), (16, 64, 64), "M", (32, 128, 128), (32, 128, 128), "M", (48, 192, 192),
                 (48, 192, 192), (64, 256, 256), (64, 256, 256)]
    for f in fires:
        x = B.CeilMaxPool2D(3, 2)(x) if f == "M" else _fire(x, *f)
    x = M.Conv2D(1000, 1, activation="relu")(M.Dropout(0.5)(x))
    return _model(inp, M.GlobalAvgPool2D()(x), name)


# --- DenseNet (Huang et al. 2017, Table 1: DenseNet-BC, growth 32, bottleneck width 4·32) ---------------

def densenet(name, blocks, size=224):
    x = inp = G.Input((size, size, 3))
    x = M.MaxPool2D(3, strides=2, padding=1)(_conv_bn(x, 64, 7, 2, 3))
    for i, n in enumerate(blocks):
        for _ in range(n):  # BN → ReLU → 1×1 (128) → BN → ReLU → 3×3 (32), concatenated to the input
            y = M.Conv2D(128, 1, use_bias=False)(M.ReLU()(M.BatchNorm()(x)))
            y = M.Conv2D(32, 3, padding=1, use_bias=False)(M.ReLU()(M.BatchNorm()(y)))
            x = B.Concatenate()([x, y])
        if i < len(blocks) - 1:  # transition: BN → ReLU → 1×1 halving the channels → 2×2 average pool
            c = x.internal_shape[0] // 2
            x = M.AvgPool2D(2)(M.Conv2D(c, 1, use_bias=False)(M.ReLU()(M.BatchNorm()(x))))
    x = M.ReLU()(M.BatchNorm()(x))
    return _model(inp, _head(x), name)


# --- MobileNet v2 (Sandler et al. 2018, Table 2) and v3 (Howard et al. 2019, Tables 1–2) --------------

def _inverted_v2(x, out, stride, t):
    """Expand 1×1 (×t, ReLU6) → depthwise 3×3 (ReLU6) → linear 1×1 projection; add the input when
    the shape is kept (Sandler et al. 2018, Table 1)."""
    inp = x.internal_shape[0]
    hidden = round(inp * t)
    y = _conv_bn(x, hidden, 1, act=B.ReLU6) if t != 1 else x
    y = _conv_bn(y, hidden, 3, stride, groups=hidden, act=B.ReLU6)
    y = _conv_bn(y, out, 1, act=None)
    return B.Add()([x, y]) if stride == 1 and inp == out else y


def mobilenet_v2(name="mobilenet_v2", size=224):
    x = inp = G.Input((size, size, 3))
    x = _conv_bn(x, 32, 3, 2, act=B.ReLU6)
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                       (6, 320, 1, 1)):
        for i in range(n):
            x = _inverted_v2(x, c, s if i == 0 else 1, t)
    x = _conv_bn(x, 1280, 1, act=B.ReLU6)
    return _model(inp, _head(x, dropout=0.2), name)


def _squeeze_excite(x, squeeze, act, gate):
    """Squeeze-and-excitation (Hu et al. 2018, Fig. 2): global average → 1×1 conv to ``squeeze``
    → act → 1×1 conv back → gate (sigmoid/hard sigmoid) → scale the input channel-wise."""
    c = x.internal_shape[0]
    g = B.Reshape((1, 1, c))(M.GlobalAvgPool2D()(x))
    g = gate()(M.Conv2D(c, 1)(act()(M.Conv2D(squeeze, 1)(g))))
    return B.Multiply()([x, g])


def _inverted_v3(x, k, expanded, out, se, act, stride):
    """MobileNetV3 bneck: expand 1×1 (if wider) → depthwise k×k → SE (hard sigmoid gate) → linear
    1×1; residual add when the shape is kept (torchvision ``InvertedResidual``)."""
    inp = x.internal_shape[0]
    y = _conv_bn(x, expanded, 1, act=act, eps=1e-3) if expanded != inp else x
    y = _conv_bn(y, expanded, k, stride, groups=expanded, act=act, eps=1e-3)
    if se:
        y = _squeeze_excite(y, _make_divisible(expanded // 4), M.ReLU, B.HardSigmoid)
    y = _conv_bn(y, out, 1, act=None, eps=1e-3)
    return B.Add()([x, y]) if stride == 1 and inp == out else y


_V3 = {  # kernel, expanded, out, SE, activation, stride (torchvision _mobilenet_v3_conf)
    "mobilenet_v3_large": ([(3, 16, 16, 0, "RE", 1), (3, 64, 24, 0, "RE", 2), (3, 72, 24, 0, "RE", 1),
                            (5, 72, 40, 1, "RE", 2), (5, 120, 40, 1, "RE", 1), (5, 120, 40, 1, "RE", 1),
                            (3, 240, 80, 0, "HS", 2), (3, 200, 80, 0, "HS", 1), (3, 184, 80, 0, "HS", 1),
                            (3, 184, 80, 0, "HS", 1), (3, 480, 112, 1, "HS", 1), (3, 672, 112, 1, "HS", 1),
                            (5, 672, 160, 1, "HS", 2), (5, 960, 160, 1, "HS", 1), (5, 960, 160, 1, "HS", 1)], 1280),
    "mobilenet_v3_small": ([(3, 16, 16, 1, "RE", 2), (3, 72, 24, 0, "RE", 2), (3, 88, 24, 0, "RE", 1),
                            (5, 96, 40, 1, "HS", 2), (5, 240, 40, 1, "HS", 1), (5, 240, 40, 1, "HS", 1),
                            (5, 120, 48, 1, "HS", 1), (5, 144, 48, 1, "HS", 1), (5, 288, 96, 1, "HS", 2),
                            (5, 576, 96, 1, "HS", 1), (5, 576, 96, 1, "HS", 1)], 1024),
}


def mobilenet_v3(name, size=224):
    blocks, last = _V3[name]
    x = inp = G.Input((size, size, 3))
    x = _conv_bn(x, 16, 3, 2, act=B.HardSwish, eps=1e-3)
    for k, e, o, se, a, s in blocks:
        x = _inverted_v3(x, k, e, o, se, M.ReLU if a == "RE" else B.HardSwish, s)
    x = _conv_bn(x, 6 * x.internal_shape[0], 1, act=B.HardSwish, eps=1e-3)
    x = B.HardSwish()(M.Dense(last)(M.GlobalAvgPool2D()(x)))
    x = M.Dense(1000)(M.Dropout(0.2)(x))
    return _model(inp, x, name)


# --- ShuffleNet v2 (Ma et al. 2018, Table 5, 1.0×) -------------------------------------------------------

def _shuffle_unit(x, out, stride):
    """Stride 1: split the channels in half, transform one half (1×1 → depthwise 3×3 → 1×1), join,
    shuffle. Stride 2: both branches see the whole input (the left one depthwise 3×3 → 1×1)."""
    inp, half = x.internal_shape[0], out // 2
    if stride == 1:
        left, right = B.ChannelSlice(0, inp // 2)(x), B.ChannelSlice(inp // 2, inp)(x)
    else:
        left = _conv_bn(_conv_bn(x, inp, 3, stride, groups=inp, act=None), half, 1)
        right = x
    right = _conv_bn(right, half, 1)
    right = _conv_bn(right, half, 3, stride, groups=half, act=None)
    right = _conv_bn(right, half, 1)
    return B.ChannelShuffle(2)(B.Concatenate()([left, right]))


def shufflenet_v2(name="shufflenet_v2_x1_0", size=224):
    x = inp = G.Input((size, size, 3))
    x = M.MaxPool2D(3, strides=2, padding=1)(_conv_bn(x, 24, 3, 2))
    for out, n in ((116, 4), (232, 8), (464, 4)):
        for i in range(n):
            x = _shuffle_unit(x, out, 2 if i == 0 else 1)
    x = _conv_bn(x, 1024, 1)
    return _model(inp, _head(x), name)


# --- EfficientNet-B0 (Tan & Le 2019, Table 1) --------------------------------------------------------------

def efficientnet_b0(name="efficientnet_b0", size=224):
    """MBConv blocks: expand 1×1 (SiLU) → depthwise k×k (SiLU) → SE (squeeze to ¼ of the block's
    input, sigmoid gate) → linear 1×1; residual add when the shape is kept (stochastic depth has no
    weights and is the identity at inference)."""
    x = inp = G.Input((size, size, 3))
    x = _conv_bn(x, 32, 3, 2, act=B.SiLU)
    for t, k, s, out, n in ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                            (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)):
        for i in range(n):
            cin, stride = x.internal_shape[0], s if i == 0 else 1
            hidden = _make_divisible(cin * t)
            y = _conv_bn(x, hidden, 1, act=B.SiLU) if hidden != cin else x
            y = _conv_bn(y, hidden, k, stride, groups=hidden, act=B.SiLU)
            y = _squeeze_excite(y, max(1, cin // 4), B.SiLU, lambda: M.Activation("sigmoid"))
            y = _conv_bn(y, out, 1, act=None)
            x = B.Add()([x, y]) if stride == 1 and cin == out else y
    x = _conv_bn(x, 1280, 1, act=B.SiLU)
    return _model(inp, _head(x, dropout=0.2), name)


BUILDERS = {
    "resnet18": lambda size=224: resnet("resnet18", (2, 2, 2, 2), bottleneck=False, size=size),
    "resnet34": lambda size=224: resnet("resnet34", (3, 4, 6, 3), bottleneck=False, size=size),
    "resnet50": lambda size=224: resnet("resnet50", (3, 4, 6, 3), size=size),
    "resnet101": lambda size=224: resnet("resnet101", (3, 4, 23, 3), size=size),
    "resnet152": lambda size=224: resnet("resnet152", (3, 8, 36, 3), size=size),
    "resnext50_32x4d": lambda size=224: resnet("resnext50_32x4d", (3, 4, 6, 3), groups=32, width_per_group=4, size=size),
    "wide_resnet50_2": lambda size=224: resnet("wide_resnet50_2", (3, 4, 6, 3), width_per_group=128, size=size),
    **{f"{v}{bn}": (lambda size=224, v=v, bn=bn: vgg(v, bool(bn), size=size)) for v in _VGG for bn in ("", "_bn")},
    "googlenet": lambda size=224: googlenet(size=size),
    "squeezenet1_0": lambda size=224: squeezenet("squeezenet1_0", size=size),
    "squeezenet1_1": lambda size=224: squeezenet("squeezenet1_1", size=size),
    "densenet121": lambda size=224: densenet("densenet121", (6, 12, 24, 16), size=size),
    "densenet169": lambda size=224: densenet("densenet169", (6, 12, 32, 32), size=size),
    "mobilenet_v2": lambda size=224: mobilenet_v2(size=size),
    "mobilenet_v3_small": lambda size=224: mobilenet_v3("mobilenet_v3_small", size=size),
    "mobilenet_v3_large": lambda size=224: mobilenet_v3("mobilenet_v3_large", size=size),
    "shufflenet_v2_x1_0": lambda size=224: shufflenet_v2(size=size),
    "efficientnet_b0": lambda size=224: efficientnet_b0(size=size),
}


def names() -> list[str]:
    """Every zoo name (torchvision's model names)."""
    return sorted(BUILDERS)


def build(name: str, size: int = 224) -> G.Model:
    """The zoo model ``name`` (one of :func:`names`) on ``size×size×3`` inputs, weights not yet
    initialised. Counts are torchvision's at 224 (VGG's dense layers depend on the size; the
    others only their shapes), smaller sizes are for running the graphs quickly in tests."""
    if name not in BUILDERS:
        raise ValueError(f"no zoo model {name!r}; the zoo: {', '.join(names())}")
    return BUILDERS[name](size=size)
