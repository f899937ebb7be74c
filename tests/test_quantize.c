/* test_quantize.c — slm quantize: which type each tensor gets, the files it writes, and the
 * quality gate's figures on the bundled model. */
#include <math.h>

#include "../src/kernels/kernels.h"
#include "../src/kernels/quant.h"
#include "../src/model/model.h"
#include "test.h"
#include "tests.h"

/* Writes `m` with p, reads it back and checks every tensor has the type the plan promised. */
static void check_written_types(const slm_model *m, const slm_quantize_params *p, const char *label) {
    slm_error err;
    slm_model *q = NULL;
    CHECK(slm_model_quantize(m, NULL, tmp_path("plan.gguf"), p, &err) == SLM_OK, "%s: %s", label, err.msg);
    CHECK(slm_model_load_file(tmp_path("plan.gguf"), &q, &err) == SLM_OK, "%s: %s", label, err.msg);
    if (!q) return;
    for (int i = 0; i < slm_model_n_tensors(m); i++) {
        slm_tensor_info a, b;
        slm_model_tensor_info(m, i, &a);
        const slm_tensor *t = slm_model_find(q, a.name);
        CHECK(t != NULL, "%s: %s missing", label, a.name);
        if (!t) continue;
        slm_model_tensor_info(q, (int)(t - q->tensors), &b);
        CHECK(b.dtype == slm_quantize_tensor_dtype(m, i, p), "%s: %s written as %d, planned %d", label, a.name, b.dtype,
              slm_quantize_tensor_dtype(m, i, p));
    }
    slm_model_free(q);
}

static slm_dtype planned(const slm_model *m, const char *name, const slm_quantize_params *p) {
    for (int i = 0; i < slm_model_n_tensors(m); i++) {
        slm_tensor_info ti;
        slm_model_tensor_info(m, i, &ti);
        if (!strcmp(ti.name, name)) return slm_quantize_tensor_dtype(m, i, p);
    }
    return (slm_dtype)-1;
}

void quantize_plan_follows_the_rules(void) {
    slm_error err;
    /* dim 256, hidden 768: every matrix row is whole 256-blocks; tied classifier */
    slm_config c = {256, 768, 1, 1, 4, 2, 64, 300, 32, 1, 1e-5f, 10000.0f, 0};
    slm_model *m;
    CHECK(slm_model_init_random(&c, 7, 0.05f, &m, &err) == SLM_OK, "%s", err.msg);
    slm_quantize_params p = {SLM_DTYPE_Q4_K, -1, 0};
    CHECK(planned(m, "token_embd.weight", &p) == SLM_DTYPE_Q8_0, "a tied embedding keeps 8 bits");
    CHECK(planned(m, "blk.0.ffn_down.weight", &p) == SLM_DTYPE_Q4_K);
    CHECK(planned(m, "blk.0.attn_norm.weight", &p) == SLM_DTYPE_F32, "norms stay f32");
    check_written_types(m, &p, "q4_k");
    p.embed_type = SLM_DTYPE_Q4_K; /* asked for: honoured */
    CHECK(planned(m, "token_embd.weight", &p) == SLM_DTYPE_Q4_K);
    check_written_types(m, &p, "q4_k, 4-bit embedding");
    p = (slm_quantize_params){SLM_DTYPE_Q6_K, -1, 0};
    CHECK(planned(m, "token_embd.weight", &p) == SLM_DTYPE_Q8_0, "q6_k has fewer than 8 bits");
    check_written_types(m, &p, "q6_k");
    p = (slm_quantize_params){SLM_DTYPE_F16, -1, 0};
    CHECK(planned(m, "token_embd.weight", &p) == SLM_DTYPE_F16, "f16 is already >= 8 bits");
    slm_model_free(m);
    /* dim 64, hidden 172 (stories260K's shape), untied: no row is a whole 256-block; 172 is not 32s */
    slm_config s = {64, 172, 1, 1, 8, 4, 8, 512, 64, 0, 1e-5f, 10000.0f, 0};
    CHECK(slm_model_init_random(&s, 8, 0.05f, &m, &err) == SLM_OK, "%s", err.msg);
    p = (slm_quantize_params){SLM_DTYPE_Q4_K, -1, 0};
    CHECK(planned(m, "blk.0.attn_q.weight", &p) == SLM_DTYPE_Q4_1, "q4_k falls back to q4_1");
    CHECK(planned(m, "blk.0.ffn_down.weight", &p) == SLM_DTYPE_F16, "rows of 172 fall back to f16");
    CHECK(planned(m, "token_embd.weight", &p) == SLM_DTYPE_Q4_1, "an untied embedding follows the type");
    check_written_types(m, &p, "small q4_k");
    p.type = SLM_DTYPE_Q6_K;
    CHECK(planned(m, "blk.0.attn_q.weight", &p) == SLM_DTYPE_Q8_0, "q6_k falls back to q8_0");
    check_written_types(m, &p, "small q6_k");
    slm_model_free(m);
}

