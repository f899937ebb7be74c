/* gguf.c — GGUF v2/v3 (llama.cpp's format), read as hostile input.
 *
 * Layout: "GGUF", u32 version, u64 n_tensors, u64 n_kv; n_kv × (string key, u32 type, value);
 * n_tensors × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset); padding to
 * general.alignment (default 32); tensor data. Strings are u64 length + bytes. Every count, length
 * and offset is checked against the bytes that remain before it is used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/quant.h"
#include "../model/model.h"
#include "gguf.h"

enum { MAX_DEPTH = 4, MAX_NAME = 63 };

static const size_t SCALAR_SIZE[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

int slm_gguf_is(const void *data, size_t size) { return size >= 4 && memcmp(data, "GGUF", 4) == 0; }

static int read_u64(slm_reader *r, uint64_t *v) {
    uint32_t lo, hi;
    if (!slm_reader_u32(r, &lo) || !slm_reader_u32(r, &hi)) return 0;
    *v = (uint64_t)hi << 32 | lo;
    return 1;
}

/* A string: u64 length + bytes, the length at most `max`. */
static const char *read_str(slm_reader *r, size_t *len, uint64_t max) {
    uint64_t n;
    if (!read_u64(r, &n) || n > max || n > r->size - r->pos) return NULL;
    *len = (size_t)n;
    return slm_reader_take(r, (size_t)n);
}

/* Skips one value of `type` (arrays recursively, at most MAX_DEPTH deep). */
static int skip_value(slm_reader *r, uint32_t type, int depth) {
    if (type >= GGUF_TYPE_COUNT) return 0;
    if (type == GGUF_TYPE_STRING) {
        size_t len;
        return read_str(r, &len, UINT64_MAX) != NULL;
    }
    if (type == GGUF_TYPE_ARRAY) {
        uint32_t et;
        uint64_t n;
        if (depth >= MAX_DEPTH || !slm_reader_u32(r, &et) || !read_u64(r, &n) || et >= GGUF_TYPE_COUNT) return 0;
        if (et != GGUF_TYPE_STRING && et != GGUF_TYPE_ARRAY) {
            size_t bytes;
            if (n > SIZE_MAX || !slm_mul_size((size_t)n, SCALAR_SIZE[et], &bytes)) return 0;
            return slm_reader_take(r, bytes) != NULL;
        }
        /* every element takes at least 8 bytes: a cheap bound before the loop */
        if (n > (r->size - r->pos) / 8) return 0;
        for (uint64_t i = 0; i < n; i++)
            if (!skip_value(r, et, depth + 1)) return 0;
        return 1;
    }
    return slm_reader_take(r, SCALAR_SIZE[type]) != NULL;
}

static int key_is(const gguf_kv *kv, const char *key) {
    size_t n = strlen(key);
    return kv->key_len == n && memcmp(kv->key, key, n) == 0;
}

const gguf_kv *slm_gguf_find(const gguf_file *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (key_is(&g->kv[i], key)) return &g->kv[i];
    return NULL;
}

/* The slm dtype of a ggml type; -1 for a type slm does not know. */
static int dtype_of_ggml(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F32: return SLM_DTYPE_F32;
    case GGML_TYPE_F16: return SLM_DTYPE_F16;
    case GGML_TYPE_BF16: return SLM_DTYPE_BF16;
    case GGML_TYPE_Q8_0: return SLM_DTYPE_Q8_0;
    case GGML_TYPE_Q4_0: return SLM_DTYPE_Q4_0;
    case GGML_TYPE_Q4_1: return SLM_DTYPE_Q4_1;
    case GGML_TYPE_Q5_0: return SLM_DTYPE_Q5_0;
    case GGML_TYPE_Q5_1: return SLM_DTYPE_Q5_1;
    case GGML_TYPE_Q5_K: return SLM_DTYPE_Q5_K;
    case GGML_TYPE_Q3_K: return SLM_DTYPE_Q3_K;
    case GGML_TYPE_IQ4_NL: return SLM_DTYPE_IQ4_NL;
    case GGML_TYPE_Q4_K: return SLM_DTYPE_Q4_K;
    case GGML_TYPE_Q6_K: return SLM_DTYPE_Q6_K;
    default: return -1;
    }
}

/* Bytes of one row of ne0 values of a ggml type, or 0 for an unknown type or a row that is not
 * a whole number of blocks. */
