/* test_trainer.c — the model trainer: matrix products against a naive product, the PyTorch
 * reference (loss, every gradient, AdamW steps), finite differences for every parameter tensor
 * and architecture option, and thread-count independence. */
#include <math.h>

#include "../src/kernels/gemm.h"
#include "../src/train/trainer.h"
#include "json.h"
#include "test.h"
#include "tests.h"

static uint64_t rng_state = 88172645463325252ULL;
static float urand(void) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (float)((rng_state >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

void gemm_matches_naive_product_every_kernel(void) {
    const slm_kernels *ks[4];
    int nk = slm_kernels_available(ks, 4);
    /* awkward sizes: not multiples of 6, 16 or the tile sizes; K across two KC blocks */
    int shapes[][3] = {{1, 1, 1}, {7, 17, 5}, {13, 300, 33}, {100, 20, 257}, {97, 259, 600}};
    for (int ki = 0; ki < nk; ki++)
        for (int threads = 1; threads <= 3; threads += 2)
            for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
                int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
                slm_gemm_ctx g = {ks[ki], NULL, threads, aligned_alloc(64, sizeof(float) * SLM_GEMM_SCRATCH * threads)};
                if (threads > 1) slm_pool_create(threads, &g.pool, NULL);
                float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
                float *C = malloc(sizeof(float) * M * N), *C0 = malloc(sizeof(float) * M * N);
                for (int i = 0; i < M * K; i++) A[i] = urand();
                for (int i = 0; i < K * N; i++) B[i] = urand();
                for (int i = 0; i < M * N; i++) C0[i] = C[i] = urand();
                for (int tr = 0; tr < 4; tr++) { /* A and B each plain or transposed */
                    ptrdiff_t rsa = tr & 1 ? 1 : K, csa = tr & 1 ? M : 1, rsb = tr & 2 ? 1 : N, csb = tr & 2 ? K : 1;
                    for (int acc = 0; acc < 2; acc++) {
                        memcpy(C, C0, sizeof(float) * M * N);
                        slm_gemm(&g, M, N, K, A, rsa, csa, B, rsb, csb, C, N, acc);
                        double worst = 0;
                        for (int i = 0; i < M; i++)
                            for (int j = 0; j < N; j++) {
                                double s = acc ? C0[i * N + j] : 0.0;
                                for (int k = 0; k < K; k++) s += (double)A[i * rsa + k * csa] * B[k * rsb + j * csb];
                                double d = fabs(s - C[i * N + j]);
                                if (d > worst) worst = d;
                            }
                        CHECK(worst < 1e-5 * (K + 1), "%s, %d threads, %dx%dx%d, transposes %d, acc %d: max error %g",
                              ks[ki]->name, threads, M, N, K, tr, acc, worst);
                        /* B packed once beforehand: the same bytes */
                        float *Bp = aligned_alloc(64, sizeof(float) * (slm_gemm_packed_floats(N, K) + 16));
                        float *C2 = malloc(sizeof(float) * M * N);
                        memcpy(C2, C0, sizeof(float) * M * N);
                        slm_gemm_pack_b(&g, Bp, N, K, B, rsb, csb);
                        slm_gemm_packed(&g, M, N, K, A, rsa, csa, Bp, C2, N, acc);
                        CHECK(!memcmp(C, C2, sizeof(float) * M * N), "%s, %d threads, %dx%dx%d, transposes %d, acc %d: "
                              "the product with B packed beforehand differs", ks[ki]->name, threads, M, N, K, tr, acc);
                        free(Bp), free(C2);
                    }
                }
                free(A), free(B), free(C), free(C0), free(g.scratch);
                slm_pool_free(g.pool);
            }
}

/* The AVX-512 micro-kernel runs each value of C through the same chain of fused multiply-adds as
 * the AVX2 one: the products (plain and accumulating, partial tiles, 1 and 3 threads) are the
 * same bytes. Runs where both tables exist: natively, or in the emulated build, where SIMDe's
 * multiply-add is not fused and only closeness can be asked. */
void gemm_avx512_same_bytes_as_avx2(void) {
    const slm_kernels *a = slm_kernels_named("avx2"), *b = slm_kernels_named("avx512");
    if (!a || !b) SKIP("this CPU or build has no avx512 table (make avx512-emu-test runs it)");
    int shapes[][3] = {{1, 1, 1}, {7, 17, 5}, {10, 16, 40}, {13, 300, 33}, {23, 48, 300}, {97, 259, 600}};
    for (int threads = 1; threads <= 3; threads += 2)
        for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
            int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
            float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
            float *C[2] = {malloc(sizeof(float) * M * N), malloc(sizeof(float) * M * N)};
            for (int i = 0; i < M * K; i++) A[i] = urand();
            for (int i = 0; i < K * N; i++) B[i] = urand();
            for (int acc = 0; acc < 2; acc++) {
                for (int t = 0; t < 2; t++) {
                    slm_gemm_ctx g = {t ? b : a, NULL, threads, aligned_alloc(64, sizeof(float) * SLM_GEMM_SCRATCH * threads)};
                    if (threads > 1) slm_pool_create(threads, &g.pool, NULL);
                    for (int i = 0; i < M * N; i++) C[t][i] = (float)i * 0.25f;
                    slm_gemm(&g, M, N, K, A, K, 1, B, N, 1, C[t], N, acc);
                    free(g.scratch);
                    slm_pool_free(g.pool);
                }
#ifdef SLM_AVX512_SIMDE /* SIMDe's emulated fused multiply-add rounds twice: close, not the same bytes */
                double worst = 0;
                for (int i = 0; i < M * N; i++) worst = fmax(worst, fabs((double)C[0][i] - C[1][i]));
                CHECK(worst < 1e-5 * (K + 1), "%d threads, %dx%dx%d, acc %d: avx512 and avx2 differ by %g", threads, M, N,
                      K, acc, worst);
#else
                CHECK(!memcmp(C[0], C[1], sizeof(float) * M * N), "%d threads, %dx%dx%d, acc %d: avx512 and avx2 differ",
                      threads, M, N, K, acc);
#endif
            }
            free(A), free(B), free(C[0]), free(C[1]);
        }
}

