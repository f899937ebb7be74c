/* kernels_avx512.c — AVX-512 kernels (F, BW, VL and VNNI) for the products that decide decode
 * and prompt speed: the integer products of packed Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 / IQ4_NL rows (vpdpbusd: one
 * instruction for the multiply-adds that AVX2 does with maddubs, madd and add), the fp32
 * matrix-vector product and the micro-kernel of the matrix-matrix product (16 lanes).
 * kernels_x86.c builds the "avx512" table from these and the AVX2 kernels for every other op, and
 * selects it when the CPU has all four extensions.
 *
 * No machine here has AVX-512, so the tests run this same source compiled against SIMDe's portable
 * definitions of the intrinsics (libsimde-dev; -DSLM_AVX512_SIMDE, `make avx512-emu-test`): the
 * kernels' logic is checked against the scalar twins on any x86-64 CPU; the native build compiles
 * the same lines to the real instructions. */
#include <string.h>

#include "kernels.h"
#include "quant.h"

#if defined(SLM_AVX512_TABLE) && defined(SLM_AVX512_SIMDE)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#define T512
#elif defined(SLM_AVX512_TABLE)
#include <immintrin.h>
#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#endif

#ifdef SLM_AVX512_TABLE

/* Emulated, each SIMDe intrinsic is a loop over lanes: the term stays one out-of-line function
 * there, or gcc spends minutes on the walk's unrolled copies of it. */
#ifdef SLM_AVX512_SIMDE
#define TERM_INLINE __attribute__((noinline))
#else
#define TERM_INLINE inline __attribute__((always_inline))
#endif

/* One 32-bit value of p (four int8 activations) in all eight lanes. */
T512 static inline __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* The eight rows' terms of one group block (see bq8_term in kernels_x86.c for the layout
 * and the order of the float steps, which this follows exactly). vpdpbusd multiplies unsigned by
 * signed bytes and adds each four products to a 32-bit lane: the nibbles (0..15) go in as they
 * are; Q8_0 quants go in as |q| with the activation given q's sign (|q| <= 128 fits a byte,
 * |x| <= 127 keeps its negation). The block's eight vpdpbusd go to four accumulators, two each,
 * summed at the end (integer sums: any order gives the same bits): one chain of eight, at five
 * cycles each, ran slower than AVX2's maddubs on a Xeon with AVX-512 (measured, Q4_0 -14%). */
T512 static TERM_INLINE __m256 bq8_term_vnni(int dtype, const uint8_t *p, const int8_t *x,
                                                                        float xd, int32_t xsum) {
    __m256 d = _mm256_set1_ps(xd);
    __m256 s = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)), d);
    __m256i a0, a1, a2, a3, dots;
    if (dtype == SLM_DTYPE_Q8_0) {
        const uint8_t *q = p + 16;
#define Q8_PAIR(acc, c)                                                                                        \
    do {                                                                                                       \
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(q + 32 * (c)));                                      \
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(q + 32 * ((c) + 4)));                                \
        acc = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(v0), _mm256_sign_epi8(bcast4(x + 4 * (c)), v0)); \
        acc = _mm256_dpbusd_epi32(acc, _mm256_abs_epi8(v1), _mm256_sign_epi8(bcast4(x + 4 * ((c) + 4)), v1));  \
    } while (0)
        Q8_PAIR(a0, 0);
        Q8_PAIR(a1, 1);
        Q8_PAIR(a2, 2);
        Q8_PAIR(a3, 3);
#undef Q8_PAIR
        dots = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
        return _mm256_mul_ps(s, _mm256_cvtepi32_ps(dots));
    }
    const __m256i m15 = _mm256_set1_epi8(15);
    if (dtype == SLM_DTYPE_IQ4_NL) { /* the table's levels as signed weights, taken as Q8_0's */
        const uint8_t *q = p + 16;
        const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)SLM_IQ4NL));
#define NL_PAIR(acc, c)                                                                                           \
    do {                                                                                                          \
        __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * (c)));                                          \
        __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, m15));                                          \
        __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), m15));                    \
        acc = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(lo), _mm256_sign_epi8(bcast4(x + 4 * (c)), lo)); \
        acc = _mm256_dpbusd_epi32(acc, _mm256_abs_epi8(hi), _mm256_sign_epi8(bcast4(x + 16 + 4 * (c)), hi));      \
    } while (0)
        NL_PAIR(a0, 0);
        NL_PAIR(a1, 1);
        NL_PAIR(a2, 2);
        NL_PAIR(a3, 3);
