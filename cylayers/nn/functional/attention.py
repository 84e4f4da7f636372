"""Attention: F.scaled_dot_product_attention and F.multi_head_attention_forward.

The masked softmax over the attention scores is one op on the tape (AttentionSoftmax): a
boolean mask (True = take part) is applied while the row maxima are taken, never materialized
as an additive -inf tensor, and backward needs only the probabilities. Rows with every key
masked give zeros (PyTorch's safe softmax in scaled_dot_product_attention) or NaN (its plain
softmax in MultiheadAttention with need_weights=True), as each PyTorch path does."""
import math

import numpy as np

from cylayers._kernels import activation as _activation_kernels
from cylayers._tensor import Tensor
from cylayers._threads import threads_for
from cylayers.autograd.function import Function
from cylayers.nn.functional.dropout import dropout
from cylayers.nn.functional.linear import linear


class AttentionSoftmax(Function):
    """softmax(scores) over the last axis where ``keep`` (a boolean array broadcastable to
    scores, "causal" for the lower triangle of the last two dims, or None) is True; masked
    entries get probability 0."""

    @staticmethod
    def forward(ctx, scores, keep, fully_masked_rows_zero):
        if keep is None or isinstance(keep, str):  # no mask, or causal: the row kernels
            p = _row_softmax(scores, causal=keep is not None)
            if not fully_masked_rows_zero or not np.isnan(p).any():
                ctx.save_for_backward(p)
                return p
            # a row of -inf (an additive mask) or NaN: the general path below says which
            keep = np.tril(np.ones(scores.shape[-2:], dtype=bool)) if keep is not None else None
        if keep is not None:
            scores = np.where(keep, scores, -np.inf)
        top = scores.max(axis=-1, keepdims=True)
        empty = ~np.isfinite(top) & (top < 0)  # every key masked (or -inf) in this row
        shifted = scores - np.where(empty, 0, top)
        e = np.exp(shifted)
        total = e.sum(axis=-1, keepdims=True, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = (e / total).astype(scores.dtype, copy=False)
        if fully_masked_rows_zero and empty.any():
            p = np.where(empty, 0, p).astype(scores.dtype, copy=False)
        ctx.save_for_backward(p)
        return p

    @staticmethod
    def backward(ctx, g):
        p, = ctx.saved_tensors
        g = np.ascontiguousarray(g, dtype=p.dtype)
        gx = np.empty_like(p)
        S = p.shape[-1]
        if p.size:
            _activation_kernels.softmax_rows_backward(g.reshape(-1), p.reshape(-1),
                                                      gx.reshape(-1), S, False,
                                                      threads_for(p.size))
        return gx, None, None


def _row_softmax(scores, causal):
    """The kernels' max-subtracted softmax (float64 sums) over the last axis; with ``causal``,
    row r of each (L, S) matrix over its first r + 1 columns."""
    x = np.ascontiguousarray(scores)
    out = np.empty_like(x)
    if x.size == 0:
        return out
    L, S = (x.shape[-2] if x.ndim >= 2 else 1), x.shape[-1]
    threads = threads_for(x.size)
    if causal:
        _activation_kernels.causal_softmax_rows_forward(x.reshape(-1), out.reshape(-1), L, S,
                                                        threads)
    else:
        _activation_kernels.softmax_rows_forward(x.reshape(-1), out.reshape(-1), S, False,
                                                 threads)
    return out


def _bool_array(mask):
    return mask._array if isinstance(mask, Tensor) else np.asarray(mask)


def _as_tensor(mask):
    return mask if isinstance(mask, Tensor) else Tensor._make(np.asarray(mask))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(q k^T * scale + mask) v over the last two dims, batched over the leading ones
    (broadcast). A boolean attn_mask marks the positions that take part; a float one is added
    to the scores (and may require grad)."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim < 2:
            raise RuntimeError(f"scaled_dot_product_attention: {name} must have at least 2 "
                               f"dimensions, got {t.ndim}")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query's last dimension "
                           f"({query.shape[-1]}) must equal key's ({key.shape[-1]})")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key and value must have the same "
                           f"sequence length, got {key.shape[-2]} and {value.shape[-2]}")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        heads, kv_heads = query.shape[-3], key.shape[-3]
        if heads % kv_heads:
            raise RuntimeError(f"scaled_dot_product_attention: the query's {heads} heads are "
                               f"not a multiple of the key's {kv_heads}")
        key = key.repeat_interleave(heads // kv_heads, dim=-3)
        value = value.repeat_interleave(heads // kv_heads, dim=-3)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query * scale) @ key.transpose(-2, -1)
    keep = None
    if is_causal:
        keep = "causal"
    elif attn_mask is not None:
        if _bool_array(attn_mask).dtype == bool:
            keep = _as_tensor(attn_mask)
        else:
            scores = scores + attn_mask
    weights = AttentionSoftmax.apply(scores, keep, True)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights @ value


def _canonical_mask(mask, name, dtype):
    """A key_padding_mask / attn_mask as MultiheadAttention takes it: a boolean mask marks
    positions NOT allowed to attend (the opposite of scaled_dot_product_attention's); a float
    mask is added. Returns (keep: bool Tensor or None, additive: Tensor or None); both stay
    tensor ops, so a mask that is a model input stays an input in an exported graph."""
    if mask is None:
        return None, None
    mask = _as_tensor(mask)
    if mask._array.dtype == bool:
        return mask.logical_not(), None
    if mask._array.dtype.kind != "f":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return None, mask


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """PyTorch's multi-head attention on (L, N, E) inputs (or unbatched (L, E)). Returns
    (output, weights or None)."""
    return attention_forward(
        query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k,
        bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training,
        key_padding_mask, need_weights, attn_mask, use_separate_proj_weight, q_proj_weight,
        k_proj_weight, v_proj_weight, static_k, static_v, average_attn_weights, is_causal)


def attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                      in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight,
                      out_proj_bias, training=True, key_padding_mask=None, need_weights=True,
                      attn_mask=None, use_separate_proj_weight=False, q_proj_weight=None,
                      k_proj_weight=None, v_proj_weight=None, static_k=None, static_v=None,
                      average_attn_weights=True, is_causal=False, batch_first=False):
    """multi_head_attention_forward, with batched inputs (N, L, E) where batch_first (the
    output too): MultiheadAttention(batch_first=True) computes in its inputs' layout instead
    of transposing them, so no projection reads or writes a transposed view (each such product
    copied its operand, forward and backward)."""
    from cylayers import _functions as ops
    batched = query.ndim == 3
    if not batched:
        if query.ndim != 2:
            raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but "
                                 f"received {query.ndim}-D query tensor")
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
        batch_first = False
    seq = 1 if batch_first else 0  # the sequence axis of query, key and value
    L, N, E = query.shape[seq], query.shape[1 - seq], query.shape[2]
    E = int(E)  # a model constant (a size read during an export trace would follow it)
    if E != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {E}")
    head_dim = E // num_heads
    if head_dim * num_heads != E:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint: the mask is the causal one
    else:
        is_causal = False
    # input projections
    if not use_separate_proj_weight:
        # Three products, not one split three ways: each piece of a split would send back a
        # gradient the size of the whole projection, zero outside its third (three full-size
        # arrays and two sums per layer); the weight's thirds are small.
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    b_q, b_k, b_v = in_proj_bias.chunk(3) if in_proj_bias is not None else (None,) * 3
    q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)
    keep_attn, add_attn = _canonical_mask(attn_mask, "attn_mask", q._array.dtype)
    keep_pad, add_pad = _canonical_mask(key_padding_mask, "key_padding_mask", q._array.dtype)
    if keep_attn is not None and keep_attn.ndim not in (2, 3):
        raise RuntimeError(f"attn_mask's dimension {keep_attn.ndim} is not supported")
    if bias_k is not None and bias_v is not None:
        one = (N, 1, E) if batch_first else (1, N, E)
        k = ops.cat([k, bias_k.reshape(1, 1, E).expand(*one)], dim=seq)
        v = ops.cat([v, bias_v.reshape(1, 1, E).expand(*one)], dim=seq)
        keep_attn, add_attn, keep_pad, add_pad = _pad_masks(keep_attn, add_attn, keep_pad,
                                                            add_pad)

    def heads(x):  # (L, N, E) or (N, L, E) -> a (N, heads, L, head_dim) view
        # sizes read from the input, not N or L: an exported graph follows them
        x = x.reshape(x.shape[0], x.shape[1], num_heads, head_dim)
        return x.permute(0, 2, 1, 3) if batch_first else x.permute(1, 2, 0, 3)
    q = heads(q)
    k = static_k.reshape(-1, num_heads, static_k.shape[1], head_dim) \
        if static_k is not None else heads(k)
    v = static_v.reshape(-1, num_heads, static_v.shape[1], head_dim) \
        if static_v is not None else heads(v)
    if add_zero_attn:
        zeros = Tensor._make(np.zeros((k.shape[0], num_heads, 1, head_dim),
                                      dtype=q._array.dtype))
        k, v = ops.cat([k, zeros], dim=2), ops.cat([v, zeros], dim=2)
        keep_attn, add_attn, keep_pad, add_pad = _pad_masks(keep_attn, add_attn, keep_pad,
                                                            add_pad)
    S = k.shape[2]
    keep, additive = _combine_masks(keep_attn, add_attn, keep_pad, add_pad, N, num_heads, L, S)
    p = dropout_p if training else 0.0
    scores = (q * (1.0 / math.sqrt(head_dim))) @ k.transpose(-2, -1)
    if additive is not None:
        scores = scores + additive
    if is_causal:
        keep = "causal"
    # need_weights: PyTorch's plain softmax (a fully masked row is NaN); otherwise its
    # scaled_dot_product_attention path (safe softmax: zeros)
    weights = AttentionSoftmax.apply(scores, keep, not need_weights)
    if p > 0.0:
        weights = dropout(weights, p, training=True)
    out = weights @ v  # (N, heads, L, head_dim)
    out = out.permute(0, 2, 1, 3) if batch_first else out.permute(2, 0, 1, 3)
    rows, cols = out.shape[0], out.shape[1]
    out = linear(out.reshape(-1, E), out_proj_weight, out_proj_bias).reshape(rows, cols, E)
    if not batched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    if average_attn_weights:
        weights = weights.mean(dim=1)
    if not batched:
        weights = weights.squeeze(0)
    return out, weights


