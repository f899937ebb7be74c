/* gguf_write.c — writes the in-memory model as GGUF v3 (arch llama), readable by llama.cpp.
 * Norms stay F32; matrices are written as F32, F16 or BF16 (round to nearest even). Q/K rows are
 * already in the interleaved-pair RoPE layout that llama.cpp's LLAMA_ROPE_TYPE_NORM expects. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "formats.h"
#include "gguf.h"

enum { ALIGNMENT = 32 };

uint16_t slm_f32_to_f16(float f) {
    union { float f; uint32_t u; } v = {f};
    uint32_t u = v.u, sign = (u >> 16) & 0x8000;
    int32_t exp = (int32_t)((u >> 23) & 0xff) - 127 + 15;
    uint32_t man = u & 0x7fffff;
    if (((u >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0)); /* inf, nan */
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);                                      /* overflow */
    if (exp <= 0) {                                                                         /* subnormal or 0 */
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - exp;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | (uint32_t)exp << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into the exponent: correct */
    return (uint16_t)half;
}

uint16_t slm_f32_to_bf16(float f) {
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffff) > 0x7f800000) return (uint16_t)((v.u >> 16) | 0x40); /* quiet nan */
    return (uint16_t)((v.u + 0x7fff + ((v.u >> 16) & 1)) >> 16);
}

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int failed;
} bytes;

static void put(bytes *b, const void *p, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        uint8_t *g = realloc(b->buf, cap);
        if (!g) {
            b->failed = 1;
            return;
        }
        b->buf = g, b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}
static void put_u32(bytes *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(bytes *b, uint64_t v) { put(b, &v, 8); }
static void put_str(bytes *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void kv_u32(bytes *b, const char *k, uint32_t v) { put_str(b, k), put_u32(b, GGUF_TYPE_UINT32), put_u32(b, v); }
static void kv_f32(bytes *b, const char *k, float v) { put_str(b, k), put_u32(b, GGUF_TYPE_FLOAT32), put(b, &v, 4); }
static void kv_str(bytes *b, const char *k, const char *v) { put_str(b, k), put_u32(b, GGUF_TYPE_STRING), put_str(b, v); }

slm_status slm_gguf_write(const slm_model *m, const char *path, slm_dtype mdt, slm_error *err) {
    if (mdt != SLM_DTYPE_F32 && mdt != SLM_DTYPE_F16 && mdt != SLM_DTYPE_BF16)
        return slm_fail(err, SLM_ERR_ARG, "%s: GGUF matrices can be written as f32, f16 or bf16", path);
    const slm_config *c = &m->cfg;
    bytes h = {0};
    uint32_t n_kv = 14 + (c->block_repeat > 1);
    put(&h, "GGUF", 4), put_u32(&h, 3), put_u64(&h, (uint64_t)m->n_tensors - 0), put_u64(&h, n_kv);
    kv_str(&h, "general.architecture", "llama");
    kv_str(&h, "general.name", "slm");
    kv_u32(&h, "general.alignment", ALIGNMENT);
    kv_u32(&h, "general.file_type", mdt == SLM_DTYPE_F32 ? 0 : mdt == SLM_DTYPE_F16 ? 1 : 32);
    kv_u32(&h, "llama.vocab_size", (uint32_t)c->vocab_size);
    kv_u32(&h, "llama.context_length", (uint32_t)c->seq_len);
    kv_u32(&h, "llama.embedding_length", (uint32_t)c->dim);
    kv_u32(&h, "llama.block_count", (uint32_t)c->n_layers);
    kv_u32(&h, "llama.feed_forward_length", (uint32_t)c->hidden_dim);
    kv_u32(&h, "llama.attention.head_count", (uint32_t)c->n_heads);
    kv_u32(&h, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    kv_u32(&h, "llama.rope.dimension_count", (uint32_t)c->head_dim);
    kv_f32(&h, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    kv_f32(&h, "llama.rope.freq_base", c->rope_theta);
    if (c->block_repeat > 1) kv_u32(&h, "slm.block_repeat", (uint32_t)c->block_repeat);
    /* tensor infos */
    uint64_t offset = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        int matrix = t->n_dims == 2;
        slm_dtype dt = matrix ? mdt : SLM_DTYPE_F32;
        put_str(&h, t->name);
        put_u32(&h, (uint32_t)t->n_dims);
        if (matrix) put_u64(&h, (uint64_t)t->shape[1]), put_u64(&h, (uint64_t)t->shape[0]);
        else put_u64(&h, (uint64_t)t->shape[0]);
        put_u32(&h, dt == SLM_DTYPE_F32 ? GGML_TYPE_F32 : dt == SLM_DTYPE_F16 ? GGML_TYPE_F16 : GGML_TYPE_BF16);
        put_u64(&h, offset);
        offset += slm_align_up((size_t)slm_tensor_numel(t) * (dt == SLM_DTYPE_F32 ? 4 : 2), ALIGNMENT);
    }
    static const uint8_t zeros[ALIGNMENT] = {0};
    put(&h, zeros, slm_align_up(h.len, ALIGNMENT) - h.len);
    if (h.failed) {
        free(h.buf);
        return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    slm_file_writer *w;
    slm_status st = slm_writer_open(path, &w, err);
    if (st == SLM_OK) st = slm_writer_write(w, h.buf, h.len, err);
    free(h.buf);
    int maxc = c->dim > c->hidden_dim ? c->dim : c->hidden_dim;
    float *row = malloc((size_t)maxc * 4);
    uint16_t *hrow = malloc((size_t)maxc * 2);
    if (st == SLM_OK && (!row || !hrow)) st = slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < m->n_tensors && st == SLM_OK; i++) {
        const slm_tensor *t = &m->tensors[i];
        int matrix = t->n_dims == 2;
        slm_dtype dt = matrix ? mdt : SLM_DTYPE_F32;
        int64_t rows = matrix ? t->shape[0] : 1, cols = matrix ? t->shape[1] : t->shape[0];
        size_t written = 0;
        for (int64_t r = 0; r < rows && st == SLM_OK; r++) {
            if (matrix) slm_tensor_row_f32(t, r, row);
            else memcpy(row, t->data, (size_t)cols * 4);
            if (dt == SLM_DTYPE_F32) {
                st = slm_writer_write(w, row, (size_t)cols * 4, err);
                written += (size_t)cols * 4;
            } else {
                for (int64_t k = 0; k < cols; k++) hrow[k] = dt == SLM_DTYPE_F16 ? slm_f32_to_f16(row[k]) : slm_f32_to_bf16(row[k]);
                st = slm_writer_write(w, hrow, (size_t)cols * 2, err);
                written += (size_t)cols * 2;
            }
        }
        if (st == SLM_OK) st = slm_writer_write(w, zeros, slm_align_up(written, ALIGNMENT) - written, err);
    }
    free(row), free(hrow);
    if (st == SLM_OK) return slm_writer_commit(w, err);
    if (w) slm_writer_abort(w);
    return st;
}
