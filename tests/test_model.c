/* test_model.c — kernels, forward pass against references, formats, threads, contexts, sampler. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../src/kernels/kernels.h"
#include "../src/kernels/quant.h"
#include "../src/model/model.h"
#include "../src/tokenizer/tokenizer.h"
#include "json.h"
#include "test.h"
#include "tests.h"

static uint64_t rng_state = 88172645463325252ULL;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) / 8388608.0 - 1.0);
}

static slm_model *random_model(int dim, int hidden, int layers, int heads, int kv, int vocab, int seq, int tied,
                               uint64_t seed) {
    slm_config c = {dim, hidden, layers, 1, heads, kv, dim / heads, vocab, seq, tied, 1e-5f, 10000.0f, 0};
    slm_model *m = NULL;
    slm_error err;
    if (slm_model_init_random(&c, seed, 0.1f, &m, &err) != SLM_OK) fprintf(stderr, "init: %s\n", err.msg);
    return m;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* ---------------------------------------------------------------- kernels */

void kernels_simd_matvec_f32_matches_scalar(void) {
    const slm_kernels *tabs[4];
    int nt = slm_kernels_available(tabs, 4);
    /* short rows (the avx512 table's eight-row kernel up to 256 values: every chunk count, whole and
     * partial blocks of eight rows) and longer ones (its 16-lane kernel), with awkward tails */
    const int shapes[][2] = {{1, 1}, {7, 3}, {64, 64}, {33, 172}, {5, 17}, {300, 96}, {9, 300}, {3, 1000}, {2, 256},
                             {13, 16}, {11, 255}, {20, 192}, {17, 241}, {8, 32}, {3, 257}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int rows = shapes[s][0], n = shapes[s][1];
        float *w = malloc(sizeof(float) * rows * n), *x = malloc(sizeof(float) * n);
        float *ref = malloc(sizeof(float) * rows), *out = malloc(sizeof(float) * rows), *part = malloc(sizeof(float) * rows);
        for (int i = 0; i < rows * n; i++) w[i] = frand();
        for (int i = 0; i < n; i++) x[i] = frand();
        slm_kernels_scalar()->matvec_f32(ref, x, w, n, 0, rows);
        for (int t = 0; t < nt; t++) {
            tabs[t]->matvec_f32(out, x, w, n, 0, rows);
            for (int r = 0; r < rows; r++)
                CHECK(fabsf(out[r] - ref[r]) <= 1e-5f * (1.0f + sqrtf((float)n)), "%s rows %d n %d row %d: %g vs %g",
                      tabs[t]->name, rows, n, r, out[r], ref[r]);
            /* a row's value does not depend on which range it was computed in */
            for (int r = 0; r < rows; r++) tabs[t]->matvec_f32(part, x, w, n, r, r + 1);
            CHECK(memcmp(part, out, sizeof(float) * rows) == 0, "%s: row-by-row differs from block", tabs[t]->name);
            /* nothing past the matrix or x is read: both end where an unreadable page begins */
            float *gw = guarded_copy(w, sizeof(float) * rows * n), *gx = guarded_copy(x, sizeof(float) * n);
            CHECK(gw && gx);
            if (gw && gx) {
                tabs[t]->matvec_f32(part, gx, gw, n, 0, rows);
                CHECK(memcmp(part, out, sizeof(float) * rows) == 0, "%s: guarded copies give other values", tabs[t]->name);
            }
            guarded_free(gw, sizeof(float) * rows * n), guarded_free(gx, sizeof(float) * n);
        }
        free(w), free(x), free(ref), free(out), free(part);
    }
    CHECK(nt >= 1);
    printf("    kernels on this CPU:");
    for (int t = 0; t < nt; t++) printf(" %s", tabs[t]->name);
    printf("\n");
}

/* BF16 matrices in bf16 arithmetic (tables with matmat_bf16: AVX512_BF16): the batch product gives
 * each token the bytes of the decode product; a row's value does not depend on the range it was
 * computed in; both stay within rounding of the product of the weights with the activations rounded
 * to bf16 (computed in double here), and within the activations' rounding (2^-8 of sum |w x|) of the
 * product with the fp32 activations; nothing past the matrix or the activations is read; the
 * rounding of the activations gives slm_f32_to_bf16's bytes with zeros after them. */
void kernels_bf16_batch_matches_decode_and_reference(void) {
    const slm_kernels *tabs[8];
    int nt = slm_kernels_available(tabs, 8), tried = 0;
    const int shapes[][3] = {{1, 1, 1}, {7, 3, 2}, {64, 64, 5}, {33, 172, 4}, {5, 17, 9}, {9, 300, 3}, {3, 1000, 7},
                             {13, 32, 1}, {6, 8200, 2}};
    for (int ti = 0; ti < nt; ti++) {
        const slm_kernels *k = tabs[ti];
        if (!k->matmat_bf16) continue;
        tried = 1;
        for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
            int rows = shapes[si][0], n = shapes[si][1], m = shapes[si][2], ldx = (n + 31) / 32 * 32;
            uint16_t *w = malloc(sizeof(uint16_t) * (size_t)rows * n), *xb = malloc(sizeof(uint16_t) * (size_t)m * ldx);
            float *x = malloc(sizeof(float) * (size_t)m * n), *batch = malloc(sizeof(float) * (size_t)m * rows);
            float *one = malloc(sizeof(float) * rows), *part = malloc(sizeof(float) * rows);
            for (int i = 0; i < rows * n; i++) w[i] = slm_f32_to_bf16(frand());
            for (int i = 0; i < m * n; i++) x[i] = frand();
            int round_ok = 1;
            for (int t = 0; t < m; t++) {
                k->bf16_round(xb + (size_t)t * ldx, x + (size_t)t * n, n, ldx);
                for (int i = 0; i < ldx; i++)
                    round_ok &= xb[(size_t)t * ldx + i] == (i < n ? slm_f32_to_bf16(x[(size_t)t * n + i]) : 0);
            }
            CHECK(round_ok, "%s n %d: bf16_round differs from slm_f32_to_bf16", k->name, n);
            k->matmat_bf16(batch, rows, xb, ldx, m, w, n, 0, rows);
            for (int t = 0; t < m; t++) {
                const float *xt = x + (size_t)t * n;
                k->matvec_bf16(one, xt, w, n, 0, rows);
                CHECK(!memcmp(one, batch + (size_t)t * rows, sizeof(float) * rows), "%s %dx%d, token %d of %d: batch and "
                      "decode differ", k->name, rows, n, t, m);
                for (int r = 0; r < rows; r++) k->matvec_bf16(part, xt, w, n, r, r + 1);
                CHECK(!memcmp(one, part, sizeof(float) * rows), "%s %dx%d: row by row differs", k->name, rows, n);
                for (int r = 0; r < rows; r++) {
                    double rb = 0, rf = 0, mag = 0;
                    for (int i = 0; i < n; i++) {
                        double wi = slm_bf16_to_f32(w[(size_t)r * n + i]);
                        rb += wi * slm_bf16_to_f32(slm_f32_to_bf16(xt[i]));
                        rf += wi * xt[i];
                        mag += fabs(wi * xt[i]);
                    }
                    CHECK(fabs(one[r] - rb) <= 2e-6 * (mag + 1), "%s %dx%d row %d: %g against %g (bf16 activations)",
                          k->name, rows, n, r, one[r], rb);
                    CHECK(fabs(one[r] - rf) <= 1.0 / 256 * mag + 1e-6, "%s %dx%d row %d: %g against %g (fp32 activations)",
                          k->name, rows, n, r, one[r], rf);
                }
            }
            /* nothing past the matrix, the fp32 activations or the rounded ones is read */
            uint16_t *gw = guarded_copy(w, sizeof(uint16_t) * (size_t)rows * n);
            uint16_t *gxb = guarded_copy(xb, sizeof(uint16_t) * (size_t)m * ldx);
            float *gx = guarded_copy(x, sizeof(float) * (size_t)n);
            CHECK(gw && gxb && gx);
            if (gw && gxb && gx) {
                k->matvec_bf16(part, gx, gw, n, 0, rows);
                CHECK(!memcmp(part, batch, sizeof(float) * rows), "%s: guarded copies give other values", k->name);
                k->matmat_bf16(batch, rows, gxb, ldx, m, gw, n, 0, rows);
                CHECK(!memcmp(part, batch, sizeof(float) * rows), "%s: guarded batch gives other values", k->name);
            }
            guarded_free(gw, sizeof(uint16_t) * (size_t)rows * n), guarded_free(gxb, sizeof(uint16_t) * (size_t)m * ldx);
            guarded_free(gx, sizeof(float) * (size_t)n);
            free(w), free(xb), free(x), free(batch), free(one), free(part);
        }
    }
    if (!tried) SKIP("no table here multiplies BF16 in bf16 (the avx512bf16 table does; make avx512-emu-test runs it)");
}

