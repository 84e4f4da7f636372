"""Convolutions and pooling: PyTorch parity over stride/padding/dilation/groups/'same'/ceil_mode,
both dtypes, gradcheck, clear errors, and random configurations (hypothesis)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import cylayers
from cylayers import nn
import cylayers.nn.functional as F
from cylayers.autograd import gradcheck
from helpers import assert_close, assert_close_sum

TF = torch.nn.functional


def _pair(shape, dtype, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return cylayers.tensor(a, requires_grad=True), torch.from_numpy(a.copy()).requires_grad_()


def _check(fo, ft, inputs, dtype):
    ours = [o for o, _ in inputs]
    theirs = [t for _, t in inputs]
    yo, yt = fo(*ours), ft(*theirs)
    assert tuple(yo.shape) == tuple(yt.shape)
    # An output is a sum over its window (at most every input element); a gradient element a
    # sum over every output that used it (at most every output element).
    assert_close_sum(yo, yt, dtype, terms=max(t.numel() for t in theirs))
    g = np.random.default_rng(9).standard_normal(tuple(yt.shape)).astype(dtype)
    yo.backward(cylayers.tensor(g))
    yt.backward(torch.from_numpy(g))
    for o, t in zip(ours, theirs):
        assert_close_sum(o.grad, t.grad, dtype, terms=yt.numel())


CONV_CASES = [
    (1, (2, 4, 11), (6, 4, 3), dict()),
    (1, (2, 4, 11), (6, 2, 3), dict(stride=2, padding=2, dilation=2, groups=2)),
    (1, (4, 9), (5, 4, 4), dict(padding="same")),
    (2, (2, 3, 8, 7), (5, 3, 3, 3), dict()),
    (2, (2, 3, 8, 7), (5, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    (2, (2, 4, 7, 7), (6, 2, 3, 3), dict(groups=2, padding=1)),
    (2, (1, 4, 6, 6), (4, 1, 3, 3), dict(groups=4, padding="same")),  # depthwise
    (2, (2, 3, 6, 5), (4, 3, 4, 2), dict(padding="same", dilation=2)),  # even kernel 'same'
    (2, (2, 3, 5, 5), (4, 3, 5, 5), dict(padding="valid")),
    (2, (3, 6, 6), (2, 3, 1, 1), dict()),  # unbatched, 1x1
    (3, (1, 2, 5, 6, 4), (3, 2, 3, 3, 2), dict(padding=1, stride=(1, 2, 1))),
    (3, (2, 1, 4, 4, 4), (2, 1, 2, 2, 2), dict(dilation=2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,xshape,wshape,kw", CONV_CASES, ids=str)
def test_conv_parity(nd, xshape, wshape, kw, dtype):
    x = _pair(xshape, dtype, 0)
    w = _pair(wshape, dtype, 1)
    b = _pair((wshape[0],), dtype, 2)
    fo = getattr(F, f"conv{nd}d")
    ft = getattr(TF, f"conv{nd}d")
    _check(lambda a, c, d: fo(a, c, d, **kw), lambda a, c, d: ft(a, c, d, **kw), [x, w, b], dtype)


@pytest.mark.parametrize("nd,xshape,wshape,kw", [CONV_CASES[1], CONV_CASES[5], CONV_CASES[7],
                                                 CONV_CASES[10]], ids=str)
def test_conv_gradcheck(nd, xshape, wshape, kw):
    x, _ = _pair(xshape, np.float64, 0)
    w, _ = _pair(wshape, np.float64, 1)
    b, _ = _pair((wshape[0],), np.float64, 2)
    fn = getattr(F, f"conv{nd}d")
    assert gradcheck(lambda a, c, d: fn(a, c, d, **kw), [x, w, b])


def test_conv_modules_load_torch_weights_and_init():
    for ours, theirs, shape in ((nn.Conv2d(3, 8, 3, padding=1), torch.nn.Conv2d(3, 8, 3, padding=1),
                                 (2, 3, 9, 9)),
                                (nn.Conv1d(4, 6, 5, groups=2, bias=False),
                                 torch.nn.Conv1d(4, 6, 5, groups=2, bias=False), (3, 4, 12)),
                                (nn.Conv3d(1, 16, 3), torch.nn.Conv3d(1, 16, 3), (1, 1, 5, 5, 5))):
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        assert_close(ours(cylayers.tensor(x)), theirs(torch.from_numpy(x)), rtol=1e-4, atol=1e-5)
    conv = nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    assert np.abs(conv.weight.detach().numpy()).max() <= bound
    assert np.abs(conv.bias.detach().numpy()).max() <= bound


def test_conv_errors():
    with pytest.raises(RuntimeError, match="expected input\\[2, 4, 5, 5\\] to have 3 channels"):
        F.conv2d(cylayers.randn(2, 4, 5, 5), cylayers.randn(8, 3, 3, 3))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(cylayers.randn(1, 3, 2, 2), cylayers.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 3, 3, stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D \\(batched\\)"):
        nn.Conv2d(3, 3, 3)(cylayers.randn(3, 5))
    with pytest.raises(ValueError, match="padding_mode must be one of .*got padding_mode='x'"):
        nn.Conv2d(3, 3, 3, padding_mode="x")


@pytest.mark.parametrize("nd,shape", [(1, (2, 4, 13)), (2, (2, 4, 9, 8)), (3, (2, 2, 5, 6, 7))])
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding,dilation,stride", [(1, 1, 1), (2, 1, 2), ("same", 2, 1),
                                                     ("valid", 1, 1), ((1, 2, 0), 1, 1)])
def test_conv_padding_modes_match_pytorch(nd, shape, mode, padding, dilation, stride):
    if isinstance(padding, tuple):
        padding = padding[:nd]
    kw = dict(padding=padding, padding_mode=mode, dilation=dilation, stride=stride,
              groups=2 if shape[1] % 2 == 0 and nd < 3 else 1)
    theirs = getattr(torch.nn, f"Conv{nd}d")(shape[1], 4, 3, **kw).double()
    ours = getattr(nn, f"Conv{nd}d")(shape[1], 4, 3, **kw).double()
    ours.load_state_dict({k: cylayers.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(nd).standard_normal(shape)
    tx, cx = torch.tensor(x, requires_grad=True), cylayers.tensor(x, requires_grad=True)
    g = np.random.default_rng(1).standard_normal(tuple(theirs(tx).shape))
    theirs(tx).backward(torch.tensor(g))
    ours(cx).backward(cylayers.tensor(g))
    assert_close(ours(cx), theirs(tx), np.float64)
    assert_close(cx.grad, tx.grad, np.float64)
    assert_close(ours.weight.grad, theirs.weight.grad, np.float64)
    if nd == 1:
        assert gradcheck(ours, (cylayers.tensor(x[:1], requires_grad=True),))


POOL_CASES = [
    ("max_pool1d", (2, 3, 11), dict(kernel_size=3)),
    ("max_pool1d", (2, 3, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max_pool2d", (2, 3, 9, 8), dict(kernel_size=2)),
    ("max_pool2d", (2, 3, 9, 8), dict(kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=2)),
    ("max_pool2d", (3, 7, 7), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ("max_pool3d", (1, 2, 5, 6, 7), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ("avg_pool1d", (2, 3, 10), dict(kernel_size=4, stride=3, padding=2)),
    ("avg_pool2d", (2, 3, 9, 8), dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool2d", (2, 3, 9, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                      count_include_pad=False)),
    ("avg_pool2d", (2, 3, 8, 8), dict(kernel_size=2, divisor_override=3)),
    ("avg_pool3d", (1, 2, 5, 6, 7), dict(kernel_size=(2, 3, 2), padding=1, ceil_mode=True)),
    ("adaptive_avg_pool1d", (2, 3, 10), dict(output_size=4)),
    ("adaptive_avg_pool2d", (2, 3, 9, 7), dict(output_size=(4, 3))),
    ("adaptive_avg_pool2d", (2, 3, 9, 7), dict(output_size=1)),
    ("adaptive_avg_pool2d", (2, 3, 5, 7), dict(output_size=(None, 2))),
    ("adaptive_avg_pool3d", (1, 2, 5, 6, 7), dict(output_size=(2, 3, 5))),
    ("adaptive_avg_pool3d", (2, 3, 2, 3, 4), dict(output_size=1)),   # global: its own loop
    ("adaptive_avg_pool1d", (2, 3, 10), dict(output_size=1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,shape,kw", POOL_CASES, ids=str)
def test_pool_parity(name, shape, kw, dtype):
    x = _pair(shape, dtype)
    _check(lambda a: getattr(F, name)(a, **kw), lambda a: getattr(TF, name)(a, **kw), [x], dtype)


@pytest.mark.parametrize("name,shape,kw", [POOL_CASES[3], POOL_CASES[8], POOL_CASES[12]],
                         ids=str)
def test_pool_gradcheck(name, shape, kw):
    x, _ = _pair(shape, np.float64)
    assert gradcheck(lambda a: getattr(F, name)(a, **kw), [x])


def test_max_pool_nan_indices_and_errors():
    x = np.random.default_rng(0).standard_normal((1, 1, 4, 4)).astype(np.float32)
    x[0, 0, 1, 1] = np.nan
    assert_close(F.max_pool2d(cylayers.tensor(x), 2), TF.max_pool2d(torch.from_numpy(x), 2))
    out, idx = F.max_pool2d(cylayers.tensor(x), 2, return_indices=True)
    _, tidx = TF.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    assert idx.tolist() == tidx.tolist()
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel"):
        F.max_pool2d(cylayers.randn(1, 1, 5, 5), 3, padding=2)
    assert repr(nn.MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_property_conv2d_random_configs(data):
    n = data.draw(st.integers(1, 3))
    groups = data.draw(st.integers(1, 3))
    cin = groups * data.draw(st.integers(1, 2))
    cout = groups * data.draw(st.integers(1, 2))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    sh, sw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    dh, dw = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    ph, pw = data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))
    h = data.draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 9))
    w = data.draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 9))
    x = _pair((n, cin, h, w), np.float64, 0)
    wt = _pair((cout, cin // groups, kh, kw), np.float64, 1)
    kw_ = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups)
    _check(lambda a, b: F.conv2d(a, b, **kw_), lambda a, b: TF.conv2d(a, b, **kw_), [x, wt],
           np.float64)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), kind=st.sampled_from(["max", "avg"]))
def test_property_pool2d_random_configs(data, kind):
    k = data.draw(st.integers(1, 4))
    s = data.draw(st.integers(1, 3))
    p = data.draw(st.integers(0, k // 2))
    ceil = data.draw(st.booleans())
    h = data.draw(st.integers(max(1, k - 2 * p), 10))
    w = data.draw(st.integers(max(1, k - 2 * p), 10))
    x = _pair((2, 2, h, w), np.float64)
    name = f"{kind}_pool2d"
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil)
    if kind == "avg":
        kw["count_include_pad"] = data.draw(st.booleans())
    _check(lambda a: getattr(F, name)(a, **kw), lambda a: getattr(TF, name)(a, **kw), [x],
           np.float64)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("stride,padding,dilation", [(1, 1, 1), (2, 1, 1), (1, 2, 2)])
def test_conv_large_enough_to_run_threaded_matches_pytorch(threads, stride, padding, dilation):
    """Shapes big enough that im2col/col2im and the gemm split work across threads."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 16, 9, 10)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32) * 0.1
    before = cylayers.get_num_threads()
    try:
        cylayers.set_num_threads(threads)
        xs, ws = cylayers.tensor(x, requires_grad=True), cylayers.tensor(w, requires_grad=True)
        y = cylayers.nn.functional.conv2d(xs, ws, stride=stride, padding=padding,
                                          dilation=dilation)
        (y * y).sum().backward()
    finally:
        cylayers.set_num_threads(before)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, stride=stride, padding=padding, dilation=dilation)
    (ty * ty).sum().backward()
    assert_close_sum(y, ty, np.float32, terms=16 * 9)
    assert_close_sum(xs.grad, tx.grad, np.float32, terms=32 * 9)
    assert_close_sum(ws.grad, tw.grad, np.float32, terms=ty.numel() // 32)


@pytest.mark.parametrize("keep_bytes", [0, 1 << 30])
def test_conv_backward_with_kept_or_recomputed_columns(keep_bytes, monkeypatch):
    """Backward reuses the forward's im2col columns when small, recomputes them otherwise:
    both give PyTorch's gradients."""
    import importlib
    conv_module = importlib.import_module("cylayers.nn.functional.conv")
    monkeypatch.setattr(conv_module, "KEEP_COLS_BYTES", keep_bytes)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 6, 7, 7))
    w = rng.standard_normal((8, 3, 3, 3))
    b = rng.standard_normal(8)
    xs, ws, bs = (cylayers.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = cylayers.nn.functional.conv2d(xs, ws, bs, padding=1, groups=2)
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=1, groups=2)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    for ours, theirs in ((y, ty), (xs.grad, tx.grad), (ws.grad, tw.grad), (bs.grad, tb.grad)):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10,
                                   atol=1e-10)



