"""Direct convolution (cylayers.nn.functional.direct_conv): forced over random geometries
against PyTorch (values, and gradients through the im2col backward), both dtypes; the same bits
on one thread or two; the dispatch rule; the kernel's size checks."""
import importlib

import numpy as np
import pytest
import torch

import cylayers
import cylayers.nn.functional as F
from cylayers._kernels import direct_conv as kernels
from cylayers.nn.functional import direct_conv
from cylayers.nn.functional.conv import ConvGeometry
from helpers import assert_close

conv_module = importlib.import_module("cylayers.nn.functional.conv")
TF = torch.nn.functional


def _force_direct(monkeypatch):
    """Every convolution through the direct kernel (whatever this build's vectors); returns the
    list each direct forward appends to, so a test can tell the kernel ran."""
    ran = []

    def forward(*args):
        ran.append(args[0].shape)
        return direct_conv.direct_forward(*args)
    monkeypatch.setattr(conv_module, "use_direct", lambda *args: True)
    monkeypatch.setattr(conv_module, "direct_forward", forward)
    return ran


def _random_config(rng):
    """A geometry the kernel takes: any nd, stride 1 along the last axis, no groups."""
    nd = int(rng.integers(1, 4))
    spatial = [int(rng.integers(1, 7)) for _ in range(nd - 1)] + [int(rng.integers(1, 70))]
    kernel = [int(rng.integers(1, 4)) for _ in range(nd)]
    dilation = [int(rng.integers(1, 3)) for _ in range(nd)]
    if rng.random() < 0.2:
        padding, stride = "same", [1] * nd
    else:
        padding = [int(rng.integers(0, 3)) for _ in range(nd)]
        stride = [int(rng.integers(1, 4)) for _ in range(nd - 1)] + [1]
    # the padded input must hold one dilated window
    for i in range(nd):
        pad = 2 * padding[i] if padding != "same" else dilation[i] * (kernel[i] - 1)
        while dilation[i] * (kernel[i] - 1) + 1 > spatial[i] + pad:
            spatial[i] += 1
    return dict(nd=nd, n=int(rng.integers(1, 4)), c=int(rng.integers(1, 10)),
                o=int(rng.integers(1, 21)), spatial=spatial, kernel=kernel, stride=stride,
                padding=padding, dilation=dilation, bias=bool(rng.random() < 0.7))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(40))
