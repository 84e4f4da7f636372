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

    monkeypatch.setattr(np.lib.format, "write_array", crash)
    with pytest.raises(KeyboardInterrupt):
        cylayers.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert cylayers.load(path) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.cyl"]  # no temp file left behind


# ---------------------------------------------------------------- malformed files: one error type
def _archive(tmp_path, manifest_bytes, members=None, name="m.cyl", compression=0):
    import zipfile
    import io
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.frombuffer(manifest_bytes, dtype=np.uint8))
        zf.writestr("__cylayers_manifest__.npy", buf.getvalue())
        for key, data in (members or {}).items():
            zf.writestr(key, data)
    return path


def _npy(arr):
    import io
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr)
    return buf.getvalue()


def _manifest(root):
    import json
    return json.dumps({"format": "cylayers-checkpoint", "version": 1, "root": root}).encode()


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


@pytest.mark.parametrize("manifest", [b"[]", b"3", b"null", b'"text"', b"{", b"\xff\xfe",
                                      _manifest({"t": "dict"}), _manifest({"t": 5}),
                                      _manifest({"t": "dict", "items": [[1, 2]]}),
                                      _manifest({"t": "dict", "items": [["k", "float", {}]]}),
                                      _manifest({"t": "int", "v": "x"}),
                                      _manifest({"t": "float", "v": 1.5}),
                                      _manifest({"t": "value", "v": [1]}),
                                      _manifest({"t": "tensor", "ref": 7}),
                                      _manifest({"t": "tensor", "ref": "missing"}),
                                      _manifest({"t": "list", "items": "abc"}),
                                      _manifest(["not", "a", "node"]),
                                      b'{"format": "cylayers-checkpoint", "version": "1"}'])
def test_malformed_manifests_raise_checkpoint_error(tmp_path, manifest):
    with pytest.raises(CheckpointError):
        cylayers.load(_archive(tmp_path, manifest))


@pytest.mark.parametrize("depth", [300, 600, 5000, 100000])
def test_deeply_nested_manifest_raises_checkpoint_error(tmp_path, depth):
    root = '{"t": "list", "items": [' * depth + "]}" * depth
    manifest = ('{"format": "cylayers-checkpoint", "version": 1, "root": ' + root + "}").encode()
    with pytest.raises(CheckpointError, match="nest"):
        cylayers.load(_archive(tmp_path, manifest))


def test_save_refuses_what_load_would_refuse(tmp_path):
    deep = []
    for _ in range(cylayers.serialization.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ValueError, match="nesting deeper"):
        cylayers.save(deep, tmp_path / "deep.cyl")
    ok = []
    for _ in range(cylayers.serialization.MAX_DEPTH - 2):
        ok = [ok]
    cylayers.save(ok, tmp_path / "ok.cyl")
    assert cylayers.load(tmp_path / "ok.cyl") == ok


def test_non_npy_member_and_absurd_shapes_raise_checkpoint_error(tmp_path):
    root = {"t": "ndarray", "ref": "a0"}
    with pytest.raises(CheckpointError, match="not an .npy array"):
        cylayers.load(_archive(tmp_path, _manifest(root), {"a0.npy": b"plain bytes"}))
    huge = _npy(np.zeros(4, np.float32)).replace(b"(4,)", b"(10000000000000,)")
    with pytest.raises(CheckpointError, match="declares shape"):
        cylayers.load(_archive(tmp_path, _manifest(root), {"a0.npy": huge}))
    short = _npy(np.zeros(8, np.float32)).replace(b"(8,)", b"(9,)")
    with pytest.raises(CheckpointError, match="declares shape"):
        cylayers.load(_archive(tmp_path, _manifest(root), {"a0.npy": short}))


def test_encrypted_and_unknown_compression_members_raise_checkpoint_error(tmp_path):
    import zipfile
    root = {"t": "ndarray", "ref": "a0"}
    path = _archive(tmp_path, _manifest(root), {"a0.npy": _npy(np.arange(3.0))})
    data = bytearray(path.read_bytes())
    encrypted = tmp_path / "enc.cyl"
    # set the "encrypted" flag bit of every local and central header
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i >= 0:
            data[i + off] |= 1
            i = data.find(sig, i + 4)
    encrypted.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        cylayers.load(encrypted)
    bz = _archive(tmp_path, _manifest(root), {"a0.npy": _npy(np.arange(3.0))}, name="bz.cyl",
                  compression=zipfile.ZIP_BZIP2)
    with pytest.raises(CheckpointError, match="unsupported compression"):
        cylayers.load(bz)


