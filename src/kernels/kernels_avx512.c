/* kernels_avx512.c — AVX-512 kernels (F, BW, VL and VNNI) for the products that decide decode
 * and prompt speed: the integer products of packed Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 / IQ4_NL rows (vpdpbusd: one
 * instruction for the multiply-adds that AVX2 does with maddubs, madd and add), the same for a
 * batch of tokens (prompts: the same types, and packed Q4_K / Q5_K / Q6_K rows), the fp32
 * matrix-vector product and the micro-kernels of the matrix-matrix product (16 lanes; 6 and 12
 * rows).
 * kernels_x86.c builds the "avx512" table from these and the AVX2 kernels for every other op, and
 * selects it when the CPU has all four extensions.
 *
 * On CPUs without AVX-512 the tests run this same source compiled against SIMDe's portable
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
#define T512BF T512
#elif defined(SLM_AVX512_TABLE)
#include <immintrin.h>
#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define T512BF __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512bf16,avx2,fma,f16c")))
#endif

#ifdef SLM_AVX512_TABLE

/* Emulated, each SIMDe intrinsic is a loop over lanes: the terms (bq8_term_vnni, mm_tile) stay
 * out-of-line functions there, or gcc spends minutes (mm_tile inlined for six types: over 18) on
 * the walks' unrolled copies of them. */
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

/* ---------------------------------------------------------------- a batch of tokens at once */

/* 32 bytes at p0 and 32 at p1 as one vector (two groups' chunks side by side: sixteen rows). */
T512 static inline __m512i load_pair(const uint8_t *p0, const uint8_t *p1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p0)),
                              _mm256_loadu_si256((const __m256i *)p1), 1);
}

/* Eight f16 values at p0 and eight at p1 as sixteen floats (two F16C conversions: SIMDe has no
 * 16-lane one). */
T512 static inline __m512 half_pair(const uint8_t *p0, const uint8_t *p1) {
    __m512 lo = _mm512_castps256_ps512(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p0)));
    __m256 hi = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p1));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(lo), _mm256_castps_pd(hi), 1));
}

/* Sixteen int32 to float (SIMDe has no 16-lane conversion: two 8-lane ones, the same roundings). */
T512 static inline __m512 cvt_i32x16(__m512i v) {
#ifdef SLM_AVX512_SIMDE
    __m512 lo = _mm512_castps256_ps512(_mm256_cvtepi32_ps(_mm512_castsi512_si256(v)));
    __m256 hi = _mm256_cvtepi32_ps(_mm512_extracti64x4_epi64(v, 1));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(lo), _mm256_castps_pd(hi), 1));
#else
    return _mm512_cvtepi32_ps(v);
#endif
}

T512 static inline __m512i bcast4_512(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

enum { MM_T = 4 }; /* tokens per tile */

/* Sixteen rows (the groups at p0 and p1) against T <= MM_T tokens (the last nt - 1 repeat when
 * fewer are valid): token t's results for the first group's eight rows at out0 + t ldo, for the
 * second's at out1 + t ldo. T = 1 is the decode product of two groups in one vector. The weights of a block are unpacked once
 * for all the tile's tokens; each token's terms are bq8_term_vnni's, step for step, in the same four
 * accumulators (block b into b % 4), so each result is the bytes of the decode product. Chunk j
 * (0-7) of the unpacked block meets activations 4j..4j+3: Q4_0 / Q4_1 low nibbles are chunks 0-3 and
 * high ones 4-7 (values 16 + 4c..; Q5_0 / Q5_1 likewise, their values unpacked as bq8_term_vnni
 * does); Q8_0 quants and IQ4_NL's levels go in as unsigned q + 128 (vpdpbusd takes its unsigned
 * bytes from the weights, and the broadcast activations stay signed), and 128 times the block's
 * activation sum comes off the integer dot, as 8 times it does for Q4_0 and 16 times for Q5_0. */
T512 static TERM_INLINE void mm_tile(int dtype, int T, float *out0, float *out1, ptrdiff_t ldo,
                                                                const int8_t *qx, const float *xd, const int32_t *xsum,
                                                                int n, int nt, const uint8_t *p0, const uint8_t *p1) {
    const int nb = n / 32, span = 8 * slm_bq8_block_bytes(dtype);
    const int8_t *x[MM_T];
    const float *d[MM_T];
    const int32_t *sm[MM_T];
    for (int t = 0; t < T; t++) {
        int tt = t < nt ? t : nt - 1;
        x[t] = qx + (size_t)tt * (size_t)n, d[t] = xd + (size_t)tt * (size_t)nb, sm[t] = xsum + (size_t)tt * (size_t)nb;
    }
    __m512 acc[MM_T][4];
    for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = _mm512_setzero_ps();
    const __m512i m15 = _mm512_set1_epi8(15), top = _mm512_set1_epi8((char)0x80);
    const __m512i m31 = _mm512_set1_epi8(31), m28 = _mm512_set1_epi8(28), m3 = _mm512_set1_epi8(3);
    /* IQ4_NL's levels + 128 (the sign bit flipped): unsigned bytes for vpdpbusd, the 128 taken off
     * with the activation sum */
    __m512i lut = top;
    if (dtype == SLM_DTYPE_IQ4_NL) lut = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)SLM_IQ4NL)), top);
    const int has_min = dtype == SLM_DTYPE_Q4_1 || dtype == SLM_DTYPE_Q5_1;
    const int off = dtype == SLM_DTYPE_Q8_0 || dtype == SLM_DTYPE_IQ4_NL ? 128 : dtype == SLM_DTYPE_Q5_0 ? 16 : 8;
    for (int b0 = 0; b0 < nb; b0 += 4)
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            int b = b0 + k;
            if (b >= nb) break;
            const uint8_t *q0 = p0 + (size_t)b * span, *q1 = p1 + (size_t)b * span;
            __m512 dw = half_pair(q0, q1), mw = _mm512_setzero_ps();
            __m512i w[8];
            if (dtype == SLM_DTYPE_Q8_0) {
#pragma GCC unroll 8
                for (int c = 0; c < 8; c++) w[c] = _mm512_xor_si512(load_pair(q0 + 16 + 32 * c, q1 + 16 + 32 * c), top);
            } else if (dtype == SLM_DTYPE_Q5_0 || dtype == SLM_DTYPE_Q5_1) { /* see bq8_term_vnni */
                int qo = dtype == SLM_DTYPE_Q5_1 ? 64 : 48;
                if (dtype == SLM_DTYPE_Q5_1) mw = half_pair(q0 + 16, q1 + 16);
                __m512i low2 = load_pair(q0 + qo - 32, q1 + qo - 32);
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) {
                    __m512i v = load_pair(q0 + qo + 32 * c, q1 + qo + 32 * c);
                    __m512i l2 = _mm512_and_si512(c ? _mm512_srli_epi16(low2, 2 * c) : low2, m3);
                    w[c] = _mm512_and_si512(v, m31);
                    w[4 + c] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(v, 3), l2, m28, 0xEC);
                }
            } else if (dtype == SLM_DTYPE_IQ4_NL) {
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) {
                    __m512i v = load_pair(q0 + 16 + 32 * c, q1 + 16 + 32 * c);
                    w[c] = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, m15));
                    w[4 + c] = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), m15));
                }
            } else {
                int qo = dtype == SLM_DTYPE_Q4_1 ? 32 : 16;
                if (dtype == SLM_DTYPE_Q4_1) mw = half_pair(q0 + 16, q1 + 16);
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) {
                    __m512i v = load_pair(q0 + qo + 32 * c, q1 + qo + 32 * c);
                    w[c] = _mm512_and_si512(v, m15);
                    w[4 + c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m15);
                }
            }
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) {
                const int8_t *xb = x[t] + 32 * b;
                /* the offset's integer term starts the first chain (integer sums: the same bits in any order) */
                __m512i start = has_min ? _mm512_setzero_si512() : _mm512_set1_epi32(-off * sm[t][b]);
                __m512i i0 = _mm512_dpbusd_epi32(start, w[0], bcast4_512(xb));
                __m512i i1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[4], bcast4_512(xb + 16));
                i0 = _mm512_dpbusd_epi32(i0, w[1], bcast4_512(xb + 4));
                i1 = _mm512_dpbusd_epi32(i1, w[5], bcast4_512(xb + 20));
                i0 = _mm512_dpbusd_epi32(i0, w[2], bcast4_512(xb + 8));
                i1 = _mm512_dpbusd_epi32(i1, w[6], bcast4_512(xb + 24));
                i0 = _mm512_dpbusd_epi32(i0, w[3], bcast4_512(xb + 12));
                i1 = _mm512_dpbusd_epi32(i1, w[7], bcast4_512(xb + 28));
                __m512i dots = _mm512_add_epi32(i0, i1);
                __m512 xdv = _mm512_set1_ps(d[t][b]), term;
                if (has_min)
                    term = _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(dw, xdv), cvt_i32x16(dots)),
                                         _mm512_mul_ps(_mm512_mul_ps(mw, xdv), cvt_i32x16(_mm512_set1_epi32(sm[t][b]))));
                else
                    term = _mm512_mul_ps(_mm512_mul_ps(dw, xdv), cvt_i32x16(dots));
                acc[t][k] = _mm512_add_ps(acc[t][k], term);
            }
        }
    for (int t = 0; t < nt; t++) {
        __m512 r = _mm512_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]), _mm512_add_ps(acc[t][2], acc[t][3]));
        if (out1 == out0 + 8) {
            _mm512_storeu_ps(out0 + (ptrdiff_t)t * ldo, r);
        } else {
            _mm256_storeu_ps(out0 + (ptrdiff_t)t * ldo, _mm512_castps512_ps256(r));
            _mm256_storeu_ps(out1 + (ptrdiff_t)t * ldo, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(r), 1)));
        }
    }
}

