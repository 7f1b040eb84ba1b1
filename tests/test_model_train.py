"""The NumPy training loop and the demo: seeded data, SGD with momentum, a falling loss."""

import builtins

import numpy as np

from convcheck.cli import main
from convcheck.reference.train import CLASSES, SGDMomentum, demo_model, make_patterns, train


def test_patterns_are_seeded_balanced_and_channels_last():
    x, y = make_patterns(40, seed=3)
    x2, y2 = make_patterns(40, seed=3)
    assert x.shape == (40, 16, 16, 1) and np.array_equal(x, x2) and np.array_equal(y, y2)
    assert np.bincount(y).tolist() == [10] * len(CLASSES)
    assert not np.array_equal(x, make_patterns(40, seed=4)[0])


def test_sgd_momentum_step():
    p = {"w": np.array([1.0, 2.0])}
    opt = SGDMomentum(lr=0.1, momentum=0.5)
    opt.step(p, {"w": np.array([1.0, -1.0])})   # v = −0.1·g
    opt.step(p, {"w": np.array([1.0, -1.0])})   # v = 0.5·v − 0.1·g
    np.testing.assert_allclose(p["w"], [1.0 - 0.1 - 0.15, 2.0 + 0.1 + 0.15])


def test_training_lowers_the_loss_and_beats_chance():
    x, y = make_patterns(480, noise=0.8, seed=0)
    x_test, y_test = make_patterns(160, noise=0.8, seed=1)
    model = demo_model(0)
    before = model.loss(x, y)
    logs = train(model, x, y, x_test, y_test, epochs=3, lr=0.01, seed=0)
    assert logs[-1].loss < before and logs[-1].loss < logs[0].loss
    assert logs[-1].test_accuracy > 0.5  # chance is 0.25


def test_demo_command_runs_and_reports(capsys, tmp_path):
    png = tmp_path / "f.png"
    assert main(["demo", "--epochs", "1", "--train", "160", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "Total params: 62,006" in out and "epoch 1/1  loss" in out and "test accuracy" in out
    assert f"saved {png}" in out and png.stat().st_size > 1000


def test_demo_without_matplotlib_skips_the_picture(capsys, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert main(["demo", "--epochs", "1", "--train", "80", "--png", str(tmp_path / "f.png")]) == 0
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not (tmp_path / "f.png").exists()
