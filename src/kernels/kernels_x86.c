/* kernels_x86.c — AVX2+FMA twins of the scalar kernels, compiled with per-function target
 * attributes so the rest of the build stays portable; slm_kernels_select picks them after checking
 * the CPU at run time. The "avx512" table (AVX-512 F/BW/VL/VNNI CPUs) takes the integer decode and
 * fp32 matrix-vector products from kernels_avx512.c and the rest from here.
 * Float results differ from the scalar reference only by summation order; the Q8 kernel is
 * bit-exact (exact int32 group sums, then the reference's float steps in the same order). Each
 * row is computed the same way whatever rows or thread it is scheduled with, so the thread count
 * never changes a result. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

#if !defined(SLM_NO_SIMD) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define SLM_X86 1

/* ---------------- AVX2 */

#define T256 __attribute__((target("avx2,fma")))
#define T256H __attribute__((target("avx2,fma,f16c")))

/* Mask of the first (n & 7) lanes, for the partial chunk at the end of a row. */
T256 static inline __m256i tail_mask(int n) {
    static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(m + 8 - (n & 7)));
}

T256 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Sums each of four vectors: returns (sum a0, sum a1, sum a2, sum a3). The addition order of a
 * row's lanes is the same whatever the other three vectors hold. */
T256 static inline __m128 reduce4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* Sums each of eight vectors into one vector of eight sums. */
T256 static inline __m256 reduce8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5, __m256 a6,
                                  __m256 a7) {
    __m256 h0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m256 h1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
    return _mm256_add_ps(_mm256_permute2f128_ps(h0, h1, 0x20), _mm256_permute2f128_ps(h0, h1, 0x31));
}

/* One row at a time with four accumulators: a single read stream per row keeps the hardware
 * prefetcher on it (measured faster here than 4- or 8-row blocks once weights come from DRAM,
 * and than software prefetching). */
T256 static void matvec_f32_avx2(float *out, const float *x, const float *w, int n, int r0, int r1) {
    int n32 = n & ~31, nv = n & ~7;
    __m256i mask = tail_mask(n);
    for (int r = r0; r < r1; r++) {
        const float *wr = w + (size_t)r * n;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int j = 0;
        for (; j < n32; j += 32) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + j), _mm256_loadu_ps(x + j), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + j + 8), _mm256_loadu_ps(x + j + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + j + 16), _mm256_loadu_ps(x + j + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + j + 24), _mm256_loadu_ps(x + j + 24), a3);
        }
        for (; j < nv; j += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + j), _mm256_loadu_ps(x + j), a0);
        if (nv < n) a1 = _mm256_fmadd_ps(_mm256_maskload_ps(wr + nv, mask), _mm256_maskload_ps(x + nv, mask), a1);
        out[r] = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    }
}

/* exp(x) for x <= 0 (softmax after subtracting the max): 2^n * p(r), r = x - n ln2, |r| <= ln2/2,
 * p the degree-7 Taylor polynomial (relative error < 1e-7 before rounding). */
T256 static inline __m256 exp_nonpos_avx2(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}


T256 static inline float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* Attention for head_dim = 8*C, with C a compile-time constant so every vector lives in a register.
 * Positions are taken 8 at a time for the scores and 2 at a time (two accumulator sets) for the
 * weighted sum of values. */
#define DEFINE_ATTENTION_AVX2(C, NAME, ELEM, LOAD, ATTR)                                                                            \
    ATTR static void NAME##C(float *out, float *scores, const float *q, const ELEM *k,           \
                                         const ELEM *v, int stride, int n, float scale) {                   \
        __m256 qv[C];                                                                                       \
        for (int i = 0; i < C; i++) qv[i] = _mm256_mul_ps(_mm256_loadu_ps(q + 8 * i), _mm256_set1_ps(scale)); \
        int p = 0;                                                                                          \
        __m256 vmax = _mm256_set1_ps(-INFINITY);                                                            \
        for (; p + 8 <= n; p += 8) {                                                                        \
            __m256 acc[8];                                                                                  \
            _Pragma("GCC unroll 8") /* acc in registers (not unrolled, gcc kept it on the stack) */          \
            for (int j = 0; j < 8; j++) {                                                                   \
                const ELEM *kp = k + (size_t)(p + j) * stride;                                             \
                __m256 a = _mm256_mul_ps(qv[0], LOAD(kp));                                        \
                for (int i = 1; i < C; i++) a = _mm256_fmadd_ps(qv[i], LOAD(kp + 8 * i), a);     \
                acc[j] = a;                                                                                 \
            }                                                                                               \
            __m256 sc = reduce8(acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]);            \
            _mm256_storeu_ps(scores + p, sc);                                                               \
            vmax = _mm256_max_ps(vmax, sc);                                                                 \
        }                                                                                                   \
        float max = hmax256(vmax);                                                                          \
        for (; p < n; p++) {                                                                                \
            const ELEM *kp = k + (size_t)p * stride;                                                       \
            __m256 a = _mm256_mul_ps(qv[0], LOAD(kp));                                            \
            for (int i = 1; i < C; i++) a = _mm256_fmadd_ps(qv[i], LOAD(kp + 8 * i), a);         \
            float s4[4];                                                                                    \
            _mm_storeu_ps(s4, reduce4(a, a, a, a));                                                         \
            scores[p] = s4[0];                                                                              \
            max = s4[0] > max ? s4[0] : max;                                                                \
        }                                                                                                   \
        float inv = softmax_tail_avx2(scores, n, max);                                                      \
        /* values 8 W lanes at a time: two sets of W accumulators stay in the 16 registers (all C at    \
         * once, gcc kept head size 64's on the stack) */                                               \
        __m256 vi = _mm256_set1_ps(inv);                                                                    \
        enum { W = C % 4 == 0 ? 4 : C % 3 == 0 ? 3 : C }; /* lanes / 8 at a time: a divisor of C, <= 4 */ \
        for (int c0 = 0; c0 < C; c0 += W) {                                                                 \
            __m256 o0[W], o1[W];                                                                            \
            _Pragma("GCC unroll 4") for (int i = 0; i < W; i++) o0[i] = o1[i] = _mm256_setzero_ps();        \
            for (p = 0; p + 2 <= n; p += 2) {                                                               \
                __m256 a0 = _mm256_set1_ps(scores[p]), a1 = _mm256_set1_ps(scores[p + 1]);                  \
                const ELEM *v0 = v + (size_t)p * stride + 8 * c0, *v1 = v0 + stride;                       \
                _Pragma("GCC unroll 4") for (int i = 0; i < W; i++) {                                       \
                    o0[i] = _mm256_fmadd_ps(a0, LOAD(v0 + 8 * i), o0[i]);                                   \
                    o1[i] = _mm256_fmadd_ps(a1, LOAD(v1 + 8 * i), o1[i]);                                   \
                }                                                                                           \
            }                                                                                               \
            if (p < n) {                                                                                    \
                __m256 a0 = _mm256_set1_ps(scores[p]);                                                      \
                const ELEM *v0 = v + (size_t)p * stride + 8 * c0;                                          \
                _Pragma("GCC unroll 4") for (int i = 0; i < W; i++) o0[i] = _mm256_fmadd_ps(a0, LOAD(v0 + 8 * i), o0[i]); \
            }                                                                                               \
            _Pragma("GCC unroll 4") for (int i = 0; i < W; i++)                                             \
                _mm256_storeu_ps(out + 8 * (c0 + i), _mm256_mul_ps(_mm256_add_ps(o0[i], o1[i]), vi));      \
        }                                                                                                   \
    }

/* exp(scores - max) in place; returns 1 / sum. */
T256 static float softmax_tail_avx2(float *scores, int n, float max) {
    __m256 vm = _mm256_set1_ps(max), vsum = _mm256_setzero_ps();
    int p = 0;
    for (; p + 8 <= n; p += 8) {
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + p), vm));
        _mm256_storeu_ps(scores + p, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float sum = hsum256(vsum);
    for (; p < n; p++) {
        float e[8];
        _mm256_storeu_ps(e, exp_nonpos_avx2(_mm256_set1_ps(scores[p] - max)));
        scores[p] = e[0];
        sum += e[0];
    }
    return 1.0f / sum;
}

#define LOAD_F32(p) _mm256_loadu_ps(p)
#define LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
/* the kernels for head sizes 8, 16, 32, 48, 64 and 128, over an fp32 cache or an f16 one (F16C
 * conversions as the rows are loaded) */
#define DEFINE_ATTENTION_SIZES(NAME, ELEM, LOAD, ATTR) \
    DEFINE_ATTENTION_AVX2(1, NAME, ELEM, LOAD, ATTR)   \
    DEFINE_ATTENTION_AVX2(2, NAME, ELEM, LOAD, ATTR)   \
    DEFINE_ATTENTION_AVX2(4, NAME, ELEM, LOAD, ATTR)   \
    DEFINE_ATTENTION_AVX2(6, NAME, ELEM, LOAD, ATTR)   \
    DEFINE_ATTENTION_AVX2(8, NAME, ELEM, LOAD, ATTR)   \
    DEFINE_ATTENTION_AVX2(16, NAME, ELEM, LOAD, ATTR)
DEFINE_ATTENTION_SIZES(attention_avx2_c, float, LOAD_F32, T256)
DEFINE_ATTENTION_SIZES(attention_f16_avx2_c, uint16_t, LOAD_F16, T256H)

/* The kernel for a head size, or the scalar reference for sizes without one. */
#define DEFINE_ATTENTION_DISPATCH(NAME, PREFIX, ELEM, FALLBACK, ATTR)                                     \
    ATTR static void NAME(float *out, float *scores, const float *q, const ELEM *k, const ELEM *v, int stride, \
                          int n, int hd, float scale) {                                                     \
        switch (hd) {                                                                                       \
        case 8: PREFIX##1(out, scores, q, k, v, stride, n, scale); return;                                  \
        case 16: PREFIX##2(out, scores, q, k, v, stride, n, scale); return;                                 \
        case 32: PREFIX##4(out, scores, q, k, v, stride, n, scale); return;                                 \
        case 48: PREFIX##6(out, scores, q, k, v, stride, n, scale); return;                                 \
        case 64: PREFIX##8(out, scores, q, k, v, stride, n, scale); return;                                 \
        case 128: PREFIX##16(out, scores, q, k, v, stride, n, scale); return;                               \
        default: FALLBACK(out, scores, q, k, v, stride, n, hd, scale);                                      \
        }                                                                                                   \
    }
DEFINE_ATTENTION_DISPATCH(attention_f16_avx2, attention_f16_avx2_c, uint16_t, slm_attention_f16_scalar, T256H)
DEFINE_ATTENTION_DISPATCH(attention_avx2, attention_avx2_c, float, slm_attention_scalar, T256)

/* Pairwise int16 products of 16 int8 values: 8 int32 lanes, lane i = a[2i]*b[2i] + a[2i+1]*b[2i+1]. */
T256 static inline __m256i madd16_i8(const int8_t *a, const int8_t *b) {
    __m256i a16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a));
    __m256i b16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b));
    return _mm256_madd_epi16(a16, b16);
}

