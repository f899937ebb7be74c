/* kernels_neon.c — NEON twins of the hottest kernels for 64-bit ARM (NEON is part of every
 * AArch64 CPU, so no run-time check): the f32 matrix-vector product and the 6x16 GEMM
 * micro-kernel. Every other entry of the table is the scalar reference. Tested against the
 * scalar twins under qemu-user (make cross-test). */
#include "kernels.h"

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
    .matvec_f16 = slm_matvec_f16_scalar,
    .matvec_bf16 = slm_matvec_bf16_scalar,
    .matvec_q8 = slm_matvec_q8_scalar,
    .attention = slm_attention_scalar,
    .swiglu = slm_swiglu,
    .rmsnorm = slm_rmsnorm,
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
};

const slm_kernels *slm_kernels_neon(void) { return &neon_kernels; }
#else
const slm_kernels *slm_kernels_neon(void) { return NULL; }
#endif
