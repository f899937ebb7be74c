/* bq8_body.h — the walk over rows packed in groups of eight (slm_bq8_pack in quant.h) shared by
 * the AVX2 and AVX-512 matvec_bq8 kernels. A kernel file defines
 *   BQ8_ATTR                                   its target attribute (may be empty),
 *   BQ8_TERM(dtype, p, x, xd, xsum)            the eight rows' terms of the group block at p
 *                                              against activation block x, as an __m256,
 *   BQ8_TAIL(dtype, out, qx, xd, xsum, w, n, r0, r1)
 *                                              the row-major product of the last rows & 7 rows,
 *   optionally BQ8_PAIR(dtype, out0, out1, p0, p1, n, qx, xd, xsum)
 *                                              the results of two whole groups at once, in place
 *                                              of their BQ8_TERMs,
 * then includes this file, which defines the static bq8_walk(dtype, out, qx, xd, xsum, w, n, rows,
 * r0, r1). Terms go to four accumulators, block b into b % 4, summed as (a0 + a1) + (a2 + a3): the
 * order of slm_matvec_bq_scalar, so every kernel gives its bytes. Whole groups are read two at a
 * time, the first half of the range side by side with the second: two read streams get more from
 * memory than one (bench/bandwidth.c: about 19 against 14 GB/s on one core here). */

/* The results of S (1 or 2) groups at pg[0..S-1]. */
BQ8_ATTR static inline __attribute__((always_inline)) void bq8_groups(int dtype, int S, const uint8_t *const *pg, int nb,
                                                                       const int8_t *qx, const float *xd,
                                                                       const int32_t *xsum, __m256 *res) {
    const int span = 8 * slm_bq8_block_bytes(dtype); /* a group block */
    __m256 a[2][4];
#pragma GCC unroll 2
    for (int s = 0; s < S; s++) a[s][0] = a[s][1] = a[s][2] = a[s][3] = _mm256_setzero_ps();
    int b = 0;
    for (; b + 4 <= nb; b += 4)
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
#pragma GCC unroll 2
            for (int s = 0; s < S; s++)
                a[s][k] = _mm256_add_ps(a[s][k], BQ8_TERM(dtype, pg[s] + (size_t)(b + k) * span, qx + (size_t)(b + k) * 32,
                                                          xd[b + k], xsum[b + k]));
#pragma GCC unroll 3
    for (int k = 0; k < 3; k++)
        if (b + k < nb)
#pragma GCC unroll 2
            for (int s = 0; s < S; s++)
                a[s][k] = _mm256_add_ps(a[s][k], BQ8_TERM(dtype, pg[s] + (size_t)(b + k) * span, qx + (size_t)(b + k) * 32,
                                                          xd[b + k], xsum[b + k]));
#pragma GCC unroll 2
    for (int s = 0; s < S; s++) res[s] = _mm256_add_ps(_mm256_add_ps(a[s][0], a[s][1]), _mm256_add_ps(a[s][2], a[s][3]));
}

/* Rows [lo, hi) of the group at pg into out (the group's eight rows). */
BQ8_ATTR static inline __attribute__((always_inline)) void bq8_one(int dtype, float *out, const int8_t *qx, const float *xd,
                                                                    const int32_t *xsum, const uint8_t *pg, int nb,
                                                                    int lo, int hi) {
    __m256 res[1];
    bq8_groups(dtype, 1, &pg, nb, qx, xd, xsum, res);
    float t[8];
    _mm256_storeu_ps(t, res[0]);
    for (int i = lo; i < hi; i++) out[i] = t[i];
}

BQ8_ATTR static inline __attribute__((always_inline)) void bq8_walk(int dtype, float *out, const int8_t *qx,
                                                                     const float *xd, const int32_t *xsum,
                                                                     const void *w, int n, int rows, int r0, int r1) {
    int nb = n / 32, bb = slm_bq8_block_bytes(dtype), rows8 = rows & ~7;
    size_t gsz = (size_t)nb * 8 * (size_t)bb; /* bytes of a group */
    const uint8_t *wb = w;
    int end = r1 < rows8 ? r1 : rows8, r = r0;
    if (r < end && r % 8) { /* a leading part of a group */
        int g = r / 8, hi = end - 8 * g < 8 ? end - 8 * g : 8;
        bq8_one(dtype, out + 8 * g, qx, xd, xsum, wb + (size_t)g * gsz, nb, r - 8 * g, hi);
        r = 8 * g + hi;
    }
    if (r < end) { /* whole groups [gs, ge): the first half side by side with the second */
        int gs = r / 8, ge = end / 8, h = (ge - gs + 1) / 2;
        for (int i = 0; i + h < ge - gs; i++) {
            const uint8_t *pg[2] = {wb + (size_t)(gs + i) * gsz, wb + (size_t)(gs + h + i) * gsz};
#ifdef BQ8_PAIR
            BQ8_PAIR(dtype, out + 8 * (gs + i), out + 8 * (gs + h + i), pg[0], pg[1], n, qx, xd, xsum);
#else
            __m256 res[2];
            bq8_groups(dtype, 2, pg, nb, qx, xd, xsum, res);
            _mm256_storeu_ps(out + 8 * (gs + i), res[0]);
            _mm256_storeu_ps(out + 8 * (gs + h + i), res[1]);
#endif
        }
        if ((ge - gs) % 2) bq8_one(dtype, out + 8 * (gs + h - 1), qx, xd, xsum, wb + (size_t)(gs + h - 1) * gsz, nb, 0, 8);
        r = 8 * ge;
        if (r < end) { /* a trailing part of a group */
            bq8_one(dtype, out + 8 * ge, qx, xd, xsum, wb + (size_t)ge * gsz, nb, 0, end - r);
            r = end;
        }
    }
    if (r < r1) /* the rows after the last whole group, row-major */
        BQ8_TAIL(dtype, out + rows8, qx, xd, xsum, wb + (size_t)rows8 * (size_t)nb * (size_t)bb, n, r - rows8, r1 - rows8);
}
