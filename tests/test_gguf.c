/* test_gguf.c — GGUF: reference logits through GGUF, the writer's round trips, 16-bit kernels,
 * and a table of corrupt GGUF files. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../src/formats/formats.h"
#include "../src/kernels/kernels.h"
#include "../src/kernels/quant.h"
#include "../src/model/model.h"
#include "test.h"
#include "tests.h"


void kernels_f16_bf16_conversions_and_matvec(void) {
    /* every finite half converts to f32 and back unchanged */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = slm_f16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        if (slm_f32_to_f16(f) != h) bad++;
    }
    CHECK(bad == 0, "%d halves do not round-trip", bad);
    CHECK(slm_f16_to_f32(0x3c00) == 1.0f && slm_f16_to_f32(0xc000) == -2.0f && slm_f16_to_f32(0x0001) == ldexpf(1, -24));
    CHECK(slm_f32_to_f16(65520.0f) == 0x7c00, "overflow rounds to inf");
    CHECK(slm_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00, "a tie rounds to even");
    CHECK(slm_f32_to_bf16(1.0f) == 0x3f80 && slm_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(slm_f32_to_bf16(1.0f + ldexpf(1, -8)) == 0x3f80, "bf16 tie rounds to even");
    const slm_kernels *tabs[8];
    int nt = slm_kernels_available(tabs, 8);
    const int shapes[][2] = {{3, 8}, {5, 37}, {4, 64}, {2, 300}, {7, 1}};
    for (int s = 0; s < 5; s++) {
        int rows = shapes[s][0], n = shapes[s][1];
        uint16_t *wh = malloc(2 * (size_t)rows * n), *wb = malloc(2 * (size_t)rows * n);
        float *x = malloc(4 * (size_t)n), ref[8], out[8];
        for (int i = 0; i < rows * n; i++) {
            float v = sinf((float)i * 0.37f);
            wh[i] = slm_f32_to_f16(v), wb[i] = slm_f32_to_bf16(v);
        }
        for (int i = 0; i < n; i++) x[i] = cosf((float)i * 0.11f);
        for (int t = 0; t < nt; t++) {
            slm_kernels_scalar()->matvec_f16(ref, x, wh, n, 0, rows);
            tabs[t]->matvec_f16(out, x, wh, n, 0, rows);
            for (int r = 0; r < rows; r++) CHECK(fabsf(out[r] - ref[r]) <= 1e-5f * (1 + sqrtf((float)n)), "%s f16", tabs[t]->name);
            /* tables that multiply BF16 in bf16 (matmat_bf16) round the activations first: their reference
             * is the product with x rounded (kernels_bf16_batch_matches_decode_and_reference bounds the rest) */
            float *xr = malloc(4 * (size_t)n);
            for (int i = 0; i < n; i++) xr[i] = tabs[t]->matmat_bf16 ? slm_bf16_to_f32(slm_f32_to_bf16(x[i])) : x[i];
            slm_kernels_scalar()->matvec_bf16(ref, xr, wb, n, 0, rows);
            free(xr);
            tabs[t]->matvec_bf16(out, x, wb, n, 0, rows);
            for (int r = 0; r < rows; r++) CHECK(fabsf(out[r] - ref[r]) <= 1e-5f * (1 + sqrtf((float)n)), "%s bf16", tabs[t]->name);
        }
        free(wh), free(wb), free(x);
    }
}

void gguf_writer_round_trips_logits(void) {
    slm_config c = {96, 256, 2, 1, 6, 2, 16, 300, 32, 0, 1e-5f, 500000.0f, 0};
    slm_model *m, *g;
    slm_error err;
    CHECK(slm_model_init_random(&c, 5, 0.1f, &m, &err) == SLM_OK);
    int32_t toks[12] = {1, 7, 299, 40, 3, 3, 150, 8, 9, 10, 0, 2};
    float *ref = test_logits(m, toks, 12, 1, 0);
    const slm_save_format f[3] = {SLM_SAVE_GGUF_F32, SLM_SAVE_GGUF_F16, SLM_SAVE_GGUF_BF16};
    const double tol[3] = {0, 0.02, 0.1};
    for (int k = 0; k < 3; k++) {
        CHECK(slm_model_save(m, tmp_path("rt.gguf"), f[k], 0, &err) == SLM_OK, "%s", err.msg);
        CHECK(slm_model_load_file(tmp_path("rt.gguf"), &g, &err) == SLM_OK, "%s", err.msg);
        if (T.failed) break;
        const slm_config *gc = slm_model_config(g);
        CHECK(gc->rope_theta == 500000.0f && gc->n_kv_heads == 2 && !gc->tied_classifier && gc->seq_len == 32);
        if (k == 1) { /* slm info on the GGUF prints its config and dtypes */
            char args[1024], *o = NULL;
            snprintf(args, sizeof args, "info %s", tmp_path("rt.gguf"));
            CHECK(run_slm(args, &o, NULL) == 0 && o && strstr(o, "GGUF v3 (llama)") && strstr(o, "hidden_dim:    256") &&
                      strstr(o, "n_heads:       6") && strstr(o, "seq_len:       32") && strstr(o, "dtype f16"),
                  "%s", o ? o : "");
            free(o);
        }
        float *lg = test_logits(g, toks, 12, 2, 0);
        double d = 0;
        for (int i = 0; i < 12 * 300; i++) d = fmax(d, fabs((double)lg[i] - ref[i]));
        printf("    gguf %s: max |logit diff| vs the f32 model %.2e\n", k == 0 ? "f32" : k == 1 ? "f16" : "bf16", d);
        CHECK(d <= tol[k], "format %d: %g", k, d);
        /* llama2.c files cannot hold rope_theta 500000: the writer refuses instead of losing it */
        CHECK(slm_model_save(g, tmp_path("rt.bin"), SLM_SAVE_LLAMA2C_V0, 0, &err) == SLM_ERR_UNSUPPORTED &&
                  strstr(err.msg, "rope_theta"), "%s", err.msg);
        free(lg);
        slm_model_free(g);
    }
    free(ref);
    slm_model_free(m);
    /* with llama2.c's theta, GGUF (f16) -> llama2.c v0 keeps the logits of the GGUF */
    c.rope_theta = 10000.0f;
    CHECK(slm_model_init_random(&c, 6, 0.1f, &m, &err) == SLM_OK);
    CHECK(slm_model_save(m, tmp_path("rt16.gguf"), SLM_SAVE_GGUF_F16, 0, &err) == SLM_OK);
    slm_model *b;
    CHECK(slm_model_load_file(tmp_path("rt16.gguf"), &g, &err) == SLM_OK);
    CHECK(slm_model_save(g, tmp_path("rt16.bin"), SLM_SAVE_LLAMA2C_V0, 0, &err) == SLM_OK, "%s", err.msg);
    CHECK(slm_model_load_file(tmp_path("rt16.bin"), &b, &err) == SLM_OK);
    float *lg = test_logits(g, toks, 12, 1, 0), *lb = test_logits(b, toks, 12, 1, 0);
    double d2 = 0;
    for (int i = 0; i < 12 * 300; i++) d2 = fmax(d2, fabs((double)lb[i] - lg[i]));
    CHECK(d2 <= 1e-4, "llama2.c v0 written from an f16 GGUF: %g", d2);
    free(lg), free(lb);
    slm_model_free(b), slm_model_free(g), slm_model_free(m);
}

