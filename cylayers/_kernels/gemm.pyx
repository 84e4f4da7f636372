"""Matrix products on cylayers' OpenMP threads: each thread calls the single-threaded BLAS
(numpy's OpenBLAS, found at import by cylayers._blas) on its own block of the output.

One thread pool for everything: BLAS's own threads stay idle (set to 1), so they never fight
spinning OpenMP threads for the cores, and ``set_num_threads`` / threadpoolctl govern both.
The BLAS entry points arrive as addresses; ``int64_ints`` says whether the library takes 64-bit
(ILP64) or 32-bit integers."""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uintptr_t

ctypedef void (*sgemm64_t)(int, int, int, int64_t, int64_t, int64_t, float, const float*,
                           int64_t, const float*, int64_t, float, float*, int64_t) noexcept nogil
ctypedef void (*dgemm64_t)(int, int, int, int64_t, int64_t, int64_t, double, const double*,
                           int64_t, const double*, int64_t, double, double*, int64_t) noexcept nogil
ctypedef void (*sgemm32_t)(int, int, int, int, int, int, float, const float*, int, const float*,
                           int, float, float*, int) noexcept nogil
ctypedef void (*dgemm32_t)(int, int, int, int, int, int, double, const double*, int,
                           const double*, int, double, double*, int) noexcept nogil

include "small_gemm.pxi"
include "sizes.pxi"

cdef enum:
    # A product is cut into blocks by its shape alone, never by the thread count: OpenBLAS's
    # kernels round an element differently depending on where its row falls in the block
    # (measured: row splits of (64..512 x 27..512) x (.. x 256..4096) products changed some
    # bits), so blocks that followed the threads gave other bits on 1 and 2 threads.
    # Each block is a BLAS call that packs the operand it does not split again, so the longer
    # side is split (rows when M >= N: B is repacked; else columns: A is), into blocks of at
    # least GRAIN_MACS multiply-adds and MIN_BLOCK_EXTENT rows or columns, at most MAX_BLOCKS.
    GRAIN_MACS = 1 << 20
    MIN_BLOCK_EXTENT = 64
    MAX_BLOCKS = 16
    ROW_MAJOR = 101
    NO_TRANS = 111
    TRANS = 112

cdef uintptr_t _sgemm = 0
cdef uintptr_t _dgemm = 0
cdef bint _int64 = True


def set_blas(uintptr_t sgemm, uintptr_t dgemm, bint int64_ints):
    """Install the cblas_sgemm / cblas_dgemm entry points (addresses) to call."""
    global _sgemm, _dgemm, _int64
    _sgemm, _dgemm, _int64 = sgemm, dgemm, int64_ints


def have_blas():
    return _sgemm != 0 and _dgemm != 0


cdef inline Py_ssize_t _blocks(Py_ssize_t extent, Py_ssize_t macs) noexcept nogil:
    """How many blocks a product of `macs` multiply-adds is cut into along `extent`."""
    cdef Py_ssize_t blocks = MAX_BLOCKS
    if macs // GRAIN_MACS < blocks:
        blocks = macs // GRAIN_MACS
    if extent // MIN_BLOCK_EXTENT < blocks:
        blocks = extent // MIN_BLOCK_EXTENT
    return blocks if blocks > 1 else 1


cdef inline void _call(bint single, int ta, int tb, int64_t m, int64_t n, int64_t k,
                       double alpha, const void* a, int64_t lda, const void* b, int64_t ldb,
                       double beta, void* c, int64_t ldc) noexcept nogil:
    if single:
        if _int64:
            (<sgemm64_t>_sgemm)(ROW_MAJOR, ta, tb, m, n, k, <float>alpha, <const float*>a, lda,
                                <const float*>b, ldb, <float>beta, <float*>c, ldc)
        else:
            (<sgemm32_t>_sgemm)(ROW_MAJOR, ta, tb, <int>m, <int>n, <int>k, <float>alpha,
                                <const float*>a, <int>lda, <const float*>b, <int>ldb,
                                <float>beta, <float*>c, <int>ldc)
    else:
        if _int64:
            (<dgemm64_t>_dgemm)(ROW_MAJOR, ta, tb, m, n, k, alpha, <const double*>a, lda,
                                <const double*>b, ldb, beta, <double*>c, ldc)
        else:
            (<dgemm32_t>_dgemm)(ROW_MAJOR, ta, tb, <int>m, <int>n, <int>k, alpha,
                                <const double*>a, <int>lda, <const double*>b, <int>ldb, beta,
                                <double*>c, <int>ldc)


