/* quant.h — ggml block quantization types as rows of one trait table: block size, bytes per
 * block, and a scalar dequantizer (the reference). Layouts follow GGUF/ggml's definitions. */
#ifndef SLM_QUANT_H
#define SLM_QUANT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "slm.h"

typedef struct slm_block_type {
    const char *name;     /* "q8_0", ... */
    int block_size;       /* values per block */
    int block_bytes;      /* bytes per block */
    /* dequantizes one block into out (block_size) */
    void (*dequantize)(const void *block, float *out);
} slm_block_type;

/* The trait row of a block-quantized dtype, or NULL for F32/F16/BF16/Q8_G. */
const slm_block_type *slm_block_type_of(slm_dtype dtype);

/* IQ4_NL's 16 levels (ggml's table): a nibble n stands for SLM_IQ4NL[n] * d. */
static const int8_t SLM_IQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* The 6-bit scale i (0..15) of a Q3_K super-block, minus 32 (signed): 4 low bits from bytes 0-7
 * (low nibbles for i < 8, high nibbles of byte i - 8 after), 2 high bits from bytes 8-11 (byte
 * 8 + i % 4, bits 2 * (i / 4)). */
static inline int slm_q3k_scale(const uint8_t *s, int i) {
    int lo = i < 8 ? s[i] & 15 : s[i - 8] >> 4, hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    return (lo | hi << 4) - 32;
}

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K block, from its 12 scale bytes s. */
static inline void slm_q4k_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* All eight 6-bit scales (byte j of *sc) and mins (byte j of *mn) of a Q4_K block at once, from its
 * 12 scale bytes s read as three words A, B, C: sub-blocks 0-3 are A & 63 and B & 63; 4-7 take C's
 * low (scales) and high (mins) nibbles with the top two bits of A (scales) and B (mins) above them
 * (slm_q4k_scale_min, eight at a time, for the SIMD kernels). */
static inline void slm_q4k_scales_mins8(const uint8_t *s, uint64_t *sc, uint64_t *mn) {
    uint32_t A, B, C;
    memcpy(&A, s, 4), memcpy(&B, s + 4, 4), memcpy(&C, s + 8, 4);
    *sc = (A & 0x3f3f3f3fu) | (uint64_t)((C & 0x0f0f0f0fu) | (((A >> 6) & 0x03030303u) << 4)) << 32;
    *mn = (B & 0x3f3f3f3fu) | (uint64_t)(((C >> 4) & 0x0f0f0f0fu) | (((B >> 6) & 0x03030303u) << 4)) << 32;
}

/* The 16 six-bit scales of a Q3_K super-block (slm_q3k_scale without the -32), eight bytes per
 * word: scales 0-7 in *lo, 8-15 in *hi. Bytes 0-7 read as A give the low nibbles (A for 0-7, A >> 4
 * for 8-15); bytes 8-11 read as H give the top bits, two per scale at 2 * (i / 4) of byte 8 + i % 4. */
static inline void slm_q3k_scales16(const uint8_t *s, uint64_t *lo, uint64_t *hi) {
    uint64_t A;
    uint32_t H;
    memcpy(&A, s, 8), memcpy(&H, s + 8, 4);
    const uint64_t m4 = 0x0f0f0f0f0f0f0f0full;
    uint64_t t0 = (uint64_t)(H & 0x03030303u) | (uint64_t)((H >> 2) & 0x03030303u) << 32;
    uint64_t t1 = (uint64_t)((H >> 4) & 0x03030303u) | (uint64_t)((H >> 6) & 0x03030303u) << 32;
    *lo = (A & m4) | t0 << 4;
    *hi = ((A >> 4) & m4) | t1 << 4;
}

/* Dequantizes row `row` of a block-quantized matrix (rows, n) into out (n). */
void slm_dequantize_block_row(slm_dtype dtype, const void *w, int n, int64_t row, float *out);

/* Activations for the integer block products: x (n, a multiple of 32) quantized to int8 in blocks
 * of 32 as slm_quantize_q8 does (d = max|x|/127, q = round(x/d)), with each block's sum of q. */
void slm_quantize_x32(int8_t *q, float *d, int32_t *sum, const float *x, int n);