/* A table's 12-row micro-kernel against its own 6-row kernel run on each of the two a-panels: the
 * same bytes (each value is the same chain of multiply-adds), for every row count 7..12, full and
 * partial b-panels, plain and accumulating, K blocks of 1, 7 and 256. */
void gemm_micro12_same_bytes_as_two_micro6(void) {
    const slm_kernels *ks[4];
    int nk = slm_kernels_available(ks, 4), tried = 0;
    enum { KC = 256 };
    float *a = malloc(sizeof(float) * 12 * KC), *b = malloc(sizeof(float) * 16 * KC);
    float c1[12 * 19], c2[12 * 19];
    for (int i = 0; i < 12 * KC; i++) a[i] = urand();
    for (int i = 0; i < 16 * KC; i++) b[i] = urand();
    for (int ki = 0; ki < nk; ki++) {
        const slm_kernels *k = ks[ki];
        if (!k->gemm_micro12) continue;
        tried++;
        int kcs[] = {1, 7, KC}, nrs[] = {16, 5};
        for (int ki2 = 0; ki2 < 3; ki2++)
            for (int ni = 0; ni < 2; ni++)
                for (int mr = 7; mr <= 12; mr++)
                    for (int acc = 0; acc < 2; acc++) {
                        int kc = kcs[ki2], nr = nrs[ni];
                        for (int i = 0; i < 12 * 19; i++) c1[i] = c2[i] = (float)i * 0.125f; /* row stride 19 */
                        k->gemm_micro12(kc, a, b, c1, 19, acc, mr, nr);
                        k->gemm_micro(kc, a, b, c2, 19, acc, 6, nr);
                        k->gemm_micro(kc, a + 6 * kc, b, c2 + 6 * 19, 19, acc, mr - 6, nr);
                        CHECK(!memcmp(c1, c2, sizeof c1), "%s: 12-row kernel, kc %d, mr %d, nr %d, acc %d: not the bytes "
                              "of two 6-row calls", k->name, kc, mr, nr, acc);
                    }
    }
    free(a), free(b);
    if (!tried) SKIP("no table here has a 12-row micro-kernel (the avx512 table has; make avx512-emu-test runs it)");
}

/* Products with a weight matrix (prefill): W given as fp32 or fetched row by row give the same bytes,
 * for 1 and 3 threads, and agree with the product computed in double. */
static void fetch_f32(const void *w, int row, float *out) {
    const float *const *src = w; /* {W, K as a float-sized count} */
    int K = (int)(intptr_t)src[1];
    memcpy(out, src[0] + (size_t)row * K, sizeof(float) * (size_t)K);
}

