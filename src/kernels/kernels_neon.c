/* kernels_neon.c — NEON twins of the hottest kernels for 64-bit ARM (NEON is part of every
 * AArch64 CPU, so no run-time check): the f32, f16, bf16 and int8-group matrix-vector products,
 * RMSNorm and the 6x16 GEMM micro-kernel. Every other entry of the table is the scalar reference. Tested against the
 * scalar twins under qemu-user (make cross-test). */
#include <math.h>

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

static const slm_kernels neon_kernels = {
    .name = "neon",
    .matvec_f32 = matvec_f32_neon,
    .matvec_block = slm_matvec_blocks_scalar,
    .matvec_f16 = matvec_f16_neon,
    .matvec_bf16 = matvec_bf16_neon,
    .matvec_q8 = matvec_q8_neon,
    .attention = slm_attention_scalar,
    .swiglu = slm_swiglu,
    .rmsnorm = rmsnorm_neon,
    .gemm_micro = gemm_micro_neon,
    .rows_combine = slm_rows_combine_scalar,
    .rows_dot = slm_rows_dot_scalar,
    .rows_rank1 = slm_rows_rank1_scalar,
    .exp_sum = slm_exp_sum_scalar,
    .gemm_pack_a6 = slm_gemm_pack_a6_scalar,
    .gemm_pack_b16 = slm_gemm_pack_b16_scalar,
    .rows_rank4 = slm_rows_rank4_scalar,
    .adamw = slm_adamw_scalar,
    .swiglu_back = slm_swiglu_back_scalar,
    .rows_combine4 = slm_rows_combine4_scalar,
    .rows_dot4 = slm_rows_dot4_scalar,
    .softmax = slm_softmax,
    .softmax_back = slm_softmax_back_scalar,
    .xent_row = slm_xent_row_scalar,
    .dequant_row = slm_dequant_row_scalar,
    .matvec_bq = slm_matvec_bq_scalar,
    .quantize_x32 = slm_quantize_x32,
};

const slm_kernels *slm_kernels_neon(void) { return &neon_kernels; }
#else
const slm_kernels *slm_kernels_neon(void) { return NULL; }
#endif