void kernels_simd_matvec_q8_bit_exact(void) {
    const slm_kernels *tabs[4];
    int nt = slm_kernels_available(tabs, 4);
    const int shapes[][3] = {{4, 64, 64}, {9, 172, 4}, {3, 96, 32}, {5, 256, 64}, {2, 48, 48}, {7, 100, 20},
                             {6, 40, 8}, {3, 64, 16}, {2, 36, 4}, {3, 24, 8}, {1, 12, 12}};
    for (int s = 0; s < 11; s++) {
        int rows = shapes[s][0], n = shapes[s][1], gs = shapes[s][2];
        float *wf = malloc(sizeof(float) * rows * n), *x = malloc(sizeof(float) * n);
        int8_t *wq = malloc((size_t)rows * n), *xq = malloc((size_t)n);
        float *ws = malloc(sizeof(float) * rows * n / gs), *xs = malloc(sizeof(float) * n / gs);
        float *ref = malloc(sizeof(float) * rows), *out = malloc(sizeof(float) * rows);
        for (int i = 0; i < rows * n; i++) wf[i] = frand();
        for (int i = 0; i < n; i++) x[i] = frand() * 3;
        slm_quantize_q8(wq, ws, wf, rows * n, gs);
        slm_quantize_q8(xq, xs, x, n, gs);
        /* the quantized values reconstruct the input within half a step */
        for (int i = 0; i < n; i++) CHECK(fabsf(xq[i] * xs[i / gs] - x[i]) <= 0.5f * xs[i / gs] + 1e-6f);
        slm_kernels_scalar()->matvec_q8(ref, xq, xs, wq, ws, n, gs, 0, rows);
        for (int t = 0; t < nt; t++) {
            memset(out, 0, sizeof(float) * rows);
            tabs[t]->matvec_q8(out, xq, xs, wq, ws, n, gs, 0, rows);
            CHECK(memcmp(out, ref, sizeof(float) * rows) == 0, "%s q8 gs %d n %d differs from scalar", tabs[t]->name, gs, n);
        }
        free(wf), free(x), free(wq), free(xq), free(ws), free(xs), free(ref), free(out);
    }
}

void kernels_simd_attention_matches_scalar(void) {
    const slm_kernels *tabs[4];
    int nt = slm_kernels_available(tabs, 4);
    const int hds[] = {8, 16, 32, 48, 64, 128, 12};
    /* n: whole and partial blocks of 8 and 16 positions; stride: the cache's rows (hd) and spaced rows.
     * The row after the last position of k and of v is NaN, and the score after the last and the
     * output value after the last are sentinels: a kernel that reads a row past n - 1 (even one it
     * then weighs by 0) or writes past its scores or its output fails. */
    const int ns[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 100};
    for (int h = 0; h < 7; h++)
        for (int c = 0; c < 20; c++) {
            int hd = hds[h], n = ns[c / 2], stride = c & 1 ? hd * 3 : hd, len = (2 * n + 2) * stride;
            float *q = malloc(sizeof(float) * hd), *kv = malloc(sizeof(float) * len);
            float *k = kv, *v = kv + (n + 1) * stride;
            float ref[128], out[129], sc[101], sc2[101];
            for (int i = 0; i < hd; i++) q[i] = frand() * 2;
            for (int i = 0; i < len; i++) kv[i] = frand() * 2;
            for (int i = 0; i < stride; i++) k[n * stride + i] = v[n * stride + i] = NAN;
            slm_attention_scalar(ref, sc, q, k, v, stride, n, hd, 0.3f);
            for (int t = 0; t < nt; t++) {
                sc2[n] = out[hd] = 12345.0f;
                tabs[t]->attention(out, sc2, q, k, v, stride, n, hd, 0.3f);
                CHECK(sc2[n] == 12345.0f && out[hd] == 12345.0f, "%s hd %d n %d stride %d: score %d or output %d written",
                      tabs[t]->name, hd, n, stride, n, hd);
                /* a score sums hd products: its rounding error, which the softmax carries into every
                 * weight, grows about as sqrt(hd) */
                for (int i = 0; i < hd; i++)
                    CHECK(fabsf(out[i] - ref[i]) <= 1e-6f * sqrtf((float)hd) * (1.0f + fabsf(ref[i])),
                          "%s hd %d n %d stride %d: %g vs %g", tabs[t]->name, hd, n, stride, out[i], ref[i]);
            }
            /* the f16 cache: every table against the scalar f16 reference, and that reference against
             * the fp32 one on the same (rounded) values */
            uint16_t *kvh = malloc(sizeof(uint16_t) * len), *kh = kvh, *vh = kvh + (n + 1) * stride;
            for (int i = 0; i < len; i++) kvh[i] = slm_f32_to_f16(kv[i]), kv[i] = slm_f16_to_f32(kvh[i]);
            slm_attention_scalar(ref, sc, q, k, v, stride, n, hd, 0.3f);
            float refh[128];
            slm_attention_f16_scalar(refh, sc, q, kh, vh, stride, n, hd, 0.3f);
            for (int i = 0; i < hd; i++) CHECK(refh[i] == ref[i], "f16 reference hd %d n %d: %g vs %g", hd, n, refh[i], ref[i]);
            for (int t = 0; t < nt; t++) {
                float o32[128];
                tabs[t]->attention(o32, sc2, q, k, v, stride, n, hd, 0.3f);
                sc2[n] = out[hd] = 12345.0f;
                tabs[t]->attention_f16(out, sc2, q, kh, vh, stride, n, hd, 0.3f);
                CHECK(sc2[n] == 12345.0f && out[hd] == 12345.0f, "%s f16 hd %d n %d stride %d: score %d or output %d written",
                      tabs[t]->name, hd, n, stride, n, hd);
                for (int i = 0; i < hd; i++)
                    CHECK(out[i] == o32[i] && fabsf(out[i] - refh[i]) <= 2e-5f * (1.0f + fabsf(refh[i])),
                          "%s f16 hd %d n %d stride %d: %g vs %g (fp32 kernel on the same values %g)", tabs[t]->name, hd,
                          n, stride, out[i], refh[i], o32[i]);
            }
            free(q), free(kv), free(kvh);
        }
}

void kernels_simd_swiglu_rmsnorm_match_scalar(void) {
    const slm_kernels *tabs[4];
    int nt = slm_kernels_available(tabs, 4);
    const int ns[] = {1, 7, 8, 9, 64, 172, 1000};
    for (int c = 0; c < 7; c++) {
        int n = ns[c];
        float *g = malloc(sizeof(float) * n), *u = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * n);
        float *ref = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n);
        for (int i = 0; i < n; i++) g[i] = frand() * 30, u[i] = frand() * 2, w[i] = 1 + frand() * 0.1f;
        g[0] = -100.0f; /* exp overflow region: silu -> -0 */
        for (int t = 0; t < nt; t++) {
            memcpy(ref, g, sizeof(float) * n);
            memcpy(out, g, sizeof(float) * n);
            slm_swiglu(ref, u, n);
            tabs[t]->swiglu(out, u, n);
            for (int i = 0; i < n; i++)
                CHECK(fabsf(out[i] - ref[i]) <= 1e-6f * (1 + fabsf(ref[i])), "%s swiglu n %d i %d: %g vs %g", tabs[t]->name, n, i, out[i], ref[i]);
            slm_rmsnorm(ref, g, w, n, 1e-5f);
            tabs[t]->rmsnorm(out, g, w, n, 1e-5f);
            for (int i = 0; i < n; i++)
                CHECK(fabsf(out[i] - ref[i]) <= 1e-6f * (1 + fabsf(ref[i])), "%s rmsnorm n %d i %d: %g vs %g", tabs[t]->name, n, i, out[i], ref[i]);
        }
        free(g), free(u), free(w), free(ref), free(out);
    }
}

