/* kernels.h — the numeric kernels of the forward pass. Each has a portable scalar reference
 * (kernels_scalar.c); SIMD variants (kernels_x86.c) are chosen at one seam, slm_kernels_select,
 * and tested against the reference. All matrices are row-major (rows, cols). */
#ifndef SLM_KERNELS_H
#define SLM_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* out[r] = dot(W[r, :], x) for r in [r0, r1).  W (rows, n), x (n), out (rows). */
typedef void (*slm_matvec_f32_fn)(float *out, const float *x, const float *w, int n, int r0, int r1);

/* Group-quantized matvec: W is int8 (rows, n) with one fp32 scale per `gs` consecutive values of
 * the flattened matrix, ws (rows*n/gs); x is int8 (n) with scales xs (n/gs); gs divides n.
 * out[r] = sum over groups g of (float)(int32 dot of the group) * ws[r*n/gs + g] * xs[g],
 * accumulated group by group in order. */
typedef void (*slm_matvec_q8_fn)(float *out, const int8_t *qx, const float *xs, const int8_t *w,
                                 const float *ws, int n, int gs, int r0, int r1);

/* One attention head for one query: scores[p] = scale * dot(q, k_p) for p < n, softmax, then
 * out = sum_p scores[p] * v_p. k_p = k + p*stride, v_p = v + p*stride; q, out (hd); scores (n). */
typedef void (*slm_attention_fn)(float *out, float *scores, const float *q, const float *k, const float *v,
                                 int stride, int n, int hd, float scale);

/* SwiGLU gate in place: gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)). (n) */
typedef void (*slm_swiglu_fn)(float *gate, const float *up, int n);
/* out = x / sqrt(mean(x^2) + eps) * w; out may alias x. (n) */
typedef void (*slm_rmsnorm_fn)(float *out, const float *x, const float *w, int n, float eps);

/* The same over 16-bit weights (F16 or BF16 by the table entry). W (rows, n) as uint16. */
typedef void (*slm_matvec_h_fn)(float *out, const float *x, const uint16_t *w, int n, int r0, int r1);

/* The 6x16 micro-kernel of the packed matrix product (gemm.c): c (mr <= 6, nr <= 16; row stride
 * ldc) = or += the product of an a-panel (6 values per k) and a b-panel (16 values per k) over kc. */
typedef void (*slm_gemm_micro_fn)(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int accumulate,
                                  int mr, int nr);

/* Row-block primitives of training attention, over n contiguous values of nrows rows R[i*stride + s]:
 *   rows_combine: out[s] = sum_i c[i] * R[i][s]
 *   rows_dot:     out[i] = sum_s x[s] * R[i][s]
 *   rows_rank1:   R[i][s] += c[i] * x[s]
 *   exp_sum:      x[s] = exp(x[s] - m), returns the sum */
typedef void (*slm_rows_combine_fn)(float *out, const float *c, const float *R, ptrdiff_t stride, int nrows, int n);
typedef void (*slm_rows_dot_fn)(float *out, const float *x, const float *R, ptrdiff_t stride, int nrows, int n);
typedef void (*slm_rows_rank1_fn)(float *R, ptrdiff_t stride, const float *c, const float *x, int nrows, int n);
typedef float (*slm_exp_sum_fn)(float *x, int n, float m);
/* Four rank-1 updates in order: for j = 0..3, R[i][s] += c[j][i] * x[j][s] (the same rounding as four
 * rows_rank1 calls over the same n). */
typedef void (*slm_rows_rank4_fn)(float *R, ptrdiff_t stride, const float *const c[4], const float *const x[4], int nrows,
                                  int n);

/* The same for four vectors at once (four queries of one head), each R value loaded once:
 *   rows_combine4: out[j][s] = sum_i c[j][i] * R[i][s]     (j < 4, s < n)
 *   rows_dot4:     out[j][i] = sum_s x[j][s] * R[i][s]     (j < 4, i < nrows) */
