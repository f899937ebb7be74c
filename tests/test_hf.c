/* test_hf.c — Hugging Face folders: a random model written by a test helper as config.json +
 * safetensors (Q/K rows in Hugging Face's half-split order, single file and shards, F32 and BF16)
 * gives the logits of the original; corrupt folders give messages. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../src/kernels/kernels.h"
#include "../src/model/model.h"
#include "test.h"
#include "tests.h"

static const char *HF_NAMES[][2] = {
    {"attn_q.bias", "self_attn.q_proj.bias"}, {"attn_k.bias", "self_attn.k_proj.bias"}, {"attn_v.bias", "self_attn.v_proj.bias"},
    {"attn_norm.weight", "input_layernorm.weight"}, {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},   {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"}};

static void hf_name(const char *ours, char *out, size_t cap) {
    int layer, used = 0;
    if (!strcmp(ours, "token_embd.weight")) snprintf(out, cap, "model.embed_tokens.weight");
    else if (!strcmp(ours, "output_norm.weight")) snprintf(out, cap, "model.norm.weight");
    else if (!strcmp(ours, "output.weight")) snprintf(out, cap, "lm_head.weight");
    else if (sscanf(ours, "blk.%d.%n", &layer, &used) == 1 && used > 0)
        for (size_t i = 0; i < sizeof HF_NAMES / sizeof HF_NAMES[0]; i++)
            if (!strcmp(ours + used, HF_NAMES[i][0])) snprintf(out, cap, "model.layers.%d.%s", layer, HF_NAMES[i][1]);
}

/* Writes tensors [first, last) of m to a safetensors file (bf16: matrices as BF16), Q/K rows
 * permuted to the half-split order. skip: a tensor name to leave out. */
static void write_safetensors_as(const slm_model *m, const char *path, int first, int last, int bf16, const char *skip,
                                 int permute);
static void write_safetensors(const slm_model *m, const char *path, int first, int last, int bf16, const char *skip) {
    write_safetensors_as(m, path, first, last, bf16, skip, 1);
}

/* permute: Q/K rows of an interleaved model are reordered to Hugging Face's half-split order */
static void write_safetensors_as(const slm_model *m, const char *path, int first, int last, int bf16, const char *skip,
                                 int permute) {
    char *json = malloc(1 << 16);
    size_t jl = 0, off = 0;
    jl += (size_t)sprintf(json + jl, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = first; i < last; i++) {
        const slm_tensor *t = &m->tensors[i];
        char name[96];
        hf_name(t->name, name, sizeof name);
        if (skip && !strcmp(name, skip)) continue;
        int two = t->n_dims == 2, h = bf16; /* bf16 checkpoints store norms in bf16 too */
        size_t bytes = (size_t)slm_tensor_numel(t) * (h ? 2 : 4);
        if (two) jl += (size_t)sprintf(json + jl, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld,%lld],\"data_offsets\":[%zu,%zu]}", name,
                                       h ? "BF16" : "F32", (long long)t->shape[0], (long long)t->shape[1], off, off + bytes);
        else jl += (size_t)sprintf(json + jl, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld],\"data_offsets\":[%zu,%zu]}", name,
                                   h ? "BF16" : "F32", (long long)t->shape[0], off, off + bytes);
        off += bytes;
    }
    json[jl++] = '}';
    while ((8 + jl) % 8) json[jl++] = ' '; /* keep the data 8-byte aligned, as safetensors does */
    FILE *f = fopen(path, "wb");
    uint64_t n = jl;
    fwrite(&n, 8, 1, f);
    fwrite(json, 1, jl, f);
    for (int i = first; i < last; i++) {
        const slm_tensor *t = &m->tensors[i];
        char name[96];
        hf_name(t->name, name, sizeof name);
        if (skip && !strcmp(name, skip)) continue;
        size_t len = strlen(t->name);
        int qk = permute && len > 14 &&
                 (!strcmp(t->name + len - 14, ".attn_q.weight") || !strcmp(t->name + len - 14, ".attn_k.weight"));
        if (t->n_dims == 1) {
            for (int k = 0; k < t->shape[0]; k++) {
                float v = ((const float *)t->data)[k];
                uint16_t b = slm_f32_to_bf16(v);
                if (bf16) fwrite(&b, 2, 1, f);
                else fwrite(&v, 4, 1, f);
            }
            continue;
        }
        int rows = (int)t->shape[0], cols = (int)t->shape[1], hd = m->cfg.head_dim;
        for (int r = 0; r < rows; r++) {
            int src = r;
            if (qk) { /* half-split row (head, j) holds interleaved row (head, 2j) or (head, 2(j - hd/2) + 1) */
                int head = r / hd, j = r % hd;
                src = head * hd + (j < hd / 2 ? 2 * j : 2 * (j - hd / 2) + 1);
            }
            const float *row = (const float *)t->data + (size_t)src * cols;
            if (!bf16) fwrite(row, 4, (size_t)cols, f);
            else
                for (int k = 0; k < cols; k++) {
                    uint16_t b = slm_f32_to_bf16(row[k]);
                    fwrite(&b, 2, 1, f);
                }
        }
    }
    fclose(f);
    free(json);
}

