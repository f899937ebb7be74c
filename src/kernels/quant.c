/* quant.c — ggml block types: layouts, scalar dequantizers, reference matvec, simple quantizers.
 *
 *   q8_0  32 values:  f16 d, int8 q[32]                       x = q * d
 *   q4_0  32 values:  f16 d, u8 q[16]  (low nibbles: values 0..15, high: 16..31)   x = (q - 8) * d
 *   q4_1  32 values:  f16 d, f16 m, u8 q[16] (as q4_0)         x = q * d + m
 *   q5_0  32 values:  f16 d, u32 qh (little-endian), u8 q[16] (as q4_0); value i's fifth bit is
 *         bit i of qh                                         x = (q - 16) * d
 *   q5_1  32 values:  f16 d, f16 m, u32 qh, u8 q[16] (as q5_0)  x = q * d + m
 *   q4_k  256 values: f16 d, f16 dmin, u8 scales[12], u8 q[128]; eight sub-blocks of 32 with 6-bit
 *         scale s and min m packed in `scales`; x = d*s * q - dmin*m, q a nibble (64 values per
 *         32 bytes: low nibbles the first sub-block, high nibbles the second)
 *   q5_k  256 values: f16 d, f16 dmin, u8 scales[12] (as q4_k), u8 qh[32], u8 q[128] (as q4_k);
 *         value l of sub-block j gets bit j of qh[l] as its fifth bit; x = d*s * q - dmin*m
 *   iq4_nl 32 values: f16 d, u8 q[16] (as q4_0)               x = SLM_IQ4NL[q] * d
 *   q3_k  256 values: u8 hmask[32], u8 q[64], u8 scales[12] (16 signed 6-bit, slm_q3k_scale),
 *         f16 d; value 32c' + l of the half h (c' = 0..3, l = 0..31): two bits at 2c' of q[32h + l],
 *         the third bit 4h + c' of hmask[l]; x = d * scale[(128h + 32c' + l) / 16] * (q3 - 4)
 *   q6_k  256 values: u8 ql[128], u8 qh[64], int8 scales[16], f16 d; a 6-bit q = 4 low bits from ql
 *         and 2 high bits from qh, x = d * scales[i/16] * (q - 32), in two halves of 128. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

static float f16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return slm_f16_to_f32(h);
}

static void dequant_q8_0(const void *blk, float *y) {
    const uint8_t *b = blk;
    float d = f16_at(b);
    const int8_t *q = (const int8_t *)(b + 2);
    for (int i = 0; i < 32; i++) y[i] = (float)q[i] * d;
}

static void dequant_q4_0(const void *blk, float *y) {
    const uint8_t *b = blk;
    float d = f16_at(b);
    const uint8_t *q = b + 2;
    for (int i = 0; i < 16; i++) {
        y[i] = (float)((q[i] & 15) - 8) * d;
        y[i + 16] = (float)((q[i] >> 4) - 8) * d;
    }
}

static void dequant_q4_1(const void *blk, float *y) {
    const uint8_t *b = blk;
    float d = f16_at(b), m = f16_at(b + 2);
    const uint8_t *q = b + 4;
    for (int i = 0; i < 16; i++) {
        y[i] = (float)(q[i] & 15) * d + m;
        y[i + 16] = (float)(q[i] >> 4) * d + m;
    }
}

/* The 5-bit value i (0..31) of a Q5_0 / Q5_1 block: its nibble (q[i] low for i < 16, q[i - 16]
 * high after) and bit i of the little-endian qh as the fifth bit. */
static inline int q5_value(const uint8_t *qh_bytes, const uint8_t *q, int i) {
    uint32_t qh;
    memcpy(&qh, qh_bytes, 4);
    int nib = i < 16 ? q[i] & 15 : q[i - 16] >> 4;
    return nib | (int)((qh >> i) & 1u) << 4;
}

static void dequant_q5_0(const void *blk, float *y) {
    const uint8_t *b = blk;
    float d = f16_at(b);
    for (int i = 0; i < 32; i++) y[i] = (float)(q5_value(b + 2, b + 6, i) - 16) * d;
}

static void dequant_q5_1(const void *blk, float *y) {
    const uint8_t *b = blk;
    float d = f16_at(b), m = f16_at(b + 2);
    for (int i = 0; i < 32; i++) y[i] = (float)q5_value(b + 4, b + 8, i) * d + m;
}

static void dequant_q4_k(const void *blk, float *y) {
    const uint8_t *b = blk;
    float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int c = 0; c < 4; c++) { /* 64 values from 32 bytes */
        int s1, m1, s2, m2;
        slm_q4k_scale_min(scales, 2 * c, &s1, &m1);
        slm_q4k_scale_min(scales, 2 * c + 1, &s2, &m2);
        float d1 = d * (float)s1, o1 = dmin * (float)m1, d2 = d * (float)s2, o2 = dmin * (float)m2;
        for (int l = 0; l < 32; l++) {
            y[l] = d1 * (float)(q[l] & 15) - o1;
            y[l + 32] = d2 * (float)(q[l] >> 4) - o2;
        }
        y += 64;
        q += 32;
    }
}

static void dequant_q5_k(const void *blk, float *y) {
    const uint8_t *b = blk;
    float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *q = b + 48;
    for (int j = 0; j < 8; j++) { /* sub-block j: nibbles of bytes 32 * (j / 2).. (low for even j), bit j of qh */
        int s, m;
        slm_q4k_scale_min(scales, j, &s, &m);
        float dj = d * (float)s, oj = dmin * (float)m;
        const uint8_t *qj = q + 32 * (j / 2);
        for (int l = 0; l < 32; l++)
            y[32 * j + l] = dj * (float)(((qj[l] >> (4 * (j & 1))) & 15) | ((qh[l] >> j) & 1) << 4) - oj;
    }
}

static void dequant_iq4_nl(const void *blk, float *y) {
    const uint8_t *b = blk;
    float d = f16_at(b);
    for (int i = 0; i < 16; i++) {
        y[i] = (float)SLM_IQ4NL[b[2 + i] & 15] * d;
        y[i + 16] = (float)SLM_IQ4NL[b[2 + i] >> 4] * d;
    }
}