/* The scalar reference of slm_kernels.matvec_bq: out[r] for r in [r0, r1) of a Q8_0, Q4_0, Q4_1,
 * Q5_0, Q5_1, IQ4_NL, Q3_K, Q4_K, Q5_K or Q6_K matrix (rows, n) against activations from
 * slm_quantize_x32. Per block b the integer dot product is exact (Q4_0's -8 offset applied as -8 * sum[b], Q5_0's -16 as -16 * sum[b]); the
 * block's term is
 *   (dw * d[b]) * dot                                (Q8_0, Q4_0, Q5_0; IQ4_NL over its table's levels)
 *   (dw * d[b]) * dot + (mw * d[b]) * sum[b]         (Q4_1, Q5_1; dw, mw the block's f16 scale and min)
 * and terms are summed in float into four partial sums, block b into sum b % 4 in block order,
 * giving (s0 + s1) + (s2 + s3). Q4_K and Q5_K: sub-block j (32 values, 6-bit scale sc and min m) of
 * super-block k meets activation block b = 8k + j with the term
 *   ((d * sc) * d[b]) * dot - ((dmin * m) * d[b]) * sum[b]
 * summed into eight partial sums, sub-block j into sum j, which end as
 * ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)). Q6_K: activation block b = 8k + j covers the
 * 16-value sub-blocks 2j and 2j + 1 (int8 scales sc) of super-block k; with q the 6-bit values - 32,
 * dot = sc[2j] * sum(q x over the first 16) + sc[2j + 1] * sum(q x over the second 16), exact, and
 * the term (d * d[b]) * dot goes to sum j, ending in the same order as Q4_K. Q3_K: the same, with q
 * its 3-bit values - 4 and sc its 6-bit scales - 32 (slm_q3k_scale). SIMD twins follow the same
 * order: the results are bit-exact. */
void slm_matvec_bq_scalar(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                          const void *w, int n, int r0, int r1);

/* Rows in groups of eight ("bq8"): a layout of the 32-value block types (Q8_0, Q4_0, Q4_1, Q5_0,
 * Q5_1, IQ4_NL) and of Q4_K, Q5_K and Q6_K made at load time for the integer decode kernels, holding the same
 * information as the file's row-major layout in another order. Rows [0, rows & ~7) form groups of eight; group g's blocks follow each other, and
 * block b of the group (8 * block_bytes) holds
 *   the eight rows' f16 scales (16 bytes), for Q4_1 / Q5_1 then their f16 mins (16 bytes),
 *   then the quants in 4-byte chunks: chunk c of row r at 32 * c + 4 * r
 * so that one 32-byte load holds the same four quants of all eight rows. Q5_0's / Q5_1's five
 * chunks hold their 5-bit values so that a mask gives one value of a byte and two shifts, two masks
 * and an or the other: byte j (0-3) of row r's chunk 1 + c (c = 0..3) holds value 4c + j whole (bits
 * 0-4) and the top three bits of value 16 + 4c + j (bits 5-7); byte j of chunk 0 holds at bits 2c
 * and 2c + 1 the low two bits of value 16 + 4c + j. Q4_K's block is its super-block of 256 values
 * (8 * 144 bytes): the eight rows' f16 d (16 bytes) and dmin (16), their sub-block scales and mins
 * unpacked from 6 bits (sub-block j of row r: byte 32 + 8j + r the low four bits of the scale and,
 * above, of the min; byte 96 + 8 (j & 3) + r at bits 4 (j >> 2) on their top two bits, the scale's
 * below), then the quants in 4-byte chunks, the file's bytes 32p + 4c .. + 3 of row r at 128 + 256p
 * + 32c + 4r (low nibbles: sub-block 2p, high: 2p + 1). Q5_K's (8 * 176 bytes) is Q4_K's followed by
 * the fifth bits: for sub-blocks 2p (low) and 2p + 1 (high) and chunk c = 4e + i, bits 2i and 2i + 1
 * of byte 1152 + 64p + 32e + 4r + t are the fifth bits of value 4c + t. Q6_K's (8 * 210 bytes): the eight rows' f16
 * d (16 bytes), their 16 int8 scales (scale i of row r at 16 + 8i + r), then for each pair P of
 * activation blocks (2P, 2P + 1: 32 values each) the low four bits of the 6-bit values as nibbles in
 * eight 4-byte chunks (value l of block 2P + side of row r: nibble `side` of byte 144 + 256P + 32
 * (l / 4) + 4r + l % 4), and the top two bits four to a byte (bits 2 side + 4 (l / 16) of byte 1168 +
 * 128P + 32 (l / 4 % 4) + 4r + l % 4). The last rows & 7 rows follow in the row-major layout. */
