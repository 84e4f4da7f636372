"""The README's main example trains for real: a short run learns the digits."""
import importlib.util
import pathlib

import cylayers

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "train_mlp_digits.py"


def _load():
    spec = importlib.util.spec_from_file_location("train_mlp_digits", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_short_training_run_learns(tmp_path, capsys):
    mod = _load()
    ckpt = tmp_path / "mlp.cyl"
    acc = mod.main(["--epochs", "3", "--checkpoint", str(ckpt)])
    out = capsys.readouterr().out
    losses = [float(line.split()[3]) for line in out.splitlines() if line.startswith("epoch")]
    assert losses[-1] < losses[0]
    assert acc > 0.8  # chance is 0.1
    state = cylayers.load(ckpt)
    model = mod.MLP()
    model.load_state_dict(state["model"])
    assert state["epoch"] == 3
