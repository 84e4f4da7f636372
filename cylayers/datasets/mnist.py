"""MNIST and FashionMNIST from the standard IDX files (optionally gzipped) in a folder."""
import gzip
import os
import shutil
import tempfile
import urllib.request

import numpy as np

from cylayers.data.dataset import TensorDataset

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
               0x0E: ">f8"}


def read_idx(path):
    """Read an IDX file (.gz or raw) into a numpy array; truncated or corrupt files raise
    ValueError naming the file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot read IDX file ({e})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: truncated or corrupt IDX file: expected {expected} bytes of "
                         f"data for shape {shape}, found {len(data) - header}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


class MNIST(TensorDataset):
    """Images as float32 (1, 28, 28) in [0, 1] and int64 labels, read from ``root``.

    With ``download=True`` missing files are fetched from ``mirrors`` (needs internet)."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    files = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

    def __init__(self, root, train=True, download=False):
        self.root, self.train = os.fspath(root), train
        paths = [self._find(name) for name in self.files[train]]
        if any(p is None for p in paths):
            if not download:
                missing = [n for n, p in zip(self.files[train], paths) if p is None]
                raise FileNotFoundError(f"{type(self).__name__}: {', '.join(missing)}(.gz) not "
                                        f"found in {self.root}; pass download=True to fetch them")
            self.download()
            paths = [self._find(name) for name in self.files[train]]
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: image/label files do not match "
                             f"({images.shape} vs {labels.shape})")
        super().__init__((images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int64))

    def _find(self, name):
        for candidate in (name, name + ".gz"):
            path = os.path.join(self.root, candidate)
            if os.path.exists(path):
                return path
        return None

    def download(self):
        os.makedirs(self.root, exist_ok=True)
        for name in self.files[True] + self.files[False]:
            if self._find(name):
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    with urllib.request.urlopen(mirror + name + ".gz", timeout=30) as r:
                        fd, tmp = tempfile.mkstemp(dir=self.root)
                        with os.fdopen(fd, "wb") as out:
                            shutil.copyfileobj(r, out)
                    os.replace(tmp, os.path.join(self.root, name + ".gz"))
                    break
                except OSError as e:
                    errors.append(f"{mirror}: {e}")
            else:
                raise RuntimeError(f"could not download {name}.gz: " + "; ".join(errors))


class FashionMNIST(MNIST):
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
