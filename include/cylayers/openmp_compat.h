/* Thread helpers that compile with or without OpenMP.
 *
 * Cython's prange already degrades to a serial loop when _OPENMP is undefined; these stubs let
 * the rest of the kernels ask about threads without sprinkling #ifdefs through the .pyx files. */
#ifndef CYLAYERS_OPENMP_COMPAT_H
#define CYLAYERS_OPENMP_COMPAT_H

#ifdef _OPENMP
#include <omp.h>
static inline int cyl_have_openmp(void) { return 1; }
static inline int cyl_omp_max_threads(void) { return omp_get_max_threads(); }
static inline void cyl_omp_set_num_threads(int n) { omp_set_num_threads(n); }
#else
static inline int cyl_have_openmp(void) { return 0; }
static inline int cyl_omp_max_threads(void) { return 1; }
static inline void cyl_omp_set_num_threads(int n) { (void)n; }
#endif

#endif
