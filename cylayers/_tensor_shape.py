"""Tensor's shape and indexing ops: views (view, reshape, permute, expand...), indexing and
slicing, splitting and joining pieces, and the selections that gather elements (gather,
index_select, masked_select, diagonal...)."""
import numpy as np

from cylayers import _dtype
from cylayers._ops import indexing, scatter as scatter_ops, shape as shape_ops, untaped
from cylayers._tensor_arithmetic import _other
from cylayers._tensor_base import (TensorBase, _index_arg, _norm_dim, _shape_arg, _traced_sizes,
                                   trace_state, unwrap)


def _resolve_shape(numel, shape):
    shape = list(shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        i = shape.index(-1)
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[i] = numel // known
    total = 1
    for s in shape:
        if s < 0:
            raise RuntimeError(f"invalid shape dimension {s}")
        total *= s
    if total != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _view_as_dtype(self, dt):
    """view(dtype): the same bytes read as another dtype, as in PyTorch (no conversion); the
    last dimension scales with the item sizes."""
    target = _dtype.to_numpy_dtype(dt)
    arr = self._array
    if target == arr.dtype:
        return shape_ops.Reshape.apply(self, arr.shape, True)
    if arr.ndim == 0 and target.itemsize != arr.dtype.itemsize:
        raise RuntimeError("self.dim() cannot be 0 to view "
                           f"{self.dtype} as {_dtype.to_cylayers_dtype(target)} (different "
                           "element sizes)")
    if arr.ndim and arr.strides[-1] != arr.dtype.itemsize and arr.shape[-1] > 1:
        raise RuntimeError("self.stride(-1) must be 1 to view "
                           f"{self.dtype} as {_dtype.to_cylayers_dtype(target)} (different "
                           "element sizes)")
    try:
        out = TensorBase._make(arr.view(target))
    except ValueError as e:
        raise RuntimeError(f"view({_dtype.to_cylayers_dtype(target)}): {e}") from None
    out._vc = self._vc  # the same storage: in-place edits through either are seen
    return out


def _apply_reshape(self, shape, must_view, spec):
    """Reshape.apply; while an exporter traces, it also notes the shape as it was asked for
    (``spec()``: sizes read from tensors as TracedInts, -1, constants), so the exported Reshape
    keeps a size taken from a dynamic axis dynamic and a constant constant."""
    out = shape_ops.Reshape.apply(self, shape, must_view)
    if trace_state.active is not None:
        untaped.annotate(out, spec=tuple(spec()))
    return out


def _shape_spec(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) \
        else tuple(shape)


def _dims_arg(dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        return tuple(dims[0])
    return dims


class ShapeMethods:
    __slots__ = ()

    # ------------------------------------------------------------ views
    def view(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer)):
            return _view_as_dtype(self, shape[0])
        resolved = _resolve_shape(self._array.size, _shape_arg(shape))
        return _apply_reshape(self, resolved, True, lambda: _shape_spec(shape))

    def reshape(self, *shape):
        resolved = _resolve_shape(self._array.size, _shape_arg(shape))
        return _apply_reshape(self, resolved, False, lambda: _shape_spec(shape))

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        nd = self._array.ndim
        if nd == 0:
            _norm_dim(start_dim, nd), _norm_dim(end_dim, nd)
            return self.reshape(1)
        s, e = _norm_dim(start_dim, nd), _norm_dim(end_dim, nd)
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        shp = self._array.shape
        mid = 1
        for d in shp[s:e + 1]:
            mid *= d
        return _apply_reshape(self, shp[:s] + (mid,) + shp[e + 1:], False, lambda: (
            _traced_sizes(self)[:s] + (mid if mid == 0 else -1,) + _traced_sizes(self)[e + 1:]))

    def unflatten(self, dim, sizes):
        d = _norm_dim(dim, self._array.ndim)
        shp = self._array.shape
        asked = tuple(sizes)
        sizes = list(sizes)
        if -1 in sizes:
            known = int(np.prod([s for s in sizes if s != -1]))
            sizes[sizes.index(-1)] = shp[d] // known if known else 0
        if int(np.prod(sizes)) != shp[d]:
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                               f"size of dim {dim} ({shp[d]}) in the input tensor")
        return _apply_reshape(self, shp[:d] + tuple(int(n) for n in sizes) + shp[d + 1:], False,
                              lambda: _traced_sizes(self)[:d] + asked + _traced_sizes(self)[d + 1:])

    def squeeze(self, dim=None):
        shp = self._array.shape
        if dim is None:
            kept = [i for i, s in enumerate(shp) if s != 1]
        else:
            dims = (dim,) if isinstance(dim, int) else tuple(dim)
            dims = {_norm_dim(d, len(shp)) for d in dims} if shp else set()
            kept = [i for i, s in enumerate(shp) if not (i in dims and s == 1)]
        return _apply_reshape(self, tuple(shp[i] for i in kept), False,
                              lambda: [_traced_sizes(self)[i] for i in kept])

    def unsqueeze(self, dim):
        nd = self._array.ndim + 1
        d = _norm_dim(dim, nd)
        shp = self._array.shape
        return _apply_reshape(self, shp[:d] + (1,) + shp[d:], False,
                              lambda: _traced_sizes(self)[:d] + (1,) + _traced_sizes(self)[d:])

    def permute(self, *dims):
        dims = _shape_arg(dims)
        nd = self._array.ndim
        if len(dims) != nd:
            raise RuntimeError("permute(sparse_coo): number of dimensions in the tensor input "
                               "does not match the length of the desired ordering of dimensions "
                               f"i.e. input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
        dims = tuple(_norm_dim(d, nd) for d in dims)
        if sorted(dims) != list(range(nd)):
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        return shape_ops.Permute.apply(self, dims)

    def transpose(self, dim0, dim1):
        nd = self._array.ndim
        if nd == 0:
            return self
        d0, d1 = _norm_dim(dim0, nd), _norm_dim(dim1, nd)
        dims = list(range(nd))
        dims[d0], dims[d1] = dims[d1], dims[d0]
        return shape_ops.Permute.apply(self, tuple(dims))

    def t(self):
        if self._array.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self._array.ndim}D")
        return self.transpose(0, 1) if self._array.ndim == 2 else self

    @property
    def T(self):
        return shape_ops.Permute.apply(self, tuple(reversed(range(self._array.ndim))))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    @property
    def H(self):
        if self.dim() != 2:
            raise RuntimeError("tensor.H is only supported on matrices (2-D tensors).")
        return self.t()

    @property
    def mH(self):
        return self.transpose(-2, -1)

    def adjoint(self):
        return self.transpose(-2, -1)

    def expand(self, *sizes):
        asked = _shape_spec(sizes)
        sizes = list(_shape_arg(sizes))
        shp = self._array.shape
        offset = len(sizes) - len(shp)
        if offset < 0:
            raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be "
                               f"greater or equal to the number of dimensions in the tensor "
                               f"({len(shp)})")
        for i in range(len(shp)):
            if sizes[offset + i] == -1:
                sizes[offset + i] = shp[i]
        try:
            return untaped.annotate(shape_ops.Expand.apply(self, tuple(sizes)), spec=asked)
        except ValueError:
            raise RuntimeError(f"The expanded size of the tensor must match the existing size at "
                               f"non-singleton dimensions: {list(sizes)} vs {list(shp)}") from None

    def expand_as(self, other):
        return self.expand(other.shape)

    def unfold(self, dimension, size, step):
        d = _norm_dim(dimension, max(self._array.ndim, 1))
        return scatter_ops.Unfold.apply(self, d, int(size), int(step))

    # ------------------------------------------------------------ indexing and pieces
    def __getitem__(self, index):
        return shape_ops.GetItem.apply(self, _index_arg(index))

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._array.shape[0]))

    def narrow(self, dim, start, length):
        d = _norm_dim(dim, self._array.ndim)
        size = self._array.shape[d]
        start = int(unwrap(start))
        if not -size <= start <= size:
            raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                             f"but got {start})")
        start %= size or 1
        if length < 0 or start + length > size:
            raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                               f"({size}).")
        return shape_ops.GetItem.apply(self, (slice(None),) * d + (slice(start, start + length),))

    def unbind(self, dim=0):
        d = _norm_dim(dim, self._array.ndim)
        return tuple(shape_ops.GetItem.apply(self, (slice(None),) * d + (i,))
                     for i in range(self._array.shape[d]))

    def split(self, split_size_or_sections, dim=0):
        """Views of consecutive pieces along ``dim``: equal pieces of split_size (the last may be
        smaller), or pieces of the listed sizes."""
        d = _norm_dim(dim, self._array.ndim)
        size = self._array.shape[d]
        if isinstance(split_size_or_sections, (int, np.integer)):
            step = int(split_size_or_sections)
            if step <= 0 and size:
                raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                                   f"dimension size of {size}")
            sizes = [min(step, size - s) for s in range(0, size, step)] if size else [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != size:
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                                   f"(input tensor's size at dimension {dim}), but got "
                                   f"split_sizes={sizes}")
        pieces, start = [], 0
        for n in sizes:
            index = (slice(None),) * d + (slice(start, start + n),)
            pieces.append(shape_ops.GetItem.apply(self, index))
            start += n
        return tuple(pieces)

    def chunk(self, chunks, dim=0):
        if chunks <= 0:
            raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
        size = self._array.shape[_norm_dim(dim, self._array.ndim)]
        if size == 0:  # PyTorch: `chunks` empty pieces
            return tuple(self.narrow(dim, 0, 0) for _ in range(chunks))
        return self.split(-(-size // chunks), dim)

    def repeat(self, *sizes):
        return indexing.Repeat.apply(self, _shape_arg(sizes))

    def repeat_interleave(self, repeats=None, dim=None, *, output_size=None):
        """Each element (or slice along ``dim``) repeated ``repeats`` times in place; without dim
        the flattened tensor. ``torch.repeat_interleave(counts)`` repeats the indices 0..n-1."""
        if repeats is None:  # torch.repeat_interleave(repeats): self holds the counts
            counts = np.asarray(self._array, dtype=np.int64)
            return TensorBase._make(np.repeat(np.arange(counts.size, dtype=np.int64), counts))
        src = self.flatten() if dim is None else self
        d = 0 if dim is None else _norm_dim(dim, self._array.ndim)
        counts = np.asarray(unwrap(repeats), dtype=np.int64)
        n = src._array.shape[d]
        if counts.ndim > 1 or (counts.ndim == 1 and counts.size not in (1, n)):
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {counts.size} and input.size({d}) = {n}")
        if (counts < 0).any():
            raise RuntimeError("repeats can not be negative")
        index = np.repeat(np.arange(n, dtype=np.int64), counts.reshape(-1) if counts.size != 1
                          else int(counts.reshape(-1)[0]))
        return indexing.IndexSelect.apply(src, d, index)

    def flip(self, *dims, **kwargs):
        """A copy with the order of elements reversed along ``dims`` (like PyTorch, not a view)."""
        if kwargs:  # flip(dims=(0, 1)): the spelling PyTorch's signature names
            unknown = sorted(set(kwargs) - {"dims"})
            if unknown:
                raise TypeError(f"flip() got an unexpected keyword argument '{unknown[0]}'")
            if dims:
                raise TypeError("flip() got multiple values for argument 'dims'")
            dims = (kwargs["dims"],)
        out = self
        normalized = [_norm_dim(d, self._array.ndim) for d in _dims_arg(dims)]
        for d in normalized:
            if normalized.count(d) > 1:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        for d in normalized:
            if not self._array.ndim:
                break  # a 0-d tensor's dim 0 / -1 reverses nothing
            n = self._array.shape[d]
            out = indexing.IndexSelect.apply(out, d, np.arange(n - 1, -1, -1, dtype=np.int64))
        return out if out is not self else shape_ops.Clone.apply(self)

    def roll(self, shifts, dims=None):
        """A copy whose elements move ``shifts`` places along ``dims`` and wrap around; without
        dims the flattened tensor rolls and takes back its shape."""
        shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
        if dims is None:
            if len(shifts) != 1:
                raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                                   f"dims:0")
            return self.flatten().roll(shifts, 0).view(self.shape)
        dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
        if len(shifts) != len(dims):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               f"dims:{len(dims)}")
        out = self
        for shift, dim in zip(shifts, dims):
            d = _norm_dim(dim, self._array.ndim)
            n = self._array.shape[d]
            index = (np.arange(n, dtype=np.int64) - int(shift)) % (n or 1)
            out = indexing.IndexSelect.apply(out, d, index)
        return out if out is not self else shape_ops.Clone.apply(self)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """out[i] = x[i + 1] - x[i] along ``dim``, ``n`` times, after joining prepend/append."""
        if self._array.ndim == 0:
            raise RuntimeError("diff expects input to be at least one-dimensional")
        d = _norm_dim(dim, self._array.ndim)
        parts = [p if isinstance(p, TensorBase) else TensorBase._make(np.asarray(p))
                 for p in (prepend, self, append) if p is not None]
        out = shape_ops.Cat.apply(d, *parts) if len(parts) > 1 else self
        for _ in range(n):
            size = out._array.shape[d]
            if size == 0:
                break
            out = out.narrow(d, 1, size - 1) - out.narrow(d, 0, size - 1)
        return out

    # PyTorch's forms that skip its in-place-on-views checks: the same pieces here
    unsafe_split, unsafe_chunk = split, chunk

    # ------------------------------------------------------------ selections
    def gather(self, dim, index, sparse_grad=False):
        return indexing.Gather.apply(self, _norm_dim(dim, self._array.ndim), unwrap(index))

    def index_select(self, dim, index):
        return indexing.IndexSelect.apply(self, _norm_dim(dim, self._array.ndim),
                                          np.asarray(unwrap(index)).astype(np.int64))

    def masked_select(self, mask):
        mask = np.asarray(unwrap(mask), dtype=bool)
        shape = np.broadcast_shapes(self._array.shape, mask.shape)
        return self.expand(*shape)[TensorBase._make(np.broadcast_to(mask, shape))]

    def masked_fill(self, mask, value):
        return indexing.MaskedFill.apply(self, unwrap(mask), _other(value))

    def tril(self, diagonal=0):
        return indexing.Triangle.apply(self, diagonal, False)

    def triu(self, diagonal=0):
        return indexing.Triangle.apply(self, diagonal, True)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        nd = self._array.ndim
        d1, d2 = _norm_dim(dim1, nd), _norm_dim(dim2, nd)
        if d1 == d2:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        rows, cols = self._array.shape[d1], self._array.shape[d2]
        n = max(0, min(rows - max(-offset, 0), cols - max(offset, 0)))
        i = np.arange(n) + max(-offset, 0)
        j = np.arange(n) + max(offset, 0)
        # Move the two dimensions last, pick (i, j) pairs: the diagonal becomes the last dimension.
        rest = [k for k in range(nd) if k not in (d1, d2)]
        moved = self.permute(*rest, d1, d2)
        flat = moved.reshape(*moved.shape[:-2], rows * cols)
        return flat.index_select(-1, TensorBase._make(i * cols + j)) if n else \
            flat[..., :0]

    def diag(self, diagonal=0):
        if self._array.ndim == 1:
            n = self._array.shape[0] + abs(diagonal)
            out = TensorBase._make(np.zeros((n, n), self._array.dtype))
            rows = np.arange(self._array.shape[0]) + max(-diagonal, 0)
            cols = np.arange(self._array.shape[0]) + max(diagonal, 0)
            flat_index = TensorBase._make(rows * n + cols)
            return out.reshape(-1).scatter(0, flat_index, self).reshape(n, n)
        if self._array.ndim == 2:
            return self.diagonal(diagonal)
        raise RuntimeError("diag(): Supports 1D or 2D tensors. Got "
                           f"{self._array.ndim}D")

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        if (dim1, dim2) not in ((-2, -1), (self._array.ndim - 1, self._array.ndim)):
            raise NotImplementedError("diag_embed: only the default dim1=-2, dim2=-1")
        lead = self._array.shape[:-1]
        m = self._array.shape[-1]
        n = m + abs(offset)
        rows = np.arange(m) + max(-offset, 0)
        cols = np.arange(m) + max(offset, 0)
        base = TensorBase._make(np.zeros(lead + (n * n,), self._array.dtype))
        index = TensorBase._make(np.broadcast_to(rows * n + cols, lead + (m,)).copy())
        return base.scatter(-1, index, self).reshape(*lead, n, n)

    def argwhere(self):
        return TensorBase._make(np.argwhere(self._array).astype(np.int64))

    def nonzero(self, *, as_tuple=False):
        if as_tuple:
            return tuple(TensorBase._make(i.astype(np.int64))
                         for i in np.nonzero(np.atleast_1d(self._array)))
        return TensorBase._make(np.argwhere(self._array).astype(np.int64))