/* Decode's two groups side by side (bq8_body.h's BQ8_PAIR) in one 16-lane pass: every 32-value
 * block type. */
#define BQ8_PAIR(dtype, out0, out1, p0, p1, n, qx, xd, xsum) mm_tile(dtype, 1, out0, out1, 0, qx, xd, xsum, n, 1, p0, p1)


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

T512 static inline __attribute__((always_inline)) void matmat_bq8_type(int dtype, float *out, ptrdiff_t ldo, const int8_t *qx, const float *xd,
                                 const int32_t *xsum, int m, const void *w, int n, int g0, int g1) {
    const uint8_t *wb = w;
    size_t gsz = (size_t)(n / 32) * 8 * (size_t)slm_bq8_block_bytes(dtype), nb = (size_t)(n / 32);
    int g = g0;
    for (; g + 2 <= g1; g += 2)
        for (int t = 0; t < m; t += MM_T)
            mm_tile(dtype, MM_T, out + (ptrdiff_t)t * ldo + 8 * g, out + (ptrdiff_t)t * ldo + 8 * g + 8, ldo,
                    qx + (size_t)t * (size_t)n, xd + (size_t)t * nb,
                    xsum + (size_t)t * nb, n, m - t < MM_T ? m - t : MM_T, wb + (size_t)g * gsz, wb + (size_t)(g + 1) * gsz);
    if (g < g1) /* an odd last group: the decode kernel, token by token */
        for (int t = 0; t < m; t++)
            bq8_walk(dtype, out + (ptrdiff_t)t * ldo, qx + (size_t)t * (size_t)n, xd + (size_t)t * nb,
                     xsum + (size_t)t * nb, w, n, 8 * g1, 8 * g, 8 * g1);
}

/* ---------------------------------------------------------------- K-quant batches */

/* Bytes 8i .. 8i + 7 of each 256-bit half of v (the first group's eight rows, then the second's) as
 * sixteen floats: the 16-lane form of kernels_x86.c's q4k_lane_bytes. */
T512 static inline __m512 kq_lane_bytes(__m512i v, int i) {
    __m256i lo = _mm512_castsi512_si256(v), hi = _mm512_extracti64x4_epi64(v, 1);
    __m128i a = i < 2 ? _mm256_castsi256_si128(lo) : _mm256_extracti128_si256(lo, 1);
    __m128i b = i < 2 ? _mm256_castsi256_si128(hi) : _mm256_extracti128_si256(hi, 1);
    if (i & 1) a = _mm_unpackhi_epi64(a, a), b = _mm_unpackhi_epi64(b, b);
    /* two 8-lane widenings (SIMDe has no 16-lane one) */
    return cvt_i32x16(_mm512_inserti64x4(_mm512_castsi256_si512(_mm256_cvtepu8_epi32(a)), _mm256_cvtepu8_epi32(b), 1));
}

/* Eight int8 at p0 and eight at p1 as sixteen int32. */
T512 static inline __m512i kq_i8_pair(const uint8_t *p0, const uint8_t *p1) {
    __m128i a, b;
    memset(&a, 0, sizeof a), memset(&b, 0, sizeof b);
    memcpy(&a, p0, 8), memcpy(&b, p1, 8);
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_cvtepi8_epi32(a)), _mm256_cvtepi8_epi32(b), 1);
}

/* Bit 4 of each byte from bit 4 - s of the plane (kernels_x86.c's q5_fifth in 64 lanes). */
T512 static inline __m512i kq_fifth(__m512i plane, int s) {
    __m512i v = s > 0 ? _mm512_slli_epi16(plane, (unsigned)s) : s < 0 ? _mm512_srli_epi16(plane, (unsigned)-s) : plane;
    return _mm512_and_si512(v, _mm512_set1_epi8(16));
}

enum { KQ_T = 32 }; /* tokens per K-quant tile */

