/* kernels_neon.c — NEON twins of the hottest kernels for 64-bit ARM (NEON is part of every
 * AArch64 CPU, so no run-time check): the f32, f16, bf16 and int8-group matrix-vector products,
 * RMSNorm, SwiGLU (and its backward), softmax, the exponentials and cross-entropy rows of training,
 * attention (fp32 and f16 caches), the 6x16 GEMM micro-kernel, row dequantization and
 * the integer block products of Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/Q4_K/Q5_K/Q6_K rows (with their activation quantizer),
 * and, where built with sdot, those of Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/IQ4_NL rows packed in groups of eight.
 * Every other entry of the table is the scalar reference. Tested against the scalar twins under
 * qemu-user (make cross-test; the sdot path with -march=armv8.2-a+dotprod and qemu's -cpu max). */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

#if !defined(SLM_NO_SIMD) && defined(__aarch64__)
#include <arm_neon.h>

/* out[r] = dot(W[r, :], x), two 4-lane accumulators per row. */
static void matvec_f32_neon(float *out, const float *x, const float *w, int n, int r0, int r1) {
    int n8 = n & ~7;
    for (int r = r0; r < r1; r++) {
        const float *wr = w + (size_t)r * n;
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
        for (int i = 0; i < n8; i += 8) {
            a0 = vfmaq_f32(a0, vld1q_f32(wr + i), vld1q_f32(x + i));
            a1 = vfmaq_f32(a1, vld1q_f32(wr + i + 4), vld1q_f32(x + i + 4));
        }
        float s = vaddvq_f32(vaddq_f32(a0, a1));
        for (int i = n8; i < n; i++) s += wr[i] * x[i];
        out[r] = s;
    }
}

/* f16 / bf16 weights: widened to f32 exactly, then as matvec_f32. */
static inline float32x4_t widen_lo(uint16x8_t h, int bf16) {
    return bf16 ? vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16))
                : vcvt_f32_f16(vget_low_f16(vreinterpretq_f16_u16(h)));
}
static inline float32x4_t widen_hi(uint16x8_t h, int bf16) {
    return bf16 ? vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)) : vcvt_high_f32_f16(vreinterpretq_f16_u16(h));
}

static void matvec_h_neon(float *out, const float *x, const uint16_t *w, int n, int r0, int r1, int bf16) {
    int n8 = n & ~7;
    for (int r = r0; r < r1; r++) {
        const uint16_t *wr = w + (size_t)r * n;
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
        for (int i = 0; i < n8; i += 8) {
            uint16x8_t h = vld1q_u16(wr + i);
            a0 = vfmaq_f32(a0, widen_lo(h, bf16), vld1q_f32(x + i));
            a1 = vfmaq_f32(a1, widen_hi(h, bf16), vld1q_f32(x + i + 4));
        }
        float s = vaddvq_f32(vaddq_f32(a0, a1));
        for (int i = n8; i < n; i++) s += (bf16 ? slm_bf16_to_f32(wr[i]) : slm_f16_to_f32(wr[i])) * x[i];
        out[r] = s;
    }
}
static void matvec_f16_neon(float *out, const float *x, const uint16_t *w, int n, int r0, int r1) {
    matvec_h_neon(out, x, w, n, r0, r1, 0);
}
static void matvec_bf16_neon(float *out, const float *x, const uint16_t *w, int n, int r0, int r1) {
    matvec_h_neon(out, x, w, n, r0, r1, 1);
}

/* exp(x) for x <= 0 (after subtracting a max): 2^n p(r), r = x - n ln2 (|r| <= ln2/2), p the
 * degree-7 Taylor polynomial: the steps of exp_nonpos_avx2 (kernels_x86.c), 4 lanes at a time. */
static inline float32x4_t exp_nonpos_neon(float32x4_t x) {
    x = vmaxq_f32(x, vdupq_n_f32(-87.0f));
    float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));
    r = vfmsq_f32(r, n, vdupq_n_f32(1.428606765330187045e-06f));
    float32x4_t p = vdupq_n_f32(1.0f / 5040);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}
/* exp(x) for any x (clamped to [-87, 88]), as exp_avx2. */
static inline float32x4_t exp_neon(float32x4_t x) { return exp_nonpos_neon(vminq_f32(x, vdupq_n_f32(88.0f))); }

/* gate = silu(gate) * up, silu(g) = g / (1 + exp(-g)). */
static void swiglu_neon(float *gate, const float *up, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t g = vld1q_f32(gate + i);
        float32x4_t silu = vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), exp_neon(vnegq_f32(g))));
        vst1q_f32(gate + i, vmulq_f32(silu, vld1q_f32(up + i)));
    }
    if (i < n) slm_swiglu(gate + i, up + i, n - i);
}

/* The backward of swiglu (slm_swiglu_back_scalar's formulas). */
static void swiglu_back_neon(float *dh1, float *dh3, const float *h1, const float *h3, int n) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t x = vld1q_f32(h1 + i), d = vld1q_f32(dh1 + i);
        float32x4_t sg = vdivq_f32(one, vaddq_f32(one, exp_neon(vnegq_f32(x))));
        vst1q_f32(dh3 + i, vmulq_f32(vmulq_f32(d, x), sg));
        float32x4_t t = vaddq_f32(one, vmulq_f32(x, vsubq_f32(one, sg)));
        vst1q_f32(dh1 + i, vmulq_f32(vmulq_f32(vmulq_f32(d, vld1q_f32(h3 + i)), sg), t));
    }
    if (i < n) slm_swiglu_back_scalar(dh1 + i, dh3 + i, h1 + i, h3 + i, n - i);
}

static float max_neon(const float *x, int n) {
    int i = 0;
    float m = x[0];
    if (n >= 4) {
        float32x4_t v = vld1q_f32(x);
        for (i = 4; i + 4 <= n; i += 4) v = vmaxq_f32(v, vld1q_f32(x + i));
        m = vmaxvq_f32(v);
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}
/* x[s] = exp(x[s] - mx); returns their sum (the last n % 4 by expf, as exp_sum_avx2). */
static float exp_sum_neon(float *x, int n, float mx) {
    float32x4_t m = vdupq_n_f32(mx), sum = vdupq_n_f32(0.0f);
    int s = 0;
    for (; s + 4 <= n; s += 4) {
        float32x4_t e = exp_nonpos_neon(vsubq_f32(vld1q_f32(x + s), m));
        vst1q_f32(x + s, e);
        sum = vaddq_f32(sum, e);
    }
    float total = vaddvq_f32(sum);
    for (; s < n; s++) total += x[s] = expf(x[s] - mx);
    return total;
}
static void scale_neon(float *x, int n, float c) {
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), vdupq_n_f32(c)));
    for (; i < n; i++) x[i] *= c;
}
static void softmax_neon(float *x, int n) { scale_neon(x, n, 1.0f / exp_sum_neon(x, n, max_neon(x, n))); }
/* The cross-entropy row (slm_xent_row_scalar's steps, the exponentials 4 at a time). */
static double xent_row_neon(float *z, int n, int target, float grad_scale) {
    float mx = max_neon(z, n), zt = z[target];
    double sum = exp_sum_neon(z, n, mx);
    if (grad_scale != 0.0f) {
        scale_neon(z, n, (float)(1.0 / sum) * grad_scale);
        z[target] -= grad_scale;
    }
    return log(sum) - (double)(zt - mx);
}