typedef struct {
    const char *name, *find; /* patch after the first occurrence of `find` (NULL: absolute offset) */
    long at;                 /* offset from the match end (or absolute) */
    int width;               /* bytes to write: 4 or 8; 0 = truncate the file to `at` */
    uint64_t value;
    const char *expect;
} gguf_case;

void gguf_corrupt_files_rejected(void) {
    slm_config c = {32, 64, 2, 1, 4, 2, 8, 50, 16, 1, 1e-5f, 10000.0f, 0};
    slm_model *m;
    slm_error err;
    CHECK(slm_model_init_random(&c, 9, 0.1f, &m, &err) == SLM_OK);
    CHECK(slm_model_save(m, tmp_path("base.gguf"), SLM_SAVE_GGUF_F32, 0, &err) == SLM_OK, "%s", err.msg);
    slm_model_free(m);
    size_t len;
    char *base = read_all(tmp_path("base.gguf"), &len);
    const gguf_case cases[] = {
        {"g-version.gguf", NULL, 4, 4, 1, "GGUF version = 1 is not supported"},
        {"g-ntensors.gguf", NULL, 8, 8, (uint64_t)1 << 40, "n_tensors = 1099511627776 is more than the file can hold"},
        {"g-nkv.gguf", NULL, 16, 8, (uint64_t)1 << 40, "n_kv = 1099511627776 is more than the file can hold"},
        {"g-keylen.gguf", NULL, 24, 8, (uint64_t)1 << 40, "truncated or oversized key of metadata entry 0"},
        {"g-kvtype.gguf", "general.architecture", 0, 4, 99, "metadata general.architecture has unknown type 99"},
        {"g-strlen.gguf", "general.architecture", 4, 8, (uint64_t)1 << 40, "general.architecture: value runs past the end"},
        {"g-header-cut.gguf", NULL, 100, 0, 0, "is more than the file can hold"},
        {"g-kv-cut.gguf", NULL, 520, 0, 0, "of metadata entry"},
        {"g-short.gguf", NULL, 20, 0, 0, "the GGUF header needs 24 bytes"},
        {"g-last-byte.gguf", NULL, -1, 0, 0, "truncated: tensor"},
        {"g-alignment.gguf", "general.alignment", 4, 4, 3, "general.alignment = 3 is not a power of two"},
        {"g-ndims.gguf", "token_embd.weight", 0, 4, 5, "tensor token_embd.weight: n_dims = 5 is out of range"},
        {"g-dim-zero.gguf", "token_embd.weight", 4, 8, 0, "tensor token_embd.weight: dimension 0 is truncated, zero or too large"},
        {"g-dim-huge.gguf", "token_embd.weight", 12, 8, (uint64_t)1 << 50, "dimension 1 is truncated, zero or too large"},
        {"g-offset-misaligned.gguf", "token_embd.weight", 24, 8, 3, "offset 3 is not a multiple of the alignment 32"},
        {"g-offset-past-end.gguf", "token_embd.weight", 24, 8, (uint64_t)1 << 32, "truncated: tensor token_embd.weight needs"},
        {"g-tensor-type.gguf", "token_embd.weight", 20, 4, 10, "has type q2_k, which slm does not run yet"},
        {"g-tensor-blocks.gguf", "token_embd.weight", 20, 4, 12, "is not a whole number of q4_k blocks"},
        {"g-block-count.gguf", "llama.block_count", 4, 4, 3, "tensor blk.2.attn_norm.weight is missing"},
        {"g-heads.gguf", "llama.attention.head_count\x04", 3, 4, 5, "n_heads = 5 does not divide dim = 32"},
        {"g-vocab.gguf", "llama.vocab_size", 4, 4, 51, "llama.vocab_size = 51 but token_embd.weight has 50 rows"},
        {"g-rope-dims.gguf", "llama.rope.dimension_count", 4, 4, 4, "partial rotary embeddings are not supported"},
        {"g-arch.gguf", "general.architecture", 12, 4, 0x7a7a7a7a, "general.architecture = zzzza is not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gguf_case *k = &cases[i];
        char *buf = malloc(len);
        memcpy(buf, base, len);
        size_t n = len, pos = (size_t)k->at;
        if (k->find) {
            char *hit = memmem(buf, len, k->find, strlen(k->find));
            CHECK(hit != NULL, "%s: '%s' not in the file", k->name, k->find);
            if (!hit) continue;
            pos = (size_t)(hit - buf) + strlen(k->find) + (size_t)k->at;
        }
        if (k->width == 0) n = k->at < 0 ? len - 1 : (size_t)k->at;
        else memcpy(buf + pos, &k->value, (size_t)k->width);
        const char *path = tmp_path(k->name);
        write_all(path, buf, n);
        free(buf);
        slm_model *bad = NULL;
        slm_error e = {0, ""};
        CHECK(slm_model_load_file(path, &bad, &e) != SLM_OK && !bad, "%s accepted", k->name);
        CHECK(strstr(e.msg, k->expect) && strstr(e.msg, k->name), "%s: '%s' lacks '%s'", k->name, e.msg, k->expect);
        char args[1024], *errs = NULL;
        snprintf(args, sizeof args, "info %s", path);
        int rc = run_slm(args, NULL, &errs);
        CHECK(rc == 1 && errs && strstr(errs, k->expect), "%s: slm info rc %d", k->name, rc);
        free(errs);
    }
    free(base);
}

void kernels_block_quant_types(void) {
    /* our quantizers: dequantized values are within half a step of the input */
    float x[256], y[256];
    uint8_t blk[4 * 34 * 8];
    for (int i = 0; i < 256; i++) x[i] = sinf((float)i * 0.7f) * (1.0f + (float)(i % 7));
    slm_quantize_row_q8_0(x, blk, 256);
    slm_dequantize_block_row(SLM_DTYPE_Q8_0, blk, 256, 0, y);
    for (int i = 0; i < 256; i++) CHECK(fabsf(y[i] - x[i]) <= 7.0f / 127 * 0.51f + 1e-3f, "q8_0 %d: %g vs %g", i, y[i], x[i]);
    slm_quantize_row_q4_0(x, blk, 256);
    slm_dequantize_block_row(SLM_DTYPE_Q4_0, blk, 256, 0, y);
    for (int i = 0; i < 256; i++) CHECK(fabsf(y[i] - x[i]) <= 7.0f / 8 + 1e-2f, "q4_0 %d: %g vs %g", i, y[i], x[i]); /* clipped side: one step */
    slm_quantize_row_q4_1(x, blk, 256);
    slm_dequantize_block_row(SLM_DTYPE_Q4_1, blk, 256, 0, y);
    for (int i = 0; i < 256; i++) CHECK(fabsf(y[i] - x[i]) <= 14.0f / 15 * 0.51f + 1e-2f, "q4_1 %d: %g vs %g", i, y[i], x[i]);
    /* K-quants: RMS error against the input's RMS, on several kinds of rows */
    {
        static float kx[1024], ky[1024];
        static uint8_t kb[4 * 210];
        const char *kinds[6] = {"smooth", "gaussian-like", "all positive", "all negative", "one outlier", "zeros"};
        uint64_t r = 99;
        for (int kind = 0; kind < 6; kind++) {
            for (int i = 0; i < 1024; i++) {
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                float u = (float)((r >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f, g = u * u * u * 8 + u; /* heavy-ish tails */
                kx[i] = kind == 0 ? sinf((float)i * 0.3f) * (1 + (float)(i % 5)) : kind == 1 ? g * 0.02f
                      : kind == 2 ? 1.0f + fabsf(g) : kind == 3 ? -0.5f - fabsf(g) : kind == 4 ? g * 0.01f : 0.0f;
            }
            if (kind == 4) kx[300] = 3.0f;
            double ss = 0;
            for (int i = 0; i < 1024; i++) ss += (double)kx[i] * kx[i];
            double rms = sqrt(ss / 1024);
            const slm_dtype kt[2] = {SLM_DTYPE_Q4_K, SLM_DTYPE_Q6_K};
            const double lim[2] = {0.12, 0.03};
            for (int t = 0; t < 2; t++) {
                slm_quantize_row(kt[t], kx, kb, 1024);
                slm_dequantize_block_row(kt[t], kb, 1024, 0, ky);
                double se = 0;
                for (int i = 0; i < 1024; i++) se += ((double)ky[i] - kx[i]) * ((double)ky[i] - kx[i]);
                double rel = rms > 0 ? sqrt(se / 1024) / rms : sqrt(se);
                CHECK(rel <= lim[t], "%s %s: relative RMS error %.4f (limit %.2f)", t ? "q6_k" : "q4_k", kinds[kind], rel, lim[t]);
                if (kind == 1) printf("    %s on gaussian-like rows: relative RMS error %.4f\n", t ? "q6_k" : "q4_k", rel);
            }
        }
        /* hostile values: NaN and infinities still give finite, decodable blocks */
        for (int i = 0; i < 1024; i++) kx[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -1e30f;
        for (int t = 0; t < 2; t++) {
            slm_dtype kt = t ? SLM_DTYPE_Q6_K : SLM_DTYPE_Q4_K;
            slm_quantize_row(kt, kx, kb, 1024);
            slm_dequantize_block_row(kt, kb, 1024, 0, ky);
            int finite_all = 1;
            for (int i = 0; i < 1024; i++) finite_all &= isfinite(ky[i]) != 0;
            CHECK(finite_all, "%s: non-finite output from NaN/inf input", t ? "q6_k" : "q4_k");
        }
    }
}

void gguf_quantized_writer_round_trip(void) {
    slm_config c = {128, 256, 2, 1, 4, 2, 32, 320, 32, 1, 1e-5f, 10000.0f, 0};
    slm_model *m, *q;
    slm_error err;
    CHECK(slm_model_init_random(&c, 11, 0.05f, &m, &err) == SLM_OK);
    int32_t toks[10] = {1, 5, 300, 77, 8, 8, 150, 2, 0, 319};
    float *ref = test_logits(m, toks, 10, 1, 0);
    const slm_save_format f[3] = {SLM_SAVE_GGUF_Q8_0, SLM_SAVE_GGUF_Q4_0, SLM_SAVE_GGUF_Q4_1};
    const char *names[3] = {"q8_0", "q4_0", "q4_1"};
    const double tol[3] = {0.1, 0.8, 0.8};
    for (int k = 0; k < 3; k++) {
        CHECK(slm_model_save(m, tmp_path("q.gguf"), f[k], 0, &err) == SLM_OK, "%s", err.msg);
        CHECK(slm_model_load_file(tmp_path("q.gguf"), &q, &err) == SLM_OK, "%s", err.msg);
        if (T.failed) break;
        float *lg = test_logits(q, toks, 10, 2, 0);
        double d = 0, mag = 0;
        for (int i = 0; i < 10 * 320; i++) d = fmax(d, fabs((double)lg[i] - ref[i])), mag = fmax(mag, fabs(ref[i]));
        printf("    gguf %s: max |logit diff| vs f32 %.3e (max |logit| %.2f)\n", names[k], d, mag);
        CHECK(d <= tol[k], "%s: %g", names[k], d);
        free(lg);
        slm_model_free(q);
    }
    free(ref);
    slm_model_free(m);
}

void gguf_with_tokenizer_runs_golden_story(void) {
    const char *mp = shared_path("models/stories260K.bin"), *gp = shared_path("models/stories260K.greedy.txt"),
               *lt = shared_path("models/tokenizer.bin");
    if (!mp || !gp || !lt) SKIP("../shared/models is missing");
    char args[2048], *out = NULL, *errs = NULL;
    /* llama2.c -> GGUF f32 with the tok512.bin found beside the model embedded; no -z afterwards */
    snprintf(args, sizeof args, "convert %s %s --to gguf-f32", mp, tmp_path("s.gguf"));
    CHECK(run_slm(args, NULL, &errs) == 0, "%s", errs ? errs : "");
    free(errs);
    size_t glen;
    char *golden = read_all(gp, &glen);
    snprintf(args, sizeof args, "generate -m %s --temp 0 -n 1000", tmp_path("s.gguf"));
    CHECK(run_slm(args, &out, NULL) == 0 && out && strlen(out) == glen && !memcmp(out, golden, glen), "golden via GGUF");
    free(out), free(golden);
    /* the embedded tokenizer encodes exactly as the file it came from */
    slm_tokenizer *a, *b;
    slm_error err;
    CHECK(slm_tokenizer_load_file(tmp_path("s.gguf"), 512, &a, &err) == SLM_OK, "%s", err.msg);
    CHECK(slm_tokenizer_load_file(shared_path("models/tok512.bin"), 512, &b, &err) == SLM_OK);
    const char *text = "  Once upon a time,\tthere was a naïve 🐱 named Lily.\n\nThe end ";
    int32_t ia[256], ib[256];
    int na, nb;
    slm_tokenizer_encode(a, text, strlen(text), 1, 0, ia, 256, &na);
    slm_tokenizer_encode(b, text, strlen(text), 1, 0, ib, 256, &nb);
    CHECK(na == nb && !memcmp(ia, ib, sizeof(int32_t) * (size_t)na), "embedded tokenizer differs");
    slm_tokenizer_free(a), slm_tokenizer_free(b);
    /* a 32000-token vocabulary survives the trip too (spaces as U+2581 and back) */
    slm_model *m;
    slm_config c = {32, 64, 1, 1, 4, 4, 8, 32000, 16, 1, 1e-5f, 10000.0f, 0};
    CHECK(slm_model_init_random(&c, 1, 0.02f, &m, &err) == SLM_OK);
    CHECK(slm_tokenizer_load_file(lt, 32000, &b, &err) == SLM_OK);
    CHECK(slm_model_save_with_tokenizer(m, b, tmp_path("v.gguf"), SLM_SAVE_GGUF_F16, 0, &err) == SLM_OK, "%s", err.msg);
    CHECK(slm_tokenizer_load_file(tmp_path("v.gguf"), 32000, &a, &err) == SLM_OK, "%s", err.msg);
    slm_tokenizer_encode(a, text, strlen(text), 1, 0, ia, 256, &na);
    slm_tokenizer_encode(b, text, strlen(text), 1, 0, ib, 256, &nb);
    CHECK(na == nb && !memcmp(ia, ib, sizeof(int32_t) * (size_t)na), "32000-token vocabulary differs after GGUF");
    slm_tokenizer_free(a), slm_tokenizer_free(b);
    slm_model_free(m);
}

/* K-quant and Q5_0 files made by llama.cpp's own quantizer (tests/data/llamacpp/README.md): every
 * tensor dequantized by slm is within that type's quantization error of the fp32 weights they came
 * from. A wrong block layout gives errors of order 1. */
void gguf_llamacpp_kquants_dequantize_to_source(void) {
    slm_config c = {256, 256, 1, 1, 2, 1, 128, 32, 32, 1, 1e-5f, 10000.0f, 0};
    slm_model *src;
    slm_error err;
    CHECK(slm_model_init_random(&c, 42, 0.05f, &src, &err) == SLM_OK);
    const char *files[7] = {"tests/data/llamacpp/random256-Q4_K.gguf", "tests/data/llamacpp/random256-Q6_K.gguf",
                            "tests/data/llamacpp/random256-Q5_0.gguf", "tests/data/llamacpp/random256-Q5_1.gguf",
                            "tests/data/llamacpp/random256-Q5_K.gguf", "tests/data/llamacpp/random256-Q3_K.gguf",
                            "tests/data/llamacpp/random256-IQ4_NL.gguf"};
    const slm_dtype want[7] = {SLM_DTYPE_Q4_K, SLM_DTYPE_Q6_K, SLM_DTYPE_Q5_0, SLM_DTYPE_Q5_1,
                               SLM_DTYPE_Q5_K, SLM_DTYPE_Q3_K, SLM_DTYPE_IQ4_NL};
    const double lo[7] = {0.05, 0.01, 0.03, 0.025, 0.025, 0.12, 0.06}, hi[7] = {0.09, 0.025, 0.055, 0.05, 0.05, 0.18, 0.09};
    float a[256], b[256];
    for (int f = 0; f < 7; f++) {
        slm_model *q;
        CHECK(slm_model_load_file(files[f], &q, &err) == SLM_OK, "%s", err.msg);
        if (T.failed) break;
        int checked = 0;
        for (int i = 0; i < slm_model_n_tensors(q); i++) {
            slm_tensor_info ti;
            slm_model_tensor_info(q, i, &ti);
            if (ti.n_dims != 2) continue;
            CHECK(ti.dtype == want[f], "%s: %s has dtype %d", files[f], ti.name, ti.dtype);
            const slm_tensor *tq = slm_model_find(q, ti.name), *ts = slm_model_find(src, ti.name);
            double num = 0, den = 0;
            for (int64_t r = 0; r < ti.shape[0]; r++) {
                slm_tensor_row_f32(ts, r, a);
                slm_tensor_row_f32(tq, r, b);
                for (int k = 0; k < (int)ti.shape[1]; k++) num += (double)(a[k] - b[k]) * (a[k] - b[k]), den += (double)a[k] * a[k];
            }
            double rel = sqrt(num / den);
            CHECK(rel >= lo[f] && rel <= hi[f], "%s: %s relative rms error %.4f outside [%g, %g]", files[f], ti.name, rel,
                  lo[f], hi[f]);
            /* slm's own quantizer on the same source: no worse than llama.cpp's (2% slack) */
            const slm_block_type *bt = slm_block_type_of(want[f]);
            uint8_t blk[2 * 210]; /* the largest row: 256 values (one Q6_K block, or eight of Q8_0) */
            double num2 = 0;
            int64_t same_rows = 0;
            for (int64_t r = 0; r < ti.shape[0]; r++) {
                slm_tensor_row_f32(ts, r, a);
                slm_quantize_row(want[f], a, blk, (int)ti.shape[1]);
                size_t rb = (size_t)ti.shape[1] / bt->block_size * bt->block_bytes;
                int same = 1; /* the file's bytes of row r: through the packed layout where the loader packed it */
                for (int k = 0; k < (int)(ti.shape[1] / bt->block_size); k++) {
                    uint8_t fb[210];
                    const uint8_t *fp = (const uint8_t *)tq->data + (size_t)r * rb + (size_t)k * bt->block_bytes;
                    if (tq->bq8 && r < (ti.shape[0] & ~7)) slm_bq8_get_block(want[f], tq->data, (int)ti.shape[1], r, k, fb), fp = fb;
                    same &= !memcmp(blk + (size_t)k * bt->block_bytes, fp, (size_t)bt->block_bytes);
                }
                same_rows += same;
                slm_dequantize_block_row(want[f], blk, (int)ti.shape[1], 0, b);
                for (int k = 0; k < (int)ti.shape[1]; k++) num2 += (double)(a[k] - b[k]) * (a[k] - b[k]);
            }
            (void)bt;
            double rel2 = sqrt(num2 / den);
            if (checked == 0) printf("    %s, %s: relative rms error llama.cpp %.4f, slm %.4f\n", bt->name, ti.name, rel, rel2);
            CHECK(rel2 <= rel * 1.02, "%s: %s: slm's quantizer %.4f vs llama.cpp's %.4f", bt->name, ti.name, rel2, rel);
            /* Q5_0 and Q5_1 have one rounding rule (no search): slm's quantizer writes llama.cpp's bytes */
            if (want[f] == SLM_DTYPE_Q5_0 || want[f] == SLM_DTYPE_Q5_1)
                CHECK(same_rows == ti.shape[0], "%s: %lld of %lld rows are not llama.cpp's bytes", ti.name,
                      (long long)(ti.shape[0] - same_rows), (long long)ti.shape[0]);
            checked++;
        }
        CHECK(checked == 8, "%d matrices", checked);
        /* and the model runs: logits close to the fp32 model's */
        int32_t toks[6] = {1, 5, 9, 31, 0, 17};
        float *lq = test_logits(q, toks, 6, 2, 0), *ls = test_logits(src, toks, 6, 1, 0);
        double d = 0;
        for (int i = 0; i < 6 * 32; i++) d = fmax(d, fabs((double)lq[i] - ls[i]));
        printf("    %s: max |logit diff| vs fp32 %.3e\n", files[f] + 20, d);
        CHECK(d < (f == 5 ? 2.0 : f == 0 || f == 6 ? 1.0 : f == 1 ? 0.3 : 0.5), "logits differ by %g", d);
        free(lq), free(ls);
        slm_model_free(q);
    }
    slm_model_free(src);
}

/* Hugging Face checkpoints rotate pairs (i, i + head_dim/2); Meta, llama2.c and GGUF store Q/K so
 * that pairs (2i, 2i+1) rotate. A model with its Q/K rows permuted to the half-split order and
 * rope_half = 1 must give the same logits as the original, and the writers must store it back in
 * the interleaved order. */
void rope_half_split_matches_interleaved(void) {
    slm_config c = {96, 256, 2, 1, 6, 2, 16, 300, 32, 0, 1e-5f, 10000.0f, 0};
    slm_model *m, *h;
    slm_error err;
    CHECK(slm_model_init_random(&c, 21, 0.1f, &m, &err) == SLM_OK);
    slm_config hc = c;
    hc.rope_half = 1;
    CHECK(slm_model_alloc(&hc, "half", &h, &err) == SLM_OK);
    float *perm = malloc(sizeof(float) * 2 * (96 * 96 + 32 * 96));
    float *next = perm;
    for (int i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        const void *data = t->data;
        size_t n = strlen(t->name);
        if (n > 14 && (!strcmp(t->name + n - 14, ".attn_q.weight") || !strcmp(t->name + n - 14, ".attn_k.weight"))) {
            int rows = (int)t->shape[0], cols = (int)t->shape[1], hd = 16;
            for (int r = 0; r < rows; r++) { /* half-split row (head, j) holds interleaved row (head, 2j or 2(j-hd/2)+1) */
                int head = r / hd, j = r % hd, src = head * hd + (j < hd / 2 ? 2 * j : 2 * (j - hd / 2) + 1);
                memcpy(next + (size_t)r * cols, (const float *)t->data + (size_t)src * cols, sizeof(float) * (size_t)cols);
            }
            data = next;
            next += (size_t)rows * cols;
        }
        slm_model_add(h, t->name, t->dtype, t->n_dims == 2 ? t->shape[0] : 0, t->n_dims == 2 ? t->shape[1] : t->shape[0],
                      data, NULL, 0);
    }
    CHECK(slm_model_bind(h, &err) == SLM_OK, "%s", err.msg);
    int32_t toks[9] = {1, 17, 299, 4, 4, 100, 250, 3, 8};
    float *a = test_logits(m, toks, 9, 1, 0), *b = test_logits(h, toks, 9, 2, 0);
    double d = 0;
    for (int i = 0; i < 9 * 300; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    CHECK(d <= 1e-5, "half-split vs interleaved: %g", d);
    /* written out, the half model becomes an ordinary interleaved file with the same logits */
    const slm_save_format f[2] = {SLM_SAVE_GGUF_F32, SLM_SAVE_LLAMA2C_V1};
    for (int k = 0; k < 2; k++) {
        slm_model *w;
        CHECK(slm_model_save(h, tmp_path("half.out"), f[k], 0, &err) == SLM_OK, "%s", err.msg);
        CHECK(slm_model_load_file(tmp_path("half.out"), &w, &err) == SLM_OK, "%s", err.msg);
        CHECK(!slm_model_config(w)->rope_half);
        float *l = test_logits(w, toks, 9, 1, 0);
        double dw = 0;
        for (int i = 0; i < 9 * 300; i++) dw = fmax(dw, fabs((double)a[i] - l[i]));
        CHECK(dw <= 1e-5, "written as %s: %g", k ? "llama2.c v1" : "GGUF", dw);
        free(l);
        slm_model_free(w);
    }
    free(a), free(b), free(perm);
    slm_model_free(h);
    slm_model_free(m);
}

/* The dequant_row entry of every table against the scalar reference: the same bytes, for each
 * storage type, on rows that are not multiples of the vector width (F16, BF16) and several rows. */
void kernels_dequant_row_bit_exact(void) {
    const slm_kernels *tabs[4];
    int nt = slm_kernels_available(tabs, 4);
    const slm_dtype types[] = {SLM_DTYPE_F32,  SLM_DTYPE_F16,    SLM_DTYPE_BF16, SLM_DTYPE_Q8_0, SLM_DTYPE_Q4_0,
                               SLM_DTYPE_Q4_1, SLM_DTYPE_Q5_0,   SLM_DTYPE_Q5_1, SLM_DTYPE_IQ4_NL, SLM_DTYPE_Q3_K,
                               SLM_DTYPE_Q4_K, SLM_DTYPE_Q5_K,   SLM_DTYPE_Q6_K};
    enum { ROWS = 3, MAXN = 768 };
    static float x[ROWS * MAXN], ref[MAXN], got[MAXN + 1];
    static uint8_t w[ROWS * MAXN * 4];
    uint64_t r = 5;
    for (int i = 0; i < ROWS * MAXN; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = ((float)((r >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f) * (1.0f + (float)(i % 13));
    }
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        slm_dtype t = types[ti];
        int block = t >= SLM_DTYPE_Q8_0 ? slm_block_type_of(t)->block_size : 1;
        int n = block == 1 ? 37 : block == 32 ? 96 : 768;
        for (int row = 0; row < ROWS; row++) { /* the matrix in its storage type */
            const float *xr = x + (size_t)row * n;
            if (t == SLM_DTYPE_F32) memcpy((float *)w + (size_t)row * n, xr, sizeof(float) * n);
            else if (t == SLM_DTYPE_F16 || t == SLM_DTYPE_BF16) {
                for (int i = 0; i < n; i++)
                    ((uint16_t *)w)[(size_t)row * n + i] = t == SLM_DTYPE_F16 ? slm_f32_to_f16(xr[i]) : slm_f32_to_bf16(xr[i]);
                if (row == 1) { /* a hostile file's values: signalling and quiet NaN, infinities, subnormals */
                    const uint16_t odd[2][6] = {{0x7c01, 0xfe00, 0x7c00, 0xfc00, 0x0001, 0x83ff},
                                                {0x7f81, 0xffc0, 0x7f80, 0xff80, 0x0001, 0x807f}};
                    for (int i = 0; i < 6; i++) ((uint16_t *)w)[(size_t)row * n + 3 * i] = odd[t == SLM_DTYPE_BF16][i];
                }
            }
            else {
                const slm_block_type *bt = slm_block_type_of(t);
                slm_quantize_row(t, xr, w + (size_t)row * (n / bt->block_size) * bt->block_bytes, n);
            }
        }
        for (int row = 0; row < ROWS; row++) {
            slm_dequant_row_scalar((int)t, ref, w, n, row);
            for (int k = 0; k < nt; k++) {
                memset(got, 0xff, sizeof got);
                tabs[k]->dequant_row((int)t, got, w, n, row);
                CHECK(!memcmp(got, ref, sizeof(float) * n) && got[n] != got[n], "%s, type %d, row %d: not the scalar bytes",
                      tabs[k]->name, (int)t, row);
            }
        }
    }
}

/* Rows packed in groups of eight (slm_bq8_pack): the layout keeps every block's bytes (read back
 * block by block and row by row through every table's dequant_row), and every table's matvec_bq8
 * gives the bytes of the row-major scalar product, for row counts with and without a partial last
 * group and ranges that start and end inside groups. */
void kernels_matvec_bq8_bit_exact(void) {
    const slm_kernels *tabs[4];
    int nt = slm_kernels_available(tabs, 4);
    const slm_dtype types[] = {SLM_DTYPE_Q8_0, SLM_DTYPE_Q4_0, SLM_DTYPE_Q4_1, SLM_DTYPE_Q5_0,
                               SLM_DTYPE_Q5_1, SLM_DTYPE_IQ4_NL, SLM_DTYPE_Q4_K, SLM_DTYPE_Q5_K, SLM_DTYPE_Q6_K};
    const int sizes[] = {32, 64, 96, 128, 160, 288, 544, 256, 512}; /* K-quants: the multiples of 256 */
    const int row_counts[] = {8, 13, 24, 5, 31};
    enum { MAXR = 31, MAXN = 544 };
    static float w[MAXR * MAXN], x[MAXN], xh[MAXN], a[MAXN], b[MAXN], ref[MAXR], got[MAXR];
    static uint8_t wq[MAXR * MAXN / 32 * 34], wp[MAXR * MAXN / 32 * 34], blk[210];
    static int8_t qx[MAXN];
    static float xd[MAXN / 32];
    static int32_t xsum[MAXN / 32];
    uint64_t r = 99;
    for (int i = 0; i < MAXR * MAXN; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        w[i] = ((float)((r >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f) * (1.0f + (float)(i % 7));
    }
    for (int i = 0; i < MAXN; i++) x[i] = cosf((float)i * 0.29f) * (i % 11 == 0 ? 3.0f : 1.0f);
    for (int i = 96; i < 128; i++) x[i] = 0.0f; /* a zero block */
    /* a hostile model's activations, for n = 288 (NaN and infinity make every row's result NaN there) */
    memcpy(xh, x, sizeof x);
    xh[200] = NAN, xh[230] = INFINITY;
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
            for (size_t ri = 0; ri < sizeof row_counts / sizeof *row_counts; ri++) {
                slm_dtype t = types[ti];
                int n = sizes[si], rows = row_counts[ri], bs = slm_block_type_of(t)->block_size;
                if (n % bs) continue;
                int nb = n / bs, bb = slm_block_type_of(t)->block_bytes;
                size_t rb = (size_t)nb * bb;
                for (int row = 0; row < rows; row++) slm_quantize_row(t, w + (size_t)row * n, wq + row * rb, n);
                /* a hostile Q8_0 quant: -128 */
                if (t == SLM_DTYPE_Q8_0) wq[2] = 0x80;
                /* K-quants: random scales (every bit pattern is valid: Q4_K's 12 bytes of 6-bit scales and
                 * mins (and Q5_K's), Q6_K's 16 signed bytes, -128 included) */
                for (int sb = 0; (t == SLM_DTYPE_Q4_K || t == SLM_DTYPE_Q5_K) && sb < rows * nb; sb++)
                    for (int i = 4; i < 16; i++) r = r * 6364136223846793005ULL + 1442695040888963407ULL, wq[sb * bb + i] = (uint8_t)(r >> 56);
                for (int sb = 0; t == SLM_DTYPE_Q6_K && sb < rows * nb; sb++)
                    for (int i = 192; i < 208; i++) r = r * 6364136223846793005ULL + 1442695040888963407ULL, wq[sb * 210 + i] = (uint8_t)(r >> 56);
                memset(wp, 0xA5, sizeof wp);
                slm_bq8_pack(t, wp, wq, rows, n);
                int same = 1;
                for (int row = 0; row < (rows & ~7); row++)
                    for (int bi = 0; bi < nb; bi++) {
                        slm_bq8_get_block(t, wp, n, row, bi, blk);
                        same &= !memcmp(blk, wq + row * rb + (size_t)bi * bb, (size_t)bb);
                    }
                same &= !memcmp(wp + (size_t)(rows & ~7) * rb, wq + (size_t)(rows & ~7) * rb, (size_t)(rows & 7) * rb);
                CHECK(same, "type %d, n %d, rows %d: packed blocks differ from the row-major ones", (int)t, n, rows);
                slm_quantize_x32(qx, xd, xsum, n == 288 ? xh : x, n);
                slm_matvec_bq_scalar((int)t, ref, qx, xd, xsum, wq, n, 0, rows);
                for (int k = 0; k < nt; k++) {
                    int rows_ok = 1;
                    for (int row = 0; row < rows; row++) {
                        tabs[k]->dequant_row((int)t, a, wq, n, row);
                        slm_bq8_dequant_row(t, tabs[k]->dequant_row, b, wp, n, rows, row);
                        rows_ok &= !memcmp(a, b, sizeof(float) * (size_t)n);
                    }
                    CHECK(rows_ok, "%s, type %d, n %d, rows %d: packed rows dequantize differently", tabs[k]->name,
                          (int)t, n, rows);
                    const int cuts[][2] = {{0, rows}, {0, 3}, {3, rows > 11 ? 11 : rows}, {rows > 11 ? 11 : rows, rows}};
                    memset(got, 0, sizeof got);
                    for (int c = 0; c < 4; c++)
                        if (cuts[c][0] < cuts[c][1] && (c == 0 || rows > 3))
                            tabs[k]->matvec_bq8((int)t, got, qx, xd, xsum, wp, n, rows, cuts[c][0], cuts[c][1]);
                    CHECK(!memcmp(got, ref, sizeof(float) * (size_t)rows), "%s, type %d, n %d, rows %d: not the scalar bytes",
                          tabs[k]->name, (int)t, n, rows);
                    memset(got, 0, sizeof got);
                    for (int c = 1; c < 4; c++)
                        if (cuts[c][0] < cuts[c][1] && rows > 3)
                            tabs[k]->matvec_bq8((int)t, got, qx, xd, xsum, wp, n, rows, cuts[c][0], cuts[c][1]);
                    if (rows > 3)
                        CHECK(!memcmp(got, ref, sizeof(float) * (size_t)rows), "%s, type %d, n %d, rows %d: split ranges differ",
                              tabs[k]->name, (int)t, n, rows);
                }
            }
}

/* Products of a batch of tokens with packed rows in integers (matmat_bq8, where a table has one):
 * every token's result is the bytes of that table's matvec_bq8 and of the scalar reference, for
 * token counts around the kernels' tiles (four tokens; 32 for Q4_K and Q6_K), odd and even group
 * ranges, block counts that are not multiples of four, a zero block, Q8_0's -128 and a token with
 * NaN and infinity. */
void kernels_matmat_bq8_same_bytes_as_matvec(void) {
    const slm_kernels *tabs[4];
    int nt = slm_kernels_available(tabs, 4), tried = 0;
    const slm_dtype types[] = {SLM_DTYPE_Q8_0, SLM_DTYPE_Q4_0, SLM_DTYPE_Q4_1, SLM_DTYPE_Q5_0,
                               SLM_DTYPE_Q5_1, SLM_DTYPE_IQ4_NL, SLM_DTYPE_Q4_K, SLM_DTYPE_Q5_K, SLM_DTYPE_Q6_K};
    const int sizes[] = {32, 96, 160, 288, 512};
    const int ms[] = {1, 3, 4, 5, 9, 33};
    enum { MAXR = 40, MAXN = 512, MAXM = 33 };
    static float w[MAXR * MAXN], x[MAXM * MAXN], ref[MAXM][MAXR], got[MAXM][MAXR + 3];
    static uint8_t wq[MAXR * MAXN / 32 * 34], wp[MAXR * MAXN / 32 * 34];
    static int8_t qx[MAXM * MAXN];
    static float xd[MAXM * MAXN / 32];
    static int32_t xsum[MAXM * MAXN / 32];
    uint64_t r = 7;
    for (int i = 0; i < MAXR * MAXN; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        w[i] = ((float)((r >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f) * (1.0f + (float)(i % 7));
    }
    for (int i = 0; i < MAXM * MAXN; i++) x[i] = cosf((float)i * 0.37f) * (i % 13 == 0 ? 4.0f : 1.0f);
    for (int i = 32; i < 64; i++) x[i] = 0.0f; /* a zero block */
    x[2 * MAXN + 40] = NAN, x[2 * MAXN + 70] = INFINITY; /* token 2 (of inputs MAXN apart): NaN results */
    for (int k = 0; k < nt; k++) {
        const slm_kernels *kt = tabs[k];
        if (!kt->matmat_bq8) continue;
        tried++;
        for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
            for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
                slm_dtype t = types[ti];
                int n = sizes[si], nb = n / 32, rows = MAXR;
                if (!(kt->matmat_bq8_types >> t & 1) || n % slm_block_type_of(t)->block_size) continue;
                size_t rb = (size_t)(n / slm_block_type_of(t)->block_size) * slm_block_type_of(t)->block_bytes;
                for (int row = 0; row < rows; row++) slm_quantize_row(t, w + (size_t)row * n, wq + row * rb, n);
                if (t == SLM_DTYPE_Q8_0) wq[2] = 0x80;
                slm_bq8_pack(t, wp, wq, rows, n);
                for (int tok = 0; tok < MAXM; tok++)
                    slm_quantize_x32(qx + (size_t)tok * n, xd + (size_t)tok * nb, xsum + (size_t)tok * nb,
                                     x + (size_t)tok * MAXN, n);
                for (int tok = 0; tok < MAXM; tok++) {
                    slm_matvec_bq_scalar((int)t, ref[tok], qx + (size_t)tok * n, xd + (size_t)tok * nb,
                                         xsum + (size_t)tok * nb, wq, n, 0, rows);
                    float one[MAXR];
                    kt->matvec_bq8((int)t, one, qx + (size_t)tok * n, xd + (size_t)tok * nb, xsum + (size_t)tok * nb, wp,
                                   n, rows, 0, rows);
                    CHECK(!memcmp(one, ref[tok], sizeof one), "%s, type %d, n %d: matvec_bq8 is not the scalar bytes",
                          kt->name, (int)t, n);
                }
                const int granges[][2] = {{0, 5}, {0, 2}, {1, 4}, {3, 4}};
                for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
                    for (int gi = 0; gi < 4; gi++) {
                        int m = ms[mi], g0 = granges[gi][0], g1 = granges[gi][1];
                        memset(got, 0x7f, sizeof got);
                        kt->matmat_bq8((int)t, &got[0][0], MAXR + 3, qx, xd, xsum, m, wp, n, g0, g1);
                        int same = 1, kept = 1;
                        for (int tok = 0; tok < MAXM; tok++)
                            for (int row = 0; row < MAXR + 3; row++) {
                                int in = tok < m && row >= 8 * g0 && row < 8 * g1;
                                if (in) same &= !memcmp(&got[tok][row], &ref[tok][row], sizeof(float));
                                else kept &= got[tok][row] == got[MAXM - 1][MAXR + 2];
                            }
                        CHECK(same && kept, "%s, type %d, n %d, %d tokens, groups [%d, %d): %s", kt->name, (int)t, n, m,
                              g0, g1, same ? "wrote outside its rows" : "not the bytes of matvec_bq8");
                    }
            }
    }
    if (!tried) SKIP("no table here has matmat_bq8 (the avx512 table has; make avx512-emu-test runs it)");
}

/* Integer block products (Q8_0 / Q4_0 / Q4_1 / Q5_0 / K-quant rows against int8 activations): every table gives the
 * scalar reference's bytes, over row ranges and block counts that are not multiples of four; and
 * the reference agrees with the float product of the dequantized rows and activations. */
void kernels_matvec_bq_bit_exact(void) {
    const slm_kernels *tabs[4];
    int nt = slm_kernels_available(tabs, 4);
    const slm_dtype types[] = {SLM_DTYPE_Q8_0, SLM_DTYPE_Q4_0,   SLM_DTYPE_Q4_1, SLM_DTYPE_Q5_0, SLM_DTYPE_Q5_1,
                               SLM_DTYPE_IQ4_NL, SLM_DTYPE_Q3_K, SLM_DTYPE_Q4_K, SLM_DTYPE_Q5_K, SLM_DTYPE_Q6_K};
    /* 1 or 2 blocks; then 3, 1, 2, 3, 0, 1 after groups of four (K-quants: the multiples of 256, one
     * super-block, and three whose last two hold NaN and infinities) */
    const int sizes[] = {32, 64, 96, 160, 192, 224, 256, 800, 768};
    enum { ROWS = 7, MAXN = 800 };
    static float w[ROWS * MAXN], x[MAXN], wd[MAXN], ref[ROWS], got[ROWS];
    static uint8_t wq[ROWS * MAXN / 32 * 34];
    static int8_t qx[MAXN];
    static float xd[MAXN / 32];
    static int32_t xsum[MAXN / 32];
    uint64_t r = 17;
    for (int i = 0; i < ROWS * MAXN; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        w[i] = ((float)((r >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f) * (1.0f + (float)(i % 5));
    }
    for (int i = 0; i < MAXN; i++) x[i] = sinf((float)i * 0.37f) * (i % 9 == 0 ? 4.0f : 1.0f);
    x[5] = 0.0f;
    for (int i = 160; i < 192; i++) x[i] = 0.0f; /* an all-zero block: scale 0 */
    for (int i = 192; i < 224; i++) x[i] = (float)(i - 208) * 1e-44f; /* subnormals: the scale underflows, 1/scale is huge */
    /* a block whose values round at exact ties (x / d = k + 0.5 with d = 127/127 = 1) */
    for (int i = 64; i < 96; i++) x[i] = i == 64 ? 127.0f : (float)(i % 2 ? 1 : -1) * ((float)(i - 64) + 0.5f);
    /* activations of a hostile model: NaN and infinity (blocks after the first 256 values) */
    x[300] = NAN, x[333] = INFINITY, x[334] = -3.0f, x[400] = -INFINITY, x[401] = NAN;
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            slm_dtype t = types[ti];
            int n = sizes[si];
            const slm_block_type *bt = slm_block_type_of(t);
            if (n % bt->block_size) continue;
            size_t rb = (size_t)(n / bt->block_size) * bt->block_bytes;
            for (int row = 0; row < ROWS; row++) slm_quantize_row(t, w + (size_t)row * n, wq + row * rb, n);
            slm_quantize_x32(qx, xd, xsum, x, n);
            for (int k = 0; k < nt; k++) { /* every table quantizes the activations to the same bytes */
                static int8_t q2[MAXN];
                static float d2[MAXN / 32];
                static int32_t s2[MAXN / 32];
                tabs[k]->quantize_x32(q2, d2, s2, x, n);
                CHECK(!memcmp(q2, qx, (size_t)n) && !memcmp(d2, xd, sizeof(float) * (n / 32)) &&
                          !memcmp(s2, xsum, sizeof(int32_t) * (n / 32)), "%s, n %d: quantize_x32 differs", tabs[k]->name, n);
            }
            slm_matvec_bq_scalar((int)t, ref, qx, xd, xsum, wq, n, 0, ROWS);
            double worst = 0, scale = 0;
            for (int row = 0; row < ROWS && n <= 256; row++) { /* against float arithmetic on the same quantized values */
                slm_dequantize_block_row(t, wq, n, row, wd);
                double s = 0;
                for (int i = 0; i < n; i++) s += (double)wd[i] * ((double)qx[i] * xd[i / 32]);
                worst = fmax(worst, fabs(s - ref[row]));
                scale = fmax(scale, fabs(s));
            }
            CHECK(worst <= 1e-5 * scale + 1e-6, "type %d, n %d: reference off by %g (scale %g)", (int)t, n, worst, scale);
            for (int k = 0; k < nt; k++) {
                memset(got, 0, sizeof got);
                tabs[k]->matvec_bq((int)t, got, qx, xd, xsum, wq, n, 0, 3);
                tabs[k]->matvec_bq((int)t, got, qx, xd, xsum, wq, n, 3, ROWS);
                CHECK(!memcmp(got, ref, sizeof ref), "%s, type %d, n %d: not the scalar bytes", tabs[k]->name, (int)t, n);
            }
        }
}