/* Sixteen rows of packed Q4_K, Q5_K or Q6_K (the groups at p0 and p1, n / 256 super-blocks each) against
 * nt <= KQ_T tokens: token t's results for the first group's rows at out0 + t ldo, for the second's
 * at out1 + t ldo (out1 NULL: p1 is p0 again and only out0 is written). A super-block's values are
 * unpacked once, a pair of sub-blocks at a time, for all the tile's tokens. Each token's float steps
 * are those of the AVX2 decode kernels (kernels_x86.c: q4k_superblock, q6k_superblock, kq_groups)
 * lane for lane, on integer dots that vpdpbusd sums exactly as maddubs and madd do there (unsigned
 * values 0..15, 0..31 or 0..63 by signed activations, no saturation): each result is the bytes of the
 * decode product. */
T512 static TERM_INLINE void kq_tile(int dtype, float *out0, float *out1, ptrdiff_t ldo, const int8_t *qx,
                                     const float *xd, const int32_t *xsum, int n, int nt, const uint8_t *p0,
                                     const uint8_t *p1) {
    const int nb = n / 32, nk = n / 256, gb = 8 * slm_bq8_block_bytes(dtype);
    const __m512i m15 = _mm512_set1_epi8(15), m48 = _mm512_set1_epi8(48), top = _mm512_set1_epi8((char)0x80);
    __m512 acc[KQ_T][8];
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < 8; j++) acc[t][j] = _mm512_setzero_ps();
    for (int k = 0; k < nk; k++) {
        const uint8_t *g0 = p0 + (size_t)k * gb, *g1 = p1 + (size_t)k * gb;
        __m512 d = half_pair(g0, g1);
        if (dtype == SLM_DTYPE_Q4_K || dtype == SLM_DTYPE_Q5_K) {
            __m512i b0 = load_pair(g0 + 32, g1 + 32), b1 = load_pair(g0 + 64, g1 + 64);
            __m512i h0 = load_pair(g0 + 96, g1 + 96), h1 = _mm512_srli_epi16(h0, 4);
            __m512i sc[2], mn[2]; /* sub-blocks 0-3, 4-7: byte 8j + r */
            sc[0] = _mm512_or_si512(_mm512_and_si512(b0, m15), _mm512_and_si512(_mm512_slli_epi16(h0, 4), m48));
            sc[1] = _mm512_or_si512(_mm512_and_si512(b1, m15), _mm512_and_si512(_mm512_slli_epi16(h1, 4), m48));
            mn[0] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(b0, 4), m15), _mm512_and_si512(_mm512_slli_epi16(h0, 2), m48));
            mn[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(b1, 4), m15), _mm512_and_si512(_mm512_slli_epi16(h1, 2), m48));
            __m512 dmin = half_pair(g0 + 16, g1 + 16);
            for (int p = 0; p < 4; p++) {
                __m512 ds[2], dm[2];
                __m512i wl[8], wh[8], f[2]; /* f: Q5_K's two fifth-bit vectors of this pair of sub-blocks */
                if (dtype == SLM_DTYPE_Q5_K)
                    for (int i = 0; i < 2; i++) f[i] = load_pair(g0 + 1152 + 64 * p + 32 * i, g1 + 1152 + 64 * p + 32 * i);
                for (int h = 0; h < 2; h++) {
                    int j = 2 * p + h;
                    ds[h] = _mm512_mul_ps(d, kq_lane_bytes(sc[j / 4], j & 3));
                    dm[h] = _mm512_mul_ps(dmin, kq_lane_bytes(mn[j / 4], j & 3));
                }
#pragma GCC unroll 8
                for (int c = 0; c < 8; c++) {
                    __m512i v = load_pair(g0 + 128 + 256 * p + 32 * c, g1 + 128 + 256 * p + 32 * c);
                    wl[c] = _mm512_and_si512(v, m15);
                    wh[c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m15);
                    if (dtype == SLM_DTYPE_Q5_K) { /* the fifth bits: bits 2i, 2i + 1 (i = c % 4) of the pair's vector c / 4, to bit 4 */
                        wl[c] = _mm512_or_si512(wl[c], kq_fifth(f[c / 4], 4 - 2 * (c % 4)));
                        wh[c] = _mm512_or_si512(wh[c], kq_fifth(f[c / 4], 3 - 2 * (c % 4)));
                    }
                }
                for (int t = 0; t < nt; t++) {
                    const int8_t *x = qx + (size_t)t * n + 256 * k + 64 * p;
                    __m512i il = _mm512_setzero_si512(), ih = _mm512_setzero_si512();
#pragma GCC unroll 8
                    for (int c = 0; c < 8; c++) {
                        il = _mm512_dpbusd_epi32(il, wl[c], bcast4_512(x + 4 * c));
                        ih = _mm512_dpbusd_epi32(ih, wh[c], bcast4_512(x + 32 + 4 * c));
                    }
                    for (int h = 0; h < 2; h++) {
                        int j = 2 * p + h;
                        __m512 xdj = _mm512_set1_ps(xd[(size_t)t * nb + 8 * k + j]);
                        __m512 xs = _mm512_set1_ps((float)xsum[(size_t)t * nb + 8 * k + j]);
                        __m512 dot = cvt_i32x16(h ? ih : il);
                        __m512 a = _mm512_mul_ps(ds[h], xdj), o = _mm512_mul_ps(dm[h], xdj);
                        acc[t][j] = _mm512_add_ps(acc[t][j], _mm512_sub_ps(_mm512_mul_ps(a, dot), _mm512_mul_ps(o, xs)));
                    }
                }
            }
        } else { /* Q6_K: a value is a nibble or-ed with two high bits (bits 4-5), minus 32 */
            const uint8_t *nib0 = g0 + 144, *nib1 = g1 + 144, *hib0 = g0 + 1168, *hib1 = g1 + 1168;
            for (int P = 0; P < 4; P++) {
                __m512i lo[8], hi[8]; /* chunk c = m + 4 half */
#pragma GCC unroll 4
                for (int m = 0; m < 4; m++) {
                    __m512i H = load_pair(hib0 + 128 * P + 32 * m, hib1 + 128 * P + 32 * m);
#pragma GCC unroll 2
                    for (int half = 0; half < 2; half++) {
                        int c = m + 4 * half;
                        __m512i v = load_pair(nib0 + 256 * P + 32 * c, nib1 + 256 * P + 32 * c);
                        lo[c] = _mm512_or_si512(_mm512_and_si512(v, m15), _mm512_and_si512(half ? H : _mm512_slli_epi16(H, 4), m48));
                        hi[c] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), m15),
                                                _mm512_and_si512(half ? _mm512_srli_epi16(H, 2) : _mm512_slli_epi16(H, 2), m48));
                    }
                }
                __m512i sa[2], sb[2];
                for (int side = 0; side < 2; side++) {
                    int j = 2 * P + side;
                    sa[side] = kq_i8_pair(g0 + 16 + 16 * j, g1 + 16 + 16 * j);
                    sb[side] = kq_i8_pair(g0 + 24 + 16 * j, g1 + 24 + 16 * j);
                }
                for (int t = 0; t < nt; t++) {
                    const int8_t *x = qx + (size_t)t * n + 256 * k + 64 * P;
                    __m512i u[2][2];
                    u[0][0] = u[0][1] = u[1][0] = u[1][1] = _mm512_setzero_si512();
#pragma GCC unroll 4
                    for (int m = 0; m < 4; m++)
#pragma GCC unroll 2
                        for (int half = 0; half < 2; half++) {
                            int c = m + 4 * half;
                            u[0][half] = _mm512_dpbusd_epi32(u[0][half], lo[c], bcast4_512(x + 4 * c));
                            u[1][half] = _mm512_dpbusd_epi32(u[1][half], hi[c], bcast4_512(x + 32 + 4 * c));
                        }
                    /* the sums of the first 16 activations of blocks 2P and 2P + 1: byte sums of
                     * eight (offset by 128 each) from one vpsadbw over the 64 bytes */
                    uint64_t b8[8];
                    _mm512_storeu_si512(b8, _mm512_sad_epu8(_mm512_xor_si512(_mm512_loadu_si512(x), top), _mm512_setzero_si512()));
                    for (int side = 0; side < 2; side++) {
                        int j = 2 * P + side;
                        int32_t s0 = (int32_t)(b8[4 * side] + b8[4 * side + 1]) - 16 * 128;
                        int32_t s1 = xsum[(size_t)t * nb + 8 * k + j] - s0;
                        __m512i dot = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_sub_epi32(u[side][0], _mm512_set1_epi32(32 * s0)), sa[side]),
                                                       _mm512_mullo_epi32(_mm512_sub_epi32(u[side][1], _mm512_set1_epi32(32 * s1)), sb[side]));
                        __m512 dx = _mm512_mul_ps(d, _mm512_set1_ps(xd[(size_t)t * nb + 8 * k + j]));
                        acc[t][j] = _mm512_add_ps(acc[t][j], _mm512_mul_ps(dx, cvt_i32x16(dot)));
                    }
                }
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        __m512 *a = acc[t];
        __m512 r = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[4]), _mm512_add_ps(a[2], a[6])),
                                 _mm512_add_ps(_mm512_add_ps(a[1], a[5]), _mm512_add_ps(a[3], a[7])));
        _mm256_storeu_ps(out0 + (ptrdiff_t)t * ldo, _mm512_castps512_ps256(r));
        if (out1) _mm256_storeu_ps(out1 + (ptrdiff_t)t * ldo, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(r), 1)));
    }
}