void gemm_wt_matches_naive_product_every_kernel(void) {
    const slm_kernels *ks[4];
    int nk = slm_kernels_available(ks, 4);
    int shapes[][3] = {{1, 1, 1}, {5, 17, 7}, {6, 16, 256}, {13, 33, 300}, {64, 70, 513}, {100, 20, 257}};
    for (int ki = 0; ki < nk; ki++)
        for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
            int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
            float *A = malloc(sizeof(float) * M * (K + 3)), *W = malloc(sizeof(float) * N * K);
            float *C[3];
            for (int i = 0; i < M * (K + 3); i++) A[i] = urand();
            for (int i = 0; i < N * K; i++) W[i] = urand();
            const float *src[2] = {W, (const float *)(intptr_t)K};
            for (int v = 0; v < 3; v++) { /* W direct with 1 thread, fetched with 1 and with 3 threads */
                int threads = v == 2 ? 3 : 1;
                slm_gemm_ctx g = {ks[ki], NULL, threads, NULL};
                if (threads > 1) slm_pool_create(threads, &g.pool, NULL);
                float *scratch = aligned_alloc(64, sizeof(float) * (slm_gemm_wt_scratch_floats(M, K, threads) + 16));
                C[v] = malloc(sizeof(float) * M * (N + 2));
                for (int i = 0; i < M * (N + 2); i++) C[v][i] = -7.0f; /* padding columns must stay */
                slm_gemm_wt(&g, scratch, M, N, K, A, K + 3, v == 0 ? W : NULL, fetch_f32, src, C[v], N + 2);
                free(scratch);
                slm_pool_free(g.pool);
            }
            double worst = 0;
            int pad_ok = 1;
            for (int i = 0; i < M; i++) {
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++) s += (double)A[i * (K + 3) + k] * W[j * K + k];
                    worst = fmax(worst, fabs(s - C[0][i * (N + 2) + j]));
                }
                pad_ok &= C[0][i * (N + 2) + N] == -7.0f && C[0][i * (N + 2) + N + 1] == -7.0f;
            }
            CHECK(worst < 1e-5 * (K + 1) && pad_ok, "%s %dx%dx%d: max error %g, padding %s", ks[ki]->name, M, N, K, worst,
                  pad_ok ? "kept" : "overwritten");
            CHECK(!memcmp(C[0], C[1], sizeof(float) * M * (N + 2)) && !memcmp(C[0], C[2], sizeof(float) * M * (N + 2)),
                  "%s %dx%dx%d: fetched rows or 3 threads give other bytes", ks[ki]->name, M, N, K);
            { /* three products sharing A in one call (W, W fetched, the first 5 rows of W): the same bytes */
                slm_gemm_ctx g = {ks[ki], NULL, 2, NULL};
                slm_pool_create(2, &g.pool, NULL);
                float *scratch = aligned_alloc(64, sizeof(float) * (slm_gemm_wt_scratch_floats(M, K, 2) + 16));
                float *C3 = malloc(sizeof(float) * M * (2 * N + 5));
                int n5 = N < 5 ? N : 5;
                slm_gemm_wt_out o[3] = {{N, W, NULL, NULL, C3, N}, {N, NULL, fetch_f32, src, C3 + M * N, N},
                                        {n5, W, NULL, NULL, C3 + 2 * M * N, n5}};
                slm_gemm_wt_n(&g, scratch, M, K, A, K + 3, 3, o);
                int same = 1;
                for (int i = 0; i < M; i++)
                    for (int c = 0; c < N; c++) {
                        same &= C3[i * N + c] == C[0][i * (N + 2) + c] && C3[M * N + i * N + c] == C[0][i * (N + 2) + c];
                        if (c < n5) same &= C3[2 * M * N + i * n5 + c] == C[0][i * (N + 2) + c];
                    }
                CHECK(same, "%s %dx%dx%d: three products in one call differ", ks[ki]->name, M, N, K);
                free(scratch), free(C3);
                slm_pool_free(g.pool);
            }
            free(A), free(W), free(C[0]), free(C[1]), free(C[2]);
        }
}

/* ---- the PyTorch reference: ../shared/refcases/train */

