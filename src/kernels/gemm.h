/* gemm.h — general matrix products for training and batched work:
 *   C (M, N) = A (M, K) · B (K, N)        or, with accumulate, C += A · B
 * with A and B given by strides (element (i, k) of A at A[i*rsa + k*csa]), so transposed operands
 * cost nothing. Panels of A (6 rows) and B (16 columns) are packed into per-thread buffers and
 * multiplied by a 6x16 micro-kernel: the scalar reference or its AVX2+FMA twin (slm_kernels).
 * C is cut into tasks (row x column ranges) that threads take in turn; each element is summed over
 * K in the same blocks and order whatever task holds it, so the result never depends on the
 * thread count. */
#ifndef SLM_GEMM_H
#define SLM_GEMM_H

#include <stddef.h>

#include "../core/core.h"
#include "kernels.h"

enum { SLM_GEMM_MR = 6, SLM_GEMM_NR = 16, SLM_GEMM_MA = 768, SLM_GEMM_NC = 256, SLM_GEMM_KC = 256 };

/* Floats of packing space each thread needs. */
#define SLM_GEMM_SCRATCH ((size_t)SLM_GEMM_MA * SLM_GEMM_KC + (size_t)SLM_GEMM_KC * SLM_GEMM_NC)

typedef struct slm_gemm_ctx {
    const slm_kernels *kernels;
    slm_pool *pool;   /* NULL: one thread */
    int n_threads;
    float *scratch;   /* (n_threads * SLM_GEMM_SCRATCH), 32-byte aligned */
} slm_gemm_ctx;

void slm_gemm(const slm_gemm_ctx *g, int M, int N, int K, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
              const float *B, ptrdiff_t rsb, ptrdiff_t csb, float *C, ptrdiff_t ldc, int accumulate);

/* A B operand used by several products (a weight in every row chunk) can be packed once:
 * slm_gemm_pack_b writes B (K, N), given by strides as above, into dst of
 * slm_gemm_packed_floats(N, K) floats (32-byte aligned), and slm_gemm_packed multiplies with it.
 * The result is bit-identical to slm_gemm on the unpacked B. */
size_t slm_gemm_packed_floats(int N, int K);
void slm_gemm_pack_b(const slm_gemm_ctx *g, float *dst, int N, int K, const float *B, ptrdiff_t rsb, ptrdiff_t csb);
void slm_gemm_packed(const slm_gemm_ctx *g, int M, int N, int K, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                     const float *Bp, float *C, ptrdiff_t ldc, int accumulate);

/* Products with a weight matrix W (N, K) of any storage type: C (M, N) = A (M, K) · W^T, A row-major
 * with row stride lda, C with row stride ldc. W is either fp32 row-major (W != NULL) or fetched one
 * row at a time as fp32 by fetch(w, row, out[K]). A is packed once; threads then take 16-row strips
 * of W, fetch and pack each strip once and multiply it by every 6-row panel of A (so a quantized
 * weight is expanded once per call, whatever M is). Every element is summed over K in the same
 * blocks and order whatever thread computes it. scratch: slm_gemm_wt_scratch_floats(M, K,
 * g->n_threads) floats, 32-byte aligned. */
typedef void (*slm_gemm_fetch_fn)(const void *w, int row, float *out);
size_t slm_gemm_wt_scratch_floats(int M, int K, int n_threads);
void slm_gemm_wt(const slm_gemm_ctx *g, float *scratch, int M, int N, int K, const float *A, ptrdiff_t lda,
                 const float *W, slm_gemm_fetch_fn fetch, const void *w, float *C, ptrdiff_t ldc);
/* The same for up to three weights sharing A (Q, K, V; gate and up): A is packed once, and the
 * threads take the strips of all products from one counter. */
typedef struct slm_gemm_wt_out {
    int N;                   /* rows of W: columns of C */
    const float *W;          /* fp32 row-major, or NULL: rows come from fetch(w, row, out) */
    slm_gemm_fetch_fn fetch;
    const void *w;
    float *C;
    ptrdiff_t ldc;
} slm_gemm_wt_out;
void slm_gemm_wt_n(const slm_gemm_ctx *g, float *scratch, int M, int K, const float *A, ptrdiff_t lda, int count,
                   const slm_gemm_wt_out *outs);

#endif