void utf8_validation_and_stream_never_splits(void) {
    const struct { const char *s; int len; } v[] = {
        {"a", 1}, {"\xc3\xa9", 2}, {"\xe2\x82\xac", 3}, {"\xf0\x9f\x98\x80", 4}, {"\x80", 0}, {"\xc3", 0},
        {"\xc0\xaf", 0}, {"\xed\xa0\x80", 0}, {"\xf4\x90\x80\x80", 0}, {"\xe0\x80\x80", 0}, {"\xff", 0}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        CHECK(slm_utf8_char_len((const unsigned char *)v[i].s, strlen(v[i].s)) == v[i].len, "case %zu", i);
    /* feeding a 4-byte emoji one byte at a time emits nothing until it is complete */
    slm_utf8_stream st = {{0}, 0};
    char out[64];
    const char *emoji = "\xf0\x9f\x98\x80";
    for (int i = 0; i < 3; i++) CHECK(slm_utf8_stream_feed(&st, emoji + i, 1, out) == 0);
    CHECK(slm_utf8_stream_feed(&st, emoji + 3, 1, out) == 4 && memcmp(out, emoji, 4) == 0);
    /* control bytes are dropped, newline and tab kept, invalid bytes become U+FFFD */
    size_t n = slm_utf8_stream_feed(&st, "a\x1b[2J\n\tb\x07", 9, out);
    CHECK(n == 7 && memcmp(out, "a[2J\n\tb", 7) == 0, "got %zu", n);
    n = slm_utf8_stream_feed(&st, "\xc3x", 2, out);
    CHECK(n == 4 && memcmp(out, "\xef\xbf\xbdx", 4) == 0);
    n = slm_utf8_stream_feed(&st, "\xe2\x82", 2, out);
    CHECK(n == 0);
    n = slm_utf8_stream_flush(&st, out);
    CHECK(n == 6, "flush of 2 pending bytes gives 2 replacement characters");
}

/* ---------------------------------------------------------------- golden output */

typedef struct {
    char *buf;
    size_t len, cap;
    int32_t ids[4096];
    int n_ids;
} collect;

static int collect_fn(void *user, int32_t token, const char *text, size_t len) {
    collect *c = user;
    if (c->len + len + 1 > c->cap) {
        c->cap = (c->len + len + 1) * 2;
        c->buf = realloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, text, len);
    c->len += len;
    if (token >= 0 && c->n_ids < 4096) c->ids[c->n_ids++] = token;
    return 0;
}

/* Greedy generation from BOS; returns the text (caller frees) and fills ids. */
static char *greedy(const slm_model *m, const slm_tokenizer *tok, int n, int threads, collect *c) {
    slm_ctx_params p = {0, threads, 0, 0, 0, NULL};
    slm_sampler_params sp = slm_sampler_default_params();
    sp.temperature = 0;
    slm_ctx *ctx;
    slm_sampler *s;
    slm_error err;
    memset(c, 0, sizeof *c);
    if (slm_ctx_create(m, &p, &ctx, &err) != SLM_OK) return NULL;
    slm_sampler_create(&sp, slm_model_config(m)->vocab_size, &s, &err);
    slm_status st = slm_generate(ctx, tok, s, "", n, collect_fn, c, NULL, &err);
    slm_sampler_free(s);
    slm_ctx_free(ctx);
    if (st != SLM_OK) {
        free(c->buf);
        return NULL;
    }
    if (!c->buf) c->buf = calloc(1, 1);
    return c->buf;
}

void golden_stories260K_greedy_library(void) {
    const char *mp = shared_path("models/stories260K.bin"), *tp = shared_path("models/tok512.bin"),
               *gp = shared_path("models/stories260K.greedy.txt");
    if (!mp || !tp || !gp) SKIP("../shared/models/stories260K.bin, tok512.bin or the greedy text is missing");
    slm_model *m;
    slm_tokenizer *tok;
    slm_error err;
    CHECK(slm_model_load_file(mp, &m, &err) == SLM_OK, "%s", err.msg);
    CHECK(slm_tokenizer_load_file(tp, 512, &tok, &err) == SLM_OK, "%s", err.msg);
    size_t glen;
    char *golden = read_all(gp, &glen);
    for (int threads = 1; threads <= 2; threads++) {
        collect c;
        char *text = greedy(m, tok, 1000, threads, &c);
        CHECK(text && c.len + 1 == glen && memcmp(text, golden, c.len) == 0 && golden[c.len] == '\n',
              "threads %d: %zu bytes vs golden %zu", threads, c.len, glen);
        free(text);
    }
    free(golden);
    slm_tokenizer_free(tok);
    slm_model_free(m);
}

void golden_stories260K_greedy_cli(void) {
    const char *mp = shared_path("models/stories260K.bin"), *tp = shared_path("models/tok512.bin"),
               *gp = shared_path("models/stories260K.greedy.txt");
    if (!mp || !tp || !gp) SKIP("../shared/models/stories260K.bin, tok512.bin or the greedy text is missing");
    size_t glen;
    char *golden = read_all(gp, &glen);
    const char *variants[] = {"-t 1", "-t 2", "-t 1 --no-simd", "-t 2 -c 512", "-t 1 --kernels scalar"};
    for (int v = 0; v < 5; v++) {
        char args[2048], *out = NULL, *errs = NULL;
        snprintf(args, sizeof args, "generate -m %s -z %s --temp 0 -n 1000 %s", mp, tp, variants[v]);
        int rc = run_slm(args, &out, &errs);
        CHECK(rc == 0 && out && strlen(out) == glen && memcmp(out, golden, glen) == 0, "variant '%s' rc %d", variants[v], rc);
        CHECK(errs && strstr(errs, "tok/s") && strstr(errs, "peak memory"), "stats line on stderr");
        free(out), free(errs);
    }
    /* the tokenizer is found beside the model (tok512.bin) when -z is absent */
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "generate -m %s --temp 0 -n 1000", mp);
    CHECK(run_slm(args, &out, NULL) == 0 && out && strlen(out) == glen && memcmp(out, golden, glen) == 0);
    free(out);
    char *errs = NULL;
    snprintf(args, sizeof args, "generate -m %s -z %s -n 4 --kernels sse9", mp, tp);
    CHECK(run_slm(args, NULL, &errs) == 1 && errs && strstr(errs, "'sse9' is not available"), "%s", errs ? errs : "");
    free(errs);
    free(golden);
}

/* ---------------------------------------------------------------- PyTorch reference cases */

static const char *CASES[] = {"c1_mha_tied_std002", "c2_gqa_untied", "c3_mqa_tied", "c5_shared_x2_gqa_tied"};

static json *load_case(const char *name, float **logits, size_t *n_logits) {
    char rel[256];
    *logits = NULL;
    *n_logits = 0;
    snprintf(rel, sizeof rel, "refcases/%s/case.json", name);
    const char *jp = shared_path(rel);
    snprintf(rel, sizeof rel, "refcases/%s/logits.f32", name);
    const char *lp = shared_path(rel);
    if (!jp || !lp) return NULL;
    size_t len;
    char *text = read_all(jp, &len);
    json *j = text ? json_parse(text, len) : NULL;
    free(text);
    *logits = (float *)read_all(lp, &len);
    *n_logits = len / 4;
    return j;
}

static int32_t *json_ints(const json *arr, int *n) {
    *n = arr ? arr->n : 0;
    int32_t *v = malloc(sizeof(int32_t) * (size_t)(*n + 1));
    for (int i = 0; i < *n; i++) v[i] = (int32_t)arr->items[i].num;
    return v;
}

void refcases_logits_and_greedy_match_pytorch(void) {
    int ran = 0;
    for (int c = 0; c < 8; c++) { /* 0-3: llama2.c model.bin, 4-7: model.gguf */
        float *ref;
        size_t n_ref;
        json *j = load_case(CASES[c % 4], &ref, &n_ref);
        char rel[256];
        snprintf(rel, sizeof rel, "refcases/%s/model.%s", CASES[c % 4], c < 4 ? "bin" : "gguf");
        const char *mp = shared_path(rel);
        if (!j || !mp) {
            json_delete(j);
            free(ref);
            continue;
        }
        ran++;
        slm_model *m;
        slm_error err;
        CHECK(slm_model_load_file(mp, &m, &err) == SLM_OK, "%s", err.msg);
        int V = slm_model_config(m)->vocab_size;
        const json *seqs = json_get(j, "sequences");
        double worst = 0;
        for (int s = 0; seqs && s < seqs->n; s++) {
            int n, ng;
            int32_t *toks = json_ints(json_get(&seqs->items[s], "tokens"), &n);
            int32_t *gr = json_ints(json_get(&seqs->items[s], "greedy"), &ng);
            size_t off = (size_t)json_get(&seqs->items[s], "logits_offset_floats")->num;
            for (int simd = 0; simd < 2; simd++) {
                float *lg = test_logits(m, toks, n, 1 + simd, !simd);
                CHECK(lg && off + (size_t)n * V <= n_ref);
                if (!lg) continue;
                double d = max_abs_diff(lg, ref + off, (size_t)n * V);
                worst = fmax(worst, d);
                CHECK(d <= 1e-4, "%s seq %d %s: max |logit diff| %g", CASES[c % 4], s, simd ? "simd" : "scalar", d);
                free(lg);
            }
            if (ng > 0) { /* greedy continuation: argmax, ties to the lowest id */
                slm_ctx_params p = {0, 1, 0, 0, 0, NULL};
                slm_ctx *ctx;
                slm_ctx_create(m, &p, &ctx, &err);
                slm_ctx_eval(ctx, toks, n, 0, NULL, &err);
                for (int g = 0; g < ng; g++) {
                    const float *l = slm_ctx_logits(ctx);
                    int32_t best = 0;
                    for (int v = 1; v < V; v++)
                        if (l[v] > l[best]) best = v;
                    CHECK(best == gr[g], "%s seq %d greedy step %d: %d vs %d", CASES[c % 4], s, g, best, gr[g]);
                    if (best != gr[g]) break;
                    slm_ctx_eval(ctx, &best, 1, n + g, NULL, &err);
                }
                slm_ctx_free(ctx);
            }
            free(toks), free(gr);
        }
        printf("    %s (%s): max |logit diff| %.2e over %d sequences\n", CASES[c % 4], c < 4 ? "llama2.c" : "GGUF", worst,
               seqs ? seqs->n : 0);
        slm_model_free(m);
        json_delete(j);
        free(ref);
    }
    if (!ran) SKIP("../shared/refcases is missing");
}

/* MobileLLM-style block sharing: c5's file stores its 2 blocks expanded (file layers 0,1 = block 0;
 * 2,3 = block 1). A model that stores each block once with block_repeat 2 must give the reference
 * logits. */