static slm_model *load_ref(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "refcases/train/%s", name);
    const char *p = shared_path(rel);
    slm_model *m = NULL;
    slm_error err;
    if (p && slm_model_load_file(p, &m, &err) != SLM_OK) fprintf(stderr, "    %s: %s\n", p, err.msg);
    return m;
}

/* Largest |a - b| over the trainer's flat layout vs a reference model's tensors; *n_ill counts
 * elements where the ill-conditioned tolerance was used (their gradient |g| < 1e-6). */
static double max_diff(slm_trainer *tr, const float *flat, const slm_model *ref, const unsigned char *ill, double loose, int *n_ill,
                       double *worst_loose) {
    int nt;
    const slm_ptensor *ts = slm_trainer_tensors(tr, &nt);
    double worst = 0;
    *worst_loose = 0;
    for (int i = 0; i < nt; i++) {
        const slm_tensor *r = slm_model_find(ref, ts[i].name);
        if (!r) return INFINITY;
        int rows = ts[i].rows ? ts[i].rows : 1;
        float *row = malloc(sizeof(float) * ts[i].cols);
        for (int y = 0; y < rows; y++) {
            if (ts[i].rows) slm_tensor_row_f32(r, y, row);
            else memcpy(row, r->data, sizeof(float) * ts[i].cols);
            for (int x = 0; x < ts[i].cols; x++) {
                size_t o = ts[i].offset + (size_t)y * ts[i].cols + x;
                double d = fabs((double)flat[o] - row[x]);
                if (ill && ill[o] && loose > 0) {
                    (*n_ill)++;
                    if (d > *worst_loose) *worst_loose = d;
                } else if (d > worst) worst = d;
            }
        }
        free(row);
    }
    return worst;
}

void trainer_matches_pytorch_reference(void) {
    const char *bp = shared_path("refcases/train/batch_tokens.i32"), *jp = shared_path("refcases/train/train.json");
    slm_model *p0 = load_ref("params_step0.bin"), *g0 = load_ref("grads_step0.bin"), *g1 = load_ref("grads_step1.bin");
    slm_model *p1 = load_ref("params_step1.bin"), *p2 = load_ref("params_step2.bin");
    if (!bp || !jp || !p0 || !g0 || !g1 || !p1 || !p2) {
        slm_model_free(p0), slm_model_free(g0), slm_model_free(g1), slm_model_free(p1), slm_model_free(p2);
        SKIP("../shared/refcases/train is missing");
    }
    size_t bl, jl;
    int32_t *batch = (int32_t *)read_all(bp, &bl);
    char *js = read_all(jp, &jl);
    json *j = json_parse(js, jl);
    double ref_loss[3] = {json_get(j, "loss_step0")->num, json_get(j, "loss_step1")->num, json_get(j, "loss_step2")->num};
    CHECK(bl == 2 * 17 * sizeof(int32_t));
    const slm_kernels *ks[4];
    int nk = slm_kernels_available(ks, 4);
    for (int ki = 0; ki < nk; ki++) {
        slm_trainer_opts o = {.cfg = *slm_model_config(p0), .batch = 2, .seq = 16, .n_threads = 2, .use_simd = ki > 0};
        CHECK(o.cfg.n_kv_heads == 2 && o.cfg.tied_classifier == 1 && o.cfg.hidden_dim == 176);
        slm_trainer *tr;
        slm_error err;
        if (slm_trainer_create(&o, &tr, &err) != SLM_OK || slm_trainer_load(tr, p0, &err) != SLM_OK) {
            CHECK(0, "%s", err.msg);
            break;
        }
        slm_adamw h = {0.9f, 0.95f, 1e-8f, 0.1f};
        /* elements whose gradient was ever below 1e-6 (their AdamW update is ill-conditioned) */
        unsigned char *ill = calloc(slm_trainer_n_params(tr), 1);
        slm_model *grads[2] = {g0, g1}, *after[2] = {p1, p2};
        for (int step = 0; step < 2; step++) {
            slm_trainer_zero_grads(tr);
            double loss = slm_trainer_forward_backward(tr, batch, 1.0f, 0);
            CHECK(fabs(loss - ref_loss[step]) < 2e-6, "%s step %d: loss %.9f, reference %.9f", ks[ki]->name, step, loss,
                  ref_loss[step]);
            int n_ill = 0;
            double wl, gd = max_diff(tr, slm_trainer_grads(tr), grads[step], NULL, 0, &n_ill, &wl);
            CHECK(gd < 2e-6, "%s step %d: max gradient difference %g", ks[ki]->name, step, gd);
            const float *gr = slm_trainer_grads(tr);
            for (size_t i = 0; i < slm_trainer_n_params(tr); i++) ill[i] |= fabsf(gr[i]) < 1e-6f;
            slm_trainer_adamw(tr, &h, 1e-3f, 1.0f, step + 1);
            n_ill = 0;
            double pd = max_diff(tr, slm_trainer_params(tr), after[step], ill, 2.5e-3, &n_ill, &wl);
            CHECK(pd < 2e-6 && wl <= 2.5e-3, "%s after step %d: max parameter difference %g (%d ill-conditioned: %g)",
                  ks[ki]->name, step + 1, pd, n_ill, wl);
            if (ki == nk - 1) fprintf(stderr, "    %s step %d: |dloss| %.2g, max |dgrad| %.2g, max |dparam| %.2g (%d ill-conditioned: %.2g)\n",
                                      ks[ki]->name, step, fabs(loss - ref_loss[step]), gd, pd, n_ill, wl);
        }
        float nll[32];
        double sum = slm_trainer_eval(tr, batch, nll);
        CHECK(fabs(sum / 32 - ref_loss[2]) < 2e-6, "%s loss after 2 steps %.9f, reference %.9f", ks[ki]->name, sum / 32,
              ref_loss[2]);
        free(ill);
        slm_trainer_free(tr);
    }
    json_delete(j);
    free(js), free(batch);
    slm_model_free(p0), slm_model_free(g0), slm_model_free(g1), slm_model_free(p1), slm_model_free(p2);
}

