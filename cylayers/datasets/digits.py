"""scikit-learn's bundled 8x8 handwritten digits (1797 images): needs no download."""
import numpy as np

from cylayers.data.dataset import TensorDataset


def load_digits(test_fraction=0.2, seed=0, flatten=False):
    """(train, test) TensorDatasets of images scaled to [0, 1] — shape (1, 8, 8), or (64,)
    with ``flatten`` — and int64 labels, split by a seeded stratified shuffle."""
    try:
        from sklearn.datasets import load_digits as _sk_load
    except ImportError:
        raise ImportError("load_digits needs scikit-learn: pip install scikit-learn "
                          "(or the 'examples' extra of cylayers)") from None
    digits = _sk_load()
    x = (digits.images / 16.0).astype(np.float32)
    x = x.reshape(len(x), 64) if flatten else x.reshape(len(x), 1, 8, 8)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test_idx = []
    for label in np.unique(y):  # stratified: each class split in the same proportion
        members = np.flatnonzero(y == label)
        rng.shuffle(members)
        test_idx.extend(members[:int(round(len(members) * test_fraction))])
    test_mask = np.zeros(len(y), dtype=bool)
    test_mask[test_idx] = True
    return TensorDataset(x[~test_mask], y[~test_mask]), TensorDataset(x[test_mask], y[test_mask])
