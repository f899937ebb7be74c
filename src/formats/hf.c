/* hf.c — Hugging Face checkpoints (LlamaForCausalLM, MobileLLMForCausalLM, Qwen2ForCausalLM with
 * its q/k/v biases): a folder with config.json and model.safetensors (or shards listed in
 * model.safetensors.index.json), F32/F16/BF16, used in place from the mapped files.
 *
 * safetensors: u64 header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [b, e]},
 * "__metadata__": {...}}, then the data; offsets are relative to the end of the header.
 * Hugging Face Llama checkpoints rotate pairs (i, i + head_dim/2): the model is loaded with
 * rope_half = 1 and the weights are not permuted (no copy). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../model/model.h"
#include "formats.h"

#ifndef SLM_NO_HF
#include <cjson/cJSON.h>

enum { MAX_SHARDS = 64 };

static char *read_text(const char *path, size_t max, slm_error *err, slm_status *st) {
    const void *data;
    size_t size;
    if ((*st = slm_map_file(path, &data, &size, err)) != SLM_OK) return NULL;
    char *s = size <= max ? malloc(size + 1) : NULL;
    if (s) memcpy(s, data, size), s[size] = '\0';
    else *st = slm_fail(err, size > max ? SLM_ERR_FORMAT : SLM_ERR_NOMEM, "%s: %zu bytes is too large", path, size);
    slm_unmap(data, size);
    return s;
}

static int json_int(const cJSON *o, const char *key, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return *out = def, 1;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble) return 0;
    *out = (int)v->valuedouble;
    return 1;
}

static int json_float(const cJSON *o, const char *key, float def, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return *out = def, 1;
    if (!cJSON_IsNumber(v)) return 0;
    *out = (float)v->valuedouble;
    return 1;
}

static int json_bool(const cJSON *o, const char *key, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* The GGUF-style name of a Hugging Face tensor name, or 0 if slm does not use it. */
static int map_name(const char *hf, char *out, size_t cap) {
    static const char *const pairs[][2] = {
        {"input_layernorm.weight", "attn_norm.weight"}, {"self_attn.q_proj.weight", "attn_q.weight"},
        {"self_attn.k_proj.weight", "attn_k.weight"},   {"self_attn.v_proj.weight", "attn_v.weight"},
        {"self_attn.o_proj.weight", "attn_output.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"mlp.gate_proj.weight", "ffn_gate.weight"},    {"mlp.up_proj.weight", "ffn_up.weight"},
        {"mlp.down_proj.weight", "ffn_down.weight"},    {"self_attn.q_proj.bias", "attn_q.bias"},
        {"self_attn.k_proj.bias", "attn_k.bias"},       {"self_attn.v_proj.bias", "attn_v.bias"}};
    int layer, used = 0;
    if (!strcmp(hf, "model.embed_tokens.weight")) return snprintf(out, cap, "token_embd.weight"), 1;
    if (!strcmp(hf, "model.norm.weight")) return snprintf(out, cap, "output_norm.weight"), 1;
    if (!strcmp(hf, "lm_head.weight")) return snprintf(out, cap, "output.weight"), 1;
    if (sscanf(hf, "model.layers.%d.%n", &layer, &used) == 1 && layer >= 0 && used > 0)
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
            if (!strcmp(hf + used, pairs[i][0])) return snprintf(out, cap, "blk.%d.%s", layer, pairs[i][1]), 1;
    return 0;
}

/* Adds the tensors of one mapped safetensors file to m. */
static slm_status add_safetensors(slm_model *m, const uint8_t *data, size_t size, const char *src, slm_error *err) {
    if (size < 8) return slm_fail(err, SLM_ERR_FORMAT, "%s: truncated: no safetensors header length", src);
    uint64_t n;
    memcpy(&n, data, 8);
    if (n < 2 || n > size - 8 || n > (100u << 20))
        return slm_fail(err, SLM_ERR_FORMAT, "%s: header length %llu does not fit the file (%zu bytes)", src,
                        (unsigned long long)n, size);
    cJSON *h = cJSON_ParseWithLength((const char *)data + 8, (size_t)n);
    if (!h || !cJSON_IsObject(h)) {
        cJSON_Delete(h);
        return slm_fail(err, SLM_ERR_FORMAT, "%s: the safetensors header is not a JSON object", src);
    }
    const uint8_t *base = data + 8 + n;
    size_t avail = size - 8 - (size_t)n;
    slm_status st = SLM_OK;
    const cJSON *t;
    cJSON_ArrayForEach(t, h) {
        if (!strcmp(t->string, "__metadata__")) continue;
        char name[64];
        if (!map_name(t->string, name, sizeof name)) continue; /* e.g. rotary_emb.inv_freq */
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype"), *shape = cJSON_GetObjectItemCaseSensitive(t, "shape"),
                    *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
        slm_dtype dtype;
        size_t el;
        if (!cJSON_IsString(dt)) dtype = SLM_DTYPE_F32, el = 0;
        else if (!strcmp(dt->valuestring, "F32")) dtype = SLM_DTYPE_F32, el = 4;
        else if (!strcmp(dt->valuestring, "F16")) dtype = SLM_DTYPE_F16, el = 2;
        else if (!strcmp(dt->valuestring, "BF16")) dtype = SLM_DTYPE_BF16, el = 2;
        else el = 0, dtype = SLM_DTYPE_F32;
        if (!el) {
            st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: tensor %s: dtype %s is not supported (F32, F16, BF16)", src,
                          t->string, cJSON_IsString(dt) ? dt->valuestring : "(missing)");
            break;
        }
        int nd = cJSON_GetArraySize(shape);
        double d0 = nd >= 1 ? cJSON_GetArrayItem(shape, 0)->valuedouble : 0, d1 = nd == 2 ? cJSON_GetArrayItem(shape, 1)->valuedouble : 1;
        if (!cJSON_IsArray(shape) || nd < 1 || nd > 2 || !(d0 >= 1 && d0 <= (1 << 22)) || !(d1 >= 1 && d1 <= (1 << 22))) {
            st = slm_fail(err, SLM_ERR_FORMAT, "%s: tensor %s: shape must be 1 or 2 dimensions of 1..4194304", src, t->string);
            break;
        }
        double b = cJSON_GetArraySize(off) == 2 ? cJSON_GetArrayItem(off, 0)->valuedouble : -1,
               e = cJSON_GetArraySize(off) == 2 ? cJSON_GetArrayItem(off, 1)->valuedouble : -1;
        double bytes = d0 * d1 * (double)el;
        if (!(b >= 0 && e >= b && e <= (double)avail && e - b == bytes)) {
            st = slm_fail(err, SLM_ERR_FORMAT, "%s: tensor %s: data_offsets [%.0f, %.0f] do not hold %.0f bytes inside the "
                          "%zu bytes of data", src, t->string, b, e, bytes, avail);
            break;
        }
        const uint8_t *p = base + (size_t)b;
        if ((uintptr_t)p % el) {
            st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: tensor %s data is not aligned to its element size", src, t->string);
            break;
        }
        if (slm_model_find(m, name)) {
            st = slm_fail(err, SLM_ERR_FORMAT, "%s: tensor %s appears twice", src, t->string);
            break;
        }
        if (!slm_model_add(m, name, dtype, nd == 2 ? (int64_t)d0 : 0, nd == 2 ? (int64_t)d1 : (int64_t)d0, p, NULL, 0)) {
            st = slm_fail(err, SLM_ERR_FORMAT, "%s: more tensors than the config describes", src);
            break;
        }
    }
    cJSON_Delete(h);
    return st;
}