/* One head's attention over a cache of fp32 (h16 0) or IEEE half (h16 1) rows `stride` elements
 * apart: the scores as dot products of 8 lanes, the softmax 4 lanes at a time, then the values
 * added in 8 lanes per position. */
static inline float32x4_t cache_lo(const void *p, size_t i, int h16) {
    return h16 ? vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)p + i))) : vld1q_f32((const float *)p + i);
}
static inline float cache_at(const void *p, size_t i, int h16) {
    return h16 ? slm_f16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}
static inline __attribute__((always_inline)) void attention_body(float *out, float *scores, const float *q,
                                                                 const void *k, const void *v, int stride, int n,
                                                                 int hd, float scale, int h16) {
    int h8 = hd & ~7;
    for (int p = 0; p < n; p++) {
        size_t base = (size_t)p * stride;
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
        for (int i = 0; i < h8; i += 8) {
            a0 = vfmaq_f32(a0, vld1q_f32(q + i), cache_lo(k, base + i, h16));
            a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), cache_lo(k, base + i + 4, h16));
        }
        float s = vaddvq_f32(vaddq_f32(a0, a1));
        for (int i = h8; i < hd; i++) s += q[i] * cache_at(k, base + i, h16);
        scores[p] = s * scale;
    }
    softmax_neon(scores, n);
    for (int i = 0; i < hd; i++) out[i] = 0.0f;
    for (int p = 0; p < n; p++) {
        size_t base = (size_t)p * stride;
        float32x4_t a = vdupq_n_f32(scores[p]);
        for (int i = 0; i < h8; i += 8) {
            vst1q_f32(out + i, vfmaq_f32(vld1q_f32(out + i), a, cache_lo(v, base + i, h16)));
            vst1q_f32(out + i + 4, vfmaq_f32(vld1q_f32(out + i + 4), a, cache_lo(v, base + i + 4, h16)));
        }
        for (int i = h8; i < hd; i++) out[i] += scores[p] * cache_at(v, base + i, h16);
    }
}
static void attention_neon(float *out, float *scores, const float *q, const float *k, const float *v, int stride, int n,
                           int hd, float scale) {
    attention_body(out, scores, q, k, v, stride, n, hd, scale, 0);
}
static void attention_f16_neon(float *out, float *scores, const float *q, const uint16_t *k, const uint16_t *v,
                               int stride, int n, int hd, float scale) {
    attention_body(out, scores, q, k, v, stride, n, hd, scale, 1);
}

/* int8 groups: exact int32 sums (16 products at a time), then the scalar reference's float steps
 * in the same order, so the result is bit-identical to it. */
static void matvec_q8_neon(float *out, const int8_t *qx, const float *xs, const int8_t *w, const float *ws, int n, int gs,
                           int r0, int r1) {
    int groups = n / gs, g16 = gs & ~15;
    for (int r = r0; r < r1; r++) {
        const int8_t *wr = w + (size_t)r * n;
        const float *wsr = ws + (size_t)r * groups;
        float val = 0.0f;
        for (int g = 0; g < groups; g++) {
            const int8_t *a = wr + (size_t)g * gs, *b = qx + (size_t)g * gs;
            int32x4_t acc4 = vdupq_n_s32(0);
            for (int k = 0; k < g16; k += 16) {
                int8x16_t va = vld1q_s8(a + k), vb = vld1q_s8(b + k);
                acc4 = vpadalq_s16(acc4, vmull_s8(vget_low_s8(va), vget_low_s8(vb)));
                acc4 = vpadalq_s16(acc4, vmull_high_s8(va, vb));
            }
            int32_t acc = vaddvq_s32(acc4);
            for (int k = g16; k < gs; k++) acc += (int32_t)a[k] * (int32_t)b[k];
            val += (float)acc * wsr[g] * xs[g];
        }
        out[r] = val;
    }
}

/* out = w * (x / rms(x)); the sum of squares in 4 lanes. */
static void rmsnorm_neon(float *out, const float *x, const float *w, int n, float eps) {
    int n4 = n & ~3;
    float32x4_t a = vdupq_n_f32(0.0f);
    for (int i = 0; i < n4; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        a = vfmaq_f32(a, v, v);
    }
    float ss = vaddvq_f32(a);
    for (int i = n4; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int i = 0; i < n; i++) out[i] = w[i] * (scale * x[i]);
}

/* c (mr <= 6, nr <= 16) [+]= a-panel (6 per k) . b-panel (16 per k) over kc: 24 accumulators. */
static void gemm_micro_neon(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int accumulate, int mr,
                            int nr) {
    float32x4_t acc[6][4];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = vdupq_n_f32(0.0f);
    for (int k = 0; k < kc; k++, a += 6, b += 16) {
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
        float32x4_t a03 = vld1q_f32(a);
        float32x2_t a45 = vld1_f32(a + 4);
#define ROW(i, av, lane)                                         \
    acc[i][0] = vfmaq_laneq_f32(acc[i][0], b0, av, lane);        \
    acc[i][1] = vfmaq_laneq_f32(acc[i][1], b1, av, lane);        \
    acc[i][2] = vfmaq_laneq_f32(acc[i][2], b2, av, lane);        \
    acc[i][3] = vfmaq_laneq_f32(acc[i][3], b3, av, lane);
        ROW(0, a03, 0) ROW(1, a03, 1) ROW(2, a03, 2) ROW(3, a03, 3)
#undef ROW
        acc[4][0] = vfmaq_lane_f32(acc[4][0], b0, a45, 0), acc[4][1] = vfmaq_lane_f32(acc[4][1], b1, a45, 0);
        acc[4][2] = vfmaq_lane_f32(acc[4][2], b2, a45, 0), acc[4][3] = vfmaq_lane_f32(acc[4][3], b3, a45, 0);
        acc[5][0] = vfmaq_lane_f32(acc[5][0], b0, a45, 1), acc[5][1] = vfmaq_lane_f32(acc[5][1], b1, a45, 1);
        acc[5][2] = vfmaq_lane_f32(acc[5][2], b2, a45, 1), acc[5][3] = vfmaq_lane_f32(acc[5][3], b3, a45, 1);
    }
    float t[6][16];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++) vst1q_f32(t[i] + 4 * j, acc[i][j]);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + t[i][j] : t[i][j];
}