T256 static inline int32_t hsum_epi32_avx2(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* The float part is done exactly as the scalar reference does it, group by group in order:
 * val += ((float)isum * ws[g]) * xs[g]; only the exact int32 group sums are vectorized. */
T256 static void matvec_q8_avx2(float *out, const int8_t *qx, const float *xs, const int8_t *w,
                                const float *ws, int n, int gs, int r0, int r1) {
    int groups = n / gs;
    for (int r = r0; r < r1; r++) {
        const int8_t *wr = w + (size_t)r * n;
        const float *wsr = ws + (size_t)r * groups;
        float val = 0.0f;
        int g = 0;
        if (gs == 4) { /* four groups per 16 values */
            const __m256i pick = _mm256_setr_epi32(0, 1, 4, 5, 0, 1, 4, 5);
            for (; g + 4 <= groups; g += 4) {
                __m256i p = madd16_i8(wr + g * 4, qx + g * 4);
                __m256i h = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(p, p), pick);
                __m128 t = _mm_mul_ps(_mm_mul_ps(_mm_cvtepi32_ps(_mm256_castsi256_si128(h)), _mm_loadu_ps(wsr + g)),
                                      _mm_loadu_ps(xs + g));
                float f[4];
                _mm_storeu_ps(f, t);
                val += f[0];
                val += f[1];
                val += f[2];
                val += f[3];
            }
        } else if (gs == 8) { /* two groups per 16 values */
            for (; g + 2 <= groups; g += 2) {
                __m256i p = madd16_i8(wr + g * 8, qx + g * 8);
                __m256i h = _mm256_hadd_epi32(p, p);
                h = _mm256_hadd_epi32(h, h);
                val += (float)_mm256_extract_epi32(h, 0) * wsr[g] * xs[g];
                val += (float)_mm256_extract_epi32(h, 4) * wsr[g + 1] * xs[g + 1];
            }
        } else if (gs % 16 == 0) {
            for (; g < groups; g++) {
                const int8_t *a = wr + (size_t)g * gs, *b = qx + (size_t)g * gs;
                __m256i acc = madd16_i8(a, b);
                for (int k = 16; k < gs; k += 16) acc = _mm256_add_epi32(acc, madd16_i8(a + k, b + k));
                val += (float)hsum_epi32_avx2(acc) * wsr[g] * xs[g];
            }
        }
        for (; g < groups; g++) { /* other group sizes, and what the fast paths leave */
            const int8_t *a = wr + (size_t)g * gs, *b = qx + (size_t)g * gs;
            int32_t isum = 0;
            for (int k = 0; k < gs; k++) isum += (int32_t)a[k] * (int32_t)b[k];
            val += (float)isum * wsr[g] * xs[g];
        }
        out[r] = val;
    }
}

/* exp(x) for any x (clamped to [-87, 88]), same method as exp_nonpos_avx2. */
T256 static inline __m256 exp_avx2(__m256 x) {
    return exp_nonpos_avx2(_mm256_min_ps(x, _mm256_set1_ps(88.0f)));
}

T256 static void swiglu_avx2(float *gate, const float *up, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 e = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), g));
        __m256 silu = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    if (i < n) slm_swiglu(gate + i, up + i, n - i);
}

T256 static void rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps) {
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        acc = _mm256_fmadd_ps(v, v, acc);
    }
    float ss = hsum256(acc);
    for (; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    __m256 vs = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(vs, _mm256_loadu_ps(x + i))));
    for (; i < n; i++) out[i] = w[i] * (scale * x[i]);
}

/* 16-bit weights: eight values widened to fp32 per load (F16C's vcvtph2ps for half — every AVX2
 * CPU has F16C; a shift for bfloat16), then the fp32 kernel's one-row, four-accumulator loop. */
T256H static inline __m256 load8_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
T256H static inline __m256 load8_bf16(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

#define DEFINE_MATVEC_H(NAME, LOAD, SCALAR)                                                               \
    T256H static void NAME(float *out, const float *x, const uint16_t *w, int n, int r0, int r1) {         \
        int n32 = n & ~31, nv = n & ~7;                                                                   \
        for (int r = r0; r < r1; r++) {                                                                   \
            const uint16_t *wr = w + (size_t)r * n;                                                       \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                   \
            int j = 0;                                                                                    \
            for (; j < n32; j += 32) {                                                                    \
                a0 = _mm256_fmadd_ps(LOAD(wr + j), _mm256_loadu_ps(x + j), a0);                           \
                a1 = _mm256_fmadd_ps(LOAD(wr + j + 8), _mm256_loadu_ps(x + j + 8), a1);                   \
                a2 = _mm256_fmadd_ps(LOAD(wr + j + 16), _mm256_loadu_ps(x + j + 16), a2);                 \
                a3 = _mm256_fmadd_ps(LOAD(wr + j + 24), _mm256_loadu_ps(x + j + 24), a3);                 \
            }                                                                                             \
            for (; j < nv; j += 8) a0 = _mm256_fmadd_ps(LOAD(wr + j), _mm256_loadu_ps(x + j), a0);        \
            float s = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));               \
            for (; j < n; j++) s += SCALAR(wr[j]) * x[j];                                                 \
            out[r] = s;                                                                                   \
        }                                                                                                 \
    }
DEFINE_MATVEC_H(matvec_f16_avx2, load8_f16, slm_f16_to_f32)
DEFINE_MATVEC_H(matvec_bf16_avx2, load8_bf16, slm_bf16_to_f32)

/* An f16 value at p (any alignment). */
T256H static inline float f16_at_x86(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

T256H static inline __m256 i8x8_to_ps(const int8_t *q) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)q)));
}

/* Rows as fp32 for the batched products: F16 through F16C, BF16 by a shift, Q8_0 / Q4_0 / Q4_1
 * expanded in registers (the integer code made exact first, then one product with the f16 scale,
 * and for Q4_1 one sum: the reference's roundings); K-quants through the reference. */
T256H static void dequant_row_avx2(int dtype, float *out, const void *w, int n, int64_t row) {
    int i = 0;
    if (dtype == SLM_DTYPE_F16 || dtype == SLM_DTYPE_BF16) {
        const uint16_t *h = (const uint16_t *)w + (size_t)row * (size_t)n;
        int bf = dtype == SLM_DTYPE_BF16;
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, bf ? load8_bf16(h + i) : load8_f16(h + i));
        for (; i < n; i++) out[i] = bf ? slm_bf16_to_f32(h[i]) : slm_f16_to_f32(h[i]);
        return;
    }
    if (dtype != SLM_DTYPE_Q8_0 && dtype != SLM_DTYPE_Q4_0 && dtype != SLM_DTYPE_Q4_1) {
        slm_dequant_row_scalar(dtype, out, w, n, row);
        return;
    }
    const slm_block_type *bt = slm_block_type_of((slm_dtype)dtype);
    int nb = n / 32;
    const uint8_t *p = (const uint8_t *)w + (size_t)row * (size_t)nb * (size_t)bt->block_bytes;
    for (int b = 0; b < nb; b++, p += bt->block_bytes, out += 32) {
        __m256 d = _mm256_set1_ps(f16_at_x86(p));
        if (dtype == SLM_DTYPE_Q8_0) {
            for (int k = 0; k < 32; k += 8) _mm256_storeu_ps(out + k, _mm256_mul_ps(i8x8_to_ps((const int8_t *)(p + 2) + k), d));
            continue;
        }
        int q41 = dtype == SLM_DTYPE_Q4_1;
        __m128i bytes = _mm_loadu_si128((const __m128i *)(p + (q41 ? 4 : 2))), m15 = _mm_set1_epi8(15);
        __m128i lo = _mm_and_si128(bytes, m15), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), m15);
        if (!q41) lo = _mm_sub_epi8(lo, _mm_set1_epi8(8)), hi = _mm_sub_epi8(hi, _mm_set1_epi8(8));
        __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        __m256 m = _mm256_set1_ps(q41 ? f16_at_x86(p + 2) : 0.0f);
        for (int k = 0; k < 4; k++) {
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[k])), d);
            _mm256_storeu_ps(out + 8 * k, q41 ? _mm256_add_ps(v, m) : v);
        }
    }
}

/* Fifth bits as 16 in each byte, from a vector holding them at bit 2c (low nibbles of quant chunk c)
 * or 2c + 1 (high nibbles): Q5_K's qh. Bit 2c
 * (2c + 1) of every byte moves to bit 4 by one 16-bit shift s = 4 - 2c (3 - 2c): at most 4 left or 3
 * right, so bit 4 of each byte comes from its own byte; then a mask. */
T256H static inline __attribute__((always_inline)) __m256i q5_fifth(__m256i plane, int s) {
    __m256i v = s > 0 ? _mm256_slli_epi16(plane, s) : s < 0 ? _mm256_srli_epi16(plane, -s) : plane;
    return _mm256_and_si256(v, _mm256_set1_epi8(16));
}

/* Integer block products (see slm_matvec_bq_scalar): per block the 32 products are summed exactly
 * by maddubs (unsigned x signed bytes to int16 pairs; |values| <= 128 * 127 * 2 never saturate) and
 * madd; four blocks' sums are reduced together and their float terms added to four lanes, block b
 * into lane b % 4, as the reference does. */
T256H static inline __attribute__((always_inline)) __m256i bq_block_sums(int dtype, const uint8_t *p, const int8_t *x) {
    __m256i xv = _mm256_loadu_si256((const __m256i *)x), pr;
    if (dtype == SLM_DTYPE_Q8_0) {
        __m256i wv = _mm256_loadu_si256((const __m256i *)(p + 2));
        pr = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(xv, wv));
    } else {
        /* the 16 bytes in both halves, the upper half shifted right by 4: low nibbles below, high above */
        int qoff = dtype == SLM_DTYPE_Q4_1 ? 4 : dtype == SLM_DTYPE_Q5_0 ? 6 : dtype == SLM_DTYPE_Q5_1 ? 8 : 2;
        __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(p + qoff)));
        __m256i q = _mm256_and_si256(_mm256_srlv_epi32(b, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(15));
        if (dtype == SLM_DTYPE_Q5_0 || dtype == SLM_DTYPE_Q5_1) { /* byte i gets bit i of qh as 16: qh's byte i / 8 spread, bit i % 8 tested */
            int32_t qh;
            memcpy(&qh, p + qoff - 4, 4);
            __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(qh), _mm256_setr_epi64x(0, 0x0101010101010101,
                                                                                         0x0202020202020202, 0x0303030303030303));
            const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
            __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
            q = _mm256_or_si256(q, _mm256_and_si256(set, _mm256_set1_epi8(16)));
        }
        if (dtype == SLM_DTYPE_IQ4_NL) { /* the nibbles index the table: signed weights, taken as Q8_0's */
            __m256i wv = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)SLM_IQ4NL)), q);
            pr = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(xv, wv));
        } else pr = _mm256_maddubs_epi16(q, xv); /* values <= 31: pairs <= 2 * 31 * 128, no saturation */
    }
    return _mm256_madd_epi16(pr, _mm256_set1_epi16(1));
}

/* Four f16 values stride bytes apart as floats: four 32-bit loads interleaved in registers
 * (building them in memory would stall on store forwarding). */
T256H static inline __m128 f16x4_at(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3) {
    uint32_t w0, w1, w2, w3; /* each holds its f16 in the low half */
    memcpy(&w0, p0, 4), memcpy(&w1, p1, 4), memcpy(&w2, p2, 4), memcpy(&w3, p3, 4);
    __m128i a = _mm_unpacklo_epi16(_mm_cvtsi32_si128((int)w0), _mm_cvtsi32_si128((int)w1));
    __m128i c = _mm_unpacklo_epi16(_mm_cvtsi32_si128((int)w2), _mm_cvtsi32_si128((int)w3));
    return _mm_cvtph_ps(_mm_unpacklo_epi32(a, c));
}

