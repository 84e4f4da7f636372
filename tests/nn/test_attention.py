"""F.scaled_dot_product_attention and nn.MultiheadAttention against PyTorch (same weights via
load_state_dict): outputs, attention weights, input and parameter gradients in float64 and
float32, with every mask kind and option; gradcheck; dropout statistics; errors."""
import itertools

import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn
import cylayers.nn.functional as F
from cylayers.autograd import gradcheck
from helpers import assert_close

rng = np.random.default_rng(0)


def load_from(ours, theirs):
    ours.load_state_dict({k: cylayers.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    return ours


def pair(a, requires_grad=True):
    return (torch.tensor(a, requires_grad=requires_grad),
            cylayers.tensor(a, requires_grad=requires_grad))


def check(ours, theirs, dtype, what=""):
    a = ours.detach().numpy() if hasattr(ours, "detach") else ours
    b = theirs.detach().numpy()
    assert a.shape == b.shape, (what, a.shape, b.shape)
    assert np.array_equal(np.isnan(a), np.isnan(b)), what
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(np.nan_to_num(a), np.nan_to_num(b), err_msg=str(what), **tol)


SDPA_MASKS = ["none", "bool 2-D", "bool broadcast", "bool row fully masked", "float",
              "float requires grad", "causal", "causal L<S"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mask", SDPA_MASKS)
@pytest.mark.parametrize("scale", [None, 0.3])
def test_scaled_dot_product_attention_matches_pytorch(dtype, mask, scale):
    L, S = (4, 6) if mask != "causal" else (5, 5)
    q, k, v = (rng.standard_normal(s).astype(dtype)
               for s in [(2, 3, L, 8), (2, 3, S, 8), (2, 3, S, 5)])
    (tq, cq), (tk, ck), (tv, cv) = pair(q), pair(k), pair(v)
    kw_t, kw_c = {}, {}
    if mask.startswith("bool"):
        shape = {"bool 2-D": (L, S), "bool broadcast": (2, 1, L, S),
                 "bool row fully masked": (L, S)}[mask]
        m = rng.random(shape) > 0.3
        if mask == "bool row fully masked":
            m[1] = False
        kw_t["attn_mask"], kw_c["attn_mask"] = torch.tensor(m), cylayers.tensor(m)
    elif mask.startswith("float"):
        m = rng.standard_normal((3, L, S)).astype(dtype)
        grad = mask.endswith("grad")
        (kw_t["attn_mask"], kw_c["attn_mask"]) = pair(m, grad)
    elif mask.startswith("causal"):
        kw_t["is_causal"] = kw_c["is_causal"] = True
    theirs = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, scale=scale, **kw_t)
    ours = F.scaled_dot_product_attention(cq, ck, cv, scale=scale, **kw_c)
    check(ours, theirs, dtype, mask)
    g = rng.standard_normal(tuple(theirs.shape)).astype(dtype)
    theirs.backward(torch.tensor(g))
    ours.backward(cylayers.tensor(g))
    for a, b in ((cq, tq), (ck, tk), (cv, tv)):
        check(a.grad, b.grad, dtype, mask)
    if mask == "float requires grad":
        check(kw_c["attn_mask"].grad, kw_t["attn_mask"].grad, dtype, mask)


def test_scaled_dot_product_attention_gradcheck_and_gqa():
    q, k, v = (cylayers.tensor(rng.standard_normal(s), requires_grad=True)
               for s in [(1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 3)])
    m = cylayers.tensor(rng.random((3, 5)) > 0.4)
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=m),
                     (q, k, v))
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True),
                     (q, k, v))
    # grouped-query attention: 4 query heads share 2 key/value heads
    q4 = rng.standard_normal((2, 4, 3, 8))
    kv = [rng.standard_normal((2, 2, 5, 8)) for _ in range(2)]
    theirs = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q4), *map(torch.tensor, kv), enable_gqa=True)
    ours = F.scaled_dot_product_attention(cylayers.tensor(q4), *map(cylayers.tensor, kv),
                                          enable_gqa=True)
    check(ours, theirs, np.float64)


