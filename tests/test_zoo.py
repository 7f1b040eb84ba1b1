"""The zoo against torchvision: every model's total and per-layer parameter counts and output
shapes (a committed fixture made by torchvision, and torchvision itself when it imports), the
summary's convention note against Keras' published counts, and a few zoo graphs run forward and
backward against their torch export.

The fixture ``fixtures/zoo_torchvision.json`` is made by ``fixtures/zoo_torchvision.py`` with
torch 2.14.1 + torchvision 0.29.1 (PyPI's torchvision does not import beside CI's pinned torch);
its first line records the versions and the command.
"""

import importlib.util
import json
from collections import Counter
import sys
from pathlib import Path

import pytest

from convcheck.checks import models as CM
from convcheck.cli import main
from convcheck.reference import model as M
from convcheck.reference import zoo

HERE = Path(__file__).parent / "fixtures"
FIXTURE = json.loads((HERE / "zoo_torchvision.json").read_text(encoding="utf-8"))
sys.path.insert(0, str(HERE))
from zoo_names import ZOO_NAMES  # noqa: E402

ISSUE_12_NAMES = (  # the list in issue 12, item 2 (resnet18 was bundled already)
    "resnet34 resnet50 resnet101 resnet152 resnext50_32x4d wide_resnet50_2 vgg11 vgg13 vgg16 vgg19 vgg11_bn vgg13_bn "
    "vgg16_bn vgg19_bn googlenet squeezenet1_0 squeezenet1_1 densenet121 densenet169 mobilenet_v2 mobilenet_v3_small "
    "mobilenet_v3_large shufflenet_v2_x1_0 efficientnet_b0").split()
KINDS = ((M._Conv, "conv"), (M.Dense, "linear"), (M.BatchNorm, "batchnorm"))


def layer_entries(model) -> list:
    """``[kind, trainable, running statistics, output shape (C, H, W)]`` of every layer with
    weights, sorted: the fixture's form."""
    out = []
    for layer in model.all_layers():
        kind = next((k for cls, k in KINDS if isinstance(layer, cls)), None)
        if kind:
            c = layer.count()
            out.append([kind, c.trainable, c.non_trainable, list(layer.output_shape)])
    return sorted(out)


def compare(name: str, expected: dict) -> None:
    model = zoo.build(name)
    s = model.summary()
    assert s.trainable_params == expected["trainable"], \
        f"{name}: trainable_params={s.trainable_params:,}, but torchvision has {expected['trainable']:,}"
    assert s.total_params == expected["trainable"], f"{name}: Total params={s.total_params:,}, but torchvision " \
                                                    f"counts {expected['trainable']:,} (the zoo follows its convention)"
    assert s.buffers == expected["running"], f"{name}: buffers={s.buffers:,}, torchvision {expected['running']:,}"
    assert list(model.output_shape) == expected["output_shape"]
    got, want = layer_entries(model), expected["layers"]
    key = lambda e: json.dumps(e)  # noqa: E731
    extra = sorted(json.loads(k) for k in (Counter(map(key, got)) - Counter(map(key, want))).elements())
    missing = sorted(json.loads(k) for k in (Counter(map(key, want)) - Counter(map(key, got))).elements())
    assert got == want, f"{name}: {len(got)} layers with weights, torchvision {len(want)}; only here: {extra[:3]}, " \
                        f"only in torchvision: {missing[:3]} ([kind, trainable, running, output shape])"


def test_the_zoo_is_the_issue_list_and_the_fixture_covers_it():
    assert sorted(zoo.names()) == sorted(ZOO_NAMES) == sorted(FIXTURE["models"])
    assert set(ISSUE_12_NAMES) <= set(zoo.names())
    assert FIXTURE["made_with"]["torchvision"].startswith("0.29.1")


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_zoo_counts_and_shapes_equal_torchvision_fixture(name):
    compare(name, FIXTURE["models"][name])