/* The totals of four vectors of eight int32, one per lane (exact: integer adds in any order). */
T256H static inline __m128i sum4x8(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
    __m256i u01 = _mm256_add_epi32(_mm256_unpacklo_epi32(s0, s1), _mm256_unpackhi_epi32(s0, s1));
    __m256i u23 = _mm256_add_epi32(_mm256_unpacklo_epi32(s2, s3), _mm256_unpackhi_epi32(s2, s3));
    __m256i w = _mm256_add_epi32(_mm256_unpacklo_epi64(u01, u23), _mm256_unpackhi_epi64(u01, u23));
    return _mm_add_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

/* The float terms of blocks p[0..3] (activation blocks x[0..3]), lane k for block k. */
T256H static inline __attribute__((always_inline)) __m128 bq_group_term(int dtype, const uint8_t *const p[4],
                                                                         const int8_t *const x[4], __m128i sums,
                                                                         __m128 d) {
    __m128i dots = sum4x8(bq_block_sums(dtype, p[0], x[0]), bq_block_sums(dtype, p[1], x[1]),
                          bq_block_sums(dtype, p[2], x[2]), bq_block_sums(dtype, p[3], x[3]));
    if (dtype == SLM_DTYPE_Q4_0) dots = _mm_sub_epi32(dots, _mm_slli_epi32(sums, 3));
    if (dtype == SLM_DTYPE_Q5_0) dots = _mm_sub_epi32(dots, _mm_slli_epi32(sums, 4));
    __m128 term = _mm_mul_ps(_mm_mul_ps(f16x4_at(p[0], p[1], p[2], p[3]), d), _mm_cvtepi32_ps(dots));
    if (dtype == SLM_DTYPE_Q4_1 || dtype == SLM_DTYPE_Q5_1)
        term = _mm_add_ps(term, _mm_mul_ps(_mm_mul_ps(f16x4_at(p[0] + 2, p[1] + 2, p[2] + 2, p[3] + 2), d),
                                           _mm_cvtepi32_ps(sums)));
    return term;
}

/* A row's result from its four lane sums after the groups of four: the last 1-3 blocks (see
 * matvec_bq_body), then (a0 + a1) + (a2 + a3). */
T256H static inline __attribute__((always_inline)) float
bq_row_rest(int dtype, __m128 acc, const uint8_t *row, int bb, int nb4, int rest, const int8_t *const xt[4],
            const int32_t st[4], const float dt[4], __m128 keep) {
    if (rest == 1) { /* one block: its sum reduced alone, its term added to lane 0 only */
        const uint8_t *p = row + (size_t)nb4 * bb;
        __m256i sv = bq_block_sums(dtype, p, xt[0]);
        __m128i t = _mm_add_epi32(_mm256_castsi256_si128(sv), _mm256_extracti128_si256(sv, 1));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(1, 0, 3, 2)));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1)));
        int32_t dot = _mm_cvtsi128_si32(t);
        float term;
        if (dtype == SLM_DTYPE_Q4_1 || dtype == SLM_DTYPE_Q5_1)
            term = (f16_at_x86(p) * dt[0]) * (float)dot + (f16_at_x86(p + 2) * dt[0]) * (float)st[0];
        else term = (f16_at_x86(p) * dt[0]) * (float)(dtype == SLM_DTYPE_Q4_0   ? dot - 8 * st[0]
                                                     : dtype == SLM_DTYPE_Q5_0 ? dot - 16 * st[0]
                                                                               : dot);
        acc = _mm_add_ss(acc, _mm_set_ss(term));
    } else if (rest == 2) { /* two blocks: their sums reduced together, terms added to lanes 0 and 1 */
        const uint8_t *p0 = row + (size_t)nb4 * bb, *p1 = p0 + bb;
        __m256i s0 = bq_block_sums(dtype, p0, xt[0]), s1 = bq_block_sums(dtype, p1, xt[1]);
        __m256i u = _mm256_add_epi32(_mm256_unpacklo_epi32(s0, s1), _mm256_unpackhi_epi32(s0, s1));
        __m128i v = _mm_add_epi32(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1)); /* s0 s1 s0 s1 parts */
        __m128i dots = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));    /* block 0, 1, 0, 1 */
        __m128i sums = _mm_loadu_si128((const __m128i *)st);
        __m128 d = _mm_loadu_ps(dt);
        if (dtype == SLM_DTYPE_Q4_0) dots = _mm_sub_epi32(dots, _mm_slli_epi32(sums, 3));
        if (dtype == SLM_DTYPE_Q5_0) dots = _mm_sub_epi32(dots, _mm_slli_epi32(sums, 4));
        __m128 t = _mm_mul_ps(_mm_mul_ps(f16x4_at(p0, p1, p0, p1), d), _mm_cvtepi32_ps(dots));
        if (dtype == SLM_DTYPE_Q4_1 || dtype == SLM_DTYPE_Q5_1)
            t = _mm_add_ps(t, _mm_mul_ps(_mm_mul_ps(f16x4_at(p0 + 2, p1 + 2, p0 + 2, p1 + 2), d), _mm_cvtepi32_ps(sums)));
        acc = _mm_blendv_ps(acc, _mm_add_ps(acc, t), keep);
    } else if (rest) {
        const uint8_t *p[4];
        for (int k = 0; k < 4; k++) p[k] = row + (size_t)(nb4 + (k < rest ? k : 0)) * bb;
        __m128 t = bq_group_term(dtype, p, xt, _mm_loadu_si128((const __m128i *)st), _mm_loadu_ps(dt));
        acc = _mm_blendv_ps(acc, _mm_add_ps(acc, t), keep);
    }
    __m128 h = _mm_add_ps(acc, _mm_shuffle_ps(acc, acc, _MM_SHUFFLE(2, 3, 0, 1))); /* a0+a1, ., a2+a3, . */
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehl_ps(h, h)));
}

#ifndef PF_DIST
#define PF_DIST 4096 /* bytes ahead in the row stream: measured best of 1-12 KiB here */
#endif
T256H static inline __attribute__((always_inline)) void
matvec_bq_body(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum, const void *w, int n,
               int r0, int r1) {
    int nb = n / 32, bb = slm_block_type_of((slm_dtype)dtype)->block_bytes, nb4 = nb & ~3, rest = nb - nb4;
    size_t rb = (size_t)nb * (size_t)bb;
    /* the last 1-3 blocks as one more group: missing blocks read block nb4 again (never past the
     * row or the activations) and their lanes are left out, so lane k still gets exactly the
     * reference's terms */
    const int8_t *xt[4];
    int32_t st[4] = {0, 0, 0, 0};
    float dt[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4; k++) {
        int b = nb4 + (k < rest ? k : 0);
        xt[k] = qx + (size_t)b * 32;
        if (k < rest) st[k] = xsum[b], dt[k] = xd[b];
    }
    __m128 keep = _mm_castsi128_ps(_mm_cmpgt_epi32(_mm_set1_epi32(rest), _mm_setr_epi32(0, 1, 2, 3)));
    int r = r0;
    if (nb <= 2) { /* rows of one or two blocks (dims 32, 64): the blocks of 4 / nb rows make one group */
        int per = 4 / nb;
        const int8_t *x[4] = {qx, nb == 2 ? qx + 32 : qx, qx, nb == 2 ? qx + 32 : qx};
        int32_t sv[4] = {xsum[0], xsum[nb - 1], xsum[0], xsum[nb - 1]};
        float dv[4] = {xd[0], xd[nb - 1], xd[0], xd[nb - 1]};
        __m128i sums = _mm_loadu_si128((const __m128i *)sv);
        __m128 d = _mm_loadu_ps(dv);
        for (; r + per <= r1; r += per) {
            const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;
            const uint8_t *p[4] = {row, row + bb, row + 2 * (size_t)bb, row + 3 * (size_t)bb}; /* consecutive blocks */
            float t[4];
            _mm_storeu_ps(t, _mm_add_ps(_mm_setzero_ps(), bq_group_term(dtype, p, x, sums, d))); /* 0 + term, as acc[b] += term */
            for (int k = 0; k < per; k++) { /* the reference's (a0 + a1) + (a2 + a3), the unused lanes +0 */
                float a0 = t[k * nb], a1 = nb == 2 ? t[k * nb + 1] : 0.0f;
                out[r + k] = (a0 + a1) + (0.0f + 0.0f);
            }
        }
    }
    for (; r < r1; r++) { /* (two rows at a time, sharing the activation loads, measured slower) */
        const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;
        __m128 acc = _mm_setzero_ps();
        for (int b = 0; b < nb4; b += 4) {
            if (PF_DIST) _mm_prefetch((const char *)(row + PF_DIST + (size_t)b * bb), _MM_HINT_T0);
            if (PF_DIST && (dtype == SLM_DTYPE_Q8_0 || dtype == SLM_DTYPE_Q5_0 || dtype == SLM_DTYPE_Q5_1)) _mm_prefetch((const char *)(row + PF_DIST + (size_t)b * bb + 64), _MM_HINT_T0);
            const uint8_t *p[4] = {row + (size_t)b * bb, row + (size_t)(b + 1) * bb, row + (size_t)(b + 2) * bb,
                                   row + (size_t)(b + 3) * bb};
            const int8_t *x[4] = {qx + (size_t)b * 32, qx + (size_t)b * 32 + 32, qx + (size_t)b * 32 + 64,
                                  qx + (size_t)b * 32 + 96};
            acc = _mm_add_ps(acc, bq_group_term(dtype, p, x, _mm_loadu_si128((const __m128i *)(xsum + b)),
                                                _mm_loadu_ps(xd + b)));
        }
        out[r] = bq_row_rest(dtype, acc, row, bb, nb4, rest, xt, st, dt, keep);
    }
}

/* slm_quantize_x32 with AVX2, to the same bytes: the same max, scale and reciprocal; roundf (half
 * away from zero) as trunc plus one where the exact remainder is >= 0.5; NaN to 0; clamp to 127. */
T256H static void quantize_x32_avx2(int8_t *q, float *d, int32_t *sum, const float *x, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 lim = _mm256_set1_ps(127.0f);
    for (int b = 0; b < n / 32; b++) {
        const float *xb = x + (size_t)b * 32;
        __m256 v[4], amax = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(xb + 8 * k);
            amax = _mm256_max_ps(_mm256_andnot_ps(sign, v[k]), amax); /* a NaN first operand gives amax: skipped, as in the reference */
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
        float scale = _mm_cvtss_f32(m4) / 127.0f, inv = scale > 0.0f ? 1.0f / scale : 0.0f;
        d[b] = scale;
        __m256i iv[4];
        for (int k = 0; k < 4; k++) {
            __m256 y = _mm256_mul_ps(v[k], _mm256_set1_ps(inv));
            __m256 t = _mm256_round_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            __m256 up = _mm256_and_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(y, t)), half, _CMP_GE_OQ), one);
            __m256 r = _mm256_add_ps(t, _mm256_or_ps(up, _mm256_and_ps(y, sign))); /* +-1 with y's sign, or +-0 */
            r = _mm256_max_ps(_mm256_min_ps(r, lim), _mm256_sub_ps(_mm256_setzero_ps(), lim));
            r = _mm256_and_ps(r, _mm256_cmp_ps(y, y, _CMP_ORD_Q)); /* NaN -> 0 */
            iv[k] = _mm256_cvttps_epi32(r);
        }
        __m256i p16a = _mm256_packs_epi32(iv[0], iv[1]), p16b = _mm256_packs_epi32(iv[2], iv[3]);
        __m256i p8 = _mm256_packs_epi16(p16a, p16b); /* lanes interleaved by the 128-bit packs: restore order */
        p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(q + (size_t)b * 32), p8);
        __m256i s = _mm256_add_epi32(_mm256_add_epi32(iv[0], iv[1]), _mm256_add_epi32(iv[2], iv[3]));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_hadd_epi32(s4, s4), s4 = _mm_hadd_epi32(s4, s4);
        sum[b] = _mm_cvtsi128_si32(s4);
    }
}

