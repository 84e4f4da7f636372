"""examples/char_lm.py runs for real: short runs of both models learn, checkpoint, resume
(reproducing an uninterrupted run), export to ONNX, sample, read another text, and train
data-parallel under mpiexec."""
import importlib
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import cylayers

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def char_lm():
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield importlib.import_module("char_lm")
    finally:
        sys.path.remove(str(EXAMPLES))


def _args(tmp_path, name, *extra):
    return ["--no-progress", "--checkpoint", str(tmp_path / f"{name}.cyl"), "--plot",
            str(tmp_path / f"{name}.png"), "--context", "32", "--batch-size", "8",
            "--steps-per-epoch", "8", "--sample-length", "40", *extra]


@pytest.mark.parametrize("model", ["transformer", "lstm"])
def test_a_short_run_learns_saves_and_samples(char_lm, tmp_path, capsys, model):
    val = char_lm.main(_args(tmp_path, model, "--model", model, "--epochs", "3"))
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("epoch")]
    train = [float(line.split()[3]) for line in lines]
    assert len(lines) == 3 and train[-1] < train[0] < 7  # log2(68 characters) = 6.1
    assert "--- sample ---\nWe hold these" in out
    assert f"validation loss: {val:.3f} bits per character" in out
    state = cylayers.load(tmp_path / f"{model}.cyl")
    assert state["epoch"] == 3 and len(state["history"]["val_bpc"]) == 3
    assert (tmp_path / f"{model}.png").stat().st_size > 0


def test_resume_reproduces_an_uninterrupted_run(char_lm, tmp_path, capsys):
    straight = char_lm.main(_args(tmp_path, "a", "--epochs", "2"))
    char_lm.main(_args(tmp_path, "b", "--epochs", "1"))
    capsys.readouterr()
    resumed = char_lm.main(_args(tmp_path, "b", "--epochs", "2", "--resume"))
    assert "resumed from" in capsys.readouterr().out
    assert resumed == straight


def test_export_runs_in_onnx_runtime_at_any_batch_and_length(char_lm, tmp_path, capsys):
    import onnxruntime as ort
    path = tmp_path / "lm.onnx"
    char_lm.main(_args(tmp_path, "e", "--epochs", "1", "--export", str(path)))
    assert "exported the model" in capsys.readouterr().out
    state = cylayers.load(tmp_path / "e.cyl")
    model = char_lm.CharTransformer(len(state["chars"]), context=32)
    model.load_state_dict(state["model"])
    model.eval()
    session = ort.InferenceSession(str(path))
    for shape in ((1, 13), (3, 32)):
        ids = np.random.default_rng(0).integers(0, len(state["chars"]), shape)
        got = session.run(None, {"chars": ids})[0]
        with cylayers.no_grad():
            want = model(cylayers.tensor(ids)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_another_text_and_a_too_short_one(char_lm, tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    char_lm.main(_args(tmp_path, "t", "--epochs", "1", "--text", str(text), "--prompt", "the"))
    assert "--- sample ---\nthe" in capsys.readouterr().out
    short = tmp_path / "s.txt"
    short.write_text("too short", encoding="utf-8")
    with pytest.raises(SystemExit, match="too short"):
        char_lm.main(_args(tmp_path, "s", "--text", str(short)))
    with pytest.raises(SystemExit, match="characters the text never uses"):
        char_lm.main(_args(tmp_path, "p", "--epochs", "1", "--text", str(text), "--prompt",
                           "XYZ"))


def test_data_parallel_under_mpiexec(tmp_path):
    mpiexec = shutil.which("mpiexec")
    assert mpiexec, "mpiexec not found: the test extra installs mpich"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([mpiexec, "-n", "2", sys.executable, str(EXAMPLES / "char_lm.py"),
                          "--distributed", "--epochs", "2", *_args(tmp_path, "d")[:-2],
                          "--sample-length", "20"],
                         capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("epoch   1") == 1 and out.stdout.count("--- sample ---") == 1
    assert cylayers.load(tmp_path / "d.cyl")["epoch"] == 2
