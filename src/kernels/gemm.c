/* gemm.c — packed, tiled matrix products (see gemm.h). */
#include <stdatomic.h>
#include <string.h>

#include "gemm.h"

enum { MR = SLM_GEMM_MR, NR = SLM_GEMM_NR, MA = SLM_GEMM_MA, NC = SLM_GEMM_NC, KC = SLM_GEMM_KC };

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

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* c (m rows, nr <= NR columns) [+]= the packed a-panels from a (m rows, MR per panel, panel p at
 * a + p * MR * kc) times one b-panel: twelve rows at a time where the table has a 12-row kernel. */
static void micro_rows(const slm_kernels *ks, int kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                       int accumulate, int m, int nr) {
    for (int ir = 0; ir < m;) {
        int left = m - ir;
        const float *ai = a + (size_t)ir * (size_t)kc;
        if (ks->gemm_micro12 && left > MR) {
            ks->gemm_micro12(kc, ai, b, c + (ptrdiff_t)ir * ldc, ldc, accumulate, left < 2 * MR ? left : 2 * MR, nr);
            ir += 2 * MR;
        } else {
            ks->gemm_micro(kc, ai, b, c + (ptrdiff_t)ir * ldc, ldc, accumulate, left < MR ? left : MR, nr);
            ir += MR;
        }
    }
}

/* K is cut into equal blocks of at most KC (the last may be shorter). */
static int k_block(int K) { return ceil_div(K, ceil_div(K, KC)); }

typedef struct {
    const slm_gemm_ctx *g;
    int M, N, K, accumulate;
    int rows_per_task, cols_per_task, tasks_n, n_tasks;
    int kc; /* K block: K cut into equal blocks of at most KC */
    const float *A, *B;
    const float *Bp; /* B already packed (slm_gemm_pack_b), or NULL */
    ptrdiff_t rsa, csa, rsb, csb, ldc;
    float *C;
    atomic_int next;
} job;