BLOCK_CASES = [  # (conv, input shape, weight shape, keywords)
    (F.conv2d, (3, 4, 9, 10), (6, 4, 3, 3), dict(padding=1)),
    (F.conv2d, (4, 6, 7, 7), (6, 2, 3, 2), dict(stride=(2, 1), groups=3)),
    (F.conv1d, (5, 4, 12), (8, 2, 3), dict(dilation=2, groups=2)),
    (F.conv3d, (2, 2, 5, 4, 6), (3, 2, 2, 3, 2), dict(padding=1)),
    (F.conv2d, (1, 3, 6, 6), (2, 3, 3, 3), {}),
    (F.conv2d, (0, 3, 6, 6), (2, 3, 3, 3), {}),
]


@pytest.mark.parametrize("per_image_from", [0, 1 << 30], ids=["per-image", "one-block"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("conv,xshape,wshape,kw", BLOCK_CASES, ids=str)
def test_conv_column_layouts_match_pytorch(conv, xshape, wshape, kw, bias, per_image_from,
                                           monkeypatch):
    """The columns hold one image per block (outputs land in place) or the whole batch in one
    block (one wide product, outputs moved back): both forced on the same cases, float64."""
    import importlib
    conv_module = importlib.import_module("cylayers.nn.functional.conv")
    monkeypatch.setattr(conv_module, "PER_IMAGE_MIN_POSITIONS", per_image_from)
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(xshape), rng.standard_normal(wshape)]
    if bias:
        arrays.append(rng.standard_normal(wshape[0]))
    ours = [cylayers.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = conv(*ours, **kw)
    ty = getattr(TF, conv.__name__)(*theirs, **kw)
    g = rng.standard_normal(tuple(ty.shape))
    y.backward(cylayers.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("winograd", [True, False])
def test_conv_bias_gradient_is_summed_in_float64(winograd):
    """g = 2^24 then ones: a float32 running sum stays at 2^24; the bias gradient must be the
    float64 sum rounded once."""
    n, c, side = 2, 16, 8
    x = cylayers.zeros(n, c, side, side)
    conv = nn.Conv2d(c, 2, 3, padding=1) if winograd else nn.Conv2d(c, 2, 1)
    y = conv(x)
    assert (y.grad_fn.winograd is not None) == winograd
    g = np.ones(tuple(y.shape), np.float32)
    g[0, 0, 0, 0] = 2.0 ** 24
    y.backward(cylayers.tensor(g))
    want = np.float32(g[:, 0].astype(np.float64).sum())
    assert conv.bias.grad.numpy()[0] == want != np.float32(2.0 ** 24)
    assert conv.bias.grad.numpy()[1] == n * side * side


def test_column_kernels_refuse_mismatched_sizes():
    from cylayers._kernels import im2col
    geometry = (1, 4, 4, 1, 3, 3, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 2, 2)  # 4x4 image, 3x3 kernel
    x = np.zeros(2 * 3 * 16)
    cols = np.zeros(2 * 3 * 9 * 4)
    with pytest.raises(ValueError, match="im2col: array sizes"):
        im2col.im2col(x, cols[:-1], 2, 3, *geometry, 1, 1)
    with pytest.raises(ValueError, match="does not divide the batch"):
        im2col.im2col(x, cols, 2, 3, *geometry, 3, 1)
    with pytest.raises(ValueError, match="col2im: array sizes"):
        im2col.col2im(cols, x[:-1], 2, 3, *geometry, 2, 1)
    out = np.zeros(2 * 5 * 4)
    with pytest.raises(ValueError, match="columns_to_images: array sizes"):
        im2col.columns_to_images(out, np.zeros(4), out, 2, 5, 4, 1, 1)  # 4 biases for 5
    with pytest.raises(ValueError, match="columns_to_images: array sizes"):
        im2col.columns_to_images(out[:-1], np.zeros(0), out, 2, 5, 4, 2, 1)
    with pytest.raises(ValueError, match="images_to_columns: array sizes"):
        im2col.images_to_columns(out, out[:-1], 2, 5, 4, 2, 1)
    with pytest.raises(ValueError, match="channel_sums: array sizes"):
        im2col.channel_sums(out, np.zeros(4), 2, 5, 4, 1)

# ---------------------------------------------------------------- Winograd F(2x2, 3x3)
WINOGRAD_CASES = [
    ((2, 16, 8, 8), 5, 1),
    ((3, 17, 7, 9), 4, 0),     # odd output sizes: partial tiles on both edges
    ((1, 16, 5, 6), 6, 2),     # padding wider than the kernel's half
    ((1, 16, 3, 3), 2, 0),     # one output
    ((2, 16, 1, 1), 4, 1),     # a 1x1 image, all padding around it
    ((2, 16, 4, 5), 6, (0, 1)),
    ((64, 16, 8, 8), 32, 1),   # the digits CNN's second convolution, threaded
    ((3, 16, 33, 17), 4, 1),   # long tile rows
    ((2, 70, 5, 7), 66, 1),    # more channels than one lane group, in and out
]


def _winograd_used(y):
    return y.grad_fn.winograd is not None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xshape,out_channels,padding", WINOGRAD_CASES, ids=str)
def test_winograd_conv_matches_pytorch(xshape, out_channels, padding, dtype, monkeypatch):
    """Forced on small outputs too (1x1, 2x5), which the speed rule leaves to im2col: partial
    tiles and all-padding patches must still be right."""
    import importlib
    monkeypatch.setattr(importlib.import_module("cylayers.nn.functional.conv"), "use_winograd",
                        lambda *args: True)
    x = _pair(xshape, dtype, 0)
    w = _pair((out_channels, xshape[1], 3, 3), dtype, 1)
    b = _pair((out_channels,), dtype, 2)
    assert _winograd_used(F.conv2d(x[0], w[0], b[0], padding=padding))
    _check(lambda a, c, d: F.conv2d(a, c, d, padding=padding),
           lambda a, c, d: TF.conv2d(a, c, d, padding=padding), [x, w, b], dtype)


def test_winograd_conv_gradcheck():
    x, _ = _pair((2, 16, 5, 4), np.float64, 0)
    w, _ = _pair((3, 16, 3, 3), np.float64, 1)
    b, _ = _pair((3,), np.float64, 2)
    assert _winograd_used(F.conv2d(x, w, b, padding=1))
    assert gradcheck(lambda a, c, d: F.conv2d(a, c, d, padding=1), [x, w, b])


@pytest.mark.parametrize("kw,wshape", [
    (dict(stride=2, padding=1), (8, 16, 3, 3)),
    (dict(dilation=2, padding=2), (8, 16, 3, 3)),
    (dict(groups=2, padding=1), (8, 8, 3, 3)),
    (dict(padding=2), (8, 16, 5, 5)),
    (dict(padding=1), (8, 6, 3, 3)),     # few input channels
    (dict(padding=1), (4, 8, 3, 3)),     # 8 input channels, few output channels
])
def test_convolutions_winograd_cannot_do_use_im2col(kw, wshape):
    x = cylayers.randn(2, wshape[1] * kw.get("groups", 1), 9, 9)
    assert not _winograd_used(F.conv2d(x, cylayers.randn(*wshape, requires_grad=True), **kw))


def test_winograd_dispatch_rule():
    """From 16 input channels whatever the rest (1x1 outputs, one output channel), from 8 with
    16 output channels or more."""
    def used(c, o, side):
        y = F.conv2d(cylayers.randn(2, c, side, side, requires_grad=True),
                     cylayers.randn(o, c, 3, 3), padding=1)
        return _winograd_used(y)
    assert used(16, 1, 1) and used(16, 8, 2) and used(16, 4, 9)
    assert used(8, 16, 8) and not used(8, 15, 8)
    assert not used(7, 64, 8) and not used(3, 64, 32)


def test_winograd_and_im2col_paths_agree(monkeypatch):
    """Both implementations of a 3x3 convolution forced on the same inputs (float64)."""
    import importlib
    conv_module = importlib.import_module("cylayers.nn.functional.conv")
    rng = np.random.default_rng(4)
    x, w, b = (rng.standard_normal(s) for s in ((5, 6, 10, 7), (7, 6, 3, 3), (7,)))
    g = rng.standard_normal((5, 7, 10, 7))
    results = []
    for winograd in (True, False):
        monkeypatch.setattr(conv_module, "use_winograd", lambda *args, on=winograd: on)
        xs, ws, bs = (cylayers.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(xs, ws, bs, padding=1)
        assert _winograd_used(y) == winograd
        y.backward(cylayers.tensor(g))
        results.append([y.detach().numpy(), xs.grad.numpy(), ws.grad.numpy(), bs.grad.numpy()])
    for a, c in zip(*results):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xshape,out_channels,bias", [
    ((64, 16, 8, 8), 32, True),    # the digits CNN's conv2
    ((3, 20, 9, 7), 16, False),    # partial tiles, no bias
    ((2, 8, 5, 5), 80, True),      # two lane groups of output channels
])
def test_winograd_forward_made_image_by_image_gives_the_same_bits(monkeypatch, xshape,
                                                                  out_channels, bias, dtype):
    """The product and output transform fused per image (M kept in the cache) against the
    product over every tile followed by the transform: each sum runs in the same order."""
    import importlib
    from cylayers import _blas
    from cylayers.nn.functional import winograd
    conv_module = importlib.import_module("cylayers.nn.functional.conv")
    monkeypatch.setattr(conv_module, "use_winograd", lambda *args: True)
    monkeypatch.setattr(conv_module, "use_direct", lambda *args: False)
    monkeypatch.setattr(_blas, "_register_kernels", True)  # the register kernel in both runs
    rng = np.random.default_rng(6)
    x = cylayers.tensor(rng.standard_normal(xshape).astype(dtype))
    w = cylayers.tensor(rng.standard_normal((out_channels, xshape[1], 3, 3)).astype(dtype))
    b = cylayers.tensor(rng.standard_normal(out_channels).astype(dtype)) if bias else None
    outs, ran = [], []
    real = winograd.WK.product_output
    monkeypatch.setattr(winograd.WK, "product_output", lambda *a: ran.append(1) or real(*a))
    for limit in (winograd.FUSED_MAX_BYTES, 0):
        monkeypatch.setattr(winograd, "FUSED_MAX_BYTES", limit)
        outs.append(F.conv2d(x, w, b, padding=1).numpy().copy())
    assert ran == [1]  # fused once, then not
    np.testing.assert_array_equal(outs[0], outs[1])
    assert_close(cylayers.tensor(outs[0]),
                 TF.conv2d(torch.from_numpy(x.numpy()), torch.from_numpy(w.numpy()),
                           None if b is None else torch.from_numpy(b.numpy()), padding=1),
                 dtype, **({} if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)))


def test_winograd_empty_batch_and_frozen_weight():
    w = cylayers.randn(4, 16, 3, 3, requires_grad=True)
    y = F.conv2d(cylayers.randn(0, 16, 6, 6, requires_grad=True), w, padding=1)
    assert tuple(y.shape) == (0, 4, 6, 6) and _winograd_used(y)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((4, 16, 3, 3), np.float32))
    # only the input needs a gradient: V is not kept, dx still right
    x = _pair((2, 16, 6, 6), np.float64, 3)
    wf = _pair((4, 16, 3, 3), np.float64, 4)
    wf[0].requires_grad_(False)
    wf[1].requires_grad_(False)
    y = F.conv2d(x[0], wf[0], padding=1)
    assert y.grad_fn.winograd[2] is None
    _check(lambda a: F.conv2d(a, wf[0], padding=1), lambda a: TF.conv2d(a, wf[1], padding=1),
           [x], np.float64)