def _pad_masks(keep_attn, add_attn, keep_pad, add_pad):
    """One more key (bias_k/bias_v or the zero attention): every mask gains a column that
    takes part."""
    from cylayers import _creation, _functions as ops

    def widen(mask, fill):
        return None if mask is None else ops.cat(
            [mask, _creation.full(tuple(mask.shape[:-1]) + (1,), fill, dtype=mask.dtype)], -1)
    return widen(keep_attn, True), widen(add_attn, 0.0), widen(keep_pad, True), \
        widen(add_pad, 0.0)


def _combine_masks(keep_attn, add_attn, keep_pad, add_pad, N, heads, L, S):
    """attn_mask ((L, S) or (N*heads, L, S)) and key_padding_mask ((N, S)) as one boolean
    'keep' tensor and one additive tensor, both broadcastable to (N, heads, L, S)."""
    def attn_view(mask):
        if mask.ndim == 2:
            if tuple(mask.shape) != (L, S):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(mask.shape)}, but "
                                   f"should be {(L, S)}.")
            return mask.unsqueeze(0).unsqueeze(0)
        if tuple(mask.shape) != (N * heads, L, S):
            raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(mask.shape)}, but "
                               f"should be {(N * heads, L, S)}.")
        return mask.reshape(-1, heads, mask.shape[1], mask.shape[2])

    def pad_view(mask):
        if tuple(mask.shape) != (N, S):
            raise AssertionError(f"expecting key_padding_mask shape of {(N, S)}, but got "
                                 f"{tuple(mask.shape)}")
        return mask.unsqueeze(1).unsqueeze(1)

    keep = attn_view(keep_attn) if keep_attn is not None else None
    if keep_pad is not None:
        keep = pad_view(keep_pad) if keep is None else keep & pad_view(keep_pad)
    additive = attn_view(add_attn) if add_attn is not None else None
    if add_pad is not None:
        additive = pad_view(add_pad) if additive is None else additive + pad_view(add_pad)
    return keep, additive
