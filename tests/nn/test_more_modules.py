"""The modules added for PyTorch scripts that reach beyond the everyday layers: each against
PyTorch's with the same weights (load_state_dict), outputs and every gradient, float32 and
float64; and the random ones (RReLU in training, gumbel_softmax) by their properties."""
import numpy as np
import pytest
import torch

import cylayers
import cylayers.nn as nn
import cylayers.nn.functional as F
from helpers import assert_close

RNG = np.random.default_rng(0)


def _inputs(shapes, dtype):
    arrays = [RNG.standard_normal(s).astype(dtype) for s in shapes]
    return arrays


# name -> (constructor of (nn module namespace), input shapes, extra non-float arguments)
MODULES = {
    "Bilinear": (lambda m: m.Bilinear(3, 4, 5), [(6, 3), (6, 4)], []),
    "RMSNorm": (lambda m: m.RMSNorm(5), [(2, 3, 5)], []),
    "RMSNorm_eps": (lambda m: m.RMSNorm((3, 5), eps=1e-3, elementwise_affine=False),
                    [(2, 3, 5)], []),
    "LocalResponseNorm": (lambda m: m.LocalResponseNorm(3, alpha=0.1, beta=0.5, k=2.0),
                          [(2, 5, 4, 4)], []),
    "LocalResponseNorm_3d": (lambda m: m.LocalResponseNorm(2), [(2, 4, 6)], []),
    "PixelShuffle": (lambda m: m.PixelShuffle(2), [(2, 8, 3, 3)], []),
    "PixelUnshuffle": (lambda m: m.PixelUnshuffle(2), [(2, 2, 4, 6)], []),
    "ChannelShuffle": (lambda m: m.ChannelShuffle(3), [(2, 6, 2, 2)], []),
    "AdaptiveMaxPool1d": (lambda m: m.AdaptiveMaxPool1d(4), [(2, 3, 9)], []),
    "AdaptiveMaxPool2d": (lambda m: m.AdaptiveMaxPool2d((3, 2)), [(2, 3, 7, 5)], []),
    "AdaptiveMaxPool3d": (lambda m: m.AdaptiveMaxPool3d(2), [(1, 2, 5, 4, 3)], []),
    "LPPool1d": (lambda m: m.LPPool1d(2, 3, stride=2), [(2, 3, 9)], []),
    "LPPool2d": (lambda m: m.LPPool2d(1.5, 2), [(2, 3, 6, 6)], []),
    "RReLU_eval": (lambda m: m.RReLU(0.1, 0.3).eval(), [(4, 5)], []),
    "Softmax2d": (lambda m: m.Softmax2d(), [(2, 3, 4, 4)], []),
    "HingeEmbeddingLoss": (lambda m: m.HingeEmbeddingLoss(margin=0.7), [(4, 5)],
                           [np.where(RNG.random((4, 5)) > 0.5, 1.0, -1.0)]),
    "MultiLabelSoftMarginLoss": (lambda m: m.MultiLabelSoftMarginLoss(), [(4, 5)],
                                 [(RNG.random((4, 5)) > 0.5).astype(np.float64)]),
    "MultiMarginLoss": (lambda m: m.MultiMarginLoss(p=2, margin=0.5), [(4, 5)],
                        [np.array([0, 4, 2, 2])]),
    "MultiLabelMarginLoss": (lambda m: m.MultiLabelMarginLoss(), [(2, 4)],
                             [np.array([[3, 0, -1, 1], [1, 2, 3, -1]])]),
    "TripletMarginLoss": (lambda m: m.TripletMarginLoss(margin=0.5, swap=True),
                          [(4, 6), (4, 6), (4, 6)], []),
    "TripletMarginWithDistanceLoss": (lambda m: m.TripletMarginWithDistanceLoss(
        distance_function=lambda a, b: (a - b).abs().sum(-1)), [(4, 6), (4, 6), (4, 6)], []),
}


def _lib_arg(lib, a):
    if lib is torch:
        t = torch.from_numpy(np.array(a))
    else:
        t = cylayers.tensor(np.array(a))
    return t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_matches_pytorch(name, dtype):
    make, shapes, extra = MODULES[name]
    theirs, ours = make(torch.nn), make(nn)
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = ours.to(cylayers.float64 if dtype == np.float64 else cylayers.float32)
    ours.load_state_dict({k: cylayers.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    arrays = _inputs(shapes, dtype)
    xs_t = [torch.from_numpy(a.copy()).requires_grad_(True) for a in arrays]
    xs_o = [cylayers.tensor(a.copy(), requires_grad=True) for a in arrays]
    extra_t = [_lib_arg(torch, e if e.dtype.kind != "f" else e.astype(dtype)) for e in extra]
    extra_o = [_lib_arg(cylayers, e if e.dtype.kind != "f" else e.astype(dtype)) for e in extra]
    out_t, out_o = theirs(*xs_t, *extra_t), ours(*xs_o, *extra_o)
    assert_close(out_o, out_t, dtype)
    g = RNG.standard_normal(tuple(out_t.shape)).astype(dtype)
    (out_t * torch.from_numpy(g)).sum().backward()
    (out_o * cylayers.tensor(g)).sum().backward()
    for o, t in zip(xs_o, xs_t):
        assert_close(o.grad, t.grad, dtype)
    params_t = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        assert_close(p.grad, params_t[k].grad, dtype)


def test_rrelu_training_draws_slopes_between_lower_and_upper():
    cylayers.manual_seed(0)
    x = -cylayers.ones(2000)
    y = nn.RReLU(0.1, 0.3)(x)
    slopes = -y.numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    assert (nn.RReLU()(cylayers.ones(5)) == 1).all()


def test_gumbel_softmax_samples():
    cylayers.manual_seed(0)
    logits = cylayers.tensor([[2.0, 0.0, -1.0]] * 4000, requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.detach().sum(-1).numpy(), 1.0, rtol=1e-6)
    hard = F.gumbel_softmax(logits, hard=True)
    assert set(np.unique(hard.detach().numpy())) == {0.0, 1.0}
    assert (hard.detach().sum(-1) == 1).all()
    # the sampled class frequencies follow softmax(logits)
    freq = hard.detach().numpy().mean(0)
    np.testing.assert_allclose(freq, torch.softmax(torch.tensor([2.0, 0.0, -1.0]), 0).numpy(),
                               atol=0.03)
    hard[:, 0].sum().backward()  # straight-through: the soft sample's gradient
    assert logits.grad is not None and np.abs(logits.grad.numpy()).sum() > 0


def test_parameter_containers_register_and_load():
    pl_t = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(2, 3)),
                                   torch.nn.Parameter(torch.randn(4))])
    pl_o = nn.ParameterList([cylayers.zeros(2, 3), cylayers.zeros(4)])
    pl_o.load_state_dict({k: cylayers.tensor(v.detach().numpy())
                          for k, v in pl_t.state_dict().items()})
    assert list(pl_o.state_dict()) == ["0", "1"] and len(list(pl_o.parameters())) == 2
    assert_close(pl_o[1], pl_t[1])
    pd = nn.ParameterDict({"w": cylayers.ones(2)})
    pd["b"] = cylayers.zeros(1)
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["b"], nn.Parameter)
    assert sorted(dict(pd.named_parameters())) == ["b", "w"]


def test_legacy_loss_arguments_set_the_reduction():
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.L1Loss(reduce=False).reduction == "none"
    assert nn.HingeEmbeddingLoss(size_average=True).reduction == "mean"