/* ---- finite differences */

static double loss_at(slm_trainer *tr, const int32_t *tok, uint64_t key) {
    /* the training loss with the same dropout masks as the gradient, in double */
    slm_trainer_zero_grads(tr);
    return slm_trainer_forward_backward(tr, tok, 0.0f, key);
}

static void gradcheck(const char *label, slm_config cfg, float dropout) {
    slm_trainer_opts o = {.cfg = cfg, .batch = 2, .seq = 7, .dropout = dropout, .n_threads = 2, .use_simd = 1};
    slm_trainer *tr;
    slm_error err;
    if (slm_trainer_create(&o, &tr, &err) != SLM_OK) {
        CHECK(0, "%s: %s", label, err.msg);
        return;
    }
    slm_trainer_init_params(tr, 5, 0.3f);
    size_t n = slm_trainer_n_params(tr);
    float *p = slm_trainer_params(tr);
    for (size_t i = 0; i < n; i++) p[i] += 0.1f * urand(); /* norms away from 1 */
    int32_t tok[16];
    for (int i = 0; i < 16; i++) tok[i] = (int32_t)((urand() + 1.0f) * 0.5f * (cfg.vocab_size - 1));
    uint64_t key = 1234;
    slm_trainer_zero_grads(tr);
    slm_trainer_forward_backward(tr, tok, 1.0f, key);
    float *g = malloc(sizeof(float) * n), *u = malloc(sizeof(float) * (n + 8));
    memcpy(g, slm_trainer_grads(tr), sizeof(float) * n);
    int nt;
    const slm_ptensor *ts = slm_trainer_tensors(tr, &nt);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < nt; i++) {
        size_t cnt = (size_t)(ts[i].rows ? ts[i].rows : 1) * ts[i].cols, off = ts[i].offset;
        /* (a) along the gradient: the slope there must equal |g|; (b) the 4 largest elements.
         * Central differences with Richardson extrapolation over steps h and h/2. */
        double gn = 0;
        for (size_t k = 0; k < cnt; k++) gn += (double)g[off + k] * g[off + k];
        gn = sqrt(gn);
        if (gn == 0) {
            CHECK(0, "%s: %s: zero gradient", label, ts[i].name);
            continue;
        }
        for (size_t k = 0; k < cnt; k++) u[k] = (float)(g[off + k] / gn);
        for (int check = 0; check < 5; check++) {
            size_t one = 0;
            if (check > 0) { /* the check-th largest |g| element */
                float best = -1, prev = check > 1 ? fabsf(u[0]) : INFINITY;
                (void)prev;
                for (size_t k = 0; k < cnt; k++) {
                    float a = fabsf(g[off + k]);
                    int used = 0;
                    for (int c = 0; c < check - 1; c++) used |= (k == (size_t)u[cnt + c]);
                    if (!used && a > best) best = a, one = k;
                }
                u[cnt + check - 1] = (float)one;
            }
            double d[2], expect = check ? g[off + one] : gn;
            for (int r = 0; r < 2; r++) {
                float h = r ? 2e-3f : 4e-3f; /* small: some random inits curve strongly */
                double l[2];
                for (int sgn = 0; sgn < 2; sgn++) {
                    float s = sgn ? -h : h;
                    if (check) p[off + one] += s;
                    else
                        for (size_t k = 0; k < cnt; k++) p[off + k] += s * u[k];
                    l[sgn] = loss_at(tr, tok, key);
                    if (check) p[off + one] -= s;
                    else
                        for (size_t k = 0; k < cnt; k++) p[off + k] -= s * u[k];
                }
                d[r] = (l[0] - l[1]) / (2.0 * h);
            }
            double fd = (4 * d[1] - d[0]) / 3, rel = fabs(fd - expect) / (fabs(expect) + 5e-3);
            if (rel > worst) worst = rel, worst_name = ts[i].name;
            CHECK(rel < 1e-2, "%s: %s %s: finite difference %.6g, backward %.6g", label, ts[i].name,
                  check ? "element" : "along g", fd, expect);
        }
    }
    fprintf(stderr, "    %s: %d tensors, worst relative error %.2g (%s)\n", label, nt, worst, worst_name);
    free(g), free(u);
    slm_trainer_free(tr);
}