typedef void (*slm_rows_combine4_fn)(float *const out[4], const float *const c[4], const float *R, ptrdiff_t stride,
                                     int nrows, int n);
typedef void (*slm_rows_dot4_fn)(float *const out[4], const float *const x[4], const float *R, ptrdiff_t stride,
                                 int nrows, int n);

/* Softmax in place over x (n >= 1); and its backward: given p = softmax(z) and dz holding dL/dp,
 * dz[s] = p[s] * (dz[s] - sum_r p[r] dz[r]) * scale. */
typedef void (*slm_softmax_fn)(float *x, int n);
typedef void (*slm_softmax_back_fn)(float *dz, const float *p, int n, float scale);

/* Cross-entropy of one row of logits z (n) against `target`: returns log(sum exp z) - z[target]
 * (computed as log(sum exp(z - max)) - (z[target] - max)); when grad_scale != 0, z becomes its
 * gradient grad_scale * (softmax(z) - onehot(target)). */
typedef double (*slm_xent_row_fn)(float *z, int n, int target, float grad_scale);

/* Packing of the matrix product's operands from row-major storage (pure data movement, so every
 * variant gives identical bytes):
 *   gemm_pack_a6:  d[k*6 + i] = s[i*rs + k]    (6 rows, i < 6, k < kc)
 *   gemm_pack_b16: d[k*16 + c] = s[c*rs + k]   (16 rows of s become the 16 columns of a B panel) */
typedef void (*slm_gemm_pack_fn)(float *d, const float *s, ptrdiff_t rs, int kc);

/* One AdamW update of n values, PyTorch's order of float operations (so every variant gives
 * identical bytes): g = grad * grad_mul; p = p * decay; m = m * beta1 + g * omb1;
 * v = v * beta2 + omb2 * g * g; p = p + (-step_size * m) / (sqrt(v) / bc2_sqrt + eps). */
typedef struct slm_adamw_coef {
    float beta1, beta2, omb1, omb2; /* omb = 1 - beta */
    float grad_mul, decay, step_size, bc2_sqrt, eps;
} slm_adamw_coef;
typedef void (*slm_adamw_fn)(float *p, float *m, float *v, const float *grad, size_t n, const slm_adamw_coef *c);

/* SwiGLU backward over n values, given gate h1, up h3 and d = dL/d(silu(h1) * h3) in dh1:
 * sg = sigmoid(h1); dh3 = d * h1 * sg; dh1 = d * h3 * sg * (1 + h1 * (1 - sg)). */
typedef void (*slm_swiglu_back_fn)(float *dh1, float *dh3, const float *h1, const float *h3, int n);

/* Row `row` of a row-major (rows, n) weight of `dtype` (F32, F16, BF16 or a ggml block type; not the
 * llama2.c Q8 groups, whose scales live apart) as fp32 into out (n). Every variant gives the scalar
 * reference's bytes: each value is one product (plus, for Q4_1 and the K-quants, one sum), rounded
 * the same way. */
typedef void (*slm_dequant_row_fn)(int dtype, float *out, const void *w, int n, int64_t row);

/* Integer products of ggml block-type rows (every one slm runs) with int8 activations (see
 * slm_matvec_bq_scalar in quant.h for the exact order of operations every variant follows). */
typedef void (*slm_matvec_bq_fn)(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                                 const void *w, int n, int r0, int r1);

/* matvec_bq on a matrix of `rows` rows packed in groups of eight (slm_bq8_pack in quant.h): the same
 * bytes as matvec_bq on the row-major matrix, for any [r0, r1). */
typedef void (*slm_matvec_bq8_fn)(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                                  const void *w, int n, int rows, int r0, int r1);

/* Activations for matvec_bq: slm_quantize_x32 (quant.h); every variant gives its bytes. */
typedef void (*slm_quantize_x32_fn)(int8_t *q, float *d, int32_t *sum, const float *x, int n);