/* Eight vectors of int32 to one vector of their eight sums (exact: any order). */
T256 static inline __m256i reduce8_epi32(__m256i a0, __m256i a1, __m256i a2, __m256i a3, __m256i a4, __m256i a5,
                                         __m256i a6, __m256i a7) {
    __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(a4, a5), _mm256_hadd_epi32(a6, a7));
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20), _mm256_permute2x128_si256(h0, h1, 0x31));
}

/* Q4_K / Q5_K rows on int8 activations (slm_matvec_bq_scalar's order): a super-block's eight
 * sub-block dot products (maddubs of values <= 31 by |x| <= 127 pairs: <= 7874, no 16-bit overflow)
 * come out as the eight lanes of one vector, so the scales, mins and partial sums are vectors by
 * sub-block. Q5_K's fifth bits (bit j of qh[l] for sub-block j) go to bit 4 as q5_fifth does. */
T256H static inline __attribute__((always_inline)) void matvec_q45k_body(int q5, float *out, const int8_t *qx, const float *xd,
                                                                         const int32_t *xsum, const void *w, int n, int r0,
                                                                         int r1) {
    int nk = n / 256, bb = q5 ? 176 : 144, qo = q5 ? 48 : 16;
    const __m256i m15 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    for (int r = r0; r < r1; r++) {
        const uint8_t *p = (const uint8_t *)w + (size_t)r * (size_t)nk * bb;
        __m256 acc = _mm256_setzero_ps();
        for (int k = 0; k < nk; k++, p += bb) {
            uint64_t scb, mnb;
            slm_q4k_scales_mins8(p + 4, &scb, &mnb);
            __m256 scf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)scb)));
            __m256 mnf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)mnb)));
            const int8_t *x = qx + (size_t)k * 256;
            __m256i dq[8], qh = q5 ? _mm256_loadu_si256((const __m256i *)(p + 16)) : _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(p + qo + 32 * c));
                __m256i lo = _mm256_and_si256(v, m15), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m15);
                if (q5) lo = _mm256_or_si256(lo, q5_fifth(qh, 4 - 2 * c)), hi = _mm256_or_si256(hi, q5_fifth(qh, 3 - 2 * c));
                dq[2 * c] = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(x + 64 * c))), ones);
                dq[2 * c + 1] =
                    _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(x + 64 * c + 32))), ones);
            }
            __m256 dots = _mm256_cvtepi32_ps(reduce8_epi32(dq[0], dq[1], dq[2], dq[3], dq[4], dq[5], dq[6], dq[7]));
            __m256 vxd = _mm256_loadu_ps(xd + 8 * k);
            __m256 a = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(f16_at_x86(p)), scf), vxd);
            __m256 o = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(f16_at_x86(p + 2)), mnf), vxd);
            __m256 xs = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(xsum + 8 * k)));
            acc = _mm256_add_ps(acc, _mm256_sub_ps(_mm256_mul_ps(a, dots), _mm256_mul_ps(o, xs)));
        }
        out[r] = hsum256(acc);
    }
}

T256H static void matvec_q4k_int_avx2(float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                                      const void *w, int n, int r0, int r1) {
    matvec_q45k_body(0, out, qx, xd, xsum, w, n, r0, r1);
}

T256H static void matvec_q5k_int_avx2(float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                                      const void *w, int n, int r0, int r1) {
    matvec_q45k_body(1, out, qx, xd, xsum, w, n, r0, r1);
}

/* Q4_K rows packed in groups of eight (quant.h), slm_matvec_bq_scalar's order: lane r of every
 * vector is row r of the group, so sub-block j's eight dots come out of 32-byte loads with no
 * horizontal sums, and each row's partial sum j takes its term from vectors of the rows' d, dmin,
 * scale and min. */
/* Bytes 8i .. 8i + 7 of v as eight floats. */
T256H static inline __attribute__((always_inline)) __m256 q4k_lane_bytes(__m256i v, int i) {
    __m128i h = i < 2 ? _mm256_castsi256_si128(v) : _mm256_extracti128_si256(v, 1);
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(i & 1 ? _mm_unpackhi_epi64(h, h) : h));
}

/* One super-block of S (1 or 2) packed Q4_K groups at g[0..S-1] (rows in lanes) into acc[s][j],
 * row r's partial sum j as the reference's acc[j]: first each group's d * scale_j and dmin * min_j
 * for its eight rows (the scales and mins unpacked from their 6 bits), then per pair of sub-blocks
 * the exact dots (the activations broadcast once for both groups; a sub-block's 16-bit sums add
 * eight maddubs of a nibble <= 15 by |x| <= 127 pairs: <= 8 * 2 * 15 * 127 = 30480), then the float
 * terms in the reference's order. q5 (Q5_K, with S = 1): the fifth bits or-ed in from the group's
 * fifth-bit vectors (quant.h) as q5_fifth does, the 16-bit sums widened every four chunks. */
T256H static inline __attribute__((always_inline)) void q4k_superblock(int q5, int S, const uint8_t *const *g,
                                                                       const int8_t *x, const float *xd,
                                                                       const int32_t *xsum, __m256 (*acc)[8]) {
    const __m256i m15 = _mm256_set1_epi8(15), m48 = _mm256_set1_epi8(48), ones = _mm256_set1_epi16(1);
    __m256 ds[2][8], dm[2][8];
#pragma GCC unroll 2
    for (int s = 0; s < S; s++) {
        const uint8_t *p = g[s];
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(p + 32)), b1 = _mm256_loadu_si256((const __m256i *)(p + 64));
        __m256i h0 = _mm256_loadu_si256((const __m256i *)(p + 96)), h1 = _mm256_srli_epi16(h0, 4);
        /* scales of sub-blocks 0-3 and 4-7 (byte 8j + r), then the mins */
        __m256i sc03 = _mm256_or_si256(_mm256_and_si256(b0, m15), _mm256_and_si256(_mm256_slli_epi16(h0, 4), m48));
        __m256i sc47 = _mm256_or_si256(_mm256_and_si256(b1, m15), _mm256_and_si256(_mm256_slli_epi16(h1, 4), m48));
        __m256i mn03 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b0, 4), m15), _mm256_and_si256(_mm256_slli_epi16(h0, 2), m48));
        __m256i mn47 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b1, 4), m15), _mm256_and_si256(_mm256_slli_epi16(h1, 2), m48));
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)), dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            ds[s][j] = _mm256_mul_ps(d, q4k_lane_bytes(j < 4 ? sc03 : sc47, j & 3));
            dm[s][j] = _mm256_mul_ps(dmin, q4k_lane_bytes(j < 4 ? mn03 : mn47, j & 3));
        }
    }
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        __m256i lo[2], hi[2], lo32[2], hi32[2], f = _mm256_setzero_si256();
        if (q5) /* the group's next super-block, a quarter at a time (as q6k_superblock; S is 1 here) */
            for (int i = 0; i < 6; i++) _mm_prefetch((const char *)(g[0] + 1408 + 352 * p + 64 * i), _MM_HINT_T0);
#pragma GCC unroll 2
        for (int s = 0; s < S; s++) lo[s] = hi[s] = lo32[s] = hi32[s] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            int32_t l4, h4;
            memcpy(&l4, x + 64 * p + 4 * c, 4), memcpy(&h4, x + 64 * p + 32 + 4 * c, 4);
            __m256i xl = _mm256_set1_epi32(l4), xh = _mm256_set1_epi32(h4);
#pragma GCC unroll 2
            for (int s = 0; s < S; s++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(g[s] + 128 + 256 * p + 32 * c));
                __m256i vl = _mm256_and_si256(v, m15), vh = _mm256_and_si256(_mm256_srli_epi16(v, 4), m15);
                if (q5) { /* the fifth bits of chunk c: bits 2i, 2i + 1 of the pair's vector c / 4 (i = c % 4) */
                    if (c % 4 == 0) f = _mm256_loadu_si256((const __m256i *)(g[s] + 1152 + 64 * p + 32 * (c / 4)));
                    vl = _mm256_or_si256(vl, q5_fifth(f, 4 - 2 * (c % 4))), vh = _mm256_or_si256(vh, q5_fifth(f, 3 - 2 * (c % 4)));
                }
                lo[s] = _mm256_add_epi16(lo[s], _mm256_maddubs_epi16(vl, xl));
                hi[s] = _mm256_add_epi16(hi[s], _mm256_maddubs_epi16(vh, xh));
                if (q5 && c == 3) { /* values <= 31: four maddubs (<= 4 * 2 * 31 * 127) per 16-bit sum */
                    lo32[s] = _mm256_madd_epi16(lo[s], ones), hi32[s] = _mm256_madd_epi16(hi[s], ones);
                    lo[s] = hi[s] = _mm256_setzero_si256();
                }
            }
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            int j = 2 * p + h;
            __m256 xdj = _mm256_set1_ps(xd[j]), xs = _mm256_set1_ps((float)xsum[j]);
#pragma GCC unroll 2
            for (int s = 0; s < S; s++) {
                __m256i d32 = _mm256_madd_epi16(h ? hi[s] : lo[s], ones);
                if (q5) d32 = _mm256_add_epi32(d32, h ? hi32[s] : lo32[s]);
                __m256 dot = _mm256_cvtepi32_ps(d32);
                __m256 a = _mm256_mul_ps(ds[s][j], xdj), o = _mm256_mul_ps(dm[s][j], xdj);
                acc[s][j] = _mm256_add_ps(acc[s][j], _mm256_sub_ps(_mm256_mul_ps(a, dot), _mm256_mul_ps(o, xs)));
            }
        }
    }
}

/* One super-block of a packed Q6_K group (quant.h) into acc[j], rows in lanes, as the reference's
 * q6k_superblock: a 6-bit value (0..63) is a nibble or-ed with two bits of the high-bit vector
 * shifted to bits 4-5; maddubs by |x| <= 127 (pairs <= 2 * 63 * 127), widened at once; the -32 of
 * each value comes off per half block as 32 times its activations' sum (bytes 0-15 by a sum of
 * absolute differences from -128; bytes 16-31: the block's sum less that), and the halves' sums
 * times their scales give the exact dot. The next super-block of the group is prefetched a quarter
 * at a time: without it the hardware prefetcher left this walk (nibbles and high bits side by side,
 * two groups) at 7-8 GB/s from DRAM on one core here, against 19-20 with it (the same kernel in L2:
 * 15-24 GB/s). */
T256H static inline __attribute__((always_inline)) void q6k_superblock(const uint8_t *g, const int8_t *x, const float *xd,
                                                                       const int32_t *xsum, __m256 *acc) {
    const __m256i m15 = _mm256_set1_epi8(15), m48 = _mm256_set1_epi8(48), ones = _mm256_set1_epi16(1);
    __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g));
    const uint8_t *nib = g + 144, *hib = g + 1168;