static void write_config(const char *dir, const slm_config *c, const char *extra) {
    char path[512], text[2048];
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(text, sizeof text,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": %d, \"intermediate_size\": %d, "
             "\"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"vocab_size\": %d, "
             "\"max_position_embeddings\": %d, \"rms_norm_eps\": 1e-05, \"rope_theta\": %g, \"tie_word_embeddings\": %s, "
             "\"rope_scaling\": null, \"torch_dtype\": \"float32\"%s}",
             c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len, c->rope_theta,
             c->tied_classifier ? "true" : "false", extra ? extra : "");
    write_all(path, text, strlen(text));
}


void hf_safetensors_folders_match_original(void) {
#ifdef SLM_NO_HF
    SKIP("built with NO_HF=1: no Hugging Face folders");
#endif
    slm_config c = {96, 256, 2, 1, 6, 2, 16, 300, 32, 0, 1e-5f, 500000.0f, 0};
    slm_model *m;
    slm_error err;
    CHECK(slm_model_init_random(&c, 31, 0.1f, &m, &err) == SLM_OK);
    int32_t toks[9] = {1, 17, 299, 4, 4, 100, 250, 3, 8};
    float *ref = test_logits(m, toks, 9, 1, 0);
    const char *dirs[3] = {tmp_path("hf-f32"), tmp_path("hf-bf16"), tmp_path("hf-shards")};
    for (int k = 0; k < 3; k++) {
        char path[512];
        mkdir(dirs[k], 0700);
        write_config(dirs[k], &c, NULL);
        if (k < 2) {
            snprintf(path, sizeof path, "%s/model.safetensors", dirs[k]);
            write_safetensors(m, path, 0, m->n_tensors, k == 1, NULL);
        } else { /* two shards and an index */
            int half = m->n_tensors / 2;
            char idx[8192];
            size_t il = (size_t)sprintf(idx, "{\"metadata\": {}, \"weight_map\": {");
            for (int i = 0; i < m->n_tensors; i++) {
                char name[96];
                hf_name(m->tensors[i].name, name, sizeof name);
                il += (size_t)sprintf(idx + il, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"", i ? ", " : "", name,
                                      i < half ? 1 : 2);
            }
            il += (size_t)sprintf(idx + il, "}}");
            snprintf(path, sizeof path, "%s/model.safetensors.index.json", dirs[k]);
            write_all(path, idx, il);
            snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dirs[k]);
            write_safetensors(m, path, 0, half, 0, NULL);
            snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dirs[k]);
            write_safetensors(m, path, half, m->n_tensors, 0, NULL);
        }
        slm_model *h;
        CHECK(slm_model_load_file(dirs[k], &h, &err) == SLM_OK, "%s", err.msg);
        if (T.failed) break;
        CHECK(slm_model_config(h)->rope_half == 1 && slm_model_config(h)->rope_theta == 500000.0f);
        if (k == 0) { /* slm info on the folder prints its config */
            char args[1024], *o = NULL;
            snprintf(args, sizeof args, "info %s", dirs[k]);
            CHECK(run_slm(args, &o, NULL) == 0 && o && strstr(o, "Hugging Face safetensors") && strstr(o, "dim:           96") &&
                      strstr(o, "n_kv_heads:    2") && strstr(o, "rope_theta:    500000") && strstr(o, "classifier:    separate"),
                  "%s", o ? o : "");
            free(o);
        }
        float *l = test_logits(h, toks, 9, 1, 0);
        double d = 0;
        for (int i = 0; i < 9 * 300; i++) d = fmax(d, fabs((double)l[i] - ref[i]));
        printf("    Hugging Face %s: max |logit diff| vs the original %.2e\n", k == 0 ? "f32" : k == 1 ? "bf16" : "f32 shards", d);
        CHECK(d <= (k == 1 ? 0.1 : 1e-5), "folder %d: %g", k, d);
        free(l);
        slm_model_free(h);
    }
    /* corrupt folders */
    const char *bad = tmp_path("hf-bad");
    mkdir(bad, 0700);
    char st_path[512];
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", bad);
    struct { const char *extra, *skip, *expect; int patch; } cases[] = {
        {NULL, "model.layers.1.mlp.up_proj.weight", "tensor blk.1.ffn_up.weight is missing", 0},
        {", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}", NULL, "rope_scaling is not supported", 0},
        {NULL, NULL, "header length", 1},
        {NULL, NULL, "not a JSON object", 2},
        {NULL, NULL, "do not hold", 3},
        {NULL, NULL, "dtype I8 is not supported", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_config(bad, &c, cases[i].extra);
        if (cases[i].extra) { /* rope_scaling appears twice: cJSON takes the first; put ours first instead */
            char path[512], text[2048];
            snprintf(path, sizeof path, "%s/config.json", bad);
            snprintf(text, sizeof text, "{\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}, \"architectures\": "
                     "[\"LlamaForCausalLM\"], \"hidden_size\": 96, \"intermediate_size\": 256, \"num_hidden_layers\": 2, "
                     "\"num_attention_heads\": 6, \"vocab_size\": 300}");
            write_all(path, text, strlen(text));
        }
        write_safetensors(m, st_path, 0, m->n_tensors, 0, cases[i].skip);
        size_t len;
        char *raw = read_all(st_path, &len);
        if (cases[i].patch == 1) { uint64_t huge = (uint64_t)1 << 40; memcpy(raw, &huge, 8); }
        if (cases[i].patch == 2) raw[8] = '[';
        if (cases[i].patch == 3) { char *p = strstr(raw + 8, "[0,"); if (p) p[1] = '8'; }
        if (cases[i].patch == 4) { char *p = strstr(raw + 8, "\"F32\""); if (p) memcpy(p, "\"I8\" ", 5); }
        write_all(st_path, raw, len);
        free(raw);
        slm_model *h = NULL;
        slm_error e = {0, ""};
        CHECK(slm_model_load_file(bad, &h, &e) != SLM_OK && !h, "case %zu accepted", i);
        CHECK(strstr(e.msg, cases[i].expect) != NULL, "case %zu: '%s' lacks '%s'", i, e.msg, cases[i].expect);
        char args[1024], *errs = NULL;
        snprintf(args, sizeof args, "info %s", bad);
        CHECK(run_slm(args, NULL, &errs) == 1 && errs && strstr(errs, cases[i].expect), "case %zu via slm info", i);
        free(errs);
    }
    /* found by the fuzzer: a tensor named "model.layers.12" (no trailing part) must not be misread */
    {
        const char *hdr = "{\"model.layers.12\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        uint64_t hl = strlen(hdr);
        char buf[256];
        memcpy(buf, &hl, 8);
        memcpy(buf + 8, hdr, hl);
        memset(buf + 8 + hl, 0, 4);
        write_all(st_path, buf, 8 + hl + 4);
        write_config(bad, &c, NULL);
        slm_model *h = NULL;
        slm_error e;
        CHECK(slm_model_load_file(bad, &h, &e) != SLM_OK && strstr(e.msg, "is missing"), "%s", e.msg);
    }
    free(ref);
    slm_model_free(m);
}