/* Groups [g0, g1) of a packed Q4_K, Q5_K or Q6_K matrix against m tokens: two groups at a time, the last
 * one of an odd range alone. */
T512 static void matmat_kq(int dtype, float *out, ptrdiff_t ldo, const int8_t *qx, const float *xd, const int32_t *xsum,
                           int m, const void *w, int n, int g0, int g1) {
    const uint8_t *wb = w;
    size_t gsz = (size_t)(n / 256) * 8 * (size_t)slm_bq8_block_bytes(dtype), nb = (size_t)(n / 32);
    for (int g = g0; g < g1; g += 2) {
        int pair = g + 1 < g1;
        const uint8_t *pa = wb + (size_t)g * gsz, *pb = pair ? pa + gsz : pa;
        for (int t = 0; t < m; t += KQ_T) {
            float *o = out + (ptrdiff_t)t * ldo + 8 * g;
            kq_tile(dtype, o, pair ? o + 8 : NULL, ldo, qx + (size_t)t * (size_t)n, xd + (size_t)t * nb,
                    xsum + (size_t)t * nb, n, m - t < KQ_T ? m - t : KQ_T, pa, pb);
        }
    }
}

T512 void slm_matmat_bq8_avx512(int dtype, float *out, ptrdiff_t ldo, const int8_t *qx, const float *xd,
                                const int32_t *xsum, int m, const void *w, int n, int g0, int g1) {
    if (dtype == SLM_DTYPE_Q8_0) matmat_bq8_type(SLM_DTYPE_Q8_0, out, ldo, qx, xd, xsum, m, w, n, g0, g1);
    else if (dtype == SLM_DTYPE_Q4_0) matmat_bq8_type(SLM_DTYPE_Q4_0, out, ldo, qx, xd, xsum, m, w, n, g0, g1);
    else if (dtype == SLM_DTYPE_Q5_0) matmat_bq8_type(SLM_DTYPE_Q5_0, out, ldo, qx, xd, xsum, m, w, n, g0, g1);
    else if (dtype == SLM_DTYPE_Q5_1) matmat_bq8_type(SLM_DTYPE_Q5_1, out, ldo, qx, xd, xsum, m, w, n, g0, g1);
    else if (dtype == SLM_DTYPE_IQ4_NL) matmat_bq8_type(SLM_DTYPE_IQ4_NL, out, ldo, qx, xd, xsum, m, w, n, g0, g1);
    else if (dtype == SLM_DTYPE_Q4_K || dtype == SLM_DTYPE_Q5_K || dtype == SLM_DTYPE_Q6_K) matmat_kq(dtype, out, ldo, qx, xd, xsum, m, w, n, g0, g1);
    else matmat_bq8_type(SLM_DTYPE_Q4_1, out, ldo, qx, xd, xsum, m, w, n, g0, g1);
}

/* The sum of the 16 lanes in a fixed order (SIMDe has no _mm512_reduce_add_ps). */
T512 static inline float hsum512(__m512 a) {
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
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
        out[r] = hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    }
}

/* Short rows (n <= 256: stories260K's 64 and 172, the bundled model's 192): x stays in C = ceil(n / 16)
 * registers, the last chunk masked, so each 16 products take one load (of w) where the row-at-a-time
 * kernels take two, and eight rows are summed at once by a transposing reduction (one store of eight
 * sums, no per-row horizontal sum). From L2 this reads about 111 GB/s on one Zen 4 core against 93 for
 * the 8-lane kernel (stories260K's products, 12.7 -> 10.6 us per token from L3; docs/benchmarks.md).
 * A row's sum never depends on its neighbours: rows past r1 in the last block repeat row r1 - 1 and
 * are not stored, so every row goes through the same steps whatever range a thread is given. */
/* The lanes of m from p, the others zero, reading no byte of the others (SIMDe has no masked
 * load: lane copies there); and the first k of eight sums to p. */
T512 static inline __m512 load_lanes(uint16_t m, const float *p) {
#ifdef SLM_AVX512_SIMDE
    float t[16] = {0};
    for (int i = 0; i < 16; i++)
        if (m >> i & 1) t[i] = p[i];
    return _mm512_loadu_ps(t);
#else
    return _mm512_maskz_loadu_ps(m, p);
#endif
}
T512 static inline void store_first(float *p, int k, __m256 v) {
#ifdef SLM_AVX512_SIMDE
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(p, t, sizeof(float) * (size_t)k);
#else
    _mm256_mask_storeu_ps(p, (uint8_t)((1u << k) - 1), v);
#endif
}
#ifdef SLM_AVX512_SIMDE
#define _mm512_shuffle_f32x4 simde_mm512_shuffle_f32x4 /* (SIMDe has it without the native alias) */
#endif
T512 static inline __m512 red_pairs(__m512 a, __m512 b) { /* lanes of rows a, b: pairs of 32-bit lanes */
    return _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
}
T512 static inline __m512 red_quads(__m512 a, __m512 b) { /* the same with 64-bit lanes */
    __m512d x = _mm512_castps_pd(a), y = _mm512_castps_pd(b);
    return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
}
/* Eight vectors reduced to two sums each, one per 256-bit half: lane 4m + q holds the sum of the
 * 128-bit blocks 2(m % 2) and 2(m % 2) + 1 of a[4(m / 2) + q] (a vector holding two rows of eight
 * gives the two rows' sums) */