/* One f16 value at p (any alignment), as the scalar reference reads it. */
static inline float f16_at_neon(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return slm_f16_to_f32(h);
}

/* 16 int8 values to fp32, each times d (and plus m with add_m): one rounding per product and one
 * per sum, in the reference's order (no fused multiply-add). */
static inline __attribute__((always_inline)) void store16_scaled(float *out, int8x16_t v, float32x4_t d, float32x4_t m,
                                                                 int add_m) {
    int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_high_s8(v);
    float32x4_t f[4] = {vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), vcvtq_f32_s32(vmovl_high_s16(lo)),
                        vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), vcvtq_f32_s32(vmovl_high_s16(hi))};
    for (int k = 0; k < 4; k++) {
        float32x4_t y = vmulq_f32(f[k], d);
        vst1q_f32(out + 4 * k, add_m ? vaddq_f32(y, m) : y);
    }
}

/* Rows as fp32 for the batched products: F16 by vcvt (exact; a group of eight holding a NaN goes
 * through the reference, which keeps a signalling NaN's bits where vcvt would quiet it), BF16 by a
 * shift, Q8_0 / Q4_0 / Q4_1 expanded in registers (the integer code exact, then one product with
 * the f16 scale and for Q4_1 one sum: the reference's roundings); F32 and K-quants through the
 * reference. */
static void dequant_row_neon(int dtype, float *out, const void *w, int n, int64_t row) {
    if (dtype == SLM_DTYPE_F16 || dtype == SLM_DTYPE_BF16) {
        const uint16_t *h = (const uint16_t *)w + (size_t)row * (size_t)n;
        int bf = dtype == SLM_DTYPE_BF16, i = 0;
        const uint16x8_t abs_mask = vdupq_n_u16(0x7fff), inf = vdupq_n_u16(0x7c00);
        for (; i + 8 <= n; i += 8) {
            uint16x8_t v = vld1q_u16(h + i);
            if (!bf && vmaxvq_u16(vcgtq_u16(vandq_u16(v, abs_mask), inf))) {
                for (int k = i; k < i + 8; k++) out[k] = slm_f16_to_f32(h[k]);
                continue;
            }
            vst1q_f32(out + i, widen_lo(v, bf));
            vst1q_f32(out + i + 4, widen_hi(v, bf));
        }
        for (; i < n; i++) out[i] = bf ? slm_bf16_to_f32(h[i]) : slm_f16_to_f32(h[i]);
        return;
    }
    if (dtype != SLM_DTYPE_Q8_0 && dtype != SLM_DTYPE_Q4_0 && dtype != SLM_DTYPE_Q4_1) {
        slm_dequant_row_scalar(dtype, out, w, n, row);
        return;
    }
    int nb = n / 32, bb = slm_block_type_of((slm_dtype)dtype)->block_bytes;
    const uint8_t *p = (const uint8_t *)w + (size_t)row * (size_t)nb * (size_t)bb;
    for (int b = 0; b < nb; b++, p += bb, out += 32) {
        float32x4_t d = vdupq_n_f32(f16_at_neon(p)), m = vdupq_n_f32(0.0f);
        if (dtype == SLM_DTYPE_Q8_0) {
            store16_scaled(out, vld1q_s8((const int8_t *)(p + 2)), d, m, 0);
            store16_scaled(out + 16, vld1q_s8((const int8_t *)(p + 18)), d, m, 0);
            continue;
        }
        int q41 = dtype == SLM_DTYPE_Q4_1;
        uint8x16_t bytes = vld1q_u8(p + (q41 ? 4 : 2));
        int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(bytes, vdupq_n_u8(15))), hi = vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4));
        if (q41) {
            m = vdupq_n_f32(f16_at_neon(p + 2));
            store16_scaled(out, lo, d, m, 1);
            store16_scaled(out + 16, hi, d, m, 1);
        } else {
            store16_scaled(out, vsubq_s8(lo, vdupq_n_s8(8)), d, m, 0);
            store16_scaled(out + 16, vsubq_s8(hi, vdupq_n_s8(8)), d, m, 0);
        }
    }
}

/* Partial sums of the products of 16 int8 weights by 16 activations in four int32 lanes: sdot
 * where the CPU has it, else vmull / vmlal into int16 (two products per lane: |w x| <= 128 * 127
 * each, as the activations lie in [-127, 127], so never an overflow) and a pairwise widening sum.
 * Exact either way. */
static inline int32x4_t dot16(int8x16_t w, int8x16_t x) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(vdupq_n_s32(0), w, x);
#else
    return vpaddlq_s16(vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), w, x));
#endif
}

/* The exact integer dot product of one block (32 weights at p) with x, in four int32 lanes. Q4_0's
 * -8 offset and Q5_0's -16 are left to the caller. */
static inline __attribute__((always_inline)) int32x4_t bq_block_dot(int dtype, const uint8_t *p, const int8_t *x) {
    int8x16_t w0, w1;
    if (dtype == SLM_DTYPE_Q8_0) {
        w0 = vld1q_s8((const int8_t *)(p + 2)), w1 = vld1q_s8((const int8_t *)(p + 18));
    } else {
        int qoff = dtype == SLM_DTYPE_Q4_1 ? 4 : dtype == SLM_DTYPE_Q5_0 ? 6 : dtype == SLM_DTYPE_Q5_1 ? 8 : 2;
        uint8x16_t bytes = vld1q_u8(p + qoff);
        uint8x16_t lo = vandq_u8(bytes, vdupq_n_u8(15)), hi = vshrq_n_u8(bytes, 4);
        if (dtype == SLM_DTYPE_Q5_0 || dtype == SLM_DTYPE_Q5_1) { /* value i's fifth bit: bit i of qh, byte i / 8 tested at bit i % 8 */
            uint32_t qh32;
            memcpy(&qh32, p + qoff - 4, 4);
            uint8x8_t qh = vreinterpret_u8_u32(vdup_n_u32(qh32)), bit = vcreate_u8(0x8040201008040201ull);
            uint8x16_t b01 = vcombine_u8(vdup_lane_u8(qh, 0), vdup_lane_u8(qh, 1));
            uint8x16_t b23 = vcombine_u8(vdup_lane_u8(qh, 2), vdup_lane_u8(qh, 3));
            uint8x16_t bits = vcombine_u8(bit, bit), sixteen = vdupq_n_u8(16);
            lo = vorrq_u8(lo, vandq_u8(vtstq_u8(b01, bits), sixteen));
            hi = vorrq_u8(hi, vandq_u8(vtstq_u8(b23, bits), sixteen));
        }
        if (dtype == SLM_DTYPE_IQ4_NL) { /* the nibbles index the table */
            int8x16_t lut = vld1q_s8(SLM_IQ4NL);
            w0 = vqtbl1q_s8(lut, lo), w1 = vqtbl1q_s8(lut, hi);
        } else w0 = vreinterpretq_s8_u8(lo), w1 = vreinterpretq_s8_u8(hi);
    }
    return vaddq_s32(dot16(w0, vld1q_s8(x)), dot16(w1, vld1q_s8(x + 16)));
}