def gemm(const floating[::1] a,   # IN  batch x (M x K), or batch x (K x M) when trans_a
         const floating[::1] b,   # IN  batch x (K x N), or batch x (N x K) when trans_b
         floating[::1] c,         # OUT batch x (M x N); beta scales what is there
         Py_ssize_t batch, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
         bint trans_a, bint trans_b, double alpha, double beta,
         Py_ssize_t a_stride, Py_ssize_t b_stride,  # elements between batch items (0: shared)
         Py_ssize_t a_period,  # item i uses A[i % a_period] (the groups of a convolution)
         int num_threads):
    """C[i] = alpha op(A[i % a_period]) op(B[i]) + beta C[i] for every batch item, each product
    cut into blocks of its rows (or, for few rows, its columns) by its shape alone, and the
    (item, block) tasks shared among the threads: the same BLAS calls on any thread count."""
    cdef bint single = floating is float
    cdef int ta = TRANS if trans_a else NO_TRANS
    cdef int tb = TRANS if trans_b else NO_TRANS
    cdef int64_t lda = m if trans_a else k
    cdef int64_t ldb = k if trans_b else n
    cdef bint split_rows = m >= n
    cdef Py_ssize_t extent = m if split_rows else n
    cdef Py_ssize_t parts = _blocks(extent, m * n * k)
    cdef Py_ssize_t step, task, item, part, lo, hi
    cdef const floating* pa
    cdef const floating* pb
    cdef floating* pc
    check_counts("gemm", (batch, m, n, k, a_stride, b_stride))
    if a_period < 1:
        raise ValueError("gemm: a_period must be positive")
    if batch:
        check_length("gemm", "a", a.shape[0],
                     (min(a_period, batch) - 1) * a_stride + m * k if a_stride else m * k)
        check_length("gemm", "b", b.shape[0], (batch - 1) * b_stride + k * n if b_stride else k * n)
    check_length("gemm", "c", c.shape[0], batch * m * n)
    if batch == 0 or m == 0 or n == 0:
        return
    step = (extent + parts - 1) // parts
    if num_threads > batch * parts:  # a thread with no task would only be woken and waited for
        num_threads = <int>(batch * parts)
    for task in prange(batch * parts, nogil=True, schedule='static', num_threads=num_threads,
                       use_threads_if=num_threads > 1):
        item = task // parts
        part = task % parts
        lo = part * step
        hi = lo + step
        if hi > extent:
            hi = extent
        if lo >= hi:
            continue
        pa = &a[0] + (item % a_period) * a_stride
        pb = &b[0] + item * b_stride
        pc = &c[0] + item * m * n
        if split_rows:  # rows lo..hi of C: rows of op(A)
            _call(single, ta, tb, hi - lo, n, k, alpha,
                  pa + (lo if trans_a else lo * k), lda, pb, ldb, beta, pc + lo * n, n)
        else:  # columns lo..hi of C: columns of op(B)
            _call(single, ta, tb, m, hi - lo, k, alpha, pa, lda,
                  pb + (lo * k if trans_b else lo), ldb, beta, pc + lo, n)