static void pack_a(float *dst, const job *j, int i0, int mc, int k0, int kc) {
    int full = mc / MR * MR;
    if (j->rsa == 1 && j->csa != 1 && full) {
        /* A stored transposed (a gradient used as dY^T): row k of storage holds the A values of
         * every row i; walk it once, handing 6 values to each panel */
        for (int k = 0; k < kc; k++) {
            const float *s = j->A + i0 + (ptrdiff_t)(k0 + k) * j->csa;
            for (int p = 0; p < full; p += MR) memcpy(dst + (size_t)p * kc + (size_t)k * MR, s + p, sizeof(float) * MR);
        }
    } else
        full = 0;
    for (int p = full; p < mc; p += MR) {
        int rows = mc - p < MR ? mc - p : MR;
        float *d = dst + (size_t)p * kc;
        const float *s = j->A + (ptrdiff_t)(i0 + p) * j->rsa + (ptrdiff_t)k0 * j->csa;
        if (j->csa == 1 && rows == MR) { /* A row-major: a transposing copy */
            j->g->kernels->gemm_pack_a6(d, s, j->rsa, kc);
            continue;
        }
        for (int i = 0; i < MR; i++) {
            if (i >= rows) {
                for (int k = 0; k < kc; k++) d[k * MR + i] = 0.0f;
                continue;
            }
            const float *si = s + (ptrdiff_t)i * j->rsa;
            for (int k = 0; k < kc; k++) d[k * MR + i] = si[k * j->csa];
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
        if (j->rsb == 1 && cols == NR) { /* B column-major (a weight matrix used transposed) */
            j->g->kernels->gemm_pack_b16(d, j->B + k0 + (ptrdiff_t)(c0 + p) * j->csb, j->csb, kc);
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

/* One task: rows [i0, i1) x columns [c0, c1) of C. For each block of up to MA rows and KC of K, A is
 * packed once; each B block (KC x NC) is packed once per such A block and multiplied against all of
 * it, one 16-column B panel (L1) against every 6-row A panel in turn (two at a time where the table
 * has a 12-row kernel). */
static void task(const job *j, int t, float *pa, float *pb) {
    int i0 = (t / j->tasks_n) * j->rows_per_task, c0 = (t % j->tasks_n) * j->cols_per_task;
    int i1 = i0 + j->rows_per_task < j->M ? i0 + j->rows_per_task : j->M;
    int c1 = c0 + j->cols_per_task < j->N ? c0 + j->cols_per_task : j->N;
    for (int ia = i0; ia < i1; ia += MA) {
        int ma = i1 - ia < MA ? i1 - ia : MA;
        for (int k0 = 0; k0 < j->K; k0 += j->kc) {
            int kc = j->K - k0 < j->kc ? j->K - k0 : j->kc;
            int acc = j->accumulate || k0 > 0;
            pack_a(pa, j, ia, ma, k0, kc);
            for (int jc = c0; jc < c1; jc += NC) {
                int nc = c1 - jc < NC ? c1 - jc : NC;
                const float *b = pb;
                if (j->Bp) /* block k0 of the packed B starts at k0 * (N rounded up to NR) */
                    b = j->Bp + (size_t)k0 * (size_t)(ceil_div(j->N, NR) * NR) + (size_t)jc * kc;
                else
                    pack_b(pb, j, k0, kc, jc, nc);
                for (int jr = 0; jr < nc; jr += NR)
                    micro_rows(j->g->kernels, kc, pa, b + (size_t)jr * kc, j->C + (ptrdiff_t)ia * j->ldc + jc + jr,
                               j->ldc, acc, ma, nc - jr < NR ? nc - jr : NR);
            }
        }
    }
}

/* Threads take tasks in turn from a shared counter. Every element of C is summed over K in the
 * same blocks and order whatever task or thread computes it. */
static void worker(void *arg, int ti, int nt) {
    job *j = arg;
    (void)nt;
    float *pa = j->g->scratch + (size_t)ti * SLM_GEMM_SCRATCH, *pb = pa + (size_t)MA * KC;
    for (int t; (t = atomic_fetch_add(&j->next, 1)) < j->n_tasks;) task(j, t, pa, pb);
}

static void run(const slm_gemm_ctx *g, int M, int N, int K, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                const float *B, ptrdiff_t rsb, ptrdiff_t csb, const float *Bp, float *C, ptrdiff_t ldc, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++) memset(C + (ptrdiff_t)i * ldc, 0, sizeof(float) * (size_t)N);
        return;
    }
    /* products too small to pay for waking the other threads run on this one */
    int nt = g->pool && (double)M * N * K >= 65536.0 ? g->n_threads : 1;
    /* About four tasks per thread, cut along rows or columns so that packing costs least: every
     * column cut packs A once more, every row cut packs B once more (unless B came packed). */
    int nr = 1, nc = 1;
    if (nt > 1) {
        int want = 4 * nt, max_r = ceil_div(M, MR), max_c = ceil_div(N, NR);
        double best = -1;
        for (int r = 1; r <= want && r <= max_r; r++) {
            int c = ceil_div(want, r);
            if (c > max_c) c = max_c;
            double cost = (double)M * K * c + (Bp ? 0.0 : (double)K * N * r) + (r * c < want ? 1e18 / (r * c) : 0);
            if (best < 0 || cost < best) best = cost, nr = r, nc = c;
        }
    }
    int rows = ceil_div(ceil_div(M, nr), MR) * MR, cols = ceil_div(ceil_div(N, nc), NR) * NR;
    job j = {g, M, N, K, accumulate, rows, cols, ceil_div(N, cols), 0, 0, A, B, Bp, rsa, csa, rsb, csb, ldc, C, 0};
    j.n_tasks = ceil_div(M, rows) * j.tasks_n;
    j.kc = k_block(K);
    atomic_init(&j.next, 0);
    if (nt > 1 && j.n_tasks > 1) slm_pool_run(g->pool, worker, &j);
    else worker(&j, 0, 1);
}

void slm_gemm(const slm_gemm_ctx *g, int M, int N, int K, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
              const float *B, ptrdiff_t rsb, ptrdiff_t csb, float *C, ptrdiff_t ldc, int accumulate) {
    run(g, M, N, K, A, rsa, csa, B, rsb, csb, NULL, C, ldc, accumulate);
}

size_t slm_gemm_packed_floats(int N, int K) { return (size_t)ceil_div(N, NR) * NR * (size_t)(K > 0 ? K : 0); }

/* Packing B whole: the panels of every K block, in order; threads take K blocks x column blocks. */
static void pack_worker(void *arg, int ti, int nt) {
    job *j = arg;
    int nkb = ceil_div(j->K, j->kc), ncb = ceil_div(j->N, NC), n = nkb * ncb;
    size_t npad = (size_t)ceil_div(j->N, NR) * NR;
    for (int t = (int)((int64_t)n * ti / nt); t < (int)((int64_t)n * (ti + 1) / nt); t++) {
        int k0 = t / ncb * j->kc, kc = j->K - k0 < j->kc ? j->K - k0 : j->kc;
        int c0 = t % ncb * NC, nc = j->N - c0 < NC ? j->N - c0 : NC;
        pack_b((float *)j->Bp + (size_t)k0 * npad + (size_t)c0 * kc, j, k0, kc, c0, nc);
    }
}

void slm_gemm_pack_b(const slm_gemm_ctx *g, float *dst, int N, int K, const float *B, ptrdiff_t rsb, ptrdiff_t csb) {
    if (N <= 0 || K <= 0) return;
    job j = {.g = g, .N = N, .K = K, .B = B, .Bp = dst, .rsb = rsb, .csb = csb, .kc = k_block(K)};
    if (g->pool && g->n_threads > 1 && (double)N * K >= 65536.0) slm_pool_run(g->pool, pack_worker, &j);
    else pack_worker(&j, 0, 1);
}

void slm_gemm_packed(const slm_gemm_ctx *g, int M, int N, int K, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                     const float *Bp, float *C, ptrdiff_t ldc, int accumulate) {
    run(g, M, N, K, A, rsa, csa, NULL, 0, 0, Bp, C, ldc, accumulate);
}

/* ---------------------------------------------------------------- products with a weight matrix */

static size_t pad16(size_t n) { return (n + 15) / 16 * 16; }

size_t slm_gemm_wt_scratch_floats(int M, int K, int n_threads) {
    size_t mpad = (size_t)ceil_div(M, MR) * MR;
    return pad16(mpad * (size_t)K) + (size_t)n_threads * 2 * pad16((size_t)NR * (size_t)K);
}

typedef struct {
    const slm_gemm_ctx *g;
    float *scratch;
    int M, K, kc, mpad;
    const float *pa;
    const float *A; /* (M, K), row stride lda */
    ptrdiff_t lda;
    int count;      /* products sharing A */
    const slm_gemm_wt_out *outs;
    int strips[4];  /* strips before product i (strips[count] = all) */
    atomic_int next;
} wt_job;

/* One strip: rows [r0, r0 + 16) of W (product o) as the 16 columns of a B panel for every K block,
 * multiplied against every 6-row panel of the packed A. */
static void wt_strip(const wt_job *j, const slm_gemm_wt_out *o, int r0, float *rows, float *pb) {
    int nr = o->N - r0 < NR ? o->N - r0 : NR, K = j->K;
    const float *src = o->W ? o->W + (size_t)r0 * (size_t)K : rows;
    if (!o->W || nr < NR) {
        for (int r = 0; r < NR; r++) {
            float *d = rows + (size_t)r * K;
            if (r >= nr) memset(d, 0, sizeof(float) * (size_t)K);
            else if (o->W) memcpy(d, o->W + (size_t)(r0 + r) * K, sizeof(float) * (size_t)K);
            else o->fetch(o->w, r0 + r, d);
        }
        src = rows;
    }
    for (int k0 = 0; k0 < K; k0 += j->kc) {
        int kc = K - k0 < j->kc ? K - k0 : j->kc;
        j->g->kernels->gemm_pack_b16(pb + (size_t)k0 * NR, src + k0, K, kc);
    }
    for (int k0 = 0; k0 < K; k0 += j->kc) {
        int kc = K - k0 < j->kc ? K - k0 : j->kc;
        micro_rows(j->g->kernels, kc, j->pa + (size_t)k0 * (size_t)j->mpad, pb + (size_t)k0 * NR, o->C + r0, o->ldc,
                   k0 > 0, j->M, nr);
    }
}

/* Packs A's 6-row panels [p0, p1) (counted over every K block in turn) into the shared buffer. */
static void wt_pack_a(const wt_job *j, const float *A, ptrdiff_t lda, int p0, int p1) {
    int np = j->mpad / MR;
    for (int q = p0; q < p1; q++) {
        int k0 = q / np * j->kc, p = q % np * MR, kc = j->K - k0 < j->kc ? j->K - k0 : j->kc;
        float *d = (float *)j->pa + (size_t)k0 * (size_t)j->mpad + (size_t)p * kc;
        const float *s = A + (ptrdiff_t)p * lda + k0;
        if (j->M - p >= MR) {
            j->g->kernels->gemm_pack_a6(d, s, lda, kc);
            continue;
        }
        for (int k = 0; k < kc; k++)
            for (int i = 0; i < MR; i++) d[k * MR + i] = p + i < j->M ? s[(ptrdiff_t)i * lda + k] : 0.0f;
    }
}

static void wt_worker(void *arg, int ti, int nt) {
    wt_job *j = arg;
    /* A is packed once, by all threads (a share of the panels each), before any strip starts */
    int n_panels = ceil_div(j->K, j->kc) * (j->mpad / MR);
    wt_pack_a(j, j->A, j->lda, (int)((int64_t)n_panels * ti / nt), (int)((int64_t)n_panels * (ti + 1) / nt));
    slm_pool_barrier(j->g->pool, nt);
    size_t strip = pad16((size_t)NR * (size_t)j->K);
    float *rows = j->scratch + pad16((size_t)j->mpad * (size_t)j->K) + (size_t)ti * 2 * strip, *pb = rows + strip;
    for (int s; (s = atomic_fetch_add(&j->next, 1)) < j->strips[j->count];) {
        int o = 0;
        while (s >= j->strips[o + 1]) o++;
        wt_strip(j, &j->outs[o], (s - j->strips[o]) * NR, rows, pb);
    }
}

void slm_gemm_wt_n(const slm_gemm_ctx *g, float *scratch, int M, int K, const float *A, ptrdiff_t lda, int count,
                   const slm_gemm_wt_out *outs) {
    if (M <= 0 || K <= 0 || count < 1 || count > 3) return;
    wt_job j = {g, scratch, M, K, k_block(K), ceil_div(M, MR) * MR, scratch, A, lda, count, outs, {0}, 0};
    double macs = 0;
    for (int i = 0; i < count; i++) {
        j.strips[i + 1] = j.strips[i] + ceil_div(outs[i].N > 0 ? outs[i].N : 0, NR);
        macs += (double)M * outs[i].N * K;
    }
    if (j.strips[count] == 0) return;
    atomic_init(&j.next, 0);
    int nt = g->pool && macs >= 65536.0 && j.strips[count] > 1 ? g->n_threads : 1;
    if (nt > 1) slm_pool_run(g->pool, wt_worker, &j);
    else wt_worker(&j, 0, 1);
}

void slm_gemm_wt(const slm_gemm_ctx *g, float *scratch, int M, int N, int K, const float *A, ptrdiff_t lda,
                 const float *W, slm_gemm_fetch_fn fetch, const void *w, float *C, ptrdiff_t ldc) {
    slm_gemm_wt_out o = {N, W, fetch, w, C, ldc};
    slm_gemm_wt_n(g, scratch, M, K, A, lda, 1, &o);
}