/* The figures of one gate run: perplexities and mean KL. */
static int gate_figures(const char *out, double *ppl_in, double *ppl_out, double *kl, double *agree) {
    const char *p = out ? strstr(out, "perplexity") : NULL, *k = out ? strstr(out, "mean KL(in||out)") : NULL;
    const char *a = out ? strstr(out, "top-1 agreement") : NULL;
    return p && k && a && sscanf(p, "perplexity %lf (input) -> %lf", ppl_in, ppl_out) == 2 &&
           sscanf(k, "mean KL(in||out) %lf", kl) == 1 && sscanf(a, "top-1 agreement %lf", agree) == 1;
}

void quantize_cli_measures_the_loss(void) {
    const char *model = "models/tinystories-slm.gguf";
    FILE *mf = fopen(model, "rb");
    if (!mf) SKIP("models/tinystories-slm.gguf is missing");
    fclose(mf);
    FILE *f = fopen(tmp_path("eval.txt"), "w");
    fputs("Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her "
          "dog, Max. One day, Lily saw a big red ball under a tree. She ran to the ball and kicked it very hard. "
          "The ball flew high into the sky and landed in the pond. Lily was sad, but Max jumped into the water and "
          "brought the ball back. Lily hugged Max and said, \"Thank you, Max! You are the best dog ever.\"\n",
          f);
    fclose(f);
    const char *types[4] = {"q8_0", "q6_K", "q4_K", "q4_0"}; /* (names in any case, as llama.cpp spells them) */
    double kl[4] = {0}, ppl_in = 0, ppl_out = 0, agree = 0;
    char args[2048], *out = NULL, *errs = NULL;
    for (int i = 0; i < 4; i++) {
        snprintf(args, sizeof args, "quantize %s %s --type %s --eval %s -t 2", model, tmp_path("q.gguf"), types[i],
                 tmp_path("eval.txt"));
        int rc = run_slm(args, &out, &errs);
        CHECK(rc == 0, "%s: rc %d: %s", types[i], rc, errs ? errs : "");
        CHECK(gate_figures(out, &ppl_in, &ppl_out, &kl[i], &agree), "%s: %s", types[i], out ? out : "");
        CHECK(out && strstr(out, "token_embd.weight") && (i == 0 || strstr(out, "(tied embedding)")), "%s: the table",
              types[i]);
        CHECK(ppl_in > 1 && ppl_in < 30 && fabs(ppl_out / ppl_in - 1) < 0.2 && agree > 80, "%s: ppl %g -> %g, top-1 %g%%",
              types[i], ppl_in, ppl_out, agree);
        printf("    bundled model %s: perplexity %.3f -> %.3f, mean KL %.5f, top-1 %.1f%%\n", types[i], ppl_in, ppl_out,
               kl[i], agree);
        free(out), free(errs);
        out = errs = NULL;
        snprintf(args, sizeof args, "generate -m %s -p 'Once upon a time' -n 20 --temp 0", tmp_path("q.gguf"));
        CHECK(run_slm(args, &out, NULL) == 0 && out && strlen(out) > 40, "%s: generate", types[i]);
        free(out);
        out = NULL;
    }
    /* more bits, less divergence; 8 bits is nearly lossless */
    CHECK(kl[0] < kl[2] && kl[1] < kl[2] && kl[0] < kl[3] && kl[0] < 1e-3, "KL q8_0 %g q6_k %g q4_k %g q4_0 %g", kl[0], kl[1],
          kl[2], kl[3]);
    /* q8_0 to a llama2.c version 2 file */
    snprintf(args, sizeof args, "quantize %s %s --type q8_0 -q", model, tmp_path("q80.bin"));
    CHECK(run_slm(args, &out, &errs) == 0 && out && strstr(out, "quality gate: not run"), "%s", errs ? errs : "");
    free(out), free(errs);
    out = errs = NULL;
    snprintf(args, sizeof args, "info %s", tmp_path("q80.bin"));
    CHECK(run_slm(args, &out, NULL) == 0 && out && strstr(out, "llama2.c v2"), "%s", out ? out : "");
    free(out);
}