#pragma GCC unroll 4
    for (int P = 0; P < 4; P++) {
        for (int i = 0; i < 7; i++) _mm_prefetch((const char *)(g + 1680 + 420 * P + 64 * i), _MM_HINT_T0);
        __m256i u[2][2]; /* [side][half] */
        u[0][0] = u[0][1] = u[1][0] = u[1][1] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int m = 0; m < 4; m++) {
            __m256i H = _mm256_loadu_si256((const __m256i *)(hib + 128 * P + 32 * m));
#pragma GCC unroll 2
            for (int half = 0; half < 2; half++) {
                int c = m + 4 * half, l4, h4;
                memcpy(&l4, x + 64 * P + 4 * c, 4), memcpy(&h4, x + 64 * P + 32 + 4 * c, 4);
                __m256i v = _mm256_loadu_si256((const __m256i *)(nib + 256 * P + 32 * c));
                __m256i lo = _mm256_or_si256(_mm256_and_si256(v, m15), _mm256_and_si256(half ? H : _mm256_slli_epi16(H, 4), m48));
                __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m15),
                                             _mm256_and_si256(half ? _mm256_srli_epi16(H, 2) : _mm256_slli_epi16(H, 2), m48));
                u[0][half] = _mm256_add_epi32(u[0][half], _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(l4)), ones));
                u[1][half] = _mm256_add_epi32(u[1][half], _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_set1_epi32(h4)), ones));
            }
        }
#pragma GCC unroll 2
        for (int side = 0; side < 2; side++) {
            int j = 2 * P + side;
            __m128i sad = _mm_sad_epu8(_mm_xor_si128(_mm_loadu_si128((const __m128i *)(x + 32 * j)), _mm_set1_epi8((char)0x80)),
                                       _mm_setzero_si128());
            int32_t s0 = _mm_cvtsi128_si32(sad) + _mm_extract_epi32(sad, 2) - 16 * 128, s1 = xsum[j] - s0;
            __m256i sa = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(g + 16 + 16 * j)));
            __m256i sb = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(g + 24 + 16 * j)));
            __m256i dot = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_sub_epi32(u[side][0], _mm256_set1_epi32(32 * s0)), sa),
                                           _mm256_mullo_epi32(_mm256_sub_epi32(u[side][1], _mm256_set1_epi32(32 * s1)), sb));
            acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_mul_ps(d, _mm256_set1_ps(xd[j])), _mm256_cvtepi32_ps(dot)));
        }
    }
}

/* The eight rows of S (1 or 2) packed Q4_K / Q5_K / Q6_K groups at pg[0..S-1] (nk super-blocks each) into
 * res[0..S-1], the groups' super-blocks in turn (two read streams); the partial sums end in
 * hsum256's order, as the reference's sum8. */
T256H static inline __attribute__((always_inline)) void kq_groups(int dtype, int S, const uint8_t *const *pg, int nk,
                                                                  const int8_t *qx, const float *xd, const int32_t *xsum,
                                                                  __m256 *res) {
    int gb = 8 * slm_bq8_block_bytes(dtype);
    __m256 acc[2][8];
#pragma GCC unroll 2
    for (int s = 0; s < S; s++)
        for (int j = 0; j < 8; j++) acc[s][j] = _mm256_setzero_ps();
    for (int k = 0; k < nk; k++) {
        const uint8_t *g[2] = {pg[0] + (size_t)k * gb, S > 1 ? pg[1] + (size_t)k * gb : NULL};
        if (dtype == SLM_DTYPE_Q4_K) q4k_superblock(0, S, g, qx + (size_t)k * 256, xd + 8 * k, xsum + 8 * k, acc);
        else if (dtype == SLM_DTYPE_Q5_K)
#pragma GCC unroll 2
            for (int s = 0; s < S; s++) q4k_superblock(1, 1, g + s, qx + (size_t)k * 256, xd + 8 * k, xsum + 8 * k, acc + s);
        else
#pragma GCC unroll 2
            for (int s = 0; s < S; s++) q6k_superblock(g[s], qx + (size_t)k * 256, xd + 8 * k, xsum + 8 * k, acc[s]);
    }
#pragma GCC unroll 2
    for (int s = 0; s < S; s++) {
        __m256 *a = acc[s];
        res[s] = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6])),
                               _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7])));
    }
}

/* The exact dot of activation block j (x, 32 int8) with 32 signed values qs (|q| <= 32), the first
 * 16 products times sub-block scale 2j and the others times 2j + 1 (sc16: a super-block's 16 scales
 * as int16), as eight int32 partial sums: maddubs of |q| by x with q's sign, then madd by the
 * scales spread over the 16-bit lanes (the low half of each 128-bit lane gets 2j, the high 2j + 1). */
T256H static inline __attribute__((always_inline)) __m256i sb16_dot(__m256i qs, const int8_t *x, __m256i sc16, int j) {
    const __m256i pick = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2,
                                          3, 2, 3, 2, 3);
    __m256i pr = _mm256_maddubs_epi16(_mm256_abs_epi8(qs), _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)x), qs));
    return _mm256_madd_epi16(pr, _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(sc16, _mm256_set1_epi32(j)), pick));
}

/* Q6_K rows on int8 activations (slm_matvec_bq_scalar's order). The 6-bit values of activation block
 * j come together as 32 bytes, minus 32; maddubs of |q| <= 32 by x with q's sign (pairs <= 8128),
 * then madd by the sub-block scales as 16-bit lanes (the first 16 values' scale in the low half,
 * the second's in the high half) gives exact int32 partial dots; reduce8_epi32 turns the eight
 * blocks' partials into one vector of eight dots. */
T256H static void matvec_q6k_int_avx2(float *out, const int8_t *qx, const float *xd, const void *w, int n, int r0,
                                      int r1) {
    int nk = n / 256;
    const __m256i m15 = _mm256_set1_epi8(15), m48 = _mm256_set1_epi8(48), k32 = _mm256_set1_epi8(32);
    for (int r = r0; r < r1; r++) {
        const uint8_t *p = (const uint8_t *)w + (size_t)r * (size_t)nk * 210;
        __m256 acc = _mm256_setzero_ps();
        for (int k = 0; k < nk; k++, p += 210) {
            /* 32-bit element j of sc16 holds the 16-bit scales of sub-blocks 2j and 2j + 1 */
            __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 192)));
            const int8_t *x = qx + (size_t)k * 256;
            __m256i dq[8];
            for (int h = 0; h < 2; h++) {
                __m256i L0 = _mm256_loadu_si256((const __m256i *)(p + 64 * h));
                __m256i L1 = _mm256_loadu_si256((const __m256i *)(p + 64 * h + 32));
                __m256i H = _mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h));
                __m256i q[4];
                q[0] = _mm256_or_si256(_mm256_and_si256(L0, m15), _mm256_and_si256(_mm256_slli_epi16(H, 4), m48));
                q[1] = _mm256_or_si256(_mm256_and_si256(L1, m15), _mm256_and_si256(_mm256_slli_epi16(H, 2), m48));
                q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), m15), _mm256_and_si256(H, m48));
                q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), m15),
                                       _mm256_and_si256(_mm256_srli_epi16(H, 2), m48));
                for (int g = 0; g < 4; g++) dq[4 * h + g] = sb16_dot(_mm256_sub_epi8(q[g], k32), x + 32 * (4 * h + g), sc16, 4 * h + g);
            }
            __m256 dots = _mm256_cvtepi32_ps(reduce8_epi32(dq[0], dq[1], dq[2], dq[3], dq[4], dq[5], dq[6], dq[7]));
            __m256 a = _mm256_mul_ps(_mm256_set1_ps(f16_at_x86(p + 208)), _mm256_loadu_ps(xd + 8 * k));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(a, dots));
        }
        out[r] = hsum256(acc);
    }
}

/* Rows [r0, r1) of a packed Q4_K / Q5_K / Q6_K matrix: whole groups two at a time (the first half of the range side
 * by side with the second, as bq8_walk), parts of groups through a whole group's results, the rows
 * after the last whole group row-major. */
T256H static inline __attribute__((always_inline)) void kq_walk(int dtype, float *out, const int8_t *qx, const float *xd,
                                                                const int32_t *xsum, const void *w, int n, int rows, int r0,
                                                                int r1) {
    int nk = n / 256, rows8 = rows & ~7, end = r1 < rows8 ? r1 : rows8;
    size_t gsz = (size_t)nk * 8 * (size_t)slm_bq8_block_bytes(dtype);
    const uint8_t *wb = w;
    int g0 = (r0 + 7) / 8, g1 = end / 8;
    for (int g = r0 / 8; g * 8 < end; g = g < g0 || g >= g1 ? g + 1 : g1) {
        if (g >= g0 && g < g1) { /* whole groups [g0, g1) */
            int h = (g1 - g0 + 1) / 2;
            for (int i = 0; i + h < g1 - g0; i++) {
                const uint8_t *pg[2] = {wb + (size_t)(g0 + i) * gsz, wb + (size_t)(g0 + h + i) * gsz};
                __m256 res[2];
                kq_groups(dtype, 2, pg, nk, qx, xd, xsum, res);
                _mm256_storeu_ps(out + 8 * (g0 + i), res[0]);
                _mm256_storeu_ps(out + 8 * (g0 + h + i), res[1]);
            }
            if ((g1 - g0) % 2) {
                const uint8_t *pg[1] = {wb + (size_t)(g0 + h - 1) * gsz};
                __m256 res[1];
                kq_groups(dtype, 1, pg, nk, qx, xd, xsum, res);
                _mm256_storeu_ps(out + 8 * (g0 + h - 1), res[0]);
            }
            continue;
        }
        /* a part of group g */
        const uint8_t *pg[1] = {wb + (size_t)g * gsz};
        __m256 res[1];
        float t[8];
        kq_groups(dtype, 1, pg, nk, qx, xd, xsum, res);
        _mm256_storeu_ps(t, res[0]);
        for (int r = r0 > 8 * g ? r0 : 8 * g; r < end && r < 8 * g + 8; r++) out[r] = t[r - 8 * g];
    }
    if (r1 > rows8) { /* row-major */
        const uint8_t *tail = wb + (size_t)rows8 * (size_t)nk * (size_t)slm_bq8_block_bytes(dtype);
        int t0 = (r0 > rows8 ? r0 : rows8) - rows8;
        if (dtype == SLM_DTYPE_Q4_K) matvec_q4k_int_avx2(out + rows8, qx, xd, xsum, tail, n, t0, r1 - rows8);
        else if (dtype == SLM_DTYPE_Q5_K) matvec_q5k_int_avx2(out + rows8, qx, xd, xsum, tail, n, t0, r1 - rows8);
        else matvec_q6k_int_avx2(out + rows8, qx, xd, tail, n, t0, r1 - rows8);
    }
}

T256H static void matvec_q4k_bq8_avx2(float *out, const int8_t *qx, const float *xd, const int32_t *xsum, const void *w,
                                      int n, int rows, int r0, int r1) {
    kq_walk(SLM_DTYPE_Q4_K, out, qx, xd, xsum, w, n, rows, r0, r1);
}

T256H static void matvec_q5k_bq8_avx2(float *out, const int8_t *qx, const float *xd, const int32_t *xsum, const void *w,
                                      int n, int rows, int r0, int r1) {
    kq_walk(SLM_DTYPE_Q5_K, out, qx, xd, xsum, w, n, rows, r0, r1);
}

T256H static void matvec_q6k_bq8_avx2(float *out, const int8_t *qx, const float *xd, const int32_t *xsum, const void *w,
                                      int n, int rows, int r0, int r1) {
    kq_walk(SLM_DTYPE_Q6_K, out, qx, xd, xsum, w, n, rows, r0, r1);
}