/* Attention over an f16 KV cache: as slm_attention_fn with k, v stored as IEEE half. */
typedef void (*slm_attention_h_fn)(float *out, float *scores, const float *q, const uint16_t *k, const uint16_t *v,
                                   int stride, int n, int hd, float scale);

/* The products of m tokens with the rows of the whole groups [g0, g1) of a matrix w (n columns)
 * packed in groups of eight: out[t * ldo + r] for t < m and 8 g0 <= r < 8 g1; token t's int8
 * activations at qx + t n, its block scales and sums at xd + t n / 32 and xsum + t n / 32. Each
 * value is the bytes matvec_bq8 gives for that token and row. */
typedef void (*slm_matmat_bq8_fn)(int dtype, float *out, ptrdiff_t ldo, const int8_t *qx, const float *xd,
                                  const int32_t *xsum, int m, const void *w, int n, int g0, int g1);

/* BF16 matrices in bf16 arithmetic (tables for CPUs with AVX512_BF16): out[t * ldo + r] for rows
 * [r0, r1) of w (n bf16 values per row) and tokens t < m, whose activations xb hold ldx bf16 values per
 * token (n rounded by bf16_round, then zeros up to a multiple of 32). Each value has the bytes the
 * table's matvec_bf16 gives for that token and row. */
typedef void (*slm_matmat_bf16_fn)(float *out, ptrdiff_t ldo, const uint16_t *xb, ptrdiff_t ldx, int m,
                                   const uint16_t *w, int n, int r0, int r1);
/* x (n) rounded to bf16 (slm_f32_to_bf16's bytes) into dst, zeros after it up to npad. */
typedef void (*slm_bf16_round_fn)(uint16_t *dst, const float *x, int n, int npad);

typedef struct slm_kernels {
    const char *name; /* "scalar", "avx2" */
    slm_matvec_f32_fn matvec_f32;
    slm_matvec_h_fn matvec_f16;
    slm_matvec_h_fn matvec_bf16;
    slm_matvec_q8_fn matvec_q8;
    slm_attention_fn attention;
    slm_swiglu_fn swiglu;
    slm_rmsnorm_fn rmsnorm;
    slm_gemm_micro_fn gemm_micro;
    slm_rows_combine_fn rows_combine;
    slm_rows_dot_fn rows_dot;
    slm_rows_rank1_fn rows_rank1;
    slm_exp_sum_fn exp_sum;
    slm_gemm_pack_fn gemm_pack_a6, gemm_pack_b16;
    slm_rows_rank4_fn rows_rank4;
    slm_adamw_fn adamw;
    slm_swiglu_back_fn swiglu_back;
    slm_rows_combine4_fn rows_combine4;
    slm_rows_dot4_fn rows_dot4;
    slm_softmax_fn softmax;
    slm_softmax_back_fn softmax_back;
    slm_xent_row_fn xent_row;
    slm_dequant_row_fn dequant_row;
    slm_matvec_bq_fn matvec_bq;
    slm_quantize_x32_fn quantize_x32;
    slm_attention_h_fn attention_f16;
    slm_matvec_bq8_fn matvec_bq8;
    unsigned pack_bq8; /* bit d (1 << dtype): this table's matvec_bq8 outruns matvec_bq for dtype d, so
                          loaders pack those matrices in groups of eight (SLM_BQ8_TYPES, quant.h) */
    /* Optional (NULL where the table has none): the micro-kernel over two 6-row a-panels at once (the
     * second at a + 6 * kc), mr from 7 to 12; each value the same chain as gemm_micro's. */
    slm_gemm_micro_fn gemm_micro12;
    /* Optional (NULL where the table has none): products of m tokens at once with the whole groups
     * [g0, g1) of a matrix packed in groups of eight, for the types in matmat_bq8_types. */
    slm_matmat_bq8_fn matmat_bq8;
    unsigned matmat_bq8_types;
    /* Optional (NULL where the table has none): BF16 matrices by bf16 activations, a batch at a time;
     * where set, the table's matvec_bf16 rounds its activations to bf16 the same way. */
    slm_matmat_bf16_fn matmat_bf16;
    slm_bf16_round_fn bf16_round;
} slm_kernels;