T512 static inline __m512 red8_halves(const __m512 *a) {
    __m512 c0 = red_quads(red_pairs(a[0], a[1]), red_pairs(a[2], a[3]));
    __m512 c1 = red_quads(red_pairs(a[4], a[5]), red_pairs(a[6], a[7]));
    return _mm512_add_ps(_mm512_shuffle_f32x4(c0, c1, 0x88), _mm512_shuffle_f32x4(c0, c1, 0xdd));
}
/* The sums of all 16 lanes of each of eight vectors, in order */
T512 static inline __m256 red8(const __m512 *a) {
    __m512 d = red8_halves(a);
    return _mm256_add_ps(_mm512_castps512_ps256(_mm512_shuffle_f32x4(d, d, 0x08)),
                         _mm512_castps512_ps256(_mm512_shuffle_f32x4(d, d, 0x0d)));
}
#define MV_SHORT(C)                                                                                              \
    T512 static void mv_short##C(float *out, const float *x, const float *w, int n, int r0, int r1) {          \
        uint16_t tail = (n & 15) ? (uint16_t)((1u << (n & 15)) - 1) : (uint16_t)0xffff;                       \
        __m512 xv[C];                                                                                          \
        uint16_t mk[C];                                                                                       \
        _Pragma("GCC unroll 16") for (int c = 0; c < (C); c++) {                                               \
            mk[c] = c == (C) - 1 ? tail : (uint16_t)0xffff;                                                    \
            xv[c] = load_lanes(mk[c], x + 16 * c);                                                  \
        }                                                                                                      \
        for (int r = r0; r < r1; r += 8) {                                                                     \
            __m512 a[8];                                                                                       \
            _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) {                                              \
                const float *wr = w + (size_t)(r + i < r1 ? r + i : r1 - 1) * (size_t)n;                       \
                __m512 s0 = _mm512_setzero_ps(), s1 = s0;                                                      \
                _Pragma("GCC unroll 16") for (int c = 0; c < (C); c++) {                                       \
                    __m512 wv = load_lanes(mk[c], wr + 16 * c);                                     \
                    if (c & 1) s1 = _mm512_fmadd_ps(wv, xv[c], s1);                                            \
                    else s0 = _mm512_fmadd_ps(wv, xv[c], s0);                                                  \
                }                                                                                              \
                a[i] = _mm512_add_ps(s0, s1);                                                                  \
            }                                                                                                  \
            __m256 e = red8(a);                                                                                \
            if (r1 - r >= 8) _mm256_storeu_ps(out + r, e);                                                     \
            else store_first(out + r, r1 - r, e);                          \
        }                                                                                                      \
    }
MV_SHORT(1) MV_SHORT(2) MV_SHORT(3) MV_SHORT(4) MV_SHORT(5) MV_SHORT(6) MV_SHORT(7) MV_SHORT(8)
MV_SHORT(9) MV_SHORT(10) MV_SHORT(11) MV_SHORT(12) MV_SHORT(13) MV_SHORT(14) MV_SHORT(15) MV_SHORT(16)
#undef MV_SHORT

T512 void slm_matvec_f32_short_avx512(float *out, const float *x, const float *w, int n, int r0, int r1) {
    static void (*const by_chunks[16])(float *, const float *, const float *, int, int, int) = {
        mv_short1, mv_short2, mv_short3, mv_short4, mv_short5, mv_short6, mv_short7, mv_short8,
        mv_short9, mv_short10, mv_short11, mv_short12, mv_short13, mv_short14, mv_short15, mv_short16};
    if (r0 < r1 && n > 0) by_chunks[(n - 1) / 16](out, x, w, n, r0, r1);
}

/* ---- Attention for head size 8 (stories260K): two positions per 16-lane vector. Scores of 16
 * positions take eight multiplies and the transposing reduction of mv_short (which leaves them in
 * the order 0 2 4 6 1 3 5 7 8 10 ..., put back by one permute); the weighted sum of values takes
 * eight multiply-adds, each position's weight spread over its eight lanes by a permute. The
 * exponentials are taken 16 at a time in the values pass (2^n by vscalefps), so `scores` keeps the
 * raw scaled scores. The last n % 16 positions are read with masked loads, so no read goes past
 * position n - 1. Sums are taken in another order than the AVX2 kernel's: the two tables'
 * results differ in the last bits (each within the scalar reference's bound). */
/* exp(x) for x <= 0 (after subtracting the max): the steps of exp_nonpos_avx2 (kernels_x86.c). */
T512 static inline __m512 exp_nonpos_avx512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    0x08 /* to nearest, no exceptions */);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}
/* the upper eight lanes; a and b as one vector (AVX512F alone: the 32-bit-lane forms are AVX512DQ) */
T512 static inline __m256 upper8(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }
T512 static inline __m512 join8(__m256 a, __m256 b) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(a)), _mm256_castps_pd(b), 1));
}
/* the lanes of m to p, no byte of the others written (SIMDe: lane copies) */
T512 static inline void store_lanes(float *p, uint16_t m, __m512 v) {
#ifdef SLM_AVX512_SIMDE
    float t[16];
    _mm512_storeu_ps(t, v);
    for (int i = 0; i < 16; i++)
        if (m >> i & 1) p[i] = t[i];
#else
    _mm512_mask_storeu_ps(p, m, v);
#endif
}
T512 static inline float hmax512(__m512 v) {
    __m256 m = _mm256_max_ps(_mm512_castps512_ps256(v), upper8(v));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}
/* The 16-bit lanes of m from p, the others zero, reading no byte of the others (SIMDe: lane copies). */
T512 static inline __m256i load_halves(uint16_t m, const uint16_t *p) {
#ifdef SLM_AVX512_SIMDE
    uint16_t t[16] = {0};
    for (int i = 0; i < 16; i++)
        if (m >> i & 1) t[i] = p[i];
    return _mm256_loadu_si256((const __m256i *)t);
#else
    return _mm256_maskz_loadu_epi16(m, p);
#endif
}
/* 16 IEEE halves as floats (SIMDe has no 16-lane form: two 8-lane ones) */
T512 static inline __m512 halves_to_f32(__m256i h) {
#ifdef SLM_AVX512_SIMDE
    return join8(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)));
#else
    return _mm512_cvtph_ps(h);
