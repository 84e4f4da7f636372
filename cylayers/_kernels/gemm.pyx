"""Matrix products on cylayers' OpenMP threads: each thread calls the single-threaded BLAS
(numpy's OpenBLAS, found at import by cylayers._blas) on its own block of the output.

One thread pool for everything: BLAS's own threads stay idle (set to 1), so they never fight
spinning OpenMP threads for the cores, and ``set_num_threads`` / threadpoolctl govern both.
The BLAS entry points arrive as addresses; ``int64_ints`` says whether the library takes 64-bit
(ILP64) or 32-bit integers."""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uintptr_t
from libc.stdlib cimport free, malloc

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
    # A long inner dimension (a weight gradient's sum over batch x time rows) is cut too: each
    # block would pack a K-long operand again, which thin blocks of rows pay for many times
    # (docs/performance.md). Blocks of at least LONG_K_BLOCK rows times parts of the inner
    # dimension of at least K_PART, summed in order afterwards (see _gemm_long_k).
    LONG_K = 2048
    K_PART = 1024
    LONG_K_BLOCK = 256
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


cdef int _matrix_layout(Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t row_stride,
                        Py_ssize_t col_stride, Py_ssize_t item, int64_t* ld) noexcept nogil:
    """How the BLAS can address matrices with these byte strides: 0 row-major, 1 column-major
    (passed as the transpose), -1 neither (the caller copies). Sets the leading dimension."""
    if row_stride % item or col_stride % item:
        return -1
    row_stride //= item
    col_stride //= item
    if cols == 1:  # the stride of an axis of length one is never stepped
        col_stride = 1
    if rows == 1:
        row_stride = cols if col_stride == 1 else 1
    if col_stride == 1 and row_stride >= max(cols, 1):
        ld[0] = row_stride
        return 0
    if row_stride == 1 and col_stride >= max(rows, 1):
        ld[0] = col_stride
        return 1
    return -1


cdef inline bint _broadcasts(Py_ssize_t size, Py_ssize_t to) noexcept nogil:
    # a batch of 1 stands for any non-empty batch (an empty c has an empty operand: a c cut
    # short is refused, not read as a broadcast)
    return size == to or (size == 1 and to > 0)