static size_t type_row_bytes(uint32_t type, uint64_t ne0) {
    int dt = dtype_of_ggml(type);
    if (dt < 0) return 0;
    if (dt == SLM_DTYPE_F32) return (size_t)ne0 * 4;
    if (dt == SLM_DTYPE_F16 || dt == SLM_DTYPE_BF16) return (size_t)ne0 * 2;
    const slm_block_type *bt = slm_block_type_of((slm_dtype)dt);
    if (ne0 % (uint64_t)bt->block_size) return 0;
    return (size_t)(ne0 / (uint64_t)bt->block_size) * (size_t)bt->block_bytes;
}

static const char *type_name(uint32_t t) {
    static const char *names[] = {"f32",     "f16",    "q4_0",    "q4_1",   "type 4", "type 5", "q5_0",
                                  "q5_1",    "q8_0",   "q8_1",    "q2_k",   "q3_k",   "q4_k",   "q5_k",
                                  "q6_k",    "q8_k",   "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq4_nl",
                                  "iq3_s",   "iq2_s",  "iq4_xs",  "i8",     "i16",    "i32",    "i64",
                                  "f64",     "iq1_m"};
    if (t < sizeof names / sizeof names[0]) return names[t];
    return t == GGML_TYPE_BF16 ? "bf16" : "an unknown type";
}

void slm_gguf_close(gguf_file *g) {
    free(g->kv);
    free(g->tensors);
    g->kv = NULL, g->tensors = NULL;
}