void quantize_cli_rejects_bad_input(void) {
    struct {
        const char *args;
        int rc;
        const char *expect;
    } cases[] = {
        {"quantize models/tinystories-slm.gguf OUT.gguf", 2, "need IN, OUT and --type"},
        {"quantize models/tinystories-slm.gguf OUT.gguf --type q2_k", 2, "unknown type 'q2_k'"},
        {"quantize models/tinystories-slm.gguf OUT.gguf --type q4_k --embed-type q9", 2, "unknown --embed-type 'q9'"},
        {"quantize models/tinystories-slm.gguf OUT.bin --type q4_k", 2, "only GGUF"},
        {"quantize models/tinystories-slm.gguf OUT.gguf --type q4_k --eval-tokens -3", 2, "--eval-tokens"},
        {"quantize models/tinystories-slm.gguf OUT.gguf --type q4_k --bogus", 2, "--bogus"},
        {"quantize /nonexistent/m.gguf OUT.gguf --type q4_k", 1, "/nonexistent/m.gguf"},
        {"quantize models/tinystories-slm.gguf OUT.gguf --type q4_k --eval /nonexistent/t.txt", 1, "/nonexistent/t.txt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[1024], *errs = NULL;
        char *o = strstr(cases[i].args, "OUT");
        snprintf(args, sizeof args, "%.*s%s%s", (int)(o - cases[i].args), cases[i].args, tmp_path("bad"), o + 3);
        int rc = run_slm(args, NULL, &errs);
        CHECK(rc == cases[i].rc && errs && strstr(errs, cases[i].expect), "'%s': rc %d, %s", cases[i].args, rc,
              errs ? errs : "");
        free(errs);
    }
}

/* Prompts evaluated in batches (matrix-matrix products over weights expanded to fp32) against token
 * by token (matrix-vector products) on the fp32 copy of the same quantized weights: the same logits
 * within float rounding, for every weight type, both kernel tables, a GQA model with an untied
 * classifier and a block-sharing one; batches give the same bytes for 1 and 2 threads. Token by
 * token on the quantized file itself, Q8_0 / Q4_0 / Q4_1 multiply 8-bit activations: near, not equal.
 * Where the table multiplies batches of packed rows in integers too (matmat_bq8: AVX-512, the
 * 32-value block types), a model whose every block-type matrix goes that way is held to the token-by-token
 * logits of the quantized file (within 3%: the same products, but an activation can round to the
 * next int8 step when an earlier float step differs in its last bit; kernels_matmat_bq8_same_bytes_
 * as_matvec holds the products to the bytes); one with some matrices each way to the fp32 copy as
 * loosely as int8 activations are. */
static double max_rel_diff(const float *a, const float *b, size_t n) {
    double scale = 0, d = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(a[i])), d = fmax(d, fabs((double)a[i] - b[i]));
    return d / scale;
}