/* Q3_K value v (0..255) of the super-block at b, as q3 - 4 (-4..3). */
static inline int q3k_value(const uint8_t *b, int v) {
    int h = v / 128, c = (v % 128) / 32, l = v % 32;
    int low = (b[32 + 32 * h + l] >> (2 * c)) & 3, high = (b[l] >> (4 * h + c)) & 1;
    return (low | high << 2) - 4;
}

static void dequant_q3_k(const void *blk, float *y) {
    const uint8_t *b = blk;
    float d = f16_at(b + 108);
    for (int v = 0; v < 256; v++) y[v] = d * (float)slm_q3k_scale(b + 96, v / 16) * (float)q3k_value(b, v);
}

static void dequant_q6_k(const void *blk, float *y) {
    const uint8_t *b = blk;
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = f16_at(b + 208);
    for (int half = 0; half < 2; half++) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32;
            int q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

static const slm_block_type BLOCK_TYPES[] = {
    {"q8_0", 32, 34, dequant_q8_0},   {"q4_0", 32, 18, dequant_q4_0},   {"q4_1", 32, 20, dequant_q4_1},
    {"q4_k", 256, 144, dequant_q4_k}, {"q6_k", 256, 210, dequant_q6_k}, {"q5_0", 32, 22, dequant_q5_0},
    {"q5_1", 32, 24, dequant_q5_1},   {"q5_k", 256, 176, dequant_q5_k}, {"q3_k", 256, 110, dequant_q3_k},
    {"iq4_nl", 32, 18, dequant_iq4_nl},
};

const slm_block_type *slm_block_type_of(slm_dtype dtype) {
    switch (dtype) {
    case SLM_DTYPE_Q8_0: return &BLOCK_TYPES[0];
    case SLM_DTYPE_Q4_0: return &BLOCK_TYPES[1];
    case SLM_DTYPE_Q4_1: return &BLOCK_TYPES[2];
    case SLM_DTYPE_Q4_K: return &BLOCK_TYPES[3];
    case SLM_DTYPE_Q6_K: return &BLOCK_TYPES[4];
    case SLM_DTYPE_Q5_0: return &BLOCK_TYPES[5];
    case SLM_DTYPE_Q5_1: return &BLOCK_TYPES[6];
    case SLM_DTYPE_Q5_K: return &BLOCK_TYPES[7];
    case SLM_DTYPE_Q3_K: return &BLOCK_TYPES[8];
    case SLM_DTYPE_IQ4_NL: return &BLOCK_TYPES[9];
    default: return NULL;
    }
}

void slm_dequantize_block_row(slm_dtype dtype, const void *w, int n, int64_t row, float *out) {
    const slm_block_type *bt = slm_block_type_of(dtype);
    int nb = n / bt->block_size;
    const uint8_t *p = (const uint8_t *)w + (size_t)row * (size_t)nb * (size_t)bt->block_bytes;
    for (int b = 0; b < nb; b++) bt->dequantize(p + (size_t)b * bt->block_bytes, out + (size_t)b * bt->block_size);
}

void slm_quantize_x32(int8_t *q, float *d, int32_t *sum, const float *x, int n) {
    slm_quantize_q8(q, d, x, n, 32);
    for (int b = 0; b < n / 32; b++) {
        int32_t s = 0;
        for (int i = 0; i < 32; i++) s += q[b * 32 + i];
        sum[b] = s;
    }
}

/* The float term of one Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 block p against the activation block x
 * (see quant.h). */
static float bq_term(int dtype, const uint8_t *p, const int8_t *x, float xd, int32_t xsum) {
    int32_t dot = 0;
    if (dtype == SLM_DTYPE_Q5_0) {
        for (int i = 0; i < 32; i++) dot += (int32_t)q5_value(p + 2, p + 6, i) * x[i];
        return (f16_at(p) * xd) * (float)(dot - 16 * xsum);
    }
    if (dtype == SLM_DTYPE_Q5_1) {
        for (int i = 0; i < 32; i++) dot += (int32_t)q5_value(p + 4, p + 8, i) * x[i];
        return (f16_at(p) * xd) * (float)dot + (f16_at(p + 2) * xd) * (float)xsum;
    }
    if (dtype == SLM_DTYPE_IQ4_NL) {
        for (int i = 0; i < 16; i++) dot += (int32_t)SLM_IQ4NL[p[2 + i] & 15] * x[i] + (int32_t)SLM_IQ4NL[p[2 + i] >> 4] * x[i + 16];
        return (f16_at(p) * xd) * (float)dot;
    }
    if (dtype == SLM_DTYPE_Q8_0) {
        const int8_t *q = (const int8_t *)(p + 2);
        for (int i = 0; i < 32; i++) dot += (int32_t)q[i] * x[i];
        return (f16_at(p) * xd) * (float)dot;
    }
    int q41 = dtype == SLM_DTYPE_Q4_1;
    const uint8_t *q = p + (q41 ? 4 : 2);
    for (int i = 0; i < 16; i++) dot += (int32_t)(q[i] & 15) * x[i] + (int32_t)(q[i] >> 4) * x[i + 16];
    if (q41) return (f16_at(p) * xd) * (float)dot + (f16_at(p + 2) * xd) * (float)xsum;
    return (f16_at(p) * xd) * (float)(dot - 8 * xsum);
}

/* The eight partial sums of a K-quant row in the order of an AVX2 horizontal sum (hsum256). */
static inline float sum8(const float *a) { return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7])); }

/* K-quant rows against int8 activations (see quant.h): sub-block j of super-block k (Q4_K / Q5_K),
 * or the 16-value sub-blocks 2j and 2j + 1 (Q3_K / Q6_K), meet activation block b = 8k + j in one
 * exact integer dot; its term goes to partial sum j, and the eight sums end in hsum256's order. */