slm_status slm_gguf_open(const void *data, size_t size, const char *src, gguf_file *g, slm_error *err) {
    memset(g, 0, sizeof *g);
    g->base = data, g->size = size, g->src = src;
    slm_reader r = {data, size, 0};
    slm_status st = SLM_OK;
/* Every failure formats its message first (it may quote the tables), then frees them. */
#define FAIL(status, ...)                                  \
    do {                                                   \
        st = slm_fail(err, status, __VA_ARGS__);           \
        goto fail;                                         \
    } while (0)
    if (!slm_gguf_is(data, size)) return slm_fail(err, SLM_ERR_FORMAT, "%s: not a GGUF file (no magic)", src);
    r.pos = 4;
    if (!slm_reader_u32(&r, &g->version) || !read_u64(&r, &g->n_tensors) || !read_u64(&r, &g->n_kv))
        return slm_fail(err, SLM_ERR_FORMAT, "%s: truncated: the GGUF header needs 24 bytes, file has %zu", src, size);
    if (g->version != 2 && g->version != 3)
        return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: GGUF version = %u is not supported (2 or 3)", src, g->version);
    /* each kv takes >= 13 bytes, each tensor info >= 24: bound the counts by the file */
    if (g->n_kv > (size - r.pos) / 13)
        return slm_fail(err, SLM_ERR_FORMAT, "%s: n_kv = %llu is more than the file can hold", src,
                        (unsigned long long)g->n_kv);
    if (g->n_tensors > (size - r.pos) / 24)
        return slm_fail(err, SLM_ERR_FORMAT, "%s: n_tensors = %llu is more than the file can hold", src,
                        (unsigned long long)g->n_tensors);
    g->kv = calloc((size_t)g->n_kv + 1, sizeof *g->kv);
    g->tensors = calloc((size_t)g->n_tensors + 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) FAIL(SLM_ERR_NOMEM, "%s: out of memory for the GGUF tables", src);
    g->alignment = 32;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        if (!(kv->key = read_str(&r, &kv->key_len, 65535)) || !slm_reader_u32(&r, &kv->type))
            FAIL(SLM_ERR_FORMAT, "%s: truncated or oversized key of metadata entry %llu", src, (unsigned long long)i);
        if (kv->type >= GGUF_TYPE_COUNT)
            FAIL(SLM_ERR_FORMAT, "%s: metadata %.*s has unknown type %u", src, (int)kv->key_len, kv->key, kv->type);
        if (kv->type == GGUF_TYPE_ARRAY && r.size - r.pos >= 12) {
            slm_reader peek = r;
            slm_reader_u32(&peek, &kv->elem_type);
            read_u64(&peek, &kv->count);
            kv->value = r.base + peek.pos;
        } else
            kv->value = r.base + r.pos;
        if (!skip_value(&r, kv->type, 0))
            FAIL(SLM_ERR_FORMAT, "%s: metadata %.*s: value runs past the end of the file or is malformed", src,
                 (int)kv->key_len, kv->key);
        for (uint64_t j = 0; j < i; j++)
            if (g->kv[j].key_len == kv->key_len && !memcmp(g->kv[j].key, kv->key, kv->key_len))
                FAIL(SLM_ERR_FORMAT, "%s: metadata key %.*s appears twice", src, (int)kv->key_len, kv->key);
    }
    const gguf_kv *al = slm_gguf_find(g, "general.alignment");
    if (al) {
        uint32_t a;
        if (al->type != GGUF_TYPE_UINT32) FAIL(SLM_ERR_FORMAT, "%s: general.alignment must be a uint32", src);
        memcpy(&a, al->value, 4);
        if (a == 0 || (a & (a - 1)) || a > (1u << 20))
            FAIL(SLM_ERR_FORMAT, "%s: general.alignment = %u is not a power of two <= 1 MiB", src, a);
        g->alignment = a;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (!(t->name = read_str(&r, &t->name_len, MAX_NAME)) || !slm_reader_u32(&r, &t->n_dims))
            FAIL(SLM_ERR_FORMAT, "%s: tensor info %llu: name truncated or longer than %d bytes", src,
                 (unsigned long long)i, MAX_NAME);
        if (t->n_dims < 1 || t->n_dims > 4)
            FAIL(SLM_ERR_FORMAT, "%s: tensor %.*s: n_dims = %u is out of range [1, 4]", src, (int)t->name_len, t->name,
                 t->n_dims);
        uint64_t numel = 1;
        for (uint32_t d = 0; d < 4; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            if (!read_u64(&r, &t->ne[d]) || t->ne[d] == 0 || t->ne[d] > ((uint64_t)1 << 40) ||
                numel > ((uint64_t)1 << 40) / t->ne[d])
                FAIL(SLM_ERR_FORMAT, "%s: tensor %.*s: dimension %u is truncated, zero or too large", src,
                     (int)t->name_len, t->name, d);
            numel *= t->ne[d];
        }
        if (!slm_reader_u32(&r, &t->type) || !read_u64(&r, &t->offset))
            FAIL(SLM_ERR_FORMAT, "%s: tensor %.*s: info truncated", src, (int)t->name_len, t->name);
        size_t row = type_row_bytes(t->type, t->ne[0]);
        if (row && !slm_mul_size(row, (size_t)(numel / t->ne[0]), &t->nbytes)) row = 0;
        if (!row) t->nbytes = 0; /* unknown type: its size is unknown; rejected when used */
        if (t->offset % g->alignment)
            FAIL(SLM_ERR_FORMAT, "%s: tensor %.*s: offset %llu is not a multiple of the alignment %u", src,
                 (int)t->name_len, t->name, (unsigned long long)t->offset, g->alignment);
        for (uint64_t j = 0; j < i; j++)
            if (g->tensors[j].name_len == t->name_len && !memcmp(g->tensors[j].name, t->name, t->name_len))
                FAIL(SLM_ERR_FORMAT, "%s: tensor %.*s appears twice", src, (int)t->name_len, t->name);
    }
    g->data_offset = slm_align_up(r.pos, g->alignment);
    if (g->data_offset > size && g->n_tensors > 0) FAIL(SLM_ERR_FORMAT, "%s: truncated: no room for tensor data", src);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (t->nbytes && (t->offset > size - g->data_offset || t->nbytes > size - g->data_offset - t->offset))
            FAIL(SLM_ERR_FORMAT, "%s: truncated: tensor %.*s needs %zu bytes at offset %llu but the file has %zu", src,
                 (int)t->name_len, t->name, t->nbytes, (unsigned long long)(g->data_offset + t->offset), size);
    }
    return SLM_OK;
fail:
    slm_gguf_close(g);
    return st;
#undef FAIL
}

/* ---------------------------------------------------------------- typed getters */

slm_status slm_gguf_get_int(const gguf_file *g, const char *key, int64_t lo, int64_t hi, int64_t *out, slm_error *err) {
    const gguf_kv *kv = slm_gguf_find(g, key);
    if (!kv) return slm_fail(err, SLM_ERR_FORMAT, "%s: metadata %s is missing", g->src, key);
    int64_t v;
    const uint8_t *p = kv->value;
    switch (kv->type) {
    case GGUF_TYPE_UINT8: v = p[0]; break;
    case GGUF_TYPE_INT8: v = (int8_t)p[0]; break;
    case GGUF_TYPE_UINT16: { uint16_t x; memcpy(&x, p, 2); v = x; break; }
    case GGUF_TYPE_INT16: { int16_t x; memcpy(&x, p, 2); v = x; break; }
    case GGUF_TYPE_UINT32: { uint32_t x; memcpy(&x, p, 4); v = x; break; }
    case GGUF_TYPE_INT32: { int32_t x; memcpy(&x, p, 4); v = x; break; }
    case GGUF_TYPE_UINT64: { uint64_t x; memcpy(&x, p, 8); v = x > INT64_MAX ? INT64_MAX : (int64_t)x; break; }
    case GGUF_TYPE_INT64: memcpy(&v, p, 8); break;
    default: return slm_fail(err, SLM_ERR_FORMAT, "%s: metadata %s must be an integer (type %u)", g->src, key, kv->type);
    }
    if (v < lo || v > hi)
        return slm_fail(err, SLM_ERR_FORMAT, "%s: %s = %lld is out of range [%lld, %lld]", g->src, key, (long long)v,
                        (long long)lo, (long long)hi);
    *out = v;
    return SLM_OK;
}

