"""The running CPU's instruction-set levels, for cylayers._kernels to choose the kernels it
loads. Built with the compiler's defaults (no level flags), so it runs on any CPU."""

cdef extern from "cylayers/cpu_features.h" nogil:
    int CYL_CPU_PROBES
    int cyl_cpu_has_avx2()
    int cyl_cpu_has_avx512()


def supported_levels():
    """The kernel levels this CPU can run, lowest first: always 'baseline'; 'avx2' (AVX2, FMA,
    BMI1/2) and 'avx512' (F, CD, VL, BW, DQ) where the CPU and the OS support them."""
    levels = ["baseline"]
    if cyl_cpu_has_avx2():
        levels.append("avx2")
        if cyl_cpu_has_avx512():
            levels.append("avx512")
    return tuple(levels)


def can_probe():
    """False where this compiler or architecture has no CPU probe (only 'baseline' is used)."""
    return CYL_CPU_PROBES != 0