/* Super-block k (at p) of a Q4_K / Q5_K row: its eight sub-blocks' terms into acc[0..7]. */
static void q45k_superblock(int q5, const uint8_t *p, int k, const int8_t *qx, const float *xd, const int32_t *xsum,
                            float acc[8]) {
    int qo = q5 ? 48 : 16;
    float d = f16_at(p), dmin = f16_at(p + 2);
    for (int j = 0; j < 8; j++) {
        int sc, m, b = 8 * k + j, sh = 4 * (j & 1);
        slm_q4k_scale_min(p + 4, j, &sc, &m);
        const uint8_t *q = p + qo + 32 * (j / 2), *qh = p + 16;
        const int8_t *x = qx + (size_t)b * 32;
        int32_t dot = 0;
        for (int i = 0; i < 32; i++) dot += (int32_t)(((q[i] >> sh) & 15) | (q5 ? ((qh[i] >> j) & 1) << 4 : 0)) * x[i];
        float a = (d * (float)sc) * xd[b], o = (dmin * (float)m) * xd[b];
        acc[j] += a * (float)dot - o * (float)xsum[b];
    }
}

/* Value 32j + l (0..63, before the -32) of a Q6_K super-block: for j = 4h + g, the low four bits
 * in ql[64h + 32 (g & 1) + l] (low nibble for g < 2), the top two at bits 2g of qh[32h + l]. */
static inline int q6k_value(const uint8_t *p, int j, int l) {
    int h = j / 4, g = j % 4, ql = p[64 * h + 32 * (g & 1) + l];
    return (g < 2 ? ql & 15 : ql >> 4) | ((p[128 + 32 * h + l] >> (2 * g)) & 3) << 4;
}

/* Super-block k (at p) of a Q3_K (q3) or Q6_K row: its eight activation blocks' terms into acc[0..7],
 * each value times its 16-value sub-block's scale in the integer dot. */
static void q36k_superblock(int q3, const uint8_t *p, int k, const int8_t *qx, const float *xd, float acc[8]) {
    float d = f16_at(p + (q3 ? 108 : 208));
    for (int j = 0; j < 8; j++) {
        int b = 8 * k + j;
        const int8_t *x = qx + (size_t)b * 32;
        int32_t dot = 0;
        for (int l = 0; l < 32; l++) {
            int s = 2 * j + l / 16;
            dot += (q3 ? slm_q3k_scale(p + 96, s) * q3k_value(p, 32 * j + l)
                       : (int32_t)(int8_t)p[192 + s] * (q6k_value(p, j, l) - 32)) * x[l];
        }
        acc[j] += (d * xd[b]) * (float)dot;
    }
}

/* Super-block k (at p) of a K-quant row of dtype into its eight partial sums. */
static void k_superblock(int dtype, const uint8_t *p, int k, const int8_t *qx, const float *xd, const int32_t *xsum,
                         float acc[8]) {
    if (dtype == SLM_DTYPE_Q4_K || dtype == SLM_DTYPE_Q5_K) q45k_superblock(dtype == SLM_DTYPE_Q5_K, p, k, qx, xd, xsum, acc);
    else q36k_superblock(dtype == SLM_DTYPE_Q3_K, p, k, qx, xd, acc);
}