def test_deflated_archives_from_numpy_still_load(tmp_path):
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, __cylayers_manifest__=np.frombuffer(
        _manifest({"t": "ndarray", "ref": "a0"}), dtype=np.uint8), a0=np.arange(1000.0))
    np.testing.assert_array_equal(cylayers.load(path), np.arange(1000.0))


def test_saved_file_is_a_standard_npz(tmp_path):
    cylayers.save({"w": cylayers.arange(4)}, tmp_path / "c.cyl")
    with np.load(tmp_path / "c.cyl", allow_pickle=False) as archive:
        assert archive["a0"].tolist() == [0, 1, 2, 3]


# ---------------------------------------------------------------- resources and files
def test_load_streams_members_peak_about_one_checkpoint(tmp_path):
    import tracemalloc
    size = 40 * 2 ** 20
    cylayers.save({"big": np.ones(size // 8)}, tmp_path / "big.cyl")
    tracemalloc.start()
    try:
        back = cylayers.load(tmp_path / "big.cyl")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert back["big"].nbytes == size
    assert peak < 1.15 * size, f"peak {peak / size:.2f}x the checkpoint"


def test_save_writes_through_symlinks(tmp_path):
    real = tmp_path / "runs" / "real.cyl"
    real.parent.mkdir()
    cylayers.save({"epoch": 1}, real)
    link = tmp_path / "latest.cyl"
    link.symlink_to(real)
    cylayers.save({"epoch": 2}, link)
    assert link.is_symlink()
    assert cylayers.load(real) == {"epoch": 2}
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.cyl"]


def test_new_files_follow_the_umask_and_existing_files_keep_their_mode(tmp_path):
    old = os.umask(0o027)
    try:
        cylayers.save({"a": 1}, tmp_path / "new.cyl")
    finally:
        os.umask(old)
    assert (tmp_path / "new.cyl").stat().st_mode & 0o777 == 0o640
    existing = tmp_path / "existing.cyl"
    cylayers.save({"a": 1}, existing)
    os.chmod(existing, 0o604)
    cylayers.save({"a": 2}, existing)
    assert existing.stat().st_mode & 0o777 == 0o604


@pytest.mark.parametrize("when", ["encoding", "writing", "syncing"])
def test_no_temporary_file_left_on_error_or_ctrl_c(tmp_path, monkeypatch, when):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    if when == "encoding":
        obj = {"f": object()}
    else:
        obj = {"w": np.ones(10)}
        target = (np.lib.format, "write_array") if when == "writing" else (os, "fsync")
        monkeypatch.setattr(*target, interrupt)
    with pytest.raises((KeyboardInterrupt, TypeError)):
        cylayers.save(obj, tmp_path / "c.cyl")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_tensors_shared_between_keys_stay_shared(tmp_path):
    w = nn.Parameter(cylayers.randn(3))
    arr = np.arange(4)
    cylayers.save({"encoder": w, "decoder": w, "a": arr, "b": arr, "other": w * 1},
                  tmp_path / "tied.cyl")
    back = cylayers.load(tmp_path / "tied.cyl")
    assert back["encoder"] is back["decoder"]
    assert isinstance(back["encoder"], nn.Parameter)
    assert back["a"] is back["b"]
    assert back["other"] is not back["encoder"]
    with np.load(tmp_path / "tied.cyl") as archive:
        assert len(archive.files) == 4  # manifest + three members: w stored once


def test_load_from_a_file_object_and_big_endian_members(tmp_path):
    path = _archive(tmp_path, _manifest({"t": "tensor", "ref": "a0"}),
                    {"a0.npy": _npy(np.arange(4, dtype=">f4"))})
    with open(path, "rb") as fh:
        t = cylayers.load(fh)
    assert t.dtype == cylayers.float32 and t.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert (t * 2).tolist() == [0.0, 2.0, 4.0, 6.0]


def test_a_pytorch_checkpoint_is_named_and_the_way_to_its_weights_shown(tmp_path):
    import torch
    zipped, legacy = tmp_path / "m.pt", tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(2)}, zipped)
    torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    for path, what in ((zipped, "is a PyTorch checkpoint"), (legacy, "is a pickled file")):
        with pytest.raises(cylayers.serialization.CheckpointError) as e:
            cylayers.load(path)
        assert what in str(e.value) and "never unpickles" in str(e.value)
        assert "load_state_dict({k: v.numpy() for k, v in torch.load(path).items()})" \
            in str(e.value)


def test_saving_into_a_missing_folder_names_the_folder_as_pytorch_does(tmp_path):
    missing = tmp_path / "nowhere" / "model.cyl"
    with pytest.raises(RuntimeError, match=f"Parent directory {tmp_path / 'nowhere'} does not "
                                           "exist."):
        cylayers.save({"a": cylayers.ones(1)}, missing)
    assert not (tmp_path / "nowhere").exists()