void trainer_gradients_match_finite_differences(void) {
    slm_config base = {.dim = 16, .hidden_dim = 24, .n_layers = 2, .block_repeat = 1, .n_heads = 4, .n_kv_heads = 4,
                       .vocab_size = 23, .seq_len = 8, .tied_classifier = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    gradcheck("MHA tied", base, 0.0f);
    slm_config c = base;
    c.n_kv_heads = 2, c.tied_classifier = 0;
    gradcheck("GQA untied", c, 0.0f);
    c = base, c.n_kv_heads = 1;
    gradcheck("MQA", c, 0.0f);
    c = base, c.block_repeat = 2, c.n_kv_heads = 2;
    gradcheck("block repeat 2", c, 0.0f);
    gradcheck("dropout 0.2", base, 0.2f);
}

void trainer_thread_count_never_changes_results(void) {
    slm_config cfg = {.dim = 48, .hidden_dim = 128, .n_layers = 2, .block_repeat = 1, .n_heads = 6, .n_kv_heads = 2,
                      .vocab_size = 300, .seq_len = 32, .tied_classifier = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    int32_t tok[3 * 33];
    for (int i = 0; i < 3 * 33; i++) tok[i] = (int32_t)((urand() + 1.0f) * 0.5f * 299);
    float *ref = NULL;
    size_t n = 0;
    for (int threads = 1; threads <= 3; threads++) {
        slm_trainer_opts o = {.cfg = cfg, .batch = 3, .seq = 32, .dropout = 0.1f, .n_threads = threads, .use_simd = 1};
        slm_trainer *tr;
        slm_error err;
        if (slm_trainer_create(&o, &tr, &err) != SLM_OK) {
            CHECK(0, "%s", err.msg);
            break;
        }
        slm_trainer_init_params(tr, 9, 0.02f);
        slm_adamw h = {0.9f, 0.95f, 1e-8f, 0.1f};
        for (int step = 1; step <= 3; step++) {
            slm_trainer_zero_grads(tr);
            slm_trainer_forward_backward(tr, tok, 1.0f, (uint64_t)step);
            slm_trainer_adamw(tr, &h, 1e-3f, 1.0f, step);
        }
        n = slm_trainer_n_params(tr);
        if (!ref) {
            ref = malloc(sizeof(float) * n);
            memcpy(ref, slm_trainer_params(tr), sizeof(float) * n);
        } else {
            CHECK(!memcmp(ref, slm_trainer_params(tr), sizeof(float) * n), "%d threads: parameters differ from 1 thread",
                  threads);
        }
        slm_trainer_free(tr);
    }
    free(ref);
}

void kernels_simd_training_primitives_match_scalar(void) {
    const slm_kernels *ks[4], *sc = slm_kernels_scalar();
    int nk = slm_kernels_available(ks, 4);
    enum { ROWS = 13, MAXN = 301 };
    static float R[ROWS * MAXN], R2[ROWS * MAXN], c[4][ROWS], x[4][MAXN], o1[MAXN], o2[MAXN], e1[MAXN], e2[MAXN];
    for (int ki = 1; ki < nk; ki++) {
        const slm_kernels *k = ks[ki];
        double worst = 0;
        int same_pack = 1, same_rank = 1;
        for (int n = 1; n <= MAXN; n += 29) {
            for (int i = 0; i < ROWS * MAXN; i++) R[i] = R2[i] = urand();
            for (int j = 0; j < 4; j++) {
                for (int i = 0; i < ROWS; i++) c[j][i] = urand();
                for (int i = 0; i < MAXN; i++) x[j][i] = urand();
            }
            sc->rows_combine(o1, c[0], R, MAXN, ROWS, n), k->rows_combine(o2, c[0], R, MAXN, ROWS, n);
            for (int i = 0; i < n; i++) worst = fmax(worst, fabs(o1[i] - o2[i]));
            sc->rows_dot(o1, x[0], R, MAXN, ROWS, n), k->rows_dot(o2, x[0], R, MAXN, ROWS, n);
            for (int i = 0; i < ROWS; i++) worst = fmax(worst, fabs(o1[i] - o2[i]) / (1 + sqrt(n)));
            { /* four vectors at once, against the scalar single-vector forms */
                static float q1[4][MAXN], q2[4][MAXN];
                float *w1[4] = {q1[0], q1[1], q1[2], q1[3]}, *w2[4] = {q2[0], q2[1], q2[2], q2[3]};
                const float *c4[4] = {c[0], c[1], c[2], c[3]}, *x4[4] = {x[0], x[1], x[2], x[3]};
                sc->rows_combine4(w1, c4, R, MAXN, ROWS, n), k->rows_combine4(w2, c4, R, MAXN, ROWS, n);
                for (int j = 0; j < 4; j++) {
                    sc->rows_combine(o1, c[j], R, MAXN, ROWS, n);
                    for (int i = 0; i < n; i++) worst = fmax(worst, fmax(fabs(o1[i] - q1[j][i]), fabs(o1[i] - q2[j][i])));
                }
                for (int rows = ROWS - 1; rows <= ROWS; rows++) { /* odd and even row counts */
                    sc->rows_dot4(w1, x4, R, MAXN, rows, n), k->rows_dot4(w2, x4, R, MAXN, rows, n);
                    for (int j = 0; j < 4; j++) {
                        sc->rows_dot(o1, x[j], R, MAXN, rows, n);
                        for (int i = 0; i < rows; i++)
                            worst = fmax(worst, fmax(fabs(o1[i] - q1[j][i]), fabs(o1[i] - q2[j][i])) / (1 + sqrt(n)));
                    }
                }
            }
            /* rank updates: fused multiply-add vs multiply then add, so compare with a tolerance */
            const float *cs[4] = {c[0], c[1], c[2], c[3]}, *xs[4] = {x[0], x[1], x[2], x[3]};
            sc->rows_rank4(R, MAXN, cs, xs, ROWS, n), k->rows_rank4(R2, MAXN, cs, xs, ROWS, n);
            sc->rows_rank1(R, MAXN, c[1], x[2], ROWS, n), k->rows_rank1(R2, MAXN, c[1], x[2], ROWS, n);
            for (int i = 0; i < ROWS * MAXN; i++) same_rank &= fabsf(R[i] - R2[i]) < 1e-5f;
            for (int i = 0; i < n; i++) e1[i] = e2[i] = 10 * x[0][i];
            e1[0] = e2[0] = -200; /* underflow to 0 */
            float s1 = sc->exp_sum(e1, n, 3.0f), s2 = k->exp_sum(e2, n, 3.0f);
            worst = fmax(worst, fabs(s1 - s2) / s1);
            for (int i = 0; i < n; i++) worst = fmax(worst, fabs(e1[i] - e2[i]) / (e1[i] + 1e-30));
            /* packing is data movement: identical bytes */
            int kc = n < 40 ? n : 40;
            sc->gemm_pack_a6(o1, R, MAXN, kc), k->gemm_pack_a6(o2, R, MAXN, kc);
            same_pack &= !memcmp(o1, o2, sizeof(float) * 6 * kc);
            int kb = n < 18 ? n : 18;
            sc->gemm_pack_b16(e1, R2, 17, kb), k->gemm_pack_b16(e2, R2, 17, kb);
            same_pack &= !memcmp(e1, e2, sizeof(float) * 16 * kb);
        }
        /* AdamW: the same float operations in the same order, so identical bytes */
        int same_adam = 1;
        for (int n = 1; n <= MAXN; n += 37) {
            slm_adamw_coef cf = {0.9f, 0.95f, 0.1f, 0.05f, 0.7f, 0.999f, 3e-4f, 0.3f, 1e-8f};
            for (int i = 0; i < n; i++) R[i] = R2[i] = urand(), o1[i] = o2[i] = 0.1f * urand(), e1[i] = e2[i] = 0.01f * fabsf(urand());
            for (int step = 0; step < 3; step++) {
                sc->adamw(R, o1, e1, x[step], (size_t)n, &cf);
                k->adamw(R2, o2, e2, x[step], (size_t)n, &cf);
            }
            same_adam &= !memcmp(R, R2, sizeof(float) * n) && !memcmp(o1, o2, sizeof(float) * n) &&
                         !memcmp(e1, e2, sizeof(float) * n);
        }
        CHECK(same_adam, "%s: AdamW differs from the scalar twin", k->name);
        /* SwiGLU backward: a vector exp, so within float rounding */
        double worst_glu = 0;
        for (int n = 1; n <= MAXN; n += 23) {
            for (int i = 0; i < n; i++) x[0][i] = 12 * urand(), x[1][i] = urand(), o1[i] = o2[i] = urand();
            sc->swiglu_back(o1, e1, x[0], x[1], n), k->swiglu_back(o2, e2, x[0], x[1], n);
            for (int i = 0; i < n; i++)
                worst_glu = fmax(worst_glu, fmax(fabs(o1[i] - o2[i]), fabs(e1[i] - e2[i])) / (1 + fabs(o1[i]) + fabs(e1[i])));
        }
        /* softmax and its backward */
        double worst_sm = 0;
        for (int n = 1; n <= MAXN; n += 19) {
            for (int i = 0; i < n; i++) e1[i] = e2[i] = 8 * urand(), x[1][i] = urand();
            e1[n / 2] = e2[n / 2] = 30; /* the maximum anywhere, also in a tail */
            sc->softmax(e1, n), k->softmax(e2, n);
            for (int i = 0; i < n; i++) worst_sm = fmax(worst_sm, fabs(e1[i] - e2[i]));
            for (int i = 0; i < n; i++) o1[i] = o2[i] = x[1][i];
            sc->softmax_back(o1, e1, n, 0.3f), k->softmax_back(o2, e1, n, 0.3f);
            for (int i = 0; i < n; i++) worst_sm = fmax(worst_sm, fabs(o1[i] - o2[i]));
        }
        for (int n = 1; n <= MAXN; n += 19) { /* cross-entropy rows: loss and gradient */
            for (int i = 0; i < n; i++) o1[i] = e1[i] = e2[i] = 8 * urand();
            int target = n / 3;
            double l1 = sc->xent_row(e1, n, target, 0.25f), l2 = k->xent_row(e2, n, target, 0.25f), sum = 0;
            for (int i = 0; i < n; i++) sum += exp((double)o1[i]); /* the definition, in double */
            double direct = log(sum) - o1[target];
            worst_sm = fmax(worst_sm, fmax(fabs(l1 - l2), fabs(l1 - direct)) / (1 + fabs(direct)));
            for (int i = 0; i < n; i++) {
                double g = 0.25 * (exp((double)o1[i]) / sum - (i == target));
                worst_sm = fmax(worst_sm, fmax(fabs(e1[i] - e2[i]), fabs(e1[i] - g)));
            }
        }
        CHECK(worst_sm < 1e-6, "%s: softmax or its backward differs from the scalar twin by %g", k->name, worst_sm);
        CHECK(worst_glu < 1e-6, "%s: SwiGLU backward differs from the scalar twin by %g", k->name, worst_glu);
        CHECK(worst < 1e-5, "%s: largest difference from the scalar twins %g", k->name, worst);
        CHECK(same_rank, "%s: rank updates differ from the scalar twins", k->name);
        CHECK(same_pack, "%s: packing differs from the scalar twin", k->name);
    }
}