#endif
}
/* Rows p and p + s (8 values each) as one vector, the lanes of m only (rows past the last position
 * are not read). Callers pass m = 0xffff as a constant where both rows exist. */
#define ATT8_LOAD_F32(p, s, m)                                                                              \
    ((s) == 8 ? ((m) == 0xffff ? _mm512_loadu_ps(p) : load_lanes((uint16_t)(m), p))                        \
              : join8(_mm256_loadu_ps(p), ((m) == 0xffff ? _mm256_loadu_ps((p) + (s)) : _mm256_setzero_ps())))
#define ATT8_LOAD_F16(p, s, m)                                                                              \
    halves_to_f32((s) == 8 ? ((m) == 0xffff ? _mm256_loadu_si256((const __m256i *)(p)) : load_halves((uint16_t)(m), p)) \
                           : _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p))), \
                                                     (m) == 0xffff ? _mm_loadu_si128((const __m128i *)((p) + (s)))   \
                                                                   : _mm_setzero_si128(), 1))
/* The lanes of the pair of rows j in a block of `rest` rows (rest < 16), 0 for a pair past it. The
 * strided form reads a pair's first row whenever its mask is not 0 and its second only with 0xffff,
 * so the same masks hold there. */
#define ATT8_PAIR_MASK(j, rest) ((2 * (j) < (rest) ? 0xffu : 0u) | (2 * (j) + 1 < (rest) ? 0xff00u : 0u))
#define DEFINE_ATT8(NAME, ELEM, LOAD)                                                                         \
    T512 static inline __m512 NAME##_scores(const ELEM *k, int s, __m512 qq, __m512i order, int rest) {     \
        __m512 a[8];                                                                                         \
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {                                                \
            const ELEM *kp = k + (size_t)(2 * j) * s;                                                        \
            if (rest == 16) a[j] = _mm512_mul_ps(qq, LOAD(kp, s, 0xffff));                                   \
            else {                                                                                           \
                unsigned m = ATT8_PAIR_MASK(j, rest);                                                        \
                a[j] = m == 0 ? _mm512_setzero_ps() : _mm512_mul_ps(qq, LOAD(kp, s, m));                     \
            }                                                                                                \
        }                                                                                                    \
        return _mm512_permutexvar_ps(order, red8_halves(a));                                                 \
    }                                                                                                        \
    T512 static inline void NAME##_values(__m512 *acc, const ELEM *v, int s, __m512 e, int rest) {           \
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {                                                \
            __m512i sel = _mm512_set_epi32(2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, \
                                           2 * j + 1, 2 * j + 1, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j); \
            const ELEM *vp = v + (size_t)(2 * j) * s;                                                        \
            if (rest == 16)                                                                                  \
                acc[j & 3] = _mm512_fmadd_ps(_mm512_permutexvar_ps(sel, e), LOAD(vp, s, 0xffff), acc[j & 3]); \
            else {                                                                                           \
                unsigned m = ATT8_PAIR_MASK(j, rest);                                                        \
                if (m) acc[j & 3] = _mm512_fmadd_ps(_mm512_permutexvar_ps(sel, e), LOAD(vp, s, m), acc[j & 3]); \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    T512 static void NAME(float *out, float *scores, const float *q, const ELEM *k, const ELEM *v, int stride, int n, \
                          float scale) {                                                                            \
        __m256 q8 = _mm256_mul_ps(_mm256_loadu_ps(q), _mm256_set1_ps(scale));                                \
        __m512 qq = join8(q8, q8);                                                                           \
        const __m512i order = _mm512_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);       \
        int full = n & ~15, rest = n - full;                                                                 \
        uint16_t live = (uint16_t)((1u << rest) - 1);                                                        \
        __m512 vmax = _mm512_set1_ps(-INFINITY), tail = vmax;                                                \
        for (int p = 0; p < full; p += 16) {                                                                 \
            __m512 sc = NAME##_scores(k + (size_t)p * stride, stride, qq, order, 16);                       \
            _mm512_storeu_ps(scores + p, sc);                                                                \
            vmax = _mm512_max_ps(vmax, sc);                                                                  \
        }                                                                                                    \
        if (rest) {                                                                                          \
            tail = _mm512_mask_blend_ps(live, vmax, NAME##_scores(k + (size_t)full * stride, stride, qq, order, rest)); \
            store_lanes(scores + full, live, tail);                                                          \
            vmax = _mm512_max_ps(vmax, tail);                                                                \
        }                                                                                                    \
        __m512 vm = _mm512_set1_ps(hmax512(vmax)), sum = _mm512_setzero_ps();                                \
        __m512 acc[4] = {sum, sum, sum, sum};                                                                \
        for (int p = 0; p < full; p += 16) {                                                                 \
            __m512 e = exp_nonpos_avx512(_mm512_sub_ps(_mm512_loadu_ps(scores + p), vm));                    \
            sum = _mm512_add_ps(sum, e);                                                                     \
            NAME##_values(acc, v + (size_t)p * stride, stride, e, 16);                                       \
        }                                                                                                    \
        if (rest) {                                                                                          \
            __m512 e = _mm512_maskz_mov_ps(live, exp_nonpos_avx512(_mm512_sub_ps(tail, vm)));                \
            sum = _mm512_add_ps(sum, e);                                                                     \
            NAME##_values(acc, v + (size_t)full * stride, stride, e, rest);                                  \
        }                                                                                                    \
        __m512 o = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));             \
        __m256 r = _mm256_add_ps(_mm512_castps512_ps256(o), upper8(o));                                      \
        _mm256_storeu_ps(out, _mm256_mul_ps(r, _mm256_set1_ps(1.0f / hsum512(sum))));                       \
    }
DEFINE_ATT8(att8_f32, float, ATT8_LOAD_F32)
DEFINE_ATT8(att8_f16, uint16_t, ATT8_LOAD_F16)
#undef DEFINE_ATT8

/* ---- Attention for head sizes 16 C (C = 1, 2, 3, 4, 8: 16 ... 128): each position's key and value
 * rows are C 16-lane vectors, q stays in registers. Scores are taken eight positions at a time and
 * summed by mv_short's transposing reduction (one store of eight); the exponentials 16 at a time
 * (exp_nonpos_avx512); the weighted sum of values keeps two sets of C accumulators in registers (the
 * AVX2 kernel's accumulators for head size 64 lived on the stack: its loads and stores made
 * attention 13% of SmolLM-135M's decode). Positions past the last whole eight are taken one by one. */
