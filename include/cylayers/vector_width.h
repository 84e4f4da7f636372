/* The vector registers this level of the kernels is compiled for, and the register blocks of
 * the register-tiled kernels (direct_conv.h, small_gemm.h) sized to them: a block's
 * accumulators plus the operands of one step must fit in the register file, or they spill. */
#ifndef CYLAYERS_VECTOR_WIDTH_H
#define CYLAYERS_VECTOR_WIDTH_H

#if defined(__AVX512F__)
#define CYL_VECTOR_BYTES 64
/* 32 registers: 8 rows x 2 vectors of accumulators, 2 operand loads, 1 broadcast */
#define CYL_BLOCK_ROWS 8
#elif defined(__AVX__)
#define CYL_VECTOR_BYTES 32
/* 16 registers: 6 rows x 2 vectors (12) + 2 loads + 1 broadcast (BLIS's 6x16 shape) */
#define CYL_BLOCK_ROWS 6
#else
#define CYL_VECTOR_BYTES 16
#define CYL_BLOCK_ROWS 6
#endif

static inline int cyl_vector_bytes(void) { return CYL_VECTOR_BYTES; }

#endif
