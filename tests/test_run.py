"""python -m cylayers.run: PyTorch scripts run unmodified, every torch import resolved to
cylayers, and the real PyTorch never loaded beside it."""
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).parent
SCRIPTS = sorted(p for p in (HERE / "pytorch_scripts").glob("*.py")
                 if not p.stem.startswith("test_"))

NO_REAL_TORCH = """
import sys
real = [n for n, m in sys.modules.items()
        if (getattr(m, "__file__", None) or "").replace("\\\\", "/").count("/torch/")]
assert not real, real
print("FINAL", FINAL_LOSS if "FINAL_LOSS" in globals() else "-")
"""


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "cylayers.run", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_tutorial_script_runs_with_its_imports_untouched(script, tmp_path):
    source = script.read_text()
    assert "import torch\n" in source and "cylayers" not in source
    checked = tmp_path / script.name
    checked.write_text(source + NO_REAL_TORCH)
    done = _run(checked)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Result" in done.stdout or "Learned function" in done.stdout
    loss = float(done.stdout.split("FINAL ")[-1].split()[0])
    assert loss == loss and loss < 1e3  # a number, and training went somewhere


IMPORTS = """
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.dataloader import DataLoader as DataLoader2
from torch.nn.parameter import Parameter
from torch.nn import modules
import cylayers
assert torch is cylayers and nn is cylayers.nn and F is cylayers.nn.functional
assert optim is cylayers.optim and DataLoader is DataLoader2 is cylayers.data.DataLoader
assert Parameter is cylayers.nn.Parameter
print("argv", sys.argv[1:])
"""


def test_the_import_forms_scripts_use(tmp_path):
    script = tmp_path / "imports.py"
    script.write_text(IMPORTS)
    done = _run(script, "--epochs", "3")
    assert done.returncode == 0, done.stderr
    assert "argv ['--epochs', '3']" in done.stdout


def test_a_module_cylayers_lacks_is_named(tmp_path):
    script = tmp_path / "missing.py"
    script.write_text("import torch.distributions\n")
    done = _run(script)
    assert done.returncode != 0
    assert "torch.distributions" in done.stderr and "cylayers does not provide" in done.stderr


def test_usage():
    assert _run().returncode == 2
    assert _run("no_such_script.py").returncode == 2
