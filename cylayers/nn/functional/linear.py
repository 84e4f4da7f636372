"""F.linear: one fused op (matmul + bias) so the tape records a single node."""
import numpy as np

from cylayers import _blas as blas
from cylayers._ops.arith import column_sums
from cylayers.autograd.function import Function


class LinearFn(Function):
    def name(self):  # PyTorch's node for x @ W^T (+ b)
        return "AddmmBackward0" if getattr(self, "has_bias", True) else "MmBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias):
        if x.ndim == 0:
            raise RuntimeError("linear: input must have at least one dimension")
        if x.shape[-1] != weight.shape[-1]:
            rows = int(np.prod(x.shape[:-1])) if x.ndim > 1 else 1
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1]}"
                               f" and {weight.shape[1]}x{weight.shape[0]})")
        if x.dtype != weight.dtype:
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                               f"{x.dtype} and {weight.dtype}")
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        rows = int(np.prod(x.shape[:-1]))
        out = blas.matmul(x.reshape(rows, x.shape[-1]), weight, trans_b=True)
        out = out.reshape(x.shape[:-1] + (weight.shape[0],))
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        rows = int(np.prod(g.shape[:-1]))  # explicit: -1 cannot be inferred for 0 elements
        gx = blas.matmul(g.reshape(rows, g.shape[-1]), weight).reshape(x.shape) if nx else None
        gw = gb = None
        if nw or nb:
            g2 = g.reshape(rows, g.shape[-1])
            if nw:
                gw = blas.matmul(g2, x.reshape(rows, x.shape[-1]), trans_a=True)
            if nb:
                gb = column_sums(g2)  # in float64
        return gx, gw, gb


def linear(input, weight, bias=None):
    return LinearFn.apply(input, weight, bias)



def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k over the last dims (any leading batch dims)."""
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                           f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}")
    if weight.dim() != 3 or weight.shape[1] != input1.shape[-1] or \
            weight.shape[2] != input2.shape[-1]:
        raise RuntimeError(f"bilinear(): weight of size {list(weight.shape)} does not match "
                           f"the inputs' last dimensions {input1.shape[-1]} and "
                           f"{input2.shape[-1]}")
    lead = input1.shape[:-1]
    x1 = input1.reshape(-1, input1.shape[-1])
    x2 = input2.reshape(-1, input2.shape[-1])
    # (rows, i) @ (i, k * j) -> (rows, k, j), then contracted with x2 over j
    left = (x1 @ weight.permute(1, 0, 2).reshape(weight.shape[1], -1)).reshape(
        x1.shape[0], weight.shape[0], weight.shape[2])
    out = (left * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(*lead, weight.shape[0])
