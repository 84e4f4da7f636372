"""Matrix decompositions and solves on numpy's LAPACK, batched over leading dims, with the
gradients PyTorch computes (real matrices): inv, slogdet / det, solve, cholesky, eigh, svd,
qr, solve_triangular."""
import numpy as np

from cylayers.autograd.function import Function
from cylayers._ops.arith import unbroadcast


def _T(x):
    return np.swapaxes(x, -1, -2)


class MultiOutput(Function):
    """A decomposition with several results on a tape of one output per node: forward's
    arrays travel packed in one flat array, and apply_multi hands out reshaped slices of it
    (so each result's gradient lands in its part of the packed gradient, zeros elsewhere)."""

    @classmethod
    def apply_multi(cls, *args):
        packed = cls.apply(*args)
        shapes = cls.output_shapes(*[a._array if hasattr(a, "_array") else a for a in args])
        parts, offset = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            parts.append(packed.narrow(0, offset, size).reshape(shape))
            offset += size
        return tuple(parts)

    @staticmethod
    def pack(*arrays):
        return np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.zeros(0)

    @classmethod
    def unpack(cls, ctx, g):
        parts, offset = [], 0
        for shape in ctx.out_shapes:
            size = int(np.prod(shape))
            parts.append(g[offset:offset + size].reshape(shape))
            offset += size
        return parts


def _square(a, name):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2] if a.ndim > 1 else 1} by {a.shape[-1]} matrices")


def _floating(a, name):
    if a.dtype.kind != "f":
        raise RuntimeError(f"linalg.{name}: Expected a floating point or complex tensor as "
                           f"input. Got {a.dtype}")


def _lapack(fn, name, *args):
    try:
        return fn(*args)
    except np.linalg.LinAlgError as e:
        message = str(e)
        if "Singular" in message or "singular" in message:
            raise RuntimeError(f"linalg.{name}: The diagonal element 1 is zero, the inversion "
                               f"could not be completed because the input matrix is "
                               f"singular.") from None
        if "positive definite" in message:
            raise RuntimeError(f"linalg.{name}: The factorization could not be completed "
                               f"because the input is not positive-definite.") from None
        raise RuntimeError(f"linalg.{name}: {message}") from None


class Inv(Function):
    @staticmethod
    def forward(ctx, a):
        _square(a, "inv")
        _floating(a, "inv")
        ctx.y = _lapack(np.linalg.inv, "inv", a).astype(a.dtype, copy=False)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        yt = _T(ctx.y)
        return -(yt @ g @ yt)


class SLogDet(MultiOutput):
    """(sign, log|det|); the gradient of log|det| is A^-T (sign has none)."""

    @staticmethod
    def output_shapes(a):
        return (a.shape[:-2], a.shape[:-2])

    @staticmethod
    def forward(ctx, a):
        _square(a, "slogdet")
        _floating(a, "slogdet")
        sign, logabs = np.linalg.slogdet(a)
        ctx.a, ctx.out_shapes = a, SLogDet.output_shapes(a)
        return SLogDet.pack(sign, logabs).astype(a.dtype)

    @staticmethod
    def backward(ctx, g):
        _, g_logabs = SLogDet.unpack(ctx, g)
        inv_t = _T(_lapack(np.linalg.inv, "slogdet", ctx.a))
        return (np.asarray(g_logabs)[..., None, None] * inv_t).astype(ctx.a.dtype)


class Det(Function):
    """det(A); its gradient is the cofactor matrix, det * A^-T for an invertible A and from
    the SVD for a singular one (where A^-T does not exist)."""

    @staticmethod
    def forward(ctx, a):
        _square(a, "det")
        _floating(a, "det")
        ctx.a = a
        ctx.det = np.asarray(np.linalg.det(a), a.dtype)
        return ctx.det

    @staticmethod
    def backward(ctx, g):
        a, det = ctx.a, ctx.det
        cof = np.empty(a.shape, dtype=np.float64)
        flat_a = a.reshape(-1, *a.shape[-2:]).astype(np.float64)
        flat_det = det.reshape(-1)
        flat_cof = cof.reshape(-1, *a.shape[-2:])
        for i, (m, d) in enumerate(zip(flat_a, flat_det)):
            if d != 0:
                flat_cof[i] = d * np.linalg.inv(m).T
            else:  # A = U S V^T: cof(A) = det(U) det(V) U diag(prod_{j != i} s_j) V^T
                u, s, vt = np.linalg.svd(m)
                others = np.array([np.prod(np.delete(s, k)) for k in range(s.size)])
                flat_cof[i] = np.linalg.det(u) * np.linalg.det(vt) * (u * others) @ vt
        return (np.asarray(g)[..., None, None] * cof).astype(a.dtype)