#undef NL_PAIR
        dots = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
        return _mm256_mul_ps(s, _mm256_cvtepi32_ps(dots));
    }
    if (dtype == SLM_DTYPE_Q5_0 || dtype == SLM_DTYPE_Q5_1) { /* the values as kernels_x86.c's bq8_term takes them */
        int q51 = dtype == SLM_DTYPE_Q5_1;
        const uint8_t *q = p + (q51 ? 64 : 48);
        const __m256i m31 = _mm256_set1_epi8(31), m28 = _mm256_set1_epi8(28), m3 = _mm256_set1_epi8(3);
        __m256i low2 = _mm256_loadu_si256((const __m256i *)(q - 32));
        /* hi: bits 2-4 from v >> 3 (mask m28), bits 0-1 from the chunk's low bits: (a & c) | b */
#define Q5_PAIR(acc, c)                                                                                             \
    do {                                                                                                            \
        __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * (c)));                                            \
        __m256i l2 = _mm256_and_si256((c) ? _mm256_srli_epi16(low2, 2 * (c)) : low2, m3);                           \
        __m256i hi = _mm256_ternarylogic_epi32(_mm256_srli_epi16(v, 3), l2, m28, 0xEC);                              \
        acc = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_and_si256(v, m31), bcast4(x + 4 * (c)));          \
        acc = _mm256_dpbusd_epi32(acc, hi, bcast4(x + 16 + 4 * (c)));                                               \
    } while (0)
        Q5_PAIR(a0, 0);
        Q5_PAIR(a1, 1);
        Q5_PAIR(a2, 2);
        Q5_PAIR(a3, 3);
#undef Q5_PAIR
        dots = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
        if (!q51) return _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_sub_epi32(dots, _mm256_set1_epi32(16 * xsum))));
        __m256 mn = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16))), d);
        return _mm256_add_ps(_mm256_mul_ps(s, _mm256_cvtepi32_ps(dots)), _mm256_mul_ps(mn, _mm256_cvtepi32_ps(_mm256_set1_epi32(xsum))));
    }
    const uint8_t *q = p + (dtype == SLM_DTYPE_Q4_1 ? 32 : 16);
#define Q4_PAIR(acc, c)                                                                                  \
    do {                                                                                                 \
        __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * (c)));                                 \
        acc = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_and_si256(v, m15), bcast4(x + 4 * (c))); \
        acc = _mm256_dpbusd_epi32(acc, _mm256_and_si256(_mm256_srli_epi16(v, 4), m15), bcast4(x + 16 + 4 * (c))); \
    } while (0)
    Q4_PAIR(a0, 0);
    Q4_PAIR(a1, 1);
    Q4_PAIR(a2, 2);
    Q4_PAIR(a3, 3);
#undef Q4_PAIR
    dots = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
    if (dtype == SLM_DTYPE_Q4_0) return _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_sub_epi32(dots, _mm256_set1_epi32(8 * xsum))));
    __m256 mn = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16))), d);
    return _mm256_add_ps(_mm256_mul_ps(s, _mm256_cvtepi32_ps(dots)), _mm256_mul_ps(mn, _mm256_cvtepi32_ps(_mm256_set1_epi32(xsum))));
}

#define BQ8_ATTR T512
#define BQ8_TERM bq8_term_vnni
#define BQ8_TAIL slm_matvec_bq_scalar /* at most seven rows: the reference itself */
#include "bq8_body.h"

T512 void slm_matvec_bq8_avx512(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                                const void *w, int n, int rows, int r0, int r1) {
    if (dtype == SLM_DTYPE_Q8_0) bq8_walk(SLM_DTYPE_Q8_0, out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_Q4_0) bq8_walk(SLM_DTYPE_Q4_0, out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_0) bq8_walk(SLM_DTYPE_Q5_0, out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_1) bq8_walk(SLM_DTYPE_Q5_1, out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_IQ4_NL) bq8_walk(SLM_DTYPE_IQ4_NL, out, qx, xd, xsum, w, n, rows, r0, r1);
    else bq8_walk(SLM_DTYPE_Q4_1, out, qx, xd, xsum, w, n, rows, r0, r1);
}

/* fp32 rows one at a time (one read stream per row), four 16-lane accumulators; the last n % 16
 * values go through zero-padded copies. The table uses it for rows of 256 values or more (see
 * matvec_f32_avx512_table in kernels_x86.c). */
T512 void slm_matvec_f32_avx512(float *out, const float *x, const float *w, int n, int r0, int r1) {
    int n64 = n & ~63, nv = n & ~15, nt = n - nv;
    float xt[16] = {0}, wt[16] = {0};
    memcpy(xt, x + nv, sizeof(float) * (size_t)nt);
    for (int r = r0; r < r1; r++) {
        const float *wr = w + (size_t)r * n;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int j = 0;
        for (; j < n64; j += 64) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + j), _mm512_loadu_ps(x + j), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + j + 16), _mm512_loadu_ps(x + j + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + j + 32), _mm512_loadu_ps(x + j + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + j + 48), _mm512_loadu_ps(x + j + 48), a3);
        }
        for (; j < nv; j += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + j), _mm512_loadu_ps(x + j), a0);
        if (nt) {
            memcpy(wt, wr + nv, sizeof(float) * (size_t)nt);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(wt), _mm512_loadu_ps(xt), a1);
        }
        __m512 a = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
        __m256 h = _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
        __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        q = _mm_add_ps(q, _mm_movehl_ps(q, q));
        out[r] = _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
    }
}