def test_scaled_dot_product_attention_dropout_statistics():
    cylayers.manual_seed(0)
    q = cylayers.zeros(1, 1, 2000, 4)  # equal scores: each weight 1/S before dropout
    v = cylayers.ones(1, 1, 10, 1)
    out = F.scaled_dot_product_attention(q, cylayers.zeros(1, 1, 10, 4), v, dropout_p=0.25)
    # each output is (kept weights / 0.75) summed: mean 1, and multiples of 1/7.5
    vals = out.numpy().ravel()
    assert abs(vals.mean() - 1.0) < 0.02
    assert np.allclose(vals * 7.5, np.round(vals * 7.5), atol=1e-5)


def test_scaled_dot_product_attention_errors():
    q = cylayers.randn(1, 2, 3, 4)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when "
                                           "is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cylayers.ones(3, 3, dtype=bool),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match="query's last dimension \\(4\\) must equal key's"):
        F.scaled_dot_product_attention(q, cylayers.randn(1, 2, 3, 5), q)


MHA_CASES = list(itertools.product(
    [False, True],  # batch_first
    [None, (5, 7)],  # kdim, vdim
    [True, False],  # need_weights
    [True, False],  # average_attn_weights
    ["none", "kpm + zero attn", "attn bool", "attn float 3-D", "both + bias_kv", "causal",
     "kpm float", "no bias"]))


@pytest.mark.parametrize("batch_first,kv,need,avg,masks", MHA_CASES)
def test_multihead_attention_matches_pytorch(batch_first, kv, need, avg, masks):
    if masks == "causal" and kv is not None:
        return  # a causal mask needs query and key of one length (self-attention)
    kw = dict(batch_first=batch_first, kdim=kv and kv[0], vdim=kv and kv[1],
              add_bias_kv=masks == "both + bias_kv", add_zero_attn=masks == "kpm + zero attn",
              bias=masks != "no bias")
    theirs = torch.nn.MultiheadAttention(8, 2, **kw).double().eval()
    ours = load_from(nn.MultiheadAttention(8, 2, **kw).double(), theirs).eval()
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    L, S, N = 4, 6, 3
    shape = (lambda n, e: (N, n, e)) if batch_first else (lambda n, e: (n, N, e))
    self_attention = kv is None and masks in ("none", "causal", "no bias")
    q = rng.standard_normal(shape(L, 8))
    k = rng.standard_normal(shape(S, kv[0] if kv else 8))
    v = rng.standard_normal(shape(S, kv[1] if kv else 8))
    (tq, cq), (tk, ck), (tv, cv) = pair(q), pair(k), pair(v)
    if self_attention:
        S, tk, tv, ck, cv = L, tq, tq, cq, cq
    kw_t, kw_c = {}, {}
    if masks in ("kpm + zero attn", "both + bias_kv"):
        m = rng.random((N, S)) > 0.7
        kw_t["key_padding_mask"], kw_c["key_padding_mask"] = torch.tensor(m), cylayers.tensor(m)
    if masks == "kpm float":
        m = rng.standard_normal((N, S))
        kw_t["key_padding_mask"], kw_c["key_padding_mask"] = torch.tensor(m), cylayers.tensor(m)
    if masks in ("attn bool", "both + bias_kv"):
        m = rng.random((L, S)) > 0.7
        kw_t["attn_mask"], kw_c["attn_mask"] = torch.tensor(m), cylayers.tensor(m)
    if masks == "attn float 3-D":
        m = rng.standard_normal((N * 2, L, S))
        kw_t["attn_mask"], kw_c["attn_mask"] = torch.tensor(m), cylayers.tensor(m)
    if masks == "causal":
        m = torch.nn.Transformer.generate_square_subsequent_mask(L).double()
        kw_t["attn_mask"], kw_c["attn_mask"] = m, cylayers.tensor(m.numpy())
        kw_t["is_causal"] = kw_c["is_causal"] = True
    t_out, t_w = theirs(tq, tk, tv, need_weights=need, average_attn_weights=avg, **kw_t)
    c_out, c_w = ours(cq, ck, cv, need_weights=need, average_attn_weights=avg, **kw_c)
    check(c_out, t_out, np.float64, "output")
    assert (t_w is None) == (c_w is None)
    if t_w is not None:
        check(c_w, t_w, np.float64, "weights")
    if np.isnan(t_out.detach().numpy()).any():
        return
    g = rng.standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(g))
    c_out.backward(cylayers.tensor(g))
    for a, b in ((cq, tq), (ck, tk), (cv, tv)):
        check(a.grad, b.grad, np.float64, "input grad")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        check(p.grad, theirs_params[name].grad, np.float64, name)


