"""examples/pytorch_script.py, a PyTorch CIFAR-tutorial-style script, runs on cylayers as
shipped and on PyTorch with only its import line changed; both learn the digits."""
import pathlib
import runpy

import torch  # noqa: F401  (the converted copy imports it)

import cylayers

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "pytorch_script.py"
IMPORT_LINE = "import cylayers as torch  # the only line to change: `import torch` runs this " \
    "on PyTorch\n"


def _main(path):
    return runpy.run_path(str(path), run_name="pytorch_script")["main"]


def test_runs_on_cylayers_and_on_pytorch_with_only_the_import_changed(tmp_path, capsys):
    source = SCRIPT.read_text()
    assert source.count(IMPORT_LINE) == 1
    torch_copy = tmp_path / "torch_script.py"
    torch_copy.write_text(source.replace(IMPORT_LINE, "import torch\n"))
    code = [line for line in torch_copy.read_text().splitlines() if line.startswith("import")]
    assert "import torch" in code and not any("cylayers" in line for line in code)
    ours = _main(SCRIPT)(["--epochs", "4", "--save", str(tmp_path / "ours.pt")])
    ours_out = capsys.readouterr().out
    theirs = _main(torch_copy)(["--epochs", "4", "--save", str(tmp_path / "theirs.pt")])
    theirs_out = capsys.readouterr().out
    assert ours > 0.85 and theirs > 0.85  # chance is 0.1
    for out in (ours_out, theirs_out):
        assert out.count("[epoch") == 4 and "conv1 active" in out
        assert "Accuracy for digit 9" in out and "saved the trained model" in out
    state = cylayers.load(tmp_path / "ours.pt")
    assert set(state) == {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                          "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
