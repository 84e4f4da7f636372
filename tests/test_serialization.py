"""cylayers.save / load: round trips, atomic writes, corrupt and hostile files."""
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn
from cylayers.serialization import CheckpointError


def test_round_trip_nested_state(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    obj = {"model": model.state_dict(), "epoch": 3, "lr": 0.125, "name": "run-1",
           "history": [1.5, 2.5, float("nan")], "shape": (2, 3), "none": None, "flag": True,
           "big": 2 ** 70, "ints": {0: np.arange(3), 1: cylayers.tensor([1, 2])},
           "f64": cylayers.randn(2, dtype=cylayers.float64),
           "scalar": cylayers.tensor(5), "transposed": cylayers.arange(6).view(2, 3).T}
    path = tmp_path / "ckpt.cyl"
    cylayers.save(obj, path)
    back = cylayers.load(path)
    assert isinstance(back["model"], OrderedDict)
    assert list(back["model"]) == list(model.state_dict())
    for k, v in model.state_dict().items():
        assert back["model"][k].equal(v) and back["model"][k].dtype == v.dtype
    assert back["epoch"] == 3 and back["lr"] == 0.125 and back["name"] == "run-1"
    assert back["history"][:2] == [1.5, 2.5] and np.isnan(back["history"][2])
    assert back["shape"] == (2, 3) and back["none"] is None and back["flag"] is True
    assert back["big"] == 2 ** 70
    assert back["ints"][0].tolist() == [0, 1, 2] and back["ints"][1].dtype == cylayers.int64
    assert back["f64"].dtype == cylayers.float64
    assert back["scalar"].shape == () and back["scalar"].item() == 5
    assert back["transposed"].tolist() == [[0, 3], [1, 4], [2, 5]]
    model2 = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model2.load_state_dict(back["model"])
    x = cylayers.randn(5, 3)
    assert model2(x).equal(model(x))


def test_torch_model_weights_round_trip_through_cylayers_file(tmp_path):
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    cylayers.save({k: v.numpy() for k, v in theirs.state_dict().items()}, tmp_path / "t.cyl")
    ours = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    ours.load_state_dict(cylayers.load(tmp_path / "t.cyl"))
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(cylayers.tensor(x)).detach().numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-6)


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_PICKLE",))


def test_pickle_payload_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = tmp_path / "evil.pt"
    raw.write_bytes(pickle.dumps({"x": _Boom()}))
    with pytest.raises(CheckpointError, match="not a cylayers checkpoint"):
        cylayers.load(raw)
    # a torch.save file is a zip holding a pickle: refused too
    torch.save({"x": torch.ones(2)}, tmp_path / "torch.pt")
    with pytest.raises(CheckpointError):
        cylayers.load(tmp_path / "torch.pt")
    # an npz whose array is a pickled object
    evil_npz = tmp_path / "evil.npz"
    arr = np.empty(1, dtype=object)
    arr[0] = _Boom()
    np.savez(evil_npz, __cylayers_manifest__=np.frombuffer(
        b'{"format": "cylayers-checkpoint", "version": 1, "root": {"t": "ndarray", "ref": "a0"}}',
        dtype=np.uint8), a0=arr)
    with pytest.raises(CheckpointError):
        cylayers.load(evil_npz)
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()


def test_corrupt_and_foreign_files(tmp_path):
    good = tmp_path / "good.cyl"
    cylayers.save({"w": cylayers.randn(100)}, good)
    data = good.read_bytes()
    truncated = tmp_path / "trunc.cyl"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        cylayers.load(truncated)
    foreign = tmp_path / "plain.npz"
    np.savez(foreign, a=np.zeros(2))
    with pytest.raises(CheckpointError, match="no manifest"):
        cylayers.load(foreign)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError):
        cylayers.load(text)
    with pytest.raises(TypeError, match="cannot store objects of type"):
        cylayers.save({"f": lambda: 0}, tmp_path / "x.cyl")


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.cyl"
    cylayers.save({"epoch": 1}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut mid-write")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        cylayers.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert cylayers.load(path) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.cyl"]  # no temp file left behind
