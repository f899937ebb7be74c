/* gemm.c — packed, tiled matrix products (see gemm.h). */
#include <string.h>

#include "gemm.h"

enum { MR = SLM_GEMM_MR, NR = SLM_GEMM_NR, MC = SLM_GEMM_MC, NC = SLM_GEMM_NC, KC = SLM_GEMM_KC };

/* The scalar micro-kernel: c (mr, nr) of C (row stride ldc) [+]= a-panel · b-panel over kc, where the
 * a-panel holds MR values per k and the b-panel NR values per k (zero-padded). */
void slm_gemm_micro_scalar(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int accumulate, int mr,
                           int nr) {
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int k = 0; k < kc; k++, a += MR, b += NR)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

typedef struct {
    const slm_gemm_ctx *g;
    int M, N, K, accumulate, tiles_n, n_tiles;
    const float *A, *B;
    ptrdiff_t rsa, csa, rsb, csb, ldc;
    float *C;
} job;

static void pack_a(float *dst, const job *j, int i0, int mc, int k0, int kc) {
    for (int p = 0; p < mc; p += MR) {
        int rows = mc - p < MR ? mc - p : MR;
        for (int i = 0; i < MR; i++) {
            float *d = dst + (size_t)p * kc + i;
            if (i >= rows) {
                for (int k = 0; k < kc; k++) d[k * MR] = 0.0f;
                continue;
            }
            const float *s = j->A + (ptrdiff_t)(i0 + p + i) * j->rsa + (ptrdiff_t)k0 * j->csa;
            for (int k = 0; k < kc; k++) d[k * MR] = s[k * j->csa];
        }
    }
}

static void pack_b(float *dst, const job *j, int k0, int kc, int c0, int nc) {
    for (int p = 0; p < nc; p += NR) {
        int cols = nc - p < NR ? nc - p : NR;
        float *d = dst + (size_t)p * kc;
        if (j->csb == 1 && cols == NR) {
            for (int k = 0; k < kc; k++)
                memcpy(d + k * NR, j->B + (ptrdiff_t)(k0 + k) * j->rsb + c0 + p, sizeof(float) * NR);
            continue;
        }
        for (int c = 0; c < NR; c++) {
            if (c >= cols) {
                for (int k = 0; k < kc; k++) d[k * NR + c] = 0.0f;
                continue;
            }
            const float *s = j->B + (ptrdiff_t)k0 * j->rsb + (ptrdiff_t)(c0 + p + c) * j->csb;
            for (int k = 0; k < kc; k++) d[k * NR + c] = s[k * j->rsb];
        }
    }
}

static void tile(const job *j, int t, float *pa, float *pb) {
    int i0 = (t / j->tiles_n) * MC, c0 = (t % j->tiles_n) * NC;
    int mc = j->M - i0 < MC ? j->M - i0 : MC, nc = j->N - c0 < NC ? j->N - c0 : NC;
    slm_gemm_micro_fn micro = j->g->kernels->gemm_micro;
    for (int k0 = 0; k0 < j->K; k0 += KC) {
        int kc = j->K - k0 < KC ? j->K - k0 : KC;
        int acc = j->accumulate || k0 > 0;
        pack_b(pb, j, k0, kc, c0, nc);
        pack_a(pa, j, i0, mc, k0, kc);
        for (int jr = 0; jr < nc; jr += NR)
            for (int ir = 0; ir < mc; ir += MR)
                micro(kc, pa + (size_t)ir * kc, pb + (size_t)jr * kc, j->C + (ptrdiff_t)(i0 + ir) * j->ldc + c0 + jr,
                      j->ldc, acc, mc - ir < MR ? mc - ir : MR, nc - jr < NR ? nc - jr : NR);
    }
}

static void worker(void *arg, int ti, int nt) {
    const job *j = arg;
    float *pa = j->g->scratch + (size_t)ti * SLM_GEMM_SCRATCH, *pb = pa + (size_t)MC * KC;
    for (int t = ti; t < j->n_tiles; t += nt) tile(j, t, pa, pb);
}

void slm_gemm(const slm_gemm_ctx *g, int M, int N, int K, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
              const float *B, ptrdiff_t rsb, ptrdiff_t csb, float *C, ptrdiff_t ldc, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++) memset(C + (ptrdiff_t)i * ldc, 0, sizeof(float) * (size_t)N);
        return;
    }
    job j = {g, M, N, K, accumulate, (N + NC - 1) / NC, 0, A, B, rsa, csa, rsb, csb, ldc, C};
    j.n_tiles = ((M + MC - 1) / MC) * j.tiles_n;
    if (g->pool && g->n_threads > 1 && j.n_tiles > 1) slm_pool_run(g->pool, worker, &j);
    else worker(&j, 0, 1);
}

void slm_gemm_xwt(const slm_gemm_ctx *g, float *Y, const float *X, const float *W, int n, int in, int out, int acc) {
    slm_gemm(g, n, out, in, X, in, 1, W, 1, in, Y, out, acc);
}

void slm_gemm_dyw(const slm_gemm_ctx *g, float *dX, const float *dY, const float *W, int n, int in, int out, int acc) {
    slm_gemm(g, n, in, out, dY, out, 1, W, in, 1, dX, in, acc);
}

void slm_gemm_dytx(const slm_gemm_ctx *g, float *dW, const float *dY, const float *X, int n, int in, int out) {
    slm_gemm(g, out, in, n, dY, 1, out, X, in, 1, dW, in, 1);
}
