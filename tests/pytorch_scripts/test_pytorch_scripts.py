"""PyTorch beginner-tutorial programs (polynomial fits to sin(x) with raw tensors, autograd, a
custom autograd Function, nn, optim, a custom Module, a dynamic graph; the regression example)
run unchanged but for the import line, and reach PyTorch's loss.

Each script here is written with ``import torch``; the test runs it as written, and again with
that line turned into ``import cylayers as torch`` (``import torch.nn.functional as F`` into
``import cylayers.nn.functional as F``). The two libraries draw different random numbers, so the
final losses are compared as numbers of the same size, not bit for bit."""
import pathlib
import runpy

import pytest
import torch

import cylayers

HERE = pathlib.Path(__file__).parent
SCRIPTS = sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("test_"))


def as_cylayers(source):
    return (source.replace("import torch.nn.functional as F", "import cylayers.nn.functional as F")
            .replace("import torch\n", "import cylayers as torch\n"))


def _run(source, tmp_path, name, seed):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    torch.manual_seed(seed)
    cylayers.manual_seed(seed)
    return runpy.run_path(str(path), run_name="__main__")["FINAL_LOSS"]


def test_every_script_is_listed():
    assert len(SCRIPTS) == 8


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_runs_with_only_the_import_changed_and_reaches_pytorchs_loss(name, tmp_path,
                                                                            capsys):
    source = (HERE / f"{name}.py").read_text()
    converted = as_cylayers(source)
    assert "import cylayers as torch\n" in converted
    assert not [line for line in converted.splitlines() if line.startswith("import torch")]
    ours = [_run(converted, tmp_path, name + "_cyl", seed) for seed in (0, 1)]
    theirs = [_run(source, tmp_path, name + "_torch", seed) for seed in (0, 1)]
    out = capsys.readouterr().out
    assert "Result" in out or "Learned function" in out
    if name == "regression":  # run until the loss is below 1e-3
        assert max(ours) < 1e-3 and max(theirs) < 1e-3
        return
    # Same size: within a factor of 3 of the range PyTorch's own runs reach.
    assert min(theirs) / 3 <= min(ours) and max(ours) <= 3 * max(theirs), (ours, theirs)