void block_repeat_matches_expanded_reference(void) {
    float *ref;
    size_t n_ref;
    json *j = load_case("c5_shared_x2_gqa_tied", &ref, &n_ref);
    const char *mp = shared_path("refcases/c5_shared_x2_gqa_tied/model.bin");
    if (!j || !mp) {
        json_delete(j);
        free(ref);
        SKIP("../shared/refcases/c5_shared_x2_gqa_tied is missing");
    }
    slm_model *file, *shared;
    slm_error err;
    CHECK(slm_model_load_file(mp, &file, &err) == SLM_OK, "%s", err.msg);
    slm_config c = file->cfg;
    c.n_layers = 2, c.block_repeat = 2;
    CHECK(slm_model_alloc(&c, "c5-shared", &shared, &err) == SLM_OK, "%s", err.msg);
    for (int i = 0; i < file->n_tensors; i++) {
        const slm_tensor *t = &file->tensors[i];
        int layer;
        char rest[48], name[64];
        if (sscanf(t->name, "blk.%d.%47s", &layer, rest) == 2) {
            if (layer % 2) continue; /* the repeat of the block before */
            snprintf(name, sizeof name, "blk.%d.%s", layer / 2, rest);
        } else
            snprintf(name, sizeof name, "%s", t->name);
        slm_model_add(shared, name, t->dtype, t->n_dims == 2 ? t->shape[0] : 0, t->n_dims == 2 ? t->shape[1] : t->shape[0],
                      t->data, t->scales, t->group_size);
    }
    CHECK(slm_model_bind(shared, &err) == SLM_OK, "%s", err.msg);
    CHECK(slm_model_n_params(shared) < slm_model_n_params(file));
    const json *seqs = json_get(j, "sequences");
    for (int s = 0; seqs && s < seqs->n; s++) {
        int n;
        int32_t *toks = json_ints(json_get(&seqs->items[s], "tokens"), &n);
        size_t off = (size_t)json_get(&seqs->items[s], "logits_offset_floats")->num;
        float *lg = test_logits(shared, toks, n, 2, 0);
        double d = lg ? max_abs_diff(lg, ref + off, (size_t)n * c.vocab_size) : 1e9;
        CHECK(d <= 1e-4, "sequence %d: max |logit diff| %g", s, d);
        free(lg), free(toks);
    }
    slm_ctx_params p = {0, 1, 0, 0, 0, NULL};
    slm_mem_plan plan;
    slm_ctx_plan(shared, &p, &plan, &err);
    CHECK(plan.kv_cache == (size_t)2 * 4 * c.seq_len * c.head_dim * c.n_kv_heads * 4, "one KV cache per applied layer");
    /* GGUF keeps the sharing (slm.block_repeat) or, for llama.cpp, writes expanded copies */
    for (int expand = 0; expand < 2; expand++) {
        const char *path = tmp_path(expand ? "c5-expanded.gguf" : "c5-shared.gguf");
        slm_save_format f = expand ? (slm_save_format)(SLM_SAVE_GGUF_F32 | SLM_SAVE_EXPAND_SHARED) : SLM_SAVE_GGUF_F32;
        slm_model *g;
        CHECK(slm_model_save(shared, path, f, 0, &err) == SLM_OK, "%s", err.msg);
        CHECK(slm_model_load_file(path, &g, &err) == SLM_OK, "%s", err.msg);
        if (T.failed) break;
        CHECK(slm_model_config(g)->block_repeat == (expand ? 1 : 2) && slm_model_config(g)->n_layers == (expand ? 4 : 2));
        int n;
        int32_t *toks = json_ints(json_get(&seqs->items[1], "tokens"), &n);
        size_t off = (size_t)json_get(&seqs->items[1], "logits_offset_floats")->num;
        float *lg = test_logits(g, toks, n, 1, 0);
        CHECK(lg && max_abs_diff(lg, ref + off, (size_t)n * c.vocab_size) <= 1e-4, "%s", path);
        free(lg), free(toks);
        slm_model_free(g);
        if (!expand) {
            char args[1024], *out = NULL;
            snprintf(args, sizeof args, "info %s", path);
            CHECK(run_slm(args, &out, NULL) == 0 && out && strstr(out, "block_repeat:  2") && strstr(out, "bytes saved (4 applied"),
                  "%s", out ? out : "");
            free(out);
        }
    }
    slm_model_free(shared);
    slm_model_free(file);
    json_delete(j);
    free(ref);
}

void refcases_cli_logits_out_matches_reference(void) {
    float *ref;
    size_t n_ref;
    json *j = load_case("c2_gqa_untied", &ref, &n_ref);
    const char *mp = shared_path("refcases/c2_gqa_untied/model.bin");
    if (!j || !mp) {
        json_delete(j);
        free(ref);
        SKIP("../shared/refcases/c2_gqa_untied is missing");
    }
    const json *seq = &json_get(j, "sequences")->items[1];
    int n;
    int32_t *toks = json_ints(json_get(seq, "tokens"), &n);
    size_t off = (size_t)json_get(seq, "logits_offset_floats")->num;
    char ids[4096] = "";
    for (int i = 0; i < n; i++) snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%d ", toks[i]);
    write_all(tmp_path("ids.txt"), ids, strlen(ids));
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "score -m %s --ids %s --logits-out %s -t 2", mp, tmp_path("ids.txt"), tmp_path("logits.f32"));
    CHECK(run_slm(args, &out, NULL) == 0);
    CHECK(out && strstr(out, "\"tokens\":12") && strstr(out, "\"bpb\":null"), "%s", out ? out : "");
    size_t len;
    float *lg = (float *)read_all(tmp_path("logits.f32"), &len);
    CHECK(lg && len == (size_t)n * 300 * 4, "logits file has %zu bytes", len);
    if (lg && len == (size_t)n * 300 * 4) CHECK(max_abs_diff(lg, ref + off, (size_t)n * 300) <= 1e-4);
    free(lg), free(out), free(toks), free(ref);
    json_delete(j);
}

/* ---------------------------------------------------------------- formats */

void llama2c_v0_v1_identical_logits(void) {
    slm_model *m = random_model(48, 128, 2, 6, 2, 97, 32, 0, 11);
    slm_error err;
    int32_t toks[10] = {1, 5, 9, 96, 0, 33, 7, 7, 80, 2};
    float *base = test_logits(m, toks, 10, 1, 0);
    const char *paths[2] = {tmp_path("m.v0.bin"), tmp_path("m.v1.bin")};
    CHECK(slm_model_save(m, paths[0], SLM_SAVE_LLAMA2C_V0, 0, &err) == SLM_OK, "%s", err.msg);
    CHECK(slm_model_save(m, paths[1], SLM_SAVE_LLAMA2C_V1, 0, &err) == SLM_OK, "%s", err.msg);
    for (int v = 0; v < 2; v++) {
        slm_model *l;
        CHECK(slm_model_load_file(paths[v], &l, &err) == SLM_OK, "%s", err.msg);
        CHECK(strstr(slm_model_format(l), v ? "v1" : "v0") != NULL);
        float *lg = test_logits(l, toks, 10, 1, 0);
        CHECK(lg && base && memcmp(lg, base, sizeof(float) * 10 * 97) == 0, "v%d logits differ", v);
        free(lg);
        slm_model_free(l);
    }
    /* and a real v0 file re-saved as v1 */
    const char *mp = shared_path("models/stories260K.bin");
    if (mp) {
        slm_model *a, *b;
        slm_model_load_file(mp, &a, &err);
        CHECK(slm_model_save(a, tmp_path("s.v1.bin"), SLM_SAVE_LLAMA2C_V1, 0, &err) == SLM_OK);
        CHECK(slm_model_load_file(tmp_path("s.v1.bin"), &b, &err) == SLM_OK);
        float *la = test_logits(a, toks, 10, 1, 0), *lb = test_logits(b, toks, 10, 2, 0);
        CHECK(la && lb && memcmp(la, lb, sizeof(float) * 10 * 512) == 0, "stories260K v0 vs v1 logits differ");
        free(la), free(lb);
        slm_model_free(a), slm_model_free(b);
    }
    free(base);
    slm_model_free(m);
}

void model_load_from_memory_block(void) {
    const char *mp = shared_path("models/stories260K.bin");
    if (!mp) SKIP("../shared/models/stories260K.bin is missing");
    size_t len;
    char *raw = read_all(mp, &len);
    float *block = malloc(len + 4); /* 4-byte aligned copy, as flash would hold it */
    memcpy(block, raw, len);
    slm_model *a, *b;
    slm_error err;
    CHECK(slm_model_load_memory(block, len, "flash", &a, &err) == SLM_OK, "%s", err.msg);
    CHECK(slm_model_load_file(mp, &b, &err) == SLM_OK);
    int32_t toks[6] = {1, 400, 30, 2, 77, 301};
    float *la = test_logits(a, toks, 6, 1, 0), *lb = test_logits(b, toks, 6, 1, 0);
    CHECK(la && lb && memcmp(la, lb, sizeof(float) * 6 * 512) == 0);
    slm_model_free(b);
    /* a misaligned block is refused, not read through a misaligned pointer */
    memcpy((char *)block + 1, raw, len - 1);
    CHECK(slm_model_load_memory((char *)block + 1, len - 1, "flash", &b, &err) == SLM_ERR_ARG, "%s", err.msg);
    free(la), free(lb), free(raw), free(block);
    slm_model_free(a);
}

void llama2c_q80_stories260K_greedy_and_logprob(void) {
    const char *mp = shared_path("models/stories260K.bin"), *tp = shared_path("models/tok512.bin");
    if (!mp || !tp) SKIP("../shared/models/stories260K.bin or tok512.bin is missing");
    slm_model *f32, *q8;
    slm_tokenizer *tok;
    slm_error err;
    slm_model_load_file(mp, &f32, &err);
    slm_tokenizer_load_file(tp, 512, &tok, &err);
    CHECK(slm_model_save(f32, tmp_path("s.q80.bin"), SLM_SAVE_LLAMA2C_Q80, 0, &err) == SLM_OK, "%s", err.msg);
    CHECK(slm_model_load_file(tmp_path("s.q80.bin"), &q8, &err) == SLM_OK, "%s", err.msg);
    if (T.failed) return;
    CHECK(strstr(slm_model_format(q8), "group 4") != NULL, "hidden_dim 172 forces group size 4: %s", slm_model_format(q8));
    collect a, b;
    char *ta = greedy(f32, tok, 1000, 1, &a), *tb = greedy(q8, tok, 1000, 1, &b);
    int same = 0;
    while (same < a.n_ids && same < b.n_ids && a.ids[same] == b.ids[same]) same++;
    printf("    q80 greedy matches fp32 for %d of %d tokens\n", same, a.n_ids);
    CHECK(same >= 100, "only %d identical tokens", same);
    free(ta), free(tb);
    /* mean |delta logprob| over a stretch of the TinyStories valid file */
    const char *vp = shared_path("data/tinystories/valid-head-794KB.txt");
    if (vp) {
        size_t len;
        char *text = read_all(vp, &len);
        if (len > 8000) len = 8000;
        int32_t *ids = malloc(sizeof(int32_t) * (3 * len + 3));
        int n;
        slm_tokenizer_encode(tok, text, len, 1, 0, ids, (int)(3 * len + 3), &n);
        if (n > 512) n = 512;
        float *la = test_logits(f32, ids, n, 1, 0), *lb = test_logits(q8, ids, n, 1, 0);
        double sum = 0;
        for (int i = 0; i + 1 < n; i++) {
            double lp[2];
            const float *l[2] = {la + (size_t)i * 512, lb + (size_t)i * 512};
            for (int k = 0; k < 2; k++) {
                double mx = l[k][0], s = 0;
                for (int v = 1; v < 512; v++) mx = fmax(mx, l[k][v]);
                for (int v = 0; v < 512; v++) s += exp(l[k][v] - mx);
                lp[k] = l[k][ids[i + 1]] - mx - log(s);
            }
            sum += fabs(lp[0] - lp[1]);
        }
        printf("    q80 vs fp32 mean |delta logprob| over %d TinyStories valid tokens: %.4f nats\n", n - 1, sum / (n - 1));
        CHECK(sum / (n - 1) < 0.05, "mean |delta logprob| %g", sum / (n - 1));
        free(la), free(lb), free(ids), free(text);
    }
    slm_tokenizer_free(tok);
    slm_model_free(f32), slm_model_free(q8);
}

