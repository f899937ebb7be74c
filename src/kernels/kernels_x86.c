/* kernels_x86.c — AVX2 and AVX-512 twins of the scalar matvec kernels, compiled with per-function
 * target attributes so the rest of the build stays portable; slm_kernels_select picks them after
 * checking the CPU at run time. Float results differ from the scalar reference only by summation
 * order; the int8 group sums are exact, and each row is computed the same way whatever rows or
 * thread it is scheduled with (thread-count invariance). */
#include "kernels.h"

#if !defined(SLM_NO_SIMD) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SLM_X86 1

/* ---------------- AVX-512 */

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,avx2")))

T512 static void matvec_f32_avx512(float *out, const float *x, const float *w, int n, int r0, int r1) {
    int r = r0;
    int nv = n & ~15;
    __mmask16 tail = (__mmask16)((1u << (n & 15)) - 1u);
    for (; r + 4 <= r1; r += 4) {
        const float *w0 = w + (size_t)r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int j = 0; j < nv; j += 16) {
            __m512 xv = _mm512_loadu_ps(x + j);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + j), xv, a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + j), xv, a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + j), xv, a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + j), xv, a3);
        }
        if (tail) {
            __m512 xv = _mm512_maskz_loadu_ps(tail, x + nv);
            a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w0 + nv), xv, a0);
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w1 + nv), xv, a1);
            a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w2 + nv), xv, a2);
            a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w3 + nv), xv, a3);
        }
        out[r] = _mm512_reduce_add_ps(a0);
        out[r + 1] = _mm512_reduce_add_ps(a1);
        out[r + 2] = _mm512_reduce_add_ps(a2);
        out[r + 3] = _mm512_reduce_add_ps(a3);
    }
    for (; r < r1; r++) {
        const float *w0 = w + (size_t)r * n;
        __m512 a0 = _mm512_setzero_ps();
        for (int j = 0; j < nv; j += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + j), _mm512_loadu_ps(x + j), a0);
        if (tail)
            a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w0 + nv), _mm512_maskz_loadu_ps(tail, x + nv), a0);
        out[r] = _mm512_reduce_add_ps(a0);
    }
}

/* int32 dot of 32 int8 pairs, as 16 lanes of int32 partial sums */
T512 static inline __m512i dot32_i8_avx512(const int8_t *a, const int8_t *b) {
    __m512i a16 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)a));
    __m512i b16 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)b));
    return _mm512_madd_epi16(a16, b16);
}

T512 static void matvec_q8_avx512(float *out, const int8_t *qx, const float *xs, const int8_t *w,
                                  const float *ws, int n, int gs, int r0, int r1) {
    int groups = n / gs;
    int gv = gs & ~31;
    for (int r = r0; r < r1; r++) {
        const int8_t *wr = w + (size_t)r * n;
        const float *wsr = ws + (size_t)r * groups;
        float val = 0.0f;
        for (int g = 0; g < groups; g++) {
            const int8_t *a = wr + (size_t)g * gs, *b = qx + (size_t)g * gs;
            __m512i acc = _mm512_setzero_si512();
            for (int k = 0; k < gv; k += 32) acc = _mm512_add_epi32(acc, dot32_i8_avx512(a + k, b + k));
            int32_t isum = _mm512_reduce_add_epi32(acc);
            for (int k = gv; k < gs; k++) isum += (int32_t)a[k] * (int32_t)b[k];
            val += (float)isum * wsr[g] * xs[g];
        }
        out[r] = val;
    }
}

/* ---------------- AVX2 */

#define T256 __attribute__((target("avx2,fma")))

T256 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

T256 static void matvec_f32_avx2(float *out, const float *x, const float *w, int n, int r0, int r1) {
    int nv = n & ~7;
    for (int r = r0; r < r1; r++) {
        const float *w0 = w + (size_t)r * n;
        __m256 a0 = _mm256_setzero_ps();
        for (int j = 0; j < nv; j += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j), _mm256_loadu_ps(x + j), a0);
        float s = hsum256(a0);
        for (int j = nv; j < n; j++) s += w0[j] * x[j];
        out[r] = s;
    }
}

T256 static void matvec_q8_avx2(float *out, const int8_t *qx, const float *xs, const int8_t *w,
                                const float *ws, int n, int gs, int r0, int r1) {
    int groups = n / gs;
    int gv = gs & ~15;
    for (int r = r0; r < r1; r++) {
        const int8_t *wr = w + (size_t)r * n;
        const float *wsr = ws + (size_t)r * groups;
        float val = 0.0f;
        for (int g = 0; g < groups; g++) {
            const int8_t *a = wr + (size_t)g * gs, *b = qx + (size_t)g * gs;
            __m256i acc = _mm256_setzero_si256();
            for (int k = 0; k < gv; k += 16) {
                __m256i a16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + k)));
                __m256i b16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + k)));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a16, b16));
            }
            __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
            s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
            s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
            int32_t isum = _mm_cvtsi128_si32(s);
            for (int k = gv; k < gs; k++) isum += (int32_t)a[k] * (int32_t)b[k];
            val += (float)isum * wsr[g] * xs[g];
        }
        out[r] = val;
    }
}

static const slm_kernels avx512_kernels = {"avx512", matvec_f32_avx512, matvec_q8_avx512};
static const slm_kernels avx2_kernels = {"avx2", matvec_f32_avx2, matvec_q8_avx2};
#endif

int slm_kernels_available(const slm_kernels **tables, int cap) {
    int n = 0;
    if (n < cap) tables[n++] = slm_kernels_scalar();
#ifdef SLM_X86
    __builtin_cpu_init();
    if (n < cap && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) tables[n++] = &avx2_kernels;
    if (n < cap && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        tables[n++] = &avx512_kernels;
#endif
    return n;
}

const slm_kernels *slm_kernels_select(int use_simd) {
    if (!use_simd) return slm_kernels_scalar();
    const slm_kernels *t[4];
    int n = slm_kernels_available(t, 4);
    return t[n - 1];
}