/* A Qwen2-style model: half-split RoPE and q/k/v biases. Zero biases change nothing; the
 * biased model survives GGUF (arch qwen2) and a Hugging Face folder unchanged. */
/* The Qwen2 model q as a Hugging Face folder (Q/K already half-split, so written as stored): its
 * logits on toks equal lq, q's own. */
static void qwen2_hf_folder(const slm_model *q, const int32_t *toks, const float *lq) {
#ifdef SLM_NO_HF
    (void)q, (void)toks, (void)lq;
    fprintf(stderr, "    built with NO_HF=1: no Hugging Face folder checked\n");
#else
    slm_model *g;
    slm_error err;
    const char *dir = tmp_path("hf-qwen2");
    char path[512], text[1024];
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(text, sizeof text, "{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128, "
             "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 200, "
             "\"max_position_embeddings\": 32, \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, "
             "\"tie_word_embeddings\": true, \"use_sliding_window\": false}");
    write_all(path, text, strlen(text));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_safetensors_as(q, path, 0, q->n_tensors, 0, NULL, 0);
    CHECK(slm_model_load_file(dir, &g, &err) == SLM_OK, "%s", err.msg);
    if (!T.failed) {
        float *lg = test_logits(g, toks, 7, 1, 0);
        double d = 0;
        for (int i = 0; i < 7 * 200; i++) d = fmax(d, fabs((double)lg[i] - lq[i]));
        CHECK(d <= 1e-5, "Hugging Face Qwen2 folder: %g", d);
        free(lg);
        slm_model_free(g);
    }
#endif
}