/* Four f16 values stride bytes apart as floats (vcvt quiets a signalling NaN, which the
 * reference's first product does too: the terms keep its bits). */
static inline float32x4_t f16x4_at(const uint8_t *p, int stride) {
    uint16_t h0, h1, h2, h3;
    memcpy(&h0, p, 2), memcpy(&h1, p + stride, 2), memcpy(&h2, p + 2 * stride, 2), memcpy(&h3, p + 3 * stride, 2);
    uint64_t u = (uint64_t)h0 | (uint64_t)h1 << 16 | (uint64_t)h2 << 32 | (uint64_t)h3 << 48;
    return vcvt_f32_f16(vreinterpret_f16_u16(vcreate_u16(u)));
}

/* Integer block products (see slm_matvec_bq_scalar): four blocks' exact dot products reduced
 * together into one vector, their float terms computed as the reference does ((dw * d) * dot, for
 * Q4_1 plus (mw * d) * sum; separate multiplies and adds) and added to four lanes, block b into
 * lane b % 4; the last blocks one at a time into the same sums, then (s0 + s1) + (s2 + s3). */
static inline __attribute__((always_inline)) void matvec_bq_body(int dtype, float *out, const int8_t *qx,
                                                                 const float *xd, const int32_t *xsum, const void *w,
                                                                 int n, int r0, int r1) {
    int nb = n / 32, bb = slm_block_type_of((slm_dtype)dtype)->block_bytes, nb4 = nb & ~3;
    size_t rb = (size_t)nb * (size_t)bb;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;
        float32x4_t acc = vdupq_n_f32(0.0f);
        for (int b = 0; b < nb4; b += 4) {
            const uint8_t *p = row + (size_t)b * bb;
            const int8_t *x = qx + (size_t)b * 32;
            int32x4_t s0 = bq_block_dot(dtype, p, x), s1 = bq_block_dot(dtype, p + bb, x + 32);
            int32x4_t s2 = bq_block_dot(dtype, p + 2 * bb, x + 64), s3 = bq_block_dot(dtype, p + 3 * bb, x + 96);
            int32x4_t dots = vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3)), sums = vld1q_s32(xsum + b);
            float32x4_t d = vld1q_f32(xd + b);
            if (dtype == SLM_DTYPE_Q4_0) dots = vsubq_s32(dots, vshlq_n_s32(sums, 3));
            if (dtype == SLM_DTYPE_Q5_0) dots = vsubq_s32(dots, vshlq_n_s32(sums, 4));
            float32x4_t term = vmulq_f32(vmulq_f32(f16x4_at(p, bb), d), vcvtq_f32_s32(dots));
            if (dtype == SLM_DTYPE_Q4_1 || dtype == SLM_DTYPE_Q5_1)
                term = vaddq_f32(term, vmulq_f32(vmulq_f32(f16x4_at(p + 2, bb), d), vcvtq_f32_s32(sums)));
            acc = vaddq_f32(acc, term);
        }
        float a[4];
        vst1q_f32(a, acc);
        for (int b = nb4; b < nb; b++) {
            const uint8_t *p = row + (size_t)b * bb;
            int32_t dot = vaddvq_s32(bq_block_dot(dtype, p, qx + (size_t)b * 32));
            float term;
            if (dtype == SLM_DTYPE_Q4_1 || dtype == SLM_DTYPE_Q5_1)
                term = (f16_at_neon(p) * xd[b]) * (float)dot + (f16_at_neon(p + 2) * xd[b]) * (float)xsum[b];
            else term = (f16_at_neon(p) * xd[b]) * (float)(dtype == SLM_DTYPE_Q4_0   ? dot - 8 * xsum[b]
                                                           : dtype == SLM_DTYPE_Q5_0 ? dot - 16 * xsum[b]
                                                                                     : dot);
            a[b & 3] += term;
        }
        out[r] = (a[0] + a[1]) + (a[2] + a[3]);
    }
}

/* A K-quant row's result from its two accumulators (partial sums j and j + 4 in lanes j): hsum256's
 * order, ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)). */
static inline float k8_sum(float32x4_t acc_lo, float32x4_t acc_hi) {
    float a[4];
    vst1q_f32(a, vaddq_f32(acc_lo, acc_hi));
    return (a[0] + a[2]) + (a[1] + a[3]);
}

/* Q4_K / Q5_K on int8 activations (slm_matvec_bq_scalar's order): the eight sub-block dots of a super-block
 * as two vectors (sub-blocks 0-3, 4-7), the scales and mins unpacked eight at a time
 * (slm_q4k_scales_mins8), partial sums j and j + 4 in lanes j of two accumulators. */