/* Writes a v2 file by hand with an arbitrary group size (zero weights). */
static void write_v2(const char *path, int dim, int hidden, int layers, int heads, int kv, int vocab, int seq, int gs) {
    FILE *f = fopen(path, "wb");
    uint8_t hdr[256] = {0};
    int32_t h[9] = {0x616b3432, 2, dim, hidden, layers, heads, kv, vocab, seq};
    memcpy(hdr, h, sizeof h);
    hdr[36] = 1;
    memcpy(hdr + 37, &gs, 4);
    fwrite(hdr, 1, 256, f);
    int kvd = dim / heads * kv;
    size_t norms = (size_t)(2 * layers + 1) * dim * 4;
    size_t mats[8] = {(size_t)vocab * dim, (size_t)dim * dim, (size_t)kvd * dim, (size_t)kvd * dim,
                      (size_t)dim * dim,   (size_t)hidden * dim, (size_t)dim * hidden, (size_t)hidden * dim};
    size_t total = norms;
    for (int i = 0; i < 8; i++) total += (mats[i] + mats[i] / gs * 4) * (i == 0 ? 1 : layers);
    char *zeros = calloc(1, total);
    fwrite(zeros, 1, total, f);
    free(zeros);
    fclose(f);
}

void llama2c_q80_group_size_must_divide_rows(void) {
    slm_model *m;
    slm_error err;
    /* stories260K's shape with llama2.c's default group size 64: rows of 172 are not whole groups */
    write_v2(tmp_path("gs64.bin"), 64, 172, 2, 8, 4, 512, 16, 64);
    CHECK(slm_model_load_file(tmp_path("gs64.bin"), &m, &err) != SLM_OK);
    CHECK(strstr(err.msg, "group_size 64 does not divide the row length 172") && strstr(err.msg, "gs64.bin"), "%s", err.msg);
    write_v2(tmp_path("gs4.bin"), 64, 172, 2, 8, 4, 512, 16, 4);
    CHECK(slm_model_load_file(tmp_path("gs4.bin"), &m, &err) == SLM_OK, "%s", err.msg);
    if (!T.failed) slm_model_free(m);
    /* the writer refuses a group size that does not divide, and picks one that does */
    slm_model *r = random_model(64, 172, 1, 8, 4, 50, 16, 1, 3);
    CHECK(slm_model_save(r, tmp_path("x.bin"), SLM_SAVE_LLAMA2C_Q80, 64, &err) == SLM_ERR_ARG);
    CHECK(strstr(err.msg, "group size 64 must divide") != NULL, "%s", err.msg);
    slm_model_free(r);
}

/* ---------------------------------------------------------------- threads, contexts */

void threads_1_and_2_identical_logits(void) {
    /* large enough that matvecs and attention are split across threads; and stories260K's shape,
     * where every product is tiny; token by token (batch 1: one pool job per token) and in batches */
    slm_model *m = random_model(256, 688, 2, 8, 4, 1000, 128, 1, 5), *tiny = random_model(64, 172, 2, 8, 4, 1000, 128, 0, 6);
    int32_t toks[100];
    for (int i = 0; i < 100; i++) toks[i] = (i * 37 + 1) % 1000;
    slm_error err;
    CHECK(slm_model_save(m, tmp_path("t.q80.bin"), SLM_SAVE_LLAMA2C_Q80, 16, &err) == SLM_OK, "%s", err.msg);
    slm_quantize_params qp = {SLM_DTYPE_Q4_0, -1, 0};
    CHECK(slm_model_quantize(m, NULL, tmp_path("t.q4_0.gguf"), &qp, &err) == SLM_OK, "%s", err.msg);
    slm_model *q = NULL, *q4 = NULL;
    CHECK(slm_model_load_file(tmp_path("t.q80.bin"), &q, &err) == SLM_OK);
    CHECK(slm_model_load_file(tmp_path("t.q4_0.gguf"), &q4, &err) == SLM_OK);
    const slm_model *models[] = {m, m, q, q4, tiny, tiny};
    const int batch[] = {0, 1, 1, 1, 0, 1};
    const char *names[] = {"f32", "f32 token by token", "q80", "q4_0 token by token", "tiny", "tiny token by token"};
    for (int k = 0; k < 6; k++)
        for (int simd = 0; simd < 2; simd++) {
            if (!models[k]) continue;
            float *a = test_logits_batch(models[k], toks, 100, 1, !simd, batch[k]);
            float *b = test_logits_batch(models[k], toks, 100, 2, !simd, batch[k]);
            float *c = test_logits_batch(models[k], toks, 100, 3, !simd, batch[k]);
            CHECK(a && b && c && memcmp(a, b, sizeof(float) * 100 * 1000) == 0 &&
                      memcmp(a, c, sizeof(float) * 100 * 1000) == 0,
                  "%s %s: thread counts give different logits", names[k], simd ? "simd" : "scalar");
            free(a), free(b), free(c);
        }
    slm_model_free(q), slm_model_free(q4), slm_model_free(tiny);
    slm_model_free(m);
}

/* A small model's tokens on two threads run split over the threads or on the calling thread as
 * timing says (choice.c). Both ways, and any mix of them within one sequence, give the bytes one
 * thread gives. The chooser, fed made-up times: switches to a way that is clearly faster, keeps
 * its way against one that is not, ends a hopeless probe after its first token and then waits at
 * least 16 times the time that probe lost, and doubles its wait after each lost probe. */
void split_choice_changes_nothing_follows_times(void) {
    enum { N = 40, V = 1000 };
    slm_model *tiny = random_model(64, 172, 2, 8, 4, V, 64, 0, 6), *m = random_model(256, 688, 2, 8, 4, V, 64, 1, 5);
    int32_t toks[N];
    for (int i = 0; i < N; i++) toks[i] = (i * 37 + 1) % V;
    const slm_model *models[] = {tiny, m};
    for (int k = 0; k < 2; k++) {
        float *one = test_logits_batch(models[k], toks, N, 1, 0, 1);
        for (int way = 0; way < 3; way++) { /* serial, split, alternating token by token */
            slm_ctx_params p = {0, 2, 0, 1, 0, NULL};
            slm_ctx *ctx;
            slm_error err;
            CHECK(slm_ctx_create(models[k], &p, &ctx, &err) == SLM_OK, "%s", err.msg);
            float *got = malloc(sizeof(float) * N * V);
            for (int i = 0; i < N && got; i++) {
                slm_ctx_set_split(ctx, way < 2 ? way : i % 2);
                CHECK(slm_ctx_eval(ctx, &toks[i], 1, i, got + (size_t)i * V, &err) == SLM_OK, "%s", err.msg);
            }
            CHECK(one && got && !memcmp(one, got, sizeof(float) * N * V), "model %d, way %d: logits differ from one thread's", k, way);
            free(got);
            slm_ctx_free(ctx);
        }
        free(one);
    }
    slm_model_free(tiny), slm_model_free(m);

    slm_choice c;
    int t = 0;
    /* the other way twice as fast: the first probe (after SLM_CHOICE_FIRST_PROBE tokens) wins */
    slm_choice_init(&c, 0);
    for (t = 0; t < 200 && !c.switches; t++) slm_choice_record(&c, slm_choice_next(&c) == 0 ? 2e-5 : 1e-5);
    CHECK(c.switches == 1 && c.current == 1 && t == SLM_CHOICE_FIRST_PROBE + 1 + SLM_CHOICE_WINDOW,
          "faster way: %ld switches after %d tokens", c.switches, t);
    /* then the way it left is probed again soon, and loses: waits double */
    int probes = 0, gaps[8], last = 0;
    for (t = 0; t < 4000; t++) {
        int way = slm_choice_next(&c);
        if (way == 0 && c.probing == 1) {
            if (probes < 8) gaps[probes] = t - last;
            probes++;
        }
        slm_choice_record(&c, way == 0 ? 1.5e-5 : 1e-5);
        if (way == 0) last = t;
    }
    CHECK(c.switches == 1 && c.current == 1, "slower way: switched (%ld)", c.switches);
    CHECK(probes >= 4 && probes <= 12, "slower way: %d probes in 4000 tokens", probes);
    for (int i = 2; i < probes && i < 8; i++)
        CHECK(gaps[i] >= gaps[i - 1], "probe gaps shrink: %d then %d", gaps[i - 1], gaps[i]);
    /* a hopeless way (100x slower): one warm-up token within 8x would go on; a token at 100x ends the
     * probe at once, and the current way then runs at least 16x the lost time before the next probe */
    slm_choice_init(&c, 0);
    int probe_tokens = 0;
    double ran = 0;
    for (t = 0; t < 20000; t++) {
        int way = slm_choice_next(&c);
        double s = way == 0 ? 1e-5 : 1e-3;
        if (way) probe_tokens++;
        else ran += s;
        slm_choice_record(&c, s);
    }
    CHECK(c.switches == 0, "hopeless way: switched");
    CHECK(probe_tokens >= 1 && probe_tokens * 1e-3 * 16 <= ran + 16 * 1e-3, "hopeless way: %d probe tokens against %.4f s run",
          probe_tokens, ran);
}

