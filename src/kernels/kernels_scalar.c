/* kernels_scalar.c — the portable reference kernels. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

float slm_dot_f32(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void slm_matvec_f32_scalar(float *out, const float *x, const float *w, int n, int r0, int r1) {
    for (int r = r0; r < r1; r++) out[r] = slm_dot_f32(w + (size_t)r * n, x, n);
}

float slm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
    if (exp == 31) bits = sign | 0x7f800000u | man << 13 | (man ? 0x400000u : 0); /* inf; NaN made quiet, as F16C and NEON do */
    else if (exp) bits = sign | (exp + 112) << 23 | man << 13;
    else if (!man) bits = sign;
    else { /* subnormal: normalize */
        exp = 113;
        while (!(man & 1024)) man <<= 1, exp--;
        bits = sign | exp << 23 | (man & 1023) << 13;
    }
    union { uint32_t u; float f; } v = {bits};
    return v.f;
}

uint16_t slm_f32_to_f16(float f) {
    union { float f; uint32_t u; } v = {f};
    uint32_t u = v.u, sign = (u >> 16) & 0x8000;
    int32_t exp = (int32_t)((u >> 23) & 0xff) - 127 + 15;
    uint32_t man = u & 0x7fffff;
    if (((u >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0)); /* inf, nan */
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);                                      /* overflow */
    if (exp <= 0) {                                                                         /* subnormal or 0 */
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - exp;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | (uint32_t)exp << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into the exponent: correct */
    return (uint16_t)half;
}

uint16_t slm_f32_to_bf16(float f) {
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffff) > 0x7f800000) return (uint16_t)((v.u >> 16) | 0x40); /* quiet nan */
    return (uint16_t)((v.u + 0x7fff + ((v.u >> 16) & 1)) >> 16);
}

void slm_matvec_f16_scalar(float *out, const float *x, const uint16_t *w, int n, int r0, int r1) {
    for (int r = r0; r < r1; r++) {
        const uint16_t *wr = w + (size_t)r * n;
        float s = 0.0f;
        for (int i = 0; i < n; i++) s += slm_f16_to_f32(wr[i]) * x[i];
        out[r] = s;
    }
}

void slm_matvec_bf16_scalar(float *out, const float *x, const uint16_t *w, int n, int r0, int r1) {
    for (int r = r0; r < r1; r++) {
        const uint16_t *wr = w + (size_t)r * n;
        float s = 0.0f;
        for (int i = 0; i < n; i++) s += slm_bf16_to_f32(wr[i]) * x[i];
        out[r] = s;
    }
}

void slm_matvec_q8_scalar(float *out, const int8_t *qx, const float *xs, const int8_t *w,
                             const float *ws, int n, int gs, int r0, int r1) {
    int groups = n / gs;
    for (int r = r0; r < r1; r++) {
        const int8_t *wr = w + (size_t)r * n;
        const float *wsr = ws + (size_t)r * groups;
        float val = 0.0f;
        for (int g = 0; g < groups; g++) {
            int32_t acc = 0;
            for (int k = 0; k < gs; k++) acc += (int32_t)wr[g * gs + k] * (int32_t)qx[g * gs + k];
            val += (float)acc * wsr[g] * xs[g];
        }
        out[r] = val;
    }
}

void slm_attention_scalar(float *out, float *scores, const float *q, const float *k, const float *v, int stride,
                          int n, int hd, float scale) {
    for (int p = 0; p < n; p++) scores[p] = slm_dot_f32(q, k + (size_t)p * stride, hd) * scale;
    slm_softmax(scores, n);
    for (int i = 0; i < hd; i++) out[i] = 0.0f;
    for (int p = 0; p < n; p++) {
        const float *vp = v + (size_t)p * stride;
        float a = scores[p];
        for (int i = 0; i < hd; i++) out[i] += a * vp[i];
    }
}