slm_status slm_gguf_get_f32(const gguf_file *g, const char *key, float *out, slm_error *err) {
    const gguf_kv *kv = slm_gguf_find(g, key);
    if (!kv) return slm_fail(err, SLM_ERR_FORMAT, "%s: metadata %s is missing", g->src, key);
    if (kv->type == GGUF_TYPE_FLOAT32) memcpy(out, kv->value, 4);
    else if (kv->type == GGUF_TYPE_FLOAT64) {
        double d;
        memcpy(&d, kv->value, 8);
        *out = (float)d;
    } else
        return slm_fail(err, SLM_ERR_FORMAT, "%s: metadata %s must be a float (type %u)", g->src, key, kv->type);
    return SLM_OK;
}

slm_status slm_gguf_get_str(const gguf_file *g, const char *key, const char **s, size_t *len, slm_error *err) {
    const gguf_kv *kv = slm_gguf_find(g, key);
    if (!kv) return slm_fail(err, SLM_ERR_FORMAT, "%s: metadata %s is missing", g->src, key);
    if (kv->type != GGUF_TYPE_STRING)
        return slm_fail(err, SLM_ERR_FORMAT, "%s: metadata %s must be a string (type %u)", g->src, key, kv->type);
    const uint8_t *p = kv->value;
    *s = slm_gguf_next_str(&p, len);
    return SLM_OK;
}

const char *slm_gguf_next_str(const uint8_t **p, size_t *len) {
    uint64_t n;
    memcpy(&n, *p, 8); /* validated by slm_gguf_open */
    const char *s = (const char *)*p + 8;
    *p += 8 + n;
    *len = (size_t)n;
    return s;
}

/* ---------------------------------------------------------------- model */

static slm_status dtype_of(const gguf_file *g, const gguf_tensor *t, slm_dtype *d, slm_error *err) {
    int dt = dtype_of_ggml(t->type);
    if (dt < 0)
        return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: tensor %.*s has type %s, which slm does not run yet", g->src,
                        (int)t->name_len, t->name, type_name(t->type));
    if (!t->nbytes)
        return slm_fail(err, SLM_ERR_FORMAT, "%s: tensor %.*s: its row of %llu values is not a whole number of %s blocks",
                        g->src, (int)t->name_len, t->name, (unsigned long long)t->ne[0], type_name(t->type));
    *d = (slm_dtype)dt;
    return SLM_OK;
}

slm_status slm_gguf_load_model(const void *data, size_t size, const char *src, slm_model **out, slm_error *err) {
    gguf_file g;
    slm_status st = slm_gguf_open(data, size, src, &g, err);
    if (st != SLM_OK) return st;
    const char *arch;
    size_t arch_len;
    slm_config c;
    memset(&c, 0, sizeof c);
    int64_t v;
    slm_model *m = NULL;
    if ((st = slm_gguf_get_str(&g, "general.architecture", &arch, &arch_len, err))) goto done;
    /* llama: Q/K stored for interleaved-pair RoPE (ROPE_TYPE_NORM); qwen2: half-split pairs
     * (ROPE_TYPE_NEOX) and q/k/v biases. Both use the same keys under their own prefix. */
    int qwen2 = arch_len == 5 && !memcmp(arch, "qwen2", 5);
    if (!qwen2 && (arch_len != 5 || memcmp(arch, "llama", 5) != 0)) {
        st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: general.architecture = %.*s is not supported (llama, qwen2)", src,
                      (int)(arch_len > 64 ? 64 : arch_len), arch);
        goto done;
    }
    char key[96];
