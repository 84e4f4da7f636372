"""Transformer layers against PyTorch with the same weights (load_state_dict): outputs and every
gradient in float64 with post-/pre-norm, relu/gelu/callable activations, batch_first, causal and
padding masks; the state_dict keys; a 40-step causal LM training run step for step; gradcheck."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn
import cylayers.nn.functional as F
from cylayers.autograd import gradcheck

rng = np.random.default_rng(0)


def load_from(ours, theirs):
    ours.load_state_dict({k: cylayers.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    return ours


def close(ours, theirs, tol=1e-10):
    a = ours.detach().numpy()
    b = theirs.detach().numpy()
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def compare_grads(ours, theirs, tol=1e-10):
    theirs_params = dict(theirs.named_parameters())
    assert sorted(theirs_params) == sorted(n for n, _ in ours.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs_params[name].grad, tol)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("masks", ["none", "causal", "padding"])
def test_transformer_matches_pytorch(batch_first, norm_first, activation, masks):
    act_t = torch.nn.functional.silu if activation == "callable" else activation
    act_c = F.silu if activation == "callable" else activation
    common = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=batch_first,
                  norm_first=norm_first, num_encoder_layers=2, num_decoder_layers=2)
    theirs = torch.nn.Transformer(activation=act_t, **common).double()
    ours = load_from(nn.Transformer(activation=act_c, **common).double(), theirs)
    N, S, T = 3, 5, 4
    shape = (lambda n: (N, n, 8)) if batch_first else (lambda n: (n, N, 8))
    src, tgt = rng.standard_normal(shape(S)), rng.standard_normal(shape(T))
    ts, tt = torch.tensor(src, requires_grad=True), torch.tensor(tgt, requires_grad=True)
    cs, ct = cylayers.tensor(src, requires_grad=True), cylayers.tensor(tgt, requires_grad=True)
    kt, kc = {}, {}
    if masks == "causal":
        kt["tgt_mask"] = torch.nn.Transformer.generate_square_subsequent_mask(T).double()
        kc["tgt_mask"] = nn.Transformer.generate_square_subsequent_mask(T).double()
        np.testing.assert_array_equal(kc["tgt_mask"].numpy(), kt["tgt_mask"].numpy())
        kt["tgt_is_causal"] = kc["tgt_is_causal"] = True
    if masks == "padding":
        m = rng.random((N, S)) > 0.6
        m[:, 0] = False
        for key in ("src_key_padding_mask", "memory_key_padding_mask"):
            kt[key], kc[key] = torch.tensor(m), cylayers.tensor(m)
    t_out, c_out = theirs(ts, tt, **kt), ours(cs, ct, **kc)
    close(c_out, t_out)
    g = rng.standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(g))
    c_out.backward(cylayers.tensor(g))
    close(cs.grad, ts.grad)
    close(ct.grad, tt.grad)
    compare_grads(ours, theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_encoder_layer_unbatched_and_encoder_with_final_norm(dtype):
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    layer_t = torch.nn.TransformerEncoderLayer(6, 3, dim_feedforward=12, dropout=0.0,
                                               dtype=tdt)
    enc_t = torch.nn.TransformerEncoder(layer_t, 3, norm=torch.nn.LayerNorm(6, dtype=tdt),
                                        enable_nested_tensor=False)
    layer_c = nn.TransformerEncoderLayer(6, 3, dim_feedforward=12, dropout=0.0)
    enc_c = load_from(nn.TransformerEncoder(layer_c, 3, norm=nn.LayerNorm(6)).to(
        cylayers.float64 if dtype == np.float64 else cylayers.float32), enc_t)
    x = rng.standard_normal((5, 6)).astype(dtype)  # unbatched (S, E)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=tdt)
    t_out = enc_t(torch.tensor(x), mask=mask)  # the causal mask, detected
    c_out = enc_c(cylayers.tensor(x), mask=cylayers.tensor(mask.numpy()))
    close(c_out, t_out, 1e-10 if dtype == np.float64 else 2e-5)


def test_decoder_layer_gradcheck_and_memory_masks():
    layer = nn.TransformerDecoderLayer(4, 2, dim_feedforward=8, dropout=0.0,
                                       batch_first=True).double()
    tgt = cylayers.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    mem = cylayers.tensor(rng.standard_normal((2, 5, 4)), requires_grad=True)
    memory_mask = cylayers.tensor(rng.random((3, 5)) > 0.7)
    assert gradcheck(lambda t, m: layer(t, m, memory_mask=memory_mask,
                                        tgt_mask=nn.Transformer.generate_square_subsequent_mask(
                                            3).double()), (tgt, mem))


def test_activation_and_argument_errors():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
    model = nn.Transformer(d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=8)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(cylayers.randn(3, 2, 4), cylayers.randn(3, 5, 4))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal"):
        model(cylayers.randn(3, 2, 4), cylayers.randn(3, 2, 6))


class TinyLM:
    """A small causal Transformer LM built the same way from either library."""

    @staticmethod
    def build(lib, vocab=11, d=16, heads=2, layers=2, ctx=12):
        class LM(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = lib.nn.Embedding(vocab, d)
                self.pos = lib.nn.Embedding(ctx, d)
                layer = lib.nn.TransformerEncoderLayer(d, heads, dim_feedforward=2 * d,
                                                       dropout=0.0, batch_first=True,
                                                       norm_first=True, activation="gelu")
                self.blocks = lib.nn.TransformerEncoder(layer, layers, norm=lib.nn.LayerNorm(d),
                                                        **({"enable_nested_tensor": False}
                                                           if lib is torch else {}))
                self.head = lib.nn.Linear(d, vocab)

            def forward(self, idx):
                n = idx.shape[1]
                mask = lib.nn.Transformer.generate_square_subsequent_mask(n)
                h = self.embed(idx) + self.pos(lib.arange(n))
                return self.head(self.blocks(h, mask=mask, is_causal=True))
        return LM()


def test_a_small_causal_transformer_lm_trains_like_pytorch_for_40_steps():
    torch.manual_seed(0)
    theirs = TinyLM.build(torch)
    ours = load_from(TinyLM.build(cylayers), theirs)
    opt_t = torch.optim.AdamW(theirs.parameters(), lr=3e-3)
    opt_c = cylayers.optim.AdamW(ours.parameters(), lr=3e-3)
    starts = np.random.default_rng(5).integers(0, 11, (40, 4, 1))
    data = (starts + 3 * np.arange(13)) % 11  # next token = this one + 3 (mod 11): learnable
    for step in range(40):
        x, y = data[step, :, :-1], data[step, :, 1:]
        loss_t = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)).reshape(-1, 11),
                                                   torch.tensor(y).reshape(-1))
        loss_c = F.cross_entropy(ours(cylayers.tensor(x)).reshape(-1, 11),
                                 cylayers.tensor(y).reshape(-1))
        assert abs(loss_c.item() - loss_t.item()) < 2e-5 * max(1.0, loss_t.item()), step
        opt_t.zero_grad()
        opt_c.zero_grad()
        loss_t.backward()
        loss_c.backward()
        opt_t.step()
        opt_c.step()
    assert loss_t.item() < 1.5  # it learned the rule (ln 11 = 2.40 at the start)