void slm_attention_f16_scalar(float *out, float *scores, const float *q, const uint16_t *k, const uint16_t *v,
                              int stride, int n, int hd, float scale) {
    for (int p = 0; p < n; p++) {
        const uint16_t *kp = k + (size_t)p * stride;
        float s = 0.0f;
        for (int i = 0; i < hd; i++) s += q[i] * slm_f16_to_f32(kp[i]);
        scores[p] = s * scale;
    }
    slm_softmax(scores, n);
    for (int i = 0; i < hd; i++) out[i] = 0.0f;
    for (int p = 0; p < n; p++) {
        const uint16_t *vp = v + (size_t)p * stride;
        float a = scores[p];
        for (int i = 0; i < hd; i++) out[i] += a * slm_f16_to_f32(vp[i]);
    }
}

void slm_swiglu(float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void slm_adamw_scalar(float *p, float *m, float *v, const float *grad, size_t n, const slm_adamw_coef *c) {
    for (size_t j = 0; j < n; j++) {
        float g = grad[j] * c->grad_mul;
        float pj = p[j] * c->decay;
        m[j] = m[j] * c->beta1 + g * c->omb1;
        v[j] = v[j] * c->beta2 + c->omb2 * g * g;
        p[j] = pj + (-c->step_size * m[j]) / (sqrtf(v[j]) / c->bc2_sqrt + c->eps);
    }
}

void slm_swiglu_back_scalar(float *dh1, float *dh3, const float *h1, const float *h3, int n) {
    for (int i = 0; i < n; i++) {
        float x = h1[i], sg = 1.0f / (1.0f + expf(-x)), d = dh1[i];
        dh3[i] = d * x * sg;
        dh1[i] = d * h3[i] * sg * (1.0f + x * (1.0f - sg));
    }
}

void slm_rows_combine4_scalar(float *const out[4], const float *const c[4], const float *R, ptrdiff_t stride, int nrows,
                              int n) {
    for (int j = 0; j < 4; j++) slm_rows_combine_scalar(out[j], c[j], R, stride, nrows, n);
}

void slm_rows_dot4_scalar(float *const out[4], const float *const x[4], const float *R, ptrdiff_t stride, int nrows, int n) {
    for (int j = 0; j < 4; j++) slm_rows_dot_scalar(out[j], x[j], R, stride, nrows, n);
}

void slm_softmax_back_scalar(float *dz, const float *p, int n, float scale) {
    float dot = 0.0f;
    for (int s = 0; s < n; s++) dot += p[s] * dz[s];
    for (int s = 0; s < n; s++) dz[s] = p[s] * (dz[s] - dot) * scale;
}

double slm_xent_row_scalar(float *z, int n, int target, float grad_scale) {
    float mx = z[0];
    for (int i = 1; i < n; i++)
        if (z[i] > mx) mx = z[i];
    float zt = z[target];
    double sum = slm_exp_sum_scalar(z, n, mx);
    if (grad_scale != 0.0f) {
        float mul = (float)(1.0 / sum) * grad_scale;
        for (int i = 0; i < n; i++) z[i] *= mul;
        z[target] -= grad_scale;
    }
    return log(sum) - (double)(zt - mx);
}

void slm_dequant_row_scalar(int dtype, float *out, const void *w, int n, int64_t row) {
    const uint16_t *h = (const uint16_t *)w + (size_t)row * (size_t)n;
    switch (dtype) {
    case SLM_DTYPE_F32: memcpy(out, (const float *)w + (size_t)row * (size_t)n, (size_t)n * sizeof(float)); break;
    case SLM_DTYPE_F16: for (int i = 0; i < n; i++) out[i] = slm_f16_to_f32(h[i]); break;
    case SLM_DTYPE_BF16: for (int i = 0; i < n; i++) out[i] = slm_bf16_to_f32(h[i]); break;
    default: slm_dequantize_block_row((slm_dtype)dtype, w, n, row, out); break;
    }
}

static const slm_kernels scalar_kernels = {"scalar", slm_matvec_f32_scalar, slm_matvec_f16_scalar, slm_matvec_bf16_scalar,
                                           slm_matvec_q8_scalar, slm_attention_scalar, slm_swiglu, slm_rmsnorm,
                                           slm_gemm_micro_scalar, slm_rows_combine_scalar, slm_rows_dot_scalar,
                                           slm_rows_rank1_scalar, slm_exp_sum_scalar, slm_gemm_pack_a6_scalar,
                                           slm_gemm_pack_b16_scalar, slm_rows_rank4_scalar, slm_adamw_scalar,
                                           slm_swiglu_back_scalar, slm_rows_combine4_scalar, slm_rows_dot4_scalar,
                                           slm_softmax, slm_softmax_back_scalar, slm_xent_row_scalar,
                                           slm_dequant_row_scalar, slm_matvec_bq_scalar,
                                           slm_quantize_x32, slm_attention_f16_scalar,
                                           slm_matvec_bq8_scalar, 0, NULL, NULL, 0, NULL, NULL};

const slm_kernels *slm_kernels_scalar(void) { return &scalar_kernels; }

void slm_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    float ss = 0.0f;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int i = 0; i < n; i++) out[i] = w[i] * (scale * x[i]);
}