static inline __attribute__((always_inline)) void matvec_q45k_neon(int q5, float *out, const int8_t *qx, const float *xd,
                                                                   const int32_t *xsum, const void *w, int n, int r0, int r1) {
    int nk = n / 256, bb = q5 ? 176 : 144, qo = q5 ? 48 : 16;
    for (int r = r0; r < r1; r++) {
        const uint8_t *p = (const uint8_t *)w + (size_t)r * (size_t)nk * bb;
        float32x4_t acc_lo = vdupq_n_f32(0.0f), acc_hi = acc_lo;
        for (int k = 0; k < nk; k++, p += bb) {
            uint64_t scb, mnb;
            slm_q4k_scales_mins8(p + 4, &scb, &mnb);
            uint16x8_t sc16 = vmovl_u8(vcreate_u8(scb)), mn16 = vmovl_u8(vcreate_u8(mnb));
            const int8_t *x = qx + (size_t)k * 256;
            int32x4_t part[8];
            uint8x16_t qh0 = vdupq_n_u8(0), qh1 = qh0, b4 = vdupq_n_u8(16);
            if (q5) qh0 = vld1q_u8(p + 16), qh1 = vld1q_u8(p + 32);
            for (int c = 0; c < 4; c++) {
                uint8x16_t b0 = vld1q_u8(p + qo + 32 * c), b1 = vld1q_u8(p + qo + 32 * c + 16);
                const int8_t *xl = x + 64 * c, *xh = xl + 32;
                uint8x16_t ul0 = vandq_u8(b0, vdupq_n_u8(15)), ul1 = vandq_u8(b1, vdupq_n_u8(15));
                uint8x16_t uh0 = vshrq_n_u8(b0, 4), uh1 = vshrq_n_u8(b1, 4);
                if (q5) { /* sub-block 2c's fifth bits are bit 2c of qh, 2c + 1's bit 2c + 1: moved to bit 4 */
                    int8x16_t sl = vdupq_n_s8((int8_t)(4 - 2 * c)), sh = vdupq_n_s8((int8_t)(3 - 2 * c));
                    ul0 = vorrq_u8(ul0, vandq_u8(vshlq_u8(qh0, sl), b4)), ul1 = vorrq_u8(ul1, vandq_u8(vshlq_u8(qh1, sl), b4));
                    uh0 = vorrq_u8(uh0, vandq_u8(vshlq_u8(qh0, sh), b4)), uh1 = vorrq_u8(uh1, vandq_u8(vshlq_u8(qh1, sh), b4));
                }
                int8x16_t l0 = vreinterpretq_s8_u8(ul0), l1 = vreinterpretq_s8_u8(ul1);
                int8x16_t h0 = vreinterpretq_s8_u8(uh0), h1 = vreinterpretq_s8_u8(uh1);
                part[2 * c] = vaddq_s32(dot16(l0, vld1q_s8(xl)), dot16(l1, vld1q_s8(xl + 16)));
                part[2 * c + 1] = vaddq_s32(dot16(h0, vld1q_s8(xh)), dot16(h1, vld1q_s8(xh + 16)));
            }
            int32x4_t dlo = vpaddq_s32(vpaddq_s32(part[0], part[1]), vpaddq_s32(part[2], part[3]));
            int32x4_t dhi = vpaddq_s32(vpaddq_s32(part[4], part[5]), vpaddq_s32(part[6], part[7]));
            float d = f16_at_neon(p), dmin = f16_at_neon(p + 2);
            float32x4_t xlo = vld1q_f32(xd + 8 * k), xhi = vld1q_f32(xd + 8 * k + 4);
            float32x4_t alo = vmulq_f32(vmulq_n_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(sc16))), d), xlo);
            float32x4_t ahi = vmulq_f32(vmulq_n_f32(vcvtq_f32_u32(vmovl_high_u16(sc16)), d), xhi);
            float32x4_t olo = vmulq_f32(vmulq_n_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(mn16))), dmin), xlo);
            float32x4_t ohi = vmulq_f32(vmulq_n_f32(vcvtq_f32_u32(vmovl_high_u16(mn16)), dmin), xhi);
            float32x4_t slo = vcvtq_f32_s32(vld1q_s32(xsum + 8 * k)), shi = vcvtq_f32_s32(vld1q_s32(xsum + 8 * k + 4));
            acc_lo = vaddq_f32(acc_lo, vsubq_f32(vmulq_f32(alo, vcvtq_f32_s32(dlo)), vmulq_f32(olo, slo)));
            acc_hi = vaddq_f32(acc_hi, vsubq_f32(vmulq_f32(ahi, vcvtq_f32_s32(dhi)), vmulq_f32(ohi, shi)));
        }
        out[r] = k8_sum(acc_lo, acc_hi);
    }
}

static void matvec_q4k_int_neon(float *out, const int8_t *qx, const float *xd, const int32_t *xsum, const void *w,
                                int n, int r0, int r1) {
    matvec_q45k_neon(0, out, qx, xd, xsum, w, n, r0, r1);
}

static void matvec_q5k_int_neon(float *out, const int8_t *qx, const float *xd, const int32_t *xsum, const void *w,
                                int n, int r0, int r1) {
    matvec_q45k_neon(1, out, qx, xd, xsum, w, n, r0, r1);
}

/* The eight sub-block dots of a Q3_K / Q6_K super-block (part[j]: four int32 partial sums of
 * activation block j) into the two accumulators, lanes j and j + 4: (d * xd[j]) * dot. */
static inline void k8_accumulate(const int32x4_t part[8], const float *xd8, float d, float32x4_t *acc_lo,
                                 float32x4_t *acc_hi) {
    int32x4_t dlo = vpaddq_s32(vpaddq_s32(part[0], part[1]), vpaddq_s32(part[2], part[3]));
    int32x4_t dhi = vpaddq_s32(vpaddq_s32(part[4], part[5]), vpaddq_s32(part[6], part[7]));
    *acc_lo = vaddq_f32(*acc_lo, vmulq_f32(vmulq_n_f32(vld1q_f32(xd8), d), vcvtq_f32_s32(dlo)));
    *acc_hi = vaddq_f32(*acc_hi, vmulq_f32(vmulq_n_f32(vld1q_f32(xd8 + 4), d), vcvtq_f32_s32(dhi)));
}

/* Q6_K on int8 activations (slm_matvec_bq_scalar's order): the 6-bit values minus 32 as int8, each
 * 16-value half of an activation block dotted and multiplied by its sub-block scale in int32. */
static void matvec_q6k_int_neon(float *out, const int8_t *qx, const float *xd, const void *w, int n, int r0, int r1) {
    int nk = n / 256;
    const uint8x16_t m15 = vdupq_n_u8(15), m3 = vdupq_n_u8(3);
    const int8x16_t k32 = vdupq_n_s8(32);
    for (int r = r0; r < r1; r++) {
        const uint8_t *p = (const uint8_t *)w + (size_t)r * (size_t)nk * 210;
        float32x4_t acc_lo = vdupq_n_f32(0.0f), acc_hi = acc_lo;
        for (int k = 0; k < nk; k++, p += 210) {
            const int8_t *sc = (const int8_t *)(p + 192), *x = qx + (size_t)k * 256;
            int32x4_t part[8];
            for (int h = 0; h < 2; h++)
                for (int half = 0; half < 2; half++) { /* bytes [16 half, 16 half + 16) of the 32-byte rows */
                    uint8x16_t L0 = vld1q_u8(p + 64 * h + 16 * half), L1 = vld1q_u8(p + 64 * h + 32 + 16 * half);
                    uint8x16_t H = vld1q_u8(p + 128 + 32 * h + 16 * half);
                    uint8x16_t q[4];
                    q[0] = vorrq_u8(vandq_u8(L0, m15), vshlq_n_u8(vandq_u8(H, m3), 4));
                    q[1] = vorrq_u8(vandq_u8(L1, m15), vshlq_n_u8(vandq_u8(vshrq_n_u8(H, 2), m3), 4));
                    q[2] = vorrq_u8(vshrq_n_u8(L0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(H, 4), m3), 4));
                    q[3] = vorrq_u8(vshrq_n_u8(L1, 4), vshlq_n_u8(vshrq_n_u8(H, 6), 4));
                    for (int g = 0; g < 4; g++) {
                        int j = 4 * h + g;
                        int8x16_t qs = vsubq_s8(vreinterpretq_s8_u8(q[g]), k32);
                        int32x4_t t = vmulq_n_s32(dot16(qs, vld1q_s8(x + 32 * j + 16 * half)), sc[2 * j + half]);
                        part[j] = half ? vaddq_s32(part[j], t) : t;
                    }
                }
            k8_accumulate(part, xd + 8 * k, f16_at_neon(p + 208), &acc_lo, &acc_hi);
        }
        out[r] = k8_sum(acc_lo, acc_hi);
    }
}