@pytest.mark.parametrize("add_zero_attn", [False, True])
@pytest.mark.parametrize("separate", [False, True])
def test_functional_multi_head_attention_with_static_keys_and_values(add_zero_attn, separate):
    """F.multi_head_attention_forward's static_k / static_v ((N * heads, S, head_dim), used
    instead of projecting key and value) and separate projection weights, with gradients."""
    L, S, N, E, H = 4, 5, 3, 8, 2
    arrays = dict(q=rng.standard_normal((L, N, E)), k=rng.standard_normal((S, N, E)),
                  v=rng.standard_normal((S, N, E)), w=rng.standard_normal((3 * E, E)),
                  b=rng.standard_normal(3 * E), wo=rng.standard_normal((E, E)),
                  bo=rng.standard_normal(E), sk=rng.standard_normal((N * H, S + 1, E // H)),
                  sv=rng.standard_normal((N * H, S + 1, E // H)))
    t = {name: pair(a)[0] for name, a in arrays.items()}
    c = {name: pair(a)[1] for name, a in arrays.items()}
    results = []
    for lib, x in ((torch.nn.functional, t), (F, c)):
        w_q, w_k, w_v = x["w"].chunk(3)
        out, weights = lib.multi_head_attention_forward(
            x["q"], x["k"], x["v"], E, H, None if separate else x["w"], x["b"], None, None,
            add_zero_attn, 0.0, x["wo"], x["bo"], training=False,
            use_separate_proj_weight=separate, q_proj_weight=w_q, k_proj_weight=w_k,
            v_proj_weight=w_v, static_k=x["sk"], static_v=x["sv"])
        (out.sum() + weights.sum()).backward()
        results.append((out, weights))
    (t_out, t_w), (c_out, c_w) = results
    check(c_out, t_out, np.float64, "output")
    check(c_w, t_w, np.float64, "weights")
    for name in arrays:
        if t[name].grad is not None or c[name].grad is not None:
            check(c[name].grad, t[name].grad, np.float64, name)


def test_multihead_attention_float32_unbatched_and_fully_masked_rows():
    theirs = torch.nn.MultiheadAttention(6, 3)
    ours = load_from(nn.MultiheadAttention(6, 3), theirs)
    x = rng.standard_normal((5, 6)).astype(np.float32)  # unbatched (L, E)
    t_out, t_w = theirs(torch.tensor(x), torch.tensor(x), torch.tensor(x))
    c_out, c_w = ours(cylayers.tensor(x), cylayers.tensor(x), cylayers.tensor(x))
    check(c_out, t_out, np.float32)
    check(c_w, t_w, np.float32)
    # every key masked for one sample: NaN with need_weights (softmax), as PyTorch
    xb = rng.standard_normal((4, 2, 6)).astype(np.float32)
    kpm = np.array([[False] * 4, [True] * 4])
    for need in (True, False):
        t = theirs(*[torch.tensor(xb)] * 3, key_padding_mask=torch.tensor(kpm),
                   need_weights=need)[0]
        c = ours(*[cylayers.tensor(xb)] * 3, key_padding_mask=cylayers.tensor(kpm),
                 need_weights=need)[0]
        check(c, t, np.float32, need)


def test_multihead_attention_gradcheck_and_defaults():
    mha = nn.MultiheadAttention(4, 2, kdim=3, vdim=5).double()
    q = cylayers.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    k = cylayers.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    v = cylayers.tensor(rng.standard_normal((4, 2, 5)), requires_grad=True)
    assert gradcheck(lambda a, b, c: mha(a, b, c)[0], (q, k, v))
    default = nn.MultiheadAttention(8, 4)
    assert default.in_proj_bias.abs().sum().item() == 0 and default.dropout == 0.0
    assert not default.batch_first and default.head_dim == 2
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)


def test_multihead_attention_dropout_zeroes_weights_in_training_only():
    mha = nn.MultiheadAttention(4, 1, dropout=0.5)
    x = cylayers.randn(6, 1, 4)
    cylayers.manual_seed(3)
    _, w = mha(x, x, x)
    assert (w.detach().numpy() == 0).any()
    mha.eval()
    _, w = mha(x, x, x)
    assert (w.detach().numpy() > 0).all()
