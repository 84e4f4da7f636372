/* What the running CPU (and its operating system) supports, for choosing a kernel level at
 * import. Each probe asks for every feature its level's compiler flags name (CMakeLists.txt:
 * CYLAYERS_LEVEL_FLAGS_*). GCC's and Clang's __builtin_cpu_supports read CPUID and check that
 * the OS saves the wide registers (XGETBV), so a level is never chosen where it would fault. */
#ifndef CYLAYERS_CPU_FEATURES_H
#define CYLAYERS_CPU_FEATURES_H

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define CYL_CPU_PROBES 1
static inline int cyl_cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
           __builtin_cpu_supports("bmi2");
}
static inline int cyl_cpu_has_avx512(void) {
    __builtin_cpu_init();
    return cyl_cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
}
#else
#define CYL_CPU_PROBES 0
static inline int cyl_cpu_has_avx2(void) { return 0; }
static inline int cyl_cpu_has_avx512(void) { return 0; }
#endif

#endif