void qwen2_biases_through_gguf_and_hf(void) {
    slm_config c = {64, 128, 2, 1, 4, 2, 16, 200, 32, 1, 1e-6f, 1000000.0f, 1};
    slm_model *base, *q, *z;
    slm_error err;
    CHECK(slm_model_init_random(&c, 77, 0.1f, &base, &err) == SLM_OK);
    float *bias = malloc(sizeof(float) * 2 * (64 + 32 + 32)), *zeros = calloc(2 * (64 + 32 + 32), sizeof(float));
    for (int i = 0; i < 2 * (64 + 32 + 32); i++) bias[i] = 0.2f * sinf((float)i);
    for (int pass = 0; pass < 2; pass++) {
        slm_model **out = pass ? &q : &z;
        const float *src = pass ? bias : zeros;
        CHECK(slm_model_alloc(&c, pass ? "qwen2" : "qwen2-zero", out, &err) == SLM_OK);
        for (int i = 0; i < base->n_tensors; i++) {
            const slm_tensor *t = &base->tensors[i];
            slm_model_add(*out, t->name, t->dtype, t->n_dims == 2 ? t->shape[0] : 0, t->n_dims == 2 ? t->shape[1] : t->shape[0],
                          t->data, NULL, 0);
        }
        for (int l = 0; l < 2; l++) {
            char name[48];
            const float *b = src + l * 128;
            snprintf(name, sizeof name, "blk.%d.attn_q.bias", l), slm_model_add(*out, name, SLM_DTYPE_F32, 0, 64, b, NULL, 0);
            snprintf(name, sizeof name, "blk.%d.attn_k.bias", l), slm_model_add(*out, name, SLM_DTYPE_F32, 0, 32, b + 64, NULL, 0);
            snprintf(name, sizeof name, "blk.%d.attn_v.bias", l), slm_model_add(*out, name, SLM_DTYPE_F32, 0, 32, b + 96, NULL, 0);
        }
        CHECK(slm_model_bind(*out, &err) == SLM_OK, "%s", err.msg);
    }
    int32_t toks[7] = {1, 50, 199, 3, 3, 120, 7};
    float *lb = test_logits(base, toks, 7, 1, 0), *lz = test_logits(z, toks, 7, 1, 0), *lq = test_logits(q, toks, 7, 1, 0);
    CHECK(!memcmp(lb, lz, sizeof(float) * 7 * 200), "zero biases must change nothing");
    double moved = 0;
    for (int i = 0; i < 7 * 200; i++) moved = fmax(moved, fabs((double)lq[i] - lb[i]));
    CHECK(moved > 1e-3, "biases must change the logits (%g)", moved);
    /* GGUF: written as arch qwen2 with Q/K as stored (half-split) */
    slm_model *g;
    CHECK(slm_model_save(q, tmp_path("q2.gguf"), SLM_SAVE_GGUF_F32, 0, &err) == SLM_OK, "%s", err.msg);
    CHECK(slm_model_load_file(tmp_path("q2.gguf"), &g, &err) == SLM_OK, "%s", err.msg);
    if (!T.failed) {
        CHECK(strstr(slm_model_format(g), "qwen2") && slm_model_config(g)->rope_half);
        float *lg = test_logits(g, toks, 7, 1, 0);
        CHECK(lg && !memcmp(lg, lq, sizeof(float) * 7 * 200), "qwen2 GGUF logits differ");
        free(lg);
        slm_model_free(g);
    }
    qwen2_hf_folder(q, toks, lq);
    free(lb), free(lz), free(lq), free(bias), free(zeros);
    slm_model_free(q), slm_model_free(z), slm_model_free(base);
}