void prefill_batches_match_token_by_token(void) {
    slm_error err;
    slm_config cfgs[2] = {{256, 768, 2, 1, 4, 2, 64, 300, 64, 0, 1e-5f, 10000.0f, 0},
                          {64, 172, 2, 2, 8, 4, 8, 200, 64, 1, 1e-5f, 10000.0f, 0}};
    const slm_dtype types[] = {SLM_DTYPE_F32, SLM_DTYPE_F16, SLM_DTYPE_BF16, SLM_DTYPE_Q8_0, SLM_DTYPE_Q4_0,
                               SLM_DTYPE_Q4_1, SLM_DTYPE_Q5_0, SLM_DTYPE_Q5_1, SLM_DTYPE_IQ4_NL, SLM_DTYPE_Q3_K,
                               SLM_DTYPE_Q4_K, SLM_DTYPE_Q5_K, SLM_DTYPE_Q6_K};
    enum { N = 45 };
    int32_t toks[N];
    for (int i = 0; i < N; i++) toks[i] = (i * 37 + 5) % 200;
    for (int ci = 0; ci < 2; ci++) {
        slm_model *m;
        CHECK(slm_model_init_random(&cfgs[ci], 31 + ci, 0.1f, &m, &err) == SLM_OK, "%s", err.msg);
        if (!m) continue;
        for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
            slm_quantize_params qp = {types[ti], -1, 0}, fp = {SLM_DTYPE_F32, SLM_DTYPE_F32, 0};
            slm_model *q = NULL, *qf = NULL;
            CHECK(slm_model_quantize(m, NULL, tmp_path("prefill.gguf"), &qp, &err) == SLM_OK &&
                      slm_model_load_file(tmp_path("prefill.gguf"), &q, &err) == SLM_OK &&
                      slm_model_quantize(q, NULL, tmp_path("prefill-f32.gguf"), &fp, &err) == SLM_OK &&
                      slm_model_load_file(tmp_path("prefill-f32.gguf"), &qf, &err) == SLM_OK,
                  "%s", err.msg);
            if (!q || !qf) continue;
            size_t nv = (size_t)N * cfgs[ci].vocab_size;
            for (int simd = 0; simd < 2; simd++) {
                float *ref = test_logits_batch(qf, toks, N, 1, !simd, 1), *one = test_logits_batch(q, toks, N, 1, !simd, 1);
                float *b7 = test_logits_batch(q, toks, N, 1, !simd, 7), *b7t2 = test_logits_batch(q, toks, N, 2, !simd, 7);
                float *bd = test_logits_batch(q, toks, N, 2, !simd, 0);
                CHECK(ref && one && b7 && b7t2 && bd, "eval failed");
                if (ref && one && b7 && b7t2 && bd) {
                    double d7 = max_rel_diff(ref, b7, nv), dd = max_rel_diff(ref, bd, nv), d1 = max_rel_diff(ref, one, nv);
                    int int8_acts = 0; /* some matrix multiplies int8 activations: every ggml block type does */
                    for (int k = 0; k < slm_model_n_tensors(q); k++) {
                        slm_tensor_info info;
                        slm_model_tensor_info(q, k, &info);
                        int8_acts |= slm_block_type_of(info.dtype) != NULL; /* Q6_K, Q5_0, Q5_1, Q5_K, Q3_K, IQ4_NL */
                    }
                    const slm_kernels *kt = slm_kernels_select(simd);
                    int all_int = 1, any_int = 0; /* block-type matrices the table multiplies a batch of in integers */
                    for (int k = 0; k < slm_model_n_tensors(q); k++) {
                        slm_tensor_info info;
                        slm_model_tensor_info(q, k, &info);
                        if (!slm_block_type_of(info.dtype) || info.n_dims != 2) continue;
                        if (!cfgs[ci].tied_classifier && !strcmp(info.name, "token_embd.weight")) continue; /* looked up */
                        int i8 = kt->matmat_bq8 && (kt->matmat_bq8_types >> info.dtype & 1);
                        all_int &= i8, any_int |= i8;
                    }
                    /* BF16 matrices on tables that multiply them in bf16: activations rounded to bf16, decode
                     * and batches alike */
                    int bf16_acts = kt->matmat_bf16 && types[ti] == SLM_DTYPE_BF16;
                    if (bf16_acts) any_int = all_int = int8_acts = 1;
                    if (any_int && all_int) d7 = max_rel_diff(one, b7, nv), dd = max_rel_diff(one, bd, nv);
                    /* int8 (or bf16) activations: a last-bit difference before rounding (the batch's float steps
                     * are not token by token's) can move an activation by one step, about 1e-3 of the logits */
                    double tol = any_int ? (all_int ? 0.03 : 0.1) : 1e-4;
                    CHECK(d7 <= tol && dd <= tol, "config %d, type %d, %s: batched logits differ by %g / %g of the "
                          "largest (from the %s)", ci, (int)types[ti], simd ? "simd" : "scalar", d7, dd,
                          any_int && all_int ? "token-by-token logits" : "fp32 copy");
                    CHECK(d1 <= (int8_acts ? 0.1 : 1e-4), "config %d, type %d, %s: token by token differs by %g of the "
                          "largest", ci, (int)types[ti], simd ? "simd" : "scalar", d1);
                    CHECK(!memcmp(b7, b7t2, sizeof(float) * nv), "config %d, type %d: 1 and 2 threads differ", ci,
                          (int)types[ti]);
                }
                free(ref), free(one), free(b7), free(b7t2), free(bd);
            }
            slm_model_free(q), slm_model_free(qf);
        }
        slm_model_free(m);
    }
}