/* The scalar reference kernels. */
/* The AVX-512 kernels (kernels_avx512.c) and their table exist on x86-64 builds with SIMD; with
 * SLM_AVX512_SIMDE they are built on SIMDe's portable intrinsics and offered on any CPU (tests). */
#if !defined(SLM_NO_SIMD) && defined(__x86_64__) && \
    (defined(SLM_AVX512_SIMDE) || defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8))
#define SLM_AVX512_TABLE 1
void slm_matvec_bq8_avx512(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                           const void *w, int n, int rows, int r0, int r1);
void slm_matvec_f32_avx512(float *out, const float *x, const float *w, int n, int r0, int r1);
void slm_matvec_f32_short_avx512(float *out, const float *x, const float *w, int n, int r0, int r1); /* 1 <= n <= 256 */
/* attention (slm_attention_fn) for head sizes 8, 16, 32, 48, 64 and 128, over an fp32 or an f16 cache;
 * 0 (nothing done) for other sizes */
int slm_attention_avx512(float *out, float *scores, const float *q, const float *k, const float *v, int stride, int n,
                         int hd, float scale);
int slm_attention_f16_avx512(float *out, float *scores, const float *q, const uint16_t *k, const uint16_t *v, int stride,
                             int n, int hd, float scale);
void slm_gemm_micro_avx512(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int accumulate, int mr,
                           int nr);
void slm_matmat_bq8_avx512(int dtype, float *out, ptrdiff_t ldo, const int8_t *qx, const float *xd,
                           const int32_t *xsum, int m, const void *w, int n, int g0, int g1);
void slm_gemm_micro12_avx512(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int accumulate, int mr,
                             int nr);
void slm_bf16_round_avx512(uint16_t *dst, const float *x, int n, int npad);
void slm_matmat_bf16_avx512(float *out, ptrdiff_t ldo, const uint16_t *xb, ptrdiff_t ldx, int m, const uint16_t *w, int n,
                            int r0, int r1);
void slm_matvec_bf16_avx512(float *out, const float *x, const uint16_t *w, int n, int r0, int r1);
#endif

const slm_kernels *slm_kernels_scalar(void);
/* The NEON table on 64-bit ARM builds (NULL elsewhere, or with SLM_NO_SIMD). */
const slm_kernels *slm_kernels_neon(void);
/* The fastest kernels this CPU runs, or the scalar ones if use_simd is 0 (or SLM_NO_SIMD). */
const slm_kernels *slm_kernels_select(int use_simd);
/* All kernel tables available on this CPU, for tests: fills up to cap, returns the count. */
int slm_kernels_available(const slm_kernels **tables, int cap);
/* The table of that name if this CPU runs it, else NULL. */
const slm_kernels *slm_kernels_named(const char *name);

/* ---- small kernels (scalar; not hot enough to need SIMD twins yet) */

/* out = x / rms(x) * w.  out, x, w (n); out may alias x. */
void slm_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
/* The scalar SwiGLU reference. */
void slm_swiglu(float *gate, const float *up, int n);
/* In-place softmax over x (n). */
void slm_softmax(float *x, int n);
/* roundf(v) as int8, saturating to [-127, 127]; NaN gives 0 (a hostile file's weights may hold
 * NaN or Inf, and converting those to an integer is undefined behaviour). */
static inline int8_t slm_round_to_i8(float v) {
    if (!(v == v)) return 0;
    if (v >= 127.0f) return 127;
    if (v <= -127.0f) return -127;
    return (int8_t)roundf(v);
}
/* Quantizes x (n) in groups of gs: xs[g] = max|x|/127, q = round(x / xs[g]). */
void slm_quantize_q8(int8_t *q, float *xs, const float *x, int n, int gs);
/* Dequantizes one row of a group-quantized matrix: out (n) from w row `row` of (rows, n). */
void slm_dequantize_q8_row(float *out, const int8_t *w, const float *ws, int n, int gs, int row);
/* The scalar attention reference (see slm_attention_fn). */
void slm_attention_scalar(float *out, float *scores, const float *q, const float *k, const float *v, int stride,
                          int n, int hd, float scale);