def test_winograd_conv_of_a_big_endian_input_matches_native():
    """The weight's gradient takes the computation's (native) dtype, not the input's '>f4'."""
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 16, 6, 6)), rng.standard_normal((4, 16, 3, 3))
    results = []
    for dtype in (np.float32, ">f4"):
        xs = cylayers.from_numpy(x.astype(dtype)).requires_grad_()
        ws = cylayers.tensor(w.astype(np.float32), requires_grad=True)
        y = F.conv2d(xs, ws, padding=1)
        assert _winograd_used(y)
        (y * y).sum().backward()
        results.append([y.detach().numpy(), xs.grad.numpy(), ws.grad.numpy()])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_winograd_kernels_refuse_mismatched_sizes():
    from cylayers._kernels import winograd
    x = np.zeros(2 * 4 * 8 * 8, np.float32)
    with pytest.raises(ValueError, match="input_transform: array sizes"):
        winograd.input_transform(x, np.zeros(10, np.float32), 2, 4, 8, 8, 1, 1, 4, 4, 1)
    with pytest.raises(ValueError, match="output_transform: array sizes"):
        winograd.output_transform(np.zeros(10, np.float32), np.zeros(0, np.float32), x,
                                  2, 4, 8, 8, 4, 4, 1)
    with pytest.raises(ValueError, match="output_transform: array sizes"):  # bias of 3, not 4
        winograd.output_transform(np.zeros(16 * 4 * 32, np.float32), np.zeros(3, np.float32),
                                  x, 2, 4, 8, 8, 4, 4, 1)
    with pytest.raises(ValueError, match="output_transform_backward: array sizes"):
        winograd.output_transform_backward(x, np.zeros(10, np.float32), 2, 4, 8, 8, 4, 4, 1)
    with pytest.raises(ValueError, match="weight_transform: array sizes"):
        winograd.weight_transform(np.zeros(9 * 6, np.float32), np.zeros(16 * 5, np.float32), 6, 1)
    with pytest.raises(ValueError, match="weight_transform_backward: array sizes"):
        winograd.weight_transform_backward(np.zeros(16 * 6, np.float32),
                                           np.zeros(9 * 5, np.float32), 6, 1)
    with pytest.raises(ValueError, match="input_transform_backward: array sizes"):
        winograd.input_transform_backward(np.zeros(10, np.float32), x, 2, 4, 8, 8, 1, 1, 4, 4,
                                          1)
    # N=2, C=4, 8x8 outputs (4x4 tiles): O of two vectors of floats fits, one and a half does not
    from cylayers._kernels import gemm
    h = gemm.register_columns(True)
    fits, misfit = 2 * h, h + h // 2
    v, no_bias = np.zeros(16 * 32 * 4, np.float32), np.zeros(0, np.float32)
    winograd.product_output(v, np.zeros(16 * 4 * fits, np.float32), no_bias,
                            np.zeros(2 * fits * 64, np.float32), 2, 4, fits, 8, 8, 4, 4, 1)
    with pytest.raises(ValueError, match="product_output: array sizes"):
        winograd.product_output(v, np.zeros(16 * 4 * misfit, np.float32), no_bias,
                                np.zeros(2 * misfit * 64, np.float32), 2, 4, misfit, 8, 8, 4, 4,
                                1)
    with pytest.raises(ValueError, match="product_output: array sizes"):
        winograd.product_output(v, np.zeros(16 * 4 * fits, np.float32), no_bias,
                                np.zeros(2 * fits * 64 - 1, np.float32), 2, 4, fits, 8, 8, 4, 4, 1)