def _vector_rhs(a, b):
    """PyTorch's rule: B is a vector (or a batch of them) when it is 1-D, or when it has one
    dim fewer than A and matches A's leading shape."""
    return b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])


class Solve(Function):
    """X with A X = B (left=True) or X A = B (left=False)."""

    @staticmethod
    def forward(ctx, a, b, left):
        _square(a, "solve")
        _floating(a, "solve")
        vector = _vector_rhs(a, b)
        bb = b[..., None] if vector else b
        if not left:
            a, bb = _T(a), _T(bb)
        try:
            x = np.linalg.solve(a, bb)
        except np.linalg.LinAlgError:
            raise RuntimeError("torch.linalg.solve: The solver failed because the input matrix "
                               "is singular.") from None
        except ValueError as e:
            raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                               f"AX = B ({list(a.shape)} and {list(b.shape)}): {e}") from None
        ctx.a, ctx.x, ctx.vector, ctx.left = a, x, vector, left
        ctx.shapes = (a.shape, b.shape)
        out = _T(x) if not left else x
        return (out[..., 0] if vector else out).astype(np.result_type(a, b), copy=False)

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.a, ctx.x  # a and x in the left-solve orientation
        gg = g[..., None] if ctx.vector else g
        if not ctx.left:
            gg = _T(gg)
        gb = np.linalg.solve(_T(a), gg)
        ga = -gb @ _T(x)
        if not ctx.left:
            ga, gb = _T(ga), _T(gb)
        sa, sb = ctx.shapes
        ga = unbroadcast(ga, sa)
        gb = gb[..., 0] if ctx.vector else gb
        return ga.astype(g.dtype), unbroadcast(gb, sb).astype(g.dtype), None


class Cholesky(Function):
    """A = L L^T; gradient L^-T S L^-1 with S the symmetric part PyTorch builds from
    tril(L^T gL)."""

    @staticmethod
    def forward(ctx, a, upper):
        _square(a, "cholesky")
        _floating(a, "cholesky")
        lower = _lapack(np.linalg.cholesky, "cholesky", a).astype(a.dtype, copy=False)
        ctx.lower, ctx.upper = lower, upper
        return _T(lower).copy() if upper else lower

    @staticmethod
    def backward(ctx, g):
        L = ctx.lower
        gL = _T(g) if ctx.upper else g
        p = np.tril(_T(L) @ gL)
        s = 0.5 * (p + _T(np.tril(p, -1)))
        inv_l = np.linalg.inv(L)
        return (_T(inv_l) @ s @ inv_l).astype(g.dtype), None


class Eigh(MultiOutput):
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix (its lower triangle, or
    upper with UPLO='U'); gradient V (diag(gw) + skew(V^T gV) / E) V^T, PyTorch's."""

    @staticmethod
    def output_shapes(a, uplo):
        return (a.shape[:-1], a.shape)

    @staticmethod
    def forward(ctx, a, uplo):
        _square(a, "eigh")
        _floating(a, "eigh")
        w, v = np.linalg.eigh(a, UPLO=uplo)
        ctx.w, ctx.v = w.astype(a.dtype), v.astype(a.dtype)
        ctx.out_shapes = Eigh.output_shapes(a, uplo)
        return Eigh.pack(ctx.w, ctx.v)

    @staticmethod
    def backward(ctx, g):
        gw, gv = Eigh.unpack(ctx, g)
        w, v = ctx.w, ctx.v
        n = w.shape[-1]
        vtgv = _T(v) @ gv
        e = w[..., None, :] - w[..., :, None]
        e[..., np.arange(n), np.arange(n)] = 1
        inner = (vtgv - _T(vtgv)) / 2 / e
        inner[..., np.arange(n), np.arange(n)] = gw
        return (v @ inner @ _T(v)).astype(v.dtype), None