#define K(suffix) (snprintf(key, sizeof key, "%s.%s", qwen2 ? "qwen2" : "llama", suffix), key)
#define INT_KEY(field, suffix, lo, hi)                                              \
    if ((st = slm_gguf_get_int(&g, K(suffix), lo, hi, &v, err))) goto done;        \
    c.field = (int)v;
    INT_KEY(dim, "embedding_length", 1, 1 << 16)
    INT_KEY(hidden_dim, "feed_forward_length", 1, 1 << 18)
    INT_KEY(n_layers, "block_count", 1, 4096)
    INT_KEY(n_heads, "attention.head_count", 1, 1 << 16)
    INT_KEY(seq_len, "context_length", 1, 1 << 22)
    c.n_kv_heads = c.n_heads;
    if (slm_gguf_find(&g, K("attention.head_count_kv"))) {
        INT_KEY(n_kv_heads, "attention.head_count_kv", 1, 1 << 16)
    }
    c.block_repeat = 1;
    if (slm_gguf_find(&g, "slm.block_repeat")) {
        if ((st = slm_gguf_get_int(&g, "slm.block_repeat", 1, 64, &v, err))) goto done;
        c.block_repeat = (int)v;
    }
    c.rope_half = qwen2;
#undef INT_KEY
    c.head_dim = c.dim / c.n_heads;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    if (slm_gguf_find(&g, K("attention.layer_norm_rms_epsilon")) &&
        (st = slm_gguf_get_f32(&g, key, &c.norm_eps, err)))
        goto done;
    if (slm_gguf_find(&g, K("rope.freq_base")) && (st = slm_gguf_get_f32(&g, key, &c.rope_theta, err))) goto done;
    /* vocabulary: the embedding's rows (llama.vocab_size, when present, must agree) */
    const gguf_tensor *emb = NULL;
    int has_output = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const gguf_tensor *t = &g.tensors[i];
        if (t->name_len == 17 && !memcmp(t->name, "token_embd.weight", 17)) emb = t;
        if (t->name_len == 13 && !memcmp(t->name, "output.weight", 13)) has_output = 1;
    }
    if (!emb || emb->n_dims != 2 || emb->ne[1] > (1 << 22)) {
        st = slm_fail(err, SLM_ERR_FORMAT, "%s: tensor token_embd.weight is missing or not a matrix", src);
        goto done;
    }
    c.vocab_size = (int)emb->ne[1];
    if (slm_gguf_find(&g, K("vocab_size"))) {
        if ((st = slm_gguf_get_int(&g, key, 1, 1 << 22, &v, err))) goto done;
        if (v != c.vocab_size) {
            st = slm_fail(err, SLM_ERR_FORMAT, "%s: %s = %lld but token_embd.weight has %d rows", src, key,
                          (long long)v, c.vocab_size);
            goto done;
        }
    }
    c.tied_classifier = !has_output;
    if ((st = slm_model_alloc(&c, src, &m, err))) goto done; /* validates the config */
    if (slm_gguf_find(&g, K("rope.dimension_count"))) {
        if ((st = slm_gguf_get_int(&g, key, 1, 1 << 16, &v, err))) goto done;
        if (v != c.head_dim) {
            st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: rope.dimension_count = %lld differs from head_dim %d "
                          "(partial rotary embeddings are not supported)", src, (long long)v, c.head_dim);
            goto done;
        }
    }
    snprintf(m->format, sizeof m->format, "GGUF v%u (%s)", g.version, qwen2 ? "qwen2" : "llama");
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const gguf_tensor *t = &g.tensors[i];
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)t->name_len, t->name);
        if (t->n_dims > 2 || (t->n_dims == 2 && t->ne[1] > INT32_MAX) || t->ne[0] > INT32_MAX) continue; /* unused */
        slm_dtype dt = SLM_DTYPE_F32;
        if ((st = dtype_of(&g, t, &dt, err))) goto done;
        const uint8_t *p = g.base + g.data_offset + t->offset;
        if ((uintptr_t)p % (dt == SLM_DTYPE_F32 ? 4 : dt == SLM_DTYPE_F16 || dt == SLM_DTYPE_BF16 ? 2 : 1)) {
            st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: tensor %s data is not aligned to its element size", src, name);
            goto done;
        }
        if (!slm_model_add(m, name, dt, t->n_dims == 2 ? (int64_t)t->ne[1] : 0, (int64_t)t->ne[0], p, NULL, 0)) {
            st = slm_fail(err, SLM_ERR_FORMAT, "%s: more tensors than the config describes", src);
            goto done;
        }
    }
    st = slm_model_bind(m, err);
done:
    slm_gguf_close(&g);
    if (st != SLM_OK) {
        slm_model_free(m);
        return st;
    }
    *out = m;
    return SLM_OK;
}
#undef K