def gemm_nd(const floating[:, :, :, :] a,  # IN  (B0 or 1, B1 or 1) matrices op(A) M x K
            const floating[:, :, :, :] b,  # IN  (B0 or 1, B1 or 1) matrices op(B) K x N
            floating[:, :, :, :] c,        # OUT (B0, B1) matrices M x N
            bint trans_a, bint trans_b, int num_threads):
    """C[i, j] = op(A[i, j]) op(B[i, j]) for matrices in any layout the BLAS can address: each
    either row- or column-major (one unit-stride axis, the other at least a row apart), at any
    place in its buffer (attention's heads: views of one projection; its keys, transposed), a
    batch dimension of 1 in A or B broadcast. Returns 0; or 1, 2, 3 where A, B or C has a
    layout the BLAS cannot address (the caller copies it), having touched nothing. Each product
    is cut into blocks of its rows (or, for few rows, its columns) by its shape alone (_blocks)
    and the (item, block) tasks are shared among the threads: the same BLAS calls on any thread
    count."""
    cdef bint single = floating is float
    cdef Py_ssize_t item = sizeof(floating)
    cdef Py_ssize_t B0 = c.shape[0], B1 = c.shape[1], m = c.shape[2], n = c.shape[3]
    cdef Py_ssize_t k = a.shape[2] if trans_a else a.shape[3]
    cdef int64_t lda = 0, ldb = 0, ldc = 0
    cdef int layout_a, layout_b, layout_c
    cdef int ta, tb
    cdef Py_ssize_t a0, a1, b0, b1, c0 = c.strides[0], c1 = c.strides[1]
    cdef const char* pa0
    cdef const char* pb0
    cdef char* pc0
    cdef const void* pa
    cdef const void* pb
    cdef void* pc
    cdef bint split_rows
    cdef Py_ssize_t extent, parts, items, step, task, it, part, lo, hi, tmp
    if not (_broadcasts(a.shape[0], B0) and _broadcasts(a.shape[1], B1)
            and _broadcasts(b.shape[0], B0) and _broadcasts(b.shape[1], B1)):
        raise ValueError(f"gemm_nd: batches ({a.shape[0]}, {a.shape[1]}) and ({b.shape[0]}, "
                         f"{b.shape[1]}) do not broadcast to c's ({B0}, {B1})")
    if ((a.shape[3] if trans_a else a.shape[2]) != m
            or (b.shape[2] if trans_b else b.shape[3]) != n
            or (b.shape[3] if trans_b else b.shape[2]) != k):
        raise ValueError(f"gemm_nd: op(a) {m} x {k}, op(b) and c {m} x {n} do not match")
    items = B0 * B1
    if items == 0 or m == 0 or n == 0:
        return 0
    layout_c = _matrix_layout(m, n, c.strides[2], c.strides[3], item, &ldc)
    if layout_c < 0:
        return 3
    if k == 0:
        with nogil:
            for it in range(items):
                pc0 = <char*>&c[0, 0, 0, 0] + (it // B1) * c0 + (it % B1) * c1
                for lo in range(m):
                    for hi in range(n):
                        (<floating*>(pc0 + lo * c.strides[2] + hi * c.strides[3]))[0] = 0
        return 0
    layout_a = _matrix_layout(a.shape[2], a.shape[3], a.strides[2], a.strides[3], item, &lda)
    if layout_a < 0:
        return 1
    layout_b = _matrix_layout(b.shape[2], b.shape[3], b.strides[2], b.strides[3], item, &ldb)
    if layout_b < 0:
        return 2
    ta = TRANS if (trans_a != (layout_a == 1)) else NO_TRANS
    tb = TRANS if (trans_b != (layout_b == 1)) else NO_TRANS
    a0 = a.strides[0] if a.shape[0] > 1 else 0
    a1 = a.strides[1] if a.shape[1] > 1 else 0
    b0 = b.strides[0] if b.shape[0] > 1 else 0
    b1 = b.strides[1] if b.shape[1] > 1 else 0
    pa0 = <const char*>&a[0, 0, 0, 0]
    pb0 = <const char*>&b[0, 0, 0, 0]
    pc0 = <char*>&c[0, 0, 0, 0]
    if layout_c == 1:  # C column-major: C^T = op(B)^T op(A)^T, written row-major
        pa0, pb0 = pb0, pa0
        a0, b0 = b0, a0
        a1, b1 = b1, a1
        lda, ldb = ldb, lda
        tmp = ta
        ta = NO_TRANS if tb == TRANS else TRANS
        tb = NO_TRANS if tmp == TRANS else TRANS
        m, n = n, m
    split_rows = m >= n
    extent = m if split_rows else n
    if items == 1 and k >= LONG_K:
        return _gemm_long_k(single, item, ta, tb, m, n, k, pa0, lda, pb0, ldb, pc0, ldc,
                            split_rows, num_threads)
    parts = _blocks(extent, m * n * k)
    step = (extent + parts - 1) // parts
    if num_threads > items * parts:
        num_threads = <int>(items * parts)
    for task in prange(items * parts, nogil=True, schedule='static', num_threads=num_threads,
                       use_threads_if=num_threads > 1):
        it = task // parts
        part = task % parts
        lo = part * step
        hi = lo + step
        if hi > extent:
            hi = extent
        if lo >= hi:
            continue
        pa = <const void*>(pa0 + (it // B1) * a0 + (it % B1) * a1)
        pb = <const void*>(pb0 + (it // B1) * b0 + (it % B1) * b1)
        pc = <void*>(pc0 + (it // B1) * c0 + (it % B1) * c1)
        if split_rows:
            _call(single, ta, tb, hi - lo, n, k, 1.0,
                  <const char*>pa + (lo if ta == TRANS else lo * lda) * item, lda, pb, ldb, 0.0,
                  <char*>pc + lo * ldc * item, ldc)
        else:
            _call(single, ta, tb, m, hi - lo, k, 1.0, pa, lda,
                  <const char*>pb + (lo * ldb if tb == TRANS else lo) * item, ldb, 0.0,
                  <char*>pc + lo * item, ldc)
    return 0


cdef int _gemm_long_k(bint single, Py_ssize_t item, int ta, int tb, Py_ssize_t m,
                      Py_ssize_t n, Py_ssize_t k, const char* pa, int64_t lda, const char* pb,
                      int64_t ldb, char* pc, int64_t ldc, bint split_rows,
                      int num_threads) except -1:
    """One product with a long inner dimension, C row-major: (row or column block, part of k)
    tasks, the parts after the first into scratch, then C = part 0 + part 1 + ... in order.
    Blocks and parts follow the shape alone, so the bits do not depend on the thread count."""
    cdef Py_ssize_t extent = m if split_rows else n
    cdef Py_ssize_t parts = extent // LONG_K_BLOCK, kparts, step, k_step, task, part, kp
    cdef Py_ssize_t lo, hi, k_lo, k_hi, r, j
    cdef char* scratch = NULL
    cdef char* out
    cdef int64_t ld_out
    parts = min(max(parts, 1), MAX_BLOCKS)
    kparts = min(k // K_PART, MAX_BLOCKS // parts)
    kparts = max(kparts, 1)
    step = (extent + parts - 1) // parts
    k_step = (k + kparts - 1) // kparts
    if kparts > 1:
        scratch = <char*>malloc((kparts - 1) * m * n * item)
        if scratch == NULL:
            raise MemoryError("gemm_nd: no memory for the partial products")
    if num_threads > parts * kparts:
        num_threads = <int>(parts * kparts)
    for task in prange(parts * kparts, nogil=True, schedule='static', num_threads=num_threads,
                       use_threads_if=num_threads > 1):
        part = task % parts
        kp = task // parts
        lo = part * step
        hi = min(lo + step, extent)
        k_lo = kp * k_step
        k_hi = min(k_lo + k_step, k)
        if lo >= hi or k_lo >= k_hi:
            continue
        out = pc if kp == 0 else scratch + (kp - 1) * m * n * item
        ld_out = ldc if kp == 0 else n
        if split_rows:
            _call(single, ta, tb, hi - lo, n, k_hi - k_lo, 1.0,
                  pa + ((lo + k_lo * lda) if ta == TRANS else (lo * lda + k_lo)) * item, lda,
                  pb + (k_lo if tb == TRANS else k_lo * ldb) * item, ldb, 0.0,
                  out + lo * ld_out * item, ld_out)
        else:
            _call(single, ta, tb, m, hi - lo, k_hi - k_lo, 1.0,
                  pa + (k_lo * lda if ta == TRANS else k_lo) * item, lda,
                  pb + ((lo * ldb + k_lo) if tb == TRANS else (lo + k_lo * ldb)) * item, ldb,
                  0.0, out + lo * item, ld_out)
    if kparts > 1:
        for r in prange(m, nogil=True, schedule='static', num_threads=num_threads,
                        use_threads_if=num_threads > 1):
            for kp in range(1, kparts):
                if single:
                    _add_row(<float*>(pc + r * ldc * item),
                             <const float*>(scratch + ((kp - 1) * m + r) * n * item), n)
                else:
                    _add_row(<double*>(pc + r * ldc * item),
                             <const double*>(scratch + ((kp - 1) * m + r) * n * item), n)
        free(scratch)
    return 0


cdef inline void _add_row(floating* c, const floating* part, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        c[j] += part[j]


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
    """C[i] = op(A[i]) B[i] with include/cylayers/small_gemm.h.tp: blocks of 8 rows of one product
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
    _sg_rows(a, ars, aks, b + item * k * n, c + item * m * n + r0 * n, rows, n, k)


def panel_width(bint single):
    """Columns of one panel of pack_panels / panel_gemm."""
    return CYL_PG_WIDTH_f if single else CYL_PG_WIDTH_d


def pack_panels(const floating[:, :] b,  # IN  K x N, any strides (a transpose too)
                floating[::1] panels):   # OUT ceil(N / width) panels of K x width
    """B packed for panel_gemm: panel p holds columns [p * width, (p + 1) * width) as K rows
    of `width` contiguous values, the columns past N zero."""
    cdef Py_ssize_t width = CYL_PG_WIDTH_f if floating is float else CYL_PG_WIDTH_d
    cdef Py_ssize_t K = b.shape[0], N = b.shape[1]
    cdef Py_ssize_t count = (N + width - 1) // width, p, k, j, col
    if panels.shape[0] != count * K * width:
        raise ValueError(f"pack_panels: {panels.shape[0]} values for {count} panels of "
                         f"{K} x {width}")
    with nogil:
        for p in range(count):
            for k in range(K):
                for j in range(width):
                    col = p * width + j
                    panels[(p * K + k) * width + j] = b[k, col] if col < N else 0


def panel_gemm(const floating[:, ::1] a,  # IN  M x K
               const floating[::1] panels,  # IN  B (K x N) from pack_panels
               floating[:, :] c,            # OUT M x N, rows at any stride, columns unit
               int num_threads):
    """C = A B with B packed (include/cylayers/small_gemm.h.tp: the panel product); the panels
    are shared among the threads, each element summed in the same order on any count."""
    cdef Py_ssize_t width = CYL_PG_WIDTH_f if floating is float else CYL_PG_WIDTH_d
    cdef Py_ssize_t M = c.shape[0], N = c.shape[1], K = a.shape[1]
    cdef Py_ssize_t count = (N + width - 1) // width, p, cols
    if (a.shape[0] != M or panels.shape[0] != count * K * width
            or (N > 1 and c.strides[1] != sizeof(floating))):
        raise ValueError(f"panel_gemm: a ({a.shape[0]} x {K}), {panels.shape[0]} packed values "
                         f"and c ({M} x {N}, unit column stride) do not match")
    if M == 0 or N == 0:
        return
    if K == 0:
        c[:, :] = 0
        return
    if num_threads > count:
        num_threads = <int>count
    for p in prange(count, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        cols = N - p * width
        if cols > width:
            cols = width
        _pg_panel(&a[0, 0], a.strides[0] // sizeof(floating), M, K, &panels[p * K * width],
                  &c[0, p * width], c.strides[0] // sizeof(floating), cols)