/* Q3_K on int8 activations (slm_matvec_bq_scalar's order), as Q6_K: the 3-bit values minus 4 as
 * int8, each 16-value half of an activation block dotted and multiplied by its scale in int32. */
static void matvec_q3k_int_neon(float *out, const int8_t *qx, const float *xd, const void *w, int n, int r0, int r1) {
    int nk = n / 256;
    const uint8x16_t m3 = vdupq_n_u8(3), one = vdupq_n_u8(1);
    const int8x16_t k4 = vdupq_n_s8(4);
    for (int r = r0; r < r1; r++) {
        const uint8_t *p = (const uint8_t *)w + (size_t)r * (size_t)nk * 110;
        float32x4_t acc_lo = vdupq_n_f32(0.0f), acc_hi = acc_lo;
        for (int k = 0; k < nk; k++, p += 110) {
            const int8_t *x = qx + (size_t)k * 256;
            uint64_t slo, shi;
            slm_q3k_scales16(p + 96, &slo, &shi);
            int8_t sc[16];
            vst1q_s8(sc, vsubq_s8(vreinterpretq_s8_u8(vcombine_u8(vcreate_u8(slo), vcreate_u8(shi))), vdupq_n_s8(32)));
            int32x4_t part[8];
            for (int h = 0; h < 2; h++)
                for (int half = 0; half < 2; half++) { /* bytes [16 half, 16 half + 16) of the 32-byte rows */
                    uint8x16_t ql = vld1q_u8(p + 32 + 32 * h + 16 * half), hm = vld1q_u8(p + 16 * half);
                    for (int c = 0; c < 4; c++) {
                        int j = 4 * h + c;
                        uint8x16_t lo = vandq_u8(vshlq_u8(ql, vdupq_n_s8((int8_t)(-2 * c))), m3);
                        uint8x16_t hi = vandq_u8(vshlq_u8(hm, vdupq_n_s8((int8_t)(-(4 * h + c)))), one);
                        int8x16_t qs = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, vshlq_n_u8(hi, 2))), k4);
                        int32x4_t t = vmulq_n_s32(dot16(qs, vld1q_s8(x + 32 * j + 16 * half)), sc[2 * j + half]);
                        part[j] = half ? vaddq_s32(part[j], t) : t;
                    }
                }
            k8_accumulate(part, xd + 8 * k, f16_at_neon(p + 108), &acc_lo, &acc_hi);
        }
        out[r] = k8_sum(acc_lo, acc_hi);
    }
}

/* one copy of the body per type, so no type test is left in the loops */
static void matvec_bq_neon(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum, const void *w,
                           int n, int r0, int r1) {
    if (dtype == SLM_DTYPE_Q4_K) matvec_q4k_int_neon(out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_K) matvec_q5k_int_neon(out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q3_K) matvec_q3k_int_neon(out, qx, xd, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_IQ4_NL) matvec_bq_body(SLM_DTYPE_IQ4_NL, out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q6_K) matvec_q6k_int_neon(out, qx, xd, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q8_0) matvec_bq_body(SLM_DTYPE_Q8_0, out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q4_0) matvec_bq_body(SLM_DTYPE_Q4_0, out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_0) matvec_bq_body(SLM_DTYPE_Q5_0, out, qx, xd, xsum, w, n, r0, r1);
    else if (dtype == SLM_DTYPE_Q5_1) matvec_bq_body(SLM_DTYPE_Q5_1, out, qx, xd, xsum, w, n, r0, r1);
    else matvec_bq_body(SLM_DTYPE_Q4_1, out, qx, xd, xsum, w, n, r0, r1);
}

#if defined(__ARM_FEATURE_DOTPROD)
/* matvec_bq on rows packed in groups of eight (slm_bq8_pack in quant.h), where the CPU has sdot.
 * A 32-byte chunk of a group block holds the same four quants of the eight rows (4 bytes per row):
 * its two halves are rows 0-3 and 4-7, and vdotq_laneq_s32 multiplies each row's four bytes by the
 * four activations in one lane of an activation vector, so one instruction gives four rows' exact
 * partial dots and the activations are never broadcast. A block's dots of rows 0-3 and 4-7 end in
 * two vectors; the float steps are the reference's ((dw * d) * dot, for Q4_1 plus (mw * d) * sum),
 * lane by lane, each block's term into accumulator b % 4 of its rows, then (a0 + a1) + (a2 + a3):
 * the bytes of slm_matvec_bq_scalar. */
#define BQ8_Q8_CHUNK(c, xv)                                                                        \
    d0 = vdotq_laneq_s32(d0, vld1q_s8((const int8_t *)q + 32 * (c)), xv, (c) & 3),                 \
    d1 = vdotq_laneq_s32(d1, vld1q_s8((const int8_t *)q + 32 * (c) + 16), xv, (c) & 3)
/* Q5_0 / Q5_1 (quant.h's packed layout): a low value is its byte's bits 0-4; a high value its bits
 * 5-7 inserted above the two bits 2c, 2c + 1 of chunk 0 (h0, h1) shifted down (vsli keeps those) */
#define BQ8_Q5_CHUNK(c)                                                                                     \
    do {                                                                                                    \
        uint8x16_t v0 = vld1q_u8(q + 32 * (c)), v1 = vld1q_u8(q + 32 * (c) + 16), m = vdupq_n_u8(31);       \
        uint8x16_t u0 = vsliq_n_u8((c) ? vshrq_n_u8(h0, 2 * (c) + !(c)) : h0, vshrq_n_u8(v0, 5), 2);        \
        uint8x16_t u1 = vsliq_n_u8((c) ? vshrq_n_u8(h1, 2 * (c) + !(c)) : h1, vshrq_n_u8(v1, 5), 2);        \
        d0 = vdotq_laneq_s32(d0, vreinterpretq_s8_u8(vandq_u8(v0, m)), xlo, c);                             \
        d0 = vdotq_laneq_s32(d0, vreinterpretq_s8_u8(u0), xhi, c);                                          \
        d1 = vdotq_laneq_s32(d1, vreinterpretq_s8_u8(vandq_u8(v1, m)), xlo, c);                             \
        d1 = vdotq_laneq_s32(d1, vreinterpretq_s8_u8(u1), xhi, c);                                          \
    } while (0)