/* Q3_K rows on int8 activations (slm_matvec_bq_scalar's order), as Q6_K: the 3-bit values of
 * activation block j (two bits at 2c of the half's 32 quant bytes, the third bit 4h + c of hmask)
 * minus 4, maddubs of |q| <= 4 by x with q's sign, madd by the two sub-block scales (unpacked to
 * int16 once per super-block), reduce8_epi32 to the eight dots. */
T256H static void matvec_q3k_int_avx2(float *out, const int8_t *qx, const float *xd, const void *w, int n, int r0,
                                      int r1) {
    int nk = n / 256;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), k4 = _mm256_set1_epi8(4);
    for (int r = r0; r < r1; r++) {
        const uint8_t *p = (const uint8_t *)w + (size_t)r * (size_t)nk * 110;
        __m256 acc = _mm256_setzero_ps();
        for (int k = 0; k < nk; k++, p += 110) {
            uint64_t slo, shi;
            slm_q3k_scales16(p + 96, &slo, &shi);
            __m128i sc = _mm_sub_epi8(_mm_set_epi64x((long long)shi, (long long)slo), _mm_set1_epi8(32));
            __m256i sc16 = _mm256_cvtepi8_epi16(sc);
            __m256i hm = _mm256_loadu_si256((const __m256i *)p);
            const int8_t *x = qx + (size_t)k * 256;
            __m256i dq[8];
            for (int h = 0; h < 2; h++) {
                __m256i ql = _mm256_loadu_si256((const __m256i *)(p + 32 + 32 * h));
                for (int c = 0; c < 4; c++) {
                    int j = 4 * h + c;
                    __m256i lo = _mm256_and_si256(_mm256_srli_epi16(ql, 2 * c), m3);
                    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + c), one);
                    dq[j] = sb16_dot(_mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hi, 2)), k4), x + 32 * j, sc16, j);
                }
            }
            __m256 dots = _mm256_cvtepi32_ps(reduce8_epi32(dq[0], dq[1], dq[2], dq[3], dq[4], dq[5], dq[6], dq[7]));
            __m256 a = _mm256_mul_ps(_mm256_set1_ps(f16_at_x86(p + 108)), _mm256_loadu_ps(xd + 8 * k));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(a, dots));
        }
        out[r] = hsum256(acc);
    }
}

/* one copy of the body per type, so no type test is left in the loops */
T256H static void matvec_bq_avx2(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                                 const void *w, int n, int r0, int r1) {
    if (dtype == SLM_DTYPE_Q4_K) matvec_q4k_int_avx2(out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q3_K) matvec_q3k_int_avx2(out, qx, xd, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_IQ4_NL) matvec_bq_body(SLM_DTYPE_IQ4_NL, out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_K) matvec_q5k_int_avx2(out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q6_K) matvec_q6k_int_avx2(out, qx, xd, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q8_0) matvec_bq_body(SLM_DTYPE_Q8_0, out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q4_0) matvec_bq_body(SLM_DTYPE_Q4_0, out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_0) matvec_bq_body(SLM_DTYPE_Q5_0, out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_1) matvec_bq_body(SLM_DTYPE_Q5_1, out, qx, xd, xsum, w, n, r0, r1);
    else matvec_bq_body(SLM_DTYPE_Q4_1, out, qx, xd, xsum, w, n, r0, r1);
}

/* matvec_bq on rows packed in groups of eight (slm_bq8_pack): lane r of every vector is row r of the
 * group, so a group block's eight terms come out in one vector with no horizontal sums. For Q4_0
 * and Q4_1 the maddubs results of a block (each 16-bit lane: two products of a nibble <= 15 and an
 * activation |x| <= 128, eight such pairs summed: <= 30720) are added as 16-bit values and
 * widened once; Q8_0 pairs (<= 2 * 128 * 127) are widened one by one. Terms go to four
 * accumulators, block b into b % 4, and end as (a0 + a1) + (a2 + a3): the reference's order. */
T256H static inline __attribute__((always_inline)) __m256 bq8_term(int dtype, const uint8_t *p, const int8_t *x,
                                                                    float xd, int32_t xsum) {
    __m256 d = _mm256_set1_ps(xd);
    __m256 s = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)), d);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i dots;
    if (dtype == SLM_DTYPE_Q8_0) {
        const uint8_t *q = p + 16;
        dots = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            int32_t xc;
            memcpy(&xc, x + 4 * c, 4);
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
            __m256i pr = _mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(_mm256_set1_epi32(xc), v));
            dots = _mm256_add_epi32(dots, _mm256_madd_epi16(pr, ones));
        }
        return _mm256_mul_ps(s, _mm256_cvtepi32_ps(dots));
    }
    const __m256i m15 = _mm256_set1_epi8(15);
    if (dtype == SLM_DTYPE_IQ4_NL) { /* the nibbles index the table; then as Q8_0 (|level| <= 127) */
        const uint8_t *q = p + 16;
        const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)SLM_IQ4NL));
        dots = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            int32_t xl, xh;
            memcpy(&xl, x + 4 * c, 4), memcpy(&xh, x + 16 + 4 * c, 4);
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
            __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, m15));
            __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), m15));
            dots = _mm256_add_epi32(dots, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(lo),
                                                                                 _mm256_sign_epi8(_mm256_set1_epi32(xl), lo)), ones));
            dots = _mm256_add_epi32(dots, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(hi),
                                                                                 _mm256_sign_epi8(_mm256_set1_epi32(xh), hi)), ones));
        }
        return _mm256_mul_ps(s, _mm256_cvtepi32_ps(dots));
    }
    if (dtype == SLM_DTYPE_Q5_0 || dtype == SLM_DTYPE_Q5_1) { /* values <= 31: four maddubs (<= 4 * 2 * 31 * 127) per 16-bit sum */
        int q51 = dtype == SLM_DTYPE_Q5_1;
        const uint8_t *q = p + (q51 ? 64 : 48); /* chunks 1-4; chunk 0 (the high values' low bits) before them */
        const __m256i m31 = _mm256_set1_epi8(31), m28 = _mm256_set1_epi8(28), m3 = _mm256_set1_epi8(3);
        __m256i low2 = _mm256_loadu_si256((const __m256i *)(q - 32)), acc16[2];
        acc16[0] = acc16[1] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            int32_t xl, xh;
            memcpy(&xl, x + 4 * c, 4), memcpy(&xh, x + 16 + 4 * c, 4);
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
            __m256i l2 = c ? _mm256_srli_epi16(low2, 2 * c) : low2; /* bits 2c, 2c + 1 of each byte to 0, 1 */
            __m256i lo = _mm256_and_si256(v, m31);
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 3), m28), _mm256_and_si256(l2, m3));
            acc16[c / 2] = _mm256_add_epi16(acc16[c / 2], _mm256_maddubs_epi16(lo, _mm256_set1_epi32(xl)));
            acc16[c / 2] = _mm256_add_epi16(acc16[c / 2], _mm256_maddubs_epi16(hi, _mm256_set1_epi32(xh)));
        }
        dots = _mm256_add_epi32(_mm256_madd_epi16(acc16[0], ones), _mm256_madd_epi16(acc16[1], ones));
        if (!q51) return _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_sub_epi32(dots, _mm256_set1_epi32(16 * xsum))));
        __m256 mn = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16))), d);
        return _mm256_add_ps(_mm256_mul_ps(s, _mm256_cvtepi32_ps(dots)), _mm256_mul_ps(mn, _mm256_cvtepi32_ps(_mm256_set1_epi32(xsum))));
    }
    const uint8_t *q = p + (dtype == SLM_DTYPE_Q4_1 ? 32 : 16);
    __m256i acc16 = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        int32_t xl, xh;
        memcpy(&xl, x + 4 * c, 4), memcpy(&xh, x + 16 + 4 * c, 4);
        __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
        __m256i lo = _mm256_and_si256(v, m15), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m15);
        acc16 = _mm256_add_epi16(acc16, _mm256_maddubs_epi16(lo, _mm256_set1_epi32(xl)));
        acc16 = _mm256_add_epi16(acc16, _mm256_maddubs_epi16(hi, _mm256_set1_epi32(xh)));
    }
    dots = _mm256_madd_epi16(acc16, ones);
    if (dtype == SLM_DTYPE_Q4_0) return _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_sub_epi32(dots, _mm256_set1_epi32(8 * xsum))));
    __m256 mn = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16))), d);
    return _mm256_add_ps(_mm256_mul_ps(s, _mm256_cvtepi32_ps(dots)), _mm256_mul_ps(mn, _mm256_cvtepi32_ps(_mm256_set1_epi32(xsum))));
}

#define BQ8_ATTR T256H
#define BQ8_TERM bq8_term
#define BQ8_TAIL matvec_bq_body
#include "bq8_body.h"

T256H static void matvec_bq8_avx2(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                                  const void *w, int n, int rows, int r0, int r1) {
    if (dtype == SLM_DTYPE_Q4_K) matvec_q4k_bq8_avx2(out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_K) matvec_q5k_bq8_avx2(out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_Q6_K) matvec_q6k_bq8_avx2(out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_Q8_0) bq8_walk(SLM_DTYPE_Q8_0, out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_Q4_0) bq8_walk(SLM_DTYPE_Q4_0, out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_0) bq8_walk(SLM_DTYPE_Q5_0, out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_1) bq8_walk(SLM_DTYPE_Q5_1, out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_IQ4_NL) bq8_walk(SLM_DTYPE_IQ4_NL, out, qx, xd, xsum, w, n, rows, r0, r1);
    else bq8_walk(SLM_DTYPE_Q4_1, out, qx, xd, xsum, w, n, rows, r0, r1);
}

/* 6x16 GEMM micro-kernel: 12 accumulators, two B vectors, one broadcast A value. */
T256 static void gemm_micro_avx2(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int accumulate,
                                 int mr, int nr) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int k = 0; k < kc; k++, a += 6, b += 16) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), x;
        x = _mm256_broadcast_ss(a + 0), c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + 1), c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + 2), c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + 3), c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + 4), c40 = _mm256_fmadd_ps(x, b0, c40), c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + 5), c50 = _mm256_fmadd_ps(x, b0, c50), c51 = _mm256_fmadd_ps(x, b1, c51);
    }
    __m256 r[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    if (mr == 6 && nr == 16) {
        for (int i = 0; i < 6; i++) {
            float *ci = c + i * ldc;
            if (accumulate) {
                _mm256_storeu_ps(ci, _mm256_add_ps(_mm256_loadu_ps(ci), r[2 * i]));
                _mm256_storeu_ps(ci + 8, _mm256_add_ps(_mm256_loadu_ps(ci + 8), r[2 * i + 1]));
            } else {
                _mm256_storeu_ps(ci, r[2 * i]);
                _mm256_storeu_ps(ci + 8, r[2 * i + 1]);
            }
        }
        return;
    }
    float t[6][16];
    for (int i = 0; i < 6; i++) _mm256_storeu_ps(t[i], r[2 * i]), _mm256_storeu_ps(t[i] + 8, r[2 * i + 1]);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + t[i][j] : t[i][j];
}