int slm_bq8_type(slm_dtype dtype); /* 1 for the types with this layout */
/* Those types as bits (1 << dtype): the 32-value block types, and all of them. */
#define SLM_BQ8_BLOCK32_TYPES                                                                                   \
    (1u << SLM_DTYPE_Q8_0 | 1u << SLM_DTYPE_Q4_0 | 1u << SLM_DTYPE_Q4_1 | 1u << SLM_DTYPE_Q5_0 | 1u << SLM_DTYPE_Q5_1 | \
     1u << SLM_DTYPE_IQ4_NL)
#define SLM_BQ8_TYPES (SLM_BQ8_BLOCK32_TYPES | 1u << SLM_DTYPE_Q4_K | 1u << SLM_DTYPE_Q5_K | 1u << SLM_DTYPE_Q6_K)
/* Values per block of those types: the K-quants' super-blocks of 256, the others' blocks of 32. */
static inline int slm_bq8_block_size(int dtype) {
    return dtype == SLM_DTYPE_Q4_K || dtype == SLM_DTYPE_Q5_K || dtype == SLM_DTYPE_Q6_K ? 256 : 32;
}
/* Bytes of one block of those types, as a constant the compiler folds into the kernels. */
static inline int slm_bq8_block_bytes(int dtype) {
    return dtype == SLM_DTYPE_Q6_K                                 ? 210
           : dtype == SLM_DTYPE_Q5_K                               ? 176
           : dtype == SLM_DTYPE_Q4_K                               ? 144
           : dtype == SLM_DTYPE_Q8_0                               ? 34
           : dtype == SLM_DTYPE_Q4_0 || dtype == SLM_DTYPE_IQ4_NL ? 18
           : dtype == SLM_DTYPE_Q5_0                               ? 22
           : dtype == SLM_DTYPE_Q5_1                               ? 24
                                                                   : 20;
}
/* src (rows, n) row-major into dst (the same size) in groups of eight. */
void slm_bq8_pack(slm_dtype dtype, void *dst, const void *src, int64_t rows, int n);
/* Block b of row `row` (< rows & ~7) of a packed matrix, in the file's layout, into dst (block_bytes). */
void slm_bq8_get_block(slm_dtype dtype, const void *w, int n, int64_t row, int b, uint8_t *dst);
/* Row `row` of a packed matrix (rows, n) as fp32 through a dequant_row kernel (same bytes as that
 * kernel gives for the row-major matrix). */
void slm_bq8_dequant_row(slm_dtype dtype, void (*dequant_row)(int, float *, const void *, int, int64_t), float *out,
                         const void *w, int n, int64_t rows, int64_t row);
/* slm_matvec_bq_scalar on a packed matrix of `rows` rows: out[r] for r in [r0, r1), the same bytes
 * as the row-major product (the same terms in the same order). */
void slm_matvec_bq8_scalar(int dtype, float *out, const int8_t *qx, const float *xd, const int32_t *xsum,
                           const void *w, int n, int rows, int r0, int r1);

/* Quantizes n values (a multiple of the block size) to Q8_0 / Q4_0 / Q4_1 as ggml does (round to
 * nearest; scale = max|x|/127, or for Q4_0 the value of largest magnitude / -8). */
void slm_quantize_row_q8_0(const float *x, void *out, int n);
void slm_quantize_row_q4_0(const float *x, void *out, int n);
/* Q5_0 as ggml's reference quantizer: scale = the value of largest magnitude / -16, q = round(x /
 * scale) + 16 in [0, 31]. */
void slm_quantize_row_q5_0(const float *x, void *out, int n);
/* Q5_1 as Q4_1 with levels 0..31. */
void slm_quantize_row_q5_1(const float *x, void *out, int n);
void slm_quantize_row_q4_1(const float *x, void *out, int n);
/* K-quants (n a multiple of 256), in ggml's layouts: each sub-block's scale (and for Q4_K / Q5_K its
 * minimum) is fitted by least squares to the values it encodes, then the scales are quantized
 * against the block's f16 scale(s) and the values re-encoded with the scales as stored. Any
 * input gives a valid block (NaN and infinities quantize to finite values). */
void slm_quantize_row_q4_k(const float *x, void *out, int n);
void slm_quantize_row_q5_k(const float *x, void *out, int n);
void slm_quantize_row_q3_k(const float *x, void *out, int n);
/* IQ4_NL: per block the scale whose nearest-level encoding has the least squared error, over a
 * small grid around max|x| / 127, each refined by least squares. */
void slm_quantize_row_iq4_nl(const float *x, void *out, int n);
void slm_quantize_row_q6_k(const float *x, void *out, int n);
/* Quantizes a row of n values to dtype (any block type above; n a multiple of its block). */
void slm_quantize_row(slm_dtype dtype, const float *x, void *out, int n);

#endif