#define ATT16_LOAD_F32(p) _mm512_loadu_ps(p)
#define ATT16_LOAD_F16(p) halves_to_f32(_mm256_loadu_si256((const __m256i *)(p)))
#define DEFINE_ATT16(C, NAME, ELEM, LOAD)                                                                     \
    T512 static void NAME##C(float *out, float *scores, const float *q, const ELEM *k, const ELEM *v, int stride, \
                             int n, float scale) {                                                           \
        __m512 qv[C];                                                                                        \
        _Pragma("GCC unroll 8") for (int i = 0; i < (C); i++)                                                \
            qv[i] = _mm512_mul_ps(_mm512_loadu_ps(q + 16 * i), _mm512_set1_ps(scale));                       \
        __m256 vmax8 = _mm256_set1_ps(-INFINITY);                                                            \
        int p = 0;                                                                                           \
        for (; p + 8 <= n; p += 8) {                                                                         \
            __m512 a[8];                                                                                     \
            _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {                                            \
                const ELEM *kp = k + (size_t)(p + j) * (size_t)stride;                                       \
                a[j] = _mm512_mul_ps(qv[0], LOAD(kp));                                                       \
                _Pragma("GCC unroll 8") for (int i = 1; i < (C); i++) a[j] = _mm512_fmadd_ps(qv[i], LOAD(kp + 16 * i), a[j]); \
            }                                                                                                \
            __m256 e = red8(a);                                                                              \
            _mm256_storeu_ps(scores + p, e);                                                                 \
            vmax8 = _mm256_max_ps(vmax8, e);                                                                 \
        }                                                                                                    \
        float max = hmax512(join8(vmax8, vmax8));                                                            \
        for (; p < n; p++) {                                                                                 \
            const ELEM *kp = k + (size_t)p * (size_t)stride;                                                 \
            __m512 a = _mm512_mul_ps(qv[0], LOAD(kp));                                                       \
            _Pragma("GCC unroll 8") for (int i = 1; i < (C); i++) a = _mm512_fmadd_ps(qv[i], LOAD(kp + 16 * i), a); \
            scores[p] = hsum512(a);                                                                          \
            max = scores[p] > max ? scores[p] : max;                                                         \
        }                                                                                                    \
        __m512 vm = _mm512_set1_ps(max), sum = _mm512_setzero_ps();                                          \
        for (p = 0; p < n; p += 16) {                                                                        \
            uint16_t live = n - p >= 16 ? (uint16_t)0xffff : (uint16_t)((1u << (n - p)) - 1);                \
            __m512 e = _mm512_maskz_mov_ps(live, exp_nonpos_avx512(_mm512_sub_ps(load_lanes(live, scores + p), vm))); \
            store_lanes(scores + p, live, e);                                                                \
            sum = _mm512_add_ps(sum, e);                                                                     \
        }                                                                                                    \
        __m512 o0[C], o1[C];                                                                                 \
        _Pragma("GCC unroll 8") for (int i = 0; i < (C); i++) o0[i] = o1[i] = _mm512_setzero_ps();           \
        for (p = 0; p + 2 <= n; p += 2) {                                                                    \
            __m512 a0 = _mm512_set1_ps(scores[p]), a1 = _mm512_set1_ps(scores[p + 1]);                       \
            const ELEM *v0 = v + (size_t)p * (size_t)stride, *v1 = v0 + stride;                              \
            _Pragma("GCC unroll 8") for (int i = 0; i < (C); i++) {                                          \
                o0[i] = _mm512_fmadd_ps(a0, LOAD(v0 + 16 * i), o0[i]);                                       \
                o1[i] = _mm512_fmadd_ps(a1, LOAD(v1 + 16 * i), o1[i]);                                       \
            }                                                                                                \
        }                                                                                                    \
        if (p < n) {                                                                                         \
            __m512 a0 = _mm512_set1_ps(scores[p]);                                                           \
            const ELEM *v0 = v + (size_t)p * (size_t)stride;                                                 \
            _Pragma("GCC unroll 8") for (int i = 0; i < (C); i++) o0[i] = _mm512_fmadd_ps(a0, LOAD(v0 + 16 * i), o0[i]); \
        }                                                                                                    \
        __m512 inv = _mm512_set1_ps(1.0f / hsum512(sum));                                                    \
        _Pragma("GCC unroll 8") for (int i = 0; i < (C); i++)                                                \
            _mm512_storeu_ps(out + 16 * i, _mm512_mul_ps(_mm512_add_ps(o0[i], o1[i]), inv));                 \
    }
#define DEFINE_ATT16_SIZES(NAME, ELEM, LOAD) \
    DEFINE_ATT16(1, NAME, ELEM, LOAD)        \
    DEFINE_ATT16(2, NAME, ELEM, LOAD)        \
    DEFINE_ATT16(3, NAME, ELEM, LOAD)        \
    DEFINE_ATT16(4, NAME, ELEM, LOAD)        \
    DEFINE_ATT16(8, NAME, ELEM, LOAD)
DEFINE_ATT16_SIZES(att16_f32_, float, ATT16_LOAD_F32)
DEFINE_ATT16_SIZES(att16_f16_, uint16_t, ATT16_LOAD_F16)
#undef DEFINE_ATT16_SIZES
#undef DEFINE_ATT16

/* Head sizes 8 (two positions per vector) and 16 C; 0 for the others (the caller's kernel takes them). */
#define ATT_DISPATCH(EIGHT, SIXTEEN)                                                  \
    switch (hd) {                                                                     \
    case 8: EIGHT(out, scores, q, k, v, stride, n, scale); return 1;                  \
    case 16: SIXTEEN##1(out, scores, q, k, v, stride, n, scale); return 1;            \
    case 32: SIXTEEN##2(out, scores, q, k, v, stride, n, scale); return 1;            \
    case 48: SIXTEEN##3(out, scores, q, k, v, stride, n, scale); return 1;            \
    case 64: SIXTEEN##4(out, scores, q, k, v, stride, n, scale); return 1;            \
    case 128: SIXTEEN##8(out, scores, q, k, v, stride, n, scale); return 1;           \
    default: return 0;                                                                \
    }
T512 int slm_attention_avx512(float *out, float *scores, const float *q, const float *k, const float *v, int stride,
                              int n, int hd, float scale) {
    ATT_DISPATCH(att8_f32, att16_f32_)
}
T512 int slm_attention_f16_avx512(float *out, float *scores, const float *q, const uint16_t *k, const uint16_t *v,
                                  int stride, int n, int hd, float scale) {
    ATT_DISPATCH(att8_f16, att16_f16_)
}
#undef ATT_DISPATCH

/* ---- BF16 matrices on CPUs with AVX512_BF16: vdpbf16ps multiplies pairs of bf16 values and adds
 * both products to an fp32 lane (a bf16 product is exact in fp32), 32 multiply-adds per
 * instruction against 16 for an fp32 FMA. The activations are rounded to bf16 first (as llama.cpp
 * does for BF16 weights): each product then carries the activation's rounding, at most 2^-9 of it.
 * Decode and prompts use the same tile, so a prompt's logits are the bytes of its tokens decoded
 * one by one. */

/* 16 floats rounded to bf16, slm_f32_to_bf16's bytes (to nearest even; a NaN stays a quiet NaN). */
T512 static inline __m256i bf16_round16(__m512 x) {
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    uint16_t nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
#ifdef SLM_AVX512_SIMDE /* (no vpmovdw there) */
    int32_t v[16];
    uint16_t h[16];
    _mm512_storeu_si512(v, r);
    for (int i = 0; i < 16; i++) h[i] = (uint16_t)v[i];
    return _mm256_loadu_si256((const __m256i *)h);
#else
    return _mm512_cvtepi32_epi16(r);
#endif
}

