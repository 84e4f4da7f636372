"""F.unfold / F.fold and nn.Unfold / nn.Fold against PyTorch: values and gradients in both
dtypes, batched and unbatched, float64 gradcheck, argument errors and reprs."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cylayers
from cylayers import nn
import cylayers.nn.functional as F
from cylayers.autograd import gradcheck
from helpers import assert_close, to_torch

CONFIGS = [
    ((2, 3, 5, 6), dict(kernel_size=2)),
    ((2, 3, 5, 6), dict(kernel_size=(2, 3), stride=(2, 1), padding=1, dilation=(1, 2))),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=(0, 2))),
    ((3, 4, 4), dict(kernel_size=(1, 2), dilation=2)),  # unbatched
    ((2, 1, 4, 4), dict(kernel_size=4)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_unfold_and_fold_match_torch(shape, kw, dtype):
    arr = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    x, tx = cylayers.tensor(arr, requires_grad=True), to_torch(arr, requires_grad=True)
    cols, tcols = F.unfold(x, **kw), TF.unfold(tx, **kw)
    assert_close(cols, tcols, dtype)
    size = shape[-2:]
    img, timg = F.fold(cols * 2, size, **kw), TF.fold(tcols * 2, size, **kw)
    assert_close(img, timg, dtype)
    w = np.random.default_rng(1).standard_normal(tuple(timg.shape)).astype(dtype)
    (img * cylayers.tensor(w)).sum().backward()
    (timg * torch.from_numpy(w)).sum().backward()
    assert_close(x.grad, tx.grad, dtype)


@pytest.mark.parametrize("shape,kw", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_unfold_and_fold_gradcheck(shape, kw):
    arr = np.random.default_rng(2).standard_normal(shape)
    assert gradcheck(lambda t: F.unfold(t, **kw), [cylayers.tensor(arr, requires_grad=True)])
    cols = F.unfold(cylayers.tensor(arr), **kw).numpy()
    assert gradcheck(lambda t: F.fold(t, shape[-2:], **kw),
                     [cylayers.tensor(cols, requires_grad=True)])


def test_fold_sums_overlaps_exactly():
    ones = cylayers.ones(1, 4, 9, dtype=cylayers.float64)  # 2x2 blocks of a 4x4 image, stride 1
    counts = F.fold(ones, (4, 4), 2).numpy()[0, 0]
    assert counts.tolist() == [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]


@pytest.mark.parametrize("call,message", [
    (lambda m: m.nn.functional.unfold(m.zeros(2, 3), 2), "Only 3D or 4D input"),
    (lambda m: m.nn.functional.unfold(m.zeros(1, 2, 3, 3), 4), "must be at least one"),
    (lambda m: m.nn.functional.unfold(m.zeros(1, 2, 3, 3), 2, stride=0), "stride should be"),
    (lambda m: m.nn.functional.fold(m.zeros(1, 7, 4), (3, 3), 2), "divisible by the product"),
    (lambda m: m.nn.functional.fold(m.zeros(1, 8, 5), (3, 3), 2), "number of sliding blocks"),
    (lambda m: m.nn.functional.fold(m.zeros(8), (3, 3), 2), "Only unbatched"),
])
def test_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call(cylayers)
    with pytest.raises((RuntimeError, IndexError)):
        call(torch)


def test_modules_and_reprs():
    pairs = [(nn.Unfold(2, stride=2), torch.nn.Unfold(2, stride=2)),
             (nn.Fold((4, 4), 2, padding=1), torch.nn.Fold((4, 4), 2, padding=1))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    arr = np.random.default_rng(3).standard_normal((2, 3, 4, 4)).astype(np.float32)
    cols = pairs[0][0](cylayers.tensor(arr))
    assert_close(cols, pairs[0][1](torch.from_numpy(arr)))
    back = pairs[1][0](F.unfold(cylayers.tensor(arr), 2, padding=1))
    assert_close(back, pairs[1][1](TF.unfold(torch.from_numpy(arr), 2, padding=1)))