def test_direct_conv_matches_pytorch_on_random_geometries(monkeypatch, seed, dtype):
    rng = np.random.default_rng(seed)
    cfg = _random_config(rng)
    ran = _force_direct(monkeypatch)
    x = rng.standard_normal((cfg["n"], cfg["c"], *cfg["spatial"])).astype(dtype)
    w = rng.standard_normal((cfg["o"], cfg["c"], *cfg["kernel"])).astype(dtype)
    b = rng.standard_normal(cfg["o"]).astype(dtype) if cfg["bias"] else None
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])
    arrays = (x, w) + ((b,) if b is not None else ())
    ours = [cylayers.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    conv, tconv = getattr(F, f"conv{cfg['nd']}d"), getattr(TF, f"conv{cfg['nd']}d")
    y = conv(*ours[:2], ours[2] if b is not None else None, **kw)
    ty = tconv(*theirs[:2], theirs[2] if b is not None else None, **kw)
    assert ran, "the direct kernel did not run"
    tol = {} if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    assert tuple(y.shape) == tuple(ty.shape)
    assert_close(y, ty, dtype, **tol)
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    y.backward(cylayers.tensor(g))
    ty.backward(torch.from_numpy(g))
    for a, t in zip(ours, theirs):
        assert_close(a.grad, t.grad, dtype, **tol)


def test_direct_conv_gives_the_same_bits_on_one_thread_or_two(monkeypatch):
    _force_direct(monkeypatch)
    rng = np.random.default_rng(5)
    x = cylayers.tensor(rng.standard_normal((4, 3, 19, 37)).astype(np.float32))
    w = cylayers.tensor(rng.standard_normal((13, 3, 3, 3)).astype(np.float32))
    b = cylayers.tensor(rng.standard_normal(13).astype(np.float32))
    outs = []
    for n in (1, 2):
        monkeypatch.setattr(direct_conv, "threads_for", lambda *args, n=n: n)
        outs.append(F.conv2d(x, w, b, padding=1).numpy().copy())
    np.testing.assert_array_equal(outs[0], outs[1])


def _geom(spatial, kernel, stride=None, padding=0):
    nd = len(spatial)
    stride = stride or (1,) * nd
    pad = (padding,) * nd
    return ConvGeometry(spatial, kernel, stride, pad, pad, (1,) * nd)


def test_direct_conv_dispatch_rule(monkeypatch):
    """Few taps (C x kernel volume <= 72) at any width, or rows of 24+ outputs; never with
    narrower vectors, a stride along the rows, groups, or where Winograd's backward needs its
    forward."""
    monkeypatch.setattr(direct_conv, "_register_kernels", True)
    use = direct_conv.use_direct
    tutorial_conv2d, tutorial_conv3d = _geom((32, 32), (3, 3)), _geom((16, 16, 16), (3, 3, 3))
    assert use(tutorial_conv2d, 1, 3, False, True) and use(tutorial_conv3d, 1, 1, False, True)
    assert use(_geom((8, 8), (3, 3), padding=1), 1, 8, True, False)        # 72 taps
    assert not use(_geom((8, 8), (3, 3), padding=1), 1, 16, True, False)   # 144 taps, 8 wide
    assert use(_geom((32, 32), (3, 3), padding=1), 1, 64, True, False)     # wide rows
    assert not use(_geom((32, 32), (3, 3), padding=1), 1, 64, True, True)  # Winograd's backward
    assert not use(_geom((32, 32), (3, 3), (2, 2)), 1, 3, False, True)     # stride along rows
    assert use(_geom((32, 32), (3, 3), (2, 1)), 1, 3, False, True)         # only down columns
    assert not use(tutorial_conv2d, 3, 3, False, True)                         # groups
    monkeypatch.setattr(direct_conv, "_register_kernels", False)
    assert not use(tutorial_conv2d, 1, 3, False, True)


def test_direct_conv_kernel_refuses_sizes_that_do_not_fit():
    x = np.zeros(2 * 3 * 8 * 8, np.float32)
    w = np.zeros(5 * 27, np.float32)
    packed = np.zeros(kernels.packed_length(5, 27), np.float32)
    kernels.pack_weights(w, packed, 5, 27)
    with pytest.raises(ValueError, match="pack_weights"):
        kernels.pack_weights(w, packed[:-1], 5, 27)
    row = kernels.row_length(6, 3, 1, True)
    scratch_len = kernels.scratch_length(3, 1, 3, 1, 1, row)
    good = dict(x=x, packed=packed, bias=np.zeros(0, np.float32),
                out=np.zeros(2 * 5 * 6 * 6, np.float32),
                scratch=np.zeros((2, scratch_len), np.float32), offsets=np.zeros(27, np.intp))
    geometry = (2, 3, 1, 8, 8, 1, 3, 3, 1, 1, 0, 0, 0, 1, 1, 1, 5, 1, 6, 6)

    def run(threads=2, **changes):
        args = {**good, **changes}
        kernels.forward(*args.values(), *geometry, threads)
    run()
    for bad in (dict(out=np.zeros(2 * 5 * 36 - 1, np.float32)),
                dict(x=np.zeros(x.size + 1, np.float32)),
                dict(scratch=np.zeros((2, scratch_len - 1), np.float32)),
                dict(bias=np.zeros(4, np.float32)),
                dict(offsets=np.zeros(26, np.intp))):
        with pytest.raises(ValueError, match="sizes do not match"):
            run(**bad)
    with pytest.raises(ValueError, match="sizes do not match"):
        run(threads=3)  # scratch rows for two threads only