/* A split token's steps are shared by the threads' measured speeds (choice.c): any shares give the
 * bytes one thread gives, however lopsided (thread 0 taking none of a step, a tenth, most, all of
 * it), with 2 and 3 threads, f32 and q4_0. The arithmetic, fed made-up times: shares move to the
 * faster thread, in proportion to speed; nothing moves until every thread's speed is known; each
 * thread keeps at least 1/(9 nt); the cuts stay in order from 0 to 1. */
void split_shares_change_nothing_follow_speeds(void) {
    enum { N = 12, V = 1000 };
    slm_model *m = random_model(256, 688, 2, 8, 4, V, 64, 1, 5);
    slm_error err;
    slm_quantize_params qp = {SLM_DTYPE_Q4_0, -1, 0};
    CHECK(slm_model_quantize(m, NULL, tmp_path("shares.q4_0.gguf"), &qp, &err) == SLM_OK, "%s", err.msg);
    slm_model *q4 = NULL;
    CHECK(slm_model_load_file(tmp_path("shares.q4_0.gguf"), &q4, &err) == SLM_OK, "%s", err.msg);
    int32_t toks[N];
    for (int i = 0; i < N; i++) toks[i] = (i * 37 + 1) % V;
    const slm_model *models[] = {m, q4};
    const float firsts[] = {0.0f, 0.1f, 0.37f, 0.9f, 1.0f};
    for (int k = 0; k < 2 && models[k]; k++) {
        float *one = test_logits_batch(models[k], toks, N, 1, 0, 1), *got = malloc(sizeof(float) * N * V);
        for (int nt = 2; nt <= 3; nt++)
            for (int f = 0; f < 5; f++) {
                slm_ctx_params p = {0, nt, 0, 1, 0, NULL};
                slm_ctx *ctx;
                CHECK(slm_ctx_create(models[k], &p, &ctx, &err) == SLM_OK, "%s", err.msg);
                slm_ctx_set_split(ctx, 1);
                slm_ctx_fix_shares(ctx, firsts[f]);
                for (int i = 0; i < N && got; i++)
                    CHECK(slm_ctx_eval(ctx, &toks[i], 1, i, got + (size_t)i * V, &err) == SLM_OK, "%s", err.msg);
                CHECK(one && got && !memcmp(one, got, sizeof(float) * N * V),
                      "model %d, %d threads, thread 0 taking %g: logits differ from one thread's", k, nt, firsts[f]);
                slm_ctx_free(ctx);
            }
        free(one), free(got);
    }
    slm_model_free(q4), slm_model_free(m);

    float frac[4], speed[3];
    slm_shares_init(frac, speed, 2);
    CHECK(frac[0] == 0 && frac[1] == 0.5f && frac[2] == 1, "equal shares: %g %g %g", frac[0], frac[1], frac[2]);
    double busy[3] = {0.1, 0};
    slm_shares_update(frac, speed, busy, 2);
    CHECK(frac[1] == 0.5f, "one thread unmeasured: the cut moved to %g", frac[1]);
    busy[0] = 0.1, busy[1] = 0.2; /* thread 0 twice as fast */
    slm_shares_update(frac, speed, busy, 2);
    CHECK(fabsf(frac[1] - 2.0f / 3) < 0.02f, "thread 0 twice as fast: it takes %g", frac[1]);
    for (int i = 0; i < 50; i++) { /* the same speeds measured on the new shares: the cut stays */
        busy[0] = (frac[1] - frac[0]) / 5.0, busy[1] = (frac[2] - frac[1]) / 2.5;
        slm_shares_update(frac, speed, busy, 2);
    }
    CHECK(fabsf(frac[1] - 2.0f / 3) < 0.01f, "steady speeds: the cut drifted to %g", frac[1]);
    slm_shares_init(frac, speed, 3);
    for (int i = 0; i < 50; i++) { /* thread 2 a thousand times slower than the others */
        for (int t = 0; t < 3; t++) busy[t] = (frac[t + 1] - frac[t]) / (t == 2 ? 0.001 : 1.0);
        slm_shares_update(frac, speed, busy, 3);
    }
    CHECK(frac[0] == 0 && frac[3] == 1 && frac[0] <= frac[1] && frac[1] <= frac[2] && frac[2] <= frac[3],
          "cuts out of order: %g %g %g %g", frac[0], frac[1], frac[2], frac[3]);
    CHECK(1 - frac[2] >= 1.0f / 27 - 1e-6f && 1 - frac[2] < 0.05f, "a very slow thread keeps %g", 1 - frac[2]);
    CHECK(fabsf(frac[1] - (frac[2] - frac[1])) < 0.01f, "two equal threads split %g / %g", frac[1], frac[2] - frac[1]);
}

/* A pool (two threads) whose worker has gone to sleep is not ready; slm_pool_nudge wakes it without
 * work, and the pool is ready once it is seen running on another CPU; a job still runs on every
 * thread afterwards. */
static void count_thread(void *arg, int t, int nt) {
    (void)nt;
    atomic_fetch_add((atomic_int *)arg + t, 1);
}

void pool_ready_after_nudge(void) {
    slm_pool *pool = NULL;
    slm_error err;
    if (slm_cpus_available() < 2) SKIP("one CPU: a worker always shares the caller's, so the pool is never ready");
    CHECK(slm_pool_create(2, &pool, &err) == SLM_OK, "%s", err.msg);
    if (!pool) return;
    CHECK(slm_pool_ready(NULL), "a NULL pool is not ready");
    double t0 = slm_time_seconds();
    int asleep = 0; /* the workers sleep after spinning for a while */
    while (!asleep && slm_time_seconds() - t0 < 5) asleep = !slm_pool_ready(pool) && !slm_pool_ready(pool);
    CHECK(asleep, "workers idle for 5 s still count as ready");
    slm_pool_nudge(pool);
    int ready = 0;
    for (t0 = slm_time_seconds(); !ready && slm_time_seconds() - t0 < 5;) ready = slm_pool_ready(pool);
    CHECK(ready, "a nudged pool was not ready within 5 s");
    atomic_int counts[2] = {0, 0};
    slm_pool_run(pool, count_thread, counts);
    CHECK(counts[0] == 1 && counts[1] == 1, "a job after the nudge ran %d and %d times", (int)counts[0], (int)counts[1]);
    slm_pool_free(pool);
}

/* Rows packed in groups of eight (slm_model_make_resident, which slm_model_load_file applies with
 * the types the kernels want packed) change no byte of any result: for files of each packed type (Q4_K's of widths
 * that are whole super-blocks), tied and untied,
 * with a classifier whose row count is not a multiple of eight, the packed model's logits (token
 * by token and in batches, 1 and 2 threads, SIMD and scalar), its rows and the file it writes
 * equal those of the same file loaded from memory in the file's layout. One exception: where the
 * table multiplies a batch by packed rows in integers (matmat_bq8: AVX-512, the 32-value block types),
 * the packed model's batches take int8 activations as decode does, so their logits are held to
 * the file's token-by-token logits (within 3%: an activation can round to the next int8 step where
 * an earlier float step differs in its last bit), not to its fp32 batch products. */