void slm_softmax(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void slm_quantize_q8(int8_t *q, float *xs, const float *x, int n, int gs) {
    for (int g = 0; g < n / gs; g++) {
        float amax = 0.0f;
        for (int k = 0; k < gs; k++) {
            float a = fabsf(x[g * gs + k]);
            if (a > amax) amax = a;
        }
        float scale = amax / 127.0f;
        float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
        for (int k = 0; k < gs; k++) q[g * gs + k] = slm_round_to_i8(x[g * gs + k] * inv);
        xs[g] = scale;
    }
}

void slm_dequantize_q8_row(float *out, const int8_t *w, const float *ws, int n, int gs, int row) {
    const int8_t *wr = w + (size_t)row * n;
    const float *s = ws + (size_t)row * (n / gs);
    for (int i = 0; i < n; i++) out[i] = (float)wr[i] * s[i / gs];
}

void slm_rows_combine_scalar(float *out, const float *c, const float *R, ptrdiff_t stride, int nrows, int n) {
    for (int s = 0; s < n; s++) out[s] = 0.0f;
    for (int i = 0; i < nrows; i++)
        for (int s = 0; s < n; s++) out[s] += c[i] * R[i * stride + s];
}

void slm_rows_dot_scalar(float *out, const float *x, const float *R, ptrdiff_t stride, int nrows, int n) {
    for (int i = 0; i < nrows; i++) {
        float sum = 0.0f;
        for (int s = 0; s < n; s++) sum += x[s] * R[i * stride + s];
        out[i] = sum;
    }
}

void slm_rows_rank1_scalar(float *R, ptrdiff_t stride, const float *c, const float *x, int nrows, int n) {
    for (int i = 0; i < nrows; i++)
        for (int s = 0; s < n; s++) R[i * stride + s] += c[i] * x[s];
}

float slm_exp_sum_scalar(float *x, int n, float m) {
    float sum = 0.0f;
    for (int s = 0; s < n; s++) sum += x[s] = expf(x[s] - m);
    return sum;
}

void slm_gemm_pack_a6_scalar(float *d, const float *s, ptrdiff_t rs, int kc) {
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < kc; k++) d[k * 6 + i] = s[i * rs + k];
}

void slm_gemm_pack_b16_scalar(float *d, const float *s, ptrdiff_t rs, int kc) {
    for (int c = 0; c < 16; c++)
        for (int k = 0; k < kc; k++) d[k * 16 + c] = s[c * rs + k];
}

void slm_rows_rank4_scalar(float *R, ptrdiff_t stride, const float *const c[4], const float *const x[4], int nrows, int n) {
    for (int j = 0; j < 4; j++) slm_rows_rank1_scalar(R, stride, c[j], x[j], nrows, n);
}