void slm_matvec_bq_scalar(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                          const void *w, int n, int r0, int r1) {
    const slm_block_type *bt = slm_block_type_of((slm_dtype)dtype);
    int nb = n / bt->block_size, bb = bt->block_bytes;
    for (int r = r0; r < r1; r++) {
        const uint8_t *p = (const uint8_t *)w + (size_t)r * (size_t)nb * (size_t)bb;
        float acc[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        if (bt->block_size == 256) { /* K-quants */
            for (int k = 0; k < nb; k++, p += bb) k_superblock(dtype, p, k, qx, xd, xsum, acc);
            out[r] = sum8(acc);
            continue;
        }
        for (int b = 0; b < nb; b++, p += bb) acc[b & 3] += bq_term(dtype, p, qx + (size_t)b * 32, xd[b], xsum[b]);
        out[r] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
}

/* ---------------------------------------------------------------- rows in groups of eight */

int slm_bq8_type(slm_dtype dtype) {
    return dtype == SLM_DTYPE_Q8_0 || dtype == SLM_DTYPE_Q4_0 || dtype == SLM_DTYPE_Q4_1 || dtype == SLM_DTYPE_Q5_0 ||
           dtype == SLM_DTYPE_Q5_1 || dtype == SLM_DTYPE_IQ4_NL || dtype == SLM_DTYPE_Q4_K || dtype == SLM_DTYPE_Q5_K ||
           dtype == SLM_DTYPE_Q6_K;
}

/* One row's Q6_K super-block (blk, the file's 210 bytes) and its lane of a packed group super-block
 * (g; quant.h): d at 2 lane, scale i at 16 + 8i + lane; the low four bits of value l of activation
 * block j = 2P + side in the nibble `side` of byte 144 + 256P + 32 (l / 4) + 4 lane + l % 4, its top
 * two bits at bits 2 side + 4 (l / 16) of byte 1168 + 128P + 32 (l / 4 % 4) + 4 lane + l % 4. In the
 * file block j = 4h + g has its low bits in ql[64h + 32 (g & 1) + l] (high nibble for g >= 2) and its
 * top bits at 2g of qh[32h + l], so four values at a time move as 32-bit words of nibbles. */
static void q6k_lane_copy(uint8_t *g, uint8_t *blk, int lane, int to_group) {
    const uint32_t M = 0x0F0F0F0Fu;
    uint8_t *gd = g + 2 * lane;
    memcpy(to_group ? gd : blk + 208, to_group ? blk + 208 : gd, 2);
    for (int i = 0; i < 16; i++) {
        if (to_group) g[16 + 8 * i + lane] = blk[192 + i];
        else blk[192 + i] = g[16 + 8 * i + lane];
    }
    for (int h = 0; h < 2; h++) {
        for (int c = 0; c < 8; c++) { /* ql words a (g = 0, 2) and b (g = 1, 3); packed words of P = 2h, 2h + 1 */
            uint8_t *fa = blk + 64 * h + 4 * c, *fb = fa + 32;
            uint8_t *g0 = g + 144 + 512 * h + 32 * c + 4 * lane, *g1 = g0 + 256;
            uint32_t a, b, p0, p1;
            if (to_group) {
                memcpy(&a, fa, 4), memcpy(&b, fb, 4);
                p0 = (a & M) | (b & M) << 4, p1 = (a >> 4 & M) | (b & ~M);
                memcpy(g0, &p0, 4), memcpy(g1, &p1, 4);
            } else {
                memcpy(&p0, g0, 4), memcpy(&p1, g1, 4);
                a = (p0 & M) | (p1 & M) << 4, b = (p0 >> 4 & M) | (p1 & ~M);
                memcpy(fa, &a, 4), memcpy(fb, &b, 4);
            }
        }
        for (int m = 0; m < 4; m++) { /* qh words of values 4m.. and 4m + 16..; packed words of P = 2h, 2h + 1 */
            uint8_t *ql = blk + 128 + 32 * h + 4 * m, *qu = ql + 16;
            uint8_t *w0 = g + 1168 + 256 * h + 32 * m + 4 * lane, *w1 = w0 + 128;
            uint32_t lo, hi, x0, x1;
            if (to_group) {
                memcpy(&lo, ql, 4), memcpy(&hi, qu, 4);
                x0 = (lo & M) | (hi & M) << 4, x1 = (lo >> 4 & M) | (hi >> 4 & M) << 4;
                memcpy(w0, &x0, 4), memcpy(w1, &x1, 4);
            } else {
                memcpy(&x0, w0, 4), memcpy(&x1, w1, 4);
                lo = (x0 & M) | (x1 & M) << 4, hi = (x0 >> 4 & M) | (x1 >> 4 & M) << 4;
                memcpy(ql, &lo, 4), memcpy(qu, &hi, 4);
            }
        }
    }
}

/* One row's Q5_K fifth bits (qh: bit j of qh[l] for value l of sub-block j) and its lane of the packed
 * fifth-bit vectors (f, the lane's bytes; quant.h): for sub-blocks 2p + side and chunk c = 4e + i (values
 * 4c .. 4c + 3), byte t of the lane's word at 64p + 32e holds the fifth bit of value 4c + t at bit 2i + side,
 * so word (p, e) is the or of the qh words c = 4e + i shifted down by 2p, masked to two bits a byte,
 * and shifted up by 2i. */
static void q5k_fifth_copy(uint8_t *f, uint8_t *qh, int to_group) {
    const uint32_t M2 = 0x03030303u;
    if (!to_group) memset(qh, 0, 32);
    for (int p = 0; p < 4; p++)
        for (int e = 0; e < 2; e++) {
            uint32_t w = 0, q;
            if (!to_group) memcpy(&w, f + 64 * p + 32 * e, 4);
            for (int i = 0; i < 4; i++) {
                uint8_t *qp = qh + 4 * (4 * e + i);
                memcpy(&q, qp, 4);
                if (to_group) w |= (q >> (2 * p) & M2) << (2 * i);
                else q |= (w >> (2 * i) & M2) << (2 * p), memcpy(qp, &q, 4);
            }
            if (to_group) memcpy(f + 64 * p + 32 * e, &w, 4);
        }
}

/* One row's Q4_K scales and quants (blk at its 12 scale bytes) between the file's layout and its
 * lane of a packed group super-block (g at the group's byte 32; quant.h): byte 8j + lane holds the
 * low four bits of sub-block j's scale (bits 0-3) and min (4-7), byte 64 + 8 (j & 3) + lane at bits
 * 4 (j >> 2) .. 4 (j >> 2) + 3 their top two bits (scale below, min above), and byte 96 + 256p + 32c
 * + 4 lane + i the file's quant byte 32p + 4c + i. */
static void q4k_lane_copy(uint8_t *g, uint8_t *blk, int lane, int to_group) {
    uint8_t *lo = g + lane, *hi = g + 64 + lane, *q = g + 96 + 4 * lane;
    if (to_group) {
        for (int j = 0; j < 8; j++) {
            int sc, m, s = 4 * (j >> 2);
            slm_q4k_scale_min(blk, j, &sc, &m);
            lo[8 * j] = (uint8_t)((sc & 15) | (m & 15) << 4);
            hi[8 * (j & 3)] = (uint8_t)((hi[8 * (j & 3)] & ~(15 << s)) | ((sc >> 4) | (m >> 4) << 2) << s);
        }
    } else {
        int sc[8], m[8];
        for (int j = 0; j < 8; j++) {
            int t = hi[8 * (j & 3)] >> (4 * (j >> 2));
            sc[j] = (lo[8 * j] & 15) | (t & 3) << 4;
            m[j] = (lo[8 * j] >> 4) | ((t >> 2) & 3) << 4;
        }
        for (int i = 0; i < 4; i++) { /* the file's packing (slm_q4k_scale_min read backwards) */
            blk[i] = (uint8_t)(sc[i] | (sc[i + 4] >> 4) << 6);
            blk[i + 4] = (uint8_t)(m[i] | (m[i + 4] >> 4) << 6);
            blk[i + 8] = (uint8_t)((sc[i + 4] & 15) | (m[i + 4] & 15) << 4);
        }
    }
    for (int p = 0; p < 4; p++)
        for (int c = 0; c < 8; c++) {
            uint8_t *gp = q + 256 * p + 32 * c, *bp = blk + 12 + 32 * p + 4 * c;
            memcpy(to_group ? gp : bp, to_group ? bp : gp, 4);
        }
}

/* One row's Q5_0 / Q5_1 quants (qh: bit i the fifth bit of value i; qs: byte i value i's low nibble,
 * its high nibble value 16 + i's) between the file's layout (blk, at qh) and the packed layout's five
 * chunks (g at the first chunk, chunk k of this lane at 32 * k; quant.h): chunk 0 byte j holds at
 * bits 2c, 2c + 1 the low two bits of value 16 + 4c + j; chunk 1 + c byte j holds value 4c + j
 * whole (bits 0-4) and value 16 + 4c + j's top three bits (bits 5-7). */
static void q5_lane_copy(uint8_t *g, uint8_t *blk, int to_group) {
    uint32_t qh = 0;
    if (to_group) memcpy(&qh, blk, 4);
    for (int j = 0; j < 4; j++) {
        unsigned low2 = 0;
        for (int c = 0; c < 4; c++) {
            int i = 4 * c + j;
            if (to_group) {
                unsigned lo = (blk[4 + i] & 15u) | ((qh >> i) & 1u) << 4;
                unsigned hi = (unsigned)(blk[4 + i] >> 4) | ((qh >> (16 + i)) & 1u) << 4;
                g[32 * (1 + c) + j] = (uint8_t)(lo | (hi >> 2) << 5);
                low2 |= (hi & 3u) << (2 * c);
            } else {
                unsigned b = g[32 * (1 + c) + j], lo = b & 31u, hi = (b >> 5) << 2 | ((g[j] >> (2 * c)) & 3u);
                blk[4 + i] = (uint8_t)((lo & 15u) | (hi & 15u) << 4);
                qh |= (lo >> 4) << i | (hi >> 4) << (16 + i);
            }
        }
        if (to_group) g[j] = (uint8_t)low2;
    }
    if (!to_group) memcpy(blk, &qh, 4);
}

/* Copies one row's block between the file's layout (blk) and its lane of a group block (g): the
 * f16 scale (and Q4_1's / Q5_1's f16 min, Q4_K's dmin) at 16 * f + 2 * lane, quant chunk c at 8 * head + 32 * c +
 * 4 * lane (Q5_0's and Q5_1's five chunks rearranged by q5_lane_copy). to_group 1 writes g, 0 writes
 * blk. */
static void bq8_lane_copy(slm_dtype dtype, uint8_t *g, uint8_t *blk, int lane, int to_group) {
    if (dtype == SLM_DTYPE_Q6_K) {
        q6k_lane_copy(g, blk, lane, to_group);
        return;
    }
    int hb = dtype == SLM_DTYPE_Q4_1 || dtype == SLM_DTYPE_Q5_1 || dtype == SLM_DTYPE_Q4_K || dtype == SLM_DTYPE_Q5_K ? 4 : 2,
        qb = slm_bq8_block_bytes(dtype) - hb;
    for (int f = 0; f < hb / 2; f++) {
        uint8_t *gp = g + 16 * f + 2 * lane, *bp = blk + 2 * f;
        memcpy(to_group ? gp : bp, to_group ? bp : gp, 2);
    }
    if (dtype == SLM_DTYPE_Q5_0 || dtype == SLM_DTYPE_Q5_1) {
        q5_lane_copy(g + 8 * hb + 4 * lane, blk + hb, to_group);
        return;
    }
    if (dtype == SLM_DTYPE_Q4_K || dtype == SLM_DTYPE_Q5_K) { /* Q5_K: Q4_K's layout with its 32 qh bytes after it */
        int q5 = dtype == SLM_DTYPE_Q5_K;
        uint8_t qs[140]; /* Q4_K's scales and quants */
        if (q5 && to_group) memcpy(qs, blk + hb, 12), memcpy(qs + 12, blk + hb + 44, 128);
        q4k_lane_copy(g + 8 * hb, q5 ? qs : blk + hb, lane, to_group);
        if (q5 && !to_group) memcpy(blk + hb, qs, 12), memcpy(blk + hb + 44, qs + 12, 128);
        if (q5) q5k_fifth_copy(g + 1152 + 4 * lane, blk + hb + 12, to_group);
        return;
    }
    for (int c = 0; c < qb / 4; c++) {
        uint8_t *gp = g + 8 * hb + 32 * c + 4 * lane, *bp = blk + hb + 4 * c;
        memcpy(to_group ? gp : bp, to_group ? bp : gp, 4);
    }
}

void slm_bq8_get_block(slm_dtype dtype, const void *w, int n, int64_t row, int b, uint8_t *dst) {
    size_t bb = (size_t)slm_bq8_block_bytes(dtype), rb = (size_t)(n / slm_bq8_block_size(dtype)) * bb;
    uint8_t *g = (uint8_t *)w + (size_t)(row / 8) * 8 * rb + (size_t)b * 8 * bb; /* only read */
    bq8_lane_copy(dtype, g, dst, (int)(row % 8), 0);
}

void slm_bq8_pack(slm_dtype dtype, void *dst, const void *src, int64_t rows, int n) {
    int nb = n / slm_bq8_block_size(dtype), bb = slm_bq8_block_bytes(dtype);
    size_t rb = (size_t)nb * (size_t)bb;
    int64_t rows8 = rows & ~(int64_t)7;
    uint8_t *d = dst;
    for (int64_t g = 0; g < rows8 / 8; g++) /* the destination in order: group blocks one after another */
        for (int b = 0; b < nb; b++, d += 8 * (size_t)bb)
            for (int lane = 0; lane < 8; lane++)
                bq8_lane_copy(dtype, d, (uint8_t *)src + (size_t)(8 * g + lane) * rb + (size_t)b * bb, lane, 1);
    memcpy(d, (const uint8_t *)src + (size_t)rows8 * rb, (size_t)(rows - rows8) * rb);
}

void slm_bq8_dequant_row(slm_dtype dtype, void (*dequant_row)(int, float *, const void *, int, int64_t), float *out,
                         const void *w, int n, int64_t rows, int64_t row) {
    int bs = slm_bq8_block_size(dtype), nb = n / bs, bb = slm_bq8_block_bytes(dtype);
    size_t rb = (size_t)nb * (size_t)bb;
    int64_t rows8 = rows & ~(int64_t)7;
    if (row >= rows8) {
        dequant_row((int)dtype, out, (const uint8_t *)w + (size_t)rows8 * rb, n, row - rows8);
        return;
    }
    uint8_t buf[8 * 210]; /* eight blocks at a time in the file's layout */
    uint8_t *g = (uint8_t *)w + (size_t)(row / 8) * 8 * rb; /* only read */
    for (int b0 = 0; b0 < nb; b0 += 8) {
        int cnt = nb - b0 < 8 ? nb - b0 : 8;
        for (int b = 0; b < cnt; b++) bq8_lane_copy(dtype, g + (size_t)(b0 + b) * 8 * bb, buf + (size_t)b * bb, (int)(row % 8), 0);
        dequant_row((int)dtype, out + (size_t)b0 * bs, buf, bs * cnt, 0);
    }
}

void slm_matvec_bq8_scalar(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                           const void *w, int n, int rows, int r0, int r1) {
    int bs = slm_bq8_block_size(dtype), nb = n / bs, bb = slm_bq8_block_bytes(dtype), rows8 = rows & ~7;
    for (int r = r0; r < r1 && r < rows8; r++) {
        float acc[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        uint8_t blk[210];
        for (int b = 0; b < nb; b++) {
            slm_bq8_get_block((slm_dtype)dtype, w, n, r, b, blk);
            if (bs == 256) k_superblock(dtype, blk, b, qx, xd, xsum, acc);
            else acc[b & 3] += bq_term(dtype, blk, qx + (size_t)b * 32, xd[b], xsum[b]);
        }
        out[r] = bs == 256 ? sum8(acc) : (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
    if (r1 > rows8)
        slm_matvec_bq_scalar(dtype, out + rows8, qx, xd, xsum, (const uint8_t *)w + (size_t)rows8 * (size_t)nb * (size_t)bb,
                             n, (r0 > rows8 ? r0 : rows8) - rows8, r1 - rows8);
}

/* ---------------------------------------------------------------- quantizers */

/* Stores a scale as f16, clamped to its finite range (NaN as 0): blocks from extreme or hostile
 * weights stay decodable. */
static void put_f16(uint8_t *p, float f) {
    uint16_t h = slm_f32_to_f16(f == f ? fminf(65504.0f, fmaxf(-65504.0f, f)) : 0.0f);
    memcpy(p, &h, 2);
}

void slm_quantize_row_q8_0(const float *x, void *out, int n) {
    uint8_t *o = out;
    for (int b = 0; b < n / 32; b++, x += 32, o += 34) {
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
        put_f16(o, d);
        for (int i = 0; i < 32; i++) o[2 + i] = (uint8_t)slm_round_to_i8(x[i] * id);
    }
}

/* The value of largest magnitude among 32, with its sign (the first of equals; 0 for all zeros). */
static float signed_absmax32(const float *x) {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < 32; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
    return max;
}

/* The smallest and largest of 32 values. */
static void range32(const float *x, float *lo, float *hi) {
    *lo = *hi = x[0];
    for (int i = 1; i < 32; i++) *lo = fminf(*lo, x[i]), *hi = fmaxf(*hi, x[i]);
}

void slm_quantize_row_q4_0(const float *x, void *out, int n) {
    uint8_t *o = out;
    for (int b = 0; b < n / 32; b++, x += 32, o += 18) {
        float d = signed_absmax32(x) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(o, d);
        for (int i = 0; i < 16; i++) {
            int a = (int)fminf(15.0f, fmaxf(0.0f, roundf(x[i] * id + 8.0f)));
            int c = (int)fminf(15.0f, fmaxf(0.0f, roundf(x[i + 16] * id + 8.0f)));
            o[2 + i] = (uint8_t)(a | c << 4);
        }
    }
}

/* 32 five-bit levels as Q5_0 / Q5_1 store them: the fifth bits in qh (bit i for value i, a
 * little-endian u32 as the file has it; slm targets little-endian CPUs), the nibbles in q[16]
 * (value i < 16 low, value i + 16 high). */
static void put_q5_levels(const int L[32], uint8_t *qh_at, uint8_t *q) {
    uint32_t qh = 0;
    for (int i = 0; i < 16; i++) q[i] = (uint8_t)((L[i] & 15) | (L[i + 16] & 15) << 4);
    for (int i = 0; i < 32; i++) qh |= (uint32_t)(L[i] >> 4) << i;
    memcpy(qh_at, &qh, 4);
}

void slm_quantize_row_q5_0(const float *x, void *out, int n) {
    uint8_t *o = out;
    int L[32];
    for (int b = 0; b < n / 32; b++, x += 32, o += 22) {
        float d = signed_absmax32(x) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(o, d);
        for (int i = 0; i < 32; i++) L[i] = (int)fminf(31.0f, fmaxf(0.0f, roundf(x[i] * id + 16.0f)));
        put_q5_levels(L, o + 2, o + 6);
    }
}

void slm_quantize_row_q5_1(const float *x, void *out, int n) {
    uint8_t *o = out;
    int L[32];
    for (int b = 0; b < n / 32; b++, x += 32, o += 24) {
        float lo, hi;
        range32(x, &lo, &hi);
        float d = (hi - lo) / 31.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
        put_f16(o, d);
        put_f16(o + 2, lo);
        for (int i = 0; i < 32; i++) L[i] = (int)fminf(31.0f, fmaxf(0.0f, roundf((x[i] - lo) * id)));
        put_q5_levels(L, o + 4, o + 8);
    }
}

void slm_quantize_row_q4_1(const float *x, void *out, int n) {
    uint8_t *o = out;
    for (int b = 0; b < n / 32; b++, x += 32, o += 20) {
        float lo, hi;
        range32(x, &lo, &hi);
        float d = (hi - lo) / 15.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
        put_f16(o, d);
        put_f16(o + 2, lo);
        for (int i = 0; i < 16; i++) {
            int a = (int)fminf(15.0f, fmaxf(0.0f, roundf((x[i] - lo) * id)));
            int c = (int)fminf(15.0f, fmaxf(0.0f, roundf((x[i + 16] - lo) * id)));
            o[4 + i] = (uint8_t)(a | c << 4);
        }
    }
}

/* A finite copy of v: NaN becomes 0, infinities the largest finite float of their sign. */
static float finite(float v) {
    if (!(v == v)) return 0.0f;
    return fminf(3.0e38f, fmaxf(-3.0e38f, v));
}

/* round(v) clamped to [lo, hi]; NaN gives lo. */
static int clamp_round(float v, int lo, int hi) { return (int)fminf((float)hi, fmaxf((float)lo, roundf(v))); }

/* Squared error of x against scale d on levels [-nmax, nmax - 1]; with `ls` set, d is first
 * replaced by its least-squares fit over the levels it gives. */
static double sym_error(const float *x, int n, int nmax, float *d, int ls) {
    if (ls) {
        double sxq = 0, sqq = 0;
        for (int i = 0; i < n; i++) {
            int q = clamp_round(x[i] / *d, -nmax, nmax - 1);
            sxq += (double)x[i] * q, sqq += (double)q * q;
        }
        if (sqq > 0 && sxq != 0) *d = (float)(sxq / sqq);
    }
    double e = 0;
    for (int i = 0; i < n; i++) {
        double r = x[i] - (double)*d * clamp_round(x[i] / *d, -nmax, nmax - 1);
        e += r * r;
    }
    return e;
}

/* Signed scale of n values for levels [-nmax, nmax - 1]: the value of largest magnitude mapped to
 * levels near -nmax (a small grid), each candidate refined by least squares; the best is kept. */
static float fit_symmetric(const float *x, int n, int nmax) {
    float amax = 0.0f, vmax = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), vmax = x[i];
    if (amax == 0.0f) return 0.0f;
    float best = vmax / (float)-nmax;
    double best_e = sym_error(x, n, nmax, &best, 0);
    for (int g = -4; g <= 4; g++) {
        float d = vmax / ((float)-nmax + 0.25f * (float)g);
        double e = sym_error(x, n, nmax, &d, 1);
        if (e < best_e) best_e = e, best = d;
    }
    return best;
}

void slm_quantize_row_q6_k(const float *xin, void *out, int n) {
    uint8_t *o = out;
    float x[256], sc[16];
    for (int b = 0; b < n / 256; b++, xin += 256, o += 210) {
        for (int i = 0; i < 256; i++) x[i] = finite(xin[i]);
        float amax = 0.0f;
        for (int j = 0; j < 16; j++) sc[j] = fit_symmetric(x + 16 * j, 16, 32), amax = fmaxf(amax, fabsf(sc[j]));
        put_f16(o + 208, amax / 127.0f);
        float d = f16_at(o + 208); /* as stored */
        int8_t *qs = (int8_t *)(o + 192);
        int L[256];
        for (int j = 0; j < 16; j++) {
            qs[j] = (int8_t)(d > 0.0f ? clamp_round(sc[j] / d, -127, 127) : 0);
            float ds = d * (float)qs[j];
            for (int i = 0; i < 16; i++) L[16 * j + i] = ds != 0.0f ? clamp_round(x[16 * j + i] / ds, -32, 31) + 32 : 32;
        }
        uint8_t *ql = o, *qh = o + 128;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
            const int *Lh = L + 128 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((Lh[l] & 15) | (Lh[l + 64] & 15) << 4);
                ql[l + 32] = (uint8_t)((Lh[l + 32] & 15) | (Lh[l + 96] & 15) << 4);
                qh[l] = (uint8_t)((Lh[l] >> 4) | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 | (Lh[l + 96] >> 4) << 6);
            }
        }
    }
}

/* Squared error of x = a * q + c, q in [0, qmax]; with `ls` set, (a, c) are first replaced by their
 * least-squares fit over the levels they give (c kept <= 0). */
static double affine_error(const float *x, int n, int qmax, float *a, float *c, int ls) {
    if (ls) {
        double s1 = 0, sq = 0, sqq = 0, sx = 0, sxq = 0;
        for (int i = 0; i < n; i++) {
            int q = clamp_round((x[i] - *c) / *a, 0, qmax);
            s1 += 1, sq += q, sqq += (double)q * q, sx += x[i], sxq += (double)x[i] * q;
        }
        double det = s1 * sqq - sq * sq;
        if (det > 0) {
            double na = (s1 * sxq - sq * sx) / det, nc = (sx - na * sq) / s1;
            if (nc > 0) nc = 0, na = sqq > 0 ? sxq / sqq : 0; /* the minimum cannot be positive */
            if (na > 0) *a = (float)na, *c = (float)nc;
        }
    }
    double e = 0;
    for (int i = 0; i < n; i++) {
        double r = x[i] - ((double)*a * clamp_round((x[i] - *c) / *a, 0, qmax) + *c);
        e += r * r;
    }
    return e;
}

/* Scale and minimum of n values for x = scale * q - min, q in [0, qmax], min >= 0 (so the range
 * always holds 0, as the format's unsigned minimum requires): from the range over a small grid of
 * level counts, each refined by least squares; the best is kept. */
static void fit_affine(const float *x, int n, int qmax, float *scale, float *min) {
    float lo = 0.0f, hi = x[0];
    for (int i = 0; i < n; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
    if (!(hi - lo > 0.0f)) {
        *scale = 0.0f, *min = -lo;
        return;
    }
    float ba = (hi - lo) / (float)qmax, bc = lo;
    double be = affine_error(x, n, qmax, &ba, &bc, 0);
    for (int g = -4; g <= 4; g++) {
        float a = (hi - lo) / ((float)qmax + 0.25f * (float)g), c = lo;
        double e = affine_error(x, n, qmax, &a, &c, 1);
        if (e < be) be = e, ba = a, bc = c;
    }
    *scale = ba, *min = -bc;
}

/* The header of a Q4_K / Q5_K super-block (d, dmin, the packed 6-bit scales and mins of its eight
 * sub-blocks) written to o, and its 256 levels in [0, qmax] into L. */
static void k_affine_block(const float *xin, uint8_t *o, int qmax, int L[256]) {
    float x[256], sc[8], mn[8];
    for (int i = 0; i < 256; i++) x[i] = finite(xin[i]);
    float smax = 0.0f, mmax = 0.0f;
    for (int j = 0; j < 8; j++) {
        fit_affine(x + 32 * j, 32, qmax, &sc[j], &mn[j]);
        smax = fmaxf(smax, sc[j]), mmax = fmaxf(mmax, mn[j]);
    }
    put_f16(o, smax / 63.0f), put_f16(o + 2, mmax / 63.0f);
    float d = f16_at(o), dmin = f16_at(o + 2);
    int S[8], M[8];
    for (int j = 0; j < 8; j++) {
        S[j] = d > 0.0f ? clamp_round(sc[j] / d, 0, 63) : 0;
        M[j] = dmin > 0.0f ? clamp_round(mn[j] / dmin, 0, 63) : 0;
    }
    uint8_t *s = o + 4;
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(S[j] | (S[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)(M[j] | (M[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((S[j + 4] & 15) | (M[j + 4] & 15) << 4);
    }
    for (int j = 0; j < 8; j++) {
        float ds = d * (float)S[j], dm = dmin * (float)M[j];
        for (int i = 0; i < 32; i++) L[32 * j + i] = ds > 0.0f ? clamp_round((x[32 * j + i] + dm) / ds, 0, qmax) : 0;
    }
}

void slm_quantize_row_q4_k(const float *xin, void *out, int n) {
    uint8_t *o = out;
    int L[256];
    for (int b = 0; b < n / 256; b++, xin += 256, o += 144) {
        k_affine_block(xin, o, 15, L);
        uint8_t *q = o + 16;
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) q[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
}

void slm_quantize_row_q5_k(const float *xin, void *out, int n) {
    uint8_t *o = out;
    int L[256];
    for (int b = 0; b < n / 256; b++, xin += 256, o += 176) {
        k_affine_block(xin, o, 31, L);
        uint8_t *qh = o + 16, *q = o + 48;
        memset(qh, 0, 32);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                int lo = L[64 * c + l], hi = L[64 * c + 32 + l]; /* sub-blocks 2c and 2c + 1 */
                q[32 * c + l] = (uint8_t)((lo & 15) | (hi & 15) << 4);
                qh[l] |= (uint8_t)((lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
            }
    }
}

void slm_quantize_row_q3_k(const float *xin, void *out, int n) {
    uint8_t *o = out;
    float x[256], sc[16];
    for (int b = 0; b < n / 256; b++, xin += 256, o += 110) {
        for (int i = 0; i < 256; i++) x[i] = finite(xin[i]);
        float ms = 0.0f; /* the sub-block scale of largest magnitude, with its sign */
        for (int j = 0; j < 16; j++) {
            sc[j] = fit_symmetric(x + 16 * j, 16, 4);
            if (fabsf(sc[j]) > fabsf(ms)) ms = sc[j];
        }
        put_f16(o + 108, ms / -32.0f);
        float d = f16_at(o + 108); /* as stored */
        memset(o, 0, 108);
        for (int j = 0; j < 16; j++) {
            int S = d != 0.0f ? clamp_round(sc[j] / d, -32, 31) : 0, u = S + 32;
            o[96 + j % 8] |= (uint8_t)((u & 15) << (j < 8 ? 0 : 4));
            o[104 + j % 4] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
            float ds = d * (float)S;
            for (int i = 0; i < 16; i++) {
                int v = 16 * j + i, q = (ds != 0.0f ? clamp_round(x[v] / ds, -4, 3) : 0) + 4;
                int h = v / 128, c = (v % 128) / 32, l = v % 32;
                o[32 + 32 * h + l] |= (uint8_t)((q & 3) << (2 * c));
                o[l] |= (uint8_t)((q >> 2) << (4 * h + c));
            }
        }
    }
}

/* Squared error of x (32 values) on IQ4_NL's levels at scale d, each value to its nearest level. */
static double iq4nl_error(const float *x, float d, int *L) {
    double e = 0;
    for (int i = 0; i < 32; i++) {
        int best = 0;
        float be = INFINITY;
        for (int k = 0; k < 16; k++) {
            float r = fabsf(x[i] - d * (float)SLM_IQ4NL[k]);
            if (r < be) be = r, best = k;
        }
        L[i] = best;
        e += (double)be * be;
    }
    return e;
}

void slm_quantize_row_iq4_nl(const float *xin, void *out, int n) {
    uint8_t *o = out;
    float x[32];
    int L[32], BL[32];
    for (int b = 0; b < n / 32; b++, xin += 32, o += 18) {
        for (int i = 0; i < 32; i++) x[i] = finite(xin[i]);
        float vmax = signed_absmax32(x), best = 0.0f;
        double best_e = INFINITY;
        memset(BL, 0, sizeof BL);
        for (int g = 0; g < 34 && vmax != 0.0f; g++) {
            /* the extreme value at a level near the table's lowest (-127) or, with the other sign of
             * scale, near its highest (113): 17 candidates each */
            float d = vmax / (float)(g < 17 ? SLM_IQ4NL[0] + g - 8 : SLM_IQ4NL[15] + g - 25);
            double e = iq4nl_error(x, d, L);
            double sxq = 0, sqq = 0; /* then the least-squares scale for those levels */
            for (int i = 0; i < 32; i++) sxq += (double)x[i] * SLM_IQ4NL[L[i]], sqq += (double)SLM_IQ4NL[L[i]] * SLM_IQ4NL[L[i]];
            if (sqq > 0) {
                float d2 = (float)(sxq / sqq);
                int L2[32];
                double e2 = iq4nl_error(x, d2, L2);
                if (e2 < e) e = e2, d = d2, memcpy(L, L2, sizeof L);
            }
            if (e < best_e) best_e = e, best = d, memcpy(BL, L, sizeof BL);
        }
        put_f16(o, best);
        if (f16_at(o) != best && best != 0.0f) iq4nl_error(x, f16_at(o), BL); /* the levels for the scale as stored */
        for (int i = 0; i < 16; i++) o[2 + i] = (uint8_t)(BL[i] | BL[i + 16] << 4);
    }
}

void slm_quantize_row(slm_dtype dtype, const float *x, void *out, int n) {
    switch (dtype) {
    case SLM_DTYPE_Q8_0: slm_quantize_row_q8_0(x, out, n); break;
    case SLM_DTYPE_Q4_0: slm_quantize_row_q4_0(x, out, n); break;
    case SLM_DTYPE_Q4_1: slm_quantize_row_q4_1(x, out, n); break;
    case SLM_DTYPE_Q4_K: slm_quantize_row_q4_k(x, out, n); break;
    case SLM_DTYPE_Q6_K: slm_quantize_row_q6_k(x, out, n); break;
    case SLM_DTYPE_Q5_0: slm_quantize_row_q5_0(x, out, n); break;
    case SLM_DTYPE_Q5_1: slm_quantize_row_q5_1(x, out, n); break;
    case SLM_DTYPE_Q5_K: slm_quantize_row_q5_k(x, out, n); break;
    case SLM_DTYPE_Q3_K: slm_quantize_row_q3_k(x, out, n); break;
    case SLM_DTYPE_IQ4_NL: slm_quantize_row_iq4_nl(x, out, n); break;
    default: break;
    }
}
