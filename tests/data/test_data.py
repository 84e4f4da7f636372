"""cylayers.data and cylayers.datasets."""
import gzip
import struct

import numpy as np
import pytest

import cylayers
from cylayers.data import DataLoader, Dataset, TensorDataset
from cylayers.datasets import MNIST, FashionMNIST, load_digits, read_idx


def test_tensor_dataset_and_loader_batches():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    ds = TensorDataset(cylayers.tensor(x), y)
    assert len(ds) == 10 and ds[3][0].tolist() == [6.0, 7.0] and ds[3][1].item() == 3
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert len(DataLoader(ds, batch_size=4)) == 3
    assert len(list(DataLoader(ds, batch_size=4, drop_last=True))) == 2
    assert batches[0][1].dtype == cylayers.int64
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, y[:5])
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)


def test_shuffle_is_deterministic_and_reshuffles_each_epoch():
    ds = TensorDataset(np.arange(50))
    cylayers.manual_seed(3)
    first = [b[0].tolist() for b in DataLoader(ds, batch_size=50, shuffle=True)]
    cylayers.manual_seed(3)
    again = [b[0].tolist() for b in DataLoader(ds, batch_size=50, shuffle=True)]
    assert first == again and sorted(first[0]) == list(range(50))
    loader = DataLoader(ds, batch_size=50, shuffle=True, seed=7)
    e1, e2 = [b[0].tolist() for b in loader], [b[0].tolist() for b in loader]
    assert e1 != e2
    assert e1 == [b[0].tolist() for b in DataLoader(ds, batch_size=50, shuffle=True, seed=7)]


def test_generic_dataset_collate():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full(2, i, dtype=np.float32), "y": i * i}

    batch = next(iter(DataLoader(Squares(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["y"].tolist() == [0, 1, 4]


def test_load_digits_split():
    train, test = load_digits()
    assert len(train) + len(test) == 1797
    assert abs(len(test) - 0.2 * 1797) < 10
    x, y = train[0]
    assert x.shape == (1, 8, 8) and x.dtype == cylayers.float32 and 0 <= x.numpy().min()
    assert x.numpy().max() <= 1 and set(np.unique(test.arrays[1])) == set(range(10))
    flat, _ = load_digits(flatten=True)
    assert flat[0][0].shape == (64,)


def _write_idx(path, array, gz=True):
    codes = {np.uint8: 0x08, np.int32: 0x0C}
    header = struct.pack(">BBBB", 0, 0, codes[array.dtype.type], array.ndim)
    header += b"".join(struct.pack(">I", s) for s in array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    (gzip.open if gz else open)(path, "wb").write(payload)


def _fake_mnist(folder, n_train=12, n_test=5, gz=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}",
                   rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), gz)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}",
                   rng.integers(0, 10, n).astype(np.uint8), gz)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files(tmp_path, gz):
    _fake_mnist(tmp_path, gz=gz)
    train, test = MNIST(tmp_path), MNIST(tmp_path, train=False)
    assert len(train) == 12 and len(test) == 5
    x, y = train[0]
    assert x.shape == (1, 28, 28) and 0 <= x.numpy().min() and x.numpy().max() <= 1
    assert y.dtype == cylayers.int64
    assert len(FashionMNIST(tmp_path)) == 12


def test_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="pass download=True"):
        MNIST(tmp_path)
    _fake_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    data = gzip.open(path).read()
    gzip.open(path, "wb").write(data[:-100])
    with pytest.raises(ValueError, match="truncated or corrupt IDX file"):
        MNIST(tmp_path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="cannot read IDX file"):
        read_idx(path)
    raw = tmp_path / "bad-magic"
    raw.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="bad magic number"):
        read_idx(raw)


def test_mnist_download_from_a_mirror(tmp_path):
    """The downloader, against a local file:// mirror (this machine has no internet)."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _fake_mnist(mirror)

    class LocalMNIST(MNIST):
        mirrors = ["file:///nonexistent/", mirror.as_uri() + "/"]

    ds = LocalMNIST(tmp_path / "data", download=True)
    assert len(ds) == 12 and len(LocalMNIST(tmp_path / "data", train=False)) == 5


def _stream_class(lib_data):
    class Stream(lib_data.IterableDataset):
        def __init__(self, n, start=0):
            self.n, self.start = n, start

        def __iter__(self):
            return iter([np.array([self.start + i, 2.0 * i]) for i in range(self.n)])

        def __len__(self):
            return self.n
    return Stream


@pytest.mark.parametrize("batch_size,drop_last", [(2, False), (2, True), (None, False),
                                                  (4, False)])
def test_iterable_dataset_batches_as_pytorch(batch_size, drop_last):
    import torch.utils.data as tdata
    ours_cls, theirs_cls = _stream_class(cylayers.utils.data), _stream_class(tdata)
    ours = cylayers.utils.data.DataLoader(ours_cls(5) + ours_cls(2, start=10),
                                          batch_size=batch_size, drop_last=drop_last)
    theirs = tdata.DataLoader(theirs_cls(5) + theirs_cls(2, start=10), batch_size=batch_size,
                              drop_last=drop_last)
    got, want = list(ours), list(theirs)
    assert len(got) == len(want) == len(ours) == len(theirs)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="shuffle"):
        cylayers.utils.data.DataLoader(ours_cls(3), shuffle=True)


def test_stack_dataset_and_submodule_paths():
    from cylayers.utils.data.dataloader import DataLoader
    from cylayers.utils.data.dataset import StackDataset, TensorDataset
    from cylayers.utils.data.sampler import SequentialSampler  # noqa: F401
    from cylayers.utils.data.distributed import DistributedSampler  # noqa: F401
    pairs = StackDataset(a=TensorDataset(cylayers.arange(4)),
                         b=TensorDataset(cylayers.arange(4) * 10))
    batch = next(iter(DataLoader(pairs, batch_size=3)))
    assert batch["a"][0].tolist() == [0, 1, 2] and batch["b"][0].tolist() == [0, 10, 20]
    with pytest.raises(ValueError, match="Size mismatch"):
        StackDataset(TensorDataset(cylayers.arange(2)), TensorDataset(cylayers.arange(3)))