T256 static void rows_combine_avx2(float *out, const float *c, const float *R, ptrdiff_t stride, int nrows, int n) {
    int s = 0;
    for (; s + 32 <= n; s += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < nrows; i++) {
            const float *r = R + i * stride + s;
            __m256 ci = _mm256_broadcast_ss(c + i);
            a0 = _mm256_fmadd_ps(ci, _mm256_loadu_ps(r), a0);
            a1 = _mm256_fmadd_ps(ci, _mm256_loadu_ps(r + 8), a1);
            a2 = _mm256_fmadd_ps(ci, _mm256_loadu_ps(r + 16), a2);
            a3 = _mm256_fmadd_ps(ci, _mm256_loadu_ps(r + 24), a3);
        }
        _mm256_storeu_ps(out + s, a0), _mm256_storeu_ps(out + s + 8, a1);
        _mm256_storeu_ps(out + s + 16, a2), _mm256_storeu_ps(out + s + 24, a3);
    }
    for (; s < n; s += 8) {
        __m256i m = n - s >= 8 ? _mm256_set1_epi32(-1) : tail_mask(n - s);
        __m256 a = _mm256_setzero_ps();
        for (int i = 0; i < nrows; i++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(c + i), _mm256_maskload_ps(R + i * stride + s, m), a);
        _mm256_maskstore_ps(out + s, m, a);
    }
}

T256 static void rows_dot_avx2(float *out, const float *x, const float *R, ptrdiff_t stride, int nrows, int n) {
    __m256i m = tail_mask(n);
    int nv = n & ~7;
    int i = 0;
    for (; i + 4 <= nrows; i += 4) {
        const float *r0 = R + i * stride, *r1 = r0 + stride, *r2 = r1 + stride, *r3 = r2 + stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int s = 0; s < nv; s += 8) {
            __m256 xv = _mm256_loadu_ps(x + s);
            a0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r0 + s), a0);
            a1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r1 + s), a1);
            a2 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r2 + s), a2);
            a3 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r3 + s), a3);
        }
        if (nv < n) {
            __m256 xv = _mm256_maskload_ps(x + nv, m);
            a0 = _mm256_fmadd_ps(xv, _mm256_maskload_ps(r0 + nv, m), a0);
            a1 = _mm256_fmadd_ps(xv, _mm256_maskload_ps(r1 + nv, m), a1);
            a2 = _mm256_fmadd_ps(xv, _mm256_maskload_ps(r2 + nv, m), a2);
            a3 = _mm256_fmadd_ps(xv, _mm256_maskload_ps(r3 + nv, m), a3);
        }
        _mm_storeu_ps(out + i, reduce4(a0, a1, a2, a3));
    }
    for (; i < nrows; i++) {
        const float *r = R + i * stride;
        __m256 a = _mm256_setzero_ps();
        for (int s = 0; s < nv; s += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(x + s), _mm256_loadu_ps(r + s), a);
        if (nv < n) a = _mm256_fmadd_ps(_mm256_maskload_ps(x + nv, m), _mm256_maskload_ps(r + nv, m), a);
        out[i] = hsum256(a);
    }
}

T256 static void rows_rank1_avx2(float *R, ptrdiff_t stride, const float *c, const float *x, int nrows, int n) {
    __m256i m = tail_mask(n);
    int nv = n & ~7;
    for (int i = 0; i < nrows; i++) {
        float *r = R + i * stride;
        __m256 ci = _mm256_broadcast_ss(c + i);
        for (int s = 0; s < nv; s += 8)
            _mm256_storeu_ps(r + s, _mm256_fmadd_ps(ci, _mm256_loadu_ps(x + s), _mm256_loadu_ps(r + s)));
        if (nv < n)
            _mm256_maskstore_ps(r + nv, m, _mm256_fmadd_ps(ci, _mm256_maskload_ps(x + nv, m), _mm256_maskload_ps(r + nv, m)));
    }
}

T256 static void rows_rank4_avx2(float *R, ptrdiff_t stride, const float *const c[4], const float *const x[4], int nrows,
                                 int n) {
    __m256i m = tail_mask(n);
    int nv = n & ~7;
    for (int i = 0; i < nrows; i++) {
        float *r = R + i * stride;
        __m256 c0 = _mm256_broadcast_ss(c[0] + i), c1 = _mm256_broadcast_ss(c[1] + i);
        __m256 c2 = _mm256_broadcast_ss(c[2] + i), c3 = _mm256_broadcast_ss(c[3] + i);
        for (int s = 0; s < nv; s += 8) {
            __m256 a = _mm256_loadu_ps(r + s);
            a = _mm256_fmadd_ps(c0, _mm256_loadu_ps(x[0] + s), a);
            a = _mm256_fmadd_ps(c1, _mm256_loadu_ps(x[1] + s), a);
            a = _mm256_fmadd_ps(c2, _mm256_loadu_ps(x[2] + s), a);
            a = _mm256_fmadd_ps(c3, _mm256_loadu_ps(x[3] + s), a);
            _mm256_storeu_ps(r + s, a);
        }
        if (nv < n) {
            __m256 a = _mm256_maskload_ps(r + nv, m);
            a = _mm256_fmadd_ps(c0, _mm256_maskload_ps(x[0] + nv, m), a);
            a = _mm256_fmadd_ps(c1, _mm256_maskload_ps(x[1] + nv, m), a);
            a = _mm256_fmadd_ps(c2, _mm256_maskload_ps(x[2] + nv, m), a);
            a = _mm256_fmadd_ps(c3, _mm256_maskload_ps(x[3] + nv, m), a);
            _mm256_maskstore_ps(r + nv, m, a);
        }
    }
}

T256 static float exp_sum_avx2(float *x, int n, float mx) {
    __m256 m = _mm256_set1_ps(mx), sum = _mm256_setzero_ps();
    int nv = n & ~7;
    for (int s = 0; s < nv; s += 8) {
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + s), m));
        _mm256_storeu_ps(x + s, e);
        sum = _mm256_add_ps(sum, e);
    }
    float total = hsum256(sum);
    for (int s = nv; s < n; s++) total += x[s] = expf(x[s] - mx);
    return total;
}

T256 static void adamw_avx2(float *p, float *m, float *v, const float *grad, size_t n, const slm_adamw_coef *c) {
    __m256 gm = _mm256_set1_ps(c->grad_mul), dec = _mm256_set1_ps(c->decay), b1 = _mm256_set1_ps(c->beta1);
    __m256 b2 = _mm256_set1_ps(c->beta2), o1 = _mm256_set1_ps(c->omb1), o2 = _mm256_set1_ps(c->omb2);
    __m256 nss = _mm256_set1_ps(-c->step_size), bc2 = _mm256_set1_ps(c->bc2_sqrt), eps = _mm256_set1_ps(c->eps);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 g = _mm256_mul_ps(_mm256_loadu_ps(grad + j), gm);
        __m256 pj = _mm256_mul_ps(_mm256_loadu_ps(p + j), dec);
        __m256 mj = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + j), b1), _mm256_mul_ps(g, o1));
        __m256 vj = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + j), b2), _mm256_mul_ps(_mm256_mul_ps(o2, g), g));
        __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vj), bc2), eps);
        _mm256_storeu_ps(m + j, mj), _mm256_storeu_ps(v + j, vj);
        _mm256_storeu_ps(p + j, _mm256_add_ps(pj, _mm256_div_ps(_mm256_mul_ps(nss, mj), den)));
    }
    if (j < n) slm_adamw_scalar(p + j, m + j, v + j, grad + j, n - j, c);
}

T256 static void swiglu_back_avx2(float *dh1, float *dh3, const float *h1, const float *h3, int n) {
    __m256 one = _mm256_set1_ps(1.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(h1 + i), d = _mm256_loadu_ps(dh1 + i);
        __m256 sg = _mm256_div_ps(one, _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x))));
        _mm256_storeu_ps(dh3 + i, _mm256_mul_ps(_mm256_mul_ps(d, x), sg));
        __m256 t = _mm256_add_ps(one, _mm256_mul_ps(x, _mm256_sub_ps(one, sg)));
        _mm256_storeu_ps(dh1 + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(h3 + i)), sg), t));
    }
    if (i < n) slm_swiglu_back_scalar(dh1 + i, dh3 + i, h1 + i, h3 + i, n - i);
}

T256 static void rows_combine4_avx2(float *const out[4], const float *const c[4], const float *R, ptrdiff_t stride,
                                    int nrows, int n) {
    int s = 0;
    for (; s + 16 <= n; s += 16) {
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int i = 0; i < nrows; i++) {
            const float *r = R + i * stride + s;
            __m256 r0 = _mm256_loadu_ps(r), r1 = _mm256_loadu_ps(r + 8), x;
            x = _mm256_broadcast_ss(c[0] + i), a00 = _mm256_fmadd_ps(x, r0, a00), a01 = _mm256_fmadd_ps(x, r1, a01);
            x = _mm256_broadcast_ss(c[1] + i), a10 = _mm256_fmadd_ps(x, r0, a10), a11 = _mm256_fmadd_ps(x, r1, a11);
            x = _mm256_broadcast_ss(c[2] + i), a20 = _mm256_fmadd_ps(x, r0, a20), a21 = _mm256_fmadd_ps(x, r1, a21);
            x = _mm256_broadcast_ss(c[3] + i), a30 = _mm256_fmadd_ps(x, r0, a30), a31 = _mm256_fmadd_ps(x, r1, a31);
        }
        _mm256_storeu_ps(out[0] + s, a00), _mm256_storeu_ps(out[0] + s + 8, a01);
        _mm256_storeu_ps(out[1] + s, a10), _mm256_storeu_ps(out[1] + s + 8, a11);
        _mm256_storeu_ps(out[2] + s, a20), _mm256_storeu_ps(out[2] + s + 8, a21);
        _mm256_storeu_ps(out[3] + s, a30), _mm256_storeu_ps(out[3] + s + 8, a31);
    }
    for (; s < n; s += 8) {
        __m256i m = n - s >= 8 ? _mm256_set1_epi32(-1) : tail_mask(n - s);
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < nrows; i++) {
            __m256 r = _mm256_maskload_ps(R + i * stride + s, m);
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(c[0] + i), r, a0);
            a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(c[1] + i), r, a1);
            a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(c[2] + i), r, a2);
            a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(c[3] + i), r, a3);
        }
        _mm256_maskstore_ps(out[0] + s, m, a0), _mm256_maskstore_ps(out[1] + s, m, a1);
        _mm256_maskstore_ps(out[2] + s, m, a2), _mm256_maskstore_ps(out[3] + s, m, a3);
    }
}

T256 static void rows_dot4_avx2(float *const out[4], const float *const x[4], const float *R, ptrdiff_t stride, int nrows,
                                int n) {
    __m256i m = tail_mask(n);
    int nv = n & ~7, i = 0;
    for (; i + 2 <= nrows; i += 2) {
        const float *r0 = R + i * stride, *r1 = r0 + stride;
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int s = 0; s < nv; s += 8) {
            __m256 v0 = _mm256_loadu_ps(r0 + s), v1 = _mm256_loadu_ps(r1 + s), xv;
            xv = _mm256_loadu_ps(x[0] + s), a00 = _mm256_fmadd_ps(xv, v0, a00), a01 = _mm256_fmadd_ps(xv, v1, a01);
            xv = _mm256_loadu_ps(x[1] + s), a10 = _mm256_fmadd_ps(xv, v0, a10), a11 = _mm256_fmadd_ps(xv, v1, a11);
            xv = _mm256_loadu_ps(x[2] + s), a20 = _mm256_fmadd_ps(xv, v0, a20), a21 = _mm256_fmadd_ps(xv, v1, a21);
            xv = _mm256_loadu_ps(x[3] + s), a30 = _mm256_fmadd_ps(xv, v0, a30), a31 = _mm256_fmadd_ps(xv, v1, a31);
        }
        if (nv < n) {
            __m256 v0 = _mm256_maskload_ps(r0 + nv, m), v1 = _mm256_maskload_ps(r1 + nv, m), xv;
            xv = _mm256_maskload_ps(x[0] + nv, m), a00 = _mm256_fmadd_ps(xv, v0, a00), a01 = _mm256_fmadd_ps(xv, v1, a01);
            xv = _mm256_maskload_ps(x[1] + nv, m), a10 = _mm256_fmadd_ps(xv, v0, a10), a11 = _mm256_fmadd_ps(xv, v1, a11);
            xv = _mm256_maskload_ps(x[2] + nv, m), a20 = _mm256_fmadd_ps(xv, v0, a20), a21 = _mm256_fmadd_ps(xv, v1, a21);
            xv = _mm256_maskload_ps(x[3] + nv, m), a30 = _mm256_fmadd_ps(xv, v0, a30), a31 = _mm256_fmadd_ps(xv, v1, a31);
        }
        float s0[4], s1[4];
        _mm_storeu_ps(s0, reduce4(a00, a10, a20, a30)), _mm_storeu_ps(s1, reduce4(a01, a11, a21, a31));
        for (int j = 0; j < 4; j++) out[j][i] = s0[j], out[j][i + 1] = s1[j];
    }
    for (; i < nrows; i++)
        for (int j = 0; j < 4; j++) rows_dot_avx2(out[j] + i, x[j], R + i * stride, stride, 1, n);
}