int slm_hf_is_path(const char *path) {
    struct stat sb;
    size_t n = strlen(path);
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return 1;
    return (n >= 11 && !strcmp(path + n - 11, "config.json")) || (n >= 12 && !strcmp(path + n - 12, ".safetensors"));
}

slm_status slm_hf_load(const char *path, slm_model **out, slm_error *err) {
    char dir[4096], file[4200];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) snprintf(dir, sizeof dir, "%s", path);
    else {
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    }
    slm_status st;
    snprintf(file, sizeof file, "%s/config.json", dir);
    char *text = read_text(file, 1 << 20, err, &st);
    if (!text) return st;
    cJSON *cfg = cJSON_Parse(text);
    free(text);
    if (!cfg || !cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return slm_fail(err, SLM_ERR_FORMAT, "%s: not valid JSON", file);
    }
    slm_model *m = NULL;
    const void *maps[MAX_SHARDS];
    size_t map_sizes[MAX_SHARDS];
    int n_maps = 0;
    const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cfg, "architectures"), 0);
    const char *a = cJSON_IsString(arch) ? arch->valuestring : "";
    slm_config c;
    memset(&c, 0, sizeof c);
    int head_dim = 0;
    if (strcmp(a, "LlamaForCausalLM") && strcmp(a, "MobileLLMForCausalLM") && strcmp(a, "Qwen2ForCausalLM")) {
        st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: architecture \"%.64s\" is not supported (LlamaForCausalLM, "
                      "MobileLLMForCausalLM, Qwen2ForCausalLM)", file, a);
        goto done;
    }
    if (json_bool(cfg, "use_sliding_window", 0)) {
        st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: use_sliding_window is not supported", file);
        goto done;
    }
    if (!json_int(cfg, "hidden_size", 0, &c.dim) || !json_int(cfg, "intermediate_size", 0, &c.hidden_dim) ||
        !json_int(cfg, "num_hidden_layers", 0, &c.n_layers) || !json_int(cfg, "num_attention_heads", 0, &c.n_heads) ||
        !json_int(cfg, "num_key_value_heads", -1, &c.n_kv_heads) || !json_int(cfg, "vocab_size", 0, &c.vocab_size) ||
        !json_int(cfg, "max_position_embeddings", 2048, &c.seq_len) || !json_int(cfg, "head_dim", 0, &head_dim) ||
        !json_float(cfg, "rms_norm_eps", 1e-6f, &c.norm_eps) || !json_float(cfg, "rope_theta", 10000.0f, &c.rope_theta)) {
        st = slm_fail(err, SLM_ERR_FORMAT, "%s: a size or float field has the wrong type", file);
        goto done;
    }
    if (c.n_kv_heads < 0) c.n_kv_heads = c.n_heads;
    c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
    if (head_dim && head_dim != c.head_dim) {
        st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: head_dim %d differs from hidden_size / num_attention_heads", file, head_dim);
        goto done;
    }
    const cJSON *scaling = cJSON_GetObjectItemCaseSensitive(cfg, "rope_scaling");
    if (scaling && !cJSON_IsNull(scaling)) {
        st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: rope_scaling is not supported yet", file);
        goto done;
    }
    /* MobileLLM: share_embedding means a tied classifier whatever tie_word_embeddings says;
     * layer_sharing runs each stored block twice (layer_share_repeat, when given, says how often). */
    c.tied_classifier = json_bool(cfg, "tie_word_embeddings", 0) || json_bool(cfg, "share_embedding", 0);
    c.block_repeat = 1;
    if (json_bool(cfg, "layer_sharing", 0) && !json_int(cfg, "layer_share_repeat", 2, &c.block_repeat)) {
        st = slm_fail(err, SLM_ERR_FORMAT, "%s: layer_share_repeat must be an integer", file);
        goto done;
    }
    c.rope_half = 1;
    if ((st = slm_model_alloc(&c, file, &m, err))) goto done;
    snprintf(m->format, sizeof m->format, "Hugging Face safetensors");
    /* the weight files: one model.safetensors, or the shards of the index */
    const char *shards[MAX_SHARDS];
    int n_shards = 0;
    cJSON *index = NULL;
    snprintf(file, sizeof file, "%s/model.safetensors.index.json", dir);
    if (stat(file, &sb) == 0) {
        char *itext = read_text(file, 64 << 20, err, &st);
        if (!itext) goto done;
        index = cJSON_Parse(itext);
        free(itext);
        const cJSON *wm = cJSON_GetObjectItemCaseSensitive(index, "weight_map"), *e;
        if (!cJSON_IsObject(wm)) {
            cJSON_Delete(index);
            st = slm_fail(err, SLM_ERR_FORMAT, "%s: no weight_map object", file);
            goto done;
        }
        cJSON_ArrayForEach(e, wm) {
            if (!cJSON_IsString(e) || strchr(e->valuestring, '/')) {
                cJSON_Delete(index);
                st = slm_fail(err, SLM_ERR_FORMAT, "%s: weight_map entry %s is not a file name in the folder", file, e->string);
                goto done;
            }
            int seen = 0;
            for (int i = 0; i < n_shards; i++) seen |= !strcmp(shards[i], e->valuestring);
            if (!seen && n_shards == MAX_SHARDS) {
                cJSON_Delete(index);
                st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: more than %d shards", file, MAX_SHARDS);
                goto done;
            }
            if (!seen) shards[n_shards++] = e->valuestring;
        }
    } else
        shards[n_shards++] = "model.safetensors";
    for (int i = 0; i < n_shards && st == SLM_OK; i++) {
        snprintf(file, sizeof file, "%s/%s", dir, shards[i]);
        if ((st = slm_map_file(file, &maps[n_maps], &map_sizes[n_maps], err)) == SLM_OK) {
            n_maps++;
            st = add_safetensors(m, maps[n_maps - 1], map_sizes[n_maps - 1], file, err);
        }
    }
    cJSON_Delete(index);
    if (st == SLM_OK) st = slm_model_bind(m, err);
    if (st == SLM_OK && !(m->extra_maps = malloc(sizeof(*m->extra_maps) * (size_t)n_maps)))
        st = slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", dir);
    if (st == SLM_OK) {
        for (int i = 0; i < n_maps; i++) m->extra_maps[i].data = maps[i], m->extra_maps[i].size = map_sizes[i];
        m->n_extra_maps = n_maps;
        n_maps = 0;
    }
done:
    for (int i = 0; i < n_maps; i++) slm_unmap(maps[i], map_sizes[i]);
    cJSON_Delete(cfg);
    if (st != SLM_OK) {
        slm_model_free(m);
        return st;
    }
    *out = m;
    return SLM_OK;
}

#else /* SLM_NO_HF */

int slm_hf_is_path(const char *path) {
    size_t n = strlen(path);
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return 1;
    return (n >= 11 && !strcmp(path + n - 11, "config.json")) || (n >= 12 && !strcmp(path + n - 12, ".safetensors"));
}

slm_status slm_hf_load(const char *path, slm_model **out, slm_error *err) {
    (void)out;
    return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: this build has no Hugging Face support (built with NO_HF=1)", path);
}
#endif