/* float to IEEE half / bfloat16, rounding to nearest even (overflow to inf, NaN kept). */
uint16_t slm_f32_to_f16(float f);
uint16_t slm_f32_to_bf16(float f);
/* IEEE half and bfloat16 to float (exact). */
float slm_f16_to_f32(uint16_t h);
static inline float slm_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}
/* The scalar GEMM micro-kernel. */
void slm_gemm_micro_scalar(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int accumulate, int mr,
                           int nr);
/* The scalar packing functions. */
void slm_gemm_pack_a6_scalar(float *d, const float *s, ptrdiff_t rs, int kc);
void slm_gemm_pack_b16_scalar(float *d, const float *s, ptrdiff_t rs, int kc);
/* The scalar row-block primitives. */
void slm_rows_combine_scalar(float *out, const float *c, const float *R, ptrdiff_t stride, int nrows, int n);
void slm_rows_dot_scalar(float *out, const float *x, const float *R, ptrdiff_t stride, int nrows, int n);
void slm_rows_rank1_scalar(float *R, ptrdiff_t stride, const float *c, const float *x, int nrows, int n);
float slm_exp_sum_scalar(float *x, int n, float m);
void slm_rows_rank4_scalar(float *R, ptrdiff_t stride, const float *const c[4], const float *const x[4], int nrows, int n);
/* The scalar entries of the table (SIMD tables reuse those they have no twin for). */
void slm_matvec_f32_scalar(float *out, const float *x, const float *w, int n, int r0, int r1);
void slm_matvec_f16_scalar(float *out, const float *x, const uint16_t *w, int n, int r0, int r1);
void slm_matvec_bf16_scalar(float *out, const float *x, const uint16_t *w, int n, int r0, int r1);
void slm_matvec_q8_scalar(float *out, const int8_t *qx, const float *xs, const int8_t *w, const float *ws, int n, int gs,
                          int r0, int r1);
void slm_gemm_micro_scalar(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int accumulate, int mr, int nr);
void slm_rows_combine_scalar(float *out, const float *c, const float *R, ptrdiff_t stride, int nrows, int n);
void slm_rows_dot_scalar(float *out, const float *x, const float *R, ptrdiff_t stride, int nrows, int n);
void slm_rows_rank1_scalar(float *R, ptrdiff_t stride, const float *c, const float *x, int nrows, int n);
void slm_gemm_pack_a6_scalar(float *d, const float *s, ptrdiff_t rs, int kc);
void slm_gemm_pack_b16_scalar(float *d, const float *s, ptrdiff_t rs, int kc);
void slm_attention_scalar(float *out, float *scores, const float *q, const float *k, const float *v, int stride, int n,
                          int hd, float scale);
void slm_adamw_scalar(float *p, float *m, float *v, const float *grad, size_t n, const slm_adamw_coef *c);
void slm_swiglu_back_scalar(float *dh1, float *dh3, const float *h1, const float *h3, int n);
void slm_rows_combine4_scalar(float *const out[4], const float *const c[4], const float *R, ptrdiff_t stride, int nrows, int n);
double slm_xent_row_scalar(float *z, int n, int target, float grad_scale);
void slm_softmax_back_scalar(float *dz, const float *p, int n, float scale);
void slm_rows_dot4_scalar(float *const out[4], const float *const x[4], const float *R, ptrdiff_t stride, int nrows, int n);
void slm_attention_f16_scalar(float *out, float *scores, const float *q, const uint16_t *k, const uint16_t *v,
                              int stride, int n, int hd, float scale);
void slm_dequant_row_scalar(int dtype, float *out, const void *w, int n, int64_t row);
/* Scalar dot product of two float vectors (n). */
float slm_dot_f32(const float *a, const float *b, int n);

#endif