/* IQ4_NL: the nibbles index the table (vqtbl1q), signed levels into sdot */
#define BQ8_NL_CHUNK(c)                                                                                     \
    do {                                                                                                    \
        uint8x16_t v0 = vld1q_u8(q + 32 * (c)), v1 = vld1q_u8(q + 32 * (c) + 16), m = vdupq_n_u8(15);       \
        d0 = vdotq_laneq_s32(d0, vqtbl1q_s8(lut, vandq_u8(v0, m)), xlo, c);                                 \
        d0 = vdotq_laneq_s32(d0, vqtbl1q_s8(lut, vshrq_n_u8(v0, 4)), xhi, c);                               \
        d1 = vdotq_laneq_s32(d1, vqtbl1q_s8(lut, vandq_u8(v1, m)), xlo, c);                                 \
        d1 = vdotq_laneq_s32(d1, vqtbl1q_s8(lut, vshrq_n_u8(v1, 4)), xhi, c);                               \
    } while (0)
#define BQ8_Q4_CHUNK(c)                                                                                     \
    do {                                                                                                    \
        uint8x16_t v0 = vld1q_u8(q + 32 * (c)), v1 = vld1q_u8(q + 32 * (c) + 16), m = vdupq_n_u8(15);       \
        d0 = vdotq_laneq_s32(d0, vreinterpretq_s8_u8(vandq_u8(v0, m)), xlo, c);                             \
        d0 = vdotq_laneq_s32(d0, vreinterpretq_s8_u8(vshrq_n_u8(v0, 4)), xhi, c);                           \
        d1 = vdotq_laneq_s32(d1, vreinterpretq_s8_u8(vandq_u8(v1, m)), xlo, c);                             \
        d1 = vdotq_laneq_s32(d1, vreinterpretq_s8_u8(vshrq_n_u8(v1, 4)), xhi, c);                           \
    } while (0)

/* Eight consecutive f16 values at p as floats: the first four in *lo, the rest in *hi. */
static inline void f16x8_at(const uint8_t *p, float32x4_t *lo, float32x4_t *hi) {
    float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(p));
    *lo = vcvt_f32_f16(vget_low_f16(h)), *hi = vcvt_high_f32_f16(h);
}

static inline __attribute__((always_inline)) void bq8_block_neon(int dtype, const uint8_t *p, const int8_t *x,
                                                                 float xd, int32_t xsum, float32x4_t *t0,
                                                                 float32x4_t *t1) {
    int32x4_t d0 = vdupq_n_s32(0), d1 = d0;
    int8x16_t xlo = vld1q_s8(x), xhi = vld1q_s8(x + 16);
    if (dtype == SLM_DTYPE_Q8_0) {
        const uint8_t *q = p + 16;
        BQ8_Q8_CHUNK(0, xlo), BQ8_Q8_CHUNK(1, xlo), BQ8_Q8_CHUNK(2, xlo), BQ8_Q8_CHUNK(3, xlo);
        BQ8_Q8_CHUNK(4, xhi), BQ8_Q8_CHUNK(5, xhi), BQ8_Q8_CHUNK(6, xhi), BQ8_Q8_CHUNK(7, xhi);
    } else if (dtype == SLM_DTYPE_IQ4_NL) {
        const uint8_t *q = p + 16;
        int8x16_t lut = vld1q_s8(SLM_IQ4NL);
        BQ8_NL_CHUNK(0);
        BQ8_NL_CHUNK(1);
        BQ8_NL_CHUNK(2);
        BQ8_NL_CHUNK(3);
    } else if (dtype == SLM_DTYPE_Q5_0 || dtype == SLM_DTYPE_Q5_1) {
        const uint8_t *q = p + (dtype == SLM_DTYPE_Q5_1 ? 64 : 48);
        uint8x16_t h0 = vld1q_u8(q - 32), h1 = vld1q_u8(q - 16);
        BQ8_Q5_CHUNK(0);
        BQ8_Q5_CHUNK(1);
        BQ8_Q5_CHUNK(2);
        BQ8_Q5_CHUNK(3);
        if (dtype == SLM_DTYPE_Q5_0) {
            int32x4_t off = vdupq_n_s32(16 * xsum);
            d0 = vsubq_s32(d0, off), d1 = vsubq_s32(d1, off);
        }
    } else {
        const uint8_t *q = p + (dtype == SLM_DTYPE_Q4_1 ? 32 : 16);
        BQ8_Q4_CHUNK(0);
        BQ8_Q4_CHUNK(1);
        BQ8_Q4_CHUNK(2);
        BQ8_Q4_CHUNK(3);
        if (dtype == SLM_DTYPE_Q4_0) {
            int32x4_t off = vdupq_n_s32(8 * xsum);
            d0 = vsubq_s32(d0, off), d1 = vsubq_s32(d1, off);
        }
    }
    float32x4_t d = vdupq_n_f32(xd), s0, s1;
    f16x8_at(p, &s0, &s1);
    *t0 = vmulq_f32(vmulq_f32(s0, d), vcvtq_f32_s32(d0)), *t1 = vmulq_f32(vmulq_f32(s1, d), vcvtq_f32_s32(d1));
    if (dtype == SLM_DTYPE_Q4_1 || dtype == SLM_DTYPE_Q5_1) {
        float32x4_t m0, m1, sum = vdupq_n_f32((float)xsum);
        f16x8_at(p + 16, &m0, &m1);
        *t0 = vaddq_f32(*t0, vmulq_f32(vmulq_f32(m0, d), sum));
        *t1 = vaddq_f32(*t1, vmulq_f32(vmulq_f32(m1, d), sum));
    }
}
#undef BQ8_Q8_CHUNK
#undef BQ8_Q4_CHUNK
#undef BQ8_Q5_CHUNK
#undef BQ8_NL_CHUNK

/* Whole groups [g0, g1) of a packed matrix into out (eight rows each). */
static inline __attribute__((always_inline)) void bq8_groups_neon(int dtype, float *out, const int8_t *qx,
                                                                  const float *xd, const int32_t *xsum, const void *w,
                                                                  int n, int g0, int g1) {
    int nb = n / 32, span = 8 * slm_bq8_block_bytes(dtype);
    for (int g = g0; g < g1; g++) {
        const uint8_t *pg = (const uint8_t *)w + (size_t)g * (size_t)nb * (size_t)span;
        float32x4_t a0[4], a1[4];
        for (int k = 0; k < 4; k++) a0[k] = a1[k] = vdupq_n_f32(0.0f);
        for (int b = 0; b < nb; b++) {
            float32x4_t t0, t1;
            bq8_block_neon(dtype, pg + (size_t)b * span, qx + (size_t)b * 32, xd[b], xsum[b], &t0, &t1);
            a0[b & 3] = vaddq_f32(a0[b & 3], t0), a1[b & 3] = vaddq_f32(a1[b & 3], t1);
        }
        vst1q_f32(out + 8 * g, vaddq_f32(vaddq_f32(a0[0], a0[1]), vaddq_f32(a0[2], a0[3])));
        vst1q_f32(out + 8 * g + 4, vaddq_f32(vaddq_f32(a1[0], a1[1]), vaddq_f32(a1[2], a1[3])));
    }
}