def test_a_wrong_layer_is_caught():
    """The per-layer comparison is not vacuous: one 3×3 conv made 5×5 in the fixture fails it."""
    wrong = json.loads(json.dumps(FIXTURE["models"]["resnet18"]))
    i = next(i for i, e in enumerate(wrong["layers"]) if e[:2] == ["conv", 36864])
    wrong["layers"][i][1] = 102400
    wrong["layers"].sort()
    with pytest.raises(AssertionError, match=r"only here: \[\['conv', 36864, 0, \[64, 56, 56\]\]\], only in torchvision: \[\['conv', 102400"):
        compare("resnet18", wrong)


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="torchvision is not installed "
                    "(it does not import beside CI's torch; see tests/fixtures/zoo_torchvision.py)")
@pytest.mark.parametrize("name", ZOO_NAMES)
def test_zoo_equals_torchvision_live(name):
    """The same comparison against torchvision itself, where it imports."""
    spec = importlib.util.spec_from_file_location("zoo_torchvision", HERE / "zoo_torchvision.py")
    live = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(live)
    compare(name, live.describe(name))


def test_bundled_specs_and_zoo_agree():
    """The bundled Sequential specs (Keras convention) and the zoo graphs are the same networks."""
    for name in ("vgg11", "vgg16", "resnet18"):
        seq, graph = M.load_bundled(name).summary(), zoo.build(name).summary()
        assert seq.trainable_params == graph.trainable_params, name
        assert seq.non_trainable_params == graph.buffers, name


# --- the counting convention, against Keras' published numbers --------------------------------------------

KERAS = {  # keras.applications model.summary(): total, non-trainable (Keras' documentation table)
    "resnet50": (25_636_712, 53_120), "densenet121": (8_062_504, 83_648), "mobilenet_v2": (3_538_984, 34_112),
    "vgg16": (138_357_544, 0),
}


@pytest.mark.parametrize("name", sorted(KERAS))
def test_convention_note_explains_keras_counts(name):
    model = zoo.build(name)
    counts = zoo.keras_counts(model)
    total, non_trainable = KERAS[name]
    keras_total = counts["keras_resnet"] if name.startswith("resnet") else counts["keras_total"]
    assert keras_total == total, f"{name}: Keras counts {total:,}, the note's arithmetic gives {keras_total:,}"
    assert model.summary().buffers == non_trainable
    assert f"{keras_total:,}" in model.summary().note


def test_cli_summary_resnet50_prints_torchvision_total(capsys):
    assert main(["summary", "resnet50"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 25,557,032" in out.splitlines()
    assert "Connected to" in out and "add (Add)" in out
    assert "Buffers, not counted (batch-norm running mean and variance): 53,120" in out
    assert "Convention: torchvision's" in out


def test_cli_summary_json_of_a_zoo_model(capsys):
    assert main(["summary", "squeezenet1_1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["total_params"] == 1_235_496 and d["convention"] == "torchvision"
    fire = [r for r in d["layers"] if r["type"] == "Concatenate"][0]
    assert len(fire["connected_to"]) == 2


def test_cli_unknown_name_lists_the_zoo(capsys):
    assert main(["summary", "resnet51"]) == 2
    assert "zoo: densenet121" in capsys.readouterr().err


# --- zoo graphs against their torch export ---------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO_NAMES)
def test_zoo_rows_equal_torch_export_on_the_meta_device(name):
    """Every summary row's shape and counts against the exported torch modules (nothing allocated)."""
    CM.check_summary_matches_torch(zoo.build(name), device="meta")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v3_small", "shufflenet_v2_x1_0", "squeezenet1_1", "googlenet"])
def test_zoo_graph_forward_and_backward_equal_torch(name):
    """A whole zoo graph on 32×32 inputs, float64, same weights: outputs, every gradient and dx."""
    CM.check_forward_backward_matches_torch(zoo.build(name, size=32), seed=4, training=False)


def test_fixture_generator_is_documented():
    text = (HERE / "zoo_torchvision.py").read_text(encoding="utf-8")
    assert "torch==2.14.1 torchvision==0.29.1" in text
    assert FIXTURE["made_with"]["command"].startswith("python tests/fixtures/zoo_torchvision.py")