class SVD(MultiOutput):
    """The reduced SVD A = U diag(S) Vh; the gradient (for distinct singular values, as in
    PyTorch) from the skew parts of U^T gU and V^T gV."""

    @staticmethod
    def output_shapes(a):
        m, n = a.shape[-2:]
        k = min(m, n)
        lead = a.shape[:-2]
        return (lead + (m, k), lead + (k,), lead + (k, n))

    @staticmethod
    def forward(ctx, a):
        _floating(a, "svd")
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        ctx.u, ctx.s, ctx.vh = u.astype(a.dtype), s.astype(a.dtype), vh.astype(a.dtype)
        ctx.shape, ctx.out_shapes = a.shape, SVD.output_shapes(a)
        return SVD.pack(ctx.u, ctx.s, ctx.vh)

    @staticmethod
    def backward(ctx, g):
        gu, gs, gvh = SVD.unpack(ctx, g)
        u, s, vh = ctx.u, ctx.s, ctx.vh
        v = _T(vh)
        m, n = ctx.shape[-2:]
        k = s.shape[-1]
        idx = np.arange(k)
        gv = _T(gvh)
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = s * s
            f = s2[..., None, :] - s2[..., :, None]
            f[..., idx, idx] = 1
            f = 1 / f
            f[..., idx, idx] = 0
            utgu, vtgv = _T(u) @ gu, _T(v) @ gv
            inner = (f * (utgu - _T(utgu))) * s[..., None, :] + \
                s[..., :, None] * (f * (vtgv - _T(vtgv)))
            inner[..., idx, idx] = gs
            ga = u @ inner @ vh
            inv_s = 1 / s
            if m > k:
                ga = ga + (gu - u @ utgu) * inv_s[..., None, :] @ vh
            if n > k:
                ga = ga + u @ _T((gv - v @ vtgv) * inv_s[..., None, :])
        return ga.astype(s.dtype)


class QR(MultiOutput):
    """Reduced QR (m >= n for the gradient, as PyTorch requires in 'reduced' mode)."""

    @staticmethod
    def output_shapes(a, mode):
        m, n = a.shape[-2:]
        k = m if mode == "complete" else min(m, n)
        return (a.shape[:-2] + (m, k), a.shape[:-2] + (k, n))

    @staticmethod
    def forward(ctx, a, mode):
        _floating(a, "qr")
        q, r = np.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
        ctx.q, ctx.r, ctx.mode = q.astype(a.dtype), r.astype(a.dtype), mode
        ctx.out_shapes = QR.output_shapes(a, mode)
        return QR.pack(ctx.q, ctx.r)

    @staticmethod
    def backward(ctx, g):
        gq, gr = QR.unpack(ctx, g)
        q, r = ctx.q, ctx.r
        m, n = q.shape[-2], r.shape[-1]
        if ctx.mode != "reduced" or m < n:
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr."
                               if ctx.mode == "r" else
                               "The QR decomposition is not differentiable when mode='complete'"
                               " and nrows > ncols." if ctx.mode == "complete" else
                               "linalg.qr: the gradient is implemented for m >= n")
        mm = r @ _T(gr) - _T(gq) @ q
        sym = np.tril(mm, -1)
        sym = sym + _T(sym) + np.tril(np.triu(mm))  # copy the lower triangle up
        b = gq + q @ sym
        # gA = b R^-T
        return _T(np.linalg.solve(r, _T(b))).astype(q.dtype), None


class SolveTriangular(Function):
    @staticmethod
    def forward(ctx, a, b, upper, left, unitriangular):
        tri = np.triu(a) if upper else np.tril(a)
        if unitriangular:
            n = a.shape[-1]
            tri = tri.copy()
            tri[..., np.arange(n), np.arange(n)] = 1
        aa, bb = (tri, b) if left else (_T(tri), _T(b))
        x = np.linalg.solve(aa, bb)
        ctx.tri, ctx.x, ctx.left, ctx.upper, ctx.unit = aa, x, left, upper, unitriangular
        ctx.shapes = (a.shape, b.shape)
        return (x if left else _T(x)).astype(np.result_type(a, b), copy=False)

    @staticmethod
    def backward(ctx, g):
        gg = g if ctx.left else _T(g)
        gb = np.linalg.solve(_T(ctx.tri), gg)
        ga = -gb @ _T(ctx.x)
        if not ctx.left:
            ga, gb = _T(ga), _T(gb)
        ga = np.triu(ga) if ctx.upper else np.tril(ga)
        if ctx.unit:
            n = ga.shape[-1]
            ga[..., np.arange(n), np.arange(n)] = 0
        sa, sb = ctx.shapes
        return (unbroadcast(ga, sa).astype(g.dtype), unbroadcast(gb, sb).astype(g.dtype), None,
                None, None)