/* Rows [r0, r1) of a packed matrix: whole groups here, parts of groups through the scalar
 * reference (the work items of a decode step are whole groups), the rows after the last whole
 * group (row-major) through matvec_bq_neon. */
static void matvec_bq8_neon(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                            const void *w, int n, int rows, int r0, int r1) {
    int rows8 = rows & ~7, end = r1 < rows8 ? r1 : rows8;
    if (r0 < end) {
        int g0 = (r0 + 7) / 8, g1 = end / 8;
        if (g0 >= g1 || slm_bq8_block_size(dtype) == 256) slm_matvec_bq8_scalar(dtype, out, qx, xd, xsum, w, n, rows, r0, end);
        else {
            if (r0 < 8 * g0) slm_matvec_bq8_scalar(dtype, out, qx, xd, xsum, w, n, rows, r0, 8 * g0);
            if (dtype == SLM_DTYPE_Q8_0) bq8_groups_neon(SLM_DTYPE_Q8_0, out, qx, xd, xsum, w, n, g0, g1);
            else if (dtype == SLM_DTYPE_Q4_0) bq8_groups_neon(SLM_DTYPE_Q4_0, out, qx, xd, xsum, w, n, g0, g1);
            else if (dtype == SLM_DTYPE_Q5_0) bq8_groups_neon(SLM_DTYPE_Q5_0, out, qx, xd, xsum, w, n, g0, g1);
            else if (dtype == SLM_DTYPE_Q5_1) bq8_groups_neon(SLM_DTYPE_Q5_1, out, qx, xd, xsum, w, n, g0, g1);
            else if (dtype == SLM_DTYPE_IQ4_NL) bq8_groups_neon(SLM_DTYPE_IQ4_NL, out, qx, xd, xsum, w, n, g0, g1);
            else bq8_groups_neon(SLM_DTYPE_Q4_1, out, qx, xd, xsum, w, n, g0, g1);
            if (8 * g1 < end) slm_matvec_bq8_scalar(dtype, out, qx, xd, xsum, w, n, rows, 8 * g1, end);
        }
    }
    if (r1 > rows8) {
        size_t rb = (size_t)(n / slm_bq8_block_size(dtype)) * (size_t)slm_bq8_block_bytes(dtype);
        int t0 = r0 > rows8 ? r0 : rows8;
        matvec_bq_neon(dtype, out + rows8, qx, xd, xsum, (const uint8_t *)w + (size_t)rows8 * rb, n, t0 - rows8,
                       r1 - rows8);
    }
}
#endif

/* slm_quantize_x32 with NEON, to the same bytes: max|x| by compare-and-select as the reference's
 * `if (a > amax)` (a NaN never wins, even a signalling one), the same scale and reciprocal, then
 * vcvtaq (round to nearest, ties away from zero: roundf; NaN to 0, saturating) and a clamp to
 * [-127, 127]; each block's sum of q. */
static void quantize_x32_neon(int8_t *q, float *d, int32_t *sum, const float *x, int n) {
    for (int b = 0; b < n / 32; b++) {
        const float *xb = x + (size_t)b * 32;
        float32x4_t v[8], amax = vdupq_n_f32(0.0f);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(xb + 4 * k);
            float32x4_t a = vabsq_f32(v[k]);
            amax = vbslq_f32(vcgtq_f32(a, amax), a, amax);
        }
        float scale = vmaxvq_f32(amax) / 127.0f, inv = scale > 0.0f ? 1.0f / scale : 0.0f;
        d[b] = scale;
        float32x4_t vinv = vdupq_n_f32(inv);
        int16x4_t h[8];
        for (int k = 0; k < 8; k++) h[k] = vqmovn_s32(vcvtaq_s32_f32(vmulq_f32(v[k], vinv)));
        const int8x16_t lim = vdupq_n_s8(-127); /* the saturating narrowings give 127 at most, -128 at least */
        int8x16_t q0 = vcombine_s8(vqmovn_s16(vcombine_s16(h[0], h[1])), vqmovn_s16(vcombine_s16(h[2], h[3])));
        int8x16_t q1 = vcombine_s8(vqmovn_s16(vcombine_s16(h[4], h[5])), vqmovn_s16(vcombine_s16(h[6], h[7])));
        q0 = vmaxq_s8(q0, lim), q1 = vmaxq_s8(q1, lim);
        vst1q_s8(q + (size_t)b * 32, q0);
        vst1q_s8(q + (size_t)b * 32 + 16, q1);
        sum[b] = (int32_t)vaddlvq_s8(q0) + (int32_t)vaddlvq_s8(q1);
    }
}

static const slm_kernels neon_kernels = {
    .name = "neon",
    .matvec_f32 = matvec_f32_neon,
    .matvec_f16 = matvec_f16_neon,
    .matvec_bf16 = matvec_bf16_neon,
    .matvec_q8 = matvec_q8_neon,
    .attention = attention_neon,
    .swiglu = swiglu_neon,
    .rmsnorm = rmsnorm_neon,
    .gemm_micro = gemm_micro_neon,
    .rows_combine = slm_rows_combine_scalar,
    .rows_dot = slm_rows_dot_scalar,
    .rows_rank1 = slm_rows_rank1_scalar,
    .exp_sum = exp_sum_neon,
    .gemm_pack_a6 = slm_gemm_pack_a6_scalar,
    .gemm_pack_b16 = slm_gemm_pack_b16_scalar,
    .rows_rank4 = slm_rows_rank4_scalar,
    .adamw = slm_adamw_scalar,
    .swiglu_back = swiglu_back_neon,
    .rows_combine4 = slm_rows_combine4_scalar,
    .rows_dot4 = slm_rows_dot4_scalar,
    .softmax = softmax_neon,
    .softmax_back = slm_softmax_back_scalar,
    .xent_row = xent_row_neon,
    .dequant_row = dequant_row_neon,
    .matvec_bq = matvec_bq_neon,
    .quantize_x32 = quantize_x32_neon,
    .attention_f16 = attention_f16_neon,
#if defined(__ARM_FEATURE_DOTPROD)
    .matvec_bq8 = matvec_bq8_neon, /* sdot by lane on rows packed in groups of eight */
    .pack_bq8 = SLM_BQ8_BLOCK32_TYPES, /* Q4_K and Q6_K stay row-major: no packed K-quant kernel here */
#else
    .matvec_bq8 = slm_matvec_bq8_scalar, /* without sdot, loaders keep the row-major layout (pack_bq8 0) */
    .pack_bq8 = 0,
#endif
};

const slm_kernels *slm_kernels_neon(void) { return &neon_kernels; }
#else
const slm_kernels *slm_kernels_neon(void) { return NULL; }
#endif