/* The 16-bit lanes of m from p, the others zero, reading no byte of the others (SIMDe: lane copies). */
T512 static inline __m512i load_lanes16(uint32_t m, const uint16_t *p) {
#ifdef SLM_AVX512_SIMDE
    uint16_t t[32] = {0};
    for (int i = 0; i < 32; i++)
        if (m >> i & 1) t[i] = p[i];
    return _mm512_loadu_si512(t);
#else
    return _mm512_maskz_loadu_epi16(m, p);
#endif
}

/* x (n values) as bf16 into dst, zeros after them up to npad (a multiple of 32 >= n). */
T512 void slm_bf16_round_avx512(uint16_t *dst, const float *x, int n, int npad) {
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(dst + i), bf16_round16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        uint16_t t[16];
        _mm256_storeu_si256((__m256i *)t, bf16_round16(load_lanes((uint16_t)((1u << (n - i)) - 1), x + i)));
        memcpy(dst + i, t, sizeof(uint16_t) * (size_t)(n - i));
    }
    if (npad > n) memset(dst + n, 0, sizeof(uint16_t) * (size_t)(npad - n));
}

T512BF static inline __m512 dot_bf16(__m512 acc, __m512i w, __m512i x) {
    __m512bh a, b;
    memcpy(&a, &w, sizeof a);
    memcpy(&b, &x, sizeof b);
    return _mm512_dpbf16_ps(acc, a, b);
}

/* Rows r..r+R-1 (past r1 - 1 the last row again, not stored) of w (n bf16 values per row) by
 * tokens 0..nt-1 of x (nt <= T; past nt - 1 the last token again): out[t ldo + row]. x is bf16 with
 * rows of ldx values, zero after n (xf = 0), or fp32 rounded here chunk by chunk (xf = 1). Each value
 * is one chain of vdpbf16ps over the 32-value chunks, the last chunk's lanes past n zero in both
 * operands, then one horizontal sum: the same steps whatever R, T, xf, r or the range. */
T512BF static TERM_INLINE void bf16_tile(int R, int T, int xf, float *out, ptrdiff_t ldo, const void *x, ptrdiff_t ldx,
                                         int nt, const uint16_t *w, int n, int r, int r1) {
    const uint16_t *wr[4];
    _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) wr[i] = w + (size_t)(r + i < r1 ? r + i : r1 - 1) * (size_t)n;
    __m512 acc[4][4];
    _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) /* (all of it: SIMDe's out-of-line copy warns otherwise) */
        _Pragma("GCC unroll 4") for (int t = 0; t < 4; t++) acc[i][t] = _mm512_setzero_ps();
    int n32 = n & ~31, rest = n & 31;
    for (int k = 0; k < n; k += 32) {
        uint32_t m = k < n32 ? 0xffffffffu : (1u << rest) - 1;
        __m512i wv[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
        _Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
            wv[i] = k < n32 ? _mm512_loadu_si512(wr[i] + k) : load_lanes16(m, wr[i] + k);
        _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) {
            int tt = t < nt ? t : nt - 1;
            __m512i xv;
            if (xf) {
                const float *xp = (const float *)x + (size_t)tt * (size_t)ldx + k;
                __m512 lo = k < n32 ? _mm512_loadu_ps(xp) : load_lanes((uint16_t)m, xp);
                __m512 hi = k < n32 ? _mm512_loadu_ps(xp + 16) : load_lanes((uint16_t)(m >> 16), xp + 16);
                xv = _mm512_inserti64x4(_mm512_castsi256_si512(bf16_round16(lo)), bf16_round16(hi), 1);
            } else
                xv = _mm512_loadu_si512((const uint16_t *)x + (size_t)tt * (size_t)ldx + k);
            _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) acc[i][t] = dot_bf16(acc[i][t], wv[i], xv);
        }
    }
    /* (constant indices throughout, or gcc keeps acc on the stack and stores it every chunk) */
    _Pragma("GCC unroll 4") for (int t = 0; t < T; t++)
        _Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
            if (t < nt && r + i < r1) out[(ptrdiff_t)t * ldo + r + i] = hsum512(acc[i][t]);
}

/* out[t ldo + row] for rows [r0, r1) of w and tokens t < m of xb (bf16, rows of ldx values: n, then
 * zeros up to a multiple of 32; slm_bf16_round_avx512): tiles of four rows by four tokens. */
T512BF void slm_matmat_bf16_avx512(float *out, ptrdiff_t ldo, const uint16_t *xb, ptrdiff_t ldx, int m,
                                   const uint16_t *w, int n, int r0, int r1) {
    for (int r = r0; r < r1; r += 4)
        for (int t = 0; t < m; t += 4) {
            int nt = m - t < 4 ? m - t : 4;
            float *o = out + (ptrdiff_t)t * ldo;
            const uint16_t *xt = xb + (size_t)t * (size_t)ldx;
            if (nt == 4) bf16_tile(4, 4, 0, o, ldo, xt, ldx, 4, w, n, r, r1);
            else if (nt == 3) bf16_tile(4, 3, 0, o, ldo, xt, ldx, 3, w, n, r, r1);
            else if (nt == 2) bf16_tile(4, 2, 0, o, ldo, xt, ldx, 2, w, n, r, r1);
            else bf16_tile(4, 1, 0, o, ldo, xt, ldx, 1, w, n, r, r1);
        }
}

/* The decode product: one token, one row at a time (a single read stream, which the hardware
 * prefetcher follows from DRAM; four rows side by side read at half the rate), its activations
 * rounded once into a stack buffer (rows of up to 8192 values) or chunk by chunk as they are read
 * (longer rows: the same bytes, slower). */
T512BF void slm_matvec_bf16_avx512(float *out, const float *x, const uint16_t *w, int n, int r0, int r1) {
    enum { MAX_STACK = 8192 };
    if (n <= MAX_STACK) {
        uint16_t xb[MAX_STACK];
        slm_bf16_round_avx512(xb, x, n, (n + 31) / 32 * 32);
        for (int r = r0; r < r1; r++) bf16_tile(1, 1, 0, out, 0, xb, 0, 1, w, n, r, r1);
    } else
        for (int r = r0; r < r1; r++) bf16_tile(1, 1, 1, out, 0, x, 0, 1, w, n, r, r1);
}

/* Rows r[0..mr) of a micro-kernel's tile (nr <= 16 columns) to c (row stride ldc), written or added. */
T512 static inline void micro_store(const __m512 *r, float *c, ptrdiff_t ldc, int accumulate, int mr, int nr) {
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
    micro_store(r, c, ldc, accumulate, mr, nr);
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
    micro_store(r, c, ldc, accumulate, mr, nr);
}

#else
typedef int slm_no_avx512; /* (an empty translation unit is not C) */
#endif