def gemm_strided(const floating[::1] a,  # IN  outer x inner matrices, op(A) M x K
                 const floating[::1] b,  # IN  outer x inner matrices, op(B) K x N
                 floating[::1] c,        # OUT outer x inner matrices M x N (not overlapping)
                 Py_ssize_t outer, Py_ssize_t inner, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                 bint trans_a, bint trans_b,
                 Py_ssize_t lda, Py_ssize_t ldb, Py_ssize_t ldc,  # elements between rows
                 Py_ssize_t a_outer, Py_ssize_t a_inner,  # elements between matrices (0: shared)
                 Py_ssize_t b_outer, Py_ssize_t b_inner,
                 Py_ssize_t c_outer, Py_ssize_t c_inner,
                 int num_threads):
    """C[o, i] = op(A[o, i]) op(B[o, i]) for matrices that sit anywhere in their buffers: rows
    `ld` elements apart, matrices at o * x_outer + i * x_inner (the heads of attention, which
    are strided views of one projection, need no copy). Each array starts at its first matrix's
    first element and ends at its last one's last. Blocks and tasks as in gemm: the same BLAS
    calls on any thread count."""
    cdef bint single = floating is float
    cdef int ta = TRANS if trans_a else NO_TRANS
    cdef int tb = TRANS if trans_b else NO_TRANS
    cdef Py_ssize_t a_rows = k if trans_a else m, a_cols = m if trans_a else k
    cdef Py_ssize_t b_rows = n if trans_b else k, b_cols = k if trans_b else n
    cdef bint split_rows = m >= n
    cdef Py_ssize_t extent = m if split_rows else n
    cdef Py_ssize_t parts = _blocks(extent, m * n * k)
    cdef Py_ssize_t items = outer * inner
    cdef Py_ssize_t step, task, item, part, lo, hi
    cdef const floating* pa
    cdef const floating* pb
    cdef floating* pc
    check_counts("gemm_strided", (outer, inner, m, n, k, a_outer, a_inner, b_outer, b_inner,
                                  c_outer, c_inner))
    if lda < max(a_cols, 1) or ldb < max(b_cols, 1) or ldc < max(n, 1):
        raise ValueError(f"gemm_strided: a row stride is shorter than its row (lda {lda} for "
                         f"{a_cols}, ldb {ldb} for {b_cols}, ldc {ldc} for {n})")
    if items == 0 or m == 0 or n == 0:
        check_length("gemm_strided", "c", c.shape[0], 0)
        return
    check_length("gemm_strided", "c", c.shape[0],
                 (outer - 1) * c_outer + (inner - 1) * c_inner + (m - 1) * ldc + n)
    if k == 0:  # zero what the products own, not the gaps between them
        for item in range(items):
            pc = &c[0] + (item // inner) * c_outer + (item % inner) * c_inner
            for lo in range(m):
                for hi in range(n):
                    pc[lo * ldc + hi] = 0
        return
    check_length("gemm_strided", "a", a.shape[0],
                 (outer - 1) * a_outer + (inner - 1) * a_inner + (a_rows - 1) * lda + a_cols)
    check_length("gemm_strided", "b", b.shape[0],
                 (outer - 1) * b_outer + (inner - 1) * b_inner + (b_rows - 1) * ldb + b_cols)
    step = (extent + parts - 1) // parts
    if num_threads > items * parts:
        num_threads = <int>(items * parts)
    for task in prange(items * parts, nogil=True, schedule='static', num_threads=num_threads,
                       use_threads_if=num_threads > 1):
        item = task // parts
        part = task % parts
        lo = part * step
        hi = lo + step
        if hi > extent:
            hi = extent
        if lo >= hi:
            continue
        pa = &a[0] + (item // inner) * a_outer + (item % inner) * a_inner
        pb = &b[0] + (item // inner) * b_outer + (item % inner) * b_inner
        pc = &c[0] + (item // inner) * c_outer + (item % inner) * c_inner
        if split_rows:
            _call(single, ta, tb, hi - lo, n, k, 1.0,
                  pa + (lo if trans_a else lo * lda), lda, pb, ldb, 0.0, pc + lo * ldc, ldc)
        else:
            _call(single, ta, tb, m, hi - lo, k, 1.0, pa, lda,
                  pb + (lo * ldb if trans_b else lo), ldb, 0.0, pc + lo, ldc)


def gemm_sum(const floating[::1] a,   # IN  (S, G) x (M x K), or (S, G) x (K x M) when trans_a
             const floating[::1] b,   # IN  (S, G) x (K x N), or (S, G) x (N x K) when trans_b
             floating[::1] partial,   # OUT (chunks, G) x (M x N): sums over runs of s
             Py_ssize_t sums, Py_ssize_t groups, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
             bint trans_a, bint trans_b, Py_ssize_t chunks, int num_threads):
    """partial[j, g] = sum over s in chunk j of op(A[s, g]) op(B[s, g]), the S items cut into
    `chunks` equal runs (a convolution's weight gradient: a sum over blocks of images). The
    caller adds the chunks up; their number, and so every sum, does not depend on the thread
    count; nor do the blocks of rows each product is cut into (_blocks)."""
    cdef bint single = floating is float
    cdef int ta = TRANS if trans_a else NO_TRANS
    cdef int tb = TRANS if trans_b else NO_TRANS
    cdef int64_t lda = m if trans_a else k
    cdef int64_t ldb = k if trans_b else n
    cdef Py_ssize_t parts = _blocks(m, m * n * k * ((sums + chunks - 1) // chunks))
    cdef Py_ssize_t step, task, rest, chunk, grp, part, lo, hi, s, s_lo, s_hi, item
    cdef double beta
    if a.shape[0] != sums * groups * m * k or b.shape[0] != sums * groups * k * n \
            or chunks < 1 or chunks > sums or partial.shape[0] != chunks * groups * m * n:
        raise ValueError("gemm_sum: array sizes do not match the product")
    if m == 0 or n == 0:
        return
    step = (m + parts - 1) // parts
    if num_threads > chunks * groups * parts:
        num_threads = <int>(chunks * groups * parts)
    for task in prange(chunks * groups * parts, nogil=True, schedule='static',
                       num_threads=num_threads, use_threads_if=num_threads > 1):
        part = task % parts
        rest = task // parts
        grp = rest % groups
        chunk = rest // groups
        lo = part * step
        hi = lo + step
        if hi > m:
            hi = m
        if lo >= hi:
            continue
        s_lo = chunk * sums // chunks
        s_hi = (chunk + 1) * sums // chunks
        for s in range(s_lo, s_hi):
            item = s * groups + grp
            beta = 0.0 if s == s_lo else 1.0
            _call(single, ta, tb, hi - lo, n, k, 1.0,
                  &a[0] + item * m * k + (lo if trans_a else lo * k), lda,
                  &b[0] + item * k * n, ldb, beta,
                  &partial[0] + (chunk * groups + grp) * m * n + lo * n, n)


def register_columns(bint single):
    """register_gemm needs N to be a multiple of this (one vector)."""
    return CYL_SG_H_f if single else CYL_SG_H_d


def register_gemm(const floating[::1] a,  # IN  batch x (M x K), or batch x (K x M) when trans_a
                  const floating[::1] b,  # IN  batch x (K x N)
                  floating[::1] c,        # OUT batch x (M x N)
                  Py_ssize_t batch, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, bint trans_a,
                  int num_threads):
    """C[i] = op(A[i]) B[i] with include/cylayers/small_gemm.h: blocks of 8 rows of one product
    per task, every element summed over k in order (the same bits on any thread count)."""
    cdef Py_ssize_t h = CYL_SG_H_f if floating is float else CYL_SG_H_d
    cdef Py_ssize_t blocks = (m + CYL_SG_ROWS - 1) // CYL_SG_ROWS, task, item, r0
    cdef Py_ssize_t ars = 1 if trans_a else k, aks = m if trans_a else 1
    if (min(batch, m, n, k) < 0 or a.shape[0] != batch * m * k or b.shape[0] != batch * k * n
            or c.shape[0] != batch * m * n or n % h):
        raise ValueError(f"register_gemm: sizes do not match a batch of {batch} ({m} x {k}) "
                         f"({k} x {n}) products with N a multiple of {h}")
    if batch * m * n == 0:
        return
    if k == 0:
        c[:] = 0
        return
    if num_threads > batch * blocks:
        num_threads = <int>(batch * blocks)
    if num_threads == 1:
        with nogil:
            for task in range(batch * blocks):
                _register_rows(&a[0], &b[0], &c[0], task, blocks, m, n, k, ars, aks)
        return
    for task in prange(batch * blocks, nogil=True, schedule='static', num_threads=num_threads):
        _register_rows(&a[0], &b[0], &c[0], task, blocks, m, n, k, ars, aks)


cdef inline void _register_rows(const floating* a, const floating* b, floating* c,
                                Py_ssize_t task, Py_ssize_t blocks, Py_ssize_t m,
                                Py_ssize_t n, Py_ssize_t k, Py_ssize_t ars,
                                Py_ssize_t aks) noexcept nogil:
    cdef Py_ssize_t item = task // blocks, r0 = task % blocks * CYL_SG_ROWS
    cdef Py_ssize_t rows = min(CYL_SG_ROWS, m - r0)
    a += item * m * k + r0 * ars
    if floating is float:
        cyl_sg_rows_f(a, ars, aks, b + item * k * n, c + item * m * n + r0 * n, rows, n, k)
    else:
        cyl_sg_rows_d(a, ars, aks, b + item * k * n, c + item * m * n + r0 * n, rows, n, k)