/* max of x (n >= 1); exact, so equal to the scalar loop's */
T256 static float max_avx2(const float *x, int n) {
    __m256i m = tail_mask(n);
    int nv = n & ~7;
    __m256 mx = _mm256_set1_ps(x[0]);
    for (int s = 0; s < nv; s += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + s));
    if (nv < n) mx = _mm256_max_ps(mx, _mm256_blendv_ps(mx, _mm256_maskload_ps(x + nv, m), _mm256_castsi256_ps(m)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}

/* x *= c over n values */
T256 static void scale_avx2(float *x, int n, float c) {
    __m256i m = tail_mask(n);
    int nv = n & ~7;
    __m256 cv = _mm256_set1_ps(c);
    for (int s = 0; s < nv; s += 8) _mm256_storeu_ps(x + s, _mm256_mul_ps(_mm256_loadu_ps(x + s), cv));
    if (nv < n) _mm256_maskstore_ps(x + nv, m, _mm256_mul_ps(_mm256_maskload_ps(x + nv, m), cv));
}

T256 static void softmax_avx2(float *x, int n) {
    scale_avx2(x, n, 1.0f / exp_sum_avx2(x, n, max_avx2(x, n)));
}

T256 static double xent_row_avx2(float *z, int n, int target, float grad_scale) {
    float mx = max_avx2(z, n), zt = z[target];
    double sum = exp_sum_avx2(z, n, mx);
    if (grad_scale != 0.0f) {
        scale_avx2(z, n, (float)(1.0 / sum) * grad_scale);
        z[target] -= grad_scale;
    }
    return log(sum) - (double)(zt - mx);
}

T256 static void softmax_back_avx2(float *dz, const float *p, int n, float scale) {
    float dot;
    rows_dot_avx2(&dot, p, dz, 0, 1, n);
    __m256i m = tail_mask(n);
    int nv = n & ~7;
    __m256 d = _mm256_set1_ps(dot), sc = _mm256_set1_ps(scale);
    for (int s = 0; s < nv; s += 8)
        _mm256_storeu_ps(dz + s, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(p + s), _mm256_sub_ps(_mm256_loadu_ps(dz + s), d)), sc));
    if (nv < n)
        _mm256_maskstore_ps(dz + nv, m, _mm256_mul_ps(_mm256_mul_ps(_mm256_maskload_ps(p + nv, m),
                                                                    _mm256_sub_ps(_mm256_maskload_ps(dz + nv, m), d)), sc));
}

/* Transposes the 8x8 block r[0..7] (rows) into c[0..7] (columns). */
T256 static inline void transpose8(const __m256 r[8], __m256 c[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    c[0] = _mm256_permute2f128_ps(u0, u4, 0x20), c[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    c[1] = _mm256_permute2f128_ps(u1, u5, 0x20), c[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    c[2] = _mm256_permute2f128_ps(u2, u6, 0x20), c[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    c[3] = _mm256_permute2f128_ps(u3, u7, 0x20), c[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

T256 static void gemm_pack_a6_avx2(float *d, const float *s, ptrdiff_t rs, int kc) {
    const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    int k = 0;
    for (; k + 8 <= kc; k += 8) {
        __m256 r[8], c[8];
        for (int i = 0; i < 6; i++) r[i] = _mm256_loadu_ps(s + i * rs + k);
        r[6] = r[7] = _mm256_setzero_ps();
        transpose8(r, c);
        for (int j = 0; j < 8; j++) _mm256_maskstore_ps(d + (k + j) * 6, six, c[j]);
    }
    for (; k < kc; k++)
        for (int i = 0; i < 6; i++) d[k * 6 + i] = s[i * rs + k];
}

T256 static void gemm_pack_b16_avx2(float *d, const float *s, ptrdiff_t rs, int kc) {
    int k = 0;
    for (; k + 8 <= kc; k += 8)
        for (int h = 0; h < 2; h++) {
            __m256 r[8], c[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(s + (h * 8 + i) * rs + k);
            transpose8(r, c);
            for (int j = 0; j < 8; j++) _mm256_storeu_ps(d + (k + j) * 16 + h * 8, c[j]);
        }
    for (; k < kc; k++)
        for (int c = 0; c < 16; c++) d[k * 16 + c] = s[c * rs + k];
}

static const slm_kernels avx2_kernels = {"avx2", matvec_f32_avx2, matvec_f16_avx2, matvec_bf16_avx2, matvec_q8_avx2,
                                         attention_avx2, swiglu_avx2, rmsnorm_avx2, gemm_micro_avx2,
                                         rows_combine_avx2, rows_dot_avx2, rows_rank1_avx2, exp_sum_avx2,
                                         gemm_pack_a6_avx2, gemm_pack_b16_avx2, rows_rank4_avx2, adamw_avx2,
                                         swiglu_back_avx2, rows_combine4_avx2, rows_dot4_avx2,
                                         softmax_avx2, softmax_back_avx2, xent_row_avx2, dequant_row_avx2,
                                         matvec_bq_avx2, quantize_x32_avx2, attention_f16_avx2,
                                         matvec_bq8_avx2, SLM_BQ8_TYPES, NULL, NULL, 0, NULL, NULL};

#ifdef SLM_AVX512_TABLE
/* Rows of up to 256 values through the kernel that keeps x in registers and sums eight rows at once,
 * longer ones through the row-at-a-time 16-lane kernel (the memory-bound products of the large models). */
static void matvec_f32_avx512_table(float *out, const float *x, const float *w, int n, int r0, int r1) {
    if (n <= 256) slm_matvec_f32_short_avx512(out, x, w, n, r0, r1);
    else slm_matvec_f32_avx512(out, x, w, n, r0, r1);
}

/* The head sizes of the AVX-512 kernels through them, the others through AVX2's. */
static void attention_avx512(float *out, float *scores, const float *q, const float *k, const float *v, int stride,
                             int n, int hd, float scale) {
    if (!slm_attention_avx512(out, scores, q, k, v, stride, n, hd, scale))
        attention_avx2(out, scores, q, k, v, stride, n, hd, scale);
}
static void attention_f16_avx512(float *out, float *scores, const float *q, const uint16_t *k, const uint16_t *v,
                                 int stride, int n, int hd, float scale) {
    if (!slm_attention_f16_avx512(out, scores, q, k, v, stride, n, hd, scale))
        attention_f16_avx2(out, scores, q, k, v, stride, n, hd, scale);
}

/* Packed K-quant rows through the AVX2 kernels, the others through vpdpbusd. */
static void matvec_bq8_avx512_table(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                                    const void *w, int n, int rows, int r0, int r1) {
    if (dtype == SLM_DTYPE_Q4_K) matvec_q4k_bq8_avx2(out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_K) matvec_q5k_bq8_avx2(out, qx, xd, xsum, w, n, rows, r0, r1);
    else if (dtype == SLM_DTYPE_Q6_K) matvec_q6k_bq8_avx2(out, qx, xd, xsum, w, n, rows, r0, r1);
    else slm_matvec_bq8_avx512(dtype, out, qx, xd, xsum, w, n, rows, r0, r1);
}

/* AVX-512 where it changes the hot products (kernels_avx512.c), AVX2 for the rest; the second table
 * also multiplies BF16 matrices in bf16 arithmetic (CPUs with AVX512_BF16: decode and prompts alike). */
#define AVX512_TABLE(NAME, MATVEC_BF16, MATMAT_BF16, BF16_ROUND)                                                      \
    {NAME, matvec_f32_avx512_table, matvec_f16_avx2, MATVEC_BF16, matvec_q8_avx2, attention_avx512, swiglu_avx2,       \
     rmsnorm_avx2, slm_gemm_micro_avx512, rows_combine_avx2, rows_dot_avx2, rows_rank1_avx2, exp_sum_avx2,              \
     gemm_pack_a6_avx2, gemm_pack_b16_avx2, rows_rank4_avx2, adamw_avx2, swiglu_back_avx2, rows_combine4_avx2,          \
     rows_dot4_avx2, softmax_avx2, softmax_back_avx2, xent_row_avx2, dequant_row_avx2, matvec_bq_avx2,                  \
     quantize_x32_avx2, attention_f16_avx512, matvec_bq8_avx512_table, SLM_BQ8_TYPES, slm_gemm_micro12_avx512,            \
     slm_matmat_bq8_avx512, SLM_BQ8_TYPES, MATMAT_BF16, BF16_ROUND}
static const slm_kernels avx512_kernels = AVX512_TABLE("avx512", matvec_bf16_avx2, NULL, NULL);
static const slm_kernels avx512bf16_kernels =
    AVX512_TABLE("avx512bf16", slm_matvec_bf16_avx512, slm_matmat_bf16_avx512, slm_bf16_round_avx512);
#undef AVX512_TABLE
#endif
#endif

int slm_kernels_available(const slm_kernels **tables, int cap) {
    int n = 0;
    if (n < cap) tables[n++] = slm_kernels_scalar();
#ifdef SLM_X86
    __builtin_cpu_init();
    unsigned a, b, c, d; /* F16C: CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports lacks "f16c") */
    int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    if (n < cap && avx2) tables[n++] = &avx2_kernels;
#ifdef SLM_AVX512_TABLE
#ifdef SLM_AVX512_SIMDE
    int avx512 = avx2; /* emulated: runs on any CPU that runs the AVX2 table */
#else
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#endif
    if (n < cap && avx512) tables[n++] = &avx512_kernels;
#ifdef SLM_AVX512_SIMDE
    int bf16 = avx512;
#else
    /* AVX512_BF16: CPUID leaf 7, subleaf 1, EAX bit 5 */
    int bf16 = avx512 && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 5 & 1);
#endif
    if (n < cap && bf16) tables[n++] = &avx512bf16_kernels;
#endif
#endif
    if (n < cap && slm_kernels_neon()) tables[n++] = slm_kernels_neon();
    return n;
}

const slm_kernels *slm_kernels_named(const char *name) {
    const slm_kernels *t[8];
    int n = slm_kernels_available(t, 8);
    for (int i = 0; name && i < n; i++)
        if (!strcmp(t[i]->name, name)) return t[i];
    return NULL;
}

const slm_kernels *slm_kernels_select(int use_simd) {
    if (!use_simd) return slm_kernels_scalar();
    const slm_kernels *t[8];
    int n = slm_kernels_available(t, 8);
    return t[n - 1];
}