void packed_rows_change_nothing(void) {
    const slm_dtype types[] = {SLM_DTYPE_Q8_0, SLM_DTYPE_Q4_0, SLM_DTYPE_Q4_1, SLM_DTYPE_Q5_0,
                               SLM_DTYPE_Q5_1, SLM_DTYPE_IQ4_NL, SLM_DTYPE_Q4_K, SLM_DTYPE_Q5_K, SLM_DTYPE_Q6_K};
    enum { N = 24, V = 1003 };
    int32_t toks[N];
    for (int i = 0; i < N; i++) toks[i] = (i * 41 + 3) % V;
    for (int tied = 0; tied < 2; tied++) {
        slm_model *m32 = random_model(128, 352, 2, 4, 2, V, 64, tied, 21 + (uint64_t)tied);
        slm_model *m256 = random_model(256, 512, 2, 4, 2, V, 64, tied, 23 + (uint64_t)tied);
        for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
            slm_error err;
            slm_model *m = slm_block_type_of(types[ti])->block_size == 256 ? m256 : m32;
            int width = (int)m->cfg.hidden_dim;
            slm_quantize_params qp = {types[ti], (int)types[ti], 0};
            const char *path = tmp_path("packed.gguf");
            CHECK(slm_model_quantize(m, NULL, path, &qp, &err) == SLM_OK, "%s", err.msg);
            size_t len = 0;
            char *bytes = read_all(path, &len);
            slm_model *file = NULL, *packed = NULL;
            /* packed here whatever the loader would choose on this CPU (slm_kernels.pack_bq8) */
            CHECK(bytes && slm_model_load_memory(bytes, len, "packed.gguf", &file, &err) == SLM_OK &&
                      slm_model_load_memory(bytes, len, "packed.gguf", &packed, &err) == SLM_OK &&
                      slm_model_make_resident(packed, SLM_BQ8_TYPES, &err) == SLM_OK,
                  "%s", err.msg);
            if (!file || !packed) {
                slm_model_free(file), slm_model_free(packed), free(bytes);
                continue;
            }
            int n_packed = 0, rows_same = 1;
            float *ra = malloc(sizeof(float) * (size_t)width), *rb = malloc(sizeof(float) * (size_t)width);
            for (int i = 0; i < packed->n_tensors; i++) {
                const slm_tensor *a = &file->tensors[i], *b = &packed->tensors[i];
                n_packed += b->bq8;
                CHECK(!a->bq8, "%s: packed when loaded from memory", a->name);
                CHECK(!(b->bq8 && b == packed->tok_emb && packed->classifier != packed->tok_emb),
                      "%s: an untied token embedding was packed", b->name);
                for (int64_t r = 0; a->n_dims == 2 && r < a->shape[0]; r++) {
                    slm_tensor_row_f32(a, r, ra), slm_tensor_row_f32(b, r, rb);
                    rows_same &= !memcmp(ra, rb, sizeof(float) * (size_t)a->shape[1]);
                }
            }
            free(ra), free(rb);
            /* the seven matrices of each layer and the classifier */
            CHECK(n_packed == 2 * 7 + 1, "type %d, tied %d: %d packed matrices", (int)types[ti], tied, n_packed);
            CHECK(rows_same, "type %d, tied %d: packed rows read differently", (int)types[ti], tied);
            for (int v = 0; v < 8; v++) {
                int threads = v & 1 ? 2 : 1, no_simd = (v >> 1) & 1, batch = v & 4 ? 1 : 0;
                const slm_kernels *kt = slm_kernels_select(!no_simd);
                int int_batch = batch != 1 && kt->matmat_bq8 && (kt->matmat_bq8_types >> types[ti] & 1);
                float *a = test_logits_batch(file, toks, N, threads, no_simd, int_batch ? 1 : batch);
                float *b = test_logits_batch(packed, toks, N, threads, no_simd, batch);
                if (int_batch) {
                    double scale = 0, d = 0;
                    for (int i = 0; a && b && i < N * V; i++) scale = fmax(scale, fabs(a[i])), d = fmax(d, fabs((double)a[i] - b[i]));
                    CHECK(a && b && d <= 0.03 * scale, "type %d, tied %d, %d threads: integer batches differ from the "
                          "file's token-by-token logits by %g of the largest", (int)types[ti], tied, threads, d / scale);
                } else
                    CHECK(a && b && !memcmp(a, b, sizeof(float) * N * V),
                          "type %d, tied %d, %d threads, %s, batch %d: packed logits differ", (int)types[ti], tied, threads,
                          no_simd ? "scalar" : "simd", batch);
                free(a), free(b);
            }
            slm_quantize_params out = {SLM_DTYPE_Q8_0, -1, 0};
            CHECK(slm_model_quantize(file, NULL, tmp_path("packed.a.gguf"), &out, &err) == SLM_OK &&
                      slm_model_quantize(packed, NULL, tmp_path("packed.b.gguf"), &out, &err) == SLM_OK,
                  "%s", err.msg);
            size_t la = 0, lb = 0;
            char *fa = read_all(tmp_path("packed.a.gguf"), &la), *fb = read_all(tmp_path("packed.b.gguf"), &lb);
            CHECK(fa && fb && la == lb && !memcmp(fa, fb, la), "type %d, tied %d: the packed model writes another file",
                  (int)types[ti], tied);
            free(fa), free(fb);
            slm_model_free(file), slm_model_free(packed);
            free(bytes);
        }
        slm_model_free(m32), slm_model_free(m256);
    }
}

/* slm_model_load_file copies the matrices the products read whole into the model's own huge-page
 * block (every matrix but an untied token embedding) and changes no byte: for fp32, f16, bf16, a
 * K-quant type no kernel table packs (Q3_K), Q8_0 (packed where the kernels want it) and llama2.c's
 * Q8_0 groups (values and scales), tied and untied, the file's logits (token by token and in a
 * batch) equal those of the same bytes loaded from memory, which stay where they are.
 * slm_model_load_file_mapped leaves every matrix in the mapping, unpacked, with those logits. */
void file_matrices_resident_change_nothing(void) {
    const int saves[] = {SLM_SAVE_GGUF_F32, SLM_SAVE_GGUF_F16, SLM_SAVE_GGUF_BF16, SLM_SAVE_GGUF_Q3_K,
                         SLM_SAVE_GGUF_Q8_0, SLM_SAVE_LLAMA2C_Q80};
    enum { N = 12, V = 301 };
    int32_t toks[N];
    for (int i = 0; i < N; i++) toks[i] = (i * 37 + 5) % V;
    for (int tied = 0; tied < 2; tied++) {
        slm_model *m = random_model(256, 512, 2, 4, 2, V, 32, tied, 31 + (uint64_t)tied);
        for (size_t k = 0; k < sizeof saves / sizeof *saves; k++) {
            slm_error err;
            const char *path = tmp_path(saves[k] == SLM_SAVE_LLAMA2C_Q80 ? "resident.bin" : "resident.gguf");
            CHECK(slm_model_save(m, path, (slm_save_format)saves[k], 0, &err) == SLM_OK, "%s", err.msg);
            size_t len = 0;
            char *bytes = read_all(path, &len);
            slm_model *mem = NULL, *file = NULL;
            CHECK(bytes && slm_model_load_memory(bytes, len, path, &mem, &err) == SLM_OK &&
                      slm_model_load_file(path, &file, &err) == SLM_OK,
                  "%s", err.msg);
            if (!mem || !file) {
                slm_model_free(mem), slm_model_free(file), free(bytes);
                continue;
            }
            const uint8_t *own = file->packed;
            int n_resident = 0, in_memory = 1;
            for (int i = 0; i < file->n_tensors; i++) {
                const slm_tensor *t = &file->tensors[i];
                const uint8_t *d = t->data, *sc = (const uint8_t *)t->scales;
                int inside = own && d >= own && d < own + file->packed_size &&
                             (!sc || (sc >= own && sc < own + file->packed_size));
                int untied_emb = t == file->tok_emb && file->classifier != file->tok_emb;
                n_resident += inside;
                CHECK(inside == (t->n_dims == 2 && !untied_emb), "save %d, tied %d: %s is %s the model's block",
                      saves[k], tied, t->name, inside ? "in" : "not in");
                const uint8_t *md = mem->tensors[i].data;
                in_memory &= md >= (const uint8_t *)bytes && md < (const uint8_t *)bytes + len;
            }
            CHECK(n_resident == 2 * 7 + 1, "save %d, tied %d: %d matrices copied", saves[k], tied, n_resident);
            CHECK(in_memory && !mem->packed, "save %d, tied %d: a model loaded from memory was moved", saves[k], tied);
            const slm_kernels *kt = slm_kernels_select(1);
            for (int v = 0; v < 2; v++) { /* token by token, then one batch */
                int nb = v ? 0 : 1;
                float *a = test_logits_batch(mem, toks, N, 1, 0, nb), *b = test_logits_batch(file, toks, N, 1, 0, nb);
                /* packed rows take integer batch products (held to token by token in packed_rows_change_nothing) */
                int int_batch = 0;
                for (int i = 0; i < file->n_tensors; i++)
                    int_batch |= nb != 1 && file->tensors[i].bq8 && kt->matmat_bq8 &&
                                 (kt->matmat_bq8_types >> file->tensors[i].dtype & 1);
                CHECK(a && b && (int_batch || !memcmp(a, b, sizeof(float) * N * V)),
                      "save %d, tied %d, batch %d: logits differ", saves[k], tied, nb);
                free(a), free(b);
            }
            /* slm_model_load_file_mapped: every matrix read in place, in the file's layout, with the
             * logits of the same bytes loaded from memory */
            slm_model *mapped = NULL;
            CHECK(slm_model_load_file_mapped(path, &mapped, &err) == SLM_OK, "%s", err.msg);
            if (mapped) {
                int in_map = !mapped->packed && mapped->map;
                for (int i = 0; i < mapped->n_tensors; i++) {
                    const uint8_t *d = mapped->tensors[i].data, *map = mapped->map;
                    in_map &= d >= map && d < map + mapped->map_size && !mapped->tensors[i].bq8;
                }
                CHECK(in_map, "save %d, tied %d: a mapped load moved or packed a matrix", saves[k], tied);
                for (int nb = 0; nb < 2; nb++) {
                    float *a = test_logits_batch(mem, toks, N, 2, 0, nb), *b = test_logits_batch(mapped, toks, N, 2, 0, nb);
                    CHECK(a && b && !memcmp(a, b, sizeof(float) * N * V), "save %d, tied %d, batch %d: mapped logits differ",
                          saves[k], tied, nb);
                    free(a), free(b);
                }
                slm_model_free(mapped);
            }
            slm_model_free(mem), slm_model_free(file);
            free(bytes);
        }
        slm_model_free(m);
    }
}

/* An f16 KV cache: half the cache memory; logits near the fp32 cache's, token by token and in
 * batches; the same bytes for 1 and 2 threads. */
void kv_cache_f16_option(void) {
    slm_model *m = random_model(64, 172, 2, 8, 4, 300, 64, 1, 9);
    slm_error err;
    slm_ctx_params p32 = {0, 1, 0, 0, 0, NULL}, p16 = {0, 1, 0, 0, 1, NULL};
    slm_mem_plan a, b;
    CHECK(slm_ctx_plan(m, &p32, &a, &err) == SLM_OK && slm_ctx_plan(m, &p16, &b, &err) == SLM_OK);
    CHECK(b.kv_cache * 2 == a.kv_cache, "f16 cache %zu bytes, fp32 %zu", b.kv_cache, a.kv_cache);
    enum { N = 40 };
    int32_t toks[N];
    for (int i = 0; i < N; i++) toks[i] = (i * 13 + 1) % 300;
    float *ref = test_logits(m, toks, N, 1, 0), *got[4];
    for (int v = 0; v < 4; v++) { /* (batch 1, batch default) x (1, 2 threads) */
        slm_ctx_params p = {0, v & 1 ? 2 : 1, 0, v & 2 ? 0 : 1, 1, NULL};
        slm_ctx *ctx;
        got[v] = malloc(sizeof(float) * N * 300);
        CHECK(slm_ctx_create(m, &p, &ctx, &err) == SLM_OK && slm_ctx_eval(ctx, toks, N, 0, got[v], &err) == SLM_OK,
              "%s", err.msg);
        slm_ctx_free(ctx);
        double d = max_abs_diff(ref, got[v], (size_t)N * 300), scale = 0;
        for (int i = 0; i < N * 300; i++) scale = fmax(scale, fabs(ref[i]));
        CHECK(d <= 1e-2 * scale && d > 0, "f16 cache, variant %d: logits differ by %g (largest %g)", v, d, scale);
    }
    CHECK(!memcmp(got[0], got[1], sizeof(float) * N * 300) && !memcmp(got[2], got[3], sizeof(float) * N * 300),
          "f16 cache: 1 and 2 threads differ");
    for (int v = 0; v < 4; v++) free(got[v]);
    free(ref);
    slm_model_free(m);
}

