"""The example training scripts run for real: short versions learn, checkpoint and resume."""
import importlib
import pathlib
import sys

import numpy as np
import pytest

import cylayers

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def examples():
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield {name: importlib.import_module(name) for name in (
            "self_normalizing_net", "conv_bn_relu", "complex_net", "compare_normalizations")}
    finally:
        sys.path.remove(str(EXAMPLES))


def _args(tmp_path, name, *extra):
    return ["--no-progress", "--checkpoint", str(tmp_path / f"{name}.cyl"),
            "--plot", str(tmp_path / f"{name}.png"), *extra]


@pytest.mark.parametrize("name,epochs,min_acc", [("self_normalizing_net", 4, 0.85),
                                                 ("conv_bn_relu", 2, 0.85),
                                                 ("complex_net", 2, 0.85)])
def test_short_training_learns(examples, tmp_path, capsys, name, epochs, min_acc):
    acc = examples[name].main(_args(tmp_path, name, "--epochs", str(epochs)))
    out = capsys.readouterr().out
    losses = [float(line.split()[3]) for line in out.splitlines() if line.startswith("epoch")]
    assert len(losses) == epochs and losses[-1] < losses[0]
    assert acc > min_acc  # chance is 0.1
    assert (tmp_path / f"{name}.png").stat().st_size > 0
    state = cylayers.load(tmp_path / f"{name}.cyl")
    assert state["epoch"] == epochs and len(state["history"]["loss"]) == epochs


def test_resume_continues_from_the_checkpoint(examples, tmp_path, capsys):
    mod = examples["self_normalizing_net"]
    mod.main(_args(tmp_path, "snn", "--epochs", "2"))
    capsys.readouterr()
    mod.main(_args(tmp_path, "snn", "--epochs", "3", "--resume"))
    out = capsys.readouterr().out
    assert "resumed from" in out and "at epoch 2" in out
    epochs = [line.split()[1] for line in out.splitlines() if line.startswith("epoch")]
    assert epochs == ["3"]
    assert len(cylayers.load(tmp_path / "snn.cyl")["history"]["loss"]) == 3


def test_resume_reproduces_an_uninterrupted_run(examples, tmp_path, capsys):
    # complex_net: no schedule tied to --epochs, and dropout, so the restored RNG state matters
    mod = examples["complex_net"]
    straight = mod.main(_args(tmp_path, "a", "--epochs", "2"))
    mod.main(_args(tmp_path, "b", "--epochs", "1"))
    resumed = mod.main(_args(tmp_path, "b", "--epochs", "2", "--resume"))
    assert resumed == straight
    a, b = cylayers.load(tmp_path / "a.cyl"), cylayers.load(tmp_path / "b.cyl")
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k].numpy(), b["model"][k].numpy())


def test_compare_normalizations_runs_and_resumes(examples, tmp_path, capsys):
    argv = ["--steps", "60", "--batch-sizes", "16", "64", "--plot", str(tmp_path / "cmp.png"),
            "--checkpoint", str(tmp_path / "cmp.cyl"), "--no-progress"]
    results = examples["compare_normalizations"].main(argv)
    assert set(results) == {(n, bs) for n in ("batch_norm", "layer_norm", "instance_norm",
                                              "group_norm") for bs in (16, 64)}
    assert all(0 <= acc <= 1 for acc in results.values())
    assert max(results.values()) > 0.5  # 60 steps are enough for some runs to learn
    assert (tmp_path / "cmp.png").stat().st_size > 0
    capsys.readouterr()
    again = examples["compare_normalizations"].main(argv + ["--resume"])
    assert again == results and "8 runs already done" in capsys.readouterr().out


def test_help(examples, capsys):
    for mod in examples.values():
        with pytest.raises(SystemExit) as e:
            mod.main(["--help"])
        assert e.value.code == 0
    assert "--resume" in capsys.readouterr().out


def test_ctrl_c_keeps_the_last_checkpoint_and_says_how_to_resume(examples, tmp_path, capsys,
                                                                   monkeypatch):
    mod = examples["self_normalizing_net"]
    calls = {"n": 0}
    real_step = cylayers.optim.Adam.step

    def step_then_interrupt(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 40:  # during the second epoch (23 steps per epoch on digits)
            raise KeyboardInterrupt
        return real_step(self, *a, **k)

    monkeypatch.setattr(cylayers.optim.Adam, "step", step_then_interrupt)
    with pytest.raises(SystemExit) as exit_:
        mod.main(_args(tmp_path, "snn", "--epochs", "3"))
    assert exit_.value.code == 130  # the shell's status for Ctrl-C
    out = capsys.readouterr().out
    assert "interrupted during epoch 2" in out and "--resume" in out
    assert cylayers.load(tmp_path / "snn.cyl")["epoch"] == 1


def test_training_prints_where_results_went_and_missing_mnist_says_download(
        examples, tmp_path, capsys):
    mod = examples["conv_bn_relu"]
    mod.main(_args(tmp_path, "cnn", "--epochs", "1", "--width", "8"))
    out = capsys.readouterr().out
    assert f"checkpoint: {tmp_path / 'cnn.cyl'}" in out and "curves:" in out
    with pytest.raises(SystemExit, match="pass --download"):
        mod.main(_args(tmp_path, "m", "--dataset", "mnist", "--data", str(tmp_path)))


def test_help_shows_each_default_once_and_counts_must_be_positive(examples, capsys):
    mod = examples["self_normalizing_net"]
    with pytest.raises(SystemExit):
        mod.main(["--help"])
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "(default: False)" not in text
    assert text.count("default: 30") == 1  # --epochs
    for option in ("--epochs", "--threads", "--batch-size"):
        with pytest.raises(SystemExit) as exit_:
            mod.main([option, "0"])
        assert exit_.value.code == 2
        assert "expected a positive integer, got 0" in capsys.readouterr().err
