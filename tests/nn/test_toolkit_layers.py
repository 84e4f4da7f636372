"""The toolkit layers against PyTorch: pad, interpolate/Upsample, Embedding, one_hot, the extra
losses, CosineSimilarity and PairwiseDistance (values, gradients, gradcheck)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cylayers
import cylayers.nn.functional as F
from cylayers import nn
from cylayers.autograd import gradcheck

RNG = np.random.default_rng(0)


def _pair(arr):
    return (cylayers.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True))


def _compare(fn_ours, fn_theirs, arrays, rtol=1e-7, atol=1e-10, check=True, n_diff=None):
    """Values, gradients of the first ``n_diff`` inputs (all float ones by default), gradcheck."""
    n_diff = len(arrays) if n_diff is None else n_diff
    ours = [cylayers.tensor(a, requires_grad=a.dtype.kind == "f" and i < n_diff)
            for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a, requires_grad=a.dtype.kind == "f" and i < n_diff)
              for i, a in enumerate(arrays)]
    y, ty = fn_ours(*ours), fn_theirs(*theirs)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    w = RNG.standard_normal(tuple(ty.shape))
    (y * cylayers.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    for o, t in zip(ours, theirs):
        if t.requires_grad:
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
    if check:
        assert gradcheck(fn_ours, [cylayers.tensor(a, requires_grad=a.dtype.kind == "f" and
                                                   i < n_diff) for i, a in enumerate(arrays)])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((2, 3, 5), (1, 2)), ((2, 3, 5, 6), (2, 1, 1, 3)),
                                       ((1, 2, 3, 4, 5), (1, 1, 2, 0, 1, 2))])
def test_pad_modes(mode, shape, pad):
    arr = RNG.standard_normal(shape)
    _compare(lambda x: F.pad(x, pad, mode), lambda x: TF.pad(x, pad, mode), [arr])


def test_pad_constant_value_negative_crop_and_errors():
    arr = RNG.standard_normal((2, 3, 4))
    _compare(lambda x: F.pad(x, (1, -1, -1, 2), value=2.5),
             lambda x: TF.pad(x, (1, -1, -1, 2), value=2.5), [arr])
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        F.pad(cylayers.tensor(arr), (4, 0), "reflect")
    with pytest.raises(RuntimeError, match="divisible by 2"):
        F.pad(cylayers.tensor(arr), (1,))
    m, tm = nn.ReflectionPad2d((1, 0, 2, 1)), torch.nn.ReflectionPad2d((1, 0, 2, 1))
    x = RNG.standard_normal((1, 2, 4, 4))
    np.testing.assert_allclose(m(cylayers.tensor(x)).numpy(), tm(torch.tensor(x)).numpy())
    assert repr(nn.ZeroPad2d(1)) == repr(torch.nn.ZeroPad2d(1))
    assert repr(nn.ConstantPad1d(2, 3.5)) == repr(torch.nn.ConstantPad1d(2, 3.5))


INTERP = [((1, 2, 5), dict(scale_factor=2, mode="nearest")),
          ((1, 2, 5), dict(size=8, mode="linear", align_corners=False)),
          ((1, 2, 5), dict(size=8, mode="linear", align_corners=True)),
          ((2, 2, 4, 5), dict(scale_factor=2, mode="nearest")),
          ((2, 2, 4, 5), dict(size=(7, 3), mode="nearest")),
          ((2, 2, 4, 5), dict(size=(7, 3), mode="nearest-exact")),
          ((2, 2, 4, 5), dict(scale_factor=1.7, mode="bilinear", align_corners=False)),
          ((2, 2, 4, 5), dict(scale_factor=(2, 0.5), mode="bilinear", align_corners=True)),
          ((2, 2, 4, 5), dict(size=(9, 2), mode="bilinear")),
          ((2, 2, 4, 5), dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True)),
          ((1, 1, 3, 4, 2), dict(scale_factor=2, mode="trilinear", align_corners=False)),
          ((1, 1, 3, 4, 2), dict(size=(2, 5, 3), mode="nearest"))]


@pytest.mark.parametrize("shape,kw", INTERP, ids=[str(i) for i in range(len(INTERP))])
def test_interpolate_matches_pytorch(shape, kw):
    arr = RNG.standard_normal(shape)
    _compare(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), [arr])


def test_upsample_modules():
    x = RNG.standard_normal((1, 3, 4, 4)).astype(np.float32)
    for ours, theirs in [(nn.Upsample(scale_factor=2, mode="bilinear"),
                          torch.nn.Upsample(scale_factor=2, mode="bilinear")),
                         (nn.UpsamplingNearest2d(size=(5, 7)),
                          torch.nn.UpsamplingNearest2d(size=(5, 7))),
                         (nn.UpsamplingBilinear2d(scale_factor=3),
                          torch.nn.UpsamplingBilinear2d(scale_factor=3))]:
        np.testing.assert_allclose(ours(cylayers.tensor(x)).numpy(),
                                   theirs(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
        assert repr(ours) == repr(theirs)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(cylayers.tensor(x), size=3, scale_factor=2)


def test_embedding_lookup_gradients_padding_and_scale_by_freq():
    cylayers.manual_seed(0)
    m = nn.Embedding(6, 3, padding_idx=2)
    tm = torch.nn.Embedding(6, 3, padding_idx=2)
    tm.weight.data = torch.tensor(m.weight.detach().numpy())
    assert not m.weight.detach().numpy()[2].any()
    idx = np.array([[0, 2, 5, 5], [1, 2, 0, 3]])
    (m(cylayers.tensor(idx)) ** 2).sum().backward()
    (tm(torch.tensor(idx)) ** 2).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-6)
    assert repr(m) == repr(tm)
    w = RNG.standard_normal((6, 3))
    # scale_grad_by_freq scales the gradient on purpose, so it is no derivative to gradcheck
    _compare(lambda t: F.embedding(cylayers.tensor(idx), t, scale_grad_by_freq=True),
             lambda t: TF.embedding(torch.tensor(idx), t, scale_grad_by_freq=True), [w],
             check=False)
    _compare(lambda t: F.embedding(cylayers.tensor(idx), t, padding_idx=0),
             lambda t: TF.embedding(torch.tensor(idx), t, padding_idx=0), [w], check=False)
    with pytest.raises(IndexError, match="index out of range"):
        m(cylayers.tensor([6]))


def test_embedding_max_norm_and_from_pretrained():
    w = RNG.standard_normal((5, 4)) * 3
    ours = nn.Embedding.from_pretrained(cylayers.tensor(w), freeze=False, max_norm=1.0)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, max_norm=1.0)
    idx = [0, 3, 3]
    np.testing.assert_allclose(ours(cylayers.tensor(idx)).detach().numpy(),
                               theirs(torch.tensor(idx)).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               rtol=1e-6)
    frozen = nn.Embedding.from_pretrained(cylayers.tensor(w))
    assert not frozen.weight.requires_grad


def test_one_hot():
    t = np.array([[0, 3], [1, 1]])
    np.testing.assert_array_equal(F.one_hot(cylayers.tensor(t)).numpy(),
                                  TF.one_hot(torch.tensor(t)).numpy())
    assert F.one_hot(cylayers.tensor(t), 5).shape == (2, 2, 5)
    assert F.one_hot(cylayers.tensor(t)).dtype == cylayers.int64
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(cylayers.tensor(t), 3)


LOSSES = [
    ("smooth_l1_loss", {}, 2), ("smooth_l1_loss", {"beta": 0.5, "reduction": "sum"}, 2),
    ("smooth_l1_loss", {"beta": 0.0}, 2), ("huber_loss", {"delta": 0.7}, 2),
    ("huber_loss", {"reduction": "none"}, 2), ("soft_margin_loss", {}, "sign"),
    ("kl_div", {"reduction": "batchmean"}, "prob"), ("kl_div", {"reduction": "sum"}, "prob"),
    ("kl_div", {"reduction": "batchmean", "log_target": True}, "logprob"),
    ("poisson_nll_loss", {}, "count"), ("poisson_nll_loss", {"log_input": False}, "count"),
    ("poisson_nll_loss", {"full": True}, "count"),
]


def _target(kind, shape):
    if kind == 2:
        return RNG.standard_normal(shape)
    if kind == "sign":
        return np.where(RNG.standard_normal(shape) > 0, 1.0, -1.0)
    if kind in ("prob", "logprob"):
        p = RNG.dirichlet(np.ones(shape[-1]), size=shape[0])
        p[0, 0] = 0.0
        p[0] /= p[0].sum()
        return p if kind == "prob" else np.log(p + 1e-3)
    return RNG.poisson(3.0, shape).astype(np.float64)


@pytest.mark.parametrize("name,kw,kind", LOSSES, ids=[f"{n}-{i}" for i, (n, _, _) in
                                                     enumerate(LOSSES)])
def test_losses_match_pytorch(name, kw, kind):
    shape = (4, 5)
    x = RNG.standard_normal(shape)
    if name == "poisson_nll_loss" and not kw.get("log_input", True):
        x = np.abs(x) + 0.1
    if name == "kl_div":
        x = np.log(RNG.dirichlet(np.ones(5), size=4))
    t = _target(kind, shape)
    # PyTorch differentiates these losses in the input only (soft margin, Poisson with
    # full=True refuse or give NaN for the target): compare the input's gradient.
    n_diff = 2 if name in ("smooth_l1_loss", "huber_loss") else 1
    _compare(lambda a, b: getattr(F, name)(a, b, **kw),
             lambda a, b: getattr(TF, name)(a, b, **kw), [x, t], n_diff=n_diff)


def test_kl_div_mean_warns_like_pytorch():
    x, t = cylayers.zeros(2, 3), cylayers.full((2, 3), 1 / 3)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(x, t)


@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_margin_ranking_and_cosine_embedding_losses(margin):
    a, b = RNG.standard_normal(6), RNG.standard_normal(6)
    y = np.array([1.0, -1, 1, -1, 1, -1])
    _compare(lambda p, q, r: F.margin_ranking_loss(p, q, r, margin=margin),
             lambda p, q, r: TF.margin_ranking_loss(p, q, r, margin=margin), [a, b, y])
    a2, b2 = RNG.standard_normal((6, 4)), RNG.standard_normal((6, 4))
    _compare(lambda p, q: F.cosine_embedding_loss(p, q, cylayers.tensor(y), margin=margin),
             lambda p, q: TF.cosine_embedding_loss(p, q, torch.tensor(y), margin=margin),
             [a2, b2])


@pytest.mark.parametrize("var_shape,kw", [((4, 3), {}), ((4, 1), {"full": True}),
                                          ((4,), {"reduction": "sum"}),
                                          ((4, 3), {"eps": 0.5, "reduction": "none"})])
def test_gaussian_nll_loss(var_shape, kw):
    x, t = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    v = RNG.uniform(0.1, 2.0, var_shape)
    _compare(lambda a, b, c: F.gaussian_nll_loss(a, b, c, **kw),
             lambda a, b, c: TF.gaussian_nll_loss(a, b, c, **kw), [x, t, v], check=False)


@pytest.mark.parametrize("make,tmake,n_in", [
    (lambda: nn.SmoothL1Loss(beta=0.3), lambda: torch.nn.SmoothL1Loss(beta=0.3), 2),
    (lambda: nn.HuberLoss(delta=2.0), lambda: torch.nn.HuberLoss(delta=2.0), 2),
    (lambda: nn.SoftMarginLoss(), lambda: torch.nn.SoftMarginLoss(), 2),
    (lambda: nn.PoissonNLLLoss(), lambda: torch.nn.PoissonNLLLoss(), 2),
    (lambda: nn.KLDivLoss(reduction="batchmean", log_target=True),
     lambda: torch.nn.KLDivLoss(reduction="batchmean", log_target=True), 2),
    (lambda: nn.MarginRankingLoss(0.2), lambda: torch.nn.MarginRankingLoss(0.2), 3),
    (lambda: nn.CosineEmbeddingLoss(0.1), lambda: torch.nn.CosineEmbeddingLoss(0.1), 3),
    (lambda: nn.GaussianNLLLoss(), lambda: torch.nn.GaussianNLLLoss(), 3),
])
def test_loss_modules(make, tmake, n_in):
    arrays = [RNG.standard_normal((3, 4)) for _ in range(n_in)]
    if n_in == 3:
        arrays[2] = (np.sign(RNG.standard_normal(3)) if "Cos" in repr(make()) or "Margin" in
                     repr(make()) else RNG.uniform(0.2, 1.0, (3, 4)))
        if "MarginRanking" in repr(make()):
            arrays = [RNG.standard_normal(3), RNG.standard_normal(3), arrays[2]]
    ours = make()(*[cylayers.tensor(a) for a in arrays])
    theirs = tmake()(*[torch.tensor(a) for a in arrays])
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-10)
    assert repr(make()) == repr(tmake())


@pytest.mark.parametrize("dim,eps", [(1, 1e-8), (0, 1e-8), (-1, 0.5)])
def test_cosine_similarity(dim, eps):
    a, b = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    a[0] = 1e-9  # a near-zero vector: the eps clamp decides
    _compare(lambda p, q: F.cosine_similarity(p, q, dim, eps),
             lambda p, q: TF.cosine_similarity(p, q, dim, eps), [a, b], check=False)
    m, tm = nn.CosineSimilarity(dim, eps), torch.nn.CosineSimilarity(dim, eps)
    np.testing.assert_allclose(m(cylayers.tensor(a), cylayers.tensor(b)).numpy(),
                               tm(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-7)


@pytest.mark.parametrize("p,keepdim", [(2.0, False), (1.0, True), (3.0, False)])
def test_pairwise_distance(p, keepdim):
    a, b = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    _compare(lambda x, y: F.pairwise_distance(x, y, p, keepdim=keepdim),
             lambda x, y: TF.pairwise_distance(x, y, p, keepdim=keepdim), [a, b])
    m, tm = nn.PairwiseDistance(p, keepdim=keepdim), torch.nn.PairwiseDistance(p, keepdim=keepdim)
    np.testing.assert_allclose(m(cylayers.tensor(a), cylayers.tensor(b)).numpy(),
                               tm(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-7)


def test_kl_div_target_gradient_matches_pytorch_including_zero_targets():
    x = np.log(RNG.dirichlet(np.ones(5), size=4))
    t = _target("prob", (4, 5))  # t[0, 0] == 0: PyTorch's xlogy gives a NaN target gradient
    _compare(lambda a, b: F.kl_div(a, b, reduction="sum"),
             lambda a, b: TF.kl_div(a, b, reduction="sum"), [x, t], check=False)
    _compare(lambda a, b: cylayers.xlogy(a, b), lambda a, b: torch.xlogy(a, b),
             [np.array([0.0, 1.5, 2.0]), np.array([0.5, 0.25, 3.0])])


@pytest.mark.parametrize("shape", [(1, 2, 5, 6), (2, 3, 8, 8), (1, 1, 13, 7)])
@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(size=(7, 9), align_corners=True),
                                dict(size=(3, 4)), dict(scale_factor=1.7),
                                dict(size=(11, 5), align_corners=False)])
def test_uint8_bilinear_interpolation_is_pytorchs_bit_for_bit(shape, kw):
    x = np.random.default_rng(sum(shape)).integers(0, 256, shape).astype(np.uint8)
    theirs = torch.nn.functional.interpolate(torch.tensor(x), mode="bilinear", **kw).numpy()
    ours = cylayers.nn.functional.interpolate(cylayers.tensor(x), mode="bilinear", **kw).numpy()
    assert ours.dtype == np.uint8
    np.testing.assert_array_equal(ours, theirs)


def test_other_integer_linear_interpolation_is_refused_as_pytorch_does():
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        cylayers.nn.functional.interpolate(cylayers.ones(1, 1, 3, 3, dtype=cylayers.int64),
                                           scale_factor=2, mode="bilinear")
    with pytest.raises(NotImplementedError, match="not implemented for 'Byte'"):
        cylayers.nn.functional.interpolate(cylayers.ones(1, 1, 3, dtype=cylayers.uint8),
                                           scale_factor=2, mode="linear")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads,shape", [((-1, 2), (1, 2, 6)), ((-1, -2), (1, 2, 6)),
                                        ((2, -1, 1, 0), (1, 2, 3, 4)),
                                        ((-1, 1, -1, 2), (1, 2, 3, 4)), ((-1, 3, 0, 0), (1, 2, 3, 4)),
                                        ((-1, 5), (1, 2, 6))])
def test_negative_widths_crop_in_every_padding_mode_as_pytorch(mode, pads, shape):
    x = np.arange(float(np.prod(shape))).reshape(shape)
    tx, cx = torch.tensor(x, requires_grad=True), cylayers.tensor(x, requires_grad=True)
    try:
        theirs = TF.pad(tx, pads, mode=mode)
    except (RuntimeError, NotImplementedError) as e:
        with pytest.raises(type(e)):
            cylayers.nn.functional.pad(cx, pads, mode=mode)
        return
    ours = cylayers.nn.functional.pad(cx, pads, mode=mode)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    g = np.random.default_rng(0).standard_normal(tuple(theirs.shape))
    theirs.backward(torch.tensor(g))
    ours.backward(cylayers.tensor(g))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy())