/* The 6x16 micro-kernel of the packed matrix product (gemm.c) with one 16-lane accumulator per row
 * of C: each value of C is the same chain of fused multiply-adds over k as in the AVX2 kernel
 * (which holds a row in two 8-lane halves), so both give the same bytes; half the instructions. */
T512 void slm_gemm_micro_avx512(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int accumulate, int mr,
                                int nr) {
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    for (int k = 0; k < kc; k++, a += 6, b += 16) {
        __m512 bk = _mm512_loadu_ps(b);
        c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[0]), bk, c0);
        c1 = _mm512_fmadd_ps(_mm512_set1_ps(a[1]), bk, c1);
        c2 = _mm512_fmadd_ps(_mm512_set1_ps(a[2]), bk, c2);
        c3 = _mm512_fmadd_ps(_mm512_set1_ps(a[3]), bk, c3);
        c4 = _mm512_fmadd_ps(_mm512_set1_ps(a[4]), bk, c4);
        c5 = _mm512_fmadd_ps(_mm512_set1_ps(a[5]), bk, c5);
    }
    __m512 r[6] = {c0, c1, c2, c3, c4, c5};
    if (nr == 16) {
        for (int i = 0; i < mr; i++) {
            float *ci = c + i * ldc;
            _mm512_storeu_ps(ci, accumulate ? _mm512_add_ps(_mm512_loadu_ps(ci), r[i]) : r[i]);
        }
        return;
    }
    float t[16];
    for (int i = 0; i < mr; i++) {
        _mm512_storeu_ps(t, r[i]);
        for (int j = 0; j < nr; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + t[j] : t[j];
    }
}

/* The 12x16 micro-kernel: two 6-row a-panels (the second at a + 6 * kc, as gemm.c packs them) against
 * one b-panel, 12 accumulators. The 6-row kernel's six chains of 4-cycle multiply-adds keep at most
 * six of the eight in flight that two FMA ports need; twelve keep them all busy, and each b load
 * serves twelve products. Each value of C is still one chain of multiply-adds over k from zero, so
 * the bytes are the 6-row kernel's. mr from 7 to 12. */
T512 void slm_gemm_micro12_avx512(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int accumulate,
                                  int mr, int nr) {
    const float *a2 = a + (size_t)6 * (size_t)kc;
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m512 c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    for (int k = 0; k < kc; k++, a += 6, a2 += 6, b += 16) {
        __m512 bk = _mm512_loadu_ps(b);
        c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[0]), bk, c0);
        c1 = _mm512_fmadd_ps(_mm512_set1_ps(a[1]), bk, c1);
        c2 = _mm512_fmadd_ps(_mm512_set1_ps(a[2]), bk, c2);
        c3 = _mm512_fmadd_ps(_mm512_set1_ps(a[3]), bk, c3);
        c4 = _mm512_fmadd_ps(_mm512_set1_ps(a[4]), bk, c4);
        c5 = _mm512_fmadd_ps(_mm512_set1_ps(a[5]), bk, c5);
        c6 = _mm512_fmadd_ps(_mm512_set1_ps(a2[0]), bk, c6);
        c7 = _mm512_fmadd_ps(_mm512_set1_ps(a2[1]), bk, c7);
        c8 = _mm512_fmadd_ps(_mm512_set1_ps(a2[2]), bk, c8);
        c9 = _mm512_fmadd_ps(_mm512_set1_ps(a2[3]), bk, c9);
        c10 = _mm512_fmadd_ps(_mm512_set1_ps(a2[4]), bk, c10);
        c11 = _mm512_fmadd_ps(_mm512_set1_ps(a2[5]), bk, c11);
    }
    __m512 r[12] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
    if (nr == 16) {
        for (int i = 0; i < mr; i++) {
            float *ci = c + i * ldc;
            _mm512_storeu_ps(ci, accumulate ? _mm512_add_ps(_mm512_loadu_ps(ci), r[i]) : r[i]);
        }
        return;
    }
    float t[16];
    for (int i = 0; i < mr; i++) {
        _mm512_storeu_ps(t, r[i]);
        for (int j = 0; j < nr; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + t[j] : t[j];
    }
}

#else
typedef int slm_no_avx512; /* (an empty translation unit is not C) */
#endif
