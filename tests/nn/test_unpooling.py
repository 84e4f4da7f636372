"""MaxUnpool1d/2d/3d and F.max_unpool*: the values max_pool kept, put back at its indices,
against PyTorch (values and gradients, default and explicit output_size, unbatched), gradcheck,
and errors."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn
import cylayers.nn.functional as F
from cylayers.autograd import gradcheck

rng = np.random.default_rng(0)
CASES = [(1, (2, 3, 11), dict(kernel_size=2)), (1, (2, 3, 11), dict(kernel_size=3, stride=2,
                                                                   padding=1)),
         (2, (2, 3, 8, 7), dict(kernel_size=2)), (2, (2, 3, 9, 8), dict(kernel_size=3, stride=2,
                                                                       padding=1)),
         (3, (1, 2, 6, 5, 4), dict(kernel_size=2)), (2, (3, 8, 8), dict(kernel_size=2))]


@pytest.mark.parametrize("nd,shape,kw", CASES)
@pytest.mark.parametrize("explicit_size", [False, True])
def test_max_unpool_matches_pytorch(nd, shape, kw, explicit_size):
    x = rng.standard_normal(shape)
    t_pool = getattr(torch.nn.functional, f"max_pool{nd}d")
    t_unpool = getattr(torch.nn, f"MaxUnpool{nd}d")(**kw)
    c_pool = getattr(F, f"max_pool{nd}d")
    c_unpool = getattr(nn, f"MaxUnpool{nd}d")(**kw)
    t_vals, t_idx = t_pool(torch.tensor(x), **kw, return_indices=True)
    c_vals, c_idx = c_pool(cylayers.tensor(x), **kw, return_indices=True)
    np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())
    size = [int(s) for s in shape[-nd:]] if explicit_size else None
    tv = t_vals.detach().clone().requires_grad_()
    cv = cylayers.tensor(c_vals.numpy(), requires_grad=True)
    try:
        theirs = t_unpool(tv, t_idx, output_size=size)
    except RuntimeError as e:  # the default size is smaller than the pooled input: both refuse
        assert "invalid max index" in str(e)
        with pytest.raises(RuntimeError, match="Found an invalid max index"):
            c_unpool(cv, c_idx, output_size=size)
        return
    ours = c_unpool(cv, c_idx, output_size=size)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    g = rng.standard_normal(tuple(theirs.shape))
    theirs.backward(torch.tensor(g))
    ours.backward(cylayers.tensor(g))
    np.testing.assert_array_equal(cv.grad.numpy(), tv.grad.numpy())


def test_gradcheck_and_errors():
    x = cylayers.tensor(rng.standard_normal((1, 2, 4, 4)))
    vals, idx = F.max_pool2d(x, 2, return_indices=True)
    vals = vals.detach().requires_grad_()
    assert gradcheck(lambda v: F.max_unpool2d(v, idx, 2), (vals,))
    with pytest.raises(RuntimeError, match="Expected shape of indices to be same as that of "
                                           "the input tensor"):
        F.max_unpool2d(vals, idx[:, :1], 2)
    with pytest.raises(ValueError, match='invalid output_size "\\[9, 9\\]"'):
        F.max_unpool2d(vals, idx, 2, output_size=[9, 9])
    with pytest.raises(RuntimeError, match="Found an invalid max index: 99"):
        F.max_unpool2d(vals, cylayers.full(tuple(idx.shape), 99, dtype=cylayers.int64), 2)
    assert repr(nn.MaxUnpool2d(2)) == repr(torch.nn.MaxUnpool2d(2))
