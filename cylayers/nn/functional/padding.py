"""F.pad: constant (negative amounts crop), reflect, replicate and circular padding.

The gradient of every mode comes from one mechanism: pad an array of source indices the same
way, then scatter-add the output gradient to those sources (a reflected or repeated element
collects the gradient of each of its copies)."""
import numpy as np

from cylayers.autograd.function import Function

_NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pairs(pad, ndim):
    """PyTorch's flat (last-dim first) pad tuple as numpy's per-axis (before, after) list."""
    widths = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        widths[ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return widths


class PadFn(Function):
    @staticmethod
    def forward(ctx, x, pad, mode, value):
        widths = _pairs(pad, x.ndim)
        ctx.shape, ctx.widths, ctx.mode = x.shape, widths, mode
        if mode == "constant":
            grow = [(max(b, 0), max(a, 0)) for b, a in widths]
            out = np.pad(x, grow, mode="constant", constant_values=value)
            crop = tuple(slice(max(-b, 0), out.shape[i] - max(-a, 0))
                         for i, (b, a) in enumerate(widths))
            return np.ascontiguousarray(out[crop])
        return np.pad(x, widths, mode=_NUMPY_MODES[mode])

    @staticmethod
    def backward(ctx, g):
        source = np.arange(int(np.prod(ctx.shape)), dtype=np.int64).reshape(ctx.shape)
        if ctx.mode == "constant":
            grow = [(max(b, 0), max(a, 0)) for b, a in ctx.widths]
            padded = np.pad(source, grow, mode="constant", constant_values=-1)
            crop = tuple(slice(max(-b, 0), padded.shape[i] - max(-a, 0))
                         for i, (b, a) in enumerate(ctx.widths))
            padded = padded[crop]
        else:
            padded = np.pad(source, ctx.widths, mode=_NUMPY_MODES[ctx.mode])
        keep = padded >= 0
        gx = np.zeros(int(np.prod(ctx.shape)), dtype=g.dtype)
        np.add.at(gx, padded[keep], g[keep])
        return gx.reshape(ctx.shape), None, None, None


def pad(input, pad, mode="constant", value=None):
    """``torch.nn.functional.pad``: ``pad`` lists (before, after) amounts from the last
    dimension backwards."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           "dimension but got padding length " f"{len(pad)} and input of "
                           f"dimension {input.ndim}")
    if mode == "constant":
        return PadFn.apply(input, pad, mode, 0.0 if value is None else value)
    if mode not in _NUMPY_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value not in (None, 0, 0.0):
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument.")
    n_pad = len(pad) // 2
    if input.ndim not in (n_pad + 1, n_pad + 2) or n_pad > 3:
        raise NotImplementedError(
            f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now "
            f"(got a {input.ndim}D input with {n_pad} padded dims)")
    if any(p < 0 for p in pad):
        return _pad_with_crops(input, pad, mode)
    for i in range(n_pad):
        size = input.shape[input.ndim - 1 - i]
        before, after = pad[2 * i], pad[2 * i + 1]
        if mode == "reflect" and (before >= size or after >= size):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({before}, {after}) at "
                               f"dimension {input.ndim - 1 - i} of input {list(input.shape)}")
        if mode == "circular" and (before > size or after > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")
    return PadFn.apply(input, pad, mode, None)


def _crop(input, widths):
    """input without the edges the negative entries of ``widths`` remove."""
    index = [slice(None)] * input.ndim
    for i in range(len(widths) // 2):
        before, after = widths[2 * i], widths[2 * i + 1]
        size = input.shape[input.ndim - 1 - i]
        index[input.ndim - 1 - i] = slice(-before if before < 0 else 0,
                                          size + after if after < 0 else size)
    return input[tuple(index)]


def _pad_with_crops(input, widths, mode):
    """Negative widths crop, as in PyTorch: reflect and replicate pad the uncropped input and
    then crop (a reflection reaches past the cropped edge), circular crops first and wraps
    what is left."""
    positive = tuple(max(w, 0) for w in widths)
    negative = tuple(min(w, 0) for w in widths)
    if mode == "circular":
        return pad(_crop(input, negative), positive, mode)
    return _crop(pad(input, positive, mode), negative)