void ctx_caller_memory_and_plan(void) {
    slm_model *m = random_model(64, 172, 2, 8, 4, 300, 64, 1, 9);
    slm_ctx_params p = {32, 1, 0, 0, 0, NULL};
    slm_mem_plan plan;
    slm_error err;
    CHECK(slm_ctx_plan(m, &p, &plan, &err) == SLM_OK);
    CHECK(plan.kv_cache == 2u * 2 * 32 * 32 * 4, "kv %zu", plan.kv_cache);
    CHECK(plan.total >= plan.kv_cache + plan.activations + plan.overhead - 64);
    char *block = malloc(plan.total + 3);
    slm_ctx *ctx;
    CHECK(slm_ctx_create_in(m, &p, block + 3, plan.total - 1, &ctx, &err) == SLM_ERR_NOMEM, "too small must fail");
    CHECK(slm_ctx_create_in(m, &p, block + 3, plan.total, &ctx, &err) == SLM_OK, "%s", err.msg); /* unaligned ok */
    int32_t toks[5] = {1, 2, 3, 4, 5};
    float *ref = test_logits(m, toks, 5, 1, 0);
    float got[5 * 300];
    CHECK(slm_ctx_eval(ctx, toks, 5, 0, got, &err) == SLM_OK);
    CHECK(ref && memcmp(got, ref, sizeof got) == 0);
    slm_ctx_free(ctx);
    free(block), free(ref);
    p.n_ctx = 65;
    CHECK(slm_ctx_plan(m, &p, &plan, &err) == SLM_ERR_ARG && strstr(err.msg, "context length 65"), "%s", err.msg);

    /* kernel tables by name: each available one runs as asked; scalar by name is no_simd's bytes */
    p.n_ctx = 32;
    const slm_kernels *tabs[4];
    int nt = slm_kernels_available(tabs, 4);
    float *scalar_ref = test_logits(m, toks, 5, 1, 1);
    for (int i = 0; i < nt; i++) {
        p.kernels = tabs[i]->name;
        CHECK(slm_ctx_create(m, &p, &ctx, &err) == SLM_OK, "%s: %s", tabs[i]->name, err.msg);
        CHECK(!strcmp(slm_ctx_kernels(ctx), tabs[i]->name), "asked %s, runs %s", tabs[i]->name, slm_ctx_kernels(ctx));
        CHECK(slm_ctx_eval(ctx, toks, 5, 0, got, &err) == SLM_OK);
        if (!strcmp(tabs[i]->name, "scalar")) CHECK(scalar_ref && !memcmp(got, scalar_ref, sizeof got));
        slm_ctx_free(ctx);
    }
    p.no_simd = 1; /* wins over a name */
    p.kernels = tabs[nt - 1]->name;
    CHECK(slm_ctx_create(m, &p, &ctx, &err) == SLM_OK && !strcmp(slm_ctx_kernels(ctx), "scalar"));
    slm_ctx_free(ctx);
    p.no_simd = 0;
    p.kernels = "sse9";
    CHECK(slm_ctx_plan(m, &p, &plan, &err) == SLM_ERR_ARG && strstr(err.msg, "'sse9'") && strstr(err.msg, "scalar"),
          "%s", err.msg);
    CHECK(slm_ctx_create(m, &p, &ctx, &err) == SLM_ERR_ARG);
    free(scalar_ref);
    slm_model_free(m);
}

#include <pthread.h>
typedef struct {
    const slm_model *m;
    float *out;
    int32_t toks[20];
} thread_arg;
static void *ctx_thread(void *p) {
    thread_arg *a = p;
    a->out = test_logits(a->m, a->toks, 20, 2, 0);
    return NULL;
}

void ctx_several_contexts_share_a_model(void) {
    slm_model *m = random_model(128, 344, 2, 4, 2, 500, 64, 1, 21);
    thread_arg args[3];
    pthread_t th[3];
    for (int t = 0; t < 3; t++) {
        args[t].m = m;
        for (int i = 0; i < 20; i++) args[t].toks[i] = (i * (t + 3)) % 500;
        pthread_create(&th[t], NULL, ctx_thread, &args[t]);
    }
    for (int t = 0; t < 3; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 3; t++) {
        float *ref = test_logits(m, args[t].toks, 20, 1, 0);
        CHECK(args[t].out && ref && memcmp(args[t].out, ref, sizeof(float) * 20 * 500) == 0, "context %d", t);
        free(ref), free(args[t].out);
    }
    slm_model_free(m);
}

void eval_rejects_bad_positions_and_ids(void) {
    slm_model *m = random_model(32, 64, 1, 4, 4, 50, 16, 1, 2);
    slm_ctx_params p = slm_ctx_default_params();
    slm_ctx *ctx;
    slm_error err;
    slm_ctx_create(m, &p, &ctx, &err);
    int32_t toks[17] = {0};
    CHECK(slm_ctx_eval(ctx, toks, 17, 0, NULL, &err) == SLM_ERR_RANGE && strstr(err.msg, "context length 16"), "%s", err.msg);
    CHECK(slm_ctx_eval(ctx, toks, 1, 16, NULL, &err) == SLM_ERR_RANGE);
    CHECK(slm_ctx_eval(ctx, toks, 1, -1, NULL, &err) == SLM_ERR_ARG);
    toks[0] = 50;
    CHECK(slm_ctx_eval(ctx, toks, 1, 0, NULL, &err) == SLM_ERR_ARG && strstr(err.msg, "token id 50"), "%s", err.msg);
    toks[0] = -3;
    CHECK(slm_ctx_eval(ctx, toks, 1, 0, NULL, &err) == SLM_ERR_ARG);
    slm_ctx_free(ctx);
    slm_model_free(m);
    CHECK(strcmp(slm_strerror(SLM_ERR_FORMAT), "invalid file format") == 0);
}

void generate_prompt_longer_than_context_errors(void) {
    const char *mp = shared_path("models/stories260K.bin"), *tp = shared_path("models/tok512.bin");
    if (!mp || !tp) SKIP("../shared/models/stories260K.bin or tok512.bin is missing");
    char args[4096], *errs = NULL;
    snprintf(args, sizeof args, "generate -m %s -z %s -c 16 -p 'Once upon a time there was a little girl who loved to play in the park with her friends'", mp, tp);
    int rc = run_slm(args, NULL, &errs);
    CHECK(rc == 1 && errs && strstr(errs, "context holds 16"), "rc %d: %s", rc, errs ? errs : "");
    free(errs);
}

void sampler_seeded_and_greedy(void) {
    float logits[100];
    for (int i = 0; i < 100; i++) logits[i] = (float)((i * 7919) % 100) / 25.0f;
    slm_sampler_params p = slm_sampler_default_params();
    slm_sampler *a, *b, *g;
    slm_error err;
    p.seed = 42;
    p.top_k = 0, p.min_p = 0;
    slm_sampler_create(&p, 100, &a, &err);
    slm_sampler_create(&p, 100, &b, &err);
    int same = 1, distinct = 0, seen[100] = {0};
    for (int i = 0; i < 200; i++) {
        int32_t x = slm_sampler_sample(a, logits), y = slm_sampler_sample(b, logits);
        same &= x == y;
        if (!seen[x]++) distinct++;
    }
    CHECK(same, "same seed must give the same tokens");
    CHECK(distinct > 3, "temperature sampling should vary (%d distinct)", distinct);
    slm_sampler_free(a), slm_sampler_free(b);
    /* greedy picks the argmax, ties to the lowest id */
    p.temperature = 0;
    slm_sampler_create(&p, 100, &g, &err);
    int32_t best = 0;
    for (int i = 1; i < 100; i++)
        if (logits[i] > logits[best]) best = i;
    CHECK(slm_sampler_sample(g, logits) == best);
    slm_sampler_free(g);
    /* top-k 1 is greedy at any temperature; top-p tiny keeps only the best */
    p.temperature = 1.5f, p.top_k = 1;
    slm_sampler_create(&p, 100, &g, &err);
    for (int i = 0; i < 20; i++) CHECK(slm_sampler_sample(g, logits) == best);
    slm_sampler_free(g);
    p.top_k = 0, p.top_p = 1e-6f;
    slm_sampler_create(&p, 100, &g, &err);
    for (int i = 0; i < 20; i++) CHECK(slm_sampler_sample(g, logits) == best);
    slm_sampler_free(g);
    /* min-p 1 keeps only the best */
    p.top_p = 1, p.min_p = 1;
    slm_sampler_create(&p, 100, &g, &err);
    for (int i = 0; i < 20; i++) CHECK(slm_sampler_sample(g, logits) == best);
    slm_sampler_free(g);
    /* a huge repeat penalty moves greedy off a token once it was seen */
    p = slm_sampler_default_params();
    p.temperature = 0, p.repeat_penalty = 50;
    slm_sampler_create(&p, 100, &g, &err);
    slm_sampler_accept(g, best);
    CHECK(slm_sampler_sample(g, logits) != best);
    slm_sampler_free(g);
    /* invalid parameters are rejected */
    p = slm_sampler_default_params();
    p.top_p = 0;
    CHECK(slm_sampler_create(&p, 100, &g, &err) == SLM_ERR_ARG && strstr(err.msg, "top_p"));
}
